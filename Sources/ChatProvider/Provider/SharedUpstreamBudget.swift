/// The upstream's limits as one deployment's, not one process's: Groq counts requests and tokens per
/// organisation, so several processes sharing a key must share `GROQ_RPM`/`GROQ_TPM` and each other's 429s.
///
/// ``ProviderActor`` asks it after its own (per-process) gate has let a call through, and settles the call to
/// the tokens the upstream reported once it has ended, as its own gate does.
public protocol SharedUpstreamBudget: Sendable {
    /// Records a call of `tokens` estimated tokens if it fits `limits` in the deployment's window now (and
    /// returns its id), else returns how long to wait before asking again.
    func reserve(tokens: Int, limits: ProviderLimits) async throws -> SharedUpstreamReservation
    /// Replaces the estimate of a recorded call with the tokens it used.
    func settle(_ call: Int64, usedTokens: Int) async
    /// Tells every process to send nothing for `duration` (an upstream 429's `retry-after`).
    func pauseEveryone(for duration: Duration) async
}

/// The answer of ``SharedUpstreamBudget/reserve(tokens:limits:)``.
public enum SharedUpstreamReservation: Sendable, Equatable {
    /// Counted against the deployment under this id: the call may go out.
    case recorded(id: Int64)
    /// Not counted: ask again after this long.
    case retry(after: Duration)
}
