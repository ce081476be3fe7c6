import CSQLite
import ChatStorage
import Foundation

/// A prepared statement. Prepared in `init`, finalized in `deinit`.
///
/// Not Sendable: it belongs to one ``SQLiteConnection`` and is used only on that connection's thread.
final class Statement {
    let handle: OpaquePointer
    let sql: String
    private unowned let connection: SQLiteConnection

    init(connection: SQLiteConnection, sql: String, persistent: Bool) throws {
        var statement: OpaquePointer?
        let flags: UInt32 = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let code = sqlite3_prepare_v3(connection.handle, sql, -1, flags, &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw SQLiteError(connection: connection.handle, code: code, sql: sql)
        }
        self.handle = statement
        self.sql = sql
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(self.handle)
    }

    /// Resets the statement and binds `values` to its parameters, 1-based in order.
    func bind(_ values: [SQLiteValue]) throws {
        sqlite3_reset(self.handle)
        sqlite3_clear_bindings(self.handle)
        let expected = Int(sqlite3_bind_parameter_count(self.handle))
        guard expected == values.count else {
            throw SQLiteError(
                extendedCode: SQLITE_RANGE,
                message: "statement expects \(expected) arguments, got \(values.count)",
                sql: self.sql
            )
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .null: code = sqlite3_bind_null(self.handle, index)
            case .integer(let int): code = sqlite3_bind_int64(self.handle, index, int)
            case .real(let double): code = sqlite3_bind_double(self.handle, index, double)
            case .text(let string):
                // PostgreSQL's text cannot hold U+0000: neither engine stores it, so both refuse it alike (the
                // routes refuse it first, naming the field).
                if string.utf8.contains(0) { throw StorageError.unsupportedCharacter }
                code = string.withCString { pointer in
                    sqlite3_bind_text(self.handle, index, pointer, Int32(string.utf8.count), csqlite_transient())
                }
            }
            guard code == SQLITE_OK else {
                throw SQLiteError(connection: self.connection.handle, code: code, sql: self.sql)
            }
        }
    }

    /// True when the statement cannot change the database.
    var isReadOnly: Bool { sqlite3_stmt_readonly(self.handle) != 0 }

    /// Advances to the next row. Returns `false` when the statement is done.
    func step() throws -> Bool {
        let code = sqlite3_step(self.handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = SQLiteError(connection: self.connection.handle, code: code, sql: self.sql)
            sqlite3_reset(self.handle)
            throw error
        }
    }

    /// Releases the statement's read or write lock on the database and its bound strings.
    func reset() {
        sqlite3_reset(self.handle)
        sqlite3_clear_bindings(self.handle)
    }
}

/// The current row of a stepping statement.
///
/// Valid only inside the closure it is passed to: the statement moves on (or is reset) when the closure
/// returns. It is deliberately not Sendable.
public struct Row {
    let statement: OpaquePointer

    public func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(self.statement, column) == SQLITE_NULL
    }

    public func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(self.statement, column)
    }

    public func int(_ column: Int32) -> Int {
        Int(sqlite3_column_int64(self.statement, column))
    }

    public func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(self.statement, column) else { return "" }
        let count = Int(sqlite3_column_bytes(self.statement, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// The case of `T` whose raw value the column's text equals, compared as bytes (no string is made).
    public func text<T: RawRepresentable & CaseIterable>(_ column: Int32, as type: T.Type) -> T?
    where T.RawValue == String {
        guard let bytes = sqlite3_column_text(self.statement, column) else { return nil }
        let text = UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(self.statement, column)))
        return T.allCases.first { $0.rawValue.utf8.elementsEqual(text) }
    }

    /// The column's text parsed as a canonical UUID in place (no string is made); nil when it is not one.
    public func uuid(_ column: Int32) -> UUID? {
        guard let bytes = sqlite3_column_text(self.statement, column) else { return nil }
        let count = Int(sqlite3_column_bytes(self.statement, column))
        return UUID(canonicalUTF8: UnsafeRawBufferPointer(start: bytes, count: count))
    }

    public func optionalText(_ column: Int32) -> String? {
        self.isNull(column) ? nil : self.text(column)
    }
}
