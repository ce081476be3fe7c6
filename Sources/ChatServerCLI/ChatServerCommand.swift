import ArgumentParser
import ChatComposition
import ChatServer
import ChatStorage
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

@main
struct ChatServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-server",
        abstract: "AI chat backend: accounts, chats and AI conversations over HTTP.",
        version: ChatBackend.version,
        subcommands: [Serve.self, Migrate.self, Promote.self, Copy.self],
        defaultSubcommand: Serve.self
    )
}

/// Options shared by every subcommand that touches the database.
struct DatabaseOption: ParsableArguments {
    @Option(
        name: .long,
        help: "SQLite file path, sqlite:/// URL or postgresql:// URL (overrides DATABASE_URL).")
    var database: String?
}

extension DatabaseOption {
    /// The configuration from `.env` and the environment, with `--database` applied; one line and exit 2 when
    /// a value is bad.
    func loadConfig() throws -> AppConfig {
        do {
            var config = try AppConfig.fromEnvironment()
            if let database {
                try config.setDatabase(url: database)
            }
            return config
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("chat-server: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server (the default command).")

    @Option(name: .long, help: "Address to listen on (overrides HOST).")
    var host: String?

    @Option(name: .long, help: "Port to listen on (overrides PORT).")
    var port: Int?

    @OptionGroup var databaseOption: DatabaseOption

    func validate() throws {
        if let port, !(1...65535).contains(port) {
            throw ValidationError("--port must be from 1 to 65535")
        }
    }

    func run() async throws {
        var config = try self.databaseOption.loadConfig()
        if let host { config.host = host }
        if let port { config.port = port }
        let logger = bootstrapLogging(level: config.logLevel)
        Self.fitConnections(&config, logger: logger)
        if config.groqAPIKey == nil {
            logger.warning(
                "GROQ_API_KEY is not set: AI replies are disabled and POST /chat answers 503. Set GROQ_API_KEY in the environment or in .env to enable them."
            )
        }
        let backend: ChatBackend
        do {
            backend = try await ChatBackend.open(config: config, logger: logger)
        } catch {
            // One line that names the problem (a server that cannot be reached, a refused login, a newer schema).
            FileHandle.standardError.write(Data("chat-server: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let app = buildApplication(backend)
        logger.info("listening", metadata: ["address": "http://\(config.host):\(config.port)", "docs": "/docs"])
        // On SIGTERM/SIGINT the group tells its services in reverse order: first the grace period for running
        // replies starts, then the server stops accepting and drains; the database closes last. Exit code 0.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: app),
                    .init(service: ShutdownGraceService(backend: backend)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        logger.info("stopped")
    }

    /// Raises the open-file limit to its hard limit and lowers `MAX_CONNECTIONS` to what that leaves, saying so.
    private static func fitConnections(_ config: inout AppConfig, logger: Logger) {
        guard let limit = OpenFileLimit.raise() else { return }
        let fitting = OpenFileLimit.connections(fitting: limit, configured: config.maxConnections)
        guard fitting < config.maxConnections else { return }
        logger.warning(
            "MAX_CONNECTIONS lowered to fit the open-file limit; raise the limit (ulimit -n) to allow more",
            metadata: [
                "max_connections": "\(fitting)", "configured": "\(config.maxConnections)",
                "open_file_limit": "\(limit)",
            ])
        config.maxConnections = fitting
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create the database or bring its schema up to date.")

    @OptionGroup var databaseOption: DatabaseOption

    func run() async throws {
        let config = try self.databaseOption.loadConfig()
        let database = try await StoreOpener.open(config, logger: Logger(label: "chat-server"))
        let (from, to) = database.migration
        print(
            from == to
                ? "\(config.databaseDescription): schema is up to date (version \(to))"
                : "\(config.databaseDescription): migrated schema from version \(from) to \(to)"
        )
        await database.close()
    }
}

struct Promote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set a registered user's role (the way to create the first admin)."
    )

    @Argument(help: "The user's email.")
    var email: String

    @Option(name: .long, help: "The role to give: admin or user.")
    var role: UserRole = .admin

    @OptionGroup var databaseOption: DatabaseOption

    func run() async throws {
        let config = try self.databaseOption.loadConfig()
        let database = try await StoreOpener.open(config, logger: Logger(label: "chat-server"))
        let outcome: Result<UserRecord?, any Error>
        do {
            outcome = .success(try await database.setRole(email: EmailAddress.normalize(self.email), role: self.role))
        } catch {
            outcome = .failure(error)
        }
        await database.close()
        switch outcome {
        case .success(let user?):
            print("\(user.email) is now \(user.role.rawValue)")
        case .success(nil):
            FileHandle.standardError.write(Data("chat-server: no user with email \(self.email)\n".utf8))
            throw ExitCode(1)
        case .failure(StorageError.lastAdmin):
            FileHandle.standardError.write(
                Data("chat-server: \(self.email) is the last admin and cannot be demoted\n".utf8))
            throw ExitCode(1)
        case .failure(let error):
            throw error
        }
    }
}

extension UserRole: ExpressibleByArgument {}

func bootstrapLogging(level: Logger.Level) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardOutput(label: label)
        handler.logLevel = level
        return handler
    }
    var logger = Logger(label: "chat-server")
    logger.logLevel = level
    return logger
}

struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a whole deployment into a new, empty database (say, from SQLite to PostgreSQL).",
        discussion: """
            Users (with their password hashes), chats, messages and settings (the generated JWT secret too, so \
            issued tokens keep working) are copied as they are. Stop the servers writing to the source first. \
            Progress goes to stderr; the counts of both databases are compared at the end.
            """
    )

    @Option(name: .long, help: "The source: a SQLite path, sqlite:/// URL or postgresql:// URL.")
    var from: String

    @Option(name: .long, help: "The target, which must be empty: a SQLite path, sqlite:/// URL or postgresql:// URL.")
    var to: String

    func run() async throws {
        func open(_ url: String, _ role: String) async throws -> any StoreCopying {
            var config = AppConfig()
            do {
                try config.setDatabase(url: url)
            } catch {
                FileHandle.standardError.write(Data("chat-server: --\(role): \(error.problem)\n".utf8))
                throw ExitCode(2)
            }
            do {
                return try await StoreOpener.openCopyable(config, logger: Logger(label: "chat-server"))
            } catch {
                FileHandle.standardError.write(Data("chat-server: --\(role): \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
        let source = try await open(self.from, "from")
        let target = try await open(self.to, "to")
        let outcome: Result<RecordCounts, any Error>
        do {
            outcome = .success(
                try await StoreCopier(from: source, to: target) { line in
                    FileHandle.standardError.write(Data("chat-server: \(line)\n".utf8))
                }.run())
        } catch {
            outcome = .failure(error)
        }
        await source.close()
        await target.close()
        switch outcome {
        case .success(let counts):
            print("copied \(counts); the counts of both databases agree")
        case .failure(let error):
            FileHandle.standardError.write(Data("chat-server: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
