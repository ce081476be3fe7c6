import Foundation

/// JSON objects that repeat a key. The reference backend (Python's `json`) keeps a repeated key's last value;
/// `JSONDecoder` keeps its first. ``lastValueWins(_:)`` rewrites such a body so the last value is the one
/// decoded, as in the reference; a body without repeated keys (nearly all) is only scanned, not copied.
enum DuplicateKeys {
    /// The body with every repeated key reduced to its last value, or nil when no key repeats (or the body
    /// is not JSON, which the decoder then reports).
    static func lastValueWins(_ bytes: some Collection<UInt8>) -> Data? {
        guard self.containsDuplicate(bytes) else { return nil }
        // JSONSerialization keeps the last value of a repeated key; writing it back gives a body without any.
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]),
            let rewritten = try? JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed])
        else { return nil }
        return rewritten
    }

    /// Scans for an object that names the same key twice (keys compared as written, escapes included).
    static func containsDuplicate(_ bytes: some Collection<UInt8>) -> Bool {
        // One set of keys per open container; arrays hold nil.
        var stack: [Set<[UInt8]>?] = []
        var expectingKey = false
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "{"):
                stack.append([])
                expectingKey = true
            case UInt8(ascii: "["):
                stack.append(nil)
                expectingKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast()
                expectingKey = false
            case UInt8(ascii: ","):
                expectingKey = stack.last.map { $0 != nil } ?? false
            case UInt8(ascii: "\""):
                var string: [UInt8] = []
                var escaped = false
                while let next = iterator.next() {
                    if escaped {
                        escaped = false
                    } else if next == UInt8(ascii: "\\") {
                        escaped = true
                    } else if next == UInt8(ascii: "\"") {
                        break
                    }
                    string.append(next)
                }
                if expectingKey, let keys = stack.last, var seen = keys {
                    if seen.contains(string) { return true }
                    seen.insert(string)
                    stack[stack.count - 1] = seen
                    expectingKey = false
                }
            default:
                continue
            }
        }
        return false
    }
}
