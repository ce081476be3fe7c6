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
