import ChatTurns
import Logging
import ServiceLifecycle

/// Runs after the application in the process's service group, so that on SIGTERM it is told first: it
/// starts the turns' grace period (``ChatSessionRegistry/beginShutdown(grace:)``) and returns at once, and the
/// server then stops accepting connections and drains while running replies finish or are interrupted.
public struct ShutdownGraceService: Service, CustomStringConvertible {
    let backend: ChatBackend

    public init(backend: ChatBackend) {
        self.backend = backend
    }

    /// ServiceLifecycle logs services by their description: name only, never the configuration inside.
    public var description: String { "ShutdownGraceService" }

    public func run() async throws {
        try? await gracefulShutdown()
        let grace = self.backend.config.shutdownGraceSeconds
        self.backend.logger.notice("shutting down", metadata: ["grace_seconds": "\(grace)"])
        self.backend.sessions?.beginShutdown(grace: .seconds(grace))
    }
}
