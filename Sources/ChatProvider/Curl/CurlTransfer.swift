import CCurl
import Foundation

/// One easy handle and everything its callbacks need.
///
/// Threading: created on any thread, then handed to the ``CurlMultiDriver``; from then on the easy handle and
/// the mutable state here are touched only on the driver's thread (libcurl calls the callbacks there).
/// The continuations it resumes are thread-safe.
final class CurlTransfer: @unchecked Sendable {
    // @unchecked Sendable: see the threading rule above. The driver's command queue is the only hand-over.
    enum Sink {
        /// Collect the body and resume once with the whole response.
        case collect(CheckedContinuation<CurlResponse, any Error>)
        /// Resume `head` when the headers are in, then yield each body chunk, within `budget`.
        case stream(
            head: CheckedContinuation<CurlResponseHead, any Error>?,
            body: AsyncThrowingStream<[UInt8], any Error>.Continuation,
            budget: CurlBodyStream.Budget
        )
    }

    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var sink: Sink?
    private var status = 0
    private var headers: [(name: String, value: String)] = []
    private var body: [UInt8] = []
    private var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    /// With an idle timeout: when the transfer times out unless a byte arrives first (driver thread only).
    private(set) var idleDeadline: ContinuousClock.Instant?
    private let idleTimeout: Duration?

    init(request: CurlRequest, sink: Sink) throws(CurlError) {
        CurlGlobal.initializeOnce()
        guard let easy = curl_easy_init() else { throw .setupFailed("curl_easy_init returned NULL") }
        self.easy = easy
        self.sink = sink
        self.idleTimeout = request.idleTimeout
        try self.configure(request)
    }

    deinit {
        curl_easy_cleanup(self.easy)
        curl_slist_free_all(self.headerList)
    }

    private func configure(_ request: CurlRequest) throws(CurlError) {
        func check(_ code: CURLcode, _ what: String) throws(CurlError) {
            guard code == CURLE_OK else {
                throw .setupFailed("\(what): \(String(cString: curl_easy_strerror(code)))")
            }
        }
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        try check(ccurl_easy_setopt_string(self.easy, CURLOPT_URL, request.url), "URL")
        try check(ccurl_easy_setopt_long(self.easy, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        try check(ccurl_easy_setopt_long(self.easy, CURLOPT_SSL_VERIFYPEER, 1), "SSL_VERIFYPEER")
        try check(ccurl_easy_setopt_long(self.easy, CURLOPT_SSL_VERIFYHOST, 2), "SSL_VERIFYHOST")
        try check(ccurl_easy_setopt_long(self.easy, CURLOPT_TCP_KEEPALIVE, 1), "TCP_KEEPALIVE")
        try check(ccurl_easy_setopt_string(self.easy, CURLOPT_ACCEPT_ENCODING, ""), "ACCEPT_ENCODING")
        try check(ccurl_easy_setopt_pointer(self.easy, CURLOPT_ERRORBUFFER, &self.errorBuffer), "ERRORBUFFER")
        try check(
            ccurl_easy_setopt_long(self.easy, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeout.milliseconds),
            "CONNECTTIMEOUT"
        )
        if let total = request.totalTimeout {
            try check(ccurl_easy_setopt_long(self.easy, CURLOPT_TIMEOUT_MS, total.milliseconds), "TIMEOUT")
        }
        for (name, value) in request.headers {
            self.headerList = curl_slist_append(self.headerList, "\(name): \(value)")
        }
        // Without this libcurl adds "Expect: 100-continue" to larger bodies and waits for the server.
        self.headerList = curl_slist_append(self.headerList, "Expect:")
        try check(ccurl_easy_setopt_slist(self.easy, CURLOPT_HTTPHEADER, self.headerList), "HTTPHEADER")
        switch request.method {
        case "GET": break
        case "POST":
            try check(ccurl_easy_setopt_long(self.easy, CURLOPT_POST, 1), "POST")
        default:
            try check(ccurl_easy_setopt_string(self.easy, CURLOPT_CUSTOMREQUEST, request.method), "CUSTOMREQUEST")
        }
        if !request.body.isEmpty || request.method == "POST" {
            try check(ccurl_easy_setopt_long(self.easy, CURLOPT_POSTFIELDSIZE, request.body.count), "POSTFIELDSIZE")
            // COPYPOSTFIELDS copies the bytes now, so the body need not outlive this call.
            let code: CURLcode
            if request.body.isEmpty {
                code = ccurl_easy_setopt_string(self.easy, CURLOPT_COPYPOSTFIELDS, "")
            } else {
                code = request.body.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { characters in
                        ccurl_easy_setopt_string(self.easy, CURLOPT_COPYPOSTFIELDS, characters.baseAddress)
                    }
                }
            }
            try check(code, "COPYPOSTFIELDS")
        }
        try check(
            ccurl_easy_setopt_write_callback(self.easy, CURLOPT_WRITEFUNCTION, curlWriteCallback), "WRITEFUNCTION")
        try check(ccurl_easy_setopt_pointer(self.easy, CURLOPT_WRITEDATA, opaque), "WRITEDATA")
        try check(
            ccurl_easy_setopt_write_callback(self.easy, CURLOPT_HEADERFUNCTION, curlHeaderCallback), "HEADERFUNCTION")
        try check(ccurl_easy_setopt_pointer(self.easy, CURLOPT_HEADERDATA, opaque), "HEADERDATA")
    }

    // MARK: Driver-thread callbacks

    /// The driver added (or resumed) the transfer: its idle clock starts now.
    func started(at now: ContinuousClock.Instant) {
        self.idleDeadline = self.idleTimeout.map { now + $0 }
    }

    /// Bytes arrived (headers or body): the idle clock starts again.
    private func receivedBytes() {
        if let idleTimeout = self.idleTimeout { self.idleDeadline = ContinuousClock.now + idleTimeout }
    }

    var idleTimeoutDescription: String {
        self.idleTimeout.map { "\($0.components.seconds) s" } ?? "-"
    }

    /// One header line, including the status line and the empty line that ends the block.
    func receivedHeaderLine(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.receivedBytes()
        // Trim CR/LF and spaces on bytes: this runs for every header of every transfer.
        func isSpace(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
                || byte == UInt8(ascii: "\n")
        }
        var lower = 0
        var upper = bytes.count
        while lower < upper && isSpace(bytes[lower]) { lower += 1 }
        while upper > lower && isSpace(bytes[upper - 1]) { upper -= 1 }
        let line = UnsafeBufferPointer(rebasing: bytes[lower..<upper])
        if line.isEmpty {
            if self.status >= 200 { self.deliverHead() }
        } else if line.starts(with: "HTTP/".utf8) {
            // A new header block (after a 100 Continue or a redirect) replaces the previous one.
            let parts = String(decoding: line, as: UTF8.self).split(separator: " ", maxSplits: 2)
            self.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            self.headers = []
        } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            var valueStart = colon + 1
            while valueStart < line.count && isSpace(line[valueStart]) { valueStart += 1 }
            let name = String(decoding: UnsafeBufferPointer(rebasing: line[..<colon]), as: UTF8.self).lowercased()
            let value = String(decoding: UnsafeBufferPointer(rebasing: line[valueStart...]), as: UTF8.self)
            self.headers.append((name, value))
        }
    }

    /// Body bytes; false to pause the transfer (the reader has too much waiting; libcurl delivers these bytes
    /// again once the transfer is resumed).
    func receivedBody(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        self.receivedBytes()
        switch self.sink {
        case .collect: self.body.append(contentsOf: bytes)
        case .stream(_, let continuation, let budget):
            self.deliverHead()
            guard budget.offer(bytes.count) else {
                // Paused by our own reader, not by the upstream: the idle clock stops until it resumes.
                self.idleDeadline = nil
                return false
            }
            continuation.yield(Array(bytes))
        case nil: break
        }
        return true
    }

    private func deliverHead() {
        guard case .stream(let head?, let body, let budget) = self.sink else { return }
        head.resume(returning: CurlResponseHead(status: self.status, headers: self.headers))
        self.sink = .stream(head: nil, body: body, budget: budget)
    }

    /// The transfer ended: `code` is libcurl's result.
    func finish(code: CURLcode) {
        let error: CurlError? = code == CURLE_OK ? nil : self.error(for: code)
        self.finish(error: error)
    }

    /// Ends the transfer with `error` (nil for success). Idempotent.
    func finish(error: (any Error)?) {
        guard let sink = self.sink else { return }
        self.sink = nil
        switch sink {
        case .collect(let continuation):
            if let error {
                continuation.resume(throwing: error)
            } else {
                continuation.resume(
                    returning: CurlResponse(
                        head: CurlResponseHead(status: self.status, headers: self.headers), body: self.body)
                )
            }
        case .stream(let head, let body, _):
            if let head {
                if let error {
                    head.resume(throwing: error)
                } else {
                    head.resume(returning: CurlResponseHead(status: self.status, headers: self.headers))
                }
            }
            body.finish(throwing: error)
        }
    }

    private func error(for code: CURLcode) -> CurlError {
        let detail = String(decoding: self.errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_PROXY:
            return .connectionFailed(message)
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut(message)
        default:
            return .transport(code: Int(code.rawValue), message: message)
        }
    }
}

/// libcurl's write callback: forwards body bytes to the transfer behind `userdata`.
private let curlWriteCallback:
    @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int =
        { pointer, size, count, userdata in
            deliver(pointer, size * count, userdata) { $0.receivedBody($1) }
        }

/// libcurl's header callback: one complete header line per call.
private let curlHeaderCallback:
    @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int =
        { pointer, size, count, userdata in
            deliver(pointer, size * count, userdata) {
                $0.receivedHeaderLine($1)
                return true
            }
        }

/// Finds the transfer behind a callback's `userdata` (kept alive by the driver while it is active) and hands
/// it the bytes. Returns the count consumed, as libcurl expects (0 aborts the transfer), or
/// `CURL_WRITEFUNC_PAUSE` when the action refuses the bytes for now.
private func deliver(
    _ pointer: UnsafeMutablePointer<CChar>?,
    _ length: Int,
    _ userdata: UnsafeMutableRawPointer?,
    _ action: (CurlTransfer, UnsafeBufferPointer<UInt8>) -> Bool
) -> Int {
    guard let pointer, let userdata else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
    let accepted = pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
        action(transfer, UnsafeBufferPointer(start: $0, count: length))
    }
    return accepted ? length : ccurl_writefunc_pause()
}

/// `curl_global_init`, exactly once per process, before the first handle.
enum CurlGlobal {
    private static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
    }()

    static func initializeOnce() {
        _ = self.initialized
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, for libcurl's `long` options.
    var milliseconds: Int {
        let (seconds, attoseconds) = self.components
        return Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}
