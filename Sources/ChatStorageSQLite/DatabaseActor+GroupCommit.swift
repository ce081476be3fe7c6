import ChatStorage
import CoreMetrics
import Metrics

/// Group commit: writes that arrive while the database thread is busy share one transaction and so one
/// `fsync`, instead of paying one each.
///
/// Each write runs inside its own SAVEPOINT, so a write that fails (say, a unique violation) is rolled back
/// alone and only its caller sees the error. Every caller is resumed only after the shared COMMIT returned:
/// an answer never precedes durability. If the COMMIT itself fails, every write of the batch fails.
extension DatabaseActor {
    /// Runs `body` in the next group commit and returns its result once that commit is durable.
    /// `body` must not open transactions of its own.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping (SQLiteConnection) throws -> T) async throws -> T {
        try self.checkOpen()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let pending = PendingWrite(body: body, continuation: continuation)
            self.enqueueWrite(pending)
        }
    }

    /// Runs every queued write in one transaction. Scheduled as a job behind the jobs already queued on the
    /// actor's thread, so writes arriving meanwhile join the batch.
    func flushWrites() {
        let batch = self.takePendingWrites()
        guard !batch.isEmpty else { return }
        let started = ContinuousClock.now
        defer {
            self.metrics.commitDuration?.record(duration: ContinuousClock.now - started)
            self.metrics.batchSize?.record(batch.count)
        }
        do {
            try self.connection.run("BEGIN IMMEDIATE")
        } catch {
            for write in batch { write.fail(error) }
            return
        }
        for write in batch { write.run(on: self.connection) }
        do {
            try self.connection.run("COMMIT")
            for write in batch { write.finish() }
        } catch {
            _ = try? self.connection.run("ROLLBACK")
            for write in batch { write.fail(error) }
        }
    }
}

/// A write waiting for the next group commit, with its result until the commit is durable.
///
/// Not Sendable: created, run and finished on the DatabaseActor only.
final class PendingWrite {
    private let body: (SQLiteConnection) throws -> Void
    private let resume: (Result<Void, any Error>) -> Void

    init<T: Sendable>(body: @escaping (SQLiteConnection) throws -> T, continuation: CheckedContinuation<T, any Error>) {
        var result: Result<T, any Error>?
        self.body = { connection in
            result = .success(try body(connection))
        }
        self.resume = { outcome in
            switch (outcome, result) {
            case (.failure(let error), _): continuation.resume(throwing: error)
            case (.success, .success(let value)?): continuation.resume(returning: value)
            case (.success, .failure(let error)?): continuation.resume(throwing: error)
            case (.success, nil): continuation.resume(throwing: StorageError.corruptRow("write did not run"))
            }
        }
    }

    /// This write's own failure, rolled back to its savepoint.
    private var failedBody: (any Error)?

    /// Runs the body inside a savepoint; a failure rolls back this write only.
    func run(on connection: SQLiteConnection) {
        do {
            try connection.run("SAVEPOINT write")
            do {
                try self.body(connection)
                try connection.run("RELEASE write")
            } catch {
                _ = try? connection.run("ROLLBACK TO write")
                _ = try? connection.run("RELEASE write")
                throw error
            }
        } catch {
            self.failedBody = error
        }
    }

    /// The batch committed: hand over the result (or this write's own failure).
    func finish() {
        if let failedBody {
            self.resume(.failure(failedBody))
        } else {
            self.resume(.success(()))
        }
    }

    /// The batch did not commit.
    func fail(_ error: any Error) {
        self.resume(.failure(error))
    }
}
