import Foundation

/// Where the machine's CPU went during a scenario's measured period: how busy its cores were, and the CPU time
/// (user + system) of the chat-server processes, of PostgreSQL's processes on this machine and of chat-bench
/// itself (its clients and the mock upstream; the server too when it runs in-process), each per request measured.
///
/// On a machine the server shares with its database and with chat-bench, throughput follows whatever else runs;
/// these figures say whether the cores were the limit and which process used them. With them, how many of each
/// one's threads were on average ready to run but waiting for a core: latency that is queueing for the CPU, not
/// work. Read from `/proc` (Linux); a scenario has none elsewhere.
struct CPUShares: Sendable, Encodable, Equatable {
    /// Cores of the machine (`/proc/stat`'s `cpuN` lines).
    var cores: Int
    /// The share of all cores' time that was not idle, in percent.
    var busyPercent: Double
    /// The share of all cores' time the hypervisor gave to other machines while this one had work (`steal`), in
    /// percent; part of ``busyPercent``.
    var stolenPercent: Double
    /// The chat-server child processes measured.
    var servers: Int
    /// The chat-server child processes together; nil when the server runs in chat-bench's process or elsewhere.
    var serversMilliseconds: Double?
    /// Every process named `postgres` on this machine; nil when the run is not on PostgreSQL.
    var postgresMilliseconds: Double?
    var benchMilliseconds: Double
    /// Threads of the chat-server processes ready to run but waiting for a core, on average over the period
    /// (their run-queue time over its length); nil as ``serversMilliseconds`` is, or without `schedstat`.
    var serversWaiting: Double?
    /// The same for PostgreSQL's processes.
    var postgresWaiting: Double?
    /// The same for chat-bench's threads.
    var benchWaiting: Double?

    enum CodingKeys: String, CodingKey {
        case cores, servers
        case busyPercent = "busy_percent"
        case stolenPercent = "stolen_percent"
        case serversMilliseconds = "servers_cpu_ms_per_request"
        case postgresMilliseconds = "postgres_cpu_ms_per_request"
        case benchMilliseconds = "bench_cpu_ms_per_request"
        case serversWaiting = "servers_threads_waiting"
        case postgresWaiting = "postgres_threads_waiting"
        case benchWaiting = "bench_threads_waiting"
    }

    /// The shares between two readings, over `requests` requests; nil without requests.
    init?(from start: CPUReading, to end: CPUReading, requests: Int) {
        guard requests > 0, end.machineTotal > start.machineTotal else { return nil }
        let perRequest = { (seconds: Double) in seconds * 1000 / Double(requests) }
        self.cores = end.cores
        self.servers = end.sources.serverPIDs.count
        let elapsed = end.machineTotal - start.machineTotal
        self.busyPercent = 100 * (end.machineBusy - start.machineBusy) / elapsed
        self.stolenPercent = 100 * (end.machineStolen - start.machineStolen) / elapsed
        self.serversMilliseconds =
            end.sources.serverPIDs.isEmpty ? nil : perRequest(end.servers - start.servers)
        self.postgresMilliseconds =
            end.sources.postgres ? perRequest(end.postgres - start.postgres) : nil
        self.benchMilliseconds = perRequest(end.bench - start.bench)
        // The machine's time is every core's, so this is the period's length.
        let seconds = elapsed / Double(max(end.cores, 1))
        // A process that ended took its threads' waits with it: never below none.
        let waiting = { (from: Double?, to: Double?) in
            from.flatMap { from in to.map { max(0, $0 - from) / seconds } }
        }
        self.serversWaiting = self.serversMilliseconds == nil ? nil : waiting(start.serversWaiting, end.serversWaiting)
        self.postgresWaiting =
            self.postgresMilliseconds == nil ? nil : waiting(start.postgresWaiting, end.postgresWaiting)
        self.benchWaiting = waiting(start.benchWaiting, end.benchWaiting)
    }

    /// One line for the report, as "send: 2 cores 96 % busy (1 % stolen); CPU ms per request: chat-server …;
    /// threads waiting for a core: chat-server …".
    func summary(of scenario: String) -> String {
        let server = "chat-server\(self.servers > 1 ? " ×\(self.servers)" : "")"
        let cpu = Self.list([
            (server, self.serversMilliseconds), ("PostgreSQL", self.postgresMilliseconds),
            ("chat-bench", self.benchMilliseconds),
        ])
        let waiting = Self.list([
            (server, self.serversWaiting), ("PostgreSQL", self.postgresWaiting), ("chat-bench", self.benchWaiting),
        ])
        return "\(scenario): \(self.cores) cores \(Int(self.busyPercent.rounded())) % busy "
            + "(\(Int(self.stolenPercent.rounded())) % stolen); CPU ms per request: \(cpu)"
            + (waiting.isEmpty ? "" : "; threads waiting for a core: \(waiting)")
    }

    /// "name value, name value" for the figures that are there, to two decimals.
    private static func list(_ figures: [(String, Double?)]) -> String {
        figures.compactMap { name, value in value.map { "\(name) \(String(format: "%.2f", $0))" } }
            .joined(separator: ", ")
    }
}

/// The processes a run's CPU is split between, besides chat-bench itself.
struct CPUSources: Sendable {
    /// The chat-server processes (none when the server runs in chat-bench's process).
    var serverPIDs: [Int32]
    /// The run is on PostgreSQL (on this machine, if its CPU is to show).
    var postgres: Bool
}

/// CPU counters at one moment, in seconds: the machine's (all cores), the chat-server children's, PostgreSQL's
/// and chat-bench's own; and the time their threads have spent ready to run but waiting for a core.
struct CPUReading: Sendable {
    let sources: CPUSources
    var cores = 0
    var machineBusy = 0.0
    var machineStolen = 0.0
    var machineTotal = 0.0
    var servers = 0.0
    var postgres = 0.0
    var bench = 0.0
    /// Run-queue time of the threads alive now; nil where `schedstat` cannot be read. A thread that ended took
    /// its own with it, so only long-lived threads (the servers', PostgreSQL's pooled backends) count fully.
    var serversWaiting: Double?
    var postgresWaiting: Double?
    var benchWaiting: Double?

    /// Reads the counters now; nil where `/proc` is missing.
    /// - PostgreSQL: every process whose name is `postgres`, with the CPU of the children each has reaped, so a
    ///   backend that exits during the period still counts (its postmaster reaps it).
    static func take(_ sources: CPUSources) -> CPUReading? {
        guard let machine = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        var reading = CPUReading(sources: sources)
        for line in machine.split(separator: "\n") where line.hasPrefix("cpu") {
            let fields = line.split(separator: " ")
            if fields[0] == "cpu" {
                // user nice system idle iowait irq softirq steal: idle and iowait are the idle time.
                let ticks = fields.dropFirst().prefix(8).map { Double($0) ?? 0 }
                guard ticks.count == 8 else { return nil }
                reading.machineTotal = ticks.reduce(0, +) / Self.ticksPerSecond
                reading.machineBusy = reading.machineTotal - (ticks[3] + ticks[4]) / Self.ticksPerSecond
                reading.machineStolen = ticks[7] / Self.ticksPerSecond
            } else {
                reading.cores += 1
            }
        }
        reading.servers = sources.serverPIDs.compactMap { Self.processTime(pid: $0)?.own }.reduce(0, +)
        reading.serversWaiting = Self.sum(sources.serverPIDs.map { Self.runQueueWait(pid: $0) })
        reading.bench = Self.processTime(pid: nil)?.own ?? 0
        reading.benchWaiting = Self.runQueueWait(pid: nil)
        let processes = sources.postgres ? (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] : []
        var postgresWaits: [Double?] = []
        for entry in processes {
            guard let pid = Int32(entry), let time = Self.processTime(pid: pid), time.name == "postgres" else {
                continue
            }
            reading.postgres += time.own + time.reapedChildren
            postgresWaits.append(Self.runQueueWait(pid: pid))
        }
        reading.postgresWaiting = Self.sum(postgresWaits)
        return reading
    }

    /// Seconds the process's threads (this process's for a nil `pid`) have spent on a run queue, waiting for a
    /// core: the second field of each `/proc/<pid>/task/<tid>/schedstat`, in nanoseconds.
    static func runQueueWait(pid: Int32?) -> Double? {
        let directory = pid.map { "/proc/\($0)/task" } ?? "/proc/self/task"
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return nil }
        // A thread that ends between the listing and its read is left out.
        let waits = threads.compactMap { thread -> Double? in
            guard let text = try? String(contentsOfFile: "\(directory)/\(thread)/schedstat", encoding: .utf8) else {
                return nil
            }
            let fields = text.split(separator: " ")
            return fields.count >= 2 ? Double(fields[1]).map { $0 / 1e9 } : nil
        }
        return waits.isEmpty ? nil : waits.reduce(0, +)
    }

    /// The total, or nil if a part is missing (a process gone, `schedstat` unreadable).
    private static func sum(_ parts: [Double?]) -> Double? {
        parts.reduce(Double?(0)) { total, part in total.flatMap { total in part.map { total + $0 } } }
    }

    /// A process's name and CPU seconds (`/proc/<pid>/stat`: utime, stime, then cutime and cstime for the
    /// children it has waited for); this process's for a nil `pid`.
    static func processTime(pid: Int32?) -> (name: Substring, own: Double, reapedChildren: Double)? {
        let path = pid.map { "/proc/\($0)/stat" } ?? "/proc/self/stat"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let open = text.firstIndex(of: "("), let close = text.range(of: ") ", options: .backwards)
        else { return nil }
        // Fields after the name start at field 3 (state); utime, stime, cutime, cstime are fields 14 to 17.
        let fields = text[close.upperBound...].split(separator: " ")
        guard fields.count > 14 else { return nil }
        let ticks = fields[11...14].map { Double($0) ?? 0 }
        return (
            text[text.index(after: open)..<close.lowerBound], (ticks[0] + ticks[1]) / Self.ticksPerSecond,
            (ticks[2] + ticks[3]) / Self.ticksPerSecond
        )
    }

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
}
