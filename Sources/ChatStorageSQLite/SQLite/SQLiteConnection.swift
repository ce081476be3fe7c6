import CSQLite
import Foundation

/// One SQLite connection with a cache of prepared statements.
///
/// Not Sendable and not thread-safe (opened with `SQLITE_OPEN_NOMUTEX`): exactly one owner, the
/// ``DatabaseActor``, uses it, and only on that actor's dedicated thread.
public final class SQLiteConnection {
    let handle: OpaquePointer
    private var statements: [String: Statement] = [:]
    public let path: String

    /// Opens (creating if needed) the database at `path` and applies the connection settings:
    /// WAL journal, foreign keys on, a busy timeout and the requested synchronous level.
    public init(path: String, synchronous: SynchronousMode = .full, busyTimeoutMilliseconds: Int32 = 5000) throws {
        var connection: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let code = sqlite3_open_v2(path, &connection, flags, nil)
        guard code == SQLITE_OK, let connection else {
            let error = SQLiteError(connection: connection, code: code)
            sqlite3_close_v2(connection)
            throw error
        }
        self.handle = connection
        self.path = path
        sqlite3_extended_result_codes(connection, 1)
        sqlite3_busy_timeout(connection, busyTimeoutMilliseconds)
        // journal_mode answers with a row, so it goes through a statement.
        let mode = try self.queryOne("PRAGMA journal_mode = WAL", cached: false) { $0.text(0) }
        if mode?.lowercased() != "wal" && path != ":memory:" {
            throw SQLiteError(
                extendedCode: SQLITE_ERROR, message: "could not enable WAL (journal_mode is \(mode ?? "?"))")
        }
        try self.execute("PRAGMA foreign_keys = ON")
        try self.execute("PRAGMA synchronous = \(synchronous.rawValue)")
    }

    deinit {
        // Statements must be finalized before the connection closes.
        self.statements.removeAll()
        sqlite3_close_v2(self.handle)
    }

    /// How hard SQLite works to make each commit survive a power loss.
    public enum SynchronousMode: String, Sendable {
        /// Every commit is synced to disk before it returns: a commit that returned survives power loss.
        case full = "FULL"
        /// Commits survive a crash of the process but the newest may be lost on power loss.
        case normal = "NORMAL"
    }

    /// Runs one or more SQL statements that return no rows (no parameters, not cached).
    public func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(self.handle, sql, nil, nil, &errorMessage)
        if code != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_free(errorMessage)
            throw SQLiteError(extendedCode: sqlite3_extended_errcode(self.handle), message: message, sql: sql)
        }
    }

    /// Runs a statement that returns no rows and answers how many rows it changed.
    @discardableResult
    public func run(_ sql: String, _ arguments: [SQLiteValue] = [], cached: Bool = true) throws -> Int {
        let statement = try self.statement(sql, cached: cached)
        defer { statement.reset() }
        try statement.bind(arguments)
        while try statement.step() {}
        return Int(sqlite3_changes(self.handle))
    }

    /// Runs a query and maps every row.
    public func query<T>(
        _ sql: String,
        _ arguments: [SQLiteValue] = [],
        cached: Bool = true,
        _ map: (Row) throws -> T
    ) throws -> [T] {
        // Wrapped, a mapped value is never nil (even when T is itself optional), so every row is read.
        try self.query(sql, arguments, cached: cached, until: { row -> T? in try map(row) })
    }

    /// Runs a read and maps its rows until `map` answers nil: the rows after that are never stepped to.
    public func query<T>(
        _ sql: String,
        _ arguments: [SQLiteValue] = [],
        cached: Bool = true,
        until map: (Row) throws -> T?
    ) throws -> [T] {
        let statement = try self.statement(sql, cached: cached)
        defer { statement.reset() }
        try statement.bind(arguments)
        var rows: [T] = []
        while try statement.step(), let row = try map(Row(statement: statement.handle)) {
            rows.append(row)
        }
        return rows
    }

    /// Runs a query and maps its first row, if any.
    public func queryOne<T>(
        _ sql: String,
        _ arguments: [SQLiteValue] = [],
        cached: Bool = true,
        _ map: (Row) throws -> T
    ) throws -> T? {
        let statement = try self.statement(sql, cached: cached)
        defer { statement.reset() }
        try statement.bind(arguments)
        guard try statement.step() else { return nil }
        let value = try map(Row(statement: statement.handle))
        if !statement.isReadOnly {
            // A write with RETURNING must run to SQLITE_DONE: if it were only reset, it would commit inside
            // sqlite3_reset while still active, the WAL auto-checkpoint could not finish, and the WAL file
            // would grow without bound.
            while try statement.step() {}
        }
        return value
    }

    /// Runs `body` inside `BEGIN IMMEDIATE ... COMMIT`; rolls back if it throws.
    ///
    /// IMMEDIATE takes the write lock up front, so a transaction never fails half-way with `SQLITE_BUSY`
    /// because another process (for example `chat-server promote`) wrote in between.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try self.run("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try self.run("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(self.handle) == 0 {
                _ = try? self.run("ROLLBACK")
            }
            throw error
        }
    }

    /// Runs `body` with its statements stopped once `deadline` has passed: SQLite's progress handler, called
    /// every `interval` virtual-machine instructions, then interrupts the running statement, which fails with
    /// `SQLITE_INTERRUPT` (``SQLiteError/isInterrupt``). FTS5 reads its index through statements of its own,
    /// which count too: a long match is stopped within it (about every millisecond at the default interval).
    public func stopping<T>(at deadline: ContinuousClock.Instant, interval: Int32 = 100, _ body: () throws -> T)
        throws -> T
    {
        let limit = UnsafeMutablePointer<ContinuousClock.Instant>.allocate(capacity: 1)
        limit.initialize(to: deadline)
        defer {
            sqlite3_progress_handler(self.handle, 0, nil, nil)
            limit.deinitialize(count: 1)
            limit.deallocate()
        }
        sqlite3_progress_handler(
            self.handle, interval,
            { context in
                guard let context else { return 0 }
                return ContinuousClock.now >= context.assumingMemoryBound(to: ContinuousClock.Instant.self).pointee
                    ? 1 : 0
            }, limit)
        return try body()
    }

    /// The virtual-machine instructions the cached statement `sql` ran since the last call (0 if it never ran):
    /// how much work it did, the rows it visited included.
    public func virtualMachineSteps(of sql: String) -> Int {
        guard let statement = self.statements[sql] else { return 0 }
        return Int(sqlite3_stmt_status(statement.handle, SQLITE_STMTSTATUS_VM_STEP, 1))
    }

    /// Prepared statements are cached by their SQL text and prepared with `SQLITE_PREPARE_PERSISTENT`.
    private func statement(_ sql: String, cached: Bool) throws -> Statement {
        guard cached else { return try Statement(connection: self, sql: sql, persistent: false) }
        if let statement = self.statements[sql] { return statement }
        let statement = try Statement(connection: self, sql: sql, persistent: true)
        self.statements[sql] = statement
        return statement
    }
}
