import Foundation
import MockGroq
import Testing

@testable import ChatProvider

/// The real CurlClient and GroqClient against the in-repo mock, over real HTTP.
@Suite("GroqClient over libcurl against the mock upstream")
struct ProviderClientTests {
    static func withMock(
        _ behavior: MockGroqBehavior = MockGroqBehavior(),
        requestTimeout: Duration = .seconds(10),
        apiKey: String = "mock-key",
        _ body: (MockGroqServer, GroqClient) async throws -> Void
    ) async throws {
        let mock = try await MockGroqServer.start(behavior: behavior)
        let http = try CurlClient()
        let client = GroqClient(
            configuration: GroqConfiguration(
                apiKey: apiKey,
                baseURL: mock.baseURL,
                model: "openai/gpt-oss-20b",
                requestTimeout: requestTimeout,
                streamIdleTimeout: .seconds(5)
            ),
            http: http
        )
        do {
            try await body(mock, client)
        } catch {
            await mock.stop()
            throw error
        }
        await mock.stop()
    }

    static let hello = ChatCompletionRequest(
        model: "openai/gpt-oss-20b",
        messages: [
            ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hello there"),
        ]
    )

    @Test("a JSON completion: content, usage, finish reason and rate-limit headers")
    func complete() async throws {
        try await Self.withMock { mock, client in
            let (completion, info) = try await client.complete(Self.hello)
            #expect(completion.content.contains("mock Groq server"))
            #expect(completion.content.contains("Hello there"))
            #expect(completion.finishReason == "stop")
            #expect(completion.model == "openai/gpt-oss-20b")
            #expect((completion.usage?.completionTokens ?? 0) > 0)
            #expect(info.limitRequests == 30_000)
            #expect(info.resetRequests == .milliseconds(2400))
            #expect(info.resetTokens == .milliseconds(60))
            #expect(mock.stats.completed == 1)
        }
    }

    @Test("a streamed completion: deltas add up to the reply, then finished with usage")
    func stream() async throws {
        try await Self.withMock { mock, client in
            let (_, events) = try await client.stream(Self.hello)
            var text = ""
            var finished: ChatStreamEvent?
            var deltas = 0
            for try await event in events {
                switch event {
                case .delta(let piece):
                    text += piece
                    deltas += 1
                case .finished: finished = event
                }
            }
            #expect(deltas > 5)
            #expect(text.hasPrefix("This reply comes from the mock Groq server"))
            guard case .finished(let reason, let usage, _) = finished else {
                Issue.record("no finished event")
                return
            }
            #expect(reason == "stop")
            #expect(usage?.completionTokens == deltas)
            #expect(mock.stats.completed == 1)
        }
    }

    @Test("many concurrent streams over one driver thread")
    func concurrentStreams() async throws {
        try await Self.withMock(MockGroqBehavior(latencyMilliseconds: 50, chunkDelayMilliseconds: 2)) { mock, client in
            try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        var request = Self.hello
                        request.messages[1].content = "client \(index)"
                        let (_, events) = try await client.stream(request)
                        var text = ""
                        for try await case .delta(let piece) in events { text += piece }
                        return text
                    }
                }
                var replies = 0
                for try await text in group {
                    #expect(text.contains("client "))
                    replies += 1
                }
                #expect(replies == 50)
            }
            #expect(mock.stats.completed == 50)
            #expect(mock.stats.maxInFlight > 1)
        }
    }

    @Test("a rejected key is reported without echoing it")
    func unauthorized() async throws {
        try await Self.withMock(apiKey: "gsk_secret_value") { _, client in
            await #expect(throws: ProviderError.rejectedCredentials("Invalid API Key")) {
                _ = try await client.complete(Self.hello)
            }
            await #expect(throws: ProviderError.rejectedCredentials("Invalid API Key")) {
                _ = try await client.stream(Self.hello)
            }
        }
    }

    @Test("429 carries retry-after; 500 is an upstream error")
    func statusFaults() async throws {
        try await Self.withMock(MockGroqBehavior(fault: .rateLimit, retryAfterSeconds: 3)) { mock, client in
            do {
                _ = try await client.complete(Self.hello)
                Issue.record("expected rate limiting")
            } catch let ProviderError.rateLimited(retryAfter, message) {
                #expect(retryAfter == .seconds(3))
                #expect(message.contains("Rate limit reached"))
            }
            mock.setBehavior(MockGroqBehavior(fault: .serverError))
            await #expect(throws: ProviderError.upstream(status: 500, message: "Internal Server Error")) {
                _ = try await client.stream(Self.hello)
            }
        }
    }

    @Test(
        "broken streams fail with streamFailed",
        arguments: [MockGroqBehavior.Fault.dropMidStream, .noDone, .streamError, .malformedJSON]
    )
    func brokenStreams(fault: MockGroqBehavior.Fault) async throws {
        try await Self.withMock(MockGroqBehavior(fault: fault)) { _, client in
            let (_, events) = try await client.stream(Self.hello)
            var received = ""
            do {
                for try await case .delta(let piece) in events { received += piece }
                Issue.record("the stream should have failed (\(fault))")
            } catch let error as ProviderError {
                guard case .streamFailed = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
            }
            if fault == .dropMidStream { #expect(!received.isEmpty) }
        }
    }

    @Test("a malformed JSON completion is reported, not crashed on")
    func malformedCompletion() async throws {
        try await Self.withMock(MockGroqBehavior(fault: .malformedJSON)) { _, client in
            await #expect(throws: ProviderError.malformedResponse("the completion is not valid JSON")) {
                _ = try await client.complete(Self.hello)
            }
        }
    }

    @Test("a hanging upstream times out after the request timeout")
    func hang() async throws {
        try await Self.withMock(MockGroqBehavior(fault: .hang), requestTimeout: .milliseconds(500)) { _, client in
            let started = ContinuousClock.now
            await #expect {
                _ = try await client.complete(Self.hello)
            } throws: { error in
                if case ProviderError.timedOut = error { return true }
                return false
            }
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test("cancelling the task removes the transfer at once")
    func cancellation() async throws {
        try await Self.withMock(MockGroqBehavior(fault: .hang)) { _, client in
            let task = Task { try await client.complete(Self.hello) }
            try await Task.sleep(for: .milliseconds(200))
            let started = ContinuousClock.now
            task.cancel()
            let result = await task.result
            #expect(ContinuousClock.now - started < .seconds(1))
            #expect(throws: CancellationError.self) { try result.get() }
        }
    }

    @Test("connection refused is a connection error")
    func connectionRefused() async throws {
        let mock = try await MockGroqServer.start()
        let url = mock.baseURL
        await mock.stop()
        let client = GroqClient(
            configuration: GroqConfiguration(apiKey: "mock-key", baseURL: url, model: "m"),
            http: try CurlClient()
        )
        await #expect {
            _ = try await client.complete(Self.hello)
        } throws: { error in
            if case ProviderError.connection = error { return true }
            return false
        }
    }
}

@Suite("Wire-format parsing")
struct WireFormatTests {
    @Test(
        "Go durations",
        arguments: [
            ("2m59.56s", Duration.milliseconds(179_560)), ("7.66s", .milliseconds(7660)), ("800ms", .milliseconds(800)),
            ("1h0m5s", .seconds(3605)), ("0s", .zero), ("150µs", .microseconds(150)), ("1.5h", .seconds(5400)),
        ]
    )
    func goDurations(text: String, expected: Duration) {
        #expect(GoDuration.parse(text) == expected)
    }

    @Test("invalid Go durations", arguments: ["", "abc", "5", "5x", "s"])
    func invalidGoDurations(text: String) {
        #expect(GoDuration.parse(text) == nil)
    }

    @Test("SSE: events split across chunks, CRLF, comments and multi-line data")
    func serverSentEvents() {
        var parser = ServerSentEventParser()
        #expect(parser.feed(Array("data: {\"a\"".utf8)).isEmpty)
        #expect(parser.feed(Array(":1}\n\n".utf8)) == [#"{"a":1}"#])
        #expect(
            parser.feed(Array(": keep-alive\r\n\r\ndata: x\r\ndata: y\r\n\r\ndata:[DONE]\n\n".utf8)) == [
                "x\ny", "[DONE]",
            ])
        #expect(parser.feed(Array("event: ping\ndata: tail".utf8)).isEmpty)
        #expect(parser.finish() == "tail")
    }
}

@Suite("Streamed-chunk fast path")
struct DeltaFastPathTests {
    @Test("common chunks are read without JSONDecoder, with every escape")
    func fastPath() {
        let chunk =
            #"{"id":"x","choices":[{"index":0,"delta":{"content":"a\"b\\c\/d\n\t\u00e9\ud83d\ude80"},"finish_reason":null}]}"#
        #expect(DeltaFastPath.content(of: chunk) == "a\"b\\c/d\n\té🚀")
        #expect(DeltaFastPath.content(of: #"{"choices":[{"delta":{"content":""},"finish_reason":null}]}"#) == "")
        // A reply's first chunk, as Groq sends it.
        let first = #"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#
        #expect(DeltaFastPath.content(of: first) == "")
        let firstWithText = #"{"choices":[{"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}"#
        #expect(DeltaFastPath.content(of: firstWithText) == "Hi")
    }

    @Test(
        "anything unusual falls back to the full decoder",
        arguments: [
            #"{"choices":[{"delta":{"role":"assistant"},"finish_reason":null}]}"#,
            #"{"choices":[{"delta":{"role":"tool","content":"x"},"finish_reason":null}]}"#,
            #"{"choices":[{"delta":{"role":"assistant","content":"x"},"finish_reason":null},{"delta":{"content":"y"},"finish_reason":null}]}"#,
            #"{"choices":[{"delta":{"content":"x"},"finish_reason":"stop"}],"x_groq":{"usage":{}}}"#,
            #"{"choices":[{"delta":{"content":"x"},"finish_reason":null}],"usage":{"prompt_tokens":1}}"#,
            #"{"error":{"message":"boom"},"choices":[{"delta":{"content":"x"},"finish_reason":null}]}"#,
            #"{"choices":[{"delta":{"content":"x"},"finish_reason":null},{"delta":{"content":"y"},"finish_reason":null}]}"#,
            #"{"choices":[{"delta":{"content":"unterminated},"finish_reason":null}]}"#,
            #"{"choices":[{"delta":{"content":"bad \x escape"},"finish_reason":null}]}"#,
            #"{"choices":[{"delta":{"content":"lone \ud83d surrogate"},"finish_reason":null}]}"#,
        ]
    )
    func fallback(chunk: String) {
        #expect(DeltaFastPath.content(of: chunk) == nil)
    }

    @Test("whatever the fast path reads, the full reading reads the same")
    func agreesWithFullReading() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = [
            "a", "é", "🚀", " ", #"\""#, #"\\"#, #"\n"#, #"\u00e9"#, #"\ud83d\ude80"#, "error", #"\"error\""#,
            #"\"usage\":"#, "finish_reason", "}", "{", ",", "delta",
        ]
        let shapes = [
            #"{"id":"c","choices":[{"index":0,"delta":{"content":"TEXT"},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{"role":"assistant","content":"TEXT"},"finish_reason":null}],"model":"m"}"#,
            #"{"choices":[{"delta":{"content":"TEXT"},"logprobs":null,"finish_reason":null}],"x_groq":{"id":"r"}}"#,
            #"{"choices":[{"delta":{"content":"TEXT"},"finish_reason":null}],"usage":null}"#,
            #"{"choices":[{"delta":{"content":"TEXT"},"finish_reason":"stop"}]}"#,
        ]
        var taken = 0
        for _ in 0..<2_000 {
            let text = (0..<Int.random(in: 0...6, using: &generator)).map { _ in
                pieces.randomElement(using: &generator) ?? ""
            }.joined()
            let shape = try #require(shapes.randomElement(using: &generator))
            let payload = shape.replacingOccurrences(of: "TEXT", with: text)
            guard let fast = DeltaFastPath.content(of: payload) else { continue }
            taken += 1
            let full = ChatChunkReader.StreamChunk(payload)
            #expect(full?.choices?.first?.content == fast, "\(payload)")
        }
        #expect(taken > 500)
    }

    @Test("a streamed body the reader does not take pauses the transfer at the high watermark, and loses nothing")
    func bodyBackPressure() async throws {
        let words = 20_000
        let behavior = MockGroqBehavior(reply: Array(repeating: "word", count: words).joined(separator: " "))
        let mock = try await MockGroqServer.start(behavior: behavior)
        defer { Task { await mock.stop() } }
        let http = try CurlClient()
        let body = Array(
            #"{"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#.utf8)
        let (head, stream) = try await http.stream(
            CurlRequest(
                method: "POST", url: mock.baseURL + "/chat/completions",
                headers: [("Authorization", "Bearer \(mock.apiKey)"), ("Content-Type", "application/json")],
                body: body, totalTimeout: nil))
        #expect(head.status == 200)
        // Nobody reads for a while: what waits stays under the high watermark (plus at most one chunk).
        try await Task.sleep(for: .milliseconds(500))
        #expect(stream.budget.waiting > 0)
        #expect(stream.budget.waiting <= CurlBodyStream.highWatermark + 64 * 1024, "\(stream.budget.waiting)")
        // Then everything arrives, in order, to the end.
        var text = ""
        for try await chunk in stream { text += String(decoding: chunk, as: UTF8.self) }
        #expect(text.hasSuffix("data: [DONE]\n\n"))
        #expect(text.components(separatedBy: "word").count - 1 == words)
        #expect(text.utf8.count > 4 * CurlBodyStream.highWatermark)
    }
}

@Suite("Streamed chunks read without JSONDecoder")
struct UpstreamJSONTests {
    /// The wire format as `JSONDecoder` reads it: the oracle the hand-written reading must agree with.
    struct Oracle: Decodable {
        struct Choice: Decodable {
            struct Delta: Decodable { let content: String? }
            let delta: Delta?
            let finish_reason: String?
        }
        struct XGroq: Decodable { let usage: TokenUsage? }
        struct ErrorBody: Decodable {
            let message: String
            let type: String?
            let code: String?
        }
        let model: String?
        let choices: [Choice]?
        let usage: TokenUsage?
        let x_groq: XGroq?
        let error: ErrorBody?
    }

    static func agree(_ payload: String) -> Comment? {
        let oracle = try? JSONDecoder().decode(Oracle.self, from: Data(payload.utf8))
        let chunk = ChatChunkReader.StreamChunk(payload)
        switch (oracle, chunk) {
        case (nil, nil): return nil
        case (let oracle?, let chunk?):
            let same =
                oracle.model == chunk.model && oracle.usage == chunk.usage && oracle.x_groq?.usage == chunk.xGroqUsage
                && oracle.error?.message == chunk.errorMessage
                && oracle.choices?.map { "\($0.delta?.content ?? "∅")|\($0.finish_reason ?? "∅")" }
                    == chunk.choices?.map { "\($0.content ?? "∅")|\($0.finishReason ?? "∅")" }
            return same ? nil : "values differ for \(payload)"
        case (nil, _?): return "accepted what JSONDecoder refuses: \(payload)"
        case (_?, nil): return "refused what JSONDecoder accepts: \(payload)"
        }
    }

    static let lastChunk =
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"llama-3.3-70b-versatile","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"queue_time":0.021,"prompt_tokens":18,"prompt_time":0.0009,"completion_tokens":7,"completion_time":0.02,"total_tokens":25,"total_time":0.021}}}"#

    @Test("the chunks Groq sends, errors and wrong types read as JSONDecoder reads them")
    func agreesWithJSONDecoder() throws {
        let chunk = try #require(ChatChunkReader.StreamChunk(Self.lastChunk))
        #expect(chunk.model == "llama-3.3-70b-versatile")
        #expect(chunk.xGroqUsage == TokenUsage(promptTokens: 18, completionTokens: 7, totalTokens: 25))
        #expect(chunk.choices?.first?.finishReason == "stop")
        let payloads = [
            Self.lastChunk,
            #"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
            #"{"choices":[{"delta":null,"finish_reason":"length"}],"usage":null,"x_groq":null}"#,
            #" {"choices":[{"delta":{"content":"a\u00e9\ud83d\ude80\n"},"finish_reason":null}]} "#,
            #"{"choices":[{"delta":{"content":null}},{"delta":{"content":"two"}}],"model":null}"#,
            #"{"error":{"message":"Service unavailable","type":"internal_server_error","code":null}}"#,
            #"{"error":{"message":"over capacity","type":"server_error","code":"over_capacity"},"choices":[]}"#,
            #"{"usage":{"prompt_tokens":12.0,"completion_tokens":-0,"total_tokens":1E1}}"#,
            #"{"usage":{"prompt_tokens":12.5,"completion_tokens":1,"total_tokens":13}}"#,
            #"{"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
            #"{"usage":{"prompt_tokens":"1","completion_tokens":1,"total_tokens":2}}"#,
            #"{"usage":{"prompt_tokens":99999999999999999999,"completion_tokens":1,"total_tokens":2}}"#,
            #"{"error":{"type":"x"}}"#, #"{"error":{"message":"m","code":429}}"#, #"{"error":"boom"}"#,
            #"{"choices":{}}"#, #"{"choices":[1]}"#, #"{"choices":[{"delta":[]}]}"#,
            #"{"choices":[{"finish_reason":1}]}"#, #"{"model":7}"#, #"{"x_groq":{"usage":[]}}"#,
            #"[]"#, #""text""#, "", " ", "{", "{}", "{} {}", "{}x", #"{"a":}"#, #"{"a":1,}"#, #"{"a" 1}"#,
            #"{"a":[1,]}"#, #"{"a":01}"#, #"{"a":-}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":1e}"#, #"{"a":+1}"#,
            #"{"a":tru}"#, #"{"a":nul}"#, #"{"a":True}"#, #"{'a':1}"#, #"{"a":"\x"}"#, #"{"a":"\ud83d"}"#,
            "{\"a\":\"tab\there\"}", "{\"model\":\"tab\there\"}", #"{"a":"unterminated}"#, #"{"q":--1,"r":1-2}"#,
            #"{"model":"first","model":"second"}"#, #"{"model":"\x"}"#, #"{"model":"\ud83d"}"#, #"{"a":1 , }"#,
            #"{"a":[{"b":[{"c":[true,false,null,-1.5e-3]}]}]}"#,
        ]
        for payload in payloads {
            if let difference = Self.agree(payload) { Issue.record(difference) }
        }
    }

    @Test("every one-byte cut, change and insertion of Groq's last chunk reads as JSONDecoder reads it")
    func mutationsAgree() {
        let bytes = Array(Self.lastChunk.utf8)
        var disagreements: [Comment] = []
        for index in bytes.indices {
            var cut = bytes
            cut.remove(at: index)
            for variant in [cut]
                + [UInt8(ascii: "\""), UInt8(ascii: "}"), UInt8(ascii: "1"), 0x0A].flatMap({ byte in
                    var changed = bytes
                    changed[index] = byte
                    var inserted = bytes
                    inserted.insert(byte, at: index)
                    return [changed, inserted]
                })
            {
                if let difference = Self.agree(String(decoding: variant, as: UTF8.self)) {
                    disagreements.append(difference)
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }

    @Test("nesting deeper than the limit is refused, not followed down the stack")
    func depthLimit() {
        let deep =
            String(repeating: "[", count: UpstreamJSON.maximumDepth)
            + String(
                repeating: "]", count: UpstreamJSON.maximumDepth)
        #expect(UpstreamJSON.parse(deep) != nil)
        let deeper = "[" + deep + "]"
        #expect(UpstreamJSON.parse(deeper) == nil)
        #expect(UpstreamJSON.parse(String(repeating: "[", count: 100_000)) == nil)
    }
}
