import Foundation
import NIOCore
import NIOHTTP1

/// Refuses a request whose framing is broken or in doubt (RFC 9112), before any handler sees it:
///
/// - a transfer coding list that does not end with `chunked`, or applies it twice (§6.3): 400;
/// - a transfer coding other than `chunked` (`Transfer-Encoding: gzip, chunked`): 501, as the server cannot
///   decode it, where NIOHTTP1 would read the chunks and hand the body on still encoded;
/// - `Transfer-Encoding` in an HTTP/1.0 request (§6.1: its framing is faulty): 400;
/// - an HTTP/1.1 request without a `Host` header, or any request with more than one (§3.2): 400;
/// - a head NIOHTTP1 cannot parse: 400 (a body it cannot parse reaches the handler reading it, which answers
///   400 the same way, ``Request/collectBody(context:limit:)``).
///
/// The answer is JSON with a `detail` and `Connection: close`, written once the responses to earlier requests
/// on the connection are (never in the middle of one); the rest of the request is dropped, and the connection
/// closes once the answer is written and the request has ended, or at once after a parse error (the read
/// deadline bounds a body that never ends), so a client that writes its whole request before reading sees the
/// answer, not a reset.
///
/// Created per connection and used only on that connection's event loop.
final class RequestFramingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Requests passed on whose responses have not ended yet.
    private var unanswered = 0
    /// A refusal waiting for the earlier responses to end.
    private var waiting: (status: HTTPResponseStatus, detail: String)?
    /// The refusal once written, while the rest of its request is dropped.
    private var refusal: EventLoopFuture<Void>?
    /// The refused request has ended (or cannot be read further): close once the refusal is written.
    private var closeAfterRefusal = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        if self.refusal != nil || self.waiting != nil {
            if case .end = part { self.closeWhenRefused(context: context) }
            return
        }
        switch part {
        case .head(let head):
            if let (status, detail) = Self.problem(with: head) {
                self.refuse(status, detail, context: context)
                return
            }
            self.unanswered += 1
        case .body, .end: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let ended: Bool
        if case .end = self.unwrapOutboundIn(data) { ended = true } else { ended = false }
        context.write(data, promise: promise)
        guard ended else { return }
        // Never below 0: a second answer to one request (Hummingbird's own 400 after a body it could not parse).
        self.unanswered = max(0, self.unanswered - 1)
        if self.unanswered == 0, let (status, detail) = self.waiting {
            self.waiting = nil
            self.refusal = Self.answer(status, detail, context: context, handler: self)
            if self.closeAfterRefusal { self.closeWhenRefused(context: context) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A body being read by a handler: that handler answers (and the connection closes after it).
        guard error is HTTPParserError, self.unanswered == 0 || self.refusal != nil || self.waiting != nil else {
            context.fireErrorCaught(error)
            return
        }
        if self.refusal == nil && self.waiting == nil {
            self.refuse(.badRequest, "Malformed request", context: context)
        }
        self.closeWhenRefused(context: context)
    }

    private func refuse(_ status: HTTPResponseStatus, _ detail: String, context: ChannelHandlerContext) {
        if self.unanswered > 0 {
            self.waiting = (status, detail)
        } else {
            self.refusal = Self.answer(status, detail, context: context, handler: self)
        }
    }

    private func closeWhenRefused(context: ChannelHandlerContext) {
        self.closeAfterRefusal = true
        self.refusal?.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Why this head cannot be served, or nil when it can.
    static func problem(with head: HTTPRequestHead) -> (HTTPResponseStatus, String)? {
        let codings = head.headers["transfer-encoding"]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if !codings.isEmpty {
            if head.version.major == 1 && head.version.minor == 0 {
                return (.badRequest, "Transfer-Encoding is not allowed in an HTTP/1.0 request")
            }
            // §6.3: without chunked last, once, the body's length cannot be known.
            if codings.last != "chunked" || codings.dropLast().contains("chunked") {
                return (.badRequest, "Transfer-Encoding must end with chunked, applied once")
            }
            if let unknown = codings.first(where: { $0 != "chunked" }) {
                return (
                    .notImplemented, "Transfer coding \"\(unknown)\" is not implemented; send the body chunked only"
                )
            }
        }
        let hosts = head.headers["host"].count
        if hosts > 1 || (hosts == 0 && (head.version.major, head.version.minor) >= (1, 1)) {
            return (.badRequest, "An HTTP/1.1 request must have exactly one Host header")
        }
        return nil
    }

    private static func answer(
        _ status: HTTPResponseStatus, _ detail: String, context: ChannelHandlerContext, handler: RequestFramingHandler
    ) -> EventLoopFuture<Void> {
        var body = context.channel.allocator.buffer(capacity: detail.utf8.count + 16)
        body.writeString(#"{"detail":"\#(detail.replacingOccurrences(of: "\"", with: "\\\""))"}"#)
        let headers: HTTPHeaders = [
            "Content-Type": "application/json", "Content-Length": String(body.readableBytes),
            "Connection": "close", "X-Content-Type-Options": "nosniff",
        ]
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(handler.wrapOutboundOut(.head(head)), promise: nil)
        context.write(handler.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        return context.writeAndFlush(handler.wrapOutboundOut(.end(nil)))
    }
}
