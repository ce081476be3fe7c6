import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

/// The real `chat-server` binary (built next to the test bundle) as a child process on a free port, with
/// its standard output and error collected in a file, for tests of what only a process shows: signals,
/// crashes, connection limits and log output.
final class ServerProcess: Sendable {
    let process: Process
    let port: Int
    let logPath: String

    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("chat-server")
    }

    /// Starts `chat-server serve` on `database` (the engine the suite runs on; `sqlite: true`, the file itself)
    /// and waits until /health answers 200. `launcher`: a command that execs the binary after it (`prlimit …`).
    static func start(
        database: String, sqlite: Bool = false, environment: [String: String] = [:], launcher: [String] = []
    ) async throws -> ServerProcess {
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build chat-server first")
        let port = try await Self.freePort()
        let logPath = database + ".\(port).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try #require(FileHandle(forWritingAtPath: logPath))
        let process = Process()
        let arguments = [
            "serve", "--port", String(port), "--database",
            sqlite ? database : TestDatabase.url(standingInFor: database),
        ]
        if let command = launcher.first {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = launcher.dropFirst() + [binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        process.currentDirectoryURL = URL(fileURLWithPath: database).deletingLastPathComponent()
        var env = ProcessInfo.processInfo.environment
        for key in ["DATABASE_URL", "PORT", "HOST", "ADMIN_EMAILS", "JWT_SECRET_KEY", "GROQ_API_KEY"] { env[key] = nil }
        env["PASSWORD_HASH_COST"] = "10"
        // Tests register many users from 127.0.0.1; the limit has tests of its own.
        env["REGISTRATIONS_PER_MINUTE"] = "0"
        env["REGISTRATIONS_PER_MINUTE_TOTAL"] = "0"
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let server = ServerProcess(process: process, port: port, logPath: logPath)
        let clock = ContinuousClock()
        let started = clock.now
        while (try? await server.send(.get, "/health").status) != 200 {
            guard process.isRunning, clock.now - started < .seconds(15) else {
                server.signal(SIGKILL)
                Issue.record("chat-server did not start: \(server.log)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return server
    }

    private init(process: Process, port: Int, logPath: String) {
        self.process = process
        self.port = port
        self.logPath = logPath
    }

    /// A port nothing listens on now (bound to port 0, read, released).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    var log: String {
        (FileManager.default.contents(atPath: self.logPath)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    func signal(_ signal: Int32) {
        kill(self.process.processIdentifier, signal)
    }

    /// The exit status once the process has ended, or nil if it is still running after `timeout`.
    func exitStatus(within timeout: Duration) async -> Int32? {
        let ended = await eventually(within: timeout) { !self.process.isRunning }
        return ended ? self.process.terminationStatus : nil
    }

    /// Sends one request on a fresh connection; the body is read whole and checked against the API document.
    /// The same call as the in-process client's `send` (``TestClientProtocol/send(_:_:token:json:headers:)``).
    func send(
        _ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: String? = nil,
        headers: [String: String] = [:], timeout: Duration = .seconds(30)
    ) async throws -> WireResponse {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(self.port)\(path)")
        request.method = HTTPMethod(rawValue: method.rawValue)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        // No pooled connection stays open behind the test's back (the connection-cap test counts them).
        request.headers.add(name: "Connection", value: "close")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(timeout.milliseconds))
        let body = try await response.body.collect(upTo: 16 << 20)
        expectDocumented(
            APIContract.Exchange(
                method: method.rawValue, uri: path, status: Int(response.status.code),
                contentType: response.headers.first(name: "Content-Type"), body: Array(body.readableBytesView)))
        return WireResponse(status: Int(response.status.code), body: String(buffer: body))
    }

    /// What `METRICS_TOKEN` a test sets to read the server's gauges (``gauge(_:)``).
    static let metricsToken = "metrics-token-for-the-tests"

    /// The value of an unlabelled gauge in GET /metrics (the server must run with ``metricsToken``).
    func gauge(_ name: String) async throws -> Double? {
        let request = try await self.send(.get, "/metrics", token: Self.metricsToken)
        let line = request.body.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.dropFirst(name.count + 1)) }
    }

    /// Registers and logs in; returns the token (nil if either step did not succeed).
    func signUp(_ email: String, password: String = "correct horse battery") async throws -> String? {
        let credentials = #"{"email": "\#(email)", "password": "\#(password)"}"#
        guard try await self.send(.post, "/auth/register", json: credentials).status == 201 else { return nil }
        let login = try await self.send(.post, "/auth/login", json: credentials)
        guard login.status == 200 else { return nil }
        return login.json["access_token"] as? String
    }
}

/// One answer read off a socket (the spawned server's, or a concurrent request's), read as the in-process
/// client's answers are (``JSONBody``).
struct WireResponse: Sendable {
    let status: Int
    let body: String

    /// The body as a JSON object (empty if it is not one).
    var json: [String: Any] { (try? JSONBody(bytes: Array(self.body.utf8)))?.object ?? [:] }

    /// The body as a JSON array of objects (empty if it is not one).
    var list: [[String: Any]] { (try? JSONBody(bytes: Array(self.body.utf8)))?.array as? [[String: Any]] ?? [] }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
