import ChatStorage
import Foundation
import Testing

/// The contract of a reply after its turn began, on every engine: its streaming text, how it ends, and what
/// a stopped server leaves.
@Suite("Storage contract: replies")
struct StorageContractRepliesTests {
    @Test(
        "updateStreamingContent saves a streaming reply's text, and nothing once it has ended",
        arguments: StorageEngine.available)
    func streamingText(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (_, chat) = try await store.makeOwnedChat()
            #expect(try await store.streamingReply(chatID: chat.id) == nil)
            let turn = try #require(try await store.beginTurn(chatID: chat.id, userContent: "q"))
            try await store.updateStreamingContent(messageID: turn.assistant.id, content: "part")
            #expect(try await store.streamingReply(chatID: chat.id)?.content == "part")
            try await store.finishMessage(
                id: turn.assistant.id, outcome: MessageOutcome(content: "whole", status: .complete))
            try await store.updateStreamingContent(messageID: turn.assistant.id, content: "late")
            try await store.updateStreamingContent(messageID: turn.assistant.id + 1_000, content: "nobody's")
            #expect(try await store.pathContents(chat.id) == ["q", "whole"])
            #expect(try await store.streamingReply(chatID: chat.id) == nil)
            #expect(try await store.streamingReply(chatID: unknownID) == nil)
        }
    }

    @Test(
        "finishMessage records the end (the model kept when none is given) and moves the chat up",
        arguments: StorageEngine.available)
    func finish(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (_, chat) = try await store.makeOwnedChat()
            let turn = try #require(try await store.beginTurn(chatID: chat.id, userContent: "q"))
            let before = try #require(try await store.chat(id: chat.id, ownerID: nil)).updatedAt
            let failed = try #require(
                try await store.finishMessage(
                    id: turn.assistant.id,
                    outcome: MessageOutcome(
                        content: "cut", status: .failed, error: "upstream", promptTokens: 7, completionTokens: 1)))
            #expect(failed.status == .failed && failed.error == "upstream" && failed.content == "cut")
            #expect(failed.model == "m", "the turn's model kept")
            #expect(failed.promptTokens == 7 && failed.completionTokens == 1)
            #expect(try await store.message(id: failed.id, chatID: chat.id, ownerID: nil) == failed)
            #expect(try #require(try await store.chat(id: chat.id, ownerID: nil)).updatedAt >= before)
            let second = try #require(try await store.beginTurn(chatID: chat.id, userContent: "q2"))
            let done = try #require(
                try await store.finishMessage(
                    id: second.assistant.id, outcome: MessageOutcome(content: "a", status: .cancelled, model: "m2")))
            #expect(done.status == .cancelled && done.model == "m2" && done.error == nil && done.promptTokens == nil)
            #expect(
                try await store.finishMessage(
                    id: done.id + 1_000, outcome: MessageOutcome(content: "", status: .failed))
                    == nil)
        }
    }

    @Test(
        "finishMessage after the chat was deleted: nil, and its call is still accounted",
        arguments: StorageEngine.available)
    func finishInDeletedChat(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            let turn = try #require(try await store.beginTurn(chatID: chat.id, userContent: "q"))
            #expect(try await store.deleteChat(id: chat.id, ownerID: user.id))
            let charge = UsageCharge(
                userID: user.id, day: contractDay, promptTokens: 5, completionTokens: 3, estimated: true)
            #expect(
                try await store.finishMessage(
                    id: turn.assistant.id, outcome: MessageOutcome(content: "a", status: .complete, charge: charge))
                    == nil)
            #expect(
                try await store.usage(userID: user.id, from: contractDay, to: contractDay).map(\.totals)
                    == [UsageTotals(requests: 1, promptTokens: 5, completionTokens: 3, estimatedRequests: 1)])
        }
    }

    @Test(
        "failInterruptedTurns: a reply left streaming by a closed store is failed, its text and reservation kept and freed",
        arguments: StorageEngine.available)
    func interrupted(_ engine: StorageEngine) async throws {
        try await engine.withReopenedStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            let reservation = TokenReservation(
                userID: user.id, tokens: 40, today: contractDay, dailyLimit: 1_000, monthlyLimit: nil)
            let turn = try #require(
                try await store.beginTurn(chatID: chat.id, userContent: "q", reservation: reservation))
            try await store.updateStreamingContent(messageID: turn.assistant.id, content: "partial")
            #expect(try await store.quotaStanding(userID: user.id, today: contractDay).reserved == 40)
            return (user: user.id, chat: chat.id)
        } then: { store, ids in
            let (user, chat) = ids
            // PostgreSQL's lease sweep may fail it first (it runs as the store opens): the outcome is the same.
            _ = try await store.failInterruptedTurns()
            #expect(try await store.streamingReply(chatID: chat) == nil)
            let reply = try #require(try await store.messages(chatID: chat, ownerID: nil, after: 0, limit: 10)?.last)
            #expect(
                reply.status == .failed && reply.content == "partial" && reply.error?.contains("interrupted") == true)
            #expect(try await store.quotaStanding(userID: user, today: contractDay).reserved == 0)
            #expect(try await store.failInterruptedTurns() == 0, "nothing left to fail")
        }
    }

}
