import ChatStorage
import ChatStoragePostgres
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A TCP proxy between a store's connection pool and the test's PostgreSQL server, which a test commands to fail
/// the way a failing server or network does: it reads the protocol's messages both ways (plain, no TLS), so it can
/// answer a chosen statement in the server's place, end or reset a connection, or refuse new ones.
///
/// A fault is armed for the next statement whose text or prepared-statement name holds a given string; the server
/// never sees that statement. Runs on an event loop of its own, so a test that holds the driver's event loops
/// does not hold the proxy.
final class PostgresFaultProxy: Sendable {
    /// What the proxy does in place of forwarding the armed statement.
    enum Fault: Sendable, CustomStringConvertible {
        /// An `ErrorResponse` of severity FATAL with this SQLSTATE, then the connection closed (as a server that
        /// ends the session does).
        case fatal(String)
        /// An `ErrorResponse` of severity ERROR with this SQLSTATE, then `ReadyForQuery`: the connection stays usable.
        case error(String)
        /// The connection closed with no answer.
        case close
        /// The connection reset (TCP RST) with no answer.
        case reset
        /// Every connection closed with no answer, and new ones refused until ``restore()``.
        case cutOff
        /// No answer, and nothing more forwarded on the connection: a server that stopped answering.
        case swallow

        var description: String {
            switch self {
            case .fatal(let state): "FATAL \(state)"
            case .error(let state): "ERROR \(state)"
            case .close: "closed"
            case .reset: "reset"
            case .cutOff: "cut off"
            case .swallow: "swallowed"
            }
        }
    }

    /// A connection through the proxy, as the test commands it.
    struct Handle {
        let client: any Channel
        var backendPID: Int32?
    }

    private struct State {
        var armed: (needle: String, fault: Fault)?
        var fired = 0
        var refusing = false
        var opened = 0
        var links: [Int: Handle] = [:]
    }

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let upstream: PostgresLocation.Endpoint
    private let state = Mutex(State())
    private let listener = Mutex<(any Channel)?>(nil)
    /// Each fault as it strikes (read by one task).
    let strikes: AsyncStream<Fault>
    private let struck: AsyncStream<Fault>.Continuation

    private init(upstream: PostgresLocation.Endpoint) {
        self.upstream = upstream
        (self.strikes, self.struck) = AsyncStream.makeStream(of: Fault.self, bufferingPolicy: .bufferingNewest(100))
    }

    /// A proxy to the server of `TestDatabase.postgres`, listening on a free port of 127.0.0.1.
    static func start() async throws -> PostgresFaultProxy {
        let proxy = PostgresFaultProxy(upstream: try #require(TestDatabase.postgres).endpoint)
        let channel = try await ServerBootstrap(group: proxy.group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ClientSide(proxy: proxy))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        proxy.listener.withLock { $0 = channel }
        return proxy
    }

    /// The proxy's port on 127.0.0.1.
    var port: Int { self.listener.withLock { $0?.localAddress?.port } ?? 0 }

    /// `location`'s database, reached through the proxy.
    func location(for location: PostgresLocation) -> PostgresLocation {
        var proxied = location
        proxied.endpoint = .tcp(host: "127.0.0.1", port: self.port)
        proxied.sslMode = .disable
        return proxied
    }

    /// Arms `fault` for the next statement whose text or prepared-statement name contains `needle`.
    func arm(_ fault: Fault, onStatementContaining needle: String) {
        self.state.withLock { $0.armed = (needle, fault) }
    }

    /// How many armed faults have struck.
    var fired: Int { self.state.withLock { $0.fired } }

    /// How many connections the proxy has accepted and forwarded.
    var opened: Int { self.state.withLock { $0.opened } }

    /// Closes the connection whose server process is `pid` (`pg_backend_pid()` on it), as a server that ends it.
    func close(backendPID pid: Int32) async throws {
        let client = self.state.withLock { state in state.links.values.first { $0.backendPID == pid }?.client }
        try await #require(client).close()
    }

    /// Accepts new connections again after ``Fault/cutOff``.
    func restore() {
        self.state.withLock { $0.refusing = false }
    }

    /// Closes every connection and stops listening.
    func stop() async throws {
        let channels = self.state.withLock { state in
            state.refusing = true
            return state.links.values.map(\.client)
        }
        for channel in channels { try? await channel.close() }
        try? await self.listener.withLock { $0 }?.close()
        self.struck.finish()
        try await self.group.shutdownGracefully()
    }

    // MARK: For the connections' handlers (PostgresFaultProxy+Link.swift)

    /// Registers a new connection: its id, or nil when new connections are refused.
    func admit(_ client: any Channel) -> Int? {
        self.state.withLock { state in
            guard !state.refusing else { return nil }
            state.opened += 1
            state.links[state.opened] = Handle(client: client)
            return state.opened
        }
    }

    func closed(_ id: Int) {
        _ = self.state.withLock { $0.links.removeValue(forKey: id) }
    }

    func started(_ id: Int, backendPID: Int32) {
        self.state.withLock { $0.links[id]?.backendPID = backendPID }
    }

    /// The armed fault if `text` is its statement's (it is disarmed then); for a cut-off, also every other
    /// connection's channel, to be closed.
    func strike(_ text: String) -> (Fault, others: [any Channel])? {
        let struck: (Fault, others: [any Channel])? = self.state.withLock { state in
            guard let armed = state.armed, text.contains(armed.needle) else { return nil }
            state.armed = nil
            state.fired += 1
            guard case .cutOff = armed.fault else { return (armed.fault, []) }
            state.refusing = true
            return (armed.fault, state.links.values.map(\.client))
        }
        if let struck { self.struck.yield(struck.0) }
        return struck
    }
}
