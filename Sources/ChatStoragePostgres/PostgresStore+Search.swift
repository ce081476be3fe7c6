import ChatStorage
import Foundation
import PostgresNIO

extension PostgresStore {
    /// The owner's newest matching titles (`chats_search`, GIN).
    public func searchTitles(ownerID: UUID, query: SearchQuery, candidates: Int) async throws -> [SearchHit] {
        try await self.rows(
            """
            SELECT c.id, c.title, c.updated_at FROM chats c
            WHERE c.user_id = \(ownerID) AND c.search @@ to_tsquery('simple', \(query.tsqueryExpression))
            ORDER BY c.updated_at DESC LIMIT \(Int64(candidates))
            """
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

    /// The owner's newest matching messages (`messages_search`, GIN).
    public func searchMessages(ownerID: UUID, query: SearchQuery, candidates: Int) async throws -> [SearchHit] {
        try await self.rows(
            """
            SELECT m.id, m.chat_id, c.title, m.role, substr(m.content, 1, \(Int32(searchTextLength))), m.created_at
            FROM messages m JOIN chats c ON c.id = m.chat_id
            WHERE c.user_id = \(ownerID) AND m.search @@ to_tsquery('simple', \(query.tsqueryExpression))
            ORDER BY m.id DESC LIMIT \(Int64(candidates))
            """
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
}
