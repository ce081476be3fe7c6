import Dispatch
import PostgresNIO
import Synchronization

/// Holds open the moment between a connection going closed and its pool learning of it, for as long as a test
/// needs it.
///
/// When a socket closes, NIO marks its channel inactive (`PostgresConnection.isClosed` is true) and tells the
/// channel's handlers, which fail the statements pending on it, at once; it completes the channel's close future,
/// which is what tells postgres-nio's pool, only afterwards, on a later turn of the channel's event loop. This
/// waits for a statement pending on the connection to fail, and blocks the event loop right there, inside the
/// close, until ``release()``. Blocking an event loop thread is the point here; it is never a thread of Swift's
/// cooperative pool.
final class EventLoopHold: Sendable {
    private let gate = DispatchSemaphore(value: 0)
    private let released = Mutex(false)
    private let heldSignal: AsyncStream<Bool>.Continuation
    private let heldStream: AsyncStream<Bool>

    /// Holds `connection`'s event loop from the moment `pending`, a statement on it, fails.
    init<Value>(whenFails pending: EventLoopFuture<Value>, on connection: PostgresConnection) {
        (self.heldStream, self.heldSignal) = AsyncStream.makeStream(of: Bool.self)
        pending.whenFailure { [self] _ in
            self.heldSignal.yield(connection.isClosed)
            self.heldSignal.finish()
            guard !self.released.withLock({ $0 }) else { return }
            self.gate.wait()
        }
    }

    /// Returns once the loop is held: whether the connection was closed then (nil if the waiting task was
    /// cancelled first).
    func held() async -> Bool? {
        for await closed in self.heldStream { return closed }
        return nil
    }

    /// Lets the event loop go on (once; later calls do nothing).
    func release() {
        let first = self.released.withLock { released in
            defer { released = true }
            return !released
        }
        if first { self.gate.signal() }
    }
}
