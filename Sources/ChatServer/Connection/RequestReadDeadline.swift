import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request is not fully received (from its first byte through the end of its body)
/// within `timeout`. The clock starts at the first byte of a request, not at its parsed head, so a head sent a
/// byte at a time is cut at the same deadline as a trickled body.
///
/// Two handlers share one deadline: ``RequestBytesObserver`` sits first in the pipeline and arms it when the
/// bytes of a new request start; ``RequestReadDeadlineHandler`` sits after the HTTP decoder and disarms it at
/// the request's end. Both are created per connection and used only on that connection's event loop.
final class RequestReadDeadline {
    private let timeout: TimeAmount
    private var scheduled: Scheduled<Void>?
    /// True from a request's first byte until its `.end` part.
    private var isReceiving = false

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    /// Bytes arrived: start the clock if they begin a new request.
    func bytesArrived(context: ChannelHandlerContext) {
        guard !self.isReceiving else { return }
        self.isReceiving = true
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.scheduled = context.eventLoop.assumeIsolated().scheduleTask(in: self.timeout) {
            loopBound.value.close(promise: nil)
        }
    }

    /// The request is in whole: stop the clock.
    func requestEnded() {
        self.isReceiving = false
        self.cancel()
    }

    func cancel() {
        self.scheduled?.cancel()
        self.scheduled = nil
    }
}

/// First in the pipeline (raw bytes): arms the shared ``RequestReadDeadline`` when a request starts arriving.
final class RequestBytesObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let deadline: RequestReadDeadline

    init(deadline: RequestReadDeadline) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.deadline.bytesArrived(context: context)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.deadline.cancel()
        context.fireChannelInactive()
    }
}

/// After the HTTP decoder: disarms the shared ``RequestReadDeadline`` at each request's end.
final class RequestReadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let deadline: RequestReadDeadline

    init(deadline: RequestReadDeadline) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = self.unwrapInboundIn(data) { self.deadline.requestEnded() }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.deadline.cancel()
    }
}
