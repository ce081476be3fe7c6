/// A chat completion forwarded for the OpenAI-compatible door: the client's messages as given and its sampling
/// fields passed through (the turns keep ``ChatCompletionRequest``, whose body is written by hand on their
/// hot path).
public struct PassThroughRequest: Sendable {
    public var model: String
    /// The client's messages, as given (any role, string or text-part content, `tool_calls`, `tool_call_id`).
    public var messages: [WireJSON]
    /// The other fields sent upstream by their wire names (`temperature`, `tools`, `max_tokens`, ...).
    public var options: [String: WireJSON]
    public var stream: Bool

    public init(model: String, messages: [WireJSON], options: [String: WireJSON] = [:], stream: Bool = false) {
        self.model = model
        self.messages = messages
        self.options = options
        self.stream = stream
    }

    /// The JSON body: the options, `model`, `messages` and `stream`, keys sorted; a stream always asks for usage
    /// (`stream_options.include_usage`) so the call can be charged.
    public func jsonBody() -> [UInt8] {
        var fields = self.options
        fields["model"] = .string(self.model)
        fields["messages"] = .array(self.messages)
        fields["stream"] = .bool(self.stream)
        fields["stream_options"] = self.stream ? .object(["include_usage": .bool(true)]) : nil
        return WireJSON.object(fields).jsonBytes
    }
}

/// The upstream's complete answer to a ``PassThroughRequest``: its first choice's message as sent (content,
/// `tool_calls`), the finish reason and the usage.
public struct PassThroughCompletion: Sendable, Equatable {
    public var message: WireJSON
    public var finishReason: String?
    public var usage: TokenUsage?
    public var model: String?

    public init(message: WireJSON, finishReason: String?, usage: TokenUsage?, model: String?) {
        self.message = message
        self.finishReason = finishReason
        self.usage = usage
        self.model = model
    }
}

/// One event of a streamed pass-through answer.
public enum PassThroughEvent: Sendable, Equatable {
    /// A chunk's choices as the upstream sent them (`index`, `delta` with content or `tool_calls`,
    /// `finish_reason`); never empty.
    case choices([WireJSON])
    /// The answer is complete (`data: [DONE]`), with the usage the upstream reported.
    case finished(usage: TokenUsage?, model: String?)
}
