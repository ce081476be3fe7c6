import ChatProvider
import ChatStorage
import Foundation
import Logging

/// Gives an untitled chat a short title from its first user message, in the background, after a reply.
/// It never delays a reply, and its failures are only logged.
struct TitleGenerator: Sendable {
    let database: any ChatStore
    let provider: ProviderActor
    let accounting: TurnAccounting
    let logger: Logger

    static let fallback = "New chat"

    func titleChatIfNeeded(_ chatID: UUID) async {
        do {
            guard let chat = try await self.database.chat(id: chatID, ownerID: nil), chat.title == nil,
                let first = try await self.database.messages(chatID: chatID, ownerID: nil, limit: 1)?.first,
                first.role == .user
            else { return }
            let request = ChatCompletionRequest(
                model: self.provider.model,
                messages: [
                    ChatMessage(
                        role: "system",
                        content:
                            "Write a title of 3 to 6 words for a conversation that starts with the user's message. Reply with the title only."
                    ),
                    ChatMessage(role: "user", content: String(first.content.prefix(2000))),
                ],
                temperature: 0.3,
                maxCompletionTokens: 256
            )
            let promptEstimate = ContextBuilder.estimateTokens(of: request.messages)
            let completion = try await self.provider.complete(
                request, estimatedTokens: promptEstimate + (request.maxCompletionTokens ?? 0))
            // The call is charged to the chat's owner with the title, in one transaction.
            let charge = self.accounting.charge(
                userID: chat.userID, usage: completion.usage, promptEstimate: promptEstimate,
                delivered: completion.content)
            if let charge { self.accounting.metrics?.accounted(charge) }
            try await self.database.setTitleIfEmpty(
                chatID: chatID, title: Self.clean(completion.content), charge: charge)
        } catch {
            self.logger.debug(
                "title generation failed", metadata: ["chat_id": "\(chatID.lowercasedString)", "error": "\(error)"])
        }
    }

    /// First line, without quotes or markdown, at most 6 words and 80 characters; "New chat" if nothing is left.
    static func clean(_ raw: String) -> String {
        let line = raw.replacingNUL.split(whereSeparator: \.isNewline).first { !$0.trimmingWhitespace().isEmpty } ?? ""
        let stripped = line.trimmingCharacters(in: CharacterSet(charactersIn: "\"'`*#_ \t“”‘’").union(.whitespaces))
        var words = stripped.split(whereSeparator: \.isWhitespace).prefix(6).joined(separator: " ")
        while let last = words.last, ".:;,!".contains(last) { words.removeLast() }
        if words.count > 80 { words = String(words.prefix(80)).trimmingCharacters(in: .whitespaces) }
        return words.isEmpty ? fallback : words
    }
}
