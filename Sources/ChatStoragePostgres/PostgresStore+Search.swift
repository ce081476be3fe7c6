import ChatStorage
import Foundation
import PostgresNIO

extension PostgresStore {
    /// The owner's newest matching titles (`chats_search`, GIN), the tsquery ANDed with the owner's lexeme as
    /// for messages.
    public func searchTitles(
        ownerID: UUID, query: SearchQuery, candidates: Int, deadline: ContinuousClock.Instant
    ) async throws -> [SearchHit] {
        try await self.searching(
            """
            SELECT c.id, c.title, c.updated_at FROM chats c
            WHERE c.user_id = \(ownerID) AND c.search @@ to_tsquery('simple', \(Self.ownedTSQuery(ownerID, query)))
            ORDER BY c.updated_at DESC LIMIT \(Int64(candidates))
            """,
            until: deadline
        ) { row in
            var cells = RowCells(row, of: "search")
            let chatID = try cells.next(UUID.self)
            let title = try cells.next(String?.self)
            let updatedAt = try cells.next(Int64.self)
            return SearchHit(
                chatID: chatID, chatTitle: title, messageID: nil, role: nil, text: title ?? "",
                createdAt: Timestamp(microseconds: updatedAt))
        }
    }

    /// The owner's newest matching messages (`messages_search`, GIN), the tsquery ANDed with the owner's lexeme
    /// (migration 23), so the index finds the owner's matches only.
    public func searchMessages(
        ownerID: UUID, query: SearchQuery, candidates: Int, deadline: ContinuousClock.Instant
    ) async throws -> [SearchHit] {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(ownerID)
        bindings.append(Self.ownedTSQuery(ownerID, query))
        bindings.append(Int64(candidates))
        bindings.append(Int32(searchTextLength))
        return try await self.searching(
            PostgresQuery(unsafeSQL: Self.searchMessagesSQL, binds: bindings), until: deadline
        ) { row in
            var cells = RowCells(row, of: "search")
            let id = try cells.next(Int64.self)
            let chatID = try cells.next(UUID.self)
            let title = try cells.next(String?.self)
            let role = try cells.next(String.self)
            let content = try cells.next(String.self)
            let createdAt = try cells.next(Int64.self)
            guard let role = MessageRole(rawValue: role) else { throw StorageError.corruptRow("messages") }
            return SearchHit(
                chatID: chatID, chatTitle: title, messageID: id, role: role, text: content,
                createdAt: Timestamp(microseconds: createdAt))
        }
    }

    /// `$1` the owner, `$2` the tsquery (``ownedTSQuery(_:_:)``), `$3` how many, `$4` the text's length; the
    /// owner is also checked through the join (`c.user_id`), though the lexeme already restricts the match.
    public static let searchMessagesSQL = """
        SELECT m.id, m.chat_id, c.title, m.role, substr(m.content, 1, $4), m.created_at
        FROM messages m JOIN chats c ON c.id = m.chat_id
        WHERE c.user_id = $1 AND m.search @@ to_tsquery('simple', $2)
        ORDER BY m.id DESC LIMIT $3
        """

    /// The query in `to_tsquery`'s syntax, ANDed with the owner's lexeme.
    public static func ownedTSQuery(_ ownerID: UUID, _ query: SearchQuery) -> String {
        Self.ownerLexeme(ownerID) + " & " + query.tsqueryExpression
    }

    /// The lexeme `messages.search` and `chats.search` hold for their owner: `o` and the user id's 32 hex digits, quoted for
    /// `to_tsquery`.
    static func ownerLexeme(_ ownerID: UUID) -> String {
        "'o" + ownerID.lowercasedString.replacingOccurrences(of: "-", with: "") + "'"
    }

    /// A search's settings for its transaction: `$1` its `statement_timeout` in milliseconds, and no sequential
    /// scans (``searching(_:until:_:)``).
    public static let searchSettingsSQL =
        "SELECT set_config('statement_timeout', $1, true), set_config('enable_seqscan', 'off', true)"

    /// Runs a search's read in a transaction whose `statement_timeout` is the time left until `deadline`:
    /// PostgreSQL cancels it there (SQLSTATE 57014), answered as ``StorageError/searchTimedOut``. Sequential
    /// scans are off for it: they read every user's rows, and the planner, which does not know that the GIN
    /// index skips to the owner's entries, chose one over the index for an owner with few messages (the plan
    /// left is the index, the owner's chats, or walking the newest messages when most are the owner's).
    /// Cancelled with its caller, as every read.
    private func searching<T: Sendable>(
        _ query: PostgresQuery, until deadline: ContinuousClock.Instant,
        _ decode: @escaping @Sendable (PostgresRow) throws -> T
    ) async throws -> [T] {
        let left = deadline - ContinuousClock.now
        guard left > .zero else { throw StorageError.searchTimedOut }
        // At least 1 ms: 0 would turn the timeout off.
        let milliseconds = max(1, Int64(left / .milliseconds(1)))
        do {
            return try await self.leased(cancelledWithCaller: true) { [logger] connection in
                try await connection.withTransaction(logger: logger) { connection in
                    var bindings = PostgresBindings(capacity: 1)
                    bindings.append(String(milliseconds))
                    try await connection.query(
                        PostgresQuery(unsafeSQL: Self.searchSettingsSQL, binds: bindings), logger: logger)
                    var result: [T] = []
                    for try await row in try await connection.query(query, logger: logger) {
                        result.append(try decode(row))
                    }
                    return result
                }
            }
        } catch let error as PostgresTransactionError {
            let cause = error.closureError ?? error.beginError ?? error.commitError ?? error
            if let failure = cause as? PSQLError, failure.sqlState == "57014" { throw StorageError.searchTimedOut }
            throw cause
        } catch let error as PSQLError where error.sqlState == "57014" {
            throw StorageError.searchTimedOut
        }
    }
}
