import ChatProvider
import ChatStorage
import HTTPTypes
import Synchronization

/// "At most `limit` events per minute" for each key (a user, an email, a client address), exactly: each
/// key has its own ``SlidingWindow``. Safe from any task; the lock is held only to check and record.
///
/// Keys whose window has emptied are forgotten on a periodic sweep, so memory follows the keys active in the
/// last minute, not every key ever seen.
final class RateLimiter: Sendable {
    let limit: Int
    let window: Duration
    /// With several processes on one store (PostgreSQL replicas), where the events are counted for all of them,
    /// and the name that keeps this limiter's keys apart from others'; nil: counted here.
    private let shared: (ledger: any RateLedger, name: String)?

    private struct State {
        var windows: [String: SlidingWindow] = [:]
        var eventsSinceSweep = 0
    }

    private let state = Mutex(State())

    init(perMinute limit: Int, window: Duration = .seconds(60), shared: (ledger: any RateLedger, name: String)? = nil) {
        self.limit = limit
        self.window = window
        self.shared = shared
    }

    /// ``acquire(_:now:)`` for the deployment: through the shared ledger when there is one (every replica's
    /// events count), else in this process.
    func acquireForDeployment(_ keys: [String]) async throws -> Duration? {
        guard !self.isUnlimited else { return nil }
        guard let shared = self.shared else { return self.acquire(keys) }
        return try await shared.ledger.acquireRate(
            keys: keys.map { shared.name + ":" + $0 }, limit: self.limit, window: self.window)
    }

    /// ``wait(_:now:)`` for the deployment.
    func waitForDeployment(_ keys: [String]) async throws -> Duration? {
        guard !self.isUnlimited else { return nil }
        guard let shared = self.shared else { return self.wait(keys) }
        return try await shared.ledger.rateWait(
            keys: keys.map { shared.name + ":" + $0 }, limit: self.limit, window: self.window)
    }

    /// ``record(_:now:)`` for the deployment: each key that has room gets one event.
    func recordForDeployment(_ keys: [String]) async throws {
        guard !self.isUnlimited else { return }
        guard let shared = self.shared else { return self.record(keys) }
        for key in keys {
            _ = try await shared.ledger.acquireRate(
                keys: [shared.name + ":" + key], limit: self.limit, window: self.window)
        }
    }

    /// ``hasEvents(_:now:)`` for the deployment.
    func hasEventsForDeployment(_ key: String) async throws -> Bool {
        guard !self.isUnlimited else { return false }
        guard let shared = self.shared else { return self.hasEvents(key) }
        return try await shared.ledger.rateWait(keys: [shared.name + ":" + key], limit: 1, window: self.window) != nil
    }

    var isUnlimited: Bool { self.limit <= 0 }

    /// Records one event for every key if each has room, and returns nil; otherwise records nothing and
    /// returns how long until every key has room again.
    func acquire(_ keys: [String], now: ContinuousClock.Instant = .now) -> Duration? {
        guard !self.isUnlimited else { return nil }
        return self.state.withLock { state in
            if let wait = Self.wait(keys, in: &state, now: now) { return wait }
            self.record(keys, in: &state, now: now)
            return nil
        }
    }

    /// How long until every key has room for one more event; nil if they all have room now. Records nothing.
    func wait(_ keys: [String], now: ContinuousClock.Instant = .now) -> Duration? {
        guard !self.isUnlimited else { return nil }
        return self.state.withLock { state in
            Self.wait(keys, in: &state, now: now)
        }
    }

    /// Records one event for each key that has room (a key already at its limit stays there, so a window
    /// never holds more than `limit` entries).
    func record(_ keys: [String], now: ContinuousClock.Instant = .now) {
        guard !self.isUnlimited else { return }
        self.state.withLock { state in
            let open = keys.filter { Self.wait([$0], in: &state, now: now) == nil }
            self.record(open, in: &state, now: now)
        }
    }

    /// Whether `key` has any event in its window.
    func hasEvents(_ key: String, now: ContinuousClock.Instant = .now) -> Bool {
        guard !self.isUnlimited else { return false }
        return self.state.withLock { state in
            guard var window = state.windows[key] else { return false }
            defer { state.windows[key] = window }
            return !window.isEmpty(now: now)
        }
    }

    /// The longest wait among the keys' windows (a key without a window has room).
    private static func wait(_ keys: [String], in state: inout State, now: ContinuousClock.Instant) -> Duration? {
        var wait: Duration = .zero
        for key in keys {
            guard var keyWindow = state.windows[key] else { continue }
            wait = max(wait, keyWindow.availableAt(1, now: now) - now)
            state.windows[key] = keyWindow
        }
        return wait > .zero ? wait : nil
    }

    /// Spends one event per key, creating windows as needed; every 1,024 events, forgets emptied windows.
    private func record(_ keys: [String], in state: inout State, now: ContinuousClock.Instant) {
        for key in keys {
            state.windows[key, default: SlidingWindow(limit: self.limit, window: self.window)].spend(1, now: now)
        }
        state.eventsSinceSweep += 1
        if state.eventsSinceSweep >= 1024 {
            state.eventsSinceSweep = 0
            state.windows = state.windows.filter { _, window in
                var window = window
                return !window.isEmpty(now: now)
            }
        }
    }
}

extension APIError {
    /// 429 with `Retry-After` in whole seconds (rounded up, at least 1).
    static func tooManyRequests(_ message: String, retryAfter: Duration) -> APIError {
        let seconds = max(1, Int((retryAfter.milliseconds + 999) / 1000))
        return APIError(.tooManyRequests, message, headers: [.retryAfter: String(seconds)])
    }
}
