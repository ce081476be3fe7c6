import ChatStorage
import CoreMetrics
import Foundation
import Logging
import Metrics
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Synchronization
import _ConnectionPoolModule

/// The PostgreSQL engine: a ``ChatStore`` over postgres-nio's `PostgresClient` (a connection pool), for
/// deployments of one or several `chat-server` processes on one database.
///
/// - Isolation: each method is one statement or one transaction on a pooled connection; concurrent calls run
///   concurrently, and PostgreSQL orders them. Inserting a message first locks its chat's row, so the ids of a
///   chat's messages grow in the order their transactions commit (a sequence alone would not: a later id can
///   commit first).
/// - Durability: a method returns after its `COMMIT` (the server's `synchronous_commit`, on by default).
/// - Start: the schema is migrated on one connection under an advisory lock, and this replica registered on
///   it, before the pool opens, so a wrong URL, a refused login or an unreachable server fail `open` at once,
///   and replicas starting together do not race.
///
/// Its background work (the pool, the statement watchdog, the notification listener, the sender of
/// ``ChangeNotifier`` and the replica's lease) runs as child tasks of one task, ``runBackground()``, started by
/// ``open(_:maxConnections:connectionWait:logger:metrics:)`` (the store answers from then on, before any service
/// runs and in commands that run none) and ended by ``close()``, which waits for it. As a `Service` it closes at
/// graceful shutdown, and its `run()` returns once that work has ended; work submitted after that throws.
public final class PostgresStore: ChatStore {
    let client: PostgresClient
    let logger: Logger
    /// Users by id for authentication: filled by ``user(id:)``, emptied by the changes of ``ChatStore/apply(_:)``
    /// and by other replicas' user events.
    public let userCache = UserCache()
    public let location: PostgresLocation
    public let migration: (from: Int, to: Int)
    /// This process among the replicas (`replicas.id`; `messages.replica_id` of the replies it generates).
    public let replicaID: UUID
    public let events: AsyncStream<StoreEvent>
    let eventSink: AsyncStream<StoreEvent>.Continuation
    /// Carries each committed change of messages to the other replicas.
    let notifier: ChangeNotifier
    /// The task of ``runBackground()``, whose children are the store's background work.
    private let background = Mutex<Task<Void, Never>?>(nil)
    /// Ends when ``close()`` finishes its continuation: the background work winds down.
    private let stopRequests: AsyncStream<Void>
    private let stopper: AsyncStream<Void>.Continuation
    private let isClosed = Mutex(false)
    /// Each write's duration, to its commit.
    private let metrics: StoreMetrics
    /// How long a statement may wait for a pooled connection, or on a closed one (``StorageError/unavailable``).
    let watch: StatementWatch
    /// When ``ping()`` last asked the server, and what went wrong if it did.
    private let lastPing = Mutex<(at: ContinuousClock.Instant, failure: (any Error)?)?>(nil)

    /// How long a replica's replies survive it: a replica that has not renewed its lease for this long is
    /// taken for dead, and its `streaming` replies are marked failed by the others.
    public static let lease: Duration = .seconds(10)
    /// How often each replica renews its lease and looks for dead replicas' replies.
    public static let heartbeat: Duration = .seconds(2)

    private init(
        client: PostgresClient, location: PostgresLocation, migration: (from: Int, to: Int), replicaID: UUID,
        logger: Logger, metrics: StoreMetrics, connectionWait: Duration
    ) {
        self.metrics = metrics
        self.watch = StatementWatch(limit: connectionWait)
        self.client = client
        self.location = location
        self.migration = migration
        self.replicaID = replicaID
        self.logger = logger
        (self.stopRequests, self.stopper) = AsyncStream.makeStream(of: Void.self)
        // Bounded: a consumer that falls this far behind loses the oldest wake-ups, never memory.
        let (events, sink) = AsyncStream.makeStream(of: StoreEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        self.events = events
        self.eventSink = sink
        self.notifier = ChangeNotifier(replicaID: self.replicaID, local: sink)
    }

    /// Connects, migrates the schema, then opens a pool of at most `maxConnections` connections. A statement
    /// waits at most `connectionWait` for one of them (then throws ``StorageError/unavailable``).
    public static func open(
        _ location: PostgresLocation, maxConnections: Int = 20, connectionWait: Duration = .seconds(5),
        logger: Logger, metrics: StoreMetrics = .none
    ) async throws -> PostgresStore {
        let replicaID = UUID()
        let migration = try await Self.prepare(location, replicaID: replicaID, logger: logger)
        var configuration = location.clientConfiguration()
        // One connection more for the listener, which holds its own for as long as the store is open.
        configuration.options.maximumConnections = maxConnections + 1
        // All of them opened at start and kept: the pool gives a connection above its minimum an idle timer
        // each time it is handed back (a task group of two tasks, cancelled when it is leased again), which
        // cost about 15 % of the server's CPU per GET /chats on one replica (0.71 against 0.60 ms a request).
        configuration.options.minimumConnections = maxConnections + 1
        let store = PostgresStore(
            client: PostgresClient(configuration: configuration, backgroundLogger: logger),
            location: location, migration: migration, replicaID: replicaID, logger: logger, metrics: metrics,
            connectionWait: connectionWait)
        store.background.withLock { $0 = Task { await store.runBackground() } }
        return store
    }

    /// On a connection of its own: migrates the schema and registers the replica; returns the schema's versions
    /// before and after.
    private static func prepare(_ location: PostgresLocation, replicaID: UUID, logger: Logger) async throws -> (
        from: Int, to: Int
    ) {
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
        do {
            let migration = try await Self.migrateAndRegister(
                location, replicaID: replicaID, on: connection, logger: logger)
            try? await connection.close()
            return migration
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private static func migrateAndRegister(
        _ location: PostgresLocation, replicaID: UUID, on connection: PostgresConnection, logger: Logger
    ) async throws -> (from: Int, to: Int) {
        let migration: (from: Int, to: Int)
        do {
            migration = try await PostgresMigrations.apply(on: connection, logger: logger)
        } catch let error as StorageError {
            throw error
        } catch {
            throw OpenFailed(location: location, stage: "cannot migrate the schema", error: error)
        }
        do {
            try await connection.query("INSERT INTO replicas (id) VALUES (\(replicaID))", logger: logger)
        } catch {
            throw OpenFailed(location: location, stage: "cannot register this replica", error: error)
        }
        return migration
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

    /// Refuses new work, then ends the background work in order and waits until it ended.
    public func close() async {
        self.beginClosing()
        await self.background.withLock { $0 }?.value
    }

    /// Waits for graceful shutdown (Hummingbird stops services after the server has drained, so no request still
    /// needs the store) or cancellation, then closes: returns once the background work has ended. A ``close()``
    /// by someone else meanwhile does not end it early (a service group takes that for a failure).
    public func run() async throws {
        try? await gracefulShutdown()
        await self.close()
    }

    /// New work throws ``Closed`` from now on, and the background work winds down.
    private func beginClosing() {
        self.isClosed.withLock { $0 = true }
        self.stopper.finish()
    }

    /// The store's background work, each part a child task, nested so that they end in the order ``close()``
    /// needs: the lease stops first; then the notifier sends what is still pending (its sender is not
    /// cancelled); the replica leaves the `replicas` table on purpose (the others need not wait for its lease
    /// to run out) and the event stream ends; then the pool stops, which closes its connections, the
    /// listener's too (a notification sequence does not end on cancellation alone); the watchdog is last, so
    /// that until then a statement stranded on a closed connection is still given up on.
    private func runBackground() async {
        await withTaskGroup(of: Void.self) { watchdog in
            watchdog.addTask { await self.watchStatements() }
            await withTaskGroup(of: Void.self) { pool in
                pool.addTask { await self.client.run() }
                pool.addTask { await self.listen() }
                await withTaskGroup(of: Void.self) { notifications in
                    notifications.addTask {
                        await self.notifier.run(logger: self.logger) { payloads in try await self.notify(payloads) }
                    }
                    await withTaskGroup(of: Void.self) { lease in
                        lease.addTask { await self.renewLease() }
                        for await _ in self.stopRequests {}
                        lease.cancelAll()
                    }
                    self.notifier.finish()
                }
                try? await self.closingWrite("DELETE FROM replicas WHERE id = \(self.replicaID)")
                self.eventSink.finish()
                pool.cancelAll()
            }
            watchdog.cancelAll()
        }
    }

    // MARK: Query helpers

    /// Runs `body` on a pooled connection, in a task of its own. Cancelled with the caller if
    /// `cancelledWithCaller` (a read), else run to its end whatever happens to the caller (a write).
    ///
    /// Bounded by ``watch``: past its limit waiting for a connection, the caller gets
    /// ``StorageError/unavailable`` and the statement is not sent; a connection leased already closed is given
    /// back and another one asked for (nothing was sent on it); a statement whose connection closed under it and
    /// that the driver does not answer is given up on after the watch's grace.
    /// `whileClosing`: also once ``close()`` began (its last statements).
    func leased<T: Sendable>(
        cancelledWithCaller: Bool, whileClosing: Bool = false,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        if !whileClosing { try self.checkOpen() }
        let watch = self.watch
        let outcome = StatementOutcome<T>()
        let id = watch.begin { outcome.resolve(.failure(StorageError.unavailable)) }
        let task = Task { [client, logger] in
            do {
                while true {
                    let lease = try await client.withConnection { connection -> (StatementWatch.Lease, T?) in
                        let lease = watch.leased(id, on: connection)
                        guard lease == .run else { return (lease, nil) }
                        return (lease, try await body(connection))
                    }
                    switch lease {
                    case (.run, let value?): return outcome.resolve(.success(value))
                    case (.closed, _):
                        logger.debug("a pooled connection was closed when leased: asking for another")
                        try await Task.sleep(for: .milliseconds(10))
                    default: return outcome.resolve(.failure(StorageError.unavailable))
                    }
                }
            } catch {
                outcome.resolve(.failure(error))
            }
        }
        defer {
            watch.end(id)
            // Ends a wait for a connection that was given up on (a finished task ignores it).
            task.cancel()
        }
        do {
            if cancelledWithCaller {
                return try await withTaskCancellationHandler {
                    try await outcome.value
                } onCancel: {
                    task.cancel()
                }
            }
            return try await outcome.value
        } catch StorageError.unavailable {
            throw StorageError.unavailable
        } catch {
            // The pool refuses a cancelled task's lease with an error of its own; callers expect this one.
            if cancelledWithCaller && Task.isCancelled { throw CancellationError() }
            if let error = error as? PSQLError, error.sqlState == "22021" {
                // "invalid byte sequence for encoding UTF8: 0x00": a NUL in a bound string, read or write.
                throw StorageError.unsupportedCharacter
            }
            throw Self.unavailability(error) ?? error
        }
    }

    /// Gives up on the statements ``watch`` finds overdue, four times a second, until cancelled.
    private func watchStatements() async {
        while !Task.isCancelled {
            if self.watch.tick() > 0 {
                self.logger.warning(
                    "gave up on statements that got no connection in time, or whose connection closed under them",
                    metadata: ["limit": "\(self.watch.limit)"])
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// ``StorageError/unavailable`` for the errors that say the server cannot be reached: the pool gave up
    /// opening connections (its circuit breaker) or was closed, the connection was closed or broke (a statement
    /// sent on a connection the server had just ended is failed as closed by the client), or the server ended it or
    /// refused it (SQLSTATE class 08, connection exceptions; 53300, too many connections; 57P01 to 57P03, a
    /// server shutting down, crashed or starting).
    static func unavailability(_ error: any Error) -> StorageError? {
        if error is ConnectionPoolError { return .unavailable }
        guard let error = error as? PSQLError else { return nil }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            return .unavailable
        case .server:
            guard let state = error.sqlState else { return nil }
            return state.hasPrefix("08") || ["53300", "57P01", "57P02", "57P03"].contains(state) ? .unavailable : nil
        default: return nil
        }
    }

    /// Runs a write to its end even when the calling task is cancelled, as the SQLite engine's actor does: a
    /// turn that is cancelled still saves how it ended.
    private func uncancelled<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T)
        async throws -> T
    {
        // A deadlock (two writers taking a chat's and a message's row locks in opposite orders: a chat deleted
        // while its reply is saved) aborts one of them; it is run again, as PostgreSQL advises.
        var attempt = 1
        while true {
            do {
                let started = ContinuousClock.now
                let result = try await self.leased(cancelledWithCaller: false, body)
                self.metrics.commitDuration?.record(duration: ContinuousClock.now - started)
                return result
            } catch let error as PSQLError where ["40P01", "40001"].contains(error.sqlState) && attempt < 5 {
                attempt += 1
                try? await Task.sleep(for: .milliseconds(Int.random(in: 1...20)))
            }
        }
    }

    /// Every row of a read, decoded. A read is cancelled with its caller (a long-poll whose client left).
    func rows<T: Sendable>(_ query: PostgresQuery, _ decode: @escaping @Sendable (PostgresRow) throws -> T)
        async throws -> [T]
    {
        try await self.leased(cancelledWithCaller: true) { [logger] connection in
            try await Self.rows(query, decode, on: connection, logger: logger)
        }
    }

    /// Every row of a prepared statement (prepared on each connection the first time it runs there), read as
    /// ``rows(_:_:)`` reads: cancelled with its caller.
    func rows<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        try await self.leased(cancelledWithCaller: true) { [logger] connection in
            try await Self.rows(statement, on: connection, logger: logger)
        }
    }

    /// Every row a prepared write returns, decoded; it completes even if its caller is cancelled, as
    /// ``write(_:_:)``.
    func write<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        try await self.uncancelled { [logger] connection in
            try await Self.rows(statement, on: connection, logger: logger)
        }
    }

    private static func rows<Statement: PostgresPreparedStatement>(
        _ statement: Statement, on connection: PostgresConnection, logger: Logger
    ) async throws -> [Statement.Row] {
        var result: [Statement.Row] = []
        for try await row in try await connection.execute(statement, logger: logger) { result.append(row) }
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
        try await self.uncancelled { [logger] connection in
            try await Self.rows(query, decode, on: connection, logger: logger)
        }
    }

    /// Runs a write that returns nothing of interest; it completes even if its caller is cancelled.
    func execute(_ query: PostgresQuery) async throws {
        _ = try await self.write(query) { _ in () }
    }

    /// A write that runs to its end, whether or not the store is closing (its last statements).
    func closingWrite(_ query: PostgresQuery) async throws {
        _ = try await self.leased(cancelledWithCaller: false, whileClosing: true) { [logger] connection in
            try await Self.rows(query, { _ in () }, on: connection, logger: logger)
        }
    }

    private static func rows<T>(
        _ query: PostgresQuery, _ decode: (PostgresRow) throws -> T, on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [T] {
        var result: [T] = []
        for try await row in try await connection.query(query, logger: logger) {
            result.append(try decode(row))
        }
        return result
    }

    /// Runs `body` in one transaction (committed when it returns, rolled back when it throws).
    func transaction<T: Sendable>(_ body: @escaping @Sendable (Transaction) async throws -> T) async throws -> T {
        try await self.uncancelled { [logger] connection in
            do {
                return try await connection.withTransaction(logger: logger) { connection in
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
