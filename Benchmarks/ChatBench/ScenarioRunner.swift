import Foundation
import NIOHTTP1

/// Runs one scenario against a target.
struct ScenarioRunner: Sendable {
    let target: BenchTarget
    let fixtures: Fixtures
    let settings: RunSettings
    let senders: Int
    /// Messages in each send and stream client's chat before its first turn.
    let history: Int
    let sampler: RSSSampler
    /// The processes whose CPU a scenario reports besides this one.
    let cpuSources: CPUSources

    /// One chat per client: empty, or with ``history`` messages.
    func clientChats(_ count: Int) async throws -> [String] {
        guard self.history > 0 else {
            return try await self.target.createChats(count, token: self.fixtures.senderToken)
        }
        return try await self.target.importChats(count, messages: self.history, token: self.fixtures.senderToken)
    }

    func load(
        _ name: String,
        _ concurrency: Int,
        _ note: String?,
        operation: @escaping @Sendable (Int, Int) async -> Int?
    ) async -> ScenarioResult {
        await runLoad(
            name: name,
            concurrency: concurrency,
            warmup: self.settings.warmup,
            duration: self.settings.duration,
            pace: self.settings.rate.map(Pace.init(rate:)),
            sampler: self.sampler,
            cpuSources: self.cpuSources,
            note: note,
            operation: operation
        )
    }

    func run(_ scenario: Scenario) async throws -> [ScenarioResult] {
        let target = self.target
        let fixtures = self.fixtures
        let concurrency = self.settings.concurrency
        switch scenario {
        case .startup:
            return []
        case .health:
            return [await self.load("health", concurrency, nil) { _, _ in await target.status(.GET, "/health") }]
        case .list:
            return [
                await self.load("list", concurrency, "GET /chats?limit=20, user with 20 chats") { _, _ in
                    await target.status(.GET, "/chats?limit=20", token: fixtures.smallToken)
                }
            ]
        case .list10k:
            return [
                await self.load("list-10k", concurrency, "GET /chats?limit=20, user with 10,000 chats") { _, _ in
                    await target.status(.GET, "/chats?limit=20", token: fixtures.largeToken)
                }
            ]
        case .create:
            return [
                await self.load("create", concurrency, nil) { _, _ in
                    await target.status(.POST, "/chats", token: fixtures.senderToken, json: #"{"title": "created"}"#)
                }
            ]
        case .messages:
            return [
                await self.load("messages", concurrency, "GET /chats/{id}/messages, 100 messages") { _, _ in
                    await target.status(.GET, "/chats/\(fixtures.messagesChat)/messages", token: fixtures.smallToken)
                }
            ]
        case .send: return [try await self.send()]
        case .stream: return [try await self.stream()]
        case .search:
            guard let corpus = fixtures.search else { return [] }
            return try await SearchScenario(runner: self, corpus: corpus).run()
        case .longpoll:
            return [
                try await LongPollScenario(
                    target: target, fixtures: fixtures, settings: self.settings, senders: self.senders,
                    sampler: self.sampler
                ).run()
            ]
        case .login: return try await self.login()
        case .mixed: return [try await self.mixed()]
        case .gateway: return try await GatewayScenario(runner: self).run()
        }
    }

    /// POST /chat, each client in a chat of its own.
    private func send() async throws -> ScenarioResult {
        let (target, fixtures) = (self.target, self.fixtures)
        let chats = try await self.clientChats(self.settings.concurrency)
        let note =
            self.history > 0
            ? "POST /chat, one chat of \(self.history) messages per client" : "POST /chat, one chat per client"
        return await self.load("send", self.settings.concurrency, note) { worker, iteration in
            await target.status(
                .POST,
                "/chat",
                token: fixtures.senderToken,
                json: #"{"chat_id": "\#(chats[worker])", "message": "turn \#(iteration)"}"#
            )
        }
    }

    /// POST /chat as Server-Sent Events read to the end, each client in a chat of its own.
    private func stream() async throws -> ScenarioResult {
        let (target, fixtures) = (self.target, self.fixtures)
        let chats = try await self.clientChats(self.settings.concurrency)
        return await self.load("stream", self.settings.concurrency, "POST /chat as SSE, read to done") { worker, _ in
            await target.streamTurn(chatID: chats[worker], token: fixtures.senderToken)
        }
    }

    /// Logins of one user (scrypt on the hashing threads) and, at the same time, listings by another.
    private func login() async throws -> [ScenarioResult] {
        let (target, fixtures) = (self.target, self.fixtures)
        let email = "bench-login-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        _ = try await target.user(email)
        async let logins = self.load("login", min(self.settings.concurrency, 32), "POST /auth/login (scrypt)") {
            _, _ in
            await target.status(
                .POST, "/auth/login", json: #"{"email": "\#(email)", "password": "benchmark password"}"#)
        }
        async let lists = self.load("list-during-login", 16, "GET /chats?limit=20 while logins run") { _, _ in
            await target.status(.GET, "/chats?limit=20", token: fixtures.smallToken)
        }
        return await [logins, lists]
    }

    /// 80 % listings, 15 % message reads and 5 % sends, each client sending into a chat of its own.
    private func mixed() async throws -> ScenarioResult {
        let (target, fixtures) = (self.target, self.fixtures)
        let chats = try await target.createChats(self.settings.concurrency, token: fixtures.senderToken)
        return await self.load("mixed", self.settings.concurrency, "80% list, 15% messages, 5% send") {
            worker, iteration in
            switch (worker &* 31 &+ iteration &* 17) % 20 {
            case 0:
                await target.status(
                    .POST,
                    "/chat",
                    token: fixtures.senderToken,
                    json: #"{"chat_id": "\#(chats[worker])", "message": "mixed \#(iteration)"}"#
                )
            case 1, 2, 3:
                await target.status(.GET, "/chats/\(fixtures.messagesChat)/messages", token: fixtures.smallToken)
            default:
                await target.status(.GET, "/chats?limit=20", token: fixtures.smallToken)
            }
        }
    }
}
