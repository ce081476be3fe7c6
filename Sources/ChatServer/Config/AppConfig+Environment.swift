import ChatAuth
import Foundation
import Logging

/// ``AppConfig/init(environment:)``'s steps, one configuration area each, and the checks of the variables
/// that are more than a number in a range.
extension AppConfig {
    /// `HOST`, `PORT`, `DATABASE_URL`, `DATABASE_MAX_CONNECTIONS`, `DATABASE_WAIT_SECONDS`.
    mutating func readListenerAndDatabase(_ variables: EnvironmentVariables) throws(ConfigurationError) {
        if let host = variables.value("HOST") { self.host = host }
        if let port = try variables.integer("PORT", in: 1...65535) { self.port = port }
        if let url = variables.value("DATABASE_URL") { try self.setDatabase(url: url) }
        if let connections = try variables.integer("DATABASE_MAX_CONNECTIONS", in: 1...1_000) {
            self.databaseMaxConnections = connections
        }
        if let wait = try variables.integer("DATABASE_WAIT_SECONDS", in: 1...300) { self.databaseWaitSeconds = wait }
    }

    /// `JWT_SECRET_KEY`, `ACCESS_TOKEN_EXPIRE_MINUTES`, `ADMIN_EMAILS`, `LOG_LEVEL`.
    mutating func readAccounts(_ variables: EnvironmentVariables) throws(ConfigurationError) {
        if let secret = variables.value("JWT_SECRET_KEY") {
            guard secret.utf8.count >= 32 else {
                throw ConfigurationError(
                    variable: "JWT_SECRET_KEY",
                    problem: "must be at least 32 bytes (e.g. `openssl rand -hex 32`), or unset to keep a generated one"
                )
            }
            self.jwtSecret = secret
        }
        if let minutes = try variables.integer("ACCESS_TOKEN_EXPIRE_MINUTES", in: 1...525_600) {
            self.accessTokenExpireMinutes = minutes
        }
        if let emails = variables.list("ADMIN_EMAILS") { self.adminEmails = try Self.adminEmails(emails) }
        if let level = variables.value("LOG_LEVEL") { self.logLevel = try Self.logLevel(level) }
    }

    /// `GROQ_API_KEY`, `GROQ_BASE_URL`, `GROQ_MODEL`, `ALLOWED_MODELS` (which must hold `GROQ_MODEL`).
    mutating func readUpstreamModels(_ variables: EnvironmentVariables) throws(ConfigurationError) {
        self.groqAPIKey = variables.value("GROQ_API_KEY")
        if let baseURL = variables.value("GROQ_BASE_URL") { self.groqBaseURL = try Self.upstreamBaseURL(baseURL) }
        if let model = variables.value("GROQ_MODEL") { self.groqModel = model }
        if let models = variables.list("ALLOWED_MODELS") {
            self.allowedModels = try Self.allowedModels(models, defaultModel: self.groqModel)
        }
    }

    /// `GROQ_TIMEOUT`, `GROQ_RPM`, `GROQ_TPM`, `GROQ_MAX_CONCURRENCY`, `GROQ_MAX_RETRIES`, `GROQ_QUEUE_TIMEOUT`.
    mutating func readUpstreamLimits(_ variables: EnvironmentVariables) throws(ConfigurationError) {
        if let seconds = try variables.integer("GROQ_TIMEOUT", in: 1...3600) { self.groqTimeoutSeconds = seconds }
        if let rpm = try variables.integer("GROQ_RPM", in: 0...1_000_000) { self.groqRequestsPerMinute = rpm }
        if let tpm = try variables.integer("GROQ_TPM", in: 0...100_000_000) { self.groqTokensPerMinute = tpm }
        if let concurrency = try variables.integer("GROQ_MAX_CONCURRENCY", in: 1...10_000) {
            self.groqMaxConcurrency = concurrency
        }
        if let retries = try variables.integer("GROQ_MAX_RETRIES", in: 0...10) { self.groqMaxRetries = retries }
        if let seconds = try variables.integer("GROQ_QUEUE_TIMEOUT", in: 1...3600) {
            self.groqQueueTimeoutSeconds = seconds
        }
    }

    /// `SYSTEM_PROMPT`, `CONTEXT_TOKENS`, `MAX_COMPLETION_TOKENS`.
    mutating func readConversation(_ variables: EnvironmentVariables) throws(ConfigurationError) {
        if let prompt = variables.value("SYSTEM_PROMPT") { self.systemPrompt = prompt }
        if let tokens = try variables.integer("CONTEXT_TOKENS", in: 256...1_000_000) { self.contextTokens = tokens }
        if let tokens = try variables.integer("MAX_COMPLETION_TOKENS", in: 16...131_072) {
            self.maxCompletionTokens = tokens
        }
    }

    /// Per-user and per-address limits: messages, logins, registrations, password hashes waiting, long-polls,
    /// searches and their timeout, and the listing cache's size.
    mutating func readAbuseLimits(_ variables: EnvironmentVariables) throws(ConfigurationError) {
        if let rate = try variables.integer("USER_MESSAGES_PER_MINUTE", in: 0...1_000_000) {
            self.userMessagesPerMinute = rate
        }
        if let rate = try variables.integer("LOGIN_ATTEMPTS_PER_MINUTE", in: 0...1_000_000) {
            self.loginAttemptsPerMinute = rate
        }
        if let rate = try variables.integer("REGISTRATIONS_PER_MINUTE", in: 0...1_000_000) {
            self.registrationsPerMinute = rate
        }
        if let rate = try variables.integer("REGISTRATIONS_PER_MINUTE_TOTAL", in: 0...1_000_000) {
            self.registrationsPerMinuteTotal = rate
        }
        if let queue = try variables.integer("PASSWORD_HASH_QUEUE", in: 1...100_000) {
            self.passwordHashQueueLimit = queue
        }
        if let polls = try variables.integer("LONG_POLLS_PER_USER", in: 0...100_000) { self.longPollsPerUser = polls }
        if let searches = try variables.integer("SEARCHES_PER_USER", in: 0...10_000) {
            self.searchesPerUser = searches
        }
        if let milliseconds = try variables.integer("SEARCH_TIMEOUT_MS", in: 1...600_000) {
            self.searchTimeoutMilliseconds = milliseconds
        }
        if let megabytes = try variables.integer("LISTING_CACHE_MB", in: 0...65_536) {
            self.listingCacheMegabytes = megabytes
        }
    }

    /// Connection limits and timeouts, the shutdown grace, the import size, CORS origins and trusted proxies.
    mutating func readConnections(_ variables: EnvironmentVariables) throws(ConfigurationError) {
        if let connections = try variables.integer("MAX_CONNECTIONS", in: 1...1_000_000) {
            self.maxConnections = connections
        }
        if let connections = try variables.integer("MAX_CONNECTIONS_PER_ADDRESS", in: 0...1_000_000) {
            self.maxConnectionsPerAddress = connections
        }
        if let seconds = try variables.integer("IDLE_TIMEOUT_SECONDS", in: 1...86_400) {
            self.idleTimeoutSeconds = seconds
        }
        if let seconds = try variables.integer("REQUEST_READ_TIMEOUT_SECONDS", in: 1...3600) {
            self.requestReadTimeoutSeconds = seconds
        }
        if let seconds = try variables.integer("SHUTDOWN_GRACE_SECONDS", in: 0...3600) {
            self.shutdownGraceSeconds = seconds
        }
        if let megabytes = try variables.integer("IMPORT_MAX_MB", in: 1...1024) { self.importMaxMegabytes = megabytes }
        if let origins = variables.list("CORS_ORIGINS") { self.corsOrigins = try Self.corsOrigins(origins) }
        if let proxies = variables.list("FORWARDED_ALLOW_IPS") { self.forwardedAllowIPs = Set(proxies) }
    }

    /// `DAILY_TOKEN_QUOTA`, `MONTHLY_TOKEN_QUOTA`, `METRICS_TOKEN`.
    mutating func readQuotasAndMetrics(_ variables: EnvironmentVariables) throws(ConfigurationError) {
        if let quota = try variables.integer("DAILY_TOKEN_QUOTA", in: 0...1_000_000_000_000) {
            self.dailyTokenQuota = Int64(quota)
        }
        if let quota = try variables.integer("MONTHLY_TOKEN_QUOTA", in: 0...1_000_000_000_000) {
            self.monthlyTokenQuota = Int64(quota)
        }
        if let token = variables.value("METRICS_TOKEN") {
            guard token.utf8.count >= 16 else {
                throw ConfigurationError(
                    variable: "METRICS_TOKEN", problem: "must be at least 16 characters (e.g. `openssl rand -hex 16`)")
            }
            self.metricsToken = token
        }
    }
}

extension AppConfig {
    /// `ADMIN_EMAILS`: each an email address, stored normalized.
    static func adminEmails(_ emails: [String]) throws(ConfigurationError) -> [String] {
        var normalized: [String] = []
        for email in emails {
            guard EmailAddress.isValid(email) else {
                throw ConfigurationError(variable: "ADMIN_EMAILS", problem: "\"\(email)\" is not an email address")
            }
            normalized.append(EmailAddress.normalize(email))
        }
        return normalized
    }

    /// `LOG_LEVEL`: one of swift-log's levels, in any letter case.
    static func logLevel(_ level: String) throws(ConfigurationError) -> Logger.Level {
        guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError(
                variable: "LOG_LEVEL",
                problem:
                    "expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(level)\""
            )
        }
        return parsed
    }

    /// `GROQ_BASE_URL`: an http(s) URL with a host, kept without a trailing slash.
    static func upstreamBaseURL(_ baseURL: String) throws(ConfigurationError) -> String {
        guard let url = URL(string: baseURL), url.scheme == "https" || url.scheme == "http", url.host != nil else {
            throw ConfigurationError(variable: "GROQ_BASE_URL", problem: "expected an http(s) URL, got \"\(baseURL)\"")
        }
        return baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    }

    /// `ALLOWED_MODELS`: model ids without whitespace, duplicates dropped, holding `defaultModel`.
    static func allowedModels(_ models: [String], defaultModel: String) throws(ConfigurationError) -> [String] {
        var unique: [String] = []
        for model in models where !unique.contains(model) {
            guard model.utf8.count <= 200, !model.unicodeScalars.contains(where: { $0.properties.isWhitespace })
            else {
                throw ConfigurationError(variable: "ALLOWED_MODELS", problem: "\"\(model)\" is not a model id")
            }
            unique.append(model)
        }
        guard unique.contains(defaultModel) else {
            throw ConfigurationError(
                variable: "ALLOWED_MODELS",
                problem: "must include GROQ_MODEL (\"\(defaultModel)\"), the model of chats that pick none")
        }
        return unique
    }

    /// `CORS_ORIGINS`: `*` or http(s) origins, kept without a trailing slash.
    static func corsOrigins(_ origins: [String]) throws(ConfigurationError) -> [String] {
        var allowed: [String] = []
        for origin in origins {
            guard
                origin == "*"
                    || (URL(string: origin)?.scheme).map({ ["http", "https"].contains($0) }) == true
            else {
                throw ConfigurationError(
                    variable: "CORS_ORIGINS", problem: "\"\(origin)\" is not an origin like https://app.example.com"
                )
            }
            allowed.append(origin.hasSuffix("/") ? String(origin.dropLast()) : origin)
        }
        return allowed
    }
}
