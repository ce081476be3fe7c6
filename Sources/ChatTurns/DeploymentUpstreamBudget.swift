import ChatProvider
import ChatStorage
import Logging

/// The provider's ``SharedUpstreamBudget`` over a store's ``UpstreamLedger``: with several replicas on one
/// PostgreSQL database, `GROQ_RPM` and `GROQ_TPM` count every replica's calls, and a 429 pauses them all.
public struct DeploymentUpstreamBudget: SharedUpstreamBudget {
    let ledger: any UpstreamLedger
    let logger: Logger

    public init(ledger: any UpstreamLedger, logger: Logger) {
        self.ledger = ledger
        self.logger = logger
    }

    public func reserve(tokens: Int, limits: ProviderLimits) async throws -> SharedUpstreamReservation {
        switch try await self.ledger.reserveUpstreamCall(
            tokens: tokens, requestsPerMinute: limits.requestsPerMinute, tokensPerMinute: limits.tokensPerMinute,
            window: limits.window + limits.windowMargin)
        {
        case .recorded(let id): .recorded(id: id)
        case .retry(let wait): .retry(after: wait)
        }
    }

    public func settle(_ call: Int64, usedTokens: Int) async {
        do {
            try await self.ledger.settleUpstreamCall(call, tokens: usedTokens)
        } catch {
            // The estimate stays counted: the deployment's budget errs on the safe side until it leaves the window.
            self.logger.warning("could not settle an upstream call's tokens", metadata: ["error": "\(error)"])
        }
    }

    public func pauseEveryone(for duration: Duration) async {
        // Best effort: this process pauses anyway; the others learn it unless the database is unreachable.
        try? await self.ledger.announceUpstreamPause(duration)
    }
}
