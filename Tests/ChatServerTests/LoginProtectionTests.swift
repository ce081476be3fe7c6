import ChatAuth
import ChatComposition
import ChatServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

extension TestClientProtocol {
    /// POST /auth/register from `address` (the app trusts 127.0.0.1's X-Forwarded-For).
    fileprivate func register(_ email: String, from address: String) async throws -> TestResponse {
        try await self.send(
            .post, "/auth/register", json: #"{"email": "\#(email)", "password": "correct horse battery"}"#,
            headers: [HTTPField.Name("X-Forwarded-For")!: address])
    }
}

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
                try await client.register(email, from: address)
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

    @Test("REGISTRATIONS_PER_MINUTE_TOTAL: every address together; an address over its own limit spends none of it")
    func registrationTotal() async throws {
        try await withApp(
            .live,
            configure: {
                $0.registrationsPerMinute = 2
                $0.registrationsPerMinuteTotal = 3
                $0.forwardedAllowIPs = ["127.0.0.1"]
            }
        ) { client, _ in
            func register(_ email: String, from address: String) async throws -> TestResponse {
                try await client.register(email, from: address)
            }
            #expect(try await register("a1@example.com", from: "203.0.113.1").status == .created)
            #expect(try await register("a2@example.com", from: "203.0.113.1").status == .created)
            let own = try await register("a3@example.com", from: "203.0.113.1")
            #expect(own.status == .tooManyRequests)
            #expect(own.detail == "Too many registrations; try again later")
            // The third of the deployment's three: the refused a3 did not count.
            #expect(try await register("b1@example.com", from: "198.51.100.2").status == .created)
            for (email, address) in [("b2@example.com", "198.51.100.2"), ("c1@example.com", "192.0.2.3")] {
                let limited = try await register(email, from: address)
                #expect(limited.status == .tooManyRequests, "\(email)")
                #expect(limited.detail == "Too many registrations on this service right now; try again later")
                #expect(limited.headers[.retryAfter].flatMap { Int($0) }.map { (1...60).contains($0) } == true)
            }
            #expect(
                try await client.send(
                    .post, "/auth/login", json: #"{"email": "c1@example.com", "password": "correct horse battery"}"#
                ).status == .unauthorized)
        }
    }

    @Test("a registration flood from 30 addresses: a returning user's login is served ahead of the queued sign-ups")
    func loginAheadOfRegistrationFlood() async throws {
        try await withApp(
            .live,
            configure: {
                $0.passwordHashCost = 14
                $0.registrationsPerMinute = 1
                $0.forwardedAllowIPs = ["127.0.0.1"]
            }
        ) { client, backend in
            let port = try #require(client.port)
            try await client.register("returning@example.com")
            var flood: [RawConnection] = []
            for index in 0..<30 {
                flood.append(
                    try await RawConnection.open(
                        port: port, "POST", "/auth/register",
                        json: #"{"email": "s\#(index)@example.com", "password": "correct horse battery"}"#,
                        forwardedFor: "198.51.100.\(index + 1)"))
            }
            let passwords = backend.passwords
            #expect(await eventually(within: .seconds(10)) { passwords.load.waiting[.signUp, default: 0] >= 16 })
            let queuedBefore = passwords.load.waiting[.signUp, default: 0]
            let login = try await client.send(
                .post, "/auth/login", json: #"{"email": "returning@example.com", "password": "correct horse battery"}"#,
                headers: [HTTPField.Name("X-Forwarded-For")!: "192.0.2.77"])
            let queuedAfter = passwords.load.waiting[.signUp, default: 0]
            #expect(login.status == .ok)
            // Served next: the sign-ups running when it came (one per hashing thread at most) and perhaps the one
            // that started while its answer went out. Queued behind them all, it would have seen the queue empty.
            #expect(
                queuedBefore - queuedAfter <= PasswordHasher.sharedThreadCount + 1,
                "sign-ups queued: \(queuedBefore) when the login came, \(queuedAfter) when it was answered")
            for connection in flood {
                #expect(await connection.status(within: .seconds(30)) == 201)
            }
        }
    }

    @Test("failed logins turned away by a full hashing queue count for their address: a flood is limited, not served")
    func floodTurnedAwayIsCounted() async throws {
        try await withApp(
            .live,
            configure: {
                $0.passwordHashQueueLimit = 1
                $0.passwordHashCost = 15
                $0.loginAttemptsPerMinute = 3
                $0.forwardedAllowIPs = ["127.0.0.1"]
            }
        ) { client, _ in
            try await client.register("victim@example.com")
            func login(_ password: String, from address: String) async throws -> HTTPResponse.Status {
                try await client.send(
                    .post, "/auth/login", json: #"{"email": "victim@example.com", "password": "\#(password)"}"#,
                    headers: [HTTPField.Name("X-Forwarded-For")!: address]
                ).status
            }
            // Twelve guesses at once, each on its own connection, before the first one's hash is done.
            let port = try #require(client.port)
            var connections: [RawConnection] = []
            for _ in 0..<12 {
                connections.append(
                    try await RawConnection.open(
                        port: port, "POST", "/auth/login",
                        json: #"{"email": "victim@example.com", "password": "wrong guess"}"#,
                        forwardedFor: "198.51.100.9"))
            }
            var flood: [Int?] = []
            for connection in connections { flood.append(await connection.status(within: .seconds(30))) }
            #expect(flood.contains(503), "the queue turned some away: \(flood)")
            #expect(flood.filter { $0 == 401 }.count < 3, "fewer failures than the limit were verified: \(flood)")
            // Every attempt counted, those turned away too: the address is over its limit.
            #expect(try await login("wrong guess", from: "198.51.100.9") == .tooManyRequests)
            let correct = try await login("correct horse battery", from: "192.0.2.10")
            #expect(correct == .ok, "\(correct)")
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
        let old = try await ChatBackend.open(config: config, logger: testLogger())
        try await buildApplication(old).test(.router) { client in
            _ = try await client.register("old@example.com")
        }
        // The server now runs at cost 15.
        config.passwordHashCost = 15
        let raised = try await ChatBackend.open(config: config, logger: testLogger())
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
