import ChatStorage
import Foundation
import Logging
import Synchronization

/// Writes a key's `last_used_at` off the request's path, at most once a minute per key: only when the key as
/// read is older than ``APIKeyRecord/lastUsedPrecision``, never twice at once for one key, and the store's
/// write re-checks the age (so replicas together still write a key about once a minute).
final class APIKeyUseRecorder: Sendable {
    private let database: any ChatStore
    private let logger: Logger
    /// Keys whose write is under way; bounded by ``maxPending`` (more are skipped: the next use records them).
    private let pending = Mutex<Set<UUID>>([])
    static let maxPending = 1024

    init(database: any ChatStore, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Records a use of `key` at `now` unless the stored time is recent enough; returns at once.
    func recordUse(of key: APIKeyRecord, at now: Timestamp = .now()) {
        if let last = key.lastUsedAt, now.microseconds - last.microseconds < APIKeyRecord.lastUsedPrecision { return }
        let started = self.pending.withLock { pending in
            guard pending.count < Self.maxPending else { return false }
            return pending.insert(key.id).inserted
        }
        guard started else { return }
        Task {
            defer { _ = self.pending.withLock { $0.remove(key.id) } }
            do {
                try await self.database.touchAPIKey(id: key.id, at: now)
            } catch {
                self.logger.warning(
                    "could not record an API key's use", metadata: ["prefix": "\(key.prefix)", "error": "\(error)"])
            }
        }
    }
}
