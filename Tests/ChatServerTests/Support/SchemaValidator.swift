import Foundation

/// Checks a JSON value against a JSON Schema (2020-12, as OpenAPI 3.1 uses it) for the keywords the API
/// document uses: `$ref` to `#/components/schemas`, `type` (one or a list), `const`, `enum`, `properties`,
/// `required`, `additionalProperties`, `items`, `allOf`, `anyOf`, `oneOf`, `minimum`, `maximum`, `minLength`,
/// `maxLength`, `format` (uuid, date-time, date, email) and `contentMediaType` with `contentSchema` (a string
/// holding JSON, as an SSE event's `data`).
///
/// Stricter than JSON Schema in one way, on purpose: an object's property that its schema does not list is a
/// problem unless `additionalProperties` allows it, so a field a route sends but the document leaves out is drift.
struct SchemaValidator: Sendable {
    /// `components.schemas` of the document, for `$ref`.
    let components: [String: JSONInstance]

    /// Every way `value` disagrees with `schema`, each as "JSON path: what was expected, what was found".
    func problems(_ value: JSONInstance, _ schema: JSONInstance, at path: String = "$") -> [String] {
        self.check(value, schema, at: path, alsoKnown: [])
    }

    /// `alsoKnown`: property names that sibling schemas of an `allOf` describe.
    private func check(_ value: JSONInstance, _ schema: JSONInstance, at path: String, alsoKnown: Set<String>)
        -> [String]
    {
        if let reference = schema["$ref"]?.string {
            guard let target = self.resolve(reference) else { return ["\(path): unresolvable $ref \(reference)"] }
            return self.check(value, target, at: path, alsoKnown: alsoKnown)
        }
        var found = self.checkType(value, schema, at: path)
        if !found.isEmpty { return found }
        found += self.checkValue(value, schema, at: path)
        found += self.checkCombinations(value, schema, at: path, alsoKnown: alsoKnown)
        switch value {
        case .object(let members): found += self.checkObject(members, schema, at: path, alsoKnown: alsoKnown)
        case .array(let elements):
            if let items = schema["items"] {
                for (index, element) in elements.enumerated() {
                    found += self.check(element, items, at: "\(path)[\(index)]", alsoKnown: [])
                }
            }
        case .string(let text): found += self.checkString(text, schema, at: path)
        default: break
        }
        return found
    }

    private func resolve(_ reference: String) -> JSONInstance? {
        let prefix = "#/components/schemas/"
        guard reference.hasPrefix(prefix) else { return nil }
        return self.components[String(reference.dropFirst(prefix.count))]
    }

    private func checkType(_ value: JSONInstance, _ schema: JSONInstance, at path: String) -> [String] {
        let allowed: [String]
        switch schema["type"] {
        case .string(let name): allowed = [name]
        case .array(let names): allowed = names.compactMap(\.string)
        default: return []
        }
        guard value.typeNames.isDisjoint(with: allowed) else { return [] }
        return ["\(path): expected \(allowed.joined(separator: " or ")), got \(value.description)"]
    }

    private func checkValue(_ value: JSONInstance, _ schema: JSONInstance, at path: String) -> [String] {
        var found: [String] = []
        if let constant = schema["const"], !Self.same(constant, value) {
            found.append("\(path): expected the constant \(constant.description), got \(value.description)")
        }
        if let options = schema["enum"]?.elements, !options.contains(where: { Self.same($0, value) }) {
            let listed = options.map(\.description).joined(separator: ", ")
            found.append("\(path): expected one of [\(listed)], got \(value.description)")
        }
        if let number = Self.number(value) {
            if let minimum = schema["minimum"].flatMap(Self.number), number < minimum {
                found.append("\(path): expected at least \(minimum), got \(value.description)")
            }
            if let maximum = schema["maximum"].flatMap(Self.number), number > maximum {
                found.append("\(path): expected at most \(maximum), got \(value.description)")
            }
        }
        return found
    }

    private func checkCombinations(
        _ value: JSONInstance, _ schema: JSONInstance, at path: String, alsoKnown: Set<String>
    ) -> [String] {
        var found: [String] = []
        if let all = schema["allOf"]?.elements {
            let known = alsoKnown.union(all.flatMap { self.propertyNames(of: $0) })
            for part in all { found += self.check(value, part, at: path, alsoKnown: known) }
        }
        if let any = schema["anyOf"]?.elements {
            let outcomes = any.map { self.check(value, $0, at: path, alsoKnown: alsoKnown) }
            if !outcomes.contains(where: \.isEmpty) {
                found.append("\(path): matches none of anyOf; \(Self.closest(outcomes))")
            }
        }
        if let one = schema["oneOf"]?.elements {
            let outcomes = one.map { self.check(value, $0, at: path, alsoKnown: alsoKnown) }
            let matching = outcomes.filter(\.isEmpty).count
            if matching == 0 { found.append("\(path): matches none of oneOf; \(Self.closest(outcomes))") }
            if matching > 1 { found.append("\(path): matches \(matching) schemas of oneOf, expected exactly one") }
        }
        return found
    }

    private func checkObject(
        _ members: [String: JSONInstance], _ schema: JSONInstance, at path: String, alsoKnown: Set<String>
    ) -> [String] {
        var found: [String] = []
        let properties = schema["properties"]?.members ?? [:]
        for name in schema["required"]?.elements?.compactMap(\.string) ?? [] where members[name] == nil {
            found.append("\(path): the required property \"\(name)\" is missing")
        }
        for (name, member) in members.sorted(by: { $0.key < $1.key }) {
            if let property = properties[name] {
                found += self.check(member, property, at: "\(path).\(name)", alsoKnown: [])
            } else if let additional = schema["additionalProperties"] {
                if additional == .bool(false) {
                    found.append("\(path): the property \"\(name)\" is not allowed")
                } else if additional != .bool(true) {
                    found += self.check(member, additional, at: "\(path).\(name)", alsoKnown: [])
                }
            } else if schema["properties"] != nil, !alsoKnown.contains(name) {
                found.append("\(path): the property \"\(name)\" is not in the document")
            }
        }
        return found
    }

    private func checkString(_ text: String, _ schema: JSONInstance, at path: String) -> [String] {
        var found: [String] = []
        let length = text.unicodeScalars.count
        if let minimum = schema["minLength"]?.integer, length < minimum {
            found.append("\(path): expected at least \(minimum) characters, got \(length)")
        }
        if let maximum = schema["maxLength"]?.integer, length > maximum {
            found.append("\(path): expected at most \(maximum) characters, got \(length)")
        }
        if let format = schema["format"]?.string, !Self.matches(text, format: format) {
            found.append("\(path): expected a \(format), got \(JSONInstance.string(text).description)")
        }
        if let content = schema["contentSchema"], schema["contentMediaType"]?.string == "application/json" {
            do {
                found += self.check(
                    try JSONInstance.parse(Array(text.utf8)), content, at: path + "<json>", alsoKnown: [])
            } catch {
                found.append("\(path): expected JSON text, got \(JSONInstance.string(text).description)")
            }
        }
        return found
    }

    /// The property names a schema (or the schema it refers to, or its `allOf` parts) describes.
    private func propertyNames(of schema: JSONInstance) -> [String] {
        if let reference = schema["$ref"]?.string { return self.resolve(reference).map(self.propertyNames) ?? [] }
        let own = schema["properties"]?.members.map { Array($0.keys) } ?? []
        return own + (schema["allOf"]?.elements ?? []).flatMap(self.propertyNames)
    }

    /// The problems of the option that came nearest (fewest problems): for an event, the one of its name.
    private static func closest(_ outcomes: [[String]]) -> String {
        guard let (index, nearest) = outcomes.enumerated().min(by: { $0.element.count < $1.element.count }) else {
            return "no options"
        }
        return "nearest is option \(index + 1): \(nearest.joined(separator: "; "))"
    }

    private static func number(_ value: JSONInstance) -> Double? {
        switch value {
        case .integer(let number): Double(number)
        case .number(let number): number
        default: nil
        }
    }

    /// Equal as JSON values (1 and 1.0 alike).
    private static func same(_ lhs: JSONInstance, _ rhs: JSONInstance) -> Bool {
        if let left = Self.number(lhs), let right = Self.number(rhs) { return left == right }
        return lhs == rhs
    }

    private static func matches(_ text: String, format: String) -> Bool {
        switch format {
        case "uuid": UUID(uuidString: text) != nil && text.count == 36
        case "date-time":
            (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) != nil
                || (try? Date.ISO8601FormatStyle().parse(text)) != nil
        case "date": (try? Date.ISO8601FormatStyle().year().month().day().parse(text)) != nil && text.count == 10
        case "email": text.split(separator: "@", omittingEmptySubsequences: false).count == 2
        default: true
        }
    }
}
