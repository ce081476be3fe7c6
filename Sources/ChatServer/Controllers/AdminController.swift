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

    /// Any of: `disabled`; `daily_token_quota` / `monthly_token_quota` (a number of tokens, 0 for unlimited,
    /// or null for the deployment's default). Absent fields stay as they are.
    struct UpdateUserRequest: ValidatedRequest {
        let disabled: Bool?
        /// Outer nil: absent; inner nil: null.
        let dailyTokenQuota: Int64??
        let monthlyTokenQuota: Int64??

        enum CodingKeys: String, CodingKey {
            case disabled
            case dailyTokenQuota = "daily_token_quota"
            case monthlyTokenQuota = "monthly_token_quota"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            func quota(_ key: CodingKeys) throws -> Int64?? {
                guard container.contains(key) else { return .none }
                return .some(try container.decodeNil(forKey: key) ? nil : try container.decode(Int64.self, forKey: key))
            }
            self.disabled = try container.decodeIfPresent(Bool.self, forKey: .disabled)
            self.dailyTokenQuota = try quota(.dailyTokenQuota)
            self.monthlyTokenQuota = try quota(.monthlyTokenQuota)
        }

        var changesQuotas: Bool { self.dailyTokenQuota != nil || self.monthlyTokenQuota != nil }

        func validationIssues() -> [ValidationIssue] {
            var issues: [ValidationIssue] = []
            if self.disabled == nil && !self.changesQuotas {
                issues.append(
                    ValidationIssue(
                        loc: ["body"], msg: "Give at least one of disabled, daily_token_quota, monthly_token_quota",
                        type: "missing"))
            }
            for (key, value) in [
                ("daily_token_quota", self.dailyTokenQuota), ("monthly_token_quota", self.monthlyTokenQuota),
            ]
            where (value ?? nil).map({ $0 < 0 }) == true {
                issues.append(
                    ValidationIssue(
                        loc: ["body", .key(key)], msg: "Input should be greater than or equal to 0",
                        type: "greater_than_equal"))
            }
            return issues
        }
    }

    /// Disables a user (their tokens stop working at once, login answers 403) or enables them again, and sets
    /// their own token quotas.
    @Sendable func updateUser(_ request: Request, context: AppRequestContext) async throws -> UserResponse {
        let userID = try context.uuidParameter("user_id")
        let body = try await request.decodeJSON(as: UpdateUserRequest.self, context: context)
        let database = self.backend.database
        var updated: UserRecord?
        if let disabled = body.disabled {
            do {
                guard let user = try await database.setDisabled(userID: userID, disabled: disabled) else {
                    throw APIError.userNotFound
                }
                updated = user
            } catch StorageError.lastAdmin {
                throw APIError.conflict("Cannot disable the last admin")
            }
            // A disabled user's streams and long-polls end now (401), and their replies stop.
            if disabled { try await self.backend.endWaits(of: userID, .sessionEnded, stopTurns: true) }
            context.logger.notice(
                disabled ? "user disabled" : "user enabled",
                metadata: [
                    "user_id": "\(userID.lowercasedString)", "by": "\(context.user?.id.lowercasedString ?? "-")",
                ]
            )
        }
        if body.changesQuotas {
            let found: UserRecord? = if let updated { updated } else { try await database.user(id: userID) }
            guard let current = found else { throw APIError.userNotFound }
            guard
                let user = try await database.setTokenQuotas(
                    userID: userID, daily: body.dailyTokenQuota ?? current.dailyTokenQuota,
                    monthly: body.monthlyTokenQuota ?? current.monthlyTokenQuota)
            else { throw APIError.userNotFound }
            updated = user
            context.logger.notice(
                "token quotas set",
                metadata: [
                    "user_id": "\(userID.lowercasedString)",
                    "daily": "\(user.dailyTokenQuota.map(String.init) ?? "default")",
                    "monthly": "\(user.monthlyTokenQuota.map(String.init) ?? "default")",
                    "by": "\(context.user?.id.lowercasedString ?? "-")",
                ]
            )
        }
        guard let updated else { throw APIError.userNotFound }
        return UserResponse(updated, admin: true)
    }

    /// Deletes a user and, with them, their chats and messages; their running replies are stopped first.
    @Sendable func deleteUser(_ request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let userID = try context.uuidParameter("user_id")
        let database = self.backend.database
        guard let user = try await database.user(id: userID) else { throw APIError.userNotFound }
        // Checked again inside the deleting transaction; checked first so that no reply is stopped in vain.
        do {
            try await AccountRules.check(.deletion, of: user, activeAdmins: database.activeAdminCount)
            try await self.backend.endWaits(of: userID, .sessionEnded, stopTurns: true)
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

    /// Users oldest first, with `email` only those whose email contains it (in any letter case, every character
    /// literal); the total (of those found) is in `X-Total-Count`.
    @Sendable func users(_ request: Request, context: AppRequestContext) async throws -> Response {
        let limit = try request.integerQuery("limit", default: 100, in: 1...500)
        let offset = try request.integerQuery("offset", default: 0, in: 0...Int(Int32.max))
        let email = try Self.emailQuery(of: request)
        let page = try await self.backend.database.users(limit: limit, offset: offset, emailContaining: email)
        var response = try JSONArray(page.users.map { UserResponse($0, admin: true) }).response(
            from: request, context: context)
        response.headers[.totalCount] = String(page.total)
        return response
    }

    /// `email` (percent-decoded, `+` kept: emails hold plus signs, never spaces), normalised as stored emails are
    /// (trimmed, NFC, lower-cased); 422 when it is empty then, longer than an email can be, or holds NUL.
    static func emailQuery(of request: Request) throws(APIError) -> String? {
        guard let raw = try request.textQuery("email", plusIsSpace: false) else { return nil }
        let needle = EmailAddress.normalize(raw)
        if let issue = ValidationIssue.text(of: needle, in: 1...EmailAddress.maximumLength, at: ["query", "email"]) {
            throw .validation(issue)
        }
        return needle
    }

    @Sendable func setRole(_ request: Request, context: AppRequestContext) async throws -> UserResponse {
        let userID = try context.uuidParameter("user_id")
        let body = try await request.decodeJSON(as: RoleRequest.self, context: context)
        guard let role = UserRole(rawValue: body.role) else { throw APIError.validation(body.validationIssues()[0]) }
        do {
            guard let user = try await self.backend.database.setRole(userID: userID, role: role) else {
                throw APIError.userNotFound
            }
            // Waiting requests were authorised under the old role: they end (409), and the user reconnects.
            try await self.backend.endWaits(of: userID, .roleChanged, stopTurns: false)
            context.logger.notice(
                "role changed",
                metadata: [
                    "user_id": "\(userID.lowercasedString)", "role": "\(role.rawValue)",
                    "by": "\(context.user?.id.lowercasedString ?? "-")",
                ]
            )
            return UserResponse(user, admin: true)
        } catch StorageError.lastAdmin {
            throw APIError.conflict("Cannot demote the last admin")
        }
    }

    /// The reference's shape: `{"chats": [...], "total": N}`, like GET /chats.
    @Sendable func userChats(_ request: Request, context: AppRequestContext) async throws -> ChatListResponse {
        let userID = try context.uuidParameter("user_id")
        let limit = try request.integerQuery("limit", default: 50, in: 1...100)
        let offset = try request.integerQuery("offset", default: 0, in: 0...Int(Int32.max))
        let archived = try request.booleanQuery("archived", default: false)
        guard try await self.backend.database.user(id: userID) != nil else { throw APIError.userNotFound }
        let page = try await self.backend.database.chats(
            ownerID: userID, archived: archived, limit: limit, offset: offset)
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
