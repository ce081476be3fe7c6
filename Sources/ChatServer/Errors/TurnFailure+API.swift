import ChatProvider
import ChatTurns
import HTTPTypes

extension APIError {
    /// The status (and headers) a turn's failure is answered with, as a JSON error or an SSE `error` event.
    init(_ failure: TurnFailure) {
        switch failure {
        case .chatNotFound: self = .chatNotFound
        case .cancelled: self = .turnCancelled
        case .shuttingDown: self = .restarting
        case .quotaExceeded(let refusal): self = APIError(refusal)
        case .databaseUnavailable: self = .databaseUnavailable
        case .provider(let error, let requestID): self = error.apiError(requestID: requestID)
        case .internalError: self = APIError(.internalServerError, failure.detail)
        case .saved(let reason):
            // 503 when the server generating it stopped, 500 for an internal error, else 502: the upstream failed.
            let status: HTTPResponse.Status =
                reason.hasPrefix("interrupted")
                ? .serviceUnavailable : reason == "internal error" ? .internalServerError : .badGateway
            self = APIError(status, reason)
        }
    }

    /// 429 naming the quota and its reset, with `Retry-After` in seconds until then.
    init(_ refusal: QuotaRefusal) {
        self = APIError(.tooManyRequests, refusal.detail, headers: [.retryAfter: String(refusal.secondsToReset)])
    }

    /// A turn stopped by its user, an admin, or the account being disabled (409).
    static let turnCancelled = APIError.conflict(TurnFailure.cancelled.detail)
    /// 503 for work refused or cut short because this server is shutting down.
    static let restarting = APIError(
        .serviceUnavailable, TurnFailure.restartingDetail, headers: [.retryAfter: "5"])
    /// 503 for a request the database did not answer in time (``StorageError/unavailable``).
    static let databaseUnavailable = APIError(
        .serviceUnavailable, TurnFailure.databaseUnavailable.detail, headers: [.retryAfter: "5"])
}

extension ProviderError {
    /// The status and the plain ``detail(requestID:)`` for the client (with `Retry-After` where waiting helps).
    func apiError(requestID: String) -> APIError {
        let detail = self.detail(requestID: requestID)
        return switch self {
        case .notConfigured: APIError(.serviceUnavailable, detail)
        case .rejectedCredentials, .upstream, .connection, .malformedResponse, .streamFailed:
            APIError(.badGateway, detail)
        case .rateLimited(let retryAfter, _):
            APIError(
                .serviceUnavailable, detail,
                headers: [.retryAfter: String(max(1, retryAfter.map { Int(($0.milliseconds + 999) / 1000) } ?? 5))])
        case .queueTimeout: APIError(.serviceUnavailable, detail, headers: [.retryAfter: "5"])
        case .timedOut: APIError(.gatewayTimeout, detail)
        case .shuttingDown: APIError.restarting
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
