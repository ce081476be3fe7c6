import NIOCore
import NIOHTTPTypes
import Synchronization

/// One open connection as ``ConnectionGuard`` sees it: whether a request is in progress on it, and since when
/// none has been. Written on the connection's event loop by ``ConnectionActivityHandler``, read by the guard from
/// any thread (hence atomics).
final class ConnectionActivity: Sendable {
    let channel: any Channel
    /// The client address counted against `MAX_CONNECTIONS_PER_ADDRESS`; nil when the connection is not counted
    /// (it comes from a trusted proxy, has no IP address, or the cap is off).
    let countedAddress: String?
    /// Requests whose head has arrived and whose response has not ended.
    private let requests = Atomic<Int>(0)
    /// When the last response ended (or the connection opened), in `NIODeadline` uptime nanoseconds.
    private let idleSinceNanoseconds: Atomic<UInt64>
    /// Set while the guard has chosen this connection for closing.
    private let chosen = Atomic<Bool>(false)

    init(channel: any Channel, countedAddress: String?, now: NIODeadline = .now()) {
        self.channel = channel
        self.countedAddress = countedAddress
        self.idleSinceNanoseconds = Atomic(now.uptimeNanoseconds)
    }

    /// No request in progress: none has started, or the last one's response has ended (a request whose head
    /// has not arrived whole does not count as started).
    var isIdle: Bool { self.requests.load(ordering: .acquiring) == 0 }

    var idleSince: UInt64 { self.idleSinceNanoseconds.load(ordering: .relaxed) }

    var isChosen: Bool { self.chosen.load(ordering: .relaxed) }

    func requestStarted() {
        self.requests.add(1, ordering: .releasing)
    }

    func responseEnded(now: NIODeadline = .now()) {
        self.idleSinceNanoseconds.store(now.uptimeNanoseconds, ordering: .relaxed)
        self.requests.subtract(1, ordering: .releasing)
    }

    /// Marks the connection chosen for closing; false if it already was.
    func choose() -> Bool {
        self.chosen.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
    }

    func spare() {
        self.chosen.store(false, ordering: .relaxed)
    }
}

/// Tells the connection's ``ConnectionActivity`` when a request starts (its head has arrived) and when its
/// response ends. Sits after the conversion to HTTPTypes, before every handler that may answer a request itself,
/// so each response it sees end belongs to a head it saw. Used only on its connection's event loop.
final class ConnectionActivityHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let activity: ConnectionActivity

    init(activity: ConnectionActivity) {
        self.activity = activity
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = self.unwrapInboundIn(data) { self.activity.requestStarted() }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = self.unwrapOutboundIn(data) { self.activity.responseEnded() }
        context.write(data, promise: promise)
    }
}
