import Logging
import Synchronization

/// Keeps the messages logged through its ``logger(level:)`` (a bounded number), and hands each one to the tasks
/// waiting for it, so a test can wait for a log line as for any other event.
final class LogCapture: Sendable {
    /// One logged message.
    struct Entry: Sendable {
        let level: Logger.Level
        let message: String
        /// ``LogCapture/tag`` where it was logged: which of a test's tasks logged it (tasks inherit it).
        let tag: String?
    }

    /// Marks what a task, and the tasks it starts, log.
    @TaskLocal static var tag: String?

    private struct State {
        var entries: [Entry] = []
        var waiters: [(id: Int, matches: @Sendable (Entry) -> Bool, continuation: CheckedContinuation<Entry?, Never>)] =
            []
        var nextID = 0
    }

    /// The most messages kept: past it, the oldest go (waiters still see every one).
    private let capacity = 10_000
    private let state = Mutex(State())

    /// A logger whose messages at `level` and above are kept here.
    func logger(level: Logger.Level) -> Logger {
        var logger = Logger(label: "captured") { _ in Handler(capture: self) }
        logger.logLevel = level
        return logger
    }

    /// The messages kept, oldest first.
    var entries: [Entry] { self.state.withLock { $0.entries } }

    /// The first message, logged from now on or kept already, that `matches`; nil if the waiting task is cancelled.
    func first(where matches: @escaping @Sendable (Entry) -> Bool) async -> Entry? {
        let id = self.state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let found: Entry?? = self.state.withLock { state in
                    if let kept = state.entries.first(where: matches) { return .some(kept) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters.append((id, matches, continuation))
                    return nil
                }
                if let found { continuation.resume(returning: found) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state in
                state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0) }
            }
            waiter?.continuation.resume(returning: nil)
        }
    }

    fileprivate func record(_ entry: Entry) {
        let matched = self.state.withLock { state in
            if state.entries.count == self.capacity { state.entries.removeFirst() }
            state.entries.append(entry)
            let matched = state.waiters.filter { $0.matches(entry) }
            state.waiters.removeAll { $0.matches(entry) }
            return matched
        }
        for waiter in matched { waiter.continuation.resume(returning: entry) }
    }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            self.capture.record(Entry(level: event.level, message: event.message.description, tag: LogCapture.tag))
        }
    }
}
