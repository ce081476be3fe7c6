import ChatProvider
import ChatStorage

/// The provider's ``SharedUpstreamBudget`` over a store's ``UpstreamLedger``: with several replicas on one
/// PostgreSQL database, `GROQ_RPM` and `GROQ_TPM` count every replica's calls, and a 429 pauses them all.
struct DeploymentUpstreamBudget: SharedUpstreamBudget {
    let ledger: any UpstreamLedger

    func reserve(tokens: Int, limits: ProviderLimits) async throws -> Duration? {
        try await self.ledger.reserveUpstreamCall(
            tokens: tokens, requestsPerMinute: limits.requestsPerMinute, tokensPerMinute: limits.tokensPerMinute,
            window: limits.window + limits.windowMargin)
    }

    func pauseEveryone(for duration: Duration) async {
        // Best effort: this process pauses anyway; the others learn it unless the database is unreachable.
        try? await self.ledger.announceUpstreamPause(duration)
    }
}
