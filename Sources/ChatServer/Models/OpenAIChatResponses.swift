import ChatProvider
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// What every answer to one POST /v1/chat/completions shares: its `id`, `created` and `model`. The answers are
/// written with ``JSONWriter`` (fields in OpenAI's order), not `JSONEncoder`, whose generic machinery was most
/// of the door's own CPU per call.
struct OpenAIReplyHeader: Sendable {
    let id: String
    let created: Int
    let model: String

    init(model: String) {
        self.id = Self.newID()
        self.created = Int(Date().timeIntervalSince1970)
        self.model = model
    }

    /// `chatcmpl-` and 32 lower-case hexadecimal digits (a random UUID's bytes).
    static func newID() -> String {
        let hex: StaticString = "0123456789abcdef"
        var text: [UInt8] = Array("chatcmpl-".utf8)
        text.reserveCapacity(41)
        withUnsafeBytes(of: UUID().uuid) { bytes in
            for byte in bytes {
                text.append(hex.utf8Start[Int(byte >> 4)])
                text.append(hex.utf8Start[Int(byte & 0x0F)])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The whole answer as a JSON response: `chat.completion`.
    func completion(_ completion: PassThroughCompletion) -> Response {
        var writer = JSONWriter(capacity: 512)
        writer.object { writer in
            self.writeHeader(object: "chat.completion", to: &writer)
            writer.key("choices")
            writer.array(CollectionOfOne(completion)) { writer, completion in
                writer.object { writer in
                    writer.field("index", 0)
                    writer.key("message")
                    writer.value(completion.message)
                    writer.key("logprobs")
                    writer.value(String?.none)
                    writer.field("finish_reason", completion.finishReason)
                }
            }
            writer.key("usage")
            Self.writeUsage(completion.usage, to: &writer)
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: writer.buffer))
    }

    /// One SSE event carrying a `chat.completion.chunk`: choices as the upstream sent them, or none and the
    /// usage (the last chunk, `withUsage`); `usage` is null on the others.
    func event(choices: [WireJSON], usage: TokenUsage? = nil, withUsage: Bool = false) -> ByteBuffer {
        var writer = JSONWriter(capacity: 256)
        writer.object { writer in
            self.writeHeader(object: "chat.completion.chunk", to: &writer)
            writer.key("choices")
            writer.array(choices) { writer, choice in writer.value(choice) }
            writer.key("usage")
            if withUsage { Self.writeUsage(usage, to: &writer) } else { writer.value(String?.none) }
        }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(writer.bytes.count + 8)
        buffer.writeStaticString("data: ")
        buffer.writeBytes(writer.bytes)
        buffer.writeStaticString("\n\n")
        return buffer
    }

    private func writeHeader(object: String, to writer: inout JSONWriter) {
        writer.field("id", self.id)
        writer.field("object", object)
        writer.field("created", self.created)
        writer.field("model", self.model)
    }

    /// `{prompt_tokens, completion_tokens, total_tokens}`, zeros when the upstream reported none.
    private static func writeUsage(_ usage: TokenUsage?, to writer: inout JSONWriter) {
        writer.object { writer in
            writer.field("prompt_tokens", usage?.promptTokens ?? 0)
            writer.field("completion_tokens", usage?.completionTokens ?? 0)
            writer.field("total_tokens", usage?.totalTokens ?? 0)
        }
    }
}
