import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request is not fully received (head through the end of the body) within
/// `timeout` of its head. Hummingbird's idle timeout bounds the wait for a head; this bounds a body sent
/// a byte at a time, so a slow client cannot hold a connection and a request task indefinitely.
///
/// A channel handler: created per connection, used only on that connection's event loop.
final class RequestReadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head:
            self.cancelDeadline()
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            self.deadline = context.eventLoop.assumeIsolated().scheduleTask(in: self.timeout) {
                loopBound.value.close(promise: nil)
            }
        case .body:
            break
        case .end:
            self.cancelDeadline()
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.cancelDeadline()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.cancelDeadline()
        context.fireChannelInactive()
    }

    private func cancelDeadline() {
        self.deadline?.cancel()
        self.deadline = nil
    }
}
