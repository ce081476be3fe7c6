import ChatProvider
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

    private struct State {
        var windows: [String: SlidingWindow] = [:]
        var eventsSinceSweep = 0
    }

    private let state = Mutex(State())

    init(perMinute limit: Int, window: Duration = .seconds(60)) {
        self.limit = limit
        self.window = window
    }

    var isUnlimited: Bool { self.limit <= 0 }

    /// Records one event for every key if each has room, and returns nil; otherwise records nothing and
    /// returns how long until every key has room again.
    func acquire(_ keys: [String], now: ContinuousClock.Instant = .now) -> Duration? {
        guard !self.isUnlimited else { return nil }
        return self.state.withLock { state in
            var wait: Duration = .zero
            for key in keys {
                var window = state.windows[key] ?? SlidingWindow(limit: self.limit, window: self.window)
                wait = max(wait, window.availableAt(1, now: now) - now)
                state.windows[key] = window
            }
            guard wait <= .zero else { return wait }
            for key in keys { state.windows[key]?.spend(1, now: now) }
            state.eventsSinceSweep += 1
            if state.eventsSinceSweep >= 1024 {
                state.eventsSinceSweep = 0
                state.windows = state.windows.filter { _, window in
                    var window = window
                    return !window.isEmpty(now: now)
                }
            }
            return nil
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
