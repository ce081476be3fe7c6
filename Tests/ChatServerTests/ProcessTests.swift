import ChatServer
import ChatStorage
import ChatStoragePostgres
import ChatStorageSQLite
import Foundation
import HTTPTypes
import MockGroq
import NIOCore
import Synchronization
import Testing

/// The real binary under signals, crashes and connection pressure, with the mock upstream in this process.
@Suite("chat-server process", .serialized)
struct ProcessTests {
    static func mockEnvironment(_ mock: MockGroqServer) -> [String: String] {
        ["GROQ_API_KEY": mock.apiKey, "GROQ_BASE_URL": mock.baseURL, "GROQ_MAX_RETRIES": "0"]
    }

    /// Replies of 60 words, one every 100 ms: a connection that streams one is busy for 6 s.
    static let sixSecondReplies = MockGroqBehavior(
        chunkDelayMilliseconds: 100, reply: Array(repeating: "word", count: 60).joined(separator: " "))

    /// A server with a 1 s shutdown grace period whose replies take about 4 s (40 words, one every 100 ms).
    static func startForShutdown(database: String) async throws -> (ServerProcess, MockGroqServer) {
        let mock = try await MockGroqServer.start(
            behavior: MockGroqBehavior(
                chunkDelayMilliseconds: 100, reply: Array(repeating: "word", count: 40).joined(separator: " ")))
        do {
            let server = try await ServerProcess.start(
                database: database,
                environment: Self.mockEnvironment(mock).merging([
                    "SHUTDOWN_GRACE_SECONDS": "1", "METRICS_TOKEN": ServerProcess.metricsToken,
                ]) { $1 })
            return (server, mock)
        } catch {
            await mock.stop()
            throw error
        }
    }

    @Test("MAX_CONNECTIONS: with every connection streaming a reply, one more waits in the backlog until one closes")
    func connectionCap() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let mock = try await MockGroqServer.start(behavior: ProcessTests.sixSecondReplies)
        defer { Task { await mock.stop() } }
        let server = try await ServerProcess.start(
            database: directory + "/cap.db",
            environment: Self.mockEnvironment(mock).merging(["MAX_CONNECTIONS": "2"]) { $1 })
        defer { server.signal(SIGKILL) }
        let token = try #require(try await server.signUp("cap@example.com"))
        // Two connections busy with replies (idle ones would be closed to make room: ConnectionLimitTests).
        var streams: [RawConnection] = []
        for _ in 0..<2 {
            let stream = try await RawConnection.open(
                port: server.port, "POST", "/chat", token: token, json: #"{"message": "go", "stream": true}"#)
            #expect(await eventually(within: .seconds(5)) { stream.text.contains("event: delta") })
            streams.append(stream)
        }

        let third = try await RawConnection.connect(port: server.port)
        try await third.send("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(!(await third.answered(within: .milliseconds(700))), "served over the cap: \(third.text)")
        #expect(streams.allSatisfy { $0.channel.isActive })
        await streams[0].close()
        #expect(await third.answered(within: .seconds(3)))
        #expect(third.text.hasPrefix("HTTP/1.1 200"))
        await streams[1].close()
        await third.close()
    }

    @Test("SIGTERM while replies stream: no new connections, replies interrupted after the grace period, exit 0")
    func gracefulShutdown() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let database = directory + "/term.db"
        let (server, mock) = try await Self.startForShutdown(database: database)
        defer { Task { await mock.stop() } }
        let token = try #require(try await server.signUp("term@example.com"))

        let streams = (0..<3).map { _ in
            Task { try await server.send(.post, "/chat", token: token, json: #"{"message": "go", "stream": true}"#) }
        }
        // A fourth reply whose client has gone: it still runs, and must still be saved before the database closes.
        let abandoned = Task {
            try await server.send(.post, "/chat", token: token, json: #"{"message": "bye", "stream": true}"#)
        }
        #expect(await eventually(within: .seconds(5)) { mock.stats.inFlight == 4 })
        abandoned.cancel()
        // Its connection closed: three streams' and the scrape's own are left.
        #expect(
            try await eventually(within: .seconds(5)) { try await server.gauge("chat_http_connections_open") == 4 })
        server.signal(SIGTERM)
        // The listener closes at once: within a moment new connections are refused, while the streams go on.
        var refused = false
        let clock = ContinuousClock()
        let signalled = clock.now
        while !refused && clock.now - signalled < .seconds(3) {
            do {
                _ = try await server.send(.get, "/health", timeout: .seconds(1))
                try await Task.sleep(for: .milliseconds(50))
            } catch {
                refused = true
            }
        }
        #expect(refused, "new connections were still accepted 3 s after SIGTERM")
        for stream in streams {
            let response = try await stream.value
            let (status, body) = (response.status, response.body)
            #expect(status == 200)
            let events = parseServerSentEvents(body)
            #expect(events.first?.event == "start")
            let last = try #require(events.last)
            #expect(last.event == "error", "\(body.suffix(300))")
            #expect(last.json["status"] as? Int == 503)
        }
        let status = await server.exitStatus(within: .seconds(10))
        #expect(status == 0, "\(server.log.suffix(2000))")
        #expect(server.log.contains("shutdown grace period over"))

        let reopened = try await TestDatabase.openStore(standingInFor: database)
        let interrupted = try await reopened.messages(status: .failed)
        #expect(interrupted.count == 4)
        #expect(interrupted.allSatisfy { $0.error == "interrupted by server shutdown" && !$0.content.isEmpty })
        #expect(try await reopened.messages(status: .streaming).isEmpty)
        await reopened.close()
    }

    @Test("SIGTERM with replies whose clients have gone: they are saved as interrupted before the database closes")
    func shutdownWithoutClients() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let database = directory + "/gone.db"
        let (server, mock) = try await Self.startForShutdown(database: database)
        defer { Task { await mock.stop() } }
        let token = try #require(try await server.signUp("gone@example.com"))
        let clients = (0..<2).map { _ in
            Task { try await server.send(.post, "/chat", token: token, json: #"{"message": "go", "stream": true}"#) }
        }
        #expect(await eventually(within: .seconds(5)) { mock.stats.inFlight == 2 })
        for client in clients { client.cancel() }
        // Only the scrape's own connection is left.
        #expect(
            try await eventually(within: .seconds(5)) { try await server.gauge("chat_http_connections_open") == 1 })
        // No connection is open now: the server drains at once, but the replies still run.
        server.signal(SIGTERM)
        #expect(await server.exitStatus(within: .seconds(10)) == 0, "\(server.log.suffix(2000))")

        let reopened = try await TestDatabase.openStore(standingInFor: database)
        #expect(try await reopened.messages(status: .streaming).isEmpty)
        let interrupted = try await reopened.messages(status: .failed)
        #expect(interrupted.count == 2)
        #expect(interrupted.allSatisfy { $0.error == "interrupted by server shutdown" })
        await reopened.close()
    }

    @Test("SIGKILL mid-load: every write that got a 2xx survives, the file is sound, no reply stays streaming")
    func crashDurability() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let mock = try await MockGroqServer.start(behavior: MockGroqBehavior(chunkDelayMilliseconds: 20))
        defer { Task { await mock.stop() } }
        let database = directory + "/crash.db"
        let environment = Self.mockEnvironment(mock).merging([
            "USER_MESSAGES_PER_MINUTE": "0", "LOGIN_ATTEMPTS_PER_MINUTE": "0",
        ]) { $1 }
        let server = try await ServerProcess.start(database: database, environment: environment)

        /// What the server acknowledged with a 2xx.
        struct Acknowledged: Sendable {
            var users: [String: String] = [:]  // email → password
            var chats: [String: String] = [:]  // chat id → owner email
            var replies: [String: [String]] = [:]  // chat id → user messages answered 200
        }
        final class Ledger: Sendable {
            let state = Mutex(Acknowledged())
        }
        let ledger = Ledger()
        let clock = ContinuousClock()
        let stopAt = clock.now + .milliseconds(1500)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var iteration = 0
                    while clock.now < stopAt + .seconds(5) {
                        iteration += 1
                        let email = "writer\(writer)-\(iteration)@example.com"
                        guard let token = try? await server.signUp(email) else { return }
                        ledger.state.withLock { $0.users[email] = "correct horse battery" }
                        guard let created = try? await server.send(.post, "/chats", token: token, json: "{}"),
                            created.status == 201,
                            let id = created.json["id"] as? String
                        else { return }
                        ledger.state.withLock { $0.chats[id] = email }
                        for turn in 0..<3 {
                            let message = "message \(turn) from \(email)"
                            let stream = turn == 2
                            guard
                                let reply = try? await server.send(
                                    .post, "/chat", token: token,
                                    json: #"{"chat_id": "\#(id)", "message": "\#(message)", "stream": \#(stream)}"#)
                            else { return }
                            if reply.status == 200 && (!stream || reply.body.contains("event: done")) {
                                ledger.state.withLock { $0.replies[id, default: []].append(message) }
                            }
                        }
                    }
                }
            }
            // Kill while the writers are mid-flight.
            try await Task.sleep(until: stopAt, clock: clock)
            server.signal(SIGKILL)
            try await group.waitForAll()
        }
        #expect(await server.exitStatus(within: .seconds(5)) != nil)
        let seen = ledger.state.withLock { $0 }
        #expect(seen.users.count >= 8, "too little load before the kill: \(seen.users.count) users")
        #expect(seen.replies.values.joined().count >= 8, "too few AI turns before the kill")
        print(
            "crash test: acknowledged \(seen.users.count) users, \(seen.chats.count) chats,"
                + " \(seen.replies.values.joined().count) turns before SIGKILL")

        // The file as the crash left it: sound.
        if !TestDatabase.isPostgres {
            let opened = try await DatabaseActor.open(path: database)
            #expect(try await opened.integrityCheck() == ["ok"])
            await opened.close()
        }

        // Restarted: every acknowledged write is there, and nothing is left streaming.
        let restarted = try await ServerProcess.start(database: database, environment: environment)
        defer { restarted.signal(SIGKILL) }
        if TestDatabase.isPostgres {
            // The killed process still held its lease: its replies are failed once the lease runs out.
            let store = try await TestDatabase.openStore(standingInFor: database)
            let deadline = ContinuousClock.now + PostgresStore.lease + PostgresStore.heartbeat + .seconds(3)
            while try await !store.messages(status: .streaming).isEmpty, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }
            await store.close()
        }
        var tokens: [String: String] = [:]
        for (email, password) in seen.users {
            let login = try await restarted.send(
                .post, "/auth/login", json: #"{"email": "\#(email)", "password": "\#(password)"}"#)
            #expect(login.status == 200, "user \(email) lost")
            tokens[email] = login.json["access_token"] as? String
        }
        for (chatID, owner) in seen.chats {
            let token = try #require(tokens[owner])
            let messages = try await restarted.send(.get, "/chats/\(chatID)/messages", token: token)
            #expect(messages.status == 200, "chat \(chatID) lost")
            let list = messages.list
            #expect(!list.contains { $0["status"] as? String == "streaming" }, "a reply left streaming in \(chatID)")
            let contents = list.map { $0["content"] as? String ?? "" }
            for message in seen.replies[chatID] ?? [] {
                let index = contents.firstIndex(of: message)
                #expect(index != nil, "acknowledged message lost: \(message)")
                if let index {
                    let reply = list.indices.contains(index + 1) ? list[index + 1] : [:]
                    #expect(reply["role"] as? String == "assistant" && reply["status"] as? String == "complete")
                }
            }
        }
    }

    @Test("the log of a whole session holds no password, no bearer token and no API key, even at trace level")
    func logsHoldNoSecrets() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let mock = try await MockGroqServer.start(apiKey: "gsk_secret_mock_key_0123456789")
        defer { Task { await mock.stop() } }
        let password = "hunter2-very-secret-password"
        let server = try await ServerProcess.start(
            database: directory + "/logs.db",
            environment: Self.mockEnvironment(mock).merging(["LOG_LEVEL": "trace"]) { $1 })
        let token = try #require(try await server.signUp("logged@example.com", password: password))
        _ = try await server.send(
            .post, "/auth/login", json: #"{"email": "logged@example.com", "password": "wrong-\#(password)"}"#)
        _ = try await server.send(.post, "/chat", token: token, json: #"{"message": "hello"}"#)
        _ = try await server.send(.post, "/chat", token: token, json: #"{"message": "again", "stream": true}"#)
        _ = try await server.send(.get, "/chats", token: token)
        _ = try await server.send(.get, "/auth/me", token: token + "tampered")
        _ = try await server.send(.post, "/auth/logout", token: token)
        server.signal(SIGTERM)
        #expect(await server.exitStatus(within: .seconds(15)) == 0)

        let log = server.log
        #expect(log.contains("request"), "the log is empty: nothing was checked")
        #expect(!log.contains(password))
        #expect(!log.contains(token))
        #expect(!log.contains(String(token.split(separator: ".").last ?? "")))
        #expect(!log.contains(mock.apiKey))
    }
}
