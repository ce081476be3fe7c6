import NIOCore

/// First in the pipeline of a connection over `MAX_CONNECTIONS_PER_ADDRESS`: as soon as the connection is active
/// it writes a 429 with a JSON `detail` (so a client behind a shared address learns why) and closes. Nothing the
/// client sends is read into a request. Used only on its connection's event loop.
final class ConnectionRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var refused = false

    static let response: String = {
        let body = #"{"detail":"Too many connections from this address; close some and try again"}"#
        return "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + body
    }()

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.refuse(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Dropped: the connection is closing.
    }

    private func refuse(context: ChannelHandlerContext) {
        guard !self.refused else { return }
        self.refused = true
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: Self.response))).whenComplete { _ in
            loopBound.value.close(promise: nil)
        }
    }
}
