/// Typed members of a ``WireJSON`` object, read as `JSONDecoder` reads an optional property: nil when absent or
/// null, ``Mismatch`` when present with another type (the upstream's completion and stream chunks, the door's
/// request).
extension WireJSON {
    /// A member whose type is not the one the wire format gives it.
    public struct Mismatch: Error {}

    /// The member `key`, nil when absent or null (or when this is not an object).
    public func present(_ key: String) -> WireJSON? {
        guard let value = self[key] else { return nil }
        if case .null = value { return nil }
        return value
    }

    public func string(_ key: String) throws(Mismatch) -> String? {
        guard let value = self.present(key) else { return nil }
        guard case .string(let text) = value else { throw Mismatch() }
        return text
    }

    public func array(_ key: String) throws(Mismatch) -> [WireJSON]? {
        guard let value = self.present(key) else { return nil }
        guard case .array(let elements) = value else { throw Mismatch() }
        return elements
    }

    public func object(_ key: String) throws(Mismatch) -> WireJSON? {
        guard let value = self.present(key) else { return nil }
        guard case .object = value else { throw Mismatch() }
        return value
    }

    /// `TokenUsage` as the upstream sends it: all three counts required, integers.
    public func tokenUsage(_ key: String) throws(Mismatch) -> TokenUsage? {
        guard let usage = try self.object(key) else { return nil }
        guard case .integer(let prompt)? = usage["prompt_tokens"],
            case .integer(let completion)? = usage["completion_tokens"],
            case .integer(let total)? = usage["total_tokens"]
        else { throw Mismatch() }
        return TokenUsage(promptTokens: prompt, completionTokens: completion, totalTokens: total)
    }

    public func bool(_ key: String) throws(Mismatch) -> Bool? {
        guard let value = self.present(key) else { return nil }
        guard case .bool(let flag) = value else { throw Mismatch() }
        return flag
    }

    /// An integer (a literal such as `12.0` or `1e2` is one, as `JSONDecoder` reads `Int`).
    public func int(_ key: String) throws(Mismatch) -> Int? {
        guard let value = self.present(key) else { return nil }
        guard case .integer(let integer) = value else { throw Mismatch() }
        return integer
    }

    /// A number, integer or not, as `JSONDecoder` reads `Double`.
    public func double(_ key: String) throws(Mismatch) -> Double? {
        switch self.present(key) {
        case nil: return nil
        case .integer(let integer)?: return Double(integer)
        case .number(let number)?: return number
        default: throw Mismatch()
        }
    }
}
