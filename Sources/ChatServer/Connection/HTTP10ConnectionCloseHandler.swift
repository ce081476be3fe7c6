import NIOCore
import NIOHTTP1

/// Marks every request that does not keep its connection alive with `Connection: close`, so the server closes
/// the connection after answering it: HTTP/1.0 without `Connection: keep-alive`, and any `Connection` header
/// naming `close` in whatever case. Hummingbird's HTTPTypes request carries no version and compares the header
/// to "close" exactly, so this is decided here, on NIOHTTP1's head, before the conversion to HTTPTypes.
///
/// Created per connection and used only on that connection's event loop.
final class HTTP10ConnectionCloseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = self.unwrapInboundIn(data), !head.isKeepAlive,
            head.headers.first(name: "connection") != "close"
        else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "connection", value: "close")
        context.fireChannelRead(self.wrapInboundOut(.head(head)))
    }
}
