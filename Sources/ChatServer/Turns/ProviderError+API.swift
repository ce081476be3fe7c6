import ChatProvider
import HTTPTypes

extension ProviderError {
    /// The status and a `detail` a user can act on. The API key never appears (GroqClient redacts it).
    var apiError: APIError {
        switch self {
        case .notConfigured:
            APIError(.serviceUnavailable, "AI provider not configured")
        case .rejectedCredentials:
            APIError(.badGateway, "The AI provider rejected the server's API key; the operator must fix GROQ_API_KEY")
        case .rateLimited(let retryAfter, _):
            APIError(
                .serviceUnavailable,
                "The AI provider is rate limiting this server; try again shortly",
                headers: [.retryAfter: String(max(1, retryAfter.map { Int(($0.milliseconds + 999) / 1000) } ?? 5))]
            )
        case .queueTimeout:
            APIError(
                .serviceUnavailable,
                "Too many conversations are waiting for the AI provider; try again shortly",
                headers: [.retryAfter: "5"]
            )
        case .upstream(let status, let message):
            APIError(.badGateway, "The AI provider failed (HTTP \(status)): \(message)")
        case .connection:
            APIError(.badGateway, "The AI provider cannot be reached; try again later")
        case .timedOut:
            APIError(.gatewayTimeout, "The AI provider did not answer in time")
        case .malformedResponse(let message), .streamFailed(let message):
            APIError(.badGateway, "The AI provider's answer broke off: \(message)")
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
