import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// An in-process Groq-compatible server for tests, the benchmark and offline demos.
///
/// Speaks the same wire format as `POST https://api.groq.com/openai/v1/chat/completions` (JSON and
/// Server-Sent Events, `x-ratelimit-*` headers, OpenAI-style error bodies) over real HTTP, with knobs for
/// latency, chunk pacing and faults (``MockGroqBehavior``) and counters (``MockGroqStats``). Its replies say
/// plainly that they come from the mock.
public final class MockGroqServer: Sendable {
    public let port: Int
    public let apiKey: String
    let state: MockGroqState
    private let serviceGroup: ServiceGroup
    private let task: Task<Void, any Error>

    /// `http://127.0.0.1:<port>/openai/v1`, the value for `GROQ_BASE_URL`.
    public var baseURL: String { "http://127.0.0.1:\(self.port)/openai/v1" }

    private init(
        port: Int, apiKey: String, state: MockGroqState, serviceGroup: ServiceGroup, task: Task<Void, any Error>
    ) {
        self.port = port
        self.apiKey = apiKey
        self.state = state
        self.serviceGroup = serviceGroup
        self.task = task
    }

    /// Starts listening (port 0 picks a free port) and returns once the socket is bound.
    public static func start(
        host: String = "127.0.0.1",
        port: Int = 0,
        apiKey: String = "mock-key",
        behavior: MockGroqBehavior = MockGroqBehavior(),
        logger: Logger? = nil
    ) async throws -> MockGroqServer {
        let state = MockGroqState()
        state.behavior = behavior
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        var quiet = Logger(label: "mock-groq")
        quiet.logLevel = .warning
        let app = Application(
            router: buildMockGroqRouter(state: state, apiKey: apiKey),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger ?? quiet
        )
        let serviceGroup = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger ?? quiet)
        )
        let task = Task { try await serviceGroup.run() }
        var boundPort = 0
        for await value in ports {
            boundPort = value
            break
        }
        guard boundPort > 0 else {
            task.cancel()
            throw MockGroqError.couldNotStart
        }
        return MockGroqServer(port: boundPort, apiKey: apiKey, state: state, serviceGroup: serviceGroup, task: task)
    }

    public var behavior: MockGroqBehavior { self.state.behavior }
    public var stats: MockGroqStats { self.state.stats }

    /// The most requests that arrived within any `seconds`-long window.
    public func maxRequests(inAnyWindowOf seconds: Double) -> Int {
        self.state.maxArrivals(inAnyWindowOf: seconds)
    }

    /// The messages of each request received, oldest first.
    public var conversations: [[MockGroqMessage]] { self.state.conversations }
    /// The bodies of the newest 100 completion requests as they arrived, oldest first (to check pass-through).
    public var requestBodies: [String] { self.state.bodies }

    /// The prompt tokens the mock reports for messages of these contents (at least 1): each word a token per 4
    /// bytes of UTF-8 or part of them, as a tokenizer reads text: about 4 bytes a token in prose, but 2 in
    /// `a a a …`, where every word is a token of its own.
    public static func promptTokens(_ contents: [String]) -> Int {
        let tokens = contents.reduce(0) { total, text in
            text.split(whereSeparator: \.isWhitespace).reduce(total) { $0 + ($1.utf8.count + 3) / 4 }
        }
        return max(1, tokens)
    }

    public func setBehavior(_ behavior: MockGroqBehavior) {
        self.state.behavior = behavior
    }

    /// Clears counters and behavior.
    public func reset() {
        self.state.reset()
    }

    /// Releases hanging requests and stops the server gracefully.
    public func stop() async {
        self.state.isStopping = true
        await self.serviceGroup.triggerGracefulShutdown()
        _ = await self.task.result
    }

    /// Runs until the task is cancelled (for the `mock-groq` executable).
    public func wait() async throws {
        try await self.task.value
    }
}

public enum MockGroqError: Error {
    case couldNotStart
}

/// The mock's routes: the chat-completions and model-list endpoints, plus `/mock/behavior`, `/mock/stats`, `/mock/reset`.
func buildMockGroqRouter(state: MockGroqState, apiKey: String) -> Router<BasicRequestContext> {
    let router = Router()
    let handler = MockCompletionHandler(state: state, apiKey: apiKey)
    router.post("/openai/v1/chat/completions", use: handler.handle)
    router.get("/openai/v1/models", use: handler.models)
    router.get("/health") { _, _ in ["status": "ok"] }
    router.get("/mock/stats") { _, _ in state.stats }
    router.get("/mock/behavior") { _, _ in state.behavior }
    router.put("/mock/behavior") { request, context -> MockGroqBehavior in
        let behavior = try await request.decode(as: MockGroqBehavior.self, context: context)
        state.behavior = behavior
        return behavior
    }
    router.post("/mock/reset") { _, _ -> HTTPResponse.Status in
        state.reset()
        return .noContent
    }
    return router
}

extension MockGroqStats: ResponseEncodable {}
extension MockGroqBehavior: ResponseEncodable {}
