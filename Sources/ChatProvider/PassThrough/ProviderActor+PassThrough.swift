extension ProviderActor {
    /// A complete pass-through answer through the gate, with retries (as ``complete(_:estimatedTokens:)``).
    public nonisolated func complete(_ request: PassThroughRequest, estimatedTokens: Int) async throws
        -> PassThroughCompletion
    {
        var attempt = 0
        while true {
            let sharedCall = try await self.acquire(tokens: estimatedTokens, atFront: attempt > 0)
            do {
                let (completion, info) = try await self.client.complete(request)
                let used = completion.usage?.totalTokens
                await self.release(estimatedTokens: estimatedTokens, usedTokens: used, info: info)
                await self.settleShared(sharedCall, usedTokens: used)
                return completion
            } catch {
                await self.release(estimatedTokens: estimatedTokens, usedTokens: nil, info: nil)
                try await self.prepareRetry(after: error, attempt: &attempt)
            }
        }
    }

    /// A streamed pass-through answer through the gate, retried until its first event as
    /// ``stream(_:estimatedTokens:)`` is; dropping the stream cancels the transfer and gives its slot back.
    public nonisolated func stream(_ request: PassThroughRequest, estimatedTokens: Int) -> PassThroughStream {
        PassThroughStream(provider: self, request: request, estimatedTokens: estimatedTokens)
    }

    /// The events of a streamed pass-through answer, pulled straight from the upstream's body (see
    /// ``EventStream``, whose gate handling it shares).
    public struct PassThroughStream: AsyncSequence, Sendable {
        public typealias Element = PassThroughEvent
        let provider: ProviderActor
        let request: PassThroughRequest
        let estimatedTokens: Int

        public func makeAsyncIterator() -> Iterator {
            Iterator(stream: self)
        }

        /// One attempt at a time, each holding a ``Lease`` of the gate until it ends.
        public struct Iterator: AsyncIteratorProtocol {
            let stream: PassThroughStream
            private var attempt = 0
            private var events: PassThroughEventSequence.Iterator?
            private var lease: Lease?
            private var delivered = false
            private var usedTokens: Int?
            private var isDone = false

            init(stream: PassThroughStream) {
                self.stream = stream
            }

            public mutating func next() async throws -> PassThroughEvent? {
                let provider = self.stream.provider
                while !self.isDone {
                    guard var events = self.events, let lease = self.lease else {
                        try await self.startAttempt()
                        continue
                    }
                    do {
                        guard let event = try await events.next() else {
                            self.isDone = true
                            self.events = nil
                            await lease.release(usedTokens: self.usedTokens)
                            return nil
                        }
                        self.events = events
                        if case .finished(let usage, _) = event { self.usedTokens = usage?.totalTokens }
                        self.delivered = true
                        return event
                    } catch {
                        self.events = nil
                        self.lease = nil
                        await lease.release(usedTokens: self.usedTokens)
                        if self.delivered { throw error }
                        try await provider.prepareRetry(after: error, attempt: &self.attempt)
                    }
                }
                return nil
            }

            private mutating func startAttempt() async throws {
                let provider = self.stream.provider
                let sharedCall = try await provider.acquire(
                    tokens: self.stream.estimatedTokens, atFront: self.attempt > 0)
                let lease = Lease(
                    provider: provider, estimatedTokens: self.stream.estimatedTokens, sharedCall: sharedCall)
                do {
                    let (info, sequence) = try await provider.client.stream(self.stream.request)
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
