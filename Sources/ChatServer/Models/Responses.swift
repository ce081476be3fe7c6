import ChatProvider
import ChatStorage
import Hummingbird

/// A user as the API shows it (never the password hash or token version).
struct UserResponse: JSONResponse, Equatable {
    let id: String
    let email: String
    let role: UserRole
    let createdAt: String
    let disabled: Bool
    /// The user's own quotas (0: unlimited; nil: the deployment's default), shown in the admin area only
    /// (`admin`), so the reference's user shape stays as it is.
    let dailyTokenQuota: Int64?
    let monthlyTokenQuota: Int64?
    let admin: Bool

    init(_ user: UserRecord, admin: Bool = false) {
        self.admin = admin
        self.id = user.id.lowercasedString
        self.email = user.email
        self.role = user.role
        self.createdAt = user.createdAt.iso8601
        self.disabled = user.disabled
        self.dailyTokenQuota = user.dailyTokenQuota
        self.monthlyTokenQuota = user.monthlyTokenQuota
    }

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("id", self.id)
            json.field("email", self.email)
            json.field("role", self.role.rawValue)
            json.field("created_at", self.createdAt)
            json.field("disabled", self.disabled)
            if self.admin {
                json.field("daily_token_quota", self.dailyTokenQuota)
                json.field("monthly_token_quota", self.monthlyTokenQuota)
            }
        }
    }
}

/// An OAuth2 bearer token response.
struct TokenResponse: JSONResponse {
    let accessToken: String
    /// Seconds until the token expires.
    let expiresIn: Int

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("access_token", self.accessToken)
            json.field("token_type", "bearer")
            json.field("expires_in", self.expiresIn)
        }
    }
}

/// A chat; `title` is always present, as null when unset (the reference's clients read it unconditionally).
struct ChatResponse: JSONResponse, Equatable {
    let id: String
    let userID: String
    let title: String?
    let createdAt: Timestamp
    let updatedAt: Timestamp
    let messageCount: Int
    let pinned: Bool
    let archived: Bool
    /// nil: the deployment's default.
    let model: String?
    let systemPrompt: String?

    init(_ chat: ChatRecord) {
        self.id = chat.id.lowercasedString
        self.userID = chat.userID.lowercasedString
        self.title = chat.title
        self.createdAt = chat.createdAt
        self.updatedAt = chat.updatedAt
        self.messageCount = chat.messageCount
        self.pinned = chat.pinned
        self.archived = chat.archived
        self.model = chat.model
        self.systemPrompt = chat.systemPrompt
    }

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("id", self.id)
            json.field("user_id", self.userID)
            json.field("title", self.title)
            json.field("created_at", self.createdAt)
            json.field("updated_at", self.updatedAt)
            json.field("message_count", self.messageCount)
            json.field("pinned", self.pinned)
            json.field("archived", self.archived)
            json.field("model", self.model)
            json.field("system_prompt", self.systemPrompt)
        }
    }
}

struct ChatListResponse: JSONResponse {
    let chats: [ChatResponse]
    let total: Int

    func write(to writer: inout JSONWriter) {
        // A chat is 200-400 bytes: the page's room at once instead of the array's regrowth.
        writer.reserveCapacity(64 + self.chats.count * 320)
        writer.object { json in
            json.key("chats")
            json.array(self.chats) { json, chat in chat.write(to: &json) }
            json.field("total", self.total)
        }
    }
}

/// A message. Assistant replies always carry `model`, `prompt_tokens`, `completion_tokens` (null until
/// known); `error` appears only when a reply failed or was cancelled.
struct MessageResponse: JSONResponse, Equatable {
    let id: Int64
    let chatID: String
    let role: MessageRole
    private(set) var content: String
    let createdAt: Timestamp
    let status: MessageStatus
    let error: String?
    let model: String?
    let promptTokens: Int?
    let completionTokens: Int?
    /// The message before it on its branch (nil for the chat's first message): written in the tree only, so
    /// the reference's message shape stays as it is.
    let parentID: Int64?

    init(_ message: MessageRecord) {
        self.init(message, chatID: message.chatID.lowercasedString)
    }

    /// With the chat's id already formatted (a listing formats it once, not once per message).
    init(_ message: MessageRecord, chatID: String) {
        self.id = message.id
        self.chatID = chatID
        self.role = message.role
        self.content = message.content
        self.createdAt = message.createdAt
        self.status = message.status
        self.error = message.error
        self.model = message.model
        self.promptTokens = message.promptTokens
        self.completionTokens = message.completionTokens
        self.parentID = message.parentID
    }

    /// The same message with the live text of a reply still being generated.
    func withContent(_ content: String) -> MessageResponse {
        var copy = self
        copy.content = content
        return copy
    }

    func write(to writer: inout JSONWriter) {
        writer.object { self.writeFields(to: &$0) }
    }

    /// The fields, inside an object the caller opened.
    func writeFields(to json: inout JSONWriter) {
        json.field("id", self.id)
        json.field("chat_id", self.chatID)
        json.field("role", self.role.rawValue)
        json.field("content", self.content)
        json.field("created_at", self.createdAt)
        json.field("status", self.status.rawValue)
        if self.role == .assistant {
            json.field("model", self.model)
            json.field("prompt_tokens", self.promptTokens)
            json.field("completion_tokens", self.completionTokens)
        }
        if let error = self.error { json.field("error", error) }
    }
}

/// A message of GET /chats/{id}/messages?tree=true: a message's fields, its siblings (every message with the
/// same parent, itself included, oldest first: "2 of 3" for a client) and whether it is on the active path.
struct TreeMessageResponse: JSONWritable, Equatable {
    let message: MessageResponse
    let siblingIDs: [Int64]
    let active: Bool

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            self.message.writeFields(to: &json)
            json.field("parent_id", self.message.parentID)
            json.key("sibling_ids")
            json.array(self.siblingIDs) { $0.value($1) }
            json.field("active", self.active)
        }
    }
}

/// The answer of POST /chats/{id}/active: the chat's active path after the switch, root first.
struct ActivePathResponse: JSONResponse {
    let chatID: String
    let path: [Int64]

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("chat_id", self.chatID)
            json.field("message_id", self.path.last)
            json.key("path")
            json.array(self.path) { $0.value($1) }
        }
    }
}

/// The answer of a non-streamed POST /chat.
struct ChatReplyResponse: JSONResponse {
    let reply: String
    let chatID: String
    let messageID: Int64
    let userMessageID: Int64
    let usage: UsageResponse?

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("reply", self.reply)
            json.field("chat_id", self.chatID)
            json.field("message_id", self.messageID)
            json.field("user_message_id", self.userMessageID)
            json.key("usage")
            if let usage = self.usage { usage.write(to: &json) } else { json.value(nil as String?) }
        }
    }
}

struct UsageResponse: JSONWritable, Equatable {
    let promptTokens: Int
    let completionTokens: Int
    let totalTokens: Int

    init(_ usage: TokenUsage) {
        self.promptTokens = usage.promptTokens
        self.completionTokens = usage.completionTokens
        self.totalTokens = usage.totalTokens
    }

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("prompt_tokens", self.promptTokens)
            json.field("completion_tokens", self.completionTokens)
            json.field("total_tokens", self.totalTokens)
        }
    }
}

/// A plain confirmation, e.g. after logout.
struct MessageOnlyResponse: JSONResponse {
    let message: String

    func write(to writer: inout JSONWriter) {
        writer.object { json in json.field("message", self.message) }
    }
}
