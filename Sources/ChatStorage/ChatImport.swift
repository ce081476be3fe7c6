import Foundation

/// A chat to write as it was elsewhere (POST /chats/import): its own times and settings, and its messages in
/// order. The store gives it and its messages new ids.
public struct ChatImport: Sendable, Equatable {
    public var title: String?
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    public var pinned: Bool
    public var archived: Bool
    public var model: String?
    public var systemPrompt: String?
    /// Oldest first; none `streaming`.
    public var messages: [MessageImport]

    public init(
        title: String?, createdAt: Timestamp, updatedAt: Timestamp, pinned: Bool = false, archived: Bool = false,
        model: String? = nil, systemPrompt: String? = nil, messages: [MessageImport]
    ) {
        self.title = title
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.pinned = pinned
        self.archived = archived
        self.model = model
        self.systemPrompt = systemPrompt
        self.messages = messages
    }
}

/// One message of a ``ChatImport``.
public struct MessageImport: Sendable, Equatable {
    public var role: MessageRole
    public var content: String
    public var createdAt: Timestamp
    public var status: MessageStatus
    public var model: String?
    public var error: String?

    public init(
        role: MessageRole, content: String, createdAt: Timestamp, status: MessageStatus = .complete,
        model: String? = nil, error: String? = nil
    ) {
        self.role = role
        self.content = content
        self.createdAt = createdAt
        self.status = status
        self.model = model
        self.error = error
    }
}
