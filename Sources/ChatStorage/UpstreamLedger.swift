/// The deployment-wide log of calls to the upstream, for processes that share one upstream key through one
/// store (PostgreSQL replicas): "at most N requests and T tokens in any window" holds for all of them together.
public protocol UpstreamLedger: Sendable {
    /// Records a call of `tokens` (estimated) tokens if it fits the limits (0 = no limit) within the last
    /// `window`, or says how long to wait before asking again.
    func reserveUpstreamCall(tokens: Int, requestsPerMinute: Int, tokensPerMinute: Int, window: Duration) async throws
        -> UpstreamCallReservation
    /// Replaces a recorded call's estimate with the tokens the upstream reported it used.
    func settleUpstreamCall(_ id: Int64, tokens: Int) async throws
    /// Tells every process sharing the store to send nothing upstream for `duration` (``StoreEvent/upstreamPaused(_:)``).
    func announceUpstreamPause(_ duration: Duration) async throws
}

/// The answer of ``UpstreamLedger/reserveUpstreamCall(tokens:requestsPerMinute:tokensPerMinute:window:)``.
public enum UpstreamCallReservation: Sendable, Equatable {
    /// Recorded under this id (for ``UpstreamLedger/settleUpstreamCall(_:tokens:)``): the call may go out.
    case recorded(id: Int64)
    /// Nothing recorded: the limits have no room before this long.
    case retry(after: Duration)
}
