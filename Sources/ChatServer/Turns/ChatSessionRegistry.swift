import ChatProvider
import ChatStorage
import Foundation
import Logging
import Synchronization

/// Finds or creates the one ``ChatSessionActor`` of a chat.
///
/// At most one live session exists per chat: a session retires itself (and leaves the registry) the moment
/// it is idle, and a call that reaches a retired session is retried on a fresh one.
final class ChatSessionRegistry: Sendable {
    private let sessions = Mutex<[UUID: ChatSessionActor]>([:])
    private let database: DatabaseActor
    private let provider: ProviderActor
    private let settings: TurnSettings
    private let logger: Logger

    init(database: DatabaseActor, provider: ProviderActor, settings: TurnSettings, logger: Logger) {
        self.database = database
        self.provider = provider
        self.settings = settings
        self.logger = logger
    }

    private let shuttingDown = Atomic<Bool>(false)

    /// True once ``beginShutdown(grace:)`` was called: new turns are refused and long-polls do not wait.
    var isShuttingDown: Bool { self.shuttingDown.load(ordering: .acquiring) }

    /// Graceful shutdown: long-polls answer at once; running replies get `grace` to finish, then are cancelled
    /// and saved as interrupted. Returns at once; the returned task ends when every turn has ended.
    @discardableResult
    func beginShutdown(grace: Duration) -> Task<Void, Never> {
        self.shuttingDown.store(true, ordering: .releasing)
        let logger = self.logger
        return Task {
            for session in self.snapshot() { await session.endLongPolls() }
            let deadline = ContinuousClock.now + grace
            while ContinuousClock.now < deadline, await self.hasTurns() {
                try? await Task.sleep(for: .milliseconds(50))
            }
            var interrupted = 0
            for session in self.snapshot() where await session.hasTurns {
                interrupted += 1
                await session.interruptTurns()
            }
            if interrupted > 0 {
                logger.warning(
                    "shutdown grace period over: interrupting replies", metadata: ["chats": "\(interrupted)"])
            }
        }
    }

    private func snapshot() -> [ChatSessionActor] {
        self.sessions.withLock { Array($0.values) }
    }

    private func hasTurns() async -> Bool {
        for session in self.snapshot() where await session.hasTurns { return true }
        return false
    }

    /// Sessions alive now (for tests and diagnostics).
    var liveSessionCount: Int { self.sessions.withLock { $0.count } }

    /// The chat's session if it has one (it may be retiring).
    func existingSession(for chatID: UUID) -> ChatSessionActor? {
        self.sessions.withLock { $0[chatID] }
    }

    /// Runs `body` on the chat's session, creating one if needed and retrying if it retired meanwhile.
    func withSession<T: Sendable>(
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

    private func session(for chatID: UUID) -> ChatSessionActor {
        self.sessions.withLock { sessions in
            if let session = sessions[chatID] { return session }
            let session = ChatSessionActor(
                chatID: chatID,
                database: self.database,
                provider: self.provider,
                settings: self.settings,
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
