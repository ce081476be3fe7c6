import ChatProvider
import Foundation
import Testing

@testable import ChatServer

/// The door's request body read without `JSONDecoder` (``OpenAIChatRequest/init(wire:)``) against
/// `JSONDecoder`, the oracle: whatever the fast reading accepts, `JSONDecoder` reads the same; the rest is left
/// to `JSONDecoder`, so its errors are unchanged.
@Suite("The /v1 request body read without JSONDecoder")
struct OpenAIChatRequestWireTests {
    static let full = #"""
        {"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi \u00e9\n"}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"21 C"}],
        "stream":true,"stream_options":{"include_usage":true},"n":1,"max_tokens":50,"max_completion_tokens":40,
        "temperature":0.7,"top_p":1,"stop":["\n","END"],"seed":9007199254740993,"response_format":{"type":"json_object"},
        "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}],
        "tool_choice":{"type":"function","function":{"name":"f"}},"user":"u-1","unknown":{"x":[1,2]},
        "frequency_penalty":0.5,"presence_penalty":-1,"parallel_tool_calls":true,"reasoning_effort":"low",
        "service_tier":"auto","logprobs":false,"top_logprobs":2,"logit_bias":{"1":2}}
        """#

    static let bodies = [
        full, #"{"model":"m","messages":[]}"#, #"{"messages":[],"model":"m","stream":null,"stop":null,"tools":null}"#,
        #"{"model":"m","messages":[],"n":1.0,"seed":1e2,"temperature":2,"top_p":1e-1,"stop":"x"}"#,
        #"{"model":"m","messages":[],"stream_options":{}}"#, #"{"model":"m","messages":[],"stream_options":null}"#,
        #"{"model":"m","messages":[],"n":1.5}"#, #"{"model":"m","messages":[],"max_tokens":99999999999999999999}"#,
        #"{"model":"m","messages":[],"stream":"yes"}"#, #"{"model":"m","messages":[],"stream_options":[]}"#,
        #"{"model":"m","messages":[],"stream_options":{"include_usage":1}}"#, #"{"model":"m","messages":{}}"#,
        #"{"model":5,"messages":[]}"#, #"{"model":null,"messages":[]}"#, #"{"messages":[]}"#, #"{"model":"m"}"#,
        #"{"model":"m","messages":[],"temperature":"hot"}"#, #"{"model":"m","messages":[],"tools":{}}"#,
        #"{"model":"m","messages":[],"user":7}"#, #"{"model":"m","model":"n","messages":[]}"#, #"[]"#, "7", "{",
        #"{"model":"m","messages":[1,null,"x",[]]}"#, #"{"model":"m","messages":[],"seed":-0}"#,
    ]

    /// The fields of a request, for comparing two readings.
    static func fields(_ request: OpenAIChatRequest) -> [String] {
        [
            request.model, "\(request.messages)".count.description, "\(String(describing: request.stream))",
            "\(String(describing: request.streamOptions?.includeUsage))", "\(String(describing: request.n))",
            "\(String(describing: request.maxTokens))", "\(String(describing: request.maxCompletionTokens))",
            "\(String(describing: request.temperature))", "\(String(describing: request.topP))",
            "\(String(describing: request.seed))", "\(String(describing: request.user))",
            "\(String(describing: request.frequencyPenalty))", "\(String(describing: request.presencePenalty))",
            "\(String(describing: request.parallelToolCalls))", "\(String(describing: request.reasoningEffort))",
            "\(String(describing: request.serviceTier))", "\(String(describing: request.logprobs))",
            "\(String(describing: request.topLogprobs))", "\(request.unrecognized)",
        ]
    }

    static func same(_ one: OpenAIChatRequest, _ other: OpenAIChatRequest) -> Bool {
        Self.fields(one) == Self.fields(other) && one.messages == other.messages && one.stop == other.stop
            && one.responseFormat == other.responseFormat && one.tools == other.tools
            && one.toolChoice == other.toolChoice && (one.streamOptions == nil) == (other.streamOptions == nil)
            && one.logitBias == other.logitBias
    }

    @Test("what the fast reading accepts, JSONDecoder reads the same; it accepts the usual bodies")
    func agreesWithJSONDecoder() throws {
        var accepted = 0
        for body in Self.bodies {
            guard let json = WireJSON.parse(body.utf8, repeatedKeys: false),
                let fast = OpenAIChatRequest(wire: json)
            else { continue }
            accepted += 1
            let decoded = try JSONDecoder().decode(OpenAIChatRequest.self, from: Data(body.utf8))
            #expect(Self.same(fast, decoded), "\(body)")
        }
        #expect(accepted == 8)
        let full = try #require(WireJSON.parse(Self.full.utf8).flatMap(OpenAIChatRequest.init(wire:)))
        #expect(full.seed == 9_007_199_254_740_993 && full.topP == 1 && full.temperature == 0.7)
        #expect(full.streamOptions?.includeUsage == true && full.messages.count == 4 && full.tools?.count == 1)
    }

    @Test("a body the fast reading leaves alone is one JSONDecoder refuses, or one with a repeated key")
    func leftToJSONDecoder() {
        for body in Self.bodies {
            let json = WireJSON.parse(body.utf8, repeatedKeys: false)
            guard json.flatMap(OpenAIChatRequest.init(wire:)) == nil else { continue }
            let decoded = try? JSONDecoder().decode(OpenAIChatRequest.self, from: Data(body.utf8))
            #expect(decoded == nil || json == nil, "\(body)")
        }
    }
}
