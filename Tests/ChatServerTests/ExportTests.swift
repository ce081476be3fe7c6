import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// GET /chats/{id}/export and GET /auth/me/export on the suite's engine.
@Suite("Export")
struct ExportTests {
    @Test("one chat as JSON and as Markdown: a download with a file name, every message in order, across pages")
    func exportChat() async throws {
        try await withApp { client, backend in
            let database = backend.database
            let (ownerID, token) = try await client.signUp("exporter@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            let chat = try await database.createChat(userID: owner, title: "Trip: Lisbon/Porto")
            _ = try await database.updateChat(
                id: chat.id, ownerID: owner, changes: ChatChanges(model: "m1", systemPrompt: "Be brief.\nAlways."))
            var written: [MessageRecord] = []
            // More than two pages of the exporter's reads.
            for index in 0..<1_100 {
                written.append(
                    try await database.appendMessage(
                        chatID: chat.id, role: index.isMultiple(of: 2) ? .user : .assistant,
                        content: "message \(index) \"quoted\" <tag> é"))
            }
            let turn = try #require(
                try await database.beginTurn(
                    chatID: chat.id, userContent: "last question", model: "m1", contextThrough: .max,
                    reservation: nil))
            try await database.finishMessage(
                id: turn.assistant.id,
                outcome: MessageOutcome(content: "half an ans", status: .failed, error: "upstream timed out"))

            let json = try await client.send(.get, "/chats/\(chat.id.lowercasedString)/export", token: token)
            #expect(json.status == .ok)
            #expect(json.headers[.contentType] == "application/json")
            let prefix = String(chat.id.lowercasedString.prefix(8))
            #expect(
                json.headers[.contentDisposition] == "attachment; filename=\"chat-trip-lisbon-porto-\(prefix).json\"")
            let body = try JSONBody(json)
            #expect(body.string("format") == "ai-chat-backend/chat")
            #expect(body.int("version") == 2)
            let exportedChat = try #require(body["chat"] as? [String: Any])
            #expect(exportedChat["id"] as? String == chat.id.lowercasedString)
            #expect(exportedChat["system_prompt"] as? String == "Be brief.\nAlways.")
            let messages = try #require(body["messages"] as? [[String: Any]])
            #expect(messages.count == 1_102)
            #expect(
                messages.compactMap { $0["id"] as? Int }
                    == (written.map(\.id) + [turn.user.id, turn.assistant.id]).map { Int($0) })
            #expect(messages[1]["content"] as? String == "message 1 \"quoted\" <tag> é")
            #expect(messages.last?["status"] as? String == "failed")
            #expect(messages.last?["error"] as? String == "upstream timed out")

            let markdown = try await client.send(
                .get, "/chats/\(chat.id.lowercasedString)/export?format=markdown", token: token)
            #expect(markdown.status == .ok)
            #expect(markdown.headers[.contentType] == "text/markdown; charset=utf-8")
            #expect(markdown.headers[.contentDisposition]?.hasSuffix(".md\"") == true)
            let text = markdown.text
            #expect(text.hasPrefix("# Trip: Lisbon/Porto\n"))
            #expect(text.contains("Model: `m1`"))
            #expect(text.contains("> Be brief.\n> Always."))
            #expect(text.contains("## User · "))
            #expect(text.contains("\n\nmessage 1099 \"quoted\" <tag> é\n"))
            #expect(text.contains(" · failed: upstream timed out\n\nhalf an ans\n"))
            #expect(text.components(separatedBy: "\n## ").count == 1_103)

            let bad = try await client.send(.get, "/chats/\(chat.id.lowercasedString)/export?format=pdf", token: token)
            #expect(bad.status == .unprocessableContent)
            #expect(bad.validationLocations == ["query.format"])
            let (_, other) = try await client.signUp("someone@example.com")
            #expect(
                try await client.send(.get, "/chats/\(chat.id.lowercasedString)/export", token: other).status
                    == .notFound)
            #expect(try await client.send(.get, "/chats/\(chat.id.lowercasedString)/export").status == .unauthorized)
        }
    }

    @Test("every chat of the caller as NDJSON, archived ones too, nobody else's")
    func exportAll() async throws {
        try await withApp { client, backend in
            let database = backend.database
            let (ownerID, token) = try await client.signUp("all@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            let (otherID, _) = try await client.signUp("notme@example.com")
            let other = try #require(UUID(uuidString: otherID))
            var ids: Set<String> = []
            for index in 0..<3 {
                let chat = try await database.createChat(userID: owner, title: "chat \(index)")
                ids.insert(chat.id.lowercasedString)
                for turn in 0..<(index * 2) {
                    _ = try await database.appendMessage(chatID: chat.id, role: .user, content: "c\(index) m\(turn)")
                }
                if index == 2 {
                    _ = try await database.updateChat(id: chat.id, ownerID: owner, changes: ChatChanges(archived: true))
                }
            }
            let foreign = try await database.createChat(userID: other, title: "private")
            _ = try await database.appendMessage(chatID: foreign.id, role: .user, content: "not yours")

            let response = try await client.send(.get, "/auth/me/export", token: token)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/x-ndjson")
            #expect(response.headers[.contentDisposition]?.hasPrefix("attachment; filename=\"chats-") == true)
            let lines = response.text.split(separator: "\n")
            #expect(lines.count == 3)
            var seen: Set<String> = []
            for line in lines {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                #expect(object["format"] as? String == "ai-chat-backend/chat")
                let chat = try #require(object["chat"] as? [String: Any])
                let id = try #require(chat["id"] as? String)
                seen.insert(id)
                let count = (object["messages"] as? [Any])?.count
                #expect(count == chat["message_count"] as? Int)
            }
            #expect(seen == ids)
            #expect(!response.text.contains("not yours"))
        }
    }
}
