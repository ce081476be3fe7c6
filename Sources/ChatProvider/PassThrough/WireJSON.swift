/// Any JSON value, carried through unchanged: the OpenAI-compatible door's messages, tools, `response_format`
/// and the upstream's message and stream deltas, which this server forwards without reading them.
public enum WireJSON: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    /// An integer literal (kept exact: a `seed` may not fit a `Double`).
    case integer(Int)
    case number(Double)
    case string(String)
    case array([WireJSON])
    case object([String: WireJSON])

    /// Strings and objects (most of a request's messages) are tried first, an object through a keyed container,
    /// so neither costs a thrown `DecodingError` per type tried before its own. The last attempt is still the
    /// object's, so a value that is none of these fails with the error it failed with before.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let object = try? decoder.container(keyedBy: MemberKey.self) {
            var members: [String: WireJSON] = [:]
            members.reserveCapacity(object.allKeys.count)
            for key in object.allKeys { members[key.stringValue] = try object.decode(WireJSON.self, forKey: key) }
            self = .object(members)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode([WireJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: WireJSON].self))
        }
    }

    /// An object member's name, whatever it is; a number's also read as an index, as the standard library's
    /// dictionary key is (so an error's coding path reads as it did).
    private struct MemberKey: CodingKey {
        let stringValue: String
        let intValue: Int?
        init(stringValue: String) {
            self.stringValue = stringValue
            self.intValue = Int(stringValue)
        }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The member `key` of an object (nil when absent, or when this is not an object).
    public subscript(key: String) -> WireJSON? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    /// The string, when this is one.
    public var stringValue: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    /// The elements, when this is an array.
    public var arrayValue: [WireJSON]? {
        guard case .array(let value) = self else { return nil }
        return value
    }

    /// At least the bytes of this value's compact JSON text (strings and keys counted in UTF-8 with their
    /// quotes, escapes not counted; a number as 24): a bound of the tokens it can make, since a tokenizer
    /// never makes more tokens of a text than it has bytes.
    public var sizeBound: Int {
        switch self {
        case .null, .bool: 5
        case .integer, .number: 24
        case .string(let value): value.utf8.count + 2
        case .array(let items): items.reduce(2) { $0 + $1.sizeBound + 1 }
        case .object(let members): members.reduce(2) { $0 + $1.key.utf8.count + 4 + $1.value.sizeBound }
        }
    }
}
