import ChatStorage
import Foundation
import PostgresNIO

extension PostgresStore {
    static let messageColumns =
        "id, chat_id, role, content, created_at, status, error, model, prompt_tokens, completion_tokens, parent_id, on_path"

    /// ``messageColumns`` of a lateral join's `m`, the first (`id`) null on the row of a page past the end.
    static let optionalMessageColumns =
        "m.id, m.chat_id, m.role, m.content, m.created_at, m.status, m.error, m.model, m.prompt_tokens, m.completion_tokens, m.parent_id, m.on_path"

    static func decodeMessage(_ row: PostgresRow) throws -> MessageRecord {
        var cells = RowCells(row, of: "messages")
        return try cells.message()
    }

    /// A message from its columns, whose role and status must be ones this version knows.
    static func makeMessage(
        id: Int64, chatID: UUID, role: String, content: String, createdAt: Int64, status: String, error: String?,
        model: String?, promptTokens: Int64?, completionTokens: Int64?, parentID: Int64?, onActivePath: Bool
    ) throws -> MessageRecord {
        guard let role = MessageRole(rawValue: role), let status = MessageStatus(rawValue: status) else {
            throw StorageError.corruptRow("messages")
        }
        return MessageRecord(
            id: id, chatID: chatID, role: role, content: content, createdAt: Timestamp(microseconds: createdAt),
            status: status, error: error, model: model, promptTokens: promptTokens.map { Int($0) },
            completionTokens: completionTokens.map { Int($0) }, parentID: parentID, onActivePath: onActivePath)
    }

    /// Locks the chat's row before any message id is taken: a second transaction inserting into the same chat
    /// waits here until this one commits, so ids grow in commit order within a chat. False when the chat does
    /// not exist. A lock, not an update: the insert's trigger updates the row (count, version, `updated_at`),
    /// and a second update in one transaction would check its foreign key again (migration 14).
    private static func lockChat(_ chatID: UUID, _ transaction: Transaction) async throws -> Bool {
        try await !transaction.rows(
            "SELECT 1 FROM chats WHERE id = \(chatID) FOR NO KEY UPDATE", { _ in () }
        ).isEmpty
    }

    public func appendMessage(chatID: UUID, role: MessageRole, content: String) async throws -> MessageRecord {
        let now = Timestamp.now().microseconds
        let message = try await self.transaction { transaction in
            guard try await Self.lockChat(chatID, transaction) else {
                throw StorageError.corruptRow("chats")
            }
            let message = try await transaction.one(
                """
                INSERT INTO messages (chat_id, role, content, created_at, parent_id)
                VALUES (\(chatID), \(role.rawValue), \(content), \(now),
                    (SELECT max(id) FROM messages WHERE chat_id = \(chatID) AND on_path))
                RETURNING \(unescaped: Self.messageColumns)
                """,
                Self.decodeMessage)
            guard let message else { throw StorageError.corruptRow("messages") }
            return message
        }
        self.notifier.changed([chatID])
        return message
    }

    public func messages(chatID: UUID, ownerID: UUID?, after: Int64, limit: Int) async throws -> [MessageRecord]? {
        switch try await self.messagePage(
            chatID: chatID, ownerID: ownerID, after: after, limit: limit, knownVersion: nil)
        {
        case .messages(let messages, _): messages
        case .unchanged, nil: nil
        }
    }

    /// The version and the page in one statement, so both are of one snapshot (a long-poll's wake-up and a
    /// listing each cost one round trip).
    public func messagePage(chatID: UUID, ownerID: UUID?, after: Int64, limit: Int, knownVersion: Int64?)
        async throws -> MessagePage?
    {
        let rows = try await self.rows(
            MessagePageStatement(
                chatID: chatID, ownerID: ownerID, after: after, limit: Int64(limit), knownVersion: knownVersion))
        guard let version = rows.first?.version else { return nil }
        if version == knownVersion { return .unchanged(version: version) }
        return .messages(rows.compactMap(\.message), version: version)
    }

    /// The chat's row joined with its page: no row when it is not the owner's, one of nulls past the end.
    public func allMessages(chatID: UUID, ownerID: UUID?, after: Int64, limit: Int) async throws -> [MessageRecord]? {
        let rows = try await self.rows(
            """
            SELECT \(unescaped: Self.optionalMessageColumns) FROM chats c LEFT JOIN LATERAL (
                SELECT \(unescaped: Self.messageColumns) FROM messages
                WHERE chat_id = c.id AND id > \(after) ORDER BY id LIMIT \(Int64(limit))
            ) m ON true
            WHERE c.id = \(chatID) AND (\(ownerID)::uuid IS NULL OR c.user_id = \(ownerID))
            ORDER BY m.id
            """
        ) { row in try row.decode(Int64?.self) == nil ? nil : try Self.decodeMessage(row) }
        return rows.isEmpty ? nil : rows.compactMap { $0 }
    }

    public func messageTree(chatID: UUID, ownerID: UUID?) async throws -> MessageTree? {
        let rows = try await self.rows(
            """
            SELECT m.id, m.parent_id FROM chats c LEFT JOIN messages m ON m.chat_id = c.id
            WHERE c.id = \(chatID) AND (\(ownerID)::uuid IS NULL OR c.user_id = \(ownerID))
            ORDER BY m.id
            """
        ) { row in
            var cells = RowCells(row, of: "messages")
            let id = try cells.next(Int64?.self)
            let parentID = try cells.next(Int64?.self)
            return id.map { (id: $0, parentID: parentID) }
        }
        return rows.isEmpty ? nil : MessageTree(links: rows.compactMap { $0 })
    }

    private static func links(chatID: UUID, _ transaction: Transaction) async throws -> [(
        id: Int64, parentID: Int64?
    )] {
        try await transaction.rows("SELECT id, parent_id FROM messages WHERE chat_id = \(chatID) ORDER BY id") {
            let (id, parentID) = try $0.decode((Int64, Int64?).self)
            return (id: id, parentID: parentID)
        }
    }

    /// Locks the chat's row first, as a turn's start does, so no turn begins while the path switches.
    public func activateBranch(chatID: UUID, ownerID: UUID, messageID: Int64) async throws -> [Int64]? {
        let path = try await self.transaction { transaction -> [Int64]? in
            guard
                try await !transaction.rows(
                    "SELECT 1 FROM chats WHERE id = \(chatID) AND user_id = \(ownerID) FOR UPDATE", { _ in () }
                ).isEmpty
            else { return nil }
            guard
                try await transaction.rows(
                    "SELECT 1 FROM messages WHERE chat_id = \(chatID) AND status = 'streaming'", { _ in () }
                ).isEmpty
            else { throw StorageError.chatBusy }
            let tree = MessageTree(links: try await Self.links(chatID: chatID, transaction))
            guard let path = tree.branch(through: messageID) else { return nil }
            try await transaction.execute("SELECT activate_path(\(chatID), \(path.last))")
            return path
        }
        if path != nil { self.notifier.changed([chatID]) }
        return path
    }

    public func beginTurn(
        chatID: UUID, placement: TurnPlacement, parentID: Int64?, userContent: String?, model: String,
        contextThrough: Int64, reservation: TokenReservation?
    ) async throws -> (user: MessageRecord, assistant: MessageRecord)? {
        let messages: [MessageRecord]
        do {
            messages = try await self.write(
                BeginTurnStatement(
                    chatID: chatID, userContent: userContent, parentID: parentID,
                    branch: placement != .activePath, model: model, replicaID: self.replicaID,
                    now: Timestamp.now().microseconds, contextThrough: contextThrough,
                    reservation: reservation)
            )
        } catch let error as PSQLError where error.sqlState == "CB001" {
            throw StorageError.chatBusy
        } catch let error as PSQLError where error.sqlState == "CQ001" {
            throw StorageError.quotaExceeded(.daily)
        } catch let error as PSQLError where error.sqlState == "CQ002" {
            throw StorageError.quotaExceeded(.monthly)
        }
        if messages.isEmpty { return nil }
        self.notifier.changed([chatID])
        // The message answered first (saved now, or the one regenerated for), then the reply.
        guard messages.count == 2 else { throw StorageError.corruptRow("messages") }
        return (messages[0], messages[1])
    }

    public func beginTurnReadingContext(
        chatID: UUID, ownerID: UUID?, userContent: String, history: HistoryWindow, model: ModelChoice
    ) async throws -> StartedTurn? {
        let rows: [BeginTurnWithContextStatement.Row]
        do {
            rows = try await self.write(
                BeginTurnWithContextStatement(
                    chatID: chatID, ownerID: ownerID, userContent: userContent, model: model,
                    replicaID: self.replicaID, now: Timestamp.now().microseconds, history: history))
        } catch let error as PSQLError where error.sqlState == "CB001" {
            throw StorageError.chatBusy
        }
        guard let first = rows.first else { return nil }
        self.notifier.changed([chatID])
        let saved = rows.filter(\.saved).map(\.message)
        guard saved.count == 2 else { throw StorageError.corruptRow("messages") }
        return StartedTurn(
            user: saved[0], assistant: saved[1], history: rows.filter { !$0.saved }.map(\.message),
            systemPrompt: first.systemPrompt, title: first.title)
    }

    public func updateStreamingContent(messageID: Int64, content: String) async throws {
        self.notifier.changed(try await self.write(UpdateStreamingContentStatement(id: messageID, content: content)))
    }

    public func finishMessage(id: Int64, outcome: MessageOutcome) async throws -> MessageRecord? {
        let saved = try await self.write(
            FinishMessageStatement(id: id, outcome: outcome, now: Timestamp.now().microseconds)
        ).first
        if let saved { self.notifier.changed([saved.chatID]) }
        return saved
    }

    public func turnContext(chatID: UUID, ownerID: UUID?, window: HistoryWindow, placement: TurnPlacement)
        async throws -> TurnContext?
    {
        let rows: [TurnContextRows.Row]
        switch placement {
        case .activePath:
            rows = try await self.rows(TurnContextStatement(chatID: chatID, ownerID: ownerID, window: window))
        case .branch(let from):
            // Rare (a regenerated reply, an edited message): not prepared.
            rows = try await self.rows(
                """
                WITH RECURSIVE path(id, parent_id) AS (
                    SELECT id, parent_id FROM messages WHERE id = \(from) AND chat_id = \(chatID)
                    UNION ALL
                    SELECT m.id, m.parent_id FROM messages m JOIN path ON m.id = path.parent_id
                )
                SELECT (SELECT coalesce(max(id), 0) FROM messages WHERE chat_id = c.id), \(from)::bigint, c.model,
                    c.system_prompt, c.title, \(unescaped: TurnContextRows.messageColumns)
                FROM chats c LEFT JOIN LATERAL (
                    SELECT \(unescaped: Self.messageColumns) FROM messages
                    WHERE id IN (SELECT id FROM path) AND status = 'complete'
                    ORDER BY id DESC LIMIT \(Int64(window.messages))
                ) m ON true
                WHERE c.id = \(chatID) AND (\(ownerID)::uuid IS NULL OR c.user_id = \(ownerID))
                ORDER BY m.id DESC
                """,
                TurnContextRows.decode)
        }
        guard let first = rows.first else { return nil }
        return TurnContext(
            history: rows.compactMap(\.message), lastMessageID: first.last, parentID: first.parentID,
            model: first.chatModel, systemPrompt: first.systemPrompt, title: first.title)
    }

    public func message(id: Int64, chatID: UUID, ownerID: UUID?) async throws -> MessageRecord? {
        try await self.one(
            """
            SELECT \(unescaped: Self.messageColumns) FROM messages
            WHERE id = \(id) AND chat_id = \(chatID)
                AND (\(ownerID)::uuid IS NULL OR chat_id IN (SELECT id FROM chats WHERE user_id = \(ownerID)))
            """,
            Self.decodeMessage)
    }

    public func streamingReply(chatID: UUID) async throws -> MessageRecord? {
        try await self.one(
            """
            SELECT \(unescaped: Self.messageColumns) FROM messages WHERE status = 'streaming' AND chat_id = \(chatID)
            ORDER BY id DESC LIMIT 1
            """,
            Self.decodeMessage)
    }

    public func messages(status: MessageStatus) async throws -> [MessageRecord] {
        try await self.rows(
            "SELECT \(unescaped: Self.messageColumns) FROM messages WHERE status = \(status.rawValue) ORDER BY id",
            Self.decodeMessage)
    }
}
