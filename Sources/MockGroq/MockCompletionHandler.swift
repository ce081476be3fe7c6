import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Answers `POST /openai/v1/chat/completions` the way Groq does, or with the configured fault.
struct MockCompletionHandler: Sendable {
    let state: MockGroqState
    let apiKey: String
    /// The RPM advertised in `x-ratelimit-limit-requests` when no limit is configured.
    static let advertisedRequestsPerMinute = 30_000
    static let start = ContinuousClock.now

    struct CompletionRequest: Decodable {
        struct Message: Decodable {
            let role: String
            /// A string, or the text of an array of text parts joined; "" when null or absent (an assistant's
            /// tool call).
            let content: String

            enum CodingKeys: String, CodingKey { case role, content }
            struct Part: Decodable { let text: String? }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                self.role = try container.decode(String.self, forKey: .role)
                if let text = try? container.decodeIfPresent(String.self, forKey: .content) {
                    self.content = text
                } else {
                    let parts = try container.decodeIfPresent([Part].self, forKey: .content) ?? []
                    self.content = parts.compactMap(\.text).joined()
                }
            }
        }
        struct Tool: Decodable {
            struct Function: Decodable { let name: String }
            let function: Function
        }
        struct StreamOptions: Decodable { let include_usage: Bool? }
        let model: String
        let messages: [Message]
        let stream: Bool?
        let max_completion_tokens: Int?
        let tools: [Tool]?
        let stream_options: StreamOptions?

        /// The function the mock calls: the first tool's, unless the last message already answers a call.
        var toolToCall: String? {
            guard self.messages.last?.role != "tool" else { return nil }
            return self.tools?.first?.function.name
        }
    }

    @Sendable func handle(_ request: Request, context: BasicRequestContext) async throws -> Response {
        guard request.headers[.authorization] == "Bearer \(self.apiKey)" else {
            self.state.recordBadKey()
            return Self.error(
                .unauthorized, message: "Invalid API Key", type: "invalid_request_error", code: "invalid_api_key")
        }
        let body = try await request.body.collect(upTo: 4 << 20)
        self.state.record(
            body: String(buffer: body.getSlice(at: body.readerIndex, length: min(body.readableBytes, 65_536)) ?? body))
        guard let completion = try? JSONDecoder().decode(CompletionRequest.self, from: Data(body.readableBytesView))
        else {
            return Self.error(.badRequest, message: "invalid JSON body", type: "invalid_request_error", code: nil)
        }
        let elapsed = ContinuousClock.now - Self.start
        let now = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        self.state.record(conversation: completion.messages.map { MockGroqMessage(role: $0.role, content: $0.content) })
        switch await self.admit(self.state.arrive(now: now), model: completion.model) {
        case .respond(let response):
            return response
        case .answer(let behavior, let fault):
            return try await self.answer(completion, behavior: behavior, fault: fault)
        }
    }

    /// What becomes of a request once the state has decided on it.
    enum Admission {
        /// Answered at once (a limit or a fault that replaces the completion).
        case respond(Response)
        /// Answered with a completion, spoiled by `fault` if there is one.
        case answer(MockGroqBehavior, fault: MockGroqBehavior.Fault?)
    }

    /// Turns the state's decision into an answer: the faults that replace a completion answer here (a hang
    /// once the mock stops), the others go on to ``answer(_:behavior:fault:)``.
    private func admit(_ decision: MockGroqState.Decision, model: String) async -> Admission {
        switch decision {
        case .overLimit(let current):
            return .respond(self.rateLimited(current, model: model))
        case .fault(.rateLimit, let current):
            return .respond(self.rateLimited(current, model: model))
        case .fault(.serverError, _):
            return .respond(
                Self.error(
                    .internalServerError, message: "Internal Server Error", type: "internal_server_error", code: nil))
        case .fault(.unauthorized, _):
            return .respond(
                Self.error(
                    .unauthorized, message: "Invalid API Key", type: "invalid_request_error", code: "invalid_api_key"))
        case .fault(.hang, _):
            while !self.state.isStopping && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
            }
            return .respond(
                Self.error(.serviceUnavailable, message: "mock stopping", type: "internal_server_error", code: nil))
        case .fault(let other, let current):
            return .answer(current, fault: other)
        case .answer(let current):
            return .answer(current, fault: nil)
        }
    }

    /// The completion, after the behavior's latency: one JSON body, or a stream when the request asked for one.
    private func answer(
        _ completion: CompletionRequest, behavior: MockGroqBehavior, fault: MockGroqBehavior.Fault?
    ) async throws -> Response {
        self.state.begin()
        if behavior.latencyMilliseconds > 0 {
            try? await Task.sleep(for: .milliseconds(behavior.latencyMilliseconds))
        }
        let reply = Self.reply(to: completion, behavior: behavior)
        let usage = Usage(
            prompt_tokens: MockGroqServer.promptTokens(completion.messages.map(\.content)),
            completion_tokens: reply.split(separator: " ").count,
            total_tokens: 0
        ).totalled()
        var headers = self.rateLimitHeaders(behavior)
        guard completion.stream == true else {
            defer { self.state.end(completed: fault == nil) }
            headers[.contentType] = "application/json"
            return try Self.whole(
                reply, toolCall: completion.toolToCall, usage: usage, model: completion.model, headers: headers,
                fault: fault)
        }
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let state = self.state
        let model = completion.model
        let chunkDelay = behavior.chunkDelayMilliseconds
        let toolCall = completion.toolToCall
        let includeUsage = completion.stream_options?.include_usage == true
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody { writer in
                var completed = false
                defer { state.end(completed: completed) }
                let stream = MockCompletionStream(
                    model: model, reply: reply, usage: usage, chunkDelayMilliseconds: chunkDelay, fault: fault,
                    toolCall: toolCall, includeUsage: includeUsage)
                completed = try await stream.writeEvents(to: &writer)
                try await writer.finish(nil)
            }
        )
    }

    /// A completion in one JSON body (`"stream"` not true), or a broken body for the malformed-JSON fault.
    private static func whole(
        _ reply: String, toolCall: String?, usage: Usage, model: String, headers: HTTPFields,
        fault: MockGroqBehavior.Fault?
    ) throws -> Response {
        if fault == .malformedJSON {
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{\"choices\": [ oops")))
        }
        let answer = Completion(
            id: Self.completionID(),
            object: "chat.completion",
            created: Int(Date().timeIntervalSince1970),
            model: model,
            choices: [Self.choice(reply, toolCall: toolCall)],
            usage: usage,
            x_groq: .init(id: "req_mock")
        )
        return Response(
            status: .ok, headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(answer))))
    }

    /// A completion id in Groq's shape. From the system generator (one `getrandom` call): Foundation's `UUID()`
    /// opens and reads `/dev/urandom` each time, a visible cost where the benchmark runs the mock.
    static func completionID() -> String {
        "chatcmpl-mock-" + String(UInt64.random(in: .min ... .max), radix: 16)
    }

    /// The configured reply, or one that names the mock and echoes the last user message; cut to
    /// `max_completion_tokens` words (a word is a token of the reply), as a model stops at its limit.
    static func reply(to request: CompletionRequest, behavior: MockGroqBehavior) -> String {
        let reply: String
        if let configured = behavior.reply {
            reply = configured
        } else {
            let answersTool = request.messages.last?.role == "tool"
            let last =
                (answersTool ? request.messages.last : request.messages.last { $0.role == "user" })?.content ?? ""
            let echoed = last.count > 200 ? String(last.prefix(200)) + "…" : last
            reply =
                "This reply comes from the mock Groq server, not a real model. "
                + (answersTool ? "The tool said" : "You said") + ": \"\(echoed)\""
        }
        guard let limit = request.max_completion_tokens, limit > 0 else { return reply }
        let words = reply.split(separator: " ", omittingEmptySubsequences: false)
        return words.count <= limit ? reply : words.prefix(limit).joined(separator: " ")
    }

    private func rateLimitHeaders(_ behavior: MockGroqBehavior) -> HTTPFields {
        let limit = behavior.requestsPerMinute ?? Self.advertisedRequestsPerMinute
        return [
            HTTPField.Name("x-ratelimit-limit-requests")!: String(limit),
            HTTPField.Name("x-ratelimit-remaining-requests")!: String(self.state.remainingRequests(limit: limit)),
            HTTPField.Name("x-ratelimit-reset-requests")!: "2.4s",
            HTTPField.Name("x-ratelimit-limit-tokens")!: "1000000",
            HTTPField.Name("x-ratelimit-remaining-tokens")!: "999000",
            HTTPField.Name("x-ratelimit-reset-tokens")!: "60ms",
        ]
    }

    private func rateLimited(_ behavior: MockGroqBehavior, model: String) -> Response {
        var response = Self.error(
            .tooManyRequests,
            message:
                "Rate limit reached for model `\(model)` on requests per minute (RPM). Please try again in \(behavior.retryAfterSeconds)s.",
            type: "requests",
            code: "rate_limit_exceeded"
        )
        for field in self.rateLimitHeaders(behavior) { response.headers.append(field) }
        response.headers[.retryAfter] = String(behavior.retryAfterSeconds)
        return response
    }

    /// The models the mock serves, as Groq lists its own (`GET /openai/v1/models`).
    static let models: [(id: String, ownedBy: String, contextWindow: Int)] = [
        ("openai/gpt-oss-20b", "OpenAI", 131_072),
        ("openai/gpt-oss-120b", "OpenAI", 131_072),
        ("llama-3.1-8b-instant", "Meta", 131_072),
        ("llama-3.3-70b-versatile", "Meta", 131_072),
        ("qwen/qwen3-32b", "Alibaba Cloud", 131_072),
    ]

    /// `GET /openai/v1/models` in Groq's wire format.
    @Sendable func models(_ request: Request, context: BasicRequestContext) async throws -> Response {
        guard request.headers[.authorization] == "Bearer \(self.apiKey)" else {
            self.state.recordBadKey()
            return Self.error(
                .unauthorized, message: "Invalid API Key", type: "invalid_request_error", code: "invalid_api_key")
        }
        let entries = Self.models.map { model in
            #"{"id":\#(jsonString(model.id)),"object":"model","created":1693721698,"owned_by":\#(jsonString(model.ownedBy)),"active":true,"context_window":\#(model.contextWindow),"public_apps":null}"#
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(
                byteBuffer: ByteBuffer(string: #"{"object":"list","data":["# + entries.joined(separator: ",") + "]}")))
    }

    static func error(_ status: HTTPResponse.Status, message: String, type: String, code: String?) -> Response {
        struct Envelope: Encodable {
            struct Body: Encodable {
                let message: String
                let type: String
                let code: String?
            }
            let error: Body
        }
        let body =
            (try? JSONEncoder().encode(Envelope(error: .init(message: message, type: type, code: code)))) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    // MARK: Wire format (field names as Groq spells them)

    struct Usage: Codable {
        var prompt_tokens: Int
        var completion_tokens: Int
        var total_tokens: Int
        func totalled() -> Usage {
            Usage(
                prompt_tokens: prompt_tokens, completion_tokens: completion_tokens,
                total_tokens: prompt_tokens + completion_tokens)
        }
    }

    /// The one choice: the reply, or a call of `toolCall` (empty arguments) when the request offered tools.
    static func choice(_ reply: String, toolCall: String?) -> Completion.Choice {
        guard let toolCall else {
            return .init(index: 0, message: .init(role: "assistant", content: reply), finish_reason: "stop")
        }
        let call = ToolCall(id: "call_mock_0", type: "function", function: .init(name: toolCall, arguments: "{}"))
        return .init(
            index: 0, message: .init(role: "assistant", content: nil, tool_calls: [call]), finish_reason: "tool_calls")
    }

    struct ToolCall: Encodable {
        struct Function: Encodable {
            let name: String
            let arguments: String
        }
        let id: String
        let type: String
        let function: Function
    }

    struct Completion: Encodable {
        struct Choice: Encodable {
            struct Message: Encodable {
                let role: String
                let content: String?
                var tool_calls: [ToolCall]? = nil
            }
            let index: Int
            let message: Message
            let finish_reason: String
        }
        struct XGroq: Encodable { let id: String }
        let id: String
        let object: String
        let created: Int
        let model: String
        let choices: [Choice]
        let usage: Usage
        let x_groq: XGroq
    }
}

/// Thrown inside the response body to cut the connection mid-stream.
struct MockStreamDropped: Error {}

/// A JSON string literal, escaped.
func jsonString(_ text: String) -> String {
    var output = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": output += "\\\""
        case "\\": output += "\\\\"
        case "\n": output += "\\n"
        case "\r": output += "\\r"
        case "\t": output += "\\t"
        case let control where control.value < 0x20:
            output += "\\u00" + (control.value < 0x10 ? "0" : "") + String(control.value, radix: 16)
        default: output.unicodeScalars.append(scalar)
        }
    }
    return output + "\""
}
