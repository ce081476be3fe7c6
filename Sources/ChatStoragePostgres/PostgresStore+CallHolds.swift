import ChatStorage
import Foundation
import PostgresNIO

/// The tokens that running calls of the OpenAI-compatible door hold against their users' quotas and their
/// keys' budgets (``CallReservation``): rows of `reservations` beside running replies' (migration 26), each
/// with the replica serving the call, so a hold left by a replica that stopped is released when its lease runs
/// out (``releaseLapsedCallHolds()``).
extension PostgresStore {
    /// Admission and hold in one transaction. The user's row is locked as `begin_turn` locks it, so one user's
    /// turns and calls are admitted one at a time on every replica; with a budget the key's row is locked too
    /// (after the user's, the one order every path takes).
    public func reserveCall(_ reservation: CallReservation) async throws -> CallHold {
        let replica = self.replicaID
        return try await self.transaction { transaction in
            var user: QuotaStanding?
            if reservation.limitsUser {
                let locked = try await transaction.one(
                    "SELECT 1 FROM users WHERE id = \(reservation.userID) FOR NO KEY UPDATE", { _ in true })
                guard locked == true else { throw StorageError.userGone }
                user = try await transaction.one(
                    Self.standingQuery(reservation.userID, today: reservation.today), Self.decodeStanding)
            }
            var key: KeyStanding?
            if let id = reservation.apiKey, reservation.keyBudget != nil {
                let locked = try await transaction.one(
                    "SELECT 1 FROM api_keys WHERE id = \(id) FOR NO KEY UPDATE", { _ in true })
                guard locked == true else { throw StorageError.userGone }
                key = try await transaction.one(Self.keyStandingQuery(id, month: reservation.today.monthStart)) {
                    row in
                    var cells = RowCells(row, of: "api_keys")
                    return KeyStanding(usedThisMonth: try cells.next(Int64.self), held: try cells.next(Int64.self))
                }
            }
            try reservation.admits(user: user, key: key)
            let id = try await transaction.one(
                """
                INSERT INTO reservations (user_id, tokens, replica_id, api_key_id)
                VALUES (\(reservation.userID), \(Int64(reservation.tokens)), \(replica), \(reservation.apiKey))
                RETURNING id
                """,
                { try $0.decode(Int64.self) })
            guard let id else { throw StorageError.corruptRow("reservations") }
            return CallHold(id: id)
        }
    }

    /// The key's tokens charged in the month beginning `month` and held by its running calls. Read in a
    /// statement after the one that locked the key's row: a statement's snapshot is taken when it starts, so
    /// one that waited for the lock would sum the holds as they were before it waited.
    static func keyStandingQuery(_ keyID: UUID, month: UsageDay) -> PostgresQuery {
        """
        SELECT coalesce((SELECT total_tokens FROM api_key_usage
                WHERE key_id = \(keyID) AND month = \(Int32(clamping: month.number))), 0)::bigint,
            (SELECT coalesce(sum(tokens), 0)::bigint FROM reservations WHERE api_key_id = \(keyID))
        """
    }

    /// One statement, so one round trip: its parts commit together or not at all (``accountQuery(_:releasing:apiKey:)``).
    public func settleCall(_ charge: UsageCharge?, hold: CallHold?, apiKey: UUID?) async throws {
        if let charge {
            try await self.execute(Self.accountQuery(charge, releasing: hold?.id, apiKey: apiKey))
        } else if let hold {
            try await self.execute("DELETE FROM reservations WHERE id = \(hold.id)")
        }
    }

    /// Releases the holds of calls whose replica's lease ran out (it stopped while they ran); a live
    /// replica's holds are never touched.
    @discardableResult
    public func releaseLapsedCallHolds() async throws -> Int {
        let lease = Int64(Self.lease.components.seconds)
        return try await self.write(
            """
            DELETE FROM reservations WHERE replica_id IS NOT NULL AND replica_id NOT IN (
                SELECT id FROM replicas WHERE heartbeat_at > now() - make_interval(secs => \(lease)))
            RETURNING 1
            """,
            { _ in () }
        ).count
    }
}
