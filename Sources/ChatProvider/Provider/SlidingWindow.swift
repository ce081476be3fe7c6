import DequeModule

/// Amounts spent at instants, summed over the last `window`: "at most N in any minute", exactly.
///
/// A token bucket would let a full bucket go out at once and then refill, so up to twice its capacity
/// could fall inside one minute; a log of what was spent cannot.
public struct SlidingWindow: Sendable {
    public let limit: Int
    public let window: Duration
    private var entries: Deque<(at: ContinuousClock.Instant, amount: Int)> = []
    private var total = 0

    public init(limit: Int, window: Duration = .seconds(60)) {
        self.limit = limit
        self.window = window
    }

    public var isUnlimited: Bool { self.limit <= 0 }

    private mutating func expire(now: ContinuousClock.Instant) {
        while let first = self.entries.first, first.at + self.window <= now {
            self.total -= first.amount
            self.entries.removeFirst()
        }
    }

    /// When `amount` could be spent: `now` if it fits. An amount larger than the whole limit waits for an
    /// empty window (it could never fit otherwise).
    public mutating func availableAt(_ amount: Int, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        guard !self.isUnlimited else { return now }
        self.expire(now: now)
        let needed = min(amount, self.limit)
        if self.total + needed <= self.limit { return now }
        var freed = self.limit - self.total
        for entry in self.entries {
            freed += entry.amount
            if freed >= needed { return entry.at + self.window }
        }
        return now + self.window
    }

    /// True when nothing spent is still inside the window (the window can be forgotten).
    public mutating func isEmpty(now: ContinuousClock.Instant) -> Bool {
        self.expire(now: now)
        return self.entries.isEmpty
    }

    public mutating func spend(_ amount: Int, now: ContinuousClock.Instant) {
        guard !self.isUnlimited, amount != 0 else { return }
        self.entries.append((now, amount))
        self.total += amount
    }

    /// Spends or refunds the difference once the real amount is known (e.g. actual token usage).
    public mutating func adjust(by delta: Int, now: ContinuousClock.Instant) {
        guard !self.isUnlimited, delta != 0 else { return }
        self.entries.append((now, delta))
        self.total += delta
    }
}
