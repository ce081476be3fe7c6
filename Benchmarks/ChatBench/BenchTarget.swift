import AsyncHTTPClient
import ChatServer
import ChatStorage
import Foundation
import Histogram
import Logging
import MockGroq
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// The server under test: started in this process (with the mock upstream and a fresh SQLite file in a
/// temporary directory), or an already running one reached by URL.
final class BenchTarget: Sendable {
    let baseURL: String
    let http: HTTPClient
    /// The in-process backend, for seeding straight into the database; nil with `--url`.
    let backend: ChatBackend?
    private let stopServer: @Sendable () async -> Void

    private init(baseURL: String, http: HTTPClient, backend: ChatBackend?, stop: @escaping @Sendable () async -> Void) {
        self.baseURL = baseURL
        self.http = http
        self.backend = backend
        self.stopServer = stop
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
            baseURL: url.hasSuffix("/") ? String(url.dropLast()) : url,
            http: makeHTTPClient(connections: connections),
            backend: nil,
            stop: {}
        )
    }

    static func inProcess(upstreamLatencyMilliseconds: Int, chunkDelayMilliseconds: Int, connections: Int) async throws
        -> BenchTarget
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chat-bench-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var quiet = Logger(label: "chat-bench")
        quiet.logLevel = .warning
        let mock = try await MockGroqServer.start(
            behavior: MockGroqBehavior(
                latencyMilliseconds: upstreamLatencyMilliseconds,
                chunkDelayMilliseconds: chunkDelayMilliseconds
            )
        )
        var config = AppConfig()
        config.databasePath = directory + "/bench.db"
        config.port = 0
        config.logLevel = .warning
        config.groqAPIKey = mock.apiKey
        config.groqBaseURL = mock.baseURL
        config.groqMaxConcurrency = 4096
        config.groqQueueTimeoutSeconds = 300
        config.userMessagesPerMinute = 0
        config.loginAttemptsPerMinute = 0
        config.longPollsPerUser = 0
        config.registrationsPerMinute = 0
        let backend = try await ChatBackend.bootstrap(config: config, logger: quiet)
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
            baseURL: "http://127.0.0.1:\(port)",
            http: makeHTTPClient(connections: connections),
            backend: backend,
            stop: {
                await group.triggerGracefulShutdown()
                _ = await task.result
                await mock.stop()
                try? FileManager.default.removeItem(atPath: directory)
            }
        )
    }

    /// The real `chat-server` binary (built next to chat-bench) as a child process on a fresh database, with
    /// the mock upstream in this process: the server's own RSS can then be sampled (`pid`).
    static func spawned(upstreamLatencyMilliseconds: Int, chunkDelayMilliseconds: Int, connections: Int) async throws
        -> (BenchTarget, pid: Int32)
    {
        let executable = try ServerExecutable.locate()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chat-bench-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let mock = try await MockGroqServer.start(
            behavior: MockGroqBehavior(
                latencyMilliseconds: upstreamLatencyMilliseconds,
                chunkDelayMilliseconds: chunkDelayMilliseconds
            )
        )
        let port = try await ServerExecutable.freePort()
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "--port", String(port), "--database", directory + "/bench.db"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ProcessInfo.processInfo.environment
        environment["LOG_LEVEL"] = "warning"
        environment["GROQ_API_KEY"] = mock.apiKey
        environment["GROQ_BASE_URL"] = mock.baseURL
        environment["GROQ_MAX_CONCURRENCY"] = "4096"
        environment["GROQ_QUEUE_TIMEOUT"] = "300"
        // Load from one address and a few users: the abuse limits would answer 429.
        environment["USER_MESSAGES_PER_MINUTE"] = "0"
        environment["LOGIN_ATTEMPTS_PER_MINUTE"] = "0"
        // One bench user parks the long-poll scenario's 1,000 waiters; clients register from one address.
        environment["LONG_POLLS_PER_USER"] = "0"
        environment["REGISTRATIONS_PER_MINUTE"] = "0"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stop: @Sendable () async -> Void = {
            process.terminate()
            // Polled rather than waitUntilExit(), which would block a cooperative thread.
            while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
            await mock.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let target = BenchTarget(
            baseURL: "http://127.0.0.1:\(port)", http: makeHTTPClient(connections: connections), backend: nil,
            stop: stop)
        let clock = ContinuousClock()
        let started = clock.now
        while await target.status(.GET, "/health") != 200 {
            guard process.isRunning, clock.now - started < .seconds(10) else {
                await target.shutdown()
                throw BenchError.setup("the spawned chat-server did not answer /health within 10 s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (target, process.processIdentifier)
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
        headers: [(String, String)] = []
    ) async -> (status: Int?, body: ByteBuffer) {
        var request = HTTPClientRequest(url: self.baseURL + path)
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

    /// Puts `count` messages into a chat: straight into the database in-process, else through AI turns.
    func seedMessages(chatID: String, count: Int, token: String) async throws {
        if let backend, let id = UUID(uuidString: chatID) {
            for index in 0..<count {
                _ = try await backend.database.appendMessage(
                    chatID: id,
                    role: index.isMultiple(of: 2) ? .user : .assistant,
                    content: "Seeded message \(index): " + String(repeating: "lorem ipsum ", count: 12)
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
