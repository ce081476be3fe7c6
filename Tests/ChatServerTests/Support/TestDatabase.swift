import ChatServer
import ChatStorage
import ChatStoragePostgres
import ChatStorageSQLite
import Foundation
import Logging
import Synchronization

/// The engine the suite runs against: SQLite files by default; PostgreSQL when `TEST_DATABASE_URL` is set
/// (by `Tests/scripts/with-postgres`, which `make test` runs the suite under a second time).
enum TestDatabase {
    /// The throwaway server's administrative database, or nil when the suite runs on SQLite.
    static let postgres: PostgresLocation? = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"].flatMap {
        try? PostgresLocation(url: $0)
    }

    static var isPostgres: Bool { postgres != nil }

    /// The PostgreSQL database standing in for the SQLite file at `path`: one per path (a test that restarts
    /// the server on the same file gets the same data back), created on first use.
    static func postgres(standingInFor path: String) -> PostgresLocation? {
        guard var location = postgres else { return nil }
        // FNV-1a of the path: a stable, valid database name.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in path.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        location.database = "t_" + String(hash, radix: 16)
        Self.create(location.database)
        return location
    }

    /// The `DATABASE_URL` a spawned `chat-server` gets for the file at `path` (the path itself on SQLite).
    static func url(standingInFor path: String) -> String {
        guard let location = postgres(standingInFor: path),
            let admin = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"]
        else { return path }
        return admin.replacingOccurrences(of: "@/postgres?", with: "@/\(location.database)?")
    }

    /// The store a test reads (or seeds) directly: the SQLite file at `path`, or its PostgreSQL stand-in.
    static func openStore(standingInFor path: String) async throws -> any ChatStore {
        if let location = Self.postgres(standingInFor: path) {
            return try await PostgresStore.open(location, maxConnections: 4, logger: Logger(label: "test-store"))
        }
        return try await DatabaseActor.open(path: path)
    }

    private static let created = Mutex<Set<String>>([])

    /// `CREATE DATABASE` through psql (synchronous, so the sync `testConfig` can use it); an existing one is kept.
    private static func create(_ name: String) {
        guard let admin = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"],
            created.withLock({ $0.insert(name).inserted })
        else { return }
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        psql.arguments = [admin, "-q", "-c", "CREATE DATABASE \(name)"]
        psql.standardOutput = FileHandle.nullDevice
        psql.standardError = FileHandle.nullDevice
        try? psql.run()
        psql.waitUntilExit()
    }
}
