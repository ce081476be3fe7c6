import ChatProvider
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The SSE answer of a streamed POST /v1/chat/completions: one `chat.completion.chunk` per upstream chunk,
/// a usage chunk when `stream_options.include_usage` was set, then `data: [DONE]`.
///
/// The upstream stream is read by a task of its own into an ``EventMailbox`` of at most ``bufferLimit``
/// events, so that a client that goes away cancels the upstream call at once (not at the next chunk), a client
/// that does not read ends its stream when the mailbox is full, and the events that arrive together leave in
/// one write. The first event is awaited before the status is sent, so a
/// call that fails before any output is answered with its status (502/503/504) rather than in the stream.
struct OpenAIChatStream {
    static let bufferLimit = 256

    let reply: OpenAIReplyHeader
    let includeUsage: Bool
    let requestID: String
    let accounting: OpenAICallAccounting
    /// What a stream cut before the upstream's usage is charged for its prompt.
    let promptEstimate: Int

    /// Thrown into the mailbox when the client fell ``bufferLimit`` events behind.
    struct FellBehind: Error {}

    func response(events: ProviderActor.PassThroughStream, context: AppRequestContext) async throws -> Response {
        let mailbox = EventMailbox(limit: Self.bufferLimit)
        let stream = self
        // The pump settles the call whatever becomes of the response: its loop ends when the upstream does,
        // when the client goes away (cancelled), or when the mailbox overflows, even if no body is ever written.
        let pump = Task {
            var tally = Tally()
            do {
                for try await event in events {
                    tally.count(event)
                    guard mailbox.append(stream.encode(event)) else { throw FellBehind() }
                }
                mailbox.finish()
            } catch {
                mailbox.finish(throwing: error)
            }
            await tally.settle(stream.accounting, promptEstimate: stream.promptEstimate)
        }
        let first: ByteBuffer?
        do {
            first = try await mailbox.take()
        } catch let error as ProviderError {
            throw OpenAIError(error.apiError(requestID: self.requestID))
        } catch {
            pump.cancel()
            throw error
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream", .cacheControl: "no-cache",
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ],
            body: ResponseBody { writer in
                let stopWatching = await context.onClientDisconnect { pump.cancel() }
                defer {
                    stopWatching()
                    pump.cancel()
                }
                try await stream.write(first: first, rest: mailbox, to: &writer)
                // The upstream has ended: the response ends once the call is settled.
                await pump.value
                try await writer.finish(nil)
            })
    }

    /// What the upstream streamed: its usage when it came, else a bound of the chunks' bytes (more than their
    /// text, so a cut stream is not charged less than it used).
    struct Tally {
        var usage: TokenUsage?
        var streamedBytes = 0

        mutating func count(_ event: PassThroughEvent) {
            switch event {
            case .choices(let choices): self.streamedBytes += choices.reduce(0) { $0 + $1.sizeBound }
            case .finished(let usage, _): self.usage = usage
            }
        }

        /// Settles the call: the upstream's usage, or (a stream cut short) the prompt's estimate and a token
        /// for every 4 bytes streamed; only the hold is released when nothing was streamed.
        func settle(_ accounting: OpenAICallAccounting, promptEstimate: Int) async {
            guard self.usage != nil || self.streamedBytes > 0 else { return await accounting.release() }
            await accounting.settle(self.usage, estimate: (promptEstimate, (self.streamedBytes + 3) / 4))
        }
    }

    /// Writes the events until the upstream's stream ends, or an `error` event when it fails: each write
    /// carries every event that arrived while the previous one was written.
    private func write(first: ByteBuffer?, rest mailbox: EventMailbox, to writer: inout any ResponseBodyWriter)
        async throws
    {
        var bytes = first
        while let current = bytes {
            try await writer.write(current)
            do {
                bytes = try await mailbox.take()
            } catch {
                try await writer.write(self.encode(error))
                return
            }
        }
    }

    /// The bytes of one event: a chunk, or at the end the usage chunk (when asked for) and `[DONE]`.
    func encode(_ event: PassThroughEvent) -> ByteBuffer {
        switch event {
        case .choices(let choices):
            return self.reply.event(choices: choices)
        case .finished(let usage, _):
            var buffer = ByteBuffer()
            if self.includeUsage {
                buffer.writeImmutableBuffer(self.reply.event(choices: [], usage: usage, withUsage: true))
            }
            buffer.writeString("data: [DONE]\n\n")
            return buffer
        }
    }

    /// A failure after the status was sent: an `error` event in OpenAI's shape (its SDKs raise it), no `[DONE]`.
    func encode(_ error: any Error) -> ByteBuffer {
        let failure: OpenAIError =
            switch error {
            case let error as ProviderError: OpenAIError(error.apiError(requestID: self.requestID))
            case is FellBehind:
                OpenAIError(.conflict, "The client fell behind the stream", type: "invalid_request_error")
            default: OpenAIError(.internalServerError, "The stream failed", type: "server_error")
            }
        var text = #"data: {"error":{"message":"#
        text += Self.quoted(failure.message) + #","type":"# + Self.quoted(failure.type)
        text += #","param":null,"code":"# + (failure.code.map(Self.quoted) ?? "null") + "}}\n\n"
        return ByteBuffer(string: text)
    }

    private static func quoted(_ text: String) -> String {
        var bytes: [UInt8] = []
        JSONText.appendQuoted(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
