import Foundation
import Synchronization

/// How many requests of one kind each user has running, at most `perUser` at once (0: no limit), so that one
/// user cannot take all of a shared resource (searches: the SQLite connection, PostgreSQL's connections).
///
/// Safe from any task; the lock is held only to update the table.
final class UserSlots: Sendable {
    /// Running requests per user at most; 0 for no limit.
    let perUser: Int
    private let running = Mutex<[UUID: Int]>([:])

    init(perUser: Int) {
        self.perUser = perUser
    }

    /// Runs `body` in one of the user's slots; nil without running it when they are all taken.
    func run<T: Sendable>(for userID: UUID, _ body: () async throws -> T) async throws -> T? {
        let taken = self.running.withLock { running in
            let count = running[userID, default: 0]
            guard self.perUser == 0 || count < self.perUser else { return false }
            running[userID] = count + 1
            return true
        }
        guard taken else { return nil }
        defer {
            self.running.withLock { running in
                let count = running[userID, default: 1] - 1
                running[userID] = count > 0 ? count : nil
            }
        }
        return try await body()
    }
}
