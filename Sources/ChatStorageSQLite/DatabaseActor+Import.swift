import ChatStorage
import Foundation

extension DatabaseActor {
    /// One write (a savepoint of the group commit): every chat and message, or nothing.
    public func importChats(ownerID: UUID, _ chats: [ChatImport]) async throws -> [ChatRecord] {
        let owner = ownerID.lowercasedString
        return try await self.write { connection in
            var written: [ChatRecord] = []
            for chat in chats {
                let id = UUID().lowercasedString
                try connection.run(
                    """
                    INSERT INTO chats (id, user_id, title, created_at, updated_at, pinned, archived, model, system_prompt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(id), .text(owner), .optionalText(chat.title), .integer(chat.createdAt.microseconds),
                        .integer(chat.updatedAt.microseconds), .int(chat.pinned ? 1 : 0), .int(chat.archived ? 1 : 0),
                        .optionalText(chat.model), .optionalText(chat.systemPrompt),
                    ])
                var ids: [Int64] = []
                ids.reserveCapacity(chat.messages.count)
                for (message, parent) in zip(chat.messages, chat.parentIndices) {
                    let written = try connection.queryOne(
                        """
                        INSERT INTO messages (chat_id, role, content, created_at, status, model, error, parent_id,
                            on_path)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                        """,
                        [
                            .text(id), .text(message.role.rawValue), .text(message.content),
                            .integer(message.createdAt.microseconds), .text(message.status.rawValue),
                            .optionalText(message.model), .optionalText(message.error),
                            parent.map { .integer(ids[$0]) } ?? .null, .int(message.onActivePath ? 1 : 0),
                        ]
                    ) { $0.int64(0) }
                    guard let written else { throw StorageError.corruptRow("messages") }
                    ids.append(written)
                }
                let record = try connection.queryOne(
                    "SELECT \(Self.chatColumns) FROM chats WHERE id = ?", [.text(id)], Self.decodeChat)
                guard let record else { throw StorageError.corruptRow("chats") }
                written.append(record)
            }
            return written
        }
    }
}
