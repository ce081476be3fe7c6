/// What one kind of streamed answer makes of the upstream's `data:` payloads: a turn's text deltas
/// (``ChatChunkReader``) or the door's chunks as sent (``PassThroughChunkReader``).
public protocol UpstreamChunkReader: Sendable {
    associatedtype Event: Sendable

    /// Appends the events of a payload other than `[DONE]`; throws ``ProviderError/streamFailed(_:)`` when it
    /// is not a chunk of the wire format, or carries an `error` (its message passed through `redact`).
    mutating func read(_ payload: String, redact: (String) -> String, into events: inout [Event]) throws

    /// The event `[DONE]` makes: the end of the answer, with what the chunks before it reported.
    func finished() -> Event
}

/// A streamed chunk as a ``UpstreamChunkReader`` reads it: nil when the payload is not one.
protocol UpstreamChunk {
    /// The message of the chunk's `error` object, when it carries one.
    var errorMessage: String? { get }
}

extension UpstreamChunk {
    /// `chunk` when the payload was one and carries no `error`; otherwise ``ProviderError/streamFailed(_:)``
    /// (with the upstream's message passed through `redact`).
    static func accepted(_ chunk: Self?, redact: (String) -> String) throws -> Self {
        guard let chunk else { throw ProviderError.streamFailed("a stream event is not valid JSON") }
        if let error = chunk.errorMessage { throw ProviderError.streamFailed(redact(error)) }
        return chunk
    }
}

/// The events of a streamed completion, parsed from the response body's Server-Sent Events by `Reader`.
///
/// Ends after `data: [DONE]` with the reader's finished event. A `data:` line carrying an `error` object, a
/// body that ends without `[DONE]`, or a broken connection throw ``ProviderError/streamFailed(_:)`` (or
/// ``ProviderError/timedOut(_:)`` when the idle timeout fired).
public struct UpstreamEventSequence<Reader: UpstreamChunkReader>: AsyncSequence, Sendable {
    public typealias Element = Reader.Event
    let bytes: CurlBodyStream
    let redact: @Sendable (String) -> String
    /// The reader before the first payload.
    let chunks: Reader

    public func makeAsyncIterator() -> Iterator {
        Iterator(reader: UpstreamEventReader(self.bytes), redact: self.redact, chunks: self.chunks)
    }

    /// Reads the body chunk by chunk; the events of the payloads each chunk completes wait in `pending`.
    public struct Iterator: AsyncIteratorProtocol {
        var reader: UpstreamEventReader
        let redact: @Sendable (String) -> String
        var chunks: Reader
        var pending: [Element] = []
        var finished = false

        init(reader: UpstreamEventReader, redact: @escaping @Sendable (String) -> String, chunks: Reader) {
            self.reader = reader
            self.redact = redact
            self.chunks = chunks
        }

        public mutating func next() async throws -> Element? {
            try await self.next(isolation: nil)
        }

        /// Runs on the caller's actor (no hop off it and back for every event).
        public mutating func next(isolation actor: isolated (any Actor)?) async throws -> Element? {
            while true {
                if !self.pending.isEmpty { return self.pending.removeFirst() }
                if self.finished { return nil }
                for payload in try await self.reader.next(isolation: actor) {
                    try self.handle(payload)
                }
            }
        }

        private mutating func handle(_ payload: String) throws {
            guard !self.finished else { return }
            if payload == "[DONE]" {
                self.finished = true
                self.pending.append(self.chunks.finished())
                return
            }
            try self.chunks.read(payload, redact: self.redact, into: &self.pending)
        }
    }
}
