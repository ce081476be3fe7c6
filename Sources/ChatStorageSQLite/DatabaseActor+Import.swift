import ChatStorage
import Foundation

extension DatabaseActor {
    /// The most one slice of an import (or of removing one) holds the single writer: other users' writes, and
    /// the reads queued on the database thread behind it, wait at most about this long for it.
    static let importSlice: Duration = .milliseconds(10)

    /// All or nothing for its user, without holding the writer long: the chats and messages are written in
    /// slices of at most ``importSlice`` of work, each a write of its own group commit (other work runs between
    /// them), into chats marked with this import's id, which every read path and count leaves out; one short
    /// commit then clears the mark, publishing them all at once. If a slice or the publishing fails, the staged
    /// rows are removed (in slices too); rows a stopped server left are removed at the next start
    /// (``removeUnfinishedImports()``).
    public func importChats(ownerID: UUID, _ chats: [ChatImport]) async throws -> [ChatRecord] {
        let importID = UUID().lowercasedString
        let writer = StagedImportWriter(owner: ownerID.lowercasedString, importID: importID, chats: chats)
        do {
            while !writer.isFinished {
                try await self.write { connection in try writer.writeSlice(on: connection, for: Self.importSlice) }
            }
            return try await self.write { connection in
                let written = try connection.query(
                    "SELECT \(Self.chatColumns) FROM chats WHERE import_id = ? ORDER BY rowid", [.text(importID)],
                    Self.decodeChat)
                try connection.run("UPDATE chats SET import_id = NULL WHERE import_id = ?", [.text(importID)])
                return written
            }
        } catch {
            _ = try? await self.removeStaged(importID: importID)
            if let error = error as? SQLiteError, error.isForeignKeyViolation { throw StorageError.userGone }
            throw error
        }
    }

    /// Removes the chats (and their messages) of imports that were never published: a server stopped while it
    /// wrote them. Run at start. Returns how many chats were removed.
    @discardableResult
    public func removeUnfinishedImports() async throws -> Int {
        try await self.removeStaged(importID: nil)
    }

    /// Removes the staged rows of one import (or of all, for nil) in slices, as they were written.
    @discardableResult
    private func removeStaged(importID: String?) async throws -> Int {
        var removed = 0
        while let count = try await self.write({ connection in
            try Self.removeStagedSlice(importID: importID, on: connection, for: Self.importSlice)
        }) {
            removed += count
        }
        return removed
    }

    /// Deletes staged messages a few at a time (their triggers keep the search index and counts right), then
    /// their chats, for at most `duration`; the chats removed, or nil when none is left.
    private static func removeStagedSlice(
        importID: String?, on connection: SQLiteConnection, for duration: Duration
    ) throws -> Int? {
        let deadline = ContinuousClock.now + duration
        var removed = 0
        repeat {
            let staged = try connection.queryOne(
                "SELECT id FROM chats WHERE import_id IS NOT NULL AND (?1 IS NULL OR import_id = ?1) LIMIT 1",
                [.optionalText(importID)]
            ) { SQLiteValue.text($0.text(0)) }
            guard let staged else { return removed > 0 ? removed : nil }
            let deleted = try connection.run(
                "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE chat_id = ? LIMIT 100)", [staged])
            if deleted == 0 {
                try connection.run("DELETE FROM chats WHERE id = ?", [staged])
                removed += 1
            }
        } while ContinuousClock.now < deadline
        return removed
    }
}

/// Where a staged import has got to: the chats and messages written so far, and the ids the current chat's
/// messages got (a message names its parent by id).
///
/// Not Sendable: created, used and dropped by one call of ``DatabaseActor/importChats(ownerID:_:)``, on the
/// actor (its slices run on the actor's thread).
final class StagedImportWriter {
    private let owner: String
    private let importID: String
    private let chats: [ChatImport]
    private var chatIndex = 0
    private var messageIndex = 0
    private var chatID = ""
    private var messageIDs: [Int64] = []
    private var parents: [Int?] = []

    init(owner: String, importID: String, chats: [ChatImport]) {
        self.owner = owner
        self.importID = importID
        self.chats = chats
    }

    var isFinished: Bool { self.chatIndex == self.chats.count }

    /// Writes rows until `duration` has passed or everything is written (at least one row).
    func writeSlice(on connection: SQLiteConnection, for duration: Duration) throws {
        let deadline = ContinuousClock.now + duration
        repeat {
            let chat = self.chats[self.chatIndex]
            if self.messageIndex == 0 && self.messageIDs.isEmpty {
                try self.insertChat(chat, on: connection)
            }
            if self.messageIndex < chat.messages.count {
                try self.insertMessage(chat.messages[self.messageIndex], on: connection)
                self.messageIndex += 1
            }
            if self.messageIndex == chat.messages.count {
                self.chatIndex += 1
                self.messageIndex = 0
                self.messageIDs = []
            }
        } while !self.isFinished && ContinuousClock.now < deadline
    }

    private func insertChat(_ chat: ChatImport, on connection: SQLiteConnection) throws {
        self.chatID = UUID().lowercasedString
        self.parents = chat.parentIndices
        self.messageIDs.reserveCapacity(chat.messages.count)
        try connection.run(
            """
            INSERT INTO chats (id, user_id, title, created_at, updated_at, pinned, archived, model, system_prompt,
                import_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(self.chatID), .text(self.owner), .optionalText(chat.title), .integer(chat.createdAt.microseconds),
                .integer(chat.updatedAt.microseconds), .int(chat.pinned ? 1 : 0), .int(chat.archived ? 1 : 0),
                .optionalText(chat.model), .optionalText(chat.systemPrompt), .text(self.importID),
            ])
    }

    private func insertMessage(_ message: MessageImport, on connection: SQLiteConnection) throws {
        let parent = self.parents[self.messageIndex]
        let written = try connection.queryOne(
            """
            INSERT INTO messages (chat_id, role, content, created_at, status, model, error, parent_id, on_path)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
            """,
            [
                .text(self.chatID), .text(message.role.rawValue), .text(message.content),
                .integer(message.createdAt.microseconds), .text(message.status.rawValue),
                .optionalText(message.model), .optionalText(message.error),
                parent.map { .integer(self.messageIDs[$0]) } ?? .null, .int(message.onActivePath ? 1 : 0),
            ]
        ) { $0.int64(0) }
        guard let written else { throw StorageError.corruptRow("messages") }
        self.messageIDs.append(written)
    }
}
