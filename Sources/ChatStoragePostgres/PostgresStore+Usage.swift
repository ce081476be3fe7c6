import ChatStorage
import Foundation
import PostgresNIO

/// The slots of a user's day in `usage_daily` (migration 15): a reply's end adds to the slot of its message id
/// modulo ``count``, any other charge to a random one, so two of one user's charges queue on the same row only
/// when their slots meet. Readers sum the slots.
enum UsageSlots {
    static let count = 16
}

/// Token usage per user per UTC day (`usage_daily`, summed over its ``UsageSlots``) and the quotas checked
/// against it. A reply's usage is written by ``FinishMessageStatement`` and a turn's admission by `begin_turn`;
/// these are the rest.
extension PostgresStore {
    /// Adds one upstream call to its user's row for the day; nothing when the user was deleted meanwhile.
    static func accountQuery(_ charge: UsageCharge) -> PostgresQuery {
        Self.accountQuery(charge, releasing: nil, apiKey: nil)
    }

    /// One statement (so one round trip, committed whole) that adds `charge` to its user's row for the day
    /// and, with `apiKey`, its tokens to that key's month, and deletes the reservation `releasing`; each part
    /// does nothing when its row is gone (a user, a key deleted meanwhile) or its argument nil.
    static func accountQuery(_ charge: UsageCharge, releasing hold: Int64?, apiKey: UUID?) -> PostgresQuery {
        """
        WITH released AS (
            DELETE FROM reservations WHERE id = \(hold)
        ), keyed AS (
            INSERT INTO api_key_usage (key_id, month, requests, total_tokens)
            SELECT k.id, \(Int32(clamping: charge.day.monthStart.number)), 1,
                \(Int64(charge.promptTokens) + Int64(charge.completionTokens))
            FROM api_keys k WHERE k.id = \(apiKey)
            ON CONFLICT (key_id, month) DO UPDATE SET requests = api_key_usage.requests + 1,
                total_tokens = api_key_usage.total_tokens + excluded.total_tokens
        )
        INSERT INTO usage_daily (user_id, day, slot, requests, prompt_tokens, completion_tokens, estimated_requests)
        SELECT \(charge.userID), \(Int32(clamping: charge.day.number)),
            \(Int16.random(in: 0..<Int16(UsageSlots.count))), 1, \(Int64(charge.promptTokens)),
            \(Int64(charge.completionTokens)), \(Int64(charge.estimated ? 1 : 0))
        WHERE EXISTS (SELECT 1 FROM users WHERE id = \(charge.userID))
        ON CONFLICT (user_id, day, slot) DO UPDATE SET requests = usage_daily.requests + 1,
            prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
            completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
            estimated_requests = usage_daily.estimated_requests + excluded.estimated_requests
        """
    }

    public func quotaStanding(userID: UUID, today: UsageDay) async throws -> QuotaStanding {
        try await self.one(Self.standingQuery(userID, today: today), Self.decodeStanding)
            ?? QuotaStanding(usedToday: 0, usedThisMonth: 0, reserved: 0)
    }

    /// The user's tokens used today and this month, and held by their running replies and calls.
    static func standingQuery(_ userID: UUID, today: UsageDay) -> PostgresQuery {
        let (day, monthStart) = (Int32(clamping: today.number), Int32(clamping: today.monthStart.number))
        return """
            SELECT coalesce(sum(prompt_tokens + completion_tokens) FILTER (WHERE day = \(day)), 0)::bigint,
                coalesce(sum(prompt_tokens + completion_tokens), 0)::bigint,
                (SELECT coalesce(sum(tokens), 0)::bigint FROM reservations WHERE user_id = \(userID))
            FROM usage_daily WHERE user_id = \(userID) AND day BETWEEN \(monthStart) AND \(day)
            """
    }

    @Sendable static func decodeStanding(_ row: PostgresRow) throws -> QuotaStanding {
        var cells = RowCells(row, of: "usage_daily")
        let today = try cells.next(Int64.self)
        let month = try cells.next(Int64.self)
        let reserved = try cells.next(Int64?.self)
        return QuotaStanding(usedToday: today, usedThisMonth: month, reserved: reserved ?? 0)
    }

    public func usage(userID: UUID, from: UsageDay, to: UsageDay) async throws -> [UsageDayRecord] {
        try await self.rows(
            """
            SELECT day, sum(requests)::bigint, sum(prompt_tokens)::bigint, sum(completion_tokens)::bigint,
                sum(estimated_requests)::bigint
            FROM usage_daily
            WHERE user_id = \(userID) AND day BETWEEN \(Int32(clamping: from.number)) AND \(Int32(clamping: to.number))
            GROUP BY day ORDER BY day
            """
        ) { row in
            var cells = RowCells(row, of: "usage_daily")
            let day = try cells.next(Int32.self)
            return UsageDayRecord(userID: userID, day: UsageDay(number: Int(day)), totals: try cells.usageTotals())
        }
    }

    public func usageByUser(from: UsageDay, to: UsageDay, order: UsageOrder, limit: Int, offset: Int) async throws
        -> (users: [UserUsage], userCount: Int, totals: UsageTotals)
    {
        let (first, last) = (Int32(clamping: from.number), Int32(clamping: to.number))
        let totals = try await self.one(
            """
            SELECT count(DISTINCT user_id), coalesce(sum(requests), 0)::bigint, coalesce(sum(prompt_tokens), 0)::bigint,
                coalesce(sum(completion_tokens), 0)::bigint, coalesce(sum(estimated_requests), 0)::bigint
            FROM usage_daily WHERE day BETWEEN \(first) AND \(last)
            """
        ) { row in
            var cells = RowCells(row, of: "usage_daily")
            let users = try cells.next(Int64.self)
            return (Int(users), try cells.usageTotals())
        }
        // The order is one of two fixed texts, never the caller's.
        let key = order == .tokens ? "sum(u.prompt_tokens + u.completion_tokens)" : "sum(u.requests)"
        let users = try await self.rows(
            """
            SELECT u.user_id, users.email, sum(u.requests)::bigint, sum(u.prompt_tokens)::bigint,
                sum(u.completion_tokens)::bigint, sum(u.estimated_requests)::bigint
            FROM usage_daily u JOIN users ON users.id = u.user_id
            WHERE u.day BETWEEN \(first) AND \(last)
            GROUP BY u.user_id, users.email ORDER BY \(unescaped: key) DESC, u.user_id
            LIMIT \(Int64(limit)) OFFSET \(Int64(offset))
            """
        ) { row in
            var cells = RowCells(row, of: "usage_daily")
            let id = try cells.next(UUID.self)
            let email = try cells.next(String.self)
            return UserUsage(userID: id, email: email, totals: try cells.usageTotals())
        }
        return (users, totals?.0 ?? 0, totals?.1 ?? UsageTotals())
    }

    public func usagePerDay(from: UsageDay, to: UsageDay, userID: UUID?) async throws -> [DailyUsage] {
        // A NULL user keeps every row; the planner folds the constant away.
        try await self.rows(
            """
            SELECT day, sum(requests)::bigint, sum(prompt_tokens)::bigint, sum(completion_tokens)::bigint,
                sum(estimated_requests)::bigint
            FROM usage_daily
            WHERE day BETWEEN \(Int32(clamping: from.number)) AND \(Int32(clamping: to.number))
                AND (\(userID)::uuid IS NULL OR user_id = \(userID))
            GROUP BY day ORDER BY day
            """
        ) { row in
            var cells = RowCells(row, of: "usage_daily")
            let day = try cells.next(Int32.self)
            return DailyUsage(day: UsageDay(number: Int(day)), totals: try cells.usageTotals())
        }
    }

    func writeTokenQuotas(userID: UUID, daily: Int64?, monthly: Int64?) async throws -> UserRecord? {
        try await self.write(
            """
            UPDATE users SET daily_token_quota = \(daily), monthly_token_quota = \(monthly) WHERE id = \(userID)
            RETURNING \(unescaped: Self.userColumns)
            """,
            Self.decodeUser
        ).first
    }
}
