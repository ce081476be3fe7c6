import DequeModule
import Synchronization

/// Who a password derivation is for, which decides its place in the hashing queue.
public enum HashingPurpose: Sendable, CaseIterable {
    /// Someone signing in (a verification, the burn for an unknown email, the upgrade of an old hash): served
    /// before any sign-up that waits.
    case signIn
    /// Someone creating an account: served only when no sign-in waits, on a share of the threads and the queue.
    case signUp
}

/// How many derivations of each purpose wait and run, for tests and logs.
public struct HashingLoad: Sendable, Equatable {
    public var waiting: [HashingPurpose: Int] = [:]
    public var running: [HashingPurpose: Int] = [:]
}

/// Admits password derivations to the hashing threads in two lanes, so a flood of sign-ups from many addresses
/// never stands between a returning user and their login:
///
/// - at most `threads` derivations run at once (the pool's threads, so the pool's own first-come queue stays
///   empty and the order is decided here);
/// - a free thread goes to the oldest waiting sign-in, and to a sign-up only when no sign-in waits;
/// - sign-ups run on at most `threads - 1` threads (at least one): with two threads or more, one is always
///   free for a sign-in, which then waits for no one;
/// - at most `queueLimit` derivations wait or run in all, and sign-ups take at most half of them, so sign-ins
///   always find room. Past either bound the caller gets ``PasswordHashingBusy`` at once.
final class HashingLanes: Sendable {
    let threads: Int
    let queueLimit: Int
    let signUpQueueLimit: Int
    let signUpThreads: Int

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
    }

    /// One value per purpose.
    private struct PerPurpose<Value> {
        var signIn: Value
        var signUp: Value

        init(_ value: Value) {
            self.signIn = value
            self.signUp = value
        }

        subscript(purpose: HashingPurpose) -> Value {
            get { purpose == .signIn ? self.signIn : self.signUp }
            set {
                if purpose == .signIn { self.signIn = newValue } else { self.signUp = newValue }
            }
        }
    }

    private struct State {
        /// Waiting or running.
        var admitted = PerPurpose(0)
        var running = PerPurpose(0)
        var waiting = PerPurpose(Deque<Waiter>())
        var nextID: UInt64 = 0

        var totalAdmitted: Int { self.admitted.signIn + self.admitted.signUp }
        var totalRunning: Int { self.running.signIn + self.running.signUp }
    }

    private let state = Mutex(State())

    init(threads: Int, queueLimit: Int) {
        self.threads = max(1, threads)
        self.queueLimit = max(1, queueLimit)
        self.signUpQueueLimit = max(1, self.queueLimit / 2)
        self.signUpThreads = max(1, self.threads - 1)
    }

    var load: HashingLoad {
        self.state.withLock { state in
            HashingLoad(
                waiting: [.signIn: state.waiting.signIn.count, .signUp: state.waiting.signUp.count],
                running: [.signIn: state.running.signIn, .signUp: state.running.signUp])
        }
    }

    /// Runs `body` once a thread is this caller's (see the type's rules); throws ``PasswordHashingBusy`` at once
    /// when the queue has no room for `purpose`, and `CancellationError` if the task is cancelled while waiting.
    func withTurn<T>(_ purpose: HashingPurpose, _ body: () async throws -> T) async throws -> T {
        try await self.enter(purpose)
        defer { self.leave(purpose) }
        return try await body()
    }

    private enum Admission {
        case busy
        case start
        case queued
    }

    private func enter(_ purpose: HashingPurpose) async throws {
        try Task.checkCancellation()
        let id = self.state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                switch self.admit(purpose, Waiter(id: id, continuation: continuation)) {
                case .busy: continuation.resume(throwing: PasswordHashingBusy())
                case .start: continuation.resume()
                case .queued: break
                }
            }
        } onCancel: {
            // A waiter still in its lane leaves it; one already given a thread runs (and leaves normally).
            let removed = self.state.withLock { state -> Waiter? in
                guard let index = state.waiting[purpose].firstIndex(where: { $0.id == id }) else { return nil }
                state.admitted[purpose] -= 1
                return state.waiting[purpose].remove(at: index)
            }
            removed?.continuation.resume(throwing: CancellationError())
        }
    }

    private func admit(_ purpose: HashingPurpose, _ waiter: Waiter) -> Admission {
        self.state.withLock { state in
            guard state.totalAdmitted < self.queueLimit,
                purpose == .signIn || state.admitted.signUp < self.signUpQueueLimit
            else { return .busy }
            state.admitted[purpose] += 1
            if self.canStart(purpose, in: state) {
                state.running[purpose] += 1
                return .start
            }
            state.waiting[purpose].append(waiter)
            return .queued
        }
    }

    /// Whether a derivation of `purpose` may take a thread now, ahead of nobody who waits before it.
    private func canStart(_ purpose: HashingPurpose, in state: State) -> Bool {
        guard state.totalRunning < self.threads, state.waiting.signIn.isEmpty else { return false }
        switch purpose {
        case .signIn: return true
        case .signUp: return state.running.signUp < self.signUpThreads && state.waiting.signUp.isEmpty
        }
    }

    /// Frees the thread, and hands free threads to the waiters next in line: sign-ins first.
    private func leave(_ purpose: HashingPurpose) {
        let next = self.state.withLock { state -> [Waiter] in
            state.running[purpose] -= 1
            state.admitted[purpose] -= 1
            var started: [Waiter] = []
            while state.totalRunning < self.threads {
                if let waiter = state.waiting.signIn.popFirst() {
                    state.running.signIn += 1
                    started.append(waiter)
                } else if state.running.signUp < self.signUpThreads, let waiter = state.waiting.signUp.popFirst() {
                    state.running.signUp += 1
                    started.append(waiter)
                } else {
                    break
                }
            }
            return started
        }
        for waiter in next { waiter.continuation.resume() }
    }
}
