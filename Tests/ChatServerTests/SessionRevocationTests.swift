import Foundation
import HTTPTypes
import HummingbirdTesting
import MockGroq
import Testing

@testable import ChatServer
@testable import ChatTurns

/// A session that ends (logout, disabled, deleted, role changed) ends what it had open, and long-polls are
/// capped per user.
@Suite("Revocation and long-poll limits")
struct SessionRevocationTests {
    @Test("LONG_POLLS_PER_USER: parked long-polls over the cap get 429; other users are not affected")
    func longPollCap() async throws {
        try await withTurnApp(configure: { $0.longPollsPerUser = 2 }) { client, backend, _ in
            let (userID, token) = try await client.signUp("busy@example.com")
            let (_, other) = try await client.signUp("calm@example.com")
            let chat = try await client.createChat(token: token)
            let otherChat = try await client.createChat(token: other)
            let path = "/chats/\(chat)/messages?after=0&wait=3"
            let port = try #require(client.port)
            let first = try await RawConnection.open(port: port, "GET", path, token: token)
            let second = try await RawConnection.open(port: port, "GET", path, token: token)
            let id = try #require(UUID(uuidString: userID))
            #expect(await eventually(within: .seconds(2)) { backend.userWaits.count(id) == 2 })
            let third = try await client.send(.get, path, token: token)
            #expect(third.status == .tooManyRequests)
            #expect(third.detail?.contains("at most 2") == true)
            #expect(third.headers[.retryAfter] != nil)
            let unaffected = try await client.send(
                .get, "/chats/\(otherChat)/messages?after=0&wait=1", token: other)
            #expect(unaffected.status == .ok)
            #expect(await first.status(within: .seconds(5)) == 200)
            #expect(await second.status(within: .seconds(5)) == 200)
            #expect(backend.userWaits.count(id) == 0)
        }
    }

    @Test("a parked long-poll whose client closes its connection is released at once, not at the end of its wait")
    func abortedLongPollReleased() async throws {
        try await withTurnApp(configure: { $0.longPollsPerUser = 0 }) { client, backend, _ in
            let (userID, token) = try await client.signUp("gone@example.com")
            let chat = try await client.createChat(token: token)
            let id = try #require(UUID(uuidString: userID))
            let poll = try await RawConnection.open(
                port: try #require(client.port), "GET", "/chats/\(chat)/messages?after=0&wait=30", token: token)
            #expect(await eventually(within: .seconds(2)) { backend.userWaits.count(id) == 1 })
            await poll.close()
            #expect(await eventually(within: .seconds(1)) { backend.userWaits.count(id) == 0 })
            #expect(await eventually(within: .seconds(1)) { backend.sessions?.liveSessionCount == 0 })
        }
    }

    @Test("logout ends the user's parked long-poll with 401 at once")
    func logoutEndsLongPoll() async throws {
        try await withTurnApp { client, backend, _ in
            let (_, token) = try await client.signUp("leaver@example.com")
            let chat = try await client.createChat(token: token)
            let clock = ContinuousClock()
            let started = clock.now
            let poll = try await RawConnection.open(
                port: try #require(client.port), "GET", "/chats/\(chat)/messages?after=0&wait=30", token: token)
            #expect(await eventually(within: .seconds(5)) { backend.userWaits.totals().longPolls == 1 })
            #expect(try await client.send(.post, "/auth/logout", token: token).status == .ok)
            #expect(await poll.status(within: .seconds(5)) == 401)
            #expect(clock.now - started < .seconds(5))
        }
    }

    @Test("disabling a user ends their open stream with error 401 and stops their running reply")
    func disableEndsStreamAndTurn() async throws {
        let reply = Array(repeating: "word", count: 60).joined(separator: " ")
        try await withTurnApp(
            behavior: MockGroqBehavior(chunkDelayMilliseconds: 100, reply: reply),
            configure: { $0.adminEmails = ["root@example.com"] }
        ) { client, _, _ in
            let (_, admin) = try await client.signUp("root@example.com")
            let (userID, token) = try await client.signUp("streamer@example.com")
            let port = try #require(client.port)
            let streaming = try StreamingClient(port: port)
            var reader = try await streaming.sendMessage("tell me", token: token)
            var events: [SSEEvent] = []
            while let event = try await reader.next() {
                events.append(event)
                if event.event == "delta" { break }
            }
            let chatID = try #require(events.first?.json["chat_id"] as? String)
            let disabled = try await client.send(
                .patch, "/admin/users/\(userID)", token: admin, json: #"{"disabled": true}"#)
            #expect(disabled.status == .ok)
            var last: SSEEvent?
            while let event = try await reader.next() { last = event }
            #expect(last?.event == "error")
            #expect(last?.json["status"] as? Int == 401)
            // The reply stopped and was saved as cancelled, well before its 6 s would have run out.
            let messages = try JSONBody(
                try await client.send(.get, "/admin/chats/\(chatID)/messages", token: admin)
            ).array
            let saved = try #require(messages.last as? [String: Any])
            #expect(saved["status"] as? String == "cancelled", "\(saved)")
            #expect((saved["content"] as? String ?? "").count < reply.count)
        }
    }

    @Test("a role change ends the user's long-poll and stream with 409 saying so; the token still works")
    func roleChangeEndsWaitsTruthfully() async throws {
        let reply = Array(repeating: "word", count: 60).joined(separator: " ")
        try await withTurnApp(
            behavior: MockGroqBehavior(chunkDelayMilliseconds: 100, reply: reply),
            configure: { $0.adminEmails = ["root@example.com"] }
        ) { client, backend, _ in
            let (_, admin) = try await client.signUp("root@example.com")
            let (userID, token) = try await client.signUp("promoted@example.com")
            let port = try #require(client.port)
            let idle = try await client.createChat(token: token)
            let poll = try await RawConnection.open(
                port: port, "GET", "/chats/\(idle)/messages?after=0&wait=30", token: token)
            let streaming = try StreamingClient(port: port)
            var reader = try await streaming.sendMessage("tell me", token: token)
            while let event = try await reader.next(), event.event != "delta" {}
            #expect(await eventually(within: .seconds(5)) { backend.userWaits.totals() == (1, 1) })

            let promoted = try await client.send(
                .patch, "/admin/users/\(userID)/role", token: admin, json: #"{"role": "admin"}"#)
            #expect(promoted.status == .ok)
            var last: SSEEvent?
            while let event = try await reader.next() { last = event }
            #expect(last?.event == "error")
            #expect(last?.json["status"] as? Int == 409)
            #expect((last?.json["detail"] as? String)?.hasPrefix("Your role changed") == true)
            #expect(await poll.status(within: .seconds(5)) == 409)
            #expect(poll.text.contains("Your role changed while this request waited"))
            // What they said is true: the session goes on, now as an admin.
            #expect(try await client.send(.get, "/auth/me", token: token).status == .ok)
            #expect(try await client.send(.get, "/admin/users", token: token).status == .ok)
        }
    }
}
