import ChatStorage
import Foundation
import PostgresNIO

extension PostgresStore {
    /// One transaction; each chat's messages in one statement (arrays unnested in order, so ids grow with it).
    public func importChats(ownerID: UUID, _ chats: [ChatImport]) async throws -> [ChatRecord] {
        defer { self.users.remove(ownerID) }  // its chat count changes
        let nul = chats.contains { chat in
            chat.title?.contains("\u{0}") == true || chat.messages.contains { $0.content.contains("\u{0}") }
        }
        if nul { throw StorageError.unsupportedCharacter }
        let written = try await self.transaction { transaction in
            var written: [ChatRecord] = []
            for chat in chats {
                let id = UUID()
                let messages = chat.messages
                try await transaction.execute(
                    """
                    INSERT INTO chats (id, user_id, title, created_at, updated_at, pinned, archived, model, system_prompt)
                    VALUES (\(id), \(ownerID), \(chat.title), \(chat.createdAt.microseconds), \(chat.updatedAt.microseconds),
                        \(chat.pinned), \(chat.archived), \(chat.model), \(chat.systemPrompt))
                    """)
                if !messages.isEmpty {
                    // Optional text travels as '' and comes back NULL (an empty model or error means none).
                    try await transaction.execute(
                        """
                        INSERT INTO messages (chat_id, role, content, created_at, status, model, error)
                        SELECT \(id), role, content, created_at, status, nullif(model, ''), nullif(error, '')
                        FROM unnest(\(messages.map(\.role.rawValue)), \(messages.map(\.content)),
                            \(messages.map(\.createdAt.microseconds)), \(messages.map(\.status.rawValue)),
                            \(messages.map { $0.model ?? "" }), \(messages.map { $0.error ?? "" }))
                            WITH ORDINALITY AS m (role, content, created_at, status, model, error, position)
                        ORDER BY position
                        """)
                }
                let record = try await transaction.rows(
                    "SELECT \(unescaped: Self.chatColumns) FROM chats WHERE id = \(id)", Self.decodeChat
                ).first
                guard let record else { throw StorageError.corruptRow("chats") }
                written.append(record)
            }
            return written
        }
        self.notifier.changed(written.map(\.id))
        return written
    }
}
