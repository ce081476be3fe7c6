import Foundation
import HTTPTypes
import MockGroq
import Testing

/// API keys on three real replicas of one PostgreSQL database: a key deleted, or its user disabled, through
/// one replica is refused by every other at once (keys are read through, never cached); calls sent to all of
/// them at once hold their reservations against one quota and one budget.
@Suite("API keys across replicas", .enabled(if: TestDatabase.isPostgres, "needs the PostgreSQL server"))
struct MultiReplicaAPIKeyTests {
    @Test("a key deleted on replica B, or its user disabled on C, is refused on every replica at once")
    func revocationAcrossReplicas() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let deployment = try await MultiReplicaTests.deploy(MockGroqBehavior(reply: "ok"), directory: directory)
        defer { Task { await deployment.stop() } }
        let replicas = deployment.replicas
        let (a, b, c) = (replicas[0], replicas[1], replicas[2])
        let token = try #require(try await a.signUp("keys@example.com"))
        func newKey() async throws -> (id: String, key: String) {
            let created = try await a.send(.post, "/auth/me/api-keys", token: token, json: #"{"name": "ci"}"#)
            #expect(created.status == 201, "\(created.body)")
            return (try #require(created.json["id"] as? String), try #require(created.json["key"] as? String))
        }
        func statuses(_ key: String) async throws -> [Int] {
            var statuses: [Int] = []
            for replica in replicas { statuses.append(try await replica.send(.get, "/v1/models", token: key).status) }
            return statuses
        }

        let first = try await newKey()
        #expect(try await statuses(first.key) == [200, 200, 200])
        #expect(try await b.send(.delete, "/auth/me/api-keys/\(first.id)", token: token).status == 204)
        #expect(try await statuses(first.key) == [401, 401, 401])

        let second = try await newKey()
        #expect(try await statuses(second.key) == [200, 200, 200])
        let admin = try #require(try await c.signUp("admin@example.com"))
        let userID = try #require((try await a.send(.get, "/auth/me", token: token)).json["id"] as? String)
        let disabled = try await c.send(.patch, "/admin/users/\(userID)", token: admin, json: #"{"disabled": true}"#)
        #expect(disabled.status == 200, "\(disabled.body)")
        #expect(try await statuses(second.key) == [401, 401, 401])
    }

    @Test("9 calls at once through 3 replicas: a key's budget of 1 token, or a user's quota of 1, admits one")
    func reservationsAcrossReplicas() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let deployment = try await MultiReplicaTests.deploy(
            MockGroqBehavior(latencyMilliseconds: 400, reply: "ok"), directory: directory)
        defer { Task { await deployment.stop() } }
        let replicas = deployment.replicas
        func statuses(_ credential: String) async throws -> [Int] {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<9 {
                    group.addTask {
                        try await replicas[index % 3].send(
                            .post, "/v1/chat/completions", token: credential,
                            json: #"{"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "hi"}]}"#
                        ).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }.sorted()
            }
        }
        let token = try #require(try await replicas[0].signUp("budget@example.com"))
        let created = try await replicas[1].send(
            .post, "/auth/me/api-keys", token: token, json: #"{"name": "ci", "monthly_token_budget": 1}"#)
        let key = try #require(created.json["key"] as? String)
        #expect(try await statuses(key) == [200] + Array(repeating: 429, count: 8))

        let admin = try #require(try await replicas[2].signUp("admin@example.com"))
        let quota = try #require(try await replicas[0].signUp("quota@example.com"))
        let userID = try #require((try await replicas[0].send(.get, "/auth/me", token: quota)).json["id"] as? String)
        let limited = try await replicas[2].send(
            .patch, "/admin/users/\(userID)", token: admin, json: #"{"daily_token_quota": 1}"#)
        #expect(limited.status == 200, "\(limited.body)")
        #expect(try await statuses(quota) == [200] + Array(repeating: 429, count: 8))
        #expect(deployment.mock.stats.requests == 2, "refused calls never reached the upstream")
    }

    @Test("USER_MESSAGES_PER_MINUTE holds for the door across replicas: 3 a minute, 6 calls through 3 replicas")
    func rateAcrossReplicas() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let deployment = try await MultiReplicaTests.deploy(
            MockGroqBehavior(reply: "ok"), directory: directory, environment: ["USER_MESSAGES_PER_MINUTE": "3"])
        defer { Task { await deployment.stop() } }
        let replicas = deployment.replicas
        let token = try #require(try await replicas[0].signUp("rate@example.com"))
        let created = try await replicas[1].send(.post, "/auth/me/api-keys", token: token, json: #"{"name": "ci"}"#)
        let key = try #require(created.json["key"] as? String)
        var answers: [(Int, String?)] = []
        for index in 0..<6 {
            let response = try await replicas[index % 3].send(
                .post, "/v1/chat/completions", token: key,
                json: #"{"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "hi"}]}"#)
            answers.append((response.status, (response.json["error"] as? [String: Any])?["code"] as? String))
        }
        #expect(answers.map(\.0) == [200, 200, 200, 429, 429, 429])
        #expect(answers.suffix(3).allSatisfy { $0.1 == "rate_limit_exceeded" })
    }
}
