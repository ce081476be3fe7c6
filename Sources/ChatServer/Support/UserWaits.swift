import ChatStorage
import Foundation
import Synchronization

/// The long-polls and event streams each user has open.
///
/// - Caps parked long-polls per user (`LONG_POLLS_PER_USER`): one user cannot hold the server's connections.
/// - Ends them when the user's sessions are revoked (logout, disabled, deleted): each registration's
///   ``RequestCancellation`` is cancelled, and the request answers 401 (a long-poll) or ends with
///   `event: error` 401 (a stream). A role change ends them too, as authorised under the old role, with 409:
///   the token stays valid, so the client sends the request again or reattaches.
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

    /// Ends every waiting request of the user, for `reason`.
    func revoke(_ userID: UUID, _ reason: Revocation) {
        let entries = self.state.withLock { $0.byUser.removeValue(forKey: userID) } ?? [:]
        for entry in entries.values { entry.cancellation.cancel(reason) }
    }

    /// Ends the user's waiting requests whose session `current` (the user as now stored, nil if deleted) no
    /// longer admits: all of them if the user is gone or disabled, else those authenticated with another token
    /// version or role. For changes made by another process, which this one learns of after the fact.
    func revoke(_ userID: UUID, unlessValidFor current: UserRecord?) {
        let ended: [(Entry, Revocation)] = self.state.withLock { state in
            guard let entries = state.byUser[userID] else { return [] }
            let stale = entries.compactMap { id, entry -> (Int, Entry, Revocation)? in
                guard let current, !current.disabled, entry.tokenVersion == current.tokenVersion else {
                    return (id, entry, .sessionEnded)
                }
                return entry.role == current.role ? nil : (id, entry, .roleChanged)
            }
            for (id, _, _) in stale { state.byUser[userID]?[id] = nil }
            if state.byUser[userID]?.isEmpty == true { state.byUser[userID] = nil }
            return stale.map { ($0.1, $0.2) }
        }
        for (entry, reason) in ended { entry.cancellation.cancel(reason) }
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
        var reason: Revocation?
        var actions: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    var isCancelled: Bool { self.reason != nil }
    /// Why it was cancelled (the first reason given); nil while it is not.
    var reason: Revocation? { self.state.withLock { $0.reason } }

    func bind(_ action: @escaping @Sendable () -> Void) {
        let runNow = self.state.withLock { state in
            if state.reason == nil { state.actions.append(action) }
            return state.reason != nil
        }
        if runNow { action() }
    }

    func cancel(_ reason: Revocation = .sessionEnded) {
        let actions = self.state.withLock { state in
            guard state.reason == nil else { return [@Sendable () -> Void]() }
            state.reason = reason
            defer { state.actions = [] }
            return state.actions
        }
        for action in actions { action() }
    }
}

/// Why a user's waiting requests were ended (``UserWaits``).
enum Revocation: Sendable, Equatable {
    /// Logout, a password change, disabled or deleted: the token no longer works.
    case sessionEnded
    /// An admin changed the user's role: the token still works, under the new role.
    case roleChanged

    /// The answer of a long-poll ended this way.
    var longPollError: APIError {
        switch self {
        case .sessionEnded: APIError.sessionEnded
        case .roleChanged: APIError.conflict("Your role changed while this request waited; send it again")
        }
    }

    /// The error event of a stream ended this way, which had sent the reply up to `offset`.
    func streamError(offset: Int) -> APIError {
        switch self {
        case .sessionEnded: APIError.sessionEnded
        case .roleChanged:
            APIError.conflict("Your role changed while this stream was open; reattach with Last-Event-ID: \(offset)")
        }
    }
}
