import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// End-to-end over a real TCP socket: the same router, middleware and database as production.
@Suite("Live server over a real socket")
struct LiveServerTests {
    @Test("a user's whole session: register, login, chats, messages, logout")
    func session() async throws {
        try await withApp(.live) { client, backend in
            #expect(client.port != nil)
            let (_, token) = try await client.signUp("live@example.com")
            let chatID = try await client.createChat(token: token, title: "over TCP")
            _ = try await backend.database.appendMessage(
                chatID: try #require(UUID(uuidString: chatID)),
                role: .user,
                content: "hi"
            )
            let list = try JSONBody(try await client.send(.get, "/chats", token: token))
            #expect(list.int("total") == 1)
            let messages = try JSONBody(try await client.send(.get, "/chats/\(chatID)/messages", token: token)).array
            #expect(messages.count == 1)
            #expect(try await client.send(.post, "/auth/logout", token: token).status == .ok)
            #expect(try await client.send(.get, "/chats", token: token).status == .unauthorized)
        }
    }

    @Test("errors keep their JSON shape over the wire")
    func errorsOverTheWire() async throws {
        try await withApp(.live) { client, _ in
            let notFound = try await client.send(.get, "/missing")
            #expect(notFound.status == .notFound)
            #expect(notFound.detail == "Not Found")
            let invalid = try await client.send(.post, "/auth/register", json: "{")
            #expect(invalid.status == .unprocessableContent)
            let huge = String(repeating: "x", count: (1 << 20) + 10)
            let tooLarge = try await client.send(.post, "/auth/login", json: #"{"email": "\#(huge)"}"#)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.detail != nil)
        }
    }

    @Test("many users at once: each sees only their own chats")
    func concurrentUsers() async throws {
        try await withApp(.live) { client, _ in
            let users = 20
            let chatsEach = 5
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<users {
                    group.addTask {
                        let (_, token) = try await client.signUp("user\(index)@example.com")
                        var mine: Set<String> = []
                        for chat in 0..<chatsEach {
                            mine.insert(try await client.createChat(token: token, title: "u\(index) c\(chat)"))
                        }
                        let list = try JSONBody(try await client.send(.get, "/chats?limit=100", token: token))
                        let ids = Set((list["chats"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
                        #expect(ids == mine)
                        #expect(list.int("total") == chatsEach)
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}
