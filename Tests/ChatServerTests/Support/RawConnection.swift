import NIOCore
import NIOPosix
import Synchronization

/// A bare TCP connection for talking to the server byte by byte (slow clients, connection limits), which an
/// HTTP client library would not do. Whatever the server sends is collected.
final class RawConnection: Sendable {
    let channel: any Channel
    private let received: Collector

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

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns its last value.
func eventually(within timeout: Duration, _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// Polls the async `condition` every 20 ms until it holds or `timeout` passes; returns its last value.
func eventually(within timeout: Duration, asking condition: () async throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
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
        return connection
    }

    /// The status code of the answer, once the server has closed the connection (nil if it did not within
    /// `timeout`).
    func status(within timeout: Duration) async -> Int? {
        guard await self.closed(within: timeout) else { return nil }
        return self.text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
    }
}
