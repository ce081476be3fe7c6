import ChatStorage
import ChatTurns
import CoreMetrics
import Foundation
import Metrics
import Prometheus
import Synchronization

/// The server's metrics, recorded through swift-metrics into one swift-prometheus registry per backend (so
/// several servers in one process, as in the tests, never mix their figures), and rendered for GET /metrics.
///
/// Labels carry route patterns, methods, statuses, outcomes and kinds only: never a user, an email, a chat or
/// any other value a client chooses. Gauges of current state (queue, streams, memory) are read at scrape time,
/// so keeping them costs nothing between scrapes.
public final class ServerMetrics: Sendable {
    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        .seconds(10), .seconds(30), .seconds(60),
    ]

    /// Every metric's help text (and buckets where the defaults do not fit).
    static let catalog: [String: DescribedPrometheusFactory.Description] = [
        "chat_http_requests_total": .init(help: "HTTP requests by route pattern, method and status."),
        "chat_http_request_duration_seconds": .init(
            help: "Time from a request's arrival to the end of its response body, by route pattern and method."),
        "chat_turns_total": .init(
            help: "AI turns by how they ended: complete, failed, cancelled, interrupted (server shutdown), "
                + "or refused (token quota)."),
        "chat_upstream_time_to_first_token_seconds": .init(
            help: "Time from sending a turn to the provider to its first token."),
        "chat_upstream_duration_seconds": .init(help: "Time from sending a turn to the provider to its last token."),
        "chat_tokens_total": .init(help: "Tokens accounted to users, by kind (prompt or completion)."),
        "chat_v1_completion_tokens_total": .init(
            help: "Tokens of POST /v1/chat/completions calls (the upstream's usage, or a cut stream's estimate)."),
        "chat_provider_queue_length": .init(help: "Upstream calls waiting for a slot under the rate limits."),
        "chat_provider_in_flight": .init(help: "Upstream calls in flight."),
        "chat_provider_queue_wait_seconds": .init(
            help: "Time upstream calls waited for a slot under the rate limits and the concurrency cap."),
        "chat_database_commit_duration_seconds": .init(help: "Duration of each database write transaction."),
        "chat_database_group_commit_size": .init(
            help: "Writes sharing one transaction (SQLite's group commit).",
            valueBuckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]),
        "chat_sse_streams_open": .init(help: "Server-Sent-Events streams open."),
        "chat_long_polls_parked": .init(help: "Long-polls waiting for a chat to change."),
        "chat_http_connections_open": .init(help: "HTTP connections open."),
        "process_resident_memory_bytes": .init(help: "Resident memory of the server process."),
    ]

    let registry: PrometheusCollectorRegistry
    let factory: DescribedPrometheusFactory
    let connections = ConnectionCount()

    /// The turns' figures, in this registry: the sessions record them.
    public let turns: TurnMetrics
    let providerQueueWait: Metrics.Timer
    /// `chat_v1_completion_tokens_total`: the tokens of the OpenAI-compatible door's calls.
    let v1Tokens: CoreMetrics.Counter
    /// The store's figures: the composition root hands them to the engine it opens.
    public let store: StoreMetrics
    private let gauges: Gauges
    private let http = Mutex<[HTTPKey: (CoreMetrics.Counter, Metrics.Timer)]>([:])

    private struct Gauges: Sendable {
        let queueLength: CoreMetrics.Gauge
        let inFlight: CoreMetrics.Gauge
        let streams: CoreMetrics.Gauge
        let longPolls: CoreMetrics.Gauge
        let connections: CoreMetrics.Gauge
        let residentMemory: CoreMetrics.Gauge
    }

    /// The metrics `config` asks for: nil unless `METRICS_TOKEN` is set (then nothing is recorded at all).
    public static func configured(by config: AppConfig) -> ServerMetrics? {
        config.metricsToken == nil ? nil : ServerMetrics()
    }

    init() {
        let registry = PrometheusCollectorRegistry()
        let factory = DescribedPrometheusFactory(registry: registry, descriptions: Self.catalog)
        self.registry = registry
        self.factory = factory
        self.turns = TurnMetrics(factory: factory)
        self.providerQueueWait = Metrics.Timer(label: "chat_provider_queue_wait_seconds", factory: factory)
        self.v1Tokens = CoreMetrics.Counter(label: "chat_v1_completion_tokens_total", factory: factory)
        self.store = StoreMetrics(
            commitDuration: Metrics.Timer(label: "chat_database_commit_duration_seconds", factory: factory),
            batchSize: CoreMetrics.Recorder(label: "chat_database_group_commit_size", factory: factory))
        self.gauges = Gauges(
            queueLength: CoreMetrics.Gauge(label: "chat_provider_queue_length", factory: factory),
            inFlight: CoreMetrics.Gauge(label: "chat_provider_in_flight", factory: factory),
            streams: CoreMetrics.Gauge(label: "chat_sse_streams_open", factory: factory),
            longPolls: CoreMetrics.Gauge(label: "chat_long_polls_parked", factory: factory),
            connections: CoreMetrics.Gauge(label: "chat_http_connections_open", factory: factory),
            residentMemory: CoreMetrics.Gauge(label: "process_resident_memory_bytes", factory: factory))
    }

    private struct HTTPKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    /// One answered request. The handles are kept per (route, method, status): routes are the router's
    /// patterns and methods a fixed set, so the map stays small whatever clients send.
    func request(route: String, method: String, status: Int, duration: Duration) {
        let key = HTTPKey(route: route, method: method, status: status)
        let (counter, timer) = self.http.withLock { handles in
            if let found = handles[key] { return found }
            let made = (
                CoreMetrics.Counter(
                    label: "chat_http_requests_total",
                    dimensions: [("route", route), ("method", method), ("status", String(status))],
                    factory: self.factory),
                Metrics.Timer(
                    label: "chat_http_request_duration_seconds", dimensions: [("route", route), ("method", method)],
                    factory: self.factory)
            )
            handles[key] = made
            return made
        }
        counter.increment()
        timer.record(duration: duration)
    }

    /// What the gauges read at scrape time.
    struct Snapshot: Sendable {
        var providerQueued = 0
        var providerInFlight = 0
        var streams = 0
        var longPolls = 0
    }

    /// The exposition in Prometheus's text format, after reading the current state into the gauges.
    func exposition(_ snapshot: Snapshot) -> [UInt8] {
        self.gauges.queueLength.record(snapshot.providerQueued)
        self.gauges.inFlight.record(snapshot.providerInFlight)
        self.gauges.streams.record(snapshot.streams)
        self.gauges.longPolls.record(snapshot.longPolls)
        self.gauges.connections.record(self.connections.current)
        self.gauges.residentMemory.record(Self.residentMemoryBytes())
        return self.registry.emitToBuffer()
    }

    /// From `/proc/self/statm` (resident pages × page size); 0 where there is no such file.
    static func residentMemoryBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * sysconf(Int32(_SC_PAGESIZE))
    }
}

/// Open HTTP connections, counted by the connection channel as they open and close.
final class ConnectionCount: Sendable {
    private let count = Atomic<Int>(0)

    var current: Int { self.count.load(ordering: .relaxed) }

    func opened() { self.count.add(1, ordering: .relaxed) }
    func closed() { self.count.subtract(1, ordering: .relaxed) }
}
