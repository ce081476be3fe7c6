import ChatStorage
import Foundation
import Logging
import ServiceLifecycle

/// The single owner of the application's SQLite connection.
///
/// - Isolation: every access to the database goes through this actor, so statements never interleave.
/// - Threading: the actor runs on a ``DedicatedThreadExecutor``; SQLite's blocking disk I/O happens on
///   that thread and never on Swift's cooperative pool.
/// - Durability: each method that writes commits before it returns (one transaction per method when it
///   changes several rows); with the default `synchronous = FULL` a returned write survives power loss.
///
/// As a `Service` it waits for graceful shutdown, then checkpoints the WAL and refuses further work.
public actor DatabaseActor: ChatStore {
    private let executor: DedicatedThreadExecutor
    let connection: SQLiteConnection
    private var isClosed = false
    private var pendingWrites: [PendingWrite] = []
    private var isFlushScheduled = false
    /// When ``ping()`` last took the write lock, and what went wrong if it could not.
    private var lastWriteCheck: (at: ContinuousClock.Instant, failure: (any Error)?)?
    /// Transactions committed by group commit, and the writes they carried (for tests and diagnostics).
    public private(set) var groupCommitStats = (commits: 0, writes: 0)
    /// Users by id for authentication: filled by ``user(id:)``, emptied by the changes of ``ChatStore/apply(_:)``.
    public nonisolated let userCache = UserCache()
    /// Keys recently read by hash (see ``APIKeyCache`` for why it stays fresh).
    public nonisolated let apiKeyCache = APIKeyCache()
    /// Where the database lives on disk.
    public nonisolated let path: String
    /// Each group commit's duration and size.
    nonisolated let metrics: StoreMetrics
    /// The schema versions before and after the migrations applied when this actor opened the file.
    public nonisolated let migration: (from: Int, to: Int)

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        self.executor.asUnownedSerialExecutor()
    }

    private init(
        executor: DedicatedThreadExecutor,
        connection: sending SQLiteConnection,
        path: String,
        migration: (from: Int, to: Int),
        metrics: StoreMetrics
    ) {
        self.metrics = metrics
        self.executor = executor
        self.connection = connection
        self.path = path
        self.migration = migration
    }

    deinit {
        // No job can be queued any more: the last reference is gone. Let the thread finish.
        self.executor.shutdown()
    }

    /// Opens (creating if needed) the database at `path` on a new dedicated thread and applies every
    /// pending migration.
    public static func open(
        path: String,
        synchronous: SQLiteConnection.SynchronousMode = .full,
        metrics: StoreMetrics = .none
    ) async throws -> DatabaseActor {
        let executor = DedicatedThreadExecutor(name: "sqlite")
        do {
            let opened = try await executor.run { () throws -> sending OpenedConnection in
                let connection = try SQLiteConnection(path: path, synchronous: synchronous)
                let versions = try Migrations.apply(to: connection)
                try connection.execute(DatabaseActor.createCallHolds)
                return OpenedConnection(connection: connection, migration: versions)
            }
            return DatabaseActor(
                executor: executor,
                connection: opened.connection,
                path: path,
                migration: opened.migration,
                metrics: metrics
            )
        } catch {
            executor.shutdown()
            throw error
        }
    }

    private struct OpenedConnection {
        let connection: SQLiteConnection
        let migration: (from: Int, to: Int)
    }

    /// One process owns the file: nothing to hear from others, a reply being generated is this process's, and
    /// its rate limits and upstream calls are counted in its memory.
    public nonisolated var shared: (any SharedStore)? { nil }

    /// Checks that the database answers and can take a write: it takes the write lock (`BEGIN IMMEDIATE`,
    /// waiting at most the busy timeout) and releases it at once, writing nothing. A database that another
    /// process keeps locked, or a read-only file, throws. Used by GET /health; the write check runs at most once
    /// a second, and the answers in between reuse its result, so health checks cost no more than a read.
    public func ping() throws {
        try self.checkOpen()
        let now = ContinuousClock.now
        if let last = self.lastWriteCheck, now - last.at < .seconds(1) {
            if let failure = last.failure { throw failure }
            return
        }
        do {
            try self.connection.execute("BEGIN IMMEDIATE")
            try self.connection.execute("ROLLBACK")
            self.lastWriteCheck = (now, nil)
        } catch {
            self.lastWriteCheck = (now, error)
            throw error
        }
    }

    /// The schema version recorded in the file (`PRAGMA user_version`).
    public func schemaVersion() throws -> Int {
        try self.checkOpen()
        return try self.connection.queryOne("PRAGMA user_version", cached: false) { $0.int(0) } ?? 0
    }

    /// Runs `PRAGMA integrity_check`; "ok" when the file is sound.
    public func integrityCheck() throws -> String {
        try self.checkOpen()
        return try self.connection.query("PRAGMA integrity_check", cached: false) { $0.text(0) }
            .joined(separator: "\n")
    }

    /// The plan SQLite chooses for `sql` (one line per step), for tests that pin index use.
    public func queryPlan(_ sql: String, _ arguments: [SQLiteValue]) throws -> [String] {
        try self.checkOpen()
        return try self.connection.query("EXPLAIN QUERY PLAN " + sql, arguments, cached: false) { $0.text(3) }
    }

    /// The virtual-machine instructions the statement `sql` ran since the last call, for tests that measure a
    /// statement's work (``SQLiteConnection/virtualMachineSteps(of:)``).
    public func virtualMachineSteps(of sql: String) -> Int {
        self.connection.virtualMachineSteps(of: sql)
    }

    /// `PRAGMA integrity_check`: `["ok"]` for a sound file, else one line per problem.
    public func integrityCheck() throws -> [String] {
        try self.checkOpen()
        return try self.connection.query("PRAGMA integrity_check", [], cached: false) { $0.text(0) }
    }

    /// Writes the WAL back into the main file and refuses further work.
    public func close() {
        guard !self.isClosed else { return }
        try? self.connection.execute("PRAGMA optimize")
        try? self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.isClosed = true
    }

    public nonisolated func run() async throws {
        // Hummingbird stops services after the server has drained, so no request still needs us.
        try? await gracefulShutdown()
        await self.close()
    }

    func enqueueWrite(_ write: PendingWrite) {
        self.pendingWrites.append(write)
        guard !self.isFlushScheduled else { return }
        self.isFlushScheduled = true
        // A task started here is isolated to this actor: it is queued behind the jobs already waiting on the
        // database thread, and the writes those jobs enqueue join the same batch.
        Task { self.flushWrites() }
    }

    func takePendingWrites() -> [PendingWrite] {
        self.isFlushScheduled = false
        if !self.pendingWrites.isEmpty {
            self.groupCommitStats.commits += 1
            self.groupCommitStats.writes += self.pendingWrites.count
        }
        defer { self.pendingWrites = [] }
        return self.pendingWrites
    }

    func checkOpen() throws {
        if self.isClosed {
            throw SQLiteError(extendedCode: 21, message: "the database is closed")  // SQLITE_MISUSE
        }
    }
}
