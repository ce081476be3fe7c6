/// A request the gate can stream: how one attempt opens its stream upstream, and which of its events reports
/// the tokens the call used (a turn's ``ChatCompletionRequest``, the door's ``PassThroughRequest``).
public protocol GatedStreamRequest: Sendable {
    /// The events of one attempt, read straight from the upstream's response body.
    associatedtype Events: AsyncSequence, Sendable

    /// Opens one attempt: the rate-limit headers and the events, once a 200 head arrived.
    func openStream(through client: GroqClient) async throws -> (RateLimitInfo, Events)

    /// The tokens the upstream reported in `event` (its final one), nil for any other event.
    static func usedTokens(in event: Events.Element) -> Int?
}

extension ProviderActor {
    /// The events of a streamed answer, pulled by the reader straight from the upstream's response body: no
    /// buffer in between, so a reader that slows down slows the transfer (its body stream pauses libcurl)
    /// instead of piling events up in memory. Each attempt holds a slot of the gate (a ``Lease``), given back
    /// when the attempt ends, or when the reader drops the stream. Attempts that fail before the first event
    /// are retried (see ``prepareRetry(after:attempt:)``); once an event was delivered a failure ends the
    /// stream with its error.
    public struct GatedStream<Request: GatedStreamRequest>: AsyncSequence, Sendable {
        public typealias Element = Request.Events.Element
        let provider: ProviderActor
        let request: Request
        let estimatedTokens: Int

        public func makeAsyncIterator() -> Iterator {
            Iterator(stream: self)
        }

        /// One attempt at a time, each holding a ``Lease`` of the gate until it ends.
        public struct Iterator: AsyncIteratorProtocol {
            let stream: GatedStream
            private var attempt = 0
            private var events: Request.Events.AsyncIterator?
            private var lease: Lease?
            private var delivered = false
            private var usedTokens: Int?
            private var isDone = false

            init(stream: GatedStream) {
                self.stream = stream
            }

            public mutating func next() async throws -> Element? {
                try await self.next(isolation: nil)
            }

            /// Runs on the caller's actor: the session that reads a reply does not hop off its actor and back
            /// for every event (only starting an attempt and releasing it visit the gate).
            public mutating func next(isolation actor: isolated (any Actor)?) async throws -> Element? {
                while !self.isDone {
                    guard var events = self.events, let lease = self.lease else {
                        try await self.startAttempt(isolation: actor)
                        continue
                    }
                    do {
                        guard let event = try await events.next(isolation: actor) else {
                            self.isDone = true
                            self.events = nil
                            await lease.release(usedTokens: self.usedTokens)
                            return nil
                        }
                        self.events = events
                        if let used = Request.usedTokens(in: event) { self.usedTokens = used }
                        self.delivered = true
                        return event
                    } catch {
                        self.events = nil
                        self.lease = nil
                        await lease.release(usedTokens: self.usedTokens)
                        if self.delivered { throw error }
                        try await self.stream.provider.prepareRetry(after: error, attempt: &self.attempt)
                    }
                }
                return nil
            }

            /// Waits for a slot and opens the upstream stream; a failure before the head is retried or thrown.
            private mutating func startAttempt(isolation actor: isolated (any Actor)?) async throws {
                let provider = self.stream.provider
                let sharedCall = try await provider.acquire(
                    tokens: self.stream.estimatedTokens, atFront: self.attempt > 0)
                let lease = Lease(
                    provider: provider, estimatedTokens: self.stream.estimatedTokens, sharedCall: sharedCall)
                do {
                    let (info, sequence) = try await self.stream.request.openStream(through: provider.client)
                    lease.info = info
                    self.lease = lease
                    self.events = sequence.makeAsyncIterator()
                } catch {
                    await lease.release(usedTokens: nil)
                    try await provider.prepareRetry(after: error, attempt: &self.attempt)
                }
            }
        }
    }
}
