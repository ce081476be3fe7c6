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
        return text.withUTF8 { JSONScanner<UpstreamJSON>.document($0) }
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
}

extension UpstreamJSON: ScannedJSON {
    /// The literal's text after its opening quote up to the closing quote included, escapes left as they are.
    static func string(in bytes: UnsafeBufferPointer<UInt8>, quoteAt quote: Int) -> (UpstreamJSON, end: Int)? {
        var end = quote + 1
        while end < bytes.count {
            switch bytes[end] {
            case UInt8(ascii: "\\"): end += 2
            case UInt8(ascii: "\""):
                let raw = String(decoding: UnsafeBufferPointer(rebasing: bytes[(quote + 1)...end]), as: UTF8.self)
                return (.string(raw: raw), end + 1)
            default: end += 1
            }
        }
        return nil
    }

    /// The literal as sent when it starts with a sign or digit; checked when read.
    static func number(literal text: String) -> UpstreamJSON? {
        guard let first = text.utf8.first,
            first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return nil }
        return .number(text)
    }
}
