import ChatProvider
import ChatStorage
import Foundation
import Logging

/// The live state of one chat while it has work: the order of its AI turns, the fan-out of the reply being
/// generated to its followers, and the long-polls waiting on the chat.
///
/// - Order: turns run one at a time in arrival order (save the user message → build the context → call the
///   provider → save the reply), so a turn's context contains every earlier turn's reply on its path. A
///   regenerated reply or an edited message is a turn like any other (``TurnInput``): it queues behind the
///   others, and its context is the path from the root to the message it answers, never a sibling branch.
/// - Durability: the reply exists in the database from the start (status `streaming`), its text is saved at
///   least every `flushInterval`, and it ends `complete`, `failed` (with the reason) or `cancelled`.
/// - Independence: a turn runs in its own task; the client that started it may disconnect and the reply is
///   still saved, and can be reattached to while it streams. Followers are fanned out by ``ReplyFollowers``
///   (bounded; a reader that falls behind is dropped, never waited for).
/// - Waiters: long-polls park in ``ChangeWaiters`` (not on the database), woken by every change, at their
///   deadline, or when their request is cancelled.
///
/// What is not ordering or fan-out is done by collaborators: ``TurnStarter`` saves a turn's start,
/// ``TitleGenerator`` names the chat, ``TurnAccounting`` charges and counts; failures are reported as
/// ``TurnFailure``s, which the HTTP layer answers. The session's life is one ``SessionState``: created on demand
/// by ``ChatSessionRegistry``, retired as soon as it is idle.
public actor ChatSessionActor {
    public let chatID: UUID
    private let database: any ChatStore
    private let provider: ProviderActor
    private let settings: TurnSettings
    private let accounting: TurnAccounting
    private let starter: TurnStarter
    private let titles: TitleGenerator
    private let logger: Logger
    private let onIdle: @Sendable (ChatSessionActor) -> Void

    private var state = SessionState()
    /// The reply being generated, and who follows it.
    private var running: RunningTurn?
    private var waiters = ChangeWaiters()

    private struct RunningTurn {
        let number: Int
        let assistantID: Int64
        var content = ""
        var length = 0
        var followers = ReplyFollowers()
        var cancellationWaiters: [CheckedContinuation<MessageRecord?, Never>] = []
    }

    init(
        chatID: UUID,
        database: any ChatStore,
        provider: ProviderActor,
        settings: TurnSettings,
        accounting: TurnAccounting,
        logger: Logger,
        onIdle: @escaping @Sendable (ChatSessionActor) -> Void
    ) {
        self.chatID = chatID
        self.database = database
        self.provider = provider
        self.settings = settings
        self.accounting = accounting
        self.starter = TurnStarter(chatID: chatID, database: database, settings: settings, accounting: accounting)
        self.titles = TitleGenerator(database: database, provider: provider, accounting: accounting, logger: logger)
        self.logger = logger
        self.onIdle = onIdle
    }

    /// Thrown by a retired session: ask the registry for a fresh one.
    @usableFromInline
    struct Retired: Error {}

    /// Does what a transition of ``state`` asks.
    private func perform(_ action: SessionState.Action) {
        switch action {
        case .none: break
        case .retire: self.onIdle(self)
        case .cancel(let tasks): for task in tasks { task.cancel() }
        case .wakeWaiters: self.waiters.resumeAll()
        }
    }

    // MARK: Turns

    /// One queued turn's request.
    private struct TurnRequest: Sendable {
        let input: TurnInput
        let model: String?
        let account: TurnAccount
        let requester: AsyncStream<TurnEvent>.Continuation
        let wantsDeltas: Bool
        let requestID: String
    }

    /// Queues a turn (`input`: a message, a regenerated reply, an edit); its events go to `requester` (made
    /// with ``ReplyFollowers/makeStream()``). The turn runs whether or not the events are read. `requestID`
    /// names the request in logs and in client-facing errors.
    /// `account`: whose quotas the turn counts against, and whose chat this must be (a chat of someone else's
    /// ends the turn as ``TurnFailure/chatNotFound``, as a missing one does, before anything is saved). `model`:
    /// the turn's own choice (an offered model), else the chat's, else the default.
    public func submit(
        _ input: TurnInput, model: String? = nil, account: TurnAccount,
        requester: AsyncStream<TurnEvent>.Continuation, wantsDeltas: Bool, requestID: String
    ) throws {
        let request = TurnRequest(
            input: input, model: model, account: account, requester: requester, wantsDeltas: wantsDeltas,
            requestID: requestID)
        try self.state.queueTurn { number, previous in
            Task {
                await previous?.value
                await self.runTurn(number: number, request)
            }
        }
    }

    private func runTurn(number: Int, _ request: TurnRequest) async {
        defer { self.perform(self.state.turnEnded(number)) }
        guard let begun = await self.start(request) else { return }

        var turn = RunningTurn(number: number, assistantID: begun.assistant.id)
        turn.followers.add(request.requester, wantsDeltas: request.wantsDeltas)
        turn.followers.send(.started(user: begun.user, assistant: begun.assistant))
        self.running = turn
        self.waiters.changed()

        let outcome = await self.generateNamingChat(begun, account: request.account, requestID: request.requestID)
        self.accounting.turnEnded(
            outcome.message.status, interrupted: outcome.interrupted, charge: outcome.message.charge)
        let saved: MessageRecord?
        do {
            saved = try await self.database.finishMessage(id: begun.assistant.id, outcome: outcome.message)
        } catch {
            self.logger.error(
                "could not save a reply",
                metadata: ["chat_id": "\(self.chatID)", "request_id": "\(request.requestID)", "error": "\(error)"])
            saved = nil
        }
        self.end(outcome, saved: saved)

        // A titled chat stays titled: a turn into one does not look for a title to write.
        if begun.untitled, !begun.holdsTitle, outcome.message.status == .complete {
            let (titles, chatID) = (self.titles, self.chatID)
            self.state.startTitle {
                Task {
                    await titles.titleChatIfNeeded(chatID)
                    self.perform(self.state.titleEnded())
                }
            }
        }
    }

    /// Saves the turn's start; nil when it did not start (its requester was told why). A turn stopped while
    /// still queued (user disabled, server shutting down) saves nothing.
    private func start(_ request: TurnRequest) async -> BegunTurn? {
        let failure: TurnFailure
        if Task.isCancelled {
            failure = self.state.isShuttingDown ? .shuttingDown : .cancelled
        } else {
            do {
                if let begun = try await self.beginTurn(request) { return begun }
                failure = .chatNotFound
            } catch {
                failure = self.startFailure(error, account: request.account, requestID: request.requestID)
                if case .quotaExceeded = failure { self.accounting.turnRefused() }
            }
        }
        request.requester.yield(.failed(failure, message: nil))
        request.requester.finish()
        return nil
    }

    /// The reply is saved (`saved`, nil if that failed): its followers get the end, and a cancel waiting on it
    /// its saved copy.
    private func end(_ outcome: Outcome, saved: MessageRecord?) {
        guard var final = self.running else { return }
        self.running = nil
        self.waiters.changed()
        switch (outcome.failure, saved) {
        case (nil, let message?): final.followers.finish(with: .finished(message, usage: outcome.usage))
        case (let failure?, _): final.followers.finish(with: .failed(failure, message: saved))
        case (nil, nil): final.followers.finish(with: .failed(.chatNotFound, message: nil))
        }
        for waiter in final.cancellationWaiters { waiter.resume(returning: saved) }
    }

    /// What the requester of a turn whose start threw `error` is told (logged here).
    private func startFailure(_ error: any Error, account: TurnAccount, requestID: String) -> TurnFailure {
        switch error {
        case StorageError.quotaExceeded(let period):
            return .quotaExceeded(self.accounting.quotas.refusal(period, limits: account.limits))
        case is CancellationError:
            return self.state.isShuttingDown ? .shuttingDown : .cancelled
        case StorageError.unavailable:
            self.logger.warning(
                "could not start a turn: the database did not answer",
                metadata: ["chat_id": "\(self.chatID)", "request_id": "\(requestID)"])
            return .databaseUnavailable
        default:
            self.logger.error(
                "could not start a turn",
                metadata: ["chat_id": "\(self.chatID)", "request_id": "\(requestID)", "error": "\(error)"])
            return .internalError
        }
    }

    /// Saves the turn's start (``TurnStarter``). While another process is generating a reply in this chat (a
    /// replica on the same PostgreSQL), or when it saved a message after the context was read, waits for that
    /// chat to change (its notification, or a second at most) and starts again, so turns of one chat run one
    /// after the other across processes and each context holds every earlier reply.
    private func beginTurn(_ request: TurnRequest) async throws -> BegunTurn? {
        while true {
            let seen = self.waiters.version
            do {
                return try await self.starter.begin(request.input, model: request.model, account: request.account)
            } catch StorageError.chatBusy {
                try Task.checkCancellation()
                if self.waiters.version == seen {
                    await self.waitForChange(id: self.waiters.makeID(), until: .now + .seconds(1))
                }
                try Task.checkCancellation()
            }
        }
    }

    private struct Outcome {
        var message: MessageOutcome
        var usage: TokenUsage?
        var failure: TurnFailure?
        /// Cut short by the server's shutdown.
        var interrupted = false
    }

    /// ``generate(_:account:requestID:)``; a title held in the turn's reservation is made beside the reply and
    /// written before the reply ends (``TitleGenerator/naming(_:during:keepIf:)``).
    private func generateNamingChat(_ begun: BegunTurn, account: TurnAccount, requestID: String) async -> Outcome {
        guard begun.holdsTitle else { return await self.generate(begun, account: account, requestID: requestID) }
        return await self.titles.naming(self.chatID) {
            await self.generate(begun, account: account, requestID: requestID)
        } keepIf: {
            $0.message.status == .complete
        }
    }

    /// Calls the provider and follows the stream; never throws: every ending is an outcome to save, with the
    /// call's charge to the user.
    private func generate(_ begun: BegunTurn, account: TurnAccount, requestID: String) async -> Outcome {
        var outcome = await self.stream(begun, requestID: requestID)
        outcome.message.charge = self.accounting.charge(
            userID: account.userID, usage: outcome.usage, promptEstimate: begun.promptEstimate,
            delivered: outcome.message.content)
        return outcome
    }

    private func stream(_ begun: BegunTurn, requestID: String) async -> Outcome {
        let clock = ContinuousClock()
        let sent = clock.now
        var firstToken = true
        // Text is saved every `flushInterval` from its first delta: before that there is nothing to lose, and a
        // reply that arrives whole within the interval is saved once, when it ends.
        var lastFlush: ContinuousClock.Instant?
        var usage: TokenUsage?
        var model: String?
        var finished = false
        do {
            let request = ChatCompletionRequest(
                model: begun.model, messages: begun.context, maxCompletionTokens: self.settings.maxCompletionTokens)
            let estimate = begun.promptEstimate + self.settings.maxCompletionTokens
            for try await event in self.provider.stream(request, estimatedTokens: estimate) {
                switch event {
                case .delta(let text):
                    if firstToken {
                        firstToken = false
                        self.accounting.firstToken(after: clock.now - sent)
                    }
                    self.append(text)
                    guard let flushed = lastFlush else {
                        lastFlush = clock.now
                        continue
                    }
                    if clock.now - flushed >= self.settings.flushInterval, let running = self.running {
                        lastFlush = clock.now
                        try await self.database.updateStreamingContent(
                            messageID: running.assistantID, content: running.content)
                    }
                case .finished(_, let reported, let reportedModel):
                    usage = reported
                    model = reportedModel
                    finished = true
                    self.accounting.upstreamFinished(after: clock.now - sent)
                }
            }
            // A cancelled task ends the iteration quietly (no error): tell that apart from a finished reply.
            if Task.isCancelled { throw CancellationError() }
            guard finished else { throw ProviderError.streamFailed("the answer ended early") }
            return Outcome(
                message: MessageOutcome(
                    content: self.running?.content ?? "", status: .complete, model: model,
                    promptTokens: usage?.promptTokens, completionTokens: usage?.completionTokens),
                usage: usage)
        } catch {
            return self.outcome(of: error, requestID: requestID)
        }
    }

    /// How a turn that threw ends. A cancelled turn is `cancelled` (its user or an admin stopped it) or, once
    /// the server is shutting down, `failed` as interrupted; whatever the provider threw as a consequence of
    /// the cancellation (a cut stream) does not count as a provider failure.
    private func outcome(of error: any Error, requestID: String) -> Outcome {
        let content = self.running?.content ?? ""
        if Task.isCancelled || error is CancellationError {
            let byUser = self.running.map { self.state.isCancelledByUser($0.number) } ?? false
            if self.state.isShuttingDown && !byUser {
                return Outcome(
                    message: MessageOutcome(content: content, status: .failed, error: "interrupted by server shutdown"),
                    failure: .shuttingDown, interrupted: true)
            }
            return Outcome(
                message: MessageOutcome(content: content, status: .cancelled, error: "cancelled by the user"))
        }
        if let error = error as? ProviderError {
            self.logger.warning(
                "turn failed",
                metadata: ["chat_id": "\(self.chatID)", "request_id": "\(requestID)", "error": "\(error)"])
            let failure = TurnFailure(error, requestID: requestID)
            return Outcome(
                message: MessageOutcome(content: content, status: .failed, error: failure.detail), failure: failure)
        }
        self.logger.error(
            "turn failed", metadata: ["chat_id": "\(self.chatID)", "request_id": "\(requestID)", "error": "\(error)"])
        return Outcome(
            message: MessageOutcome(content: content, status: .failed, error: "internal error"),
            failure: .internalError)
    }

    private func append(_ delta: String) {
        guard var running = self.running else { return }
        let text = delta.replacingNUL
        let count = text.unicodeScalars.count
        running.content += text
        running.length += count
        running.followers.sendDelta(text, scalarCount: count, end: running.length)
        self.running = running
    }

    // MARK: Following a reply

    /// Adds `continuation` (made with ``ReplyFollowers/makeStream()``) as a follower of the reply being
    /// generated, from `offset` (Unicode scalars): the text from there (nothing before it, and nothing at all
    /// until the reply reaches it), then live deltas and the final event. False if `messageID` is not the
    /// reply being generated now.
    public func follow(messageID: Int64, from offset: Int, into continuation: AsyncStream<TurnEvent>.Continuation)
        -> Bool
    {
        guard var running = self.running, running.assistantID == messageID else { return false }
        if offset < running.length {
            let scalars = running.content.unicodeScalars
            let start = scalars.index(scalars.startIndex, offsetBy: max(0, offset))
            continuation.yield(.delta(String(scalars[start...]), offset: running.length))
        }
        running.followers.add(continuation, from: max(offset, running.length))
        self.running = running
        return true
    }

    /// Cancels the reply being generated; returns it as saved (status `cancelled`), or nil if none runs.
    public func cancelRunningTurn() async -> MessageRecord? {
        guard let running = self.running, let task = self.state.cancelByUser(running.number) else { return nil }
        return await withCheckedContinuation { continuation in
            self.running?.cancellationWaiters.append(continuation)
            task.cancel()
        }
    }

    /// Stops the running turn (saved `cancelled`) and every queued one (never started), and waits until the
    /// running one is saved. Used when the chat's owner is disabled.
    public func cancelAllTurns() async {
        self.perform(self.state.cancelQueued(except: self.running?.number))
        _ = await self.cancelRunningTurn()
    }

    // MARK: Long-poll

    /// Messages after `afterID`, at once if there are any, else as soon as one appears, else `[]` after
    /// `wait`. The reply being generated is returned with its current text. Throws `CancellationError` as soon
    /// as the calling task is cancelled (its client went away).
    /// The first read also checks that the chat is the owner's (``TurnFailure/chatNotFound`` otherwise), so a
    /// long-poll costs no separate lookup; the reads after a change need not.
    public func messages(after afterID: Int64, limit: Int, wait: Duration, ownerID: UUID) async throws
        -> [MessageRecord]
    {
        let (database, chatID) = (self.database, self.chatID)
        let found = try await self.poll(timeout: wait) { (first: Bool) -> [MessageRecord]? in
            guard
                let page = try await database.messages(
                    chatID: chatID, ownerID: first ? ownerID : nil, after: afterID, limit: limit)
            else {
                if first { throw TurnFailure.chatNotFound }
                return nil
            }
            return page.isEmpty ? nil : page
        }
        return found.map { self.overlay($0) } ?? []
    }

    /// A change committed by another process (its notification): wakes whoever waits on this chat.
    public func remoteChanged() {
        self.waiters.changed()
    }

    /// Calls `check` until it returns a value: at once, then each time the chat changes (here or, through the
    /// store's notifications, in another process); nil after `timeout`, or at once while the server shuts down.
    /// A long-poll in progress keeps the session alive across its awaits; throws `CancellationError` as soon as
    /// the calling task is cancelled (its client went away).
    public func poll<T: Sendable>(timeout: Duration, _ check: @Sendable () async throws -> T?) async throws -> T? {
        try await self.poll(timeout: timeout) { _ in try await check() }
    }

    /// ``poll(timeout:_:)`` whose `check` learns whether it is the first.
    func poll<T: Sendable>(timeout: Duration, _ check: @Sendable (_ first: Bool) async throws -> T?) async throws
        -> T?
    {
        try self.state.longPollStarted()
        defer { self.perform(self.state.longPollEnded()) }
        let deadline = ContinuousClock.now + timeout
        let waiterID = self.waiters.makeID()
        var first = true
        while true {
            try Task.checkCancellation()
            let seen = self.waiters.version
            if let found = try await check(first) { return found }
            first = false
            if self.waiters.version != seen { continue }
            if ContinuousClock.now >= deadline || self.state.isShuttingDown { return nil }
            await self.waitForChange(id: waiterID, until: deadline)
        }
    }

    /// The id and current text of the reply being generated, if any.
    public var liveReply: (id: Int64, content: String)? {
        self.running.map { ($0.assistantID, $0.content) }
    }

    /// The current text of the reply being generated over its last saved copy.
    public func overlay(_ messages: [MessageRecord]) -> [MessageRecord] {
        guard let running = self.running else { return messages }
        return messages.map { message in
            guard message.id == running.assistantID else { return message }
            var live = message
            live.content = running.content
            return live
        }
    }

    private func waitForChange(id: Int, until deadline: ContinuousClock.Instant) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                guard !Task.isCancelled else { return continuation.resume() }
                let timer = Task {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    guard !Task.isCancelled else { return }
                    self.waiters.resume(id)
                }
                self.waiters.park(id, continuation, timer: timer)
            }
        } onCancel: {
            Task { await self.resumeWaiter(id) }
        }
    }

    private func resumeWaiter(_ id: Int) {
        self.waiters.resume(id)
    }

    // MARK: Shutdown

    /// Parked long-polls answer now with what they have, and later ones do not wait, so that their
    /// connections can close while the server drains.
    func endLongPolls() {
        self.perform(self.state.endLongPolls())
    }

    /// Whether a reply is being generated or queued, or a title is being written.
    var hasTurns: Bool { self.state.hasTurns }

    /// Cancels the running and queued turns and the title; each turn is saved as failed ("interrupted by
    /// server shutdown"), unless its user had cancelled it, and its clients get 503 or `event: error`.
    func interruptTurns() {
        self.perform(self.state.interruptTurns())
    }
}
