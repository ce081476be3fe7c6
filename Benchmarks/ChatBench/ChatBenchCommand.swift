import ArgumentParser
import AsyncHTTPClient
import ChatServer
import ChatStorage
import Foundation
import Histogram
import NIOCore
import NIOHTTP1

/// `chat-bench`: throughput and latency of the real server, by scenario.
@main
struct ChatBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-bench",
        abstract: "Measure the chat server's throughput and latency (HdrHistogram percentiles, errors by status, RSS)."
    )

    @Option(name: .long, help: "Benchmark a running server instead of starting one in-process.")
    var url: String?

    @Option(
        name: .long,
        help: "Scenario to run (repeatable): \(Scenario.allCases.map(\.rawValue).joined(separator: ", ")), or all.")
    var scenario: [String] = ["all"]

    @Option(
        name: .long,
        help: """
            Concurrent clients (HTTP/1.1 keep-alive connections) for every scenario. Default: each scenario's \
            budget figure: send 512, stream 1000, longpoll 1000, login 32, search 16, the others 64.
            """)
    var concurrency: Int?

    @Option(name: .long, help: "Measured seconds per scenario.")
    var duration = 10.0

    @Option(name: .long, help: "Warm-up seconds per scenario (not measured).")
    var warmup = 2.0

    @Option(
        name: .long,
        help: """
            Open loop: start this many requests per second in all, each timed from when it was due, with at most \
            --concurrency in flight (default: closed loop, each client sending as soon as its answer came). Not \
            for longpoll and startup.
            """)
    var rate: Double?

    @Option(name: .customLong("upstream-latency-ms"), help: "Latency of the in-process mock upstream.")
    var upstreamLatency = 1000

    @Option(name: .customLong("chunk-delay-ms"), help: "Delay between the mock's streamed chunks.")
    var chunkDelay = 0

    @Option(name: .long, help: "longpoll: clients sending into the waiters' chats (each send is an AI turn).")
    var senders = 64

    @Option(
        name: .long,
        help:
            "send, stream: messages each client's chat holds before the first turn (imported), so turns read a long history."
    )
    var history = 0

    @Flag(
        name: .customLong("spawn-server"),
        help: "Run the real chat-server binary (built next to chat-bench) as a child process, so RSS is the server's.")
    var spawnServer = false

    @Option(
        name: .customLong("database-url"),
        help: """
            The database of the server(s) under test (DATABASE_URL: postgresql://… or a SQLite path); default: a \
            fresh SQLite file. Fixtures go to users of their own, so a database already in use only grows.
            """)
    var databaseURL: String?

    @Option(
        name: .long,
        help: """
            Spawn this many chat-server processes on --database-url (PostgreSQL) and spread requests over them \
            in turn; the long-poll scenario parks each waiter on one replica and sends into its chat on another.
            """)
    var replicas = 1

    @Option(
        name: .customLong("server-pid"),
        help: "With --url: the server's process id, so that its RSS is sampled instead of chat-bench's own.")
    var serverPID: Int32?

    @Flag(
        name: .customLong("compare-metering"),
        help: """
            Run the load scenarios twice, each time on fresh servers: with token quotas and metrics off, then on \
            (DAILY_TOKEN_QUOTA and MONTHLY_TOKEN_QUOTA set far above what the run uses, METRICS_TOKEN set and \
            GET /metrics scraped every second on each replica); print each scenario's ratio on/off.
            """)
    var compareMetering = false

    @Flag(name: .long, help: "Print results as JSON.")
    var json = false

    func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        guard self.duration > 0, self.warmup >= 0 else { throw ValidationError("--duration must be positive") }
        if let rate, !(rate > 0 && rate <= 1_000_000) { throw ValidationError("--rate must be 0 < rate <= 1000000") }
        guard self.senders >= 1 else { throw ValidationError("--senders must be at least 1") }
        guard (0...10_000).contains(self.history) else { throw ValidationError("--history must be 0 to 10000") }
        if self.spawnServer, self.url != nil { throw ValidationError("--spawn-server and --url exclude each other") }
        if self.compareMetering, self.url != nil {
            throw ValidationError("--compare-metering starts its own servers: it excludes --url")
        }
        guard self.replicas >= 1 else { throw ValidationError("--replicas must be at least 1") }
        if self.replicas > 1 {
            guard let databaseURL, databaseURL.hasPrefix("postgres") else {
                throw ValidationError("--replicas needs --database-url postgresql://… (SQLite serves one process)")
            }
        }
        if self.url != nil, self.databaseURL != nil || self.replicas > 1 {
            throw ValidationError("--database-url and --replicas start servers; --url benchmarks a running one")
        }
        if self.serverPID != nil, self.url == nil {
            throw ValidationError("--server-pid needs --url (in-process, chat-bench samples itself)")
        }
        for name in self.scenario where name != "all" && Scenario(rawValue: name) == nil {
            throw ValidationError("unknown scenario \(name)")
        }
    }

    /// `--concurrency`, or the scenario's budget figure.
    func concurrency(for scenario: Scenario) -> Int {
        if let concurrency { return concurrency }
        switch scenario {
        case .send: return 512
        case .stream, .longpoll: return 1000
        case .login: return 32
        case .search: return 16
        default: return 64
        }
    }

    /// The database named for logs, never with its password.
    var databaseDescription: String {
        guard let databaseURL else { return "a fresh SQLite file" }
        var config = AppConfig()
        return (try? config.setDatabase(url: databaseURL)).map { config.databaseDescription } ?? "an invalid URL"
    }

    var scenarios: [Scenario] {
        self.scenario.contains("all") ? Scenario.allCases : self.scenario.compactMap(Scenario.init(rawValue:))
    }

    func run() async throws {
        let log: @Sendable (String) -> Void = { message in
            FileHandle.standardError.write(Data("chat-bench: \(message)\n".utf8))
        }
        var results: [ScenarioResult] = []
        if self.scenarios.contains(.startup) {
            if self.url == nil {
                results.append(try await StartupProbe.measure(log: log))
            } else {
                log("startup: skipped with --url (it spawns chat-server itself)")
            }
        }
        let loadScenarios = self.scenarios.filter { $0 != .startup }
        if !loadScenarios.isEmpty {
            let plain = try await self.runLoad(loadScenarios, metered: false, log: log)
            results += plain
            if self.compareMetering {
                let metered = try await self.runLoad(loadScenarios, metered: true, log: log)
                results += metered
                for (off, on) in zip(plain, metered) where off.requestsPerSecond > 0 {
                    let (cpuOn, cpuOff) = (on.cpuMillisecondsPerRequest ?? 0, off.cpuMillisecondsPerRequest ?? 0)
                    log(
                        "metering on/off, \(off.name): \(Int(on.requestsPerSecond)) / \(Int(off.requestsPerSecond)) req/s = "
                            + String(format: "%.3f", on.requestsPerSecond / off.requestsPerSecond)
                            + String(
                                format: "; CPU per request %.3f / %.3f ms = %.3f", cpuOn, cpuOff,
                                cpuOn / max(cpuOff, 0.000_001)))
                }
            }
        }
        if self.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(results), as: UTF8.self))
        } else {
            let rssSource =
                if let serverPID {
                    "the server process \(serverPID)"
                } else if self.replicas > 1 {
                    "the first of the \(self.replicas) chat-server child processes"
                } else if self.spawnServer {
                    "the chat-server child process"
                } else if self.url == nil {
                    "the chat-bench process (server, mock upstream and clients together)"
                } else { "chat-bench's own process (pass --server-pid for the server's)" }
            print(Report.table(results, rssSource: rssSource))
        }
    }
}
