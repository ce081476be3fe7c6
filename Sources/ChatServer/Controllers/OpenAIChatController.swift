import ChatProvider
import ChatStorage
import ChatTurns
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// POST /v1/chat/completions in OpenAI's wire format: the client's messages go upstream as given through the
/// provider gate, and the answer comes back as `chat.completion`, or as `chat.completion.chunk` Server-Sent
/// Events ending `data: [DONE]`. Nothing is stored as a chat.
struct OpenAIChatController {
    let backend: ChatBackend

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("chat/completions", use: self.complete)
    }

    @Sendable func complete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let body = try await request.decodeJSON(
            as: OpenAIChatRequest.self, context: context, fastPath: OpenAIChatRequest.init(wire:))
        if let error = body.openAIError() { throw error }
        try self.requireAllowed(body.model, key: context.apiKey)
        guard let provider = self.backend.provider else {
            throw OpenAIError(ProviderError.notConfigured.apiError(requestID: context.requestID))
        }
        if let wait = try await self.backend.messageRate.acquireForDeployment(["user:" + user.id.lowercasedString]) {
            throw OpenAIError(
                APIError.tooManyRequests(
                    "Too many requests: at most \(self.backend.messageRate.limit) per minute", retryAfter: wait))
        }
        let promptEstimate = body.promptEstimate(bodyBytes: request.headers[.contentLength].flatMap { Int($0) } ?? 4096)
        let completionLimit = body.completionLimit ?? self.backend.config.maxCompletionTokens
        let caller = OpenAICallAccounting.Caller(
            database: self.backend.database, quotas: self.backend.quotas, logger: context.logger, user: user,
            key: context.apiKey, metrics: self.backend.metrics)
        let accounting = try await OpenAICallAccounting.admit(
            caller, tokens: Self.promptBound(body) + completionLimit)
        let estimate = promptEstimate + completionLimit
        let reply = OpenAIReplyHeader(model: body.model)
        guard body.stream == true else {
            let completion: PassThroughCompletion
            do {
                completion = try await provider.complete(body.upstream(stream: false), estimatedTokens: estimate)
            } catch {
                await accounting.release()
                if let error = error as? ProviderError {
                    throw OpenAIError(error.apiError(requestID: context.requestID))
                }
                throw error
            }
            await accounting.settle(completion.usage, estimate: (promptEstimate, completionLimit))
            return reply.completion(completion)
        }
        let events = provider.stream(body.upstream(stream: true), estimatedTokens: estimate)
        return try await OpenAIChatStream(
            reply: reply, includeUsage: body.wantsUsageChunk, requestID: context.requestID,
            accounting: accounting, promptEstimate: promptEstimate
        ).response(events: events, context: context)
    }

    /// The most tokens the request's prompt can make: the bytes of its messages and tools as JSON.
    static func promptBound(_ body: OpenAIChatRequest) -> Int {
        body.messages.reduce(0) { $0 + $1.sizeBound } + (body.tools ?? []).reduce(0) { $0 + $1.sizeBound }
    }

    /// 404 `model_not_found` for a model not on offer, or not among the key's models.
    private func requireAllowed(_ model: String, key: APIKeyRecord?) throws {
        let allowed = self.backend.models.offers(model) && (key?.models.map { $0.contains(model) } ?? true)
        guard allowed else {
            throw OpenAIError(
                .notFound, "The model `\(model)` does not exist or you do not have access to it.",
                type: "invalid_request_error", param: "model", code: "model_not_found")
        }
    }
}
