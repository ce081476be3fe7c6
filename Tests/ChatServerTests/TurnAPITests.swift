import ChatProvider
import ChatStorage
import ChatStorageSQLite
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockGroq
import NIOCore
import Testing

@testable import ChatServer
@testable import ChatTurns

/// AI turns end to end: the real server over a socket, the real libcurl provider, the mock upstream.
@Suite("AI turns over real HTTP against the mock upstream")
struct TurnAPITests {
    @Test("POST /chat answers with the reply, ids and usage; a new chat is created and titled in the background")
    func jsonTurn() async throws {
        try await withTurnApp { client, _, mock in
            let (_, token) = try await client.signUp("turn@example.com")
            let response = try await client.send(
                .post, "/chat", token: token, json: #"{"message": "Plan a trip to Lisbon"}"#)
            #expect(response.status == .ok, "\(response.text)")
            let body = try JSONBody(response)
            #expect(body.string("reply")?.contains("mock Groq server") == true)
            #expect(body.string("reply")?.contains("Plan a trip to Lisbon") == true)
            let chatID = try #require(body.string("chat_id"))
            let messageID = try #require(body.int("message_id"))
            let userMessageID = try #require(body.int("user_message_id"))
            #expect(messageID > userMessageID)
            let usage = try #require(body["usage"] as? [String: Any])
            #expect((usage["completion_tokens"] as? Int ?? 0) > 0)

            let messages = try JSONBody(try await client.send(.get, "/chats/\(chatID)/messages", token: token)).array
            let last = try #require(messages.last as? [String: Any])
            #expect(last["status"] as? String == "complete")
            #expect(last["model"] as? String == "openai/gpt-oss-20b")
            #expect((last["completion_tokens"] as? Int ?? 0) > 0)

            // The system prompt opens the context.
            #expect(mock.conversations.first?.first?.role == "system")

            // The title arrives in the background.
            var title: String?
            _ = try await eventually(within: .seconds(5)) {
                title = try JSONBody(try await client.send(.get, "/chats/\(chatID)", token: token)).string("title")
                return title != nil
            }
            let words = title?.split(separator: " ").count ?? 0
            #expect((1...6).contains(words), "title: \(title ?? "nil")")
            #expect((title?.count ?? 0) <= 80)
        }
    }

    @Test("two concurrent sends to one chat run in order; the second's context holds the first reply")
    func ordering() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(latencyMilliseconds: 150)) { client, _, mock in
            let (_, token) = try await client.signUp("order@example.com")
            let chatID = try await client.createChat(token: token, title: "ordered")
            async let first = client.send(
                .post, "/chat", token: token, json: #"{"chat_id": "\#(chatID)", "message": "first"}"#)
            // The first turn has begun once its call reaches the upstream.
            #expect(await eventually(within: .seconds(5)) { mock.conversations.count == 1 })
            async let second = client.send(
                .post, "/chat", token: token, json: #"{"chat_id": "\#(chatID)", "message": "second"}"#)
            let (one, two) = try await (first, second)
            #expect(one.status == .ok)
            #expect(two.status == .ok)
            let messages = try JSONBody(try await client.send(.get, "/chats/\(chatID)/messages", token: token)).array
                .compactMap { $0 as? [String: Any] }
            #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "user", "assistant"])
            #expect(messages[0]["content"] as? String == "first")
            #expect(messages[2]["content"] as? String == "second")
            let secondContext = try #require(mock.conversations.last { $0.last?.content == "second" })
            #expect(secondContext.contains { $0.role == "assistant" && $0.content.contains("\"first\"") })
        }
    }

    @Test("SSE: start, deltas with offsets, done; the deltas add up to the saved reply")
    func streaming() async throws {
        try await withTurnApp { client, _, _ in
            let (_, token) = try await client.signUp("sse@example.com")
            let response = try await client.send(
                .post,
                "/chat",
                token: token,
                json: #"{"message": "stream this"}"#,
                headers: [.accept: "text/event-stream"]
            )
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            let events = parseServerSentEvents(response.text)
            #expect(events.first?.event == "start")
            #expect(events.last?.event == "done")
            let deltas = events.filter { $0.event == "delta" }
            #expect(deltas.count > 5)
            let text = deltas.compactMap { $0.json["content"] as? String }.joined()
            #expect(deltas.last?.id == String(text.unicodeScalars.count))
            let done = try #require(events.last?.json["message"] as? [String: Any])
            #expect(done["content"] as? String == text)
            #expect(done["status"] as? String == "complete")
            let start = try #require(events.first?.json)
            #expect((start["user_message"] as? [String: Any])?["content"] as? String == "stream this")
            #expect(start["assistant_message_id"] as? Int == done["id"] as? Int)
        }
    }

    @Test("a client that disconnects mid-stream can reattach and gets the whole reply exactly once")
    func disconnectAndReattach() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(chunkDelayMilliseconds: 40)) { client, _, _ in
            let (_, token) = try await client.signUp("reattach@example.com")
            let streaming = try StreamingClient(port: try #require(client.port))
            var reader = try await streaming.sendMessage("tell me", token: token)
            let start = try #require(try await reader.next())
            let chatID = try #require(start.json["chat_id"] as? String)
            let messageID = try #require(start.json["assistant_message_id"] as? Int)
            var received = ""
            var lastID = "0"
            for _ in 0..<3 {
                let event = try #require(try await reader.next())
                #expect(event.event == "delta")
                received += event.json["content"] as? String ?? ""
                lastID = event.id ?? lastID
            }
            // Drop the connection: the turn must go on without its client.
            reader = SSEReader(AsyncThrowingStream { $0.finish() })

            let (_, resumed) = try await streaming.open(
                "GET",
                "/chats/\(chatID)/messages/\(messageID)/stream",
                token: token,
                headers: [("Last-Event-ID", lastID)]
            )
            var resumedReader = resumed
            var final: [String: Any]?
            while let event = try await resumedReader.next() {
                if event.event == "delta" { received += event.json["content"] as? String ?? "" }
                if event.event == "done" { final = event.json["message"] as? [String: Any] }
            }
            let message = try #require(final)
            #expect(message["status"] as? String == "complete")
            #expect(received == message["content"] as? String)

            // Reattaching after the end replays the whole reply, then done.
            let replay = try await client.send(.get, "/chats/\(chatID)/messages/\(messageID)/stream", token: token)
            let events = parseServerSentEvents(replay.text)
            #expect(events.map(\.event) == ["delta", "done"])
            #expect(events.first?.json["content"] as? String == received)
        }
    }

    @Test("a parked long-poll wakes within 100 ms of a new message; an idle one returns [] after wait")
    func longPoll() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(latencyMilliseconds: 300)) { client, backend, _ in
            let (_, token) = try await client.signUp("poll@example.com")
            let chatID = try await client.createChat(token: token)

            let idleStart = ContinuousClock.now
            let idle = try await client.send(.get, "/chats/\(chatID)/messages?after=0&wait=1", token: token)
            #expect(try JSONBody(idle).array.isEmpty)
            #expect(ContinuousClock.now - idleStart >= .milliseconds(950))

            let clock = ContinuousClock()
            async let parked: (TestResponse, ContinuousClock.Instant) = {
                let response = try await client.send(.get, "/chats/\(chatID)/messages?after=0&wait=30", token: token)
                return (response, clock.now)
            }()
            #expect(await eventually(within: .seconds(5)) { backend.userWaits.totals().longPolls == 1 })
            let streaming = try StreamingClient(port: try #require(client.port))
            var reader = try await streaming.sendMessage("wake up", chatID: chatID, token: token)
            let start = try #require(try await reader.next())
            let startedAt = clock.now
            #expect(start.event == "start")
            let (response, answeredAt) = try await parked
            let woken = try JSONBody(response).array.compactMap { $0 as? [String: Any] }
            #expect(woken.first?["content"] as? String == "wake up")
            #expect(woken.last?["status"] as? String == "streaming")
            // The long-poll answers when the user message is saved, before the client even sees `start`.
            #expect(answeredAt - startedAt < .milliseconds(100))
            while try await reader.next() != nil {}
        }
    }

    @Test("cancel stops the reply: 200 with the partial message (cancelled); 409 when nothing runs")
    func cancel() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(chunkDelayMilliseconds: 80)) { client, _, _ in
            let (_, token) = try await client.signUp("cancel@example.com")
            let chatID = try await client.createChat(token: token)
            #expect(try await client.send(.post, "/chats/\(chatID)/cancel", token: token).status == .conflict)

            // Kept alive for the whole test: dropping a CurlClient ends its transfers.
            let streaming = try StreamingClient(port: try #require(client.port))
            var reader = try await streaming.sendMessage("long answer please", chatID: chatID, token: token)
            _ = try await reader.next()
            _ = try await reader.next()
            let cancelled = try await client.send(.post, "/chats/\(chatID)/cancel", token: token)
            #expect(cancelled.status == .ok, "\(cancelled.text)")
            let message = try JSONBody(cancelled)
            #expect(message.string("status") == "cancelled")
            #expect(!(message.string("content") ?? "").isEmpty)
            #expect(!(message.string("content") ?? "").contains("\"long answer please\""))

            var last: SSEEvent?
            while let event = try await reader.next() { last = event }
            #expect(last?.event == "done")
            #expect((last?.json["message"] as? [String: Any])?["status"] as? String == "cancelled")
            #expect(try await client.send(.post, "/chats/\(chatID)/cancel", token: token).status == .conflict)
        }
    }

    @Test("reattaching to a failed reply ends with an error event, as the live stream did, not with done")
    func reattachToFailedReply() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(fault: .serverError)) { client, _, _ in
            let (_, token) = try await client.signUp("failed-reattach@example.com")
            let turn = try await client.send(.post, "/chat", token: token, json: #"{"message": "hello"}"#)
            #expect(turn.status == .badGateway)
            let chats = try JSONBody(try await client.send(.get, "/chats", token: token)).object["chats"]
            let chatID = try #require((chats as? [[String: Any]])?.first?["id"] as? String)
            let messages = try JSONBody(try await client.send(.get, "/chats/\(chatID)/messages", token: token))
                .array.compactMap { $0 as? [String: Any] }
            let reply = try #require(messages.last)
            #expect(reply["status"] as? String == "failed")
            let replyID = try #require(reply["id"] as? Int)
            let reattached = try await client.send(
                .get, "/chats/\(chatID)/messages/\(replyID)/stream", token: token)
            let events = parseServerSentEvents(reattached.text)
            #expect(events.last?.event == "error", "\(reattached.text)")
            #expect(events.last?.json["status"] as? Int == 502)
            #expect(events.last?.json["detail"] as? String == reply["error"] as? String)
            #expect(!events.contains { $0.event == "done" })
        }
    }

    @Test(
        "upstream faults give the documented status while other users keep being served",
        arguments: [
            (MockGroqBehavior.Fault.unauthorized, 502), (.serverError, 502), (.rateLimit, 503), (.hang, 504),
            (.malformedJSON, 502), (.noDone, 502), (.streamError, 502), (.dropMidStream, 502),
        ]
    )
    func faults(fault: MockGroqBehavior.Fault, status: Int) async throws {
        try await withTurnApp(
            behavior: MockGroqBehavior(fault: fault),
            configure: { $0.groqTimeoutSeconds = 1 }
        ) { client, _, mock in
            let (_, token) = try await client.signUp("fault@example.com")
            let (_, other) = try await client.signUp("bystander@example.com")
            async let turn = client.send(.post, "/chat", token: token, json: #"{"message": "hello"}"#)
            // Meanwhile another user is served normally.
            #expect(try await client.send(.get, "/chats", token: other).status == .ok)
            let response = try await turn
            #expect(response.status.code == status, "\(fault): \(response.text)")
            #expect(response.detail?.isEmpty == false)
            #expect(!response.text.contains(mock.apiKey))
            if fault == .rateLimit { #expect(response.headers[.retryAfter] != nil) }
            // A plain message with the request id; transport and upstream internals stay in the log.
            if status != 503 {
                #expect(response.detail?.contains("(request id ") == true, "\(fault): \(response.text)")
            }
            for leak in ["transport error", "GROQ_API_KEY", "curl", "HTTP 5", "Less than"] {
                #expect(response.detail?.contains(leak) == false, "\(fault): \(response.text)")
            }

            // The failed reply is saved as failed, with the reason.
            let chats = try JSONBody(try await client.send(.get, "/chats", token: token))
            let chatID = try #require((chats["chats"] as? [[String: Any]])?.first?["id"] as? String)
            let messages = try JSONBody(try await client.send(.get, "/chats/\(chatID)/messages", token: token)).array
            let reply = try #require(messages.last as? [String: Any])
            #expect(reply["status"] as? String == "failed")
            #expect((reply["error"] as? String)?.isEmpty == false)
            if fault == .dropMidStream { #expect(!((reply["content"] as? String) ?? "").isEmpty) }
        }
    }

    @Test("an upstream that refuses connections: 502 for the turn, saved as failed, other users served")
    func connectionRefused() async throws {
        // A port that was free a moment ago: nothing listens there.
        let port = try await ServerProcess.freePort()
        try await withApp(
            .live,
            configure: { config in
                config.groqAPIKey = "gsk_unreachable"
                config.groqBaseURL = "http://127.0.0.1:\(port)/openai/v1"
                config.groqMaxRetries = 0
            }
        ) { client, _ in
            let (_, token) = try await client.signUp("refused@example.com")
            let (_, other) = try await client.signUp("bystander@example.com")
            let response = try await client.send(.post, "/chat", token: token, json: #"{"message": "hello"}"#)
            #expect(response.status == .badGateway)
            #expect(response.detail?.contains("cannot be reached") == true)
            #expect(try await client.send(.get, "/chats", token: other).status == .ok)
            let chats = try JSONBody(try await client.send(.get, "/chats", token: token))
            let chatID = try #require((chats["chats"] as? [[String: Any]])?.first?["id"] as? String)
            let messages = try JSONBody(try await client.send(.get, "/chats/\(chatID)/messages", token: token)).array
            #expect((messages.last as? [String: Any])?["status"] as? String == "failed")
        }
    }

    @Test("a mid-stream drop sends event: error to the streaming client and keeps the partial reply")
    func dropMidStreamSSE() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(fault: .dropMidStream)) { client, _, _ in
            let (_, token) = try await client.signUp("drop@example.com")
            let response = try await client.send(
                .post, "/chat", token: token, json: #"{"message": "x", "stream": true}"#)
            let events = parseServerSentEvents(response.text)
            #expect(events.first?.event == "start")
            #expect(events.contains { $0.event == "delta" })
            let error = try #require(events.last)
            #expect(error.event == "error")
            #expect(error.json["status"] as? Int == 502)
        }
    }

    @Test("with an RPM limit the upstream never sees more; callers over it get 503 with Retry-After")
    func rpmLimit() async throws {
        try await withTurnApp(
            behavior: MockGroqBehavior(reply: "ok"),
            configure: { config in
                config.groqRequestsPerMinute = 4
                config.groqQueueTimeoutSeconds = 1
            }
        ) { client, _, mock in
            let (_, token) = try await client.signUp("rpm@example.com")
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        try await client.send(.post, "/chat", token: token, json: #"{"message": "m\#(index)"}"#).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // Titles also go through the gate, so at most 4 upstream requests in all.
            #expect(mock.maxRequests(inAnyWindowOf: 60) <= 4)
            #expect(mock.stats.rateLimited == 0)
            #expect(statuses.filter { $0 == .ok }.count <= 4)
            #expect(statuses.filter { $0 == .serviceUnavailable }.count >= 6)
        }
    }

    @Test("the context keeps the newest messages that fit, never splitting one, always the new message")
    func contextTrimming() async throws {
        try await withTurnApp(configure: { $0.contextTokens = 300 }) { client, backend, mock in
            let (_, token) = try await client.signUp("context@example.com")
            let chatID = try await client.createChat(token: token, title: "long")
            let id = try #require(UUID(uuidString: chatID))
            for index in 0..<6 {
                _ = try await backend.database.appendMessage(
                    chatID: id,
                    role: index.isMultiple(of: 2) ? .user : .assistant,
                    content: "old \(index) " + String(repeating: "x", count: 300)
                )
            }
            let big = String(repeating: "y", count: 2000)
            let response = try await client.send(
                .post, "/chat", token: token, json: #"{"chat_id": "\#(chatID)", "message": "\#(big)"}"#)
            #expect(response.status == .ok)
            let sent = try #require(mock.conversations.last)
            #expect(sent.first?.role == "system")
            #expect(sent.last?.content == big)
            #expect(sent.count == 2, "over budget: only the system prompt and the new message")

            let small = try await client.send(
                .post, "/chat", token: token, json: #"{"chat_id": "\#(chatID)", "message": "short"}"#)
            #expect(small.status == .ok)
            let trimmed = try #require(mock.conversations.last)
            #expect(trimmed.last?.content == "short")
            #expect(trimmed.count > 2 && trimmed.count < 10)
            #expect(!trimmed.contains { $0.content.hasPrefix("old 0") })
        }
    }

    @Test("deleting a chat cancels its running reply")
    func deleteCancels() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(chunkDelayMilliseconds: 100)) { client, backend, _ in
            let (_, token) = try await client.signUp("delete@example.com")
            let chatID = try await client.createChat(token: token)
            // Kept alive for the whole test: dropping a CurlClient ends its transfers.
            let streaming = try StreamingClient(port: try #require(client.port))
            var reader = try await streaming.sendMessage("go", chatID: chatID, token: token)
            _ = try await reader.next()
            #expect(try await client.send(.delete, "/chats/\(chatID)", token: token).status == .noContent)
            var last: SSEEvent?
            while let event = try await reader.next() { last = event }
            #expect(last?.event == "done" || last?.event == "error")
            #expect(try await backend.database.chat(id: try #require(UUID(uuidString: chatID)), ownerID: nil) == nil)
        }
    }

    @Test("without GROQ_API_KEY, long-polls still answer and POST /chat is 503")
    func noProvider() async throws {
        try await withApp(.live) { client, backend in
            #expect(backend.provider == nil)
            let (_, token) = try await client.signUp("nokey@example.com")
            let response = try await client.send(.post, "/chat", token: token, json: #"{"message": "hi"}"#)
            #expect(response.status == .serviceUnavailable)
        }
    }
}

@Suite("Turn building blocks")
struct TurnUnitTests {
    @Test("replies left streaming by a crash become failed at start, their text kept")
    func crashRecovery() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/crash.db"
        let messageID: Int64
        do {
            let database = try await TestDatabase.openStore(standingInFor: path)
            let user = try await database.createUser(email: "c@example.com", passwordHash: "h", role: .user)
            let chat = try await database.createChat(userID: user.id, title: nil)
            let begun = try #require(
                try await database.beginTurn(
                    chatID: chat.id, userContent: "q", model: "m", contextThrough: .max, reservation: nil))
            try await database.updateStreamingContent(messageID: begun.assistant.id, content: "partial")
            messageID = begun.assistant.id
            // No finishMessage: the process "crashes" here.
            await database.close()
        }
        // The store opened here and handed in, as the composition root hands in the one it opens.
        let backend = try await ChatBackend.bootstrap(
            config: testConfig(directory: directory), database: try await TestDatabase.openStore(standingInFor: path),
            metrics: nil, logger: testLogger())
        let owner = try #require(try await backend.database.users(limit: 1, offset: 0).users.first)
        let chat = try #require(try await backend.database.chats(ownerID: owner.id, limit: 1, offset: 0).chats.first)
        let messages = try #require(try await backend.database.messages(chatID: chat.id, ownerID: nil, limit: 10))
        let reply = try #require(messages.first { $0.id == messageID })
        #expect(reply.status == .failed)
        #expect(reply.content == "partial")
        #expect(reply.error?.contains("interrupted") == true)
    }

    @Test("titles are cleaned: first line, no quotes, at most 6 words and 80 characters")
    func titleCleaning() {
        #expect(TitleGenerator.clean("\"Trip to Lisbon in May.\"") == "Trip to Lisbon in May")
        #expect(
            TitleGenerator.clean("**Title:** one two three four five six seven") == "Title:** one two three four five")
        #expect(TitleGenerator.clean("\n\n  Budget travel tips\nmore") == "Budget travel tips")
        #expect(TitleGenerator.clean("   ") == "New chat")
        #expect(TitleGenerator.clean(String(repeating: "a", count: 200)).count <= 80)
    }
}
