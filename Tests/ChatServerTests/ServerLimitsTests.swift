import ChatServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockGroq
import NIOCore
import Testing

/// Slow and greedy clients: timeouts and the per-user and per-login rate limits. (The connection cap is
/// tried on the real binary in ``ProcessTests``: HummingbirdTesting's live server does not apply it.)
@Suite("Server limits")
struct ServerLimitsTests {
    @Test("a request head sent a byte at a time is cut off at REQUEST_READ_TIMEOUT_SECONDS from its first byte")
    func slowHead() async throws {
        try await withApp(
            .live,
            configure: {
                $0.idleTimeoutSeconds = 30
                $0.requestReadTimeoutSeconds = 1
            }
        ) { client, _ in
            let port = try #require(client.port)
            let slow = try await RawConnection.connect(port: port)
            let clock = ContinuousClock()
            let start = clock.now
            try await slow.send("GET /health HTTP/1.1\r\nHost: localhost\r\n")
            // Always another byte before the idle timeout could fire: only the read deadline can end it.
            while clock.now - start < .seconds(5), slow.channel.isActive {
                try await Task.sleep(for: .milliseconds(200))
                try? await slow.send("X")
            }
            #expect(!slow.channel.isActive)
            #expect(clock.now - start < .seconds(2), "closed after \(clock.now - start)")
            #expect(slow.text.isEmpty)
            // Others are still served.
            let other = try await RawConnection.connect(port: port)
            try await other.send("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(await other.answered(within: .seconds(2)))
            #expect(other.text.hasPrefix("HTTP/1.1 200"))
            await other.close()
        }
    }

    @Test("a body trickled in slower than the read timeout is cut off")
    func slowBody() async throws {
        try await withApp(
            .live,
            configure: {
                $0.idleTimeoutSeconds = 30
                $0.requestReadTimeoutSeconds = 1
            }
        ) { client, _ in
            let port = try #require(client.port)
            let slow = try await RawConnection.connect(port: port)
            try await slow.send(
                "POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 1000\r\n\r\n{")
            let clock = ContinuousClock()
            let start = clock.now
            var closed = false
            while clock.now - start < .seconds(5) {
                try? await slow.send(" ")
                if await slow.closed(within: .milliseconds(250)) {
                    closed = true
                    break
                }
            }
            #expect(closed)
            #expect(clock.now - start < .seconds(3))
            #expect(try await client.send(.get, "/health").status == .ok)
        }
    }

    @Test("USER_MESSAGES_PER_MINUTE: the next message is 429 with Retry-After; other users are not affected")
    func messageRate() async throws {
        try await withTurnApp(configure: { $0.userMessagesPerMinute = 3 }) { client, _, _ in
            let (_, token) = try await client.signUp("chatty@example.com")
            let (_, other) = try await client.signUp("quiet@example.com")
            for _ in 0..<3 {
                #expect(try await client.send(.post, "/chat", token: token, json: #"{"message": "hi"}"#).status == .ok)
            }
            let limited = try await client.send(.post, "/chat", token: token, json: #"{"message": "hi"}"#)
            #expect(limited.status == .tooManyRequests)
            let retryAfter = try #require(limited.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...60).contains(retryAfter))
            #expect(limited.detail?.contains("3 per minute") == true)
            #expect(try await client.send(.post, "/chat", token: other, json: #"{"message": "hi"}"#).status == .ok)
            // Invalid requests are refused before they count.
            let (_, third) = try await client.signUp("third@example.com")
            for _ in 0..<4 {
                #expect(
                    try await client.send(.post, "/chat", token: third, json: #"{"message": ""}"#).status
                        == .unprocessableContent)
            }
            #expect(try await client.send(.post, "/chat", token: third, json: #"{"message": "hi"}"#).status == .ok)
        }
    }

    @Test(
        "LOGIN_ATTEMPTS_PER_MINUTE: failures slow the guessing address, never the owner's correct login from elsewhere"
    )
    func loginRate() async throws {
        try await withApp(
            .live,
            configure: {
                $0.loginAttemptsPerMinute = 3
                $0.forwardedAllowIPs = ["127.0.0.1"]
            }
        ) { client, _ in
            try await client.register("target@example.com")
            try await client.register("second@example.com")
            func login(_ email: String, _ password: String, from address: String) async throws -> TestResponse {
                try await client.send(
                    .post, "/auth/login", json: #"{"email": "\#(email)", "password": "\#(password)"}"#,
                    headers: [HTTPField.Name("X-Forwarded-For")!: address])
            }
            let attacker = "203.0.113.9"
            for _ in 0..<3 {
                #expect(try await login("target@example.com", "guess guess", from: attacker).status == .unauthorized)
            }
            // The guessing address is refused, whatever email it tries, even with the right password.
            let limited = try await login("TARGET@example.com", "correct horse battery", from: attacker)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter].flatMap { Int($0) }.map { (1...60).contains($0) } == true)
            #expect(
                try await login("second@example.com", "correct horse battery", from: attacker).status
                    == .tooManyRequests)
            // The OAuth2 form counts the same way.
            let form = try await client.execute(
                uri: "/auth/token", method: .post,
                headers: [
                    .contentType: "application/x-www-form-urlencoded", HTTPField.Name("X-Forwarded-For")!: attacker,
                ],
                body: ByteBuffer(string: "username=target%40example.com&password=correct+horse+battery"))
            #expect(form.status == .tooManyRequests)
            // The owner, from another address, is not locked out.
            #expect(try await login("target@example.com", "correct horse battery", from: "198.51.100.1").status == .ok)

            // Thirty addresses fail once each: the email passes its ceiling (10 × 3 failures a minute).
            for index in 0..<30 {
                #expect(
                    try await login("target@example.com", "wrong", from: "192.0.2.\(index)").status == .unauthorized)
            }
            // Past the ceiling an address that has failed is refused even below its own limit...
            #expect(
                try await login("target@example.com", "correct horse battery", from: "192.0.2.0").status
                    == .tooManyRequests)
            // ...and a clean address with the right password still gets in.
            #expect(try await login("target@example.com", "correct horse battery", from: "198.51.100.2").status == .ok)
        }
    }

    @Test("behind a trusted proxy, login attempts are counted per forwarded address; others cannot forge one")
    func forwardedAddress() async throws {
        try await withApp(
            .live,
            configure: {
                $0.loginAttemptsPerMinute = 2
                $0.forwardedAllowIPs = ["127.0.0.1"]
            }
        ) { client, _ in
            let attempts = [
                ("a@example.com", "203.0.113.1"), ("b@example.com", "203.0.113.1"), ("c@example.com", "203.0.113.1"),
                // Another client behind the same proxy has its own allowance; a forged first entry changes nothing.
                ("d@example.com", "198.51.100.7"), ("e@example.com", "10.0.0.1, 203.0.113.1"),
            ]
            var statuses: [HTTPResponse.Status] = []
            for (email, address) in attempts {
                let response = try await client.send(
                    .post, "/auth/login", json: #"{"email": "\#(email)", "password": "wrong password"}"#,
                    headers: [HTTPField.Name("X-Forwarded-For")!: address])
                statuses.append(response.status)
            }
            #expect(statuses == [.unauthorized, .unauthorized, .tooManyRequests, .unauthorized, .tooManyRequests])
        }
    }
}
