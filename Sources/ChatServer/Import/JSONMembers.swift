/// The members of one JSON object that a reader asked for, by key (when a key repeats, the last one counts, as
/// with `JSONSerialization`); the others are skipped unread. Containers stay ranges of the file's bytes.
struct JSONMembers {
    private var items: [(key: String, value: JSONPullReader.Item)] = []

    init(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, wanting keys: [String]) throws {
        var reader = JSONPullReader(bytes, range: range)
        try reader.beginObject()
        while let key = try reader.nextKey() {
            guard keys.contains(key) else {
                try reader.skip()
                continue
            }
            let value = try reader.item()
            if let index = self.items.firstIndex(where: { $0.key == key }) {
                self.items[index].value = value
            } else {
                self.items.append((key, value))
            }
        }
    }

    subscript(key: String) -> JSONPullReader.Item? {
        self.items.first { $0.key == key }?.value
    }
}

/// A value read as the Swift type an import expects of it: nil when it is another (as `as?` did on
/// `JSONSerialization`'s objects).
extension JSONPullReader.Item {
    var string: String? {
        if case .string(let text) = self { text } else { nil }
    }

    /// An integer literal, or a number that is exactly one (`2.0`).
    var integer: Int? {
        if case .number(_, let integer) = self { integer } else { nil }
    }

    var double: Double? {
        if case .number(let value, _) = self { value } else { nil }
    }

    var bool: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }
}
