import ChatAuth
import ChatStorage
import Foundation
import Logging

/// The application's long-lived parts, assembled once at start and shared by every request.
public struct ChatBackend: Sendable {
    public let config: AppConfig
    public let database: DatabaseActor
    public let tokens: TokenService
    public let passwords: PasswordHasher
    public let logger: Logger

    public static let name = "AI Chat Backend"
    public static let version = "0.1.0"

    /// Opens and migrates the database, resolves the token secret and promotes `ADMIN_EMAILS`.
    public static func bootstrap(config: AppConfig, logger: Logger) async throws -> ChatBackend {
        let database = try await DatabaseActor.open(path: config.databasePath)
        logger.info(
            "database ready",
            metadata: [
                "path": "\(config.databasePath)",
                "schema_from": "\(database.migration.from)",
                "schema": "\(database.migration.to)",
            ]
        )
        let secret: [UInt8]
        if let configured = config.jwtSecret {
            secret = Array(configured.utf8)
        } else {
            secret = try await TokenService.persistedSecret(in: database)
            logger.info("JWT_SECRET_KEY is not set: using the secret generated and stored in the database")
        }
        let promoted = try await database.promoteAdmins(emails: config.adminEmails)
        if promoted > 0 {
            logger.info("promoted users listed in ADMIN_EMAILS", metadata: ["count": "\(promoted)"])
        }
        return ChatBackend(
            config: config,
            database: database,
            tokens: TokenService(secret: secret, lifetimeMinutes: config.accessTokenExpireMinutes),
            passwords: PasswordHasher(parameters: ScryptParameters(logN: config.passwordHashCost, r: 8, p: 1)),
            logger: logger
        )
    }
}
