import NIOCore
import NIOHTTPTypes
import Synchronization

/// Tells a request that waits (a long-poll, an event stream) that its client has gone: the client closed its
/// side of the connection (end of input) or the connection closed. Without it a waiting request would hold
/// its connection, its task and its timer until its wait ran out, whoever was left to answer.
///
/// One per connection, in the pipeline after the HTTP decoder. Its state is behind a mutex because requests
/// register from their own tasks while the event loop reports the close.
final class ClientDisconnectWatcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private struct State {
        var isClosed = false
        var nextID = 0
        var callbacks: [Int: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    /// Calls `callback` once when the client goes away (at once if it already has). Returns a registration to
    /// pass to ``cancel(_:)`` when the request no longer cares, or nil if the callback already ran.
    func onDisconnect(_ callback: @escaping @Sendable () -> Void) -> Int? {
        let id: Int? = self.state.withLock { state in
            guard !state.isClosed else { return nil }
            state.nextID += 1
            state.callbacks[state.nextID] = callback
            return state.nextID
        }
        if id == nil { callback() }
        return id
    }

    func cancel(_ registration: Int) {
        _ = self.state.withLock { $0.callbacks.removeValue(forKey: registration) }
    }

    private func clientWentAway() {
        let callbacks = self.state.withLock { state in
            state.isClosed = true
            defer { state.callbacks = [:] }
            return state.callbacks
        }
        for callback in callbacks.values { callback() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(.inputClosed) = event as? ChannelEvent { self.clientWentAway() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.clientWentAway()
        context.fireChannelInactive()
    }
}
