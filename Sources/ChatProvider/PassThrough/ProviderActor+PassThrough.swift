extension ProviderActor {
    /// A complete pass-through answer through the gate, with retries (as ``complete(_:estimatedTokens:)``).
    public nonisolated func complete(_ request: PassThroughRequest, estimatedTokens: Int) async throws
        -> PassThroughCompletion
    {
        try await self.gated(estimatedTokens: estimatedTokens, usage: \.usage) {
            try await self.client.complete(request)
        }
    }

    /// A streamed pass-through answer through the gate, retried until its first event as
    /// ``stream(_:estimatedTokens:)`` is; dropping the stream cancels the transfer and gives its slot back.
    public nonisolated func stream(_ request: PassThroughRequest, estimatedTokens: Int) -> PassThroughStream {
        PassThroughStream(provider: self, request: request, estimatedTokens: estimatedTokens)
    }

    /// The events of a streamed pass-through answer (see ``GatedStream``).
    public typealias PassThroughStream = GatedStream<PassThroughRequest>
}

extension PassThroughRequest: GatedStreamRequest {
    public func openStream(through client: GroqClient) async throws -> (RateLimitInfo, PassThroughEventSequence) {
        try await client.stream(self)
    }

    public static func usedTokens(in event: PassThroughEvent) -> Int? {
        guard case .finished(let usage, _) = event else { return nil }
        return usage?.totalTokens
    }
}
