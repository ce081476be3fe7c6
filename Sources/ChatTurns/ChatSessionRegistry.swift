import ChatProvider
import ChatStorage
import Foundation
import Logging
import Synchronization

/// Finds or creates the one ``ChatSessionActor`` of a chat.
///
/// At most one live session exists per chat: a session retires itself (and leaves the registry) the moment
/// it is idle, and a call that reaches a retired session is retried on a fresh one.
public final class ChatSessionRegistry: Sendable {
    private let sessions = Mutex<[UUID: ChatSessionActor]>([:])
    private let database: any ChatStore
    private let provider: ProviderActor
    private let settings: TurnSettings
    private let accounting: TurnAccounting
    private let logger: Logger

    /// Sessions that run turns against `database` and `provider` with `settings`; quotas counted by `quotas`,
    /// figures recorded in `metrics` (nil: none).
    public init(
        database: any ChatStore, provider: ProviderActor, settings: TurnSettings, quotas: QuotaPolicy,
        metrics: TurnMetrics?, logger: Logger
    ) {
        self.database = database
        self.provider = provider
        self.settings = settings
        self.accounting = TurnAccounting(quotas: quotas, metrics: metrics)
        self.logger = logger
    }

    /// The shutdown in progress, once ``beginShutdown(grace:)`` was called.
    private let shutdown = Mutex<Task<Void, Never>?>(nil)

    /// True once ``beginShutdown(grace:)`` was called: new turns are refused and long-polls do not wait.
    public var isShuttingDown: Bool { self.shutdown.withLock { $0 != nil } }

    /// Graceful shutdown: long-polls answer at once; running replies get `grace` to finish, then are cancelled
    /// and saved as interrupted. Returns at once (a second call returns the first one's task); the task ends
    /// when every turn has ended and been saved, or 5 s after the interruption at the latest.
    @discardableResult
    public func beginShutdown(grace: Duration) -> Task<Void, Never> {
        self.shutdown.withLock { shutdown in
            if let shutdown { return shutdown }
            let logger = self.logger
            let task = Task {
                for session in self.snapshot() { await session.endLongPolls() }
                _ = await self.turnsEnd(within: grace)
                var interrupted = 0
                for session in self.snapshot() where await session.hasTurns {
                    interrupted += 1
                    await session.interruptTurns()
                }
                guard interrupted > 0 else { return }
                logger.warning(
                    "shutdown grace period over: interrupting replies", metadata: ["chats": "\(interrupted)"])
                if !(await self.turnsEnd(within: .seconds(5))) {
                    logger.error("replies still running 5 s after they were interrupted")
                }
            }
            shutdown = task
            return task
        }
    }

    /// Waits until no session has a turn, for at most `timeout`; returns whether they all ended.
    private func turnsEnd(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while await self.hasTurns() {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }

    private func snapshot() -> [ChatSessionActor] {
        self.sessions.withLock { Array($0.values) }
    }

    private func hasTurns() async -> Bool {
        for session in self.snapshot() where await session.hasTurns { return true }
        return false
    }

    /// A change another process committed (a notification of the shared store): wakes the chat's waiters, or
    /// cancels its running reply. ``StoreEvent/resynchronized`` wakes every chat's waiters (changes may have
    /// been missed).
    public func handle(_ event: StoreEvent) {
        switch event {
        case .messagesChanged(let chatID):
            guard let session = self.existingSession(for: chatID) else { return }
            Task { await session.remoteChanged() }
        case .cancelRequested(let chatID):
            guard let session = self.existingSession(for: chatID) else { return }
            Task { _ = await session.cancelRunningTurn() }
        case .resynchronized:
            for session in self.snapshot() { Task { await session.remoteChanged() } }
        case .userChanged, .upstreamPaused:
            break
        }
    }

    /// Sessions with a running or queued turn now.
    public func sessionsWithTurns() async -> [ChatSessionActor] {
        var found: [ChatSessionActor] = []
        for session in self.snapshot() where await session.hasTurns { found.append(session) }
        return found
    }

    /// Sessions alive now (for tests and diagnostics).
    var liveSessionCount: Int { self.sessions.withLock { $0.count } }

    /// The chat's session if it has one (it may be retiring).
    public func existingSession(for chatID: UUID) -> ChatSessionActor? {
        self.sessions.withLock { $0[chatID] }
    }

    /// Runs `body` on the chat's session, creating one if needed and retrying if it retired meanwhile.
    /// `@inlinable`: every turn and long-poll of the HTTP target enters a session here, so the loop is
    /// specialised for the caller's `T` rather than called through generic metadata across the module boundary.
    @inlinable
    public func withSession<T: Sendable>(
        for chatID: UUID,
        _ body: (ChatSessionActor) async throws -> T
    ) async throws -> T {
        while true {
            let session = self.session(for: chatID)
            do {
                return try await body(session)
            } catch is ChatSessionActor.Retired {
                continue
            }
        }
    }

    @usableFromInline
    func session(for chatID: UUID) -> ChatSessionActor {
        self.sessions.withLock { sessions in
            if let session = sessions[chatID] { return session }
            let session = ChatSessionActor(
                chatID: chatID,
                database: self.database,
                provider: self.provider,
                settings: self.settings,
                accounting: self.accounting,
                logger: self.logger,
                onIdle: { [weak self] retired in self?.remove(retired) }
            )
            sessions[chatID] = session
            return session
        }
    }

    private func remove(_ session: ChatSessionActor) {
        self.sessions.withLock { sessions in
            if sessions[session.chatID] === session { sessions[session.chatID] = nil }
        }
    }
}
