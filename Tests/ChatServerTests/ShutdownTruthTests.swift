import ChatProvider
import ChatStorage
import ChatStorageSQLite
import Foundation
import HTTPTypes
import HummingbirdTesting
import MockGroq
import Testing

@testable import ChatServer
@testable import ChatTurns

/// Shutdown and health tell clients and operators what is really happening.
@Suite("Shutdown and health truths", .serialized)
struct ShutdownTruthTests {
    @Test("a turn refused because the provider stopped is 503 'restarting' with Retry-After, not an upstream failure")
    func refusedAtShutdown() async throws {
        try await withTurnApp { client, backend, _ in
            let (_, token) = try await client.signUp("late@example.com")
            await backend.provider?.shutDown()
            let response = try await client.send(.post, "/chat", token: token, json: #"{"message": "hello"}"#)
            #expect(response.status == .serviceUnavailable)
            #expect(response.detail?.contains("restarting") == true)
            #expect(response.headers[.retryAfter] != nil)
        }
    }

    @Test("a user's cancel during the shutdown grace period is saved as cancelled, not interrupted")
    func cancelDuringGrace() async throws {
        let reply = Array(repeating: "word", count: 60).joined(separator: " ")
        try await withTurnApp(behavior: MockGroqBehavior(chunkDelayMilliseconds: 100, reply: reply)) {
            client, backend, mock in
            let (_, token) = try await client.signUp("grace@example.com")
            let chatID = try await client.createChat(token: token)
            let turn = try await RawConnection.open(
                port: try #require(client.port), "POST", "/chat", token: token,
                json: #"{"chat_id": "\#(chatID)", "message": "go"}"#)
            let sessions = try #require(backend.sessions)
            let chat = try #require(UUID(uuidString: chatID))
            #expect(await eventually(within: .seconds(3)) { sessions.existingSession(for: chat) != nil })
            // The reply is being streamed from the upstream.
            #expect(await eventually(within: .seconds(3)) { mock.stats.inFlight == 1 })
            let shutdown = sessions.beginShutdown(grace: .seconds(10))
            let cancelled = try await client.send(.post, "/chats/\(chatID)/cancel", token: token)
            #expect(cancelled.status == .ok)
            #expect(try JSONBody(cancelled).string("status") == "cancelled")
            #expect(try JSONBody(cancelled).string("error") == "cancelled by the user")
            #expect(await turn.status(within: .seconds(5)) == 409)
            await shutdown.value
        }
    }

    @Test("the shutdown drain waits for a chat's background title")
    func titleIsDrained() async throws {
        try await withTurnApp(behavior: MockGroqBehavior(latencyMilliseconds: 400)) { client, backend, _ in
            let (_, token) = try await client.signUp("title@example.com")
            let answer = try await client.send(.post, "/chat", token: token, json: #"{"message": "plan a trip"}"#)
            #expect(answer.status == .ok)
            let chatID = try #require(try JSONBody(answer).string("chat_id"))
            // The reply is in; its title is being written (400 ms upstream). The drain must wait for it.
            await backend.sessions?.beginShutdown(grace: .seconds(5)).value
            let chat = try await backend.database.chat(id: try #require(UUID(uuidString: chatID)), ownerID: nil)
            #expect(chat?.title != nil)
        }
    }

    @Test(
        "/health is 503 'degraded' while another process holds the database's write lock",
        .enabled(if: !TestDatabase.isPostgres, "SQLite's write lock"))
    func healthDegraded() async throws {
        try await withApp { client, backend in
            #expect(try await client.send(.get, "/health").status == .ok)
            let other = try SQLiteConnection(path: backend.config.databasePath, busyTimeoutMilliseconds: 100)
            try other.execute("BEGIN IMMEDIATE")
            // The write check is repeated at most once a second: the lock shows at the next one.
            var degraded = try await client.send(.get, "/health")
            #expect(
                try await eventually(within: .seconds(5)) {
                    degraded = try await client.send(.get, "/health")
                    return degraded.status == .serviceUnavailable
                })
            #expect(degraded.detail?.contains("Degraded") == true)
            try other.execute("ROLLBACK")
            #expect(
                try await eventually(within: .seconds(5)) { try await client.send(.get, "/health").status == .ok })
        }
    }
}
