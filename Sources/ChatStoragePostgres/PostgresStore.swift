import ChatStorage
import CoreMetrics
import Foundation
import Logging
import Metrics
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The PostgreSQL engine: a ``ChatStore`` over postgres-nio's `PostgresClient` (a connection pool), for
/// deployments of one or several `chat-server` processes on one database.
///
/// - Isolation: each method is one statement or one transaction on a pooled connection; concurrent calls run
///   concurrently, and PostgreSQL orders them. Inserting a message first locks its chat's row, so the ids of a
///   chat's messages grow in the order their transactions commit (a sequence alone would not: a later id can
///   commit first).
/// - Durability: a method returns after its `COMMIT` (the server's `synchronous_commit`, on by default).
/// - Start: the schema is migrated on one connection under an advisory lock before the pool opens, so a wrong
///   URL, a refused login or an unreachable server fail `open` at once, and replicas starting together do not
///   race.
///
/// As a `Service` it waits for graceful shutdown and then closes the pool; work submitted after that throws.
public final class PostgresStore: ChatStore {
    let client: PostgresClient
    let logger: Logger
    /// Users by id for authentication, emptied by every method here that changes a user.
    let users = UserCache()
    public let location: PostgresLocation
    public let migration: (from: Int, to: Int)
    /// This process among the replicas (`replicas.id`; `messages.replica_id` of the replies it generates).
    public let replicaID = UUID()
    public let events: AsyncStream<StoreEvent>?
    let eventSink: AsyncStream<StoreEvent>.Continuation
    /// Carries each committed change of messages to the other replicas.
    let notifier: ChangeNotifier
    private let pool: Task<Void, Never>
    /// The notifier's sender: not cancelled at close, so that it sends what is still pending first.
    private let notifications = Mutex<Task<Void, Never>?>(nil)
    /// The heartbeat and the listener, started once the replica is registered.
    private let background = Mutex<[Task<Void, Never>]>([])
    private let isClosed = Mutex(false)
    /// Each write's duration, to its commit.
    private let metrics: StoreMetrics
    /// When ``ping()`` last asked the server, and what went wrong if it did.
    private let lastPing = Mutex<(at: ContinuousClock.Instant, failure: (any Error)?)?>(nil)

    /// How long a replica's replies survive it: a replica that has not renewed its lease for this long is
    /// taken for dead, and its `streaming` replies are marked failed by the others.
    public static let lease: Duration = .seconds(10)
    /// How often each replica renews its lease and looks for dead replicas' replies.
    public static let heartbeat: Duration = .seconds(2)

    private init(
        client: PostgresClient, location: PostgresLocation, migration: (from: Int, to: Int), logger: Logger,
        metrics: StoreMetrics
    ) {
        self.metrics = metrics
        self.client = client
        self.location = location
        self.migration = migration
        self.logger = logger
        self.pool = Task { await client.run() }
        // Bounded: a consumer that falls this far behind loses the oldest wake-ups, never memory.
        let (events, sink) = AsyncStream.makeStream(of: StoreEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        self.events = events
        self.eventSink = sink
        self.notifier = ChangeNotifier(replicaID: self.replicaID, local: sink)
    }

    /// Connects, migrates the schema, then opens a pool of at most `maxConnections` connections.
    public static func open(
        _ location: PostgresLocation, maxConnections: Int = 20, logger: Logger, metrics: StoreMetrics = .none
    ) async throws -> PostgresStore {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(),
                configuration: try location.connectionConfiguration(),
                id: 0,
                logger: logger
            ).get()
        } catch {
            throw OpenFailed(location: location, stage: "cannot connect", error: error)
        }
        let migration: (from: Int, to: Int)
        do {
            migration = try await PostgresMigrations.apply(on: connection, logger: logger)
        } catch let error as StorageError {
            try? await connection.close()
            throw error
        } catch {
            try? await connection.close()
            throw OpenFailed(location: location, stage: "cannot migrate the schema", error: error)
        }
        try? await connection.close()
        var configuration = location.clientConfiguration()
        // One connection more for the listener, which holds its own for as long as the store is open.
        configuration.options.maximumConnections = maxConnections + 1
        // All of them opened at start and kept: the pool gives a connection above its minimum an idle timer
        // each time it is handed back (a task group of two tasks, cancelled when it is leased again), which
        // cost about 15 % of the server's CPU per GET /chats on one replica (0.71 against 0.60 ms a request).
        configuration.options.minimumConnections = maxConnections + 1
        let store = PostgresStore(
            client: PostgresClient(configuration: configuration, backgroundLogger: logger),
            location: location, migration: migration, logger: logger, metrics: metrics)
        do {
            try await store.execute("INSERT INTO replicas (id) VALUES (\(store.replicaID))")
        } catch {
            await store.close()
            throw OpenFailed(location: location, stage: "cannot register this replica", error: error)
        }
        store.background.withLock { tasks in
            tasks = [Task { await store.renewLease() }, Task { await store.listen() }]
        }
        store.notifications.withLock { task in
            task = Task {
                await store.notifier.run(logger: logger) { payloads in try await store.notify(payloads) }
            }
        }
        return store
    }

    /// Why the store could not be opened, in one line naming the server (never the password) and the cause.
    public struct OpenFailed: Error, CustomStringConvertible {
        public let description: String

        init(location: PostgresLocation, stage: String, error: any Error) {
            self.description = "\(stage) to PostgreSQL at \(location): \(PostgresStore.reason(error))"
        }
    }

    /// What went wrong, as the server or the network said it (PSQLError's own description hides it).
    static func reason(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return String(describing: error) }
        if let message = error.serverInfo?[.message] { return message }
        if let underlying = error.underlying { return String(describing: underlying) }
        return "\(error.code)"
    }

    /// A closed store's error.
    public struct Closed: Error, CustomStringConvertible {
        public var description: String { "the database is closed" }
    }

    func checkOpen() throws {
        if self.isClosed.withLock({ $0 }) { throw Closed() }
    }

    /// Checks that the server answers and takes writes (a standby in recovery does not). At most one check a
    /// second reaches the server; the answers in between reuse its result, so health probes from load
    /// balancers never queue behind requests for a pooled connection.
    public func ping() async throws {
        try self.checkOpen()
        let now = ContinuousClock.now
        if let last = self.lastPing.withLock({ $0 }), now - last.at < .seconds(1) {
            if let failure = last.failure { throw failure }
            return
        }
        do {
            let writable = try await self.one("SELECT NOT pg_is_in_recovery()") { try $0.decode(Bool.self) }
            guard writable == true else { throw ReadOnly() }
            self.lastPing.withLock { $0 = (now, nil) }
        } catch {
            self.lastPing.withLock { $0 = (now, error) }
            throw error
        }
    }

    /// The server is a standby (in recovery): it answers, but cannot take writes.
    public struct ReadOnly: Error, CustomStringConvertible {
        public var description: String { "the PostgreSQL server is in recovery (read-only)" }
    }

    public func close() async {
        guard
            !self.isClosed.withLock({ closed in
                defer { closed = true }; return closed
            })
        else { return }
        let background = self.background.withLock { $0 }
        for task in background { task.cancel() }
        self.notifier.finish()
        await self.notifications.withLock { $0 }?.value
        // Leaving on purpose: the others need not wait for the lease to run out.
        _ = try? await Self.rows(
            "DELETE FROM replicas WHERE id = \(self.replicaID)", { _ in () }, client: self.client, logger: self.logger)
        self.eventSink.finish()
        // Stopping the pool closes its connections, the listener's too (a notification sequence does not end
        // on cancellation alone), so every background task ends.
        self.pool.cancel()
        await self.pool.value
        for task in background { await task.value }
    }

    public func run() async throws {
        // Hummingbird stops services after the server has drained, so no request still needs us.
        try? await gracefulShutdown()
        await self.close()
    }

    // MARK: Query helpers

    /// Runs a write to its end even when the calling task is cancelled, as the SQLite engine's actor does: a
    /// turn that is cancelled still saves how it ended. The pool would otherwise refuse a cancelled task's lease.
    private func uncancelled<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try self.checkOpen()
        do {
            return try await Task { [metrics] in
                // A deadlock (two writers taking a chat's and a message's row locks in opposite orders: a chat
                // deleted while its reply is saved) aborts one of them; it is run again, as PostgreSQL advises.
                var attempt = 1
                while true {
                    do {
                        let started = ContinuousClock.now
                        let result = try await operation()
                        metrics.commitDuration?.record(duration: ContinuousClock.now - started)
                        return result
                    } catch let error as PSQLError where ["40P01", "40001"].contains(error.sqlState) && attempt < 5 {
                        attempt += 1
                        try? await Task.sleep(for: .milliseconds(Int.random(in: 1...20)))
                    }
                }
            }.value
        } catch let error as PSQLError where error.sqlState == "22021" {
            // "invalid byte sequence for encoding UTF8: 0x00": a NUL in a bound string.
            throw StorageError.unsupportedCharacter
        }
    }

    /// Every row of a read, decoded. A read is cancelled with its caller (a long-poll whose client left).
    func rows<T: Sendable>(_ query: PostgresQuery, _ decode: @escaping @Sendable (PostgresRow) throws -> T)
        async throws -> [T]
    {
        try self.checkOpen()
        do {
            return try await Self.rows(query, decode, client: self.client, logger: self.logger)
        } catch  where Task.isCancelled {
            // The pool refuses a cancelled task's lease with an error of its own; callers expect this one.
            throw CancellationError()
        }
    }

    /// Every row of a prepared statement (prepared on each connection the first time it runs there), read as
    /// ``rows(_:_:)`` reads: cancelled with its caller.
    func rows<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        try self.checkOpen()
        do {
            return try await Self.rows(statement, client: self.client, logger: self.logger)
        } catch  where Task.isCancelled {
            throw CancellationError()
        }
    }

    /// Every row a prepared write returns, decoded; it completes even if its caller is cancelled, as
    /// ``write(_:_:)``.
    func write<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        try await self.uncancelled { [client, logger] in
            try await Self.rows(statement, client: client, logger: logger)
        }
    }

    private static func rows<Statement: PostgresPreparedStatement>(
        _ statement: Statement, client: PostgresClient, logger: Logger
    ) async throws -> [Statement.Row] {
        var result: [Statement.Row] = []
        for try await row in try await client.execute(statement, logger: logger) { result.append(row) }
        return result
    }

    /// The first row of a read, decoded (the rest are read and dropped).
    func one<T: Sendable>(_ query: PostgresQuery, _ decode: @escaping @Sendable (PostgresRow) throws -> T)
        async throws -> T?
    {
        try await self.rows(query, decode).first
    }

    /// Every row a write returns (`RETURNING`), decoded; the write completes even if its caller is cancelled.
    func write<T: Sendable>(_ query: PostgresQuery, _ decode: @escaping @Sendable (PostgresRow) throws -> T)
        async throws -> [T]
    {
        try await self.uncancelled { [client, logger] in
            try await Self.rows(query, decode, client: client, logger: logger)
        }
    }

    /// Runs a write that returns nothing of interest; it completes even if its caller is cancelled.
    func execute(_ query: PostgresQuery) async throws {
        _ = try await self.write(query) { _ in () }
    }

    /// Every row of a query on the pool, whether or not the store is closing (its last statements).
    static func rows<T>(
        _ query: PostgresQuery, _ decode: (PostgresRow) throws -> T, client: PostgresClient, logger: Logger
    ) async throws -> [T] {
        var result: [T] = []
        for try await row in try await client.query(query, logger: logger) {
            result.append(try decode(row))
        }
        return result
    }

    /// Runs `body` in one transaction (committed when it returns, rolled back when it throws).
    func transaction<T: Sendable>(_ body: @escaping @Sendable (Transaction) async throws -> T) async throws -> T {
        try await self.uncancelled { [client, logger] in
            do {
                return try await client.withTransaction(logger: logger) { connection in
                    try await body(Transaction(connection: connection, logger: logger))
                }
            } catch let error as PostgresTransactionError {
                // The closure's own error, not the failed rollback's wrapper, is what callers act on.
                throw error.closureError ?? error.beginError ?? error.commitError ?? error
            }
        }
    }

    /// A connection inside a transaction, with the same helpers.
    struct Transaction {
        let connection: PostgresConnection
        let logger: Logger

        func rows<T>(_ query: PostgresQuery, _ decode: (PostgresRow) throws -> T) async throws -> [T] {
            var result: [T] = []
            for try await row in try await self.connection.query(query, logger: self.logger) {
                result.append(try decode(row))
            }
            return result
        }

        func one<T>(_ query: PostgresQuery, _ decode: (PostgresRow) throws -> T) async throws -> T? {
            try await self.rows(query, decode).first
        }

        func execute(_ query: PostgresQuery) async throws {
            _ = try await self.rows(query) { _ in () }
        }
    }
}

extension PSQLError {
    /// The SQLSTATE the server answered with (`23505` is a unique violation), if it answered.
    var sqlState: String? { self.serverInfo?[.sqlState] }
}
