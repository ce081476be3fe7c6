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
    public let createdAt: Timestamp
    /// Set by an admin: the user's tokens stop working and login is refused.
    public let disabled: Bool
    /// Set by an admin: the user's own token quotas (0 = unlimited); nil = the deployment's default.
    public let dailyTokenQuota: Int64?
    public let monthlyTokenQuota: Int64?

    public init(
        id: UUID,
        email: String,
        passwordHash: String,
        role: UserRole,
        tokenVersion: Int64,
        createdAt: Timestamp,
        disabled: Bool = false,
        dailyTokenQuota: Int64? = nil,
        monthlyTokenQuota: Int64? = nil
    ) {
        self.disabled = disabled
        self.dailyTokenQuota = dailyTokenQuota
        self.monthlyTokenQuota = monthlyTokenQuota
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.role = role
        self.tokenVersion = tokenVersion
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
    /// Listed before the others.
    public let pinned: Bool
    /// Left out of the listing unless archived chats are asked for.
    public let archived: Bool
    /// The chat's own model and system prompt; nil = the deployment's default.
    public let model: String?
    public let systemPrompt: String?

    public init(
        id: UUID, userID: UUID, title: String?, messageCount: Int, createdAt: Timestamp, updatedAt: Timestamp,
        pinned: Bool = false, archived: Bool = false, model: String? = nil, systemPrompt: String? = nil
    ) {
        self.id = id
        self.userID = userID
        self.title = title
        self.messageCount = messageCount
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.pinned = pinned
        self.archived = archived
        self.model = model
        self.systemPrompt = systemPrompt
    }
}

/// What PATCH /chats/{id} changes (``ChatStore/updateChat(id:ownerID:changes:)``): a nil field is left as it
/// is. A new title bumps the chat's `updated_at` (it moves to the top, as a renamed chat always has); pinning,
/// archiving and the settings do not.
public struct ChatChanges: Sendable, Equatable {
    public var title: String?
    public var pinned: Bool?
    public var archived: Bool?
    /// `.some(nil)`: back to the deployment's default.
    public var model: String??
    public var systemPrompt: String??

    public init(
        title: String? = nil, pinned: Bool? = nil, archived: Bool? = nil, model: String?? = nil,
        systemPrompt: String?? = nil
    ) {
        self.title = title
        self.pinned = pinned
        self.archived = archived
        self.model = model
        self.systemPrompt = systemPrompt
    }

    public var isEmpty: Bool {
        self.title == nil && self.pinned == nil && self.archived == nil && self.model == nil
            && self.systemPrompt == nil
    }
}

/// Where a message is in its life. User messages are born complete; an assistant reply starts `streaming`.
public enum MessageStatus: String, Sendable, Codable, CaseIterable {
    case streaming
    case complete
    case failed
    case cancelled
}

/// A row of `messages`. Ids grow with insertion order within the whole database.
///
/// A chat's messages form a tree: each has the message it answers or follows as its parent (nil for the
/// first), so a child is always newer than its parent. Regenerating a reply or editing a message adds a sibling;
/// the chat's active path (root to one leaf) is what the chat reads as, and what a turn's context is made of.
public struct MessageRecord: Sendable, Equatable {
    public let id: Int64
    public let chatID: UUID
    /// The message before this one on its branch; nil for a chat's first message.
    public var parentID: Int64?
    /// On the chat's active path (GET /chats/{id}/messages lists exactly those).
    public var onActivePath: Bool
    public let role: MessageRole
    public var content: String
    public let createdAt: Timestamp
    public var status: MessageStatus
    /// Why a reply failed or stopped.
    public var error: String?
    public var model: String?
    public var promptTokens: Int?
    public var completionTokens: Int?

    public init(
        id: Int64, chatID: UUID, role: MessageRole, content: String, createdAt: Timestamp, status: MessageStatus,
        error: String? = nil, model: String? = nil, promptTokens: Int? = nil, completionTokens: Int? = nil,
        parentID: Int64? = nil, onActivePath: Bool = true
    ) {
        self.id = id
        self.chatID = chatID
        self.parentID = parentID
        self.onActivePath = onActivePath
        self.role = role
        self.content = content
        self.createdAt = createdAt
        self.status = status
        self.error = error
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
}

/// How a reply ended, for ``ChatStore/finishMessage(id:outcome:)``.
public struct MessageOutcome: Sendable, Equatable {
    public var content: String
    public var status: MessageStatus
    public var error: String?
    public var model: String?
    public var promptTokens: Int?
    public var completionTokens: Int?
    /// The upstream call to account to the turn's user, in the same transaction as the reply.
    public var charge: UsageCharge?

    public init(
        content: String,
        status: MessageStatus,
        error: String? = nil,
        model: String? = nil,
        promptTokens: Int? = nil,
        completionTokens: Int? = nil,
        charge: UsageCharge? = nil
    ) {
        self.charge = charge
        self.content = content
        self.status = status
        self.error = error
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
}

/// One page of a user's chats and how many they have in all.
public struct ChatPage: Sendable {
    public let chats: [ChatRecord]
    public let total: Int

    public init(chats: [ChatRecord], total: Int) {
        self.chats = chats
        self.total = total
    }
}

/// A page of a chat's messages, or the news that it has not changed since a version the caller holds.
///
/// A chat's `messages_version` is bumped by a trigger on every insert, update and delete of its messages,
/// in the same transaction, so an equal version means the same rows with the same contents.
public enum MessagePage: Sendable, Equatable {
    /// The chat's messages are exactly as they were at `version` (the one the caller passed).
    case unchanged(version: Int64)
    /// The page, as it is at `version`.
    case messages([MessageRecord], version: Int64)
}

/// A failure the caller can act on (as opposed to an engine's own error, which is a fault).
public enum StorageError: Error, Equatable, Sendable {
    case emailAlreadyRegistered
    case lastAdmin
    case corruptRow(String)
    case newerSchema(found: Int, supported: Int)
    /// Another process is generating a reply in this chat; try again when it has ended.
    case chatBusy
    /// Text holding U+0000, which PostgreSQL's `text` cannot hold; the SQLite engine refuses it alike.
    case unsupportedCharacter
    /// The user's tokens used and reserved have reached this quota (``TokenReservation``).
    case quotaExceeded(QuotaPeriod)
    /// The API key's tokens used this month and held by its running calls have reached its monthly budget
    /// (``CallReservation``).
    case keyBudgetExceeded
    /// The database server did not answer: unreachable, or no connection to it came free in time. Nothing was
    /// written unless the server had already received the statement (then its outcome is unknown).
    case unavailable
    /// A search ran past its time limit and was stopped (``ChatStore/search(ownerID:query:limit:offset:timeLimit:)``).
    case searchTimedOut
    /// The user (or API key) a write is for no longer exists: deleted after the request that writes was
    /// authenticated.
    case userGone
}

extension UUID {
    /// The lower-case canonical form used in the database and in every response.
    ///
    /// Written by hand: Foundation's `uuidString` goes through `sprintf` on Linux, which showed up in profiles
    /// of chat listings (each row has two ids).
    public var lowercasedString: String {
        let hex: StaticString = "0123456789abcdef"
        return withUnsafeBytes(of: self.uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { output in
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        output[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    output[position] = hex.utf8Start[Int(byte >> 4)]
                    output[position + 1] = hex.utf8Start[Int(byte & 0x0F)]
                    position += 2
                }
                return position
            }
        }
    }

    /// Parses the canonical 8-4-4-4-12 form, in either case, without `sscanf` (see `lowercasedString`).
    public init?(canonical text: String) {
        var text = text
        guard let uuid = text.withUTF8({ UUID(canonicalUTF8: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = uuid
    }

    /// Parses the canonical form from a slice of a string (a notification's payload), without copying it.
    public init?(canonical text: Substring) {
        var text = text
        guard let uuid = text.withUTF8({ UUID(canonicalUTF8: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = uuid
    }

    /// Parses the canonical form from its UTF-8 bytes (a database column's text, read in place).
    ///
    /// Not generic and with no allocation: listings parse two ids per row, and a generic parser over
    /// `StringProtocol` was a fifth of the CPU time of `GET /chats` in a profile.
    public init?(canonicalUTF8 bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 36 else { return nil }
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let parsed = withUnsafeMutableBytes(of: &uuid) { output -> Bool in
            var input = 0
            for index in 0..<16 {
                if input == 8 || input == 13 || input == 18 || input == 23 {
                    guard bytes[input] == UInt8(ascii: "-") else { return false }
                    input += 1
                }
                guard let high = Self.nibble(bytes[input]), let low = Self.nibble(bytes[input + 1]) else {
                    return false
                }
                output[index] = high << 4 | low
                input += 2
            }
            return true
        }
        guard parsed else { return nil }
        self.init(uuid: uuid)
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
