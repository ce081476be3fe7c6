import ChatComposition
import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Admin endpoints")
struct AdminAPITests {
    @Test("users who are not admins get 403 on every admin route")
    func forbidden() async throws {
        try await withApp { client, _ in
            let (id, token) = try await client.signUp("user@example.com")
            let chatID = UUID().uuidString
            for (method, uri, body) in [
                (HTTPRequest.Method.get, "/admin/users", nil),
                (.patch, "/admin/users/\(id)/role", #"{"role": "admin"}"#),
                (.get, "/admin/users/\(id)/chats", nil),
                (.get, "/admin/chats/\(chatID)/messages", nil),
            ] {
                let response = try await client.send(method, uri, token: token, json: body)
                #expect(response.status == .forbidden, "\(method) \(uri)")
                #expect(response.detail == "Admin privileges required")
                // Without a token it is 401, not 403.
                #expect(try await client.send(method, uri, json: body).status == .unauthorized)
            }
        }
    }

    @Test("ADMIN_EMAILS makes a registering user an admin")
    func adminOnRegistration() async throws {
        try await withApp(adminEmails: ["boss@example.com"]) { client, _ in
            let response = try await client.send(
                .post,
                "/auth/register",
                json: #"{"email": "Boss@Example.com", "password": "correct horse battery"}"#
            )
            #expect(try JSONBody(response).string("role") == "admin")
        }
    }

    @Test("ADMIN_EMAILS promotes existing users at start")
    func adminAtStart() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let first = try await ChatBackend.open(config: testConfig(directory: directory), logger: testLogger())
        _ = try await buildApplication(first).test(.router) { client in
            try await client.register("later@example.com")
        }
        await first.database.close()
        let second = try await ChatBackend.open(
            config: testConfig(directory: directory, adminEmails: ["later@example.com"]),
            logger: testLogger()
        )
        #expect(try await second.database.user(email: "later@example.com")?.role == .admin)
    }

    @Test("an admin lists users, reads any user's chats and messages, and sets roles")
    func adminArea() async throws {
        try await withApp(adminEmails: ["root@example.com"]) { client, backend in
            let (adminID, admin) = try await client.signUp("root@example.com")
            let (userID, user) = try await client.signUp("uma@example.com")
            let chatID = try await client.createChat(token: user, title: "hers")
            _ = try await backend.database.appendMessage(
                chatID: try #require(UUID(uuidString: chatID)),
                role: .user,
                content: "secret plans"
            )

            let users = try await client.send(.get, "/admin/users", token: admin)
            #expect(users.status == .ok)
            #expect(users.headers[HTTPField.Name("X-Total-Count")!] == "2")
            let emails = try JSONBody(users).array.compactMap { ($0 as? [String: Any])?["email"] as? String }
            #expect(emails == ["root@example.com", "uma@example.com"])
            let paged = try JSONBody(try await client.send(.get, "/admin/users?limit=1&offset=1", token: admin)).array
            #expect(paged.count == 1)

            // The reference's ChatListResponse: {"chats": [...], "total": N}, like GET /chats.
            let chatList = try JSONBody(try await client.send(.get, "/admin/users/\(userID)/chats", token: admin))
            let chats = chatList["chats"] as? [Any] ?? []
            #expect(chats.compactMap { ($0 as? [String: Any])?["id"] as? String } == [chatID])
            #expect(chatList.int("total") == 1)
            let messages = try JSONBody(try await client.send(.get, "/admin/chats/\(chatID)/messages", token: admin))
                .array
            #expect(messages.compactMap { ($0 as? [String: Any])?["content"] as? String } == ["secret plans"])

            let promoted = try await client.send(
                .patch, "/admin/users/\(userID)/role", token: admin, json: #"{"role": "admin"}"#)
            #expect(promoted.status == .ok)
            #expect(try JSONBody(promoted).string("role") == "admin")
            // The promoted user's existing token now opens the admin area.
            #expect(try await client.send(.get, "/admin/users", token: user).status == .ok)

            let demoteSelf = try await client.send(
                .patch, "/admin/users/\(adminID)/role", token: admin, json: #"{"role": "user"}"#)
            #expect(demoteSelf.status == .ok)
            // Now uma is the last admin.
            let demoteLast = try await client.send(
                .patch, "/admin/users/\(userID)/role", token: user, json: #"{"role": "user"}"#)
            #expect(demoteLast.status == .conflict)
        }
    }

    @Test("admin routes validate input and answer 404 for missing users and chats")
    func adminErrors() async throws {
        try await withApp(adminEmails: ["root@example.com"]) { client, _ in
            let (adminID, admin) = try await client.signUp("root@example.com")
            let missing = UUID().uuidString
            let badRole = try await client.send(
                .patch, "/admin/users/\(adminID)/role", token: admin, json: #"{"role": "owner"}"#)
            #expect(badRole.status == .unprocessableContent)
            #expect(badRole.validationLocations == ["body.role"])
            #expect(
                try await client.send(.patch, "/admin/users/\(missing)/role", token: admin, json: #"{"role": "user"}"#)
                    .status
                    == .notFound
            )
            #expect(try await client.send(.get, "/admin/users/\(missing)/chats", token: admin).status == .notFound)
            #expect(try await client.send(.get, "/admin/chats/\(missing)/messages", token: admin).status == .notFound)
            #expect(try await client.send(.get, "/admin/users/xyz/chats", token: admin).status == .unprocessableContent)
            #expect(try await client.send(.get, "/admin/users?limit=0", token: admin).status == .unprocessableContent)
        }
    }
}
