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

    /// Appends the ``iso8601`` text to `bytes` without making a string (JSON listings write one per row).
    public func appendISO8601(to bytes: inout [UInt8]) {
        var seconds = time_t(self.secondsSinceEpoch)
        let micros = Int(self.microseconds - Int64(seconds) * 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func append(_ value: Int, digits: Int) {
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            var remaining = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(remaining / divisor % 10))
                remaining %= divisor
                divisor /= 10
            }
        }
        append(Int(parts.tm_year) + 1900, digits: 4)
        bytes.append(UInt8(ascii: "-"))
        append(Int(parts.tm_mon) + 1, digits: 2)
        bytes.append(UInt8(ascii: "-"))
        append(Int(parts.tm_mday), digits: 2)
        bytes.append(UInt8(ascii: "T"))
        append(Int(parts.tm_hour), digits: 2)
        bytes.append(UInt8(ascii: ":"))
        append(Int(parts.tm_min), digits: 2)
        bytes.append(UInt8(ascii: ":"))
        append(Int(parts.tm_sec), digits: 2)
        bytes.append(UInt8(ascii: "."))
        append(micros, digits: 6)
        bytes.append(UInt8(ascii: "Z"))
    }
}
