import ChatProvider
import ChatStorage
import Foundation
import Logging

/// Gives an untitled chat a short title from its first user message. Without quotas it runs in the background
/// after a complete reply, never delaying it. A turn that reserves tokens runs it beside its reply instead and
/// writes it before the reply ends, so that the title's cost stays inside the turn's reservation (see
/// ``maximumTokens(source:)``). Its failures are only logged.
struct TitleGenerator: Sendable {
    let database: any ChatStore
    let provider: ProviderActor
    let accounting: TurnAccounting
    let logger: Logger

    static let fallback = "New chat"
    static let instruction =
        "Write a title of 3 to 6 words for a conversation that starts with the user's message. Reply with the title only."
    /// The most of the first message the title call sends, in Unicode scalars (at most 4 bytes each).
    static let sourceLength = 2_000
    static let maximumCompletionTokens = 256

    /// A title made for a chat, with the call's charge to its owner, not yet written.
    struct Named: Sendable {
        let chatID: UUID
        let title: String
        let charge: UsageCharge?
    }

    /// The most a title call can cost: its prompt's bound (``ContextBuilder/maximumTokens(of:)``) and the most
    /// it may write. `source`: the chat's first message when known, else the longest one the call may send.
    static func maximumTokens(source: String?) -> Int {
        let text = source.map(Self.excerpt) ?? String(repeating: "\u{10FFFF}", count: Self.sourceLength)
        return ContextBuilder.maximumTokens(of: Self.messages(excerpt: text)) + Self.maximumCompletionTokens
    }

    private static func excerpt(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(Self.sourceLength)))
    }

    private static func messages(excerpt: String) -> [ChatMessage] {
        [ChatMessage(role: "system", content: Self.instruction), ChatMessage(role: "user", content: excerpt)]
    }

    /// Runs `reply` while the chat's title is made beside it, and writes the title before returning `reply`'s
    /// result if `keep` accepts that result (a turn whose reservation holds the title: its reply ends, and gives
    /// the reservation back, after the title is written). Otherwise, or once the caller is cancelled, the title's
    /// call is cancelled.
    func naming<T: Sendable>(
        _ chatID: UUID, during reply: @Sendable () async -> T, keepIf keep: @Sendable (T) -> Bool
    ) async -> T {
        let titling = Task { await self.name(chatID) }
        return await withTaskCancellationHandler {
            let result = await reply()
            if !keep(result) { titling.cancel() }
            if let named = await titling.value { await self.save(named) }
            return result
        } onCancel: {
            titling.cancel()
        }
    }

    func titleChatIfNeeded(_ chatID: UUID) async {
        if let named = await self.name(chatID) { await self.save(named) }
    }

    /// Asks the upstream for a title when the chat has none and starts with a user message; nil otherwise, or
    /// when the call fails or is cancelled.
    func name(_ chatID: UUID) async -> Named? {
        do {
            guard let chat = try await self.database.chat(id: chatID, ownerID: nil), chat.title == nil,
                let first = try await self.database.messages(chatID: chatID, ownerID: nil, limit: 1)?.first,
                first.role == .user
            else { return nil }
            let request = ChatCompletionRequest(
                model: self.provider.model, messages: Self.messages(excerpt: Self.excerpt(first.content)),
                temperature: 0.3, maxCompletionTokens: Self.maximumCompletionTokens)
            let promptEstimate = ContextBuilder.estimateTokens(of: request.messages)
            let completion = try await self.provider.complete(
                request, estimatedTokens: promptEstimate + Self.maximumCompletionTokens)
            let charge = self.accounting.charge(
                userID: chat.userID, usage: completion.usage, promptEstimate: promptEstimate,
                delivered: completion.content)
            return Named(chatID: chatID, title: Self.clean(completion.content), charge: charge)
        } catch {
            self.logger.debug(
                "title generation failed", metadata: ["chat_id": "\(chatID.lowercasedString)", "error": "\(error)"])
            return nil
        }
    }

    /// Writes the title, with the call's charge to the chat's owner, in one transaction.
    func save(_ named: Named) async {
        do {
            if let charge = named.charge { self.accounting.metrics?.accounted(charge) }
            try await self.database.setTitleIfEmpty(chatID: named.chatID, title: named.title, charge: named.charge)
        } catch {
            self.logger.debug(
                "title generation failed",
                metadata: ["chat_id": "\(named.chatID.lowercasedString)", "error": "\(error)"])
        }
    }

    /// First line, without quotes or markdown, at most 6 words and 80 characters; "New chat" if nothing is left.
    static func clean(_ raw: String) -> String {
        let line = raw.replacingNUL.split(whereSeparator: \.isNewline).first { !$0.allSatisfy(\.isWhitespace) } ?? ""
        let stripped = line.trimmingCharacters(in: CharacterSet(charactersIn: "\"'`*#_ \t“”‘’").union(.whitespaces))
        var words = stripped.split(whereSeparator: \.isWhitespace).prefix(6).joined(separator: " ")
        while let last = words.last, ".:;,!".contains(last) { words.removeLast() }
        if words.count > 80 { words = String(words.prefix(80)).trimmingCharacters(in: .whitespaces) }
        return words.isEmpty ? fallback : words
    }
}
