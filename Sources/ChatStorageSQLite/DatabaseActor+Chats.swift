import ChatStorage
import Foundation

extension DatabaseActor {
    static let chatColumns =
        "id, user_id, title, message_count, created_at, updated_at, pinned, archived, model, system_prompt"

    static func decodeChat(_ row: Row) throws -> ChatRecord {
        guard let id = row.uuid(0), let userID = row.uuid(1) else {
            throw StorageError.corruptRow("chats")
        }
        return ChatRecord(
            id: id,
            userID: userID,
            title: row.optionalText(2),
            messageCount: row.int(3),
            createdAt: Timestamp(microseconds: row.int64(4)),
            updatedAt: Timestamp(microseconds: row.int64(5)),
            pinned: row.int(6) != 0,
            archived: row.int(7) != 0,
            model: row.optionalText(8),
            systemPrompt: row.optionalText(9)
        )
    }

    public func createChat(userID: UUID, title: String?) async throws -> ChatRecord {
        let now = Timestamp.now().microseconds
        let arguments: [SQLiteValue] = [
            .text(UUID().lowercasedString), .text(userID.lowercasedString), .optionalText(title), .integer(now),
            .integer(now),
        ]
        do {
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
        } catch let error as SQLiteError where error.isForeignKeyViolation {
            throw StorageError.userGone
        }
    }

    /// The chat with this id, if it exists and (when `ownerID` is given) belongs to that user.
    public func chat(id: UUID, ownerID: UUID?) throws -> ChatRecord? {
        try self.checkOpen()
        guard let ownerID else {
            return try self.connection.queryOne(
                "SELECT \(Self.chatColumns) FROM chats WHERE id = ? AND import_id IS NULL",
                [.text(id.lowercasedString)],
                Self.decodeChat
            )
        }
        return try self.connection.queryOne(
            "SELECT \(Self.chatColumns) FROM chats WHERE id = ? AND user_id = ? AND import_id IS NULL",
            [.text(id.lowercasedString), .text(ownerID.lowercasedString)],
            Self.decodeChat
        )
    }

    /// One page of a user's chats, pinned first, then newest updated first, and how many such chats they have.
    ///
    /// Cost is independent of how many chats or messages the user has: the page walks the
    /// `chats_by_user_listing` index and the total is read from the maintained `users.chat_count` and
    /// `users.archived_count`.
    public func chats(ownerID: UUID, archived: Bool, limit: Int, offset: Int) throws -> ChatPage {
        try self.checkOpen()
        let owner = SQLiteValue.text(ownerID.lowercasedString)
        let chats = try self.connection.query(
            Self.listChatsSQL,
            [owner, .int(archived ? 1 : 0), .int(limit), .int(offset)],
            Self.decodeChat
        )
        let total = try self.connection.queryOne(
            "SELECT CASE WHEN ?2 THEN archived_count ELSE chat_count - archived_count END FROM users WHERE id = ?1",
            [owner, .int(archived ? 1 : 0)]
        ) { $0.int(0) }
        return ChatPage(chats: chats, total: total ?? 0)
    }

    public static let listChatsSQL = """
        SELECT \(chatColumns) FROM chats WHERE user_id = ? AND archived = ? AND import_id IS NULL
        ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ? OFFSET ?
        """

    /// Applies the changes in one statement; nil if the chat does not exist or is not the owner's.
    public func updateChat(id: UUID, ownerID: UUID, changes: ChatChanges) throws -> ChatRecord? {
        try self.checkOpen()
        func flag(_ present: Bool) -> SQLiteValue { .int(present ? 1 : 0) }
        func bool(_ value: Bool?) -> SQLiteValue { value.map { .int($0 ? 1 : 0) } ?? .null }
        return try self.connection.queryOne(
            """
            UPDATE chats SET
                title = CASE WHEN ?1 THEN ?2 ELSE title END,
                updated_at = CASE WHEN ?1 THEN ?3 ELSE updated_at END,
                pinned = coalesce(?4, pinned),
                archived = coalesce(?5, archived),
                model = CASE WHEN ?6 THEN ?7 ELSE model END,
                system_prompt = CASE WHEN ?8 THEN ?9 ELSE system_prompt END
            WHERE id = ?10 AND user_id = ?11 AND import_id IS NULL
            RETURNING \(Self.chatColumns)
            """,
            [
                flag(changes.title != nil), .optionalText(changes.title), .integer(Timestamp.now().microseconds),
                bool(changes.pinned), bool(changes.archived),
                flag(changes.model != nil), .optionalText(changes.model ?? nil),
                flag(changes.systemPrompt != nil), .optionalText(changes.systemPrompt ?? nil),
                .text(id.lowercasedString), .text(ownerID.lowercasedString),
            ],
            Self.decodeChat
        )
    }

    /// Deletes a chat and (by cascade) its messages. False if it does not exist or is not the owner's.
    public func deleteChat(id: UUID, ownerID: UUID) throws -> Bool {
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
