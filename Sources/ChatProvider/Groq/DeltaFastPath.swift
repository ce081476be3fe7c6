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
            guard bytes.count < 16_384, let scan = Self.scan(bytes), scan.openings == 1, scan.finishNulls == 1,
                let contentStart = scan.contentStart
            else { return nil }
            guard let first = bytes.first(where: { $0 != UInt8(ascii: " ") }), first == UInt8(ascii: "{"),
                let last = bytes.last(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") }),
                last == UInt8(ascii: "}")
            else { return nil }
            guard let (content, end) = Self.decodeString(bytes, from: contentStart),
                end < bytes.count, bytes[end] == UInt8(ascii: "}")
            else { return nil }
            return content
        }
    }

    /// What one pass over the payload's quotes found: every marker above starts with a quote, so `memchr`
    /// visits only those and the byte after each says which marker could start there.
    private struct Scan {
        var openings = 0
        /// Where the first delta opening's content text starts (just after its opening quote).
        var contentStart: Int?
        var finishNulls = 0
    }

    /// Nil as soon as an `error`, `usage` or `tool_calls` key shows up.
    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Scan? {
        guard let base = bytes.baseAddress else { return nil }
        func matches(_ needle: StaticString, at position: Int) -> Bool {
            position + needle.utf8CodeUnitCount <= bytes.count
                && memcmp(base + position, needle.utf8Start, needle.utf8CodeUnitCount) == 0
        }
        var scan = Scan()
        var index = 0
        while index < bytes.count - 1, let quote = memchr(base + index, Int32(UInt8(ascii: "\"")), bytes.count - index)
        {
            let position = base.distance(to: quote.assumingMemoryBound(to: UInt8.self))
            index = position + 1
            guard position + 1 < bytes.count else { break }
            switch bytes[position + 1] {
            case UInt8(ascii: "d"):
                for candidate in Self.deltaOpenings where matches(candidate, at: position) {
                    scan.openings += 1
                    if scan.contentStart == nil { scan.contentStart = position + candidate.utf8CodeUnitCount }
                }
            case UInt8(ascii: "f"):
                if matches(#""finish_reason":null"#, at: position) { scan.finishNulls += 1 }
            case UInt8(ascii: "e"):
                if matches(#""error""#, at: position) { return nil }
            case UInt8(ascii: "u"):
                if matches(#""usage""#, at: position) { return nil }
            case UInt8(ascii: "t"):
                if matches(#""tool_calls""#, at: position) { return nil }
            default: break
            }
        }
        return scan
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
}
