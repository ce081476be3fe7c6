import ChatServer
import ChatStorage
import ChatStorageSQLite
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import Testing

@testable import ChatStoragePostgres

@Suite("PostgreSQL engine: URLs, start failures, migrations, ordering")
struct PostgresEngineTests {
    @Test("DATABASE_URL: postgresql:// and postgres:// select PostgreSQL, with sslmode, sockets and encoded passwords")
    func urls() throws {
        let tcp = try PostgresLocation(url: "postgresql://chat:p%40ss%2Fw0rd@db.internal:6543/chat?sslmode=require")
        #expect(tcp.endpoint == .tcp(host: "db.internal", port: 6543))
        #expect(tcp.username == "chat")
        #expect(tcp.password == "p@ss/w0rd")
        #expect(tcp.database == "chat")
        #expect(tcp.sslMode == .require)
        #expect(!tcp.description.contains("p@ss"))
        #expect(tcp.description == "postgresql://chat@db.internal:6543/chat")

        let socket = try PostgresLocation(url: "postgres://chat@/chat?host=/var/run/postgresql")
        #expect(socket.endpoint == .unixSocket(directory: "/var/run/postgresql", port: 5432))
        #expect(socket.sslMode == .prefer)
        let encodedHost = try PostgresLocation(url: "postgresql://chat@%2Ftmp%2Fpg:5433/chat")
        #expect(encodedHost.endpoint == .unixSocket(directory: "/tmp/pg", port: 5433))

        var config = try AppConfig(environment: ["DATABASE_URL": "postgresql://u:secret@localhost/db"])
        #expect(config.postgres?.database == "db")
        #expect(!"\(config)".contains("secret"))
        try config.setDatabase(url: "sqlite:///./x.db")
        #expect(config.postgres == nil)
        #expect(config.databasePath == "./x.db")

        for bad in [
            "postgresql://localhost/chat", "postgresql://u:secret@localhost",
            "postgresql://u:secret@localhost/db?sslmode=maybe",
            "postgresql://u:secret@/db",
        ] {
            do {
                _ = try AppConfig(environment: ["DATABASE_URL": bad])
                Issue.record("\(bad) was accepted")
            } catch {
                #expect(error.variable == "DATABASE_URL")
                #expect(!"\(error)".contains("secret"), "\(error)")
            }
        }
    }

    @Test("both engines number their migrations alike: the same versions, each SQLite name the PostgreSQL one's")
    func migrationsAlike() {
        #expect(Migrations.all.map(\.version) == PostgresMigrations.all.map(\.version))
        for (sqlite, postgres) in zip(Migrations.all, PostgresMigrations.all) {
            #expect(sqlite.name.hasPrefix(postgres.name), "version \(sqlite.version)")
        }
    }

    @Test("a server that cannot be reached stops the process at start: exit 1, one line naming it, no password")
    func unreachable() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let port = try await ServerProcess.freePort()
        let outcome = try CommandLineTests.run(
            [
                "serve", "--port", String(try await ServerProcess.freePort()), "--database",
                "postgresql://chat:hunter2@127.0.0.1:\(port)/chat?sslmode=disable",
            ],
            directory: directory)
        #expect(outcome.status == 1)
        let lines = outcome.error.split(separator: "\n").filter { $0.hasPrefix("chat-server:") }
        #expect(lines.count == 1, "\(outcome.error)")
        #expect(
            lines.first?.contains("cannot connect to PostgreSQL at postgresql://chat@127.0.0.1:\(port)/chat") == true)
        #expect(!outcome.error.contains("hunter2") && !outcome.output.contains("hunter2"))
    }

    @Test(
        "replicas starting together migrate once, under the advisory lock",
        .enabled(if: TestDatabase.isPostgres, "needs the PostgreSQL server"))
    func concurrentMigrations() async throws {
        let location = try #require(TestDatabase.postgres(standingInFor: "/migrate-race-\(UUID())"))
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<4 {
                group.addTask { try await PostgresStore.open(location, maxConnections: 2, logger: testLogger()) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(stores.filter { $0.migration.from == 0 }.count == 1)
        #expect(stores.allSatisfy { $0.migration.to == stores[0].migration.to })
        // Emails are unique in any letter case, even written directly (the app lower-cases them too).
        _ = try await stores[0].createUser(email: "Case@Example.com", passwordHash: "h", role: .user)
        await #expect(throws: StorageError.emailAlreadyRegistered) {
            _ = try await stores[1].createUser(email: "case@example.com", passwordHash: "h", role: .user)
        }
        for store in stores { await store.close() }
    }

    @Test(
        "450 chats changed at once, the writer closed at once: all reach the other replica; the writer wakes its own chats once",
        .enabled(if: TestDatabase.isPostgres, "needs the PostgreSQL server"))
    func changeNotifications() async throws {
        let location = try #require(TestDatabase.postgres(standingInFor: "/notify-\(UUID())"))
        let writer = try await PostgresStore.open(location, maxConnections: 8, logger: testLogger())
        let other = try await PostgresStore.open(location, maxConnections: 2, logger: testLogger())
        let user = try await writer.createUser(email: "notify@example.com", passwordHash: "h", role: .user)
        var chats: [UUID] = []
        for _ in 0..<450 { chats.append(try await writer.createChat(userID: user.id, title: nil).id) }
        let expected = Set(chats)

        /// The chats each store's events named, and how often, until `expected` were all seen or 20 s passed.
        func collect(_ store: PostgresStore, settle: Duration) -> Task<[UUID: Int], Never> {
            let events = store.events
            return Task {
                var counts: [UUID: Int] = [:]
                var allSeenAt: ContinuousClock.Instant?
                let deadline = ContinuousClock.now + .seconds(20)
                for await event in events {
                    if case .messagesChanged(let chat) = event, expected.contains(chat) {
                        counts[chat, default: 0] += 1
                    }
                    if allSeenAt == nil, Set(counts.keys) == expected { allSeenAt = .now }
                    if let allSeenAt, ContinuousClock.now - allSeenAt >= settle { break }
                    if ContinuousClock.now >= deadline { break }
                }
                return counts
            }
        }
        let remote = collect(other, settle: .zero)
        let local = collect(writer, settle: .milliseconds(500))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for chat in chats {
                group.addTask { _ = try await writer.appendMessage(chatID: chat, role: .user, content: "hello") }
            }
            try await group.waitForAll()
        }
        // Closed at once: it sends what is still pending before its pool stops (its own stream then ends).
        await writer.close()
        let seenLocally = await local.value
        // Something keeps the other's stream moving after the last change, so that its collector checks its clock.
        let keepAlive = Task {
            while !Task.isCancelled {
                try? await other.requestCancel(chatID: UUID())
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let seenRemotely = await remote.value
        keepAlive.cancel()
        let missedRemotely = expected.subtracting(seenRemotely.keys).count
        #expect(missedRemotely == 0, "the other replica missed \(missedRemotely) of \(expected.count) chats")
        #expect(expected.subtracting(seenLocally.keys).isEmpty)
        // Woken once, when the change was made, not a second time by the notification it sent itself.
        #expect(
            seenLocally.values.allSatisfy { $0 == 1 }, "\(seenLocally.values.filter { $0 > 1 }.count) chats woken twice"
        )
        await other.close()
    }

    @Test("message ids grow in commit order within a chat: a reader following after= misses none")
    func commitOrder() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let store = try await TestDatabase.openStore(standingInFor: directory + "/order.db")
        let user = try await store.createUser(email: "order@example.com", passwordHash: "h", role: .user)
        let chat = try await store.createChat(userID: user.id, title: nil)
        let writers = 8
        let perWriter = 40
        let chatID = chat.id
        let reader = Task {
            var seen: Set<Int64> = []
            var after: Int64 = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while seen.count < writers * perWriter, ContinuousClock.now < deadline {
                let page = try await store.messages(chatID: chatID, ownerID: nil, after: after, limit: 500) ?? []
                for message in page { seen.insert(message.id) }
                after = page.last?.id ?? after
            }
            return seen
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in 0..<perWriter {
                        _ = try await store.appendMessage(chatID: chatID, role: .user, content: "\(writer)-\(index)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let all = try #require(try await store.messages(chatID: chat.id, ownerID: nil, after: 0, limit: 500))
        #expect(all.count == writers * perWriter)
        let seen = try await reader.value
        #expect(seen == Set(all.map(\.id)), "the reader that follows after= skipped ids that committed late")
        await store.close()
    }

    @Test(
        "a database that stops answering: reads, writes and the health check fail as unavailable within the wait limit, then work again once it is back",
        .enabled(if: TestDatabase.isPostgres), .timeLimit(.minutes(2)))
    func databaseOutage() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/outage.db"
        let location = try #require(TestDatabase.postgres(standingInFor: path))
        let store = try await PostgresStore.open(
            location, maxConnections: 2, connectionWait: .seconds(1), logger: testLogger())
        let user = try await store.createUser(email: "outage@example.com", passwordHash: "h", role: .user)
        _ = try await store.createChat(userID: user.id, title: "before")
        // No new connection to the database from now on, and the store's own connections are closed: the pool
        // keeps trying to reconnect, and would queue every statement until its circuit breaker trips (60 s).
        try Self.cutOff(location.database)
        defer { try? Self.reopen(location.database) }
        let clock = ContinuousClock()
        for attempt in 0..<2 {
            let started = clock.now
            await #expect(throws: StorageError.unavailable, "read, attempt \(attempt)") {
                _ = try await store.chats(ownerID: user.id, archived: false, limit: 20, offset: 0)
            }
            await #expect(throws: StorageError.unavailable, "write, attempt \(attempt)") {
                _ = try await store.createChat(userID: user.id, title: "during")
            }
            await #expect(throws: StorageError.unavailable, "health, attempt \(attempt)") {
                try await Task.sleep(for: .seconds(1.1))  // past the health check's one-second reuse
                try await store.ping()
            }
            // The wait limit (1 s) and the watchdog's tick (a quarter of a second), each of the three; far below
            // the pool's own minute.
            #expect(clock.now - started < .seconds(8), "attempt \(attempt)")
        }
        try Self.reopen(location.database)
        // Back: the pool reconnects (its backoff is a few seconds by now), and nothing written meanwhile is there.
        let deadline = clock.now + .seconds(20)
        var page: ChatPage?
        while page == nil && clock.now < deadline {
            page = try? await store.chats(ownerID: user.id, archived: false, limit: 20, offset: 0)
            if page == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(page?.chats.map(\.title) == ["before"])
        _ = try await store.createChat(userID: user.id, title: "after")
        #expect(try await store.chats(ownerID: user.id, archived: false, limit: 20, offset: 0).total == 2)
        await store.close()
    }

    @Test(
        "over HTTP, while the database does not answer: 503 with Retry-After and a detail (GET /chats, POST /chat, /health), and served again once it is back",
        .enabled(if: TestDatabase.isPostgres), .timeLimit(.minutes(2)))
    func databaseOutageOverHTTP() async throws {
        try await withTurnApp(configure: { $0.databaseWaitSeconds = 1 }) { client, backend, _ in
            let database = try #require(backend.config.postgres?.database)
            let (_, token) = try await client.signUp("outage-http@example.com")
            let chatID = try await client.createChat(token: token, title: "before")
            try Self.cutOff(database)
            defer { try? Self.reopen(database) }
            try await Task.sleep(for: .seconds(1.1))  // past the health check's one-second reuse
            let requests: [(HTTPRequest.Method, String, String?)] = [
                (.get, "/chats", nil),
                (.post, "/chat", #"{"chat_id": "\#(chatID)", "message": "during"}"#),
                (.get, "/health", nil),
            ]
            for (method, path, json) in requests {
                let response = try await client.send(method, path, token: token, json: json)
                #expect(response.status == .serviceUnavailable, "\(method) \(path): \(response.text)")
                #expect(response.headers[.retryAfter] != nil, "\(method) \(path)")
                #expect(try JSONBody(response).string("detail")?.isEmpty == false, "\(method) \(path)")
            }
            try Self.reopen(database)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(20)
            var listed = try await client.send(.get, "/chats", token: token)
            while listed.status != .ok && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                listed = try await client.send(.get, "/chats", token: token)
            }
            #expect(listed.status == .ok)
            #expect(listed.text.contains("\"before\""), "\(listed.text)")
        }
    }

    @Test(
        "a turn (begin, a flush, the end) takes no lock on its user's row, so one user's many turns do not pile up on it",
        .enabled(if: TestDatabase.isPostgres))
    func turnLeavesUserRowUnlocked() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/locks.db"
        let store = try await TestDatabase.openStore(standingInFor: path)
        let user = try await store.createUser(email: "locks@example.com", passwordHash: "h", role: .user)
        let chat = try await store.createChat(userID: user.id, title: "locks")
        let charge = UsageCharge(
            userID: user.id, day: UsageDay(Date()), promptTokens: 3, completionTokens: 4, estimated: false)
        func turn(_ text: String, after: Int64) async throws -> Int64 {
            let begun = try #require(
                try await store.beginTurn(
                    chatID: chat.id, userContent: text, model: "m", contextThrough: after, reservation: nil))
            try await store.updateStreamingContent(messageID: begun.assistant.id, content: "partial")
            _ = try await store.finishMessage(
                id: begun.assistant.id, outcome: MessageOutcome(content: "done", status: .complete, charge: charge))
            return begun.assistant.id
        }
        // The first charge to each slot of the user's day inserts its usage_daily row, whose foreign key locks
        // the user's row (at most UsageSlots.count times a day); with every slot's row there, a turn only
        // updates rows of its own chat and the user's usage.
        let first = try await turn("one", after: 0)
        _ = try Self.psql(
            """
            INSERT INTO usage_daily (user_id, day, slot)
            SELECT '\(user.id.lowercasedString)', \(charge.day.number), slot FROM generate_series(0, \(UsageSlots.count - 1)) slot
            ON CONFLICT DO NOTHING
            """, database: path)
        // A tuple's xmax names the last transaction that locked or updated it; a FOR KEY SHARE lock (a foreign
        // key checked again, as when a transaction updates a chat's row twice) would change it.
        let locker = "SELECT xmax FROM users WHERE id = '\(user.id.lowercasedString)'"
        let before = try Self.psql(locker, database: path)
        let second = try await turn("two", after: first)
        #expect(try Self.psql(locker, database: path) == before)
        let saved = try #require(try await store.chat(id: chat.id, ownerID: user.id))
        #expect(saved.messageCount == 4)
        let messages = try #require(try await store.messages(chatID: chat.id, ownerID: nil, after: 0, limit: 10))
        #expect(messages.map(\.content) == ["one", "done", "two", "done"])
        #expect(messages.last?.id == second)
        #expect(messages[2].parentID == first)
        await store.close()
    }

    @Test(
        "one user's replies end without queueing on one usage row: each adds to a slot of the day, readers sum them",
        .enabled(if: TestDatabase.isPostgres))
    func usageSlots() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/slots.db"
        let store = try await TestDatabase.openStore(standingInFor: path)
        let user = try await store.createUser(email: "slots@example.com", passwordHash: "h", role: .user)
        let chat = try await store.createChat(userID: user.id, title: "slots")
        let today = UsageDay(Date())
        let begun = try #require(
            try await store.beginTurn(
                chatID: chat.id, userContent: "q", model: "m", contextThrough: 0, reservation: nil))
        // Another transaction adds to every other slot of the user's day and holds those rows until it ends.
        let slots = Int64(UsageSlots.count)
        let holder = try Self.psqlInBackground(
            script: """
                BEGIN;
                INSERT INTO usage_daily (user_id, day, slot, requests, prompt_tokens, completion_tokens, estimated_requests)
                SELECT '\(user.id.lowercasedString)', \(today.number), slot, 1, 10, 0, 0
                FROM generate_series(0, \(slots - 1)) slot WHERE slot <> \(begun.assistant.id % slots);
                SELECT pg_sleep(4);
                COMMIT;
                """, database: path)
        try #require(
            try await eventually(within: .seconds(10)) {
                try Self.psql(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND pid <> pg_backend_pid()",
                    database: path) == "1"
            }, "the other transaction holds its row")
        let clock = ContinuousClock()
        let started = clock.now
        let charge = UsageCharge(userID: user.id, day: today, promptTokens: 3, completionTokens: 4, estimated: false)
        _ = try await store.finishMessage(
            id: begun.assistant.id, outcome: MessageOutcome(content: "a", status: .complete, charge: charge))
        // Had it added to a row of the user's day that another transaction holds, the reply's end would have
        // waited for that transaction's commit (4 s).
        #expect(clock.now - started < .seconds(2))
        try #require(await eventually(within: .seconds(10)) { !holder.isRunning }, "the other transaction ended")
        #expect(holder.terminationStatus == 0)
        let rows = "SELECT count(*) FROM usage_daily WHERE user_id = '\(user.id.lowercasedString)'"
        #expect(try Self.psql(rows, database: path) == "\(slots)")
        let days = try await store.usage(userID: user.id, from: today, to: today)
        let prompt = 10 * (slots - 1) + 3
        #expect(
            days.map(\.totals) == [
                UsageTotals(requests: slots, promptTokens: prompt, completionTokens: 4, estimatedRequests: 0)
            ])
        #expect(try await store.quotaStanding(userID: user.id, today: today).usedToday == prompt + 4)
        let byUser = try await store.usageByUser(from: today, to: today, order: .tokens, limit: 10, offset: 0)
        #expect(byUser.users.map(\.totals.requests) == [slots])
        #expect(byUser.totals.promptTokens == prompt)
        await store.close()
    }

    @Test(
        "a new message's turn reads its context and begins in one statement, under the chat's lock",
        .enabled(if: TestDatabase.isPostgres))
    func turnStartIsOneStatement() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/start.db"
        let store = try await TestDatabase.openStore(standingInFor: path)
        let user = try await store.createUser(email: "start@example.com", passwordHash: "h", role: .user)
        let chat = try await store.createChat(userID: user.id, title: "start")
        let before = try await store.appendMessage(chatID: chat.id, role: .user, content: "before")
        // Another transaction holds the chat's row and saves a message under it before it commits.
        let holder = try Self.psqlInBackground(
            script: """
                BEGIN;
                SELECT 1 FROM chats WHERE id = '\(chat.id.lowercasedString)' FOR NO KEY UPDATE;
                SELECT pg_sleep(2);
                INSERT INTO messages (chat_id, role, content, created_at, parent_id)
                VALUES ('\(chat.id.lowercasedString)', 'assistant', 'meanwhile', 1, \(before.id));
                COMMIT;
                """, database: path)
        try #require(
            try await eventually(within: .seconds(10)) {
                try Self.psql(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid()",
                    database: path) == "1"
            }, "the other transaction holds the chat")
        let start = Task {
            try await store.beginTurnReadingContext(
                chatID: chat.id, ownerID: user.id, userContent: "after", history: HistoryWindow(messages: 10),
                model: ModelChoice(chosen: nil, offered: [], fallback: "m"))
        }
        // The turn's one statement waits for the chat's lock before it has read anything.
        try #require(
            try await eventually(within: .seconds(10)) {
                try Self.psql(
                    """
                    SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
                        AND query LIKE '%begin_turn_with_context%' AND datname = current_database()
                    """, database: path) == "1"
            }, "the turn's start waits for the chat")
        // Read after the lock, the context holds what the other transaction saved: nothing to find stale and
        // start again for (read, then begun, the turn would have been refused as busy).
        let started = try #require(try await start.value)
        #expect(started.history.map(\.content) == ["meanwhile", "before"])
        #expect(started.user.parentID == started.history.first?.id)
        try #require(await eventually(within: .seconds(10)) { !holder.isRunning }, "the other transaction ended")
        #expect(holder.terminationStatus == 0)
        await store.close()
    }

    @Test(
        "a chat created while another transaction creates one for the same user waits on the user's row without adding a lock to it",
        .enabled(if: TestDatabase.isPostgres))
    func concurrentChatCreation() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/creations.db"
        let store = try await TestDatabase.openStore(standingInFor: path)
        let user = try await store.createUser(email: "creations@example.com", passwordHash: "h", role: .user)
        _ = try Self.psql("CREATE EXTENSION IF NOT EXISTS pgrowlocks", database: path)
        let holder = try Self.psqlInBackground(
            script: """
                BEGIN;
                INSERT INTO chats (id, user_id, title, created_at, updated_at)
                VALUES (gen_random_uuid(), '\(user.id.lowercasedString)', 'held', 1, 1);
                SELECT pg_sleep(3);
                COMMIT;
                """, database: path)
        try #require(
            try await eventually(within: .seconds(10)) {
                try Self.psql(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()",
                    database: path) == "1"
            }, "the other transaction created its chat")
        let creation = Task { try await store.createChat(userID: user.id, title: "waiting") }
        try #require(
            try await eventually(within: .seconds(10)) {
                try Self.psql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
                    database: path) == "1"
            }, "the creation waits for the other transaction")
        // Counting after the insert, the new chat's foreign-key check had locked the user's row (FOR KEY SHARE)
        // beside the other transaction's update, which makes the row's lock a multixact.
        #expect(try Self.psql("SELECT bool_or(multi) FROM pgrowlocks('users')", database: path) == "f")
        _ = try await creation.value
        try #require(await eventually(within: .seconds(10)) { !holder.isRunning }, "the other transaction ended")
        #expect(holder.terminationStatus == 0)
        #expect(try await store.chats(ownerID: user.id, limit: 10, offset: 0).total == 2)
        await store.close()
    }

    @Test(
        "the store opens its whole pool at start, before anything is asked of it, and runs statements on it without opening more",
        .enabled(if: TestDatabase.isPostgres))
    func poolOpenedAtStart() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/pool.db"
        let store = try await TestDatabase.openStore(standingInFor: path)
        // TestDatabase opens 4, and one more for the listener; a pool opening on demand would hold 2 (the
        // listener's and the lease renewal's).
        let query = """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
            """
        try #require(
            try await eventually(within: .seconds(10)) { try Self.psql(query, database: path) == "5" },
            "the pool opened its connections")
        // Eight statements at once run on those four: the pool opens no more.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { try await store.ping() } }
            try await group.waitForAll()
        }
        #expect(try Self.psql(query, database: path) == "5")
        await store.close()
    }

    @Test(
        "a version-12 database with two interleaved chats migrates to the latest: parents, active paths, counts, and turns after it",
        .enabled(if: TestDatabase.isPostgres))
    func upgradeFromVersion12() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/v12.db"
        let (user, first, second) = (UUID().lowercasedString, UUID(), UUID())
        var script = """
            CREATE TABLE schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()
            );

            """
        for migration in PostgresMigrations.all where migration.version <= 12 {
            for statement in migration.statements { script += statement + ";\n" }
            let name = migration.name.replacingOccurrences(of: "'", with: "''")
            script += "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), '\(name)');\n"
        }
        let (a, b) = (first.lowercasedString, second.lowercasedString)
        script += """
            INSERT INTO users (id, email, password_hash, created_at) VALUES ('\(user)', 'old@example.com', 'h', 1);
            INSERT INTO chats (id, user_id, created_at, updated_at) VALUES ('\(a)', '\(user)', 1, 1), ('\(b)', '\(user)', 1, 1);
            INSERT INTO messages (chat_id, role, content, created_at) VALUES ('\(a)', 'user', 'a1', 1);
            INSERT INTO messages (chat_id, role, content, created_at) VALUES ('\(b)', 'user', 'b1', 1);
            INSERT INTO messages (chat_id, role, content, created_at) VALUES ('\(a)', 'assistant', 'a2', 1);
            INSERT INTO messages (chat_id, role, content, created_at) VALUES ('\(b)', 'assistant', 'b2', 1);
            INSERT INTO messages (chat_id, role, content, created_at) VALUES ('\(a)', 'user', 'a3', 1);

            """
        _ = try Self.psql(script: script, database: path)
        #expect(try Self.psql("SELECT max(version) FROM schema_migrations", database: path) == "12")

        let store = try await TestDatabase.openStore(standingInFor: path)
        #expect(
            try Self.psql("SELECT max(version) FROM schema_migrations", database: path)
                == "\(PostgresMigrations.latestVersion)")
        let ownerID = try #require(UUID(uuidString: user))
        try await expectOneLine(
            in: store, ownerID: ownerID, chats: [(first, ["a1", "a2", "a3"]), (second, ["b1", "b2"])])
        // The counts and versions kept by migration 14's triggers and statements, on the migrated rows.
        func version() async throws -> Int64 { try await ListingCacheTests.version(store, first, nil) }
        let before = try await version()
        let begun = try #require(
            try await store.beginTurn(
                chatID: first, userContent: "a4", model: "m", contextThrough: 5, reservation: nil))
        #expect(begun.user.parentID == 5)
        #expect(try await version() == before + 1)
        try await store.updateStreamingContent(messageID: begun.assistant.id, content: "par")
        #expect(try await version() == before + 2)
        let saved = try await store.finishMessage(
            id: begun.assistant.id, outcome: MessageOutcome(content: "a5", status: .complete))
        #expect(saved?.content == "a5")
        #expect(try await version() == before + 3)
        // The migrated messages and the new ones carry their owner into the search (migration 23).
        for word in ["b2", "a5"] {
            let found = try await store.searchMessages(
                ownerID: ownerID, query: SearchQuery(parsing: word), candidates: 10, deadline: .now + .seconds(60))
            #expect(found.map(\.text) == [word])
            #expect(
                try await store.searchMessages(
                    ownerID: UUID(), query: SearchQuery(parsing: word), candidates: 10, deadline: .now + .seconds(60)
                ).isEmpty)
        }
        let chat = try #require(try await store.chat(id: first, ownerID: ownerID))
        #expect(chat.messageCount == 5)
        #expect(chat.updatedAt > Timestamp(microseconds: 1))
        #expect(try await store.deleteChat(id: second, ownerID: ownerID))
        #expect(try await store.chats(ownerID: ownerID, limit: 10, offset: 0).total == 1)
        await store.close()
    }

    /// Runs one statement through psql on the store's database; its output, trimmed.
    static func psql(_ sql: String, database path: String) throws -> String {
        try Self.psql(arguments: ["-c", sql], input: nil, database: path)
    }

    /// An outage of `database`: closed to new connections (``reopen(_:)`` undoes it), and its backends ended.
    static func cutOff(_ database: String) throws {
        try Self.adminPSQL("ALTER DATABASE \(database) ALLOW_CONNECTIONS false")
        try Self.adminPSQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)'")
    }

    static func reopen(_ database: String) throws {
        try Self.adminPSQL("ALTER DATABASE \(database) ALLOW_CONNECTIONS true")
    }

    /// Runs a statement through psql on the throwaway server's administrative database.
    static func adminPSQL(_ sql: String) throws {
        let admin = try #require(ProcessInfo.processInfo.environment["TEST_DATABASE_URL"])
        _ = try Self.psql(arguments: ["-c", sql], input: nil, url: admin)
    }

    /// Runs a script through psql on the store's database, stopping at its first error.
    static func psql(script: String, database path: String) throws -> String {
        try Self.psql(arguments: ["-v", "ON_ERROR_STOP=1"], input: script, database: path)
    }

    /// Starts a script through psql on the store's database and returns at once; the script stops at its first
    /// error (a non-zero exit status).
    static func psqlInBackground(script: String, database path: String) throws -> Process {
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        psql.arguments = [TestDatabase.url(standingInFor: path), "-q", "-v", "ON_ERROR_STOP=1"]
        psql.standardOutput = FileHandle.nullDevice
        let stdin = Pipe()
        psql.standardInput = stdin
        try psql.run()
        stdin.fileHandleForWriting.write(Data(script.utf8))
        try stdin.fileHandleForWriting.close()
        return psql
    }

    private static func psql(arguments: [String], input: String?, database path: String) throws -> String {
        try Self.psql(arguments: arguments, input: input, url: TestDatabase.url(standingInFor: path))
    }

    private static func psql(arguments: [String], input: String?, url: String) throws -> String {
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        psql.arguments = [url, "-q", "-A", "-t"] + arguments
        let output = Pipe()
        psql.standardOutput = output
        let stdin = Pipe()
        psql.standardInput = stdin
        try psql.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        psql.waitUntilExit()
        guard psql.terminationStatus == 0 else {
            throw StorageError.corruptRow("psql exited \(psql.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite("PostgreSQL query plans")
struct PostgresPlanTests {
    /// EXPLAIN through psql on the store's database; sequential scans are priced out, so the plan shows whether
    /// an index can serve the query at all (on a table this small the planner would otherwise scan it).
    static func plan(_ sql: String, database path: String) throws -> String {
        try PostgresEngineTests.psql("SET enable_seqscan = off; EXPLAIN " + sql, database: path)
    }

    /// `statement` in its own transaction, then a line "`label` N": what that transaction added to `counter` of
    /// pg_stat_xact_user_tables for `table` (those counters also hold the session's earlier, unflushed ones).
    static func counting(_ statement: String, _ counter: String, of table: String, as label: String) -> String {
        """
        BEGIN;
        SELECT coalesce(sum(\(counter)), 0) AS before FROM pg_stat_xact_user_tables WHERE relname = '\(table)' \\gset
        \(statement);
        SELECT '\(label) ' || coalesce(sum(\(counter)), 0) - :before FROM pg_stat_xact_user_tables
        WHERE relname = '\(table)';
        COMMIT;
        """
    }

    /// A migrated store in `directory` with one owner and two empty chats, closed so that psql can take its
    /// database over: the path standing for it, and the owner's and the chats' ids (lower-case).
    static func ownerWithTwoChats(in directory: String, named name: String) async throws -> (
        path: String, owner: String, first: String, second: String
    ) {
        let path = directory + "/\(name).db"
        let store = try await TestDatabase.openStore(standingInFor: path)
        let owner = try await store.createUser(email: "\(name)@example.com", passwordHash: "h", role: .user)
        let first = try await store.createChat(userID: owner.id, title: nil).id.lowercasedString
        let second = try await store.createChat(userID: owner.id, title: nil).id.lowercasedString
        await store.close()
        return (path, owner.id.lowercasedString, first, second)
    }

    /// The plan of each query on a freshly migrated, empty store.
    static func plans(_ queries: [String]) async throws -> [String] {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/plan.db"
        let store = try await TestDatabase.openStore(standingInFor: path)
        await store.close()
        return try queries.map { try Self.plan($0, database: path) }
    }

    @Test(
        "GET /chats on PostgreSQL walks chats_by_user_listing, archived or not: no sort",
        .enabled(if: TestDatabase.isPostgres))
    func listingUsesIndex() async throws {
        let plans = try await Self.plans(
            [false, true].map { archived in
                """
                SELECT id FROM chats WHERE user_id = '\(UUID().lowercasedString)' AND archived = \(archived)
                ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT 20
                """
            })
        for plan in plans {
            #expect(plan.contains("chats_by_user_listing"), "\(plan)")
            #expect(!plan.contains("Sort"), "\(plan)")
        }
    }

    @Test(
        "a turn's start asks for its chat's streaming reply through messages_streaming by chat: no bitmap AND",
        .enabled(if: TestDatabase.isPostgres))
    func streamingCheckUsesIndex() async throws {
        // The condition begin_turn asks before it saves anything (migration 16).
        let plan = try #require(
            try await Self.plans([
                "SELECT 1 FROM messages WHERE chat_id = '\(UUID().lowercasedString)' AND status = 'streaming'"
            ]).first)
        #expect(plan.contains("using messages_streaming"), "\(plan)")
        #expect(plan.contains("Index Cond: (chat_id = "), "\(plan)")
        #expect(!plan.contains("BitmapAnd"), "\(plan)")
    }

    @Test(
        "a turn's start reads no other chat's messages, even with plans cached while the table was empty",
        .enabled(if: TestDatabase.isPostgres))
    func turnStartPlansStayIndexed() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let (path, _, chat, other) = try await Self.ownerWithTwoChats(in: directory, named: "cached")
        // One session, as a pooled connection is: PL/pgSQL caches each statement's plan per session, and after
        // five calls may keep a generic one (forced here), planned on the table as it was then: empty. Then
        // another chat gets 30,000 messages (enough that a plan made now would use the indexes), and a second
        // turn of each kind in the first chat counts the rows its transaction read from messages by sequential
        // scan.
        let withContext =
            "SELECT count(*) FROM begin_turn_with_context('\(chat)', NULL, 'hi', NULL, '{m}', 'm', NULL, 0, 500)"
        // begin_turn's arguments: content, model, replica, now, after, user, reserve, today, month, daily,
        // monthly, parent, branch. A new message after the last one, and a regeneration of the last question.
        let plain = """
            SELECT count(*) FROM begin_turn('\(chat)', 'hi', 'm', NULL, 0, 9223372036854775807, NULL, NULL, 0, 0,
                NULL, NULL, (SELECT max(id) FROM messages WHERE chat_id = '\(chat)'), false)
            """
        let regenerate = """
            SELECT count(*) FROM begin_turn('\(chat)', NULL, 'm', NULL, 0, 9223372036854775807, NULL, NULL, 0, 0,
                NULL, NULL, (SELECT max(id) FROM messages WHERE chat_id = '\(chat)' AND role = 'user'), true)
            """
        let endReply = "UPDATE messages SET status = 'complete' WHERE chat_id = '\(chat)' AND status = 'streaming'"
        /// A turn in its own transaction, then the rows that transaction read from messages by sequential scan.
        func counted(_ turn: String) -> String {
            Self.counting(turn, "seq_tup_read", of: "messages", as: "read") + "\n\(endReply);"
        }
        let output = try PostgresEngineTests.psql(
            script: """
                SET plan_cache_mode = force_generic_plan;
                \(withContext); \(endReply);
                \(plain); \(endReply);
                \(regenerate); \(endReply);
                INSERT INTO messages (chat_id, role, content, created_at)
                SELECT '\(other)', 'user', 'filler', 0 FROM generate_series(1, 30000);
                \(counted(withContext))
                \(counted(plain))
                \(counted(regenerate))
                """, database: path)
        let reads = output.split(separator: "\n").filter { $0.hasPrefix("read ") }
        #expect(reads == ["read 0", "read 0", "read 0"], "\(output)")
    }

    @Test(
        "counting a statement's messages updates only their chats, on a connection whose first insert was an import",
        .enabled(if: TestDatabase.isPostgres))
    func messageCountsStayIndexed() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let (path, owner, imported, chat) = try await Self.ownerWithTwoChats(in: directory, named: "counts")
        // One session, as a pooled connection is: PL/pgSQL plans the triggers' statements at their first execution
        // there. The first insert and the first delete are an import's 100 messages; before migration 20 the
        // counting statements were then planned for 100 rows as a hash join over every chat, and kept for the
        // two rows of each later turn. Each later statement counts the rows its transaction read from chats by
        // sequential scan.
        /// A statement in its own transaction, then the rows that transaction read from chats by sequential scan.
        func counted(_ statement: String) -> String {
            Self.counting(statement, "seq_tup_read", of: "chats", as: "read")
        }
        let turn = """
            INSERT INTO messages (chat_id, role, content, created_at)
            VALUES ('\(chat)', 'user', 'hi', 1), ('\(chat)', 'assistant', 'hello', 2)
            """
        let deletion = "DELETE FROM messages WHERE id = (SELECT max(id) FROM messages WHERE chat_id = '\(chat)')"
        let output = try PostgresEngineTests.psql(
            script: """
                INSERT INTO chats (id, user_id, created_at, updated_at)
                SELECT gen_random_uuid(), '\(owner)', 0, g FROM generate_series(1, 2000) AS g;
                ANALYZE chats;
                INSERT INTO messages (chat_id, role, content, created_at)
                SELECT '\(imported)', 'user', 'imported ' || g, g FROM generate_series(1, 100) AS g;
                DELETE FROM messages WHERE chat_id = '\(imported)';
                \(counted(turn))
                \(counted(deletion))
                SELECT 'counted ' || message_count FROM chats WHERE id = '\(chat)';
                SELECT 'counted ' || message_count FROM chats WHERE id = '\(imported)';
                """, database: path)
        let lines = output.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("read ") } == ["read 0", "read 0"], "\(output)")
        #expect(lines.filter { $0.hasPrefix("counted ") } == ["counted 1", "counted 0"], "\(output)")
    }

    @Test(
        "a turn's start reads its own chat's messages only, with statistics sampled while one chat had them all",
        .enabled(if: TestDatabase.isPostgres))
    func turnStartIgnoresStaleSamples() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let (path, owner, long, chat) = try await Self.ownerWithTwoChats(in: directory, named: "sampled")
        // As chat-bench's run: ANALYZE sees one chat of 100 messages, then 300 chats get 6 messages each. Before
        // migration 21 the generic plans of a turn's start then took a chat's messages to be the whole table's,
        // and walked messages_pkey backwards through every newer message of every chat (some 1,800 rows here).
        // One turn in the quiet chat, generic plans forced, counts the rows its transaction fetched from
        // messages through an index.
        let turn =
            "SELECT count(*) FROM begin_turn_with_context('\(chat)', NULL, 'hi', NULL, '{m}', 'm', NULL, 0, 500)"
        let output = try PostgresEngineTests.psql(
            script: """
                INSERT INTO messages (chat_id, role, content, created_at)
                SELECT '\(long)', 'user', 'long ' || g, g FROM generate_series(1, 100) AS g;
                ANALYZE messages;
                INSERT INTO chats (id, user_id, created_at, updated_at)
                SELECT gen_random_uuid(), '\(owner)', 0, g FROM generate_series(1, 300) AS g;
                INSERT INTO messages (chat_id, role, content, created_at)
                SELECT '\(chat)', 'user', 'mine ' || g, g FROM generate_series(1, 6) AS g;
                INSERT INTO messages (chat_id, role, content, created_at)
                SELECT c.id, 'user', 'other', g FROM chats c, generate_series(1, 6) AS g
                WHERE c.id NOT IN ('\(long)', '\(chat)');
                SET plan_cache_mode = force_generic_plan;
                \(Self.counting(turn, "idx_tup_fetch", of: "messages", as: "fetched"))
                """, database: path)
        let prefix = "fetched "
        let fetched = output.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap {
            Int($0.dropFirst(prefix.count))
        }
        // The chat's own 6 messages, read by the newest-message check and the history: a few dozen at most.
        #expect(fetched.map { $0 < 50 } == true, "\(output)")
    }

    @Test(
        "a page of chats is planned once per connection, even when ANALYZE has seen an owner of thousands",
        .enabled(if: TestDatabase.isPostgres))
    func chatPageKeepsItsPlan() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/page.db"
        let store = try await TestDatabase.openStore(standingInFor: path)
        let busy = try await store.createUser(email: "busy@example.com", passwordHash: "h", role: .user)
        let quiet = try await store.createUser(email: "quiet@example.com", passwordHash: "h", role: .user)
        for _ in 0..<20 { _ = try await store.createChat(userID: quiet.id, title: nil) }
        await store.close()
        // Skewed statistics: a generic plan is costed for an average owner (about 1,000 chats, 10 % of them read
        // for LIMIT and OFFSET parameters), a custom one for the quiet owner's 20. Without chat_page, PostgreSQL
        // planned the statement again at each of the twelve executions below.
        let execute = "EXECUTE page('\(quiet.id.lowercasedString)', 20, 0, false);"
        let output = try PostgresEngineTests.psql(
            script: """
                INSERT INTO chats (id, user_id, created_at, updated_at)
                SELECT gen_random_uuid(), '\(busy.id.lowercasedString)', 0, g FROM generate_series(1, 2000) AS g;
                ANALYZE chats;
                ANALYZE users;
                PREPARE page(uuid, int8, int8, bool) AS \(ChatPageStatement.sql);
                \(String(repeating: execute + "\n", count: 12))
                SELECT 'custom plans ' || custom_plans FROM pg_prepared_statements WHERE name = 'page';
                """, database: path)
        let lines = output.split(separator: "\n")
        // Each execution: the quiet owner's 20 chats, each row led by their total.
        #expect(lines.filter { $0.hasPrefix("20|") }.count == 12 * 20, "\(output)")
        // PostgreSQL tries five custom plans before it weighs the generic one.
        let prefix = "custom plans "
        let customPlans = lines.first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) }
        #expect(customPlans.map { $0 <= 5 } == true, "\(output)")
    }
}

@Suite("chat-server copy")
struct CopyCommandTests {
    @Test(
        "a SQLite deployment copied to the suite's engine: same users, tokens, chats, message ids; a second copy is refused"
    )
    func roundTrip() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let sourcePath = directory + "/source.db"
        let targetPath = directory + "/target.db"

        // The source: a real server on a SQLite file, with two users, chats and an AI-less history.
        let source = try await ServerProcess.start(database: sourcePath, sqlite: true)
        let token = try #require(try await source.signUp("keeper@example.com", password: "kept password 1"))
        _ = try #require(try await source.signUp("other@example.com"))
        var chats: [String: String] = [:]
        for title in ["first", "second"] {
            let created = try await source.send(.post, "/chats", token: token, json: #"{"title": "\#(title)"}"#)
            chats[title] = try #require(created.json["id"] as? String)
        }
        source.signal(SIGTERM)
        #expect(await source.exitStatus(within: .seconds(10)) == 0)
        // Messages written through the store (no provider here), a few thousand so the copy takes several batches.
        let file = try await DatabaseActor.open(path: sourcePath)
        let firstChat = try #require(chats["first"])
        let chatID = try #require(UUID(uuidString: firstChat))
        for index in 0..<2_500 {
            _ = try await file.appendMessage(
                chatID: chatID, role: index % 2 == 0 ? .user : .assistant, content: "m\(index)")
        }
        // A quota an admin set, and usage on two days (charged with a title, as a title call is).
        let keeperID = try #require(try await file.user(email: "keeper@example.com")).id
        _ = try await file.setTokenQuotas(userID: keeperID, daily: 1_000, monthly: nil)
        for (day, estimated) in [(UsageDay(number: 20_000), false), (UsageDay(number: 20_001), true)] {
            try await file.setTitleIfEmpty(
                chatID: chatID, title: "kept",
                charge: UsageCharge(
                    userID: keeperID, day: day, promptTokens: 40, completionTokens: 7, estimated: estimated))
        }
        let sourceUsage = try await file.usage(
            userID: keeperID, from: UsageDay(number: 0), to: UsageDay(number: 100_000))
        #expect(sourceUsage.count == 2)
        let keeper = try #require(try await file.user(email: "keeper@example.com"))
        #expect(keeper.dailyTokenQuota == 1_000)
        // A chat's own settings, and an archived chat (listed apart, copied all the same).
        let secondID = try #require(chats["second"])
        let secondChat = try #require(UUID(uuidString: secondID))
        _ = try await file.updateChat(
            id: chatID, ownerID: keeper.id,
            changes: ChatChanges(pinned: true, model: "m", systemPrompt: "be brief"))
        _ = try await file.updateChat(id: secondChat, ownerID: keeper.id, changes: ChatChanges(archived: true))
        let sourceChats = try await file.chats(ownerID: keeper.id, limit: 20, offset: 0).chats
        let sourceArchive = try await file.chats(ownerID: keeper.id, archived: true, limit: 20, offset: 0)
        #expect(sourceChats.first?.systemPrompt == "be brief")
        #expect(sourceArchive.total == 1)
        let sourceMessages = try await file.messages(chatID: chatID, ownerID: nil, after: 0, limit: 500)
        await file.close()

        let target = TestDatabase.url(standingInFor: targetPath)
        let copied = try CommandLineTests.run(["copy", "--from", sourcePath, "--to", target], directory: directory)
        #expect(copied.status == 0, "\(copied.error)")
        #expect(copied.output.contains("copied 2 users, 2 chats, 2500 messages; the counts of both databases agree"))
        #expect(copied.error.contains("chat-server: copying 2 users, 2 chats, 2500 messages"))

        // The same records, ids, hashes, token versions and times.
        let copy = try await TestDatabase.openStore(standingInFor: targetPath)
        #expect(try await copy.user(email: "keeper@example.com") == keeper)
        #expect(try await copy.chats(ownerID: keeper.id, limit: 20, offset: 0).chats == sourceChats)
        let copiedArchive = try await copy.chats(ownerID: keeper.id, archived: true, limit: 20, offset: 0)
        #expect(copiedArchive.chats == sourceArchive.chats)
        #expect(copiedArchive.total == 1)
        #expect(try await copy.messages(chatID: chatID, ownerID: nil, after: 0, limit: 500) == sourceMessages)
        #expect(
            try await copy.usage(userID: keeper.id, from: UsageDay(number: 0), to: UsageDay(number: 100_000))
                == sourceUsage)
        await copy.close()

        // The target serves the same deployment: the old token works (the JWT secret came along), message ids
        // and the after= cursor carry over, and new ids follow.
        let server = try await ServerProcess.start(database: targetPath)
        defer { server.signal(SIGKILL) }
        #expect(try await server.send(.get, "/chats?limit=20", token: token).status == 200)
        let page = try await server.send(.get, "/chats/\(chatID.lowercasedString)/messages?limit=500", token: token)
        let list = page.list
        #expect(list.count == 500)
        let lastID = try #require((list.last?["id"] as? Int))
        let next = try await server.send(
            .get, "/chats/\(chatID.lowercasedString)/messages?after=\(lastID)&limit=1", token: token)
        #expect(next.body.contains("\"m500\""))
        let login = try await server.send(
            .post, "/auth/login", json: #"{"email": "keeper@example.com", "password": "kept password 1"}"#)
        #expect(login.status == 200)
        let fresh = try await server.send(.post, "/chats", token: token, json: "{}")
        #expect(fresh.status == 201)
        let writer = try await TestDatabase.openStore(standingInFor: targetPath)
        let appended = try await writer.appendMessage(chatID: chatID, role: .user, content: "after the copy")
        #expect(
            appended.id > Int64(sourceMessages?.count ?? 0) && appended.id > 2_500, "new ids follow the copied ones")
        await writer.close()

        // A target that holds anything is refused.
        let again = try CommandLineTests.run(["copy", "--from", sourcePath, "--to", target], directory: directory)
        #expect(again.status == 1)
        #expect(again.error.contains("the target is not empty"), "\(again.error)")
    }
}
