import Foundation
import Hummingbird

/// POST /chat: one AI turn. The AI provider is wired in by the provider layer; until a provider is
/// configured the route validates its input and answers 503, never a made-up reply.
struct ChatTurnController {
    let backend: ChatBackend

    static let messageLength = 1...32_000

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("chat", use: self.send)
    }

    struct SendRequest: ValidatedRequest {
        let chatID: String?
        let message: String
        let stream: Bool?

        enum CodingKeys: String, CodingKey {
            case chatID = "chat_id"
            case message, stream
        }

        func validationIssues() -> [ValidationIssue] {
            var issues = [
                ValidationIssue.length(of: self.message, in: ChatTurnController.messageLength, at: ["body", "message"])
            ]
            .compactMap { $0 }
            if let chatID, UUID(uuidString: chatID) == nil {
                issues.append(
                    ValidationIssue(
                        loc: ["body", "chat_id"], msg: "Input should be a valid UUID", type: "uuid_parsing"))
            }
            return issues
        }
    }

    @Sendable func send(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requireUser()
        _ = try await request.decodeJSON(as: SendRequest.self, context: context)
        throw APIError(.serviceUnavailable, "AI provider not configured")
    }
}
