import CSQLite

/// An error reported by SQLite: its extended result code, its message, and the SQL that failed.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The extended result code (for example `SQLITE_CONSTRAINT_UNIQUE`).
    public let extendedCode: Int32
    public let message: String
    public let sql: String?

    public init(extendedCode: Int32, message: String, sql: String? = nil) {
        self.extendedCode = extendedCode
        self.message = message
        self.sql = sql
    }

    init(connection: OpaquePointer?, code: Int32, sql: String? = nil) {
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        self.init(
            extendedCode: connection.map { sqlite3_extended_errcode($0) } ?? code,
            message: message ?? String(cString: sqlite3_errstr(code)),
            sql: sql
        )
    }

    // The extended codes are function-like macros in sqlite3.h, which Swift does not import.
    static let constraintPrimaryKey = SQLITE_CONSTRAINT | (6 << 8)
    static let constraintUnique = SQLITE_CONSTRAINT | (8 << 8)

    /// A statement stopped by `sqlite3_interrupt` or the progress handler (``SQLiteConnection/stopping(at:interval:_:)``).
    public var isInterrupt: Bool { self.extendedCode == SQLITE_INTERRUPT }

    static let constraintForeignKey = SQLITE_CONSTRAINT | (3 << 8)

    /// A row referred to a row that does not exist (or no longer does).
    public var isForeignKeyViolation: Bool { self.extendedCode == Self.constraintForeignKey }

    public var isUniqueConstraintViolation: Bool {
        self.extendedCode == Self.constraintUnique || self.extendedCode == Self.constraintPrimaryKey
    }

    public var description: String {
        var text = "SQLite error \(self.extendedCode): \(self.message)"
        if let sql { text += " (in: \(sql))" }
        return text
    }
}
