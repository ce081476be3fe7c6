import ChatStorage
import Foundation
import PostgresNIO

extension PostgresStore {
    /// Ranks the owner's matching titles with `ts_rank` (`chats_search`, GIN).
    public func searchTitles(ownerID: UUID, query: SearchQuery, limit: Int) async throws -> [SearchHit] {
        try await self.rows(
            """
            SELECT c.id, c.title, c.updated_at FROM chats c, to_tsquery('simple', \(query.tsqueryExpression)) q
            WHERE c.user_id = \(ownerID) AND c.search @@ q
            ORDER BY ts_rank(c.search, q) DESC, c.updated_at DESC LIMIT \(Int64(limit))
            """
        ) { row in
            let (chatID, title, updatedAt) = try row.decode((UUID, String?, Int64).self)
            return SearchHit(
                chatID: chatID, chatTitle: title, messageID: nil, role: nil, text: title ?? "",
                createdAt: Timestamp(microseconds: updatedAt))
        }
    }

    /// Takes the owner's newest ``searchCandidates`` matches (`messages_search`, GIN), ranks them with
    /// `ts_rank`, and reads the page's rows.
    public func searchMessages(ownerID: UUID, query: SearchQuery, limit: Int, offset: Int) async throws
        -> [SearchHit]
    {
        try await self.rows(
            """
            WITH q AS (SELECT to_tsquery('simple', \(query.tsqueryExpression)) AS q),
            candidates AS (
                SELECT m.id, ts_rank(m.search, q.q) AS score FROM messages m JOIN chats c ON c.id = m.chat_id, q
                WHERE c.user_id = \(ownerID) AND m.search @@ q.q
                ORDER BY m.id DESC LIMIT \(Int64(searchCandidates))
            )
            SELECT m.id, m.chat_id, c.title, m.role, m.content, m.created_at
            FROM candidates f JOIN messages m ON m.id = f.id JOIN chats c ON c.id = m.chat_id
            ORDER BY f.score DESC, f.id DESC LIMIT \(Int64(limit)) OFFSET \(Int64(offset))
            """
        ) { row in
            let (id, chatID, title, role, content, createdAt) = try row.decode(
                (Int64, UUID, String?, String, String, Int64).self)
            guard let role = MessageRole(rawValue: role) else { throw StorageError.corruptRow("messages") }
            return SearchHit(
                chatID: chatID, chatTitle: title, messageID: id, role: role, text: content,
                createdAt: Timestamp(microseconds: createdAt))
        }
    }
}
