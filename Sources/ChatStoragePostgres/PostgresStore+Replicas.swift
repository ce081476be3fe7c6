import ChatStorage
import Foundation
import Logging
import PostgresNIO

/// What makes several `chat-server` processes on one database behave as one: the lease each holds on the
/// replies it generates, and the notifications that carry every committed change to all of them.
extension PostgresStore {
    /// Renews this replica's lease every ``heartbeat`` and fails the `streaming` replies of replicas whose
    /// lease ran out (so a reply left by a killed replica becomes `failed` within ``lease`` plus one beat).
    func renewLease() async {
        while !Task.isCancelled {
            do {
                try await self.execute("UPDATE replicas SET heartbeat_at = now() WHERE id = \(self.replicaID)")
                let failed = try await self.failInterruptedTurns()
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
        return try await self.write(
            """
            UPDATE messages SET status = 'failed', error = 'interrupted: the server generating it stopped'
            WHERE status = 'streaming' AND (replica_id IS NULL OR replica_id NOT IN (
                SELECT id FROM replicas WHERE heartbeat_at > now() - make_interval(secs => \(lease))))
            RETURNING 1
            """,
            { _ in () }
        ).count
    }

    /// Holds a connection listening on `chat_events` and passes every notification on as a ``StoreEvent``;
    /// reconnects after a failure (and then says ``StoreEvent/resynchronized``, as notifications may have
    /// been missed meanwhile).
    func listen() async {
        while !Task.isCancelled {
            do {
                try await self.client.withConnection { connection in
                    try await connection.listen(on: "chat_events") { notifications in
                        self.deliver(.resynchronized)
                        for try await notification in notifications {
                            guard let event = StoreEvent(payload: notification.payload) else { continue }
                            self.deliver(event)
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                self.logger.error("lost the notification connection", metadata: ["error": "\(Self.reason(error))"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func deliver(_ event: StoreEvent) {
        switch event {
        case .userChanged(let userID): self.users.remove(userID)
        case .resynchronized: self.users.removeAll()
        case .messagesChanged, .cancelRequested: break
        }
        self.eventSink.yield(event)
    }

    public func requestCancel(chatID: UUID) async throws {
        try await self.execute("SELECT pg_notify('chat_events', \("c" + chatID.lowercasedString))")
    }
}

extension StoreEvent {
    /// `m`, `u` or `c` and an id, as the triggers and ``PostgresStore/requestCancel(chatID:)`` send them.
    init?(payload: String) {
        guard let kind = payload.first, let id = UUID(uuidString: String(payload.dropFirst())) else { return nil }
        switch kind {
        case "m": self = .messagesChanged(chatID: id)
        case "u": self = .userChanged(userID: id)
        case "c": self = .cancelRequested(chatID: id)
        default: return nil
        }
    }
}
