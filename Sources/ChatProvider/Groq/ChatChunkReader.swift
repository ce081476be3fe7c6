/// The events of a streamed turn, parsed from the response body's Server-Sent Events: text deltas, then one
/// ``ChatStreamEvent/finished(finishReason:usage:model:)`` (see ``UpstreamEventSequence``).
public typealias ChatEventSequence = UpstreamEventSequence<ChatChunkReader>

/// What a turn makes of the upstream's chunks: a delta for each piece of text (through ``DeltaFastPath`` when
/// the chunk is a plain delta), the finish reason, usage and model kept for the finished event.
public struct ChatChunkReader: UpstreamChunkReader {
    var finishReason: String?
    var usage: TokenUsage?
    var model: String?

    public init() {}

    public mutating func read(
        _ payload: String, redact: (String) -> String, into events: inout [ChatStreamEvent]
    ) throws {
        if let content = DeltaFastPath.content(of: payload) {
            if !content.isEmpty { events.append(.delta(content)) }
            return
        }
        guard let chunk = StreamChunk(payload) else {
            throw ProviderError.streamFailed("a stream event is not valid JSON")
        }
        if let error = chunk.errorMessage {
            throw ProviderError.streamFailed(redact(error))
        }
        if let model = chunk.model { self.model = model }
        if let usage = chunk.xGroqUsage ?? chunk.usage { self.usage = usage }
        for choice in chunk.choices ?? [] {
            if let reason = choice.finishReason { self.finishReason = reason }
            if let content = choice.content, !content.isEmpty {
                events.append(.delta(content))
            }
        }
    }

    public func finished() -> ChatStreamEvent {
        .finished(finishReason: self.finishReason, usage: self.usage, model: self.model)
    }

    /// A streamed chunk the fast path did not take, read from ``UpstreamJSON`` with the types and optionality
    /// of Groq's wire format; nil when it is not valid JSON or a member has another type.
    struct StreamChunk {
        struct Choice {
            var content: String?
            var finishReason: String?
        }
        var model: String?
        var choices: [Choice]?
        var usage: TokenUsage?
        var xGroqUsage: TokenUsage?
        var errorMessage: String?

        init?(_ payload: String) {
            guard let json = UpstreamJSON.parse(payload), json.isObject else { return nil }
            do {
                self.model = try json.string("model")
                self.choices = try json.array("choices")?.map { choice throws(UpstreamJSON.Mismatch) in
                    guard choice.isObject else { throw UpstreamJSON.Mismatch() }
                    return Choice(
                        content: try choice.object("delta")?.string("content"),
                        finishReason: try choice.string("finish_reason"))
                }
                self.usage = try json.object("usage").map(Self.usage)
                self.xGroqUsage = try json.object("x_groq")?.object("usage").map(Self.usage)
                if let error = try json.object("error") {
                    guard let message = try error.string("message") else { return nil }
                    _ = try error.string("type")
                    _ = try error.string("code")
                    self.errorMessage = message
                }
            } catch {
                return nil
            }
        }

        /// `TokenUsage` as Groq sends it: all three counts required.
        private static func usage(_ json: UpstreamJSON) throws(UpstreamJSON.Mismatch) -> TokenUsage {
            guard let prompt = try json.int("prompt_tokens"), let completion = try json.int("completion_tokens"),
                let total = try json.int("total_tokens")
            else { throw UpstreamJSON.Mismatch() }
            return TokenUsage(promptTokens: prompt, completionTokens: completion, totalTokens: total)
        }
    }
}
