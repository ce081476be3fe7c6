import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// POST /chats/import on the suite's engine: this server's exports and ChatGPT's conversations.json.
@Suite("Import")
struct ImportTests {
    static func post(
        _ client: any TestClientProtocol, _ token: String, _ body: String, type: String = "application/json"
    ) async throws -> TestResponse {
        try await client.execute(
            uri: "/chats/import", method: .post,
            headers: [.authorization: "Bearer \(token)", .contentType: type], body: ByteBuffer(string: body))
    }

    static func chatCount(_ client: any TestClientProtocol, _ token: String) async throws -> Int {
        let active = try JSONBody(try await client.send(.get, "/chats", token: token)).int("total") ?? -1
        let archived =
            try JSONBody(try await client.send(.get, "/chats?archived=true", token: token)).int("total") ?? -1
        return active + archived
    }

    @Test("an export imports back as a new chat with the same messages; the NDJSON of all chats too")
    func roundTrip() async throws {
        try await withApp { client, backend in
            let database = backend.database
            let (ownerID, token) = try await client.signUp("roundtrip@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            let chat = try await database.createChat(userID: owner, title: "Kept")
            _ = try await database.updateChat(
                id: chat.id, ownerID: owner,
                changes: ChatChanges(pinned: true, model: backend.config.groqModel, systemPrompt: "Be kind."))
            _ = try await database.appendMessage(chatID: chat.id, role: .user, content: "first \"line\"\nsecond é 🙂")
            let turn = try #require(
                try await database.beginTurn(
                    chatID: chat.id, userContent: "why?", model: "m", contextThrough: .max, reservation: nil))
            try await database.finishMessage(
                id: turn.assistant.id, outcome: MessageOutcome(content: "because", status: .failed, error: "cut"))
            // A regenerated reply beside the failed one: a second branch, now the active one.
            let regenerated = try #require(
                try await database.beginTurn(
                    chatID: chat.id, placement: .branch(from: turn.user.id), parentID: turn.user.id,
                    userContent: nil, model: "m", contextThrough: .max, reservation: nil))
            try await database.finishMessage(
                id: regenerated.assistant.id, outcome: MessageOutcome(content: "since", status: .complete))
            let exported = try await client.send(.get, "/chats/\(chat.id.lowercasedString)/export", token: token)

            let imported = try await Self.post(client, token, exported.text)
            #expect(imported.status == .created, "\(imported.text)")
            let body = try JSONBody(imported)
            #expect(body.int("imported") == 1)
            #expect(body.int("messages") == 4)
            let copy = try #require((body["chats"] as? [[String: Any]])?.first)
            let copyID = try #require(copy["id"] as? String)
            #expect(copyID != chat.id.lowercasedString)
            #expect(copy["title"] as? String == "Kept")
            #expect(copy["pinned"] as? Bool == true)
            #expect(copy["model"] as? String == backend.config.groqModel)
            #expect(copy["system_prompt"] as? String == "Be kind.")
            #expect(copy["message_count"] as? Int == 4)
            #expect(copy["created_at"] as? String == chat.createdAt.iso8601)

            let copyUUID = try #require(UUID(uuidString: copyID))
            let path = try await database.messages(chatID: copyUUID, ownerID: owner, limit: 10) ?? []
            let expected = ["first \"line\"\nsecond é 🙂", "why?", "since"]
            #expect(path.map(\.content) == expected)
            // Every branch, each message under the same parent as in the original, the same ones active.
            let original =
                try await database.allMessages(chatID: chat.id, ownerID: owner, after: 0, limit: 10) ?? []
            let copied =
                try await database.allMessages(chatID: copyUUID, ownerID: owner, after: 0, limit: 10) ?? []
            #expect(copied.count == 4)
            #expect(copied.map(\.onActivePath) == original.map(\.onActivePath))
            func parents(_ messages: [MessageRecord]) -> [Int?] {
                messages.map { message in message.parentID.flatMap { id in messages.firstIndex { $0.id == id } } }
            }
            #expect(parents(copied) == parents(original))
            #expect(parents(copied) == [nil, 0, 1, 1])
            #expect(copied.map(\.content) == original.map(\.content))
            #expect(copied.map(\.role) == original.map(\.role))
            #expect(copied.map(\.status) == original.map(\.status))
            #expect(copied.map(\.error) == original.map(\.error))
            #expect(copied.map(\.createdAt) == original.map(\.createdAt))
            #expect(copied.map(\.id) == copied.map(\.id).sorted())
            // The imported text is searchable at once.
            let found = try await client.send(.get, "/chats/search?q=because", token: token)
            #expect((try JSONBody(found)["results"] as? [Any])?.count == 2)

            // The whole account's NDJSON export comes back whole.
            let all = try await client.send(.get, "/auth/me/export", token: token)
            let before = try await Self.chatCount(client, token)
            let again = try await Self.post(client, token, all.text, type: "application/x-ndjson")
            #expect(again.status == .created, "\(again.text)")
            #expect(try JSONBody(again).int("imported") == before)
            #expect(try await Self.chatCount(client, token) == before * 2)
        }
    }

    /// A conversations.json as ChatGPT's data export writes it: a tree with a regenerated reply, the hidden
    /// system message, an image part and a tool call.
    static let conversations = """
        [{"title": "Swift questions", "create_time": 1700000000.25, "update_time": 1700000900.5,
          "current_node": "a2", "conversation_id": "c-1", "is_archived": false,
          "mapping": {
            "root": {"id": "root", "message": null, "parent": null, "children": ["sys"]},
            "sys": {"id": "sys", "parent": "root", "children": ["u1"], "message": {"id": "sys",
                "author": {"role": "system", "name": null, "metadata": {}}, "create_time": null,
                "content": {"content_type": "text", "parts": [""]}, "status": "finished_successfully",
                "metadata": {"is_visually_hidden_from_conversation": true}}},
            "u1": {"id": "u1", "parent": "sys", "children": ["a1", "a1b"], "message": {"id": "u1",
                "author": {"role": "user", "name": null, "metadata": {}}, "create_time": 1700000001.5,
                "content": {"content_type": "text", "parts": ["What is Swift?"]}, "metadata": {}}},
            "a1": {"id": "a1", "parent": "u1", "children": [], "message": {"id": "a1",
                "author": {"role": "assistant", "name": null, "metadata": {}}, "create_time": 1700000002,
                "content": {"content_type": "text", "parts": ["Swift is a language by Apple."]},
                "metadata": {"model_slug": "gpt-4o"}}},
            "a1b": {"id": "a1b", "parent": "u1", "children": ["u2"], "message": {"id": "a1b",
                "author": {"role": "assistant", "name": null, "metadata": {}}, "create_time": 1700000003,
                "content": {"content_type": "text", "parts": ["Swift is a fast bird."]},
                "metadata": {"model_slug": "gpt-4o-mini"}}},
            "u2": {"id": "u2", "parent": "a1b", "children": ["t1"], "message": {"id": "u2",
                "author": {"role": "user", "name": null, "metadata": {}}, "create_time": 1700000004,
                "content": {"content_type": "multimodal_text", "parts": [
                    {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-x", "width": 512},
                    "What about this picture?"]}, "metadata": {}}},
            "t1": {"id": "t1", "parent": "u2", "children": ["a2"], "message": {"id": "t1",
                "author": {"role": "tool", "name": "dalle", "metadata": {}}, "create_time": 1700000005,
                "content": {"content_type": "text", "parts": ["tool output"]}, "metadata": {}}},
            "a2": {"id": "a2", "parent": "t1", "children": [], "message": {"id": "a2",
                "author": {"role": "assistant", "name": null, "metadata": {}}, "create_time": 1700000006,
                "content": {"content_type": "text", "parts": ["It shows a swift in flight."]},
                "metadata": {"model_slug": "gpt-4o-mini"}}}
          }},
         {"title": "Old one", "create_time": 1600000000, "update_time": 1600000000, "current_node": "x",
          "is_archived": true,
          "mapping": {"x": {"id": "x", "parent": null, "children": [], "message": {"id": "x",
            "author": {"role": "user"}, "create_time": 1600000000,
            "content": {"content_type": "text", "parts": ["archived question"]}, "metadata": {}}}}}]
        """

    @Test(
        "a chat's updated_at is never older than its newest message: an import keeps the file's unless it is older, a turn raises it"
    )
    func updatedAtNeverOlderThanMessages() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let store = try await TestDatabase.openStore(standingInFor: directory + "/updated.db")
        let user = try await store.createUser(email: "updated@example.com", passwordHash: "h", role: .user)
        func chat(updatedAt: Int64) -> ChatImport {
            ChatImport(
                title: "t", createdAt: Timestamp(microseconds: 1_000), updatedAt: Timestamp(microseconds: updatedAt),
                messages: [
                    MessageImport(role: .user, content: "q", createdAt: Timestamp(microseconds: 2_000)),
                    MessageImport(role: .assistant, content: "a", createdAt: Timestamp(microseconds: 5_000)),
                ])
        }
        let written = try await store.importChats(ownerID: user.id, [chat(updatedAt: 9_000), chat(updatedAt: 1_500)])
        #expect(written.map(\.updatedAt.microseconds) == [9_000, 5_000])
        #expect(written.map(\.messageCount) == [2, 2])
        // A turn's messages raise it when they are saved (the insert's trigger, on both engines).
        let begun = try #require(
            try await store.beginTurn(
                chatID: written[0].id, userContent: "more", model: "m", contextThrough: .max, reservation: nil))
        let touched = try #require(try await store.chat(id: written[0].id, ownerID: user.id))
        #expect(touched.updatedAt == begun.user.createdAt)
        #expect(touched.messageCount == 4)
        await store.close()
    }

    @Test("ChatGPT's conversations.json: every branch, the current one active, text only, times and models kept")
    func chatGPT() async throws {
        try await withApp { client, backend in
            let (ownerID, token) = try await client.signUp("gpt@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            let response = try await Self.post(client, token, Self.conversations)
            #expect(response.status == .created, "\(response.text)")
            let body = try JSONBody(response)
            #expect(body.int("imported") == 2)
            #expect(body.int("messages") == 6)
            #expect(body.int("skipped") == 1)  // the tool call
            let chats = try #require(body["chats"] as? [[String: Any]])
            #expect(chats.map { $0["title"] as? String } == ["Swift questions", "Old one"])
            #expect(chats.map { $0["archived"] as? Bool } == [false, true])
            #expect(chats.first?["created_at"] as? String == "2023-11-14T22:13:20.250000Z")
            let firstID = try #require(chats.first?["id"] as? String)
            let chatID = try #require(UUID(uuidString: firstID))
            let messages = try await backend.database.messages(chatID: chatID, ownerID: owner, limit: 10) ?? []
            #expect(
                messages.map(\.content) == [
                    "What is Swift?", "Swift is a fast bird.", "What about this picture?",
                    "It shows a swift in flight.",
                ])
            #expect(messages.map(\.role) == [.user, .assistant, .user, .assistant])
            #expect(messages.map(\.model) == [nil, "gpt-4o-mini", nil, "gpt-4o-mini"])
            #expect(messages.first?.createdAt == Timestamp(microseconds: 1_700_000_001_500_000))
            // The other branch is there too: the first reply, beside the regenerated one, off the active path.
            let tree = try #require(
                try await backend.database.allMessages(chatID: chatID, ownerID: owner, after: 0, limit: 10))
            #expect(
                tree.map(\.content) == [
                    "What is Swift?", "Swift is a language by Apple.", "Swift is a fast bird.",
                    "What about this picture?", "It shows a swift in flight.",
                ])
            #expect(tree.map(\.onActivePath) == [true, false, true, true, true])
            let ids = tree.map(\.id)
            #expect(tree.map(\.parentID) == [nil, ids[0], ids[0], ids[2], ids[3]])
            #expect(tree[1].model == "gpt-4o")
            let switched = try await backend.database.activateBranch(chatID: chatID, ownerID: owner, messageID: ids[1])
            #expect(switched == [ids[0], ids[1]])
            let path = try await backend.database.messages(chatID: chatID, ownerID: owner, limit: 10) ?? []
            #expect(path.map(\.content) == ["What is Swift?", "Swift is a language by Apple."])
            #expect(try await client.send(.get, "/chats?archived=true", token: token).text.contains("Old one"))
        }
    }

    @Test("over a real socket, an import may exceed the 1 MiB every other body is held to, up to IMPORT_MAX_MB")
    func largeImportOverHTTP() async throws {
        try await withApp(.live) { client, _ in
            let (_, token) = try await client.signUp("large@example.com")
            let message = #"{"role": "user", "content": ""# + String(repeating: "y", count: 99_000) + #""}"#
            let file =
                #"{"format": "ai-chat-backend/chat", "version": 1, "chat": {"title": "big"}, "messages": ["#
                + Array(repeating: message, count: 16).joined(separator: ",") + "]}"
            #expect(file.utf8.count > 3 << 19)
            let imported = try await Self.post(client, token, file)
            #expect(imported.status == .created, "\(imported.text.prefix(200))")
            #expect(try JSONBody(imported).int("messages") == 16)
            let elsewhere = try await client.send(.post, "/chats", token: token, json: file)
            #expect(elsewhere.status == .contentTooLarge)
        }
    }

    @Test("a bad file is 422 naming what is wrong, nothing of it is written; wrong type 415; over the limit 413")
    func badFiles() async throws {
        try await withApp(configure: { $0.importMaxMegabytes = 1 }) { client, _ in
            let (_, token) = try await client.signUp("badimport@example.com")
            let valid = #"{"format": "ai-chat-backend/chat", "version": 1, "chat": {"title": "ok"}, "messages": []}"#
            let cases: [(String, String)] = [
                ("{not json", "body"),
                ("[]", "body"),
                (#"{"title": "no format"}"#, "body"),
                (#"[\#(valid), 7]"#, "body.1"),
                (#"{"format": "ai-chat-backend/chat", "version": 3, "chat": {}, "messages": []}"#, "body.version"),
                (
                    #"{"format": "ai-chat-backend/chat", "version": 2, "chat": {}, "messages": [{"role": "user", "content": "x", "id": 4, "parent_id": 4}]}"#,
                    "body.messages.0.parent_id"
                ),
                (
                    #"[\#(valid), {"format": "ai-chat-backend/chat", "version": 1, "chat": {}, "messages": [{"role": "robot", "content": "x"}]}]"#,
                    "body.1.messages.0.role"
                ),
                (
                    #"{"format": "ai-chat-backend/chat", "version": 1, "chat": {"created_at": "yesterday"}, "messages": []}"#,
                    "body.chat.created_at"
                ),
                (#"[{"title": "t", "mapping": {"a": {"parent": null}}, "current_node": "zz"}]"#, "body.0.current_node"),
                (
                    #"[{"title": "loop", "current_node": "a", "mapping": {"a": {"parent": "b"}, "b": {"parent": "a"}}}]"#,
                    "body.0.mapping.a"
                ),
            ]
            for (file, location) in cases {
                let response = try await Self.post(client, token, file)
                #expect(response.status == .unprocessableContent, "\(file): \(response.text)")
                #expect(response.validationLocations.contains(location), "\(file): \(response.text)")
            }
            // All or nothing: the valid chat before the bad one was not written.
            #expect(try await Self.chatCount(client, token) == 0)
            let text = try await Self.post(client, token, valid, type: "text/plain")
            #expect(text.status == .unsupportedMediaType)
            let huge =
                #"{"format": "ai-chat-backend/chat", "version": 1, "chat": {}, "messages": [{"role": "user", "content": ""#
                + String(repeating: "x", count: 1_200_000) + #""}]}"#
            let tooLarge = try await Self.post(client, token, huge)
            #expect(tooLarge.status == .contentTooLarge, "\(tooLarge.status) \(tooLarge.text.prefix(300))")
            #expect(try await Self.post(client, token, valid).status == .created)
            #expect(try await Self.chatCount(client, token) == 1)
        }
    }

    @Test(
        "the file's JSON is read as before: escapes and surrogate pairs decoded, a repeated key's last value kept; invalid JSON anywhere (a lone surrogate, text after the value, 100,000 nested arrays) is 422 before any other problem"
    )
    func jsonEdges() async throws {
        try await withApp { client, backend in
            let (ownerID, token) = try await client.signUp("edges@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            let escaped =
                #"{"format": "ai-chat-backend/chat", "version": 7, "chat": {"title": "caf\u00e9 \ud83d\ude42"}, "#
                + #""messages": [{"role": "user", "content": "a\"b\\c\/d\n\te\u0041"}], "version": 1.0}"#
            let imported = try await Self.post(client, token, escaped)
            #expect(imported.status == .created, "\(imported.text)")
            let chat = try #require((try JSONBody(imported)["chats"] as? [[String: Any]])?.first)
            #expect(chat["title"] as? String == "café 🙂")
            let chatID = try #require(UUID(uuidString: chat["id"] as? String ?? ""))
            let messages = try await backend.database.messages(chatID: chatID, ownerID: owner, limit: 5) ?? []
            #expect(messages.map(\.content) == ["a\"b\\c/d\n\teA"])
            let valid = #"{"format": "ai-chat-backend/chat", "version": 1, "chat": {}, "messages": []}"#
            let invalid: [(String, String, String)] = [
                (
                    #"{"format": "ai-chat-backend/chat", "version": 1, "chat": {"title": "\ud800x"}, "messages": []}"#,
                    "application/json", "body"
                ),
                (valid + " x", "application/json", "body"),
                (
                    String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), "application/json",
                    "body"
                ),
                // A chat of neither format first, then a syntax error: the syntax error is what is said.
                (#"[{"title": "no format"}, {"#, "application/json", "body"),
                (valid + "\n" + "{\"format\": 1,", "application/x-ndjson", "body.1"),
            ]
            for (file, type, location) in invalid {
                let response = try await Self.post(client, token, file, type: type)
                #expect(response.status == .unprocessableContent, "\(file.prefix(80)): \(response.text)")
                #expect(response.validationLocations == [location], "\(file.prefix(80)): \(response.text)")
                #expect(response.text.contains("Not valid JSON"), "\(file.prefix(80)): \(response.text)")
            }
            #expect(try await Self.chatCount(client, token) == 1)
        }
    }
}
