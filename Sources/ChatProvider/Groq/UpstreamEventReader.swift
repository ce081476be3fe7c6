/// The `data:` payloads of an upstream response body, read chunk by chunk: what both streamed answers (a
/// turn's ``ChatEventSequence`` and the door's ``PassThroughEventSequence``) read before they interpret them.
///
/// A broken connection throws ``ProviderError/streamFailed(_:)`` (``ProviderError/timedOut(_:)`` when the idle
/// timeout fired); a body that ends throws `CancellationError` when the reading task was cancelled, else
/// hands over the last unterminated event, else throws "the stream ended without [DONE]" (the interpreter
/// stops reading once it has seen `[DONE]`).
struct UpstreamEventReader {
    private var bytes: CurlBodyStream.Iterator
    private var parser = ServerSentEventParser()

    init(_ bytes: CurlBodyStream) {
        self.bytes = bytes.makeAsyncIterator()
    }

    /// The payloads of the events the next chunk completes (possibly none).
    mutating func next(isolation actor: isolated (any Actor)?) async throws -> [String] {
        let chunk: [UInt8]?
        do {
            chunk = try await self.bytes.next(isolation: actor)
        } catch let error as CurlError {
            switch GroqClient.providerError(for: error) {
            case .timedOut(let message): throw ProviderError.timedOut(message)
            default: throw ProviderError.streamFailed("the connection broke: \(error)")
            }
        }
        guard let chunk else {
            // The reading task was cancelled: the body ended because of that, not because the upstream
            // stopped early.
            if Task.isCancelled { throw CancellationError() }
            if let last = self.parser.finish() { return [last] }
            throw ProviderError.streamFailed("the stream ended without [DONE]")
        }
        return self.parser.feed(chunk)
    }
}
