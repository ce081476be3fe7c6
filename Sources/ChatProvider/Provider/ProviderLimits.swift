/// The limits ``ProviderActor`` enforces on traffic to the upstream.
public struct ProviderLimits: Sendable, Equatable {
    /// Requests allowed in any 60-second window; 0 for no limit (`GROQ_RPM`).
    public var requestsPerMinute: Int
    /// Tokens (prompt + completion, estimated up front) in any 60-second window; 0 for no limit (`GROQ_TPM`).
    public var tokensPerMinute: Int
    /// Transfers in flight at once (`GROQ_MAX_CONCURRENCY`).
    public var maxConcurrency: Int
    /// Extra attempts after a 429, a 5xx or a connection failure (`GROQ_MAX_RETRIES`).
    public var maxRetries: Int
    /// How long a caller may wait for its turn before getting ``ProviderError/queueTimeout(_:)``
    /// (`GROQ_QUEUE_TIMEOUT`).
    public var queueTimeout: Duration
    /// First retry delay; doubles per attempt, with jitter, up to `maxBackoff`.
    public var baseBackoff: Duration
    public var maxBackoff: Duration
    /// The window the per-minute limits apply to: 60 seconds, shorter only in tests.
    public var window: Duration
    /// Added to `window` when counting: the upstream counts a request when it arrives, and arrival lags our
    /// send by a varying connect/TLS time, so two of our windows' bursts could otherwise land in one of its.
    public var windowMargin: Duration

    /// Neither requests nor tokens are limited per minute.
    public var isUnlimitedPerMinute: Bool { self.requestsPerMinute <= 0 && self.tokensPerMinute <= 0 }

    public init(
        requestsPerMinute: Int = 0,
        tokensPerMinute: Int = 0,
        maxConcurrency: Int = 256,
        maxRetries: Int = 2,
        queueTimeout: Duration = .seconds(30),
        baseBackoff: Duration = .milliseconds(250),
        maxBackoff: Duration = .seconds(8),
        window: Duration = .seconds(60),
        windowMargin: Duration = .seconds(1)
    ) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.maxConcurrency = maxConcurrency
        self.maxRetries = maxRetries
        self.queueTimeout = queueTimeout
        self.baseBackoff = baseBackoff
        self.maxBackoff = maxBackoff
        self.window = window
        self.windowMargin = windowMargin
    }
}
