/// The deployment-wide log of calls to the upstream, for processes that share one upstream key through one
/// store (PostgreSQL replicas): "at most N requests and T tokens in any window" holds for all of them together.
public protocol UpstreamLedger: Sendable {
    /// Records a call of `tokens` tokens if it fits the limits (0 = no limit) within the last `window`, and
    /// returns nil; else returns how long to wait before asking again.
    func reserveUpstreamCall(tokens: Int, requestsPerMinute: Int, tokensPerMinute: Int, window: Duration) async throws
        -> Duration?
    /// Tells every process sharing the store to send nothing upstream for `duration` (``StoreEvent/upstreamPaused(_:)``).
    func announceUpstreamPause(_ duration: Duration) async throws
}
