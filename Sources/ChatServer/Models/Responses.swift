import ChatProvider
import ChatStorage
import Hummingbird

/// A user as the API shows it (never the password hash or token version).
struct UserResponse: ResponseEncodable, Equatable {
    let id: String
    let email: String
    let role: UserRole
    let createdAt: String

    init(_ user: UserRecord) {
        self.id = user.id.lowercasedString
        self.email = user.email
        self.role = user.role
        self.createdAt = user.createdAt.iso8601
    }

    enum CodingKeys: String, CodingKey {
        case id, email, role
        case createdAt = "created_at"
    }
}

/// An OAuth2 bearer token response.
struct TokenResponse: ResponseEncodable {
    let accessToken: String
    let tokenType = "bearer"
    /// Seconds until the token expires.
    let expiresIn: Int

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
    }
}

struct ChatResponse: ResponseEncodable, Equatable {
    let id: String
    let userID: String
    let title: String?
    let createdAt: String
    let updatedAt: String
    let messageCount: Int

    init(_ chat: ChatRecord) {
        self.id = chat.id.lowercasedString
        self.userID = chat.userID.lowercasedString
        self.title = chat.title
        self.createdAt = chat.createdAt.iso8601
        self.updatedAt = chat.updatedAt.iso8601
        self.messageCount = chat.messageCount
    }

    enum CodingKeys: String, CodingKey {
        case id, title
        case userID = "user_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case messageCount = "message_count"
    }

    /// `title` is always present, as null when unset (the reference's clients read it unconditionally).
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.id, forKey: .id)
        try container.encode(self.userID, forKey: .userID)
        try container.encode(self.title, forKey: .title)
        try container.encode(self.createdAt, forKey: .createdAt)
        try container.encode(self.updatedAt, forKey: .updatedAt)
        try container.encode(self.messageCount, forKey: .messageCount)
    }
}

struct ChatListResponse: ResponseEncodable {
    let chats: [ChatResponse]
    let total: Int
}

struct MessageResponse: ResponseEncodable, Equatable {
    let id: Int64
    let chatID: String
    let role: MessageRole
    private(set) var content: String
    let createdAt: String
    let status: MessageStatus
    let error: String?
    let model: String?
    let promptTokens: Int?
    let completionTokens: Int?

    init(_ message: MessageRecord) {
        self.id = message.id
        self.chatID = message.chatID.lowercasedString
        self.role = message.role
        self.content = message.content
        self.createdAt = message.createdAt.iso8601
        self.status = message.status
        self.error = message.error
        self.model = message.model
        self.promptTokens = message.promptTokens
        self.completionTokens = message.completionTokens
    }

    /// The same message with the live text of a reply still being generated.
    func withContent(_ content: String) -> MessageResponse {
        var copy = self
        copy.content = content
        return copy
    }

    enum CodingKeys: String, CodingKey {
        case id, role, content, status, error, model
        case chatID = "chat_id"
        case createdAt = "created_at"
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
    }

    /// Assistant replies always carry `model`, `prompt_tokens`, `completion_tokens` (null until known);
    /// `error` appears only when the reply failed or was cancelled.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.id, forKey: .id)
        try container.encode(self.chatID, forKey: .chatID)
        try container.encode(self.role, forKey: .role)
        try container.encode(self.content, forKey: .content)
        try container.encode(self.createdAt, forKey: .createdAt)
        try container.encode(self.status, forKey: .status)
        if self.role == .assistant {
            try container.encode(self.model, forKey: .model)
            try container.encode(self.promptTokens, forKey: .promptTokens)
            try container.encode(self.completionTokens, forKey: .completionTokens)
        }
        try container.encodeIfPresent(self.error, forKey: .error)
    }
}

/// The answer of a non-streamed POST /chat.
struct ChatReplyResponse: ResponseEncodable {
    let reply: String
    let chatID: String
    let messageID: Int64
    let userMessageID: Int64
    let usage: UsageResponse?

    enum CodingKeys: String, CodingKey {
        case reply, usage
        case chatID = "chat_id"
        case messageID = "message_id"
        case userMessageID = "user_message_id"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.reply, forKey: .reply)
        try container.encode(self.chatID, forKey: .chatID)
        try container.encode(self.messageID, forKey: .messageID)
        try container.encode(self.userMessageID, forKey: .userMessageID)
        try container.encode(self.usage, forKey: .usage)
    }
}

struct UsageResponse: Encodable, Equatable {
    let promptTokens: Int
    let completionTokens: Int
    let totalTokens: Int

    init(_ usage: TokenUsage) {
        self.promptTokens = usage.promptTokens
        self.completionTokens = usage.completionTokens
        self.totalTokens = usage.totalTokens
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
    }
}

/// A plain confirmation, e.g. after logout.
struct MessageOnlyResponse: ResponseEncodable {
    let message: String
}
