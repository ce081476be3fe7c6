import ChatStorage
import Foundation

extension DatabaseActor {
    /// Ranks the owner's newest ``searchCandidates`` matching titles with BM25 (`chats_fts`).
    public func searchTitles(ownerID: UUID, query: SearchQuery, limit: Int) throws -> [SearchHit] {
        try self.checkOpen()
        return try self.connection.query(
            """
            WITH candidates AS (
                SELECT chats_fts.rowid AS id FROM chats_fts JOIN chats c ON c.rowid = chats_fts.rowid
                WHERE chats_fts MATCH ?1 AND c.user_id = ?2 ORDER BY chats_fts.rowid DESC LIMIT ?4
            )
            SELECT c.id, c.title, c.updated_at FROM chats_fts JOIN chats c ON c.rowid = chats_fts.rowid
            WHERE chats_fts MATCH ?1 AND chats_fts.rowid IN (SELECT id FROM candidates)
            ORDER BY bm25(chats_fts), c.updated_at DESC LIMIT ?3
            """,
            [.text(query.fts5Expression), .text(ownerID.lowercasedString), .int(limit), .int(searchCandidates)]
        ) { row in
            guard let chatID = UUID(canonical: row.text(0)) else { throw StorageError.corruptRow("chats") }
            let title = row.text(1)
            return SearchHit(
                chatID: chatID, chatTitle: title, messageID: nil, role: nil, text: title,
                createdAt: Timestamp(microseconds: row.int64(2)))
        }
    }

    /// Takes the owner's newest ``searchCandidates`` matches from `messages_fts` (in rowid order, which FTS5
    /// walks without sorting), ranks them with BM25, and reads the page's rows.
    public func searchMessages(ownerID: UUID, query: SearchQuery, limit: Int, offset: Int) throws -> [SearchHit] {
        try self.checkOpen()
        return try self.connection.query(
            Self.searchMessagesSQL,
            [
                .text(query.fts5Expression), .text(ownerID.lowercasedString), .int(limit), .int(offset),
                .int(searchCandidates),
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
        WITH candidates AS (
            SELECT messages_fts.rowid AS id, bm25(messages_fts) AS score FROM messages_fts
            JOIN messages m ON m.id = messages_fts.rowid JOIN chats c ON c.id = m.chat_id
            WHERE messages_fts MATCH ?1 AND c.user_id = ?2
            ORDER BY messages_fts.rowid DESC LIMIT ?5
        )
        SELECT m.id, m.chat_id, c.title, m.role, m.content, m.created_at
        FROM candidates f JOIN messages m ON m.id = f.id JOIN chats c ON c.id = m.chat_id
        ORDER BY f.score, f.id DESC LIMIT ?3 OFFSET ?4
        """
}
