/// A JSON value parsed without `JSONDecoder`, for the streamed chunks that are not plain deltas (the last one,
/// with the finish reason and the usage; an error): decoding those with `JSONDecoder` was ~3 % of a replica's
/// CPU in a send run, for one chunk a turn.
///
/// It accepts what `JSONDecoder` accepts, no less, so a chunk that was read before is read now: one value with
/// only whitespace around it; keys decoded strictly; string and number values kept as their text and checked
/// only when read (a string's escapes, a number's RFC 8259 grammar), as `JSONDecoder` checks only what it
/// decodes; a trailing comma in an object or array tolerated; when a key repeats, the first one counts. At most
/// ``maximumDepth`` levels of nesting (`JSONDecoder` allows 512).
enum UpstreamJSON: Equatable, Sendable {
    case object([String: UpstreamJSON])
    case array([UpstreamJSON])
    /// The literal after its opening quote, closing quote included, escapes not yet decoded.
    case string(raw: String)
    /// The literal as it was sent: a sign or digit, then digits, signs, points and exponents.
    case number(String)
    case bool(Bool)
    case null

    static let maximumDepth = 64

    static func parse(_ text: String) -> UpstreamJSON? {
        var text = text
        return text.withUTF8 { bytes -> UpstreamJSON? in
            var parser = Parser(bytes: bytes)
            guard let value = parser.value(depth: 0) else { return nil }
            parser.skipWhitespace()
            return parser.index == bytes.count ? value : nil
        }
    }

    /// A member of an object whose type is not the one the wire format gives it.
    struct Mismatch: Error {}

    /// The member `key` of this object: nil when absent or null, ``Mismatch`` when of another type (the way
    /// `JSONDecoder` treats an optional property).
    func string(_ key: String) throws(Mismatch) -> String? {
        switch try self.member(key) {
        case nil: return nil
        case .string(let raw)?:
            var raw = raw
            guard let value = raw.withUTF8({ DeltaFastPath.decodeString($0, from: 0)?.0 }) else { throw Mismatch() }
            return value
        default: throw Mismatch()
        }
    }

    /// An integer member, from an integer literal or a number that is exactly one (`12.0`), as `JSONDecoder`
    /// reads `Int`.
    func int(_ key: String) throws(Mismatch) -> Int? {
        switch try self.member(key) {
        case nil: return nil
        case .number(let text)?:
            guard Self.isNumber(text) else { throw Mismatch() }
            if let value = Int(text) { return value }
            guard let value = Double(text).flatMap({ Int(exactly: $0) }) else { throw Mismatch() }
            return value
        default: throw Mismatch()
        }
    }

    /// An object member.
    func object(_ key: String) throws(Mismatch) -> UpstreamJSON? {
        switch try self.member(key) {
        case nil: return nil
        case let value? where value.isObject: return value
        default: throw Mismatch()
        }
    }

    /// An array member.
    func array(_ key: String) throws(Mismatch) -> [UpstreamJSON]? {
        switch try self.member(key) {
        case nil: return nil
        case .array(let elements)?: return elements
        default: throw Mismatch()
        }
    }

    /// RFC 8259's number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    static func isNumber(_ text: String) -> Bool {
        var bytes = text.utf8[...]
        func digits() -> Int {
            let before = bytes.count
            while let byte = bytes.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { bytes.removeFirst() }
            return before - bytes.count
        }
        if bytes.first == UInt8(ascii: "-") { bytes.removeFirst() }
        if bytes.first == UInt8(ascii: "0") {
            bytes.removeFirst()
        } else if digits() == 0 {
            return false
        }
        if bytes.first == UInt8(ascii: ".") {
            bytes.removeFirst()
            if digits() == 0 { return false }
        }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes.removeFirst()
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes.removeFirst() }
            if digits() == 0 { return false }
        }
        return bytes.isEmpty
    }

    var isObject: Bool {
        if case .object = self { return true }
        return false
    }

    /// The member, nil when absent or null; ``Mismatch`` when this value is not an object.
    private func member(_ key: String) throws(Mismatch) -> UpstreamJSON? {
        guard case .object(let members) = self else { throw Mismatch() }
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        mutating func skipWhitespace() {
            while self.index < self.bytes.count {
                switch self.bytes[self.index] {
                case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) -> UpstreamJSON? {
            self.skipWhitespace()
            guard self.index < self.bytes.count, depth < UpstreamJSON.maximumDepth else { return nil }
            switch self.bytes[self.index] {
            case UInt8(ascii: "{"): return self.object(depth: depth)
            case UInt8(ascii: "["): return self.array(depth: depth)
            case UInt8(ascii: "\""): return self.rawString().map { .string(raw: $0) }
            case UInt8(ascii: "t"): return self.literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return self.literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return self.literal("null") ? .null : nil
            default: return self.number()
            }
        }

        private mutating func object(depth: Int) -> UpstreamJSON? {
            self.index += 1
            var members: [String: UpstreamJSON] = [:]
            self.skipWhitespace()
            if self.consume(UInt8(ascii: "}")) { return .object(members) }
            while true {
                self.skipWhitespace()
                if self.consume(UInt8(ascii: "}")) { return .object(members) }  // after a trailing comma
                guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\""),
                    let key = self.string()
                else { return nil }
                self.skipWhitespace()
                guard self.consume(UInt8(ascii: ":")), let value = self.value(depth: depth + 1) else { return nil }
                if members[key] == nil { members[key] = value }
                self.skipWhitespace()
                if self.consume(UInt8(ascii: ",")) { continue }
                return self.consume(UInt8(ascii: "}")) ? .object(members) : nil
            }
        }

        private mutating func array(depth: Int) -> UpstreamJSON? {
            self.index += 1
            var elements: [UpstreamJSON] = []
            self.skipWhitespace()
            if self.consume(UInt8(ascii: "]")) { return .array(elements) }
            while true {
                self.skipWhitespace()
                if self.consume(UInt8(ascii: "]")) { return .array(elements) }  // after a trailing comma
                guard let element = self.value(depth: depth + 1) else { return nil }
                elements.append(element)
                self.skipWhitespace()
                if self.consume(UInt8(ascii: ",")) { continue }
                return self.consume(UInt8(ascii: "]")) ? .array(elements) : nil
            }
        }

        /// The text of a string literal whose opening quote is at `index`, after it up to the closing quote
        /// included, escapes left as they are.
        private mutating func rawString() -> String? {
            var end = self.index + 1
            while end < self.bytes.count {
                switch self.bytes[end] {
                case UInt8(ascii: "\\"): end += 2
                case UInt8(ascii: "\""):
                    let raw = String(
                        decoding: UnsafeBufferPointer(rebasing: self.bytes[(self.index + 1)...end]), as: UTF8.self)
                    self.index = end + 1
                    return raw
                default: end += 1
                }
            }
            return nil
        }

        /// A key: a string literal whose opening quote is at `index`, decoded.
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

        /// A sign or digit, then any run of digits, signs, points and exponent marks; checked when read.
        private mutating func number() -> UpstreamJSON? {
            let start = self.index
            guard
                self.bytes[start] == UInt8(ascii: "-")
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[start])
            else { return nil }
            self.index += 1
            while self.index < self.bytes.count, Self.isNumberByte(self.bytes[self.index]) { self.index += 1 }
            return .number(
                String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self))
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
}
