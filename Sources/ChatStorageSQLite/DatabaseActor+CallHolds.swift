import ChatStorage
import Foundation

/// The tokens that running calls of the OpenAI-compatible door hold against their users' quotas and their
/// keys' budgets (``CallReservation``).
///
/// They live in a temporary table of the store's one connection: one process owns the file, so a hold lives
/// exactly as long as the process serving its call, and one left by a crash is gone with it. A quota check
/// adds them to what the user's running turns hold (``standing(_:today:on:)``).
extension DatabaseActor {
    static let createCallHolds = """
        CREATE TEMP TABLE call_holds (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL,
            api_key_id TEXT,
            tokens INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX temp.call_holds_by_user ON call_holds (user_id);
        CREATE INDEX temp.call_holds_by_key ON call_holds (api_key_id) WHERE api_key_id IS NOT NULL;
        """

    /// Admission and hold are one write: writes run one at a time on this thread, so nothing comes between
    /// the standing read and the insert.
    public func reserveCall(_ reservation: CallReservation) async throws -> CallHold {
        try await self.write { connection in
            var user: QuotaStanding?
            if reservation.limitsUser {
                let exists = try connection.queryOne(
                    "SELECT 1 FROM users WHERE id = ?", [.text(reservation.userID.lowercasedString)]
                ) { _ in true }
                guard exists == true else { throw StorageError.userGone }
                user = try Self.standing(reservation.userID, today: reservation.today, on: connection)
            }
            var key: KeyStanding?
            if let id = reservation.apiKey, reservation.keyBudget != nil {
                key = try Self.keyStanding(id, month: reservation.today.monthStart, on: connection)
                guard key != nil else { throw StorageError.userGone }
            }
            try reservation.admits(user: user, key: key)
            let id = try connection.queryOne(
                "INSERT INTO temp.call_holds (user_id, api_key_id, tokens) VALUES (?, ?, ?) RETURNING id",
                [
                    .text(reservation.userID.lowercasedString),
                    reservation.apiKey.map { .text($0.lowercasedString) } ?? .null, .int(reservation.tokens),
                ]
            ) { $0.int64(0) }
            guard let id else { throw StorageError.corruptRow("call_holds") }
            return CallHold(id: id)
        }
    }

    public func settleCall(_ charge: UsageCharge?, hold: CallHold?, apiKey: UUID?) async throws {
        try await self.write { connection in
            if let hold {
                try connection.run("DELETE FROM temp.call_holds WHERE id = ?", [.integer(hold.id)])
            }
            guard let charge else { return }
            try Self.account(charge, on: connection)
            guard let apiKey else { return }
            try connection.run(
                """
                INSERT INTO api_key_usage (key_id, month, requests, total_tokens)
                SELECT ?1, ?2, 1, ?3 WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?1)
                ON CONFLICT (key_id, month) DO UPDATE SET
                    requests = requests + 1, total_tokens = total_tokens + excluded.total_tokens
                """,
                [
                    .text(apiKey.lowercasedString), .int(charge.day.monthStart.number),
                    .integer(Int64(charge.promptTokens) + Int64(charge.completionTokens)),
                ])
        }
    }

    /// The key's tokens charged in the month beginning `month`, and held by its running calls; nil when the
    /// key was deleted.
    static func keyStanding(_ keyID: UUID, month: UsageDay, on connection: SQLiteConnection) throws -> KeyStanding? {
        try connection.queryOne(
            """
            SELECT coalesce((SELECT total_tokens FROM api_key_usage WHERE key_id = ?1 AND month = ?2), 0),
                coalesce((SELECT sum(tokens) FROM temp.call_holds WHERE api_key_id = ?1), 0)
            FROM api_keys WHERE id = ?1
            """,
            [.text(keyID.lowercasedString), .int(month.number)]
        ) { KeyStanding(usedThisMonth: $0.int64(0), held: $0.int64(1)) }
    }
}
