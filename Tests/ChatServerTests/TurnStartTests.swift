import ChatStorage
import Foundation
import Testing

/// ``ChatStore/beginTurnReadingContext(chatID:ownerID:userContent:historyLimit:model:)`` on the suite's engine
/// (PostgreSQL: one statement; SQLite: the read, then the begin): what it saves and what it returns.
@Suite("A new message's turn: context read and start saved together")
struct TurnStartTests {
    static let offered = ["m-chat", "m-default", "m-chosen"]

    @Test("history of the active path newest first, both messages saved under it, the chat's model and prompt")
    func readAndBegin() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let store = try await TestDatabase.openStore(standingInFor: directory + "/start.db")
        let owner = try await store.createUser(email: "start@example.com", passwordHash: "h", role: .user)
        let chat = try await store.createChat(userID: owner.id, title: nil)
        _ = try await store.updateChat(
            id: chat.id, ownerID: owner.id, changes: ChatChanges(model: .some("m-chat"), systemPrompt: .some("sp")))
        let choice = ModelChoice(chosen: nil, offered: Self.offered, fallback: "m-default")

        let first = try #require(
            try await store.beginTurnReadingContext(
                chatID: chat.id, ownerID: owner.id, userContent: "one", historyLimit: 500, model: choice))
        #expect(first.history.isEmpty)
        #expect(first.systemPrompt == "sp" && first.title == nil)
        #expect(first.user.content == "one" && first.user.role == .user && first.user.status == .complete)
        #expect(first.user.parentID == nil)
        #expect(first.assistant.status == .streaming && first.assistant.role == .assistant)
        #expect(first.assistant.parentID == first.user.id && first.assistant.id > first.user.id)
        #expect(first.assistant.model == "m-chat", "the chat's own model, on offer")

        // PostgreSQL: while the reply streams (another replica's, as far as this one knows), the next turn is
        // refused as busy and saves nothing. (SQLite has one process, whose session runs a chat's turns in turn.)
        if TestDatabase.isPostgres {
            await #expect(throws: StorageError.chatBusy) {
                try await store.beginTurnReadingContext(
                    chatID: chat.id, ownerID: owner.id, userContent: "too soon", historyLimit: 500, model: choice)
            }
        }
        try await store.finishMessage(
            id: first.assistant.id, outcome: MessageOutcome(content: "reply one", status: .complete))

        // A failed reply is kept out of the next context.
        let second = try #require(
            try await store.beginTurnReadingContext(
                chatID: chat.id, ownerID: owner.id, userContent: "two", historyLimit: 500,
                model: ModelChoice(chosen: "m-chosen", offered: Self.offered, fallback: "m-default")))
        #expect(second.assistant.model == "m-chosen", "the turn's own choice first")
        #expect(second.history.map(\.content) == ["reply one", "one"])
        #expect(second.user.parentID == first.assistant.id)
        try await store.finishMessage(
            id: second.assistant.id, outcome: MessageOutcome(content: "cut", status: .failed, error: "upstream"))

        // The chat's model no longer on offer: the default.
        let third = try #require(
            try await store.beginTurnReadingContext(
                chatID: chat.id, ownerID: owner.id, userContent: "three", historyLimit: 2,
                model: ModelChoice(chosen: nil, offered: ["m-default"], fallback: "m-default")))
        #expect(third.assistant.model == "m-default")
        #expect(third.history.map(\.content) == ["two", "reply one"], "complete messages only, at most the limit")
        #expect(third.user.parentID == second.assistant.id, "after the active path, failed reply included")
        try await store.finishMessage(
            id: third.assistant.id, outcome: MessageOutcome(content: "reply three", status: .complete))

        let listed = try #require(try await store.messages(chatID: chat.id, ownerID: owner.id, limit: 100))
        #expect(listed.map(\.content) == ["one", "reply one", "two", "cut", "three", "reply three"])
        #expect(try await store.chat(id: chat.id, ownerID: owner.id)?.messageCount == 6)
    }

    @Test("a chat of someone else's or a missing one: nil, and nothing saved")
    func foreignOrMissing() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let store = try await TestDatabase.openStore(standingInFor: directory + "/foreign.db")
        let owner = try await store.createUser(email: "owner@example.com", passwordHash: "h", role: .user)
        let stranger = try await store.createUser(email: "stranger@example.com", passwordHash: "h", role: .user)
        let chat = try await store.createChat(userID: owner.id, title: "mine")
        let choice = ModelChoice(chosen: nil, offered: Self.offered, fallback: "m-default")

        #expect(
            try await store.beginTurnReadingContext(
                chatID: chat.id, ownerID: stranger.id, userContent: "hi", historyLimit: 500, model: choice) == nil)
        #expect(
            try await store.beginTurnReadingContext(
                chatID: UUID(), ownerID: owner.id, userContent: "hi", historyLimit: 500, model: choice) == nil)
        #expect(try await store.messages(chatID: chat.id, ownerID: owner.id, limit: 10)?.isEmpty == true)

        let started = try #require(
            try await store.beginTurnReadingContext(
                chatID: chat.id, ownerID: owner.id, userContent: "hi", historyLimit: 500, model: choice))
        #expect(started.title == "mine")
        #expect(started.assistant.model == "m-default", "no model of the chat's own")
    }
}
