/// One problem with a request's input, in FastAPI's shape:
/// `{"loc": ["body", "email"], "msg": "...", "type": "..."}`.
public struct ValidationIssue: Encodable, Sendable, Equatable {
    /// A step of `loc`: a field name or an array index.
    public enum Location: Encodable, Sendable, Equatable, ExpressibleByStringLiteral {
        case key(String)
        case index(Int)

        public init(stringLiteral value: String) { self = .key(value) }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .key(let key): try container.encode(key)
            case .index(let index): try container.encode(index)
            }
        }
    }

    public var loc: [Location]
    public var msg: String
    public var type: String

    public init(loc: [Location], msg: String, type: String) {
        self.loc = loc
        self.msg = msg
        self.type = type
    }

    static func missing(_ loc: [Location]) -> ValidationIssue {
        ValidationIssue(loc: loc, msg: "Field required", type: "missing")
    }

    /// The one rule for text that reaches the database, whatever the engine: no NUL (U+0000), which
    /// PostgreSQL's `text` cannot hold, so that both engines give the same 422 naming the field.
    static func storable(_ value: some StringProtocol, at loc: [Location]) -> ValidationIssue? {
        guard value.utf8.contains(0) else { return nil }
        return ValidationIssue(loc: loc, msg: Self.nulMessage, type: "value_error")
    }

    static let nulMessage = "String should not contain the NUL character (U+0000)"

    /// A text field that reaches the database: its length (``length(of:in:at:)``), then ``storable(_:at:)``.
    static func text(of value: String, in range: ClosedRange<Int>, at loc: [Location]) -> ValidationIssue? {
        Self.length(of: value, in: range, at: loc) ?? Self.storable(value, at: loc)
    }

    /// Length checks count Unicode scalars (as Python counts characters).
    static func length(
        of value: String,
        in range: ClosedRange<Int>,
        at loc: [Location]
    ) -> ValidationIssue? {
        let count = value.unicodeScalars.count
        if count < range.lowerBound {
            let unit = range.lowerBound == 1 ? "character" : "characters"
            return ValidationIssue(
                loc: loc,
                msg: "String should have at least \(range.lowerBound) \(unit)",
                type: "string_too_short"
            )
        }
        if count > range.upperBound {
            return ValidationIssue(
                loc: loc,
                msg: "String should have at most \(range.upperBound) characters",
                type: "string_too_long"
            )
        }
        return nil
    }
}
