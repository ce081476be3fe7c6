import ChatStorage
import Foundation
import Testing

/// The contract under concurrent callers, on every engine: every write lands, and the maintained counts agree
/// with the rows.
@Suite("Storage contract: concurrent callers")
struct StorageContractConcurrencyTests {
    @Test(
        "200 concurrent tasks: every write lands and the maintained counts agree with the rows",
        arguments: StorageEngine.available)
    func concurrentTasks(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (owner, chat) = try await store.makeOwnedChat("busy@example.com")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        switch index % 4 {
                        case 0: _ = try await store.createChat(userID: owner.id, title: "chat \(index)")
                        case 1: _ = try await store.appendMessage(chatID: chat.id, role: .user, content: "m\(index)")
                        case 2: _ = try await store.chats(ownerID: owner.id, archived: false, limit: 20, offset: 0)
                        default: _ = try await store.messages(chatID: chat.id, ownerID: owner.id, after: 0, limit: 500)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let page = try await store.chats(ownerID: owner.id, archived: false, limit: 100, offset: 0)
            #expect(page.total == 51)
            #expect(page.chats.count == 51)
            let messages = try #require(
                try await store.messages(chatID: chat.id, ownerID: owner.id, after: 0, limit: 500))
            #expect(messages.count == 50)
            #expect(messages.map(\.id) == messages.map(\.id).sorted())
            #expect(try await store.chat(id: chat.id, ownerID: owner.id)?.messageCount == 50)
        }
    }
}
