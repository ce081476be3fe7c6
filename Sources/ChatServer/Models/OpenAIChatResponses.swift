import ChatProvider
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// What every answer to one POST /v1/chat/completions shares: its `id`, `created` and `model`.
struct OpenAIReplyHeader: Sendable {
    let id: String
    let created: Int
    let model: String

    init(model: String) {
        self.id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        self.created = Int(Date().timeIntervalSince1970)
        self.model = model
    }

    struct Usage: Encodable {
        let promptTokens: Int
        let completionTokens: Int
        let totalTokens: Int
        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
        }
        init(_ usage: TokenUsage?) {
            self.promptTokens = usage?.promptTokens ?? 0
            self.completionTokens = usage?.completionTokens ?? 0
            self.totalTokens = usage?.totalTokens ?? 0
        }
    }

    /// `chat.completion`.
    struct Completion: Encodable {
        struct Choice: Encodable {
            let index: Int
            let message: WireJSON
            let finishReason: String?
            enum CodingKeys: String, CodingKey {
                case index, message, logprobs
                case finishReason = "finish_reason"
            }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(self.index, forKey: .index)
                try container.encode(self.message, forKey: .message)
                try container.encodeNil(forKey: .logprobs)
                try container.encode(self.finishReason, forKey: .finishReason)
            }
        }
        let id: String
        let object = "chat.completion"
        let created: Int
        let model: String
        let choices: [Choice]
        let usage: Usage
    }

    /// `chat.completion.chunk`: choices as the upstream sent them, or none and the usage (the last chunk).
    struct Chunk: Encodable {
        let id: String
        let object = "chat.completion.chunk"
        let created: Int
        let model: String
        let choices: [WireJSON]
        let usage: Usage?
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.id, forKey: .id)
            try container.encode(self.object, forKey: .object)
            try container.encode(self.created, forKey: .created)
            try container.encode(self.model, forKey: .model)
            try container.encode(self.choices, forKey: .choices)
            try container.encode(self.usage, forKey: .usage)
        }
        enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage }
    }

    /// The whole answer as a JSON response.
    func completion(_ completion: PassThroughCompletion) throws -> Response {
        let body = Completion(
            id: self.id, created: self.created, model: self.model,
            choices: [.init(index: 0, message: completion.message, finishReason: completion.finishReason)],
            usage: Usage(completion.usage))
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try Self.encoder.encode(body))))
    }

    /// One SSE event carrying a chunk.
    func event(choices: [WireJSON], usage: TokenUsage? = nil, withUsage: Bool = false) throws -> ByteBuffer {
        let chunk = Chunk(
            id: self.id, created: self.created, model: self.model, choices: choices,
            usage: withUsage ? Usage(usage) : nil)
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes(try Self.encoder.encode(chunk))
        buffer.writeString("\n\n")
        return buffer
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }
}
