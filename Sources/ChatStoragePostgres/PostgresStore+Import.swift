import ChatStorage
import Foundation
import PostgresNIO

extension PostgresStore {
    /// Nothing to remove: an import is one transaction, which a stopped server's connection rolled back.
    public func removeUnfinishedImports() async throws -> Int { 0 }

    /// One transaction; each chat's messages in one statement (arrays unnested in order, so ids grow with it).
    public func importChats(ownerID: UUID, _ chats: [ChatImport]) async throws -> [ChatRecord] {
        let nul = chats.contains { chat in
            chat.title?.contains("\u{0}") == true || chat.messages.contains { $0.content.contains("\u{0}") }
        }
        if nul { throw StorageError.unsupportedCharacter }
        let written: [ChatRecord]
        do {
            written = try await self.writeImport(ownerID: ownerID, chats)
        } catch let error as PSQLError where error.sqlState == "23503" {
            throw StorageError.userGone
        }
        self.notifier.changed(written.map(\.id))
        return written
    }

    /// The chats and their messages, in one transaction.
    private func writeImport(ownerID: UUID, _ chats: [ChatImport]) async throws -> [ChatRecord] {
        try await self.transaction { transaction in
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
                    // The ids first, in ascending order, so each parent's id is known when its child is written.
                    let ids = try await transaction.rows(
                        "SELECT nextval('messages_id_seq') FROM generate_series(1, \(Int64(messages.count)))"
                    ) { try $0.decode(Int64.self) }.sorted()
                    // Optional values travel as '' or 0 and come back NULL (an empty model or error means none).
                    let parents = chat.parentIndices.map { $0.map { ids[$0] } ?? 0 }
                    try await transaction.execute(
                        """
                        INSERT INTO messages (id, chat_id, role, content, created_at, status, model, error, parent_id,
                            on_path)
                        SELECT id, \(id), role, content, created_at, status, nullif(model, ''), nullif(error, ''),
                            nullif(parent_id, 0), on_path
                        FROM unnest(\(ids), \(messages.map(\.role.rawValue)), \(messages.map(\.content)),
                            \(messages.map(\.createdAt.microseconds)), \(messages.map(\.status.rawValue)),
                            \(messages.map { $0.model ?? "" }), \(messages.map { $0.error ?? "" }), \(parents),
                            \(messages.map(\.onActivePath)))
                            AS m (id, role, content, created_at, status, model, error, parent_id, on_path)
                        ORDER BY id
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
    }
}
