import DequeModule
import Foundation

/// A `SerialExecutor` that runs every job on one dedicated OS thread, in the order the jobs were enqueued.
///
/// The ``DatabaseActor`` uses it so that SQLite's blocking calls (disk reads, `fsync` on commit) occupy
/// this thread and never one of the few threads of Swift's cooperative pool.
///
/// The thread lives until ``shutdown()`` is called; jobs enqueued before that are still run.
public final class DedicatedThreadExecutor: SerialExecutor, @unchecked Sendable {
    // @unchecked Sendable: all mutable state (`queue`, `isShuttingDown`, `osThread`) is only touched while
    // holding `condition`'s lock; `thread` is written once in init, before the object is shared.
    private enum WorkItem {
        case job(UnownedJob)
        case block(@Sendable () -> Void)
    }

    private let condition = NSCondition()
    private var queue: Deque<WorkItem> = []
    private var isShuttingDown = false
    private var thread: Thread?
    private var osThread: pthread_t?
    public let name: String

    /// The OS thread every job runs on.
    public var threadID: pthread_t {
        self.condition.lock()
        defer { self.condition.unlock() }
        while self.osThread == nil { self.condition.wait() }
        return self.osThread ?? pthread_self()
    }

    public init(name: String) {
        self.name = name
        let thread = Thread { [self] in
            // Best effort, for debuggers: Foundation on Linux ignores a name set before start().
            Thread.current.name = name
            self.condition.lock()
            self.osThread = pthread_self()
            self.condition.signal()
            self.condition.unlock()
            self.runLoop()
        }
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        self.push(.job(UnownedJob(job)))
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func checkIsolated() {
        precondition(pthread_equal(pthread_self(), self.threadID) != 0, "not running on executor \(self.name)")
    }

    /// Runs `body` on the executor's thread and returns its result to the awaiting task.
    ///
    /// Used to create values (such as the SQLite connection) on the thread that will own them.
    public func run<T>(_ body: @escaping @Sendable () throws -> sending T) async throws -> sending T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            self.push(
                .block {
                    do {
                        continuation.resume(returning: try body())
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            )
        }
    }

    /// Stops the thread once the jobs already enqueued have run.
    public func shutdown() {
        self.condition.lock()
        self.isShuttingDown = true
        self.condition.signal()
        self.condition.unlock()
    }

    private func push(_ item: WorkItem) {
        self.condition.lock()
        self.queue.append(item)
        self.condition.signal()
        self.condition.unlock()
    }

    private func runLoop() {
        while true {
            self.condition.lock()
            while self.queue.isEmpty && !self.isShuttingDown {
                self.condition.wait()
            }
            guard let item = self.queue.popFirst() else {
                // Empty and shutting down.
                self.condition.unlock()
                return
            }
            self.condition.unlock()
            switch item {
            case .job(let job):
                job.runSynchronously(on: self.asUnownedSerialExecutor())
            case .block(let block):
                block()
            }
        }
    }
}
