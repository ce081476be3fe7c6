import ChatProvider
import ChatServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import MockGroq
import Testing

/// POST /v1/chat/completions over a real socket against the mock upstream, on the engine `TEST_DATABASE_URL`
/// picks: OpenAI's wire format (whole and streamed), tool calls, and each error class.
@Suite("POST /v1/chat/completions")
struct OpenAIChatCompletionsTests {
    static let model = "llama-3.1-8b-instant"

    static func configure(_ config: inout AppConfig) {
        config.allowedModels = ["openai/gpt-oss-20b", Self.model]
    }

    /// A user and an API key of theirs (`keyBody` makes it).
    static func key(_ client: any TestClientProtocol, _ email: String, keyBody: String = #"{"name": "sdk"}"#)
        async throws -> String
    {
        let (_, token) = try await client.signUp(email)
        let created = try await APIKeysTests.createKey(client, token: token, keyBody)
        return try #require(created["key"] as? String)
    }

    static func body(_ content: String = "Hello door", extra: String = "") -> String {
        #"{"model": "\#(Self.model)", "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "\#(content)"}]}]\#(extra)}"#
    }

    /// The body the mock received last, decoded.
    static func upstreamBody(_ mock: MockGroqServer) throws -> [String: Any] {
        let text = try #require(mock.requestBodies.last)
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("chat.completion in OpenAI's shape; messages and sampling fields go upstream as given; no chat stored")
    func whole() async throws {
        try await withTurnApp(configure: Self.configure) { client, _, mock in
            let key = try await Self.key(client, "door@example.com")
            let response = try await client.send(
                .post, "/v1/chat/completions", token: key,
                json: Self.body(
                    extra: #", "temperature": 0.5, "seed": 7, "max_tokens": 64, "stop": ["\n\n"], "user": "u1""#
                        + #", "frequency_penalty": 0.25, "presence_penalty": -1, "parallel_tool_calls": false"#
                        + #", "logprobs": false, "logit_bias": {}"#))
            #expect(response.status == .ok, "\(response.text)")
            let json = response.json
            #expect((json["id"] as? String)?.hasPrefix("chatcmpl-") == true)
            #expect(json["object"] as? String == "chat.completion")
            #expect(json["model"] as? String == Self.model)
            #expect(json["created"] is Int)
            let choice = try #require((json["choices"] as? [[String: Any]])?.first)
            #expect(choice["index"] as? Int == 0)
            #expect(choice["finish_reason"] as? String == "stop")
            let message = try #require(choice["message"] as? [String: Any])
            #expect(message["role"] as? String == "assistant")
            #expect((message["content"] as? String)?.contains("Hello door") == true)
            let usage = try #require(json["usage"] as? [String: Int])
            #expect(usage["total_tokens"] == (usage["prompt_tokens"] ?? 0) + (usage["completion_tokens"] ?? 0))
            #expect((usage["completion_tokens"] ?? 0) > 0)

            let sent = try Self.upstreamBody(mock)
            let messages = try #require(sent["messages"] as? [[String: Any]])
            #expect(messages.count == 2 && messages[0]["role"] as? String == "developer")
            #expect((messages[1]["content"] as? [[String: Any]])?.first?["text"] as? String == "Hello door")
            #expect(sent["temperature"] as? Double == 0.5 && sent["seed"] as? Int == 7)
            #expect(sent["max_tokens"] as? Int == 64 && sent["stop"] as? [String] == ["\n\n"])
            #expect(sent["user"] as? String == "u1" && sent["model"] as? String == Self.model)
            #expect(sent["frequency_penalty"] as? Double == 0.25 && sent["presence_penalty"] as? Int == -1)
            #expect(sent["parallel_tool_calls"] as? Bool == false && sent["logprobs"] == nil)

            let token = try await client.login("door@example.com")
            #expect(try await client.send(.get, "/chats", token: token).list.isEmpty)
        }
    }

    /// The `data:` payloads of a streamed answer.
    static func stream(_ client: any TestClientProtocol, key: String, _ json: String) async throws -> [String] {
        let response = try await client.send(.post, "/v1/chat/completions", token: key, json: json)
        #expect(response.status == .ok, "\(response.text)")
        #expect(response.headers[.contentType] == "text/event-stream")
        return parseServerSentEvents(response.text).map(\.data)
    }

    @Test("a stream is chat.completion.chunk events ending data: [DONE], with no usage chunk unless asked")
    func streamWithoutUsage() async throws {
        try await withTurnApp(configure: Self.configure) { client, _, mock in
            let key = try await Self.key(client, "stream@example.com")
            let payloads = try await Self.stream(client, key: key, Self.body("Stream it", extra: #", "stream": true"#))
            #expect(payloads.last == "[DONE]")
            let chunks = payloads.dropLast().map {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(chunks.allSatisfy { $0?["object"] as? String == "chat.completion.chunk" })
            #expect(Set(chunks.compactMap { $0?["id"] as? String }).count == 1)
            #expect(chunks.allSatisfy { ($0?["choices"] as? [Any])?.isEmpty == false && $0?["usage"] is NSNull })
            let text = chunks.compactMap {
                (($0?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
            }.joined()
            #expect(text.contains("Stream it"))
            let reasons = chunks.compactMap { ($0?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
            #expect(reasons == ["stop"])
            // The upstream is always asked for usage, to charge the call.
            #expect(try Self.upstreamBody(mock)["stream_options"] as? [String: Bool] == ["include_usage": true])
        }
    }

    @Test("stream_options.include_usage adds a last chunk with no choices and the usage")
    func streamWithUsage() async throws {
        try await withTurnApp(configure: Self.configure) { client, _, _ in
            let key = try await Self.key(client, "usage@example.com")
            let payloads = try await Self.stream(
                client, key: key,
                Self.body(extra: #", "stream": true, "stream_options": {"include_usage": true}"#))
            #expect(payloads.last == "[DONE]")
            let last = try #require(
                try JSONSerialization.jsonObject(with: Data(payloads[payloads.count - 2].utf8)) as? [String: Any])
            #expect((last["choices"] as? [Any])?.isEmpty == true)
            let usage = try #require(last["usage"] as? [String: Int])
            #expect((usage["completion_tokens"] ?? 0) > 0)
            #expect(usage["total_tokens"] == (usage["prompt_tokens"] ?? 0) + (usage["completion_tokens"] ?? 0))
        }
    }

    @Test("a tool call comes back in OpenAI's shape, and the tool's answer is answered")
    func toolRoundTrip() async throws {
        try await withTurnApp(configure: Self.configure) { client, _, _ in
            let key = try await Self.key(client, "tools@example.com")
            let tools =
                #""tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]"#
            let first = try await client.send(
                .post, "/v1/chat/completions", token: key,
                json:
                    #"{"model": "\#(Self.model)", "messages": [{"role": "user", "content": "Weather?"}], \#(tools), "tool_choice": "auto"}"#
            )
            #expect(first.status == .ok, "\(first.text)")
            let choice = try #require((first.json["choices"] as? [[String: Any]])?.first)
            #expect(choice["finish_reason"] as? String == "tool_calls")
            let message = try #require(choice["message"] as? [String: Any])
            let call = try #require((message["tool_calls"] as? [[String: Any]])?.first)
            #expect(call["type"] as? String == "function" && call["id"] as? String == "call_mock_0")
            #expect((call["function"] as? [String: Any])?["name"] as? String == "get_weather")
            #expect((call["function"] as? [String: Any])?["arguments"] as? String == "{}")

            let second = try await client.send(
                .post, "/v1/chat/completions", token: key,
                json:
                    #"{"model": "\#(Self.model)", "messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "call_mock_0", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "call_mock_0", "content": "sunny, 21 C"}], \#(tools)}"#
            )
            #expect(second.status == .ok, "\(second.text)")
            let answer = try #require((second.json["choices"] as? [[String: Any]])?.first)
            #expect(answer["finish_reason"] as? String == "stop")
            #expect(((answer["message"] as? [String: Any])?["content"] as? String)?.contains("sunny, 21 C") == true)
        }
    }

    /// Status, `type`, `code` and `param` of an OpenAI error answer.
    static func error(_ response: TestResponse) -> (Int, String?, String?, String?) {
        let error = response.json["error"] as? [String: Any]
        return (
            Int(response.status.code), error?["type"] as? String, error?["code"] as? String, error?["param"] as? String
        )
    }

    @Test("bad input is 400 invalid_request_error naming the field; n other than 1, logprobs and unknown members too")
    func invalidRequests() async throws {
        try await withTurnApp(configure: Self.configure) { client, _, mock in
            let key = try await Self.key(client, "bad@example.com")
            let cases: [(String, String)] = [
                (Self.body(extra: #", "n": 2"#), "n"),
                (#"{"model": "\#(Self.model)", "messages": []}"#, "messages"),
                (
                    #"{"model": "\#(Self.model)", "messages": [{"role": "wizard", "content": "hi"}]}"#,
                    "messages.[0].role"
                ),
                (#"{"model": "\#(Self.model)", "messages": [{"role": "user", "content": 5}]}"#, "messages.[0].content"),
                (
                    #"{"model": "\#(Self.model)", "messages": [{"role": "tool", "content": "x"}]}"#,
                    "messages.[0].tool_call_id"
                ),
                (Self.body(extra: #", "temperature": "hot""#), "temperature"),
                (Self.body(extra: #", "temperature": 3"#), "temperature"),
                (Self.body(extra: #", "top_p": 1.5"#), "top_p"),
                (Self.body(extra: #", "max_tokens": 0"#), "max_tokens"),
                (Self.body(extra: #", "stop": [1]"#), "stop"),
                (Self.body(extra: #", "tools": [{"type": "function"}]"#), "tools.[0]"),
                (Self.body(extra: #", "tool_choice": "always""#), "tool_choice"),
                (#"{"messages": [{"role": "user", "content": "hi"}]}"#, "model"),
                (Self.body(extra: #", "frequency_penalty": 2.5"#), "frequency_penalty"),
                (Self.body(extra: #", "logprobs": true"#), "logprobs"),
                (Self.body(extra: #", "top_logprobs": 3"#), "top_logprobs"),
                (Self.body(extra: #", "logit_bias": {"50256": -100}"#), "logit_bias"),
            ]
            for (json, param) in cases {
                let response = try await client.send(.post, "/v1/chat/completions", token: key, json: json)
                let (status, type, _, named) = Self.error(response)
                #expect(status == 400 && type == "invalid_request_error" && named == param, "\(json): \(response.text)")
            }
            // As OpenAI's API: a member it does not define is refused, naming it in the message.
            let unknown = try await client.send(
                .post, "/v1/chat/completions", token: key, json: Self.body(extra: #", "functions": [], "zeta": 1"#))
            #expect(Self.error(unknown) == (400, "invalid_request_error", nil, nil), "\(unknown.text)")
            let message = (unknown.json["error"] as? [String: Any])?["message"] as? String
            #expect(message == "Unrecognized request argument supplied: functions")
            #expect(mock.requestBodies.isEmpty, "nothing invalid went upstream")
        }
    }

    @Test("a model not offered, or not among the key's, is 404 model_not_found")
    func modelNotFound() async throws {
        try await withTurnApp(configure: Self.configure) { client, _, mock in
            let key = try await Self.key(
                client, "models@example.com", keyBody: #"{"name": "a", "models": ["openai/gpt-oss-20b"]}"#)
            let notOffered = try await client.send(
                .post, "/v1/chat/completions", token: key,
                json: #"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}"#)
            #expect(Self.error(notOffered) == (404, "invalid_request_error", "model_not_found", "model"))
            let notTheKeys = try await client.send(.post, "/v1/chat/completions", token: key, json: Self.body())
            #expect(Self.error(notTheKeys) == (404, "invalid_request_error", "model_not_found", "model"))
            #expect(mock.requestBodies.isEmpty)
        }
    }

    @Test("upstream failures are mapped as POST /chat maps them, without the upstream's detail")
    func upstreamErrors() async throws {
        try await withTurnApp(configure: Self.configure) { client, _, mock in
            let key = try await Self.key(client, "upstream@example.com")
            for stream in [false, true] {
                mock.setBehavior(MockGroqBehavior(fault: .serverError))
                let failed = try await client.send(
                    .post, "/v1/chat/completions", token: key, json: Self.body(extra: #", "stream": \#(stream)"#))
                #expect(Self.error(failed).0 == 502 && Self.error(failed).1 == "server_error", "\(failed.text)")
                #expect(!failed.text.contains("Internal Server Error"))
                mock.setBehavior(MockGroqBehavior(fault: .unauthorized))
                let refused = try await client.send(
                    .post, "/v1/chat/completions", token: key, json: Self.body(extra: #", "stream": \#(stream)"#))
                #expect(Self.error(refused).0 == 502, "the upstream's 401 is not the client's")
                #expect(!refused.text.contains("Invalid API Key"))
            }
            mock.setBehavior(MockGroqBehavior(fault: .streamError))
            let cut = try await client.send(
                .post, "/v1/chat/completions", token: key, json: Self.body(extra: #", "stream": true"#))
            let last = try #require(parseServerSentEvents(cut.text).last)
            #expect((last.json["error"] as? [String: Any])?["type"] as? String == "server_error")
            #expect(!cut.text.contains("[DONE]") && !cut.text.contains("mock stream error"))
        }
    }

    @Test("USER_MESSAGES_PER_MINUTE applies: 429 rate_limit_exceeded with Retry-After")
    func messageRate() async throws {
        try await withTurnApp(configure: { config in
            Self.configure(&config)
            config.userMessagesPerMinute = 1
        }) { client, _, _ in
            let key = try await Self.key(client, "rate@example.com")
            #expect(try await client.send(.post, "/v1/chat/completions", token: key, json: Self.body()).status == .ok)
            let refused = try await client.send(.post, "/v1/chat/completions", token: key, json: Self.body())
            #expect(Self.error(refused).0 == 429 && Self.error(refused).2 == "rate_limit_exceeded", "\(refused.text)")
            #expect(refused.headers[.retryAfter] != nil)
        }
    }

    /// The key's usage this month as GET /auth/me/api-keys lists it.
    static func keyUsage(_ client: any TestClientProtocol, token: String) async throws -> [String: Int] {
        let listed = try await client.send(.get, "/auth/me/api-keys", token: token)
        return try #require(listed.list.first?["usage"] as? [String: Int])
    }

    @Test("each call's usage is charged to its key and /metrics, streamed or not; a key past its budget is refused")
    func keyAccounting() async throws {
        try await withTurnApp(configure: { config in
            Self.configure(&config)
            config.metricsToken = "metrics-token-0123456789"
        }) { client, _, _ in
            let (_, token) = try await client.signUp("charged@example.com")
            let created = try await APIKeysTests.createKey(
                client, token: token, #"{"name": "b", "monthly_token_budget": 100000}"#)
            let key = try #require(created["key"] as? String)
            let whole = try await client.send(.post, "/v1/chat/completions", token: key, json: Self.body())
            let wholeTokens = try #require((whole.json["usage"] as? [String: Int])?["total_tokens"])
            #expect(try await Self.keyUsage(client, token: token) == ["requests": 1, "total_tokens": wholeTokens])
            let payloads = try await Self.stream(
                client, key: key, Self.body(extra: #", "stream": true, "stream_options": {"include_usage": true}"#))
            let last = try JSONSerialization.jsonObject(with: Data(payloads[payloads.count - 2].utf8)) as? [String: Any]
            let streamTokens = try #require((last?["usage"] as? [String: Int])?["total_tokens"])
            #expect(
                try await Self.keyUsage(client, token: token)
                    == ["requests": 2, "total_tokens": wholeTokens + streamTokens])

            // The user's own usage counts both calls too (what quotas and /admin/usage read).
            let usage = try await client.send(.get, "/auth/me/usage", token: token).json
            let totals = try #require(usage["totals"] as? [String: Any])
            #expect(totals["requests"] as? Int == 2 && totals["total_tokens"] as? Int == wholeTokens + streamTokens)

            let scraped = try await client.send(.get, "/metrics", token: "metrics-token-0123456789").text
            #expect(scraped.contains("\nchat_v1_completion_tokens_total \(wholeTokens + streamTokens)\n"), "\(scraped)")

            let small = try await APIKeysTests.createKey(
                client, token: token, #"{"name": "s", "monthly_token_budget": 1}"#)
            let smallKey = try #require(small["key"] as? String)
            #expect(
                try await client.send(.post, "/v1/chat/completions", token: smallKey, json: Self.body()).status == .ok)
            let refused = try await client.send(.post, "/v1/chat/completions", token: smallKey, json: Self.body())
            #expect(Self.error(refused) == (429, "insufficient_quota", "insufficient_quota", nil), "\(refused.text)")
        }
    }

    @Test("a user whose daily quota is spent gets 429 insufficient_quota with Retry-After")
    func userQuota() async throws {
        try await withTurnApp(configure: { config in
            Self.configure(&config)
            config.dailyTokenQuota = 5
        }) { client, _, mock in
            let (_, token) = try await client.signUp("quota@example.com")
            let created = try await APIKeysTests.createKey(client, token: token)
            let key = try #require(created["key"] as? String)
            // A turn spends the day's quota.
            let turn = try await client.send(.post, "/chat", token: token, json: #"{"message": "spend it"}"#)
            #expect(turn.status == .ok, "\(turn.text)")
            let before = mock.requestBodies.count
            let refused = try await client.send(.post, "/v1/chat/completions", token: key, json: Self.body())
            #expect(Self.error(refused) == (429, "insufficient_quota", "insufficient_quota", nil), "\(refused.text)")
            #expect(refused.headers[.retryAfter] != nil)
            #expect(mock.requestBodies.count == before, "refused before the upstream is called")
        }
    }

    @Test("a client that goes away mid-stream cancels the upstream call at once, and what streamed is charged")
    func clientGone() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(chunkDelayMilliseconds: 3000), configure: Self.configure) {
            client, backend, mock in
            let (_, token) = try await client.signUp("gone@example.com")
            let created = try await APIKeysTests.createKey(client, token: token)
            let key = try #require(created["key"] as? String)
            let streaming = try StreamingClient(port: try #require(client.port))
            var (head, reader) = try await streaming.open(
                "POST", "/v1/chat/completions", token: key, json: Self.body(extra: #", "stream": true"#))
            #expect(head.status == 200)
            #expect(try await reader.next() != nil)
            #expect(mock.stats.inFlight == 1)
            reader = SSEReader(AsyncThrowingStream { $0.finish() })
            // The next chunk is 3 s away: only the disconnect can end the upstream call (and give its slot of the
            // gate back) before it.
            let provider = try #require(backend.provider)
            #expect(await eventually(within: .seconds(2)) { await provider.load.inFlight == 0 })
            let charged = try await eventually(within: .seconds(2)) {
                try await Self.keyUsage(client, token: token)["total_tokens"] ?? 0 > 0
            }
            #expect(charged)
        }
    }
}
