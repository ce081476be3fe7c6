import Foundation

/// A point in time with microsecond precision, stored as an INTEGER (microseconds since the Unix epoch).
public struct Timestamp: Sendable, Hashable, Comparable {
    public let microseconds: Int64

    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(microseconds: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000)
    }

    public var secondsSinceEpoch: Int64 {
        self.microseconds >= 0 ? self.microseconds / 1_000_000 : (self.microseconds - 999_999) / 1_000_000
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    /// ISO 8601 in UTC with microseconds, e.g. `2026-11-25T01:39:21.123456Z`.
    public var iso8601: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(27)
        self.appendISO8601(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the ``iso8601`` text to `bytes` without making a string (JSON listings write two per row).
    ///
    /// The calendar date comes from the day count by Hinnant's `civil_from_days` (proleptic Gregorian, as
    /// `gmtime_r`), without the C library's time-zone lock; digits go in pairs from a table.
    public func appendISO8601(to bytes: inout [UInt8]) {
        let seconds = self.secondsSinceEpoch
        let micros = Int(self.microseconds - seconds * 1_000_000)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = Self.civil(fromDays: days)
        Self.appendDigits(Int(year) / 100 % 100, to: &bytes)
        Self.appendDigits(Int(year) % 100, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        Self.appendDigits(month, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        Self.appendDigits(day, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        Self.appendDigits(secondOfDay / 3600, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        Self.appendDigits(secondOfDay / 60 % 60, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        Self.appendDigits(secondOfDay % 60, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        Self.appendDigits(micros / 10_000, to: &bytes)
        Self.appendDigits(micros / 100 % 100, to: &bytes)
        Self.appendDigits(micros % 100, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// Year, month (1-12) and day (1-31) of the day `days` after 1970-01-01.
    private static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthFromMarch + 2) / 5 + 1)
        let month = Int(monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Two decimal digits of `value` (0...99; the last two digits of anything else that is not negative).
    private static func appendDigits(_ value: Int, to bytes: inout [UInt8]) {
        let value = abs(value) % 100
        bytes.append(UInt8(ascii: "0") + UInt8(value / 10))
        bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}
