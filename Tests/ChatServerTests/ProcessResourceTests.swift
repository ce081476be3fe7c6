import ChatServer
import ChatStorage
import ChatStorageSQLite
import Foundation
import HTTPTypes
import MockGroq
import NIOCore
import Testing

/// Long-polls whose clients go away, against the real binary: nothing they held may outlive them. Part of the
/// serialized process suite, so its 4,000 connections do not share the machine with the crash tests.
extension ProcessTests {
    /// Open file descriptors and resident memory of a process, from /proc.
    static func usage(of pid: Int32) -> (files: Int, rssMB: Double) {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let rssKB =
            status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Double($0) } } ?? -1
        return (files, rssKB / 1024)
    }

    @Test("4,000 long-polls whose clients close at once: files back within 2 s, memory within 3 s, /health answers")
    func abortedLongPolls() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        // No per-user or per-address cap here: what is tested is that each aborted long-poll releases what it
        // held (all 4,000 come from 127.0.0.1; past MAX_CONNECTIONS_PER_ADDRESS a slow run saw 429s and closes).
        let server = try await ServerProcess.start(
            database: directory + "/abort.db",
            environment: ["LONG_POLLS_PER_USER": "0", "MAX_CONNECTIONS_PER_ADDRESS": "0"])
        defer { server.signal(SIGKILL) }
        let token = try #require(try await server.signUp("poller@example.com"))
        let chat = try await server.send(.post, "/chats", token: token, json: "{}")
        let chatID = try #require(chat.json["id"] as? String)
        let pid = server.process.processIdentifier
        let before = Self.usage(of: pid)

        let request =
            "GET /chats/\(chatID)/messages?after=0&wait=60 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n\r\n"
        let clock = ContinuousClock()
        let started = clock.now
        // All at once, as an attacker would: the server holds 4,000 parked requests together (about 90 MB more),
        // and must give that memory back once they are gone.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4000 {
                group.addTask {
                    let connection = try await RawConnection.connect(port: server.port)
                    try await connection.send(request)
                    // Give the request time to park, then go away without reading.
                    try await Task.sleep(for: .milliseconds(50))
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        let sent = clock.now - started
        var after = Self.usage(of: pid)
        // On PostgreSQL the pool keeps the connections it opened (DATABASE_MAX_CONNECTIONS, 2 × cores + 1, at most 20).
        let pool = TestDatabase.isPostgres ? AppConfig.defaultDatabaseConnections : 0
        let recovered = await eventually(within: .seconds(2)) {
            after = Self.usage(of: pid)
            return after.files <= before.files + 20 + pool
        }
        #expect(recovered, "open files \(before.files) → \(after.files)")
        // The heap's free pages go back to the system at the next check of MemoryTrimService (every second).
        let returned = await eventually(within: .seconds(3)) {
            after = Self.usage(of: pid)
            return after.rssMB < before.rssMB + 40
        }
        print("aborted long-polls: 4000 in \(sent); before \(before), after \(after)")
        #expect(returned, "RSS \(before.rssMB) MB → \(after.rssMB) MB")
        // On PostgreSQL the open-files check above passes while the pool may still finish reads that were already
        // running when their clients left (the suite runs debug binaries), so /health gets longer there.
        let healthTimeout: Duration = TestDatabase.isPostgres ? .seconds(6) : .seconds(2)
        #expect(try await server.send(.get, "/health", timeout: healthTimeout).status == 200)
        // A client that went away is not a server fault: logged as 499, never as an unhandled error.
        #expect(!server.log.contains("unhandled error"), "\(server.log.suffix(600))")
        #expect(server.log.contains("status=499"))
    }
}

extension ProcessTests {
    @Test("300 SSE clients that never read: their replies finish as fast as readers' do, and memory stays bounded")
    func neverReadingStreams() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let words = 120
        let mock = try await MockGroqServer.start(
            behavior: MockGroqBehavior(reply: Array(repeating: "word", count: words).joined(separator: " ")))
        defer { Task { await mock.stop() } }
        let server = try await ServerProcess.start(
            database: directory + "/slow.db",
            environment: Self.mockEnvironment(mock).merging([
                "USER_MESSAGES_PER_MINUTE": "0", "MAX_CONNECTIONS_PER_ADDRESS": "0",
            ]) { $1 })
        defer { server.signal(SIGKILL) }
        let token = try #require(try await server.signUp("reader@example.com"))
        let store = try await TestDatabase.openStore(standingInFor: directory + "/slow.db")
        let pid = server.process.processIdentifier
        let idle = Self.usage(of: pid).rssMB

        /// 300 streamed turns from clients that read (or not); when all are saved complete, and the peak RSS.
        func batch(reading: Bool, completeBefore: Int) async throws -> (elapsed: Duration, peakMB: Double) {
            let clock = ContinuousClock()
            let started = clock.now
            var clients: [RawConnection] = []
            for _ in 0..<300 {
                let connection = try await RawConnection.connect(port: server.port, reading: reading)
                let json = #"{"message": "a long one please", "stream": true}"#
                try await connection.send(
                    "POST /chat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)")
                clients.append(connection)
            }
            var peak = Self.usage(of: pid).rssMB
            // Counted in the database: every reply saved complete, with its whole text.
            while clock.now - started < .seconds(120) {
                peak = max(peak, Self.usage(of: pid).rssMB)
                let complete = try await store.messages(status: .complete).count { $0.role == .assistant }
                if complete == completeBefore + 300 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let elapsed = clock.now - started
            for client in clients { await client.close() }
            return (elapsed, peak)
        }

        let readers = try await batch(reading: true, completeBefore: 0)
        let stalled = try await batch(reading: false, completeBefore: 300)
        print(
            "never-reading streams: 300 replies of \(words) words: readers \(readers.elapsed), non-readers "
                + "\(stalled.elapsed); RSS idle \(idle) MB, peak \(readers.peakMB) / \(stalled.peakMB) MB")
        #expect(stalled.elapsed < readers.elapsed * 1.5 + .seconds(2))
        #expect(stalled.peakMB < idle + 100, "RSS \(idle) → \(stalled.peakMB) MB")
    }
}
