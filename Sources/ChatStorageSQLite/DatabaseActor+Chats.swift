import ChatStorage
import Foundation

extension DatabaseActor {
    static let chatColumns = "id, user_id, title, message_count, created_at, updated_at"

    static func decodeChat(_ row: Row) throws -> ChatRecord {
        guard let id = UUID(canonical: row.text(0)), let userID = UUID(canonical: row.text(1)) else {
            throw StorageError.corruptRow("chats")
        }
        return ChatRecord(
            id: id,
            userID: userID,
            title: row.optionalText(2),
            messageCount: row.int(3),
            createdAt: Timestamp(microseconds: row.int64(4)),
            updatedAt: Timestamp(microseconds: row.int64(5))
        )
    }

    public func createChat(userID: UUID, title: String?) async throws -> ChatRecord {
        defer { self.users.remove(userID) }  // its chat count changes
        let now = Timestamp.now().microseconds
        let arguments: [SQLiteValue] = [
            .text(UUID().lowercasedString), .text(userID.lowercasedString), .optionalText(title), .integer(now),
            .integer(now),
        ]
        return try await self.write { connection in
            let chat = try connection.queryOne(
                """
                INSERT INTO chats (id, user_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
                RETURNING \(Self.chatColumns)
                """,
                arguments,
                Self.decodeChat
            )
            guard let chat else { throw StorageError.corruptRow("chats") }
            return chat
        }
    }

    /// The chat with this id, if it exists and (when `ownerID` is given) belongs to that user.
    public func chat(id: UUID, ownerID: UUID?) throws -> ChatRecord? {
        try self.checkOpen()
        guard let ownerID else {
            return try self.connection.queryOne(
                "SELECT \(Self.chatColumns) FROM chats WHERE id = ?",
                [.text(id.lowercasedString)],
                Self.decodeChat
            )
        }
        return try self.connection.queryOne(
            "SELECT \(Self.chatColumns) FROM chats WHERE id = ? AND user_id = ?",
            [.text(id.lowercasedString), .text(ownerID.lowercasedString)],
            Self.decodeChat
        )
    }

    /// One page of a user's chats, newest updated first, and how many chats they have.
    ///
    /// Cost is independent of how many chats or messages the user has: the page walks the
    /// `chats_by_user_updated` index and the total is the maintained `users.chat_count`.
    public func chats(ownerID: UUID, limit: Int, offset: Int) throws -> ChatPage {
        try self.checkOpen()
        let owner = SQLiteValue.text(ownerID.lowercasedString)
        let chats = try self.connection.query(
            Self.listChatsSQL,
            [owner, .int(limit), .int(offset)],
            Self.decodeChat
        )
        let total = try self.connection.queryOne("SELECT chat_count FROM users WHERE id = ?", [owner]) { $0.int(0) }
        return ChatPage(chats: chats, total: total ?? 0)
    }

    public static let listChatsSQL = """
        SELECT \(chatColumns) FROM chats WHERE user_id = ?
        ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?
        """

    /// Sets a chat's title and bumps its `updated_at`. Nil if the chat does not exist or is not the owner's.
    public func renameChat(id: UUID, ownerID: UUID, title: String) throws -> ChatRecord? {
        try self.checkOpen()
        return try self.connection.queryOne(
            """
            UPDATE chats SET title = ?, updated_at = ? WHERE id = ? AND user_id = ?
            RETURNING \(Self.chatColumns)
            """,
            [
                .text(title), .integer(Timestamp.now().microseconds), .text(id.lowercasedString),
                .text(ownerID.lowercasedString),
            ],
            Self.decodeChat
        )
    }

    /// Deletes a chat and (by cascade) its messages. False if it does not exist or is not the owner's.
    public func deleteChat(id: UUID, ownerID: UUID) throws -> Bool {
        defer { self.users.remove(ownerID) }  // its chat count changes
        try self.checkOpen()
        let arguments: [SQLiteValue] = [.text(id.lowercasedString), .text(ownerID.lowercasedString)]
        return try self.connection.transaction {
            // A reply still running in the chat gives back its reservation (it is deleted, not ended).
            try self.connection.run(
                """
                UPDATE users SET reserved_tokens = reserved_tokens
                    - (SELECT coalesce(sum(reserved_tokens), 0) FROM messages WHERE chat_id = ?1 AND status = 'streaming')
                WHERE id = ?2 AND EXISTS (SELECT 1 FROM chats WHERE id = ?1 AND user_id = ?2)
                """,
                arguments)
            return try self.connection.run("DELETE FROM chats WHERE id = ? AND user_id = ?", arguments) == 1
        }
    }

    /// Sets a chat's title only if it has none (background titles never overwrite a user's choice).
    @discardableResult
    public func setTitleIfEmpty(chatID: UUID, title: String, charge: UsageCharge?) async throws -> Bool {
        let arguments: [SQLiteValue] = [.text(title), .text(chatID.lowercasedString)]
        return try await self.write { connection in
            if let charge { try Self.account(charge, on: connection) }
            return try connection.run("UPDATE chats SET title = ? WHERE id = ? AND title IS NULL", arguments) == 1
        }
    }
}
