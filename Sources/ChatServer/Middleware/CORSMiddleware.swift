import HTTPTypes
import Hummingbird

/// Cross-origin access for browsers, for the origins in `CORS_ORIGINS` only (`*` allows any origin, without
/// credentials). Absent from the router when the list is empty, so by default no CORS header is ever sent.
///
/// A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin is answered 204 here,
/// before routing; one from any other origin goes on to the router and gets its ordinary answer.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let origins: Set<String>
    private var allowsAny: Bool { self.origins.contains("*") }

    init(origins: [String]) {
        self.origins = Set(origins)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let origin = request.headers[.origin], self.allowsAny || self.origins.contains(origin) else {
            return try await next(request, context)
        }
        let allowOrigin = self.allowsAny ? "*" : origin
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers: HTTPFields = [
                .accessControlAllowOrigin: allowOrigin,
                .accessControlAllowMethods: "GET, POST, PUT, PATCH, DELETE, OPTIONS",
                .accessControlAllowHeaders: "Authorization, Content-Type, Accept, Last-Event-ID",
                .accessControlMaxAge: "600",
                .vary: "Origin",
            ]
            if !self.allowsAny { headers[.accessControlAllowCredentials] = "true" }
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = allowOrigin
        response.headers[.accessControlExposeHeaders] = "X-Request-ID, X-Total-Count, Retry-After"
        if !self.allowsAny {
            response.headers[.accessControlAllowCredentials] = "true"
            response.headers[.vary] = "Origin"
        }
        return response
    }
}
