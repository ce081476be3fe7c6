import ChatStorage
import Foundation

extension DatabaseActor {
    static let messageColumns =
        "id, chat_id, role, content, created_at, status, error, model, prompt_tokens, completion_tokens, parent_id, on_path"

    static func decodeMessage(_ row: Row) throws -> MessageRecord {
        try self.decodeMessage(row, chatID: nil)
    }

    /// `chatID`, when the query selected one chat's messages, saves parsing the same id on every row.
    static func decodeMessage(_ row: Row, chatID knownChatID: UUID?) throws -> MessageRecord {
        guard let chatID = knownChatID ?? row.uuid(1), let role = row.text(2, as: MessageRole.self),
            let status = row.text(5, as: MessageStatus.self)
        else {
            throw StorageError.corruptRow("messages")
        }
        return MessageRecord(
            id: row.int64(0),
            chatID: chatID,
            role: role,
            content: row.text(3),
            createdAt: Timestamp(microseconds: row.int64(4)),
            status: status,
            error: row.optionalText(6),
            model: row.optionalText(7),
            promptTokens: row.isNull(8) ? nil : row.int(8),
            completionTokens: row.isNull(9) ? nil : row.int(9),
            parentID: row.isNull(10) ? nil : row.int64(10),
            onActivePath: row.int(11) != 0
        )
    }

    /// The path up from a message (`?1`, in chat `?2`) to the root, as the common table `path(id, parent_id)`.
    static let pathUp = """
        WITH RECURSIVE path(id, parent_id) AS (
            SELECT id, parent_id FROM messages WHERE id = ?1 AND chat_id = ?2
            UNION ALL
            SELECT m.id, m.parent_id FROM messages m JOIN path ON m.id = path.parent_id
        )
        """

    /// Makes the path from `leaf` up to the root the chat's active path (no message is on it for nil).
    static func activatePath(chat: SQLiteValue, leaf: Int64?, on connection: SQLiteConnection) throws {
        try connection.run(
            """
            \(Self.pathUp)
            UPDATE messages SET on_path = (id IN (SELECT id FROM path))
            WHERE chat_id = ?2 AND on_path <> (id IN (SELECT id FROM path))
            """,
            [leaf.map { .integer($0) } ?? .null, chat])
    }

    /// The last message of the chat's active path (nil when it has none).
    static func activeLeaf(chat: SQLiteValue, on connection: SQLiteConnection) throws -> Int64? {
        try connection.queryOne("SELECT max(id) FROM messages WHERE chat_id = ? AND on_path", [chat]) {
            $0.isNull(0) ? nil : $0.int64(0)
        } ?? nil
    }

    /// Appends a message to a chat; its insert trigger bumps the chat's `updated_at` (migration 14).
    public func appendMessage(chatID: UUID, role: MessageRole, content: String) async throws -> MessageRecord {
        let now = Timestamp.now().microseconds
        let chat = SQLiteValue.text(chatID.lowercasedString)
        return try await self.write { connection in
            let message = try connection.queryOne(
                """
                INSERT INTO messages (chat_id, role, content, created_at, parent_id) VALUES (?1, ?2, ?3, ?4,
                    (SELECT max(id) FROM messages WHERE chat_id = ?1 AND on_path))
                RETURNING \(Self.messageColumns)
                """,
                [chat, .text(role.rawValue), .text(content), .integer(now)],
                Self.decodeMessage
            )
            guard let message else { throw StorageError.corruptRow("messages") }
            return message
        }
    }

    /// A chat's messages oldest first, starting after message id `after`, at most `limit`.
    ///
    /// Returns nil when the chat does not exist or (when `ownerID` is given) is not that user's,
    /// so the caller learns both in one trip to the database.
    public func messages(chatID: UUID, ownerID: UUID?, after: Int64, limit: Int) throws -> [MessageRecord]? {
        switch try self.messagePage(chatID: chatID, ownerID: ownerID, after: after, limit: limit, knownVersion: nil) {
        case .messages(let messages, _): messages
        case .unchanged, nil: nil
        }
    }

    /// A chat's messages like ``messages(chatID:ownerID:after:limit:)``, unless the chat's `messages_version`
    /// still equals `knownVersion`: then only that, without reading a message (the listing cache's check).
    ///
    /// Both reads run in one job on the database thread, where no write can come between them, so the page
    /// is exactly the chat at the version it is returned with. Nil when the chat does not exist or is not
    /// `ownerID`'s.
    public func messagePage(chatID: UUID, ownerID: UUID?, after: Int64, limit: Int, knownVersion: Int64?) throws
        -> MessagePage?
    {
        try self.checkOpen()
        let chatArgument = SQLiteValue.text(chatID.lowercasedString)
        let version: Int64?
        if let ownerID {
            version = try self.connection.queryOne(
                "SELECT messages_version FROM chats WHERE id = ? AND user_id = ? AND import_id IS NULL",
                [chatArgument, .text(ownerID.lowercasedString)]
            ) { $0.int64(0) }
        } else {
            version = try self.connection.queryOne(
                "SELECT messages_version FROM chats WHERE id = ? AND import_id IS NULL", [chatArgument]
            ) { $0.int64(0) }
        }
        guard let version else { return nil }
        if version == knownVersion { return .unchanged(version: version) }
        let messages = try self.connection.query(
            "SELECT \(Self.messageColumns) FROM messages WHERE chat_id = ? AND on_path AND id > ? ORDER BY id LIMIT ?",
            [chatArgument, .integer(after), .int(limit)]
        ) { row in try Self.decodeMessage(row, chatID: chatID) }
        return .messages(messages, version: version)
    }

    public func allMessages(chatID: UUID, ownerID: UUID?, after: Int64, limit: Int) throws -> [MessageRecord]? {
        try self.checkOpen()
        let chat = SQLiteValue.text(chatID.lowercasedString)
        guard try Self.ownedChatExists(chat, ownerID: ownerID, on: self.connection) else { return nil }
        return try self.connection.query(
            "SELECT \(Self.messageColumns) FROM messages WHERE chat_id = ? AND id > ? ORDER BY id LIMIT ?",
            [chat, .integer(after), .int(limit)]
        ) { row in try Self.decodeMessage(row, chatID: chatID) }
    }

    public func messageTree(chatID: UUID, ownerID: UUID?) throws -> MessageTree? {
        try self.checkOpen()
        let chat = SQLiteValue.text(chatID.lowercasedString)
        guard try Self.ownedChatExists(chat, ownerID: ownerID, on: self.connection) else { return nil }
        return MessageTree(links: try Self.links(chat: chat, on: self.connection))
    }

    /// Every message of the chat with its parent, oldest first.
    private static func links(chat: SQLiteValue, on connection: SQLiteConnection) throws -> [(
        id: Int64, parentID: Int64?
    )] {
        try connection.query("SELECT id, parent_id FROM messages WHERE chat_id = ? ORDER BY id", [chat]) {
            (id: $0.int64(0), parentID: $0.isNull(1) ? nil : $0.int64(1))
        }
    }

    private static func ownedChatExists(_ chat: SQLiteValue, ownerID: UUID?, on connection: SQLiteConnection) throws
        -> Bool
    {
        if let ownerID {
            return try connection.queryOne(
                "SELECT 1 FROM chats WHERE id = ? AND user_id = ? AND import_id IS NULL",
                [chat, .text(ownerID.lowercasedString)]
            ) { _ in true } != nil
        }
        return try connection.queryOne("SELECT 1 FROM chats WHERE id = ? AND import_id IS NULL", [chat]) { _ in true }
            != nil
    }

    public func activateBranch(chatID: UUID, ownerID: UUID, messageID: Int64) async throws -> [Int64]? {
        let chat = SQLiteValue.text(chatID.lowercasedString)
        return try await self.write { connection in
            guard try Self.ownedChatExists(chat, ownerID: ownerID, on: connection) else { return nil }
            if try connection.queryOne(
                "SELECT 1 FROM messages WHERE chat_id = ? AND status = 'streaming'", [chat], { _ in true }) != nil
            {
                throw StorageError.chatBusy
            }
            guard let path = MessageTree(links: try Self.links(chat: chat, on: connection)).branch(through: messageID)
            else { return nil }
            try Self.activatePath(chat: chat, leaf: path.last, on: connection)
            return path
        }
    }

    /// Starts an AI turn in one transaction: checks that nothing was saved in the chat after the context was
    /// read and (after the active path) that the path still ends where it did (``StorageError/chatBusy``
    /// otherwise), or switches the active path to the branch; admits the turn against its user's quotas; then
    /// saves the user's message (unless regenerating) and an empty assistant reply with status `streaming`
    /// (holding the reservation), whose insert bumps the chat's `updated_at`. Nil if the chat no longer exists.
    public func beginTurn(
        chatID: UUID, placement: TurnPlacement, parentID: Int64?, userContent: String?, model: String,
        contextThrough: Int64, reservation: TokenReservation?
    ) async throws -> (user: MessageRecord, assistant: MessageRecord)? {
        let chat = SQLiteValue.text(chatID.lowercasedString)
        let now = Timestamp.now().microseconds
        return try await self.write { connection in
            guard try Self.ownedChatExists(chat, ownerID: nil, on: connection) else { return nil }
            if try connection.queryOne(
                "SELECT 1 FROM messages WHERE chat_id = ? AND id > ? LIMIT 1", [chat, .integer(contextThrough)],
                { _ in true }) != nil
            {
                throw StorageError.chatBusy
            }
            var parent: MessageRecord?
            if let parentID {
                parent = try connection.queryOne(
                    "SELECT \(Self.messageColumns) FROM messages WHERE id = ? AND chat_id = ?",
                    [.integer(parentID), chat], Self.decodeMessage)
                guard parent != nil else { return nil }
            }
            try Self.place(placement, chat: chat, parentID: parentID, on: connection)
            try Self.admit(reservation, on: connection)
            let user: MessageRecord
            if let userContent {
                user = try Self.insertTurnMessage(
                    [
                        chat, .text("user"), .text(userContent), .integer(now), .text("complete"), .null, .null,
                        parentID.map { .integer($0) } ?? .null,
                    ], on: connection)
            } else {
                // Read before place(), which put it on the active path.
                guard var answered = parent else { return nil }
                answered.onActivePath = true
                user = answered
            }
            let assistant = try Self.insertTurnMessage(
                [
                    chat, .text("assistant"), .text(""), .integer(now), .text("streaming"), .text(model),
                    reservation.map { .int($0.tokens) } ?? .null, .integer(user.id),
                ], on: connection)
            return (user, assistant)
        }
    }

    /// On the active path: the path must still end at `parentID` (``StorageError/chatBusy`` otherwise). On a
    /// branch: the branch through `parentID` becomes the active path.
    private static func place(
        _ placement: TurnPlacement, chat: SQLiteValue, parentID: Int64?, on connection: SQLiteConnection
    ) throws {
        switch placement {
        case .activePath:
            guard try Self.activeLeaf(chat: chat, on: connection) == parentID else { throw StorageError.chatBusy }
        case .branch:
            try Self.activatePath(chat: chat, leaf: parentID, on: connection)
        }
    }

    /// Admits a turn against its user's daily and monthly quotas (``StorageError/quotaExceeded(_:)`` otherwise).
    private static func admit(_ reservation: TokenReservation?, on connection: SQLiteConnection) throws {
        if let reservation,
            let period = try Self.standing(reservation.userID, today: reservation.today, on: connection)
                .exceeded(by: reservation)
        {
            throw StorageError.quotaExceeded(period)
        }
    }

    /// Inserts one message of a turn; `values` in the order of the insert's columns (chat, role, content,
    /// created_at, status, model, reserved_tokens, parent_id).
    private static func insertTurnMessage(_ values: [SQLiteValue], on connection: SQLiteConnection) throws
        -> MessageRecord
    {
        let insert = """
            INSERT INTO messages (chat_id, role, content, created_at, status, model, reserved_tokens, parent_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING \(Self.messageColumns)
            """
        guard let saved = try connection.queryOne(insert, values, Self.decodeMessage) else {
            throw StorageError.corruptRow("messages")
        }
        return saved
    }

    /// Saves the text a streaming reply has so far (the periodic flush).
    public func updateStreamingContent(messageID: Int64, content: String) async throws {
        try await self.write { connection in
            try connection.run(
                "UPDATE messages SET content = ? WHERE id = ? AND status = 'streaming'",
                [.text(content), .integer(messageID)]
            )
        }
    }

    /// Records how a reply ended and bumps its chat's `updated_at`. Returns the saved message (nil if the
    /// chat was deleted meanwhile).
    @discardableResult
    public func finishMessage(id: Int64, outcome: MessageOutcome) async throws -> MessageRecord? {
        let arguments: [SQLiteValue] = [
            .text(outcome.content), .text(outcome.status.rawValue), .optionalText(outcome.error),
            .optionalText(outcome.model), outcome.promptTokens.map { .int($0) } ?? .null,
            outcome.completionTokens.map { .int($0) } ?? .null, .integer(id),
        ]
        let now = Timestamp.now().microseconds
        return try await self.write { connection in
            let message = try connection.queryOne(
                """
                UPDATE messages SET content = ?, status = ?, error = ?, model = COALESCE(?, model),
                    prompt_tokens = ?, completion_tokens = ?
                WHERE id = ? RETURNING \(Self.messageColumns)
                """,
                arguments,
                Self.decodeMessage
            )
            if let message {
                try connection.run(
                    "UPDATE chats SET updated_at = ? WHERE id = ?",
                    [.integer(now), .text(message.chatID.lowercasedString)]
                )
            }
            if let charge = outcome.charge { try Self.account(charge, on: connection) }
            return message
        }
    }

    /// The complete messages of the path the turn continues, newest first, and the chat's newest message id,
    /// read in one job on the database thread (no write comes between them).
    public func turnContext(chatID: UUID, ownerID: UUID?, window: HistoryWindow, placement: TurnPlacement) throws
        -> TurnContext?
    {
        try self.checkOpen()
        let chat = SQLiteValue.text(chatID.lowercasedString)
        guard
            let settings = try self.connection.queryOne(
                "SELECT model, system_prompt, title FROM chats WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2) AND import_id IS NULL",
                [chat, ownerID.map { .text($0.lowercasedString) } ?? .null],
                { ($0.optionalText(0), $0.optionalText(1), $0.optionalText(2)) })
        else { return nil }
        let last = try self.connection.queryOne("SELECT max(id) FROM messages WHERE chat_id = ?", [chat]) {
            $0.isNull(0) ? 0 : $0.int64(0)
        }
        let parentID: Int64?
        let historySQL: String
        let arguments: [SQLiteValue]
        switch placement {
        case .activePath:
            parentID = try Self.activeLeaf(chat: chat, on: self.connection)
            historySQL = """
                SELECT \(Self.messageColumns) FROM messages
                WHERE chat_id = ? AND on_path AND status = 'complete' ORDER BY id DESC LIMIT ?
                """
            arguments = [chat, .int(window.messages)]
        case .branch(let from):
            parentID = from
            historySQL = """
                \(Self.pathUp)
                SELECT \(Self.messageColumns) FROM messages
                WHERE id IN (SELECT id FROM path) AND status = 'complete' ORDER BY id DESC LIMIT ?3
                """
            arguments = [from.map { .integer($0) } ?? .null, chat, .int(window.messages)]
        }
        var read = HistoryRead(window)
        let history = try self.connection.query(
            historySQL, arguments,
            until: { row in try read.next { try Self.decodeMessage(row, chatID: chatID) } })
        return TurnContext(
            history: history, lastMessageID: last ?? 0, parentID: parentID, model: settings.0,
            systemPrompt: settings.1, title: settings.2)
    }

    /// A history read newest first, cut to a ``HistoryWindow``'s tokens: each message is read while the ones
    /// before it estimate below them (the first always), and the rows after are not stepped to.
    struct HistoryRead {
        let tokens: Int
        var before = 0

        init(_ window: HistoryWindow) { self.tokens = window.tokens }

        mutating func next(_ decode: () throws -> MessageRecord) rethrows -> MessageRecord? {
            guard self.before < self.tokens else { return nil }
            let message = try decode()
            self.before += HistoryWindow.estimatedTokens(message.content)
            return message
        }
    }

    /// One message of a chat (nil if missing or, with `ownerID`, not that user's chat).
    public func message(id: Int64, chatID: UUID, ownerID: UUID?) throws -> MessageRecord? {
        try self.checkOpen()
        var sql = "SELECT \(Self.messageColumns) FROM messages WHERE id = ? AND chat_id = ?"
        var arguments: [SQLiteValue] = [.integer(id), .text(chatID.lowercasedString)]
        if let ownerID {
            sql += " AND chat_id IN (SELECT id FROM chats WHERE user_id = ? AND import_id IS NULL)"
            arguments.append(.text(ownerID.lowercasedString))
        }
        return try self.connection.queryOne(sql, arguments, Self.decodeMessage)
    }

    /// Marks replies a crash left `streaming` as failed (their partial content is kept). Run at start.
    @discardableResult
    public func failInterruptedTurns() throws -> Int {
        try self.checkOpen()
        return try self.connection.run(
            "UPDATE messages SET status = 'failed', error = ? WHERE status = 'streaming'",
            [.text("interrupted: the server stopped before the reply finished")]
        )
    }

    public func streamingReply(chatID: UUID) throws -> MessageRecord? {
        try self.checkOpen()
        return try self.connection.queryOne(
            "SELECT \(Self.messageColumns) FROM messages WHERE status = 'streaming' AND chat_id = ? ORDER BY id DESC",
            [.text(chatID.lowercasedString)],
            Self.decodeMessage
        )
    }

    /// Every message with this status, oldest first (for operators and tests; `streaming` is indexed).
    public func messages(status: MessageStatus) throws -> [MessageRecord] {
        try self.checkOpen()
        return try self.connection.query(
            "SELECT \(Self.messageColumns) FROM messages WHERE status = ? ORDER BY id",
            [.text(status.rawValue)],
            Self.decodeMessage
        )
    }
}
