import ChatStorage
import Foundation

extension ChatStore {
    /// A turn's start after the chat's active path as it is now (the turn machinery reads it with the context).
    func beginTurn(
        chatID: UUID, userContent: String, model: String, contextThrough: Int64, reservation: TokenReservation?
    ) async throws -> (user: MessageRecord, assistant: MessageRecord)? {
        guard
            let context = try await self.turnContext(
                chatID: chatID, ownerID: nil, window: HistoryWindow(messages: 1), placement: .activePath)
        else {
            return nil
        }
        return try await self.beginTurn(
            chatID: chatID, placement: .activePath, parentID: context.parentID, userContent: userContent,
            model: model, contextThrough: contextThrough, reservation: reservation)
    }
}
