import ChatProvider
import Logging
import ServiceLifecycle
import Synchronization

/// The models this deployment offers: GET /models, and what `model` may name in PATCH /chats/{id} and POST /chat.
///
/// - Holds `ALLOWED_MODELS` (default: `GROQ_MODEL` alone) in their configured order.
/// - As a `Service`, checks them against the upstream's `GET /models` once at start, retrying every
///   `retryInterval` until the upstream answers; until then the configured list is offered as it is.
/// - A model the upstream does not list is logged and left out; the default model never is (a chat that picks
///   none uses it whatever the upstream says), so its absence is logged as an error instead.
/// - Reads are snapshots under a lock held for a copy, never across a suspension.
public final class ModelCatalog: Service, Sendable, CustomStringConvertible {
    /// A model on offer, with what the upstream says of it once checked.
    public struct Entry: Sendable, Equatable {
        public let id: String
        public var ownedBy: String?
        public var contextWindow: Int?
    }

    public let defaultModel: String
    private let state: Mutex<(entries: [Entry], checked: Bool)>
    private let upstream: @Sendable () async throws -> [UpstreamModel]
    private let retryInterval: Duration
    private let logger: Logger

    public var description: String { "ModelCatalog" }

    /// `upstream` lists the upstream's models (``ProviderActor/listModels()``).
    public init(
        configured: [String], defaultModel: String, logger: Logger, retryInterval: Duration = .seconds(30),
        upstream: @escaping @Sendable () async throws -> [UpstreamModel]
    ) {
        self.defaultModel = defaultModel
        self.state = Mutex((configured.map { Entry(id: $0) }, false))
        self.upstream = upstream
        self.retryInterval = retryInterval
        self.logger = logger
    }

    /// The models on offer, in the configured order.
    public var entries: [Entry] { self.state.withLock { $0.entries } }
    /// Whether the upstream's list has been applied.
    public var isChecked: Bool { self.state.withLock { $0.checked } }

    public func offers(_ model: String) -> Bool {
        self.state.withLock { state in state.entries.contains { $0.id == model } }
    }

    /// Keeps the configured models the upstream lists (and the default), with the upstream's details.
    func apply(_ listed: [UpstreamModel]) {
        let byID = Dictionary(listed.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let (kept, dropped) = self.state.withLock { state -> ([Entry], [String]) in
            var kept: [Entry] = []
            var dropped: [String] = []
            for var entry in state.entries {
                if let model = byID[entry.id] {
                    entry.ownedBy = model.ownedBy
                    entry.contextWindow = model.contextWindow
                } else if entry.id != self.defaultModel {
                    dropped.append(entry.id)
                    continue
                }
                kept.append(entry)
            }
            state = (kept, true)
            return (kept, dropped)
        }
        for model in dropped {
            self.logger.warning(
                "ALLOWED_MODELS names a model the upstream does not list: it is not offered",
                metadata: ["model": "\(model)"])
        }
        if byID[self.defaultModel] == nil {
            self.logger.error(
                "the upstream does not list GROQ_MODEL: turns that use it will fail",
                metadata: ["model": "\(self.defaultModel)"])
        }
        self.logger.info("models checked against the upstream", metadata: ["offered": "\(kept.map(\.id))"])
    }

    /// Checks the list until the upstream answers, then stays until shutdown (a service that returned would
    /// end the application).
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    self.apply(try await self.upstream())
                    return
                } catch {
                    self.logger.warning(
                        "could not list the upstream's models; offering ALLOWED_MODELS unchecked for now",
                        metadata: ["error": "\(error)", "retry_in": "\(self.retryInterval)"])
                    try? await Task.sleep(for: self.retryInterval)
                }
            }
        }
        try? await gracefulShutdown()
    }
}
