import ChatStorage
import Foundation
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

    /// Passes over the next `count` columns (read by another decoder).
    mutating func skip(_ count: Int) throws {
        for _ in 0..<count where self.cells.next() == nil { throw StorageError.corruptRow(self.source) }
    }
}

extension RowCells {
    /// The next columns as a message: ``PostgresStore/messageColumns``.
    mutating func message() throws -> MessageRecord {
        let id = try self.next(Int64.self)
        let chatID = try self.next(UUID.self)
        let role = try self.next(String.self)
        let content = try self.next(String.self)
        let createdAt = try self.next(Int64.self)
        let status = try self.next(String.self)
        let error = try self.next(String?.self)
        let model = try self.next(String?.self)
        let promptTokens = try self.next(Int64?.self)
        let completionTokens = try self.next(Int64?.self)
        let parentID = try self.next(Int64?.self)
        let onPath = try self.next(Bool.self)
        return try PostgresStore.makeMessage(
            id: id, chatID: chatID, role: role, content: content, createdAt: createdAt, status: status, error: error,
            model: model, promptTokens: promptTokens, completionTokens: completionTokens, parentID: parentID,
            onActivePath: onPath)
    }

    /// The next columns as a message of the active path joined to its row (`LEFT JOIN LATERAL`): id, chat_id,
    /// role, content, created_at, status, error, model, prompt_tokens, completion_tokens, parent_id; nil when
    /// the join found none (those columns are null).
    mutating func joinedMessage() throws -> MessageRecord? {
        let id = try self.next(Int64?.self)
        let chatID = try self.next(UUID?.self)
        let role = try self.next(String?.self)
        let content = try self.next(String?.self)
        let createdAt = try self.next(Int64?.self)
        let status = try self.next(String?.self)
        let error = try self.next(String?.self)
        let model = try self.next(String?.self)
        let promptTokens = try self.next(Int64?.self)
        let completionTokens = try self.next(Int64?.self)
        let parentID = try self.next(Int64?.self)
        guard let id, let chatID, let role, let content, let createdAt, let status else { return nil }
        return try PostgresStore.makeMessage(
            id: id, chatID: chatID, role: role, content: content, createdAt: createdAt, status: status, error: error,
            model: model, promptTokens: promptTokens, completionTokens: completionTokens, parentID: parentID,
            onActivePath: true)
    }
}

extension RowCells {
    /// The next four columns as usage totals: requests, prompt tokens, completion tokens, estimated requests.
    mutating func usageTotals() throws -> UsageTotals {
        UsageTotals(
            requests: try self.next(Int64.self), promptTokens: try self.next(Int64.self),
            completionTokens: try self.next(Int64.self), estimatedRequests: try self.next(Int64.self))
    }
}
