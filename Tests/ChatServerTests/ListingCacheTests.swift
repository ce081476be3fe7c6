import ChatStorage
import ChatStorageSQLite
import Foundation
import HTTPTypes
import HummingbirdTesting
import MockGroq
import NIOCore
import Testing

@testable import ChatServer

@Suite("Message listing cache: served only while the chat's messages are unchanged")
struct ListingCacheTests {
    @Test("every write to a chat's messages bumps its messages_version; reads and other chats' writes do not")
    func versionBumps() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let database = try await TestDatabase.openStore(standingInFor: directory + "/versions.db")
        let owner = try await database.createUser(email: "v@example.com", passwordHash: "h", role: .user)
        let stranger = try await database.createUser(email: "s@example.com", passwordHash: "h", role: .user)
        let chat = try await database.createChat(userID: owner.id, title: nil)
        let other = try await database.createChat(userID: owner.id, title: nil)

        var version = try await Self.version(database, chat.id, owner.id)
        /// Runs `write`, then checks that the version moved on and that the page read at it shows the write.
        func expectBump(_ what: String, _ write: () async throws -> Void) async throws {
            try await write()
            let page = try await database.messagePage(
                chatID: chat.id, ownerID: owner.id, after: 0, limit: 100, knownVersion: version)
            guard case .messages(_, let next) = page else {
                Issue.record("\(what) did not change the version: \(String(describing: page))")
                return
            }
            #expect(next > version, "\(what)")
            version = next
        }

        // Reads leave it alone; so do writes to another chat.
        _ = try await database.messages(chatID: chat.id, ownerID: owner.id, limit: 10)
        _ = try await database.appendMessage(chatID: other.id, role: .user, content: "elsewhere")
        #expect(
            try await database.messagePage(
                chatID: chat.id, ownerID: owner.id, after: 0, limit: 100, knownVersion: version)
                == .unchanged(version: version))

        try await expectBump("appendMessage") {
            _ = try await database.appendMessage(chatID: chat.id, role: .user, content: "hello")
        }
        var reply: Int64 = 0
        try await expectBump("beginTurn") {
            reply = try #require(
                try await database.beginTurn(
                    chatID: chat.id, userContent: "hi", model: "m", contextThrough: .max, reservation: nil)
            ).assistant
                .id
        }
        try await expectBump("finishMessage") {
            try await database.finishMessage(id: reply, outcome: MessageOutcome(content: "first", status: .complete))
        }
        try await expectBump("beginTurnReadingContext") {
            reply = try #require(
                try await database.beginTurnReadingContext(
                    chatID: chat.id, ownerID: owner.id, userContent: "again", history: HistoryWindow(messages: 10),
                    model: ModelChoice(chosen: nil, offered: [], fallback: "m"))
            ).assistant.id
        }
        try await expectBump("updateStreamingContent") {
            try await database.updateStreamingContent(messageID: reply, content: "partial")
        }
        try await expectBump("finishMessage") {
            try await database.finishMessage(id: reply, outcome: MessageOutcome(content: "done", status: .complete))
        }
        // A turn begun by another process that stopped (on PostgreSQL, a replica that left: its lease is gone).
        let stopped = try await TestDatabase.openStore(standingInFor: directory + "/versions.db")
        _ = try await stopped.beginTurn(
            chatID: chat.id, userContent: "again", model: "m", contextThrough: .max, reservation: nil)
        await stopped.close()
        version = try await Self.version(database, chat.id, owner.id)
        try await expectBump("failInterruptedTurns") {
            let failed = try await database.failInterruptedTurns()
            #expect(failed == 1)
        }
        // Someone else's chat, or none, answers nil whatever version is known.
        #expect(
            try await database.messagePage(
                chatID: chat.id, ownerID: stranger.id, after: 0, limit: 100, knownVersion: version) == nil)
        #expect(try await database.deleteChat(id: chat.id, ownerID: owner.id))
        #expect(
            try await database.messagePage(
                chatID: chat.id, ownerID: nil, after: 0, limit: 100, knownVersion: version) == nil)
    }

    @Test("bounded by bytes; CLOCK keeps a listing served since the hand passed; stale and oversize are refused")
    func bounds() {
        let cache = MessageListingCache(capacity: 8_000)
        let keys = (0..<10).map { _ in MessageListingCache.Key(chatID: UUID(), after: 0, limit: 100) }
        func key(_ index: Int) -> MessageListingCache.Key { keys[index] }
        let body = ByteBuffer(repeating: UInt8(ascii: "x"), count: 1_000)
        for index in 0..<8 { cache.store(body, for: key(index), at: 1) }
        #expect(cache.statistics.entries == 8)
        #expect(cache.statistics.bytes == 8_000)
        #expect(cache.body(of: key(0), at: 1) == body)
        #expect(cache.body(of: key(0), at: 2) == nil, "another version is not this listing")

        // Full: the next one evicts the oldest not served since (1), not the one just served (0).
        cache.store(body, for: key(8), at: 1)
        #expect(cache.statistics.bytes <= 8_000)
        #expect(cache.version(of: key(0)) == 1)
        #expect(cache.version(of: key(1)) == nil)
        #expect(cache.version(of: key(8)) == 1)

        // A listing older than the one held does not replace it; a newer one does.
        cache.store(ByteBuffer(string: "old"), for: key(8), at: 0)
        #expect(cache.body(of: key(8), at: 1) == body)
        cache.store(ByteBuffer(string: "new"), for: key(8), at: 2)
        #expect(cache.body(of: key(8), at: 2) == ByteBuffer(string: "new"))
        #expect(cache.statistics.bytes == 7_003)

        // More than an eighth of the capacity is never kept; a capacity of 0 keeps nothing.
        cache.store(ByteBuffer(repeating: 0, count: 1_001), for: key(9), at: 1)
        #expect(cache.version(of: key(9)) == nil)
        let off = MessageListingCache(capacity: 0)
        off.store(body, for: key(0), at: 1)
        #expect(off.version(of: key(0)) == nil)
        #expect(off.statistics.entries == 0)
    }

    @Test("a repeated listing is served from the cache, identical; any write, owner or admin check still applies")
    func servedAndInvalidated() async throws {
        try await withApp(adminEmails: ["admin@example.com"]) { client, backend in
            let (_, token) = try await client.signUp("owner@example.com")
            let (_, strangerToken) = try await client.signUp("stranger@example.com")
            let (_, adminToken) = try await client.signUp("admin@example.com")
            let chatID = try await client.createChat(token: token)
            let chat = try #require(UUID(uuidString: chatID))
            for index in 0..<3 {
                _ = try await backend.database.appendMessage(chatID: chat, role: .user, content: "m\(index)")
            }
            let path = "/chats/\(chatID)/messages"
            let first = try await client.send(.get, path, token: token)
            #expect(backend.listingCache.statistics.hits == 0)
            let second = try await client.send(.get, path, token: token)
            #expect(backend.listingCache.statistics.hits == 1)
            #expect(second.status == .ok)
            #expect(second.text == first.text)
            #expect(try JSONBody(second).array.count == 3)

            // Another user is refused although the listing is cached; the admin's route gets the same bytes.
            #expect(try await client.send(.get, path, token: strangerToken).status == .notFound)
            let admin = try await client.send(.get, "/admin/chats/\(chatID)/messages", token: adminToken)
            #expect(admin.text == first.text)
            #expect(backend.listingCache.statistics.hits == 2)

            // A write that did not come through this route (as from another process) is seen at once.
            _ = try await backend.database.appendMessage(chatID: chat, role: .user, content: "m3")
            let after = try JSONBody(try await client.send(.get, path, token: token)).array
            #expect(after.count == 4)
            #expect((after.last as? [String: Any])?["content"] as? String == "m3")
            #expect(backend.listingCache.statistics.hits == 2)

            // Other pages are other listings.
            let page = try JSONBody(try await client.send(.get, "\(path)?after=0&limit=2", token: token)).array
            #expect(page.count == 2)

            // A deleted chat is gone, cached or not.
            #expect(try await client.send(.delete, "/chats/\(chatID)", token: token).status == .noContent)
            #expect(try await client.send(.get, path, token: token).status == .notFound)
            #expect(
                try await client.send(.get, "/admin/chats/\(chatID)/messages", token: adminToken).status == .notFound)
        }
    }

    @Test("LISTING_CACHE_MB=0 turns it off")
    func off() async throws {
        try await withApp(configure: { $0.listingCacheMegabytes = 0 }) { client, backend in
            let (_, token) = try await client.signUp("off@example.com")
            let chatID = try await client.createChat(token: token)
            for _ in 0..<3 { _ = try await client.send(.get, "/chats/\(chatID)/messages", token: token) }
            #expect(backend.listingCache.statistics.entries == 0)
            #expect(backend.listingCache.statistics.hits == 0)
        }
    }

    @Test("a listing with a reply being generated shows its live text and is not kept; the finished one is")
    func liveReplyNotCached() async throws {
        let reply = Array(repeating: "word", count: 30).joined(separator: " ")
        try await withTurnApp(behavior: MockGroqBehavior(chunkDelayMilliseconds: 40, reply: reply)) {
            client, backend, _ in
            let (_, token) = try await client.signUp("live@example.com")
            let chatID = try await client.createChat(token: token)
            let streaming = try StreamingClient(port: try #require(client.port))
            var reader = try await streaming.sendMessage("go", chatID: chatID, token: token)
            var deltas = 0
            while let event = try await reader.next(), deltas < 5 {
                if event.event == "delta" { deltas += 1 }
            }
            let path = "/chats/\(chatID)/messages"
            let during = try JSONBody(try await client.send(.get, path, token: token)).array
            let live = try #require(during.last as? [String: Any])
            #expect(live["status"] as? String == "streaming")
            #expect((live["content"] as? String)?.isEmpty == false, "the live text, not the last flush")
            #expect(backend.listingCache.statistics.entries == 0)

            while try await reader.next() != nil {}
            let done = try JSONBody(try await client.send(.get, path, token: token)).array
            let finished = try #require(done.last as? [String: Any])
            #expect(finished["status"] as? String == "complete")
            #expect(finished["content"] as? String == reply)
            #expect(backend.listingCache.statistics.entries == 1)
            _ = try await client.send(.get, path, token: token)
            #expect(backend.listingCache.statistics.hits == 1)
        }
    }

    @Test("a reply that arrives whole within the flush interval is written when its turn begins and ends, not between")
    func noFlushBeforeTheInterval() async throws {
        // The whole reply comes 700 ms after the request: before its first delta there was nothing to save, and
        // the turn ends before a second flush interval has passed since.
        try await withTurnApp(behavior: MockGroqBehavior(latencyMilliseconds: 700)) { client, backend, _ in
            let (id, token) = try await client.signUp("flush@example.com")
            let userID = try #require(UUID(uuidString: id))
            let chatID = try #require(UUID(uuidString: try await client.createChat(token: token, title: "titled")))
            let before = try await Self.version(backend.database, chatID, nil)
            let sent = try await client.send(
                .post, "/chat", token: token, json: #"{"chat_id": "\#(chatID.lowercasedString)", "message": "hi"}"#)
            #expect(sent.status == .ok)
            // Exactly the bumps of a turn's start and end written straight to the store (how many each makes is
            // the engine's own); a flush of the first delta would add one more.
            let bumps = try await Self.turnBumps(backend.database, ownerID: userID)
            #expect(try await Self.version(backend.database, chatID, nil) == before + bumps)
        }
    }

    /// How much a turn's start and end (no flush between) bump a chat's `messages_version`, written straight to
    /// the store in a chat of the user's own.
    static func turnBumps(_ database: any ChatStore, ownerID: UUID) async throws -> Int64 {
        let chat = try await database.createChat(userID: ownerID, title: "measured")
        let before = try await Self.version(database, chat.id, nil)
        let turn = try #require(
            try await database.beginTurn(
                chatID: chat.id, userContent: "hi", model: "m", contextThrough: 0, reservation: nil))
        try await database.finishMessage(
            id: turn.assistant.id, outcome: MessageOutcome(content: "a", status: .complete))
        return try await Self.version(database, chat.id, nil) - before
    }

    /// The chat's `messages_version`, as the listing cache reads it.
    static func version(_ database: any ChatStore, _ chatID: UUID, _ ownerID: UUID?) async throws -> Int64 {
        let page = try await database.messagePage(
            chatID: chatID, ownerID: ownerID, after: 0, limit: 1, knownVersion: nil)
        guard case .messages(_, let version) = page else { throw StorageError.corruptRow("chats") }
        return version
    }
}
