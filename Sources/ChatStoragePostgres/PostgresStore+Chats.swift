import ChatStorage
import Foundation
import PostgresNIO

extension PostgresStore {
    static let chatColumns = "id, user_id, title, message_count, created_at, updated_at"

    static func decodeChat(_ row: PostgresRow) throws -> ChatRecord {
        let (id, userID, title, count, createdAt, updatedAt) = try row.decode(
            (UUID, UUID, String?, Int64, Int64, Int64).self)
        return ChatRecord(
            id: id, userID: userID, title: title, messageCount: Int(count),
            createdAt: Timestamp(microseconds: createdAt), updatedAt: Timestamp(microseconds: updatedAt))
    }

    public func createChat(userID: UUID, title: String?) async throws -> ChatRecord {
        defer { self.users.remove(userID) }  // its chat count changes
        let now = Timestamp.now().microseconds
        let chat = try await self.write(
            """
            INSERT INTO chats (id, user_id, title, created_at, updated_at) VALUES (\(UUID()), \(userID), \(title), \(now), \(now))
            RETURNING \(unescaped: Self.chatColumns)
            """,
            Self.decodeChat
        ).first
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

    /// Walks the `chats_by_user_updated` index; the total is the maintained `users.chat_count`, read in the
    /// same query (see ``ChatPageStatement``).
    public func chats(ownerID: UUID, limit: Int, offset: Int) async throws -> ChatPage {
        let rows = try await self.rows(ChatPageStatement(ownerID: ownerID, limit: Int64(limit), offset: Int64(offset)))
        return ChatPage(chats: rows.compactMap(\.chat), total: Int(rows.first?.total ?? 0))
    }

    public func renameChat(id: UUID, ownerID: UUID, title: String) async throws -> ChatRecord? {
        try await self.write(
            """
            UPDATE chats SET title = \(title), updated_at = \(Timestamp.now().microseconds)
            WHERE id = \(id) AND user_id = \(ownerID) RETURNING \(unescaped: Self.chatColumns)
            """,
            Self.decodeChat
        ).first
    }

    public func deleteChat(id: UUID, ownerID: UUID) async throws -> Bool {
        defer { self.users.remove(ownerID) }  // its chat count changes
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
