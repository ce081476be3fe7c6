import ChatProvider
import HTTPTypes

/// The body of POST /v1/chat/completions in OpenAI's shape: what is checked here (roles, content, ranges,
/// `n`), and what goes upstream as given (the messages, the sampling fields by their wire names).
struct OpenAIChatRequest: ValidatedRequest {
    struct StreamOptions: Decodable {
        let includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    let model: String
    let messages: [WireJSON]
    let stream: Bool?
    let streamOptions: StreamOptions?
    let n: Int?
    let maxTokens: Int?
    let maxCompletionTokens: Int?
    let temperature: Double?
    let topP: Double?
    let stop: WireJSON?
    let seed: Int?
    let responseFormat: WireJSON?
    let tools: [WireJSON]?
    let toolChoice: WireJSON?
    let user: String?
    let frequencyPenalty: Double?
    let presencePenalty: Double?
    let parallelToolCalls: Bool?
    let reasoningEffort: String?
    let serviceTier: String?
    /// Asked of OpenAI's API but not offered by the upstream, so refused with 400 rather than failing there.
    let logprobs: Bool?
    let topLogprobs: Int?
    let logitBias: WireJSON?
    /// Members of the body that OpenAI's API does not define (it answers them with 400 too).
    let unrecognized: [String]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, messages, stream, n, temperature, stop, seed, tools, user, logprobs
        case streamOptions = "stream_options"
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
        case topP = "top_p"
        case responseFormat = "response_format"
        case toolChoice = "tool_choice"
        case frequencyPenalty = "frequency_penalty"
        case presencePenalty = "presence_penalty"
        case parallelToolCalls = "parallel_tool_calls"
        case reasoningEffort = "reasoning_effort"
        case serviceTier = "service_tier"
        case topLogprobs = "top_logprobs"
        case logitBias = "logit_bias"
    }

    /// Any member name of the body.
    struct MemberName: CodingKey {
        let stringValue: String
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let body = try decoder.container(keyedBy: CodingKeys.self)
        self.model = try body.decode(String.self, forKey: .model)
        self.messages = try body.decode([WireJSON].self, forKey: .messages)
        self.stream = try body.decodeIfPresent(Bool.self, forKey: .stream)
        self.streamOptions = try body.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)
        self.n = try body.decodeIfPresent(Int.self, forKey: .n)
        self.maxTokens = try body.decodeIfPresent(Int.self, forKey: .maxTokens)
        self.maxCompletionTokens = try body.decodeIfPresent(Int.self, forKey: .maxCompletionTokens)
        self.temperature = try body.decodeIfPresent(Double.self, forKey: .temperature)
        self.topP = try body.decodeIfPresent(Double.self, forKey: .topP)
        self.stop = try body.decodeIfPresent(WireJSON.self, forKey: .stop)
        self.seed = try body.decodeIfPresent(Int.self, forKey: .seed)
        self.responseFormat = try body.decodeIfPresent(WireJSON.self, forKey: .responseFormat)
        self.tools = try body.decodeIfPresent([WireJSON].self, forKey: .tools)
        self.toolChoice = try body.decodeIfPresent(WireJSON.self, forKey: .toolChoice)
        self.user = try body.decodeIfPresent(String.self, forKey: .user)
        self.frequencyPenalty = try body.decodeIfPresent(Double.self, forKey: .frequencyPenalty)
        self.presencePenalty = try body.decodeIfPresent(Double.self, forKey: .presencePenalty)
        self.parallelToolCalls = try body.decodeIfPresent(Bool.self, forKey: .parallelToolCalls)
        self.reasoningEffort = try body.decodeIfPresent(String.self, forKey: .reasoningEffort)
        self.serviceTier = try body.decodeIfPresent(String.self, forKey: .serviceTier)
        self.logprobs = try body.decodeIfPresent(Bool.self, forKey: .logprobs)
        self.topLogprobs = try body.decodeIfPresent(Int.self, forKey: .topLogprobs)
        self.logitBias = try body.decodeIfPresent(WireJSON.self, forKey: .logitBias)
        self.unrecognized = try decoder.container(keyedBy: MemberName.self).allKeys.map(\.stringValue)
            .filter { CodingKeys(stringValue: $0) == nil }.sorted()
    }

    static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool"]

    /// The first problem, in OpenAI's form (400 `invalid_request_error` naming the field), or nil.
    func openAIError() -> OpenAIError? {
        func invalid(_ message: String, _ param: String) -> OpenAIError {
            OpenAIError(.badRequest, message, type: "invalid_request_error", param: param)
        }
        if let name = self.unrecognized.first {
            return OpenAIError(
                .badRequest, "Unrecognized request argument supplied: \(name)", type: "invalid_request_error")
        }
        if let n, n != 1 { return invalid("Only n=1 is supported", "n") }
        if self.messages.isEmpty { return invalid("messages must not be empty", "messages") }
        for (index, message) in self.messages.enumerated() {
            if let problem = Self.problem(with: message) {
                return invalid(problem.0, "messages.[\(index)]\(problem.1)")
            }
        }
        if let problem = self.samplingProblem() { return invalid(problem.0, problem.1) }
        if let responseFormat, responseFormat["type"]?.stringValue == nil {
            return invalid("response_format must be an object with a type", "response_format")
        }
        for (index, tool) in (self.tools ?? []).enumerated()
        where tool["type"] != .string("function") || tool["function"]?["name"]?.stringValue == nil {
            return invalid("Each tool must be a function with a name", "tools.[\(index)]")
        }
        if let toolChoice, !Self.isToolChoice(toolChoice) {
            return invalid("tool_choice must be none, auto, required or a function", "tool_choice")
        }
        return nil
    }

    /// What is wrong with the sampling fields, and which; nil when they are acceptable.
    func samplingProblem() -> (String, String)? {
        if let temperature, !(0...2).contains(temperature) { return ("temperature must be 0 to 2", "temperature") }
        if let topP, !(0...1).contains(topP) { return ("top_p must be 0 to 1", "top_p") }
        if let maxTokens, maxTokens < 1 { return ("max_tokens must be at least 1", "max_tokens") }
        if let maxCompletionTokens, maxCompletionTokens < 1 {
            return ("max_completion_tokens must be at least 1", "max_completion_tokens")
        }
        if let stop, !Self.isStop(stop) { return ("stop must be a string or up to 4 strings", "stop") }
        for (name, value) in [("frequency_penalty", self.frequencyPenalty), ("presence_penalty", self.presencePenalty)]
        where value.map({ !(-2...2).contains($0) }) ?? false {
            return ("\(name) must be -2 to 2", name)
        }
        if self.logprobs == true || self.topLogprobs != nil {
            return ("logprobs are not supported", self.logprobs == true ? "logprobs" : "top_logprobs")
        }
        if let logitBias = self.logitBias, logitBias != .object([:]), logitBias != .null {
            return ("logit_bias is not supported", "logit_bias")
        }
        return nil
    }

    /// What is wrong with one message, and where under it; nil when it is acceptable.
    static func problem(with message: WireJSON) -> (String, String)? {
        guard case .object = message else { return ("Each message must be an object", "") }
        guard let role = message["role"]?.stringValue, Self.roles.contains(role) else {
            return ("role must be one of system, developer, user, assistant, tool", ".role")
        }
        switch message["content"] {
        case .string?: break
        case .array(let parts)?:
            if parts.isEmpty || !parts.allSatisfy({ $0["type"] == .string("text") && $0["text"]?.stringValue != nil }) {
                return ("content parts must be text parts", ".content")
            }
        case nil, .null?:
            guard role == "assistant", message["tool_calls"]?.arrayValue != nil else {
                return ("content is required", ".content")
            }
        default: return ("content must be a string or an array of text parts", ".content")
        }
        if role == "tool", message["tool_call_id"]?.stringValue == nil {
            return ("A tool message needs its tool_call_id", ".tool_call_id")
        }
        return nil
    }

    static func isStop(_ stop: WireJSON) -> Bool {
        switch stop {
        case .string: true
        case .array(let items): items.count <= 4 && items.allSatisfy { $0.stringValue != nil }
        default: false
        }
    }

    static func isToolChoice(_ choice: WireJSON) -> Bool {
        if let mode = choice.stringValue { return ["none", "auto", "required"].contains(mode) }
        return choice["type"] == .string("function") && choice["function"]?["name"]?.stringValue != nil
    }

    /// Decoding errors are answered by ``OpenAIError/init(_:)``; the rest by ``openAIError()``.
    func validationIssues() -> [ValidationIssue] { [] }

    var wantsUsageChunk: Bool { self.streamOptions?.includeUsage == true }

    /// The most tokens the reply may use, when the client set it.
    var completionLimit: Int? { self.maxCompletionTokens ?? self.maxTokens }

    /// The request sent upstream: the messages as given, the sampling fields set by the client.
    func upstream(stream: Bool) -> PassThroughRequest {
        var options: [String: WireJSON] = [:]
        options["max_tokens"] = self.maxTokens.map(WireJSON.integer)
        options["max_completion_tokens"] = self.maxCompletionTokens.map(WireJSON.integer)
        options["temperature"] = self.temperature.map(WireJSON.number)
        options["top_p"] = self.topP.map(WireJSON.number)
        options["stop"] = self.stop
        options["seed"] = self.seed.map(WireJSON.integer)
        options["response_format"] = self.responseFormat
        options["tools"] = self.tools.map(WireJSON.array)
        options["tool_choice"] = self.toolChoice
        options["user"] = self.user.map(WireJSON.string)
        options["frequency_penalty"] = self.frequencyPenalty.map(WireJSON.number)
        options["presence_penalty"] = self.presencePenalty.map(WireJSON.number)
        options["parallel_tool_calls"] = self.parallelToolCalls.map(WireJSON.bool)
        options["reasoning_effort"] = self.reasoningEffort.map(WireJSON.string)
        options["service_tier"] = self.serviceTier.map(WireJSON.string)
        return PassThroughRequest(model: self.model, messages: self.messages, options: options, stream: stream)
    }

    /// About 4 bytes a token over the messages' and tools' JSON, as the turns estimate their context.
    func promptEstimate(bodyBytes: Int) -> Int {
        max(1, bodyBytes / 4)
    }
}
