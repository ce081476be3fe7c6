import AsyncHTTPClient
import ChatStorage
import Foundation
import Histogram
import NIOCore
import NIOHTTP1

/// The workloads chat-bench knows.
enum Scenario: String, CaseIterable, Sendable {
    case health, list
    case list10k = "list-10k"
    case create, messages, send, stream, longpoll, login, mixed, search, gateway, startup
}

/// Shared parameters of a run.
struct RunSettings: Sendable {
    let concurrency: Int
    let warmup: Duration
    let duration: Duration
    /// `--rate`: requests started per second in all (open loop), or nil for closed-loop clients.
    var rate: Double? = nil
}

/// Data the scenarios need, made once per run.
struct Fixtures: Sendable {
    let smallToken: String
    let largeToken: String
    let messagesChat: String
    let senderToken: String
    /// The search scenario's user and corpus; nil unless that scenario runs.
    let search: SearchCorpus?

    static func make(_ target: BenchTarget, search: Bool, log: @escaping @Sendable (String) -> Void) async throws
        -> Fixtures
    {
        let run = UUID().uuidString.prefix(8).lowercased()
        log("seeding: a user with 20 chats, one with 10,000, a chat of 100 messages")
        let small = try await target.user("bench-small-\(run)@example.com")
        _ = try await target.createChats(20, token: small)
        let large = try await target.user("bench-large-\(run)@example.com")
        _ = try await target.createChats(10_000, token: large)
        let messagesChat = try await target.createChats(1, token: small)[0]
        try await target.seedMessages(chatID: messagesChat, count: 100, token: small)
        let sender = try await target.user("bench-sender-\(run)@example.com")
        let corpus = search ? try await SearchCorpus.seed(target, run: String(run), log: log) : nil
        return Fixtures(
            smallToken: small, largeToken: large, messagesChat: messagesChat, senderToken: sender, search: corpus)
    }
}

extension BenchTarget {
    /// One status per request, nil for a transport failure.
    func status(
        _ method: HTTPMethod, _ path: String, token: String? = nil, json: String? = nil, replica: Int? = nil,
        absolute: Bool = false
    ) async -> Int? {
        await self.send(method, path, token: token, json: json, replica: replica, absolute: absolute).status
    }

    /// POST /chat as Server-Sent Events, read to the end; 200 only if a `done` event arrived.
    func streamTurn(chatID: String, token: String) async -> Int? {
        let (status, body) = await self.send(
            .POST,
            "/chat",
            token: token,
            json: #"{"chat_id": "\#(chatID)", "message": "stream a reply", "stream": true}"#
        )
        guard status == 200 else { return status }
        return String(buffer: body).contains("event: done") ? 200 : 502
    }
}
