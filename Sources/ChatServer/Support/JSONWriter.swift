import Hummingbird
import NIOCore

/// Writes JSON straight into a `ByteBuffer`, in the order the fields are written.
///
/// The hot responses (chats, messages, users, tokens, SSE payloads) use it instead of Foundation's
/// `JSONEncoder`, whose generic `Encoder` machinery was a fifth of the server's CPU under a chat-listing
/// load (chat-bench + perf).
struct JSONWriter {
    private(set) var buffer: ByteBuffer
    /// Per open container: whether it already has an element (so the next needs a comma).
    private var hasElement: [Bool] = []
    private var afterKey = false

    init(capacity: Int = 512) {
        self.buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    mutating func object(_ body: (inout JSONWriter) -> Void) {
        self.separate()
        self.buffer.writeInteger(UInt8(ascii: "{"))
        self.hasElement.append(false)
        body(&self)
        self.hasElement.removeLast()
        self.buffer.writeInteger(UInt8(ascii: "}"))
    }

    mutating func array<S: Sequence>(_ elements: S, _ body: (inout JSONWriter, S.Element) -> Void) {
        self.separate()
        self.buffer.writeInteger(UInt8(ascii: "["))
        self.hasElement.append(false)
        for element in elements { body(&self, element) }
        self.hasElement.removeLast()
        self.buffer.writeInteger(UInt8(ascii: "]"))
    }

    mutating func key(_ key: String) {
        self.separate()
        self.writeEscaped(key)
        self.buffer.writeInteger(UInt8(ascii: ":"))
        self.afterKey = true
    }

    mutating func value(_ value: String?) {
        self.separate()
        if let value { self.writeEscaped(value) } else { self.buffer.writeStaticString("null") }
    }

    mutating func value(_ value: Int?) {
        self.separate()
        if let value { self.buffer.writeString(String(value)) } else { self.buffer.writeStaticString("null") }
    }

    mutating func value(_ value: Int64?) {
        self.value(value.map { Int($0) })
    }

    mutating func value(_ value: Bool) {
        self.separate()
        self.buffer.writeStaticString(value ? "true" : "false")
    }

    mutating func field(_ key: String, _ value: String?) {
        self.key(key)
        self.value(value)
    }

    mutating func field(_ key: String, _ value: Int?) {
        self.key(key)
        self.value(value)
    }

    mutating func field(_ key: String, _ value: Int64?) {
        self.key(key)
        self.value(value)
    }

    mutating func field(_ key: String, _ value: Bool) {
        self.key(key)
        self.value(value)
    }

    mutating func field(_ key: String, _ value: some JSONWritable) {
        self.key(key)
        value.write(to: &self)
    }

    private mutating func separate() {
        if self.afterKey {
            self.afterKey = false
            return
        }
        guard let last = self.hasElement.indices.last else { return }
        if self.hasElement[last] { self.buffer.writeInteger(UInt8(ascii: ",")) }
        self.hasElement[last] = true
    }

    private mutating func writeEscaped(_ string: String) {
        self.buffer.writeInteger(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var start = 0
            for (index, byte) in bytes.enumerated()
            where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                self.buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<index]))
                switch byte {
                case UInt8(ascii: "\""): self.buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): self.buffer.writeStaticString("\\\\")
                case UInt8(ascii: "\n"): self.buffer.writeStaticString("\\n")
                case UInt8(ascii: "\r"): self.buffer.writeStaticString("\\r")
                case UInt8(ascii: "\t"): self.buffer.writeStaticString("\\t")
                default:
                    let hex: StaticString = "0123456789abcdef"
                    self.buffer.writeStaticString("\\u00")
                    self.buffer.writeInteger(hex.utf8Start[Int(byte >> 4)])
                    self.buffer.writeInteger(hex.utf8Start[Int(byte & 0x0F)])
                }
                start = index + 1
            }
            self.buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start...]))
        }
        self.buffer.writeInteger(UInt8(ascii: "\""))
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
        var writer = JSONWriter()
        self.write(to: &writer)
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/json; charset=utf-8", .contentLength: String(writer.buffer.readableBytes),
            ],
            body: .init(byteBuffer: writer.buffer)
        )
    }

    /// The compact JSON text (tests, logs).
    var jsonString: String {
        var writer = JSONWriter()
        self.write(to: &writer)
        return String(buffer: writer.buffer)
    }
}

/// A top-level JSON array of writable elements.
struct JSONArray<Element: JSONWritable>: JSONResponse {
    let elements: [Element]

    init(_ elements: [Element]) {
        self.elements = elements
    }

    func write(to writer: inout JSONWriter) {
        writer.array(self.elements) { writer, element in element.write(to: &writer) }
    }
}
