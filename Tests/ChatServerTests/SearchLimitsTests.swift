import ChatStorage
import ChatStoragePostgres
import ChatStorageSQLite
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ChatServer

/// What one user's searches may cost the others: the index is searched within the searcher's own rows, a user
/// runs at most `SEARCHES_PER_USER` searches at once, and a search stops after `SEARCH_TIMEOUT_MS`.
@Suite("Search limits")
struct SearchLimitsTests {
    /// `count` messages of `content(i)` for `owner`, in chats of 100, written in one import.
    static func corpus(
        _ database: any ChatStore, owner: UUID, count: Int, _ content: (Int) -> String
    ) async throws {
        let chats = stride(from: 0, to: count, by: 100).map { start in
            ChatImport(
                title: nil, createdAt: Timestamp(microseconds: 1), updatedAt: Timestamp(microseconds: 1),
                messages: (start..<min(count, start + 100)).map { index in
                    MessageImport(
                        role: index.isMultiple(of: 2) ? .user : .assistant, content: content(index),
                        createdAt: Timestamp(microseconds: 1))
                })
        }
        _ = try await database.importChats(ownerID: owner, chats)
    }

    /// The rows of `messages` the engine reads while the owner's messages are searched for `text`: on SQLite the
    /// search statement's virtual-machine instructions (each row visited costs a dozen), on PostgreSQL the rows
    /// fetched from `messages` by the same statement with the same settings, run by psql (after ANALYZE, as
    /// autovacuum would).
    static func searchWork(_ backend: ChatBackend, owner: UUID, text: String) async throws -> Int {
        let query = try SearchQuery(parsing: text)
        if let sqlite = backend.database as? DatabaseActor {
            _ = await sqlite.virtualMachineSteps(of: DatabaseActor.searchMessagesSQL)
            _ = try await sqlite.searchMessages(
                ownerID: owner, query: query, candidates: searchCandidates, deadline: .now + .seconds(60))
            return await sqlite.virtualMachineSteps(of: DatabaseActor.searchMessagesSQL)
        }
        let path = backend.config.databasePath
        _ = try PostgresEngineTests.psql("ANALYZE", database: path)
        let tsquery = PostgresStore.ownedTSQuery(owner, query).replacingOccurrences(of: "'", with: "''")
        let statement = """
            PREPARE settings (text) AS \(PostgresStore.searchSettingsSQL);
            EXECUTE settings ('60000');
            PREPARE search (uuid, text, bigint, integer) AS \(PostgresStore.searchMessagesSQL);
            EXECUTE search ('\(owner.lowercasedString)', '\(tsquery)', \(searchCandidates), \(searchTextLength))
            """
        let output = try PostgresEngineTests.psql(
            script: PostgresPlanTests.counting(statement, "idx_tup_fetch + seq_tup_read", of: "messages", as: "read"),
            database: path)
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("read ") })
        return try #require(Int(line.dropFirst(5)))
    }

    @Test("a search reads the searcher's rows only, however many matches other users have")
    func ownRowsOnly() async throws {
        try await withApp { client, backend in
            let database = backend.database
            let (otherID, _) = try await client.signUp("corpus@example.com")
            let (searcherID, token) = try await client.signUp("searcher@example.com")
            let (emptyID, emptyToken) = try await client.signUp("empty@example.com")
            let other = try #require(UUID(uuidString: otherID))
            let searcher = try #require(UUID(uuidString: searcherID))
            let empty = try #require(UUID(uuidString: emptyID))
            // The other user's 30,000 messages all hold the phrase; the searcher's 20 chats hold its words apart,
            // and one message has it. (At this size PostgreSQL, asked for the owner's newest matches of a phrase
            // with the owner only filtered, walked every user's messages newest first.)
            try await Self.corpus(database, owner: other, count: 30_000) { "alpha beta gamma \($0)" }
            var apart: [Int] = []
            for index in 0..<20 {
                let chat = try await database.createChat(userID: searcher, title: index == 0 ? "alpha beta notes" : nil)
                apart.append(
                    Int(try await database.appendMessage(chatID: chat.id, role: .user, content: "beta then alpha").id))
            }
            let chat = try await database.createChat(userID: searcher, title: nil)
            let adjacent = Int(try await database.appendMessage(chatID: chat.id, role: .user, content: "alpha beta").id)

            let words = try await SearchTests.search(client, token, "alpha beta", "&limit=100")
            #expect(Set(words.messageIDs) == Set(apart + [adjacent]))
            #expect(words.kinds.first == "title" && words.messageIDs.first == adjacent)
            #expect(try await SearchTests.search(client, token, "\"alpha beta\"").messageIDs == [adjacent])
            #expect(try await SearchTests.search(client, emptyToken, "\"alpha beta\"").items.isEmpty)

            // Before the owner was part of the match, each of the other user's 30,000 matches was read and then
            // dropped by the owner filter (240,000 SQLite instructions; 30,000 rows on PostgreSQL).
            for (owner, text) in [(searcher, "\"alpha beta\""), (searcher, "alpha beta"), (empty, "alpha beta")] {
                let work = try await Self.searchWork(backend, owner: owner, text: text)
                #expect(work < (TestDatabase.isPostgres ? 100 : 2_000), "\(text): \(work)")
            }
        }
    }

    @Test("more than SEARCHES_PER_USER searches of one user at once: 429 with Retry-After; other users search on")
    func perUserCap() async throws {
        try await withApp(configure: { $0.searchesPerUser = 1 }) { client, backend in
            let (ownerID, token) = try await client.signUp("busy@example.com")
            let (_, otherToken) = try await client.signUp("calm@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            // The user's one slot, held by a search that waits until released.
            let (entered, enter) = AsyncStream<Void>.makeStream()
            let (released, release) = AsyncStream<Void>.makeStream()
            let holder = Task {
                try await backend.searches.run(for: owner) {
                    enter.yield()
                    for await _ in released {}
                    return true
                }
            }
            for await _ in entered { break }

            let refused = try await SearchTests.search(client, token, "anything")
            #expect(refused.response.status == .tooManyRequests)
            #expect(refused.response.headers[.retryAfter] == "1")
            #expect(refused.response.text.contains("at most 1 at once per user"), "\(refused.response.text)")
            #expect(try await SearchTests.search(client, otherToken, "anything").response.status == .ok)

            release.finish()
            #expect(try await holder.value == true)
            #expect(try await SearchTests.search(client, token, "anything").response.status == .ok)
        }
    }

    @Test("a search past SEARCH_TIMEOUT_MS is stopped and answered 503 with Retry-After, its slot given back")
    func timeLimit() async throws {
        try await withApp(configure: {
            $0.searchTimeoutMilliseconds = 1; $0.searchesPerUser = 1
        }) {
            client, backend in
            let (ownerID, token) = try await client.signUp("slow@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            // A phrase whose words are in every message, never side by side: the engine checks every one of
            // 20,000 messages' 20 places of each word (tens of milliseconds on either engine), far past 1 ms.
            let text = String(repeating: "alpha beta gamma ", count: 20)
            try await Self.corpus(backend.database, owner: owner, count: 20_000) { "\(text)\($0)" }
            for _ in 0..<2 {
                let stopped = try await SearchTests.search(client, token, "\"alpha gamma\"")
                #expect(stopped.response.status == .serviceUnavailable, "\(stopped.response.text)")
                #expect(stopped.response.headers[.retryAfter] == "1")
                #expect(
                    stopped.response.text.contains("took longer than 1 ms and was stopped"),
                    "\(stopped.response.text)")
            }
            // The engine itself stops the statement once it runs past the deadline (SQLite's progress handler,
            // PostgreSQL's statement_timeout), not only before it starts.
            let phrase = try SearchQuery(parsing: "\"alpha gamma\"")
            await #expect(throws: StorageError.searchTimedOut) {
                _ = try await backend.database.searchMessages(
                    ownerID: owner, query: phrase, candidates: searchCandidates, deadline: .now + .milliseconds(2))
            }
            // With time enough, the same search ends (with nothing found).
            #expect(
                try await backend.database.searchMessages(
                    ownerID: owner, query: phrase, candidates: searchCandidates, deadline: .now + .seconds(60)
                ).isEmpty)
        }
    }
}
