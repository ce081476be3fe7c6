/// The variables ``AppConfig`` reads, with the three ways it reads them: a trimmed value, a comma-separated
/// list and a whole number within a range. Unset and empty variables read as nil.
struct EnvironmentVariables {
    let environment: [String: String]

    /// The variable's value, trimmed; nil when unset or empty.
    func value(_ name: String) -> String? {
        guard let raw = self.environment[name]?.trimmingWhitespace(), !raw.isEmpty else { return nil }
        return String(raw)
    }

    /// A comma-separated list, entries trimmed, empty entries dropped; nil when the variable is unset.
    func list(_ name: String) -> [String]? {
        self.value(name).map { raw in
            raw.split(separator: ",").map { String($0.trimmingWhitespace()) }.filter { !$0.isEmpty }
        }
    }

    /// A whole number within `range`; nil when unset, an error naming the range otherwise.
    func integer(_ name: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let raw = self.value(name) else { return nil }
        guard let number = Int(raw), range.contains(number) else {
            throw ConfigurationError(
                variable: name,
                problem: "expected a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(raw)\""
            )
        }
        return number
    }
}
