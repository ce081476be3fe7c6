import ChatProvider
import ChatStorage
import Foundation
import Metrics

/// Whose quotas a turn counts against, as authenticated when it was sent.
public struct TurnAccount: Sendable {
    public let userID: UUID
    public let limits: QuotaLimits

    public init(userID: UUID, limits: QuotaLimits) {
        self.userID = userID
        self.limits = limits
    }
}

/// How upstream calls are accounted: what each is charged to its user, and the metrics of turns and tokens.
struct TurnAccounting: Sendable {
    let quotas: QuotaPolicy
    let metrics: TurnMetrics?

    /// The charge for one upstream call on today's UTC day: the upstream's own usage when it reported one;
    /// otherwise (a stream cut off by a cancel, a failure or a shutdown) an estimate, marked so — the prompt as
    /// estimated for the context, the completion from the text delivered. A call that delivered nothing and
    /// reported nothing is not charged: the upstream refused it, or it never left the queue.
    func charge(userID: UUID, usage: TokenUsage?, promptEstimate: Int, delivered: String) -> UsageCharge? {
        let day = self.quotas.clock.today
        if let usage {
            return UsageCharge(
                userID: userID, day: day, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens,
                estimated: false)
        }
        guard !delivered.isEmpty else { return nil }
        return UsageCharge(
            userID: userID, day: day, promptTokens: promptEstimate,
            completionTokens: Self.estimateCompletionTokens(delivered), estimated: true)
    }

    /// About 4 bytes of text per token, at least 1 for any text.
    static func estimateCompletionTokens(_ text: String) -> Int {
        (text.utf8.count + 3) / 4
    }

    /// Whether a turn of this account reserves tokens against quotas.
    func reserves(for account: TurnAccount) -> Bool {
        !account.limits.isUnlimited
    }

    /// A turn's reservation against its user's quotas, or nil when they have none.
    func reservation(for account: TurnAccount, tokens: Int) -> TokenReservation? {
        guard self.reserves(for: account) else { return nil }
        return TokenReservation(
            userID: account.userID, tokens: tokens, today: self.quotas.clock.today, dailyLimit: account.limits.daily,
            monthlyLimit: account.limits.monthly)
    }
}

/// A turn's figures for `GET /metrics` (nothing when metrics are off): the session reports what happened, and
/// the accounting records it.
extension TurnAccounting {
    /// A turn refused because its user's quota is spent.
    func turnRefused() {
        self.metrics?.turnEnded(.refused)
    }

    /// The provider's first token, `elapsed` after the call was sent.
    func firstToken(after elapsed: Duration) {
        self.metrics?.timeToFirstToken.record(duration: elapsed)
    }

    /// The provider's answer ended, `elapsed` after the call was sent.
    func upstreamFinished(after elapsed: Duration) {
        self.metrics?.upstreamDuration.record(duration: elapsed)
    }

    /// How a turn ended (`interrupted`: cut short by the server's shutdown), and the tokens it was charged.
    func turnEnded(_ status: MessageStatus, interrupted: Bool, charge: UsageCharge?) {
        guard let metrics = self.metrics else { return }
        if let charge { metrics.accounted(charge) }
        switch status {
        case .complete: metrics.turnEnded(.complete)
        case .cancelled: metrics.turnEnded(.cancelled)
        case .failed, .streaming: metrics.turnEnded(interrupted ? .interrupted : .failed)
        }
    }
}
