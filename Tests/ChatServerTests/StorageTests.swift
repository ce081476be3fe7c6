import ChatServer
import ChatStorage
import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import ChatStorageSQLite

@Suite("DatabaseActor and schema")
struct StorageTests {
    @Test("migrations create the schema in an empty file")
    func migrateEmptyFile() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let database = try await DatabaseActor.open(path: directory + "/fresh.db")
        #expect(database.migration.from == 0)
        #expect(database.migration.to == Migrations.latestVersion)
        #expect(try await database.schemaVersion() == Migrations.latestVersion)
        #expect(try await database.integrityCheck() == "ok")
    }

    @Test("upgrading to branches makes each existing chat one line, all of it the active path")
    func branchesMigration() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/v12.db"
        let (user, first, second) = (UUID(), UUID(), UUID())
        do {
            let connection = try SQLiteConnection(path: path)
            for migration in Migrations.all where migration.version <= 12 { try connection.execute(migration.sql) }
            try connection.execute("PRAGMA user_version = 12")
            let (u, a, b) = (user.lowercasedString, first.lowercasedString, second.lowercasedString)
            try connection.execute(
                """
                INSERT INTO users (id, email, password_hash, created_at) VALUES ('\(u)', 'old@example.com', 'h', 1);
                INSERT INTO chats (id, user_id, created_at, updated_at) VALUES ('\(a)', '\(u)', 1, 1), ('\(b)', '\(u)', 1, 1);
                INSERT INTO messages (chat_id, role, content, created_at) VALUES ('\(a)', 'user', 'a1', 1),
                    ('\(b)', 'user', 'b1', 1), ('\(a)', 'assistant', 'a2', 1), ('\(b)', 'assistant', 'b2', 1),
                    ('\(a)', 'user', 'a3', 1);
                """)
        }
        let database = try await DatabaseActor.open(path: path)
        #expect(database.migration.from == 12)
        try await expectOneLine(
            in: database, ownerID: user, chats: [(first, ["a1", "a2", "a3"]), (second, ["b1", "b2"])])
        #expect(try await database.integrityCheck() == "ok")
        // The search index was rebuilt with each message's owner (migration 23).
        let found = try await database.searchMessages(
            ownerID: user, query: SearchQuery(parsing: "b2"), candidates: 10, deadline: .now + .seconds(60))
        #expect(found.map(\.text) == ["b2"])
        // And again with FTS5's prefix indexes (migration 24), through which a prefix term is read.
        let prefixed = try await database.searchMessages(
            ownerID: user, query: SearchQuery(parsing: "b2*"), candidates: 10, deadline: .now + .seconds(60))
        #expect(prefixed.map(\.text) == ["b2"])
        #expect(
            try await database.searchMessages(
                ownerID: UUID(), query: SearchQuery(parsing: "b2"), candidates: 10, deadline: .now + .seconds(60)
            ).isEmpty)
    }

    @Test("the search indexes keep prefix indexes of two and three characters, so a short prefix is one list")
    func searchPrefixIndexes() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/prefix.db"
        await (try await DatabaseActor.open(path: path)).close()
        let connection = try SQLiteConnection(path: path)
        for table in ["messages_fts", "chats_fts"] {
            let sql = try connection.queryOne("SELECT sql FROM sqlite_master WHERE name = ?", [.text(table)]) {
                $0.text(0)
            }
            #expect(sql?.contains("prefix = '2 3'") == true, "\(table): \(sql ?? "missing")")
        }
    }

    @Test("a file from a newer version is refused")
    func newerSchemaRefused() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/future.db"
        do {
            let connection = try SQLiteConnection(path: path)
            try connection.execute("PRAGMA user_version = 999")
        }
        await #expect(throws: StorageError.newerSchema(found: 999, supported: Migrations.latestVersion)) {
            _ = try await DatabaseActor.open(path: path)
        }
    }

    @Test("listing a user's chats walks the index: no table scan, no sort")
    func listUsesIndex() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let database = try await DatabaseActor.open(path: directory + "/plan.db")
        for archived in [0, 1] {
            let plan = try await database.queryPlan(
                DatabaseActor.listChatsSQL,
                [.text(UUID().lowercasedString), .integer(Int64(archived)), .integer(50), .integer(0)]
            )
            #expect(plan.contains { $0.contains("USING INDEX chats_by_user_listing") }, "\(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
        }
    }

    @Test("the WAL stays bounded under thousands of writes (INSERT ... RETURNING included)")
    func walStaysBounded() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/wal.db"
        let database = try await DatabaseActor.open(path: path)
        let user = try await database.createUser(email: "w@example.com", passwordHash: "h", role: .user)
        for index in 0..<3000 {
            _ = try await database.createChat(userID: user.id, title: "chat \(index)")
        }
        // Auto-checkpoint every 1000 pages lets the WAL restart: it stays near 4 MiB instead of ~65 MB.
        let attributes = try FileManager.default.attributesOfItem(atPath: path + "-wal")
        let size = try #require(attributes[.size] as? Int)
        #expect(size < 8 << 20, "WAL grew to \(size) bytes")
        #expect(try await database.chats(ownerID: user.id, limit: 1, offset: 0).total == 3000)
    }

    @Test("group commit: concurrent writes share transactions, and a failing write fails alone")
    func groupCommit() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let database = try await DatabaseActor.open(path: directory + "/group.db")
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<60 {
                group.addTask {
                    // Every third task tries the same email: exactly one of those may win.
                    let email = index.isMultiple(of: 3) ? "same@example.com" : "user\(index)@example.com"
                    do {
                        _ = try await database.createUser(email: email, passwordHash: "h", role: .user)
                        return true
                    } catch StorageError.emailAlreadyRegistered {
                        return false
                    }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 41)
        let stats = await database.groupCommitStats
        #expect(stats.writes == 60)
        #expect(stats.commits < 60, "no batching happened")
        #expect(try await database.users(limit: 100, offset: 0).total == 41)
        #expect(try await database.integrityCheck() == "ok")
    }

    @Test("the actor's work runs on its own thread, not the cooperative pool")
    func dedicatedThread() async throws {
        let executor = DedicatedThreadExecutor(name: "test-db-thread")
        defer { executor.shutdown() }
        let first = try await executor.run { pthread_self() }
        let second = try await executor.run { pthread_self() }
        #expect(pthread_equal(first, executor.threadID) != 0, "jobs run on the executor's own thread")
        #expect(pthread_equal(first, second) != 0, "every job runs on the same OS thread")
        #expect(pthread_equal(first, pthread_self()) == 0, "not on the caller's (cooperative pool) thread")
    }

    @Test("timestamps format as ISO 8601 UTC with microseconds")
    func timestampFormat() {
        #expect(Timestamp(microseconds: 0).iso8601 == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp(microseconds: 1_795_571_547_123_456).iso8601 == "2026-11-25T01:52:27.123456Z")
        #expect(Timestamp(microseconds: -1).iso8601 == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp(microseconds: 951_782_400_000_000).iso8601 == "2000-02-29T00:00:00.000000Z")
        #expect(Timestamp(microseconds: 4_107_542_399_999_999).iso8601 == "2100-02-28T23:59:59.999999Z")
        #expect(Timestamp(microseconds: 4_107_542_400_000_000).iso8601 == "2100-03-01T00:00:00.000000Z")
    }

    @Test("timestamps format as the C library's gmtime_r would, 1900 to 2400")
    func timestampsMatchGmtime() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let microseconds = Int64.random(in: -2_208_988_800_000_000...13_569_465_600_000_000, using: &generator)
            let timestamp = Timestamp(microseconds: microseconds)
            var seconds = time_t(timestamp.secondsSinceEpoch)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            let expected = String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                parts.tm_hour, parts.tm_min, parts.tm_sec, Int32(microseconds - Int64(seconds) * 1_000_000))
            #expect(timestamp.iso8601 == expected)
        }
    }
}
