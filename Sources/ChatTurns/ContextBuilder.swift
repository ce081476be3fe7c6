import ChatProvider
import ChatStorage

/// Chooses what the model sees: the system prompt, then the newest messages that fit the token budget,
/// oldest dropped first, never splitting a message; the newest user message is always included.
enum ContextBuilder {
    /// The estimate of a whole context: what a turn reserves and is charged when the upstream reports nothing.
    static func estimateTokens(of messages: [ChatMessage]) -> Int {
        messages.reduce(0) { $0 + HistoryWindow.estimatedTokens($1.content) }
    }

    /// Tokens a chat template adds around each message (its role and delimiters), and once to a request (the
    /// reply's opening, a model's own preamble): generous, as they vary by model.
    static let framingPerMessage = 8
    static let framingPerRequest = 64

    /// The most tokens `messages` can cost as a prompt, whatever the tokenizer: a byte-level tokenizer never
    /// makes more tokens than the text has bytes of UTF-8, plus the framing. What a turn reserves against quotas
    /// (with the most its reply may write), where ``estimateTokens(of:)`` (about 4 bytes a token) would leave
    /// text of short words under-reserved by half.
    static func maximumTokens(of messages: [ChatMessage]) -> Int {
        messages.reduce(Self.framingPerRequest) { $0 + $1.content.utf8.count + Self.framingPerMessage }
    }

    /// `history` is newest first and ends (at index 0) with the user message that started this turn.
    static func messages(systemPrompt: String, history: [MessageRecord], budget: Int) -> [ChatMessage] {
        var remaining = budget - HistoryWindow.estimatedTokens(systemPrompt)
        var chosen: [MessageRecord] = []
        for (index, message) in history.enumerated() {
            let cost = HistoryWindow.estimatedTokens(message.content)
            if index > 0 && cost > remaining { break }
            chosen.append(message)
            remaining -= cost
        }
        return [ChatMessage(role: "system", content: systemPrompt)]
            + chosen.reversed().map { ChatMessage(role: $0.role.rawValue, content: $0.content) }
    }
}
