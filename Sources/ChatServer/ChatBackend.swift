import ChatAuth
import ChatProvider
import ChatStorage
import ChatTurns
import Foundation
import Logging
import Metrics

/// The application's long-lived parts, assembled once at start and shared by every request.
public struct ChatBackend: Sendable, CustomStringConvertible {
    public let config: AppConfig
    public let database: any ChatStore
    public let tokens: TokenService
    public let passwords: PasswordHasher
    public let logger: Logger
    /// The gate to the AI provider; nil when `GROQ_API_KEY` is unset (POST /chat answers 503).
    public let provider: ProviderActor?
    /// One session per chat with work in progress; nil without a provider.
    let sessions: ChatSessionRegistry?
    /// POST /chat per user (`USER_MESSAGES_PER_MINUTE`).
    let messageRate: RateLimiter
    /// Failed logins per (email, client address) and per client address (`LOGIN_ATTEMPTS_PER_MINUTE`).
    let loginFailures: LoginThrottle
    /// Registrations per client address (`REGISTRATIONS_PER_MINUTE`).
    let registrationRate: RateLimiter
    /// Registrations from every client together (`REGISTRATIONS_PER_MINUTE_TOTAL`), one key for the deployment.
    let registrationTotal: RateLimiter
    /// Open long-polls and event streams per user: the long-poll cap, and revocation.
    let userWaits: UserWaits
    /// Searches running per user (`SEARCHES_PER_USER`).
    let searches: UserSlots
    /// Encoded message listings, served while the chat's messages are unchanged (`LISTING_CACHE_MB`).
    let listingCache: MessageListingCache
    /// Token quotas and the clock that tells their days.
    let quotas: QuotaPolicy
    /// GET /metrics's figures; nil unless `METRICS_TOKEN` is set (then nothing is recorded at all).
    let metrics: ServerMetrics?
    /// The models users may pick (`ALLOWED_MODELS`), checked against the upstream at start.
    let models: ModelCatalog

    /// Never the configuration's secrets (see ``AppConfig/description``).
    public var description: String { "ChatBackend(\(self.config))" }

    public static let name = "AI Chat Backend"
    public static let version = "0.1.0"

    /// Assembles the backend around a store the composition root opened (`ChatComposition`, which names the
    /// engines): resolves the token secret, promotes `ADMIN_EMAILS`, clears what a stopped server left, and
    /// builds the provider, the sessions and the limiters. `metrics` are the ones the store was opened with
    /// (``ServerMetrics/configured(by:)``); `clock` tells the UTC day of usage and quotas (tests move it across
    /// midnight).
    public static func bootstrap(
        config: AppConfig, database: any ChatStore, metrics: ServerMetrics?, logger: Logger,
        clock: UsageClock = .system
    ) async throws -> ChatBackend {
        logger.info(
            "database ready",
            metadata: [
                "database": "\(config.databaseDescription)",
                "schema_from": "\(database.migration.from)",
                "schema": "\(database.migration.to)",
            ]
        )
        let secret = try await Self.prepare(database, config: config, logger: logger)
        let provider = try Self.makeProvider(
            config: config, logger: logger, queueWait: metrics?.providerQueueWait,
            shared: database.shared.map { DeploymentUpstreamBudget(ledger: $0, logger: logger) })
        let models = ModelCatalog(
            configured: config.offeredModels, defaultModel: config.groqModel, logger: logger,
            upstream: { [provider] in
                guard let provider else { throw ProviderError.notConfigured }
                return try await provider.listModels()
            })
        let quotas = QuotaPolicy(
            dailyDefault: config.dailyTokenQuota, monthlyDefault: config.monthlyTokenQuota, clock: clock)
        let sessions = provider.map { provider in
            Self.makeSessions(
                config: config, database: database, provider: provider, models: models, quotas: quotas,
                metrics: metrics, logger: logger)
        }
        let backend = ChatBackend(
            config: config, database: database, secret: secret, logger: logger, provider: provider,
            sessions: sessions, quotas: quotas, metrics: metrics, models: models)
        if let events = database.shared?.events {
            // Lives as long as the store: the stream ends when the store closes.
            Task {
                for await event in events { backend.handle(event) }
            }
        }
        return backend
    }

    /// The start-up work on the store: the token secret (`JWT_SECRET_KEY`, else the one generated and kept in
    /// the store), `ADMIN_EMAILS` promoted, and what the last shutdown interrupted (unfinished imports,
    /// `streaming` replies) cleared.
    private static func prepare(_ database: any ChatStore, config: AppConfig, logger: Logger) async throws
        -> [UInt8]
    {
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
        let unfinished = try await database.removeUnfinishedImports()
        if unfinished > 0 {
            logger.warning(
                "chats of imports interrupted by the last shutdown were removed", metadata: ["count": "\(unfinished)"])
        }
        let interrupted = try await database.failInterruptedTurns()
        if interrupted > 0 {
            logger.warning(
                "replies interrupted by the last shutdown were marked failed", metadata: ["count": "\(interrupted)"])
        }
        return secret
    }

    /// The parts built from the configuration alone: tokens, password hashing, the limiters (counted in the
    /// store when it is shared, ``ChatStore/shared``), the per-user slots and the listing cache.
    private init(
        config: AppConfig, database: any ChatStore, secret: [UInt8], logger: Logger, provider: ProviderActor?,
        sessions: ChatSessionRegistry?, quotas: QuotaPolicy, metrics: ServerMetrics?, models: ModelCatalog
    ) {
        let ledger: (any RateLedger)? = database.shared
        self.config = config
        self.database = database
        self.tokens = TokenService(secret: secret, lifetimeMinutes: config.accessTokenExpireMinutes)
        self.passwords = PasswordHasher(
            parameters: ScryptParameters(logN: config.passwordHashCost, r: 8, p: 1),
            queueLimit: config.passwordHashQueueLimit)
        self.logger = logger
        self.provider = provider
        self.sessions = sessions
        self.messageRate = RateLimiter(
            perMinute: config.userMessagesPerMinute, shared: ledger.map { ($0, "messages") })
        self.loginFailures = LoginThrottle(perMinute: config.loginAttemptsPerMinute, shared: ledger)
        self.registrationRate = RateLimiter(
            perMinute: config.registrationsPerMinute, shared: ledger.map { ($0, "registrations") })
        self.registrationTotal = RateLimiter(
            perMinute: config.registrationsPerMinuteTotal, shared: ledger.map { ($0, "registrations-total") })
        self.userWaits = UserWaits(longPollsPerUser: config.longPollsPerUser)
        self.searches = UserSlots(perUser: config.searchesPerUser)
        self.listingCache = MessageListingCache(capacity: config.listingCacheMegabytes << 20)
        self.quotas = quotas
        self.metrics = metrics
        self.models = models
    }

    /// The registry of chat sessions, which run the turns (only with a provider).
    private static func makeSessions(
        config: AppConfig, database: any ChatStore, provider: ProviderActor, models: ModelCatalog,
        quotas: QuotaPolicy, metrics: ServerMetrics?, logger: Logger
    ) -> ChatSessionRegistry {
        ChatSessionRegistry(
            database: database,
            provider: provider,
            settings: TurnSettings(
                model: config.groqModel,
                models: models,
                systemPrompt: config.systemPrompt,
                contextTokens: config.contextTokens,
                maxCompletionTokens: config.maxCompletionTokens,
                flushInterval: .milliseconds(500)
            ),
            quotas: quotas,
            metrics: metrics?.turns,
            logger: logger
        )
    }

    /// A change committed by any process sharing the store (PostgreSQL replicas): wakes this process's waiters
    /// on the chat, cancels its reply when asked, and ends the sessions of a user that changed elsewhere.
    func handle(_ event: StoreEvent) {
        self.sessions?.handle(event)
        if case .upstreamPaused(let duration) = event, let provider = self.provider {
            Task { await provider.pauseFromElsewhere(for: duration) }
        }
        guard case .userChanged(let userID) = event else { return }
        Task {
            let current = try? await self.database.user(id: userID)
            self.userWaits.revoke(userID, unlessValidFor: current)
            guard current == nil || current?.disabled == true, let sessions = self.sessions else { return }
            // Deleted or disabled: stop the user's replies running here (their chats may be gone already).
            for session in await sessions.sessionsWithTurns() {
                let chat = try? await self.database.chat(id: session.chatID, ownerID: nil)
                if chat == nil || chat?.userID == userID { await session.cancelAllTurns() }
            }
        }
    }

    /// Whether `user`'s session (as authenticated at the start of a request) is still valid now: the user
    /// exists, is not disabled, and has not revoked their tokens since.
    func isStillAuthorized(_ user: UserRecord) async -> Bool {
        // The user cache is emptied by every change to a user, so a cached record is current.
        guard let current = try? await self.database.currentUser(id: user.id) else { return false }
        return !current.disabled && current.tokenVersion == user.tokenVersion
    }

    /// Ends every long-poll and event stream of the user (their session was revoked or changed); with
    /// `stopTurns`, also stops the user's running and queued replies (the account was disabled).
    func endWaits(of userID: UUID, _ reason: Revocation, stopTurns: Bool) async throws {
        self.userWaits.revoke(userID, reason)
        guard stopTurns, let sessions = self.sessions else { return }
        for chatID in try await self.database.chatIDs(ownerID: userID) {
            await sessions.existingSession(for: chatID)?.cancelAllTurns()
        }
    }

    /// Calls `check` until it returns a value, each time the chat changes (here, or in another process through
    /// the store's notifications), for at most `timeout`: how a request follows a reply that another process
    /// generates. Without a provider there is no session to wait on, and it asks every 200 ms.
    func poll<T: Sendable>(chat chatID: UUID, timeout: Duration, _ check: @escaping @Sendable () async throws -> T?)
        async throws -> T?
    {
        guard let sessions = self.sessions else {
            let deadline = ContinuousClock.now + timeout
            while true {
                if let found = try await check() { return found }
                guard ContinuousClock.now < deadline else { return nil }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        return try await sessions.withSession(for: chatID) { session in
            try await session.poll(timeout: timeout, check)
        }
    }

    /// What ``cancelReply(in:)`` did.
    enum Cancellation {
        /// The reply ran here and was saved `cancelled`.
        case saved(MessageRecord)
        /// The reply runs in another process sharing the store, which was asked to stop it (as it was when
        /// asked).
        case requested(MessageRecord)
        /// No reply is being generated.
        case nothingRunning
    }

    /// Stops the chat's running reply wherever it runs: here, or (on a shared store) on the process that
    /// generates it.
    func cancelReply(in chatID: UUID) async throws -> Cancellation {
        if let session = self.sessions?.existingSession(for: chatID), let saved = await session.cancelRunningTurn() {
            return .saved(saved)
        }
        guard let shared = self.database.shared, let running = try await self.database.streamingReply(chatID: chatID)
        else { return .nothingRunning }
        try await shared.requestCancel(chatID: chatID)
        return .requested(running)
    }

    private static func makeProvider(
        config: AppConfig, logger: Logger, queueWait: Metrics.Timer?, shared: (any SharedUpstreamBudget)?
    ) throws -> ProviderActor? {
        guard let apiKey = config.groqAPIKey else { return nil }
        let client = GroqClient(
            configuration: GroqConfiguration(
                apiKey: apiKey,
                baseURL: config.groqBaseURL,
                model: config.groqModel,
                connectTimeout: .seconds(min(10, config.groqTimeoutSeconds)),
                requestTimeout: .seconds(config.groqTimeoutSeconds),
                streamIdleTimeout: .seconds(config.groqTimeoutSeconds)
            ),
            http: try CurlClient()
        )
        let limits = ProviderLimits(
            requestsPerMinute: config.groqRequestsPerMinute,
            tokensPerMinute: config.groqTokensPerMinute,
            maxConcurrency: config.groqMaxConcurrency,
            maxRetries: config.groqMaxRetries,
            queueTimeout: .seconds(config.groqQueueTimeoutSeconds)
        )
        return ProviderActor(client: client, limits: limits, logger: logger, shared: shared, queueWait: queueWait)
    }
}
