import ChatProvider
import ChatStorage
import Foundation
import HTTPTypes
import Logging

/// The live state of one chat while it has work: its AI turns and the readers waiting on it.
///
/// - Order: turns run one at a time in arrival order (save the user message → build the context → call the
///   provider → save the reply), so a turn's context contains every earlier turn's reply.
/// - Durability: the reply exists in the database from the start (status `streaming`), its text is saved at
///   least every `flushInterval`, and it ends `complete`, `failed` (with the reason) or `cancelled`.
/// - Independence: a turn runs in its own task; the client that started it may disconnect and the reply is
///   still saved, and can be reattached to while it streams.
/// - Waiters: long-poll readers wait here (not on the database) and are woken by every change.
///
/// Created on demand by ``ChatSessionRegistry`` and retired as soon as it is idle.
actor ChatSessionActor {
    let chatID: UUID
    private let database: DatabaseActor
    private let provider: ProviderActor
    private let settings: TurnSettings
    private let titles: TitleGenerator
    private let logger: Logger
    private let onIdle: @Sendable (ChatSessionActor) -> Void

    private var tail: Task<Void, Never>?
    private var turnTasks: [Int: Task<Void, Never>] = [:]
    private var nextTurnNumber = 0
    private var running: RunningTurn?
    private var nextSubscriberID = 0
    /// Parked long-polls: each resumes on the next change or at its deadline, whichever comes first.
    private var waiters: [Int: (continuation: CheckedContinuation<Void, Never>, timer: Task<Void, Never>)] = [:]
    private var nextWaiterID = 0
    /// Bumped on every change to the chat's messages.
    private var version = 0
    private(set) var isRetired = false
    /// Set at shutdown: long-polls answer at once, and cancelled turns are saved as interrupted.
    private var isShuttingDown = false

    private struct RunningTurn {
        let number: Int
        let assistantID: Int64
        var content = ""
        var length = 0
        var subscribers: [Int: AsyncStream<TurnEvent>.Continuation] = [:]
        var cancellationWaiters: [CheckedContinuation<MessageRecord?, Never>] = []
    }

    init(
        chatID: UUID,
        database: DatabaseActor,
        provider: ProviderActor,
        settings: TurnSettings,
        logger: Logger,
        onIdle: @escaping @Sendable (ChatSessionActor) -> Void
    ) {
        self.chatID = chatID
        self.database = database
        self.provider = provider
        self.settings = settings
        self.titles = TitleGenerator(database: database, provider: provider, logger: logger)
        self.logger = logger
        self.onIdle = onIdle
    }

    /// Thrown by a retired session: ask the registry for a fresh one.
    struct Retired: Error {}

    // MARK: Turns

    /// Queues a turn and returns its events. The turn runs whether or not the events are read.
    func submit(_ content: String) throws -> AsyncStream<TurnEvent> {
        guard !self.isRetired else { throw Retired() }
        let (events, requester) = AsyncStream<TurnEvent>.makeStream()
        let number = self.nextTurnNumber
        self.nextTurnNumber += 1
        let previous = self.tail
        let task = Task {
            await previous?.value
            await self.runTurn(number: number, content: content, requester: requester)
        }
        self.tail = task
        self.turnTasks[number] = task
        return events
    }

    private func runTurn(number: Int, content: String, requester: AsyncStream<TurnEvent>.Continuation) async {
        defer {
            self.turnTasks[number] = nil
            self.retireIfIdle()
        }
        let begun: (user: MessageRecord, assistant: MessageRecord)
        do {
            guard
                let saved = try await self.database.beginTurn(
                    chatID: self.chatID, userContent: content, model: self.settings.model)
            else {
                requester.yield(.failed(.chatNotFound, message: nil))
                requester.finish()
                return
            }
            begun = saved
        } catch {
            self.logger.error("could not start a turn", metadata: ["chat_id": "\(self.chatID)", "error": "\(error)"])
            requester.yield(.failed(APIError(.internalServerError, "Internal server error"), message: nil))
            requester.finish()
            return
        }

        var turn = RunningTurn(number: number, assistantID: begun.assistant.id)
        turn.subscribers[self.newSubscriberID()] = requester
        self.running = turn
        self.changed()
        self.broadcast(.started(user: begun.user, assistant: begun.assistant))

        let outcome = await self.generate(after: begun.user)
        let saved: MessageRecord?
        do {
            saved = try await self.database.finishMessage(id: begun.assistant.id, outcome: outcome.message)
        } catch {
            self.logger.error("could not save a reply", metadata: ["chat_id": "\(self.chatID)", "error": "\(error)"])
            saved = nil
        }
        let final = self.running
        self.running = nil
        self.changed()
        switch (outcome.failure, saved) {
        case (nil, let message?):
            final.map { self.broadcast(.finished(message, usage: outcome.usage), to: $0) }
        case (let failure?, _):
            final.map { self.broadcast(.failed(failure, message: saved), to: $0) }
        case (nil, nil):
            final.map { self.broadcast(.failed(.chatNotFound, message: nil), to: $0) }
        }
        if let final {
            for subscriber in final.subscribers.values { subscriber.finish() }
            for waiter in final.cancellationWaiters { waiter.resume(returning: saved) }
        }

        if outcome.message.status == .complete {
            let titles = self.titles
            let chatID = self.chatID
            Task.detached { await titles.titleChatIfNeeded(chatID) }
        }
    }

    private struct Outcome {
        var message: MessageOutcome
        var usage: TokenUsage?
        var failure: APIError?
    }

    /// Calls the provider and follows the stream; never throws: every ending is an outcome to save.
    private func generate(after userMessage: MessageRecord) async -> Outcome {
        let clock = ContinuousClock()
        var lastFlush = clock.now
        var usage: TokenUsage?
        var model: String?
        var finished = false
        do {
            let history = try await self.database.recentCompleteMessages(
                chatID: self.chatID,
                before: userMessage.id + 1,
                limit: 500
            )
            let messages = ContextBuilder.messages(
                systemPrompt: self.settings.systemPrompt,
                history: history,
                budget: self.settings.contextTokens
            )
            let estimate =
                messages.reduce(0) { $0 + ContextBuilder.estimateTokens($1.content) }
                + self.settings.maxCompletionTokens
            let request = ChatCompletionRequest(
                model: self.settings.model,
                messages: messages,
                maxCompletionTokens: self.settings.maxCompletionTokens
            )
            for try await event in self.provider.stream(request, estimatedTokens: estimate) {
                switch event {
                case .delta(let text):
                    self.append(text)
                    if clock.now - lastFlush >= self.settings.flushInterval, let running = self.running {
                        lastFlush = clock.now
                        try await self.database.updateStreamingContent(
                            messageID: running.assistantID, content: running.content)
                    }
                case .finished(_, let reported, let reportedModel):
                    usage = reported
                    model = reportedModel
                    finished = true
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
        } catch let error as ProviderError {
            self.logger.warning("turn failed", metadata: ["chat_id": "\(self.chatID)", "error": "\(error)"])
            return Outcome(
                message: MessageOutcome(
                    content: self.running?.content ?? "", status: .failed, error: error.apiError.message),
                failure: error.apiError
            )
        } catch is CancellationError where self.isShuttingDown {
            return Outcome(
                message: MessageOutcome(
                    content: self.running?.content ?? "", status: .failed, error: "interrupted by server shutdown"),
                failure: APIError(.serviceUnavailable, "The server shut down before the reply was finished")
            )
        } catch is CancellationError {
            return Outcome(
                message: MessageOutcome(
                    content: self.running?.content ?? "", status: .cancelled, error: "cancelled by the user")
            )
        } catch {
            self.logger.error("turn failed", metadata: ["chat_id": "\(self.chatID)", "error": "\(error)"])
            return Outcome(
                message: MessageOutcome(content: self.running?.content ?? "", status: .failed, error: "internal error"),
                failure: APIError(.internalServerError, "Internal server error")
            )
        }
    }

    private func append(_ text: String) {
        guard var running = self.running else { return }
        running.content += text
        running.length += text.unicodeScalars.count
        self.running = running
        self.broadcast(.delta(text, offset: running.length))
    }

    // MARK: Following a reply

    /// Follows the reply being generated, from `offset` (Unicode scalars), or nil if `messageID` is not
    /// the reply being generated now.
    func follow(messageID: Int64, from offset: Int) -> AsyncStream<TurnEvent>? {
        guard var running = self.running, running.assistantID == messageID else { return nil }
        let (events, continuation) = AsyncStream<TurnEvent>.makeStream()
        if offset < running.length {
            let scalars = running.content.unicodeScalars
            let start = scalars.index(scalars.startIndex, offsetBy: max(0, offset))
            continuation.yield(.delta(String(scalars[start...]), offset: running.length))
        }
        let id = self.newSubscriberID()
        running.subscribers[id] = continuation
        self.running = running
        continuation.onTermination = { _ in Task { await self.unsubscribe(id) } }
        return events
    }

    private func unsubscribe(_ id: Int) {
        self.running?.subscribers[id] = nil
    }

    /// Cancels the reply being generated; returns it as saved (status `cancelled`), or nil if none runs.
    func cancelRunningTurn() async -> MessageRecord? {
        guard let running = self.running, let task = self.turnTasks[running.number] else { return nil }
        return await withCheckedContinuation { continuation in
            self.running?.cancellationWaiters.append(continuation)
            task.cancel()
        }
    }

    private func broadcast(_ event: TurnEvent) {
        guard let running = self.running else { return }
        self.broadcast(event, to: running)
    }

    private func broadcast(_ event: TurnEvent, to turn: RunningTurn) {
        for subscriber in turn.subscribers.values { subscriber.yield(event) }
    }

    private func newSubscriberID() -> Int {
        defer { self.nextSubscriberID += 1 }
        return self.nextSubscriberID
    }

    // MARK: Long-poll

    /// Messages after `afterID`, at once if there are any, else as soon as one appears, else `[]` after
    /// `wait`. The reply being generated is returned with its current text.
    func messages(after afterID: Int64, limit: Int, wait: Duration) async throws -> [MessageRecord] {
        guard !self.isRetired else { throw Retired() }
        let deadline = ContinuousClock.now + wait
        self.nextWaiterID += 1
        let waiterID = self.nextWaiterID
        // A long-poll in progress keeps the session alive across its awaits.
        self.activeLongPolls += 1
        defer {
            self.activeLongPolls -= 1
            self.retireIfIdle()
        }
        while true {
            let seen = self.version
            let found =
                try await self.database.messages(chatID: self.chatID, ownerID: nil, after: afterID, limit: limit) ?? []
            if !found.isEmpty { return self.overlay(found) }
            if self.version != seen { continue }
            if ContinuousClock.now >= deadline || Task.isCancelled || self.isShuttingDown { return [] }
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
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let timer = Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                guard !Task.isCancelled else { return }
                self.waiters.removeValue(forKey: id)?.continuation.resume()
            }
            self.waiters[id] = (continuation, timer)
        }
    }

    private func changed() {
        self.version += 1
        self.wakeWaiters()
    }

    /// Resumes every parked long-poll now (each then looks at the messages again).
    private func wakeWaiters() {
        let waiting = self.waiters
        self.waiters = [:]
        for waiter in waiting.values {
            waiter.timer.cancel()
            waiter.continuation.resume()
        }
    }

    // MARK: Shutdown

    /// Parked long-polls answer now with what they have, and later ones do not wait, so that their
    /// connections can close while the server drains.
    func endLongPolls() {
        self.isShuttingDown = true
        self.wakeWaiters()
    }

    /// Whether a reply is being generated or queued.
    var hasTurns: Bool { !self.turnTasks.isEmpty }

    /// Cancels the running and queued turns; each is saved as failed ("interrupted by server shutdown") and its
    /// clients get 503 or `event: error`.
    func interruptTurns() {
        self.isShuttingDown = true
        for task in self.turnTasks.values { task.cancel() }
    }

    // MARK: Lifetime

    private var isIdle: Bool {
        self.running == nil && self.turnTasks.isEmpty && self.waiters.isEmpty && !self.hasActiveLongPolls
    }

    private var activeLongPolls = 0
    private var hasActiveLongPolls: Bool { self.activeLongPolls > 0 }

    private func retireIfIdle() {
        guard !self.isRetired, self.isIdle else { return }
        self.isRetired = true
        self.onIdle(self)
    }
}
