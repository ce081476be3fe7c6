import DequeModule
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The single gate between the application and the upstream model.
///
/// - Limits: at most `requestsPerMinute` requests and `tokensPerMinute` estimated tokens in any 60-second
///   window, and at most `maxConcurrency` transfers at once; tightened further by the `x-ratelimit-*`
///   headers the upstream sends.
/// - Order: callers waiting for a slot are served in arrival order (a retry keeps its place at the front).
///   A caller that cannot start within `queueTimeout` gets ``ProviderError/queueTimeout(_:)``.
/// - 429: nothing else goes out until its `retry-after` has passed.
/// - Retries: 429, 5xx and connection failures are retried up to `maxRetries` times with exponential backoff
///   and jitter — never after part of a streamed answer was delivered.
public actor ProviderActor: Service {
    /// Never public: every call to the upstream goes through the gate below (and its pass-through form in
    /// ProviderActor+PassThrough.swift).
    nonisolated let client: GroqClient
    public nonisolated let limits: ProviderLimits
    private nonisolated let logger: Logger
    /// The deployment's budget when several processes share the upstream key; nil for one process.
    private nonisolated let shared: (any SharedUpstreamBudget)?
    private let clock = ContinuousClock()

    private var requests: SlidingWindow
    private var tokens: SlidingWindow
    private var inFlight = 0
    private var pausedUntil: ContinuousClock.Instant?
    private var waiters: Deque<Waiter> = []
    private var nextWaiterID = 0
    private var wakeUp: Task<Void, Never>?
    private var wakeUpAt: ContinuousClock.Instant?
    private var isShutDown = false

    private struct Waiter {
        let id: Int
        let tokens: Int
        let deadline: ContinuousClock.Instant
        let enqueuedAt: ContinuousClock.Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    /// Each call's wait for a slot, when metrics are on.
    private nonisolated let queueWait: Metrics.Timer?

    public init(
        client: GroqClient, limits: ProviderLimits, logger: Logger, shared: (any SharedUpstreamBudget)? = nil,
        queueWait: Metrics.Timer? = nil
    ) {
        self.queueWait = queueWait
        self.client = client
        self.limits = limits
        self.logger = logger
        self.shared = shared
        self.requests = SlidingWindow(limit: limits.requestsPerMinute, window: limits.window + limits.windowMargin)
        self.tokens = SlidingWindow(limit: limits.tokensPerMinute, window: limits.window + limits.windowMargin)
    }

    public nonisolated var model: String { self.client.configuration.model }

    /// The models the upstream serves (outside the rate limits: Groq does not count this call).
    public nonisolated func listModels() async throws -> [UpstreamModel] {
        try await self.client.listModels()
    }

    /// Requests in flight and callers waiting, for logs and tests.
    public var load: (inFlight: Int, waiting: Int) { (self.inFlight, self.waiters.count) }

    // MARK: Public API

    /// A complete answer, with retries. Runs off the actor; only the gate's bookkeeping hops onto it.
    public nonisolated func complete(_ request: ChatCompletionRequest, estimatedTokens: Int) async throws
        -> ChatCompletion
    {
        try await self.gated(estimatedTokens: estimatedTokens, usage: \.usage) {
            try await self.client.complete(request)
        }
    }

    /// One complete call through the gate: a slot for each attempt, given back with the tokens `usage` reports
    /// and the rate-limit headers; a failed attempt is retried as ``prepareRetry(after:attempt:)`` decides.
    nonisolated func gated<Answer>(
        estimatedTokens: Int, usage: (Answer) -> TokenUsage?, call: () async throws -> (Answer, RateLimitInfo)
    ) async throws -> Answer {
        var attempt = 0
        while true {
            let sharedCall = try await self.acquire(tokens: estimatedTokens, atFront: attempt > 0)
            do {
                let (answer, info) = try await call()
                let used = usage(answer)?.totalTokens
                await self.release(estimatedTokens: estimatedTokens, usedTokens: used, info: info)
                await self.settleShared(sharedCall, usedTokens: used)
                return answer
            } catch {
                await self.release(estimatedTokens: estimatedTokens, usedTokens: nil, info: nil)
                try await self.prepareRetry(after: error, attempt: &attempt)
            }
        }
    }

    /// A streamed answer. Attempts that fail before the first delta are retried; once a delta was delivered
    /// a failure ends the stream with its error. The reader pulls each event through (nothing is buffered in
    /// between, see ``GatedStream``); ending or dropping the stream cancels the transfer.
    public nonisolated func stream(_ request: ChatCompletionRequest, estimatedTokens: Int) -> EventStream {
        EventStream(provider: self, request: request, estimatedTokens: estimatedTokens)
    }

    /// Decides whether `error` is retried: throws it if not, otherwise waits the backoff (a 429 pauses the
    /// whole gate instead).
    nonisolated func prepareRetry(after error: any Error, attempt: inout Int) async throws {
        guard let providerError = error as? ProviderError, providerError.isRetryable,
            attempt < self.limits.maxRetries, !Task.isCancelled
        else { throw error }
        attempt += 1
        if case .rateLimited(let retryAfter, _) = providerError {
            let pause = retryAfter ?? self.backoff(attempt: attempt)
            await self.pause(for: pause)
            await self.shared?.pauseEveryone(for: pause)
            self.logger.warning(
                "upstream rate limited; pausing",
                metadata: ["retry_after_ms": "\(pause.milliseconds)", "attempt": "\(attempt)"]
            )
        } else {
            let delay = self.backoff(attempt: attempt)
            self.logger.warning(
                "upstream call failed; retrying",
                metadata: ["error": "\(providerError)", "attempt": "\(attempt)", "delay_ms": "\(delay.milliseconds)"]
            )
            try await Task.sleep(for: delay)
        }
    }

    private nonisolated func backoff(attempt: Int) -> Duration {
        let exponential = self.limits.baseBackoff * (1 << min(attempt - 1, 16))
        let capped = min(exponential, self.limits.maxBackoff)
        return capped * Double.random(in: 0.5...1.5)
    }

    // MARK: The gate

    /// A slot of this process's gate, then (with several processes) a place in the deployment's budget: a
    /// call that cannot get one within `queueTimeout` gives its slot back and fails like a full queue.
    /// Returns the call's id in the deployment's budget, if it was counted there.
    func acquire(tokens: Int, atFront: Bool) async throws -> Int64? {
        try await self.acquireSlot(tokens: tokens, atFront: atFront)
        guard let shared = self.shared, !self.limits.isUnlimitedPerMinute else { return nil }
        let started = self.clock.now
        do {
            while true {
                switch try await shared.reserve(tokens: tokens, limits: self.limits) {
                case .recorded(let id):
                    return id
                case .retry(let wait):
                    let waited = self.clock.now - started
                    guard waited + wait <= self.limits.queueTimeout else { throw ProviderError.queueTimeout(waited) }
                    try await Task.sleep(for: wait)
                }
            }
        } catch {
            self.release(estimatedTokens: tokens, usedTokens: nil, info: nil)
            throw error
        }
    }

    /// Settles a call counted in the deployment's budget to the tokens the upstream reported (as ``release``
    /// does for this process's gate); without a report the estimate stays counted.
    nonisolated func settleShared(_ call: Int64?, usedTokens: Int?) async {
        guard let call, let usedTokens, let shared = self.shared else { return }
        await shared.settle(call, usedTokens: usedTokens)
    }

    /// A pause another process was told (its 429): nothing goes out from here either until it has passed.
    public func pauseFromElsewhere(for duration: Duration) {
        self.pause(for: duration)
    }

    private func acquireSlot(tokens: Int, atFront: Bool) async throws {
        if self.isShutDown { throw ProviderError.shuttingDown }
        let now = self.clock.now
        let id = self.nextWaiterID
        self.nextWaiterID += 1
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let waiter = Waiter(
                    id: id,
                    tokens: tokens,
                    deadline: now + self.limits.queueTimeout,
                    enqueuedAt: now,
                    continuation: continuation
                )
                if atFront { self.waiters.prepend(waiter) } else { self.waiters.append(waiter) }
                self.dispatch()
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: Int) {
        guard let index = self.waiters.firstIndex(where: { $0.id == id }) else { return }
        self.waiters.remove(at: index).continuation.resume(throwing: CancellationError())
        self.dispatch()
    }

    func release(estimatedTokens: Int, usedTokens: Int?, info: RateLimitInfo?) {
        let now = self.clock.now
        self.inFlight -= 1
        if let usedTokens { self.tokens.adjust(by: usedTokens - estimatedTokens, now: now) }
        if let info {
            // The upstream's own view wins when it is stricter than ours.
            if info.remainingRequests == 0, let reset = info.resetRequests { self.pause(for: reset, now: now) }
            if info.remainingTokens == 0, let reset = info.resetTokens { self.pause(for: reset, now: now) }
        }
        self.dispatch()
    }

    private func pause(for duration: Duration, now: ContinuousClock.Instant? = nil) {
        let until = (now ?? self.clock.now) + duration
        if let current = self.pausedUntil, current >= until { return }
        self.pausedUntil = until
        self.dispatch()
    }

    /// Starts every waiter that may start now, in order; fails the ones past their deadline; schedules a
    /// wake-up for the earliest moment anything can change.
    private func dispatch() {
        let now = self.clock.now
        var expired: [Waiter] = []
        self.waiters.removeAll { waiter in
            if waiter.deadline <= now {
                expired.append(waiter)
                return true
            }
            return false
        }
        for waiter in expired {
            waiter.continuation.resume(throwing: ProviderError.queueTimeout(now - waiter.enqueuedAt))
        }

        var wakeAt: ContinuousClock.Instant?
        if let pausedUntil, pausedUntil > now {
            wakeAt = pausedUntil
        } else {
            self.pausedUntil = nil
            while let head = self.waiters.first, self.inFlight < self.limits.maxConcurrency {
                let requestsAt = self.requests.availableAt(1, now: now)
                let tokensAt = self.tokens.availableAt(head.tokens, now: now)
                let startAt = max(requestsAt, tokensAt)
                if startAt > now {
                    wakeAt = startAt
                    break
                }
                self.waiters.removeFirst()
                self.requests.spend(1, now: now)
                self.tokens.spend(head.tokens, now: now)
                self.inFlight += 1
                self.queueWait?.record(duration: now - head.enqueuedAt)
                head.continuation.resume()
            }
        }
        if let earliestDeadline = self.waiters.map(\.deadline).min() {
            wakeAt = min(wakeAt ?? earliestDeadline, earliestDeadline)
        }
        self.schedule(wakeAt)
    }

    private func schedule(_ instant: ContinuousClock.Instant?) {
        guard let instant else {
            self.wakeUp?.cancel()
            self.wakeUp = nil
            self.wakeUpAt = nil
            return
        }
        if let current = self.wakeUpAt, current <= instant, self.wakeUp != nil { return }
        self.wakeUp?.cancel()
        self.wakeUpAt = instant
        self.wakeUp = Task {
            try? await Task.sleep(until: instant, clock: .continuous)
            guard !Task.isCancelled else { return }
            self.wokeUp()
        }
    }

    private func wokeUp() {
        self.wakeUp = nil
        self.wakeUpAt = nil
        self.dispatch()
    }

    // MARK: Service

    public nonisolated func run() async throws {
        try? await gracefulShutdown()
        await self.shutDown()
    }

    /// Fails every waiting caller; transfers in flight finish on their own.
    public func shutDown() {
        self.isShutDown = true
        while let waiter = self.waiters.popFirst() {
            waiter.continuation.resume(throwing: ProviderError.shuttingDown)
        }
        self.schedule(nil)
    }
}

extension ProviderActor {
    /// A turn's streamed answer (see ``GatedStream``).
    public typealias EventStream = GatedStream<ChatCompletionRequest>

    /// One attempt's slot of the gate: released exactly once, when the attempt ends, or (from its deinit) when
    /// the reader dropped the stream mid-way.
    final class Lease: Sendable {
        private let provider: ProviderActor
        private let estimatedTokens: Int
        /// The attempt's id in the deployment's budget, if it was counted there.
        private let sharedCall: Int64?
        private let state = Mutex<(released: Bool, info: RateLimitInfo?)>((false, nil))

        init(provider: ProviderActor, estimatedTokens: Int, sharedCall: Int64?) {
            self.provider = provider
            self.estimatedTokens = estimatedTokens
            self.sharedCall = sharedCall
        }

        var info: RateLimitInfo? {
            get { self.state.withLock { $0.info } }
            set { self.state.withLock { $0.info = newValue } }
        }

        /// Whether this call is the one that releases (the first).
        private func claim() -> (Bool, RateLimitInfo?) {
            self.state.withLock { state in
                defer { state.released = true }
                return (!state.released, state.info)
            }
        }

        func release(usedTokens: Int?) async {
            let (first, info) = self.claim()
            guard first else { return }
            await self.provider.release(estimatedTokens: self.estimatedTokens, usedTokens: usedTokens, info: info)
            await self.provider.settleShared(self.sharedCall, usedTokens: usedTokens)
        }

        deinit {
            let (first, info) = self.claim()
            guard first else { return }
            let provider = self.provider
            let estimated = self.estimatedTokens
            Task { await provider.release(estimatedTokens: estimated, usedTokens: nil, info: info) }
        }
    }
}

extension ChatCompletionRequest: GatedStreamRequest {
    public func openStream(through client: GroqClient) async throws -> (RateLimitInfo, ChatEventSequence) {
        try await client.stream(self)
    }

    public static func usedTokens(in event: ChatStreamEvent) -> Int? {
        guard case .finished(_, let usage, _) = event else { return nil }
        return usage?.totalTokens
    }
}

extension Duration {
    static func * (lhs: Duration, rhs: Double) -> Duration {
        .nanoseconds(Int64(Double(lhs.components.seconds) * 1e9 * rhs + Double(lhs.components.attoseconds) / 1e9 * rhs))
    }
}
