import ChatStorage
import CoreMetrics
import Metrics

/// The figures of AI turns for `GET /metrics`: how turns ended, the upstream's time to its first and last token,
/// and the tokens accounted to users. Made with the factory of the server's registry (which owns one and renders
/// it): the turn machinery records through swift-metrics handles made once here, and knows nothing of the
/// exposition. Per turn it records a handful of figures, none per streamed delta.
public final class TurnMetrics: Sendable {
    /// How a turn ended, the `outcome` label of `chat_turns_total`.
    public enum Outcome: String, CaseIterable, Sendable {
        case complete, failed, cancelled, interrupted, refused
    }

    private let outcomes: [Outcome: CoreMetrics.Counter]
    let timeToFirstToken: Metrics.Timer
    let upstreamDuration: Metrics.Timer
    private let promptTokens: CoreMetrics.Counter
    private let completionTokens: CoreMetrics.Counter

    /// The metrics `chat_turns_total`, `chat_upstream_time_to_first_token_seconds`,
    /// `chat_upstream_duration_seconds` and `chat_tokens_total`, made by `factory`.
    public init(factory: any MetricsFactory) {
        self.outcomes = Dictionary(
            uniqueKeysWithValues: Outcome.allCases.map {
                (
                    $0,
                    CoreMetrics.Counter(
                        label: "chat_turns_total", dimensions: [("outcome", $0.rawValue)], factory: factory)
                )
            })
        self.timeToFirstToken = Metrics.Timer(label: "chat_upstream_time_to_first_token_seconds", factory: factory)
        self.upstreamDuration = Metrics.Timer(label: "chat_upstream_duration_seconds", factory: factory)
        self.promptTokens = CoreMetrics.Counter(
            label: "chat_tokens_total", dimensions: [("kind", "prompt")], factory: factory)
        self.completionTokens = CoreMetrics.Counter(
            label: "chat_tokens_total", dimensions: [("kind", "completion")], factory: factory)
    }

    /// Counts a turn that ended (or was refused) as `outcome`.
    public func turnEnded(_ outcome: Outcome) {
        self.outcomes[outcome]?.increment()
    }

    /// Counts the tokens of one upstream call charged to its user.
    func accounted(_ charge: UsageCharge) {
        self.promptTokens.increment(by: charge.promptTokens)
        self.completionTokens.increment(by: charge.completionTokens)
    }
}
