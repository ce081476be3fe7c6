import ChatProvider
import ChatStorage

/// Chooses what the model sees: the system prompt, then the newest messages that fit the token budget,
/// oldest dropped first, never splitting a message; the newest user message is always included.
enum ContextBuilder {
    /// The estimate of a whole context: what a turn reserves and is charged when the upstream reports nothing.
    static func estimateTokens(of messages: [ChatMessage]) -> Int {
        messages.reduce(0) { $0 + HistoryWindow.estimatedTokens($1.content) }
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
