import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers 413 as soon as a request's head declares a `Content-Length` over the limit, before any of the body
/// is read. A client that waits for `100 Continue` will not send the body: the connection closes after the
/// answer. Any other client is already sending it: the body is read and discarded (the read deadline still
/// bounds how long that may take), so a client that writes its whole body before reading sees the 413 rather
/// than a reset, and the connection then serves its next request.
/// Bodies without a declared length are cut at the limit while they are read (413 from the body reader).
///
/// Created per connection and used only on that connection's event loop.
final class DeclaredBodyLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private let limits: BodyLimits
    /// Set while the body of a refused request is being discarded.
    private var refused = false

    init(limits: BodyLimits) {
        self.limits = limits
    }

    static let body = ByteBuffer(string: #"{"detail":"Request body too large"}"#)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        if self.refused {
            if case .end = part { self.refused = false }
            return
        }
        guard case .head(let head) = part,
            let declared = head.headerFields[.contentLength].flatMap({ Int($0) }),
            declared > self.limits.limit(for: head)
        else {
            context.fireChannelRead(data)
            return
        }
        let waitsForContinue = head.headerFields[.expect]?.lowercased() == "100-continue"
        self.refused = !waitsForContinue
        var response = HTTPResponse(
            status: .contentTooLarge,
            headerFields: [
                .contentType: "application/json", .contentLength: String(Self.body.readableBytes),
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ]
        )
        if waitsForContinue { response.headerFields[.connection] = "close" }
        context.write(self.wrapOutboundOut(.head(response)), promise: nil)
        context.write(self.wrapOutboundOut(.body(Self.body)), promise: nil)
        let written = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if waitsForContinue {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
