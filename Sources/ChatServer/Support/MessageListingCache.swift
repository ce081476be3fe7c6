import Foundation
import NIOCore
import Synchronization

/// Encoded message listings (`GET /chats/{id}/messages`, the owner's and the admin's), by chat, `after` and
/// `limit`, each with the chat's `messages_version` it was read at.
///
/// - Correct without invalidation calls: an entry is served only after the database has answered that the
///   chat's `messages_version` still equals the entry's (in the same trip that checks the chat exists and is
///   the caller's). A trigger bumps that version on every write to the chat's messages, so a hit is byte for
///   byte what a fresh read would encode. Listings holding a reply still being generated are never stored.
/// - Bounded by the bytes it holds (`LISTING_CACHE_MB`); one listing may take at most an eighth of it.
///   Eviction is CLOCK (second chance): an entry served since the hand last passed survives one more pass.
/// - Safe from any task; the lock is held only to look up, store or evict, never while encoding.
final class MessageListingCache: Sendable {
    struct Key: Hashable, Sendable {
        let chatID: UUID
        let after: Int64
        let limit: Int
    }

    private struct Entry {
        let version: Int64
        let body: ByteBuffer
        var referenced = false
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        /// Every key in `entries` once, in the order the clock hand visits them.
        var clock = CircularBuffer<Key>()
        var bytes = 0
        var hits = 0
        var misses = 0
    }

    /// The bytes of encoded listings held at most; 0 turns the cache off.
    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// The version of the listing held for `key`, for the database to compare with the chat's.
    func version(of key: Key) -> Int64? {
        guard self.capacity > 0 else { return nil }
        return self.state.withLock { $0.entries[key]?.version }
    }

    /// The listing held for `key` if it was read at `version` (counted as a hit), else nil.
    func body(of key: Key, at version: Int64) -> ByteBuffer? {
        self.state.withLock { state in
            guard let entry = state.entries[key], entry.version == version else { return nil }
            state.hits += 1
            state.entries[key]?.referenced = true
            return entry.body
        }
    }

    /// Counts a listing that had to be read and encoded.
    func recordMiss() {
        guard self.capacity > 0 else { return }
        self.state.withLock { $0.misses += 1 }
    }

    /// Keeps `body` as the listing for `key` at `version`, evicting others until it fits. A listing larger
    /// than an eighth of the capacity, or older than the one held, is not kept.
    func store(_ body: ByteBuffer, for key: Key, at version: Int64) {
        let size = body.readableBytes
        guard self.capacity > 0, size <= self.capacity / 8 else { return }
        self.state.withLock { state in
            if let held = state.entries[key] {
                guard held.version < version else { return }
                state.bytes -= held.body.readableBytes
            } else {
                state.clock.append(key)
            }
            state.entries[key] = Entry(version: version, body: body)
            state.bytes += size
            while state.bytes > self.capacity, let candidate = state.clock.popFirst() {
                guard let entry = state.entries[candidate] else { continue }
                if entry.referenced {
                    state.entries[candidate]?.referenced = false
                    state.clock.append(candidate)
                } else {
                    state.entries[candidate] = nil
                    state.bytes -= entry.body.readableBytes
                }
            }
        }
    }

    /// Listings held, the bytes they take, listings served from the cache and listings encoded, since start.
    var statistics: (entries: Int, bytes: Int, hits: Int, misses: Int) {
        self.state.withLock { ($0.entries.count, $0.bytes, $0.hits, $0.misses) }
    }
}
