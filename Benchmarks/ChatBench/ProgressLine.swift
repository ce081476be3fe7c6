import Foundation
import Synchronization

/// Counts requests and failures while a scenario runs and prints one progress line to standard error every
/// second (rewritten in place on a terminal) until `finish()`.
final class ProgressLine: Sendable {
    private final class Counters: Sendable {
        let requests = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
    }

    private let counters = Counters()
    private let ticker: Task<Void, Never>
    private let interactive = isatty(STDERR_FILENO) != 0

    init(name: String) {
        let counters = self.counters
        let interactive = self.interactive
        let started = ContinuousClock.now
        self.ticker = Task.detached {
            while true {
                do { try await Task.sleep(for: .seconds(1)) } catch { return }
                let elapsed = Int((ContinuousClock.now - started).seconds.rounded())
                let line =
                    "chat-bench:   \(name): \(elapsed) s, \(counters.requests.load(ordering: .relaxed)) requests, "
                    + "\(counters.failures.load(ordering: .relaxed)) errors"
                FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" + line : line + "\n").utf8))
            }
        }
    }

    func record(success: Bool) {
        self.counters.requests.add(1, ordering: .relaxed)
        if !success { self.counters.failures.add(1, ordering: .relaxed) }
    }

    func finish() {
        self.ticker.cancel()
        if self.interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
