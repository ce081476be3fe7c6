import AsyncHTTPClient
import ChatComposition
import ChatServer
import ChatStorage
import Foundation
import Histogram
import Logging
import MockGroq
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// The server under test: started in this process (with the mock upstream, on a fresh SQLite file in a
/// temporary directory or on a PostgreSQL database), one or several `chat-server` child processes, or an
/// already running one reached by URL. With several servers, each request goes to the next one in turn (a
/// load balancer without stickiness) unless the scenario names the replica.
final class BenchTarget: Sendable {
    let baseURLs: [String]
    let http: HTTPClient
    /// A store to seed straight into (the in-process server's, or the replicas' PostgreSQL database); nil:
    /// seed over HTTP.
    let store: (any ChatStore)?
    /// The SQLite file the server uses, when it uses one (the search scenario drops its full-text index there).
    let sqlitePath: String?
    /// Whether ``store`` is the bench's own connection (closed once seeded, so that it does not take part in
    /// the measurement: it would be one more listener for every notification).
    private let ownsStore: Bool
    /// The mock upstream the bench started (its base URL, as `GROQ_BASE_URL`, and its key); nil for an external
    /// server.
    let upstream: (url: String, key: String)?
    private let nextReplica = Atomic<Int>(0)
    private let stopServer: @Sendable () async -> Void

    private init(
        baseURLs: [String], http: HTTPClient, store: (any ChatStore)?, ownsStore: Bool = false,
        sqlitePath: String? = nil, upstream: (url: String, key: String)? = nil,
        stop: @escaping @Sendable () async -> Void
    ) {
        self.upstream = upstream
        self.sqlitePath = sqlitePath
        self.baseURLs = baseURLs
        self.http = http
        self.store = store
        self.ownsStore = ownsStore
        self.stopServer = stop
    }

    /// Seeding is over: the bench's own connection to the database closes.
    func seeded() async {
        if self.ownsStore { await self.store?.close() }
    }

    var replicas: Int { self.baseURLs.count }

    /// The replica's base URL; nil: the next one in turn.
    func baseURL(replica: Int?) -> String {
        let index = replica ?? self.nextReplica.wrappingAdd(1, ordering: .relaxed).oldValue
        return self.baseURLs[(index % self.baseURLs.count + self.baseURLs.count) % self.baseURLs.count]
    }

    static func makeHTTPClient(connections: Int) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(120),
            concurrentHTTP1ConnectionsPerHostSoftLimit: connections
        )
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(120))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    static func external(url: String, connections: Int) -> BenchTarget {
        BenchTarget(
            baseURLs: [url.hasSuffix("/") ? String(url.dropLast()) : url],
            http: makeHTTPClient(connections: connections),
            store: nil,
            stop: {}
        )
    }

    /// Limits that a load from one address and a few users would trip (429) are off; the queue to the mock
    /// upstream is as deep as the load.
    /// GET /metrics's token on servers run with `--compare-metering`.
    static let metricsToken = "chat-bench-metrics-token"

    /// Scrapes GET /metrics on every replica once a second, as Prometheus would, until cancelled.
    func scrapeMetrics() -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                for replica in 0..<self.replicas {
                    _ = await self.send(
                        .GET, "/metrics", headers: [("Authorization", "Bearer \(Self.metricsToken)")],
                        replica: replica)
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    static let serverEnvironment = [
        "LOG_LEVEL": "warning",
        "GROQ_MAX_CONCURRENCY": "4096",
        "GROQ_QUEUE_TIMEOUT": "300",
        "USER_MESSAGES_PER_MINUTE": "0",
        "LOGIN_ATTEMPTS_PER_MINUTE": "0",
        // One bench user parks the long-poll scenario's 1,000 waiters; clients register from one address.
        "LONG_POLLS_PER_USER": "0",
        // The search scenario's 16 clients search as one user (the corpus's owner).
        "SEARCHES_PER_USER": "0",
        "REGISTRATIONS_PER_MINUTE": "0",
        "REGISTRATIONS_PER_MINUTE_TOTAL": "0",
        // Up to 1,064 pooled connections (the stream and long-poll scenarios' 1,000 clients), all from 127.0.0.1.
        "MAX_CONNECTIONS_PER_ADDRESS": "0",
    ]

    static func startMock(upstreamLatencyMilliseconds: Int, chunkDelayMilliseconds: Int) async throws
        -> MockGroqServer
    {
        try await MockGroqServer.start(
            // The bench measures the server, not Groq's limits: without a limit of its own the mock advertises
            // Groq's 30,000 requests a minute, and the gate rightly pauses once the scenarios together pass it (the
            // gateway's direct baseline alone sends that many in a few seconds at 0 ms).
            behavior: MockGroqBehavior(
                latencyMilliseconds: upstreamLatencyMilliseconds,
                chunkDelayMilliseconds: chunkDelayMilliseconds,
                requestsPerMinute: 1_000_000_000
            )
        )
    }

    static func makeScratchDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chat-bench-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The server in this process, on `databaseURL` or a fresh SQLite file.
    static func inProcess(
        upstreamLatencyMilliseconds: Int, chunkDelayMilliseconds: Int, connections: Int, databaseURL: String?,
        extraEnvironment: [String: String]
    ) async throws -> BenchTarget {
        let directory = try makeScratchDirectory()
        var quiet = Logger(label: "chat-bench")
        quiet.logLevel = .warning
        let mock = try await startMock(
            upstreamLatencyMilliseconds: upstreamLatencyMilliseconds, chunkDelayMilliseconds: chunkDelayMilliseconds)
        var environment = serverEnvironment.merging(extraEnvironment) { _, extra in extra }
        environment["GROQ_API_KEY"] = mock.apiKey
        environment["GROQ_BASE_URL"] = mock.baseURL
        environment["DATABASE_URL"] = databaseURL ?? directory + "/bench.db"
        var config = try AppConfig(environment: environment)
        let sqlitePath = config.postgres == nil ? config.databasePath : nil
        config.port = 0
        let backend = try await ChatBackend.open(config: config, logger: quiet)
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let app = buildApplication(backend) { port in
            portContinuation.yield(port)
            portContinuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: quiet))
        let task = Task { try await group.run() }
        var port = 0
        for await bound in ports {
            port = bound
            break
        }
        return BenchTarget(
            baseURLs: ["http://127.0.0.1:\(port)"],
            http: makeHTTPClient(connections: connections),
            store: backend.database,
            sqlitePath: sqlitePath,
            upstream: (mock.baseURL, mock.apiKey),
            stop: {
                await group.triggerGracefulShutdown()
                _ = await task.result
                await mock.stop()
                try? FileManager.default.removeItem(atPath: directory)
            }
        )
    }

    /// `replicas` real `chat-server` binaries (built next to chat-bench) as child processes on one database
    /// (`databaseURL`, or a fresh SQLite file for a single one), with the mock upstream in this process: the
    /// servers' own RSS can then be sampled (`pids`).
    static func spawned(
        upstreamLatencyMilliseconds: Int, chunkDelayMilliseconds: Int, connections: Int, replicas: Int,
        databaseURL: String?, extraEnvironment: [String: String]
    ) async throws -> (BenchTarget, pids: [Int32]) {
        let executable = try ServerExecutable.locate()
        let directory = try makeScratchDirectory()
        let mock = try await startMock(
            upstreamLatencyMilliseconds: upstreamLatencyMilliseconds, chunkDelayMilliseconds: chunkDelayMilliseconds)
        var environment = ProcessInfo.processInfo.environment
        environment.merge(serverEnvironment) { _, bench in bench }
        environment.merge(extraEnvironment) { _, extra in extra }
        environment["GROQ_API_KEY"] = mock.apiKey
        environment["GROQ_BASE_URL"] = mock.baseURL
        let stop: @Sendable ([Process]) async -> Void = { processes in
            for process in processes { process.terminate() }
            // Polled rather than waitUntilExit(), which would block a cooperative thread.
            for process in processes {
                while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
            }
            await mock.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let (processes, ports) = try await launch(
            replicas, executable: executable, database: databaseURL ?? directory + "/bench.db",
            directory: directory, environment: environment, stop: stop)
        let store: (any ChatStore)?
        do {
            store = try await seedingStore(databaseURL)
        } catch {
            await stop(processes)
            throw error
        }
        let target = BenchTarget(
            baseURLs: ports.map { "http://127.0.0.1:\($0)" }, http: makeHTTPClient(connections: connections),
            store: store, ownsStore: true, upstream: (mock.baseURL, mock.apiKey),
            stop: {
                await store?.close()
                await stop(processes)
            })
        try await target.waitUntilHealthy(processes)
        return (target, processes.map(\.processIdentifier))
    }

    /// Starts `count` `chat-server serve` processes on free ports; if one fails to start, `stop` ends those
    /// already started.
    private static func launch(
        _ count: Int, executable: URL, database: String, directory: String, environment: [String: String],
        stop: @Sendable ([Process]) async -> Void
    ) async throws -> (processes: [Process], ports: [Int]) {
        var processes: [Process] = []
        var ports: [Int] = []
        do {
            for _ in 0..<count {
                let port = try await ServerExecutable.freePort()
                let process = Process()
                process.executableURL = executable
                process.arguments = ["serve", "--port", String(port), "--database", database]
                process.currentDirectoryURL = URL(fileURLWithPath: directory)
                process.environment = environment
                process.standardOutput = FileHandle.nullDevice
                try process.run()
                processes.append(process)
                ports.append(port)
            }
        } catch {
            await stop(processes)
            throw error
        }
        return (processes, ports)
    }

    /// The bench's own connection to the replicas' database, for seeding; nil without `databaseURL`.
    private static func seedingStore(_ databaseURL: String?) async throws -> (any ChatStore)? {
        guard let databaseURL else { return nil }
        var config = AppConfig()
        try config.setDatabase(url: databaseURL)
        config.databaseMaxConnections = 4
        var quiet = Logger(label: "chat-bench")
        quiet.logLevel = .warning
        return try await StoreOpener.open(config, logger: quiet)
    }

    /// Waits until every replica answers GET /health; shuts the target down and throws when one exits or none
    /// answers within 20 s.
    private func waitUntilHealthy(_ processes: [Process]) async throws {
        let clock = ContinuousClock()
        let started = clock.now
        for replica in 0..<processes.count {
            while await self.status(.GET, "/health", replica: replica) != 200 {
                guard processes[replica].isRunning, clock.now - started < .seconds(20) else {
                    await self.shutdown()
                    throw BenchError.setup("a spawned chat-server did not answer /health within 20 s")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    func shutdown() async {
        try? await self.http.shutdown()
        await self.stopServer()
    }

    // MARK: Requests

    /// Sends a request and reads the whole body. Returns nil status on a transport failure.
    func send(
        _ method: HTTPMethod,
        _ path: String,
        token: String? = nil,
        json: String? = nil,
        headers: [(String, String)] = [],
        replica: Int? = nil,
        absolute: Bool = false
    ) async -> (status: Int?, body: ByteBuffer) {
        var request = HTTPClientRequest(url: absolute ? path : self.baseURL(replica: replica) + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        do {
            let response = try await self.http.execute(request, timeout: .seconds(120))
            let body = try await response.body.collect(upTo: 64 << 20)
            return (Int(response.status.code), body)
        } catch {
            return (nil, ByteBuffer())
        }
    }

    func json(_ method: HTTPMethod, _ path: String, token: String? = nil, json: String? = nil) async throws -> Any {
        let (status, body) = await self.send(method, path, token: token, json: json)
        guard let status, (200..<300).contains(status) else {
            throw BenchError.setup(
                "\(method) \(path) answered \(status.map(String.init) ?? "no response"): \(String(buffer: body))")
        }
        return try JSONSerialization.jsonObject(with: Data(body.readableBytesView), options: [.fragmentsAllowed])
    }

    /// Registers (if needed) and logs in; returns a token.
    func user(_ email: String, password: String = "benchmark password") async throws -> String {
        _ = await self.send(.POST, "/auth/register", json: #"{"email": "\#(email)", "password": "\#(password)"}"#)
        let token = try await self.json(
            .POST, "/auth/login", json: #"{"email": "\#(email)", "password": "\#(password)"}"#)
        guard let value = (token as? [String: Any])?["access_token"] as? String else {
            throw BenchError.setup("no token")
        }
        return value
    }

    /// Creates `count` chats (with up to 64 requests in flight); returns their ids.
    func createChats(_ count: Int, token: String) async throws -> [String] {
        try await withThrowingTaskGroup(of: [String].self) { group in
            let lanes = min(64, max(1, count))
            for lane in 0..<lanes {
                group.addTask {
                    var ids: [String] = []
                    for _ in stride(from: lane, to: count, by: lanes) {
                        let chat = try await self.json(.POST, "/chats", token: token, json: #"{"title": "bench"}"#)
                        if let id = (chat as? [String: Any])?["id"] as? String { ids.append(id) }
                    }
                    return ids
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    /// The text of seeded message `index` (~170 bytes).
    static func seedText(_ index: Int) -> String {
        "Seeded message \(index): " + String(repeating: "lorem ipsum ", count: 12)
    }

    /// `count` chats of `messages` seeded messages each (user and assistant in turn), through POST /chats/import,
    /// 16 chats a request; returns their ids.
    func importChats(_ count: Int, messages: Int, token: String) async throws -> [String] {
        let messageList = (0..<messages).map { index in
            #"{"role": "\#(index.isMultiple(of: 2) ? "user" : "assistant")", "content": "\#(Self.seedText(index))"}"#
        }.joined(separator: ",")
        let chat =
            #"{"format": "ai-chat-backend/chat", "version": 1, "chat": {"title": "bench history"}, "messages": [\#(messageList)]}"#
        var ids: [String] = []
        for start in stride(from: 0, to: count, by: 16) {
            let batch = Array(repeating: chat, count: min(16, count - start)).joined(separator: ",")
            let answer = try await self.json(.POST, "/chats/import", token: token, json: "[" + batch + "]")
            let chats = (answer as? [String: Any])?["chats"] as? [[String: Any]] ?? []
            ids += chats.compactMap { $0["id"] as? String }
        }
        guard ids.count == count else { throw BenchError.setup("imported \(ids.count) chats of \(count)") }
        return ids
    }

    /// Puts `count` messages into a chat: straight into the database when the bench can reach it, else
    /// through AI turns.
    func seedMessages(chatID: String, count: Int, token: String) async throws {
        if let store, let id = UUID(uuidString: chatID) {
            for index in 0..<count {
                _ = try await store.appendMessage(
                    chatID: id,
                    role: index.isMultiple(of: 2) ? .user : .assistant,
                    content: Self.seedText(index)
                )
            }
        } else {
            for index in 0..<(count / 2) {
                _ = try await self.json(
                    .POST, "/chat", token: token, json: #"{"chat_id": "\#(chatID)", "message": "seed \#(index)"}"#)
            }
        }
    }
}

enum BenchError: Error, CustomStringConvertible {
    case setup(String)
    var description: String {
        switch self {
        case .setup(let message): "setup failed: \(message)"
        }
    }
}
