/// Typed members of a ``WireJSON`` object, read as `JSONDecoder` reads an optional property: nil when absent or
/// null, ``Mismatch`` when present with another type (the upstream's completion and stream chunks).
extension WireJSON {
    /// A member whose type is not the one the wire format gives it.
    struct Mismatch: Error {}

    /// The member `key`, nil when absent or null (or when this is not an object).
    func present(_ key: String) -> WireJSON? {
        guard let value = self[key] else { return nil }
        if case .null = value { return nil }
        return value
    }

    func string(_ key: String) throws(Mismatch) -> String? {
        guard let value = self.present(key) else { return nil }
        guard case .string(let text) = value else { throw Mismatch() }
        return text
    }

    func array(_ key: String) throws(Mismatch) -> [WireJSON]? {
        guard let value = self.present(key) else { return nil }
        guard case .array(let elements) = value else { throw Mismatch() }
        return elements
    }

    func object(_ key: String) throws(Mismatch) -> WireJSON? {
        guard let value = self.present(key) else { return nil }
        guard case .object = value else { throw Mismatch() }
        return value
    }

    /// `TokenUsage` as the upstream sends it: all three counts required, integers.
    func tokenUsage(_ key: String) throws(Mismatch) -> TokenUsage? {
        guard let usage = try self.object(key) else { return nil }
        guard case .integer(let prompt)? = usage["prompt_tokens"],
            case .integer(let completion)? = usage["completion_tokens"],
            case .integer(let total)? = usage["total_tokens"]
        else { throw Mismatch() }
        return TokenUsage(promptTokens: prompt, completionTokens: completion, totalTokens: total)
    }
}
