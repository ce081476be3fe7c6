import ChatProvider
import ChatStorage
import ChatTurns
import CoreMetrics
import HTTPTypes
import Logging

/// One admitted POST /v1/chat/completions' claim on its user's quotas and its key's budget, from admission
/// to settlement: reserve-then-settle, as a turn's.
///
/// ``admit(_:tokens:)`` admits the call against the user's daily and monthly quotas (their usage, and what
/// their running turns and calls hold) and the key's monthly budget, else 429 `insufficient_quota`, and holds
/// the most the call can cost (``ChatStore/reserveCall(_:)``) when a limit applies. ``settle(_:estimate:)``
/// then releases the hold and charges what the call used (the upstream's usage, or an estimate: for a stream
/// cut short, the prompt's estimate and what was streamed) to the user's usage for the day, to the key's for
/// the month, and to `chat_v1_completion_tokens_total`, in one step (``ChatStore/settleCall(_:hold:apiKey:)``).
/// Every admitted call is settled once, whether it succeeds, fails or is cut off.
struct OpenAICallAccounting: Sendable {
    /// Who the call is for and what it is checked against.
    struct Caller: Sendable {
        let database: any ChatStore
        let quotas: QuotaPolicy
        let logger: Logger
        let user: UserRecord
        let key: APIKeyRecord?
        let metrics: ServerMetrics?
    }

    let caller: Caller
    /// The call's reservation; nil when no limit applies to it.
    let hold: CallHold?

    /// Admits the call, holding `tokens` when the user has a quota or the key a budget.
    static func admit(_ caller: Caller, tokens: Int) async throws -> OpenAICallAccounting {
        let limits = caller.quotas.limits(for: caller.user)
        let budget = caller.key?.monthlyTokenBudget
        guard !limits.isUnlimited || budget != nil else { return OpenAICallAccounting(caller: caller, hold: nil) }
        let reservation = CallReservation(
            userID: caller.user.id, apiKey: caller.key?.id, tokens: tokens, today: caller.quotas.clock.today,
            dailyLimit: limits.daily, monthlyLimit: limits.monthly, keyBudget: budget)
        do {
            return OpenAICallAccounting(caller: caller, hold: try await caller.database.reserveCall(reservation))
        } catch StorageError.quotaExceeded(let period) {
            let refusal = caller.quotas.refusal(period, limits: limits)
            throw OpenAIError(
                .tooManyRequests, refusal.detail, type: "insufficient_quota", code: "insufficient_quota",
                headers: [.retryAfter: String(refusal.secondsToReset)])
        } catch StorageError.keyBudgetExceeded {
            throw OpenAIError(
                .tooManyRequests, "This API key's monthly token budget (\(budget ?? 0) tokens) is used up",
                type: "insufficient_quota", code: "insufficient_quota")
        } catch StorageError.userGone {
            // The key or its user was deleted after the request was authenticated.
            throw OpenAIError.invalidAPIKey
        }
    }

    /// Releases the hold and charges what the call reported, or `estimate` when the upstream reported no
    /// usage; nothing is charged for a call that used no tokens. A failure is logged: the answer has gone out
    /// or failed already, and the hold lapses with the process (or its replica's lease).
    func settle(_ usage: TokenUsage?, estimate: (prompt: Int, completion: Int)) async {
        let (prompt, completion, estimated) =
            usage.map { ($0.promptTokens, $0.completionTokens, false) } ?? (estimate.prompt, estimate.completion, true)
        var charge: UsageCharge?
        if prompt + completion > 0 {
            self.caller.metrics?.v1Tokens.increment(by: Int64(prompt + completion))
            charge = UsageCharge(
                userID: self.caller.user.id, day: self.caller.quotas.clock.today, promptTokens: prompt,
                completionTokens: completion, estimated: estimated)
        }
        guard charge != nil || self.hold != nil else { return }
        do {
            try await self.caller.database.settleCall(charge, hold: self.hold, apiKey: self.caller.key?.id)
        } catch {
            self.caller.logger.error("could not settle a /v1 call's usage", metadata: ["error": "\(error)"])
        }
    }

    /// Releases the hold of a call that used nothing (it failed before the upstream answered).
    func release() async {
        await self.settle(nil, estimate: (0, 0))
    }
}
