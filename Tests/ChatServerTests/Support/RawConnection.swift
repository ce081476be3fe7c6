import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A bare TCP connection for talking to the server byte by byte (slow clients, connection limits), which an
/// HTTP client library would not do. Whatever the server sends is collected.
final class RawConnection: Sendable {
    let channel: any Channel
    private let received: Collector
    /// The method and path of the request ``open(port:_:_:token:json:forwardedFor:)`` sent, to check the answer
    /// against the API document.
    private let request = Mutex<(method: String, uri: String)?>(nil)

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        // Appended on the channel's event loop, read by the test task: both under the mutex.
        let bytes = Mutex<[UInt8]>([])

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = self.unwrapInboundIn(data)
            self.bytes.withLock { $0.append(contentsOf: buffer.readableBytesView) }
        }
    }

    /// With `reading: false` the connection never reads what the server sends (a client that stopped reading),
    /// and its receive buffer is small, so the server's writes back up quickly.
    /// `from`: the local address to connect from (any of 127.0.0.0/8 reaches a server on 127.0.0.1), for tests
    /// of limits per client address.
    static func connect(port: Int, reading: Bool = true, from source: String? = nil) async throws -> RawConnection {
        let collector = Collector()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
        if !reading {
            bootstrap = bootstrap.channelOption(ChannelOptions.autoRead, value: false)
                .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 4096)
        }
        let channel =
            try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawConnection(channel: channel, received: collector)
    }

    private init(channel: any Channel, received: Collector) {
        self.channel = channel
        self.received = received
    }

    func send(_ text: String) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// What the server sent so far, as text.
    var text: String { String(decoding: self.received.bytes.withLock { $0 }, as: UTF8.self) }

    /// True if the server closed the connection within `timeout`.
    func closed(within timeout: Duration) async -> Bool {
        await eventually(within: timeout) { !self.channel.isActive }
    }

    /// True once the server has sent something (within `timeout`).
    func answered(within timeout: Duration) async -> Bool {
        await eventually(within: timeout) { !self.text.isEmpty }
    }

    func close() async {
        try? await self.channel.close()
    }
}

extension RawConnection {
    /// Opens a connection and sends one request (`Connection: close`), for requests that must run beside
    /// others: the HummingbirdTesting client sends its requests one after another on one connection.
    static func open(
        port: Int, _ method: String, _ path: String, token: String? = nil, json: String? = nil,
        forwardedFor: String? = nil
    ) async throws -> RawConnection {
        let connection = try await RawConnection.connect(port: port)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if let forwardedFor { head += "X-Forwarded-For: \(forwardedFor)\r\n" }
        if let json { head += "Content-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n" }
        try await connection.send(head + "\r\n" + (json ?? ""))
        connection.request.withLock { $0 = (method, path) }
        return connection
    }

    /// The status code of the answer, once the server has closed the connection (nil if it did not within
    /// `timeout`).
    /// The answer of a request sent by ``open(port:_:_:token:json:forwardedFor:)`` is checked against the API
    /// document.
    func status(within timeout: Duration, sourceLocation: SourceLocation = #_sourceLocation) async -> Int? {
        guard await self.closed(within: timeout) else { return nil }
        guard let response = HTTPResponseText(self.received.bytes.withLock { $0 }) else {
            return self.text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
        }
        if let request = self.request.withLock({ $0 }) {
            expectDocumented(
                APIContract.Exchange(
                    method: request.method, uri: request.uri, status: response.status,
                    contentType: response.headers["content-type"], body: response.body),
                sourceLocation: sourceLocation)
        }
        return response.status
    }
}

/// One HTTP/1.1 response read whole from the wire (the server closed the connection after it): its status,
/// headers (names lowercased) and body, with chunked framing removed.
struct HTTPResponseText {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    init?(_ bytes: [UInt8]) {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            return nil
        }
        self.status = status
        self.headers = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            self.headers[line[..<colon].lowercased()] = value
        }
        let rest = Array(bytes[(end + separator.count)...])
        if self.headers["transfer-encoding"]?.lowercased() == "chunked" {
            guard let body = Self.dechunked(rest) else { return nil }
            self.body = body
        } else {
            self.body = rest
        }
    }

    /// The body of chunked framing, or nil if it is cut short.
    private static func dechunked(_ bytes: [UInt8]) -> [UInt8]? {
        var body: [UInt8] = []
        var index = 0
        while true {
            guard
                let lineEnd = (index..<max(index, bytes.count - 1)).first(where: {
                    bytes[$0] == 13 && bytes[$0 + 1] == 10
                })
            else { return nil }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            if size == 0 { return body }
            let start = lineEnd + 2
            guard start + size <= bytes.count else { return nil }
            body.append(contentsOf: bytes[start..<(start + size)])
            index = start + size + 2
        }
    }
}
