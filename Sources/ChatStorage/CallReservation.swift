import Foundation

/// One call of the OpenAI-compatible door's claim on its user's token quotas and its API key's monthly budget,
/// admitted and held by ``ChatStore/reserveCall(_:)`` before the upstream is called.
///
/// The call is admitted while, for each limit, the tokens used in the period plus those held (by the user's
/// running turns and calls, or by the key's running calls) stay below the limit (``admits(user:key:)``, the
/// same rule as a turn's). It then holds `tokens`, the most it can cost, until ``ChatStore/settleCall(_:hold:apiKey:)``
/// replaces the hold with what it used. Admissions of one user (and of one key) are taken one at a time on
/// every process, so calls admitted together pass a limit by at most one call's real usage.
public struct CallReservation: Sendable, Equatable {
    public let userID: UUID
    /// The key the call came with (nil: a user's JWT).
    public let apiKey: UUID?
    /// The most the call can cost: its prompt's bound and the most its reply may write.
    public let tokens: Int
    public let today: UsageDay
    /// The user's quotas; nil: unlimited.
    public let dailyLimit: Int64?
    public let monthlyLimit: Int64?
    /// The key's monthly token budget; nil: none.
    public let keyBudget: Int64?

    public init(
        userID: UUID, apiKey: UUID?, tokens: Int, today: UsageDay, dailyLimit: Int64?, monthlyLimit: Int64?,
        keyBudget: Int64?
    ) {
        self.userID = userID
        self.apiKey = apiKey
        self.tokens = tokens
        self.today = today
        self.dailyLimit = dailyLimit
        self.monthlyLimit = monthlyLimit
        self.keyBudget = apiKey == nil ? nil : keyBudget
    }

    /// Whether a user limit applies, so the user's standing must be read and the user's admissions serialised.
    public var limitsUser: Bool { self.dailyLimit != nil || self.monthlyLimit != nil }

    /// Throws ``StorageError/quotaExceeded(_:)`` or ``StorageError/keyBudgetExceeded`` for the first limit
    /// that leaves no room; `user` is read only when ``limitsUser``, `key` only with a ``keyBudget``.
    public func admits(user: QuotaStanding?, key: KeyStanding?) throws {
        if let user, let period = user.exceeded(dailyLimit: self.dailyLimit, monthlyLimit: self.monthlyLimit) {
            throw StorageError.quotaExceeded(period)
        }
        if let budget = self.keyBudget, let key, key.usedThisMonth + key.held >= budget {
            throw StorageError.keyBudgetExceeded
        }
    }
}

/// An API key's standing against its monthly budget: tokens charged this month, and held by running calls.
public struct KeyStanding: Sendable, Equatable {
    public var usedThisMonth: Int64
    public var held: Int64

    public init(usedThisMonth: Int64, held: Int64) {
        self.usedThisMonth = usedThisMonth
        self.held = held
    }
}

/// A reservation held by ``ChatStore/reserveCall(_:)``, released by ``ChatStore/settleCall(_:hold:apiKey:)``.
/// A hold whose process stopped lapses: on SQLite with the process's connection, on PostgreSQL with its
/// replica's lease.
public struct CallHold: Sendable, Hashable {
    public let id: Int64

    public init(id: Int64) {
        self.id = id
    }
}
