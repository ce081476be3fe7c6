import ChatStorage
import Foundation
import Logging
import PostgresNIO

/// What makes several `chat-server` processes on one database behave as one: the lease each holds on the
/// replies it generates, and the notifications that carry every committed change to all of them.
extension PostgresStore {
    /// Renews this replica's lease every ``heartbeat``, fails the `streaming` replies of replicas whose lease
    /// ran out (so a reply left by a killed replica becomes `failed` within ``lease`` plus one beat) and releases
    /// the holds of their running calls of the door.
    func renewLease() async {
        var beats = 0
        while !Task.isCancelled {
            beats += 1
            do {
                try await self.execute("UPDATE replicas SET heartbeat_at = now() WHERE id = \(self.replicaID)")
                let failed = try await self.failInterruptedTurns()
                try await self.releaseLapsedCallHolds()
                if beats % 30 == 1 {
                    // About once a minute: events of keys not seen again since (their windows are a minute long).
                    try await self.execute("DELETE FROM rate_events WHERE at < now() - interval '10 minutes'")
                    try await self.execute("DELETE FROM upstream_calls WHERE at < now() - interval '10 minutes'")
                }
                if failed > 0 {
                    self.logger.warning(
                        "replies of a replica that stopped were marked failed", metadata: ["count": "\(failed)"])
                }
            } catch {
                if Task.isCancelled { return }
                self.logger.error("could not renew the replica lease", metadata: ["error": "\(Self.reason(error))"])
            }
            try? await Task.sleep(for: Self.heartbeat)
        }
    }

    /// Fails the `streaming` replies of replicas whose lease ran out (or that left no lease at all: rows from
    /// before leases, or copied). A live replica's replies are never touched.
    public func failInterruptedTurns() async throws -> Int {
        let lease = Int64(Self.lease.components.seconds)
        let chats = try await self.write(
            """
            WITH failed AS (
                UPDATE messages SET status = 'failed', error = 'interrupted: the server generating it stopped'
                WHERE status = 'streaming' AND (replica_id IS NULL OR replica_id NOT IN (
                    SELECT id FROM replicas WHERE heartbeat_at > now() - make_interval(secs => \(lease))))
                RETURNING chat_id
            ), bumped AS (
                UPDATE chats SET messages_version = messages_version + 1 WHERE id IN (SELECT chat_id FROM failed)
            )
            SELECT chat_id FROM failed
            """,
            { try $0.decode(UUID.self) }
        )
        self.notifier.changed(chats)
        return chats.count
    }

    /// Holds a connection listening on `chat_events` and passes every notification on as a ``StoreEvent``;
    /// reconnects after a failure, or once its connection closed under it (``StatementWatch``), and then says
    /// ``StoreEvent/resynchronized``, as notifications may have been missed meanwhile.
    func listen() async {
        while !Task.isCancelled {
            do {
                try await self.leased(cancelledWithCaller: true) { connection in
                    try await connection.listen(on: "chat_events") { notifications in
                        self.deliver(.resynchronized)
                        for try await notification in notifications {
                            for event in StoreEvent.events(in: notification.payload, notSentBy: self.replicaID) {
                                self.deliver(event)
                            }
                        }
                    }
                }
            } catch {
                // Cancelled, or the store is closing (it stops the pool next).
                if Task.isCancelled || error is Closed { return }
                self.logger.error("lost the notification connection", metadata: ["error": "\(Self.reason(error))"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func deliver(_ event: StoreEvent) {
        switch event {
        case .userChanged(let userID): self.userCache.remove(userID)
        case .resynchronized: self.userCache.removeAll()
        case .messagesChanged, .cancelRequested, .upstreamPaused: break
        }
        self.eventSink.yield(event)
    }

    /// Sends ``ChangeNotifier``'s payloads in one transaction that does not wait for its commit to be flushed.
    /// Also while the store closes: ``close()`` sends the last ones before it stops the pool.
    func notify(_ payloads: [String]) async throws {
        try await self.closingWrite(
            """
            SELECT set_config('synchronous_commit', 'off', true),
                (SELECT count(pg_notify('chat_events', payload)) FROM unnest(\(payloads)::text[]) AS payload)
            """)
    }

    public func requestCancel(chatID: UUID) async throws {
        try await self.execute("SELECT pg_notify('chat_events', \("c" + chatID.lowercasedString))")
    }
}

extension StoreEvent {
    /// The events of one notification on `chat_events`:
    /// - `m` + the sending replica + `:` + chat ids separated by commas (``ChangeNotifier``), `r` + the sending
    ///   replica (its notifications overflowed: everything may have changed). Nothing when this replica sent it,
    ///   as its own chats were woken when the change was made.
    /// - `u` + a user id (the `users_notify` trigger), `c` + a chat id (``PostgresStore/requestCancel(chatID:)``),
    ///   `p` + milliseconds (``PostgresStore/announceUpstreamPause(_:)``).
    static func events(in payload: String, notSentBy replica: UUID) -> [StoreEvent] {
        guard let kind = payload.first else { return [] }
        let rest = payload.dropFirst()
        switch kind {
        case "m":
            guard let colon = rest.firstIndex(of: ":"), let sender = UUID(canonical: rest[..<colon]), sender != replica
            else { return [] }
            return rest[rest.index(after: colon)...].split(separator: ",").compactMap { id in
                UUID(canonical: id).map { .messagesChanged(chatID: $0) }
            }
        case "r":
            guard let sender = UUID(canonical: rest), sender != replica else { return [] }
            return [.resynchronized]
        case "p":
            guard let milliseconds = Int64(rest), milliseconds > 0 else { return [] }
            return [.upstreamPaused(.milliseconds(milliseconds))]
        case "u":
            return UUID(canonical: rest).map { [.userChanged(userID: $0)] } ?? []
        case "c":
            return UUID(canonical: rest).map { [.cancelRequested(chatID: $0)] } ?? []
        default:
            return []
        }
    }
}

extension PostgresStore: UpstreamLedger {
    /// `pg_advisory_xact_lock` key that serialises reservations ("aichatup").
    static let upstreamLockKey: Int64 = 0x6169_6368_6174_7570

    /// One transaction under an advisory lock: forget calls older than the window, count what is left, and
    /// record this call if it fits. Times are the database server's, the one clock every replica shares.
    public func reserveUpstreamCall(tokens: Int, requestsPerMinute: Int, tokensPerMinute: Int, window: Duration)
        async throws -> UpstreamCallReservation
    {
        let windowMilliseconds = Int64(
            window.components.seconds * 1000 + window.components.attoseconds / 1_000_000_000_000_000)
        let rpm = Int64(requestsPerMinute)
        let tpm = Int64(tokensPerMinute)
        // A call larger than the whole token limit waits for an empty window (it could never fit otherwise).
        let needed = tpm > 0 ? min(Int64(tokens), tpm) : Int64(tokens)
        return try await self.transaction { transaction in
            try await transaction.execute("SELECT pg_advisory_xact_lock(\(Self.upstreamLockKey))")
            try await transaction.execute(
                """
                DELETE FROM upstream_calls WHERE at <= clock_timestamp() - make_interval(secs => \(windowMilliseconds) / 1000.0)
                """)
            let usage = try await transaction.one(
                "SELECT count(*), coalesce(sum(tokens), 0)::bigint FROM upstream_calls"
            ) { try $0.decode((Int64, Int64).self) }
            let (calls, spent) = usage ?? (0, 0)
            if (rpm <= 0 || calls + 1 <= rpm) && (tpm <= 0 || spent + needed <= tpm) {
                let id = try await transaction.one(
                    "INSERT INTO upstream_calls (tokens) VALUES (\(needed)) RETURNING id"
                ) {
                    try $0.decode(Int64.self)
                }
                return .recorded(id: id ?? 0)
            }
            // Until enough of the oldest calls leave the window: walk them oldest first.
            let oldest = try await transaction.rows(
                """
                SELECT tokens, (extract(epoch FROM at + make_interval(secs => \(windowMilliseconds) / 1000.0)
                    - clock_timestamp()) * 1000)::bigint
                FROM upstream_calls ORDER BY at LIMIT 10000
                """
            ) { try $0.decode((Int64, Int64).self) }
            var freedCalls = rpm > 0 ? rpm - calls : Int64.max
            var freedTokens = tpm > 0 ? tpm - spent : Int64.max
            for (callTokens, leavesIn) in oldest {
                freedCalls &+= 1
                freedTokens &+= callTokens
                if (rpm <= 0 || freedCalls >= 1) && (tpm <= 0 || freedTokens >= needed) {
                    return .retry(after: .milliseconds(max(leavesIn, 10)))
                }
            }
            return .retry(after: .milliseconds(windowMilliseconds))
        }
    }

    public func settleUpstreamCall(_ id: Int64, tokens: Int) async throws {
        try await self.execute("UPDATE upstream_calls SET tokens = \(Int64(tokens)) WHERE id = \(id)")
    }

    public func announceUpstreamPause(_ duration: Duration) async throws {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        try await self.execute("SELECT pg_notify('chat_events', \("p" + String(milliseconds)))")
    }
}

extension PostgresStore: RateLedger {
    /// One transaction holding an advisory lock per key (taken in sorted order, so two calls never wait on each
    /// other in a cycle): forget the keys' events older than the window, count, and record if all have room.
    public func acquireRate(keys: [String], limit: Int, window: Duration) async throws -> Duration? {
        let seconds = Self.seconds(window)
        let keys = Array(Set(keys)).sorted()
        let limit = Int64(limit)
        let waitMilliseconds: Int64? = try await self.transaction { transaction in
            for key in keys { try await transaction.execute("SELECT pg_advisory_xact_lock(hashtext(\(key)))") }
            try await transaction.execute(
                "DELETE FROM rate_events WHERE key = ANY(\(keys)) AND at <= clock_timestamp() - make_interval(secs => \(seconds))"
            )
            var wait: Int64 = 0
            for key in keys {
                let found = try await transaction.one(
                    """
                    SELECT count(*), coalesce((extract(epoch FROM min(at) + make_interval(secs => \(seconds))
                        - clock_timestamp()) * 1000)::bigint, 0)
                    FROM rate_events WHERE key = \(key)
                    """
                ) { try $0.decode((Int64, Int64).self) }
                // At most `limit` rows are ever kept per key, so the oldest leaving makes room.
                if let (count, oldestLeavesIn) = found, count >= limit { wait = max(wait, max(oldestLeavesIn, 1)) }
            }
            if wait > 0 { return wait }
            for key in keys { try await transaction.execute("INSERT INTO rate_events (key) VALUES (\(key))") }
            return nil
        }
        return waitMilliseconds.map { .milliseconds($0) }
    }

    /// A read: no lock, as a check that records nothing cannot make two callers overshoot.
    public func rateWait(keys: [String], limit: Int, window: Duration) async throws -> Duration? {
        let seconds = Self.seconds(window)
        let rows = try await self.rows(
            """
            SELECT count(*), (extract(epoch FROM min(at) + make_interval(secs => \(seconds)) - clock_timestamp())
                * 1000)::bigint
            FROM rate_events WHERE key = ANY(\(Array(Set(keys)))) AND at > clock_timestamp() - make_interval(secs => \(seconds))
            GROUP BY key
            """
        ) { try $0.decode((Int64, Int64).self) }
        let wait = rows.filter { $0.0 >= Int64(limit) }.map { max($0.1, 1) }.max()
        return wait.map { .milliseconds($0) }
    }

    private static func seconds(_ window: Duration) -> Double {
        Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
    }
}
