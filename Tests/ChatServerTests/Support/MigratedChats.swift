import ChatStorage
import Foundation
import Testing

/// What a store migrated from before branches (version 12) must show of each chat it had: one line, in order,
/// every message after the one before it and on the active path, a context that continues after the last
/// one, and the count kept for it.
func expectOneLine(in store: any ChatStore, ownerID: UUID, chats: [(id: UUID, contents: [String])]) async throws {
    for (chat, contents) in chats {
        let messages = try #require(try await store.allMessages(chatID: chat, ownerID: ownerID, after: 0, limit: 10))
        #expect(messages.map(\.content) == contents)
        #expect(messages.map(\.parentID) == [nil] + messages.dropLast().map(\.id))
        #expect(messages.allSatisfy { $0.onActivePath })
        let context = try #require(
            try await store.turnContext(
                chatID: chat, ownerID: nil, window: HistoryWindow(messages: 10), placement: .activePath))
        #expect(context.parentID == messages.last?.id)
        #expect(try await store.chat(id: chat, ownerID: ownerID)?.messageCount == contents.count)
    }
}
