import ChatStorage
import PostgresNIO

/// A row's cells read in order, each decoded as a concrete type. postgres-nio's `row.decode((A, B, …).self)`
/// reaches every column through an unspecialised generic (`decodeNextColumn<A, B>`) that looks up the column
/// type's metadata at run time; `next(_:)` is specialised at each call site instead.
struct RowCells {
    private var cells: PostgresRow.Iterator
    /// What a missing column is reported as (the table or the statement).
    private let source: String

    init(_ row: PostgresRow, of source: String) {
        self.cells = row.makeIterator()
        self.source = source
    }

    mutating func next<T: PostgresDecodable>(_: T.Type = T.self) throws -> T {
        guard let cell = self.cells.next() else { throw StorageError.corruptRow(self.source) }
        return try cell.decode(T.self, context: .default)
    }
}
