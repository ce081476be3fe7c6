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
        if let postgres = config.postgres {
            return try await PostgresStore.open(
                postgres, maxConnections: config.databaseMaxConnections,
                connectionWait: .seconds(config.databaseWaitSeconds), logger: logger, metrics: metrics)
        }
        return try await DatabaseActor.open(path: config.databasePath, metrics: metrics)
    }
}
