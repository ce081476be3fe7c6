import Foundation
import Hummingbird
import NIOCore

/// One streamed completion in Groq's Server-Sent Events format: a role chunk, a chunk per word of the reply,
/// a last chunk with the usage, then `data: [DONE]`, or the stream fault the behavior asks for.
struct MockCompletionStream {
    let reply: String
    let usage: MockCompletionHandler.Usage
    let chunkDelayMilliseconds: Int
    let fault: MockGroqBehavior.Fault?
    /// The function to call instead of replying (the request offered tools).
    let toolCall: String?
    /// Whether a last chunk with no choices carries the usage (`stream_options.include_usage`), as OpenAI sends.
    let includeUsage: Bool
    /// Every chunk's text up to its delta.
    private let prefix: String
    /// Every chunk's text up to its choices.
    private let head: String

    init(
        model: String, reply: String, usage: MockCompletionHandler.Usage, chunkDelayMilliseconds: Int,
        fault: MockGroqBehavior.Fault?, toolCall: String? = nil, includeUsage: Bool = false
    ) {
        self.toolCall = toolCall
        self.includeUsage = includeUsage
        self.reply = reply
        self.usage = usage
        self.chunkDelayMilliseconds = chunkDelayMilliseconds
        self.fault = fault
        let id = MockCompletionHandler.completionID()
        let created = Int(Date().timeIntervalSince1970)
        self.head =
            #"data: {"id":"\#(id)","object":"chat.completion.chunk","created":\#(created),"model":\#(jsonString(model)),"choices":["#
        self.prefix = self.head + #"{"index":0,"delta":"#
    }

    /// Writes the stream's events (the caller then finishes the body); true when they end as a complete
    /// stream's do (with `[DONE]`).
    ///
    /// Chunks due at the same moment (no chunk delay) go out up to 64 to a write: each stays its own HTTP chunk
    /// and SSE event on the wire, as Groq's do, without a flush and an event-loop hop apiece (the benchmark runs
    /// the mock beside the servers it measures, on the same cores), and a long reply still streams out as it is
    /// built.
    func writeEvents(to writer: inout any ResponseBodyWriter) async throws -> Bool {
        let paced = self.chunkDelayMilliseconds > 0
        var pending = [self.event("", role: "assistant")]
        if let toolCall {
            pending.append(self.toolCallEvent(toolCall))
            pending.append(self.event(nil, finish: "tool_calls", usage: self.usage))
            return try await self.finish(pending, to: &writer)
        }
        let words = self.reply.split(separator: " ", omittingEmptySubsequences: false)
        for (index, word) in words.enumerated() {
            if paced {
                try await writer.write(contentsOf: pending)
                pending.removeAll()
                try await Task.sleep(for: .milliseconds(self.chunkDelayMilliseconds))
            }
            if self.fault == .dropMidStream && index == min(2, words.count - 1) {
                try await writer.write(contentsOf: pending)
                throw MockStreamDropped()
            }
            if let lastLine = Self.lastLine(for: self.fault, at: index) {
                pending.append(ByteBuffer(string: lastLine))
                try await writer.write(contentsOf: pending)
                return false
            }
            let text = index == words.count - 1 ? String(word) : word + " "
            pending.append(self.event(text))
            if pending.count == 64 {
                try await writer.write(contentsOf: pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
        pending.append(self.event(nil, finish: "stop", usage: self.usage))
        return try await self.finish(pending, to: &writer)
    }

    /// Writes `pending`, the usage chunk when asked for, and `[DONE]` (unless the fault drops it).
    private func finish(_ pending: [ByteBuffer], to writer: inout any ResponseBodyWriter) async throws -> Bool {
        var pending = pending
        if self.includeUsage {
            let usage = self.usage
            pending.append(
                ByteBuffer(
                    string: self.head
                        + #"],"usage":{"prompt_tokens":\#(usage.prompt_tokens),"completion_tokens":\#(usage.completion_tokens),"total_tokens":\#(usage.total_tokens)}}"#
                        + "\n\n"))
        }
        if self.fault != .noDone {
            pending.append(ByteBuffer(string: "data: [DONE]\n\n"))
        }
        try await writer.write(contentsOf: pending)
        return self.fault != .noDone
    }

    /// The chunk that calls `function` with empty arguments, in one delta.
    private func toolCallEvent(_ function: String) -> ByteBuffer {
        ByteBuffer(
            string: self.prefix
                + #"{"tool_calls":[{"index":0,"id":"call_mock_0","type":"function","function":{"name":\#(jsonString(function)),"arguments":"{}"}}]},"finish_reason":null}]}"#
                + "\n\n")
    }

    /// A fault that ends the stream at the second word: one last line, then the end of the body.
    static func lastLine(for fault: MockGroqBehavior.Fault?, at index: Int) -> String? {
        switch (fault, index) {
        case (.streamError, 1):
            #"data: {"error":{"message":"mock stream error","type":"internal_server_error"}}"# + "\n\n"
        case (.malformedJSON, 1): "data: {not json\n\n"
        default: nil
        }
    }

    /// One chunk. Written by hand: the benchmark runs the mock in its own process, and JSONEncoder per chunk was
    /// a visible share of that process's CPU.
    func event(
        _ content: String?, role: String? = nil, finish: String? = nil, usage: MockCompletionHandler.Usage? = nil
    ) -> ByteBuffer {
        var text = self.prefix
        switch (role, content) {
        case (let role?, let content?):
            text += #"{"role":\#(jsonString(role)),"content":\#(jsonString(content))}"#
        case (nil, let content?): text += #"{"content":\#(jsonString(content))}"#
        default: text += "{}"
        }
        text += #","finish_reason":\#(finish.map(jsonString) ?? "null")}]"#
        if let usage {
            text +=
                #","x_groq":{"id":"req_mock","usage":{"prompt_tokens":\#(usage.prompt_tokens),"completion_tokens":\#(usage.completion_tokens),"total_tokens":\#(usage.total_tokens)}}"#
        }
        text += "}\n\n"
        return ByteBuffer(string: text)
    }
}
