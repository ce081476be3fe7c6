import ChatStorage
import Foundation
import Testing

/// The contract of reading and appending a chat's messages, on every engine: order, pages, ownership and the
/// `messages_version` a listing cache relies on.
@Suite("Storage contract: messages")
struct StorageContractMessagesTests {
    @Test(
        "appendMessage: after the active path, ids growing, the chat counted and moved up",
        arguments: StorageEngine.available)
    func append(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (_, chat) = try await store.makeOwnedChat()
            let first = try await store.appendMessage(chatID: chat.id, role: .user, content: "one")
            let second = try await store.appendMessage(chatID: chat.id, role: .assistant, content: "two")
            let third = try await store.appendMessage(chatID: chat.id, role: .system, content: "three")
            #expect(first.chatID == chat.id && first.role == .user && first.status == .complete)
            #expect(first.parentID == nil && first.onActivePath)
            #expect(second.parentID == first.id && third.parentID == second.id)
            #expect(first.id < second.id && second.id < third.id)
            #expect(second.role == .assistant && third.role == .system)
            #expect(first.error == nil && first.model == nil && first.promptTokens == nil)
            let read = try #require(try await store.chat(id: chat.id, ownerID: nil))
            #expect(read.messageCount == 3 && read.updatedAt >= third.createdAt && read.updatedAt > chat.updatedAt)
            #expect(
                try await store.messages(chatID: chat.id, ownerID: nil, after: 0, limit: 10) == [first, second, third])
        }
    }

    @Test("appendMessage to a missing chat throws and writes nothing", arguments: StorageEngine.available)
    func appendToMissingChat(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            // Not the same error: SQLite's foreign key error, PostgreSQL's corruptRow. Only seeding calls it
            // (chat-bench, tests), never a request, which reaches a chat through its owner first.
            await #expect(throws: (any Error).self) {
                _ = try await store.appendMessage(chatID: unknownID, role: .user, content: "lost")
            }
            let found = try await store.messages(chatID: unknownID, ownerID: nil, after: 0, limit: 10)
            #expect(found == nil)
        }
    }

    @Test(
        "messages and allMessages: oldest first after an id, at most a limit, nil for another's chat",
        arguments: StorageEngine.available)
    func pages(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            let stranger = try await store.makeUser("stranger@example.com")
            var ids: [Int64] = []
            for index in 0..<6 {
                ids.append(try await store.appendMessage(chatID: chat.id, role: .user, content: "m\(index)").id)
            }
            let page = try #require(
                try await store.messages(chatID: chat.id, ownerID: user.id, after: ids[1], limit: 3))
            #expect(page.map(\.id) == Array(ids[2..<5]))
            #expect(try await store.messages(chatID: chat.id, ownerID: user.id, after: ids[5], limit: 3) == [])
            #expect(try await store.messages(chatID: chat.id, ownerID: stranger.id, after: 0, limit: 3) == nil)
            #expect(try await store.messages(chatID: unknownID, ownerID: nil, after: 0, limit: 3) == nil)
            let all = try #require(
                try await store.allMessages(chatID: chat.id, ownerID: user.id, after: ids[0], limit: 2))
            #expect(all.map(\.id) == Array(ids[1..<3]))
            #expect(try await store.allMessages(chatID: chat.id, ownerID: nil, after: ids[5], limit: 2) == [])
            #expect(try await store.allMessages(chatID: chat.id, ownerID: stranger.id, after: 0, limit: 2) == nil)
            #expect(try await store.allMessages(chatID: unknownID, ownerID: nil, after: 0, limit: 2) == nil)
            let empty = try await store.createChat(userID: user.id, title: nil)
            #expect(try await store.messages(chatID: empty.id, ownerID: user.id, after: 0, limit: 3) == [])
            #expect(try await store.allMessages(chatID: empty.id, ownerID: user.id, after: 0, limit: 3) == [])
        }
    }

    @Test(
        "message(id:chatID:ownerID:): that chat's message, for its owner or anyone without an owner",
        arguments: StorageEngine.available)
    func oneMessage(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            let other = try await store.createChat(userID: user.id, title: nil)
            let stranger = try await store.makeUser("stranger@example.com")
            let message = try await store.appendMessage(chatID: chat.id, role: .user, content: "hello")
            #expect(try await store.message(id: message.id, chatID: chat.id, ownerID: user.id) == message)
            #expect(try await store.message(id: message.id, chatID: chat.id, ownerID: nil) == message)
            #expect(try await store.message(id: message.id, chatID: chat.id, ownerID: stranger.id) == nil)
            #expect(try await store.message(id: message.id, chatID: other.id, ownerID: user.id) == nil, "another chat")
            #expect(try await store.message(id: message.id + 1_000, chatID: chat.id, ownerID: nil) == nil)
        }
    }

    @Test(
        "messagePage: unchanged while the version holds; every kind of write changes it",
        arguments: StorageEngine.available)
    func versions(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            let stranger = try await store.makeUser("stranger@example.com")
            let start = try await store.messagesVersion(chat.id)
            #expect(
                try await store.messagePage(chatID: chat.id, ownerID: user.id, after: 0, limit: 5, knownVersion: start)
                    == .unchanged(version: start))
            let appended = try await store.appendMessage(chatID: chat.id, role: .user, content: "one")
            let afterAppend = try await store.messagesVersion(chat.id)
            #expect(afterAppend != start)
            #expect(
                try await store.messagePage(chatID: chat.id, ownerID: nil, after: 0, limit: 5, knownVersion: start)
                    == .messages([appended], version: afterAppend))
            _ = try await store.updateChat(id: chat.id, ownerID: user.id, changes: ChatChanges(title: "renamed"))
            #expect(try await store.messagesVersion(chat.id) == afterAppend, "a chat's settings are not its messages")
            let turn = try #require(try await store.beginTurn(chatID: chat.id, userContent: "q"))
            let afterBegin = try await store.messagesVersion(chat.id)
            #expect(afterBegin != afterAppend)
            try await store.updateStreamingContent(messageID: turn.assistant.id, content: "par")
            let afterFlush = try await store.messagesVersion(chat.id)
            #expect(afterFlush != afterBegin)
            try await store.finishMessage(
                id: turn.assistant.id, outcome: MessageOutcome(content: "done", status: .complete))
            #expect(try await store.messagesVersion(chat.id) != afterFlush)
            #expect(
                try await store.messagePage(
                    chatID: chat.id, ownerID: stranger.id, after: 0, limit: 5, knownVersion: nil)
                    == nil)
            #expect(
                try await store.messagePage(chatID: unknownID, ownerID: nil, after: 0, limit: 5, knownVersion: nil)
                    == nil)
        }
    }

    @Test(
        "a NUL in a message is refused as unsupportedCharacter and writes nothing", arguments: StorageEngine.available)
    func nulInMessages(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (_, chat) = try await store.makeOwnedChat()
            await #expect(throws: StorageError.unsupportedCharacter) {
                _ = try await store.appendMessage(chatID: chat.id, role: .user, content: nulText)
            }
            await #expect(throws: StorageError.unsupportedCharacter) {
                _ = try await store.beginTurn(chatID: chat.id, userContent: nulText)
            }
            #expect(try await store.pathContents(chat.id) == [])
            let turn = try #require(try await store.beginTurn(chatID: chat.id, userContent: "q"))
            await #expect(throws: StorageError.unsupportedCharacter) {
                try await store.updateStreamingContent(messageID: turn.assistant.id, content: nulText)
            }
            for outcome in [
                MessageOutcome(content: nulText, status: .complete),
                MessageOutcome(content: "", status: .failed, error: nulText),
                MessageOutcome(content: "", status: .complete, model: nulText),
            ] {
                await #expect(throws: StorageError.unsupportedCharacter) {
                    try await store.finishMessage(id: turn.assistant.id, outcome: outcome)
                }
            }
            #expect(try await store.streamingReply(chatID: chat.id) == turn.assistant, "still as it began")
        }
    }
}
