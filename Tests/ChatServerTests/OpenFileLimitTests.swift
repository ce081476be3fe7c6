import ChatServer
import Foundation
import Testing

/// The server raises its open-file limit at start and lowers `MAX_CONNECTIONS` to what the limit leaves, so
/// that the connection guard acts before accepting fails for lack of descriptors.
@Suite("Open-file limit", .serialized)
struct OpenFileLimitTests {
    @Test("MAX_CONNECTIONS is kept while the limit has room, and lowered to what it leaves when not")
    func fitting() {
        #expect(OpenFileLimit.connections(fitting: 20_000, configured: 4_096) == 4_096)
        #expect(OpenFileLimit.connections(fitting: 1_024, configured: 4_096) == 1_024 - OpenFileLimit.reserved)
        #expect(OpenFileLimit.connections(fitting: 100, configured: 4_096) == 16)
        #expect(OpenFileLimit.connections(fitting: 1_024, configured: 300) == 300)
    }

    /// Started with a soft limit of 1,024 (a shell's default), the real binary runs at its hard limit; and when
    /// the hard limit itself is 1,024 (set for the child by prlimit), it says that MAX_CONNECTIONS was lowered.
    @Test("the real binary raises its soft limit to the hard one, and says when MAX_CONNECTIONS must be lowered")
    func realBinary() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        var original = rlimit()
        try #require(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &original) == 0)
        try #require(original.rlim_max > 1_024, "the hard limit must allow more than 1,024 files")
        defer { _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &original) }
        // The child inherits the limits of this process at spawn: the soft one is lowered around the start.
        var lowered = rlimit(rlim_cur: 1_024, rlim_max: original.rlim_max)
        try #require(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lowered) == 0)
        let server = try await ServerProcess.start(database: directory + "/limits.db", sqlite: true)
        defer { server.signal(SIGKILL) }
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &original)
        #expect(try Self.openFileLimits(of: server.process.processIdentifier) == (original.rlim_max, original.rlim_max))
        #expect(!server.log.contains("MAX_CONNECTIONS lowered"))

        // prlimit lowers the hard limit of the child alone (this process could not raise its own back).
        let capped = try await ServerProcess.start(
            database: directory + "/capped.db", sqlite: true, launcher: ["/usr/bin/prlimit", "--nofile=1024:1024"])
        defer { capped.signal(SIGKILL) }
        #expect(try Self.openFileLimits(of: capped.process.processIdentifier) == (1_024, 1_024))
        #expect(capped.log.contains("MAX_CONNECTIONS lowered to fit the open-file limit"))
        #expect(capped.log.contains("max_connections=\(1_024 - OpenFileLimit.reserved)"))
    }

    /// The soft and hard "Max open files" of a process, from /proc.
    private static func openFileLimits(of pid: Int32) throws -> (rlim_t, rlim_t) {
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let line = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        return (try #require(rlim_t(fields[3])), try #require(rlim_t(fields[4])))
    }
}
