import Synchronization

/// Bounds how long a statement waits for a pooled connection.
///
/// postgres-nio's pool queues a request while it cannot open connections, and fails the queue only when its
/// circuit breaker trips, a minute after the first failed attempt: while the server is down every request
/// would hang that long. Here each wait is registered; ``expire(at:)``, called a few times a second, cancels
/// the waits older than ``limit``, and the caller answers "unavailable" instead.
///
/// - A wait ends in one of two ways, decided under one lock: leased (``leased(_:)`` returns true, and the
///   statement runs to its end, never cancelled from here), or expired (its task is cancelled while it is still
///   in the pool's queue, and ``leased(_:)`` returns false if the lease comes anyway, so the statement is not
///   sent).
/// - Bounded: one entry per statement waiting, removed when it is leased or ends.
final class ConnectionWaits: Sendable {
    /// The longest a statement waits for a connection.
    let limit: Duration

    private struct Waiting {
        var since: ContinuousClock.Instant
        var cancel: (@Sendable () -> Void)?
    }

    private struct State {
        var nextID: UInt64 = 0
        var waiting: [UInt64: Waiting] = [:]
        /// Waits expired but not yet ended by their callers.
        var expired: Set<UInt64> = []
    }

    private let state = Mutex(State())

    init(limit: Duration) {
        self.limit = limit
    }

    /// Registers a wait starting now.
    func begin() -> UInt64 {
        self.state.withLock { state in
            state.nextID &+= 1
            state.waiting[state.nextID] = Waiting(since: .now)
            return state.nextID
        }
    }

    /// How to cancel the wait's task; at once if it has expired already.
    func attach(_ id: UInt64, cancel: @escaping @Sendable () -> Void) {
        let expired = self.state.withLock { state in
            guard state.waiting[id] != nil else { return state.expired.contains(id) }
            state.waiting[id]?.cancel = cancel
            return false
        }
        if expired { cancel() }
    }

    /// The wait got its connection: true if in time (the statement may run), false if it had expired.
    func leased(_ id: UInt64) -> Bool {
        self.state.withLock { $0.waiting.removeValue(forKey: id) != nil }
    }

    /// The statement ended (or failed before its lease); true if its wait had expired.
    func end(_ id: UInt64) -> Bool {
        self.state.withLock { state in
            state.waiting.removeValue(forKey: id)
            return state.expired.remove(id) != nil
        }
    }

    /// Cancels the waits that began more than ``limit`` before `now`; returns how many expired.
    @discardableResult
    func expire(at now: ContinuousClock.Instant = .now) -> Int {
        let late = self.state.withLock { state in
            let late = state.waiting.filter { now - $0.value.since > self.limit }
            for id in late.keys {
                state.waiting.removeValue(forKey: id)
                state.expired.insert(id)
            }
            return late.values
        }
        for wait in late { wait.cancel?() }
        return late.count
    }
}
