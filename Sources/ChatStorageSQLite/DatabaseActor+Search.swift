import ChatStorage
import Foundation

extension DatabaseActor {
    /// The owner's newest matching titles (`chats_fts`, walked newest rowid first). The match itself is
    /// restricted to the owner's token (``searchOwnerToken(_:)``), so FTS5 reads the owner's entries only.
    public func searchTitles(ownerID: UUID, query: SearchQuery, candidates: Int, deadline: ContinuousClock.Instant)
        throws -> [SearchHit]
    {
        try self.checkOpen()
        return try self.searching(until: deadline) {
            try self.connection.query(
                """
                SELECT c.id, c.title, c.updated_at FROM chats_fts JOIN chats c ON c.rowid = chats_fts.rowid
                WHERE chats_fts MATCH ?1 AND c.user_id = ?2 AND c.import_id IS NULL
                ORDER BY chats_fts.rowid DESC LIMIT ?3
                """,
                [
                    .text(Self.ownedMatch(ownerID, query, column: "title")), .text(ownerID.lowercasedString),
                    .int(candidates),
                ]
            ) { row in
                guard let chatID = row.uuid(0) else { throw StorageError.corruptRow("chats") }
                let title = row.text(1)
                return SearchHit(
                    chatID: chatID, chatTitle: title, messageID: nil, role: nil, text: title,
                    createdAt: Timestamp(microseconds: row.int64(2)))
            }
        }
    }

    /// The owner's newest matching messages, from `messages_fts` in descending rowid order (which FTS5 walks
    /// without sorting and stops after `candidates`), the match restricted to the owner's token as for titles.
    /// Not ranked here: FTS5's `bm25()` first counts every row that holds each term, which for a word in most
    /// messages costs more than the rest of the search.
    public func searchMessages(
        ownerID: UUID, query: SearchQuery, candidates: Int, deadline: ContinuousClock.Instant
    ) throws -> [SearchHit] {
        try self.checkOpen()
        return try self.searching(until: deadline) {
            try self.connection.query(
                Self.searchMessagesSQL,
                [
                    .text(Self.ownedMatch(ownerID, query, column: "content")), .text(ownerID.lowercasedString),
                    .int(candidates), .int(searchTextLength),
                ]
            ) { row in
                guard let chatID = row.uuid(1), let role = MessageRole(rawValue: row.text(3)) else {
                    throw StorageError.corruptRow("messages")
                }
                return SearchHit(
                    chatID: chatID, chatTitle: row.optionalText(2), messageID: row.int64(0), role: role,
                    text: row.text(4), createdAt: Timestamp(microseconds: row.int64(5)))
            }
        }
    }

    /// The owner's rows are also checked through the join (`c.user_id`), though the match holds only theirs.
    public static let searchMessagesSQL = """
        SELECT m.id, m.chat_id, c.title, m.role, substr(m.content, 1, ?4), m.created_at
        FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid JOIN chats c ON c.id = m.chat_id
        WHERE messages_fts MATCH ?1 AND c.user_id = ?2 AND c.import_id IS NULL
        ORDER BY messages_fts.rowid DESC LIMIT ?3
        """

    /// The token the `owner` column of `messages_fts` and `chats_fts` holds for a user's rows (migration 23):
    /// `o` and the user id's 32 hex digits, one word for FTS5's tokenizer.
    public static func searchOwnerToken(_ ownerID: UUID) -> String {
        "o" + ownerID.lowercasedString.replacingOccurrences(of: "-", with: "")
    }

    /// The FTS5 query: the owner's token in `owner`, and every term of `query` in `column`.
    static func ownedMatch(_ ownerID: UUID, _ query: SearchQuery, column: String) -> String {
        "owner : \"" + Self.searchOwnerToken(ownerID) + "\" AND " + query.fts5Expression(column: column)
    }

    /// Runs a search's statement, stopped once `deadline` has passed (``StorageError/searchTimedOut``).
    private func searching<T>(until deadline: ContinuousClock.Instant, _ body: () throws -> T) throws -> T {
        guard ContinuousClock.now < deadline else { throw StorageError.searchTimedOut }
        do {
            return try self.connection.stopping(at: deadline, body)
        } catch let error as SQLiteError where error.isInterrupt {
            throw StorageError.searchTimedOut
        }
    }
}
