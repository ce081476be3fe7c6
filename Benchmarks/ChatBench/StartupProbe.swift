import AsyncHTTPClient
import ChatStorage
import Foundation
import Histogram
import NIOCore
import NIOHTTP1
import NIOPosix

/// Spawns the real `chat-server` (built next to chat-bench) on a fresh database and measures the time from
/// process start to the first 200 on /health, then its idle resident memory.
enum StartupProbe {
    static func measure(log: (String) -> Void) async throws -> ScenarioResult {
        let executable = try ServerExecutable.locate()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "chat-bench-start-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try await ServerExecutable.freePort()
        let process = Process()
        process.executableURL = executable
        process.arguments = [
            "serve", "--port", String(port), "--database", directory.appendingPathComponent("start.db").path,
        ]
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["LOG_LEVEL"] = "warning"
        environment["GROQ_API_KEY"] = nil
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice

        let http = BenchTarget.makeHTTPClient(connections: 1)
        let clock = ContinuousClock()
        let started = clock.now
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var firstOK: Duration?
        while clock.now - started < .seconds(10) {
            if let response = try? await http.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(1)),
                response.status == .ok
            {
                firstOK = clock.now - started
                break
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        try? await http.shutdown()
        guard let firstOK else { throw BenchError.setup("chat-server did not answer /health within 10 s") }
        try await Task.sleep(for: .seconds(1))
        let idleRSS = Double(RSSSampler.residentKilobytes(pid: process.processIdentifier)) / 1024
        log("startup: first 200 on /health after \(Int(firstOK.seconds * 1000)) ms; idle RSS \(idleRSS) MB")
        return ScenarioResult(
            name: "startup",
            concurrency: 1,
            seconds: firstOK.seconds,
            requests: 1,
            requestsPerSecond: 0,
            p50Milliseconds: firstOK.seconds * 1000,
            p90Milliseconds: firstOK.seconds * 1000,
            p99Milliseconds: firstOK.seconds * 1000,
            maxMilliseconds: firstOK.seconds * 1000,
            errors: [:],
            peakRSSMegabytes: idleRSS,
            cpuMillisecondsPerRequest: nil,
            note: "process start → first 200 on /health; RSS = the server's idle RSS 1 s later"
        )
    }
}

/// The `chat-server` binary built next to chat-bench.
enum ServerExecutable {
    static func locate() throws -> URL {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("chat-server")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw BenchError.setup(
                "this needs \(executable.path): build it with `swift build -c release --product chat-server`")
        }
        return executable
    }

    /// A port nothing listens on now (bound to port 0, read, released), so that a spawned server neither
    /// fails to bind nor leaves the bench talking to some other process on a guessed port.
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        defer { channel.close(promise: nil) }
        guard let port = channel.localAddress?.port else { throw BenchError.setup("no free port") }
        return port
    }
}
