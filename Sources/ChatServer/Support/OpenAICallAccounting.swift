import ChatProvider
import ChatStorage
import ChatTurns
import CoreMetrics
import HTTPTypes
import Logging

/// What one POST /v1/chat/completions is checked against before the upstream is called, and charged to after.
///
/// Before: the user's daily and monthly quotas (their usage and their running turns' reservations) and the
/// key's monthly budget must have room left, else 429 `insufficient_quota`. This is a check, not a reservation:
/// calls admitted at the same moment may together pass a limit by what they use. After: the call's tokens
/// (the upstream's usage, or an estimate: for a stream cut short the prompt's estimate and what was streamed)
/// are charged to the user's usage for the day, as a turn's are, to the key's usage for the month, and counted
/// in `chat_v1_completion_tokens_total`.
struct OpenAICallAccounting: Sendable {
    let database: any ChatStore
    let quotas: QuotaPolicy
    let logger: Logger
    let user: UserRecord
    let key: APIKeyRecord?
    let metrics: ServerMetrics?

    func requireRoom() async throws {
        let limits = self.quotas.limits(for: self.user)
        let today = self.quotas.clock.today
        if !limits.isUnlimited {
            let standing = try await self.database.quotaStanding(userID: self.user.id, today: today)
            if let period = standing.exceeded(dailyLimit: limits.daily, monthlyLimit: limits.monthly) {
                let refusal = self.quotas.refusal(period, limits: limits)
                throw OpenAIError(
                    .tooManyRequests, refusal.detail, type: "insufficient_quota", code: "insufficient_quota",
                    headers: [.retryAfter: String(refusal.secondsToReset)])
            }
        }
        guard let key, let budget = key.monthlyTokenBudget else { return }
        let listings = try await self.database.apiKeys(userID: self.user.id, month: today.monthStart)
        let used = listings.first { $0.key.id == key.id }?.usage.totalTokens ?? 0
        if used >= budget {
            throw OpenAIError(
                .tooManyRequests, "This API key's monthly token budget (\(budget) tokens) is used up",
                type: "insufficient_quota", code: "insufficient_quota")
        }
    }

    /// Counts the call's tokens in /metrics and charges them to the user and to the key (a JWT caller has
    /// none); nothing for a call that used none. A failure is logged: the answer already went out.
    func charge(prompt: Int, completion: Int, estimated: Bool) async {
        guard prompt + completion > 0 else { return }
        self.metrics?.v1Tokens.increment(by: Int64(prompt + completion))
        let charge = UsageCharge(
            userID: self.user.id, day: self.quotas.clock.today, promptTokens: prompt, completionTokens: completion,
            estimated: estimated)
        do {
            try await self.database.chargeCall(charge, apiKey: self.key?.id)
        } catch {
            self.logger.error("could not charge a /v1 call's usage", metadata: ["error": "\(error)"])
        }
    }

    /// Charges what a call reported, or `estimate` when the upstream reported no usage.
    func charge(_ usage: TokenUsage?, estimate: (prompt: Int, completion: Int)) async {
        if let usage {
            await self.charge(prompt: usage.promptTokens, completion: usage.completionTokens, estimated: false)
        } else {
            await self.charge(prompt: estimate.prompt, completion: estimate.completion, estimated: true)
        }
    }
}
