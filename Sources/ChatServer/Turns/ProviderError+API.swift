import ChatProvider
import HTTPTypes

extension ProviderError {
    /// The status and a plain `detail` for the client. Transport and upstream details stay in the log (with
    /// the same request id, which the detail quotes so that a user's report can be matched to it).
    func apiError(requestID: String) -> APIError {
        let reference = "(request id \(requestID))"
        return switch self {
        case .notConfigured:
            APIError(.serviceUnavailable, "AI provider not configured")
        case .rejectedCredentials:
            APIError(.badGateway, "The AI provider refused this server's request \(reference)")
        case .rateLimited(let retryAfter, _):
            APIError(
                .serviceUnavailable,
                "The AI provider is busy; try again shortly",
                headers: [.retryAfter: String(max(1, retryAfter.map { Int(($0.milliseconds + 999) / 1000) } ?? 5))]
            )
        case .queueTimeout:
            APIError(
                .serviceUnavailable,
                "Too many conversations are waiting for the AI provider; try again shortly",
                headers: [.retryAfter: "5"]
            )
        case .upstream:
            APIError(.badGateway, "The AI provider failed to answer \(reference)")
        case .connection:
            APIError(.badGateway, "The AI provider cannot be reached; try again later \(reference)")
        case .timedOut:
            APIError(.gatewayTimeout, "The AI provider did not answer in time \(reference)")
        case .malformedResponse, .streamFailed:
            APIError(.badGateway, "The AI provider's answer broke off \(reference)")
        case .shuttingDown:
            APIError.restarting
        }
    }
}

extension APIError {
    /// 503 for work refused or cut short because this server is shutting down.
    static let restarting = APIError(
        .serviceUnavailable, "The server is restarting; try again in a few seconds", headers: [.retryAfter: "5"])
    /// 503 for a request the database did not answer in time (``StorageError/unavailable``).
    static let databaseUnavailable = APIError(
        .serviceUnavailable, "The database is not answering; try again in a few seconds", headers: [.retryAfter: "5"])
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
