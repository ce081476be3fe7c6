import Foundation
import Testing

@testable import ChatBench

@Suite("chat-bench's CPU shares")
struct BenchCPUSharesTests {
    /// A shell that never sleeps, killed when `body` returns.
    private func withSpinners<T>(_ count: Int, _ body: ([Int32]) async throws -> T) async throws -> T {
        var spinners: [Process] = []
        defer {
            for spinner in spinners {
                // SIGKILL: the test process may ignore SIGTERM, and a child inherits ignored signals.
                kill(spinner.processIdentifier, SIGKILL)
                spinner.waitUntilExit()
            }
        }
        for _ in 0..<count {
            let spinner = Process()
            spinner.executableURL = URL(fileURLWithPath: "/bin/sh")
            spinner.arguments = ["-c", "while :; do :; done"]
            try spinner.run()
            spinners.append(spinner)
        }
        return try await body(spinners.map(\.processIdentifier))
    }

    @Test("a busy server process's CPU is counted per request, and the cores as busy")
    func busyServerProcess() async throws {
        try await self.withSpinners(1) { pids in try await self.checkOneSpinner(pids[0]) }
    }

    private func checkOneSpinner(_ pid: Int32) async throws {
        #expect(CPUReading.processTime(pid: pid)?.name == "sh")
        let sources = CPUSources(serverPIDs: [pid], postgres: false)
        let start = try #require(CPUReading.take(sources))
        try await Task.sleep(for: .milliseconds(500))
        let end = try #require(CPUReading.take(sources))
        let shares = try #require(CPUShares(from: start, to: end, requests: 10))
        #expect(shares.cores >= 1)
        #expect(shares.servers == 1)
        // Half a second of a process that never sleeps, over 10 requests: up to 50 ms each, less while the
        // other tests share the cores.
        let server = try #require(shares.serversMilliseconds)
        #expect(server > 2 && server < 60)
        #expect(shares.busyPercent > 0 && shares.busyPercent <= 100)
        #expect(shares.stolenPercent >= 0 && shares.stolenPercent <= shares.busyPercent)
        #expect(shares.postgresMilliseconds == nil)
        // The bench (this test process) slept through the period: far less than the spinner's CPU.
        #expect(shares.benchMilliseconds < server / 2)
        #expect(shares.summary(of: "send").hasPrefix("send: \(shares.cores) cores "))
        #expect(shares.summary(of: "send").contains("chat-server "))
        #expect(CPUShares(from: start, to: end, requests: 0) == nil)
        #expect(shares.postgresWaiting == nil)
        // One spinner on an otherwise quiet machine with more than one core runs nearly all the time; the
        // sleeping bench has no thread waiting for long.
        #expect(try #require(shares.serversWaiting) < 0.5)
        #expect(try #require(shares.benchWaiting) < 0.5)
    }

    @Test("server processes that outnumber the cores are counted as waiting for them")
    func serversWaitingForCores() async throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // Three more never-sleeping processes than cores: on average three of them wait (more while anything
        // else runs), and the cores' worth run; the checks leave room for the kernel's tick-grained CPU times.
        let spinners = cores + 3
        let shares = try await self.withSpinners(spinners) { pids in
            let sources = CPUSources(serverPIDs: pids, postgres: false)
            let start = try #require(CPUReading.take(sources))
            try await Task.sleep(for: .milliseconds(500))
            let end = try #require(CPUReading.take(sources))
            return try #require(CPUShares(from: start, to: end, requests: 10))
        }
        #expect(shares.servers == spinners)
        let waiting = try #require(shares.serversWaiting)
        #expect(waiting > 2 && waiting < Double(spinners))
        // Each spinner either runs or waits, so those running (CPU seconds over the half second) and those
        // waiting add up to all of them.
        let running = try #require(shares.serversMilliseconds) * 10 / 1000 / 0.5
        #expect(abs(running + waiting - Double(spinners)) < 0.5)
        #expect(shares.summary(of: "send").contains("; threads waiting for a core: chat-server ×\(spinners) "))
    }
}
