import ChatProvider

extension OpenAIChatRequest {
    /// The body read from ``WireJSON`` without `JSONDecoder` (about 5 % of the door's CPU per call), for a body
    /// whose every field has its wire type: nil for anything else (a missing `model`, a wrong type, a number
    /// that is no `Int`), which ``Request/decodeJSON(as:context:allowEmpty:fastPath:)`` then reads with
    /// `JSONDecoder`, so that its error is the one it always was. What is read here is what `JSONDecoder` reads.
    init?(wire json: WireJSON) {
        guard case .object(let members) = json, case .string(let model)? = json["model"],
            case .array(let messages)? = json["messages"]
        else { return nil }
        do throws(WireJSON.Mismatch) {
            self.model = model
            self.messages = messages
            self.stream = try json.bool("stream")
            self.streamOptions = try json.object("stream_options").map { options throws(WireJSON.Mismatch) in
                StreamOptions(includeUsage: try options.bool("include_usage"))
            }
            self.n = try json.int("n")
            self.maxTokens = try json.int("max_tokens")
            self.maxCompletionTokens = try json.int("max_completion_tokens")
            self.temperature = try json.double("temperature")
            self.topP = try json.double("top_p")
            self.stop = json.present("stop")
            self.seed = try json.int("seed")
            self.responseFormat = json.present("response_format")
            self.tools = try json.array("tools")
            self.toolChoice = json.present("tool_choice")
            self.user = try json.string("user")
            self.frequencyPenalty = try json.double("frequency_penalty")
            self.presencePenalty = try json.double("presence_penalty")
            self.parallelToolCalls = try json.bool("parallel_tool_calls")
            self.reasoningEffort = try json.string("reasoning_effort")
            self.serviceTier = try json.string("service_tier")
            self.logprobs = try json.bool("logprobs")
            self.topLogprobs = try json.int("top_logprobs")
            self.logitBias = json.present("logit_bias")
        } catch {
            return nil
        }
        self.unrecognized = members.keys.filter { CodingKeys(stringValue: $0) == nil }.sorted()
    }
}
