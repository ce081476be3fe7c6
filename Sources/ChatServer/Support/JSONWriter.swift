import ChatProvider
import ChatStorage
import Hummingbird
import NIOCore

/// Writes JSON straight into a byte array, in the order the fields are written, and hands it over as one
/// `ByteBuffer`.
///
/// The hot responses (chats, messages, users, tokens, SSE payloads) use it instead of Foundation's
/// `JSONEncoder`, whose generic `Encoder` machinery was a fifth of the server's CPU under a chat-listing
/// load (chat-bench + perf). Bytes go into a `[UInt8]` (appending to an array costs less per call than a
/// `ByteBuffer` write, which a listing of 100 messages makes about 2,000 of), keys are written without
/// escaping (they are the API's own ASCII names), and the comma state is a bit per nesting level.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// Bit `n`: the container open at depth `n` already has an element (so the next needs a comma).
    private var hasElement: UInt64 = 0
    private var depth = 0
    private var afterKey = false

    init(capacity: Int = 512) {
        self.bytes.reserveCapacity(capacity)
    }

    mutating func reserveCapacity(_ capacity: Int) {
        self.bytes.reserveCapacity(capacity)
    }

    /// What was written, as one buffer.
    var buffer: ByteBuffer { ByteBuffer(bytes: self.bytes) }

    mutating func object(_ body: (inout JSONWriter) -> Void) {
        self.separate()
        self.bytes.append(UInt8(ascii: "{"))
        self.open()
        body(&self)
        self.close()
        self.bytes.append(UInt8(ascii: "}"))
    }

    mutating func array<S: Sequence>(_ elements: S, _ body: (inout JSONWriter, S.Element) -> Void) {
        self.separate()
        self.bytes.append(UInt8(ascii: "["))
        self.open()
        for element in elements { body(&self, element) }
        self.close()
        self.bytes.append(UInt8(ascii: "]"))
    }

    /// A key: one of the API's own field names (ASCII letters, digits and `_`), written without escaping.
    mutating func key(_ key: StaticString) {
        self.separate()
        self.bytes.append(UInt8(ascii: "\""))
        self.bytes.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        self.bytes.append(UInt8(ascii: "\""))
        self.bytes.append(UInt8(ascii: ":"))
        self.afterKey = true
    }

    mutating func value(_ value: String?) {
        self.separate()
        if let value { self.writeEscaped(value) } else { self.writeStatic("null") }
    }

    mutating func value(_ value: Int?) {
        self.separate()
        if let value { self.bytes.append(contentsOf: String(value).utf8) } else { self.writeStatic("null") }
    }

    mutating func value(_ value: Int64?) {
        self.value(value.map { Int($0) })
    }

    /// A time as an ISO 8601 string, written without making a `String`.
    mutating func value(_ value: Timestamp) {
        self.separate()
        self.bytes.append(UInt8(ascii: "\""))
        value.appendISO8601(to: &self.bytes)
        self.bytes.append(UInt8(ascii: "\""))
    }

    mutating func field(_ key: StaticString, _ value: Timestamp) {
        self.key(key)
        self.value(value)
    }

    mutating func value(_ value: Bool) {
        self.separate()
        self.writeStatic(value ? "true" : "false")
    }

    /// A value carried through as it came (the door's messages and stream choices), keys sorted.
    mutating func value(_ value: WireJSON) {
        self.separate()
        value.write(to: &self.bytes)
    }

    mutating func field(_ key: StaticString, _ value: String?) {
        self.key(key)
        self.value(value)
    }

    mutating func field(_ key: StaticString, _ value: Int?) {
        self.key(key)
        self.value(value)
    }

    mutating func field(_ key: StaticString, _ value: Int64?) {
        self.key(key)
        self.value(value)
    }

    mutating func field(_ key: StaticString, _ value: Bool) {
        self.key(key)
        self.value(value)
    }

    mutating func field(_ key: StaticString, _ value: some JSONWritable) {
        self.key(key)
        value.write(to: &self)
    }

    private mutating func open() {
        self.depth += 1
        if self.depth < 64 { self.hasElement &= ~(1 << UInt64(self.depth)) }
    }

    private mutating func close() {
        self.depth -= 1
    }

    private mutating func separate() {
        if self.afterKey {
            self.afterKey = false
            return
        }
        guard self.depth > 0 else { return }
        let bit: UInt64 = self.depth < 64 ? 1 << UInt64(self.depth) : 0
        if self.hasElement & bit != 0 { self.bytes.append(UInt8(ascii: ",")) }
        self.hasElement |= bit
    }

    private mutating func writeStatic(_ text: StaticString) {
        JSONText.appendStatic(text, to: &self.bytes)
    }

    private mutating func writeEscaped(_ string: String) {
        JSONText.appendQuoted(string, to: &self.bytes)
    }
}

/// A value that writes itself as JSON.
protocol JSONWritable {
    func write(to writer: inout JSONWriter)
}

/// A JSON response body written by ``JSONWriter`` (status 200; wrap in `EditedResponse` for others).
protocol JSONResponse: ResponseGenerator, JSONWritable {}

extension JSONResponse {
    func response(from request: Request, context: some RequestContext) throws -> Response {
        .json(self.encoded)
    }

    /// The compact JSON text, as one buffer.
    var encoded: ByteBuffer {
        var writer = JSONWriter()
        self.write(to: &writer)
        return writer.buffer
    }

    /// The compact JSON text (tests, logs).
    var jsonString: String { String(buffer: self.encoded) }
}

extension Response {
    /// A 200 whose body is JSON already encoded (a shared buffer is sent as it is, without a copy).
    static func json(_ body: ByteBuffer) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes)],
            body: .init(byteBuffer: body)
        )
    }
}

/// A top-level JSON array of writable elements.
struct JSONArray<Element: JSONWritable>: JSONResponse {
    let elements: [Element]

    init(_ elements: [Element]) {
        self.elements = elements
    }

    func write(to writer: inout JSONWriter) {
        // A guess that saves the array's regrowth for typical elements (a message or chat is 150-400 bytes).
        writer.reserveCapacity(self.elements.count * 256)
        writer.array(self.elements) { writer, element in element.write(to: &writer) }
    }
}
