import Foundation

/// What `chat-server copy` needs of an engine beyond ``ChatStore``: reading every setting, counting, and
/// writing records exactly as they are (their ids, hashes, token versions and times), so a deployment moves
/// between engines with nothing changed — issued tokens keep working, `after=` cursors stay valid.
public protocol StoreCopying: ChatStore {
    /// Every setting (the JWT secret among them).
    func allSettings() async throws -> [String: String]
    /// How many users, chats and messages the store holds.
    func recordCounts() async throws -> RecordCounts
    /// Writes the records as they are, in one transaction. Chats' and users' maintained counts follow from
    /// the rows, as they do for any write.
    func importRecords(users: [UserRecord], chats: [ChatRecord], messages: [MessageRecord], settings: [String: String])
        async throws
    /// Writes users' per-day usage as it is, in one transaction (after the users).
    func importUsage(_ rows: [UsageDayRecord]) async throws
    /// The user's API keys with their hashes and usage, as ``importAPIKeys(_:)`` writes them.
    func apiKeysForCopy(userID: UUID) async throws -> [APIKeyCopy]
    /// Writes API keys as they are (ids, hashes, times, usage), in one transaction (after their users).
    func importAPIKeys(_ keys: [APIKeyCopy]) async throws
    /// After the last import: whatever the engine needs so that new rows get ids above the imported ones.
    func finishImport() async throws
}

/// Row counts, compared after a copy.
public struct RecordCounts: Sendable, Equatable, CustomStringConvertible {
    public var users: Int
    public var chats: Int
    public var messages: Int

    public init(users: Int, chats: Int, messages: Int) {
        self.users = users
        self.chats = chats
        self.messages = messages
    }

    public var isEmpty: Bool { self.users == 0 && self.chats == 0 && self.messages == 0 }

    public var description: String { "\(self.users) users, \(self.chats) chats, \(self.messages) messages" }
}
