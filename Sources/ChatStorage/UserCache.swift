import Foundation
import Synchronization

/// Users recently read by id, so that authenticating a request does not need a trip to the database thread.
///
/// - Freshness: every method of ``DatabaseActor`` that changes a user (token version, role, disabled, password,
///   deletion, chats) drops that user's entry in the same actor-isolated call, and entries are filled only by
///   actor-isolated reads, so a read never re-inserts a record older than a change made since. A change made by
///   another process on the same file (`chat-server promote`) is seen within ``lifetime``.
/// - Bounded: at most ``capacity`` entries; when full it starts over.
///
/// Safe from any thread: the dictionary is behind a mutex held only to look up or update an entry.
final class UserCache: Sendable {
    static let lifetime: Duration = .seconds(1)
    static let capacity = 10_000

    private let entries = Mutex<[UUID: (user: UserRecord, at: ContinuousClock.Instant)]>([:])

    func user(id: UUID, now: ContinuousClock.Instant = .now) -> UserRecord? {
        self.entries.withLock { entries in
            guard let entry = entries[id], now - entry.at < Self.lifetime else { return nil }
            return entry.user
        }
    }

    func store(_ user: UserRecord, now: ContinuousClock.Instant = .now) {
        self.entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[user.id] = (user, now)
        }
    }

    func remove(_ id: UUID) {
        _ = self.entries.withLock { $0.removeValue(forKey: id) }
    }

    func removeAll() {
        self.entries.withLock { $0.removeAll() }
    }
}
