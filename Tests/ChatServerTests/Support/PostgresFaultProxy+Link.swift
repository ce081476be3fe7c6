import ChatStorage
import ChatStoragePostgres
import NIOCore
import NIOPosix

/// The client's side of one connection through ``PostgresFaultProxy``: connects to the server, reads the client's
/// messages one by one and forwards them, or strikes the armed fault in place of a statement. Everything of one
/// connection (both sides) runs on the proxy's one event loop.
final class ClientSide: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let proxy: PostgresFaultProxy
    private var id: Int?
    private var context: ChannelHandlerContext?
    private var server: (any Channel)?
    /// Messages for the server that came before it was connected.
    private var waiting: [ByteBuffer] = []
    private var buffer = ByteBuffer()
    private var startedUp = false
    /// Prepared statements' texts by name, as the client parsed them on this connection.
    private var statements: [String: String] = [:]
    /// Messages the server answers with `ReadyForQuery` (the startup, `Sync`, `Query`) forwarded and not yet
    /// answered: an answer put in the server's place waits for them, so that the client reads answers in order.
    private var unanswered = 0
    /// The transaction status of the server's last `ReadyForQuery`.
    private var status = UInt8(ascii: "I")
    /// An `ERROR` to answer once the client's `Sync` ends the statement struck (its messages are dropped till then).
    private var dropping: PostgresFaultProxy.Fault?
    /// An answer waiting for the server's pending ones.
    private var deferred: PostgresFaultProxy.Fault?
    /// Struck with a fault that ends the connection: nothing more is forwarded.
    private var ended = false

    init(proxy: PostgresFaultProxy) {
        self.proxy = proxy
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        guard let id = self.proxy.admit(context.channel) else {
            context.close(promise: nil)
            return
        }
        self.id = id
        let side = NIOLoopBound(self, eventLoop: context.eventLoop)
        let proxy = self.proxy
        let bootstrap = ClientBootstrap(group: context.eventLoop).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    ServerSide(client: side.value, proxy: proxy, id: id))
            }
        }
        let connected =
            switch self.proxy.upstream {
            case .tcp(host: let host, port: let port): bootstrap.connect(host: host, port: port)
            case .unixSocket(directory: let directory, port: let port):
                bootstrap.connect(unixDomainSocketPath: "\(directory)/.s.PGSQL.\(port)")
            }
        connected.whenComplete { result in
            switch result {
            case .success(let server): side.value.connected(to: server)
            case .failure: side.value.context?.close(promise: nil)
            }
        }
    }

    private func connected(to server: any Channel) {
        self.server = server
        for message in self.waiting { server.write(message, promise: nil) }
        self.waiting = []
        server.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let id { self.proxy.closed(id) }
        self.server?.close(promise: nil)
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        self.buffer.writeBuffer(&bytes)
        while !self.ended, let message = self.nextMessage() { self.handle(message) }
        self.server?.flush()
    }

    /// The next whole message of the buffer (the startup message has no type byte).
    private func nextMessage() -> ByteBuffer? {
        let header = self.startedUp ? 1 : 0
        guard let length = self.buffer.getInteger(at: self.buffer.readerIndex + header, as: Int32.self),
            self.buffer.readableBytes >= header + Int(length)
        else { return nil }
        return self.buffer.readSlice(length: header + Int(length))
    }

    private func handle(_ message: ByteBuffer) {
        guard self.startedUp else {
            self.startedUp = true
            return self.forward(message, answered: true)
        }
        let type = message.getInteger(at: message.readerIndex, as: UInt8.self) ?? 0
        if let fault = self.dropping {
            if type == UInt8(ascii: "S") {
                self.dropping = nil
                self.answer(fault)
            }
            return
        }
        if let text = self.statementText(of: message, type: type), let (fault, others) = self.proxy.strike(text) {
            return self.strike(fault, onSimpleQuery: type == UInt8(ascii: "Q"), others: others)
        }
        self.forward(message, answered: type == UInt8(ascii: "S") || type == UInt8(ascii: "Q"))
    }

    /// The text a fault is matched against: a simple query's or an unnamed statement's SQL, or a prepared
    /// statement's name and SQL when it is executed (its preparation is forwarded, so a fault never leaves a
    /// failed preparation behind in the driver).
    private func statementText(of message: ByteBuffer, type: UInt8) -> String? {
        var body = message
        body.moveReaderIndex(forwardBy: 5)
        switch type {
        case UInt8(ascii: "P"):
            guard let name = body.readNullTerminatedString(), let sql = body.readNullTerminatedString() else {
                return nil
            }
            self.statements[name] = sql
            return name.isEmpty ? sql : nil
        case UInt8(ascii: "B"):
            guard body.readNullTerminatedString() != nil, let name = body.readNullTerminatedString(), !name.isEmpty
            else { return nil }
            return name + " " + (self.statements[name] ?? "")
        case UInt8(ascii: "Q"):
            return body.readNullTerminatedString()
        default:
            return nil
        }
    }

    private func forward(_ message: ByteBuffer, answered: Bool) {
        if answered { self.unanswered += 1 }
        if let server { server.write(message, promise: nil) } else { self.waiting.append(message) }
    }

    private func strike(_ fault: PostgresFaultProxy.Fault, onSimpleQuery: Bool, others: [any Channel]) {
        switch fault {
        case .error:
            if onSimpleQuery { self.answer(fault) } else { self.dropping = fault }
        case .fatal:
            self.ended = true
            self.answer(fault)
        case .close:
            self.ended = true
            self.context?.close(promise: nil)
        case .reset:
            self.ended = true
            guard let context else { return }
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            // SO_LINGER 0: the close sends a reset, not a FIN.
            (context.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                .whenComplete { _ in bound.value.close(promise: nil) }
        case .swallow:
            self.ended = true
        case .cutOff:
            self.ended = true
            self.context?.close(promise: nil)
            for channel in others { channel.close(promise: nil) }
        }
    }

    /// Answers `fault` in the server's place, once the server has answered what was forwarded before it.
    private func answer(_ fault: PostgresFaultProxy.Fault) {
        guard self.unanswered == 0 else {
            self.deferred = fault
            return
        }
        guard let context else { return }
        switch fault {
        case .error(let state):
            var answer = Self.errorResponse(severity: "ERROR", state: state)
            answer.writeInteger(UInt8(ascii: "Z"))
            answer.writeInteger(Int32(5))
            answer.writeInteger(self.status == UInt8(ascii: "I") ? self.status : UInt8(ascii: "E"))
            context.writeAndFlush(self.wrapOutboundOut(answer), promise: nil)
        case .fatal(let state):
            let answer = Self.errorResponse(severity: "FATAL", state: state)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(self.wrapOutboundOut(answer)).whenComplete { _ in bound.value.close(promise: nil) }
        case .close, .reset, .cutOff, .swallow:
            break
        }
    }

    /// A message from the server, to pass on.
    func fromServer(_ message: ByteBuffer, readyForQuery status: UInt8?) {
        self.context?.write(self.wrapOutboundOut(message), promise: nil)
        guard let status else { return }
        self.status = status
        self.unanswered -= 1
        if self.unanswered == 0, let fault = self.deferred {
            self.deferred = nil
            self.context?.flush()
            self.answer(fault)
        }
    }

    func flushToClient() {
        self.context?.flush()
    }

    func serverClosed() {
        self.context?.close(promise: nil)
    }

    /// An `ErrorResponse` with the fields a driver reads: severity (localized and not), SQLSTATE and message.
    static func errorResponse(severity: String, state: String) -> ByteBuffer {
        var fields = ByteBuffer()
        for (code, value) in [("S", severity), ("V", severity), ("C", state), ("M", "a fault injected by the test")] {
            fields.writeInteger(UInt8(ascii: code.unicodeScalars.first ?? "M"))
            fields.writeNullTerminatedString(value)
        }
        fields.writeInteger(UInt8(0))
        var message = ByteBuffer()
        message.writeInteger(UInt8(ascii: "E"))
        message.writeInteger(Int32(4 + fields.readableBytes))
        message.writeBuffer(&fields)
        return message
    }
}

/// The server's side of one connection through ``PostgresFaultProxy``: passes the server's messages to the
/// client's side, noting the backend's process id and each `ReadyForQuery`.
final class ServerSide: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let client: ClientSide
    private let proxy: PostgresFaultProxy
    private let id: Int
    private var buffer = ByteBuffer()

    init(client: ClientSide, proxy: PostgresFaultProxy, id: Int) {
        self.client = client
        self.proxy = proxy
        self.id = id
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        self.buffer.writeBuffer(&bytes)
        while let length = self.buffer.getInteger(at: self.buffer.readerIndex + 1, as: Int32.self),
            self.buffer.readableBytes >= 1 + Int(length),
            let message = self.buffer.readSlice(length: 1 + Int(length))
        {
            let type = message.getInteger(at: message.readerIndex, as: UInt8.self)
            if type == UInt8(ascii: "K"), let pid = message.getInteger(at: message.readerIndex + 5, as: Int32.self) {
                self.proxy.started(self.id, backendPID: pid)
            }
            let status =
                type == UInt8(ascii: "Z") ? message.getInteger(at: message.readerIndex + 5, as: UInt8.self) : nil
            self.client.fromServer(message, readyForQuery: status)
        }
        self.client.flushToClient()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.client.serverClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
