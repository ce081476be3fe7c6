import ChatStorage
import Foundation
import PostgresNIO

extension PostgresStore: StoreCopying {
    public func allSettings() async throws -> [String: String] {
        let pairs = try await self.rows("SELECT key, value FROM settings") { try $0.decode((String, String).self) }
        return Dictionary(pairs, uniquingKeysWith: { _, last in last })
    }

    public func recordCounts() async throws -> RecordCounts {
        let counts = try await self.one(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM chats), (SELECT count(*) FROM messages)"
        ) { try $0.decode((Int64, Int64, Int64).self) }
        guard let (users, chats, messages) = counts else { throw StorageError.corruptRow("counts") }
        return RecordCounts(users: Int(users), chats: Int(chats), messages: Int(messages))
    }

    public func importRecords(
        users: [UserRecord], chats: [ChatRecord], messages: [MessageRecord], settings: [String: String]
    ) async throws {
        defer { self.userCache.removeAll() }
        try await self.transaction { transaction in
            for user in users {
                try await transaction.execute(
                    """
                    INSERT INTO users (id, email, password_hash, role, token_version, created_at, disabled,
                        daily_token_quota, monthly_token_quota)
                    VALUES (\(user.id), \(user.email), \(user.passwordHash), \(user.role.rawValue), \(user.tokenVersion),
                        \(user.createdAt.microseconds), \(user.disabled), \(user.dailyTokenQuota),
                        \(user.monthlyTokenQuota))
                    """)
            }
            for chat in chats {
                try await transaction.execute(
                    """
                    INSERT INTO chats (id, user_id, title, created_at, updated_at, pinned, archived, model,
                        system_prompt)
                    VALUES (\(chat.id), \(chat.userID), \(chat.title), \(chat.createdAt.microseconds),
                        \(chat.updatedAt.microseconds), \(chat.pinned), \(chat.archived), \(chat.model),
                        \(chat.systemPrompt))
                    """)
            }
            for message in messages {
                try await transaction.execute(
                    """
                    INSERT INTO messages (id, chat_id, role, content, created_at, status, error, model, prompt_tokens,
                        completion_tokens, parent_id, on_path)
                    VALUES (\(message.id), \(message.chatID), \(message.role.rawValue), \(message.content),
                        \(message.createdAt.microseconds), \(message.status.rawValue), \(message.error), \(message.model),
                        \(message.promptTokens.map { Int64($0) }), \(message.completionTokens.map { Int64($0) }),
                        \(message.parentID), \(message.onActivePath))
                    """)
            }
            for (key, value) in settings {
                try await transaction.execute("INSERT INTO settings (key, value) VALUES (\(key), \(value))")
            }
        }
    }

    public func importUsage(_ rows: [UsageDayRecord]) async throws {
        guard !rows.isEmpty else { return }
        try await self.transaction { transaction in
            for row in rows {
                try await transaction.execute(
                    """
                    INSERT INTO usage_daily (user_id, day, requests, prompt_tokens, completion_tokens,
                        estimated_requests)
                    VALUES (\(row.userID), \(Int32(clamping: row.day.number)), \(row.totals.requests),
                        \(row.totals.promptTokens), \(row.totals.completionTokens), \(row.totals.estimatedRequests))
                    """)
            }
        }
    }

    /// Moves the message id sequence past the imported ids.
    public func finishImport() async throws {
        try await self.execute(
            "SELECT setval('messages_id_seq', greatest((SELECT max(id) FROM messages), 1), (SELECT count(*) > 0 FROM messages))"
        )
    }
}
