/// An HTTP request for ``CurlClient``.
public struct CurlRequest: Sendable {
    public var method: String
    public var url: String
    /// Header fields in order (`name`, `value`).
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Time allowed to establish the connection (TCP and TLS).
    public var connectTimeout: Duration
    /// Time allowed for the whole transfer; nil for none (long streams).
    public var totalTimeout: Duration?
    /// A transfer that receives no byte (head or body) for this long is aborted with `timedOut`, to within a
    /// few milliseconds (checked by the driver thread).
    public var idleTimeout: Duration?

    public init(
        method: String = "GET",
        url: String,
        headers: [(String, String)] = [],
        body: [UInt8] = [],
        connectTimeout: Duration = .seconds(10),
        totalTimeout: Duration? = .seconds(120),
        idleTimeout: Duration? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.idleTimeout = idleTimeout
    }
}

/// The status line and headers of a response. Header names are lower-cased.
public struct CurlResponseHead: Sendable, Equatable {
    public var status: Int
    public var headers: [(name: String, value: String)]

    public init(status: Int, headers: [(name: String, value: String)]) {
        self.status = status
        self.headers = headers
    }

    /// The first value of a header (case-insensitive).
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return self.headers.first { $0.name == lowered }?.value
    }

    public static func == (lhs: CurlResponseHead, rhs: CurlResponseHead) -> Bool {
        lhs.status == rhs.status && lhs.headers.elementsEqual(rhs.headers) { $0 == $1 }
    }
}

/// A complete response.
public struct CurlResponse: Sendable {
    public var head: CurlResponseHead
    public var body: [UInt8]
}

/// Why a transfer failed before a complete response arrived.
public enum CurlError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Could not resolve or connect to the host.
    case connectionFailed(String)
    /// The connect, total or idle timeout expired.
    case timedOut(String)
    /// The connection broke or another transport error happened.
    case transport(code: Int, message: String)
    /// libcurl itself failed (out of memory, bad option).
    case setupFailed(String)

    public var description: String {
        switch self {
        case .connectionFailed(let message): "connection failed: \(message)"
        case .timedOut(let message): "timed out: \(message)"
        case .transport(let code, let message): "transport error \(code): \(message)"
        case .setupFailed(let message): "libcurl setup failed: \(message)"
        }
    }
}
