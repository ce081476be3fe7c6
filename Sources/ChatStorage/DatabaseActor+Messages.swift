import Foundation

extension DatabaseActor {
    static let messageColumns = "id, chat_id, role, content, created_at"

    static func decodeMessage(_ row: Row) throws -> MessageRecord {
        guard let chatID = UUID(uuidString: row.text(1)), let role = MessageRole(rawValue: row.text(2)) else {
            throw StorageError.corruptRow("messages")
        }
        return MessageRecord(
            id: row.int64(0),
            chatID: chatID,
            role: role,
            content: row.text(3),
            createdAt: Timestamp(microseconds: row.int64(4))
        )
    }

    /// Appends a message to a chat and bumps the chat's `updated_at`, in one transaction.
    public func appendMessage(chatID: UUID, role: MessageRole, content: String) throws -> MessageRecord {
        try self.checkOpen()
        let now = Timestamp.now().microseconds
        return try self.connection.transaction {
            let message = try self.connection.queryOne(
                """
                INSERT INTO messages (chat_id, role, content, created_at) VALUES (?, ?, ?, ?)
                RETURNING \(Self.messageColumns)
                """,
                [.text(chatID.lowercasedString), .text(role.rawValue), .text(content), .integer(now)],
                Self.decodeMessage
            )
            guard let message else { throw StorageError.corruptRow("messages") }
            try self.connection.run(
                "UPDATE chats SET updated_at = ? WHERE id = ?",
                [.integer(now), .text(chatID.lowercasedString)]
            )
            return message
        }
    }

    /// A chat's messages oldest first, starting after message id `after`, at most `limit`.
    ///
    /// Returns nil when the chat does not exist or (when `ownerID` is given) is not that user's,
    /// so the caller learns both in one trip to the database.
    public func messages(chatID: UUID, ownerID: UUID?, after: Int64 = 0, limit: Int) throws -> [MessageRecord]? {
        try self.checkOpen()
        let chatArgument = SQLiteValue.text(chatID.lowercasedString)
        let exists: Bool
        if let ownerID {
            exists =
                try self.connection.queryOne(
                    "SELECT 1 FROM chats WHERE id = ? AND user_id = ?",
                    [chatArgument, .text(ownerID.lowercasedString)]
                ) { _ in true } ?? false
        } else {
            exists =
                try self.connection.queryOne("SELECT 1 FROM chats WHERE id = ?", [chatArgument]) { _ in true } ?? false
        }
        guard exists else { return nil }
        return try self.connection.query(
            "SELECT \(Self.messageColumns) FROM messages WHERE chat_id = ? AND id > ? ORDER BY id LIMIT ?",
            [chatArgument, .integer(after), .int(limit)],
            Self.decodeMessage
        )
    }
}
