import ChatStorage
import Foundation

/// Token usage per user per UTC day (`usage_daily`) and the quotas checked against it.
extension DatabaseActor {
    /// Adds one upstream call to its user's row for the day, in the caller's transaction; nothing when the
    /// user was deleted meanwhile (their usage went with them).
    static func account(_ charge: UsageCharge, on connection: SQLiteConnection) throws {
        try connection.run(
            """
            INSERT INTO usage_daily (user_id, day, requests, prompt_tokens, completion_tokens, estimated_requests)
            SELECT ?1, ?2, 1, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1)
            ON CONFLICT (user_id, day) DO UPDATE SET
                requests = requests + 1,
                prompt_tokens = prompt_tokens + excluded.prompt_tokens,
                completion_tokens = completion_tokens + excluded.completion_tokens,
                estimated_requests = estimated_requests + excluded.estimated_requests
            """,
            [
                .text(charge.userID.lowercasedString), .int(charge.day.number), .int(charge.promptTokens),
                .int(charge.completionTokens), .int(charge.estimated ? 1 : 0),
            ]
        )
    }

    /// Tokens used today and this month (at most 31 rows), and held by the user's `streaming` replies (their
    /// sum, kept on the user's row by triggers) and running calls of the door (``createCallHolds``).
    static func standing(_ userID: UUID, today: UsageDay, on connection: SQLiteConnection) throws -> QuotaStanding {
        let user = SQLiteValue.text(userID.lowercasedString)
        let used =
            try connection.queryOne(
                """
                SELECT coalesce(sum(CASE WHEN day = ?2 THEN prompt_tokens + completion_tokens END), 0),
                    coalesce(sum(prompt_tokens + completion_tokens), 0)
                FROM usage_daily WHERE user_id = ?1 AND day BETWEEN ?3 AND ?2
                """,
                [user, .int(today.number), .int(today.monthStart.number)]
            ) { ($0.int64(0), $0.int64(1)) } ?? (0, 0)
        let reserved =
            try connection.queryOne(
                """
                SELECT reserved_tokens + coalesce((SELECT sum(tokens) FROM temp.call_holds WHERE user_id = ?1), 0)
                FROM users WHERE id = ?1
                """,
                [user]
            ) { $0.int64(0) } ?? 0
        return QuotaStanding(usedToday: used.0, usedThisMonth: used.1, reserved: reserved)
    }

    public func quotaStanding(userID: UUID, today: UsageDay) throws -> QuotaStanding {
        try self.checkOpen()
        return try Self.standing(userID, today: today, on: self.connection)
    }

    /// Requests, prompt tokens, completion tokens and estimated requests, in the row's columns from `first` on.
    static func decodeUsageTotals(_ row: Row, from first: Int32) -> UsageTotals {
        UsageTotals(
            requests: row.int64(first), promptTokens: row.int64(first + 1), completionTokens: row.int64(first + 2),
            estimatedRequests: row.int64(first + 3))
    }

    public func usage(userID: UUID, from: UsageDay, to: UsageDay) throws -> [UsageDayRecord] {
        try self.checkOpen()
        return try self.connection.query(
            """
            SELECT day, requests, prompt_tokens, completion_tokens, estimated_requests FROM usage_daily
            WHERE user_id = ? AND day BETWEEN ? AND ? ORDER BY day
            """,
            [.text(userID.lowercasedString), .int(from.number), .int(to.number)]
        ) { row in
            UsageDayRecord(
                userID: userID, day: UsageDay(number: row.int(0)),
                totals: Self.decodeUsageTotals(row, from: 1))
        }
    }

    public func usageByUser(from: UsageDay, to: UsageDay, order: UsageOrder, limit: Int, offset: Int) throws
        -> (users: [UserUsage], userCount: Int, totals: UsageTotals)
    {
        try self.checkOpen()
        let range: [SQLiteValue] = [.int(from.number), .int(to.number)]
        let totals =
            try self.connection.queryOne(
                """
                SELECT count(DISTINCT user_id), coalesce(sum(requests), 0), coalesce(sum(prompt_tokens), 0),
                    coalesce(sum(completion_tokens), 0), coalesce(sum(estimated_requests), 0)
                FROM usage_daily WHERE day BETWEEN ? AND ?
                """,
                range
            ) { row in
                (
                    row.int(0),
                    Self.decodeUsageTotals(row, from: 1)
                )
            } ?? (0, UsageTotals())
        // The order is one of two fixed texts, never the caller's.
        let key = order == .tokens ? "sum(u.prompt_tokens + u.completion_tokens)" : "sum(u.requests)"
        let users = try self.connection.query(
            """
            SELECT u.user_id, users.email, sum(u.requests), sum(u.prompt_tokens), sum(u.completion_tokens),
                sum(u.estimated_requests)
            FROM usage_daily u JOIN users ON users.id = u.user_id
            WHERE u.day BETWEEN ? AND ?
            GROUP BY u.user_id ORDER BY \(key) DESC, u.user_id LIMIT ? OFFSET ?
            """,
            range + [.int(limit), .int(offset)]
        ) { row in
            guard let id = row.uuid(0) else { throw StorageError.corruptRow("usage_daily") }
            return UserUsage(
                userID: id, email: row.text(1),
                totals: Self.decodeUsageTotals(row, from: 2))
        }
        return (users, totals.0, totals.1)
    }

    public func usagePerDay(from: UsageDay, to: UsageDay, userID: UUID?) throws -> [DailyUsage] {
        try self.checkOpen()
        // One of two fixed texts, never the caller's: a user's rows by the primary key, or every user's by day.
        let user = userID == nil ? "" : "AND user_id = ?"
        return try self.connection.query(
            """
            SELECT day, sum(requests), sum(prompt_tokens), sum(completion_tokens), sum(estimated_requests)
            FROM usage_daily WHERE day BETWEEN ? AND ? \(user) GROUP BY day ORDER BY day
            """,
            [.int(from.number), .int(to.number)] + (userID.map { [.text($0.lowercasedString)] } ?? [])
        ) { row in
            DailyUsage(
                day: UsageDay(number: row.int(0)),
                totals: Self.decodeUsageTotals(row, from: 1))
        }
    }

    func writeTokenQuotas(userID: UUID, daily: Int64?, monthly: Int64?) async throws -> UserRecord? {
        let arguments: [SQLiteValue] = [
            daily.map { .integer($0) } ?? .null, monthly.map { .integer($0) } ?? .null, .text(userID.lowercasedString),
        ]
        return try await self.write { connection in
            try connection.queryOne(
                """
                UPDATE users SET daily_token_quota = ?, monthly_token_quota = ? WHERE id = ?
                RETURNING \(Self.userColumns)
                """,
                arguments, Self.decodeUser)
        }
    }
}
