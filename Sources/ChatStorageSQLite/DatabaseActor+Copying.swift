import ChatStorage
import Foundation

extension DatabaseActor: StoreCopying {
    public func allSettings() throws -> [String: String] {
        try self.checkOpen()
        let pairs = try self.connection.query("SELECT key, value FROM settings") { ($0.text(0), $0.text(1)) }
        return Dictionary(pairs, uniquingKeysWith: { _, last in last })
    }

    public func recordCounts() throws -> RecordCounts {
        try self.checkOpen()
        func count(_ table: String) throws -> Int {
            try self.connection.queryOne("SELECT count(*) FROM \(table)", cached: false) { $0.int(0) } ?? 0
        }
        return RecordCounts(users: try count("users"), chats: try count("chats"), messages: try count("messages"))
    }

    public func importRecords(
        users: [UserRecord], chats: [ChatRecord], messages: [MessageRecord], settings: [String: String]
    ) throws {
        try self.checkOpen()
        defer {
            self.userCache.removeAll()
            self.apiKeyCache.removeAll()
        }
        try self.connection.transaction {
            for user in users {
                try self.connection.run(
                    """
                    INSERT INTO users (id, email, password_hash, role, token_version, created_at, disabled,
                        daily_token_quota, monthly_token_quota)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(user.id.lowercasedString), .text(user.email), .text(user.passwordHash),
                        .text(user.role.rawValue), .integer(user.tokenVersion), .integer(user.createdAt.microseconds),
                        .int(user.disabled ? 1 : 0), user.dailyTokenQuota.map { .integer($0) } ?? .null,
                        user.monthlyTokenQuota.map { .integer($0) } ?? .null,
                    ])
            }
            for chat in chats {
                try self.connection.run(
                    """
                    INSERT INTO chats (id, user_id, title, created_at, updated_at, pinned, archived, model,
                        system_prompt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(chat.id.lowercasedString), .text(chat.userID.lowercasedString), .optionalText(chat.title),
                        .integer(chat.createdAt.microseconds), .integer(chat.updatedAt.microseconds),
                        .int(chat.pinned ? 1 : 0), .int(chat.archived ? 1 : 0), .optionalText(chat.model),
                        .optionalText(chat.systemPrompt),
                    ])
            }
            for message in messages {
                try self.connection.run(
                    """
                    INSERT INTO messages (id, chat_id, role, content, created_at, status, error, model, prompt_tokens,
                        completion_tokens, parent_id, on_path)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .integer(message.id), .text(message.chatID.lowercasedString), .text(message.role.rawValue),
                        .text(message.content), .integer(message.createdAt.microseconds),
                        .text(message.status.rawValue), .optionalText(message.error), .optionalText(message.model),
                        message.promptTokens.map { .int($0) } ?? .null,
                        message.completionTokens.map { .int($0) } ?? .null,
                        message.parentID.map { .integer($0) } ?? .null, .int(message.onActivePath ? 1 : 0),
                    ])
            }
            for (key, value) in settings {
                try self.connection.run("INSERT INTO settings (key, value) VALUES (?, ?)", [.text(key), .text(value)])
            }
        }
    }

    public func importUsage(_ rows: [UsageDayRecord]) throws {
        try self.checkOpen()
        try self.connection.transaction {
            for row in rows {
                try self.connection.run(
                    """
                    INSERT INTO usage_daily (user_id, day, requests, prompt_tokens, completion_tokens,
                        estimated_requests)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(row.userID.lowercasedString), .int(row.day.number), .integer(row.totals.requests),
                        .integer(row.totals.promptTokens), .integer(row.totals.completionTokens),
                        .integer(row.totals.estimatedRequests),
                    ])
            }
        }
    }

    /// Nothing to do: AUTOINCREMENT follows explicit ids.
    public func finishImport() {}
}
