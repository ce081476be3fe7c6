import Foundation

/// A calendar day in UTC, stored as the number of days since 1970-01-01 (an INTEGER in every engine, so
/// ranges are index-friendly and no engine's time zone setting can shift a day).
public struct UsageDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let number: Int

    public init(number: Int) {
        self.number = number
    }

    /// The UTC day that contains `date`.
    public init(_ date: Date) {
        self.number = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    /// Parses `YYYY-MM-DD` (a real date of the proleptic Gregorian calendar); nil otherwise.
    public init?(iso text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year)
        else { return nil }
        self.number = Self.daysFromCivil(year: year, month: month, day: day)
    }

    /// `YYYY-MM-DD`.
    public var iso: String {
        let (year, month, day) = self.civil
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public var description: String { self.iso }

    /// The first day of this day's month.
    public var monthStart: UsageDay {
        let (year, month, _) = self.civil
        return UsageDay(number: Self.daysFromCivil(year: year, month: month, day: 1))
    }

    /// The first day of the next month.
    public var nextMonthStart: UsageDay {
        let (year, month, _) = self.civil
        return month == 12
            ? UsageDay(number: Self.daysFromCivil(year: year + 1, month: 1, day: 1))
            : UsageDay(number: Self.daysFromCivil(year: year, month: month + 1, day: 1))
    }

    public func adding(days: Int) -> UsageDay { UsageDay(number: self.number + days) }

    /// Midnight UTC at the start of this day, as `YYYY-MM-DDT00:00:00Z` (when a quota resets).
    public var startISO8601: String { self.iso + "T00:00:00Z" }

    /// Midnight UTC at the start of this day.
    public var start: Date { Date(timeIntervalSince1970: Double(self.number) * 86_400) }

    public static func < (lhs: UsageDay, rhs: UsageDay) -> Bool { lhs.number < rhs.number }

    // Howard Hinnant's days-from-civil and civil-from-days algorithms (exact for every Gregorian date).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private var civil: (year: Int, month: Int, day: Int) {
        let z = self.number + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// Upstream calls and their tokens, summed over some days (and users).
public struct UsageTotals: Sendable, Equatable {
    public var requests: Int64
    public var promptTokens: Int64
    public var completionTokens: Int64
    /// How many of `requests` have estimated token counts (a stream cut off before the upstream reported its
    /// usage).
    public var estimatedRequests: Int64

    public init(requests: Int64 = 0, promptTokens: Int64 = 0, completionTokens: Int64 = 0, estimatedRequests: Int64 = 0)
    {
        self.requests = requests
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.estimatedRequests = estimatedRequests
    }

    public var totalTokens: Int64 { self.promptTokens + self.completionTokens }

    public static func + (lhs: UsageTotals, rhs: UsageTotals) -> UsageTotals {
        UsageTotals(
            requests: lhs.requests + rhs.requests, promptTokens: lhs.promptTokens + rhs.promptTokens,
            completionTokens: lhs.completionTokens + rhs.completionTokens,
            estimatedRequests: lhs.estimatedRequests + rhs.estimatedRequests)
    }
}

/// One user's usage on one day: a row of `usage_daily`.
public struct UsageDayRecord: Sendable, Equatable {
    public let userID: UUID
    public let day: UsageDay
    public let totals: UsageTotals

    public init(userID: UUID, day: UsageDay, totals: UsageTotals) {
        self.userID = userID
        self.day = day
        self.totals = totals
    }
}

/// Usage summed over users on one day (GET /admin/usage/daily).
public struct DailyUsage: Sendable, Equatable {
    public let day: UsageDay
    public let totals: UsageTotals

    public init(day: UsageDay, totals: UsageTotals) {
        self.day = day
        self.totals = totals
    }
}

/// One user's usage over a range of days (GET /admin/usage).
public struct UserUsage: Sendable, Equatable {
    public let userID: UUID
    public let email: String
    public let totals: UsageTotals

    public init(userID: UUID, email: String, totals: UsageTotals) {
        self.userID = userID
        self.email = email
        self.totals = totals
    }
}

/// How GET /admin/usage orders users: heaviest first, by total tokens or by requests.
public enum UsageOrder: String, Sendable, CaseIterable {
    case tokens
    case requests
}

/// One upstream call to account to the user it served, on the UTC day it ended.
public struct UsageCharge: Sendable, Equatable {
    public let userID: UUID
    public let day: UsageDay
    public let promptTokens: Int
    public let completionTokens: Int
    /// The counts are estimates (the upstream did not report its usage), and the day's row says so.
    public let estimated: Bool

    public init(userID: UUID, day: UsageDay, promptTokens: Int, completionTokens: Int, estimated: Bool) {
        self.userID = userID
        self.day = day
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.estimated = estimated
    }
}

/// A turn's claim on its user's token quotas (at least one limit: a user without quotas makes none), checked
/// and recorded when the turn begins
/// (``ChatStore/beginTurn(chatID:userContent:model:contextThrough:reservation:)``).
///
/// The turn is admitted while the user's tokens used in the period plus those reserved by their other
/// running turns stay below each limit; it then reserves `tokens` until its reply ends, when the real usage
/// replaces the reservation. Concurrent turns of one user are admitted one at a time, so together they pass a
/// quota by at most one turn.
public struct TokenReservation: Sendable, Equatable {
    public let userID: UUID
    /// The most the turn can cost: its prompt's bound (a token per byte of UTF-8, plus framing), the most its
    /// reply may write, and in an untitled chat its title call's bound.
    public let tokens: Int
    public let today: UsageDay
    /// Nil: unlimited.
    public let dailyLimit: Int64?
    public let monthlyLimit: Int64?

    public init(userID: UUID, tokens: Int, today: UsageDay, dailyLimit: Int64?, monthlyLimit: Int64?) {
        self.userID = userID
        self.tokens = tokens
        self.today = today
        self.dailyLimit = dailyLimit
        self.monthlyLimit = monthlyLimit
    }
}

/// Which token quota refused a turn.
public enum QuotaPeriod: String, Sendable, Equatable {
    case daily
    case monthly
}

/// A user's standing against their quotas: tokens used today and this month, and held by running turns.
public struct QuotaStanding: Sendable, Equatable {
    public var usedToday: Int64
    public var usedThisMonth: Int64
    public var reserved: Int64

    public init(usedToday: Int64, usedThisMonth: Int64, reserved: Int64) {
        self.usedToday = usedToday
        self.usedThisMonth = usedThisMonth
        self.reserved = reserved
    }

    /// The first quota that `reservation`'s limits leave no room in, or nil when the turn is admitted.
    public func exceeded(by reservation: TokenReservation) -> QuotaPeriod? {
        self.exceeded(dailyLimit: reservation.dailyLimit, monthlyLimit: reservation.monthlyLimit)
    }

    /// The first of these limits (nil: unlimited) that leaves no room, or nil when a turn would be admitted.
    public func exceeded(dailyLimit: Int64?, monthlyLimit: Int64?) -> QuotaPeriod? {
        if let limit = dailyLimit, self.usedToday + self.reserved >= limit { return .daily }
        if let limit = monthlyLimit, self.usedThisMonth + self.reserved >= limit { return .monthly }
        return nil
    }
}
