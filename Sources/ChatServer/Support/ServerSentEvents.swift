import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Renders a turn's events as Server-Sent Events:
/// `start` {chat_id, user_message, assistant_message_id}, `delta` {content} with `id:` = the reply's length
/// in Unicode scalars after the delta, `done` {message, usage}, `error` {detail, status}; and a comment
/// heartbeat every 15 seconds so proxies keep the connection open.
enum ServerSentEvents {
    static let heartbeatInterval: Duration = .seconds(15)

    static func response(chatID: UUID, events: AsyncStream<TurnEvent>, prefix: [ByteBuffer] = []) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream",
                .cacheControl: "no-cache",
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ],
            body: ResponseBody { writer in
                let (items, output) = AsyncStream<ByteBuffer>.makeStream()
                for buffer in prefix { output.yield(buffer) }
                let pump = Task {
                    for await event in events { output.yield(self.encode(event, chatID: chatID)) }
                    output.finish()
                }
                let heartbeat = Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.heartbeatInterval)
                        output.yield(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
                defer {
                    // A client that went away ends here; the turn itself goes on.
                    pump.cancel()
                    heartbeat.cancel()
                }
                for await buffer in items {
                    try await writer.write(buffer)
                }
                try await writer.finish(nil)
            }
        )
    }

    static func encode(_ event: TurnEvent, chatID: UUID) -> ByteBuffer {
        switch event {
        case .started(let user, let assistant):
            return self.frame(event: "start") { json in
                json.field("chat_id", chatID.lowercasedString)
                json.field("user_message", MessageResponse(user))
                json.field("assistant_message_id", assistant.id)
            }
        case .delta(let text, let offset):
            return self.frame(event: "delta", id: String(offset)) { json in json.field("content", text) }
        case .finished(let message, let usage):
            return self.frame(event: "done") { json in
                json.field("message", MessageResponse(message))
                json.key("usage")
                if let usage { UsageResponse(usage).write(to: &json) } else { json.value(nil as String?) }
            }
        case .failed(let error, _):
            return self.frame(event: "error") { json in
                json.field("detail", error.message)
                json.field("status", Int(error.status.code))
            }
        }
    }

    /// One event whose `data` is a compact JSON object (which never contains a raw newline).
    static func frame(event: String, id: String? = nil, _ fields: (inout JSONWriter) -> Void) -> ByteBuffer {
        var writer = JSONWriter(capacity: 256)
        writer.object(fields)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(writer.buffer.readableBytes + 48)
        if let id { buffer.writeString("id: \(id)\n") }
        buffer.writeString("event: \(event)\ndata: ")
        buffer.writeImmutableBuffer(writer.buffer)
        buffer.writeString("\n\n")
        return buffer
    }
}
