import ChatProvider
import ChatStorage
import ChatStoragePostgres
import Foundation
import HTTPTypes
import MockGroq
import Testing

/// Three real `chat-server` processes on one PostgreSQL database with one mock upstream, as a deployment
/// behind a load balancer without stickiness would run them.
@Suite("Several replicas on one PostgreSQL", .enabled(if: TestDatabase.isPostgres, "needs the PostgreSQL server"))
struct MultiReplicaTests {
    struct Deployment {
        let replicas: [ServerProcess]
        let mock: MockGroqServer

        func stop() async {
            for replica in self.replicas { replica.signal(SIGKILL) }
            await self.mock.stop()
        }
    }

    static func deploy(_ behavior: MockGroqBehavior, directory: String, environment: [String: String] = [:])
        async throws -> Deployment
    {
        let mock = try await MockGroqServer.start(behavior: behavior)
        var replicas: [ServerProcess] = []
        do {
            for _ in 0..<3 {
                replicas.append(
                    try await ServerProcess.start(
                        database: directory + "/shared.db",
                        environment: ProcessTests.mockEnvironment(mock).merging([
                            "USER_MESSAGES_PER_MINUTE": "0", "LOGIN_ATTEMPTS_PER_MINUTE": "0",
                            "ADMIN_EMAILS": "admin@example.com", "METRICS_TOKEN": ServerProcess.metricsToken,
                        ]) { $1 }.merging(environment) { $1 }))
            }
        } catch {
            for replica in replicas { replica.signal(SIGKILL) }
            await mock.stop()
            throw error
        }
        return Deployment(replicas: replicas, mock: mock)
    }

    /// Sends `count` messages into one chat, message i through replica i mod 3, one after the other; the statuses.
    static func sendRoundRobin(_ deployment: Deployment, token: String, chatID: String, count: Int) async throws
        -> [Int]
    {
        var statuses: [Int] = []
        for index in 0..<count {
            statuses.append(
                try await deployment.replicas[index % 3].send(
                    .post, "/chat", token: token, json: #"{"chat_id": "\#(chatID)", "message": "m\#(index)"}"#
                ).status)
        }
        return statuses
    }

    /// A running reply: a deployment whose replies are `words` words at `chunkDelay` each, a user signed up
    /// on replica A with a chat, and a streamed send on A read up to its `deltas`-th delta.
    struct ReplyInProgress {
        let deployment: Deployment
        let token: String
        let chatID: String
        /// Kept with the reader: the transfer lives as long as its client.
        let client: StreamingClient
        var reader: SSEReader
    }

    static func replyInProgress(
        _ email: String, words: Int, chunkDelay: Int = 100, deltas: Int, directory: String
    ) async throws -> ReplyInProgress {
        let deployment = try await Self.deploy(
            MockGroqBehavior(
                chunkDelayMilliseconds: chunkDelay, reply: Array(repeating: "word", count: words).joined(separator: " ")
            ),
            directory: directory)
        let a = deployment.replicas[0]
        let token = try #require(try await a.signUp(email))
        let chatID = try #require(
            (try await a.send(.post, "/chats", token: token, json: "{}")).json["id"] as? String)
        let client = try StreamingClient(port: a.port)
        var reader = try await client.sendMessage("go", chatID: chatID, token: token)
        var seen = 0
        while seen < deltas, let event = try await reader.next() {
            if event.event == "delta" { seen += 1 }
        }
        return ReplyInProgress(deployment: deployment, token: token, chatID: chatID, client: client, reader: reader)
    }

    @Test("two sends into one chat at two replicas run one after the other; the second's context holds the first reply")
    func ordering() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let deployment = try await Self.deploy(MockGroqBehavior(latencyMilliseconds: 400), directory: directory)
        defer { Task { await deployment.stop() } }
        let (a, b) = (deployment.replicas[0], deployment.replicas[1])
        let token = try #require(try await a.signUp("order@example.com"))
        let chatID = try #require(
            (try await a.send(.post, "/chats", token: token, json: "{}")).json["id"] as? String)

        async let first = a.send(
            .post, "/chat", token: token, json: #"{"chat_id": "\#(chatID)", "message": "first"}"#)
        // The first turn has begun once its call reaches the upstream.
        #expect(await eventually(within: .seconds(5)) { deployment.mock.conversations.count == 1 })
        async let second = b.send(
            .post, "/chat", token: token, json: #"{"chat_id": "\#(chatID)", "message": "second"}"#)
        let (one, two) = try await (first, second)
        #expect(one.status == 200, "\(one.body)")
        #expect(two.status == 200, "\(two.body)")

        let messages = (try await b.send(.get, "/chats/\(chatID)/messages", token: token)).list
        #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "user", "assistant"])
        #expect(messages.map { $0["status"] as? String } == ["complete", "complete", "complete", "complete"])
        #expect((messages.first?["content"] as? String) == "first")
        let firstReply = try #require(messages[1]["content"] as? String)
        let secondContext = try #require(
            deployment.mock.conversations.first { $0.last?.content == "second" })
        #expect(secondContext.contains { $0.role == "assistant" && $0.content == firstReply })
    }

    @Test("long-poll and reattach on replica B follow a reply that replica A generates; cancel on C stops it")
    func followAndCancelAcrossReplicas() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let words = (0..<60).map { "w\($0)" }
        let deployment = try await Self.deploy(
            MockGroqBehavior(chunkDelayMilliseconds: 50, reply: words.joined(separator: " ")), directory: directory)
        defer { Task { await deployment.stop() } }
        let (a, b, c) = (deployment.replicas[0], deployment.replicas[1], deployment.replicas[2])
        let token = try #require(try await a.signUp("follow@example.com"))
        let chatID = try #require(
            (try await a.send(.post, "/chats", token: token, json: "{}")).json["id"] as? String)

        // A long-poll parked on B wakes when A saves the turn's first messages.
        let clock = ContinuousClock()
        async let parked: (response: WireResponse, at: ContinuousClock.Instant) = {
            let response = try await b.send(.get, "/chats/\(chatID)/messages?after=0&wait=30", token: token)
            return (response, clock.now)
        }()
        #expect(try await eventually(within: .seconds(5)) { try await b.gauge("chat_long_polls_parked") == 1 })
        let streaming = try StreamingClient(port: a.port)
        var reader = try await streaming.sendMessage("go", chatID: chatID, token: token)
        let start = try #require(try await reader.next())
        let startedAt = clock.now
        #expect(start.event == "start")
        let woken = try await parked
        #expect(woken.response.status == 200)
        #expect(woken.response.list.count == 2)
        #expect(woken.at - startedAt < .milliseconds(200), "long-poll wake-up across replicas")
        let replyID = try #require(start.json["assistant_message_id"] as? Int)

        // Read a few deltas on A, then reattach on B from the last offset: B continues without repeating.
        var text = ""
        var offset = 0
        while let event = try await reader.next(), text.split(separator: " ").count < 8 {
            if event.event == "delta" {
                text += event.json["content"] as? String ?? ""
                offset = Int(event.id ?? "") ?? offset
            }
        }
        let reattached = try StreamingClient(port: b.port)
        let (head, body) = try await reattached.open(
            "GET", "/chats/\(chatID)/messages/\(replyID)/stream", token: token,
            headers: [("Last-Event-ID", String(offset))])
        #expect(head.status == 200)
        var follower = body
        var rest = ""
        var lastEvent = ""
        var cancelled: WireResponse?
        while let event = try await follower.next() {
            lastEvent = event.event
            if event.event == "delta" {
                rest += event.json["content"] as? String ?? ""
                // Cancel on C once B has followed some of it.
                if cancelled == nil, rest.split(separator: " ").count >= 8 {
                    cancelled = try await c.send(.post, "/chats/\(chatID)/cancel", token: token)
                }
            }
        }
        let cancel = try #require(cancelled)
        #expect(cancel.status == 200, "\(cancel.body)")
        #expect(cancel.json["status"] as? String == "cancelled")
        #expect(lastEvent == "done" || lastEvent == "error")
        let saved = try #require(cancel.json["content"] as? String)
        // What A sent before the offset and what B sent after it are the saved text, no gap and no repeat.
        #expect(text + rest == saved, "A: \(text) | B: \(rest) | saved: \(saved)")
        #expect(saved.split(separator: " ").count < words.count, "the reply was stopped before its end")
        while try await reader.next() != nil {}
    }

    @Test("deleting a chat on replica B stops the reply that replica A generates in it")
    func deleteAcrossReplicas() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        var running = try await Self.replyInProgress("delete@example.com", words: 100, deltas: 3, directory: directory)
        let deployment = running.deployment
        defer { Task { await deployment.stop() } }
        let (b, token, chatID) = (deployment.replicas[1], running.token, running.chatID)
        let clock = ContinuousClock()
        let deletedAt = clock.now
        let deleted = try await b.send(.delete, "/chats/\(chatID)", token: token)
        #expect(deleted.status == 204, "\(deleted.body)")
        var last = ""
        while let event = try await running.reader.next() { last = event.event }
        // The reply would have taken 10 s; it stopped at once, and its upstream transfer with it.
        #expect(clock.now - deletedAt < .seconds(3))
        // Saved as cancelled (done) or found deleted when saving (error), by which of the two came first.
        #expect(last == "done" || last == "error")
        #expect(await eventually(within: .seconds(2)) { deployment.mock.stats.inFlight == 0 })
    }

    @Test("an admin disabling a user on replica C stops the user's reply on replica A and their stream there")
    func disableAcrossReplicas() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        var running = try await Self.replyInProgress(
            "disabled@example.com", words: 100, deltas: 3, directory: directory)
        let deployment = running.deployment
        defer { Task { await deployment.stop() } }
        let (a, c, token, chatID) = (deployment.replicas[0], deployment.replicas[2], running.token, running.chatID)
        let admin = try #require(try await c.signUp("admin@example.com"))
        let userID = try #require((try await a.send(.get, "/auth/me", token: token)).json["id"] as? String)
        let clock = ContinuousClock()
        let disabledAt = clock.now
        let disabled = try await c.send(.patch, "/admin/users/\(userID)", token: admin, json: #"{"disabled": true}"#)
        #expect(disabled.status == 200, "\(disabled.body)")
        var last: SSEEvent?
        while let event = try await running.reader.next() { last = event }
        #expect(clock.now - disabledAt < .seconds(3), "the reply would have taken 10 s")
        #expect(last?.event == "error" || last?.event == "done")
        let store = try await TestDatabase.openStore(standingInFor: directory + "/shared.db")
        let messages = try await store.messages(
            chatID: try #require(UUID(uuidString: chatID)), ownerID: nil, after: 0, limit: 10)
        await store.close()
        #expect(messages?.last?.status == .cancelled)
        #expect(await eventually(within: .seconds(2)) { deployment.mock.stats.inFlight == 0 })
    }

    @Test("GROQ_RPM holds for the three replicas together: the upstream sees at most that many in the minute")
    func sharedRequestLimit() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let deployment = try await Self.deploy(
            MockGroqBehavior(), directory: directory,
            environment: ["GROQ_RPM": "6", "GROQ_QUEUE_TIMEOUT": "3", "GROQ_MAX_RETRIES": "0"])
        defer { Task { await deployment.stop() } }
        let token = try #require(try await deployment.replicas[0].signUp("budget@example.com"))
        var chats: [String] = []
        for _ in 0..<18 {
            let created = try await deployment.replicas[0].send(
                .post, "/chats", token: token, json: #"{"title": "t"}"#)
            chats.append(try #require(created.json["id"] as? String))
        }
        // 18 sends spread over the replicas at once: 6 per replica would fit each one's own limit.
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for (index, chatID) in chats.enumerated() {
                let replica = deployment.replicas[index % 3]
                group.addTask {
                    try await replica.send(
                        .post, "/chat", token: token, json: #"{"chat_id": "\#(chatID)", "message": "hi"}"#
                    ).status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 200 }.count == 6, "\(statuses)")
        #expect(statuses.filter { $0 == 503 }.count == 12, "\(statuses)")
        #expect(deployment.mock.maxRequests(inAnyWindowOf: 60) == 6)
    }

    @Test("a token quota holds for the three replicas together: 20 concurrent turns pass it by at most one turn")
    func sharedTokenQuota() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let quota = 60
        let deployment = try await Self.deploy(
            MockGroqBehavior(latencyMilliseconds: 150, reply: "one two three"), directory: directory,
            environment: [
                "DAILY_TOKEN_QUOTA": String(quota), "SYSTEM_PROMPT": "Be brief.", "MAX_COMPLETION_TOKENS": "16",
            ])
        defer { Task { await deployment.stop() } }
        let token = try #require(try await deployment.replicas[0].signUp("quota@example.com"))
        // The mock's usage of each turn: its messages' tokens, and three words.
        let perTurn = MockGroqServer.promptTokens(["Be brief.", "hello there"]) + 3
        var admitted = 0
        for _ in 0..<20 {
            var chats: [String] = []
            for _ in 0..<20 {
                let created = try await deployment.replicas[0].send(
                    .post, "/chats", token: token, json: #"{"title": "t"}"#)
                chats.append(try #require(created.json["id"] as? String))
            }
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for (index, chatID) in chats.enumerated() {
                    let replica = deployment.replicas[index % 3]
                    group.addTask {
                        try await replica.send(
                            .post, "/chat", token: token,
                            json: #"{"chat_id": "\#(chatID)", "message": "hello there"}"#
                        ).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 }, "\(statuses)")
            let round = statuses.count { $0 == 200 }
            admitted += round
            if round == 0 { break }
        }
        let usage = (try await deployment.replicas[1].send(.get, "/auth/me/usage", token: token)).json
        let used = try #require((usage["totals"] as? [String: Any])?["total_tokens"] as? Int)
        #expect(used == admitted * perTurn)
        #expect(used >= quota, "the quota was reached: \(used) tokens in \(admitted) turns")
        #expect(used < quota + perTurn, "passed by at most one turn: \(used) tokens, quota \(quota)")
    }

    @Test(
        "a quota of 500 across replicas: rounds of 20 concurrent first turns of 'a a a' (2 bytes a token), titles and all, pass it by at most one turn"
    )
    func sharedQuotaShortWords() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let quota = 500
        let deployment = try await Self.deploy(
            MockGroqBehavior(latencyMilliseconds: 300, reply: "one two three"), directory: directory,
            environment: [
                "DAILY_TOKEN_QUOTA": String(quota), "SYSTEM_PROMPT": "Be brief.", "MAX_COMPLETION_TOKENS": "16",
            ])
        defer { Task { await deployment.stop() } }
        let token = try #require(try await deployment.replicas[0].signUp("short-words@example.com"))
        let message = Array(repeating: "a", count: 500).joined(separator: " ")
        var admitted = 0
        for _ in 0..<20 {
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<20 {
                    let replica = deployment.replicas[index % 3]
                    group.addTask {
                        try await replica.send(.post, "/chat", token: token, json: #"{"message": "\#(message)"}"#)
                            .status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 }, "\(statuses)")
            let round = statuses.count { $0 == 200 }
            admitted += round
            if round == 0 { break }
        }
        // Each turn is a reply and its new chat's title; both are charged once the mock has answered them.
        var used = 0
        _ = try await eventually(within: .seconds(5)) {
            let usage = (try await deployment.replicas[1].send(.get, "/auth/me/usage", token: token)).json
            let totals = usage["totals"] as? [String: Any]
            used = totals?["total_tokens"] as? Int ?? 0
            return totals?["requests"] as? Int == 2 * admitted && deployment.mock.stats.completed == 2 * admitted
        }
        let title = MockGroqServer.promptTokens([
            "Write a title of 3 to 6 words for a conversation that starts with the user's message. Reply with the title only.",
            message,
        ])
        let perTurn = MockGroqServer.promptTokens(["Be brief.", message]) + 3 + title + 3
        #expect(admitted >= 1)
        #expect(used == admitted * perTurn, "\(used) tokens in \(admitted) turns")
        #expect(used >= quota, "the quota was reached: \(used) tokens in \(admitted) turns")
        #expect(used < quota + perTurn, "passed by at most one turn: \(used) tokens, quota \(quota)")
    }

    @Test("GROQ_TPM across replicas counts what each call used, not its estimate")
    func sharedTokensSettle() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        // Each turn is estimated at its context plus MAX_COMPLETION_TOKENS (about 1,010 tokens), so two fit the
        // deployment's 3,000 a minute on estimates alone; the mock reports a few dozen used by each.
        let deployment = try await Self.deploy(
            MockGroqBehavior(), directory: directory,
            environment: [
                "GROQ_TPM": "3000", "MAX_COMPLETION_TOKENS": "1000", "GROQ_QUEUE_TIMEOUT": "2",
                "GROQ_MAX_RETRIES": "0",
            ])
        defer { Task { await deployment.stop() } }
        let token = try #require(try await deployment.replicas[0].signUp("tokens@example.com"))
        let chatID = try #require(
            (try await deployment.replicas[0].send(.post, "/chats", token: token, json: #"{"title": "t"}"#)).json["id"]
                as? String)
        let sent = try await Self.sendRoundRobin(deployment, token: token, chatID: chatID, count: 6)
        // Without settling, the third call would wait a minute for the first estimate to leave the window: 503.
        #expect(sent == [200, 200, 200, 200, 200, 200], "\(sent)")
        #expect(deployment.mock.stats.completed == 6)
    }

    @Test(
        "USER_MESSAGES_PER_MINUTE, REGISTRATIONS_PER_MINUTE(_TOTAL) and LOGIN_ATTEMPTS_PER_MINUTE hold for the three replicas together"
    )
    func sharedUserLimits() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let deployment = try await Self.deploy(
            MockGroqBehavior(), directory: directory,
            environment: [
                "USER_MESSAGES_PER_MINUTE": "3", "REGISTRATIONS_PER_MINUTE": "4", "LOGIN_ATTEMPTS_PER_MINUTE": "3",
                "REGISTRATIONS_PER_MINUTE_TOTAL": "6", "FORWARDED_ALLOW_IPS": "127.0.0.1",
            ])
        defer { Task { await deployment.stop() } }
        // Registrations from one address, round robin: 4 in the minute for the deployment, not 4 per replica.
        var registered: [Int] = []
        for index in 0..<9 {
            let replica = deployment.replicas[index % 3]
            registered.append(
                try await replica.send(
                    .post, "/auth/register", json: #"{"email": "r\#(index)@example.com", "password": "long enough 1"}"#
                ).status)
        }
        #expect(registered.filter { $0 == 201 }.count == 4, "\(registered)")
        #expect(registered.filter { $0 == 429 }.count == 5, "\(registered)")
        // Nine more from nine addresses, round robin: the deployment's ceiling of 6 leaves room for 2 (the five
        // refused above spent none), not for 6 per replica.
        var spread: [WireResponse] = []
        for index in 0..<9 {
            spread.append(
                try await deployment.replicas[index % 3].send(
                    .post, "/auth/register", json: #"{"email": "s\#(index)@example.com", "password": "long enough 1"}"#,
                    headers: ["X-Forwarded-For": "198.51.100.\(index + 1)"]))
        }
        #expect(spread.map(\.status) == [201, 201] + Array(repeating: 429, count: 7), "\(spread.map(\.status))")
        #expect(spread.dropFirst(2).allSatisfy { $0.body.contains("Too many registrations on this service") })

        let login = try await deployment.replicas[0].send(
            .post, "/auth/login", json: #"{"email": "r0@example.com", "password": "long enough 1"}"#)
        let token = try #require(login.json["access_token"] as? String)
        let chatID = try #require(
            (try await deployment.replicas[0].send(.post, "/chats", token: token, json: "{}")).json["id"]
                as? String)
        let sent = try await Self.sendRoundRobin(deployment, token: token, chatID: chatID, count: 6)
        #expect(sent == [200, 200, 200, 429, 429, 429], "\(sent)")

        // Failed logins from one address, one per replica: the deployment has seen 3, so even the right
        // password waits (counted per process, each replica would have seen one and let it through).
        var failed: [Int] = []
        for index in 0..<3 {
            failed.append(
                try await deployment.replicas[index % 3].send(
                    .post, "/auth/login", json: #"{"email": "r1@example.com", "password": "wrong guess \#(index)"}"#
                ).status)
        }
        #expect(failed == [401, 401, 401], "\(failed)")
        let limited = try await deployment.replicas[0].send(
            .post, "/auth/login", json: #"{"email": "r1@example.com", "password": "long enough 1"}"#)
        #expect(limited.status == 429)
        #expect(limited.body.contains("Too many failed logins"), "\(limited.body)")
    }

    @Test("an upstream 429 seen by one replica pauses the others too")
    func sharedPause() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let deployment = try await Self.deploy(
            MockGroqBehavior(fault: .rateLimit, faultCount: 1, retryAfterSeconds: 2), directory: directory,
            environment: ["GROQ_MAX_RETRIES": "1"])
        defer { Task { await deployment.stop() } }
        let (a, b) = (deployment.replicas[0], deployment.replicas[1])
        let token = try #require(try await a.signUp("pause@example.com"))
        let first = try #require(
            (try await a.send(.post, "/chats", token: token, json: #"{"title": "a"}"#)).json["id"]
                as? String)
        let second = try #require(
            (try await a.send(.post, "/chats", token: token, json: #"{"title": "b"}"#)).json["id"]
                as? String)
        let clock = ContinuousClock()
        let started = clock.now
        async let onA = a.send(.post, "/chat", token: token, json: #"{"chat_id": "\#(first)", "message": "a"}"#)
        #expect(await eventually(within: .seconds(5)) { deployment.mock.stats.rateLimited == 1 })
        let onB = try await b.send(.post, "/chat", token: token, json: #"{"chat_id": "\#(second)", "message": "b"}"#)
        let answeredB = clock.now - started
        #expect(onB.status == 200)
        #expect(try await onA.status == 200)
        // B's call waited for A's 429 to pass (2 s from its start), though B itself never got a 429.
        #expect(answeredB >= .milliseconds(1800), "B answered after \(answeredB)")
        #expect(deployment.mock.stats.rateLimited == 1)
    }

    @Test("a replica killed mid-reply: the reply becomes failed within the lease, and the others keep serving")
    func killedReplica() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let running = try await Self.replyInProgress("killed@example.com", words: 200, deltas: 5, directory: directory)
        let deployment = running.deployment
        defer { Task { await deployment.stop() } }
        let (a, b, token, chatID) = (deployment.replicas[0], deployment.replicas[1], running.token, running.chatID)
        // A client follows the reply from replica B.
        let replyID = try #require(
            (try await b.send(.get, "/chats/\(chatID)/messages", token: token)).list.last?["id"] as? Int)
        let follower = try StreamingClient(port: b.port)
        let (head, body) = try await follower.open(
            "GET", "/chats/\(chatID)/messages/\(replyID)/stream", token: token)
        #expect(head.status == 200)
        var followed = body
        let clock = ContinuousClock()
        a.signal(SIGKILL)
        let killedAt = clock.now
        var status = "streaming"
        _ = try await eventually(within: .seconds(20)) {
            let messages = (try await b.send(.get, "/chats/\(chatID)/messages", token: token)).list
            status = messages.last?["status"] as? String ?? "?"
            return status != "streaming"
        }
        let elapsed = clock.now - killedAt
        #expect(status == "failed")
        #expect(elapsed <= PostgresStore.lease + PostgresStore.heartbeat + .seconds(1), "failed after \(elapsed)")
        // The follower on B is told the reply failed, as a live stream's client would be.
        var last: SSEEvent?
        while let event = try await followed.next() { last = event }
        #expect(last?.event == "error")
        #expect(last?.json["status"] as? Int == 503)
        #expect(last?.json["detail"] as? String == "interrupted: the server generating it stopped")
        #expect(try await b.send(.get, "/health").status == 200)
        #expect(try await deployment.replicas[2].send(.get, "/chats", token: token).status == 200)
    }

    @Test("a replica starting while another generates a reply leaves that reply alone")
    func startLeavesLiveRepliesAlone() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        var running = try await Self.replyInProgress(
            "restart@example.com", words: 60, chunkDelay: 50, deltas: 1, directory: directory)
        let deployment = running.deployment
        defer { Task { await deployment.stop() } }
        let (token, chatID) = (running.token, running.chatID)
        let late = try await ServerProcess.start(
            database: directory + "/shared.db", environment: ProcessTests.mockEnvironment(deployment.mock))
        defer { late.signal(SIGKILL) }
        var last = ""
        while let event = try await running.reader.next() { last = event.event }
        #expect(last == "done")
        let messages = (try await late.send(.get, "/chats/\(chatID)/messages", token: token)).list
        #expect(messages.last?["status"] as? String == "complete")
    }

    @Test("logout on one replica ends a long-poll parked on another with 401")
    func revocationAcrossReplicas() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let deployment = try await Self.deploy(MockGroqBehavior(), directory: directory)
        defer { Task { await deployment.stop() } }
        let (a, b) = (deployment.replicas[0], deployment.replicas[1])
        let token = try #require(try await a.signUp("revoke@example.com"))
        let chatID = try #require(
            (try await a.send(.post, "/chats", token: token, json: "{}")).json["id"] as? String)
        let clock = ContinuousClock()
        async let parked = b.send(.get, "/chats/\(chatID)/messages?after=0&wait=30", token: token)
        #expect(try await eventually(within: .seconds(5)) { try await b.gauge("chat_long_polls_parked") == 1 })
        let loggedOut = clock.now
        #expect(try await a.send(.post, "/auth/logout", token: token).status == 200)
        let ended = try await parked
        #expect(ended.status == 401)
        #expect(clock.now - loggedOut < .seconds(2))
        #expect(try await c(deployment).send(.get, "/chats", token: token).status == 401)
    }

    @Test(
        "a role change on replica A and a deletion on B reach the others' user caches at once, not when entries run out"
    )
    func userChangesAcrossReplicas() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let deployment = try await Self.deploy(MockGroqBehavior(), directory: directory)
        defer { Task { await deployment.stop() } }
        let (a, b, c) = (deployment.replicas[0], deployment.replicas[1], deployment.replicas[2])
        let admin = try #require(try await a.signUp("admin@example.com"))
        let token = try #require(try await b.signUp("changed@example.com"))
        let deletedToken = try #require(try await b.signUp("deleted@example.com"))
        let userID = try #require((try await b.send(.get, "/auth/me", token: token)).json["id"] as? String)
        let clock = ContinuousClock()
        // Each replica keeps a user it read for `UserCache.lifetime`; only the notification can beat that.
        let window = UserCache.lifetime - .milliseconds(150)

        // C reads the user (not an admin) into its cache, then A promotes them.
        #expect(try await c.send(.get, "/admin/users", token: token).status == 403)
        let readByC = clock.now
        let promoted = try await a.send(
            .patch, "/admin/users/\(userID)/role", token: admin, json: #"{"role": "admin"}"#)
        #expect(promoted.status == 200, "\(promoted.body)")
        let asAdmin = try await Self.status(becoming: 200, before: readByC + window) {
            try await c.send(.get, "/admin/users", token: token).status
        }
        #expect(asAdmin == 200, "C saw the new role only when its cached entry ran out")

        // A reads a user it never read before into its cache, then B deletes them.
        let deleted = try await a.send(.get, "/auth/me", token: deletedToken)
        let readByA = clock.now
        #expect(deleted.status == 200)
        let deletedID = try #require(deleted.json["id"] as? String)
        #expect(try await b.send(.delete, "/admin/users/\(deletedID)", token: admin).status == 204)
        let afterDeletion = try await Self.status(becoming: 401, before: readByA + window) {
            try await a.send(.get, "/auth/me", token: deletedToken).status
        }
        #expect(afterDeletion == 401, "A still served a deleted user from its cache")
    }

    /// Sends `request` every 5 ms until it answers `wanted` or `deadline` passes; the last status (0: none sent).
    static func status(
        becoming wanted: Int, before deadline: ContinuousClock.Instant, _ request: () async throws -> Int
    ) async throws -> Int {
        var status = 0
        while ContinuousClock.now < deadline {
            status = try await request()
            if status == wanted { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        return status
    }

    private func c(_ deployment: Deployment) -> ServerProcess { deployment.replicas[2] }
}
