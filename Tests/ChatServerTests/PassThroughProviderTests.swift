import Foundation
import Logging
import MockGroq
import Testing

@testable import ChatProvider

/// The pass-through form of the provider (the OpenAI-compatible door's): the real libcurl client and the
/// ProviderActor gate against the in-repo mock, over real HTTP.
@Suite("Pass-through completions over libcurl against the mock upstream")
struct PassThroughProviderTests {
    static func withProvider(_ body: (MockGroqServer, ProviderActor) async throws -> Void) async throws {
        let mock = try await MockGroqServer.start(behavior: MockGroqBehavior())
        let client = GroqClient(
            configuration: GroqConfiguration(
                apiKey: "mock-key", baseURL: mock.baseURL, model: "openai/gpt-oss-20b",
                streamIdleTimeout: .seconds(5)),
            http: try CurlClient())
        let provider = ProviderActor(
            client: client, limits: ProviderLimits(requestsPerMinute: 1000, tokensPerMinute: 1_000_000),
            logger: Logger(label: "test"))
        do {
            try await body(mock, provider)
        } catch {
            await mock.stop()
            throw error
        }
        await mock.stop()
    }

    static let weatherTool: WireJSON = .object([
        "type": .string("function"),
        "function": .object([
            "name": .string("get_weather"),
            "parameters": .object(["type": .string("object"), "properties": .object([:])]),
        ]),
    ])

    /// The body the mock received, decoded.
    static func lastBody(_ mock: MockGroqServer) throws -> WireJSON {
        let text = try #require(mock.requestBodies.last)
        return try JSONDecoder().decode(WireJSON.self, from: Data(text.utf8))
    }

    @Test("messages and sampling fields go upstream as given; the answer's message and usage come back")
    func passesThrough() async throws {
        try await Self.withProvider { mock, provider in
            let messages: [WireJSON] = [
                .object(["role": .string("developer"), "content": .string("Be brief.")]),
                .object([
                    "role": .string("user"),
                    "content": .array([.object(["type": .string("text"), "text": .string("Hello parts")])]),
                    "name": .string("ada"),
                ]),
            ]
            let options: [String: WireJSON] = [
                "temperature": .number(0.25), "seed": .integer(9_007_199_254_740_993), "stop": .array([.string("\n")]),
                "response_format": .object(["type": .string("text")]), "user": .string("u-1"),
                "max_tokens": .integer(50),
            ]
            let completion = try await provider.complete(
                PassThroughRequest(model: "llama-3.1-8b-instant", messages: messages, options: options),
                estimatedTokens: 100)
            #expect(completion.message["content"]?.stringValue?.contains("Hello parts") == true)
            #expect(completion.message["role"] == .string("assistant"))
            #expect(completion.finishReason == "stop")
            #expect(completion.model == "llama-3.1-8b-instant")
            #expect((completion.usage?.totalTokens ?? 0) > 0)
            let sent = try Self.lastBody(mock)
            #expect(sent["messages"] == .array(messages))
            for (key, value) in options { #expect(sent[key] == value, "\(key)") }
            #expect(sent["stream"] == .bool(false))
            #expect(sent["stream_options"] == nil)
        }
    }

    @Test("a tool call comes back in OpenAI's shape, and the tool's answer goes up as given")
    func toolCallRoundTrip() async throws {
        try await Self.withProvider { mock, provider in
            let user: WireJSON = .object(["role": .string("user"), "content": .string("Weather?")])
            let first = try await provider.complete(
                PassThroughRequest(
                    model: "llama-3.1-8b-instant", messages: [user], options: ["tools": .array([Self.weatherTool])]),
                estimatedTokens: 100)
            #expect(first.finishReason == "tool_calls")
            let call = try #require(first.message["tool_calls"]?.arrayValue?.first)
            #expect(call["function"]?["name"] == .string("get_weather"))
            #expect(call["id"] == .string("call_mock_0"))
            let tool: WireJSON = .object([
                "role": .string("tool"), "tool_call_id": .string("call_mock_0"), "content": .string("sunny, 21 C"),
            ])
            let second = try await provider.complete(
                PassThroughRequest(
                    model: "llama-3.1-8b-instant", messages: [user, first.message, tool],
                    options: ["tools": .array([Self.weatherTool])]),
                estimatedTokens: 100)
            #expect(second.finishReason == "stop")
            #expect(second.message["content"]?.stringValue?.contains("sunny, 21 C") == true)
            #expect(try Self.lastBody(mock)["messages"]?.arrayValue?[1] == first.message)
        }
    }

    @Test("a stream asks for usage, yields the choices as sent and finishes with the usage")
    func streams() async throws {
        try await Self.withProvider { mock, provider in
            let request = PassThroughRequest(
                model: "llama-3.1-8b-instant",
                messages: [.object(["role": .string("user"), "content": .string("Stream me")])], stream: true)
            var text = ""
            var usage: TokenUsage?
            var finishReason: String?
            for try await event in provider.stream(request, estimatedTokens: 100) {
                switch event {
                case .choices(let choices):
                    text += choices.first?["delta"]?["content"]?.stringValue ?? ""
                    if case .string(let reason)? = choices.first?["finish_reason"] { finishReason = reason }
                case .finished(let reported, _): usage = reported
                }
            }
            #expect(text.contains("Stream me"))
            #expect(finishReason == "stop")
            #expect((usage?.completionTokens ?? 0) > 0)
            let sent = try Self.lastBody(mock)
            #expect(sent["stream"] == .bool(true))
            #expect(sent["stream_options"] == .object(["include_usage": .bool(true)]))
            #expect(await provider.load.inFlight == 0)
        }
    }

    @Test("a streamed tool call arrives as a tool_calls delta")
    func streamsToolCall() async throws {
        try await Self.withProvider { _, provider in
            let request = PassThroughRequest(
                model: "llama-3.1-8b-instant",
                messages: [.object(["role": .string("user"), "content": .string("Weather?")])],
                options: ["tools": .array([Self.weatherTool])], stream: true)
            var calls: [WireJSON] = []
            var finishReason: String?
            for try await event in provider.stream(request, estimatedTokens: 100) {
                guard case .choices(let choices) = event else { continue }
                calls += choices.first?["delta"]?["tool_calls"]?.arrayValue ?? []
                if case .string(let reason)? = choices.first?["finish_reason"] { finishReason = reason }
            }
            #expect(calls.count == 1)
            #expect(calls.first?["function"]?["name"] == .string("get_weather"))
            #expect(finishReason == "tool_calls")
        }
    }

    @Test("through the gate: a 500 is retried, a refused key is thrown as ProviderError")
    func gateRetriesAndThrows() async throws {
        try await Self.withProvider { mock, provider in
            let request = PassThroughRequest(
                model: "llama-3.1-8b-instant", messages: [.object(["role": .string("user"), "content": .string("x")])])
            mock.setBehavior(MockGroqBehavior(fault: .serverError, faultCount: 1))
            let completion = try await provider.complete(request, estimatedTokens: 10)
            #expect(completion.finishReason == "stop")
            #expect(mock.stats.requests == 2)
            mock.setBehavior(MockGroqBehavior(fault: .unauthorized))
            await #expect {
                _ = try await provider.complete(request, estimatedTokens: 10)
            } throws: { error in
                if case .rejectedCredentials = error as? ProviderError { return true }
                return false
            }
        }
    }
}
