import DequeModule
import Foundation
import Synchronization

/// The mock's mutable state behind one mutex: behavior, counters and the arrival times for the RPM window.
final class MockGroqState: Sendable {
    private struct Storage {
        var behavior = MockGroqBehavior()
        var stats = MockGroqStats(
            requests: 0,
            completed: 0,
            rateLimited: 0,
            faulted: 0,
            inFlight: 0,
            maxInFlight: 0,
            maxRequestsInAnyMinute: 0,
            badKeys: 0
        )
        /// Arrival times (seconds, monotonic, oldest first) within the last minute.
        var arrivals = Deque<Double>()
        /// Every arrival time, for ``MockGroqServer/maxRequests(inAnyWindowOf:)`` (the newest 100,000).
        var history: [Double] = []
        var stopping = false
        /// The messages of recent requests, oldest first (the newest 1,000).
        var conversations: [[MockGroqMessage]] = []
        /// The bodies of recent completion requests as sent, oldest first (the newest 100).
        var bodies: [String] = []
    }

    private let storage = Mutex(Storage())

    var behavior: MockGroqBehavior {
        get { self.storage.withLock { $0.behavior } }
        set { self.storage.withLock { $0.behavior = newValue } }
    }

    var stats: MockGroqStats { self.storage.withLock { $0.stats } }

    var isStopping: Bool {
        get { self.storage.withLock { $0.stopping } }
        set { self.storage.withLock { $0.stopping = newValue } }
    }

    func reset() {
        self.storage.withLock { $0 = Storage() }
    }

    /// What to do with an arriving request.
    enum Decision {
        case answer(MockGroqBehavior)
        case fault(MockGroqBehavior.Fault, MockGroqBehavior)
        case overLimit(MockGroqBehavior)
    }

    /// Records an arrival and decides its fate (faults are consumed here).
    func arrive(now: Double) -> Decision {
        self.storage.withLock { storage in
            // Callers read the clock before the lock: kept in order, the window drops from its front only.
            let now = max(now, storage.history.last ?? now)
            storage.stats.requests += 1
            storage.arrivals.append(now)
            if storage.history.count >= 100_000 { storage.history.removeFirst(10_000) }
            storage.history.append(now)
            while let oldest = storage.arrivals.first, oldest <= now - 60 { storage.arrivals.removeFirst() }
            storage.stats.maxRequestsInAnyMinute = max(storage.stats.maxRequestsInAnyMinute, storage.arrivals.count)
            let behavior = storage.behavior
            if let limit = behavior.requestsPerMinute, storage.arrivals.count > limit {
                storage.stats.rateLimited += 1
                return .overLimit(behavior)
            }
            if let fault = behavior.fault {
                if let remaining = behavior.faultCount {
                    if remaining <= 1 {
                        storage.behavior.fault = nil
                        storage.behavior.faultCount = nil
                    } else {
                        storage.behavior.faultCount = remaining - 1
                    }
                }
                if fault == .rateLimit { storage.stats.rateLimited += 1 } else { storage.stats.faulted += 1 }
                return .fault(fault, behavior)
            }
            return .answer(behavior)
        }
    }

    /// The most arrivals within any `window` seconds.
    func maxArrivals(inAnyWindowOf window: Double) -> Int {
        let history = self.storage.withLock { $0.history }
        var best = 0
        var start = 0
        for end in history.indices {
            while history[end] - history[start] >= window { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }

    func record(conversation: [MockGroqMessage]) {
        self.storage.withLock { storage in
            if storage.conversations.count >= 1000 { storage.conversations.removeFirst(100) }
            storage.conversations.append(conversation)
        }
    }

    var conversations: [[MockGroqMessage]] { self.storage.withLock { $0.conversations } }

    func record(body: String) {
        self.storage.withLock { storage in
            if storage.bodies.count >= 100 { storage.bodies.removeFirst() }
            storage.bodies.append(body)
        }
    }

    var bodies: [String] { self.storage.withLock { $0.bodies } }

    func recordBadKey() {
        self.storage.withLock { $0.stats.badKeys += 1 }
    }

    func begin() {
        self.storage.withLock { storage in
            storage.stats.inFlight += 1
            storage.stats.maxInFlight = max(storage.stats.maxInFlight, storage.stats.inFlight)
        }
    }

    func end(completed: Bool) {
        self.storage.withLock { storage in
            storage.stats.inFlight -= 1
            if completed { storage.stats.completed += 1 }
        }
    }

    /// Requests left in the current minute, for the `x-ratelimit-*` headers.
    func remainingRequests(limit: Int) -> Int {
        self.storage.withLock { max(0, limit - $0.arrivals.count) }
    }
}
