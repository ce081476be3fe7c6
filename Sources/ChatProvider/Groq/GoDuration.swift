/// Parses Go's `time.Duration` strings, as Groq sends them in `x-ratelimit-reset-*`:
/// "2m59.56s", "7.66s", "800ms", "1h0m5s", "150µs", "0s".
public enum GoDuration {
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingCharacters(in: " \t"))
        guard !rest.isEmpty else { return nil }
        if rest == "0" { return .zero }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !$0.isNumber && $0 != "." }
            rest = rest.dropFirst(unit.count)
            let seconds: Double
            switch unit {
            case "h": seconds = 3600
            case "m": seconds = 60
            case "s": seconds = 1
            case "ms": seconds = 1e-3
            case "us", "µs", "μs": seconds = 1e-6
            case "ns": seconds = 1e-9
            default: return nil
            }
            total += value * seconds
        }
        return .nanoseconds(Int64((total * 1e9).rounded()))
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        let start = self.firstIndex { !set.contains($0) } ?? self.endIndex
        let end = self.lastIndex { !set.contains($0) }.map { self.index(after: $0) } ?? start
        return self[start..<end]
    }
}
