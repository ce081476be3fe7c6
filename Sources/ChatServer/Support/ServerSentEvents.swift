import ChatStorage
import ChatTurns
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Renders a turn's events as Server-Sent Events:
/// `start` {chat_id, user_message, assistant_message_id}, `delta` {content} with `id:` = the reply's length
/// in Unicode scalars after the delta, `done` {message, usage}, `error` {detail, status}; and a comment
/// heartbeat every 15 seconds so proxies keep the connection open.
///
/// Each event is written as it is read from the follower's stream (bounded, see ``ReplyFollowers``): a client
/// that does not read holds back only its own writer, and once its stream's buffer is full it is dropped and
/// told (`error`, status 409) to reattach with `Last-Event-ID`. A client that goes away ends its writer at
/// once; a revoked session ends it with `error` 401.
enum ServerSentEvents {
    static let heartbeatInterval: Duration = .seconds(15)

    /// Who follows the stream, for the per-user registry of waiting requests.
    struct Follower: Sendable {
        let user: UserRecord
        let waits: UserWaits
        /// Whether the session that opened the stream is still valid (checked once the stream is registered,
        /// so a revocation between authentication and registration is not missed).
        let stillAuthorized: @Sendable () async -> Bool
    }

    static func response(
        chatID: UUID,
        events: AsyncStream<TurnEvent>,
        continuation: AsyncStream<TurnEvent>.Continuation,
        follower: Follower,
        context: AppRequestContext
    ) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream",
                .cacheControl: "no-cache",
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ],
            body: ResponseBody { writer in
                let revocation = RequestCancellation()
                revocation.bind { continuation.finish() }
                let registration = follower.waits.register(follower.user, .stream, revocation)
                defer { registration.map { follower.waits.unregister(follower.user.id, $0) } }
                if !(await follower.stillAuthorized()) { revocation.cancel() }
                let gone = RequestCancellation()
                gone.bind { continuation.finish() }
                let stopWatching = await context.onClientDisconnect { gone.cancel() }
                defer { stopWatching() }
                let heartbeat = Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.heartbeatInterval)
                        continuation.yield(.keepAlive)
                    }
                }
                defer { heartbeat.cancel() }

                var offset = 0
                var ended = false
                for await event in events {
                    try await writer.write(self.encode(event, chatID: chatID))
                    switch event {
                    case .delta(_, let end): offset = end
                    case .finished, .failed: ended = true
                    case .started, .keepAlive: break
                    }
                    if ended { break }
                }
                if !ended && !gone.isCancelled {
                    let error =
                        revocation.reason?.streamError(offset: offset)
                        ?? APIError.conflict(
                            "This stream fell behind the reply; reattach with Last-Event-ID: \(offset)")
                    try await writer.write(self.encode(error))
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
        case .failed(let failure, _):
            return self.encode(APIError(failure))
        case .keepAlive:
            return ByteBuffer(string: ": keep-alive\n\n")
        }
    }

    /// An `error` event: the error's detail and status.
    static func encode(_ error: APIError) -> ByteBuffer {
        self.frame(event: "error") { json in
            json.field("detail", error.message)
            json.field("status", Int(error.status.code))
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
