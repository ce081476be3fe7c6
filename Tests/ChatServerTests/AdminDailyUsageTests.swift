import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// GET /admin/usage/daily: the deployment's (or one user's) tokens per UTC day, every day of the range present.
@Suite("Admin usage per day")
struct AdminDailyUsageTests {
    /// Charges one upstream call straight to the store, as a settled call is charged.
    private static func charge(
        _ backend: ChatBackend, _ user: String, _ iso: String, _ prompt: Int, _ completion: Int,
        estimated: Bool = false
    ) async throws {
        let day = try #require(UsageDay(iso: iso))
        let charge = UsageCharge(
            userID: try #require(UUID(uuidString: user)), day: day, promptTokens: prompt,
            completionTokens: completion, estimated: estimated)
        try await backend.database.settleCall(charge, hold: nil, apiKey: nil)
    }

    @Test("every day of the range in order, zeros where nothing was used, summed over users or for one user")
    func perDay() async throws {
        let clock = TestClock("2026-03-03T12:00:00Z")
        try await withApp(adminEmails: ["root@example.com"], clock: clock.usage) { client, backend in
            let (_, admin) = try await client.signUp("root@example.com")
            let (ann, _) = try await client.signUp("ann@example.com")
            let (bob, _) = try await client.signUp("bob@example.com")
            try await Self.charge(backend, ann, "2026-02-27", 10, 5)
            try await Self.charge(backend, ann, "2026-02-27", 1, 1)
            try await Self.charge(backend, ann, "2026-03-01", 1, 2, estimated: true)
            try await Self.charge(backend, bob, "2026-03-01", 100, 50)
            try await Self.charge(backend, bob, "2026-02-20", 7, 7)

            let all = try await client.send(.get, "/admin/usage/daily?from=2026-02-26&to=2026-03-02", token: admin)
            #expect(all.status == .ok, "\(all.text)")
            func day(_ date: String, _ numbers: (Int, Int, Int, Int) = (0, 0, 0, 0)) -> String {
                let (requests, prompt, completion, estimated) = numbers
                return #"{"date":"\#(date)","requests":\#(requests),"prompt_tokens":\#(prompt),"#
                    + #""completion_tokens":\#(completion),"total_tokens":\#(prompt + completion),"#
                    + #""estimated_requests":\#(estimated)}"#
            }
            #expect(
                all.text
                    == #"{"from":"2026-02-26","to":"2026-03-02","user_id":null,"days":["#
                    + [
                        day("2026-02-26"), day("2026-02-27", (2, 11, 6, 0)), day("2026-02-28"),
                        day("2026-03-01", (2, 101, 52, 1)), day("2026-03-02"),
                    ].joined(separator: ",")
                    + #"],"totals":{"requests":4,"prompt_tokens":112,"completion_tokens":58,"total_tokens":170,"#
                    + #""estimated_requests":1}}"#)

            let ones = try await client.send(
                .get, "/admin/usage/daily?from=2026-02-27&to=2026-03-01&user_id=\(ann)", token: admin)
            #expect(
                ones.text
                    == #"{"from":"2026-02-27","to":"2026-03-01","user_id":"\#(ann)","days":["#
                    + [day("2026-02-27", (2, 11, 6, 0)), day("2026-02-28"), day("2026-03-01", (1, 1, 2, 1))]
                    .joined(separator: ",")
                    + #"],"totals":{"requests":3,"prompt_tokens":12,"completion_tokens":8,"total_tokens":20,"#
                    + #""estimated_requests":1}}"#)

            // By default: the first of this month through today, as GET /admin/usage.
            let current = try await client.send(.get, "/admin/usage/daily", token: admin)
            let dates = (current.json["days"] as? [[String: Any]])?.compactMap { $0["date"] as? String }
            #expect(dates == ["2026-03-01", "2026-03-02", "2026-03-03"])
            #expect((current.json["totals"] as? [String: Int])?["total_tokens"] == 153)
        }
    }

    @Test("admins only; a bad range, a bad or unknown user_id: the same 4xx with a detail on every engine")
    func badInput() async throws {
        let clock = TestClock("2026-03-03T12:00:00Z")
        try await withApp(adminEmails: ["root@example.com"], clock: clock.usage) { client, _ in
            let (_, admin) = try await client.signUp("root@example.com")
            let (_, user) = try await client.signUp("user@example.com")
            #expect(try await client.send(.get, "/admin/usage/daily", token: user).status == .forbidden)
            #expect(try await client.send(.get, "/admin/usage/daily").status == .unauthorized)

            let longest = try await client.send(
                .get, "/admin/usage/daily?from=2025-03-03&to=2026-03-03", token: admin)
            #expect(longest.status == .ok, "366 days")
            #expect((longest.json["days"] as? [Any])?.count == 366)
            for (query, location) in [
                ("from=2025-03-02&to=2026-03-03", "query.from"), ("from=2026-03-04&to=2026-03-03", "query.from"),
                ("from=2026-02-30", "query.from"), ("to=today", "query.to"), ("user_id=ann", "query.user_id"),
            ] {
                let bad = try await client.send(.get, "/admin/usage/daily?\(query)", token: admin)
                #expect(bad.status == .unprocessableContent, "\(query): \(bad.text)")
                #expect(bad.validationLocations == [location], "\(query): \(bad.text)")
            }
            let missing = try await client.send(
                .get, "/admin/usage/daily?user_id=\(UUID().uuidString.lowercased())", token: admin)
            #expect(missing.status == .notFound)
            #expect(missing.detail == "User not found")
        }
    }
}
