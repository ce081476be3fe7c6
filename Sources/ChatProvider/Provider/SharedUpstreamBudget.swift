/// The upstream's limits as one deployment's, not one process's: Groq counts requests and tokens per
/// organisation, so several processes sharing a key must share `GROQ_RPM`/`GROQ_TPM` and each other's 429s.
///
/// ``ProviderActor`` asks it after its own (per-process) gate has let a call through; a nil answer means the
/// call was recorded against the deployment's budget and may go out.
public protocol SharedUpstreamBudget: Sendable {
    /// Records a call of `tokens` estimated tokens if it fits `limits` in the deployment's window now; else
    /// returns how long to wait before asking again.
    func reserve(tokens: Int, limits: ProviderLimits) async throws -> Duration?
    /// Tells every process to send nothing for `duration` (an upstream 429's `retry-after`).
    func pauseEveryone(for duration: Duration) async
}
