import ChatServer
import ChatStorage
import ChatStoragePostgres
import ChatStorageSQLite
import Logging

/// The one place that names storage engines: opens the store the configuration selects (`DATABASE_URL`).
/// Everything above it speaks ``ChatStore``.
public enum StoreOpener {
    public static func open(_ config: AppConfig, logger: Logger, metrics: StoreMetrics = .none) async throws
        -> any ChatStore
    {
        try await Self.openCopyable(config, logger: logger, metrics: metrics)
    }

    /// The same store, as `chat-server copy` reads and writes it: every engine can be copied.
    public static func openCopyable(_ config: AppConfig, logger: Logger, metrics: StoreMetrics = .none)
        async throws -> any StoreCopying
    {
        if let postgres = config.postgres {
            return try await PostgresStore.open(
                postgres, maxConnections: config.databaseMaxConnections,
                connectionWait: .seconds(config.databaseWaitSeconds), logger: logger, metrics: metrics)
        }
        return try await DatabaseActor.open(path: config.databasePath, metrics: metrics)
    }
}
