import ChatProvider
import ChatStorage
import Foundation

/// Why a turn did not start, or ended without its reply: what a turn's followers are told
/// (``TurnEvent/failed(_:message:)``). It says what happened, not how a protocol answers it: the HTTP layer gives
/// each a status (see `APIError.init(_: TurnFailure)`).
public enum TurnFailure: Error, Sendable {
    /// The chat does not exist, or is not the requester's.
    case chatNotFound
    /// Stopped by its user, an admin, or the account being disabled.
    case cancelled
    /// Refused or cut short because this server is shutting down.
    case shuttingDown
    /// The user's token quota is spent.
    case quotaExceeded(QuotaRefusal)
    /// The database did not answer in time.
    case databaseUnavailable
    /// The AI provider failed; `requestID` names the request in the log and in what the client is told.
    case provider(ProviderError, requestID: String)
    /// Anything else (logged where it happened).
    case internalError
    /// A reply that had failed already, as saved (its `error`): what a reader who reattaches after its end is told.
    case saved(reason: String)

    /// How a turn whose provider call threw `error` failed.
    init(_ error: ProviderError, requestID: String) {
        if case .shuttingDown = error {
            self = .shuttingDown
        } else {
            self = .provider(error, requestID: requestID)
        }
    }

    /// What the client reads, and what a failed reply saves as its `error`.
    public var detail: String {
        switch self {
        case .chatNotFound: "Chat not found"
        case .cancelled: "The reply was cancelled"
        case .shuttingDown: Self.restartingDetail
        case .quotaExceeded(let refusal): refusal.detail
        case .databaseUnavailable: "The database is not answering; try again in a few seconds"
        case .provider(let error, let requestID): error.detail(requestID: requestID)
        case .internalError: "Internal server error"
        case .saved(let reason): reason
        }
    }

    public static let restartingDetail = "The server is restarting; try again in a few seconds"
}

extension ProviderError {
    /// A plain sentence for the client (saved with a failed reply too). Transport and upstream details stay in
    /// the log, with the request id, which the sentence quotes so that a user's report can be matched to it.
    public func detail(requestID: String) -> String {
        let reference = "(request id \(requestID))"
        return switch self {
        case .notConfigured: "AI provider not configured"
        case .rejectedCredentials: "The AI provider refused this server's request \(reference)"
        case .rateLimited: "The AI provider is busy; try again shortly"
        case .queueTimeout: "Too many conversations are waiting for the AI provider; try again shortly"
        case .upstream: "The AI provider failed to answer \(reference)"
        case .connection: "The AI provider cannot be reached; try again later \(reference)"
        case .timedOut: "The AI provider did not answer in time \(reference)"
        case .malformedResponse, .streamFailed: "The AI provider's answer broke off \(reference)"
        case .shuttingDown: TurnFailure.restartingDetail
        }
    }
}
