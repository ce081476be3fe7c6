import PostgresNIO
import Synchronization

/// Bounds how long a statement keeps its caller waiting while the server cannot be reached.
///
/// A statement can wait with no useful end in two places, both in postgres-nio 1.33:
/// - For a connection: the pool queues a request while it cannot open connections, and fails the queue only when
///   its circuit breaker trips, a minute after the first failed attempt.
/// - On a connection that closed as the statement was handed to it: the driver writes a statement to its channel
///   without a promise, so one written after the channel closed (the pool leased the connection before it learnt
///   of the close) is dropped, and its caller is never resumed.
///
/// Every statement is registered from its start to its end (one entry each: bounded by the statements in flight).
/// ``tick(at:)``, called a few times a second, gives up on a statement waiting for a connection for longer than
/// ``limit``, and on one whose connection has been closed for ``closedGrace``: its `giveUp` is called once, which
/// answers its caller ``StorageError/unavailable``. A wait given up on never sends its statement: ``leased(_:on:)``
/// and the giving up are decided under one lock.
final class StatementWatch: Sendable {
    /// The longest a statement waits for a connection.
    let limit: Duration
    /// How long a statement may still run on a connection seen closed: enough to hand back a result that had
    /// arrived, far less than never.
    let closedGrace: Duration

    /// What the lease of a connection means for a statement.
    enum Lease: Equatable {
        /// Send the statement on it.
        case run
        /// It came too late: the statement was given up on, and must not be sent.
        case expired
        /// The connection closed before the statement was sent: lease another one (the wait goes on).
        case closed
    }

    private struct Entry {
        var since: ContinuousClock.Instant
        var giveUp: @Sendable () -> Void
        /// The connection the statement runs on, once leased.
        var connection: PostgresConnection?
        /// When ``tick(at:)`` first saw that connection closed.
        var closedSince: ContinuousClock.Instant?
    }

    private struct State {
        var nextID: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
    }

    private let state = Mutex(State())

    init(limit: Duration, closedGrace: Duration = .seconds(1)) {
        self.limit = limit
        self.closedGrace = closedGrace
    }

    /// Registers a statement that starts waiting for a connection now.
    func begin(giveUp: @escaping @Sendable () -> Void) -> UInt64 {
        self.state.withLock { state in
            state.nextID &+= 1
            state.entries[state.nextID] = Entry(since: .now, giveUp: giveUp)
            return state.nextID
        }
    }

    /// The statement got `connection` from the pool.
    func leased(_ id: UInt64, on connection: PostgresConnection) -> Lease {
        self.state.withLock { state in
            guard state.entries[id] != nil else { return .expired }
            if connection.isClosed { return .closed }
            state.entries[id]?.connection = connection
            return .run
        }
    }

    /// The statement ended, or its caller stopped waiting for it.
    func end(_ id: UInt64) {
        _ = self.state.withLock { $0.entries.removeValue(forKey: id) }
    }

    /// Gives up on the statements that waited for a connection for longer than ``limit``, or ran on one closed for
    /// ``closedGrace``; returns how many.
    @discardableResult
    func tick(at now: ContinuousClock.Instant = .now) -> Int {
        let given = self.state.withLock { state in
            var given: [@Sendable () -> Void] = []
            for (id, entry) in state.entries {
                if let connection = entry.connection {
                    guard connection.isClosed else { continue }
                    guard let closedSince = entry.closedSince else {
                        state.entries[id]?.closedSince = now
                        continue
                    }
                    guard now - closedSince >= self.closedGrace else { continue }
                } else if now - entry.since <= self.limit {
                    continue
                }
                state.entries.removeValue(forKey: id)
                given.append(entry.giveUp)
            }
            return given
        }
        for giveUp in given { giveUp() }
        return given.count
    }
}

/// One statement's result, handed to its caller once: by the statement's task, or by the ``StatementWatch`` that
/// gave up on it, whichever comes first.
final class StatementOutcome<Value: Sendable>: Sendable {
    private enum State {
        case pending(CheckedContinuation<Value, any Error>?)
        case resolved(Result<Value, any Error>)
    }

    private let state = Mutex(State.pending(nil))

    /// Settles the outcome; later calls do nothing.
    func resolve(_ result: Result<Value, any Error>) {
        let waiting: CheckedContinuation<Value, any Error>?? = self.state.withLock { state in
            guard case .pending(let waiting) = state else { return nil }
            state = .resolved(result)
            return .some(waiting)
        }
        if case .some(.some(let continuation)) = waiting { continuation.resume(with: result) }
    }

    /// The result, once settled. Awaited by one caller only.
    var value: Value {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let settled: Result<Value, any Error>? = self.state.withLock { state in
                    switch state {
                    case .pending:
                        state = .pending(continuation)
                        return nil
                    case .resolved(let result):
                        return result
                    }
                }
                if let settled { continuation.resume(with: settled) }
            }
        }
    }
}
