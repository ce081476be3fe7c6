import ChatStorage
import ChatTurns
import Hummingbird
import Logging
import NIOHTTP1

/// Turns every error thrown below it into a JSON response with a `detail`.
///
/// ``APIError`` renders itself and a ``TurnFailure`` (a long-poll's chat not found) is answered as
/// `APIError(_:)` maps it; Hummingbird's own errors keep their status (413 for large bodies), except the
/// router's 404 for a path that exists under other methods, which becomes 405 with `Allow`; NIO's parser errors
/// are 400; a database that did not answer in time is 503 with `Retry-After`; anything else is a fault: logged
/// with the request id and answered with a generic 500 that reveals nothing internal.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let failure as TurnFailure {
            return try APIError(failure).response(from: request, context: context)
        } catch let error as HTTPError where error.status == .notFound && error.body == nil {
            // The router found no route for this method and path.
            let allowed = self.routes.allowedMethods(for: request.uri.path)
            guard !allowed.isEmpty else {
                return try APIError(.notFound, "Not Found").response(from: request, context: context)
            }
            return try APIError(
                .methodNotAllowed, "Method Not Allowed",
                headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")]
            ).response(from: request, context: context)
        } catch let error as HTTPError {
            let message = error.body ?? error.status.reasonPhrase
            return try APIError(error.status, message, headers: error.headers).response(from: request, context: context)
        } catch StorageError.unavailable {
            return try APIError.databaseUnavailable.response(from: request, context: context)
        } catch StorageError.userGone {
            // The user was deleted while this request was under way.
            return try APIError.sessionEnded.response(from: request, context: context)
        } catch StorageError.unsupportedCharacter {
            return try APIError(
                .unprocessableContent,
                "Text must not contain the NUL character (U+0000): this server's database cannot store it"
            ).response(from: request, context: context)
        } catch is HTTPParserError {
            // Broken framing seen while a handler read the request: the client's fault.
            return try APIError(.badRequest, "Malformed request").response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            return try APIError(error.status, error.status.reasonPhrase).response(from: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return try APIError(.internalServerError, "Internal server error").response(from: request, context: context)
        }
    }
}
