import ChatStorage
import Foundation
import HTTPTypes

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
struct QuotaLimits: Sendable, Equatable {
    let daily: Int64?
    let monthly: Int64?

    var isUnlimited: Bool { self.daily == nil && self.monthly == nil }
}

/// The deployment's token quotas (`DAILY_TOKEN_QUOTA`, `MONTHLY_TOKEN_QUOTA`; 0 = unlimited) and a user's own,
/// set by an admin, over them.
struct QuotaPolicy: Sendable {
    let dailyDefault: Int64
    let monthlyDefault: Int64
    let clock: UsageClock

    func limits(for user: UserRecord) -> QuotaLimits {
        let daily = user.dailyTokenQuota ?? self.dailyDefault
        let monthly = user.monthlyTokenQuota ?? self.monthlyDefault
        return QuotaLimits(daily: daily > 0 ? daily : nil, monthly: monthly > 0 ? monthly : nil)
    }

    /// When a quota of `period` counted on `today` starts afresh.
    static func resetDay(of period: QuotaPeriod, today: UsageDay) -> UsageDay {
        period == .daily ? today.adding(days: 1) : today.nextMonthStart
    }

    /// 429 naming the quota and its reset, with `Retry-After` in seconds until then.
    func refusal(_ period: QuotaPeriod, limits: QuotaLimits) -> APIError {
        let now = self.clock.now()
        let resetDay = Self.resetDay(of: period, today: UsageDay(now))
        let seconds = max(1, Int(resetDay.start.timeIntervalSince(now).rounded(.up)))
        let limit = (period == .daily ? limits.daily : limits.monthly).map(String.init) ?? "?"
        let name = period == .daily ? "Daily" : "Monthly"
        return APIError(
            .tooManyRequests,
            "\(name) token quota reached (\(limit) tokens per \(period == .daily ? "day" : "month"), UTC); "
                + "it resets at \(resetDay.startISO8601)",
            headers: [.retryAfter: String(seconds)])
    }
}
