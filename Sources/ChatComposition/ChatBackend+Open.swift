import ChatServer
import ChatStorage
import ChatTurns
import Logging

extension ChatBackend {
    /// The composition root: opens (and migrates) the engine `config` selects, with the metrics it asks for,
    /// and assembles the backend around it (``ChatBackend/bootstrap(config:database:metrics:logger:clock:)``).
    /// The store is closed again when the backend cannot be assembled.
    public static func open(config: AppConfig, logger: Logger, clock: UsageClock = .system) async throws
        -> ChatBackend
    {
        let metrics = ServerMetrics.configured(by: config)
        let database = try await StoreOpener.open(config, logger: logger, metrics: metrics?.store ?? .none)
        do {
            return try await Self.bootstrap(
                config: config, database: database, metrics: metrics, logger: logger, clock: clock)
        } catch {
            await database.close()
            throw error
        }
    }
}
