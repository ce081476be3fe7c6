import ChatStorage
import Foundation

extension DatabaseActor {
    /// The owner's newest matching titles (`chats_fts`, walked newest rowid first).
    public func searchTitles(ownerID: UUID, query: SearchQuery, candidates: Int) throws -> [SearchHit] {
        try self.checkOpen()
        return try self.connection.query(
            """
            SELECT c.id, c.title, c.updated_at FROM chats_fts JOIN chats c ON c.rowid = chats_fts.rowid
            WHERE chats_fts MATCH ?1 AND c.user_id = ?2 AND c.import_id IS NULL ORDER BY chats_fts.rowid DESC LIMIT ?3
            """,
            [.text(query.fts5Expression), .text(ownerID.lowercasedString), .int(candidates)]
        ) { row in
            guard let chatID = UUID(canonical: row.text(0)) else { throw StorageError.corruptRow("chats") }
            let title = row.text(1)
            return SearchHit(
                chatID: chatID, chatTitle: title, messageID: nil, role: nil, text: title,
                createdAt: Timestamp(microseconds: row.int64(2)))
        }
    }

    /// The owner's newest matching messages, from `messages_fts` in descending rowid order (which FTS5 walks
    /// without sorting and stops after `candidates`). Not ranked here: FTS5's `bm25()` first counts every row
    /// that holds each term, which for a word in most messages costs more than the rest of the search.
    public func searchMessages(ownerID: UUID, query: SearchQuery, candidates: Int) throws -> [SearchHit] {
        try self.checkOpen()
        return try self.connection.query(
            Self.searchMessagesSQL,
            [
                .text(query.fts5Expression), .text(ownerID.lowercasedString), .int(candidates),
                .int(searchTextLength),
            ]
        ) { row in
            guard let chatID = UUID(canonical: row.text(1)), let role = MessageRole(rawValue: row.text(3)) else {
                throw StorageError.corruptRow("messages")
            }
            return SearchHit(
                chatID: chatID, chatTitle: row.optionalText(2), messageID: row.int64(0), role: role,
                text: row.text(4), createdAt: Timestamp(microseconds: row.int64(5)))
        }
    }

    public static let searchMessagesSQL = """
        SELECT m.id, m.chat_id, c.title, m.role, substr(m.content, 1, ?4), m.created_at
        FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid JOIN chats c ON c.id = m.chat_id
        WHERE messages_fts MATCH ?1 AND c.user_id = ?2 AND c.import_id IS NULL
        ORDER BY messages_fts.rowid DESC LIMIT ?3
        """
}
