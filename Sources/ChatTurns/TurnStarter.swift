import ChatProvider
import ChatStorage
import Foundation

/// A turn whose start is saved, with the context it sends.
struct BegunTurn: Sendable {
    let user: MessageRecord
    let assistant: MessageRecord
    let context: [ChatMessage]
    /// The model the turn asks for.
    let model: String
    /// The context's estimated tokens (what a reply cut off before the upstream's usage is charged).
    let promptEstimate: Int
    /// The chat had no title when the context was read.
    let untitled: Bool
    /// The turn's reservation holds the chat's title too: it is made during the turn.
    var holdsTitle = false
}

/// Saves a turn's start in one chat: reads its context and reserves against the user's quotas the most the turn
/// can cost (its prompt's bound in tokens, ``ContextBuilder/maximumTokens(of:)``, the most the reply may write,
/// and in an untitled chat the title's bound, ``TitleGenerator/maximumTokens(source:)``). The chat's own model
/// and system prompt are read with the context, so a change to them applies from the next turn on.
struct TurnStarter: Sendable {
    let chatID: UUID
    let database: any ChatStore
    let settings: TurnSettings
    let accounting: TurnAccounting

    /// One attempt; nil when the chat is missing or not the account's. Throws ``StorageError/chatBusy`` while
    /// another process generates a reply in this chat, or saved a message after the context was read (the
    /// session waits for the chat to change and tries again).
    func begin(_ input: TurnInput, model chosen: String?, account: TurnAccount) async throws -> BegunTurn? {
        // A new message with nothing to reserve (the reservation is computed from the context): read and begun
        // in one step where the store can.
        if input.placement == .activePath, let content = input.userContent, !self.accounting.reserves(for: account) {
            return try await self.beginReadingContext(content, model: chosen, account: account)
        }
        return try await self.readThenBegin(input, model: chosen, account: account)
    }

    /// The most messages of history a context is built from (before the token budget trims it).
    private static let historyLimit = 500

    /// The history a turn reads: no more than its context can hold.
    private var historyWindow: HistoryWindow {
        HistoryWindow(messages: Self.historyLimit, tokens: self.settings.contextTokens)
    }

    /// How this turn's model is chosen: its own, else the chat's if on offer now, else the default.
    private func modelChoice(_ chosen: String?) -> ModelChoice {
        ModelChoice(chosen: chosen, offered: self.settings.models.entries.map(\.id), fallback: self.settings.model)
    }

    /// A new message after the active path with nothing to reserve: the store reads and begins together.
    private func beginReadingContext(_ content: String, model chosen: String?, account: TurnAccount) async throws
        -> BegunTurn?
    {
        let choice = self.modelChoice(chosen)
        guard
            let started = try await self.database.beginTurnReadingContext(
                chatID: self.chatID, ownerID: account.userID, userContent: content, history: self.historyWindow,
                model: choice)
        else { return nil }
        let context = ContextBuilder.messages(
            systemPrompt: started.systemPrompt ?? self.settings.systemPrompt,
            history: [started.user] + started.history, budget: self.settings.contextTokens)
        return BegunTurn(
            user: started.user, assistant: started.assistant, context: context,
            model: started.assistant.model ?? choice.resolved(chatModel: nil),
            promptEstimate: ContextBuilder.estimateTokens(of: context), untitled: started.title == nil)
    }

    /// Any other turn: the context is read first, as the reservation and a branch's path are computed from it.
    private func readThenBegin(_ input: TurnInput, model chosen: String?, account: TurnAccount) async throws
        -> BegunTurn?
    {
        guard
            let read = try await self.database.turnContext(
                chatID: self.chatID, ownerID: account.userID, window: self.historyWindow, placement: input.placement)
        else { return nil }
        // The user's message as it will be saved: the newest of the history (a regenerated reply answers the
        // newest of it already).
        let pending = input.userContent.map {
            MessageRecord(
                id: read.lastMessageID + 1, chatID: self.chatID, role: .user, content: $0, createdAt: .now(),
                status: .complete, parentID: read.parentID)
        }
        let model = self.modelChoice(chosen).resolved(chatModel: read.model)
        let context = ContextBuilder.messages(
            systemPrompt: read.systemPrompt ?? self.settings.systemPrompt,
            history: (pending.map { [$0] } ?? []) + read.history, budget: self.settings.contextTokens)
        let promptEstimate = ContextBuilder.estimateTokens(of: context)
        // The most this turn can cost: its prompt's bound, the most its reply may write, and an untitled chat's
        // title call (its source is this message when the path before it is empty).
        let untitled = read.title == nil
        let titleBound =
            untitled ? TitleGenerator.maximumTokens(source: read.history.isEmpty ? input.userContent : nil) : 0
        let reservation = self.accounting.reservation(
            for: account,
            tokens: ContextBuilder.maximumTokens(of: context) + self.settings.maxCompletionTokens + titleBound)
        guard
            let saved = try await self.database.beginTurn(
                chatID: self.chatID, placement: input.placement, parentID: read.parentID,
                userContent: input.userContent, model: model, contextThrough: read.lastMessageID,
                reservation: reservation)
        else { return nil }
        return BegunTurn(
            user: saved.user, assistant: saved.assistant, context: context, model: model,
            promptEstimate: promptEstimate, untitled: untitled, holdsTitle: untitled && reservation != nil)
    }
}
