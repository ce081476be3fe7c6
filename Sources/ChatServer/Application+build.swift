import ChatStorage
import ChatTurns
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Builds the HTTP application around an assembled backend. The database is one of its services, so it is
/// closed only after the server has drained. `onServerRunning` learns the bound port (useful with port 0).
public func buildApplication(
    _ backend: ChatBackend,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = buildRouter(backend)
    let config = backend.config
    return Application(
        router: router,
        server: ChatHTTP1Channel.builder(
            idleTimeout: .seconds(Int64(config.idleTimeoutSeconds)),
            requestReadTimeout: .seconds(Int64(config.requestReadTimeoutSeconds)),
            bodyLimits: BodyLimits(standard: AppRequestContext.maxBodySize, imports: config.importMaxMegabytes << 20),
            connections: backend.metrics?.connections,
            connectionGuard: ConnectionGuard(
                maxConnections: config.maxConnections, perAddress: config.maxConnectionsPerAddress,
                trustedProxies: config.forwardedAllowIPs, logger: backend.logger)
        ),
        configuration: .init(
            address: .hostname(config.host, port: config.port),
            // No `Server` header: the server's name and version are nobody's business.
            serverName: nil,
            backlog: 1024,
            // Connections beyond the cap wait in the listen backlog until one closes (near it, the guard above
            // closes the connections idle longest).
            availableConnectionsDelegate: .maximum(config.maxConnections, logger: backend.logger)
        ),
        // Stopped in reverse order after the server drains: turns end (and are saved) first, then the
        // provider, the database last.
        services: [backend.database, MemoryTrimService()] + (backend.provider.map { [$0, backend.models] } ?? [])
            + (backend.sessions.map {
                [TurnDrainService(sessions: $0, grace: .seconds(backend.config.shutdownGraceSeconds))]
            } ?? []),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: backend.logger
    )
}

/// Wires middleware and controllers. Middleware applies to the routes added after it.
public func buildRouter(_ backend: ChatBackend) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    if let metrics = backend.metrics { router.add(middleware: HTTPMetricsMiddleware(metrics: metrics)) }
    router.add(middleware: RequestLogMiddleware())
    let routes = RouteTable()
    router.add(middleware: ErrorMiddleware(routes: routes))
    if !backend.config.corsOrigins.isEmpty {
        router.add(middleware: CORSMiddleware(origins: backend.config.corsOrigins))
    }

    MetaController(backend: backend).addRoutes(to: router)
    DocsController().addRoutes(to: router)
    ConsoleController().addRoutes(to: router)
    if let metrics = backend.metrics, let token = backend.config.metricsToken {
        MetricsController(backend: backend, metrics: metrics, token: token).addRoutes(to: router)
    }

    let authentication = AuthenticationMiddleware(tokens: backend.tokens, database: backend.database)
    let authenticated = router.group().add(middleware: authentication)

    AuthController(backend: backend).addRoutes(
        to: router.group("auth"),
        authenticated: authenticated.group("auth")
    )
    SearchController(backend: backend).addRoutes(to: authenticated.group("chats"))
    ImportController(backend: backend).addRoutes(to: authenticated.group("chats"))
    ExportController(backend: backend).addRoutes(
        chats: authenticated.group("chats"), own: authenticated.group("auth"))
    ChatsController(backend: backend).addRoutes(to: authenticated.group("chats"))
    BranchesController(backend: backend).addRoutes(to: authenticated.group("chats"))
    ChatTurnController(backend: backend).addRoutes(to: authenticated)
    ModelsController(backend: backend).addRoutes(to: authenticated)
    let admin = authenticated.group("admin").add(middleware: AdminOnlyMiddleware())
    AdminController(backend: backend).addRoutes(to: admin)
    UsageController(backend: backend).addRoutes(own: authenticated.group("auth"), admin: admin)
    APIKeysController(backend: backend).addRoutes(own: authenticated.group("auth"), admin: admin)
    // The OpenAI-compatible routes: an API key or a JWT (every other route refuses API keys).
    let v1 = router.group("v1").add(
        middleware: V1AuthenticationMiddleware(
            jwt: authentication, uses: APIKeyUseRecorder(database: backend.database, logger: backend.logger)))
    OpenAIModelsController(backend: backend).addRoutes(to: v1)
    OpenAIChatController(backend: backend).addRoutes(to: v1)
    routes.install(from: router)
    return router
}
