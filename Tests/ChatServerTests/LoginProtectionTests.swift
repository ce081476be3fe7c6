import ChatAuth
import ChatServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Registration limits, the bounded hashing queue, and login timing that tells nothing.
@Suite("Login and registration protection")
struct LoginProtectionTests {
    @Test("REGISTRATIONS_PER_MINUTE: per client address, 429 with Retry-After before any hashing")
    func registrationRate() async throws {
        try await withApp(
            .live,
            configure: {
                $0.registrationsPerMinute = 2
                $0.forwardedAllowIPs = ["127.0.0.1"]
            }
        ) { client, _ in
            func register(_ email: String, from address: String) async throws -> TestResponse {
                try await client.send(
                    .post, "/auth/register", json: #"{"email": "\#(email)", "password": "correct horse battery"}"#,
                    headers: [HTTPField.Name("X-Forwarded-For")!: address])
            }
            #expect(try await register("a@example.com", from: "203.0.113.1").status == .created)
            #expect(try await register("b@example.com", from: "203.0.113.1").status == .created)
            let limited = try await register("c@example.com", from: "203.0.113.1")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] != nil)
            #expect(limited.detail?.contains("registrations") == true)
            #expect(try await register("c@example.com", from: "198.51.100.3").status == .created)
        }
    }

    @Test("a full hashing queue answers 503 with Retry-After at once instead of queueing")
    func hashingQueueBound() async throws {
        try await withApp(
            configure: {
                $0.passwordHashQueueLimit = 1
                $0.passwordHashCost = 16
            }
        ) { client, _ in
            let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                for index in 0..<6 {
                    group.addTask {
                        let response = try await client.send(
                            .post, "/auth/register",
                            json: #"{"email": "q\#(index)@example.com", "password": "correct horse battery"}"#)
                        return (response.status, response.headers[.retryAfter])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let busy = statuses.filter { $0.0 == .serviceUnavailable }
            #expect(statuses.contains { $0.0 == .created })
            #expect(!busy.isEmpty, "\(statuses)")
            #expect(busy.allSatisfy { $0.1 == "1" })
            #expect(statuses.allSatisfy { $0.0 == .created || $0.0 == .serviceUnavailable })
        }
    }

    @Test("after PASSWORD_HASH_COST is raised, a wrong password on an old hash answers no faster than an unknown email")
    func timingAfterCostRaise() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        // Registered at cost 10.
        var config = testConfig(directory: directory)
        let old = try await ChatBackend.bootstrap(config: config, logger: testLogger())
        try await buildApplication(old).test(.router) { client in
            _ = try await client.register("old@example.com")
        }
        // The server now runs at cost 15.
        config.passwordHashCost = 15
        let raised = try await ChatBackend.bootstrap(config: config, logger: testLogger())
        try await buildApplication(raised).test(.router) { client in
            func time(_ email: String) async throws -> Duration {
                let clock = ContinuousClock()
                let started = clock.now
                let response = try await client.send(
                    .post, "/auth/login", json: #"{"email": "\#(email)", "password": "not the password"}"#)
                #expect(response.status == .unauthorized)
                return clock.now - started
            }
            var wrongPassword: [Duration] = []
            var unknownEmail: [Duration] = []
            for _ in 0..<5 {
                wrongPassword.append(try await time("old@example.com"))
                unknownEmail.append(try await time("nobody@example.com"))
            }
            let wrong = wrongPassword.sorted()[2]
            let unknown = unknownEmail.sorted()[2]
            print("login timing after a cost raise: wrong password \(wrong), unknown email \(unknown)")
            // Without the padding the old hash answers about 30 times faster (cost 10 against 15).
            #expect(wrong >= unknown * 0.7, "wrong password \(wrong) vs unknown email \(unknown)")
            #expect(wrong <= unknown * 1.5, "wrong password \(wrong) vs unknown email \(unknown)")
        }
    }
}
