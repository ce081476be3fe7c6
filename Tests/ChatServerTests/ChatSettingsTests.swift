import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockGroq
import NIOCore
import Testing

/// Pin and archive, the offered models, and a chat's own model and system prompt (on the suite's engine).
@Suite("Chat settings: pin, archive, models, system prompt")
struct ChatSettingsTests {
    @Test("pinned chats come first, archived ones only with archived=true; totals follow; other users get 404")
    func pinAndArchive() async throws {
        try await withApp { client, _ in
            let (_, token) = try await client.signUp("pia@example.com")
            var ids: [String] = []
            for title in ["a", "b", "c", "d"] { ids.append(try await client.createChat(token: token, title: title)) }
            let (a, b, c, d) = (ids[0], ids[1], ids[2], ids[3])

            func listing(_ query: String = "") async throws -> (ids: [String], total: Int?) {
                let response = try await client.send(.get, "/chats\(query)", token: token)
                #expect(response.status == .ok, "\(response.text)")
                let body = try JSONBody(response)
                let chats = body["chats"] as? [[String: Any]] ?? []
                return (chats.compactMap { $0["id"] as? String }, body.int("total"))
            }
            #expect(try await listing().ids == [d, c, b, a])

            let before = try JSONBody(try await client.send(.get, "/chats/\(b)", token: token))
            let pinned = try await client.send(.patch, "/chats/\(b)", token: token, json: #"{"pinned": true}"#)
            #expect(pinned.status == .ok, "\(pinned.text)")
            let pinnedBody = try JSONBody(pinned)
            #expect(pinnedBody["pinned"] as? Bool == true)
            #expect(pinnedBody["archived"] as? Bool == false)
            // Pinning does not move the chat by its time: its updated_at is unchanged.
            #expect(pinnedBody.string("updated_at") == before.string("updated_at"))
            #expect(pinnedBody.string("title") == "b")
            #expect(try await listing().ids == [b, d, c, a])

            let archived = try await client.send(.patch, "/chats/\(c)", token: token, json: #"{"archived": true}"#)
            #expect(try JSONBody(archived)["archived"] as? Bool == true)
            let active = try await listing()
            #expect(active.ids == [b, d, a])
            #expect(active.total == 3)
            let archive = try await listing("?archived=true")
            #expect(archive.ids == [c])
            #expect(archive.total == 1)
            #expect(try await listing("?archived=false&limit=1&offset=1").ids == [d])

            // An archived chat stays readable and can be renamed; a rename still moves it to the top.
            #expect(try await client.send(.get, "/chats/\(c)", token: token).status == .ok)
            _ = try await client.send(.patch, "/chats/\(a)", token: token, json: #"{"title": "a2", "pinned": false}"#)
            #expect(try await listing().ids == [b, a, d])

            _ = try await client.send(.patch, "/chats/\(c)", token: token, json: #"{"archived": false}"#)
            #expect(try await listing().total == 4)
            _ = try await client.send(.patch, "/chats/\(d)", token: token, json: #"{"archived": true}"#)
            #expect(try await client.send(.delete, "/chats/\(d)", token: token).status == .noContent)
            #expect(try await listing("?archived=true").total == 0)
            #expect(try await listing().total == 3)

            for (body, location) in [
                (#"{"pinned": "yes"}"#, "body.pinned"), (#"{"pinned": null}"#, "body.pinned"),
                (#"{"archived": 1}"#, "body.archived"), (#"{"title": null}"#, "body.title"), (#"{}"#, "body.title"),
                (#"{"system_prompt": ""}"#, "body.system_prompt"),
            ] {
                let response = try await client.send(.patch, "/chats/\(a)", token: token, json: body)
                #expect(response.status == .unprocessableContent, "\(body): \(response.text)")
                #expect(response.validationLocations.contains(location), "\(body): \(response.text)")
            }
            let badQuery = try await client.send(.get, "/chats?archived=maybe", token: token)
            #expect(badQuery.status == .unprocessableContent)
            #expect(badQuery.validationLocations == ["query.archived"])

            let (_, other) = try await client.signUp("other@example.com")
            let foreign = try await client.send(.patch, "/chats/\(a)", token: other, json: #"{"pinned": true}"#)
            #expect(foreign.status == .notFound)
            #expect(try await client.send(.get, "/chats?archived=true", token: other).status == .ok)
        }
    }

    @Test("GET /models: ALLOWED_MODELS less what the upstream does not list; a chat's model and system prompt")
    func modelsAndSystemPrompt() async throws {
        try await withTurnApp(configure: { config in
            config.groqModel = "openai/gpt-oss-20b"
            config.allowedModels = ["openai/gpt-oss-20b", "llama-3.1-8b-instant", "retired/model"]
        }) { client, _, mock in
            let (_, token) = try await client.signUp("mo@example.com")
            #expect(try await client.send(.get, "/models").status == .unauthorized)
            var models = try JSONBody(try await client.send(.get, "/models", token: token))
            _ = try await eventually(within: .seconds(5)) {
                models = try JSONBody(try await client.send(.get, "/models", token: token))
                return models["checked"] as? Bool == true
            }
            #expect(models["checked"] as? Bool == true)
            #expect(models.string("default") == "openai/gpt-oss-20b")
            let entries = models["models"] as? [[String: Any]] ?? []
            #expect(entries.compactMap { $0["id"] as? String } == ["openai/gpt-oss-20b", "llama-3.1-8b-instant"])
            #expect(entries.first?["context_window"] as? Int == 131_072)
            #expect(entries.last?["owned_by"] as? String == "Meta")
            #expect(entries.map { $0["default"] as? Bool } == [true, false])

            let chat = try await client.createChat(token: token)
            for model in ["retired/model", "openai/gpt-oss-120b"] {
                let refused = try await client.send(
                    .patch, "/chats/\(chat)", token: token, json: #"{"model": "\#(model)"}"#)
                #expect(refused.status == .unprocessableContent, "\(refused.text)")
                #expect(refused.validationLocations == ["body.model"])
            }
            let tooLong = String(repeating: "p", count: 4001)
            let longPrompt = try await client.send(
                .patch, "/chats/\(chat)", token: token, json: #"{"system_prompt": "\#(tooLong)"}"#)
            #expect(longPrompt.status == .unprocessableContent)

            let set = try await client.send(
                .patch, "/chats/\(chat)", token: token,
                json: #"{"model": "llama-3.1-8b-instant", "system_prompt": "Answer like a pirate."}"#)
            #expect(set.status == .ok, "\(set.text)")
            #expect(try JSONBody(set).string("model") == "llama-3.1-8b-instant")
            #expect(try JSONBody(set).string("system_prompt") == "Answer like a pirate.")

            func turn(_ json: String) async throws -> (status: HTTPResponse.Status, model: String?) {
                let response = try await client.send(.post, "/chat", token: token, json: json)
                guard response.status == .ok else { return (response.status, nil) }
                let replyID = try #require(try JSONBody(response).int("message_id"))
                let messages = try JSONBody(try await client.send(.get, "/chats/\(chat)/messages", token: token))
                let reply = messages.array.compactMap { $0 as? [String: Any] }.first { $0["id"] as? Int == replyID }
                return (response.status, reply?["model"] as? String)
            }
            /// The system message the upstream got with the turn that sent `text` (titles are requests too).
            func systemPrompt(ofTurn text: String) -> String? {
                let turns = mock.conversations.filter { $0.first?.content.hasPrefix("Write a title") == false }
                return turns.last { $0.last?.content == text }?.first?.content
            }
            // The chat's model and system prompt.
            #expect(try await turn(#"{"chat_id": "\#(chat)", "message": "hello"}"#).model == "llama-3.1-8b-instant")
            #expect(systemPrompt(ofTurn: "hello") == "Answer like a pirate.")
            // A turn's own model, for that turn only.
            #expect(
                try await turn(#"{"chat_id": "\#(chat)", "message": "again", "model": "openai/gpt-oss-20b"}"#).model
                    == "openai/gpt-oss-20b")
            let refused = try await turn(#"{"chat_id": "\#(chat)", "message": "x", "model": "retired/model"}"#)
            #expect(refused.status == .unprocessableContent)
            #expect(try await turn(#"{"chat_id": "\#(chat)", "message": "third"}"#).model == "llama-3.1-8b-instant")

            // null: back to the deployment's defaults.
            let reset = try await client.send(
                .patch, "/chats/\(chat)", token: token, json: #"{"model": null, "system_prompt": null}"#)
            #expect(try JSONBody(reset).object["model"] is NSNull)
            #expect(try JSONBody(reset).object["system_prompt"] is NSNull)
            #expect(try await turn(#"{"chat_id": "\#(chat)", "message": "fourth"}"#).model == "openai/gpt-oss-20b")
            #expect(systemPrompt(ofTurn: "fourth") == AppConfig().systemPrompt)
        }
    }

    @Test("ALLOWED_MODELS must hold GROQ_MODEL, and names models")
    func allowedModelsConfiguration() throws {
        let config = try AppConfig(environment: ["GROQ_MODEL": "a", "ALLOWED_MODELS": "a, b,a"])
        #expect(config.offeredModels == ["a", "b"])
        #expect(try AppConfig(environment: ["GROQ_MODEL": "a"]).offeredModels == ["a"])
        #expect(throws: ConfigurationError.self) {
            try AppConfig(environment: ["GROQ_MODEL": "a", "ALLOWED_MODELS": "b"])
        }
        #expect(throws: ConfigurationError.self) {
            try AppConfig(environment: ["GROQ_MODEL": "a", "ALLOWED_MODELS": "a,b c"])
        }
    }
}
