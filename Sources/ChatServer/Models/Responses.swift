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
    let content: String
    let createdAt: String

    init(_ message: MessageRecord) {
        self.id = message.id
        self.chatID = message.chatID.lowercasedString
        self.role = message.role
        self.content = message.content
        self.createdAt = message.createdAt.iso8601
    }

    enum CodingKeys: String, CodingKey {
        case id, role, content
        case chatID = "chat_id"
        case createdAt = "created_at"
    }
}

/// A plain confirmation, e.g. after logout.
struct MessageOnlyResponse: ResponseEncodable {
    let message: String
}
