import ChatServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import MockGroq
import Testing

/// Reserve-then-settle at the door, over a real socket on the engine `TEST_DATABASE_URL` picks: calls
/// admitted at the same moment each hold the most they may cost before the upstream is called, so together
/// they cannot pass a key's budget or a user's quota by more than one call; a call that fails releases its
/// hold and is charged nothing.
@Suite("POST /v1/chat/completions: reserve, then settle")
struct OpenAIReservationTests {
    /// Sends `count` calls at once (`token` for each) and returns their statuses, sorted.
    static func concurrentStatuses(_ client: any TestClientProtocol, token: String, count: Int) async throws -> [Int] {
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for index in 0..<count {
                group.addTask {
                    let response = try await client.send(
                        .post, "/v1/chat/completions", token: token,
                        json: OpenAIChatCompletionsTests.body("call \(index)", extra: #", "max_tokens": 16"#))
                    let error = OpenAIChatCompletionsTests.error(response)
                    if error.0 != 200 { #expect(error.2 == "insufficient_quota", "\(response.text)") }
                    return (error.0, response.text)
                }
            }
            return try await group.reduce(into: []) { $0.append($1.0) }.sorted()
        }
    }

    @Test("a key's budget of 1 token admits one of 8 calls sent at once")
    func concurrentKeyBudget() async throws {
        try await withTurnApp(
            behavior: MockGroqBehavior(latencyMilliseconds: 400), configure: OpenAIChatCompletionsTests.configure
        ) { client, _, mock in
            let key = try await OpenAIChatCompletionsTests.key(
                client, "budget@example.com", keyBody: #"{"name": "b", "monthly_token_budget": 1}"#)
            #expect(
                try await Self.concurrentStatuses(client, token: key, count: 8) == [200]
                    + Array(repeating: 429, count: 7))
            #expect(mock.stats.requests == 1, "the refused calls never reached the upstream")
        }
    }

    @Test("a user's daily quota of 1 token admits one of 8 calls sent at once")
    func concurrentUserQuota() async throws {
        try await withTurnApp(
            behavior: MockGroqBehavior(latencyMilliseconds: 400),
            configure: { config in
                OpenAIChatCompletionsTests.configure(&config)
                config.dailyTokenQuota = 1
            }
        ) { client, _, mock in
            let key = try await OpenAIChatCompletionsTests.key(client, "daily@example.com")
            #expect(
                try await Self.concurrentStatuses(client, token: key, count: 8) == [200]
                    + Array(repeating: 429, count: 7))
            #expect(mock.stats.requests == 1)
        }
    }

    @Test("a call that fails upstream releases its hold and is charged nothing; one that succeeds is settled")
    func failedCallReleases() async throws {
        try await withTurnApp(
            behavior: MockGroqBehavior(fault: .unauthorized, faultCount: 1),
            configure: OpenAIChatCompletionsTests.configure
        ) { client, _, _ in
            let (_, token) = try await client.signUp("released@example.com")
            let created = try await APIKeysTests.createKey(
                client, token: token, #"{"name": "b", "monthly_token_budget": 1}"#)
            let key = try #require(created["key"] as? String)
            let body = OpenAIChatCompletionsTests.body()
            let failed = try await client.send(.post, "/v1/chat/completions", token: key, json: body)
            #expect(failed.status.code >= 500, "\(failed.text)")
            #expect(
                try await OpenAIChatCompletionsTests.keyUsage(client, token: token) == [
                    "requests": 0, "total_tokens": 0,
                ])
            // Had the failed call kept its hold, the budget of 1 token would refuse this one.
            let answered = try await client.send(.post, "/v1/chat/completions", token: key, json: body)
            #expect(answered.status == .ok, "\(answered.text)")
            let refused = try await client.send(.post, "/v1/chat/completions", token: key, json: body)
            #expect(OpenAIChatCompletionsTests.error(refused).2 == "insufficient_quota", "\(refused.text)")
        }
    }
}
