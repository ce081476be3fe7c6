import ChatStorage
import ChatTurns
import Foundation
import Hummingbird

/// A user's own chats and their messages. Another user's chat answers 404 exactly like a missing one.
struct ChatsController {
    let backend: ChatBackend

    static let titleLength = 1...200

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post(use: self.create)
        group.get(use: self.list)
        group.get(":chat_id", use: self.show)
        group.patch(":chat_id", use: self.update)
        group.delete(":chat_id", use: self.delete)
        group.get(":chat_id/messages", use: self.messages)
    }

    struct CreateChatRequest: ValidatedRequest {
        let title: String?

        func validationIssues() -> [ValidationIssue] {
            guard let title else { return [] }
            return [ValidationIssue.text(of: title, in: ChatsController.titleLength, at: ["body", "title"])]
                .compactMap { $0 }
        }
    }

    static let systemPromptLength = 1...4_000

    /// PATCH /chats/{id}: any of `title`, `pinned`, `archived`, `model`, `system_prompt` (at least one). `model`
    /// and `system_prompt` take `null` for the deployment's default; the others take no `null`.
    struct UpdateChatRequest: ValidatedRequest {
        var changes = ChatChanges()
        private var nulls: [String] = []

        enum CodingKeys: String, CodingKey {
            case title, pinned, archived, model
            case systemPrompt = "system_prompt"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            for key in [CodingKeys.title, .pinned, .archived] where container.contains(key) {
                if try container.decodeNil(forKey: key) { self.nulls.append(key.stringValue) }
            }
            if container.contains(.title), !self.nulls.contains("title") {
                self.changes.title = try container.decode(String.self, forKey: .title)
            }
            self.changes.pinned = try Self.decodeBool(container, .pinned, nulls: self.nulls)
            self.changes.archived = try Self.decodeBool(container, .archived, nulls: self.nulls)
            if container.contains(.model) {
                self.changes.model = .some(try container.decode(String?.self, forKey: .model))
            }
            if container.contains(.systemPrompt) {
                self.changes.systemPrompt = .some(try container.decode(String?.self, forKey: .systemPrompt))
            }
        }

        private static func decodeBool(
            _ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys, nulls: [String]
        ) throws -> Bool? {
            guard container.contains(key), !nulls.contains(key.stringValue) else { return nil }
            return try container.decode(Bool.self, forKey: key)
        }

        func validationIssues() -> [ValidationIssue] {
            var issues = self.nulls.map { name in
                ValidationIssue(loc: ["body", .key(name)], msg: "Input should not be null", type: "value_error")
            }
            if let title = self.changes.title {
                issues += [ValidationIssue.text(of: title, in: ChatsController.titleLength, at: ["body", "title"])]
                    .compactMap { $0 }
            }
            if case .some(.some(let prompt)) = self.changes.systemPrompt {
                issues += [
                    ValidationIssue.text(
                        of: prompt, in: ChatsController.systemPromptLength, at: ["body", "system_prompt"])
                ].compactMap { $0 }
            }
            if issues.isEmpty, self.changes.isEmpty {
                // Where the reference reports it (its PATCH takes a title alone).
                issues.append(
                    ValidationIssue(
                        loc: ["body", "title"],
                        msg: "Field required (or any of pinned, archived, model, system_prompt)",
                        type: "missing"))
            }
            return issues
        }
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> EditedResponse<ChatResponse> {
        let user = try context.requireUser()
        let body = try await request.decodeJSON(as: CreateChatRequest.self, context: context, allowEmpty: true)
        let chat = try await self.backend.database.createChat(userID: user.id, title: body.title)
        return EditedResponse(status: .created, response: ChatResponse(chat))
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> ChatListResponse {
        let user = try context.requireUser()
        let limit = try request.integerQuery("limit", default: 50, in: 1...100)
        let offset = try request.integerQuery("offset", default: 0, in: 0...Int(Int32.max))
        let archived = try request.booleanQuery("archived", default: false)
        let page = try await self.backend.database.chats(
            ownerID: user.id, archived: archived, limit: limit, offset: offset)
        return ChatListResponse(chats: page.chats.map(ChatResponse.init), total: page.total)
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> ChatResponse {
        let user = try context.requireUser()
        let chatID = try context.uuidParameter("chat_id")
        guard let chat = try await self.backend.database.chat(id: chatID, ownerID: user.id) else {
            throw APIError.chatNotFound
        }
        return ChatResponse(chat)
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> ChatResponse {
        let user = try context.requireUser()
        let chatID = try context.uuidParameter("chat_id")
        let body = try await request.decodeJSON(as: UpdateChatRequest.self, context: context)
        if case .some(.some(let model)) = body.changes.model {
            try self.backend.models.requireOffered(model, at: ["body", "model"])
        }
        guard let chat = try await self.backend.database.updateChat(id: chatID, ownerID: user.id, changes: body.changes)
        else {
            throw APIError.chatNotFound
        }
        return ChatResponse(chat)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let user = try context.requireUser()
        let chatID = try context.uuidParameter("chat_id")
        guard try await self.backend.database.chat(id: chatID, ownerID: user.id) != nil else {
            throw APIError.chatNotFound
        }
        // Deleting a chat stops its reply (wherever it runs); turns queued behind it find the chat gone.
        _ = try await self.backend.cancelReply(in: chatID)
        guard try await self.backend.database.deleteChat(id: chatID, ownerID: user.id) else {
            throw APIError.chatNotFound
        }
        return .noContent
    }

    /// The chat's active path, oldest first (`tree=true`: every branch, ``BranchesController/tree(of:ownerID:request:backend:)``).
    /// With `wait` (1...60 s) it long-polls: it answers at once when messages newer than `after`
    /// exist (a reply being generated comes with its current text), else as soon as one appears, else `[]`.
    @Sendable func messages(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let chatID = try context.uuidParameter("chat_id")
        if try request.booleanQuery("tree", default: false) {
            return try await BranchesController.tree(
                of: chatID, ownerID: user.id, request: request, backend: self.backend)
        }
        let requestedWait = try request.integerQuery("wait", default: 0, in: 0...60)
        // While the server drains, long-polls answer at once.
        let wait = self.backend.sessions?.isShuttingDown == true ? 0 : requestedWait
        guard wait > 0 else {
            return try await Self.listing(of: chatID, ownerID: user.id, request: request, backend: self.backend)
        }
        let limit = try request.integerQuery("limit", default: 100, in: 1...500)
        let after = try request.integerQuery("after", default: 0, in: 0...Int.max)
        let sessions = self.backend.sessions
        let database = self.backend.database
        // Registered before it parks: capped per user, and ended (401) if the user's session is revoked.
        let revocation = RequestCancellation()
        let waits = self.backend.userWaits
        guard let registration = waits.register(user, .longPoll, revocation) else {
            throw APIError.tooManyRequests(
                "Too many long-polls open: at most \(waits.longPollsPerUser) per user", retryAfter: .seconds(1))
        }
        defer { waits.unregister(user.id, registration) }
        let poll = Task {
            guard let sessions else {
                // Without a provider nothing new can appear: what there is now, else [] after the wait.
                guard
                    let now = try await database.messages(
                        chatID: chatID, ownerID: user.id, after: Int64(after), limit: limit)
                else { throw APIError.chatNotFound }
                if now.isEmpty { try await Task.sleep(for: .seconds(wait)) }
                return now
            }
            // The session's first read checks that the chat is the user's (404 otherwise).
            return try await sessions.withSession(for: chatID) { session in
                try await session.messages(after: Int64(after), limit: limit, wait: .seconds(wait), ownerID: user.id)
            }
        }
        revocation.bind { poll.cancel() }
        // A client that closes its connection releases the long-poll (its connection, task and timer) at once.
        let stopWatching = await context.onClientDisconnect { poll.cancel() }
        defer { stopWatching() }
        if !(await self.backend.isStillAuthorized(user)) { revocation.cancel() }
        do {
            let found = try await withTaskCancellationHandler {
                try await poll.value
            } onCancel: {
                poll.cancel()
            }
            return .json(JSONArray(found.map(MessageResponse.init)).encoded)
        } catch is CancellationError where revocation.isCancelled {
            throw (revocation.reason ?? .sessionEnded).longPollError
        } catch is CancellationError {
            // The client went away: nobody reads this answer; the request log shows 499, not a server fault.
            throw APIError(
                HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"), "Client closed the request")
        }
    }

    /// Shared by the owner's and the admin's message listings: `limit` 1...500 (100), `after` a message id.
    ///
    /// Served from ``MessageListingCache`` when the database answers that the chat's messages are unchanged
    /// since the listing was encoded; a reply being generated comes with its live text and is never cached.
    static func listing(of chatID: UUID, ownerID: UUID?, request: Request, backend: ChatBackend) async throws
        -> Response
    {
        let limit = try request.integerQuery("limit", default: 100, in: 1...500)
        let after = try request.integerQuery("after", default: 0, in: 0...Int.max)
        let key = MessageListingCache.Key(chatID: chatID, after: Int64(after), limit: limit)
        let cache = backend.listingCache
        var known = cache.version(of: key)
        while true {
            guard
                let page = try await backend.database.messagePage(
                    chatID: chatID, ownerID: ownerID, after: Int64(after), limit: limit, knownVersion: known)
            else { throw APIError.chatNotFound }
            switch page {
            case .unchanged(let version):
                if let body = cache.body(of: key, at: version) { return .json(body) }
                // Replaced or evicted since the lookup: read it after all.
                known = nil
            case .messages(let messages, let version):
                cache.recordMiss()
                let chat = chatID.lowercasedString
                var listing = messages.map { MessageResponse($0, chatID: chat) }
                let generating = messages.contains { $0.status == .streaming }
                if generating, let live = await backend.sessions?.existingSession(for: chatID)?.liveReply {
                    listing = listing.map { $0.id == live.id ? $0.withContent(live.content) : $0 }
                }
                let body = JSONArray(listing).encoded
                if !generating { cache.store(body, for: key, at: version) }
                return .json(body)
            }
        }
    }
}
