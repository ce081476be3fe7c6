import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import MockGroq
import NIOCore
import Testing

/// A NUL (U+0000) in every text field of every route: 422 naming the field where the text would reach the
/// database (PostgreSQL's `text` cannot hold it, and SQLite is held to the same), and the same documented
/// answer on both engines where it never reaches it (a password is hashed, never stored).
@Suite("NUL in every text field")
struct NULTextTests {
    /// What a case's path and body can refer to: made once per test.
    struct Fixture: Sendable {
        let chat: String
        let userMessage: Int
        let reply: Int
        let userID: String
    }

    /// One field of one route with a NUL in it, and the answer it must get on both engines.
    struct Case: Sendable, CustomStringConvertible {
        let description: String
        let method: HTTPRequest.Method
        let path: @Sendable (Fixture) -> String
        let body: String?
        var contentType = "application/json"
        /// Sent without a token (the auth routes), with the user's, or with the admin's.
        var auth = Auth.user
        let status: Int
        /// The `loc` of the one validation issue, joined with dots; nil for another answer.
        let location: String?

        enum Auth: Sendable { case none, user, admin }
    }

    static let nul = #"a\u0000b"#
    static let password = "correct horse battery"

    /// Our export with `field` of the chat or of its one message set to `value`.
    static func export(chat: String = "", message: String = "") -> String {
        #"{"format": "ai-chat-backend/chat", "version": 2, "chat": {"title": "t"\#(chat)}, "#
            + #""messages": [{"role": "user", "content": "hi"\#(message)}]}"#
    }

    /// A ChatGPT conversation with one user message and one assistant reply.
    static func chatGPT(title: String = "t", text: String = "hi", slug: String = "gpt-4o") -> String {
        #"{"title": "\#(title)", "current_node": "b", "mapping": {"#
            + #""a": {"parent": null, "message": {"id": "a", "author": {"role": "user"}, "content": {"parts": ["\#(text)"]}}}, "#
            + #""b": {"parent": "a", "message": {"id": "b", "author": {"role": "assistant"}, "#
            + #""content": {"parts": ["ok"]}, "metadata": {"model_slug": "\#(slug)"}}}}}"#
    }

    static let cases: [Case] = [
        // Authentication: the email is looked up, so it is refused; the password only meets the hash.
        Case(
            description: "register: email", method: .post, path: { _ in "/auth/register" },
            body: #"{"email": "\#(nul)@example.com", "password": "\#(password)"}"#, auth: .none, status: 422,
            location: "body.email"),
        Case(
            description: "register: password (hashed, never stored: accepted)", method: .post,
            path: { _ in "/auth/register" },
            body: #"{"email": "nul-password@example.com", "password": "\#(nul) \#(password)"}"#, auth: .none,
            status: 201, location: nil),
        Case(
            description: "login: email", method: .post, path: { _ in "/auth/login" },
            body: #"{"email": "\#(nul)@example.com", "password": "x"}"#, auth: .none, status: 422,
            location: "body.email"),
        Case(
            description: "login: password (a wrong one)", method: .post, path: { _ in "/auth/login" },
            body: #"{"email": "nul@example.com", "password": "\#(nul)"}"#, auth: .none, status: 401, location: nil),
        Case(
            description: "token: username", method: .post, path: { _ in "/auth/token" },
            body: "username=a%00b%40example.com&password=x", contentType: "application/x-www-form-urlencoded",
            auth: .none, status: 422, location: "body.username"),
        Case(
            description: "token: password (a wrong one)", method: .post, path: { _ in "/auth/token" },
            body: "username=nul%40example.com&password=a%00b", contentType: "application/x-www-form-urlencoded",
            auth: .none, status: 401, location: nil),
        Case(
            description: "token: grant_type", method: .post, path: { _ in "/auth/token" },
            body: "username=nul%40example.com&password=x&grant_type=pass%00word",
            contentType: "application/x-www-form-urlencoded", auth: .none, status: 422, location: "body.grant_type"),
        // Chats.
        Case(
            description: "create a chat: title", method: .post, path: { _ in "/chats" },
            body: #"{"title": "\#(nul)"}"#, status: 422, location: "body.title"),
        Case(
            description: "rename a chat: title", method: .patch, path: { "/chats/\($0.chat)" },
            body: #"{"title": "\#(nul)"}"#, status: 422, location: "body.title"),
        Case(
            description: "chat settings: system_prompt", method: .patch, path: { "/chats/\($0.chat)" },
            body: #"{"system_prompt": "\#(nul)"}"#, status: 422, location: "body.system_prompt"),
        Case(
            description: "chat settings: model", method: .patch, path: { "/chats/\($0.chat)" },
            body: #"{"model": "\#(nul)"}"#, status: 422, location: "body.model"),
        Case(
            description: "search: q", method: .get, path: { _ in "/chats/search?q=a%00b" }, body: nil, status: 422,
            location: "query.q"),
        // Turns, answered as JSON or as a stream: refused before either starts.
        Case(
            description: "send: message", method: .post, path: { _ in "/chat" },
            body: #"{"message": "\#(nul)"}"#, status: 422, location: "body.message"),
        Case(
            description: "send, streamed: message", method: .post, path: { _ in "/chat" },
            body: #"{"message": "\#(nul)", "stream": true}"#, status: 422, location: "body.message"),
        Case(
            description: "send: model", method: .post, path: { _ in "/chat" },
            body: #"{"message": "hi", "model": "\#(nul)"}"#, status: 422, location: "body.model"),
        Case(
            description: "send: chat_id", method: .post, path: { _ in "/chat" },
            body: #"{"message": "hi", "chat_id": "\#(nul)"}"#, status: 422, location: "body.chat_id"),
        Case(
            description: "edit: content", method: .post, path: { "/chats/\($0.chat)/messages/\($0.userMessage)/edit" },
            body: #"{"content": "\#(nul)"}"#, status: 422, location: "body.content"),
        Case(
            description: "edit: model", method: .post, path: { "/chats/\($0.chat)/messages/\($0.userMessage)/edit" },
            body: #"{"content": "hi", "model": "\#(nul)"}"#, status: 422, location: "body.model"),
        Case(
            description: "regenerate: model", method: .post,
            path: { "/chats/\($0.chat)/messages/\($0.reply)/regenerate" }, body: #"{"model": "\#(nul)"}"#,
            status: 422, location: "body.model"),
        Case(
            description: "switch branches: message_id", method: .post, path: { "/chats/\($0.chat)/active" },
            body: #"{"message_id": "\#(nul)"}"#, status: 422, location: "body.message_id"),
        Case(
            description: "a path id", method: .get, path: { _ in "/chats/a%00b" }, body: nil, status: 422,
            location: "path.chat_id"),
        Case(
            description: "export: format", method: .get, path: { "/chats/\($0.chat)/export?format=a%00b" }, body: nil,
            status: 422, location: "query.format"),
        Case(
            description: "own usage: from", method: .get, path: { _ in "/auth/me/usage?from=a%00b" }, body: nil,
            status: 422, location: "query.from"),
        // Imports: every text that is stored.
        Case(
            description: "import: chat title", method: .post, path: { _ in "/chats/import" },
            body: export(chat: #", "title": "\#(nul)""#), status: 422, location: "body.chat.title"),
        Case(
            description: "import: system_prompt", method: .post, path: { _ in "/chats/import" },
            body: export(chat: #", "system_prompt": "\#(nul)""#), status: 422, location: "body.chat.system_prompt"),
        Case(
            description: "import: message content", method: .post, path: { _ in "/chats/import" },
            body: export(message: #", "content": "\#(nul)""#), status: 422, location: "body.messages.0.content"),
        Case(
            description: "import: message model", method: .post, path: { _ in "/chats/import" },
            body: export(message: #", "model": "\#(nul)""#), status: 422, location: "body.messages.0.model"),
        Case(
            description: "import: message error", method: .post, path: { _ in "/chats/import" },
            body: export(message: #", "error": "\#(nul)""#), status: 422, location: "body.messages.0.error"),
        Case(
            description: "import from ChatGPT: title", method: .post, path: { _ in "/chats/import" },
            body: chatGPT(title: nul), status: 422, location: "body.title"),
        Case(
            description: "import from ChatGPT: message text", method: .post, path: { _ in "/chats/import" },
            body: chatGPT(text: nul), status: 422, location: "body.mapping.a.message.content.parts"),
        Case(
            description: "import from ChatGPT: model_slug", method: .post, path: { _ in "/chats/import" },
            body: chatGPT(slug: nul), status: 422, location: "body.mapping.b.message.metadata.model_slug"),
        // The admin area.
        Case(
            description: "admin: role", method: .patch, path: { "/admin/users/\($0.userID)/role" },
            body: #"{"role": "\#(nul)"}"#, auth: .admin, status: 422, location: "body.role"),
        Case(
            description: "admin: usage sort", method: .get, path: { _ in "/admin/usage?sort=a%00b" }, body: nil,
            auth: .admin, status: 422, location: "query.sort"),
    ]

    @Test("each field answers as documented, the same on both engines", arguments: cases)
    func nulField(_ testCase: Case) async throws {
        try await withTurnApp(
            behavior: MockGroqBehavior(reply: "ok"), adminEmails: ["nul-admin@example.com"]
        ) { client, _, _ in
            let (userID, token) = try await client.signUp("nul@example.com")
            let (_, admin) = try await client.signUp("nul-admin@example.com")
            let turn = try JSONBody(
                try await client.send(.post, "/chat", token: token, json: #"{"message": "first"}"#))
            let fixture = Fixture(
                chat: try #require(turn.string("chat_id")), userMessage: try #require(turn.int("user_message_id")),
                reply: try #require(turn.int("message_id")), userID: userID)
            var headers: HTTPFields = [:]
            switch testCase.auth {
            case .none: break
            case .user: headers[.authorization] = "Bearer \(token)"
            case .admin: headers[.authorization] = "Bearer \(admin)"
            }
            if testCase.body != nil { headers[.contentType] = testCase.contentType }
            let response = try await client.execute(
                uri: testCase.path(fixture), method: testCase.method, headers: headers,
                body: testCase.body.map { ByteBuffer(string: $0) })
            #expect(response.status.code == testCase.status, "\(response.text.prefix(300))")
            if let location = testCase.location {
                #expect(response.validationLocations == [location], "\(response.text.prefix(300))")
            }
            // Nothing holding a NUL was written: the user's chats are the fixture's alone.
            let listing = try JSONBody(try await client.send(.get, "/chats", token: token))
            #expect(listing.int("total") == 1)
        }
    }

    @Test("a password with a NUL is a password like any other: it registers and logs in on both engines")
    func nulPassword() async throws {
        try await withApp { client, _ in
            let password = "a\u{0}b correct horse"
            let escaped = #"a\u0000b correct horse"#
            let registered = try await client.send(
                .post, "/auth/register", json: #"{"email": "nul-pass@example.com", "password": "\#(escaped)"}"#)
            #expect(registered.status == .created, "\(registered.text)")
            let login = try await client.send(
                .post, "/auth/login", json: #"{"email": "nul-pass@example.com", "password": "\#(escaped)"}"#)
            #expect(login.status == .ok, "\(login.text)")
            // Without the NUL it is another password.
            let other = password.replacingOccurrences(of: "\u{0}", with: "")
            let refused = try await client.send(
                .post, "/auth/login", json: #"{"email": "nul-pass@example.com", "password": "\#(other)"}"#)
            #expect(refused.status == .unauthorized)
        }
    }

    @Test("a NUL from the upstream is stored as U+FFFD, in a reply and in a title, on both engines")
    func nulFromUpstream() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(reply: "x\u{0}y")) { client, _, _ in
            let (_, token) = try await client.signUp("upstream-nul@example.com")
            let turn = try await client.send(.post, "/chat", token: token, json: #"{"message": "hi"}"#)
            #expect(turn.status == .ok, "\(turn.text)")
            let chat = try #require(try JSONBody(turn).string("chat_id"))
            let messages = try JSONBody(try await client.send(.get, "/chats/\(chat)/messages", token: token))
            let reply = (messages.array.last as? [String: Any])?["content"] as? String
            #expect(reply == "x\u{FFFD}y")
            var title: String?
            _ = try await eventually(within: .seconds(5)) {
                title = try JSONBody(try await client.send(.get, "/chats/\(chat)", token: token)).string("title")
                return title != nil
            }
            #expect(title == "x\u{FFFD}y")
        }
    }

    @Test("the stores refuse a NUL alike (the routes refuse it first)")
    func storesRefuseNUL() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let store = try await TestDatabase.openStore(standingInFor: directory + "/nul.db")
        let owner = try await store.createUser(email: "t@example.com", passwordHash: "h", role: .user)
        await #expect(throws: StorageError.unsupportedCharacter) {
            _ = try await store.createChat(userID: owner.id, title: "a\u{0}b")
        }
        await #expect(throws: StorageError.unsupportedCharacter) { _ = try await store.user(email: "a\u{0}b") }
        #expect(try await store.chats(ownerID: owner.id, archived: false, limit: 10, offset: 0).total == 0)
        await store.close()
    }
}
