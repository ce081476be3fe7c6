import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Per-request state: Hummingbird's core context plus the authenticated user, once
/// ``AuthenticationMiddleware`` has checked the bearer token.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthenticationMiddleware``; nil on public routes.
    public var user: UserRecord?
    /// The API key the request came with, set by ``V1AuthenticationMiddleware`` (nil: a JWT, or no `/v1` route).
    public var apiKey: APIKeyRecord?
    /// The socket's peer (not a forwarded header); nil when the channel has none. Kept as NIO caches it and
    /// formatted only where an address is needed (login), not on every request.
    public let remoteAddress: SocketAddress?
    /// The connection the request came on (to learn when its client goes away).
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }

    /// Request bodies larger than this are refused with 413 (at the head when `Content-Length` declares more).
    public static let maxBodySize = 1 << 20
    public var maxUploadSize: Int { Self.maxBodySize }

    public var responseEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return encoder
    }

    /// The authenticated user. Throws 401 if the route was not behind ``AuthenticationMiddleware``.
    public func requireUser() throws(APIError) -> UserRecord {
        guard let user = self.user else { throw APIError.unauthorized("Not authenticated") }
        return user
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the right-most address in
    /// `X-Forwarded-For` that is not itself a trusted proxy (earlier entries are the client's to forge).
    public func clientAddress(of request: Request, trustedProxies: Set<String>) -> String {
        let peer = self.remoteAddress?.ipAddress ?? "unknown"
        guard trustedProxies.contains(peer), let forwarded = request.headers[.xForwardedFor] else { return peer }
        for entry in forwarded.split(separator: ",").reversed() {
            let address = String(entry.trimmingWhitespace())
            if !address.isEmpty && !trustedProxies.contains(address) { return address }
        }
        return peer
    }

    /// Calls `action` once when this request's client goes away (at once if it already has; see
    /// ``ClientDisconnectWatcher``). Returns what stops watching, for when the request ends first.
    func onClientDisconnect(_ action: @escaping @Sendable () -> Void) async -> @Sendable () -> Void {
        guard let watcher = try? await self.channel.pipeline.handler(type: ClientDisconnectWatcher.self).get(),
            let registration = watcher.onDisconnect(action)
        else { return {} }
        return { watcher.cancel(registration) }
    }

    /// The request id Hummingbird put in the logger's metadata.
    public var requestID: String {
        self.logger[metadataKey: "hb.request.id"]?.description ?? "-"
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
