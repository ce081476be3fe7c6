import ChatStorage
import Foundation
import Testing

@testable import ChatServer
@testable import ChatTurns

/// ``ChatStore/beginTurnReadingContext(chatID:ownerID:userContent:history:model:)`` on the suite's engine
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
                chatID: chat.id, ownerID: owner.id, userContent: "one", history: HistoryWindow(messages: 500),
                model: choice))
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
                    chatID: chat.id, ownerID: owner.id, userContent: "too soon", history: HistoryWindow(messages: 500),
                    model: choice)
            }
        }
        try await store.finishMessage(
            id: first.assistant.id, outcome: MessageOutcome(content: "reply one", status: .complete))

        // A failed reply is kept out of the next context.
        let second = try #require(
            try await store.beginTurnReadingContext(
                chatID: chat.id, ownerID: owner.id, userContent: "two", history: HistoryWindow(messages: 500),
                model: ModelChoice(chosen: "m-chosen", offered: Self.offered, fallback: "m-default")))
        #expect(second.assistant.model == "m-chosen", "the turn's own choice first")
        #expect(second.history.map(\.content) == ["reply one", "one"])
        #expect(second.user.parentID == first.assistant.id)
        try await store.finishMessage(
            id: second.assistant.id, outcome: MessageOutcome(content: "cut", status: .failed, error: "upstream"))

        // The chat's model no longer on offer: the default.
        let third = try #require(
            try await store.beginTurnReadingContext(
                chatID: chat.id, ownerID: owner.id, userContent: "three", history: HistoryWindow(messages: 2),
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

    @Test(
        "SQLite stops a long chat's history where the messages before reach the window's tokens (UTF-8 bytes / 4 + 4 each), the first always; on both engines the context built from it is the one the whole history gives"
    )
    func historyWithinTokens() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let store = try await TestDatabase.openStore(standingInFor: directory + "/window.db")
        let owner = try await store.createUser(email: "window@example.com", passwordHash: "h", role: .user)
        let chat = try await store.createChat(userID: owner.id, title: "long")
        // Oldest first: eight messages of 40 ASCII bytes (14 tokens each), then 40 "é" (80 bytes: 24 tokens).
        var contents = (0..<8).map { index in
            let label = "message \(index) "
            return label + String(repeating: "x", count: 40 - label.utf8.count)
        }
        contents.append(String(repeating: "\u{E9}", count: 40))
        for (index, content) in contents.enumerated() {
            _ = try await store.appendMessage(
                chatID: chat.id, role: index.isMultiple(of: 2) ? .user : .assistant, content: content)
        }
        let newestFirst = Array(contents.reversed())

        /// The history on the active path and on the branch through its last message.
        func histories(_ window: HistoryWindow) async throws -> [[String]] {
            let active = try #require(
                try await store.turnContext(chatID: chat.id, ownerID: nil, window: window, placement: .activePath))
            let branch = try #require(
                try await store.turnContext(
                    chatID: chat.id, ownerID: nil, window: window, placement: .branch(from: active.parentID)))
            return [active.history.map(\.content), branch.history.map(\.content)]
        }
        func newest(_ count: Int) -> [[String]] {
            [Array(newestFirst.prefix(count)), Array(newestFirst.prefix(count))]
        }

        // Tokens before each message, newest first: 0, 24, 38, 52, … (counted in characters, the newest would
        // be 14 and a window of 30 would keep three). PostgreSQL returns up to `messages` (see HistoryWindow).
        let stops = !TestDatabase.isPostgres
        #expect(try await histories(HistoryWindow(messages: 500, tokens: 30)) == newest(stops ? 2 : 9))
        #expect(try await histories(HistoryWindow(messages: 500, tokens: 39)) == newest(stops ? 3 : 9))
        #expect(
            try await histories(HistoryWindow(messages: 500, tokens: 1)) == newest(stops ? 1 : 9), "the first always")
        #expect(try await histories(HistoryWindow(messages: 2, tokens: 1000)) == newest(2), "and no more than messages")
        #expect(try await histories(HistoryWindow(messages: 500)) == newest(9))

        // Whatever the budget, the context cut from the window is the one cut from the whole history.
        let whole = try #require(
            try await store.turnContext(
                chatID: chat.id, ownerID: nil, window: HistoryWindow(messages: 500), placement: .activePath))
        let asked = MessageRecord(
            id: 1_000, chatID: chat.id, role: .user, content: "next question", createdAt: .now(), status: .complete)
        for budget in [1, 20, 30, 39, 52, 60, 80, 100, 140, 1_000] {
            let cut = try #require(
                try await store.turnContext(
                    chatID: chat.id, ownerID: nil, window: HistoryWindow(messages: 500, tokens: budget),
                    placement: .activePath))
            #expect(
                ContextBuilder.messages(systemPrompt: "be brief", history: [asked] + cut.history, budget: budget)
                    == ContextBuilder.messages(
                        systemPrompt: "be brief", history: [asked] + whole.history, budget: budget),
                "budget \(budget)")
        }

        // The turn's start reads within the same window.
        let started = try #require(
            try await store.beginTurnReadingContext(
                chatID: chat.id, ownerID: owner.id, userContent: "next",
                history: HistoryWindow(messages: 500, tokens: 30),
                model: ModelChoice(chosen: nil, offered: Self.offered, fallback: "m-default")))
        #expect(started.history.map(\.content) == Array(newestFirst.prefix(stops ? 2 : 9)))
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
                chatID: chat.id, ownerID: stranger.id, userContent: "hi", history: HistoryWindow(messages: 500),
                model: choice) == nil)
        #expect(
            try await store.beginTurnReadingContext(
                chatID: UUID(), ownerID: owner.id, userContent: "hi", history: HistoryWindow(messages: 500),
                model: choice) == nil)
        #expect(try await store.messages(chatID: chat.id, ownerID: owner.id, limit: 10)?.isEmpty == true)

        let started = try #require(
            try await store.beginTurnReadingContext(
                chatID: chat.id, ownerID: owner.id, userContent: "hi", history: HistoryWindow(messages: 500),
                model: choice))
        #expect(started.title == "mine")
        #expect(started.assistant.model == "m-default", "no model of the chat's own")
    }
}
