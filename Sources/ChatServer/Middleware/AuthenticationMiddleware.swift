import ChatAuth
import ChatStorage
import Foundation
import Hummingbird
import Logging

/// Authenticates `Authorization: Bearer <jwt>` and puts the user in the context.
///
/// A token is accepted only if its HS256 signature is valid, it has not expired, its user still exists and
/// its `ver` equals the user's current token version (so logout revokes every earlier token) and the user is
/// not disabled. Any failure is
/// 401 with `WWW-Authenticate: Bearer`, and the reason is never told to the client.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let tokens: TokenService
    let database: any ChatStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let token = Self.bearerCredential(request) else { throw APIError.unauthorized("Not authenticated") }
        var context = context
        context.user = try await self.user(token: token, context: context)
        return try await next(request, context)
    }

    /// The credential of `Authorization: Bearer <credential>`, trimmed; nil without one.
    static func bearerCredential(_ request: Request) -> Substring? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingWhitespace()
    }

    /// The user a JWT authenticates, as described above; 401 otherwise.
    func user(token: Substring, context: Context) async throws -> UserRecord {
        let claims: TokenClaims
        do {
            claims = try self.tokens.verify(String(token))
        } catch {
            context.logger.debug("token refused", metadata: ["reason": "\(error)"])
            throw APIError.unauthorized()
        }
        guard let userID = UUID(canonical: claims.sub) else { throw APIError.unauthorized() }
        // Usually from the user cache, which every change to a user invalidates (no trip to the database thread).
        guard let user = try await self.database.currentUser(id: userID),
            user.tokenVersion == claims.ver, !user.disabled
        else {
            throw APIError.unauthorized()
        }
        return user
    }
}

/// Lets only admins through (403 otherwise). Must run after ``AuthenticationMiddleware``.
struct AdminOnlyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard try context.requireUser().role == .admin else {
            throw APIError.forbidden("Admin privileges required")
        }
        return try await next(request, context)
    }
}
