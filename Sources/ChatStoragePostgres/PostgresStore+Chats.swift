import ChatStorage
import Foundation
import PostgresNIO

extension PostgresStore {
    static let chatColumns =
        "id, user_id, title, message_count, created_at, updated_at, pinned, archived, model, system_prompt"

    static func decodeChat(_ row: PostgresRow) throws -> ChatRecord {
        var cells = RowCells(row, of: "chats")
        let id = try cells.next(UUID.self)
        let userID = try cells.next(UUID.self)
        let title = try cells.next(String?.self)
        let count = try cells.next(Int64.self)
        let createdAt = try cells.next(Int64.self)
        let updatedAt = try cells.next(Int64.self)
        let pinned = try cells.next(Bool.self)
        let archived = try cells.next(Bool.self)
        let model = try cells.next(String?.self)
        let systemPrompt = try cells.next(String?.self)
        return ChatRecord(
            id: id, userID: userID, title: title, messageCount: Int(count),
            createdAt: Timestamp(microseconds: createdAt), updatedAt: Timestamp(microseconds: updatedAt),
            pinned: pinned, archived: archived, model: model, systemPrompt: systemPrompt)
    }

    public func createChat(userID: UUID, title: String?) async throws -> ChatRecord {
        let now = Timestamp.now().microseconds
        let chat: ChatRecord?
        do {
            chat = try await self.write(
                """
                INSERT INTO chats (id, user_id, title, created_at, updated_at) VALUES (\(UUID()), \(userID), \(title), \(now), \(now))
                RETURNING \(unescaped: Self.chatColumns)
                """,
                Self.decodeChat
            ).first
        } catch let error as PSQLError where error.sqlState == "23503" {
            throw StorageError.userGone
        }
        guard let chat else { throw StorageError.corruptRow("chats") }
        return chat
    }

    public func chat(id: UUID, ownerID: UUID?) async throws -> ChatRecord? {
        guard let ownerID else {
            return try await self.one(
                "SELECT \(unescaped: Self.chatColumns) FROM chats WHERE id = \(id)", Self.decodeChat)
        }
        return try await self.rows(OwnedChatStatement(chatID: id, ownerID: ownerID)).first
    }

    /// Walks the `chats_by_user_listing` index; the total is read from the maintained `users.chat_count` and
    /// `users.archived_count` in the same query (see ``ChatPageStatement``).
    public func chats(ownerID: UUID, archived: Bool, limit: Int, offset: Int) async throws -> ChatPage {
        let rows = try await self.rows(
            ChatPageStatement(ownerID: ownerID, archived: archived, limit: Int64(limit), offset: Int64(offset)))
        return ChatPage(chats: rows.compactMap(\.chat), total: Int(rows.first?.total ?? 0))
    }

    public func updateChat(id: UUID, ownerID: UUID, changes: ChatChanges) async throws -> ChatRecord? {
        let model = changes.model ?? nil
        let systemPrompt = changes.systemPrompt ?? nil
        return try await self.write(
            """
            UPDATE chats SET
                title = CASE WHEN \(changes.title != nil) THEN \(changes.title) ELSE title END,
                updated_at = CASE WHEN \(changes.title != nil) THEN \(Timestamp.now().microseconds) ELSE updated_at END,
                pinned = coalesce(\(changes.pinned), pinned),
                archived = coalesce(\(changes.archived), archived),
                model = CASE WHEN \(changes.model != nil) THEN \(model) ELSE model END,
                system_prompt = CASE WHEN \(changes.systemPrompt != nil) THEN \(systemPrompt) ELSE system_prompt END
            WHERE id = \(id) AND user_id = \(ownerID) RETURNING \(unescaped: Self.chatColumns)
            """,
            Self.decodeChat
        ).first
    }

    public func deleteChat(id: UUID, ownerID: UUID) async throws -> Bool {
        // A reply still running in the chat goes with it, and its reservation (cascade).
        let deleted = try await !self.write(
            "DELETE FROM chats WHERE id = \(id) AND user_id = \(ownerID) RETURNING 1", { _ in () }
        ).isEmpty
        if deleted { self.notifier.changed([id]) }
        return deleted
    }

    public func setTitleIfEmpty(chatID: UUID, title: String, charge: UsageCharge?) async throws -> Bool {
        try await self.transaction { transaction in
            if let charge { try await transaction.execute(Self.accountQuery(charge)) }
            return try await !transaction.rows(
                "UPDATE chats SET title = \(title) WHERE id = \(chatID) AND title IS NULL RETURNING 1", { _ in () }
            ).isEmpty
        }
    }
}
