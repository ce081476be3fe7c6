import ChatStorage
import Foundation
import Synchronization

/// The long-polls and event streams each user has open.
///
/// - Caps parked long-polls per user (`LONG_POLLS_PER_USER`): one user cannot hold the server's connections.
/// - Ends them when the user's sessions are revoked (logout, disabled, deleted, role changed): each
///   registration's ``RequestCancellation`` is cancelled, and the request answers 401 (a long-poll) or ends
///   with `event: error` 401 (a stream).
///
/// Safe from any task; the lock is held only to update the table, never while a request is ended.
final class UserWaits: Sendable {
    enum Kind: Sendable {
        case longPoll
        case stream
    }

    private struct Entry {
        let kind: Kind
        let cancellation: RequestCancellation
        /// The session the request was authenticated with: a change elsewhere ends it only if this no longer holds.
        let tokenVersion: Int64
        let role: UserRole
    }

    private struct State {
        var byUser: [UUID: [Int: Entry]] = [:]
        var nextID = 0
    }

    /// Long-polls per user at most; 0 for no limit.
    let longPollsPerUser: Int
    private let state = Mutex(State())

    init(longPollsPerUser: Int) {
        self.longPollsPerUser = longPollsPerUser
    }

    /// Registers a waiting request; nil when it is a long-poll over the user's cap.
    func register(_ user: UserRecord, _ kind: Kind, _ cancellation: RequestCancellation) -> Int? {
        let userID = user.id
        return self.state.withLock { state in
            let entries = state.byUser[userID, default: [:]]
            if kind == .longPoll, self.longPollsPerUser > 0,
                entries.values.count(where: { $0.kind == .longPoll }) >= self.longPollsPerUser
            {
                return nil
            }
            state.nextID += 1
            state.byUser[userID, default: [:]][state.nextID] = Entry(
                kind: kind, cancellation: cancellation, tokenVersion: user.tokenVersion, role: user.role)
            return state.nextID
        }
    }

    func unregister(_ userID: UUID, _ id: Int) {
        self.state.withLock { state in
            state.byUser[userID]?[id] = nil
            if state.byUser[userID]?.isEmpty == true { state.byUser[userID] = nil }
        }
    }

    /// Ends every waiting request of the user.
    func revoke(_ userID: UUID) {
        let entries = self.state.withLock { $0.byUser.removeValue(forKey: userID) } ?? [:]
        for entry in entries.values { entry.cancellation.cancel() }
    }

    /// Ends the user's waiting requests whose session `current` (the user as now stored, nil if deleted) no
    /// longer admits: all of them if the user is gone or disabled, else those authenticated with another token
    /// version or role. For changes made by another process, which this one learns of after the fact.
    func revoke(_ userID: UUID, unlessValidFor current: UserRecord?) {
        let ended: [Entry] = self.state.withLock { state in
            guard let entries = state.byUser[userID] else { return [] }
            let stale = entries.filter { _, entry in
                guard let current, !current.disabled else { return true }
                return entry.tokenVersion != current.tokenVersion || entry.role != current.role
            }
            for id in stale.keys { state.byUser[userID]?[id] = nil }
            if state.byUser[userID]?.isEmpty == true { state.byUser[userID] = nil }
            return Array(stale.values)
        }
        for entry in ended { entry.cancellation.cancel() }
    }

    /// Every user's long-polls and event streams open now (the metrics' gauges, read at scrape time).
    func totals() -> (longPolls: Int, streams: Int) {
        self.state.withLock { state in
            var totals = (longPolls: 0, streams: 0)
            for entries in state.byUser.values {
                for entry in entries.values {
                    if entry.kind == .longPoll { totals.longPolls += 1 } else { totals.streams += 1 }
                }
            }
            return totals
        }
    }

    /// Waiting requests of one user (for tests).
    func count(_ userID: UUID) -> Int {
        self.state.withLock { $0.byUser[userID]?.count ?? 0 }
    }
}

/// Ends one waiting request from outside its task: binds the action that ends it (cancel its task, or end its
/// event stream) and runs that action once, when cancelled — at once if it was cancelled before the binding.
final class RequestCancellation: Sendable {
    private struct State {
        var isCancelled = false
        var actions: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    var isCancelled: Bool { self.state.withLock { $0.isCancelled } }

    func bind(_ action: @escaping @Sendable () -> Void) {
        let runNow = self.state.withLock { state in
            if !state.isCancelled { state.actions.append(action) }
            return state.isCancelled
        }
        if runNow { action() }
    }

    func cancel() {
        let actions = self.state.withLock { state in
            guard !state.isCancelled else { return [@Sendable () -> Void]() }
            state.isCancelled = true
            defer { state.actions = [] }
            return state.actions
        }
        for action in actions { action() }
    }
}
