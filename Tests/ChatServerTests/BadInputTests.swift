import ChatServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Hostile and broken input: every case is a 4xx with a `detail`, never a 5xx, and the server keeps serving.
@Suite("Bad input and limits")
struct BadInputTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let method: HTTPRequest.Method
        let path: String
        let contentType: String?
        let body: [UInt8]?
        let status: Int

        init(
            _ name: String, _ method: HTTPRequest.Method, _ path: String, json: String? = nil, bytes: [UInt8]? = nil,
            contentType: String? = "application/json", status: Int
        ) {
            self.name = name
            self.method = method
            self.path = path
            self.body = bytes ?? json.map { Array($0.utf8) }
            self.contentType = self.body == nil ? nil : contentType
            self.status = status
        }

        var description: String { self.name }
    }

    static let chat = "00000000-0000-4000-8000-000000000000"
    static let cases: [Case] = [
        Case("invalid JSON", .post, "/chats", json: #"{"title": "#, status: 422),
        Case("JSON that is not an object", .post, "/chats", json: #"["title"]"#, status: 422),
        Case("wrong JSON type", .post, "/chats", json: #"{"title": 5}"#, status: 422),
        Case("missing field", .patch, "/chats/\(chat)", json: "{}", status: 422),
        Case("unknown fields are ignored", .post, "/chats", json: #"{"title": "t", "colour": "red"}"#, status: 201),
        Case(
            "non-UTF-8 bytes", .post, "/chats", bytes: [0x7B, 0x22, 0x74, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D],
            status: 422),
        Case(
            "a raw NUL byte inside a string", .post, "/chats",
            bytes: Array(#"{"title": "a"#.utf8) + [0] + Array(#""}"#.utf8),
            status: 422),
        Case(
            "an escaped NUL, which no engine stores (NULTextTests: every field)", .post, "/chats",
            json: #"{"title": "a\u0000b"}"#, status: 422),
        Case(
            "title of 201 characters", .post, "/chats", json: #"{"title": "\#(String(repeating: "t", count: 201))"}"#,
            status: 422),
        Case("empty message", .post, "/chat", json: #"{"message": ""}"#, status: 422),
        Case(
            "message of 32,001 characters", .post, "/chat",
            json: #"{"message": "\#(String(repeating: "m", count: 32_001))"}"#, status: 422),
        Case("chat_id that is not a UUID", .post, "/chat", json: #"{"chat_id": "1", "message": "hi"}"#, status: 422),
        Case("huge limit", .get, "/chats?limit=99999999999999999999999", status: 422),
        Case("negative offset", .get, "/chats?offset=-1", status: 422),
        Case("limit that is not a number", .get, "/chats?limit=ten", status: 422),
        Case("limit over the maximum", .get, "/chats?limit=101", status: 422),
        Case("id that is not a UUID", .get, "/chats/not-a-uuid", status: 422),
        Case("id with a NUL", .get, "/chats/%00", status: 422),
        Case("unknown route", .get, "/no/such/route", status: 404),
        Case("wrong method", .put, "/chats", status: 405),
        Case("wrong content type", .post, "/chats", json: #"{"title": "t"}"#, contentType: "text/plain", status: 415),
        Case(
            "form body on a JSON route", .post, "/chats", json: "title=t",
            contentType: "application/x-www-form-urlencoded", status: 415),
        Case(
            "body over 1 MiB", .post, "/chats",
            json: #"{"title": "\#(String(repeating: "x", count: (1 << 20) + 1))"}"#, status: 413),
    ]

    @Test("each kind of bad input is a 4xx with a detail", arguments: cases)
    func badInput(_ testCase: Case) async throws {
        try await withApp(.live) { client, _ in
            let (_, token) = try await client.signUp("bad-input@example.com")
            var headers: HTTPFields = [.authorization: "Bearer \(token)"]
            if let contentType = testCase.contentType { headers[.contentType] = contentType }
            let response = try await client.execute(
                uri: testCase.path, method: testCase.method, headers: headers,
                body: testCase.body.map { ByteBuffer(bytes: $0) })
            #expect(response.status.code == testCase.status, "\(testCase.name): \(response.text.prefix(300))")
            if response.status.code >= 400 {
                let body = try JSONBody(response)
                #expect(body["detail"] != nil, "\(testCase.name): no detail in \(response.text.prefix(300))")
            }
            #expect(try await client.send(.get, "/health").status == .ok)
        }
    }

    @Test("a wrong method is 405 with Allow listing the path's methods")
    func methodNotAllowed() async throws {
        try await withApp { client, _ in
            let response = try await client.send(.delete, "/chats")
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers[.allow] == "GET, POST")
            #expect(response.detail == "Method Not Allowed")
            let item = try await client.send(.post, "/chats/\(Self.chat)")
            #expect(item.headers[.allow] == "GET, PATCH, DELETE")
        }
    }

    @Test("a Last-Event-ID that is not an offset is 422, not silently read as 0")
    func badLastEventID() async throws {
        try await withApp { client, _ in
            let (_, token) = try await client.signUp("resume@example.com")
            for value in ["P", "-1", "1.5", "99999999999999999999999"] {
                let response = try await client.send(
                    .get, "/chats/\(Self.chat)/messages/1/stream", token: token,
                    headers: [HTTPField.Name("Last-Event-ID")!: value])
                #expect(response.status == .unprocessableContent, "\(value): \(response.text)")
                #expect(response.validationLocations == ["header.Last-Event-ID"])
            }
        }
    }

    @Test("fields at their limits are accepted: email 254, password 128, title 200")
    func fieldsAtLimits() async throws {
        try await withApp { client, _ in
            let d63 = String(repeating: "d", count: 63)
            let long =
                String(repeating: "a", count: 64) + "@" + d63 + "." + d63 + "." + String(repeating: "d", count: 57)
                + ".com"
            #expect(long.count == 254)
            let password = String(repeating: "p", count: 128)
            let registered = try await client.send(
                .post, "/auth/register", json: #"{"email": "\#(long)", "password": "\#(password)"}"#)
            #expect(registered.status == .created, "\(registered.text)")
            let created = try await client.send(
                .post, "/chats", token: try await client.login(long, password: password),
                json: #"{"title": "\#(String(repeating: "t", count: 200))"}"#)
            #expect(created.status == .created)

            let tooLong = "b" + long
            let refused = try await client.send(
                .post, "/auth/register", json: #"{"email": "\#(tooLong)", "password": "\#(password)"}"#)
            #expect(refused.status == .unprocessableContent)
            #expect(refused.validationLocations == ["body.email"])
            let login = try await client.send(
                .post, "/auth/login", json: #"{"email": "\#(tooLong)", "password": "x"}"#)
            #expect(login.status == .unprocessableContent)
        }
    }

    @Test("a request head over 32 KiB is refused with 400 and the connection closed; the server carries on")
    func hugeHeaders() async throws {
        try await withApp(.live) { client, _ in
            let port = try #require(client.port)
            let greedy = try await RawConnection.connect(port: port)
            // Just over the limit, so that the server has read everything when it answers (no reset).
            let padding = String(repeating: "p", count: 33 * 1024)
            try await greedy.send("GET /health HTTP/1.1\r\nHost: localhost\r\nX-Padding: \(padding)\r\n\r\n")
            #expect(await greedy.closed(within: .seconds(3)))
            #expect(greedy.text.hasPrefix("HTTP/1.1 400"), "\(greedy.text.prefix(200))")
            let polite = try await RawConnection.connect(port: port)
            try await polite.send("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(await polite.answered(within: .seconds(2)))
            #expect(polite.text.hasPrefix("HTTP/1.1 200"))
            await polite.close()
        }
    }

    @Test("responses say nosniff and never name the server; no CORS header unless configured")
    func securityHeaders() async throws {
        try await withApp { client, _ in
            let response = try await client.send(.get, "/health", headers: [.origin: "https://evil.example"])
            #expect(response.headers[.xContentTypeOptions] == "nosniff")
            #expect(response.headers[.server] == nil)
            #expect(response.headers[.accessControlAllowOrigin] == nil)
            let preflight = try await client.send(
                .options, "/chats", headers: [.origin: "https://evil.example", .accessControlRequestMethod: "POST"])
            #expect(preflight.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test("CORS_ORIGINS allows exactly the listed origins")
    func cors() async throws {
        try await withApp(configure: { $0.corsOrigins = ["https://app.example.com"] }) { client, _ in
            let allowed = try await client.send(.get, "/health", headers: [.origin: "https://app.example.com"])
            #expect(allowed.headers[.accessControlAllowOrigin] == "https://app.example.com")
            #expect(allowed.headers[.vary] == "Origin")
            let preflight = try await client.send(
                .options, "/chats",
                headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "POST"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            let other = try await client.send(.get, "/health", headers: [.origin: "https://evil.example"])
            #expect(other.headers[.accessControlAllowOrigin] == nil)
        }
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
}
