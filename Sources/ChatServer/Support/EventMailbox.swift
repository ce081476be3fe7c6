import NIOCore
import Synchronization

/// A bounded hand-over of encoded events from one producer task to one consumer task, which takes everything
/// that arrived since its last take as one buffer: events that come together (an upstream read often holds
/// many) leave in one write instead of one write, one flush and one wake-up each.
///
/// At most `limit` events wait untaken; past that ``append(_:)`` refuses, so a consumer that stops reading
/// bounds the memory it holds. The producer ends the mailbox with ``finish(throwing:)``; the consumer gets the
/// events appended before it, then the error (or nil). Cancelling a waiting consumer ends the mailbox.
final class EventMailbox: Sendable {
    private struct State {
        var pending = ByteBuffer()
        var untaken = 0
        /// Set once the producer (or a cancelled consumer) ended the mailbox: nil for a clean end.
        var end: (any Error)??
        var waiter: CheckedContinuation<Void, Never>?
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = limit
    }

    /// Appends one event's bytes; false if the mailbox has ended or already holds `limit` untaken events.
    func append(_ event: ByteBuffer) -> Bool {
        let (accepted, waiter) = self.state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard state.end == nil, state.untaken < self.limit else { return (false, nil) }
            state.pending.writeImmutableBuffer(event)
            state.untaken += 1
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume()
        return accepted
    }

    /// Ends the mailbox after the events already appended: with `error`, or cleanly with nil. Later calls do
    /// nothing.
    func finish(throwing error: (any Error)? = nil) {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.end == nil else { return nil }
            state.end = .some(error)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Every event appended since the last take, in one buffer, waiting for one if there is none; nil once the
    /// mailbox ended cleanly and is drained; throws the producer's error once drained.
    func take() async throws -> ByteBuffer? {
        while true {
            switch self.state.withLock({ Self.takeNow(&$0) }) {
            case .bytes(let bytes): return bytes
            case .ended(nil): return nil
            case .ended(let error?): throw error
            case .empty: await self.waitForEvent()
            }
        }
    }

    private enum Taken {
        case bytes(ByteBuffer)
        case ended((any Error)?)
        case empty
    }

    private static func takeNow(_ state: inout State) -> Taken {
        if state.untaken > 0 {
            defer {
                state.pending = ByteBuffer()
                state.untaken = 0
            }
            return .bytes(state.pending)
        }
        if let end = state.end { return .ended(end) }
        return .empty
    }

    /// Parks the consumer until an append or the end; returns at once if one came meanwhile.
    private func waitForEvent() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = self.state.withLock { state -> Bool in
                    if state.untaken > 0 || state.end != nil { return true }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            self.finish(throwing: CancellationError())
        }
    }
}
