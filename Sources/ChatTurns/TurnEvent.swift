import ChatProvider
import ChatStorage

/// What happens during one AI turn, as seen by whoever follows it (the requester or a reattached reader).
public enum TurnEvent: Sendable {
    /// The user's message and the empty assistant reply are saved; generation starts.
    /// (Rare, large cases are `indirect`: the enum stays the size of a delta, which is what a follower's bounded
    /// buffer holds thousands of.)
    indirect case started(user: MessageRecord, assistant: MessageRecord)
    /// More reply text; `offset` is the reply's length in Unicode scalars after this delta.
    case delta(String, offset: Int)
    /// The reply ended `complete` or `cancelled` and is saved.
    indirect case finished(MessageRecord, usage: TokenUsage?)
    /// The turn failed; `message` is the saved reply (status `failed`, partial content kept) when one exists.
    indirect case failed(TurnFailure, message: MessageRecord?)
    /// Nothing happened: put in a stream by its reader's heartbeat, so proxies keep an idle stream open.
    case keepAlive

    /// How a reattached stream ends for a reply that has ended and was saved: as a live stream does, `done` for
    /// `complete` and `cancelled`, a failure for `failed` (its saved error as the reason).
    public static func ended(_ reply: MessageRecord) -> TurnEvent {
        guard reply.status == .failed else { return .finished(reply, usage: nil) }
        return .failed(.saved(reason: reply.error ?? "The reply failed"), message: reply)
    }
}

/// Fixed inputs of every turn. A chat's own model and system prompt, and a turn's chosen model, take the
/// place of `model` and `systemPrompt`.
/// Filled by the application from its configuration (`GROQ_MODEL`, `SYSTEM_PROMPT`, `CONTEXT_TOKENS`,
/// `MAX_COMPLETION_TOKENS`): the turn machinery reads no configuration of its own.
public struct TurnSettings: Sendable {
    /// The default model.
    let model: String
    /// The models on offer: a chat's own model that is no longer offered gives way to the default.
    let models: ModelCatalog
    /// The default system prompt.
    let systemPrompt: String
    /// The context's budget in estimated tokens (system prompt and history).
    let contextTokens: Int
    /// The most a reply may write, asked of the upstream and reserved against quotas.
    let maxCompletionTokens: Int
    /// How often a streaming reply's text is saved (so a crash loses at most this much).
    let flushInterval: Duration

    public init(
        model: String, models: ModelCatalog, systemPrompt: String, contextTokens: Int, maxCompletionTokens: Int,
        flushInterval: Duration
    ) {
        self.model = model
        self.models = models
        self.systemPrompt = systemPrompt
        self.contextTokens = contextTokens
        self.maxCompletionTokens = maxCompletionTokens
        self.flushInterval = flushInterval
    }
}
