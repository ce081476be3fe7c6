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

    /// Makes the active path one branch: the one ending at the last message marked as on it (the last
    /// message when none is), whatever else the file marked.
    public mutating func settleActivePath() {
        let parents = self.parentIndices
        var next = self.messages.lastIndex { $0.onActivePath } ?? self.messages.indices.last
        for index in self.messages.indices { self.messages[index].onActivePath = false }
        while let index = next {
            self.messages[index].onActivePath = true
            next = parents[index]
        }
    }

    /// Each message's parent as an index into ``messages`` (nil: a first message); every parent comes before
    /// its child, so the engine writes them in this order and each parent's id is known before its child's.
    public var parentIndices: [Int?] {
        self.messages.indices.map { index in
            switch self.messages[index].parent {
            case .previous: index == 0 ? nil : index - 1
            case .root: nil
            case .message(let parent): parent < index ? parent : nil
            }
        }
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
    /// The message it follows on its branch.
    public var parent: Parent
    /// On the chat's active path: the messages that have it must form one branch, root first.
    public var onActivePath: Bool

    /// Where a message hangs in its chat's tree.
    public enum Parent: Sendable, Equatable {
        /// After the message before it in the chat's list (the first message is a root): a chat without
        /// branches.
        case previous
        /// A first message.
        case root
        /// After the message at this index of the chat's list, which must be before it.
        case message(Int)
    }

    public init(
        role: MessageRole, content: String, createdAt: Timestamp, status: MessageStatus = .complete,
        model: String? = nil, error: String? = nil, parent: Parent = .previous, onActivePath: Bool = true
    ) {
        self.parent = parent
        self.onActivePath = onActivePath
        self.role = role
        self.content = content
        self.createdAt = createdAt
        self.status = status
        self.model = model
        self.error = error
    }
}
