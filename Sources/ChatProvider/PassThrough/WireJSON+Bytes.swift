/// ``WireJSON`` read from and written to bytes without `JSONDecoder`/`JSONEncoder`: the door's answers, the
/// body it sends upstream and the upstream's answer and stream chunks go through here. Under chat-bench's
/// `gateway` scenario the generic Codable machinery (a thrown `DecodingError` for every type `WireJSON`
/// tried before the right one) was about a fifth of the server's CPU per call.
extension WireJSON {
    /// One JSON value with only whitespace around it, read as `JSONDecoder` reads ``WireJSON``: a number is
    /// ``integer(_:)`` when it is an integer that fits `Int` (`12.0` and `1e2` included), else ``number(_:)``
    /// (nil when it is not finite); a repeated key keeps its first value; a trailing comma is tolerated. Nil
    /// when the bytes are not such a value, or nest deeper than ``UpstreamJSON/maximumDepth``.
    /// With `repeatedKeys: false`, nil as well when an object repeats a key (the caller then reads the body
    /// the way that keeps the last value).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, repeatedKeys: Bool = true) -> WireJSON? {
        JSONScanner<WireJSON>.document(bytes, repeatedKeys: repeatedKeys)
    }

    /// ``parse(_:repeatedKeys:)`` over any contiguous bytes (an array, a string's UTF-8, a request body).
    public static func parse(_ bytes: some Collection<UInt8>, repeatedKeys: Bool = true) -> WireJSON? {
        if let parsed = bytes.withContiguousStorageIfAvailable({ Self.parse($0, repeatedKeys: repeatedKeys) }) {
            return parsed
        }
        return Array(bytes).withUnsafeBufferPointer { Self.parse($0, repeatedKeys: repeatedKeys) }
    }

    /// Appends the compact JSON text, object keys in sorted order (so equal values are equal bytes), numbers as
    /// `JSONEncoder` writes them (`1e-07`, `0.5`; an integral `Double` without `.0`), strings as
    /// ``JSONText/appendQuoted(_:to:)`` escapes them.
    public func write(to output: inout [UInt8]) {
        switch self {
        case .null: JSONText.appendStatic("null", to: &output)
        case .bool(let value): JSONText.appendStatic(value ? "true" : "false", to: &output)
        case .integer(let value): output.append(contentsOf: String(value).utf8)
        case .number(let value): Self.appendNumber(value, to: &output)
        case .string(let value): JSONText.appendQuoted(value, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                element.write(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                JSONText.appendQuoted(key, to: &output)
                output.append(UInt8(ascii: ":"))
                members[key]?.write(to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// The compact JSON text as bytes (see ``write(to:)``).
    public var jsonBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(128)
        self.write(to: &output)
        return output
    }

    /// `JSONEncoder`'s form: the shortest text that reads back as the same `Double`, without a trailing `.0`;
    /// `null` for a value JSON cannot carry (never parsed, only a caller's own NaN or infinity).
    static func appendNumber(_ value: Double, to output: inout [UInt8]) {
        guard value.isFinite else { return JSONText.appendStatic("null", to: &output) }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        output.append(contentsOf: text.utf8)
    }

    /// A number literal as ``WireJSON``, or nil when it is not RFC 8259's number or not finite.
    static func number(literal text: String) -> WireJSON? {
        guard UpstreamJSON.isNumber(text) else { return nil }
        if let integer = Int(text) { return .integer(integer) }
        guard let value = Double(text), value.isFinite else { return nil }
        if let integer = Int(exactly: value) { return .integer(integer) }
        return .number(value)
    }
}

extension WireJSON: ScannedJSON {
    /// The literal decoded (and checked) as read.
    static func string(in bytes: UnsafeBufferPointer<UInt8>, quoteAt quote: Int) -> (WireJSON, end: Int)? {
        guard let (text, end) = DeltaFastPath.decodeString(bytes, from: quote + 1) else { return nil }
        return (.string(text), end)
    }
}
