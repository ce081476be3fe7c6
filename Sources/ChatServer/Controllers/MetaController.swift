import ChatStorage
import Hummingbird
import Logging
import NIOCore

/// Service information, health, and the OpenAPI document (its pages, /docs and /redoc: `DocsController`).
struct MetaController {
    let backend: ChatBackend
    /// Encoded once when the router is built.
    let openAPIDocument: ByteBuffer

    init(backend: ChatBackend) {
        self.backend = backend
        self.openAPIDocument = ByteBuffer(bytes: OpenAPIDocument.make().encoded())
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/", use: self.root)
        router.get("/health", use: self.health)
        router.get("/openapi.json", use: self.openAPI)
    }

    struct RootResponse: ResponseEncodable {
        let name: String
        let version: String
        let docs: String
        let redoc: String
        let openapi: String
    }

    struct HealthResponse: ResponseEncodable {
        let status: String
    }

    @Sendable func root(_ request: Request, context: AppRequestContext) -> RootResponse {
        RootResponse(
            name: ChatBackend.name,
            version: ChatBackend.version,
            docs: "/docs",
            redoc: "/redoc",
            openapi: "/openapi.json"
        )
    }

    @Sendable func health(_ request: Request, context: AppRequestContext) async throws -> HealthResponse {
        do {
            try await self.backend.database.ping()
        } catch {
            context.logger.error("health check failed", metadata: ["error": "\(error)"])
            throw APIError(
                .serviceUnavailable, "Degraded: the database cannot take writes", headers: [.retryAfter: "5"])
        }
        return HealthResponse(status: "healthy")
    }

    @Sendable func openAPI(_ request: Request, context: AppRequestContext) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: self.openAPIDocument)
        )
    }
}
