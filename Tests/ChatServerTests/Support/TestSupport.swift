import ChatComposition
import ChatServer
import ChatStorage
import ChatTurns
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// A fresh temporary directory, removed by the caller with `removeTemporaryDirectory`.
func makeTemporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("chat-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func removeTemporaryDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// Test configuration: a database file in a fresh directory, any free port and a cheap scrypt cost.
func testConfig(directory: String, adminEmails: [String] = []) -> AppConfig {
    var config = AppConfig()
    config.databasePath = directory + "/test.db"
    config.postgres = TestDatabase.postgres(standingInFor: config.databasePath)
    config.passwordHashCost = 10
    config.adminEmails = adminEmails
    config.port = 0
    // Many users log in from 127.0.0.1 in a test; the limits have tests of their own.
    config.loginAttemptsPerMinute = 0
    config.registrationsPerMinute = 0
    config.registrationsPerMinuteTotal = 0
    config.userMessagesPerMinute = 0
    return config
}

func testLogger() -> Logger {
    var logger = Logger(label: "chat-server-tests")
    logger.logLevel = .warning
    return logger
}

/// Builds the real application on a fresh SQLite file and runs `body` against it.
func withApp(
    _ mode: TestingSetup = .router,
    adminEmails: [String] = [],
    clock: UsageClock = .system,
    logger: Logger = testLogger(),
    configure: (inout AppConfig) -> Void = { _ in },
    _ body: @escaping @Sendable (any TestClientProtocol, ChatBackend) async throws -> Void
) async throws {
    let directory = try makeTemporaryDirectory()
    defer { removeTemporaryDirectory(directory) }
    var config = testConfig(directory: directory, adminEmails: adminEmails)
    configure(&config)
    let backend = try await ChatBackend.open(config: config, logger: logger, clock: clock)
    let app = buildApplication(backend)
    try await app.test(mode) { client in
        try await body(DocumentedClient(client), backend)
    }
}

/// The HummingbirdTesting client with every response checked against the OpenAPI document
/// (``expectDocumented(_:sourceLocation:)``).
struct DocumentedClient: TestClientProtocol {
    let client: any TestClientProtocol

    init(_ client: any TestClientProtocol) { self.client = client }

    var port: Int? { self.client.port }

    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?)
        async throws -> TestResponse
    {
        let response = try await self.client.executeRequest(uri: uri, method: method, headers: headers, body: body)
        expectDocumented(
            APIContract.Exchange(
                method: method.rawValue, uri: uri, status: Int(response.status.code),
                contentType: response.headers[.contentType], body: Array(response.body.readableBytesView)))
        return response
    }
}

/// A parsed JSON response body.
struct JSONBody: @unchecked Sendable {
    // @unchecked Sendable: holds the result of JSONSerialization (Foundation arrays, dictionaries, strings
    // and numbers), which is never mutated after init.
    let value: Any

    init(_ response: TestResponse) throws {
        try self.init(bytes: Array(response.body.readableBytesView))
    }

    /// The body of any client's answer (the spawned server's, a raw connection's).
    init(bytes: [UInt8]) throws {
        self.value = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    subscript(key: String) -> Any? { (self.value as? [String: Any])?[key] }
    var array: [Any] { self.value as? [Any] ?? [] }
    var object: [String: Any] { self.value as? [String: Any] ?? [:] }
    func string(_ key: String) -> String? { self[key] as? String }
    func int(_ key: String) -> Int? { self[key] as? Int }
}

extension TestClientProtocol {
    /// Sends a request with an optional JSON body and bearer token.
    @discardableResult
    func send(
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String? = nil,
        json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await self.execute(
            uri: uri,
            method: method,
            headers: headers,
            body: json.map { ByteBuffer(string: $0) }
        )
    }

    /// Registers a user and returns its id.
    @discardableResult
    func register(_ email: String, password: String = "correct horse battery") async throws -> String {
        let response = try await self.send(
            .post,
            "/auth/register",
            json: #"{"email": "\#(email)", "password": "\#(password)"}"#
        )
        #expect(response.status == .created, "register \(email): \(response.text)")
        return try JSONBody(response).string("id") ?? ""
    }

    /// Logs in and returns the access token.
    func login(_ email: String, password: String = "correct horse battery") async throws -> String {
        let response = try await self.send(
            .post,
            "/auth/login",
            json: #"{"email": "\#(email)", "password": "\#(password)"}"#
        )
        #expect(response.status == .ok, "login \(email): \(response.text)")
        return try JSONBody(response).string("access_token") ?? ""
    }

    /// Registers then logs in; returns (user id, token).
    func signUp(_ email: String) async throws -> (id: String, token: String) {
        let id = try await self.register(email)
        return (id, try await self.login(email))
    }

    /// Creates a chat and returns its id.
    func createChat(token: String, title: String? = nil) async throws -> String {
        let body = title.map { #"{"title": "\#($0)"}"# } ?? "{}"
        let response = try await self.send(.post, "/chats", token: token, json: body)
        #expect(response.status == .created)
        return try JSONBody(response).string("id") ?? ""
    }
}

extension TestResponse {
    var text: String { String(buffer: self.body) }

    /// The body as a JSON object (empty if it is not one).
    var json: [String: Any] { (try? JSONBody(self))?.object ?? [:] }

    /// The body as a JSON array of objects (empty if it is not one).
    var list: [[String: Any]] { (try? JSONBody(self))?.array as? [[String: Any]] ?? [] }

    /// The `detail` of an error body when it is a message.
    var detail: String? { (try? JSONBody(self))?.string("detail") }

    /// The `loc` of each validation issue, joined with dots.
    var validationLocations: [String] {
        guard let issues = (try? JSONBody(self))?["detail"] as? [[String: Any]] else { return [] }
        return issues.map { ($0["loc"] as? [Any] ?? []).map { "\($0)" }.joined(separator: ".") }
    }
}
