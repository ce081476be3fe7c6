import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Logs one line per request (method, path without query, status, duration, request id) and returns the
/// request id in `X-Request-ID`. Headers and bodies are never logged, so neither are tokens or passwords.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = NIODeadline.now()
        var response = try await next(request, context)
        let elapsed = NIODeadline.now() - start
        let milliseconds = Double(elapsed.nanoseconds) / 1_000_000
        response.headers[.requestID] = context.requestID
        response.headers[.xContentTypeOptions] = "nosniff"
        context.logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)",
                "path": "\(request.uri.path)",
                "status": "\(response.status.code)",
                "duration_ms": "\((milliseconds * 100).rounded() / 100)",
            ]
        )
        return response
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-ID")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
}
