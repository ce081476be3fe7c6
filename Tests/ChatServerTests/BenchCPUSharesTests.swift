import Foundation
import Testing

@testable import ChatBench

@Suite("chat-bench's CPU shares")
struct BenchCPUSharesTests {
    @Test("a busy server process's CPU is counted per request, and the cores as busy")
    func busyServerProcess() async throws {
        let spinner = Process()
        spinner.executableURL = URL(fileURLWithPath: "/bin/sh")
        spinner.arguments = ["-c", "while :; do :; done"]
        try spinner.run()
        defer {
            // SIGKILL: the test process may ignore SIGTERM, and a child inherits ignored signals.
            kill(spinner.processIdentifier, SIGKILL)
            spinner.waitUntilExit()
        }
        #expect(CPUReading.processTime(pid: spinner.processIdentifier)?.name == "sh")
        let sources = CPUSources(serverPIDs: [spinner.processIdentifier], postgres: false)
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
        #expect(shares.benchMilliseconds >= 0)
        #expect(shares.summary(of: "send").hasPrefix("send: \(shares.cores) cores "))
        #expect(shares.summary(of: "send").contains("chat-server "))
        #expect(CPUShares(from: start, to: end, requests: 0) == nil)
    }
}
