import Synchronization

/// An open-loop schedule (`--rate`): request `i` is due at `start + i / rate`, whoever sends it. The clients take
/// the next due slot as each becomes free, so at most `concurrency` requests are in flight; a request is timed
/// from its due instant, not from when a client got to it, so time spent waiting for a free client counts as
/// latency (no coordinated omission: a slow server cannot make its own latencies look short by sending less).
final class Pace: Sendable {
    let interval: Duration
    private let next = Atomic<Int>(0)

    init(rate: Double) {
        self.interval = .nanoseconds(Int64((1e9 / rate).rounded()))
    }

    /// The next free slot's due instant, counted from `start`.
    func claim(from start: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let slot = self.next.wrappingAdd(1, ordering: .relaxed).oldValue
        return start + self.interval * slot
    }
}
