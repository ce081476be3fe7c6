import ChatProvider
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockGroq
import Testing

@testable import ChatServer

/// Regenerate and edit with branches, the active path and the tree, on the suite's engine, over real HTTP
/// against the mock upstream.
@Suite("Branches: regenerate, edit, the active path")
struct BranchTests {
    /// The contents the upstream got for each turn (title requests left out), system prompt dropped.
    static func turnContexts(_ mock: MockGroqServer) -> [[String]] {
        mock.conversations.filter { $0.first?.content.hasPrefix("Write a title") == false }
            .map { $0.dropFirst().map(\.content) }
    }

    static func contents(_ response: TestResponse) throws -> [String] {
        try JSONBody(response).array.compactMap { ($0 as? [String: Any])?["content"] as? String }
    }

    static func turn(
        _ client: any TestClientProtocol, _ path: String, token: String, json: String = ""
    ) async throws -> (status: HTTPResponse.Status, body: JSONBody?) {
        let response = try await client.send(.post, path, token: token, json: json)
        return (response.status, response.status == .ok ? try JSONBody(response) : nil)
    }

    @Test("regenerate and edit add siblings; the list is the active path; the tree has them all; switching paths")
    func regenerateEditAndSwitch() async throws {
        try await withTurnApp { client, _, mock in
            let (_, token) = try await client.signUp("branch@example.com")
            let first = try await Self.turn(client, "/chat", token: token, json: #"{"message": "one"}"#)
            let chat = try #require(first.body?.string("chat_id"))
            let (u1, r1) = (
                try #require(first.body?.int("user_message_id")), try #require(first.body?.int("message_id"))
            )
            let second = try await Self.turn(
                client, "/chat", token: token, json: #"{"chat_id": "\#(chat)", "message": "two"}"#)
            let (u2, r2) = (
                try #require(second.body?.int("user_message_id")), try #require(second.body?.int("message_id"))
            )
            let replyOne = try #require(first.body?.string("reply"))
            let replyTwo = try #require(second.body?.string("reply"))

            // Regenerate: a new reply to "two", whose context stops at "two" (the old reply is not in it).
            let regenerated = try await Self.turn(client, "/chats/\(chat)/messages/\(r2)/regenerate", token: token)
            #expect(regenerated.status == .ok)
            let r2b = try #require(regenerated.body?.int("message_id"))
            #expect(regenerated.body?.int("user_message_id") == u2)
            #expect(r2b > r2)
            #expect(Self.turnContexts(mock).last == ["one", replyOne, "two"])
            let listed = try await client.send(.get, "/chats/\(chat)/messages", token: token)
            let ids = try JSONBody(listed).array.compactMap { ($0 as? [String: Any])?["id"] as? Int }
            #expect(ids == [u1, r1, u2, r2b])
            // The reference's shape: no field of the tree in the plain list.
            #expect((try JSONBody(listed).array.first as? [String: Any])?["parent_id"] == nil)

            // The tree: every message, its parent, its siblings, whether it is on the active path.
            let tree = try JSONBody(try await client.send(.get, "/chats/\(chat)/messages?tree=true", token: token))
            let nodes = tree.array.compactMap { $0 as? [String: Any] }
            #expect(nodes.compactMap { $0["id"] as? Int } == [u1, r1, u2, r2, r2b])
            #expect(nodes.map { $0["parent_id"] as? Int } == [nil, u1, r1, u2, u2])
            #expect(nodes[0]["parent_id"] is NSNull)
            #expect(nodes.map { $0["sibling_ids"] as? [Int] ?? [] } == [[u1], [r1], [u2], [r2, r2b], [r2, r2b]])
            #expect(nodes.map { $0["active"] as? Bool } == [true, true, true, false, true])
            #expect(nodes[3]["content"] as? String == replyTwo)

            // Edit "one": a new first message beside it, answered with a context of that message alone.
            let edited = try await Self.turn(
                client, "/chats/\(chat)/messages/\(u1)/edit", token: token, json: #"{"content": "uno"}"#)
            #expect(edited.status == .ok)
            let u1b = try #require(edited.body?.int("user_message_id"))
            let r1b = try #require(edited.body?.int("message_id"))
            #expect(Self.turnContexts(mock).last == ["uno"])
            #expect(
                try Self.contents(try await client.send(.get, "/chats/\(chat)/messages", token: token)).first == "uno")
            let afterEdit = try JSONBody(try await client.send(.get, "/chats/\(chat)/messages", token: token))
            #expect(afterEdit.array.compactMap { ($0 as? [String: Any])?["id"] as? Int } == [u1b, r1b])

            // Back to the regenerated reply's branch by naming any message of it: the path continues through the
            // newest children down to a leaf.
            let back = try await client.send(
                .post, "/chats/\(chat)/active", token: token, json: #"{"message_id": \#(u1)}"#)
            #expect(back.status == .ok, "\(back.text)")
            #expect(try JSONBody(back)["path"] as? [Int] == [u1, r1, u2, r2b])
            #expect(try JSONBody(back).int("message_id") == r2b)
            let switched = try await client.send(
                .post, "/chats/\(chat)/active", token: token, json: #"{"message_id": \#(r2)}"#)
            #expect(try JSONBody(switched)["path"] as? [Int] == [u1, r1, u2, r2])
            let path = try await client.send(.get, "/chats/\(chat)/messages", token: token)
            #expect(try Self.contents(path) == ["one", replyOne, "two", replyTwo])

            // The next message continues the active path, and only it.
            let third = try await Self.turn(
                client, "/chat", token: token, json: #"{"chat_id": "\#(chat)", "message": "three"}"#)
            #expect(third.status == .ok)
            #expect(Self.turnContexts(mock).last == ["one", replyOne, "two", replyTwo, "three"])
            let final = try JSONBody(try await client.send(.get, "/chats/\(chat)/messages?tree=true", token: token))
            let finalNodes = final.array.compactMap { $0 as? [String: Any] }
            #expect(finalNodes.count == 9)
            #expect(finalNodes.first { $0["content"] as? String == "three" }?["parent_id"] as? Int == r2)
            #expect(finalNodes.first { $0["id"] as? Int == u1 }?["sibling_ids"] as? [Int] == [u1, u1b])
            #expect(finalNodes.filter { $0["active"] as? Bool == true }.count == 6)
            // The chat's count is every message of every branch.
            #expect(try JSONBody(try await client.send(.get, "/chats/\(chat)", token: token)).int("message_count") == 9)
        }
    }

    @Test("bad targets: wrong role 422, other chats' and users' messages 404, bad bodies 422")
    func badInput() async throws {
        try await withTurnApp { client, _, _ in
            let (_, token) = try await client.signUp("bad-branch@example.com")
            let (_, other) = try await client.signUp("other-branch@example.com")
            let first = try await Self.turn(client, "/chat", token: token, json: #"{"message": "hello"}"#)
            let chat = try #require(first.body?.string("chat_id"))
            let user = try #require(first.body?.int("user_message_id"))
            let reply = try #require(first.body?.int("message_id"))
            let elsewhere = try await Self.turn(client, "/chat", token: token, json: #"{"message": "elsewhere"}"#)
            let otherChat = try #require(elsewhere.body?.string("chat_id"))

            let cases: [(String, String, HTTPResponse.Status, String?)] = [
                ("/chats/\(chat)/messages/\(user)/regenerate", "", .unprocessableContent, "path.message_id"),
                (
                    "/chats/\(chat)/messages/\(reply)/edit", #"{"content": "x"}"#, .unprocessableContent,
                    "path.message_id"
                ),
                ("/chats/\(chat)/messages/\(user)/edit", #"{"content": ""}"#, .unprocessableContent, "body.content"),
                ("/chats/\(chat)/messages/\(user)/edit", "{}", .unprocessableContent, "body.content"),
                ("/chats/\(chat)/messages/abc/regenerate", "", .unprocessableContent, "path.message_id"),
                (
                    "/chats/\(chat)/messages/\(reply)/regenerate", #"{"model": "nope"}"#, .unprocessableContent,
                    "body.model"
                ),
                ("/chats/\(otherChat)/messages/\(reply)/regenerate", "", .notFound, nil),
                ("/chats/\(chat)/messages/999999/regenerate", "", .notFound, nil),
                ("/chats/\(chat)/active", #"{"message_id": "x"}"#, .unprocessableContent, "body.message_id"),
                ("/chats/\(chat)/active", #"{"message_id": 0}"#, .unprocessableContent, "body.message_id"),
                ("/chats/\(chat)/active", "{}", .unprocessableContent, "body.message_id"),
                ("/chats/\(chat)/active", #"{"message_id": 999999}"#, .notFound, nil),
                ("/chats/\(otherChat)/active", #"{"message_id": \#(reply)}"#, .notFound, nil),
            ]
            for (path, json, status, location) in cases {
                let response = try await client.send(.post, path, token: token, json: json)
                #expect(response.status == status, "\(path) \(json): \(response.text)")
                if let location {
                    #expect(response.validationLocations.contains(location), "\(path): \(response.text)")
                }
            }
            // Another user gets 404 on every branch route, as for a missing chat.
            for (path, json) in [
                ("/chats/\(chat)/messages/\(reply)/regenerate", ""),
                ("/chats/\(chat)/messages/\(user)/edit", #"{"content": "mine now"}"#),
                ("/chats/\(chat)/active", #"{"message_id": \#(user)}"#),
            ] {
                #expect(try await client.send(.post, path, token: other, json: json).status == .notFound, "\(path)")
            }
            #expect(try await client.send(.get, "/chats/\(chat)/messages?tree=true", token: other).status == .notFound)
            #expect(
                try await client.send(.get, "/chats/\(chat)/messages?tree=maybe", token: token).status
                    == .unprocessableContent)
            // Nothing was written by any of them.
            let tree = try JSONBody(try await client.send(.get, "/chats/\(chat)/messages?tree=true", token: token))
            #expect(tree.array.count == 2)
        }
    }

    @Test("a send whose context was read before a branch switch is refused and reads it again")
    func switchBetweenContextAndBegin() async throws {
        try await withApp { client, backend in
            let database = backend.database
            let (ownerID, _) = try await client.signUp("switch-race@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            let chat = try await database.createChat(userID: owner, title: "race")
            let first = try #require(
                try await database.beginTurn(
                    chatID: chat.id, userContent: "one", model: "m", contextThrough: .max, reservation: nil))
            try await database.finishMessage(
                id: first.assistant.id, outcome: MessageOutcome(content: "r1", status: .complete))
            let second = try #require(
                try await database.beginTurn(
                    chatID: chat.id, placement: .branch(from: first.user.id), parentID: first.user.id,
                    userContent: nil, model: "m", contextThrough: .max, reservation: nil))
            try await database.finishMessage(
                id: second.assistant.id, outcome: MessageOutcome(content: "r1b", status: .complete))

            // The context is read on the active path (ending at r1b), then another request switches to r1.
            let context = try #require(
                try await database.turnContext(
                    chatID: chat.id, ownerID: nil, window: HistoryWindow(messages: 10), placement: .activePath))
            #expect(context.parentID == second.assistant.id)
            #expect(context.history.map(\.content) == ["r1b", "one"])
            let path = try await database.activateBranch(
                chatID: chat.id, ownerID: owner, messageID: first.assistant.id)
            #expect(path == [first.user.id, first.assistant.id])
            await #expect(throws: StorageError.chatBusy) {
                try await database.beginTurn(
                    chatID: chat.id, placement: .activePath, parentID: context.parentID, userContent: "two",
                    model: "m", contextThrough: context.lastMessageID, reservation: nil)
            }
            // Read again, the context is the new path, and the turn goes after it.
            let again = try #require(
                try await database.turnContext(
                    chatID: chat.id, ownerID: nil, window: HistoryWindow(messages: 10), placement: .activePath))
            #expect(again.history.map(\.content) == ["r1", "one"])
            let begun = try #require(
                try await database.beginTurn(
                    chatID: chat.id, placement: .activePath, parentID: again.parentID, userContent: "two",
                    model: "m", contextThrough: again.lastMessageID, reservation: nil))
            #expect(begun.user.parentID == first.assistant.id)
        }
    }

    @Test("concurrent regenerate and send run one after the other; each context is its own path; long-poll sees both")
    func concurrentRegenerateAndSend() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(latencyMilliseconds: 200)) { client, backend, mock in
            let (_, token) = try await client.signUp("race@example.com")
            let first = try await Self.turn(client, "/chat", token: token, json: #"{"message": "start"}"#)
            let chat = try #require(first.body?.string("chat_id"))
            let reply = try #require(first.body?.int("message_id"))
            let streaming = try StreamingClient(port: try #require(client.port))

            // A long-poll after the newest message: it must see the next message whatever branch it starts.
            async let polled = client.send(.get, "/chats/\(chat)/messages?after=\(reply)&wait=30", token: token)
            #expect(await eventually(within: .seconds(5)) { backend.userWaits.totals().longPolls == 1 })
            func run(_ path: String, _ json: String) async throws -> [SSEEvent] {
                let (head, body) = try await streaming.open("POST", path, token: token, json: json)
                #expect(head.status == 200)
                var reader = body
                var events: [SSEEvent] = []
                while let event = try await reader.next() { events.append(event) }
                return events
            }
            async let regenerated = run("/chats/\(chat)/messages/\(reply)/regenerate", #"{"stream": true}"#)
            async let sent = run("/chat", #"{"chat_id": "\#(chat)", "message": "next", "stream": true}"#)
            let (regenerateEvents, sendEvents) = try await (regenerated, sent)
            #expect(regenerateEvents.last?.event == "done", "\(regenerateEvents.map(\.data))")
            #expect(sendEvents.last?.event == "done", "\(sendEvents.map(\.data))")
            let woken = try JSONBody(try await polled).array.compactMap { $0 as? [String: Any] }
            #expect(!woken.isEmpty)
            #expect(woken.allSatisfy { ($0["id"] as? Int ?? 0) > reply })

            // One after the other: the second turn's messages are newer than the first one's reply, which had
            // ended when the second began.
            let tree = try JSONBody(try await client.send(.get, "/chats/\(chat)/messages?tree=true", token: token))
            let nodes = tree.array.compactMap { $0 as? [String: Any] }
            #expect(nodes.count == 5)
            #expect(nodes.allSatisfy { $0["status"] as? String == "complete" })
            // Each upstream call's context is the path from the root to the message its reply answers.
            var byID: [Int: [String: Any]] = [:]
            for node in nodes { if let id = node["id"] as? Int { byID[id] = node } }
            func path(to id: Int?) -> [String] {
                var contents: [String] = []
                var next = id
                while let current = next, let node = byID[current] {
                    contents.insert(node["content"] as? String ?? "", at: 0)
                    next = node["parent_id"] as? Int
                }
                return contents
            }
            let contexts = Self.turnContexts(mock)
            for node in nodes where node["role"] as? String == "assistant" {
                #expect(contexts.contains(path(to: node["parent_id"] as? Int)), "\(node)")
            }
            #expect(contexts.count == 3)
            // The active path ends at the turn that ran last, and holds no sibling.
            let active = nodes.filter { $0["active"] as? Bool == true }.compactMap { $0["id"] as? Int }
            let last = try #require(active.last)
            #expect(path(to: last).count == active.count)
        }
    }

    @Test("a branch switch is refused while a reply is being generated; the stream of a regenerated reply")
    func switchWhileStreaming() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(chunkDelayMilliseconds: 60)) { client, _, _ in
            let (_, token) = try await client.signUp("busy-branch@example.com")
            let first = try await Self.turn(client, "/chat", token: token, json: #"{"message": "a long one"}"#)
            let chat = try #require(first.body?.string("chat_id"))
            let user = try #require(first.body?.int("user_message_id"))
            let reply = try #require(first.body?.int("message_id"))
            let streaming = try StreamingClient(port: try #require(client.port))
            let (head, body) = try await streaming.open(
                "POST", "/chats/\(chat)/messages/\(reply)/regenerate", token: token, json: #"{"stream": true}"#)
            #expect(head.status == 200)
            var reader = body
            let start = try #require(try await reader.next())
            #expect(start.event == "start")
            #expect((start.json["user_message"] as? [String: Any])?["id"] as? Int == user)
            let busy = try await client.send(
                .post, "/chats/\(chat)/active", token: token, json: #"{"message_id": \#(reply)}"#)
            #expect(busy.status == .conflict, "\(busy.text)")
            var done: SSEEvent?
            while let event = try await reader.next() { done = event }
            #expect(done?.event == "done")
            let regenerated = try #require((done?.json["message"] as? [String: Any])?["id"] as? Int)
            #expect(
                try await client.send(.post, "/chats/\(chat)/active", token: token, json: #"{"message_id": \#(reply)}"#)
                    .status == .ok)
            let ids = try JSONBody(try await client.send(.get, "/chats/\(chat)/messages", token: token)).array
                .compactMap { ($0 as? [String: Any])?["id"] as? Int }
            #expect(ids == [user, reply])
            #expect(regenerated > reply)
        }
    }
}
