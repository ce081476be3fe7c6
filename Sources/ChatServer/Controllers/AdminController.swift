import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The admin area. Every route sits behind ``AdminOnlyMiddleware`` (403 for other users).
struct AdminController {
    let backend: ChatBackend

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("users", use: self.users)
        group.patch("users/:user_id", use: self.updateUser)
        group.delete("users/:user_id", use: self.deleteUser)
        group.patch("users/:user_id/role", use: self.setRole)
        group.get("users/:user_id/chats", use: self.userChats)
        group.get("chats/:chat_id/messages", use: self.chatMessages)
    }

    struct RoleRequest: ValidatedRequest {
        let role: String

        func validationIssues() -> [ValidationIssue] {
            UserRole(rawValue: self.role) == nil
                ? [ValidationIssue(loc: ["body", "role"], msg: "Input should be 'user' or 'admin'", type: "enum")] : []
        }
    }

    struct UpdateUserRequest: ValidatedRequest {
        let disabled: Bool

        func validationIssues() -> [ValidationIssue] { [] }
    }

    /// Disables a user (their tokens stop working at once, login answers 403) or enables them again.
    @Sendable func updateUser(_ request: Request, context: AppRequestContext) async throws -> UserResponse {
        let userID = try context.uuidParameter("user_id")
        let body = try await request.decodeJSON(as: UpdateUserRequest.self, context: context)
        do {
            guard let user = try await self.backend.database.setDisabled(userID: userID, disabled: body.disabled)
            else { throw APIError.userNotFound }
            // A disabled user's streams and long-polls end now (401), and their replies stop.
            if body.disabled { try await self.backend.endWaits(of: userID, stopTurns: true) }
            context.logger.notice(
                body.disabled ? "user disabled" : "user enabled",
                metadata: [
                    "user_id": "\(userID.lowercasedString)", "by": "\(context.user?.id.lowercasedString ?? "-")",
                ]
            )
            return UserResponse(user)
        } catch StorageError.lastAdmin {
            throw APIError.conflict("Cannot disable the last admin")
        }
    }

    /// Deletes a user and, with them, their chats and messages; their running replies are stopped first.
    @Sendable func deleteUser(_ request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let userID = try context.uuidParameter("user_id")
        let database = self.backend.database
        guard let user = try await database.user(id: userID) else { throw APIError.userNotFound }
        // Checked again inside the deleting transaction; checked first so that no reply is stopped in vain.
        if user.role == .admin, !user.disabled, try await database.activeAdminCount() <= 1 {
            throw APIError.conflict("Cannot delete the last admin")
        }
        try await self.backend.endWaits(of: userID, stopTurns: true)
        do {
            guard try await database.deleteUser(id: userID) else { throw APIError.userNotFound }
        } catch StorageError.lastAdmin {
            throw APIError.conflict("Cannot delete the last admin")
        }
        context.logger.notice(
            "user deleted",
            metadata: ["user_id": "\(userID.lowercasedString)", "by": "\(context.user?.id.lowercasedString ?? "-")"]
        )
        return .noContent
    }

    /// Users oldest first; the total is in `X-Total-Count`.
    @Sendable func users(_ request: Request, context: AppRequestContext) async throws -> Response {
        let limit = try request.integerQuery("limit", default: 100, in: 1...500)
        let offset = try request.integerQuery("offset", default: 0, in: 0...Int(Int32.max))
        let page = try await self.backend.database.users(limit: limit, offset: offset)
        var response = try JSONArray(page.users.map(UserResponse.init)).response(from: request, context: context)
        response.headers[.totalCount] = String(page.total)
        return response
    }

    @Sendable func setRole(_ request: Request, context: AppRequestContext) async throws -> UserResponse {
        let userID = try context.uuidParameter("user_id")
        let body = try await request.decodeJSON(as: RoleRequest.self, context: context)
        guard let role = UserRole(rawValue: body.role) else { throw APIError.validation(body.validationIssues()[0]) }
        do {
            guard let user = try await self.backend.database.setRole(userID: userID, role: role) else {
                throw APIError.userNotFound
            }
            // Waiting requests were authorised under the old role: they end, and the user reconnects.
            try await self.backend.endWaits(of: userID, stopTurns: false)
            context.logger.notice(
                "role changed",
                metadata: [
                    "user_id": "\(userID.lowercasedString)", "role": "\(role.rawValue)",
                    "by": "\(context.user?.id.lowercasedString ?? "-")",
                ]
            )
            return UserResponse(user)
        } catch StorageError.lastAdmin {
            throw APIError.conflict("Cannot demote the last admin")
        }
    }

    /// The reference's shape: `{"chats": [...], "total": N}`, like GET /chats.
    @Sendable func userChats(_ request: Request, context: AppRequestContext) async throws -> ChatListResponse {
        let userID = try context.uuidParameter("user_id")
        let limit = try request.integerQuery("limit", default: 50, in: 1...100)
        let offset = try request.integerQuery("offset", default: 0, in: 0...Int(Int32.max))
        guard try await self.backend.database.user(id: userID) != nil else { throw APIError.userNotFound }
        let page = try await self.backend.database.chats(ownerID: userID, limit: limit, offset: offset)
        return ChatListResponse(chats: page.chats.map(ChatResponse.init), total: page.total)
    }

    @Sendable func chatMessages(_ request: Request, context: AppRequestContext) async throws -> Response {
        let chatID = try context.uuidParameter("chat_id")
        return try await ChatsController.listing(of: chatID, ownerID: nil, request: request, backend: self.backend)
    }
}

extension HTTPField.Name {
    static let totalCount = Self("X-Total-Count")!
}
