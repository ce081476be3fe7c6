import ChatStorage
import Foundation
import Synchronization

/// API keys recently read by hash, so that authenticating a `/v1` call on SQLite does not wait for the database
/// thread (where it would queue behind other calls' group commits and their `fsync`).
///
/// - Freshness: a key is served from here only together with its user from the ``UserCache`` (which every
///   change to a user — disabled, deleted, quotas — empties before the change returns); deleting a key or
///   recording its use removes its entry before the method returns. Entries are filled only by the database
///   thread's reads, which cannot straddle a change (one connection, serialised), so a read never re-inserts a
///   key older than a change made since. Nothing else writes keys: one process serves a SQLite file.
/// - Bounded: at most ``capacity`` entries, each kept ``UserCache/lifetime``; when full it starts over.
///
/// Safe from any thread: the dictionaries are behind a mutex held only to look up or update an entry.
public final class APIKeyCache: Sendable {
    public static let capacity = 10_000

    private struct State {
        var entries: [String: (key: APIKeyRecord, at: ContinuousClock.Instant)] = [:]
        /// Each cached key's hash, by id, so a key's entry can be removed by id.
        var hashes: [UUID: String] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// The key with this hash, if read within ``UserCache/lifetime``.
    public func key(hash: String, now: ContinuousClock.Instant = .now) -> APIKeyRecord? {
        self.state.withLock { state in
            guard let entry = state.entries[hash], now - entry.at < UserCache.lifetime else { return nil }
            return entry.key
        }
    }

    /// Stores a key read on the database thread.
    func store(_ key: APIKeyRecord, hash: String, now: ContinuousClock.Instant = .now) {
        self.state.withLock { state in
            if state.entries.count >= Self.capacity {
                state.entries.removeAll(keepingCapacity: true)
                state.hashes.removeAll(keepingCapacity: true)
            }
            state.entries[hash] = (key, now)
            state.hashes[key.id] = hash
        }
    }

    /// Drops the key's entry.
    func remove(id: UUID) {
        self.state.withLock { state in
            if let hash = state.hashes.removeValue(forKey: id) { state.entries.removeValue(forKey: hash) }
        }
    }

    func removeAll() {
        self.state.withLock { state in
            state.entries.removeAll()
            state.hashes.removeAll()
        }
    }
}
