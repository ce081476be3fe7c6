import ChatStorage
import Foundation
import Testing

/// The contract of importing chats, on every engine: new ids, everything else as given, the tree and its
/// active path, all or nothing.
@Suite("Storage contract: import")
struct StorageContractImportTests {
    static let created = Timestamp(microseconds: 1_700_000_000_000_000)
    static let updated = Timestamp(microseconds: 1_700_000_100_000_000)

    /// A chat with a branch: q1, a1, then (q2, a2 failed) and (q2', a2'), the last on the active path.
    static var branched: ChatImport {
        var chat = ChatImport(
            title: "imported", createdAt: created, updatedAt: updated, pinned: true, archived: false, model: "m-old",
            systemPrompt: "sp",
            messages: [
                MessageImport(role: .user, content: "q1", createdAt: created),
                MessageImport(role: .assistant, content: "a1", createdAt: created, model: "m-old"),
                MessageImport(role: .user, content: "q2", createdAt: created),
                MessageImport(role: .assistant, content: "a2", createdAt: created, status: .failed, error: "cut"),
                MessageImport(role: .user, content: "q2'", createdAt: updated, parent: .message(1)),
                MessageImport(role: .assistant, content: "a2'", createdAt: updated),
            ])
        chat.settleActivePath()
        return chat
    }

    @Test(
        "importChats: new ids, times and settings as given, messages in order with their tree",
        arguments: StorageEngine.available)
    func importChats(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("i@example.com")
            var archived = ChatImport(title: nil, createdAt: Self.created, updatedAt: Self.created, messages: [])
            archived.archived = true
            let written = try await store.importChats(ownerID: user.id, [Self.branched, archived])
            #expect(written.count == 2)
            let first = try #require(written.first)
            #expect(first.userID == user.id && first.title == "imported" && first.messageCount == 6)
            #expect(first.createdAt == Self.created && first.updatedAt == Self.updated)
            #expect(first.pinned && !first.archived && first.model == "m-old" && first.systemPrompt == "sp")
            #expect(written.last?.archived == true && written.last?.title == nil && written.last?.messageCount == 0)
            #expect(try await store.chat(id: first.id, ownerID: user.id) == first)

            let all = try #require(try await store.allMessages(chatID: first.id, ownerID: nil, after: 0, limit: 10))
            #expect(all.map(\.content) == ["q1", "a1", "q2", "a2", "q2'", "a2'"])
            #expect(all.map(\.id) == all.map(\.id).sorted())
            let parents = all.map { message in message.parentID.flatMap { id in all.firstIndex { $0.id == id } } }
            #expect(parents == [nil, 0, 1, 2, 1, 4])
            #expect(all[3].status == .failed && all[3].error == "cut" && all[1].model == "m-old")
            #expect(all.allSatisfy { $0.createdAt == ($0.content.hasSuffix("'") ? Self.updated : Self.created) })
            #expect(try await store.pathContents(first.id) == ["q1", "a1", "q2'", "a2'"])
            let page = try await store.chats(ownerID: user.id, archived: false, limit: 10, offset: 0)
            #expect(page.chats.map(\.id) == [first.id] && page.total == 1)
            #expect(try await store.importChats(ownerID: user.id, []) == [])
        }
    }

    @Test(
        "importChats is all or nothing: a NUL anywhere is unsupportedCharacter and writes no chat",
        arguments: StorageEngine.available)
    func allOrNothing(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("i@example.com")
            var inTitle = Self.branched
            inTitle.title = nulText
            var inMessage = Self.branched
            inMessage.messages[4].content = nulText
            for bad in [inTitle, inMessage] {
                await #expect(throws: StorageError.unsupportedCharacter) {
                    _ = try await store.importChats(ownerID: user.id, [Self.branched, bad])
                }
            }
            #expect(try await store.chats(ownerID: user.id, archived: false, limit: 10, offset: 0).total == 0)
            #expect(try await store.chatIDs(ownerID: user.id).isEmpty)
            #expect(try await store.removeUnfinishedImports() == 0, "a failed import leaves nothing behind")
        }
    }

    @Test("removeUnfinishedImports leaves published imports alone", arguments: StorageEngine.available)
    func publishedImportsStay(_ engine: StorageEngine) async throws {
        try await engine.withReopenedStore { store in
            let user = try await store.makeUser("i@example.com")
            _ = try await store.importChats(ownerID: user.id, [Self.branched])
            return user.id
        } then: { store, userID in
            let removed = try await store.removeUnfinishedImports()
            #expect(removed == 0)
            #expect(try await store.chats(ownerID: userID, archived: false, limit: 10, offset: 0).total == 1)
        }
    }

    @Test(
        "createChat and importChats for a user deleted meanwhile: userGone, and nothing written",
        arguments: StorageEngine.available)
    func userGone(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("gone@example.com")
            _ = try await store.makeUser("stays@example.com")
            #expect(try await store.deleteUser(id: user.id))
            await #expect(throws: StorageError.userGone) { _ = try await store.createChat(userID: user.id, title: "t") }
            await #expect(throws: StorageError.userGone) {
                _ = try await store.importChats(ownerID: user.id, [Self.branched, Self.branched])
            }
            #expect(try await store.chatIDs(ownerID: user.id).isEmpty)
            #expect(try await store.removeUnfinishedImports() == 0, "no staged rows left behind")
        }
    }
}
