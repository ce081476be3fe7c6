import Foundation
import Synchronization

/// Users recently read by id, so that authenticating a request does not need a trip to the database thread.
///
/// - Freshness: every change to a user (token version, role, disabled, password, quotas, deletion) goes through
///   the named methods of ``ChatStore`` (UserChange.swift), which drop the entries it may have made stale before
///   they return, whatever the engine; entries are filled only by the engine's reads (a serialised engine's
///   reads cannot straddle a change; a concurrent engine's are checked with ``generation``), so a read never
///   re-inserts a record older than a change made since. A change made by another process on the same file
///   (`chat-server promote`) is seen within ``lifetime``.
/// - Bounded: at most ``capacity`` entries; when full it starts over.
/// - One read at a time per user (``user(id:readingOnce:)``): when an entry runs out, the requests that miss it
///   together wait for the first one's read instead of each reading the same row.
///
/// Safe from any thread: the dictionary is behind a mutex held only to look up or update an entry.
public final class UserCache: Sendable {
    public static let lifetime: Duration = .seconds(1)
    public static let capacity = 10_000

    private struct State {
        var entries: [UUID: (user: UserRecord, at: ContinuousClock.Instant)] = [:]
        /// Bumped by every removal: a read that began before one must not store what it read.
        var generation: UInt64 = 0
        /// Reads in flight, by user: at most one each, with the callers waiting for it.
        var reads: [UUID: Read] = [:]
    }

    private struct Read {
        /// The generation the read began in: a caller arriving after a change does not wait for it.
        let generation: UInt64
        var waiters: [CheckedContinuation<ReadOutcome, Never>] = []
    }

    private enum ReadOutcome {
        case read(UserRecord?)
        /// The read failed (or ended before the caller joined it): the caller reads on its own.
        case readYourself
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

    /// The user from a recent read, else from `read`, run once for every caller that misses while it runs:
    /// the first caller reads, the others wait for its result. A caller arriving after a change to any user
    /// (``remove(_:)``, ``removeAll()``) does not wait for a read that began before it, and a failed read (a
    /// cancelled request's, say) sends each waiter to read on its own. `read` stores what it reads, as the
    /// engine's reads do.
    public func user(id: UUID, readingOnce read: () async throws -> UserRecord?) async throws -> UserRecord? {
        if let recent = self.user(id: id) { return recent }
        let leads = self.state.withLock { state -> Bool in
            guard state.reads[id] == nil else { return false }
            state.reads[id] = Read(generation: state.generation)
            return true
        }
        guard leads else {
            let outcome = await withCheckedContinuation { continuation in
                let joined = self.state.withLock { state -> Bool in
                    // Gone, or begun before a change to a user: not worth waiting for.
                    guard var current = state.reads[id], current.generation == state.generation else { return false }
                    current.waiters.append(continuation)
                    state.reads[id] = current
                    return true
                }
                if !joined { continuation.resume(returning: .readYourself) }
            }
            switch outcome {
            case .read(let user): return user
            case .readYourself: return try await read()
            }
        }
        let result: Result<UserRecord?, any Error>
        do { result = .success(try await read()) } catch { result = .failure(error) }
        let waiters = self.state.withLock { $0.reads.removeValue(forKey: id)?.waiters ?? [] }
        let outcome: ReadOutcome
        switch result {
        case .success(let user): outcome = .read(user)
        case .failure: outcome = .readYourself
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
        return try result.get()
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
