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
