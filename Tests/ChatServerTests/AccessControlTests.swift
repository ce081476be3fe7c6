import ChatAuth
import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockGroq
import NIOCore
import Testing

/// Who may do what: every route against every kind of bad credential, and the admin's user controls.
@Suite("Access control")
struct AccessControlTests {
    enum Credential: String, CaseIterable, Sendable {
        case none, garbage, otherUser, plainUserOnAdmin, revoked, expired, deletedUser, disabledUser
    }

    /// Every routed method and path, with the owner's ids filled in.
    static func routes(_ backend: ChatBackend, chatID: String, messageID: String, userID: String) -> [(
        HTTPRequest.Method, String
    )] {
        buildRouter(backend).routes.map { route in
            var path = route.path.description
            let ids = [
                ("chat_id", chatID), ("message_id", messageID), ("user_id", userID),
                ("key_id", UUID().lowercasedString),
            ]
            for (name, value) in ids {
                path = path.replacingOccurrences(of: ":" + name, with: value)
                    .replacingOccurrences(of: "{" + name + "}", with: value)
            }
            return (route.method, path)
        }
    }

    static let publicPaths: Set<String> = [
        "/", "/health", "/openapi.json", "/docs", "/redoc", "/docs/assets/{name}", "/auth/register", "/auth/login",
        "/auth/token", "/app", "/app/{version}/{asset}",
    ]

    @Test("every route × every bad credential: 401 without a valid token, 403 for admin routes, 404 for others' chats")
    func matrix() async throws {
        try await withApp(.live, adminEmails: ["admin@example.com"]) { client, backend in
            let (ownerID, ownerToken) = try await client.signUp("owner@example.com")
            let (_, adminToken) = try await client.signUp("admin@example.com")
            let chatID = try await client.createChat(token: ownerToken)
            let (_, otherToken) = try await client.signUp("other@example.com")

            let (_, revokedToken) = try await client.signUp("revoked@example.com")
            #expect(try await client.send(.post, "/auth/logout", token: revokedToken).status == .ok)

            let (deletedID, deletedToken) = try await client.signUp("deleted@example.com")
            #expect(try await client.send(.delete, "/admin/users/\(deletedID)", token: adminToken).status == .noContent)

            let (disabledID, disabledToken) = try await client.signUp("disabled@example.com")
            let disable = try await client.send(
                .patch, "/admin/users/\(disabledID)", token: adminToken, json: #"{"disabled": true}"#)
            #expect(disable.status == .ok)

            let ownerUUID = try #require(UUID(canonical: ownerID))
            let owner = try #require(try await backend.database.user(id: ownerUUID))
            // Issued two hours ago with a one-hour lifetime.
            let expiredToken = try backend.tokens.issue(for: owner, now: Timestamp.now().secondsSinceEpoch - 7200)

            let routes = Self.routes(backend, chatID: chatID, messageID: "1", userID: ownerID)
            #expect(routes.count >= 20)
            // Logout last: with the other user's token it would revoke that token for the routes after it.
            let ordered = routes.filter { $0.1 != "/auth/logout" } + routes.filter { $0.1 == "/auth/logout" }
            for (method, path) in ordered where !Self.publicPaths.contains(path) {
                let isAdmin = path.hasPrefix("/admin")
                for credential in Credential.allCases {
                    let token: String?
                    switch credential {
                    case .none: token = nil
                    case .garbage: token = "not.a.token"
                    case .otherUser: token = otherToken
                    case .plainUserOnAdmin: token = isAdmin ? ownerToken : nil
                    case .revoked: token = revokedToken
                    case .expired: token = expiredToken
                    case .deletedUser: token = deletedToken
                    case .disabledUser: token = disabledToken
                    }
                    if credential == .plainUserOnAdmin && !isAdmin { continue }
                    let body: String? = [.post, .patch, .put].contains(method) ? Self.body(for: path) : nil
                    let response = try await client.send(method, path, token: token, json: body)
                    let expected: HTTPResponse.Status
                    switch credential {
                    case .otherUser where isAdmin, .plainUserOnAdmin: expected = .forbidden
                    case .otherUser where path.contains(chatID): expected = .notFound
                    case .otherUser: expected = response.status  // their own resources: checked elsewhere
                    default: expected = .unauthorized
                    }
                    #expect(
                        response.status == expected,
                        "\(method) \(path) with \(credential): \(response.status.code) \(response.text.prefix(200))")
                    if expected == .unauthorized { #expect(response.headers[.wwwAuthenticate] == "Bearer") }
                    #expect(response.status.code < 500, "\(method) \(path) with \(credential)")
                }
            }
            // A long-poll on another user's chat is 404 at once too (its first read checks the owner), and on a
            // chat that does not exist. (The other user's token was revoked by the logout above: a fresh user.)
            let (_, strangerToken) = try await client.signUp("stranger@example.com")
            for (path, token) in [
                ("/chats/\(chatID)/messages?after=0&wait=5", strangerToken),
                ("/chats/\(UUID().lowercasedString)/messages?after=0&wait=5", ownerToken),
            ] {
                let started = ContinuousClock.now
                let response = try await client.send(.get, path, token: token)
                #expect(response.status == .notFound, "\(path): \(response.status.code)")
                #expect(response.text.contains("Chat not found"))
                #expect(ContinuousClock.now - started < .seconds(3))
            }
            // The owner still reaches their chat.
            #expect(try await client.send(.get, "/chats/\(chatID)", token: ownerToken).status == .ok)
        }
    }

    static func body(for path: String) -> String {
        if path == "/chat" { return #"{"chat_id": "\#(path)", "message": "hello"}"# }
        if path.hasSuffix("/role") { return #"{"role": "admin"}"# }
        if path.hasPrefix("/admin/users/") { return #"{"disabled": true}"# }
        if path.hasPrefix("/chats/") && !path.hasSuffix("/cancel") { return #"{"title": "mine now"}"# }
        return #"{"title": "t"}"#
    }

    @Test("without a provider POST /chat is 503 into any chat, the sender's, another user's or a missing one")
    func sendWithoutProvider() async throws {
        // Ownership with a provider: sendIntoOthersChatWithProvider. Without one, no chat is looked up, so the
        // answer cannot tell another user's chat from a missing one.
        try await withApp { client, _ in
            let (_, owner) = try await client.signUp("owner2@example.com")
            let (_, other) = try await client.signUp("other2@example.com")
            let chatID = try await client.createChat(token: owner)
            for (token, target) in [(owner, chatID), (other, chatID), (other, UUID().lowercasedString)] {
                let response = try await client.send(
                    .post, "/chat", token: token, json: #"{"chat_id": "\#(target)", "message": "hi"}"#)
                #expect(response.status == .serviceUnavailable)
                #expect(response.detail == "AI provider not configured")
            }
            #expect(try await client.send(.get, "/chats/\(chatID)/messages", token: owner).text == "[]")
        }
    }

    @Test("POST /chat into another user's or a missing chat: 404 as JSON and as a stream, nothing saved or sent")
    func sendIntoOthersChatWithProvider() async throws {
        try await withTurnApp { client, backend, mock in
            let (ownerID, owner) = try await client.signUp("owner3@example.com")
            let (_, other) = try await client.signUp("other3@example.com")
            let chatID = try await client.createChat(token: owner)
            for target in [chatID, UUID().lowercasedString] {
                for stream in [false, true] {
                    let response = try await client.send(
                        .post, "/chat", token: other,
                        json: #"{"chat_id": "\#(target)", "message": "mine now", "stream": \#(stream)}"#)
                    #expect(response.status == .notFound, "\(target), stream \(stream): \(response.text)")
                    #expect(response.detail == "Chat not found")
                }
            }
            #expect(mock.stats.requests == 0)
            let chat = try #require(UUID(uuidString: chatID))
            let user = try #require(UUID(uuidString: ownerID))
            let owned = try #require(try await backend.database.chat(id: chat, ownerID: user))
            #expect(owned.messageCount == 0)
            // The owner's turn still runs (the refused ones left nothing behind that would stop it).
            let reply = try await client.send(
                .post, "/chat", token: owner, json: #"{"chat_id": "\#(chatID)", "message": "hello"}"#)
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(!mock.conversations.contains { $0.contains { $0.content == "mine now" } })
        }
    }

    @Test("an admin disables a user: tokens stop at once, login is 403; enabling restores login")
    func disableUser() async throws {
        try await withApp(adminEmails: ["boss@example.com"]) { client, _ in
            let (_, admin) = try await client.signUp("boss@example.com")
            let (userID, token) = try await client.signUp("worker@example.com")
            #expect(try await client.send(.get, "/auth/me", token: token).status == .ok)

            let disabled = try await client.send(
                .patch, "/admin/users/\(userID)", token: admin, json: #"{"disabled": true}"#)
            #expect(disabled.status == .ok)
            #expect(try JSONBody(disabled)["disabled"] as? Bool == true)
            #expect(try await client.send(.get, "/auth/me", token: token).status == .unauthorized)
            let login = try await client.send(
                .post, "/auth/login", json: #"{"email": "worker@example.com", "password": "correct horse battery"}"#)
            #expect(login.status == .forbidden)
            #expect(login.detail == "This account is disabled")
            // A wrong password still says only 401: the account's state is not told to strangers.
            let wrong = try await client.send(
                .post, "/auth/login", json: #"{"email": "worker@example.com", "password": "wrong password"}"#)
            #expect(wrong.status == .unauthorized)

            let enabled = try await client.send(
                .patch, "/admin/users/\(userID)", token: admin, json: #"{"disabled": false}"#)
            #expect(try JSONBody(enabled)["disabled"] as? Bool == false)
            let again = try await client.login("worker@example.com")
            #expect(try await client.send(.get, "/auth/me", token: again).status == .ok)

            #expect(
                try await client.send(.patch, "/admin/users/\(userID)", token: admin, json: #"{"disabled": "yes"}"#)
                    .status == .unprocessableContent)
            #expect(
                try await client.send(
                    .patch, "/admin/users/\(UUID().lowercasedString)", token: admin, json: #"{"disabled": true}"#
                ).status == .notFound)
        }
    }

    @Test("an admin deletes a user: their chats and messages go too, and their tokens stop")
    func deleteUser() async throws {
        try await withApp(adminEmails: ["boss@example.com"]) { client, backend in
            let (_, admin) = try await client.signUp("boss@example.com")
            let (userID, token) = try await client.signUp("leaver@example.com")
            let chatID = try await client.createChat(token: token)
            let id = try #require(UUID(canonical: chatID))
            _ = try await backend.database.appendMessage(chatID: id, role: .user, content: "bye")

            #expect(try await client.send(.delete, "/admin/users/\(userID)", token: admin).status == .noContent)
            #expect(try await client.send(.get, "/auth/me", token: token).status == .unauthorized)
            #expect(try await backend.database.chat(id: id, ownerID: nil) == nil)
            #expect(try await client.send(.get, "/admin/chats/\(chatID)/messages", token: admin).status == .notFound)
            #expect(try await client.send(.delete, "/admin/users/\(userID)", token: admin).status == .notFound)
            // The email can be registered again.
            try await client.register("leaver@example.com")
        }
    }

    @Test("the last active admin cannot be demoted, disabled or deleted; with a second admin they can")
    func lastAdmin() async throws {
        try await withApp(adminEmails: ["first@example.com"]) { client, _ in
            let (firstID, first) = try await client.signUp("first@example.com")
            for (method, path, body) in [
                (HTTPRequest.Method.patch, "/admin/users/\(firstID)/role", #"{"role": "user"}"#),
                (.patch, "/admin/users/\(firstID)", #"{"disabled": true}"#),
                (.delete, "/admin/users/\(firstID)", nil),
            ] {
                let response = try await client.send(method, path, token: first, json: body)
                #expect(response.status == .conflict, "\(method) \(path): \(response.text)")
                #expect(response.detail?.contains("last admin") == true)
            }
            let (secondID, _) = try await client.signUp("second@example.com")
            #expect(
                try await client.send(
                    .patch, "/admin/users/\(secondID)/role", token: first, json: #"{"role": "admin"}"#
                ).status == .ok)
            #expect(
                try await client.send(.patch, "/admin/users/\(firstID)", token: first, json: #"{"disabled": true}"#)
                    .status == .ok)
            // first's token stopped working when they were disabled.
            #expect(try await client.send(.get, "/admin/users", token: first).status == .unauthorized)
        }
    }
}
