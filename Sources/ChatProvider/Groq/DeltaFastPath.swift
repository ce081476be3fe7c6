#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Extracts the text of the common streamed chunk without a general JSON decoder.
///
/// Most chunks of a streamed completion look like
/// `{"id":…,"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}`. Decoding each with
/// `JSONDecoder` was the largest cost of a turn in profiles, so such chunks are read here: the payload must
/// be an object with exactly one `"delta":{"content":"…"}` or, as the first chunk of a reply has it,
/// `"delta":{"role":"assistant","content":"…"}` (the string closing the delta), one `"finish_reason":null`,
/// and no `error`, `usage` or `tool_calls`; the string literal is decoded with every JSON escape. Anything
/// else returns nil and the caller decodes the chunk fully.
enum DeltaFastPath {
    /// The two openings of a delta read here (the role says nothing the stream needs).
    static let deltaOpenings: [StaticString] = [#""delta":{"content":""#, #""delta":{"role":"assistant","content":""#]

    static func content(of payload: String) -> String? {
        var payload = payload
        return payload.withUTF8 { bytes -> String? in
            guard bytes.count < 16_384 else { return nil }
            let counts = Self.deltaOpenings.map { Self.count(of: $0, in: bytes) }
            guard counts.reduce(0, +) == 1, let opening = counts.firstIndex(of: 1).map({ Self.deltaOpenings[$0] }),
                Self.count(of: #""finish_reason":null"#, in: bytes) == 1,
                Self.count(of: #""error""#, in: bytes) == 0,
                Self.count(of: #""usage""#, in: bytes) == 0,
                Self.count(of: #""tool_calls""#, in: bytes) == 0,
                let start = Self.firstIndex(of: opening, in: bytes)
            else { return nil }
            guard let first = bytes.first(where: { $0 != UInt8(ascii: " ") }), first == UInt8(ascii: "{"),
                let last = bytes.last(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") }),
                last == UInt8(ascii: "}")
            else { return nil }
            guard let (content, end) = Self.decodeString(bytes, from: start + opening.utf8CodeUnitCount),
                end < bytes.count, bytes[end] == UInt8(ascii: "}")
            else { return nil }
            return content
        }
    }

    /// Decodes a JSON string literal whose opening quote was just before `index`; returns the text and the
    /// index just after the closing quote. Nil if malformed.
    static func decodeString(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> (String, Int)? {
        var output: [UInt8] = []
        output.reserveCapacity(32)
        var index = index
        var pendingHighSurrogate: UInt32?
        func appendScalar(_ value: UInt32) -> Bool {
            guard let scalar = Unicode.Scalar(value) else { return false }
            output.append(contentsOf: String(Character(scalar)).utf8)
            return true
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                guard pendingHighSurrogate == nil else { return nil }
                return (String(decoding: output, as: UTF8.self), index + 1)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { return nil }
                let escaped = bytes[index]
                if escaped == UInt8(ascii: "u") {
                    guard index + 4 < bytes.count, let unit = Self.hex4(bytes, index + 1) else { return nil }
                    index += 4
                    if let high = pendingHighSurrogate {
                        guard (0xDC00...0xDFFF).contains(unit) else { return nil }
                        pendingHighSurrogate = nil
                        guard appendScalar(0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00)) else { return nil }
                    } else if (0xD800...0xDBFF).contains(unit) {
                        pendingHighSurrogate = unit
                    } else {
                        guard appendScalar(unit) else { return nil }
                    }
                } else {
                    guard pendingHighSurrogate == nil else { return nil }
                    switch escaped {
                    case UInt8(ascii: "\""): output.append(UInt8(ascii: "\""))
                    case UInt8(ascii: "\\"): output.append(UInt8(ascii: "\\"))
                    case UInt8(ascii: "/"): output.append(UInt8(ascii: "/"))
                    case UInt8(ascii: "b"): output.append(0x08)
                    case UInt8(ascii: "f"): output.append(0x0C)
                    case UInt8(ascii: "n"): output.append(0x0A)
                    case UInt8(ascii: "r"): output.append(0x0D)
                    case UInt8(ascii: "t"): output.append(0x09)
                    default: return nil
                    }
                }
            case 0..<0x20:
                return nil
            default:
                guard pendingHighSurrogate == nil else { return nil }
                output.append(byte)
            }
            index += 1
        }
        return nil
    }

    private static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int) -> UInt32? {
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[start + offset]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
        }
        return value
    }

    /// Where `needle` first occurs in `bytes` at or after `start`: `memchr` finds each candidate first byte and
    /// `memcmp` checks the rest (these scans run over every streamed chunk).
    private static func firstIndex(of needle: StaticString, in bytes: UnsafeBufferPointer<UInt8>, from start: Int = 0)
        -> Int?
    {
        guard let base = bytes.baseAddress else { return nil }
        let length = needle.utf8CodeUnitCount
        let first = Int32(needle.utf8Start.pointee)
        var index = start
        while index + length <= bytes.count {
            guard let candidate = memchr(base + index, first, bytes.count - length + 1 - index) else { return nil }
            let position = base.distance(to: candidate.assumingMemoryBound(to: UInt8.self))
            if memcmp(base + position, needle.utf8Start, length) == 0 { return position }
            index = position + 1
        }
        return nil
    }

    /// How many times `needle` occurs in `bytes`, without overlaps.
    private static func count(of needle: StaticString, in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var found = 0
        var start = 0
        while let index = Self.firstIndex(of: needle, in: bytes, from: start) {
            found += 1
            start = index + needle.utf8CodeUnitCount
        }
        return found
    }
}
