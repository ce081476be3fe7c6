import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Hummingbird's HTTP/1.1 child channel with this server's connection handlers around it:
///
/// - ``RequestBytesObserver`` (first, raw bytes) and ``RequestReadDeadlineHandler``: a request must arrive
///   whole within `REQUEST_READ_TIMEOUT_SECONDS` of its first byte.
/// - ``RequestFramingHandler`` (on NIOHTTP1's parsed head): 501 for a transfer coding other than chunked, 400
///   for `Transfer-Encoding` in HTTP/1.0 and for an HTTP/1.1 request without one `Host`; the connection closes.
/// - ``HTTP10ConnectionCloseHandler`` (on NIOHTTP1's parsed head): HTTP/1.0 without keep-alive, and
///   `Connection: close` in any case, close the connection after the response.
/// - ``DeclaredBodyLimitHandler``: 413 at the head for a declared `Content-Length` over the limit.
/// - ``ClientDisconnectWatcher``: waiting requests learn at once that their client has gone.
/// - ``ConnectionActivityHandler``: tells ``ConnectionGuard`` which connections are idle, so that near
///   `MAX_CONNECTIONS` the ones idle longest are closed; a connection over `MAX_CONNECTIONS_PER_ADDRESS` gets
///   ``ConnectionRefusal`` instead.
struct ChatHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let requestReadTimeout: TimeAmount
    let bodyLimits: BodyLimits
    /// Counts open connections (for GET /metrics), when metrics are on.
    let connections: ConnectionCount?
    let connectionGuard: ConnectionGuard

    /// The server builder for ``Application``.
    static func builder(
        idleTimeout: TimeAmount, requestReadTimeout: TimeAmount, bodyLimits: BodyLimits, connections: ConnectionCount?,
        connectionGuard: ConnectionGuard
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            ChatHTTP1Channel(
                inner: HTTP1Channel(
                    responder: responder,
                    configuration: HTTP1Channel.Configuration(
                        idleTimeout: idleTimeout,
                        // A request head of more than 32 KiB (or 100 fields) is refused with 400 and a closed
                        // connection.
                        httpDecoderConfiguration: .init(
                            maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 32 * 1024, maxHeaderFieldCount: 100)
                    )
                ),
                requestReadTimeout: requestReadTimeout,
                bodyLimits: bodyLimits,
                connections: connections,
                connectionGuard: connectionGuard
            )
        }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let readTimeout = self.requestReadTimeout
        let bodyLimits = self.bodyLimits
        if let connections = self.connections {
            connections.opened()
            channel.closeFuture.whenComplete { _ in connections.closed() }
        }
        let connectionGuard = self.connectionGuard
        let activity = connectionGuard.opened(channel)
        if let activity { channel.closeFuture.whenComplete { _ in connectionGuard.closed(activity) } }
        return self.inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            // Runs on the channel's event loop, right after Hummingbird built the pipeline.
            let pipeline = channel.pipeline.syncOperations
            guard let activity else {
                // Over its address's cap. (Failing the setup instead would reach the listener as an error.)
                try pipeline.addHandler(ConnectionRefusal(), position: .first)
                return value
            }
            let deadline = RequestReadDeadline(timeout: readTimeout)
            try pipeline.addHandler(RequestBytesObserver(deadline: deadline), position: .first)
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(HTTP10ConnectionCloseHandler(), position: .after(decoder))
            try pipeline.addHandler(RequestFramingHandler(), position: .after(decoder))
            // After the conversion to HTTPTypes, before Hummingbird's connection-state handler.
            let connectionState = try pipeline.handler(type: HTTPConnectionStateHandler.self)
            try pipeline.addHandlers(
                [
                    ConnectionActivityHandler(activity: activity),
                    RequestReadDeadlineHandler(deadline: deadline),
                    DeclaredBodyLimitHandler(limits: bodyLimits),
                    ClientDisconnectWatcher(),
                ],
                position: .before(connectionState)
            )
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await self.inner.handle(value: value, logger: logger)
    }
}
