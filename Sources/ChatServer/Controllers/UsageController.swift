import ChatStorage
import ChatTurns
import Foundation
import Hummingbird

/// Token usage: a user's own per day with their quotas (GET /auth/me/usage), and every user's for admins
/// (GET /admin/usage) and per day (GET /admin/usage/daily). Days are UTC; a range is at most 366 days and defaults to the current month so far.
struct UsageController {
    let backend: ChatBackend

    static let longestRange = 366

    func addRoutes(own: RouterGroup<AppRequestContext>, admin: RouterGroup<AppRequestContext>) {
        own.get("me/usage", use: self.myUsage)
        admin.get("usage", use: self.allUsage)
        admin.get("usage/daily", use: self.dailyUsage)
    }

    @Sendable func myUsage(_ request: Request, context: AppRequestContext) async throws -> MyUsageResponse {
        let user = try context.requireUser()
        let (from, to) = try self.range(of: request)
        let database = self.backend.database
        let quotas = self.backend.quotas
        let today = quotas.clock.today
        async let days = database.usage(userID: user.id, from: from, to: to)
        let standing = try await database.quotaStanding(userID: user.id, today: today)
        let limits = quotas.limits(for: user)
        return MyUsageResponse(
            from: from, to: to, days: try await days,
            daily: QuotaResponse(
                limit: limits.daily, used: standing.usedToday, reserved: standing.reserved,
                resetsAt: QuotaPolicy.resetDay(of: .daily, today: today)),
            monthly: QuotaResponse(
                limit: limits.monthly, used: standing.usedThisMonth, reserved: standing.reserved,
                resetsAt: QuotaPolicy.resetDay(of: .monthly, today: today)))
    }

    @Sendable func allUsage(_ request: Request, context: AppRequestContext) async throws -> AdminUsageResponse {
        let (from, to) = try self.range(of: request)
        let limit = try request.integerQuery("limit", default: 50, in: 1...500)
        let offset = try request.integerQuery("offset", default: 0, in: 0...Int(Int32.max))
        let order: UsageOrder
        switch request.uri.queryParameters["sort"].map(String.init) {
        case nil: order = .tokens
        case let raw?:
            guard let parsed = UsageOrder(rawValue: raw) else {
                throw APIError.validation(
                    ValidationIssue(
                        loc: ["query", "sort"], msg: "Input should be 'tokens' or 'requests'", type: "enum"))
            }
            order = parsed
        }
        let page = try await self.backend.database.usageByUser(
            from: from, to: to, order: order, limit: limit, offset: offset)
        return AdminUsageResponse(from: from, to: to, users: page.users, userCount: page.userCount, totals: page.totals)
    }

    /// Every user's (or `user_id`'s) usage per day over the range, each day present (zeros without calls): one
    /// query, whatever the number of days.
    @Sendable func dailyUsage(_ request: Request, context: AppRequestContext) async throws -> AdminDailyUsageResponse {
        let (from, to) = try self.range(of: request)
        var userID: UUID?
        if let raw = request.uri.queryParameters["user_id"] {
            guard let id = UUID(canonical: String(raw)) else {
                throw APIError.validation(
                    ValidationIssue(
                        loc: ["query", "user_id"], msg: "Input should be a valid UUID", type: "uuid_parsing"))
            }
            guard try await self.backend.database.user(id: id) != nil else { throw APIError.userNotFound }
            userID = id
        }
        let used = try await self.backend.database.usagePerDay(from: from, to: to, userID: userID)
        return AdminDailyUsageResponse(from: from, to: to, userID: userID, days: used)
    }

    /// `from` and `to` (inclusive, `YYYY-MM-DD`): by default the first of this month through today.
    private func range(of request: Request) throws -> (from: UsageDay, to: UsageDay) {
        let today = self.backend.quotas.clock.today
        func day(_ name: String) throws -> UsageDay? {
            guard let raw = request.uri.queryParameters[name[...]] else { return nil }
            guard let day = UsageDay(iso: raw) else {
                throw APIError.validation(
                    ValidationIssue(
                        loc: ["query", .key(name)], msg: "Input should be a valid date in the format YYYY-MM-DD",
                        type: "date_from_datetime_parsing"))
            }
            return day
        }
        let to = try day("to") ?? today
        let from = try day("from") ?? to.monthStart
        guard from <= to else {
            throw APIError.validation(
                ValidationIssue(loc: ["query", "from"], msg: "Input should not be after 'to'", type: "value_error"))
        }
        guard to.number - from.number < Self.longestRange else {
            throw APIError.validation(
                ValidationIssue(
                    loc: ["query", "from"], msg: "The range should span at most \(Self.longestRange) days",
                    type: "value_error"))
        }
        return (from, to)
    }
}
