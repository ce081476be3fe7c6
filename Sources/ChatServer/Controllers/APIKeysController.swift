import ChatStorage
import ChatTurns
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// A user's API keys, managed with their JWT (an API key cannot reach these routes): create (the key is shown
/// once), list with this month's usage, delete. Admins list and delete anyone's.
struct APIKeysController {
    let backend: ChatBackend

    func addRoutes(own: RouterGroup<AppRequestContext>, admin: RouterGroup<AppRequestContext>) {
        own.post("me/api-keys", use: self.create)
        own.get("me/api-keys", use: self.list)
        own.delete("me/api-keys/:key_id", use: self.delete)
        admin.get("api-keys", use: self.adminList)
        admin.delete("api-keys/:key_id", use: self.adminDelete)
    }

    /// `name` (1–100 characters); `expires_in_days` (1–3650; absent: never); `models` (ids of GET /models, at
    /// least one; absent: every model on offer); `monthly_token_budget` (at least 1 token; absent: none).
    struct CreateRequest: ValidatedRequest {
        let name: String
        let expiresInDays: Int?
        let models: [String]?
        let monthlyTokenBudget: Int64?

        enum CodingKeys: String, CodingKey {
            case name
            case expiresInDays = "expires_in_days"
            case models
            case monthlyTokenBudget = "monthly_token_budget"
        }

        static let longestExpiry = 3650

        func validationIssues() -> [ValidationIssue] {
            var issues: [ValidationIssue] = []
            if let issue = ValidationIssue.text(of: self.name, in: 1...100, at: ["body", "name"]) {
                issues.append(issue)
            }
            if let days = self.expiresInDays, !(1...Self.longestExpiry).contains(days) {
                issues.append(
                    ValidationIssue(
                        loc: ["body", "expires_in_days"],
                        msg: "Input should be between 1 and \(Self.longestExpiry) days", type: "value_error"))
            }
            if let budget = self.monthlyTokenBudget, budget < 1 {
                issues.append(
                    ValidationIssue(
                        loc: ["body", "monthly_token_budget"], msg: "Input should be greater than or equal to 1",
                        type: "greater_than_equal"))
            }
            if let models = self.models, models.isEmpty {
                issues.append(
                    ValidationIssue(
                        loc: ["body", "models"], msg: "List should have at least 1 item after validation",
                        type: "too_short"))
            }
            return issues
        }
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> EditedResponse<
        APIKeyResponse
    > {
        let user = try context.requireUser()
        let body = try await request.decodeJSON(as: CreateRequest.self, context: context)
        var models: [String]?
        if let wanted = body.models {
            for (index, model) in wanted.enumerated() {
                try self.backend.models.requireOffered(model, at: ["body", "models", .index(index)])
            }
            // In the order given, each once.
            var seen = Set<String>()
            models = wanted.filter { seen.insert($0).inserted }
        }
        let secret = try APIKeySecret.generate()
        let expiresAt = body.expiresInDays.map { days in
            Timestamp(microseconds: Timestamp.now().microseconds + Int64(days) * 86_400 * 1_000_000)
        }
        let new = NewAPIKey(
            userID: user.id, name: body.name, hash: secret.hash, prefix: secret.prefix, expiresAt: expiresAt,
            models: models, monthlyTokenBudget: body.monthlyTokenBudget)
        switch try await self.backend.database.createAPIKey(new, limit: apiKeysPerUser) {
        case .created(let record):
            context.logger.notice(
                "API key created", metadata: ["user_id": "\(user.id.lowercasedString)", "prefix": "\(record.prefix)"])
            return EditedResponse(status: .created, response: APIKeyResponse(record: record, key: secret.key))
        case .limitReached:
            throw APIError.validation(
                ValidationIssue(
                    loc: ["body"], msg: "A user may hold at most \(apiKeysPerUser) API keys: delete one first",
                    type: "too_many_keys"))
        case .noSuchUser:
            throw APIError.unauthorized()
        }
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> JSONArray<APIKeyResponse> {
        try await self.listing(of: try context.requireUser().id)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let user = try context.requireUser()
        return try await self.delete(try context.uuidParameter("key_id"), of: user.id, context: context)
    }

    /// `user_id` (required): that user's keys, oldest first, with this month's usage.
    @Sendable func adminList(_ request: Request, context: AppRequestContext) async throws -> JSONArray<
        APIKeyResponse
    > {
        guard let raw = try request.textQuery("user_id") else {
            throw APIError.validation(.missing(["query", "user_id"]))
        }
        guard let userID = UUID(canonical: raw) else {
            throw APIError.validation(
                ValidationIssue(loc: ["query", "user_id"], msg: "Input should be a valid UUID", type: "uuid_parsing"))
        }
        guard try await self.backend.database.user(id: userID) != nil else { throw APIError.userNotFound }
        return try await self.listing(of: userID)
    }

    @Sendable func adminDelete(_ request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        try await self.delete(try context.uuidParameter("key_id"), of: nil, context: context)
    }

    private func listing(of userID: UUID) async throws -> JSONArray<APIKeyResponse> {
        let month = self.backend.quotas.clock.today.monthStart
        let keys = try await self.backend.database.apiKeys(userID: userID, month: month)
        return JSONArray(keys.map { APIKeyResponse(record: $0.key, usage: $0.usage) })
    }

    /// Deletes the key (only `owner`'s, when given): refused at once on every replica, as keys are read through.
    private func delete(_ keyID: UUID, of owner: UUID?, context: AppRequestContext) async throws
        -> HTTPResponse.Status
    {
        guard try await self.backend.database.deleteAPIKey(id: keyID, userID: owner) else {
            throw APIError.notFound("API key not found")
        }
        context.logger.notice(
            "API key deleted",
            metadata: ["key_id": "\(keyID.lowercasedString)", "by": "\(context.user?.id.lowercasedString ?? "-")"])
        return .noContent
    }
}
