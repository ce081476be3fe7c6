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
            let content: String
        }
        let model: String
        let messages: [Message]
        let stream: Bool?
        let max_completion_tokens: Int?
    }

    @Sendable func handle(_ request: Request, context: BasicRequestContext) async throws -> Response {
        guard request.headers[.authorization] == "Bearer \(self.apiKey)" else {
            self.state.recordBadKey()
            return Self.error(
                .unauthorized, message: "Invalid API Key", type: "invalid_request_error", code: "invalid_api_key")
        }
        let body = try await request.body.collect(upTo: 4 << 20)
        guard let completion = try? JSONDecoder().decode(CompletionRequest.self, from: Data(body.readableBytesView))
        else {
            return Self.error(.badRequest, message: "invalid JSON body", type: "invalid_request_error", code: nil)
        }
        let elapsed = ContinuousClock.now - Self.start
        let now = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        self.state.record(conversation: completion.messages.map { MockGroqMessage(role: $0.role, content: $0.content) })
        let decision = self.state.arrive(now: now)

        let behavior: MockGroqBehavior
        var fault: MockGroqBehavior.Fault?
        switch decision {
        case .overLimit(let current):
            return self.rateLimited(current, model: completion.model)
        case .fault(.rateLimit, let current):
            return self.rateLimited(current, model: completion.model)
        case .fault(.serverError, _):
            return Self.error(
                .internalServerError, message: "Internal Server Error", type: "internal_server_error", code: nil)
        case .fault(.unauthorized, _):
            return Self.error(
                .unauthorized, message: "Invalid API Key", type: "invalid_request_error", code: "invalid_api_key")
        case .fault(.hang, _):
            while !self.state.isStopping && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
            }
            return Self.error(.serviceUnavailable, message: "mock stopping", type: "internal_server_error", code: nil)
        case .fault(let other, let current):
            behavior = current
            fault = other
        case .answer(let current):
            behavior = current
        }

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
            if fault == .malformedJSON {
                return Response(
                    status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{\"choices\": [ oops")))
            }
            let answer = Completion(
                id: Self.completionID(),
                object: "chat.completion",
                created: Int(Date().timeIntervalSince1970),
                model: completion.model,
                choices: [.init(index: 0, message: .init(role: "assistant", content: reply), finish_reason: "stop")],
                usage: usage,
                x_groq: .init(id: "req_mock")
            )
            return Response(
                status: .ok, headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(answer))))
        }

        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let state = self.state
        let model = completion.model
        let streamFault = fault
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody { writer in
                var completed = false
                defer { state.end(completed: completed) }
                let id = Self.completionID()
                let created = Int(Date().timeIntervalSince1970)
                // Chunks are written by hand: the benchmark runs the mock in its own process, and JSONEncoder per
                // chunk was a visible share of that process's CPU.
                let prefix =
                    #"data: {"id":"\#(id)","object":"chat.completion.chunk","created":\#(created),"model":\#(jsonString(model)),"choices":[{"index":0,"delta":"#
                func event(_ content: String?, role: String? = nil, finish: String? = nil, usage: Usage? = nil)
                    -> ByteBuffer
                {
                    var text = prefix
                    switch (role, content) {
                    case (let role?, let content?):
                        text += #"{"role":\#(jsonString(role)),"content":\#(jsonString(content))}"#
                    case (nil, let content?): text += #"{"content":\#(jsonString(content))}"#
                    default: text += "{}"
                    }
                    text += #","finish_reason":\#(finish.map(jsonString) ?? "null")}]"#
                    if let usage {
                        text +=
                            #","x_groq":{"id":"req_mock","usage":{"prompt_tokens":\#(usage.prompt_tokens),"completion_tokens":\#(usage.completion_tokens),"total_tokens":\#(usage.total_tokens)}}"#
                    }
                    text += "}\n\n"
                    return ByteBuffer(string: text)
                }
                // Chunks due at the same moment (no chunk delay) go out up to 64 to a write: each stays its own
                // HTTP chunk and SSE event on the wire, as Groq's do, without a flush and an event-loop hop apiece
                // (the benchmark runs the mock beside the servers it measures, on the same cores), and a long
                // reply still streams out as it is built.
                let paced = behavior.chunkDelayMilliseconds > 0
                var pending = [event("", role: "assistant")]
                let words = reply.split(separator: " ", omittingEmptySubsequences: false)
                for (index, word) in words.enumerated() {
                    if paced {
                        try await writer.write(contentsOf: pending)
                        pending.removeAll()
                        try await Task.sleep(for: .milliseconds(behavior.chunkDelayMilliseconds))
                    }
                    if streamFault == .dropMidStream && index == min(2, words.count - 1) {
                        try await writer.write(contentsOf: pending)
                        throw MockStreamDropped()
                    }
                    // A fault that ends the stream at the second word: one last line, then the end of the body.
                    let lastLine: String? =
                        switch (streamFault, index) {
                        case (.streamError, 1):
                            #"data: {"error":{"message":"mock stream error","type":"internal_server_error"}}"#
                                + "\n\n"
                        case (.malformedJSON, 1): "data: {not json\n\n"
                        default: nil
                        }
                    if let lastLine {
                        pending.append(ByteBuffer(string: lastLine))
                        try await writer.write(contentsOf: pending)
                        try await writer.finish(nil)
                        return
                    }
                    let text = index == words.count - 1 ? String(word) : word + " "
                    pending.append(event(text))
                    if pending.count == 64 {
                        try await writer.write(contentsOf: pending)
                        pending.removeAll(keepingCapacity: true)
                    }
                }
                pending.append(event(nil, finish: "stop", usage: usage))
                if streamFault != .noDone {
                    pending.append(ByteBuffer(string: "data: [DONE]\n\n"))
                }
                try await writer.write(contentsOf: pending)
                completed = streamFault != .noDone
                try await writer.finish(nil)
            }
        )
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
            let last = request.messages.last { $0.role == "user" }?.content ?? ""
            let echoed = last.count > 200 ? String(last.prefix(200)) + "…" : last
            reply = "This reply comes from the mock Groq server, not a real model. You said: \"\(echoed)\""
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

    struct Completion: Encodable {
        struct Choice: Encodable {
            struct Message: Encodable {
                let role: String
                let content: String
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
