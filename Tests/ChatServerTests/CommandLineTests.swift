import ChatComposition
import ChatServer
import ChatStorage
import ChatStorageSQLite
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Runs the real `chat-server` binary built next to the test bundle.
@Suite("chat-server command line")
struct CommandLineTests {
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("chat-server")
    }

    struct Outcome {
        let status: Int32
        let output: String
        let error: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:], directory: String) throws -> Outcome {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        for key in ["DATABASE_URL", "PORT", "HOST", "ADMIN_EMAILS", "JWT_SECRET_KEY", "LOG_LEVEL"] { env[key] = nil }
        env.merge(environment) { _, new in new }
        process.environment = env
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus,
            output: String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            error: String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        )
    }

    @Test(
        "migrate creates the schema, promote makes the first admin, bad config is one line",
        .enabled(if: !TestDatabase.isPostgres, "works on a SQLite file named on the command line"))
    func migrateAndPromote() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build chat-server first")
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }

        let migrated = try Self.run(
            ["migrate"], environment: ["DATABASE_URL": "sqlite:///./cli.db"], directory: directory)
        #expect(migrated.status == 0, "\(migrated.error)")
        #expect(migrated.output.contains("migrated schema from version 0 to \(Migrations.latestVersion)"))
        let again = try Self.run(["migrate", "--database", "cli.db"], directory: directory)
        #expect(again.output.contains("schema is up to date (version \(Migrations.latestVersion))"))

        // A user registered through the app, then promoted from the shell.
        let config = {
            var config = testConfig(directory: directory)
            config.databasePath = directory + "/cli.db"
            return config
        }()
        let backend = try await ChatServer.ChatBackend.open(config: config, logger: testLogger())
        _ = try await backend.database.createUser(email: "first@example.com", passwordHash: "x", role: .user)
        await backend.database.close()

        let promoted = try Self.run(["promote", "First@Example.com", "--database", "cli.db"], directory: directory)
        #expect(promoted.status == 0, "\(promoted.error)")
        #expect(promoted.output.contains("first@example.com is now admin"))
        let missing = try Self.run(["promote", "ghost@example.com", "--database", "cli.db"], directory: directory)
        #expect(missing.status == 1)
        #expect(missing.error.contains("no user with email"))
        let last = try Self.run(
            ["promote", "first@example.com", "--role", "user", "--database", "cli.db"], directory: directory)
        #expect(last.status == 1)
        #expect(last.error.contains("last admin"))

        let bad = try Self.run(["serve"], environment: ["PORT": "eighty"], directory: directory)
        #expect(bad.status == 2)
        #expect(bad.error == "chat-server: invalid PORT: expected a whole number from 1 to 65535, got \"eighty\"\n")
    }
}
