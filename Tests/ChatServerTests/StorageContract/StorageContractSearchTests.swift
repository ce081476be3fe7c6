import ChatStorage
import Foundation
import Testing

/// The contract of a store's search, on every engine: the owner's rows only, newest first, words and phrases
/// and prefixes alike, text cut to ``searchTextLength``, and the deadline.
@Suite("Storage contract: search")
struct StorageContractSearchTests {
    static func query(_ text: String) throws -> SearchQuery { try SearchQuery(parsing: text) }
    static let later = ContinuousClock.now + .seconds(3_600)

    @Test(
        "searchTitles: the owner's matching titles, newest first, at most `candidates`",
        arguments: StorageEngine.available)
    func titles(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, old) = try await store.makeOwnedChat(title: "Holiday plans")
            let new = try await store.createChat(userID: user.id, title: "holiday budget")
            _ = try await store.createChat(userID: user.id, title: "work")
            _ = try await store.createChat(userID: user.id, title: nil)
            let stranger = try await store.makeOwnedChat("stranger@example.com", title: "holiday too")
            let hits = try await store.searchTitles(
                ownerID: user.id, query: try Self.query("HOLIDAY"), candidates: 10, deadline: Self.later)
            #expect(hits.map(\.chatID) == [new.id, old.id])
            #expect(hits.first?.text == "holiday budget" && hits.first?.chatTitle == "holiday budget")
            #expect(hits.allSatisfy { $0.messageID == nil && $0.role == nil })
            let one = try await store.searchTitles(
                ownerID: user.id, query: try Self.query("holiday"), candidates: 1, deadline: Self.later)
            #expect(one.map(\.chatID) == [new.id])
            let phrase = try await store.searchTitles(
                ownerID: user.id, query: try Self.query("\"holiday plans\""), candidates: 10, deadline: Self.later)
            #expect(phrase.map(\.chatID) == [old.id])
            let prefix = try await store.searchTitles(
                ownerID: user.id, query: try Self.query("holi* bud*"), candidates: 10, deadline: Self.later)
            #expect(prefix.map(\.chatID) == [new.id])
            let theirs = try await store.searchTitles(
                ownerID: stranger.user.id, query: try Self.query("holiday"), candidates: 10, deadline: Self.later)
            #expect(theirs.map(\.chatID) == [stranger.chat.id])
            let renamed = try #require(
                try await store.updateChat(id: old.id, ownerID: user.id, changes: ChatChanges(title: "trip")))
            let afterRename = try await store.searchTitles(
                ownerID: user.id, query: try Self.query("trip"), candidates: 10, deadline: Self.later)
            #expect(afterRename.map(\.chatID) == [renamed.id])
        }
    }

    @Test(
        "searchMessages: the owner's matching messages, newest first, a reply once it has ended",
        arguments: StorageEngine.available)
    func messages(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat(title: "zoo")
            let turn = try await store.completeTurn(chatID: chat.id, "Where is the zebra?", reply: "The zebra sleeps.")
            let stranger = try await store.makeOwnedChat("stranger@example.com")
            _ = try await store.appendMessage(chatID: stranger.chat.id, role: .user, content: "zebra")
            let hits = try await store.searchMessages(
                ownerID: user.id, query: try Self.query("zebra"), candidates: 10, deadline: Self.later)
            #expect(hits.map(\.messageID) == [turn.assistant.id, turn.user.id])
            #expect(hits.map(\.role) == [.assistant, .user])
            #expect(hits.first?.text == "The zebra sleeps." && hits.first?.chatTitle == "zoo")
            #expect(hits.allSatisfy { $0.chatID == chat.id })

            let running = try #require(try await store.beginTurn(chatID: chat.id, userContent: "and the okapi"))
            try await store.updateStreamingContent(messageID: running.assistant.id, content: "okapi okapi")
            let whileRunning = try await store.searchMessages(
                ownerID: user.id, query: try Self.query("okapi"), candidates: 10, deadline: Self.later)
            #expect(whileRunning.map(\.messageID) == [running.user.id])
            try await store.finishMessage(
                id: running.assistant.id, outcome: MessageOutcome(content: "okapi okapi okapi", status: .complete))
            let ended = try await store.searchMessages(
                ownerID: user.id, query: try Self.query("okapi"), candidates: 10, deadline: Self.later)
            #expect(ended.map(\.messageID) == [running.assistant.id, running.user.id])

            #expect(try await store.deleteChat(id: chat.id, ownerID: user.id))
            #expect(
                try await store.searchMessages(
                    ownerID: user.id, query: try Self.query("zebra"), candidates: 10, deadline: Self.later
                ).isEmpty)
        }
    }

    @Test("searchMessages cuts each text at searchTextLength characters", arguments: StorageEngine.available)
    func textLength(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            let long = "needle " + String(repeating: "é", count: searchTextLength + 500)
            _ = try await store.appendMessage(chatID: chat.id, role: .user, content: long)
            let hits = try await store.searchMessages(
                ownerID: user.id, query: try Self.query("needle"), candidates: 10, deadline: Self.later)
            #expect(hits.map(\.text) == [String(long.prefix(searchTextLength))])
        }
    }

    @Test("a search whose deadline has passed throws searchTimedOut", arguments: StorageEngine.available)
    func deadline(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, _) = try await store.makeOwnedChat(title: "late")
            let past = ContinuousClock.now - .milliseconds(1)
            await #expect(throws: StorageError.searchTimedOut) {
                _ = try await store.searchTitles(
                    ownerID: user.id, query: try Self.query("late"), candidates: 10, deadline: past)
            }
            await #expect(throws: StorageError.searchTimedOut) {
                _ = try await store.searchMessages(
                    ownerID: user.id, query: try Self.query("late"), candidates: 10, deadline: past)
            }
        }
    }
}
