import Foundation

@testable import ChatServer

/// A parsed JSON value, for checking a response body against a schema: numbers keep whether they were
/// written as integers, and objects are looked up by key.
indirect enum JSONInstance: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONInstance])
    case object([String: JSONInstance])

    init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: Key.self) {
            var members: [String: JSONInstance] = [:]
            for key in container.allKeys {
                members[key.stringValue] = try container.decode(JSONInstance.self, forKey: key)
            }
            self = .object(members)
        } else if var container = try? decoder.unkeyedContainer() {
            var elements: [JSONInstance] = []
            while !container.isAtEnd { elements.append(try container.decode(JSONInstance.self)) }
            self = .array(elements)
        } else {
            self = try Self.scalar(try decoder.singleValueContainer())
        }
    }

    private static func scalar(_ container: any SingleValueDecodingContainer) throws -> JSONInstance {
        if container.decodeNil() { return .null }
        if let value = try? container.decode(Bool.self) { return .bool(value) }
        if let value = try? container.decode(Int64.self) { return .integer(value) }
        if let value = try? container.decode(Double.self) { return .number(value) }
        return .string(try container.decode(String.self))
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Parses UTF-8 JSON text (any value at the top, not only objects and arrays).
    static func parse(_ bytes: some Collection<UInt8>) throws -> JSONInstance {
        try JSONDecoder().decode(JSONInstance.self, from: Data(bytes))
    }

    /// The document's own value (the OpenAPI document is written as a `JSONValue`).
    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .int(let number): self = .integer(Int64(number))
        case .string(let text): self = .string(text)
        case .array(let values): self = .array(values.map(JSONInstance.init))
        case .object(let pairs):
            self = .object(
                Dictionary(pairs.map { ($0.0, JSONInstance($0.1)) }, uniquingKeysWith: { first, _ in first }))
        }
    }

    subscript(key: String) -> JSONInstance? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    var string: String? {
        guard case .string(let text) = self else { return nil }
        return text
    }

    var integer: Int64? {
        guard case .integer(let number) = self else { return nil }
        return number
    }

    var elements: [JSONInstance]? {
        guard case .array(let values) = self else { return nil }
        return values
    }

    var members: [String: JSONInstance]? {
        guard case .object(let values) = self else { return nil }
        return values
    }

    /// Compact text, for messages.
    var description: String {
        switch self {
        case .null: "null"
        case .bool(let flag): String(flag)
        case .integer(let number): String(number)
        case .number(let number): String(number)
        case .string(let text): "\"\(text.count > 60 ? String(text.prefix(60)) + "…" : text)\""
        case .array(let values):
            "[\(values.prefix(3).map(\.description).joined(separator: ","))\(values.count > 3 ? ",…" : "")]"
        case .object(let members): "{\(members.keys.sorted().prefix(6).joined(separator: ","))}"
        }
    }

    /// The JSON Schema type names this value has ("integer" values are also "number").
    var typeNames: Set<String> {
        switch self {
        case .null: ["null"]
        case .bool: ["boolean"]
        case .integer: ["integer", "number"]
        case .number(let number): number.rounded() == number ? ["integer", "number"] : ["number"]
        case .string: ["string"]
        case .array: ["array"]
        case .object: ["object"]
        }
    }
}
