import HTTPTypes
import Hummingbird
import NIOCore

/// The API documentation in a browser: Swagger UI at /docs, ReDoc at /redoc, and the files they load under
/// /docs/assets/, all from the binary, so the pages load nothing from another origin and work offline.
struct DocsController {
    let assets: DocsAssets
    /// Rendered once when the router is built.
    let swaggerPage: ByteBuffer
    let redocPage: ByteBuffer

    init() {
        let assets = DocsAssets.shared
        self.assets = assets
        self.swaggerPage = ByteBuffer(string: DocsPages.swaggerUI(title: ChatBackend.name, assets: assets))
        self.redocPage = ByteBuffer(string: DocsPages.redoc(title: ChatBackend.name, assets: assets))
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/docs", use: self.swaggerUI)
        router.get("/redoc", use: self.redoc)
        router.get("/docs/assets/:name", use: self.asset)
    }

    @Sendable func swaggerUI(_ request: Request, context: AppRequestContext) -> Response {
        Self.page(self.swaggerPage)
    }

    @Sendable func redoc(_ request: Request, context: AppRequestContext) -> Response {
        Self.page(self.redocPage)
    }

    /// A file of the pages: 200 with a year's caching (its URL carries its hash), or 304 when the browser's copy
    /// (If-None-Match) is current; 404 for a name that is not one of them.
    @Sendable func asset(_ request: Request, context: AppRequestContext) throws -> Response {
        guard let name = context.parameters.get("name"), let asset = self.assets[name] else {
            throw APIError(.notFound, "Not Found")
        }
        return StaticFiles.response(
            to: request, etag: asset.etag, cacheControl: "public, max-age=31536000, immutable",
            contentType: asset.contentType
        ) { asset.body }
    }

    private static func page(_ body: ByteBuffer) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .contentSecurityPolicy: DocsPages.contentSecurityPolicy,
                .cacheControl: "no-cache",
            ],
            body: .init(byteBuffer: body)
        )
    }
}
