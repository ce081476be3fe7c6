import Synchronization

/// The body of a streamed response, chunk by chunk, with back-pressure: at most ``highWatermark`` bytes wait
/// for the reader. Past that the transfer is paused (libcurl keeps the bytes in the socket, so the upstream
/// slows down), and it resumes once the reader has taken all but ``lowWatermark`` of them. A chunk is always
/// accepted when nothing waits, so a single large chunk cannot stall the transfer.
///
/// Dropping the stream (or cancelling the task that reads it) removes the transfer.
public struct CurlBodyStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public static let highWatermark = 256 * 1024
    public static let lowWatermark = 64 * 1024

    let chunks: AsyncThrowingStream<[UInt8], any Error>
    let budget: Budget

    public func makeAsyncIterator() -> Iterator {
        Iterator(chunks: self.chunks.makeAsyncIterator(), budget: self.budget)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var chunks: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator
        let budget: Budget

        public mutating func next() async throws -> [UInt8]? {
            try await self.next(isolation: nil)
        }

        /// Runs on the caller's actor (no hop off it and back for every chunk).
        public mutating func next(isolation actor: isolated (any Actor)?) async throws -> [UInt8]? {
            guard let chunk = try await self.chunks.next(isolation: actor) else { return nil }
            self.budget.taken(chunk.count)
            return chunk
        }
    }

    /// Bytes waiting for the reader, shared by the driver thread (which adds) and the reader (which takes).
    final class Budget: Sendable {
        private struct State {
            var waiting = 0
            var isPaused = false
        }

        private let state = Mutex(State())
        /// Asks the driver to resume the transfer (set once the transfer exists).
        private let resume = Mutex<(@Sendable () -> Void)?>(nil)

        func onResume(_ action: @escaping @Sendable () -> Void) {
            self.resume.withLock { $0 = action }
        }

        /// On the driver thread, for a chunk of `count` bytes: true to deliver it, false to pause the transfer.
        func offer(_ count: Int) -> Bool {
            self.state.withLock { state in
                guard state.waiting == 0 || state.waiting + count <= CurlBodyStream.highWatermark else {
                    state.isPaused = true
                    return false
                }
                state.waiting += count
                return true
            }
        }

        /// The reader took `count` bytes; resumes a paused transfer once little is left waiting.
        func taken(_ count: Int) {
            let shouldResume = self.state.withLock { state in
                state.waiting -= count
                guard state.isPaused, state.waiting <= CurlBodyStream.lowWatermark else { return false }
                state.isPaused = false
                return true
            }
            if shouldResume { self.resume.withLock { $0 }?() }
        }

        /// Bytes waiting now (for tests).
        var waiting: Int { self.state.withLock { $0.waiting } }
    }
}
