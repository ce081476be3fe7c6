import ChatStorage
import Hummingbird
import Logging

/// Builds the HTTP application around an assembled backend. The database is one of its services, so it is
/// closed only after the server has drained. `onServerRunning` learns the bound port (useful with port 0).
public func buildApplication(
    _ backend: ChatBackend,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = buildRouter(backend)
    return Application(
        router: router,
        configuration: .init(address: .hostname(backend.config.host, port: backend.config.port)),
        // Stopped in reverse order after the server drains: the provider first, the database last.
        services: [backend.database] + (backend.provider.map { [$0] } ?? []),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: backend.logger
    )
}

/// Wires middleware and controllers. Middleware applies to the routes added after it.
public func buildRouter(_ backend: ChatBackend) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: ErrorMiddleware())

    MetaController(backend: backend).addRoutes(to: router)

    let authentication = AuthenticationMiddleware(tokens: backend.tokens, database: backend.database)
    let authenticated = router.group().add(middleware: authentication)

    AuthController(backend: backend).addRoutes(
        to: router.group("auth"),
        authenticated: authenticated.group("auth")
    )
    ChatsController(backend: backend).addRoutes(to: authenticated.group("chats"))
    ChatTurnController(backend: backend).addRoutes(to: authenticated)
    AdminController(backend: backend).addRoutes(to: authenticated.group("admin").add(middleware: AdminOnlyMiddleware()))
    return router
}
