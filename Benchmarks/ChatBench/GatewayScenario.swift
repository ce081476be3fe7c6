import Foundation
import NIOCore
import NIOHTTP1

/// The OpenAI-compatible door: `POST /v1/chat/completions` with an API key, answered whole and streamed, beside
/// the same request sent straight to the mock upstream (what the door adds is the difference).
struct GatewayScenario: Sendable {
    let runner: ScenarioRunner

    static let messages = #"[{"role": "user", "content": "Say something short."}]"#

    func run() async throws -> [ScenarioResult] {
        let target = self.runner.target
        let concurrency = self.runner.settings.concurrency
        let user = try await target.user("bench-gateway-\(UUID().uuidString.prefix(8).lowercased())@example.com")
        let key = try await Self.apiKey(target, token: user)
        let model = try await Self.firstModel(target, key: key)
        let body = #"{"model": "\#(model)", "messages": \#(Self.messages)}"#
        let streamed = #"{"model": "\#(model)", "messages": \#(Self.messages), "stream": true}"#
        var results: [ScenarioResult] = []
        if let upstream = target.upstream {
            let direct = #"{"model": "\#(model)", "messages": \#(Self.messages), "stream": false}"#
            results.append(
                await self.runner.load("upstream-direct", concurrency, "the mock upstream alone, same request") {
                    _, _ in
                    await target.status(
                        .POST, upstream.url + "/chat/completions", token: upstream.key, json: direct, absolute: true)
                })
        }
        results.append(
            await self.runner.load("gateway", concurrency, "POST /v1/chat/completions with an API key") { _, _ in
                await target.status(.POST, "/v1/chat/completions", token: key, json: body)
            })
        results.append(
            await self.runner.load("gateway-stream", concurrency, "the same with stream: true, read to [DONE]") {
                _, _ in
                let (status, reply) = await target.send(.POST, "/v1/chat/completions", token: key, json: streamed)
                guard status == 200 else { return status }
                return String(buffer: reply).contains("data: [DONE]") ? 200 : 502
            })
        return results
    }

    /// A new API key of the JWT's user.
    static func apiKey(_ target: BenchTarget, token: String) async throws -> String {
        let created = try await target.json(.POST, "/auth/me/api-keys", token: token, json: #"{"name": "chat-bench"}"#)
        guard let key = (created as? [String: Any])?["key"] as? String else { throw BenchError.setup("no API key") }
        return key
    }

    /// The first model the key may use (GET /v1/models).
    static func firstModel(_ target: BenchTarget, key: String) async throws -> String {
        let list = try await target.json(.GET, "/v1/models", token: key)
        guard let data = (list as? [String: Any])?["data"] as? [[String: Any]], let id = data.first?["id"] as? String
        else { throw BenchError.setup("GET /v1/models listed no model") }
        return id
    }
}
