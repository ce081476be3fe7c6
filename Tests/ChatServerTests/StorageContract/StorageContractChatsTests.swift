import ChatStorage
import Foundation
import Testing

/// The contract of a store's chats, on every engine: creation, ownership, the listing's order and counts,
/// changes, deletion and the background title.
@Suite("Storage contract: chats")
struct StorageContractChatsTests {
    @Test(
        "createChat and chat(id:ownerID:): the owner's, anyone's without an owner, nil for another's",
        arguments: StorageEngine.available)
    func createAndRead(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat(title: "first")
            let stranger = try await store.makeUser("stranger@example.com")
            #expect(chat.userID == user.id && chat.title == "first" && chat.messageCount == 0)
            #expect(!chat.pinned && !chat.archived && chat.model == nil && chat.systemPrompt == nil)
            #expect(chat.createdAt == chat.updatedAt)
            #expect(try await store.chat(id: chat.id, ownerID: user.id) == chat)
            #expect(try await store.chat(id: chat.id, ownerID: nil) == chat)
            #expect(try await store.chat(id: chat.id, ownerID: stranger.id) == nil)
            #expect(try await store.chat(id: unknownID, ownerID: nil) == nil)
            #expect(try await store.createChat(userID: user.id, title: nil).title == nil)
            #expect(try await store.createChat(userID: user.id, title: "").title == "", "empty is not untitled")
        }
    }

    @Test(
        "chats: pinned first, then most recently updated; archived apart; totals; pages",
        arguments: StorageEngine.available)
    func listing(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, oldest) = try await store.makeOwnedChat(title: "oldest")
            let middle = try await store.createChat(userID: user.id, title: "middle")
            let newest = try await store.createChat(userID: user.id, title: "newest")
            let archived = try await store.createChat(userID: user.id, title: "archived")
            let other = try await store.makeOwnedChat("other@example.com")
            _ = try await store.updateChat(id: oldest.id, ownerID: user.id, changes: ChatChanges(pinned: true))
            _ = try await store.updateChat(id: archived.id, ownerID: user.id, changes: ChatChanges(archived: true))
            // A message moves its chat up.
            _ = try await store.appendMessage(chatID: middle.id, role: .user, content: "news")

            let page = try await store.chats(ownerID: user.id, archived: false, limit: 10, offset: 0)
            #expect(page.chats.map(\.id) == [oldest.id, middle.id, newest.id])
            #expect(page.total == 3)
            #expect(page.chats.first?.pinned == true)
            let second = try await store.chats(ownerID: user.id, archived: false, limit: 1, offset: 1)
            #expect(second.chats.map(\.id) == [middle.id] && second.total == 3)
            let archive = try await store.chats(ownerID: user.id, archived: true, limit: 10, offset: 0)
            #expect(archive.chats.map(\.id) == [archived.id] && archive.total == 1)
            #expect(try await store.chats(ownerID: other.user.id, archived: false, limit: 10, offset: 0).total == 1)
            let nobody = try await store.chats(ownerID: unknownID, archived: false, limit: 10, offset: 0)
            #expect(nobody.chats.isEmpty && nobody.total == 0)
            let past = try await store.chats(ownerID: user.id, archived: false, limit: 10, offset: 10)
            #expect(past.chats.isEmpty && past.total == 3)
        }
    }

    @Test(
        "updateChat: each field, a new title alone moves the chat up, nil for another's or a missing chat",
        arguments: StorageEngine.available)
    func update(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat(title: "before")
            let stranger = try await store.makeUser("stranger@example.com")
            let set = try #require(
                try await store.updateChat(
                    id: chat.id, ownerID: user.id,
                    changes: ChatChanges(pinned: true, archived: true, model: .some("m1"), systemPrompt: .some("sp"))))
            #expect(set.pinned && set.archived && set.model == "m1" && set.systemPrompt == "sp")
            #expect(set.title == "before" && set.updatedAt == chat.updatedAt, "settings do not move the chat")
            let renamed = try #require(
                try await store.updateChat(id: chat.id, ownerID: user.id, changes: ChatChanges(title: "after")))
            #expect(renamed.title == "after" && renamed.updatedAt > chat.updatedAt)
            #expect(renamed.model == "m1" && renamed.pinned, "a nil field is left as it is")
            let reset = try #require(
                try await store.updateChat(
                    id: chat.id, ownerID: user.id, changes: ChatChanges(model: .some(nil), systemPrompt: .some(nil))))
            #expect(reset.model == nil && reset.systemPrompt == nil && reset.title == "after")
            #expect(
                try await store.updateChat(id: chat.id, ownerID: stranger.id, changes: ChatChanges(title: "x")) == nil)
            #expect(
                try await store.updateChat(id: unknownID, ownerID: user.id, changes: ChatChanges(title: "x")) == nil)
            #expect(try await store.chat(id: chat.id, ownerID: nil) == reset)
        }
    }

    @Test("deleteChat: the owner's only, with its messages; the counts follow", arguments: StorageEngine.available)
    func delete(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            let kept = try await store.createChat(userID: user.id, title: "kept")
            let stranger = try await store.makeUser("stranger@example.com")
            for index in 0..<5 { _ = try await store.appendMessage(chatID: chat.id, role: .user, content: "\(index)") }
            #expect(try await store.chat(id: chat.id, ownerID: nil)?.messageCount == 5)
            #expect(try await store.deleteChat(id: chat.id, ownerID: stranger.id) == false)
            #expect(try await store.deleteChat(id: chat.id, ownerID: user.id))
            #expect(try await store.deleteChat(id: chat.id, ownerID: user.id) == false)
            #expect(try await store.messages(chatID: chat.id, ownerID: nil, after: 0, limit: 10) == nil)
            let page = try await store.chats(ownerID: user.id, archived: false, limit: 10, offset: 0)
            #expect(page.chats.map(\.id) == [kept.id] && page.total == 1)
        }
    }

    @Test(
        "setTitleIfEmpty: only an untitled chat; its charge is accounted either way", arguments: StorageEngine.available
    )
    func titleIfEmpty(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat(title: nil)
            let charge = UsageCharge(
                userID: user.id, day: contractDay, promptTokens: 10, completionTokens: 2, estimated: false)
            #expect(try await store.setTitleIfEmpty(chatID: chat.id, title: "named", charge: charge))
            #expect(try await store.chat(id: chat.id, ownerID: nil)?.title == "named")
            #expect(try await store.setTitleIfEmpty(chatID: chat.id, title: "again", charge: charge) == false)
            #expect(try await store.chat(id: chat.id, ownerID: nil)?.title == "named")
            let empty = try await store.createChat(userID: user.id, title: "")
            #expect(try await store.setTitleIfEmpty(chatID: empty.id, title: "x", charge: nil) == false)
            #expect(try await store.setTitleIfEmpty(chatID: unknownID, title: "x", charge: nil) == false)
            let usage = try await store.usage(userID: user.id, from: contractDay, to: contractDay)
            #expect(usage.map(\.totals) == [UsageTotals(requests: 2, promptTokens: 20, completionTokens: 4)])
        }
    }

    @Test(
        "a NUL in a title or a chat setting is refused as unsupportedCharacter and writes nothing",
        arguments: StorageEngine.available)
    func nulInChats(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat(title: nil)
            await #expect(throws: StorageError.unsupportedCharacter) {
                _ = try await store.createChat(userID: user.id, title: nulText)
            }
            for changes in [
                ChatChanges(title: nulText), ChatChanges(model: .some(nulText)),
                ChatChanges(systemPrompt: .some(nulText)),
            ] {
                await #expect(throws: StorageError.unsupportedCharacter) {
                    _ = try await store.updateChat(id: chat.id, ownerID: user.id, changes: changes)
                }
            }
            await #expect(throws: StorageError.unsupportedCharacter) {
                try await store.setTitleIfEmpty(chatID: chat.id, title: nulText, charge: nil)
            }
            #expect(try await store.chat(id: chat.id, ownerID: nil) == chat)
            #expect(try await store.chats(ownerID: user.id, archived: false, limit: 10, offset: 0).total == 1)
        }
    }

    @Test(
        "long text is kept whole, and control characters and non-ASCII byte for byte",
        arguments: StorageEngine.available)
    func textRoundTrip(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat(title: "")
            let content = "a\u{1}b\u{7F} – ünïcødé 🚀 \"quoted\" 'single' \\ back"
            let long = String(repeating: "0123456789", count: 100_000)
            _ = try await store.appendMessage(chatID: chat.id, role: .user, content: content)
            _ = try await store.appendMessage(chatID: chat.id, role: .user, content: long)
            #expect(try await store.pathContents(chat.id) == [content, long])
            let titled = try await store.createChat(userID: user.id, title: content)
            #expect(try await store.chat(id: titled.id, ownerID: nil)?.title == content)
            // No engine cuts or refuses long text: the HTTP layer bounds it.
            let changed = try await store.updateChat(
                id: titled.id, ownerID: user.id, changes: ChatChanges(title: long, systemPrompt: .some(long)))
            #expect(changed?.title == long && changed?.systemPrompt == long)
            #expect(try await store.chat(id: titled.id, ownerID: nil) == changed)
            #expect(try await store.chat(id: chat.id, ownerID: user.id)?.title == "")
        }
    }
}
