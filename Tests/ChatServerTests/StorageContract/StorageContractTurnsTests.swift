import ChatStorage
import Foundation
import Testing

/// The contract of an AI turn's storage, on every engine: its context, its start (and the checks that make
/// turns of one chat run one after the other), its streaming text and its end.
@Suite("Storage contract: turns")
struct StorageContractTurnsTests {
    @Test(
        "turnContext: the complete messages of the path newest first, the newest id, the chat's settings",
        arguments: StorageEngine.available)
    func context(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat(title: nil)
            let stranger = try await store.makeUser("stranger@example.com")
            let window = HistoryWindow(messages: 100)
            let empty = try #require(
                try await store.turnContext(chatID: chat.id, ownerID: user.id, window: window, placement: .activePath))
            #expect(empty == TurnContext(history: [], lastMessageID: 0, parentID: nil))
            let first = try await store.completeTurn(chatID: chat.id, "q1", reply: "a1")
            let failed = try #require(try await store.beginTurn(chatID: chat.id, userContent: "q2"))
            try await store.finishMessage(
                id: failed.assistant.id, outcome: MessageOutcome(content: "cut", status: .failed, error: "upstream"))
            _ = try await store.updateChat(
                id: chat.id, ownerID: user.id,
                changes: ChatChanges(title: "t", model: .some("m-chat"), systemPrompt: .some("sp")))
            let read = try #require(
                try await store.turnContext(chatID: chat.id, ownerID: user.id, window: window, placement: .activePath))
            #expect(read.history.map(\.content) == ["q2", "a1", "q1"], "the failed reply left out")
            #expect(read.lastMessageID == failed.assistant.id && read.parentID == failed.assistant.id)
            #expect(read.model == "m-chat" && read.systemPrompt == "sp" && read.title == "t")
            let two = try #require(
                try await store.turnContext(
                    chatID: chat.id, ownerID: nil, window: HistoryWindow(messages: 2), placement: .activePath))
            #expect(two.history.map(\.content) == ["q2", "a1"])
            let branch = try #require(
                try await store.turnContext(
                    chatID: chat.id, ownerID: nil, window: window, placement: .branch(from: first.user.id)))
            #expect(branch.history.map(\.content) == ["q1"] && branch.parentID == first.user.id)
            #expect(branch.lastMessageID == failed.assistant.id)
            let root = try #require(
                try await store.turnContext(
                    chatID: chat.id, ownerID: nil, window: window, placement: .branch(from: nil)))
            #expect(root.history.isEmpty && root.parentID == nil)
            #expect(
                try await store.turnContext(
                    chatID: chat.id, ownerID: stranger.id, window: window, placement: .activePath)
                    == nil)
            #expect(
                try await store.turnContext(chatID: unknownID, ownerID: nil, window: window, placement: .activePath)
                    == nil)
        }
    }

    @Test(
        "beginTurn saves the user's message and a streaming reply under the path's end",
        arguments: StorageEngine.available)
    func begin(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (_, chat) = try await store.makeOwnedChat()
            let first = try await store.completeTurn(chatID: chat.id, "q1", reply: "a1")
            let begun = try #require(try await store.beginTurn(chatID: chat.id, userContent: "q2"))
            #expect(begun.user.role == .user && begun.user.status == .complete && begun.user.content == "q2")
            #expect(begun.user.parentID == first.assistant.id && begun.user.onActivePath)
            #expect(begun.assistant.role == .assistant && begun.assistant.status == .streaming)
            #expect(begun.assistant.content == "" && begun.assistant.model == "m")
            #expect(begun.assistant.parentID == begun.user.id && begun.assistant.id > begun.user.id)
            #expect(try await store.streamingReply(chatID: chat.id) == begun.assistant)
            #expect(try await store.chat(id: chat.id, ownerID: nil)?.messageCount == 4)
            #expect(try await store.pathContents(chat.id) == ["q1", "a1", "q2", ""])
        }
    }

    @Test(
        "beginTurn refuses a stale context or a moved path as chatBusy, and is nil for a missing chat or parent",
        arguments: StorageEngine.available)
    func beginRefusals(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (_, chat) = try await store.makeOwnedChat()
            let first = try await store.completeTurn(chatID: chat.id, "q1", reply: "a1")
            let context = try #require(
                try await store.turnContext(
                    chatID: chat.id, ownerID: nil, window: HistoryWindow(messages: 10), placement: .activePath))
            func begin(parent: Int64?, through: Int64, placement: TurnPlacement = .activePath, chat id: UUID? = nil)
                async throws -> (user: MessageRecord, assistant: MessageRecord)?
            {
                try await store.beginTurn(
                    chatID: id ?? chat.id, placement: placement, parentID: parent, userContent: "q", model: "m",
                    contextThrough: through, reservation: nil)
            }
            await #expect(throws: StorageError.chatBusy, "a message saved since the context was read") {
                _ = try await begin(parent: first.assistant.id, through: first.user.id)
            }
            await #expect(throws: StorageError.chatBusy, "the active path no longer ends there") {
                _ = try await begin(parent: first.user.id, through: context.lastMessageID)
            }
            #expect(try await begin(parent: nil, through: 0, chat: unknownID) == nil)
            #expect(try await begin(parent: first.assistant.id + 1_000, through: context.lastMessageID) == nil)
            #expect(try await store.pathContents(chat.id) == ["q1", "a1"], "nothing saved")
            #expect(try await begin(parent: first.assistant.id, through: context.lastMessageID) != nil)
        }
    }

    @Test(
        "beginTurn on a branch: the active path switches first; a regenerated reply answers the message it goes under",
        arguments: StorageEngine.available)
    func beginOnBranch(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (_, chat) = try await store.makeOwnedChat()
            let first = try await store.completeTurn(chatID: chat.id, "q1", reply: "a1")
            try await store.completeTurn(chatID: chat.id, "q2", reply: "a2")
            let through =
                try #require(try await store.allMessages(chatID: chat.id, ownerID: nil, after: 0, limit: 10))
                .last?.id ?? 0
            let edited = try #require(
                try await store.beginTurn(
                    chatID: chat.id, placement: .branch(from: first.assistant.id), parentID: first.assistant.id,
                    userContent: "q2 edited", model: "m", contextThrough: through, reservation: nil))
            #expect(edited.user.parentID == first.assistant.id)
            #expect(try await store.pathContents(chat.id) == ["q1", "a1", "q2 edited", ""])
            try await store.finishMessage(
                id: edited.assistant.id, outcome: MessageOutcome(content: "b2", status: .complete))
            let regenerated = try #require(
                try await store.beginTurn(
                    chatID: chat.id, placement: .branch(from: first.user.id), parentID: first.user.id,
                    userContent: nil, model: "m2", contextThrough: edited.assistant.id, reservation: nil))
            #expect(regenerated.user.id == first.user.id && regenerated.user.onActivePath)
            #expect(regenerated.assistant.parentID == first.user.id && regenerated.assistant.model == "m2")
            #expect(try await store.pathContents(chat.id) == ["q1", ""])
            let all = try #require(try await store.allMessages(chatID: chat.id, ownerID: nil, after: 0, limit: 20))
            #expect(all.count == 7 && all.filter(\.onActivePath).count == 2)
        }
    }

    @Test(
        "beginTurnReadingContext: the context and the start together, the model chosen, nil for another's chat",
        arguments: StorageEngine.available)
    func beginReadingContext(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat(title: nil)
            let stranger = try await store.makeUser("stranger@example.com")
            _ = try await store.updateChat(
                id: chat.id, ownerID: user.id, changes: ChatChanges(model: .some("m-chat"), systemPrompt: .some("sp")))
            try await store.completeTurn(chatID: chat.id, "q1", reply: "a1")
            let offered = ModelChoice(chosen: nil, offered: ["m-chat", "m-other"], fallback: "m-default")
            let started = try #require(
                try await store.beginTurnReadingContext(
                    chatID: chat.id, ownerID: user.id, userContent: "q2", history: HistoryWindow(messages: 10),
                    model: offered))
            #expect(started.history.map(\.content) == ["a1", "q1"])
            #expect(started.systemPrompt == "sp" && started.title == nil)
            #expect(started.user.content == "q2" && started.assistant.status == .streaming)
            #expect(started.assistant.model == "m-chat" && started.assistant.parentID == started.user.id)
            try await store.finishMessage(
                id: started.assistant.id, outcome: MessageOutcome(content: "a2", status: .complete))
            let fallback = try #require(
                try await store.beginTurnReadingContext(
                    chatID: chat.id, ownerID: nil, userContent: "q3", history: HistoryWindow(messages: 1),
                    model: ModelChoice(chosen: nil, offered: ["m-other"], fallback: "m-default")))
            #expect(fallback.assistant.model == "m-default" && fallback.history.map(\.content) == ["a2"])
            #expect(
                try await store.beginTurnReadingContext(
                    chatID: chat.id, ownerID: stranger.id, userContent: "x", history: HistoryWindow(messages: 1),
                    model: offered) == nil)
            #expect(
                try await store.beginTurnReadingContext(
                    chatID: unknownID, ownerID: nil, userContent: "x", history: HistoryWindow(messages: 1),
                    model: offered) == nil)
        }
    }
}
