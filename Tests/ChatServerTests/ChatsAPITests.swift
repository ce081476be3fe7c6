import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Chat endpoints")
struct ChatsAPITests {
    @Test("create, read, rename and delete a chat")
    func lifecycle() async throws {
        try await withApp { client, _ in
            let (userID, token) = try await client.signUp("kim@example.com")
            let created = try await client.send(.post, "/chats", token: token, json: #"{"title": "Trip plans"}"#)
            #expect(created.status == .created)
            let chat = try JSONBody(created)
            let chatID = try #require(chat.string("id"))
            #expect(chat.string("user_id") == userID)
            #expect(chat.string("title") == "Trip plans")
            #expect(chat.int("message_count") == 0)
            // The reference's fields, and this backend's additions (pin, archive, the chat's own settings).
            #expect(
                Set(chat.object.keys) == [
                    "id", "user_id", "title", "created_at", "updated_at", "message_count", "pinned", "archived",
                    "model", "system_prompt",
                ])

            let shown = try await client.send(.get, "/chats/\(chatID)", token: token)
            #expect(shown.status == .ok)
            #expect(try JSONBody(shown).string("title") == "Trip plans")

            let renamed = try await client.send(.patch, "/chats/\(chatID)", token: token, json: #"{"title": "Lisbon"}"#)
            #expect(renamed.status == .ok)
            let renamedBody = try JSONBody(renamed)
            #expect(renamedBody.string("title") == "Lisbon")
            #expect((renamedBody.string("updated_at") ?? "") > (chat.string("updated_at") ?? ""))

            let deleted = try await client.send(.delete, "/chats/\(chatID)", token: token)
            #expect(deleted.status == .noContent)
            #expect(deleted.body.readableBytes == 0)
            #expect(try await client.send(.get, "/chats/\(chatID)", token: token).status == .notFound)
            #expect(try await client.send(.delete, "/chats/\(chatID)", token: token).status == .notFound)
        }
    }

    @Test("a chat without a title shows title null; an empty body is accepted")
    func untitled() async throws {
        try await withApp { client, _ in
            let (_, token) = try await client.signUp("lee@example.com")
            for body in [nil, "{}", #"{"title": null}"#] {
                let response = try await client.send(.post, "/chats", token: token, json: body)
                #expect(response.status == .created)
                #expect(try JSONBody(response).object["title"] is NSNull)
            }
        }
    }

    @Test("titles must be 1 to 200 characters")
    func titleValidation() async throws {
        try await withApp { client, _ in
            let (_, token) = try await client.signUp("max@example.com")
            let chatID = try await client.createChat(token: token)
            let long = String(repeating: "t", count: 201)
            for (method, uri, body) in [
                (HTTPRequest.Method.post, "/chats", #"{"title": "\#(long)"}"#),
                (.post, "/chats", #"{"title": ""}"#),
                (.patch, "/chats/\(chatID)", #"{"title": ""}"#),
                (.patch, "/chats/\(chatID)", #"{"title": "\#(long)"}"#),
                (.patch, "/chats/\(chatID)", #"{}"#),
                (.patch, "/chats/\(chatID)", #"{"title": 7}"#),
            ] {
                let response = try await client.send(method, uri, token: token, json: body)
                #expect(response.status == .unprocessableContent, "\(method) \(body)")
                #expect(response.validationLocations == ["body.title"], "\(response.text)")
            }
            let exact = String(repeating: "é", count: 200)
            let ok = try await client.send(.patch, "/chats/\(chatID)", token: token, json: #"{"title": "\#(exact)"}"#)
            #expect(ok.status == .ok)
        }
    }

    @Test("GET /chats pages newest updated first with the total")
    func listing() async throws {
        try await withApp { client, backend in
            let (_, token) = try await client.signUp("nina@example.com")
            var ids: [String] = []
            for index in 0..<7 {
                ids.append(try await client.createChat(token: token, title: "chat \(index)"))
            }
            // Touch the oldest: it moves to the front.
            _ = try await client.send(.patch, "/chats/\(ids[0])", token: token, json: #"{"title": "touched"}"#)
            let expected = [ids[0]] + ids[1...].reversed()

            let all = try JSONBody(try await client.send(.get, "/chats", token: token))
            #expect(all.int("total") == 7)
            #expect((all["chats"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == expected)

            let page = try JSONBody(try await client.send(.get, "/chats?limit=3&offset=2", token: token))
            #expect(page.int("total") == 7)
            #expect((page["chats"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == Array(expected[2..<5]))

            let past = try JSONBody(try await client.send(.get, "/chats?offset=50", token: token))
            #expect((past["chats"] as? [Any])?.isEmpty == true)
            #expect(past.int("total") == 7)

            // A new message also moves its chat to the front.
            let chatID = try #require(UUID(uuidString: ids[3]))
            _ = try await backend.database.appendMessage(chatID: chatID, role: .user, content: "hello")
            let afterMessage = try JSONBody(try await client.send(.get, "/chats?limit=1", token: token))
            let first = (afterMessage["chats"] as? [[String: Any]])?.first
            #expect(first?["id"] as? String == ids[3])
            #expect(first?["message_count"] as? Int == 1)
        }
    }

    @Test(
        "limit and offset are validated",
        arguments: ["limit=0", "limit=101", "limit=abc", "offset=-1", "limit=99999999999999999999"])
    func listValidation(query: String) async throws {
        try await withApp { client, _ in
            let (_, token) = try await client.signUp("olga@example.com")
            let response = try await client.send(.get, "/chats?\(query)", token: token)
            #expect(response.status == .unprocessableContent)
            #expect(response.validationLocations.first?.hasPrefix("query.") == true)
        }
    }

    @Test("messages are listed oldest first, with limit and after")
    func messages() async throws {
        try await withApp { client, backend in
            let (_, token) = try await client.signUp("paul@example.com")
            let chatID = try await client.createChat(token: token)
            let id = try #require(UUID(uuidString: chatID))
            for index in 0..<5 {
                _ = try await backend.database.appendMessage(
                    chatID: id,
                    role: index.isMultiple(of: 2) ? .user : .assistant,
                    content: "message \(index)"
                )
            }
            let all = try JSONBody(try await client.send(.get, "/chats/\(chatID)/messages", token: token)).array
            let contents = all.compactMap { ($0 as? [String: Any])?["content"] as? String }
            #expect(contents == (0..<5).map { "message \($0)" })
            let first = try #require(all.first as? [String: Any])
            #expect(Set(first.keys) == ["id", "chat_id", "role", "content", "created_at", "status"])
            let reply = try #require(all[1] as? [String: Any])
            #expect(
                Set(reply.keys)
                    == [
                        "id", "chat_id", "role", "content", "created_at", "status", "model", "prompt_tokens",
                        "completion_tokens",
                    ]
            )
            #expect(first["role"] as? String == "user")
            #expect(first["chat_id"] as? String == chatID)

            let limited = try JSONBody(try await client.send(.get, "/chats/\(chatID)/messages?limit=2", token: token))
                .array
            #expect(limited.count == 2)
            let secondID = try #require((limited.last as? [String: Any])?["id"] as? Int)
            let after = try JSONBody(
                try await client.send(.get, "/chats/\(chatID)/messages?after=\(secondID)", token: token)
            ).array
            #expect(
                after.compactMap { ($0 as? [String: Any])?["content"] as? String } == [
                    "message 2", "message 3", "message 4",
                ])
            #expect(
                try await client.send(.get, "/chats/\(chatID)/messages?limit=501", token: token).status
                    == .unprocessableContent)

            let chat = try JSONBody(try await client.send(.get, "/chats/\(chatID)", token: token))
            #expect(chat.int("message_count") == 5)
        }
    }

    @Test("another user's chat answers 404 exactly like a missing one, on every route")
    func isolation() async throws {
        try await withApp { client, _ in
            let (_, owner) = try await client.signUp("quinn@example.com")
            let (_, intruder) = try await client.signUp("rita@example.com")
            let chatID = try await client.createChat(token: owner, title: "private")
            let missing = UUID().uuidString.lowercased()
            for id in [chatID, missing] {
                let requests: [(HTTPRequest.Method, String, String?)] = [
                    (.get, "/chats/\(id)", nil),
                    (.patch, "/chats/\(id)", #"{"title": "mine now"}"#),
                    (.delete, "/chats/\(id)", nil),
                    (.get, "/chats/\(id)/messages", nil),
                ]
                for (method, uri, body) in requests {
                    let response = try await client.send(method, uri, token: intruder, json: body)
                    #expect(response.status == .notFound, "\(method) \(uri)")
                    #expect(response.detail == "Chat not found")
                }
            }
            let list = try JSONBody(try await client.send(.get, "/chats", token: intruder))
            #expect(list.int("total") == 0)
            let stillThere = try JSONBody(try await client.send(.get, "/chats/\(chatID)", token: owner))
            #expect(stillThere.string("title") == "private")
        }
    }

    @Test("ids that are not UUIDs are 422 on the path")
    func badIDs() async throws {
        try await withApp { client, _ in
            let (_, token) = try await client.signUp("sam@example.com")
            let response = try await client.send(.get, "/chats/not-a-uuid", token: token)
            #expect(response.status == .unprocessableContent)
            #expect(response.validationLocations == ["path.chat_id"])
        }
    }

    @Test("every chat route needs a token")
    func requiresAuth() async throws {
        try await withApp { client, _ in
            let id = UUID().uuidString
            for (method, uri) in [
                (HTTPRequest.Method.get, "/chats"), (.post, "/chats"), (.get, "/chats/\(id)"), (.patch, "/chats/\(id)"),
                (.delete, "/chats/\(id)"), (.get, "/chats/\(id)/messages"), (.post, "/chat"),
            ] {
                let response = try await client.send(method, uri)
                #expect(response.status == .unauthorized, "\(method) \(uri)")
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
        }
    }

    @Test("POST /chat validates, then answers 503 while no AI provider is configured")
    func chatWithoutProvider() async throws {
        try await withApp { client, _ in
            let (_, token) = try await client.signUp("tom@example.com")
            let response = try await client.send(.post, "/chat", token: token, json: #"{"message": "Hello"}"#)
            #expect(response.status == .serviceUnavailable)
            #expect(response.detail == "AI provider not configured")
            let empty = try await client.send(.post, "/chat", token: token, json: #"{"message": ""}"#)
            #expect(empty.status == .unprocessableContent)
            let badChat = try await client.send(
                .post, "/chat", token: token, json: #"{"message": "x", "chat_id": "nope"}"#)
            #expect(badChat.validationLocations == ["body.chat_id"])
        }
    }
}
