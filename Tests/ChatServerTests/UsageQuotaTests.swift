import ChatProvider
import ChatServer
import ChatStorage
import ChatTurns
import Foundation
import HTTPTypes
import HummingbirdTesting
import MockGroq
import Synchronization
import Testing

/// A wall clock the test moves (across midnight, into a new month).
final class TestClock: Sendable {
    private let date: Mutex<Date>

    init(_ iso: String) {
        self.date = Mutex(Self.parse(iso))
    }

    func set(_ iso: String) {
        self.date.withLock { $0 = Self.parse(iso) }
    }

    var usage: UsageClock { UsageClock { self.date.withLock { $0 } } }

    private static func parse(_ iso: String) -> Date {
        ISO8601DateFormatter().date(from: iso) ?? Date(timeIntervalSince1970: 0)
    }
}

/// What the server estimates for text the upstream did not count (docs/architecture.md, "Usage, quotas and
/// metrics"): a context message is `bytes / 4 + 4`, a completion `(bytes + 3) / 4`.
private func contextEstimate(_ texts: String...) -> Int { texts.reduce(0) { $0 + $1.utf8.count / 4 + 4 } }
private func completionEstimate(_ text: String) -> Int { (text.utf8.count + 3) / 4 }
/// What the mock reports: each word's UTF-8 bytes / 4, rounded up (at least 1 in all), and the reply's words.
private func mockPrompt(_ texts: String...) -> Int { MockGroqServer.promptTokens(texts) }
/// What a turn in a titled chat reserves (docs/architecture.md, "Usage, quotas and metrics"): its context's
/// UTF-8 bytes, 8 tokens of framing a message and 64 a request, and MAX_COMPLETION_TOKENS.
private func reservationBound(_ texts: String..., maxCompletion: Int) -> Int {
    texts.reduce(64 + maxCompletion) { $0 + $1.utf8.count + 8 }
}

private let systemPrompt = "Be brief."

@Suite("Token usage, quotas and metrics")
struct UsageQuotaTests {
    @Test("every ending of a turn is accounted: reported usage when complete, marked estimates when cut off")
    func usageOfEachEnding() async throws {
        try await withTurnApp(
            behavior: MockGroqBehavior(reply: "one two three"),
            configure: { $0.systemPrompt = systemPrompt }
        ) { client, backend, mock in
            let (id, token) = try await client.signUp("usage@example.com")
            func usage() async throws -> [String: Any] {
                let response = try await client.send(.get, "/auth/me/usage", token: token)
                #expect(response.status == .ok, "\(response.text)")
                return response.json
            }
            func totals() async throws -> [String: Int] {
                (try await usage()["totals"] as? [String: Int]) ?? [:]
            }
            #expect(try await totals()["requests"] == 0)

            // Complete: the upstream's own figures.
            let complete = try await client.createChat(token: token, title: "t")
            let reply = try await client.send(
                .post, "/chat", token: token, json: #"{"chat_id": "\#(complete)", "message": "hello there"}"#)
            #expect(reply.status == .ok, "\(reply.text)")
            var expected = (requests: 1, prompt: mockPrompt(systemPrompt, "hello there"), completion: 3, estimated: 0)
            func check() async throws {
                let found = try await totals()
                #expect(found["requests"] == expected.requests)
                #expect(found["prompt_tokens"] == expected.prompt)
                #expect(found["completion_tokens"] == expected.completion)
                #expect(found["total_tokens"] == expected.prompt + expected.completion)
                #expect(found["estimated_requests"] == expected.estimated)
            }
            try await check()

            // Failed after one word ("one "): estimated, and marked so.
            mock.setBehavior(MockGroqBehavior(fault: .streamError, reply: "one two three"))
            let failed = try await client.createChat(token: token, title: "t")
            #expect(
                try await client.send(
                    .post, "/chat", token: token, json: #"{"chat_id": "\#(failed)", "message": "abc"}"#
                ).status == .badGateway)
            expected.requests += 1
            expected.prompt += contextEstimate(systemPrompt, "abc")
            expected.completion += completionEstimate("one ")
            expected.estimated += 1
            try await check()

            // Cut off: the connection drops after "one two ".
            mock.setBehavior(MockGroqBehavior(fault: .dropMidStream, reply: "one two three four"))
            let cut = try await client.createChat(token: token, title: "t")
            #expect(
                try await client.send(
                    .post, "/chat", token: token, json: #"{"chat_id": "\#(cut)", "message": "xyz"}"#
                ).status == .badGateway)
            expected.requests += 1
            expected.prompt += contextEstimate(systemPrompt, "xyz")
            expected.completion += completionEstimate("one two ")
            expected.estimated += 1
            try await check()

            // Cancelled by the user mid-stream: what was delivered until then.
            mock.setBehavior(MockGroqBehavior(chunkDelayMilliseconds: 100, reply: "one two three four five six"))
            let cancelled = try await client.createChat(token: token, title: "t")
            let streaming = try StreamingClient(port: try #require(client.port))
            var reader = try await streaming.sendMessage("qq", chatID: cancelled, token: token)
            _ = try await reader.next()
            _ = try await reader.next()
            let stopped = try await client.send(.post, "/chats/\(cancelled)/cancel", token: token)
            #expect(stopped.status == .ok, "\(stopped.text)")
            let partial = try #require(stopped.json["content"] as? String)
            #expect(!partial.isEmpty)
            while try await reader.next() != nil {}
            expected.requests += 1
            expected.prompt += contextEstimate(systemPrompt, "qq")
            expected.completion += completionEstimate(partial)
            expected.estimated += 1
            try await check()

            // One row for the day, the same in the store.
            let days = try #require(try await usage()["days"] as? [[String: Any]])
            #expect(days.count == 1)
            #expect(days.first?["date"] as? String == UsageDay(Date()).iso)
            let stored = try await backend.database.usage(
                userID: try #require(UUID(uuidString: id)), from: UsageDay(Date()), to: UsageDay(Date()))
            #expect(stored.first?.totals.requests == Int64(expected.requests))
            #expect(stored.first?.totals.estimatedRequests == Int64(expected.estimated))

            // A title is an upstream call too, charged to the chat's owner with the title itself.
            mock.setBehavior(MockGroqBehavior(reply: "one two three"))
            #expect(try await client.send(.post, "/chat", token: token, json: #"{"message": "name me"}"#).status == .ok)
            expected.requests += 2
            expected.prompt += mockPrompt(systemPrompt, "name me")
            expected.completion += 3 * 2
            let requests = expected.requests
            #expect(try await eventually(within: .seconds(5)) { try await totals()["requests"] == requests })
        }
    }

    @Test("over a quota: 429 naming it and its reset, with Retry-After; a new UTC day or month starts afresh")
    func quotaRefusalAndReset() async throws {
        let clock = TestClock("2026-11-28T23:59:00Z")
        try await withTurnApp(
            behavior: MockGroqBehavior(reply: "one two three"), adminEmails: ["boss@example.com"], clock: clock.usage,
            configure: {
                $0.systemPrompt = systemPrompt
                $0.dailyTokenQuota = 5
            }
        ) { client, _, _ in
            let (_, admin) = try await client.signUp("boss@example.com")
            let (id, token) = try await client.signUp("quota@example.com")
            let chat = try await client.createChat(token: token, title: "t")
            let send = #"{"chat_id": "\#(chat)", "message": "hello there"}"#
            let perTurn = mockPrompt(systemPrompt, "hello there") + 3

            // Nothing used yet: admitted, though the turn itself passes the quota.
            #expect(try await client.send(.post, "/chat", token: token, json: send).status == .ok)
            let refused = try await client.send(.post, "/chat", token: token, json: send)
            #expect(refused.status == .tooManyRequests)
            #expect(
                refused.detail
                    == "Daily token quota reached (5 tokens per day, UTC); it resets at 2026-11-29T00:00:00Z")
            #expect(refused.headers[.retryAfter] == "60")
            // A stream is refused with the status too, before any event.
            let streamed = try await client.send(
                .post, "/chat", token: token, json: send, headers: [.accept: "text/event-stream"])
            #expect(streamed.status == .tooManyRequests)

            let standing = try await client.send(.get, "/auth/me/usage", token: token).json
            let daily = try #require((standing["quotas"] as? [String: Any])?["daily"] as? [String: Any])
            #expect(daily["limit"] as? Int == 5)
            #expect(daily["used"] as? Int == perTurn)
            #expect(daily["remaining"] as? Int == 0)
            #expect(daily["resets_at"] as? String == "2026-11-29T00:00:00Z")
            let monthly = try #require((standing["quotas"] as? [String: Any])?["monthly"] as? [String: Any])
            #expect(monthly["limit"] is NSNull)
            #expect(monthly["remaining"] is NSNull)

            // Past midnight UTC: a new day.
            clock.set("2026-11-29T00:00:30Z")
            #expect(try await client.send(.post, "/chat", token: token, json: send).status == .ok)
            #expect(try await client.send(.post, "/chat", token: token, json: send).status == .tooManyRequests)

            // An admin lifts the user's daily quota and gives them a monthly one, which two turns have passed.
            let patched = try await client.send(
                .patch, "/admin/users/\(id)", token: admin,
                json: #"{"daily_token_quota": 0, "monthly_token_quota": \#(perTurn * 2)}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(patched.json["daily_token_quota"] as? Int == 0)
            #expect(patched.json["monthly_token_quota"] as? Int == perTurn * 2)
            #expect(patched.json["disabled"] as? Bool == false)
            let monthlyRefusal = try await client.send(.post, "/chat", token: token, json: send)
            #expect(monthlyRefusal.status == .tooManyRequests)
            #expect(
                monthlyRefusal.detail
                    == "Monthly token quota reached (\(perTurn * 2) tokens per month, UTC); it resets at 2026-12-01T00:00:00Z"
            )
            // A new month.
            clock.set("2026-12-01T08:00:00Z")
            #expect(try await client.send(.post, "/chat", token: token, json: send).status == .ok)

            // Back to the deployment's defaults (null); an unchanged field stays as it was.
            let reset = try await client.send(
                .patch, "/admin/users/\(id)", token: admin, json: #"{"daily_token_quota": null}"#)
            #expect(reset.json["daily_token_quota"] is NSNull)
            #expect(reset.json["monthly_token_quota"] as? Int == perTurn * 2)
            #expect(try await client.send(.post, "/chat", token: token, json: send).status == .tooManyRequests)

            // Admins are held to the default quota like anyone else.
            let adminChat = try await client.createChat(token: admin, title: "t")
            let adminSend = #"{"chat_id": "\#(adminChat)", "message": "hello there"}"#
            #expect(try await client.send(.post, "/chat", token: admin, json: adminSend).status == .ok)
            #expect(try await client.send(.post, "/chat", token: admin, json: adminSend).status == .tooManyRequests)
        }
    }

    @Test("20 concurrent turns of one user at a quota's edge pass it by at most one turn")
    func concurrentTurnsAtTheEdge() async throws {
        let quota = 60
        try await withTurnApp(
            behavior: MockGroqBehavior(latencyMilliseconds: 150, reply: "one two three"),
            configure: {
                $0.systemPrompt = systemPrompt
                $0.dailyTokenQuota = Int64(quota)
                $0.maxCompletionTokens = 16
            }
        ) { client, _, _ in
            let (_, token) = try await client.signUp("edge@example.com")
            let perTurn = mockPrompt(systemPrompt, "hello there") + 3
            // The test client sends one request at a time; libcurl opens a connection per transfer in flight.
            let http = try StreamingClient(port: try #require(client.port))
            var admitted = 0
            var rounds = 0
            while rounds < 20 {
                rounds += 1
                // Fresh chats, so that every turn's context, and so its usage, is the same.
                var chats: [String] = []
                for _ in 0..<20 { chats.append(try await client.createChat(token: token, title: "t")) }
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for chat in chats {
                        group.addTask {
                            let response = try await http.send(
                                .post, "/chat", token: token,
                                json: #"{"chat_id": "\#(chat)", "message": "hello there"}"#)
                            return HTTPResponse.Status(code: response.status)
                        }
                    }
                    return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
                }
                #expect(statuses.allSatisfy { $0 == .ok || $0 == .tooManyRequests }, "\(statuses)")
                let round = statuses.count { $0 == .ok }
                admitted += round
                if round == 0 { break }
            }
            let used = try #require(
                ((try await client.send(.get, "/auth/me/usage", token: token).json["totals"]) as? [String: Int])?[
                    "total_tokens"])
            #expect(used == admitted * perTurn)
            #expect(used >= quota, "the quota was reached: \(used) tokens in \(admitted) turns")
            #expect(used < quota + perTurn, "passed by at most one turn: \(used) tokens, quota \(quota)")
            // Every reservation was given back as its reply ended.
            let quotas = try await client.send(.get, "/auth/me/usage", token: token).json["quotas"]
            #expect(((quotas as? [String: Any])?["daily"] as? [String: Any])?["reserved"] as? Int == 0)
        }
    }

    /// Sends rounds of `count` concurrent first turns of `message` (each a new, untitled chat) until a round
    /// admits none; the turns admitted. The test client sends one request at a time: libcurl opens a
    /// connection per transfer in flight.
    static func bursts(of count: Int, _ message: String, port: Int, token: String) async throws -> Int {
        let http = try StreamingClient(port: port)
        let body = #"{"message": "\#(message)"}"#
        var admitted = 0
        for _ in 0..<20 {
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<count {
                    group.addTask {
                        try await http.send(.post, "/chat", token: token, json: body, timeout: .seconds(60)).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 }, "\(statuses)")
            let round = statuses.count { $0 == 200 }
            admitted += round
            if round == 0 { break }
        }
        return admitted
    }

    /// The user's tokens charged in all, once the mock has answered `calls` calls (a reply and a title a turn)
    /// and the server has charged each.
    static func charged(after calls: Int, mock: MockGroqServer, client: some TestClientProtocol, token: String)
        async throws -> (used: Int, requests: Int, reserved: Int?)
    {
        var found = (used: 0, requests: 0, reserved: Int?.none)
        _ = try await eventually(within: .seconds(5)) {
            let usage = try await client.send(.get, "/auth/me/usage", token: token).json
            let totals = usage["totals"] as? [String: Int] ?? [:]
            let daily = (usage["quotas"] as? [String: Any])?["daily"] as? [String: Any]
            found = (totals["total_tokens"] ?? 0, totals["requests"] ?? 0, daily?["reserved"] as? Int)
            return mock.stats.completed >= calls && found.requests >= calls && found.reserved == 0
        }
        return found
    }

    @Test(
        "20 concurrent turns of 32,000 characters of 'a a a', 2 bytes a token: they pass DAILY_TOKEN_QUOTA=20000 by at most one turn",
        .timeLimit(.minutes(2)))
    func burstOfShortWords() async throws {
        let quota = 20_000
        try await withTurnApp(
            behavior: MockGroqBehavior(latencyMilliseconds: 300),
            configure: {
                $0.systemPrompt = systemPrompt
                $0.dailyTokenQuota = Int64(quota)
            }
        ) { client, _, mock in
            let (_, token) = try await client.signUp("burst@example.com")
            let message = Array(repeating: "a", count: 16_000).joined(separator: " ")
            let admitted = try await Self.bursts(of: 20, message, port: try #require(client.port), token: token)
            // Each turn, the same: its reply and its chat's title, both charged.
            let (used, requests, reserved) = try await Self.charged(
                after: 2 * admitted, mock: mock, client: client, token: token)
            #expect(admitted >= 1 && requests == 2 * admitted, "\(admitted) turns, \(requests) calls")
            #expect(reserved == 0)
            let perTurn = used / max(1, admitted)
            // The text costs the mock what it costs a tokenizer: a token for every 2 bytes.
            #expect(perTurn > 16_000, "\(perTurn) tokens a turn")
            #expect(used >= quota, "the quota was reached: \(used) tokens in \(admitted) turns")
            #expect(used < quota + perTurn, "passed by at most one turn: \(used) tokens in \(admitted) turns")
        }
    }

    @Test(
        "50 concurrent first turns in untitled chats: their titles are reserved too, and the quota is passed by at most one turn",
        .timeLimit(.minutes(2)))
    func burstOfUntitledChats() async throws {
        let quota = 500
        // Titles cost far more than the replies here: the reply stops at MAX_COMPLETION_TOKENS, a title at 256.
        let reply = Array(repeating: "w", count: 200).joined(separator: " ")
        try await withTurnApp(
            behavior: MockGroqBehavior(latencyMilliseconds: 300, reply: reply),
            configure: {
                $0.systemPrompt = systemPrompt
                $0.dailyTokenQuota = Int64(quota)
                $0.maxCompletionTokens = 16
            }
        ) { client, _, mock in
            let (_, token) = try await client.signUp("titles@example.com")
            let admitted = try await Self.bursts(of: 50, "hi", port: try #require(client.port), token: token)
            let (used, requests, reserved) = try await Self.charged(
                after: 2 * admitted, mock: mock, client: client, token: token)
            #expect(admitted >= 1 && requests == 2 * admitted, "\(admitted) turns, \(requests) calls")
            #expect(reserved == 0)
            let title = mockPrompt(
                "Write a title of 3 to 6 words for a conversation that starts with the user's message. Reply with the title only.",
                "hi")
            let perTurn = mockPrompt(systemPrompt, "hi") + 16 + title + 200
            #expect(used == admitted * perTurn)
            #expect(used >= quota, "the quota was reached: \(used) tokens in \(admitted) turns")
            #expect(used < quota + perTurn, "passed by at most one turn: \(used) tokens in \(admitted) turns")
        }
    }

    @Test("a running reply holds its reservation until it ends, or until its chat is deleted")
    func reservationLifetime() async throws {
        try await withTurnApp(
            behavior: MockGroqBehavior(chunkDelayMilliseconds: 100, reply: "one two three four five six seven"),
            configure: {
                $0.systemPrompt = systemPrompt
                $0.monthlyTokenQuota = 1_000_000
                $0.maxCompletionTokens = 100
            }
        ) { client, _, _ in
            let (_, token) = try await client.signUp("holder@example.com")
            func reserved() async throws -> Int? {
                let quotas = try await client.send(.get, "/auth/me/usage", token: token).json["quotas"]
                return ((quotas as? [String: Any])?["monthly"] as? [String: Any])?["reserved"] as? Int
            }
            let held = reservationBound(systemPrompt, "hold", maxCompletion: 100)
            let streaming = try StreamingClient(port: try #require(client.port))
            for ending in ["end", "delete"] {
                let chat = try await client.createChat(token: token, title: "t")
                var reader = try await streaming.sendMessage("hold", chatID: chat, token: token)
                _ = try await reader.next()
                #expect(try await reserved() == held, "\(ending)")
                if ending == "delete" {
                    #expect(try await client.send(.delete, "/chats/\(chat)", token: token).status == .noContent)
                }
                while try await reader.next() != nil {}
                #expect(try await eventually(within: .seconds(5)) { try await reserved() == 0 }, "\(ending)")
            }
        }
    }

    @Test("GET /admin/usage: users heaviest first, the deployment's totals, pages; bad input is 422")
    func adminUsage() async throws {
        try await withTurnApp(
            behavior: MockGroqBehavior(reply: "one two three"), adminEmails: ["root@example.com"],
            configure: { $0.systemPrompt = systemPrompt }
        ) { client, _, _ in
            let (_, admin) = try await client.signUp("root@example.com")
            let (heavyID, heavy) = try await client.signUp("heavy@example.com")
            let (lightID, light) = try await client.signUp("light@example.com")
            for (token, message) in [(heavy, "a long question, surely"), (heavy, "another"), (light, "hi")] {
                let chat = try await client.createChat(token: token, title: "t")
                #expect(
                    try await client.send(
                        .post, "/chat", token: token, json: #"{"chat_id": "\#(chat)", "message": "\#(message)"}"#
                    ).status == .ok)
            }
            let heavyTokens =
                mockPrompt(systemPrompt, "a long question, surely") + mockPrompt(systemPrompt, "another") + 6
            let lightTokens = mockPrompt(systemPrompt, "hi") + 3

            let all = try await client.send(.get, "/admin/usage", token: admin)
            #expect(all.status == .ok, "\(all.text)")
            let users = try #require(all.json["users"] as? [[String: Any]])
            #expect(users.map { $0["user_id"] as? String } == [heavyID, lightID])
            #expect(users.map { $0["email"] as? String } == ["heavy@example.com", "light@example.com"])
            #expect(users.map { $0["total_tokens"] as? Int } == [heavyTokens, lightTokens])
            #expect(users.map { $0["requests"] as? Int } == [2, 1])
            #expect(all.json["total_users"] as? Int == 2)
            let totals = try #require(all.json["totals"] as? [String: Int])
            #expect(totals["total_tokens"] == heavyTokens + lightTokens)
            #expect(totals["requests"] == 3)

            let page = try await client.send(
                .get, "/admin/usage?sort=requests&limit=1&offset=1", token: admin)
            #expect((page.json["users"] as? [[String: Any]])?.map { $0["user_id"] as? String } == [lightID])
            #expect(page.json["total_users"] as? Int == 2)
            let today = UsageDay(Date())
            let empty = try await client.send(
                .get, "/admin/usage?from=\(today.adding(days: -40).iso)&to=\(today.adding(days: -10).iso)",
                token: admin)
            #expect((empty.json["users"] as? [Any])?.isEmpty == true)
            #expect((empty.json["totals"] as? [String: Int])?["requests"] == 0)

            // A user sees their own usage only; the admin route is for admins.
            let own = try await client.send(.get, "/auth/me/usage", token: light)
            #expect((own.json["totals"] as? [String: Int])?["total_tokens"] == lightTokens)
            #expect(try await client.send(.get, "/admin/usage", token: light).status == .forbidden)

            for query in [
                "from=2026-02-30", "to=yesterday", "from=2026-11-20&to=2026-11-10", "from=2025-01-01&to=2026-11-10",
                "sort=cost", "limit=0",
            ] {
                let bad = try await client.send(.get, "/admin/usage?\(query)", token: admin)
                #expect(bad.status == .unprocessableContent, "\(query): \(bad.text)")
                let mine = try await client.send(.get, "/auth/me/usage?\(query)", token: light)
                #expect(
                    mine.status == (query.hasPrefix("sort") || query.hasPrefix("limit") ? .ok : .unprocessableContent),
                    "\(query): \(mine.text)")
            }
            for body in [#"{}"#, #"{"daily_token_quota": -1}"#, #"{"monthly_token_quota": "lots"}"#] {
                let bad = try await client.send(.patch, "/admin/users/\(lightID)", token: admin, json: body)
                #expect(bad.status == .unprocessableContent, "\(body): \(bad.text)")
            }
            #expect(
                try await client.send(
                    .patch, "/admin/users/\(UUID().uuidString.lowercased())", token: admin,
                    json: #"{"daily_token_quota": 5}"#
                ).status == .notFound)
        }
    }

    @Test("GET /metrics: 404 unless METRICS_TOKEN is set, then 401 without it; promtool accepts the exposition")
    func metrics() async throws {
        try await withApp { client, _ in
            let response = try await client.send(.get, "/metrics")
            #expect(response.status == .notFound)
        }
        let token = "metrics-token-0123456789"
        try await withTurnApp(
            behavior: MockGroqBehavior(reply: "one two three"),
            configure: {
                $0.systemPrompt = systemPrompt
                $0.metricsToken = token
            }
        ) { client, _, _ in
            let (userID, user) = try await client.signUp("scraped@example.com")
            let chat = try await client.createChat(token: user, title: "t")
            #expect(
                try await client.send(
                    .post, "/chat", token: user, json: #"{"chat_id": "\#(chat)", "message": "hello there"}"#
                ).status == .ok)
            #expect(try await client.send(.get, "/chats/\(chat)/messages", token: user).status == .ok)

            #expect(try await client.send(.get, "/metrics").status == .unauthorized)
            #expect(try await client.send(.get, "/metrics", token: "metrics-token-012345678X").status == .unauthorized)
            let scraped = try await client.send(.get, "/metrics", token: token)
            #expect(scraped.status == .ok)
            #expect(scraped.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = scraped.text

            let check = try promtoolCheck(text)
            #expect(check.status == 0, "promtool check metrics: \(check.output)")

            func value(_ series: String) -> Double? {
                text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
                    .flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            #expect(value(#"chat_turns_total{outcome="complete"}"#) == 1)
            #expect(value(#"chat_turns_total{outcome="failed"}"#) == 0)
            #expect(value(#"chat_tokens_total{kind="prompt"}"#) == Double(mockPrompt(systemPrompt, "hello there")))
            #expect(value(#"chat_tokens_total{kind="completion"}"#) == 3)
            #expect(value(#"chat_http_requests_total{route="/chat",method="POST",status="200"}"#) == 1)
            #expect(
                value(#"chat_http_requests_total{route="/chats/{chat_id}/messages",method="GET",status="200"}"#) == 1)
            #expect(value(#"chat_http_requests_total{route="/metrics",method="GET",status="401"}"#) == 2)
            #expect(value("chat_upstream_time_to_first_token_seconds_count") == 1)
            // Timers have their buckets (not only +Inf): the one turn is counted in every bucket from 60 s down
            // to the first one above its duration, and the request duration has the same bucket bounds.
            #expect(value(#"chat_upstream_time_to_first_token_seconds_bucket{le="60.0"}"#) == 1)
            #expect(value(#"chat_http_request_duration_seconds_bucket{route="/chat",method="POST",le="60.0"}"#) == 1)
            #expect(value(#"chat_database_commit_duration_seconds_bucket{le="0.001"}"#) != nil)
            #expect(value("chat_upstream_duration_seconds_count") == 1)
            #expect((value("chat_database_commit_duration_seconds_count") ?? 0) >= 3)
            // SQLite's writes share group commits (the sign-up, the chat and the turn's writes make at least
            // three, none of more than 512 writes); PostgreSQL commits each write on its own: none there.
            let groupCommits = value("chat_database_group_commit_size_count")
            let upTo512 = value(#"chat_database_group_commit_size_bucket{le="512.0"}"#)
            if TestDatabase.isPostgres {
                #expect(groupCommits == 0)
                #expect(upTo512 == 0)
            } else {
                #expect((groupCommits ?? 0) >= 3)
                #expect(upTo512 == groupCommits)
            }
            #expect(value("chat_provider_queue_wait_seconds_count") == 1)
            #expect(value("chat_provider_in_flight") == 0)
            #expect((value("chat_http_connections_open") ?? 0) >= 1)
            #expect((value("process_resident_memory_bytes") ?? 0) > 1_000_000)
            for name in ["chat_sse_streams_open", "chat_long_polls_parked", "chat_provider_queue_length"] {
                #expect(value(name) == 0, "\(name)")
            }
            // No user data in any label.
            #expect(!text.contains("scraped@example.com"))
            #expect(!text.contains(userID))
            #expect(!text.contains(chat))
        }
    }
}

/// Runs Prometheus's own `promtool check metrics` on an exposition. Fails the test, never skips, when promtool
/// is missing (`make deps` installs Debian's `prometheus` package).
func promtoolCheck(_ exposition: String) throws -> (status: Int32, output: String) {
    let candidates = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
    guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        Issue.record("promtool is not installed: run `make deps` (Debian's prometheus package)")
        return (-1, "")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = ["check", "metrics"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = output
    try process.run()
    input.fileHandleForWriting.write(Data(exposition.utf8))
    try input.fileHandleForWriting.close()
    process.waitUntilExit()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (process.terminationStatus, text)
}
