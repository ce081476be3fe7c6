import Hummingbird

/// Records every request in ``ServerMetrics``: its route pattern (never the raw path, which holds ids), method
/// and final status, and its duration to the end of the response body (a stream's whole life).
///
/// Hummingbird's own `MetricsMiddleware` records into the process-wide `MetricsSystem`, which a process can
/// bootstrap only once; this one records into the backend's own registry, so each server (and each test)
/// exposes only its own figures. Installed outermost, so the status is the one the client got.
struct HTTPMetricsMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let metrics: ServerMetrics

    static let knownMethods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let started = ContinuousClock.now
        let method = Self.knownMethods.contains(request.method.rawValue) ? request.method.rawValue : "other"
        do {
            var response = try await next(request, context)
            let status = Int(response.status.code)
            let route = context.endpointPath ?? "unmatched"
            let metrics = self.metrics
            guard response.body.contentLength == nil else {
                // A body already whole in memory: it is written as soon as it is returned.
                metrics.request(route: route, method: method, status: status, duration: .now - started)
                return response
            }
            // A streamed body (Server-Sent Events): counted when its last byte is written, or it fails.
            let body = response.body
            response.body = ResponseBody { writer in
                defer { metrics.request(route: route, method: method, status: status, duration: .now - started) }
                try await body.write(writer)
            }
            return response
        } catch {
            let status = (error as? any HTTPResponseError).map { Int($0.status.code) } ?? 500
            self.metrics.request(
                route: context.endpointPath ?? "unmatched", method: method, status: status,
                duration: .now - started)
            throw error
        }
    }
}
