/// A pull reader over the bytes of a JSON document, for imports: it walks the bytes in place and materialises
/// only what the caller asks for (a member's key, a string, a number); everything else is skipped without
/// allocating. ``validate()`` checks a whole document first (iteratively, so deep nesting cannot overflow the
/// stack), so a file is refused as invalid JSON before any of it is interpreted, as `JSONSerialization` did.
///
/// One container is iterated at a time per reader (``beginObject()``/``nextKey()``, ``beginArray()``/
/// ``nextElement()``); a nested one is read through a new reader over the range ``item()`` gives.
///
/// Not Sendable: it borrows the bytes, which must outlive it (the caller holds them for the reader's lifetime).
struct JSONPullReader {
    /// The bytes are not JSON (or nest deeper than ``maximumDepth``).
    struct SyntaxError: Error {}

    /// A value as read: scalars decoded, containers as the range of their bytes (read them with ``init(_:range:)``).
    enum Item {
        case null
        case bool(Bool)
        /// The number, and the integer it is exactly (nil when it has none, as `12.5`).
        case number(Double, integer: Int?)
        case string(String)
        case object(Range<Int>)
        case array(Range<Int>)
    }

    /// Nesting deeper than this is refused (JSONSerialization refuses more than 512 levels too).
    static let maximumDepth = 512

    private let bytes: UnsafeRawBufferPointer
    private(set) var position: Int
    private let end: Int

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    // MARK: Walking

    /// The whole range is one JSON value with only whitespace around it.
    mutating func validate() -> Bool {
        do {
            try self.skip()
            self.skipSpace()
            return self.position == self.end
        } catch {
            return false
        }
    }

    /// Reads the next value: scalars decoded, containers skipped and given as their range.
    mutating func item() throws(SyntaxError) -> Item {
        self.skipSpace()
        let start = self.position
        switch self.peek() {
        case UInt8(ascii: "{"):
            try self.skip()
            return .object(start..<self.position)
        case UInt8(ascii: "["):
            try self.skip()
            return .array(start..<self.position)
        case UInt8(ascii: "\""):
            return .string(try self.string())
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            try self.skip()
            switch self.bytes[start] {
            case UInt8(ascii: "n"): return .null
            case let first: return .bool(first == UInt8(ascii: "t"))
            }
        default:
            try self.skipNumber()
            let text = String(
                decoding: UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.position]), as: UTF8.self)
            guard let value = Double(text) else { throw SyntaxError() }
            let integer = text.contains { $0 == "." || $0 == "e" || $0 == "E" } ? Int(exactly: value) : Int(text)
            return .number(value, integer: integer)
        }
    }

    /// Enters the object that comes next.
    mutating func beginObject() throws(SyntaxError) {
        self.skipSpace()
        try self.expect(UInt8(ascii: "{"))
        self.first = true
    }

    /// The next member's key (the reader then stands at its value, which the caller reads or skips); nil after
    /// the last one.
    mutating func nextKey() throws(SyntaxError) -> String? {
        guard try self.nextEntry(closing: UInt8(ascii: "}")) else { return nil }
        let key = try self.string()
        self.skipSpace()
        try self.expect(UInt8(ascii: ":"))
        return key
    }

    /// Enters the array that comes next.
    mutating func beginArray() throws(SyntaxError) {
        self.skipSpace()
        try self.expect(UInt8(ascii: "["))
        self.first = true
    }

    /// Whether another element follows (the reader then stands at it).
    mutating func nextElement() throws(SyntaxError) -> Bool {
        try self.nextEntry(closing: UInt8(ascii: "]"))
    }

    /// Whether the entry just entered is the container's first (set by begin…, cleared by nextEntry).
    private var first = false

    private mutating func nextEntry(closing: UInt8) throws(SyntaxError) -> Bool {
        self.skipSpace()
        if self.peek() == closing {
            self.position += 1
            return false
        }
        if !self.first { try self.expect(UInt8(ascii: ",")) }
        self.first = false
        self.skipSpace()
        return true
    }

    // MARK: Skipping

    /// Skips one value of any kind, checking its syntax; iterative (an explicit stack of open containers).
    mutating func skip() throws(SyntaxError) {
        var open: [UInt8] = []  // the closing byte of each open container
        while true {
            self.skipSpace()
            switch self.peek() {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let closing = self.peek() == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                self.position += 1
                guard open.count < Self.maximumDepth else { throw SyntaxError() }
                self.skipSpace()
                if self.peek() == closing {
                    self.position += 1
                } else {
                    open.append(closing)
                    if closing == UInt8(ascii: "}") { try self.skipKey() }
                    continue
                }
            case UInt8(ascii: "\""): try self.skipString()
            case UInt8(ascii: "t"): try self.literal("true")
            case UInt8(ascii: "f"): try self.literal("false")
            case UInt8(ascii: "n"): try self.literal("null")
            default: try self.skipNumber()
            }
            // After a value: close containers, or move to the next entry of the innermost one.
            while let closing = open.last {
                self.skipSpace()
                if self.peek() == closing {
                    self.position += 1
                    open.removeLast()
                } else {
                    try self.expect(UInt8(ascii: ","))
                    if closing == UInt8(ascii: "}") { try self.skipKey() }
                    break
                }
            }
            if open.isEmpty { return }
        }
    }

    private mutating func skipKey() throws(SyntaxError) {
        self.skipSpace()
        guard self.peek() == UInt8(ascii: "\"") else { throw SyntaxError() }
        try self.skipString()
        self.skipSpace()
        try self.expect(UInt8(ascii: ":"))
    }

    private mutating func skipString() throws(SyntaxError) {
        self.position += 1
        while self.position < self.end {
            let byte = self.bytes[self.position]
            self.position += 1
            switch byte {
            case UInt8(ascii: "\""): return
            case UInt8(ascii: "\\"):
                guard self.position < self.end else { throw SyntaxError() }
                let escaped = self.bytes[self.position]
                self.position += 1
                if escaped == UInt8(ascii: "u") {
                    _ = try self.hex4()
                } else if !Self.simpleEscapes.contains(escaped) {
                    throw SyntaxError()
                }
            case 0..<0x20: throw SyntaxError()
            default: continue
            }
        }
        throw SyntaxError()
    }

    private mutating func skipNumber() throws(SyntaxError) {
        func digits() -> Int {
            let start = self.position
            while self.position < self.end, (0x30...0x39).contains(self.bytes[self.position]) { self.position += 1 }
            return self.position - start
        }
        if self.peek() == UInt8(ascii: "-") { self.position += 1 }
        let leading = self.peek()
        let count = digits()
        guard count > 0, leading != UInt8(ascii: "0") || count == 1 else { throw SyntaxError() }
        if self.peek() == UInt8(ascii: ".") {
            self.position += 1
            guard digits() > 0 else { throw SyntaxError() }
        }
        if self.peek() == UInt8(ascii: "e") || self.peek() == UInt8(ascii: "E") {
            self.position += 1
            if self.peek() == UInt8(ascii: "+") || self.peek() == UInt8(ascii: "-") { self.position += 1 }
            guard digits() > 0 else { throw SyntaxError() }
        }
    }

    private mutating func literal(_ word: StaticString) throws(SyntaxError) {
        let count = word.utf8CodeUnitCount
        guard self.end - self.position >= count else { throw SyntaxError() }
        for offset in 0..<count where self.bytes[self.position + offset] != word.utf8Start[offset] {
            throw SyntaxError()
        }
        self.position += count
    }

    // MARK: Strings

    private static let simpleEscapes: [UInt8] = Array(#""\/bfnrt"#.utf8)

    /// Decodes the string that starts here (escapes resolved; the text must be valid UTF-8).
    private mutating func string() throws(SyntaxError) -> String {
        try self.expect(UInt8(ascii: "\""))
        let start = self.position
        // Without escapes (the usual case) the bytes are the text.
        while self.position < self.end {
            let byte = self.bytes[self.position]
            if byte == UInt8(ascii: "\"") {
                let text = String(
                    validating: UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.position]), as: UTF8.self)
                self.position += 1
                guard let text else { throw SyntaxError() }
                return text
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            self.position += 1
        }
        var decoded = Array(UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.position]))
        while self.position < self.end {
            let byte = self.bytes[self.position]
            self.position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: decoded, as: UTF8.self) else { throw SyntaxError() }
                return text
            case UInt8(ascii: "\\"): try self.escape(into: &decoded)
            case 0..<0x20: throw SyntaxError()
            default: decoded.append(byte)
            }
        }
        throw SyntaxError()
    }

    private mutating func escape(into decoded: inout [UInt8]) throws(SyntaxError) {
        guard self.position < self.end else { throw SyntaxError() }
        let escaped = self.bytes[self.position]
        self.position += 1
        switch escaped {
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escaped)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try self.hex4())
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by its low half.
                guard self.end - self.position >= 6, self.bytes[self.position] == UInt8(ascii: "\\"),
                    self.bytes[self.position + 1] == UInt8(ascii: "u")
                else { throw SyntaxError() }
                self.position += 2
                let low = UInt32(try self.hex4())
                guard (0xDC00..<0xE000).contains(low) else { throw SyntaxError() }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw SyntaxError() }
            decoded.append(contentsOf: unicode.utf8)
        default: throw SyntaxError()
        }
    }

    private mutating func hex4() throws(SyntaxError) -> UInt16 {
        guard self.end - self.position >= 4 else { throw SyntaxError() }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.position]
            self.position += 1
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: throw SyntaxError()
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    // MARK: Bytes

    private func peek() -> UInt8? {
        self.position < self.end ? self.bytes[self.position] : nil
    }

    private mutating func expect(_ byte: UInt8) throws(SyntaxError) {
        guard self.peek() == byte else { throw SyntaxError() }
        self.position += 1
    }

    mutating func skipSpace() {
        while self.position < self.end {
            switch self.bytes[self.position] {
            case 0x20, 0x09, 0x0A, 0x0D: self.position += 1
            default: return
            }
        }
    }
}
