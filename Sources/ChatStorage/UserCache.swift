import Foundation
import Synchronization

/// Users recently read by id, so that authenticating a request does not need a trip to the database thread.
///
/// - Freshness: every method of an engine that changes a user (token version, role, disabled, password,
///   deletion, chats) drops that user's entry in the same actor-isolated call, and entries are filled only by
///   actor-isolated reads, so a read never re-inserts a record older than a change made since. A change made by
///   another process on the same file (`chat-server promote`) is seen within ``lifetime``.
/// - Bounded: at most ``capacity`` entries; when full it starts over.
///
/// Safe from any thread: the dictionary is behind a mutex held only to look up or update an entry.
public final class UserCache: Sendable {
    public static let lifetime: Duration = .seconds(1)
    public static let capacity = 10_000

    private struct State {
        var entries: [UUID: (user: UserRecord, at: ContinuousClock.Instant)] = [:]
        /// Bumped by every removal: a read that began before one must not store what it read.
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func user(id: UUID, now: ContinuousClock.Instant = .now) -> UserRecord? {
        self.state.withLock { state in
            guard let entry = state.entries[id], now - entry.at < Self.lifetime else { return nil }
            return entry.user
        }
    }

    /// Taken before a read whose result will be stored (see ``store(_:readAt:now:)``).
    public var generation: UInt64 { self.state.withLock { $0.generation } }

    /// Stores a user read by a serialised engine (no change can land between its read and this call).
    public func store(_ user: UserRecord, now: ContinuousClock.Instant = .now) {
        self.state.withLock { state in Self.insert(user, now, into: &state) }
    }

    /// Stores a user read by an engine whose reads and writes run concurrently, unless a change to any user was
    /// made since `generation` was taken (the read may predate it).
    public func store(_ user: UserRecord, readAt generation: UInt64, now: ContinuousClock.Instant = .now) {
        self.state.withLock { state in
            guard state.generation == generation else { return }
            Self.insert(user, now, into: &state)
        }
    }

    private static func insert(_ user: UserRecord, _ now: ContinuousClock.Instant, into state: inout State) {
        if state.entries.count >= Self.capacity { state.entries.removeAll(keepingCapacity: true) }
        state.entries[user.id] = (user, now)
    }

    public func remove(_ id: UUID) {
        self.state.withLock { state in
            state.generation &+= 1
            state.entries.removeValue(forKey: id)
        }
    }

    public func removeAll() {
        self.state.withLock { state in
            state.generation &+= 1
            state.entries.removeAll()
        }
    }
}
