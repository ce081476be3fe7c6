import ChatStorage
import Foundation
import Hummingbird
import Logging

/// Authenticates the OpenAI-compatible `/v1` routes: `Authorization: Bearer sk-…` (an API key), or a user's
/// JWT as ``AuthenticationMiddleware`` checks it. An API key opens these routes only: every other route sits
/// behind ``AuthenticationMiddleware``, which refuses it as any bad token.
///
/// A key is looked up by its SHA-256 on every request, with its user: on PostgreSQL from the database itself,
/// on SQLite from the store's caches, which every change to the key or its user empties before it returns (see
/// `APIKeyCache`). Either way a deleted key, or a disabled or deleted user, is refused at once, on every replica.
/// An expired key is refused too. Every refusal is 401 `invalid_api_key` (``OpenAIError/invalidAPIKey``), the reason never told.
struct V1AuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let jwt: AuthenticationMiddleware
    let uses: APIKeyUseRecorder

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let credential = AuthenticationMiddleware.bearerCredential(request) else {
            throw OpenAIError.invalidAPIKey
        }
        guard APIKeySecret.isAPIKey(credential) else {
            var context = context
            context.user = try await self.jwt.user(token: credential, context: context)
            return try await next(request, context)
        }
        let now = Timestamp.now()
        guard let owner = try await self.jwt.database.apiKeyOwner(hash: try APIKeySecret.hash(of: String(credential))),
            !owner.key.isExpired(at: now), !owner.user.disabled
        else {
            throw OpenAIError.invalidAPIKey
        }
        self.uses.recordUse(of: owner.key, at: now)
        var context = context
        context.user = owner.user
        context.apiKey = owner.key
        context.logger[metadataKey: "api_key"] = "\(owner.key.prefix)"
        return try await next(request, context)
    }
}
