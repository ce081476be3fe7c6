import Foundation

/// The load scenarios: servers started for them (or `--url`), fixtures seeded, each scenario measured.
extension ChatBenchCommand {
    /// The target's server processes, for the RSS and CPU figures.
    struct StartedTarget {
        let target: BenchTarget
        /// The process whose RSS is sampled; nil: this one.
        let sampledPID: Int32?
        let serverPIDs: [Int32]
    }

    /// The load scenarios against fresh servers (or `--url`); `metered`: with token quotas and metrics on, and
    /// GET /metrics scraped every second, results named with "+metering".
    func runLoad(_ loadScenarios: [Scenario], metered: Bool, log: @escaping @Sendable (String) -> Void) async throws
        -> [ScenarioResult]
    {
        let extraEnvironment =
            metered
            ? [
                "DAILY_TOKEN_QUOTA": "1000000000000", "MONTHLY_TOKEN_QUOTA": "1000000000000",
                "METRICS_TOKEN": BenchTarget.metricsToken,
            ] : [:]
        let connections = loadScenarios.map(self.concurrency(for:)).max().map { max($0, 64) + 64 } ?? 128
        let started = try await self.startTarget(connections: connections, extraEnvironment: extraEnvironment, log: log)
        let results: [ScenarioResult]
        do {
            results = try await self.measure(loadScenarios, on: started, metered: metered, log: log)
        } catch {
            await started.target.shutdown()
            throw error
        }
        await started.target.shutdown()
        return results
    }

    /// The server(s) under test: `--url`, child processes (`--spawn-server`, `--replicas`) or in this process.
    func startTarget(connections: Int, extraEnvironment: [String: String], log: @Sendable (String) -> Void)
        async throws -> StartedTarget
    {
        if let url {
            let pids = self.serverPID.map { [$0] } ?? []
            return StartedTarget(
                target: .external(url: url, connections: connections), sampledPID: self.serverPID, serverPIDs: pids)
        }
        if self.spawnServer || self.replicas > 1 {
            log(
                "starting \(self.replicas) chat-server child process(es) on \(self.databaseDescription) (mock upstream at \(self.upstreamLatency) ms)"
            )
            let (spawned, pids) = try await BenchTarget.spawned(
                upstreamLatencyMilliseconds: self.upstreamLatency,
                chunkDelayMilliseconds: self.chunkDelay,
                connections: connections,
                replicas: self.replicas,
                databaseURL: self.databaseURL,
                extraEnvironment: extraEnvironment
            )
            return StartedTarget(target: spawned, sampledPID: pids.first, serverPIDs: pids)
        }
        log(
            "starting the server in-process on \(self.databaseDescription) (mock upstream at \(self.upstreamLatency) ms)"
        )
        let target = try await BenchTarget.inProcess(
            upstreamLatencyMilliseconds: self.upstreamLatency,
            chunkDelayMilliseconds: self.chunkDelay,
            connections: connections,
            databaseURL: self.databaseURL,
            extraEnvironment: extraEnvironment
        )
        let pids = self.serverPID.map { [$0] } ?? []
        return StartedTarget(target: target, sampledPID: self.serverPID, serverPIDs: pids)
    }

    /// Seeds the fixtures, then runs each scenario in turn and logs its figures.
    func measure(
        _ loadScenarios: [Scenario], on started: StartedTarget, metered: Bool, log: @escaping @Sendable (String) -> Void
    ) async throws -> [ScenarioResult] {
        let target = started.target
        let fixtures = try await Fixtures.make(target, search: loadScenarios.contains(.search), log: log)
        await target.seeded()
        let sampler = RSSSampler(pid: started.sampledPID)
        let scraper = metered ? target.scrapeMetrics() : nil
        defer { scraper?.cancel() }
        var results: [ScenarioResult] = []
        for scenario in loadScenarios {
            let settings = RunSettings(
                concurrency: self.concurrency(for: scenario),
                warmup: .milliseconds(Int64(self.warmup * 1000)),
                duration: .milliseconds(Int64(self.duration * 1000)),
                rate: self.rate
            )
            let pacing = self.rate.map { " at \($0) req/s (open loop)" } ?? ""
            log("running \(scenario.rawValue) with \(settings.concurrency) clients\(pacing) for \(self.duration) s")
            let outcome = try await ScenarioRunner(
                target: target, fixtures: fixtures, settings: settings, senders: self.senders,
                history: self.history, sampler: sampler,
                cpuSources: CPUSources(serverPIDs: started.serverPIDs, postgres: self.databaseURL != nil)
            )
            .run(scenario)
            .map { result in
                var named = result
                if metered { named.name += " +metering" }
                return named
            }
            for result in outcome {
                log(
                    "  \(result.name): \(Int(result.requestsPerSecond)) req/s, p50 \(result.p50Milliseconds) ms, p99 \(result.p99Milliseconds) ms, errors \(result.errors)"
                )
            }
            results += outcome
        }
        return results
    }
}
