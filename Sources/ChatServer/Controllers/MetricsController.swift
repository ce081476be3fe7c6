import ChatAuth
import ChatProvider
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// GET /metrics: the Prometheus exposition, for a scraper holding `METRICS_TOKEN` (401 without it). Without
/// `METRICS_TOKEN` the route does not exist and nothing is recorded.
struct MetricsController {
    let backend: ChatBackend
    let metrics: ServerMetrics
    let token: String

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("metrics", use: self.scrape)
    }

    @Sendable func scrape(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            constantTimeEquals(Array(header.utf8.dropFirst(7)), Array(self.token.utf8))
        else { throw APIError.unauthorized("GET /metrics needs Authorization: Bearer <METRICS_TOKEN>") }
        var snapshot = ServerMetrics.Snapshot()
        if let provider = self.backend.provider {
            let load = await provider.load
            snapshot.providerInFlight = load.inFlight
            snapshot.providerQueued = load.waiting
        }
        let waits = self.backend.userWaits.totals()
        snapshot.longPolls = waits.longPolls
        snapshot.streams = waits.streams
        let text = self.metrics.exposition(snapshot)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
}
