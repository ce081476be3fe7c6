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
            return self.frame(
                event: "start",
                StartPayload(
                    chatID: chatID.lowercasedString, userMessage: MessageResponse(user),
                    assistantMessageID: assistant.id)
            )
        case .delta(let text, let offset):
            return self.frame(event: "delta", id: String(offset), DeltaPayload(content: text))
        case .finished(let message, let usage):
            return self.frame(
                event: "done", DonePayload(message: MessageResponse(message), usage: usage.map(UsageResponse.init)))
        case .failed(let error, _):
            return self.frame(event: "error", ErrorPayload(detail: error.message, status: Int(error.status.code)))
        }
    }

    /// One event; `data` is compact JSON, which never contains a raw newline.
    static func frame(event: String, id: String? = nil, _ payload: some Encodable) -> ByteBuffer {
        var buffer = ByteBuffer()
        if let id { buffer.writeString("id: \(id)\n") }
        buffer.writeString("event: \(event)\ndata: ")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        buffer.writeBytes((try? encoder.encode(payload)) ?? Data("{}".utf8))
        buffer.writeString("\n\n")
        return buffer
    }

    struct StartPayload: Encodable {
        let chatID: String
        let userMessage: MessageResponse
        let assistantMessageID: Int64
        enum CodingKeys: String, CodingKey {
            case chatID = "chat_id"
            case userMessage = "user_message"
            case assistantMessageID = "assistant_message_id"
        }
    }

    struct DeltaPayload: Encodable { let content: String }

    struct DonePayload: Encodable {
        let message: MessageResponse
        let usage: UsageResponse?
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.message, forKey: .message)
            try container.encode(self.usage, forKey: .usage)
        }
        enum CodingKeys: String, CodingKey { case message, usage }
    }

    struct ErrorPayload: Encodable {
        let detail: String
        let status: Int
    }
}
