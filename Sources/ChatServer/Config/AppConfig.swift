import ChatAuth
import ChatStorage
import Foundation
import Logging
import NIOCore

/// Everything the server reads from its environment, validated once at start.
///
/// Sources, weakest first: defaults, a `.env` file in the working directory, the process environment,
/// then command-line flags (applied by the caller).
public struct AppConfig: Sendable {
    /// Twice this machine's cores (NIO's `System.coreCount`, which follows a container's CPU limit, as the
    /// password-hashing pool does), plus one, and at most 20: connections beyond what the database can run at
    /// once only queue inside PostgreSQL, where they contend for its locks and cores with the processes that feed
    /// it (on 2 cores shared with PostgreSQL, chat-bench's send on 2 replicas averaged 457 turns/s with 4 or 5
    /// connections each, 431 with 20). The cap keeps a many-core machine's replicas within PostgreSQL's default
    /// `max_connections` (100) as before.
    public static var defaultDatabaseConnections: Int {
        min(2 * System.coreCount + 1, 20)
    }

    public var host = "127.0.0.1"
    public var port = 8000
    /// The SQLite file (from `DATABASE_URL` when it is a path or a `sqlite:///` URL).
    public var databasePath = "./ai_chat.db"
    /// The PostgreSQL server, when `DATABASE_URL` is a `postgresql://` or `postgres://` URL; then it is used
    /// instead of ``databasePath``.
    public var postgres: PostgresLocation?
    /// PostgreSQL connections this process opens at most (`DATABASE_MAX_CONNECTIONS`).
    public var databaseMaxConnections = AppConfig.defaultDatabaseConnections
    /// Seconds a request waits for a PostgreSQL connection before it is answered 503 (`DATABASE_WAIT_SECONDS`).
    public var databaseWaitSeconds = 5
    /// HMAC key for tokens; nil means "generate one and keep it in the database".
    public var jwtSecret: String?
    public var accessTokenExpireMinutes = 60
    /// Lower-cased emails promoted to admin on registration and at start.
    public var adminEmails: [String] = []
    public var logLevel: Logger.Level = .info
    public var groqAPIKey: String?
    public var groqBaseURL = "https://api.groq.com/openai/v1"
    public var groqModel = "openai/gpt-oss-20b"
    /// scrypt cost as log2(N); 15 in production, lower only in tests.
    public var passwordHashCost = ScryptParameters.recommended.logN
    /// Total time for one upstream answer (and the first byte of a stream).
    public var groqTimeoutSeconds = 60
    /// Upstream limits: 0 means unlimited.
    public var groqRequestsPerMinute = 0
    public var groqTokensPerMinute = 0
    public var groqMaxConcurrency = 256
    public var groqMaxRetries = 2
    public var groqQueueTimeoutSeconds = 30
    /// The models users may choose from (`ALLOWED_MODELS`); empty means `groqModel` alone. Always holds
    /// `groqModel`, the default model.
    public var allowedModels: [String] = []
    /// The models offered: `allowedModels`, or `groqModel` alone.
    public var offeredModels: [String] { self.allowedModels.isEmpty ? [self.groqModel] : self.allowedModels }
    /// The system message that opens every context (a chat's own `system_prompt` replaces it).
    public var systemPrompt =
        "You are a helpful, friendly assistant. Answer clearly and concisely, and say so when you are not sure."
    /// Budget for the context sent with each turn (estimated tokens).
    public var contextTokens = 6000
    /// Upper bound on a reply's length, sent as `max_completion_tokens`.
    public var maxCompletionTokens = 1024
    /// Messages one user may send (POST /chat) per minute; 0 means unlimited.
    public var userMessagesPerMinute = 30
    /// Failed logins per minute, counted per (email, client address) and per client address; 0 means unlimited.
    public var loginAttemptsPerMinute = 10
    /// Registrations per minute per client address; 0 means unlimited.
    public var registrationsPerMinute = 10
    /// Registrations per minute from all clients together (on PostgreSQL, for every replica together), so a
    /// flood from many addresses cannot spend the hashing threads on sign-ups; 0 means unlimited.
    public var registrationsPerMinuteTotal = 300
    /// Password hashes (registrations, logins) waiting for the hashing threads at most; more answer 503 at once.
    public var passwordHashQueueLimit = 64
    /// Long-polls one user may have parked at once; 0 means unlimited.
    public var longPollsPerUser = 16
    /// Searches (GET /chats/search) one user may have running at once; more answer 429. 0 means unlimited.
    public var searchesPerUser = 2
    /// A search is stopped after this many milliseconds and answered 503.
    public var searchTimeoutMilliseconds = 1000
    /// Megabytes of encoded message listings kept for repeated reads of unchanged chats; 0 turns it off.
    public var listingCacheMegabytes = 32
    /// Open connections at most; further clients wait in the listen backlog.
    public var maxConnections = 4096
    /// Open connections from one client address at most (a trusted proxy's are not counted); past it a new
    /// connection is answered 429 and closed at once. 0 means unlimited.
    public var maxConnectionsPerAddress = 512
    /// A connection with no request in progress is closed after this long. It also bounds how long a
    /// client may take to send a request's head, so a slowloris cannot hold a connection.
    public var idleTimeoutSeconds = 75
    /// A request's head and body must arrive within this long of its first byte.
    public var requestReadTimeoutSeconds = 30
    /// On SIGTERM: how long running replies get to finish before they are saved as interrupted.
    public var shutdownGraceSeconds = 10
    /// The largest body POST /chats/import takes, in MiB (`IMPORT_MAX_MB`).
    public var importMaxMegabytes = 32
    /// Origins allowed by CORS; empty means CORS is off (no CORS headers at all).
    public var corsOrigins: [String] = []
    /// Tokens (prompt + completion) one user may use per UTC day and per UTC month, unless an admin set the
    /// user's own; 0 means unlimited.
    public var dailyTokenQuota: Int64 = 0
    public var monthlyTokenQuota: Int64 = 0
    /// The bearer token GET /metrics requires; unset, the route does not exist (404).
    public var metricsToken: String?
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed (for per-address login limits);
    /// empty: the socket's peer address is the client's.
    public var forwardedAllowIPs: Set<String> = []

    public init() {}

    /// Reads `.env` from the working directory (if present) under the process environment.
    public static func fromEnvironment(dotEnvPath: String = ".env") throws -> AppConfig {
        var environment: [String: String] = [:]
        if let data = FileManager.default.contents(atPath: dotEnvPath) {
            environment = DotEnv.parse(String(decoding: data, as: UTF8.self))
        }
        environment.merge(ProcessInfo.processInfo.environment) { _, real in real }
        return try AppConfig(environment: environment)
    }

    /// Builds a configuration from variables; unset or empty variables keep their defaults. Variables are read
    /// area by area (AppConfig+Environment.swift), always in the same order; the first invalid one is reported.
    public init(environment: [String: String]) throws(ConfigurationError) {
        let variables = EnvironmentVariables(environment: environment)
        try self.readListenerAndDatabase(variables)
        try self.readAccounts(variables)
        try self.readUpstreamModels(variables)
        if let cost = try variables.integer("PASSWORD_HASH_COST", in: 10...20) { self.passwordHashCost = cost }
        try self.readUpstreamLimits(variables)
        try self.readConversation(variables)
        try self.readAbuseLimits(variables)
        try self.readConnections(variables)
        try self.readQuotasAndMetrics(variables)
    }

    /// Selects the engine: `postgresql://` / `postgres://` → PostgreSQL, else a SQLite path or URL.
    public mutating func setDatabase(url: String) throws(ConfigurationError) {
        if url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") {
            do {
                self.postgres = try PostgresLocation(url: url)
            } catch {
                throw ConfigurationError(variable: "DATABASE_URL", problem: error.description)
            }
        } else {
            self.databasePath = try Self.databasePath(fromURL: url)
            self.postgres = nil
        }
    }

    /// Where the data lives, for logs (never a password).
    public var databaseDescription: String { self.postgres?.description ?? self.databasePath }

    /// `sqlite:///./ai_chat.db` → `./ai_chat.db`, `sqlite:////var/db/chat.db` → `/var/db/chat.db`;
    /// anything without a scheme is taken as a path.
    public static func databasePath(fromURL url: String) throws(ConfigurationError) -> String {
        guard url.contains("://") else { return url }
        guard url.hasPrefix("sqlite:///") else {
            throw ConfigurationError(
                variable: "DATABASE_URL",
                problem:
                    "use postgresql://user:password@host:port/database, sqlite:///relative/path.db, "
                    + "sqlite:////absolute/path.db or a plain path"
            )
        }
        let path = String(url.dropFirst("sqlite:///".count))
        guard !path.isEmpty else {
            throw ConfigurationError(variable: "DATABASE_URL", problem: "the SQLite URL names no file")
        }
        return path
    }
}

/// Secrets never reach a log line or an error through `String(describing:)`, `print` or a debugger's dump.
extension AppConfig: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "AppConfig(host: \(self.host), port: \(self.port), database: \(self.databaseDescription), "
            + "jwtSecret: \(self.jwtSecret == nil ? "generated" : "<redacted>"), "
            + "groqAPIKey: \(self.groqAPIKey == nil ? "unset" : "<redacted>"), groqBaseURL: \(self.groqBaseURL), "
            + "metricsToken: \(self.metricsToken == nil ? "unset" : "<redacted>"), "
            + "groqModel: \(self.groqModel))"
    }

    public var debugDescription: String { self.description }

    public var customMirror: Mirror { Mirror(self, children: ["description": self.description]) }
}
