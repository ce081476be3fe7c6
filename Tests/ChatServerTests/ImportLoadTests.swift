import ChatServer
import ChatStorage
import ChatStorageSQLite
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Large imports: one never holds SQLite's writer long, one runs at a time per user, and one that fails while
/// it is written leaves nothing behind.
@Suite("Import under load")
struct ImportLoadTests {
    /// A JSON array of `chats` chats in this server's export format, of `messages` messages each (about 100 bytes,
    /// each with the word "needle"); the last message of the last chat is `last` when given.
    static func file(chats: Int, messages: Int, last: String? = nil) -> String {
        let padding = String(repeating: "lorem ipsum ", count: 7)
        var parts: [String] = []
        parts.reserveCapacity(chats)
        for chat in 0..<chats {
            let lines = (0..<messages).map { index in
                let content = chat == chats - 1 && index == messages - 1 ? last ?? "needle \(index)" : "needle \(index)"
                let role = index % 2 == 0 ? "user" : "assistant"
                return #"{"role": "\#(role)", "content": "\#(content) \#(padding)"}"#
            }
            parts.append(
                #"{"format": "ai-chat-backend/chat", "version": 1, "chat": {"title": "imported \#(chat)"}, "messages": ["#
                    + lines.joined(separator: ",") + "]}")
        }
        return "[" + parts.joined(separator: ",\n") + "]"
    }

    /// The chats of an import in memory: `chats` chats of `messages` messages, each with the word "needle".
    static func chats(_ chats: Int, messages: Int) -> [ChatImport] {
        (0..<chats).map { chat in
            ChatImport(
                title: "imported \(chat)", createdAt: Timestamp(microseconds: 1_000),
                updatedAt: Timestamp(microseconds: 1_000),
                messages: (0..<messages).map { index in
                    MessageImport(
                        role: index % 2 == 0 ? .user : .assistant,
                        content: "needle \(index) " + String(repeating: "lorem ipsum ", count: 7),
                        createdAt: Timestamp(microseconds: 2_000 + Int64(index)))
                })
        }
    }

    @Test(
        "SQLite: a large import never holds the writer long: another user's reads and writes run while it is written, and none of it shows before it is published",
        .enabled(if: !TestDatabase.isPostgres, "PostgreSQL writes an import in one transaction beside other writers")
    )
    func importInterleaves() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/interleave.db"
        let store = try await DatabaseActor.open(path: path)
        let importer = try await store.createUser(email: "importer@example.com", passwordHash: "h", role: .user)
        let other = try await store.createUser(email: "other@example.com", passwordHash: "h", role: .user)
        let importing = Task { try await store.importChats(ownerID: importer.id, Self.chats(200, messages: 100)) }
        // What the import has staged, seen from a second connection to the file (committed slices only).
        let observer = try SQLiteConnection(path: path)
        func staged() throws -> [UUID] {
            try observer.query("SELECT id FROM chats WHERE import_id IS NOT NULL") { UUID(canonical: $0.text(0)) }
                .compactMap { $0 }
        }
        _ = try await eventually(within: .seconds(60)) { try !staged().isEmpty }
        let clock = ContinuousClock()
        let search = try SearchQuery(parsing: "needle")
        let titleSearch = try SearchQuery(parsing: "imported")
        var rounds = 0
        var slowest = Duration.zero
        var checked = 0
        while let stagedChat = try staged().first {
            let round = clock.now
            _ = try await store.chats(ownerID: other.id, archived: false, limit: 20, offset: 0)
            _ = try await store.createChat(userID: other.id, title: "meanwhile")
            try await store.ping()
            slowest = max(slowest, clock.now - round)
            rounds += 1
            // The importer sees none of it yet: not listed, not counted, not found, not readable by id (asserted
            // when the chat was still staged after these reads, so it was during them: publishing is one-way).
            let own = try await store.chats(ownerID: importer.id, archived: false, limit: 20, offset: 0)
            let chat = try await store.chat(id: stagedChat, ownerID: importer.id)
            let messages = try await store.messages(chatID: stagedChat, ownerID: importer.id, limit: 5)
            let found = try await store.searchMessages(
                ownerID: importer.id, query: search, candidates: 5, deadline: .now + .seconds(5))
            let titles = try await store.searchTitles(
                ownerID: importer.id, query: titleSearch, candidates: 5, deadline: .now + .seconds(5))
            guard try staged().contains(stagedChat) else { continue }
            #expect(own.total == 0 && own.chats.isEmpty)
            #expect(chat == nil && messages == nil)
            #expect(found.isEmpty && titles.isEmpty)
            checked += 1
        }
        let written = try await importing.value
        print("import beside other work: \(rounds) rounds (\(checked) checked) while it was staged, slowest \(slowest)")
        #expect(checked >= 3, "the import was observed staged in only \(checked) rounds")
        // Generous for a debug build on a shared machine: a slice holds the writer ~10 ms; the whole import, seconds.
        #expect(slowest < .milliseconds(500))
        #expect(written.count == 200)
        #expect(try staged().isEmpty)
        #expect(try await store.chats(ownerID: importer.id, archived: false, limit: 20, offset: 0).total == 200)
        #expect(try await store.chats(ownerID: other.id, archived: false, limit: 20, offset: 0).total == rounds)
        await store.close()
    }

    @Test(
        "one import at a time per user: a second one while the first runs is 429 with Retry-After and a detail; another user's is not refused"
    )
    func onePerUser() async throws {
        try await withApp(.live) { client, _ in
            let port = try #require(client.port)
            let (_, token) = try await client.signUp("first-importer@example.com")
            let (_, otherToken) = try await client.signUp("second-importer@example.com")
            // The first import's head and half its body: it holds the user's slot from its head on, and until the
            // rest of the body is sent it cannot end, whatever the engine's speed.
            let file = Array(Self.file(chats: 300, messages: 50).utf8)
            func openRunning() async throws -> RawConnection {
                let connection = try await RawConnection.connect(port: port)
                try await connection.send(
                    "POST /chats/import HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                        + "Authorization: Bearer \(token)\r\nContent-Type: application/json\r\n"
                        + "Content-Length: \(file.count)\r\n\r\n"
                        + String(decoding: file[..<(file.count / 2)], as: UTF8.self))
                return connection
            }
            var running = try await openRunning()
            // An empty file is 422 when nothing of the user's runs; while their import runs it is refused first.
            let clock = ContinuousClock()
            let started = clock.now
            var refusal: TestResponse?
            while refusal == nil, clock.now - started < .seconds(20) {
                let probe = try await ImportTests.post(client, token, "[]")
                if probe.status == .tooManyRequests {
                    refusal = probe
                } else {
                    #expect(probe.status == .unprocessableContent, "\(probe.text)")
                    if !running.text.isEmpty {
                        // Its head arrived while a probe held the user's slot: refused (429); send it again.
                        await running.close()
                        running = try await openRunning()
                    }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            let refused = try #require(refusal, "the running import was never observed: \(running.text.prefix(300))")
            try await running.send(String(decoding: file[(file.count / 2)...], as: UTF8.self))
            #expect(refused.headers[.retryAfter] == "5")
            #expect(try JSONBody(refused).string("detail")?.contains("An import of yours is running") == true)
            #expect(try await ImportTests.post(client, otherToken, "[]").status == .unprocessableContent)
            #expect(await running.status(within: .seconds(120)) == 201, "\(running.text.prefix(300))")
            #expect(try await ImportTests.post(client, token, "[]").status == .unprocessableContent)
            #expect(try await ImportTests.chatCount(client, token) == 300)
        }
    }

    @Test(
        "an import the database refuses at its last message, after many slices were written, leaves nothing visible and nothing staged"
    )
    func failedMidway() async throws {
        try await withApp { client, backend in
            let path = backend.config.databasePath
            let (_, token) = try await client.signUp("poisoned@example.com")
            try Self.refuseMessages(containing: "poison", in: path)
            let response = try await ImportTests.post(
                client, token, Self.file(chats: 50, messages: 100, last: "poison"))
            #expect(response.status == .internalServerError, "\(response.text.prefix(300))")
            #expect(try await ImportTests.chatCount(client, token) == 0)
            let found = try await client.send(.get, "/chats/search?q=needle", token: token)
            #expect((try JSONBody(found)["results"] as? [Any])?.count == 0, "\(found.text.prefix(300))")
            #expect(try Self.count("chats", in: path) == 0)
            #expect(try Self.count("messages", in: path) == 0)
            // The next import is written whole.
            let next = try await ImportTests.post(client, token, Self.file(chats: 2, messages: 3))
            #expect(next.status == .created)
            #expect(try await ImportTests.chatCount(client, token) == 2)
        }
    }

    /// Makes the database itself refuse to insert a message whose text starts with `word`: a failure in the
    /// middle of an import's writing, on either engine.
    static func refuseMessages(containing word: String, in path: String) throws {
        if TestDatabase.isPostgres {
            _ = try PostgresEngineTests.psql(
                script: """
                    CREATE FUNCTION refuse_message() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        IF NEW.content LIKE '\(word)%' THEN RAISE EXCEPTION 'refused by the test'; END IF;
                        RETURN NEW;
                    END $$;
                    CREATE TRIGGER refuse_message BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_message();
                    """, database: path)
        } else {
            try SQLiteConnection(path: path).execute(
                """
                CREATE TRIGGER refuse_message BEFORE INSERT ON messages WHEN NEW.content LIKE '\(word)%'
                BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;
                """)
        }
    }

    /// Every row of `table`, of every user, staged or not.
    static func count(_ table: String, in path: String) throws -> Int {
        if TestDatabase.isPostgres {
            return Int(try PostgresEngineTests.psql("SELECT count(*) FROM \(table)", database: path)) ?? -1
        }
        return try SQLiteConnection(path: path).queryOne("SELECT count(*) FROM \(table)") { $0.int(0) } ?? -1
    }
}
