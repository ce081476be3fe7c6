import ChatStorage
import ChatTurns
import Foundation
import Hummingbird

/// A chat's branches: the whole message tree (GET /chats/{id}/messages?tree=true) and switching the active
/// path (POST /chats/{id}/active). New branches come from turns (``ChatTurnController``: regenerate, edit).
struct BranchesController {
    let backend: ChatBackend

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post(":chat_id/active", use: self.activate)
    }

    /// GET /chats/{id}/messages?tree=true: every message of every branch, oldest first (`after`, `limit` as
    /// for the list), each with its parent, its siblings and whether it is on the active path. Answers at once
    /// (no long-poll: `wait` follows the active path).
    static func tree(of chatID: UUID, ownerID: UUID, request: Request, backend: ChatBackend) async throws
        -> Response
    {
        let limit = try request.integerQuery("limit", default: 100, in: 1...500)
        let after = try request.integerQuery("after", default: 0, in: 0...Int.max)
        guard
            var messages = try await backend.database.allMessages(
                chatID: chatID, ownerID: ownerID, after: Int64(after), limit: limit),
            // Read after the page, so it has every message of the page (messages only go with their chat).
            let tree = try await backend.database.messageTree(chatID: chatID, ownerID: ownerID)
        else { throw APIError.chatNotFound }
        let children = tree.children
        if messages.contains(where: { $0.status == .streaming }),
            let session = backend.sessions?.existingSession(for: chatID)
        {
            messages = await session.overlay(messages)
        }
        let chat = chatID.lowercasedString
        let listing = messages.map { message in
            TreeMessageResponse(
                message: MessageResponse(message, chatID: chat), siblingIDs: children[message.parentID] ?? [message.id],
                active: message.onActivePath)
        }
        return .json(JSONArray(listing).encoded)
    }

    struct ActivateRequest: ValidatedRequest {
        let messageID: Int64

        enum CodingKeys: String, CodingKey {
            case messageID = "message_id"
        }

        func validationIssues() -> [ValidationIssue] {
            guard self.messageID < 1 else { return [] }
            return [
                ValidationIssue(
                    loc: ["body", "message_id"], msg: "Input should be greater than or equal to 1",
                    type: "greater_than_equal")
            ]
        }
    }

    /// POST /chats/{id}/active {message_id}: the branch through that message becomes the chat's active path
    /// (the message's ancestors, itself, then its newest descendants down to a leaf). 409 while a reply of the
    /// chat is being generated. Long-polls on the chat wake up, and the next turn continues the new path.
    @Sendable func activate(_ request: Request, context: AppRequestContext) async throws -> ActivePathResponse {
        let user = try context.requireUser()
        let chatID = try context.uuidParameter("chat_id")
        let database = self.backend.database
        // Another user's chat is 404 whatever the body, as on every chat route.
        guard try await database.chat(id: chatID, ownerID: user.id) != nil else { throw APIError.chatNotFound }
        let body = try await request.decodeJSON(as: ActivateRequest.self, context: context)
        let path: [Int64]?
        do {
            path = try await database.activateBranch(chatID: chatID, ownerID: user.id, messageID: body.messageID)
        } catch StorageError.chatBusy {
            throw APIError.conflict("A reply is being generated in this chat: switch branches once it has ended")
        }
        guard let path else { throw APIError.messageNotFound }
        if let session = self.backend.sessions?.existingSession(for: chatID) { await session.remoteChanged() }
        return ActivePathResponse(chatID: chatID.lowercasedString, path: path)
    }
}
