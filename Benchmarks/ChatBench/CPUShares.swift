import Foundation

/// Where the machine's CPU went during a scenario's measured period: how busy its cores were, and the CPU time
/// (user + system) of the chat-server processes, of PostgreSQL's processes on this machine and of chat-bench
/// itself (its clients and the mock upstream; the server too when it runs in-process), each per request measured.
///
/// On a machine the server shares with its database and with chat-bench, throughput follows whatever else runs;
/// these figures say whether the cores were the limit and which process used them. Read from `/proc` (Linux);
/// a scenario has none elsewhere.
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

    enum CodingKeys: String, CodingKey {
        case cores, servers
        case busyPercent = "busy_percent"
        case stolenPercent = "stolen_percent"
        case serversMilliseconds = "servers_cpu_ms_per_request"
        case postgresMilliseconds = "postgres_cpu_ms_per_request"
        case benchMilliseconds = "bench_cpu_ms_per_request"
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
    }

    /// One line for the report, as "send: 2 cores 96 % busy (1 % stolen); CPU ms per request: chat-server …".
    func summary(of scenario: String) -> String {
        var parts: [String] = []
        if let serversMilliseconds {
            parts.append(
                "chat-server\(self.servers > 1 ? " ×\(self.servers)" : "") \(Self.format(serversMilliseconds))")
        }
        if let postgresMilliseconds { parts.append("PostgreSQL \(Self.format(postgresMilliseconds))") }
        parts.append("chat-bench \(Self.format(self.benchMilliseconds))")
        return "\(scenario): \(self.cores) cores \(Int(self.busyPercent.rounded())) % busy "
            + "(\(Int(self.stolenPercent.rounded())) % stolen); CPU ms per request: " + parts.joined(separator: ", ")
    }

    private static func format(_ value: Double) -> String {
        String(format: "%.2f", value)
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
/// and chat-bench's own.
struct CPUReading: Sendable {
    let sources: CPUSources
    var cores = 0
    var machineBusy = 0.0
    var machineStolen = 0.0
    var machineTotal = 0.0
    var servers = 0.0
    var postgres = 0.0
    var bench = 0.0

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
        reading.bench = Self.processTime(pid: nil)?.own ?? 0
        let processes = sources.postgres ? (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] : []
        for entry in processes {
            guard let pid = Int32(entry), let time = Self.processTime(pid: pid), time.name == "postgres" else {
                continue
            }
            reading.postgres += time.own + time.reapedChildren
        }
        return reading
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
