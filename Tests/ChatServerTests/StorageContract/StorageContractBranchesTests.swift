import ChatStorage
import Foundation
import Testing

/// The contract of a chat's message tree, on every engine: each message's parent, and switching the active
/// path to another branch.
@Suite("Storage contract: branches")
struct StorageContractBranchesTests {
    /// A chat with two branches under its first reply: q1, a1, then (q2, a2) and the newer (q2', a2').
    static func branchedChat(_ store: any ChatStore) async throws -> (
        user: UserRecord, chat: ChatRecord, ids: BranchIDs
    ) {
        let (user, chat) = try await store.makeOwnedChat()
        let first = try await store.completeTurn(chatID: chat.id, "q1", reply: "a1")
        let second = try await store.completeTurn(chatID: chat.id, "q2", reply: "a2")
        let edited = try #require(
            try await store.beginTurn(
                chatID: chat.id, placement: .branch(from: first.assistant.id), parentID: first.assistant.id,
                userContent: "q2'", model: "m", contextThrough: second.assistant.id, reservation: nil))
        try await store.finishMessage(
            id: edited.assistant.id, outcome: MessageOutcome(content: "a2'", status: .complete))
        let ids = BranchIDs(
            q1: first.user.id, a1: first.assistant.id, q2: second.user.id, a2: second.assistant.id,
            q2Edited: edited.user.id, a2Edited: edited.assistant.id)
        return (user, chat, ids)
    }

    /// The message ids of ``branchedChat(_:)``.
    struct BranchIDs {
        let q1: Int64
        let a1: Int64
        let q2: Int64
        let a2: Int64
        let q2Edited: Int64
        let a2Edited: Int64
    }

    @Test(
        "messageTree: every message with its parent, oldest first; nil for another's chat",
        arguments: StorageEngine.available)
    func tree(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat, ids) = try await Self.branchedChat(store)
            let stranger = try await store.makeUser("stranger@example.com")
            let tree = try #require(try await store.messageTree(chatID: chat.id, ownerID: user.id))
            let links = tree.links.map { [$0.id, $0.parentID ?? 0] }
            let expected: [[Int64]] = [
                [ids.q1, 0], [ids.a1, ids.q1], [ids.q2, ids.a1], [ids.a2, ids.q2],
                [ids.q2Edited, ids.a1], [ids.a2Edited, ids.q2Edited],
            ]
            #expect(links == expected)
            #expect(try await store.messageTree(chatID: chat.id, ownerID: stranger.id) == nil)
            #expect(try await store.messageTree(chatID: unknownID, ownerID: nil) == nil)
            let empty = try await store.createChat(userID: user.id, title: nil)
            #expect(try await store.messageTree(chatID: empty.id, ownerID: nil)?.links.isEmpty == true)
        }
    }

    @Test(
        "activateBranch: the path through a message down its newest children becomes the active path",
        arguments: StorageEngine.available)
    func activate(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat, ids) = try await Self.branchedChat(store)
            #expect(try await store.pathContents(chat.id) == ["q1", "a1", "q2'", "a2'"])
            let before = try await store.messagesVersion(chat.id)
            let path = try await store.activateBranch(chatID: chat.id, ownerID: user.id, messageID: ids.q2)
            #expect(path == [ids.q1, ids.a1, ids.q2, ids.a2])
            #expect(try await store.pathContents(chat.id) == ["q1", "a1", "q2", "a2"])
            #expect(try await store.messagesVersion(chat.id) != before)
            let up = try await store.activateBranch(chatID: chat.id, ownerID: user.id, messageID: ids.a1)
            #expect(up == [ids.q1, ids.a1, ids.q2Edited, ids.a2Edited], "on through the newest child")
            let all = try #require(try await store.allMessages(chatID: chat.id, ownerID: nil, after: 0, limit: 10))
            #expect(all.filter(\.onActivePath).map(\.content) == ["q1", "a1", "q2'", "a2'"])
        }
    }

    @Test(
        "activateBranch: nil for another's chat or a message not in it; chatBusy while a reply streams",
        arguments: StorageEngine.available)
    func activateRefusals(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat, ids) = try await Self.branchedChat(store)
            let stranger = try await store.makeUser("stranger@example.com")
            let other = try await store.createChat(userID: user.id, title: nil)
            #expect(try await store.activateBranch(chatID: chat.id, ownerID: stranger.id, messageID: ids.q2) == nil)
            #expect(try await store.activateBranch(chatID: other.id, ownerID: user.id, messageID: ids.q2) == nil)
            #expect(try await store.activateBranch(chatID: unknownID, ownerID: user.id, messageID: ids.q2) == nil)
            #expect(try await store.activateBranch(chatID: chat.id, ownerID: user.id, messageID: 1_000_000) == nil)
            _ = try #require(try await store.beginTurn(chatID: chat.id, userContent: "q3"))
            await #expect(throws: StorageError.chatBusy) {
                _ = try await store.activateBranch(chatID: chat.id, ownerID: user.id, messageID: ids.q2)
            }
            #expect(try await store.pathContents(chat.id) == ["q1", "a1", "q2'", "a2'", "q3", ""], "unchanged")
        }
    }

    /// Grows a tree at random from `seed`: turns after the active path, edits (a new question under a reply) and
    /// regenerations (a new reply under a question), each saved whole.
    static func randomTree(_ store: any ChatStore, chat: UUID, seed: UInt64, operations: Int) async throws {
        var random = FuzzTests.Generator(state: seed)
        var messages: [MessageRecord] = []
        var newest: Int64 = 0
        for step in 0..<operations {
            let under = messages.isEmpty || Bool.random(using: &random) ? nil : messages.randomElement(using: &random)
            let started: (user: MessageRecord, assistant: MessageRecord)?
            if let under {
                started = try await store.beginTurn(
                    chatID: chat, placement: .branch(from: under.id), parentID: under.id,
                    userContent: under.role == .assistant ? "edit \(step)" : nil, model: "m", contextThrough: newest,
                    reservation: nil)
            } else {
                started = try await store.beginTurn(chatID: chat, userContent: "turn \(step)")
            }
            let turn = try #require(started)
            try await store.finishMessage(
                id: turn.assistant.id, outcome: MessageOutcome(content: "reply \(step)", status: .complete))
            messages += turn.user.id == under?.id ? [turn.assistant] : [turn.user, turn.assistant]
            newest = turn.assistant.id
        }
    }

    @Test(
        "activateBranch on random trees: every message's path is MessageTree.branch's, and becomes the active path",
        arguments: StorageEngine.available, [1, 2, 3] as [UInt64])
    func randomTrees(_ engine: StorageEngine, _ seed: UInt64) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            try await Self.randomTree(store, chat: chat.id, seed: seed, operations: 14)
            let tree = try #require(try await store.messageTree(chatID: chat.id, ownerID: user.id))
            #expect(tree.links.count > 14)
            var order = FuzzTests.Generator(state: seed)
            for link in tree.links.shuffled(using: &order) {
                let path = try await store.activateBranch(chatID: chat.id, ownerID: user.id, messageID: link.id)
                #expect(path == tree.branch(through: link.id), "through \(link.id)")
                let active = try #require(try await store.messages(chatID: chat.id, ownerID: nil, after: 0, limit: 100))
                #expect(active.map(\.id) == path, "the active path after activating \(link.id)")
                let context = try #require(
                    try await store.turnContext(
                        chatID: chat.id, ownerID: nil, window: HistoryWindow(messages: 100), placement: .activePath))
                #expect(context.parentID == path?.last, "a next turn goes under the path's leaf")
            }
        }
    }
}
