import Foundation

/// Where and how to reach Groq (or any OpenAI-compatible server).
public struct GroqConfiguration: Sendable {
    public var apiKey: String
    /// e.g. `https://api.groq.com/openai/v1` (no trailing slash).
    public var baseURL: String
    public var model: String
    public var connectTimeout: Duration
    /// Total time for a non-streamed answer.
    public var requestTimeout: Duration
    /// A stream waits at most this long for its first byte and between any two chunks.
    public var streamIdleTimeout: Duration

    public init(
        apiKey: String,
        baseURL: String,
        model: String,
        connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(60),
        streamIdleTimeout: Duration = .seconds(30)
    ) {
        self.apiKey = apiKey
        self.baseURL = baseURL
        self.model = model
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.streamIdleTimeout = streamIdleTimeout
    }
}

/// Speaks Groq's OpenAI-compatible chat-completions wire format over ``CurlClient``.
///
/// Stateless and Sendable: rate limiting, retries and queueing belong to ``ProviderActor``. Error messages
/// are taken from the provider's `{"error": {"message"}}` body with the API key redacted, so the key never
/// reaches a response or a log.
public struct GroqClient: Sendable {
    public let configuration: GroqConfiguration
    let http: CurlClient

    public init(configuration: GroqConfiguration, http: CurlClient) {
        self.configuration = configuration
        self.http = http
    }

    /// A non-streamed completion and the rate-limit headers that came with it.
    public func complete(_ request: ChatCompletionRequest) async throws -> (ChatCompletion, RateLimitInfo) {
        var request = request
        request.stream = false
        let (body, info) = try await self.send(
            self.completionRequest(body: try request.jsonBody(), streaming: false))
        guard let decoded = try? JSONDecoder().decode(CompletionBody.self, from: Data(body)) else {
            throw ProviderError.malformedResponse("the completion is not valid JSON")
        }
        guard let choice = decoded.choices.first, let content = choice.message.content else {
            throw ProviderError.malformedResponse("the completion has no message content")
        }
        return (
            ChatCompletion(
                content: content, finishReason: choice.finishReason, usage: decoded.usage, model: decoded.model),
            info
        )
    }

    /// A streamed completion: resumes when the response headers arrive (after checking the status), then
    /// yields deltas and one `.finished`. Errors after the head arrive as a thrown ``ProviderError``.
    public func stream(_ request: ChatCompletionRequest) async throws -> (RateLimitInfo, ChatEventSequence) {
        var request = request
        request.stream = true
        let (info, body) = try await self.openStream(body: try request.jsonBody())
        return (info, ChatEventSequence(bytes: body, redact: self.redact, chunks: ChatChunkReader()))
    }

    /// Opens a streamed completion with `body`: its rate-limit headers and body once a 200 head arrived.
    func openStream(body requestBody: [UInt8]) async throws -> (RateLimitInfo, CurlBodyStream) {
        let head: CurlResponseHead
        let body: CurlBodyStream
        do {
            (head, body) = try await self.http.stream(self.completionRequest(body: requestBody, streaming: true))
        } catch let error as CurlError {
            throw Self.providerError(for: error)
        }
        let info = RateLimitInfo(head: head)
        if head.status != 200 {
            // The body of an error response is small: read it for the message.
            var bytes: [UInt8] = []
            do {
                for try await chunk in body where bytes.count < 65_536 { bytes.append(contentsOf: chunk) }
            } catch {}
            try self.checkStatus(head, body: bytes, info: info)
        }
        return (info, body)
    }

    /// The models the upstream serves to this key (`GET {base}/models`).
    public func listModels() async throws -> [UpstreamModel] {
        struct ModelList: Decodable { let data: [UpstreamModel] }
        let (body, _) = try await self.send(
            CurlRequest(
                method: "GET",
                url: self.configuration.baseURL + "/models",
                headers: [("Authorization", "Bearer \(self.configuration.apiKey)"), ("Accept", "application/json")],
                body: [],
                connectTimeout: self.configuration.connectTimeout,
                totalTimeout: self.configuration.requestTimeout,
                idleTimeout: nil))
        guard let list = try? JSONDecoder().decode(ModelList.self, from: Data(body)) else {
            throw ProviderError.malformedResponse("the model list is not valid JSON")
        }
        return list.data
    }

    /// Performs a non-streamed `request`: the body of its 200 response and the rate-limit headers; any other
    /// status throws its ``ProviderError``.
    func send(_ request: CurlRequest) async throws -> (body: [UInt8], info: RateLimitInfo) {
        let response: CurlResponse
        do {
            response = try await self.http.perform(request)
        } catch let error as CurlError {
            throw Self.providerError(for: error)
        }
        let info = RateLimitInfo(head: response.head)
        try self.checkStatus(response.head, body: response.body, info: info)
        return (response.body, info)
    }

    func completionRequest(body: [UInt8], streaming: Bool) -> CurlRequest {
        CurlRequest(
            method: "POST",
            url: self.configuration.baseURL + "/chat/completions",
            headers: [
                ("Authorization", "Bearer \(self.configuration.apiKey)"),
                ("Content-Type", "application/json"),
                ("Accept", streaming ? "text/event-stream" : "application/json"),
            ],
            body: body,
            connectTimeout: self.configuration.connectTimeout,
            totalTimeout: streaming ? nil : self.configuration.requestTimeout,
            idleTimeout: streaming ? self.configuration.streamIdleTimeout : nil
        )
    }

    func checkStatus(_ head: CurlResponseHead, body: [UInt8], info: RateLimitInfo) throws {
        guard head.status != 200 else { return }
        let message = self.redact(Self.errorMessage(from: body) ?? "HTTP \(head.status)")
        switch head.status {
        case 401, 403: throw ProviderError.rejectedCredentials(message)
        case 429: throw ProviderError.rateLimited(retryAfter: info.retryAfter ?? info.resetRequests, message: message)
        default: throw ProviderError.upstream(status: head.status, message: message)
        }
    }

    var redact: @Sendable (String) -> String {
        let key = self.configuration.apiKey
        return { text in key.isEmpty ? text : text.replacingOccurrences(of: key, with: "[redacted]") }
    }

    static func errorMessage(from body: [UInt8]) -> String? {
        if let envelope = try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(body)) {
            return envelope.error.message
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    static func providerError(for error: CurlError) -> ProviderError {
        switch error {
        case .timedOut(let message): .timedOut(message)
        case .connectionFailed(let message), .setupFailed(let message), .transport(_, let message): .connection(message)
        }
    }

    // MARK: Wire format

    struct ErrorEnvelope: Decodable {
        struct Body: Decodable {
            let message: String
            let type: String?
            let code: String?
        }
        let error: Body
    }

    struct CompletionBody: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { let content: String? }
            let message: Message
            let finishReason: String?
            enum CodingKeys: String, CodingKey {
                case message
                case finishReason = "finish_reason"
            }
        }
        let model: String?
        let choices: [Choice]
        let usage: TokenUsage?
    }
}

/// The events of a streamed turn, parsed from the response body's Server-Sent Events: text deltas, then one
/// ``ChatStreamEvent/finished(finishReason:usage:model:)`` (see ``UpstreamEventSequence``).
public typealias ChatEventSequence = UpstreamEventSequence<ChatChunkReader>

/// What a turn makes of the upstream's chunks: a delta for each piece of text (through ``DeltaFastPath`` when
/// the chunk is a plain delta), the finish reason, usage and model kept for the finished event.
public struct ChatChunkReader: UpstreamChunkReader {
    var finishReason: String?
    var usage: TokenUsage?
    var model: String?

    public mutating func read(
        _ payload: String, redact: (String) -> String, into events: inout [ChatStreamEvent]
    ) throws {
        if let content = DeltaFastPath.content(of: payload) {
            if !content.isEmpty { events.append(.delta(content)) }
            return
        }
        let chunk = try StreamChunk.accepted(StreamChunk(payload), redact: redact)
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
    struct StreamChunk: UpstreamChunk {
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
