/// Splits a byte stream into Server-Sent Events `data:` payloads.
///
/// Lines end with LF or CRLF; an event's `data:` lines are joined with "\n" and delivered at the blank line
/// that ends it. Comments (`:`) and other fields are ignored. Bytes are buffered across chunks, so a line
/// split between two network reads is handled.
public struct ServerSentEventParser: Sendable {
    private var buffer: [UInt8] = []
    private var data: [String] = []

    public init() {}

    /// Feeds bytes; returns the payloads of the events completed by them.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [String] {
        self.buffer.append(contentsOf: bytes)
        var events: [String] = []
        var lineStart = 0
        var index = 0
        while index < self.buffer.count {
            if self.buffer[index] == UInt8(ascii: "\n") {
                var lineEnd = index
                if lineEnd > lineStart && self.buffer[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                if let event = self.line(self.buffer[lineStart..<lineEnd]) { events.append(event) }
                lineStart = index + 1
            }
            index += 1
        }
        self.buffer.removeFirst(lineStart)
        return events
    }

    /// Delivers an event left unterminated when the stream ends.
    public mutating func finish() -> String? {
        var events = self.feed([UInt8(ascii: "\n")])
        if events.isEmpty, !self.data.isEmpty {
            events.append(self.data.joined(separator: "\n"))
            self.data = []
        }
        return events.first
    }

    private mutating func line(_ bytes: ArraySlice<UInt8>) -> String? {
        if bytes.isEmpty {
            guard !self.data.isEmpty else { return nil }
            defer { self.data = [] }
            return self.data.joined(separator: "\n")
        }
        guard bytes.starts(with: "data:".utf8) else { return nil }
        var value = bytes.dropFirst(5)
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        self.data.append(String(decoding: value, as: UTF8.self))
        return nil
    }
}
