import Foundation

/// A user's role. Admins can use the admin area.
public enum UserRole: String, Sendable, Codable, CaseIterable {
    case user
    case admin
}

/// Who wrote a message.
public enum MessageRole: String, Sendable, Codable, CaseIterable {
    case system
    case user
    case assistant
}

/// A row of `users`.
public struct UserRecord: Sendable, Equatable {
    public let id: UUID
    /// Lower-cased on the way in, so it is unique case-insensitively.
    public let email: String
    public let passwordHash: String
    public let role: UserRole
    /// Bumped to revoke every token issued before.
    public let tokenVersion: Int64
    public let chatCount: Int
    public let createdAt: Timestamp

    public init(
        id: UUID,
        email: String,
        passwordHash: String,
        role: UserRole,
        tokenVersion: Int64,
        chatCount: Int,
        createdAt: Timestamp
    ) {
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.role = role
        self.tokenVersion = tokenVersion
        self.chatCount = chatCount
        self.createdAt = createdAt
    }
}

/// A row of `chats`, with its maintained `message_count`.
public struct ChatRecord: Sendable, Equatable {
    public let id: UUID
    public let userID: UUID
    public let title: String?
    public let messageCount: Int
    public let createdAt: Timestamp
    public let updatedAt: Timestamp
}

/// A row of `messages`. Ids grow with insertion order within the whole database.
public struct MessageRecord: Sendable, Equatable {
    public let id: Int64
    public let chatID: UUID
    public let role: MessageRole
    public let content: String
    public let createdAt: Timestamp
}

/// One page of a user's chats and how many they have in all.
public struct ChatPage: Sendable {
    public let chats: [ChatRecord]
    public let total: Int
}

/// A failure the caller can act on (as opposed to a ``SQLiteError``, which is a fault).
public enum StorageError: Error, Equatable, Sendable {
    case emailAlreadyRegistered
    case lastAdmin
    case corruptRow(String)
    case newerSchema(found: Int, supported: Int)
}

extension UUID {
    /// The lower-case canonical form used in the database and in every response.
    public var lowercasedString: String { self.uuidString.lowercased() }
}
