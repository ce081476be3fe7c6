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
        var reader = WireJSONReader(bytes: bytes, repeatedKeys: repeatedKeys)
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipWhitespace()
        return reader.index == bytes.count ? value : nil
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

/// The reader behind ``WireJSON/parse(_:)``: one pass over the bytes, strings decoded (and checked) as read.
private struct WireJSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    /// Whether an object may repeat a key (its first value kept); if not, such a document is refused.
    let repeatedKeys: Bool
    var index = 0

    mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) -> WireJSON? {
        self.skipWhitespace()
        guard self.index < self.bytes.count, depth < UpstreamJSON.maximumDepth else { return nil }
        switch self.bytes[self.index] {
        case UInt8(ascii: "{"): return self.object(depth: depth)
        case UInt8(ascii: "["): return self.array(depth: depth)
        case UInt8(ascii: "\""): return self.string().map(WireJSON.string)
        case UInt8(ascii: "t"): return self.literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return self.literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return self.literal("null") ? .null : nil
        default: return self.number()
        }
    }

    private mutating func object(depth: Int) -> WireJSON? {
        self.index += 1
        var members: [String: WireJSON] = [:]
        while true {
            self.skipWhitespace()
            if self.consume(UInt8(ascii: "}")) { return .object(members) }  // empty, or after a trailing comma
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\""),
                let key = self.string()
            else { return nil }
            self.skipWhitespace()
            guard self.consume(UInt8(ascii: ":")), let value = self.value(depth: depth + 1) else { return nil }
            if members[key] == nil {
                members[key] = value
            } else if !self.repeatedKeys {
                return nil
            }
            self.skipWhitespace()
            if self.consume(UInt8(ascii: ",")) { continue }
            return self.consume(UInt8(ascii: "}")) ? .object(members) : nil
        }
    }

    private mutating func array(depth: Int) -> WireJSON? {
        self.index += 1
        var elements: [WireJSON] = []
        while true {
            self.skipWhitespace()
            if self.consume(UInt8(ascii: "]")) { return .array(elements) }  // empty, or after a trailing comma
            guard let element = self.value(depth: depth + 1) else { return nil }
            elements.append(element)
            self.skipWhitespace()
            if self.consume(UInt8(ascii: ",")) { continue }
            return self.consume(UInt8(ascii: "]")) ? .array(elements) : nil
        }
    }

    /// A string literal whose opening quote is at `index`, decoded.
    private mutating func string() -> String? {
        guard let (text, end) = DeltaFastPath.decodeString(self.bytes, from: self.index + 1) else { return nil }
        self.index = end
        return text
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { return false }
        for offset in 0..<count where self.bytes[self.index + offset] != word.utf8Start[offset] {
            return false
        }
        self.index += count
        return true
    }

    /// The run of number characters at `index`, checked against RFC 8259's grammar.
    private mutating func number() -> WireJSON? {
        let start = self.index
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                UInt8(ascii: "e"), UInt8(ascii: "E"):
                self.index += 1
            default:
                return self.literalNumber(from: start)
            }
        }
        return self.literalNumber(from: start)
    }

    private func literalNumber(from start: Int) -> WireJSON? {
        guard self.index > start else { return nil }
        return WireJSON.number(
            literal: String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self))
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard self.index < self.bytes.count, self.bytes[self.index] == byte else { return false }
        self.index += 1
        return true
    }
}
