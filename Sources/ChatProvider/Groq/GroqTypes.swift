/// One message of a chat completion's context.
public struct ChatMessage: Sendable, Codable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// One entry of `GET {base}/models`: a model the upstream serves to this API key.
public struct UpstreamModel: Sendable, Codable, Equatable {
    public var id: String
    public var ownedBy: String?
    /// Tokens of context the model takes (Groq's `context_window`), when the upstream says.
    public var contextWindow: Int?
    /// Groq's `active`: false for a model being retired.
    public var active: Bool?

    public init(id: String, ownedBy: String? = nil, contextWindow: Int? = nil, active: Bool? = nil) {
        self.id = id
        self.ownedBy = ownedBy
        self.contextWindow = contextWindow
        self.active = active
    }

    enum CodingKeys: String, CodingKey {
        case id, active
        case ownedBy = "owned_by"
        case contextWindow = "context_window"
    }
}

/// A request to `POST {base}/chat/completions`.
public struct ChatCompletionRequest: Sendable {
    public var model: String
    public var messages: [ChatMessage]
    public var temperature: Double?
    public var maxCompletionTokens: Int?
    public var stream: Bool

    public init(
        model: String,
        messages: [ChatMessage],
        temperature: Double? = nil,
        maxCompletionTokens: Int? = nil,
        stream: Bool = false
    ) {
        self.model = model
        self.messages = messages
        self.temperature = temperature
        self.maxCompletionTokens = maxCompletionTokens
        self.stream = stream
    }

    /// The JSON body Groq takes: `model`, `messages` (each `role` and `content`), `temperature` and
    /// `max_completion_tokens` when set, `stream`. Written straight into bytes: every upstream call sends its
    /// chat's whole context, and `JSONEncoder` was about 4 % of a replica's CPU under chat-bench's send.
    /// Throws for a temperature that JSON cannot hold (NaN or infinite).
    public func jsonBody() throws -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(
            128 + self.model.utf8.count
                + self.messages.reduce(0) { $0 + 32 + $1.role.utf8.count + $1.content.utf8.count })
        JSONText.appendStatic(#"{"model":"#, to: &body)
        JSONText.appendQuoted(self.model, to: &body)
        JSONText.appendStatic(#","messages":["#, to: &body)
        for (index, message) in self.messages.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            JSONText.appendStatic(#"{"role":"#, to: &body)
            JSONText.appendQuoted(message.role, to: &body)
            JSONText.appendStatic(#","content":"#, to: &body)
            JSONText.appendQuoted(message.content, to: &body)
            body.append(UInt8(ascii: "}"))
        }
        body.append(UInt8(ascii: "]"))
        if let temperature = self.temperature {
            guard temperature.isFinite else {
                throw EncodingError.invalidValue(
                    temperature, .init(codingPath: [], debugDescription: "temperature must be finite"))
            }
            JSONText.appendStatic(#","temperature":"#, to: &body)
            body.append(contentsOf: temperature.description.utf8)
        }
        if let maxCompletionTokens = self.maxCompletionTokens {
            JSONText.appendStatic(#","max_completion_tokens":"#, to: &body)
            body.append(contentsOf: String(maxCompletionTokens).utf8)
        }
        JSONText.appendStatic(self.stream ? #","stream":true}"# : #","stream":false}"#, to: &body)
        return body
    }
}

/// Token counts reported by the provider.
public struct TokenUsage: Sendable, Codable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int

    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens ?? promptTokens + completionTokens
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
    }
}

/// A complete (non-streamed) answer.
public struct ChatCompletion: Sendable, Equatable {
    public var content: String
    public var finishReason: String?
    public var usage: TokenUsage?
    public var model: String?

    public init(content: String, finishReason: String?, usage: TokenUsage?, model: String?) {
        self.content = content
        self.finishReason = finishReason
        self.usage = usage
        self.model = model
    }
}

/// One event of a streamed answer.
public enum ChatStreamEvent: Sendable, Equatable {
    /// More text.
    case delta(String)
    /// The answer is complete (`data: [DONE]` was received).
    case finished(finishReason: String?, usage: TokenUsage?, model: String?)
}

/// Rate-limit state from `x-ratelimit-*` and `retry-after` response headers.
public struct RateLimitInfo: Sendable, Equatable {
    public var limitRequests: Int?
    public var remainingRequests: Int?
    public var resetRequests: Duration?
    public var limitTokens: Int?
    public var remainingTokens: Int?
    public var resetTokens: Duration?
    public var retryAfter: Duration?

    public init() {}

    public init(head: CurlResponseHead) {
        self.limitRequests = head.header("x-ratelimit-limit-requests").flatMap { Int($0) }
        self.remainingRequests = head.header("x-ratelimit-remaining-requests").flatMap { Int($0) }
        self.resetRequests = head.header("x-ratelimit-reset-requests").flatMap(GoDuration.parse)
        self.limitTokens = head.header("x-ratelimit-limit-tokens").flatMap { Int($0) }
        self.remainingTokens = head.header("x-ratelimit-remaining-tokens").flatMap { Int($0) }
        self.resetTokens = head.header("x-ratelimit-reset-tokens").flatMap(GoDuration.parse)
        self.retryAfter = head.header("retry-after").flatMap { Double($0) }.flatMap { seconds in
            seconds >= 0 ? Duration.milliseconds(Int64((seconds * 1000).rounded(.up))) : nil
        }
    }
}

/// Why the provider could not answer. Each case maps to one HTTP status of our API.
public enum ProviderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No API key is configured (503).
    case notConfigured
    /// The provider refused our key (401/403 upstream → 502).
    case rejectedCredentials(String)
    /// Rate limited upstream after our retries, or our own queue was full for too long (503 + Retry-After).
    case rateLimited(retryAfter: Duration?, message: String)
    /// Waited longer than the queue timeout for a slot (503 + Retry-After).
    case queueTimeout(Duration)
    /// The provider answered with an error status (502).
    case upstream(status: Int, message: String)
    /// Could not connect, or the connection broke (502).
    case connection(String)
    /// No answer in time (504).
    case timedOut(String)
    /// The answer could not be understood (502).
    case malformedResponse(String)
    /// The stream carried an error or ended without `[DONE]` (502).
    case streamFailed(String)
    /// This server is shutting down and starts no new upstream call (503 + Retry-After).
    case shuttingDown

    public var description: String {
        switch self {
        case .notConfigured: "AI provider not configured"
        case .rejectedCredentials(let message): "the provider rejected the API key: \(message)"
        case .rateLimited(_, let message): "rate limited: \(message)"
        case .queueTimeout(let waited): "no provider slot within \(waited)"
        case .upstream(let status, let message): "provider error \(status): \(message)"
        case .connection(let message): "cannot reach the provider: \(message)"
        case .timedOut(let message): "provider timed out: \(message)"
        case .malformedResponse(let message): "malformed provider response: \(message)"
        case .streamFailed(let message): "provider stream failed: \(message)"
        case .shuttingDown: "the server is shutting down"
        }
    }

    /// Whether a new attempt may succeed (429, 5xx, connection failures), before any output was delivered.
    public var isRetryable: Bool {
        switch self {
        case .rateLimited, .connection: true
        case .upstream(let status, _): status >= 500
        default: false
        }
    }
}
