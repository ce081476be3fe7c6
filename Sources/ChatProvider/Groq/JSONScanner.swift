/// A JSON value a ``JSONScanner`` builds: containers and the `true`/`false`/`null` literals are built alike by
/// every kind (their enum cases), while a string or number literal is what each kind makes of it (decoded and
/// checked at once by ``WireJSON``, kept as text and checked only when read by ``UpstreamJSON``).
protocol ScannedJSON {
    static var null: Self { get }
    static func bool(_ value: Bool) -> Self
    static func array(_ elements: [Self]) -> Self
    static func object(_ members: [String: Self]) -> Self

    /// The string literal whose opening quote is at `quote`: the value and the index just after its closing
    /// quote; nil when the literal is malformed (or unterminated).
    static func string(in bytes: UnsafeBufferPointer<UInt8>, quoteAt quote: Int) -> (Self, end: Int)?

    /// A number literal: a non-empty run of digits, signs, points and exponent marks; nil when refused.
    static func number(literal text: String) -> Self?
}

/// One pass over a JSON document's bytes, shared by ``UpstreamJSON`` and ``WireJSON``: whitespace, objects
/// (keys decoded strictly; a trailing comma tolerated; a repeated key keeps its first value, or refuses the
/// document), arrays, literals, at most ``UpstreamJSON/maximumDepth`` levels of nesting. What a string or
/// number literal becomes is `Value`'s to say.
struct JSONScanner<Value: ScannedJSON> {
    private let bytes: UnsafeBufferPointer<UInt8>
    /// Whether an object may repeat a key (its first value kept); if not, such a document is refused.
    private let repeatedKeys: Bool
    private var index = 0

    /// The one value `bytes` hold with only whitespace around it; nil when they hold anything else.
    static func document(_ bytes: UnsafeBufferPointer<UInt8>, repeatedKeys: Bool = true) -> Value? {
        var scanner = JSONScanner(bytes: bytes, repeatedKeys: repeatedKeys)
        guard let value = scanner.value(depth: 0) else { return nil }
        scanner.skipWhitespace()
        return scanner.index == bytes.count ? value : nil
    }

    private init(bytes: UnsafeBufferPointer<UInt8>, repeatedKeys: Bool) {
        self.bytes = bytes
        self.repeatedKeys = repeatedKeys
    }

    private mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
            default: return
            }
        }
    }

    private mutating func value(depth: Int) -> Value? {
        self.skipWhitespace()
        guard self.index < self.bytes.count, depth < UpstreamJSON.maximumDepth else { return nil }
        switch self.bytes[self.index] {
        case UInt8(ascii: "{"): return self.object(depth: depth)
        case UInt8(ascii: "["): return self.array(depth: depth)
        case UInt8(ascii: "\""):
            guard let (value, end) = Value.string(in: self.bytes, quoteAt: self.index) else { return nil }
            self.index = end
            return value
        case UInt8(ascii: "t"): return self.literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return self.literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return self.literal("null") ? .null : nil
        default: return self.number()
        }
    }

    private mutating func object(depth: Int) -> Value? {
        self.index += 1
        var members: [String: Value] = [:]
        while true {
            self.skipWhitespace()
            if self.consume(UInt8(ascii: "}")) { return .object(members) }  // empty, or after a trailing comma
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\""),
                let (key, end) = DeltaFastPath.decodeString(self.bytes, from: self.index + 1)
            else { return nil }
            self.index = end
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

    private mutating func array(depth: Int) -> Value? {
        self.index += 1
        var elements: [Value] = []
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

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { return false }
        for offset in 0..<count where self.bytes[self.index + offset] != word.utf8Start[offset] {
            return false
        }
        self.index += count
        return true
    }

    /// The run of number characters at `index`, as `Value` reads a number literal.
    private mutating func number() -> Value? {
        let start = self.index
        while self.index < self.bytes.count, Self.isNumberByte(self.bytes[self.index]) { self.index += 1 }
        guard self.index > start else { return nil }
        return Value.number(
            literal: String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self))
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
            UInt8(ascii: "e"), UInt8(ascii: "E"):
            true
        default: false
        }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard self.index < self.bytes.count, self.bytes[self.index] == byte else { return false }
        self.index += 1
        return true
    }
}
