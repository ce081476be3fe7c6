import Foundation

/// Copies a whole deployment from one store to another (`chat-server copy`): users with their password
/// hashes and token versions, chats, messages with their ids, API keys with their usage, and settings (the generated JWT secret among
/// them, so tokens issued before keep working). Refuses a target that holds anything. Reads page by page and
/// writes in transactions of at most ``batchSize`` rows, so memory stays bounded whatever the size; at the end
/// the counts of both stores are compared.
public struct StoreCopier: Sendable {
    public struct Refused: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }

    let source: any StoreCopying
    let target: any StoreCopying
    /// Rows per target transaction.
    let batchSize: Int
    /// Told of progress (a line for stderr).
    let progress: @Sendable (String) -> Void

    public init(
        from source: any StoreCopying, to target: any StoreCopying, batchSize: Int = 2_000,
        progress: @escaping @Sendable (String) -> Void
    ) {
        self.source = source
        self.target = target
        self.batchSize = batchSize
        self.progress = progress
    }

    /// Copies everything; returns the counts both stores agree on.
    public func run() async throws -> RecordCounts {
        let existing = try await self.target.recordCounts()
        let existingSettings = try await self.target.allSettings()
        guard existing.isEmpty, existingSettings.isEmpty else {
            throw Refused(
                description:
                    "the target is not empty (\(existing), \(existingSettings.count) settings): copy only into a new database"
            )
        }
        let expected = try await self.source.recordCounts()
        self.progress("copying \(expected)")
        try await self.target.importRecords(
            users: [], chats: [], messages: [], settings: try await self.source.allSettings())

        var copied = RecordCounts(users: 0, chats: 0, messages: 0)
        var offset = 0
        while true {
            let page = try await self.source.users(limit: 500, offset: offset).users
            guard !page.isEmpty else { break }
            offset += page.count
            try await self.target.importRecords(users: page, chats: [], messages: [], settings: [:])
            copied.users += page.count
            for user in page {
                try await self.copyChats(of: user.id, counting: &copied)
                try await self.target.importUsage(
                    try await self.source.usage(userID: user.id, from: UsageDay(number: 0), to: Self.lastDay))
                try await self.target.importAPIKeys(try await self.source.apiKeysForCopy(userID: user.id))
            }
            self.progress("copied \(copied)")
        }
        try await self.target.finishImport()

        let found = try await self.target.recordCounts()
        guard found == expected, found == copied else {
            throw Refused(
                description:
                    "counts differ after the copy: source \(expected), target \(found) (was the source written to meanwhile?)"
            )
        }
        return found
    }

    /// Past any day a deployment can have usage on (year 4707).
    private static let lastDay = UsageDay(number: 1_000_000)

    private func copyChats(of userID: UUID, counting copied: inout RecordCounts) async throws {
        var chats: [ChatRecord] = []
        var messages: [MessageRecord] = []
        func flush() async throws {
            guard !chats.isEmpty || !messages.isEmpty else { return }
            try await self.target.importRecords(users: [], chats: chats, messages: messages, settings: [:])
            copied.chats += chats.count
            copied.messages += messages.count
            chats.removeAll(keepingCapacity: true)
            messages.removeAll(keepingCapacity: true)
        }
        for archived in [false, true] {
            var offset = 0
            while true {
                let page = try await self.source.chats(
                    ownerID: userID, archived: archived, limit: 200, offset: offset
                ).chats
                guard !page.isEmpty else { break }
                offset += page.count
                for chat in page {
                    chats.append(chat)
                    var after: Int64 = 0
                    while true {
                        // Every branch's messages, each with its parent and its place on the active path.
                        let batch =
                            try await self.source.allMessages(chatID: chat.id, ownerID: nil, after: after, limit: 500)
                            ?? []
                        guard let last = batch.last else { break }
                        after = last.id
                        if chats.count + messages.count + batch.count > self.batchSize { try await flush() }
                        messages.append(contentsOf: batch)
                    }
                }
            }
        }
        try await flush()
    }
}
