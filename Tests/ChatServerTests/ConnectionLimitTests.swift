import ChatServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import MockGroq
import NIOCore
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Idle connections cannot lock clients out: `MAX_CONNECTIONS_PER_ADDRESS`, and the connections idle longest
/// closed near `MAX_CONNECTIONS`. The listen cap itself exists only in the real binary (HummingbirdTesting's live
/// server does not apply it), so the tests of what happens near it run `chat-server`.
@Suite("Connection limits", .serialized)
struct ConnectionLimitTests {
    static let health = "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"

    /// Raises this process's open-file limit (inherited by the servers it starts) to `needed`, within the hard
    /// limit; fails the test, naming the limit, when the hard limit is lower.
    static func ensureOpenFiles(_ needed: Int) throws {
        var limit = rlimit()
        #if canImport(Glibc)
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
            let resource = RLIMIT_NOFILE
        #endif
        try #require(getrlimit(resource, &limit) == 0)
        if limit.rlim_cur < rlim_t(needed) {
            limit.rlim_cur = min(limit.rlim_max, rlim_t(needed))
            _ = setrlimit(resource, &limit)
            _ = getrlimit(resource, &limit)
        }
        try #require(
            limit.rlim_cur >= rlim_t(needed),
            "needs \(needed) open files; the hard limit (ulimit -Hn) is \(limit.rlim_max)")
    }

    /// `count` connections to `port` that send nothing, opened 100 at a time.
    static func idleConnections(_ count: Int, port: Int) async throws -> [RawConnection] {
        var connections: [RawConnection] = []
        while connections.count < count {
            let batch = min(100, count - connections.count)
            try await withThrowingTaskGroup(of: RawConnection.self) { group in
                for _ in 0..<batch { group.addTask { try await RawConnection.connect(port: port) } }
                for try await connection in group { connections.append(connection) }
            }
        }
        return connections
    }

    @Test("4,100 idle connections from 127.0.0.1: /health from 127.0.0.2 answers in under a second")
    func idleFloodFromOneAddress() async throws {
        try Self.ensureOpenFiles(4_100 + 1_024)
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        // The defaults: MAX_CONNECTIONS 4096, MAX_CONNECTIONS_PER_ADDRESS 512.
        let server = try await ServerProcess.start(database: directory + "/idle.db")
        defer { server.signal(SIGKILL) }
        let idle = try await Self.idleConnections(4_100, port: server.port)

        let clock = ContinuousClock()
        let started = clock.now
        let other = try await RawConnection.connect(port: server.port, from: "127.0.0.2")
        try await other.send(Self.health)
        #expect(await other.answered(within: .seconds(1)), "no answer from another address")
        #expect(clock.now - started < .seconds(1))
        #expect(other.text.hasPrefix("HTTP/1.1 200"), "\(other.text)")

        // 512 held; every other one was told why and closed at once.
        #expect(await eventually(within: .seconds(5)) { idle.filter { $0.channel.isActive }.count == 512 })
        let refused = idle.filter { !$0.channel.isActive }
        #expect(refused.count == 4_100 - 512)
        #expect(refused.allSatisfy { $0.text.hasPrefix("HTTP/1.1 429") && $0.text.contains("Too many connections") })
        #expect(server.log.contains("MAX_CONNECTIONS_PER_ADDRESS"))
        for connection in idle + [other] { await connection.close() }
    }

    @Test("near MAX_CONNECTIONS (64) the connections idle longest are closed, never one streaming a reply")
    func idleLongestClosedFirst() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let mock = try await MockGroqServer.start(behavior: ProcessTests.sixSecondReplies)
        defer { Task { await mock.stop() } }
        let server = try await ServerProcess.start(
            database: directory + "/near.db",
            environment: ProcessTests.mockEnvironment(mock).merging([
                "MAX_CONNECTIONS": "64", "MAX_CONNECTIONS_PER_ADDRESS": "0",
            ]) { $1 })
        defer { server.signal(SIGKILL) }
        let token = try #require(try await server.signUp("stream@example.com"))

        // The oldest connection streams a reply (about 6 s).
        let streaming = try await RawConnection.open(
            port: server.port, "POST", "/chat", token: token, json: #"{"message": "go", "stream": true}"#)
        #expect(await eventually(within: .seconds(5)) { streaming.text.contains("event: delta") })
        // Ten connections idle since their answer, oldest first...
        var answered: [RawConnection] = []
        for _ in 0..<10 {
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(Self.health)
            #expect(await connection.answered(within: .seconds(2)))
            answered.append(connection)
        }
        // ...then 53 that never send anything: 64 open, the server's limit.
        let silent = try await Self.idleConnections(53, port: server.port)
        let newcomer = try await RawConnection.connect(port: server.port)
        try await newcomer.send(Self.health)
        #expect(await newcomer.answered(within: .seconds(1)), "the 65th connection waited")
        #expect(newcomer.text.hasPrefix("HTTP/1.1 200"))

        // Past 60 open (15/16 of 64), the 61st closed the five idle longest, down to 56 (7/8).
        #expect(await eventually(within: .seconds(2)) { answered.prefix(5).allSatisfy { !$0.channel.isActive } })
        #expect(answered.dropFirst(5).allSatisfy { $0.channel.isActive })
        #expect(silent.allSatisfy { $0.channel.isActive })
        #expect(streaming.channel.isActive)
        // The stream runs to its end.
        #expect(await streaming.closed(within: .seconds(15)))
        #expect(streaming.text.contains("event: done"), "\(streaming.text.suffix(300))")
        for connection in answered + silent + [newcomer] { await connection.close() }
    }

    @Test("MAX_CONNECTIONS_PER_ADDRESS: one more is answered 429 and closed; a trusted proxy is not capped")
    func perAddressCap() async throws {
        try await withApp(
            .live,
            configure: {
                $0.maxConnectionsPerAddress = 3
                $0.forwardedAllowIPs = ["127.0.0.2"]
            }
        ) { client, _ in
            let port = try #require(client.port)
            var direct: [RawConnection] = []
            for _ in 0..<4 { direct.append(try await RawConnection.connect(port: port, from: "127.0.0.3")) }
            // Whichever the server saw last (they may reach it together) is refused.
            #expect(await eventually(within: .seconds(2)) { direct.filter { !$0.channel.isActive }.count == 1 })
            let refused = try #require(direct.first { !$0.channel.isActive })
            #expect(refused.text.hasPrefix("HTTP/1.1 429 Too Many Requests"), "\(refused.text)")
            #expect(refused.text.contains(#"{"detail":"Too many connections from this address"#))
            #expect(direct.filter { $0.channel.isActive }.count == 3)
            // A closed connection frees its place (once the server has seen it close).
            await direct.first { $0.channel.isActive }?.close()
            var again: RawConnection?
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(2)
            while again == nil, clock.now < deadline {
                let attempt = try await RawConnection.connect(port: port, from: "127.0.0.3")
                try await attempt.send(Self.health)
                _ = await attempt.answered(within: .seconds(1))
                if attempt.text.hasPrefix("HTTP/1.1 200") { again = attempt } else { await attempt.close() }
            }
            let admitted = try #require(again, "no place freed for the address")

            var proxied: [RawConnection] = []
            for _ in 0..<6 { proxied.append(try await RawConnection.connect(port: port, from: "127.0.0.2")) }
            for connection in proxied { try await connection.send(Self.health) }
            for connection in proxied {
                #expect(await connection.answered(within: .seconds(2)))
                #expect(connection.text.hasPrefix("HTTP/1.1 200"), "\(connection.text)")
            }
            for connection in direct + proxied + [admitted] { await connection.close() }
        }
    }
}
