import ChatProvider
import ChatStorage
import Foundation
import Logging
import Metrics

/// The live state of one chat while it has work: its AI turns, their followers and the long-polls waiting on it.
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
/// Created on demand by ``ChatSessionRegistry`` and retired as soon as it is idle.
actor ChatSessionActor {
    let chatID: UUID
    private let database: any ChatStore
    private let provider: ProviderActor
    private let settings: TurnSettings
    private let accounting: TurnAccounting
    private let titles: TitleGenerator
    private let logger: Logger
    private let onIdle: @Sendable (ChatSessionActor) -> Void

    private var tail: Task<Void, Never>?
    private var turnTasks: [Int: Task<Void, Never>] = [:]
    private var nextTurnNumber = 0
    private var running: RunningTurn?
    /// The background title of the chat, after its first reply; part of the session's work until it ends.
    private var titleTask: Task<Void, Never>?
    private var waiters = ChangeWaiters()
    private var nextWaiterID = 0
    /// Long-polls between their start and their answer (parked or reading the database).
    private var activeLongPolls = 0
    /// Bumped on every change to the chat's messages.
    private var version = 0
    private(set) var isRetired = false
    /// Set at shutdown: long-polls answer at once, and turns cancelled from now on are saved as interrupted.
    private var isShuttingDown = false

    private struct RunningTurn {
        let number: Int
        let assistantID: Int64
        var content = ""
        var length = 0
        var followers = ReplyFollowers()
        var cancellationWaiters: [CheckedContinuation<MessageRecord?, Never>] = []
        /// Set when a user (or an admin acting on the user) stopped the turn: it is saved `cancelled`, also
        /// during the shutdown grace period.
        var cancelledByUser = false
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
        self.titles = TitleGenerator(database: database, provider: provider, accounting: accounting, logger: logger)
        self.logger = logger
        self.onIdle = onIdle
    }

    /// Thrown by a retired session: ask the registry for a fresh one.
    struct Retired: Error {}

    // MARK: Turns

    /// Queues a turn (`input`: a message, a regenerated reply, an edit); its events go to `requester` (made
    /// with ``ReplyFollowers/makeStream()``). The turn runs whether or not the events are read. `requestID` names the request in logs and in client-facing errors.
    /// `account`: whose quotas the turn counts against, and whose chat this must be (a chat of someone else's
    /// ends the turn as ``TurnFailure/chatNotFound``, as a missing one does, before anything is saved). `model`:
    /// the turn's own choice (an offered model), else the chat's, else the default.
    func submit(
        _ input: TurnInput, model: String? = nil, account: TurnAccount,
        requester: AsyncStream<TurnEvent>.Continuation, wantsDeltas: Bool, requestID: String
    ) throws {
        guard !self.isRetired else { throw Retired() }
        let number = self.nextTurnNumber
        self.nextTurnNumber += 1
        let previous = self.tail
        let task = Task {
            await previous?.value
            await self.runTurn(
                number: number, input: input, model: model, account: account,
                requester: requester, wantsDeltas: wantsDeltas, requestID: requestID)
        }
        self.tail = task
        self.turnTasks[number] = task
    }

    private func runTurn(
        number: Int, input: TurnInput, model: String?, account: TurnAccount,
        requester: AsyncStream<TurnEvent>.Continuation, wantsDeltas: Bool, requestID: String
    ) async {
        defer {
            self.turnTasks[number] = nil
            self.retireIfIdle()
        }
        // Stopped while still queued (user disabled, server shutting down): nothing was saved, nothing starts.
        if Task.isCancelled {
            return Self.refuse(requester, self.isShuttingDown ? .shuttingDown : .cancelled)
        }
        let begun: BegunTurn
        do {
            guard let saved = try await self.beginTurn(input, model: model, account: account) else {
                return Self.refuse(requester, .chatNotFound)
            }
            begun = saved
        } catch {
            return Self.refuse(requester, self.startFailure(error, account: account, requestID: requestID))
        }

        var turn = RunningTurn(number: number, assistantID: begun.assistant.id)
        turn.followers.add(requester, wantsDeltas: wantsDeltas)
        turn.followers.send(.started(user: begun.user, assistant: begun.assistant))
        self.running = turn
        self.changed()

        let outcome = await self.generateHoldingTitle(begun, account: account, requestID: requestID)
        self.record(outcome)
        let saved: MessageRecord?
        do {
            saved = try await self.database.finishMessage(id: begun.assistant.id, outcome: outcome.message)
        } catch {
            self.logger.error(
                "could not save a reply",
                metadata: ["chat_id": "\(self.chatID)", "request_id": "\(requestID)", "error": "\(error)"])
            saved = nil
        }
        guard var final = self.running else { return }
        self.running = nil
        self.changed()
        switch (outcome.failure, saved) {
        case (nil, let message?): final.followers.finish(with: .finished(message, usage: outcome.usage))
        case (let failure?, _): final.followers.finish(with: .failed(failure, message: saved))
        case (nil, nil): final.followers.finish(with: .failed(.chatNotFound, message: nil))
        }
        for waiter in final.cancellationWaiters { waiter.resume(returning: saved) }

        // A titled chat stays titled: a turn into one does not look for a title to write.
        if begun.untitled, !begun.holdsTitle, outcome.message.status == .complete, self.titleTask == nil,
            !self.isShuttingDown
        {
            let titles = self.titles
            let chatID = self.chatID
            self.titleTask = Task {
                await titles.titleChatIfNeeded(chatID)
                self.titleEnded()
            }
        }
    }

    /// A turn whose start is saved, with the context it sends.
    private struct BegunTurn {
        let user: MessageRecord
        let assistant: MessageRecord
        let context: [ChatMessage]
        /// The model the turn asks for.
        let model: String
        /// The context's estimated tokens (what a reply cut off before the upstream's usage is charged).
        let promptEstimate: Int
        /// The chat had no title when the context was read.
        let untitled: Bool
        /// The turn's reservation holds the chat's title too: it is made during the turn.
        var holdsTitle = false
    }

    /// Ends a turn that did not start: its requester is told `failure`.
    private static func refuse(_ requester: AsyncStream<TurnEvent>.Continuation, _ failure: TurnFailure) {
        requester.yield(.failed(failure, message: nil))
        requester.finish()
    }

    /// What the requester of a turn whose start threw `error` is told (logged and counted here).
    private func startFailure(_ error: any Error, account: TurnAccount, requestID: String) -> TurnFailure {
        switch error {
        case StorageError.quotaExceeded(let period):
            self.accounting.metrics?.turnEnded(.refused)
            return .quotaExceeded(self.accounting.quotas.refusal(period, limits: account.limits))
        case is CancellationError:
            return self.isShuttingDown ? .shuttingDown : .cancelled
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

    /// Reads the context and saves the turn's start, reserving against the user's quotas the most the turn can
    /// cost: its prompt's bound in tokens (``ContextBuilder/maximumTokens(of:)``), the most the reply may write,
    /// and in an untitled chat the title's bound (``TitleGenerator/maximumTokens(source:)``). While another
    /// process is generating a reply in this chat (a replica on the same PostgreSQL), or when it saved a message
    /// after the context was read, waits for that chat to change (its notification, or a second at most) and
    /// starts again, so turns of one chat run one after the other across processes and each context holds every
    /// earlier reply.
    /// The chat's own model and system prompt are read with the context, so a change to them applies from the
    /// next turn on.
    private func beginTurn(_ input: TurnInput, model chosen: String?, account: TurnAccount) async throws
        -> BegunTurn?
    {
        while true {
            let seen = self.version
            do {
                // A new message with nothing to reserve (the reservation is computed from the context): read
                // and begun in one step where the store can.
                if input.placement == .activePath, let content = input.userContent,
                    !self.accounting.reserves(for: account)
                {
                    return try await self.beginReadingContext(content, model: chosen, account: account)
                }
                return try await self.readThenBegin(input, model: chosen, account: account)
            } catch StorageError.chatBusy {
                try Task.checkCancellation()
                if self.version == seen {
                    self.nextWaiterID += 1
                    await self.waitForChange(id: self.nextWaiterID, until: .now + .seconds(1))
                }
                try Task.checkCancellation()
            }
        }
    }

    /// The most messages of history a context is built from (before the token budget trims it).
    private static let historyLimit = 500

    /// The history a turn reads: no more than its context can hold.
    private var historyWindow: HistoryWindow {
        HistoryWindow(messages: Self.historyLimit, tokens: self.settings.contextTokens)
    }

    /// How this turn's model is chosen: its own, else the chat's if on offer now, else the default.
    private func modelChoice(_ chosen: String?) -> ModelChoice {
        ModelChoice(chosen: chosen, offered: self.settings.models.entries.map(\.id), fallback: self.settings.model)
    }

    /// A new message after the active path with nothing to reserve: the store reads and begins together.
    private func beginReadingContext(_ content: String, model chosen: String?, account: TurnAccount) async throws
        -> BegunTurn?
    {
        let choice = self.modelChoice(chosen)
        guard
            let started = try await self.database.beginTurnReadingContext(
                chatID: self.chatID, ownerID: account.userID, userContent: content, history: self.historyWindow,
                model: choice)
        else { return nil }
        let context = ContextBuilder.messages(
            systemPrompt: started.systemPrompt ?? self.settings.systemPrompt,
            history: [started.user] + started.history, budget: self.settings.contextTokens)
        return BegunTurn(
            user: started.user, assistant: started.assistant, context: context,
            model: started.assistant.model ?? choice.resolved(chatModel: nil),
            promptEstimate: ContextBuilder.estimateTokens(of: context), untitled: started.title == nil)
    }

    /// Any other turn: the context is read first, as the reservation and a branch's path are computed from it.
    private func readThenBegin(_ input: TurnInput, model chosen: String?, account: TurnAccount) async throws
        -> BegunTurn?
    {
        guard
            let read = try await self.database.turnContext(
                chatID: self.chatID, ownerID: account.userID, window: self.historyWindow, placement: input.placement)
        else { return nil }
        // The user's message as it will be saved: the newest of the history (a regenerated reply answers the
        // newest of it already).
        let pending = input.userContent.map {
            MessageRecord(
                id: read.lastMessageID + 1, chatID: self.chatID, role: .user, content: $0, createdAt: .now(),
                status: .complete, parentID: read.parentID)
        }
        let model = self.modelChoice(chosen).resolved(chatModel: read.model)
        let context = ContextBuilder.messages(
            systemPrompt: read.systemPrompt ?? self.settings.systemPrompt,
            history: (pending.map { [$0] } ?? []) + read.history, budget: self.settings.contextTokens)
        let promptEstimate = ContextBuilder.estimateTokens(of: context)
        // The most this turn can cost: its prompt's bound, the most its reply may write, and an untitled chat's
        // title call (its source is this message when the path before it is empty).
        let untitled = read.title == nil
        let titleBound =
            untitled ? TitleGenerator.maximumTokens(source: read.history.isEmpty ? input.userContent : nil) : 0
        let reservation = self.accounting.reservation(
            for: account,
            tokens: ContextBuilder.maximumTokens(of: context) + self.settings.maxCompletionTokens + titleBound)
        guard
            let saved = try await self.database.beginTurn(
                chatID: self.chatID, placement: input.placement, parentID: read.parentID,
                userContent: input.userContent, model: model, contextThrough: read.lastMessageID,
                reservation: reservation)
        else { return nil }
        return BegunTurn(
            user: saved.user, assistant: saved.assistant, context: context, model: model,
            promptEstimate: promptEstimate, untitled: untitled, holdsTitle: untitled && reservation != nil)
    }

    /// The turn's metrics: how it ended, and the tokens it was charged.
    private func record(_ outcome: Outcome) {
        guard let metrics = self.accounting.metrics else { return }
        if let charge = outcome.message.charge { metrics.accounted(charge) }
        switch outcome.message.status {
        case .complete: metrics.turnEnded(.complete)
        case .cancelled: metrics.turnEnded(.cancelled)
        case .failed, .streaming: metrics.turnEnded(outcome.interrupted ? .interrupted : .failed)
        }
    }

    private func titleEnded() {
        self.titleTask = nil
        self.retireIfIdle()
    }

    private struct Outcome {
        var message: MessageOutcome
        var usage: TokenUsage?
        var failure: TurnFailure?
        /// Cut short by the server's shutdown.
        var interrupted = false
    }

    /// ``generate(_:account:requestID:)``; a title held in the turn's reservation is made beside the reply and
    /// written before the reply ends (which gives the reservation back). A reply that does not complete, or a
    /// turn cancelled meanwhile, stops the title's call.
    private func generateHoldingTitle(_ begun: BegunTurn, account: TurnAccount, requestID: String) async -> Outcome {
        guard begun.holdsTitle else { return await self.generate(begun, account: account, requestID: requestID) }
        let (titles, chatID) = (self.titles, self.chatID)
        let titling = Task { await titles.name(chatID) }
        return await withTaskCancellationHandler {
            let outcome = await self.generate(begun, account: account, requestID: requestID)
            if outcome.message.status != .complete { titling.cancel() }
            if let named = await titling.value { await titles.save(named) }
            return outcome
        } onCancel: {
            titling.cancel()
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
        let metrics = self.accounting.metrics
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
                model: begun.model,
                messages: begun.context,
                maxCompletionTokens: self.settings.maxCompletionTokens
            )
            let estimate = begun.promptEstimate + self.settings.maxCompletionTokens
            for try await event in self.provider.stream(request, estimatedTokens: estimate) {
                switch event {
                case .delta(let text):
                    if firstToken {
                        firstToken = false
                        metrics?.timeToFirstToken.record(duration: clock.now - sent)
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
                    metrics?.upstreamDuration.record(duration: clock.now - sent)
                }
            }
            // A cancelled task ends the iteration quietly (no error): tell that apart from a finished reply.
            if Task.isCancelled { throw CancellationError() }
            guard finished else { throw ProviderError.streamFailed("the answer ended early") }
            return Outcome(
                message: MessageOutcome(
                    content: self.running?.content ?? "",
                    status: .complete,
                    model: model,
                    promptTokens: usage?.promptTokens,
                    completionTokens: usage?.completionTokens
                ),
                usage: usage
            )
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
            if self.isShuttingDown && self.running?.cancelledByUser != true {
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
    func follow(messageID: Int64, from offset: Int, into continuation: AsyncStream<TurnEvent>.Continuation) -> Bool {
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
    func cancelRunningTurn() async -> MessageRecord? {
        guard let running = self.running, let task = self.turnTasks[running.number] else { return nil }
        return await withCheckedContinuation { continuation in
            self.running?.cancellationWaiters.append(continuation)
            self.running?.cancelledByUser = true
            task.cancel()
        }
    }

    /// Stops the running turn (saved `cancelled`) and every queued one (never started), and waits until the
    /// running one is saved. Used when the chat's owner is disabled.
    func cancelAllTurns() async {
        let queued = self.turnTasks.filter { $0.key != self.running?.number }
        for task in queued.values { task.cancel() }
        _ = await self.cancelRunningTurn()
    }

    // MARK: Long-poll

    /// Messages after `afterID`, at once if there are any, else as soon as one appears, else `[]` after
    /// `wait`. The reply being generated is returned with its current text. Throws `CancellationError` as soon
    /// as the calling task is cancelled (its client went away).
    /// The first read also checks that the chat is the owner's (``TurnFailure/chatNotFound`` otherwise), so a
    /// long-poll costs no separate lookup; the reads after a change need not.
    func messages(after afterID: Int64, limit: Int, wait: Duration, ownerID: UUID) async throws -> [MessageRecord] {
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
    func remoteChanged() {
        self.changed()
    }

    /// Calls `check` until it returns a value: at once, then each time the chat changes (here or, through the
    /// store's notifications, in another process); nil after `timeout`, or at once while the server shuts down.
    /// A long-poll in progress keeps the session alive across its awaits; throws `CancellationError` as soon as
    /// the calling task is cancelled (its client went away).
    func poll<T: Sendable>(timeout: Duration, _ check: @Sendable () async throws -> T?) async throws -> T? {
        try await self.poll(timeout: timeout) { _ in try await check() }
    }

    /// ``poll(timeout:_:)`` whose `check` learns whether it is the first.
    func poll<T: Sendable>(timeout: Duration, _ check: @Sendable (_ first: Bool) async throws -> T?) async throws
        -> T?
    {
        guard !self.isRetired else { throw Retired() }
        let deadline = ContinuousClock.now + timeout
        self.nextWaiterID += 1
        let waiterID = self.nextWaiterID
        self.activeLongPolls += 1
        defer {
            self.activeLongPolls -= 1
            self.retireIfIdle()
        }
        var first = true
        while true {
            try Task.checkCancellation()
            let seen = self.version
            if let found = try await check(first) { return found }
            first = false
            if self.version != seen { continue }
            if ContinuousClock.now >= deadline || self.isShuttingDown { return nil }
            await self.waitForChange(id: waiterID, until: deadline)
        }
    }

    /// The id and current text of the reply being generated, if any.
    var liveReply: (id: Int64, content: String)? {
        self.running.map { ($0.assistantID, $0.content) }
    }

    /// The current text of the reply being generated over its last saved copy.
    func overlay(_ messages: [MessageRecord]) -> [MessageRecord] {
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

    private func changed() {
        self.version += 1
        self.waiters.resumeAll()
    }

    // MARK: Shutdown

    /// Parked long-polls answer now with what they have, and later ones do not wait, so that their
    /// connections can close while the server drains.
    func endLongPolls() {
        self.isShuttingDown = true
        self.waiters.resumeAll()
    }

    /// Whether a reply is being generated or queued, or a title is being written.
    var hasTurns: Bool { !self.turnTasks.isEmpty || self.titleTask != nil }

    /// Cancels the running and queued turns and the title; each turn is saved as failed ("interrupted by
    /// server shutdown"), unless its user had cancelled it, and its clients get 503 or `event: error`.
    func interruptTurns() {
        self.isShuttingDown = true
        for task in self.turnTasks.values { task.cancel() }
        self.titleTask?.cancel()
    }

    // MARK: Lifetime

    private var isIdle: Bool {
        self.running == nil && self.turnTasks.isEmpty && self.titleTask == nil && self.waiters.isEmpty
            && self.activeLongPolls == 0
    }

    private func retireIfIdle() {
        guard !self.isRetired, self.isIdle else { return }
        self.isRetired = true
        self.onIdle(self)
    }
}
