/// JSON string literals written straight into bytes: used for the request body sent upstream and by the
/// server's own JSON writer, so both escape alike.
public enum JSONText {
    /// Appends `string` as a JSON string literal, quotes included: `"` and `\` escaped, control characters as
    /// `\n`, `\r`, `\t` or `\u00XX`, everything else (non-ASCII included) as its UTF-8 bytes.
    public static func appendQuoted(_ string: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var start = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                switch byte {
                case UInt8(ascii: "\""): appendStatic("\\\"", to: &output)
                case UInt8(ascii: "\\"): appendStatic("\\\\", to: &output)
                case UInt8(ascii: "\n"): appendStatic("\\n", to: &output)
                case UInt8(ascii: "\r"): appendStatic("\\r", to: &output)
                case UInt8(ascii: "\t"): appendStatic("\\t", to: &output)
                default:
                    let hex: StaticString = "0123456789abcdef"
                    appendStatic("\\u00", to: &output)
                    output.append(hex.utf8Start[Int(byte >> 4)])
                    output.append(hex.utf8Start[Int(byte & 0x0F)])
                }
                start = index + 1
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        output.append(UInt8(ascii: "\""))
    }

    /// Appends ASCII text known at compile time (punctuation, keys, literals) as it is.
    public static func appendStatic(_ text: StaticString, to output: inout [UInt8]) {
        output.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
