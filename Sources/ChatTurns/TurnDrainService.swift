import ServiceLifecycle

/// Listed after the provider among the application's services, so that on shutdown it runs once the server
/// has drained and before the provider and the database stop: it waits until every turn has ended and been
/// saved (replies whose clients had already gone included), starting the grace period itself if
/// `ShutdownGraceService` (the HTTP target's) did not.
public struct TurnDrainService: Service, CustomStringConvertible {
    let sessions: ChatSessionRegistry
    let grace: Duration

    public init(sessions: ChatSessionRegistry, grace: Duration) {
        self.sessions = sessions
        self.grace = grace
    }

    public var description: String { "TurnDrainService" }

    public func run() async throws {
        try? await gracefulShutdown()
        await self.sessions.beginShutdown(grace: self.grace).value
    }
}
