import AsyncHTTPClient
import ChatStorage
import Foundation
import Histogram
import NIOCore
import NIOHTTP1

/// What one scenario measured.
struct ScenarioResult: Sendable, Encodable {
    var name: String
    var concurrency: Int
    var seconds: Double
    var requests: Int
    var requestsPerSecond: Double
    var p50Milliseconds: Double
    var p90Milliseconds: Double
    var p99Milliseconds: Double
    var maxMilliseconds: Double
    /// Non-2xx answers by status, and transport failures under "error".
    var errors: [String: Int]
    var peakRSSMegabytes: Double
    /// CPU time (user + system) the sampled process spent in the measured window, per request measured: a
    /// figure that holds on a shared machine, where throughput follows whatever else runs. Nil where not
    /// measured (startup, long-poll).
    var cpuMillisecondsPerRequest: Double?
    /// The whole machine's CPU in the measured window (Linux); nil where not measured.
    var cpu: CPUShares?
    var note: String?

    enum CodingKeys: String, CodingKey {
        case name, concurrency, seconds, requests, errors, note, cpu
        case requestsPerSecond = "requests_per_second"
        case p50Milliseconds = "p50_ms"
        case p90Milliseconds = "p90_ms"
        case p99Milliseconds = "p99_ms"
        case maxMilliseconds = "max_ms"
        case peakRSSMegabytes = "peak_rss_mb"
        case cpuMillisecondsPerRequest = "cpu_ms_per_request"
    }
}

/// Latencies (microseconds) and outcomes recorded by one worker; merged at the end.
struct Recorder: Sendable {
    var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    var requests = 0
    var errors: [String: Int] = [:]

    mutating func record(_ elapsed: Duration, status: Int?) {
        let micros = UInt64(
            max(1, elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000))
        _ = self.histogram.record(micros)
        self.requests += 1
        switch status {
        case let code? where (200..<300).contains(code): break
        case let code?: self.errors[String(code), default: 0] += 1
        case nil: self.errors["error", default: 0] += 1
        }
    }

    /// Counts a failure without a latency (for operations whose latency is measured elsewhere).
    mutating func fail(status: Int?) {
        self.errors[status.map(String.init) ?? "error", default: 0] += 1
    }

    mutating func merge(_ other: Recorder) {
        self.histogram.add(other.histogram)
        self.requests += other.requests
        self.errors.merge(other.errors, uniquingKeysWith: +)
    }
}

/// Runs `concurrency` workers, each repeating `operation` until the measured period ends; results recorded
/// during the warm-up are discarded. `operation` returns the HTTP status (nil for a transport failure).
/// With a `pace`, the workers send on its open-loop schedule instead of as fast as answers come back.
///
/// Workers start spread evenly over the first half of the warm-up (at most one second), as real clients
/// arrive: started all in the same instant, a closed loop of slow operations (an AI turn) keeps moving in
/// lockstep waves, and the server would be measured on bursts no real traffic has.
func runLoad(
    name: String,
    concurrency: Int,
    warmup: Duration,
    duration: Duration,
    pace: Pace? = nil,
    sampler: RSSSampler,
    cpuSources: CPUSources,
    note: String? = nil,
    operation: @escaping @Sendable (_ worker: Int, _ iteration: Int) async -> Int?
) async -> ScenarioResult {
    let clock = ContinuousClock()
    let start = clock.now
    let measureFrom = start + warmup
    let end = measureFrom + duration
    sampler.resetPeak()
    let cpuAtStart = Task {
        try? await Task.sleep(until: measureFrom, clock: clock)
        return (sampler.cpuSeconds(), CPUReading.take(cpuSources))
    }
    let progress = ProgressLine(name: name)
    defer { progress.finish() }
    let total = await runWorkers(
        concurrency, rampUp: min(warmup / 2, .seconds(1)), from: start, measureFrom: measureFrom, end: end,
        pace: pace, progress: progress, operation: operation)
    let (sampledAtStart, machineAtStart) = await cpuAtStart.value
    let machineAtEnd = CPUReading.take(cpuSources)
    let cpu = sampler.cpuSeconds() - sampledAtStart
    return ScenarioResult(
        name: name,
        concurrency: concurrency,
        duration: duration,
        recorded: total,
        peakRSSMegabytes: sampler.peakMegabytes,
        cpuMillisecondsPerRequest: total.requests == 0 ? 0 : cpu * 1000 / Double(total.requests),
        cpu: machineAtStart.flatMap { start in
            machineAtEnd.flatMap { CPUShares(from: start, to: $0, requests: total.requests) }
        },
        note: note
    )
}

/// ``runLoad(name:concurrency:warmup:duration:pace:sampler:cpuSources:note:operation:)``'s workers, started
/// spread over `rampUp` from `start` (or on `pace`'s schedule); what they recorded from `measureFrom` on, merged.
private func runWorkers(
    _ concurrency: Int,
    rampUp: Duration,
    from start: ContinuousClock.Instant,
    measureFrom: ContinuousClock.Instant,
    end: ContinuousClock.Instant,
    pace: Pace?,
    progress: ProgressLine,
    operation: @escaping @Sendable (_ worker: Int, _ iteration: Int) async -> Int?
) async -> Recorder {
    let clock = ContinuousClock()
    let recorders = await withTaskGroup(of: Recorder.self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                var recorder = Recorder()
                var iteration = 0
                if pace == nil {
                    try? await Task.sleep(until: start + rampUp * (Double(worker) / Double(concurrency)), clock: clock)
                }
                while clock.now < end {
                    // Closed loop: timed from now. Open loop: timed from the slot's due instant.
                    let began = pace?.claim(from: start) ?? clock.now
                    if began >= end { break }
                    if began > clock.now { try? await Task.sleep(until: began, clock: clock) }
                    let status = await operation(worker, iteration)
                    iteration += 1
                    progress.record(success: status.map { (200..<300).contains($0) } ?? false)
                    if began >= measureFrom { recorder.record(clock.now - began, status: status) }
                }
                return recorder
            }
        }
        return await group.reduce(into: [Recorder]()) { $0.append($1) }
    }
    return Recorder(merging: recorders)
}

extension ScenarioResult {
    /// A result from what the workers recorded over `duration`: counts, rate and percentiles.
    init(
        name: String, concurrency: Int, duration: Duration, recorded total: Recorder, peakRSSMegabytes: Double,
        cpuMillisecondsPerRequest: Double?, cpu: CPUShares? = nil, note: String?
    ) {
        self.init(
            name: name,
            concurrency: concurrency,
            seconds: duration.seconds,
            requests: total.requests,
            requestsPerSecond: Double(total.requests) / duration.seconds,
            p50Milliseconds: total.percentile(50),
            p90Milliseconds: total.percentile(90),
            p99Milliseconds: total.percentile(99),
            maxMilliseconds: Double(total.histogram.max) / 1000,
            errors: total.errors,
            peakRSSMegabytes: peakRSSMegabytes,
            cpuMillisecondsPerRequest: cpuMillisecondsPerRequest,
            cpu: cpu,
            note: note
        )
    }
}

extension Recorder {
    /// The workers' recordings together.
    init(merging recorders: [Recorder]) {
        self.init()
        for recorder in recorders { self.merge(recorder) }
    }

    func percentile(_ value: Double) -> Double {
        self.requests == 0 ? 0 : Double(self.histogram.valueAtPercentile(value)) / 1000
    }
}

extension Duration {
    var seconds: Double { Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18 }
}

/// Samples this process's resident memory every 50 ms and keeps the peak (VmRSS from /proc).
final class RSSSampler: @unchecked Sendable {
    // @unchecked Sendable: `peak` is guarded by `lock`; the sampling task only reads /proc.
    private let lock = NSLock()
    private var peak = 0
    private var task: Task<Void, Never>?
    let pid: Int32?

    /// Samples `pid`, or this process when nil.
    init(pid: Int32? = nil) {
        self.pid = pid
        self.task = Task.detached { [weak self] in
            while !Task.isCancelled {
                self?.sample()
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    deinit { self.task?.cancel() }

    func sample() {
        let current = Self.residentKilobytes(pid: self.pid)
        self.lock.withLock { self.peak = max(self.peak, current) }
    }

    func resetPeak() {
        let current = Self.residentKilobytes(pid: self.pid)
        self.lock.withLock { self.peak = current }
    }

    var peakMegabytes: Double {
        self.sample()
        return self.lock.withLock { Double(self.peak) / 1024 }
    }

    /// User + system CPU seconds of the sampled process so far (`/proc/<pid>/stat`).
    func cpuSeconds() -> Double {
        CPUReading.processTime(pid: self.pid)?.own ?? 0
    }

    static func residentKilobytes(pid: Int32?) -> Int {
        let path = pid.map { "/proc/\($0)/status" } ?? "/proc/self/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
