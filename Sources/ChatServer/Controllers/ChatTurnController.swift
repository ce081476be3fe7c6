import ChatProvider
import ChatStorage
import ChatTurns
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// AI turns: POST /chat (one JSON answer or Server-Sent Events), regenerating a reply and editing a message
/// (new branches, answered the same ways), reattaching to a reply's stream, and cancelling the running reply.
struct ChatTurnController {
    let backend: ChatBackend

    static let messageLength = 1...32_000

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("chat", use: self.send)
        group.post("chats/:chat_id/messages/:message_id/regenerate", use: self.regenerate)
        group.post("chats/:chat_id/messages/:message_id/edit", use: self.edit)
        group.get("chats/:chat_id/messages/:message_id/stream", use: self.reattach)
        group.post("chats/:chat_id/cancel", use: self.cancel)
    }

    struct SendRequest: ValidatedRequest {
        let chatID: String?
        let message: String
        let stream: Bool?
        /// This turn's model (an offered one); else the chat's, else the default.
        let model: String?

        enum CodingKeys: String, CodingKey {
            case chatID = "chat_id"
            case message, stream, model
        }

        func validationIssues() -> [ValidationIssue] {
            var issues = [
                ValidationIssue.text(of: self.message, in: ChatTurnController.messageLength, at: ["body", "message"])
            ]
            .compactMap { $0 }
            if let chatID, UUID(canonical: chatID) == nil {
                issues.append(
                    ValidationIssue(
                        loc: ["body", "chat_id"], msg: "Input should be a valid UUID", type: "uuid_parsing")
                )
            }
            return issues
        }
    }

    @Sendable func send(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let body = try await request.decodeJSON(as: SendRequest.self, context: context)
        let admitted = try await self.admit(
            user, model: body.model, stream: body.stream, request: request, context: context)
        let chatID: UUID
        if let requested = body.chatID.flatMap({ UUID(canonical: $0) }) {
            // A stream's status goes out before the turn starts, so its chat is looked up first (404 rather than
            // an `error` event). A JSON answer waits for the turn anyway: the turn's own read of the context
            // checks the chat is the user's, and a missing one ends the turn as 404 before anything is saved.
            if admitted.wantsStream, try await self.backend.database.chat(id: requested, ownerID: user.id) == nil {
                throw APIError.chatNotFound
            }
            chatID = requested
        } else {
            chatID = try await self.backend.database.createChat(userID: user.id, title: nil).id
        }
        return try await self.start(.message(body.message), in: chatID, admitted, request: request, context: context)
    }

    /// The body of a regeneration: all optional (an empty body is fine).
    struct RegenerateRequest: ValidatedRequest {
        let stream: Bool?
        let model: String?

        func validationIssues() -> [ValidationIssue] { [] }
    }

    /// POST /chats/{chat_id}/messages/{message_id}/regenerate: another reply to the message an assistant reply
    /// answered, beside it; the active path switches to the new reply. Answered like POST /chat.
    @Sendable func regenerate(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let (chat, reply) = try await self.targetMessage(user, context: context)
        let body = try await request.decodeJSON(as: RegenerateRequest.self, context: context, allowEmpty: true)
        guard reply.role == .assistant else {
            throw APIError.validation(
                ValidationIssue(
                    loc: ["path", "message_id"], msg: "Only an assistant reply can be regenerated", type: "value_error")
            )
        }
        guard let parentID = reply.parentID else {
            throw APIError.validation(
                ValidationIssue(
                    loc: ["path", "message_id"], msg: "This reply answers no message", type: "value_error"))
        }
        let admitted = try await self.admit(
            user, model: body.model, stream: body.stream, request: request, context: context)
        return try await self.start(
            .regenerate(parentID: parentID), in: chat.id, admitted, request: request, context: context)
    }

    struct EditRequest: ValidatedRequest {
        let content: String
        let stream: Bool?
        let model: String?

        func validationIssues() -> [ValidationIssue] {
            [ValidationIssue.text(of: self.content, in: ChatTurnController.messageLength, at: ["body", "content"])]
                .compactMap { $0 }
        }
    }

    /// POST /chats/{chat_id}/messages/{message_id}/edit: the edited text as a new user message beside the
    /// original (which stays, with its replies, on its own branch), and a reply to it; the active path switches
    /// to the new branch. Answered like POST /chat.
    @Sendable func edit(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let (chat, original) = try await self.targetMessage(user, context: context)
        let body = try await request.decodeJSON(as: EditRequest.self, context: context)
        guard original.role == .user else {
            throw APIError.validation(
                ValidationIssue(
                    loc: ["path", "message_id"], msg: "Only a user message can be edited", type: "value_error"))
        }
        let admitted = try await self.admit(
            user, model: body.model, stream: body.stream, request: request, context: context)
        return try await self.start(
            .edit(parentID: original.parentID, content: body.content), in: chat.id, admitted, request: request,
            context: context)
    }

    /// The chat and message of the path, the caller's (404 otherwise, for another user's as for a missing one).
    private func targetMessage(_ user: UserRecord, context: AppRequestContext) async throws -> (
        ChatRecord, MessageRecord
    ) {
        let chatID = try context.uuidParameter("chat_id")
        let messageID = try context.messageIDParameter()
        guard let chat = try await self.backend.database.chat(id: chatID, ownerID: user.id) else {
            throw APIError.chatNotFound
        }
        guard let message = try await self.backend.database.message(id: messageID, chatID: chatID, ownerID: user.id)
        else { throw APIError.messageNotFound }
        return (chat, message)
    }

    /// A turn that passed the checks every turn route makes.
    private struct Admitted {
        let sessions: ChatSessionRegistry
        let account: TurnAccount
        let model: String?
        let wantsStream: Bool
    }

    /// What every turn route checks before it queues a turn: the model is offered, a provider is configured,
    /// the server is not draining, the user's message rate, and (for a stream) the user's quota.
    private func admit(
        _ user: UserRecord, model: String?, stream: Bool?, request: Request, context: AppRequestContext
    ) async throws -> Admitted {
        if let model { try self.backend.models.requireOffered(model, at: ["body", "model"]) }
        guard let sessions = self.backend.sessions else {
            throw ProviderError.notConfigured.apiError(requestID: context.requestID)
        }
        guard !sessions.isShuttingDown else { throw APIError.restarting }
        if let wait = try await self.backend.messageRate.acquireForDeployment(["user:" + user.id.lowercasedString]) {
            throw APIError.tooManyRequests(
                "Too many messages: at most \(self.backend.messageRate.limit) per minute", retryAfter: wait)
        }
        let wantsStream = stream ?? request.headers[.accept]?.contains("text/event-stream") ?? false
        // The turn's admission (`beginTurn`, atomic) refuses a user over quota with 429. A stream's status is
        // sent before that, so a stream is checked first too, to be refused with the status rather than with
        // an `error` event (which it still gets if a concurrent turn took the rest meanwhile).
        let account = TurnAccount(userID: user.id, limits: self.backend.quotas.limits(for: user))
        if wantsStream, !account.limits.isUnlimited {
            let standing = try await self.backend.database.quotaStanding(
                userID: user.id, today: self.backend.quotas.clock.today)
            if let period = standing.exceeded(dailyLimit: account.limits.daily, monthlyLimit: account.limits.monthly) {
                self.backend.metrics?.turns.turnEnded(.refused)
                throw APIError(self.backend.quotas.refusal(period, limits: account.limits))
            }
        }
        return Admitted(sessions: sessions, account: account, model: model, wantsStream: wantsStream)
    }

    /// Queues the turn on the chat's session and answers with its stream, or with the reply once it is saved.
    private func start(
        _ input: TurnInput, in chatID: UUID, _ admitted: Admitted, request: Request, context: AppRequestContext
    ) async throws -> Response {
        let user = try context.requireUser()
        let (events, requester) = ReplyFollowers.makeStream()
        try await admitted.sessions.withSession(for: chatID) {
            try await $0.submit(
                input, model: admitted.model, account: admitted.account,
                requester: requester, wantsDeltas: admitted.wantsStream, requestID: context.requestID)
        }

        if admitted.wantsStream {
            return ServerSentEvents.response(
                chatID: chatID, events: events, continuation: requester, follower: self.follower(user),
                context: context)
        }
        var userMessageID: Int64 = 0
        for await event in events {
            switch event {
            case .started(let userMessage, _):
                userMessageID = userMessage.id
            case .delta, .keepAlive:
                continue
            case .finished(let message, let usage):
                guard message.status == .complete else { throw APIError.turnCancelled }
                return try ChatReplyResponse(
                    reply: message.content,
                    chatID: chatID.lowercasedString,
                    messageID: message.id,
                    userMessageID: userMessageID,
                    usage: usage.map(UsageResponse.init)
                ).response(from: request, context: context)
            case .failed(let failure, _):
                throw APIError(failure)
            }
        }
        throw APIError(.internalServerError, "The reply ended unexpectedly")
    }

    /// The stream's follower for the registry of waiting requests (ended on logout, disable, deletion).
    private func follower(_ user: UserRecord) -> ServerSentEvents.Follower {
        let backend = self.backend
        return ServerSentEvents.Follower(
            user: user, waits: backend.userWaits,
            stillAuthorized: { await backend.isStillAuthorized(user) })
    }

    /// GET /chats/{chat_id}/messages/{message_id}/stream: the reply so far, then live deltas until it ends.
    /// `Last-Event-ID` (an offset from an earlier `delta`) resumes without repeating text.
    @Sendable func reattach(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let chatID = try context.uuidParameter("chat_id")
        let messageID = try context.messageIDParameter()
        var offset = 0
        if let header = request.headers[.lastEventID] {
            guard let value = Int(header.trimmingWhitespace()), value >= 0 else {
                throw APIError.validation(
                    ValidationIssue(
                        loc: ["header", "Last-Event-ID"],
                        msg: "Input should be a whole number of at least 0 (the id of a delta event)",
                        type: "int_parsing"))
            }
            offset = value
        }
        guard let message = try await self.backend.database.message(id: messageID, chatID: chatID, ownerID: user.id),
            message.role == .assistant
        else { throw APIError.messageNotFound }

        let (events, continuation) = ReplyFollowers.makeStream()
        if message.status == .streaming, let session = self.backend.sessions?.existingSession(for: chatID),
            await session.follow(messageID: messageID, from: offset, into: continuation)
        {
            return ServerSentEvents.response(
                chatID: chatID, events: events, continuation: continuation, follower: self.follower(user),
                context: context)
        }
        if message.status == .streaming, self.backend.database.shared != nil {
            // Generated by another process: its text as that process saves it (every flush), then the end.
            let follow = Task { [backend = self.backend] in
                await Self.followSaved(
                    messageID: messageID, chatID: chatID, from: offset, backend: backend, into: continuation)
            }
            continuation.onTermination = { _ in follow.cancel() }
            return ServerSentEvents.response(
                chatID: chatID, events: events, continuation: continuation, follower: self.follower(user),
                context: context)
        }
        // Finished (or left behind by a crash): what was saved after the offset, then done.
        let saved = try await self.backend.database.message(id: messageID, chatID: chatID, ownerID: user.id) ?? message
        let length = saved.content.unicodeScalars.count
        if offset < length {
            let scalars = saved.content.unicodeScalars
            continuation.yield(
                .delta(String(scalars[scalars.index(scalars.startIndex, offsetBy: offset)...]), offset: length))
        }
        continuation.yield(.ended(saved))
        continuation.finish()
        return ServerSentEvents.response(
            chatID: chatID, events: events, continuation: continuation, follower: self.follower(user),
            context: context)
    }

    /// Follows a reply that another process generates, through what it saves: every time the chat changes,
    /// the text past what was sent goes out as a delta (offsets in Unicode scalars, as for local followers, so
    /// nothing is repeated or skipped), until the reply ends.
    private static func followSaved(
        messageID: Int64, chatID: UUID, from offset: Int, backend: ChatBackend,
        into continuation: AsyncStream<TurnEvent>.Continuation
    ) async {
        var sent = offset
        defer { continuation.finish() }
        let database = backend.database
        while !Task.isCancelled {
            let sentSoFar = sent
            let next = try? await backend.poll(chat: chatID, timeout: .seconds(30)) {
                guard let message = try await database.message(id: messageID, chatID: chatID, ownerID: nil) else {
                    return [MessageRecord]()
                }
                let grew = message.content.unicodeScalars.count > sentSoFar
                return grew || message.status != .streaming ? [message] : nil
            }
            guard let found = next else {
                // Nothing within the wait: go on following, unless the server is shutting down.
                if backend.sessions?.isShuttingDown ?? false { return }
                continue
            }
            guard let message = found.first else {
                continuation.yield(.failed(.chatNotFound, message: nil))
                return
            }
            let scalars = message.content.unicodeScalars
            if scalars.count > sent {
                continuation.yield(
                    .delta(String(scalars[scalars.index(scalars.startIndex, offsetBy: sent)...]), offset: scalars.count)
                )
                sent = scalars.count
            }
            guard message.status == .streaming else {
                continuation.yield(.ended(message))
                return
            }
        }
    }

    /// POST /chats/{chat_id}/cancel: stops the running reply and returns it as saved (status "cancelled").
    @Sendable func cancel(_ request: Request, context: AppRequestContext) async throws -> MessageResponse {
        let user = try context.requireUser()
        let chatID = try context.uuidParameter("chat_id")
        guard try await self.backend.database.chat(id: chatID, ownerID: user.id) != nil else {
            throw APIError.chatNotFound
        }
        let running: MessageRecord
        switch try await self.backend.cancelReply(in: chatID) {
        case .saved(let saved): return MessageResponse(saved)
        case .nothingRunning: throw APIError.conflict("No reply is being generated for this chat")
        case .requested(let reply): running = reply
        }
        // Generated by another process sharing the store, which was asked to stop it: wait until it is saved.
        let database = self.backend.database
        let saved = try await self.backend.poll(chat: chatID, timeout: .seconds(10)) {
            // No row: the chat was deleted meanwhile (answered with an empty list, as found).
            let message = try await database.message(id: running.id, chatID: chatID, ownerID: nil)
            return message?.status == .streaming ? nil : message.map { [$0] } ?? []
        }
        guard let saved else {
            throw APIError(.serviceUnavailable, "The reply did not stop in time", headers: [.retryAfter: "1"])
        }
        guard let message = saved.first else { throw APIError.chatNotFound }
        return MessageResponse(message)
    }
}

extension HTTPField.Name {
    static let lastEventID = Self("Last-Event-ID")!
}
