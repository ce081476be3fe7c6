import ChatStorage
import Foundation

/// The wall clock that decides which UTC day usage belongs to and when quotas reset; tests inject their own
/// to cross a day boundary.
public struct UsageClock: Sendable {
    public let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date) {
        self.now = now
    }

    public static let system = UsageClock { Date() }

    public var today: UsageDay { UsageDay(self.now()) }
}

/// A user's token limits after defaults are applied; nil means unlimited.
public struct QuotaLimits: Sendable, Equatable {
    public let daily: Int64?
    public let monthly: Int64?

    public var isUnlimited: Bool { self.daily == nil && self.monthly == nil }
}

/// The deployment's token quotas (`DAILY_TOKEN_QUOTA`, `MONTHLY_TOKEN_QUOTA`; 0 = unlimited) and a user's own,
/// set by an admin, over them.
public struct QuotaPolicy: Sendable {
    let dailyDefault: Int64
    let monthlyDefault: Int64
    public let clock: UsageClock

    public init(dailyDefault: Int64, monthlyDefault: Int64, clock: UsageClock) {
        self.dailyDefault = dailyDefault
        self.monthlyDefault = monthlyDefault
        self.clock = clock
    }

    /// The user's own quotas where an admin set them, else the deployment's; 0 is unlimited.
    public func limits(for user: UserRecord) -> QuotaLimits {
        let daily = user.dailyTokenQuota ?? self.dailyDefault
        let monthly = user.monthlyTokenQuota ?? self.monthlyDefault
        return QuotaLimits(daily: daily > 0 ? daily : nil, monthly: monthly > 0 ? monthly : nil)
    }

    /// When a quota of `period` counted on `today` starts afresh.
    public static func resetDay(of period: QuotaPeriod, today: UsageDay) -> UsageDay {
        period == .daily ? today.adding(days: 1) : today.nextMonthStart
    }

    /// Why a turn of a user with `limits` is refused now: the quota of `period` is spent until its reset.
    public func refusal(_ period: QuotaPeriod, limits: QuotaLimits) -> QuotaRefusal {
        let now = self.clock.now()
        let resetDay = Self.resetDay(of: period, today: UsageDay(now))
        return QuotaRefusal(
            period: period, limit: period == .daily ? limits.daily : limits.monthly, resetDay: resetDay,
            secondsToReset: max(1, Int(resetDay.start.timeIntervalSince(now).rounded(.up))))
    }
}

/// A turn refused because its user's token quota is spent: which quota, and when it starts afresh.
public struct QuotaRefusal: Sendable {
    let period: QuotaPeriod
    /// The quota's tokens (nil: unknown, shown as "?").
    let limit: Int64?
    let resetDay: UsageDay
    /// Whole seconds until the reset, at least 1.
    public let secondsToReset: Int

    /// Names the quota and its reset.
    public var detail: String {
        let limit = self.limit.map(String.init) ?? "?"
        let name = self.period == .daily ? "Daily" : "Monthly"
        return "\(name) token quota reached (\(limit) tokens per \(self.period == .daily ? "day" : "month"), UTC); "
            + "it resets at \(self.resetDay.startISO8601)"
    }
}
