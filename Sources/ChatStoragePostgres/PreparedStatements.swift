import ChatStorage
import Foundation
import PostgresNIO

// The statements of the busiest paths (a turn, the chat list), prepared once per pooled connection
// (postgres-nio keeps them by name): PostgreSQL does not parse them again, which is most of its work for
// statements this small, and plans them again only while a plan for the values at hand looks cheaper than its
// generic one (after five executions; see migration 19, where that was every execution). Their parameter types
// are given, so a first execution with a NULL does not leave a type to guess. Each has a fixed name:
// postgres-nio's default, `String(reflecting: Self.self)`, is built again at every execution (~1 % of a
// replica's CPU in a send run).

/// A chat if it belongs to the owner (the turn route's check).
struct OwnedChatStatement: PostgresPreparedStatement {
    static let name = "owned_chat"
    static let sql = "SELECT \(PostgresStore.chatColumns) FROM chats WHERE id = $1 AND user_id = $2"
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .uuid]

    let chatID: UUID
    let ownerID: UUID

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(self.chatID)
        bindings.append(self.ownerID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> ChatRecord { try PostgresStore.decodeChat(row) }
}

/// `begin_turn` (migration 10): the user's and the chat's row locks, the busy and stale-context checks, the
/// quota admission and both inserts in one statement.
struct BeginTurnStatement: PostgresPreparedStatement {
    static let name = "begin_turn"
    static let sql = """
        SELECT \(PostgresStore.messageColumns)
        FROM begin_turn($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        """
    static let bindingDataTypes: [PostgresDataType] = [
        .uuid, .text, .text, .uuid, .int8, .int8, .uuid, .int8, .int4, .int4, .int8, .int8, .int8, .bool,
    ]

    let chatID: UUID
    let userContent: String?
    let parentID: Int64?
    let branch: Bool
    let model: String
    let replicaID: UUID
    let now: Int64
    let contextThrough: Int64
    let reservation: TokenReservation?

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 14)
        bindings.append(self.chatID)
        bindings.append(self.userContent)
        bindings.append(self.model)
        bindings.append(self.replicaID)
        bindings.append(self.now)
        bindings.append(self.contextThrough)
        bindings.append(self.reservation?.userID)
        bindings.append(self.reservation.map { Int64($0.tokens) })
        bindings.append(self.reservation.map { Int32(clamping: $0.today.number) })
        bindings.append(self.reservation.map { Int32(clamping: $0.today.monthStart.number) })
        bindings.append(self.reservation?.dailyLimit)
        bindings.append(self.reservation?.monthlyLimit)
        bindings.append(self.parentID)
        bindings.append(self.branch)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> MessageRecord { try PostgresStore.decodeMessage(row) }
}

/// `begin_turn_with_context` (migration 17): a new message's turn after the active path, with no quota to
/// admit, read and begun in one statement.
struct BeginTurnWithContextStatement: PostgresPreparedStatement {
    static let name = "begin_turn_with_context"
    static let sql = "SELECT * FROM begin_turn_with_context($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    static let bindingDataTypes: [PostgresDataType] = [
        .uuid, .uuid, .text, .text, .textArray, .text, .uuid, .int8, .int8,
    ]

    let chatID: UUID
    let ownerID: UUID?
    let userContent: String
    let model: ModelChoice
    let replicaID: UUID
    let now: Int64
    let history: HistoryWindow

    typealias Row = (saved: Bool, systemPrompt: String?, title: String?, message: MessageRecord)

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 9)
        bindings.append(self.chatID)
        bindings.append(self.ownerID)
        bindings.append(self.userContent)
        bindings.append(self.model.chosen)
        bindings.append(self.model.offered)
        bindings.append(self.model.fallback)
        bindings.append(self.replicaID)
        bindings.append(self.now)
        bindings.append(Int64(self.history.messages))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        var cells = RowCells(row, of: "messages")
        let saved = try cells.next(Bool.self)
        let systemPrompt = try cells.next(String?.self)
        let title = try cells.next(String?.self)
        return (saved, systemPrompt, title, try cells.message())
    }
}

/// The context of a turn after the active path: the complete messages of the path, newest first, at most the
/// ``HistoryWindow``'s messages (its tokens are not applied: see ``HistoryWindow``), each row with
/// the chat's newest message id and the path's last message (one snapshot); one row of nulls when the chat has
/// no complete message, none when it is gone.
struct TurnContextStatement: PostgresPreparedStatement {
    static let name = "turn_context"
    static let sql = """
        SELECT (SELECT coalesce(max(id), 0) FROM messages WHERE chat_id = c.id),
            (SELECT max(id) FROM messages WHERE chat_id = c.id AND on_path), c.model, c.system_prompt, c.title,
            \(TurnContextRows.messageColumns)
        FROM chats c LEFT JOIN LATERAL (
            SELECT \(PostgresStore.messageColumns) FROM messages
            WHERE chat_id = c.id AND on_path AND status = 'complete' ORDER BY id DESC LIMIT $2
        ) m ON true
        WHERE c.id = $1 AND ($3::uuid IS NULL OR c.user_id = $3)
        ORDER BY m.id DESC
        """
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .int8, .uuid]

    let chatID: UUID
    let ownerID: UUID?
    let window: HistoryWindow

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(self.chatID)
        bindings.append(Int64(self.window.messages))
        bindings.append(self.ownerID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> TurnContextRows.Row { try TurnContextRows.decode(row) }
}

/// The rows of a turn's context, after the active path (``TurnContextStatement``) or on a branch.
enum TurnContextRows {
    /// A context message's columns (all on the path they were read from).
    static let messageColumns = """
        m.id, m.chat_id, m.role, m.content, m.created_at, m.status, m.error, m.model, m.prompt_tokens,
        m.completion_tokens, m.parent_id
        """

    typealias Row = (
        last: Int64, parentID: Int64?, chatModel: String?, systemPrompt: String?, title: String?,
        message: MessageRecord?
    )

    static func decode(_ row: PostgresRow) throws -> Row {
        var cells = RowCells(row, of: "messages")
        let last = try cells.next(Int64.self)
        let parentID = try cells.next(Int64?.self)
        let chatModel = try cells.next(String?.self)
        let systemPrompt = try cells.next(String?.self)
        let title = try cells.next(String?.self)
        return (last, parentID, chatModel, systemPrompt, title, try cells.joinedMessage())
    }
}

/// How a reply ended, its chat's `updated_at` and `messages_version`, and the user's usage, in one statement
/// (its own transaction).
struct FinishMessageStatement: PostgresPreparedStatement {
    static let name = "finish_message"
    static let sql = """
        WITH reply AS (
            UPDATE messages SET content = $2, status = $3, error = $4, model = COALESCE($5, model),
                prompt_tokens = $6, completion_tokens = $7
            WHERE id = $1 RETURNING \(PostgresStore.messageColumns)
        ), touched AS (
            UPDATE chats SET updated_at = $8, messages_version = messages_version + 1
            WHERE id = (SELECT chat_id FROM reply)
        ), charged AS (
            INSERT INTO usage_daily (user_id, day, slot, requests, prompt_tokens, completion_tokens,
                estimated_requests)
            SELECT $9, $10, ($1 % \(UsageSlots.count))::smallint, 1, $11, $12, $13
            WHERE EXISTS (SELECT 1 FROM users WHERE id = $9)
            ON CONFLICT (user_id, day, slot) DO UPDATE SET requests = usage_daily.requests + 1,
                prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
                completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
                estimated_requests = usage_daily.estimated_requests + excluded.estimated_requests
        )
        SELECT \(PostgresStore.messageColumns) FROM reply
        """
    static let bindingDataTypes: [PostgresDataType] = [
        .int8, .text, .text, .text, .text, .int8, .int8, .int8, .uuid, .int4, .int8, .int8, .int8,
    ]

    let id: Int64
    let outcome: MessageOutcome
    let now: Int64

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 13)
        bindings.append(self.id)
        bindings.append(self.outcome.content)
        bindings.append(self.outcome.status.rawValue)
        bindings.append(self.outcome.error)
        bindings.append(self.outcome.model)
        bindings.append(self.outcome.promptTokens.map { Int64($0) })
        bindings.append(self.outcome.completionTokens.map { Int64($0) })
        bindings.append(self.now)
        let charge = self.outcome.charge
        bindings.append(charge?.userID)
        bindings.append(charge.map { Int32(clamping: $0.day.number) })
        bindings.append(charge.map { Int64($0.promptTokens) })
        bindings.append(charge.map { Int64($0.completionTokens) })
        bindings.append(charge.map { Int64($0.estimated ? 1 : 0) })
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> MessageRecord { try PostgresStore.decodeMessage(row) }
}

/// A streaming reply's text so far (saved every flush interval), and its chat's `messages_version`.
struct UpdateStreamingContentStatement: PostgresPreparedStatement {
    static let name = "update_streaming_content"
    static let sql = """
        WITH reply AS (
            UPDATE messages SET content = $2 WHERE id = $1 AND status = 'streaming' RETURNING chat_id
        ), bumped AS (
            UPDATE chats SET messages_version = messages_version + 1 WHERE id = (SELECT chat_id FROM reply)
        )
        SELECT chat_id FROM reply
        """
    static let bindingDataTypes: [PostgresDataType] = [.int8, .text]

    let id: Int64
    let content: String

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(self.id)
        bindings.append(self.content)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> UUID { try row.decode(UUID.self) }
}

/// A page of a user's chats (archived or not) and their total in one round trip, through `chat_page` (migration
/// 19, which keeps one plan for it): the owner's row joined with its page (a page past the end is one row of
/// nulls).
struct ChatPageStatement: PostgresPreparedStatement {
    static let name = "chat_page"
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .int8, .int8, .bool]
    static let sql = "SELECT * FROM chat_page($1, $2, $3, $4)"

    let ownerID: UUID
    let archived: Bool
    let limit: Int64
    let offset: Int64

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(self.ownerID)
        bindings.append(self.limit)
        bindings.append(self.offset)
        bindings.append(self.archived)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> (total: Int64, chat: ChatRecord?) {
        var cells = RowCells(row, of: "chats")
        let total = try cells.next(Int64.self)
        let id = try cells.next(UUID?.self)
        let title = try cells.next(String?.self)
        let count = try cells.next(Int64?.self)
        let createdAt = try cells.next(Int64?.self)
        let updatedAt = try cells.next(Int64?.self)
        let pinned = try cells.next(Bool?.self)
        let model = try cells.next(String?.self)
        let systemPrompt = try cells.next(String?.self)
        guard let id, let count, let createdAt, let updatedAt, let pinned else { return (total, nil) }
        return (
            total,
            ChatRecord(
                id: id, userID: self.ownerID, title: title, messageCount: Int(count),
                createdAt: Timestamp(microseconds: createdAt), updatedAt: Timestamp(microseconds: updatedAt),
                pinned: pinned, archived: self.archived, model: model, systemPrompt: systemPrompt)
        )
    }
}

/// A chat's `messages_version` (no row: no such chat of that owner) and, unless it equals the version the caller
/// has, the page of its active path's messages after an id: one row per message, or one row without a message.
struct MessagePageStatement: PostgresPreparedStatement {
    static let name = "message_page"
    static let sql = """
        SELECT c.messages_version, m.id, m.chat_id, m.role, m.content, m.created_at, m.status, m.error, m.model,
            m.prompt_tokens, m.completion_tokens, m.parent_id
        FROM chats c LEFT JOIN LATERAL (
            SELECT \(PostgresStore.messageColumns) FROM messages
            WHERE chat_id = c.id AND on_path AND id > $3 AND c.messages_version IS DISTINCT FROM $5
            ORDER BY id LIMIT $4
        ) m ON true
        WHERE c.id = $1 AND ($2::uuid IS NULL OR c.user_id = $2)
        ORDER BY m.id
        """
    static let bindingDataTypes: [PostgresDataType] = [.uuid, .uuid, .int8, .int8, .int8]

    let chatID: UUID
    let ownerID: UUID?
    let after: Int64
    let limit: Int64
    let knownVersion: Int64?

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(self.chatID)
        bindings.append(self.ownerID)
        bindings.append(self.after)
        bindings.append(self.limit)
        bindings.append(self.knownVersion)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> (version: Int64, message: MessageRecord?) {
        var cells = RowCells(row, of: "messages")
        let version = try cells.next(Int64.self)
        return (version, try cells.joinedMessage())
    }
}

/// A key and its user by the key's SHA-256 (every call through the `/v1` door reads it: a revoked key or a
/// disabled user is refused at once on every replica).
struct APIKeyOwnerStatement: PostgresPreparedStatement {
    static let name = "api_key_owner"
    static let sql = """
        SELECT \(PostgresStore.apiKeyOwnerColumns)
        FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1
        """
    static let bindingDataTypes: [PostgresDataType] = [.text]

    let hash: String

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(self.hash)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> APIKeyOwner {
        let user = try PostgresStore.decodeUser(row)
        var cells = RowCells(row, of: "api_keys")
        try cells.skip(9)
        return APIKeyOwner(key: try PostgresStore.decodeAPIKey(&cells), user: user)
    }
}
