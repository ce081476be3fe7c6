import Synchronization

/// An HTTP client over libcurl's multi interface, for async Swift.
///
/// - One dedicated thread (``CurlMultiDriver``) runs every transfer; no libcurl call blocks a task.
/// - ``perform(_:)`` suspends until the whole response is in; ``stream(_:)`` resumes at the headers and then
///   yields body chunks as they arrive.
/// - Cancelling the calling task removes the transfer from libcurl at once.
/// - TLS peer and host verification are on; connections are reused.
public final class CurlClient: Sendable {
    private let driver: CurlMultiDriver

    public init(name: String = "curl") throws {
        self.driver = try CurlMultiDriver(name: name)
    }

    deinit {
        self.driver.stop()
    }

    /// Sends `request` and returns the complete response (any status: 4xx and 5xx are responses, not errors).
    public func perform(_ request: CurlRequest) async throws -> CurlResponse {
        let box = TransferBox()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CurlResponse, any Error>) in
                do {
                    let transfer = try CurlTransfer(request: request, sink: .collect(continuation))
                    if box.set(transfer) {
                        self.driver.add(transfer)
                    } else {
                        transfer.finish(error: CancellationError())
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            if let transfer = box.cancel() { self.driver.cancel(transfer) }
        }
    }

    /// Sends `request`, returns its status and headers as soon as they arrive, and the body as a stream of
    /// chunks (back-pressured: see ``CurlBodyStream``). The stream ends with an error if the transfer fails midway; dropping or cancelling it (or
    /// cancelling the calling task before the head arrives) removes the transfer.
    public func stream(_ request: CurlRequest) async throws -> (CurlResponseHead, CurlBodyStream) {
        let (body, bodyContinuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        let budget = CurlBodyStream.Budget()
        let box = TransferBox()
        let driver = self.driver
        bodyContinuation.onTermination = { termination in
            if case .cancelled = termination, let transfer = box.cancel() { driver.cancel(transfer) }
        }
        let head = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<CurlResponseHead, any Error>) in
                do {
                    let transfer = try CurlTransfer(
                        request: request, sink: .stream(head: continuation, body: bodyContinuation, budget: budget))
                    budget.onResume { [weak transfer] in
                        if let transfer { driver.resume(transfer) }
                    }
                    if box.set(transfer) {
                        driver.add(transfer)
                    } else {
                        transfer.finish(error: CancellationError())
                    }
                } catch {
                    continuation.resume(throwing: error)
                    bodyContinuation.finish(throwing: error)
                }
            }
        } onCancel: {
            if let transfer = box.cancel() { driver.cancel(transfer) }
        }
        return (head, CurlBodyStream(chunks: body, budget: budget))
    }
}

/// Hands a transfer from the task that creates it to a cancellation handler that may run on another thread,
/// in either order.
private final class TransferBox: Sendable {
    private enum State {
        case empty
        case transfer(CurlTransfer)
        case cancelled
    }

    private let state = Mutex<State>(.empty)

    /// Stores the transfer; false if cancellation came first (the caller must not start it).
    func set(_ transfer: CurlTransfer) -> Bool {
        self.state.withLock { state in
            if case .cancelled = state { return false }
            state = .transfer(transfer)
            return true
        }
    }

    /// Marks the box cancelled and returns the transfer to remove, if it was already started.
    func cancel() -> CurlTransfer? {
        self.state.withLock { state in
            defer { state = .cancelled }
            if case .transfer(let transfer) = state { return transfer }
            return nil
        }
    }
}
