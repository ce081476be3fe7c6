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
        let user = try await target.user("bench-gateway-\(UUID().uuidString.prefix(8).lowercased())@example.com")
        let key = try await Self.apiKey(target, token: user)
        let model = try await Self.firstModel(target, key: key)
        let body = #"{"model": "\#(model)", "messages": \#(Self.messages)}"#
        let streamed = #"{"model": "\#(model)", "messages": \#(Self.messages), "stream": true}"#
        let direct = target.upstream.map { upstream in
            { @Sendable (json: String) in
                await target.send(
                    .POST, upstream.url + "/chat/completions", token: upstream.key, json: json, absolute: true)
            }
        }
        let door = { @Sendable (json: String) in
            await target.send(.POST, "/v1/chat/completions", token: key, json: json)
        }
        var results: [ScenarioResult] = []
        // Each door run follows its baseline (the same request straight to the mock), so the pair is measured
        // close together; the door's note says what it adds.
        for (suffix, json, what) in [
            ("", body, "POST /v1/chat/completions with an API key"),
            ("-stream", streamed, "the same with stream: true, read to [DONE]"),
        ] {
            let isStream = !suffix.isEmpty
            var baseline: ScenarioResult?
            if let direct {
                baseline = await self.measure("upstream-direct" + suffix, "the mock upstream alone, same request") {
                    await Self.outcome(direct(json), stream: isStream)
                }
            }
            var measured = await self.measure("gateway" + suffix, what) {
                await Self.outcome(door(json), stream: isStream)
            }
            if let baseline { measured.note = (measured.note ?? "") + Self.added(measured, over: baseline) }
            results += [baseline, measured].compactMap { $0 }
        }
        return results
    }

    private func measure(_ name: String, _ note: String, _ call: @escaping @Sendable () async -> Int?) async
        -> ScenarioResult
    {
        await self.runner.load(name, self.runner.settings.concurrency, note) { _, _ in await call() }
    }

    /// The status of an answer; a stream counts as 200 only if it reached `data: [DONE]`.
    static func outcome(_ answer: (Int?, ByteBuffer), stream: Bool) -> Int? {
        let (status, reply) = answer
        guard stream, status == 200 else { return status }
        return String(buffer: reply).contains("data: [DONE]") ? 200 : 502
    }

    /// "; adds p50 +a ms, p99 +b ms over <baseline>": the door's latency beyond the mock's alone.
    static func added(_ door: ScenarioResult, over baseline: ScenarioResult) -> String {
        let p50 = door.p50Milliseconds - baseline.p50Milliseconds
        let p99 = door.p99Milliseconds - baseline.p99Milliseconds
        return "; adds p50 \(Self.signed(p50)) ms, p99 \(Self.signed(p99)) ms over \(baseline.name)"
    }

    private static func signed(_ milliseconds: Double) -> String {
        (milliseconds < 0 ? "-" : "+") + String(format: "%.1f", abs(milliseconds))
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
