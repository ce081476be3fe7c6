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
/// with the request id and answered with a generic 500 that reveals nothing internal. Under `/v1` the same
/// answers take OpenAI's error shape (``OpenAIError``).
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as OpenAIError {
            return try error.response(from: request, context: context)
        } catch {
            let answer = self.answer(to: error, request: request, context: context)
            // The OpenAI-compatible routes answer in OpenAI's shape (``OpenAIError``), the rest in FastAPI's.
            guard OpenAIError.applies(to: request.uri.path) else {
                return try answer.response(from: request, context: context)
            }
            return try OpenAIError(answer).response(from: request, context: context)
        }
    }

    /// The answer to an error, as described above.
    private func answer(to error: any Error, request: Request, context: Context) -> APIError {
        switch error {
        case let error as APIError: return error
        case let failure as TurnFailure: return APIError(failure)
        case let error as HTTPError where error.status == .notFound && error.body == nil:
            // The router found no route for this method and path.
            let allowed = self.routes.allowedMethods(for: request.uri.path)
            guard !allowed.isEmpty else { return APIError(.notFound, "Not Found") }
            return APIError(
                .methodNotAllowed, "Method Not Allowed",
                headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")])
        case let error as HTTPError:
            return APIError(error.status, error.body ?? error.status.reasonPhrase, headers: error.headers)
        case StorageError.unavailable: return APIError.databaseUnavailable
        // The user was deleted while this request was under way.
        case StorageError.userGone: return APIError.sessionEnded
        case StorageError.unsupportedCharacter:
            return APIError(
                .unprocessableContent,
                "Text must not contain the NUL character (U+0000): this server's database cannot store it")
        case is HTTPParserError:
            // Broken framing seen while a handler read the request: the client's fault.
            return APIError(.badRequest, "Malformed request")
        case let error as any HTTPResponseError: return APIError(error.status, error.status.reasonPhrase)
        default:
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return APIError(.internalServerError, "Internal server error")
        }
    }
}
