import ChatProvider
import Foundation
import Logging
import MockGroq
import Testing

/// The ProviderActor's limits, order and retries, against the mock over real HTTP.
@Suite("ProviderActor: the gate to the upstream")
struct ProviderActorTests {
    static func withProvider(
        _ limits: ProviderLimits,
        behavior: MockGroqBehavior = MockGroqBehavior(),
        _ body: (MockGroqServer, ProviderActor) async throws -> Void
    ) async throws {
        let mock = try await MockGroqServer.start(behavior: behavior)
        let client = GroqClient(
            configuration: GroqConfiguration(apiKey: "mock-key", baseURL: mock.baseURL, model: "test-model"),
            http: try CurlClient()
        )
        let provider = ProviderActor(client: client, limits: limits, logger: testLogger())
        do {
            try await body(mock, provider)
        } catch {
            await mock.stop()
            throw error
        }
        await mock.stop()
    }

    static func request(_ text: String = "hi") -> ChatCompletionRequest {
        ChatCompletionRequest(model: "test-model", messages: [ChatMessage(role: "user", content: text)])
    }

    @Test("never more requests in any window than the limit, however many callers burst in")
    func requestsPerWindow() async throws {
        // A 1 s window with a 500 ms margin: on a loaded 2-core machine the in-process mock may see a request
        // well over 100 ms after it was sent (production: 60 s with a 1 s margin).
        let limits = ProviderLimits(
            requestsPerMinute: 10,
            queueTimeout: .seconds(20),
            window: .seconds(1),
            windowMargin: .milliseconds(500)
        )
        try await Self.withProvider(limits) { mock, provider in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<25 {
                    group.addTask {
                        _ = try await provider.complete(Self.request("burst \(index)"), estimatedTokens: 10)
                    }
                }
                try await group.waitForAll()
            }
            #expect(mock.stats.completed == 25)
            #expect(mock.stats.rateLimited == 0)
            // Measured where it matters: at the upstream, on arrival.
            #expect(mock.maxRequests(inAnyWindowOf: 1.0) <= 10)
        }
    }

    @Test("tokens per window are limited too: estimates reserve, actual usage is settled at the end")
    func tokensPerWindow() async throws {
        let limits = ProviderLimits(tokensPerMinute: 1000, queueTimeout: .seconds(20), window: .seconds(5))
        let behavior = MockGroqBehavior(latencyMilliseconds: 150, reply: "ok")
        try await Self.withProvider(limits, behavior: behavior) { mock, provider in
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 {
                    group.addTask { _ = try await provider.complete(Self.request(), estimatedTokens: 400) }
                }
                try await group.waitForAll()
            }
            // Two 400-token estimates fit in 1000; the others wait until finished calls settle their real,
            // much smaller usage. So never more than two in flight, and three rounds of 150 ms.
            #expect(mock.stats.completed == 6)
            #expect(mock.stats.maxInFlight <= 2)
            #expect(ContinuousClock.now - started >= .milliseconds(420))
        }
    }

    @Test("at most maxConcurrency transfers at once")
    func concurrencyCap() async throws {
        let limits = ProviderLimits(maxConcurrency: 3, queueTimeout: .seconds(20))
        try await Self.withProvider(limits, behavior: MockGroqBehavior(latencyMilliseconds: 60)) { mock, provider in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<15 {
                    group.addTask { _ = try await provider.complete(Self.request(), estimatedTokens: 1) }
                }
                try await group.waitForAll()
            }
            #expect(mock.stats.maxInFlight <= 3)
            #expect(mock.stats.completed == 15)
        }
    }

    @Test("waiting callers are served in arrival order")
    func fifo() async throws {
        let limits = ProviderLimits(maxConcurrency: 1, queueTimeout: .seconds(20))
        try await Self.withProvider(limits, behavior: MockGroqBehavior(latencyMilliseconds: 30)) { _, provider in
            let order = OrderRecorder()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        let reply = try await provider.complete(Self.request("n\(index)"), estimatedTokens: 1)
                        await order.append(reply.content)
                    }
                    // Let each caller reach the queue before the next one.
                    try await Task.sleep(for: .milliseconds(5))
                }
                try await group.waitForAll()
            }
            let expected = (0..<6).map { "You said: \"n\($0)\"" }
            let recorded = await order.values
            #expect(recorded.count == 6)
            for (reply, suffix) in zip(recorded, expected) { #expect(reply.hasSuffix(suffix)) }
        }
    }

    @Test("a 429 pauses the gate for retry-after, then the request is retried and succeeds")
    func retryAfter429() async throws {
        let behavior = MockGroqBehavior(fault: .rateLimit, faultCount: 1, retryAfterSeconds: 1)
        try await Self.withProvider(ProviderLimits(), behavior: behavior) { mock, provider in
            let started = ContinuousClock.now
            let reply = try await provider.complete(Self.request(), estimatedTokens: 1)
            #expect(reply.content.contains("mock"))
            #expect(ContinuousClock.now - started >= .milliseconds(950))
            #expect(mock.stats.rateLimited == 1)
            #expect(mock.stats.completed == 1)
        }
    }

    @Test("5xx is retried up to maxRetries, then reported")
    func retries5xx() async throws {
        let limits = ProviderLimits(maxRetries: 2, baseBackoff: .milliseconds(10))
        try await Self.withProvider(limits, behavior: MockGroqBehavior(fault: .serverError, faultCount: 2)) {
            mock, provider in
            _ = try await provider.complete(Self.request(), estimatedTokens: 1)
            #expect(mock.stats.requests == 3)
            mock.setBehavior(MockGroqBehavior(fault: .serverError, faultCount: 3))
            await #expect(throws: ProviderError.upstream(status: 500, message: "Internal Server Error")) {
                _ = try await provider.complete(Self.request(), estimatedTokens: 1)
            }
            #expect(mock.stats.requests == 6)
        }
    }

    @Test("a rejected key is not retried")
    func noRetryOnBadKey() async throws {
        try await Self.withProvider(ProviderLimits(), behavior: MockGroqBehavior(fault: .unauthorized)) {
            mock, provider in
            await #expect(throws: ProviderError.rejectedCredentials("Invalid API Key")) {
                _ = try await provider.complete(Self.request(), estimatedTokens: 1)
            }
            #expect(mock.stats.requests == 1)
        }
    }

    @Test("a caller that cannot start within the queue timeout gets queueTimeout")
    func queueTimeout() async throws {
        let limits = ProviderLimits(maxConcurrency: 1, queueTimeout: .milliseconds(200))
        try await Self.withProvider(limits, behavior: MockGroqBehavior(latencyMilliseconds: 800)) { _, provider in
            async let first = provider.complete(Self.request(), estimatedTokens: 1)
            #expect(await eventually(within: .seconds(5)) { await provider.load.inFlight == 1 })
            await #expect {
                _ = try await provider.complete(Self.request(), estimatedTokens: 1)
            } throws: { error in
                if case ProviderError.queueTimeout = error { return true }
                return false
            }
            _ = try await first
        }
    }

    @Test("streams: a failure before the first delta is retried, one after it is not")
    func streamRetries() async throws {
        let limits = ProviderLimits(baseBackoff: .milliseconds(10))
        try await Self.withProvider(limits, behavior: MockGroqBehavior(fault: .serverError, faultCount: 1)) {
            mock, provider in
            var text = ""
            for try await case .delta(let piece) in provider.stream(Self.request(), estimatedTokens: 1) {
                text += piece
            }
            #expect(text.contains("mock"))
            #expect(mock.stats.requests == 2)

            mock.reset()
            mock.setBehavior(MockGroqBehavior(fault: .dropMidStream))
            var partial = ""
            await #expect {
                for try await case .delta(let piece) in provider.stream(Self.request(), estimatedTokens: 1) {
                    partial += piece
                }
            } throws: { error in
                if case ProviderError.streamFailed = error { return true }
                return false
            }
            #expect(!partial.isEmpty)
            #expect(mock.stats.requests == 1)
        }
    }

    @Test("the sliding window counts exactly")
    func slidingWindowUnit() async throws {
        let limits = ProviderLimits(requestsPerMinute: 2, window: .milliseconds(300), windowMargin: .milliseconds(300))
        try await Self.withProvider(limits) { mock, provider in
            let started = ContinuousClock.now
            for _ in 0..<5 { _ = try await provider.complete(Self.request(), estimatedTokens: 1) }
            // 5 requests at 2 per 300 ms need at least two full windows.
            #expect(ContinuousClock.now - started >= .milliseconds(600))
            #expect(mock.maxRequests(inAnyWindowOf: 0.3) <= 2)
        }
    }
}

actor OrderRecorder {
    var values: [String] = []
    func append(_ value: String) { self.values.append(value) }
}
