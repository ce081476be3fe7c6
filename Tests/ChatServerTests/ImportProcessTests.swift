import ChatServer
import ChatStorage
import ChatStorageSQLite
import Foundation
import HTTPTypes
import NIOCore
import Testing

/// Large imports against the real binary: the memory one costs and gives back, and a server killed in the
/// middle of one. Part of the serialized process suite (they measure the process, and take seconds).
extension ProcessTests {
    /// ChatGPT's `conversations.json` with one conversation: a root with `children` replies under it (the shape
    /// that cost 2.7 GB), each of about 200 bytes; the current node is the last one.
    static func chatGPTFanOut(children: Int) -> String {
        var nodes: [String] = []
        nodes.reserveCapacity(children + 1)
        let ids = (1...children).map { "node-\($0)" }
        let list = ids.map { #""\#($0)""# }.joined(separator: ",")
        nodes.append(#""root": {"id": "root", "message": null, "parent": null, "children": [\#(list)]}"#)
        for (index, id) in ids.enumerated() {
            let role = index % 2 == 0 ? "user" : "assistant"
            nodes.append(
                #""\#(id)": {"id": "\#(id)", "parent": "root", "children": [], "message": {"id": "\#(id)", "#
                    + #""author": {"role": "\#(role)"}, "create_time": \#(1_700_000_000 + index), "#
                    + #""content": {"content_type": "text", "parts": ["reply \#(index): lorem ipsum dolor sit amet, "#
                    + #"consectetur adipiscing elit"]}, "metadata": {"model_slug": "gpt-4o"}}}"#)
        }
        return #"[{"title": "fan", "create_time": 1700000000, "current_node": "\#(ids[children - 1])", "mapping": {"#
            + nodes.joined(separator: ",\n") + "}}]"
    }

    /// Resident and peak resident memory of a process, in MB (VmRSS and VmHWM of /proc/PID/status).
    static func memory(of pid: Int32) -> (rss: Double, peak: Double) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Double {
            status.split(separator: "\n").first { $0.hasPrefix(name) }
                .flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Double($0) } }.map { $0 / 1024 } ?? -1
        }
        return (field("VmRSS:"), field("VmHWM:"))
    }

    @Test("the largest import shape that cost 2.7 GB: peak ≤ 8× its file above idle, and memory is given back after")
    func importMemory() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let server = try await ServerProcess.start(database: directory + "/memory.db")
        defer { server.signal(SIGKILL) }
        let token = try #require(try await server.signUp("memory@example.com"))
        let pid = server.process.processIdentifier
        // A small import first: what any import loads once (code, caches, the pool's connections) is idle here.
        let small = try await server.send(
            .post, "/chats/import", token: token, json: Self.chatGPTFanOut(children: 10))
        #expect(small.status == 201, "\(small.body.prefix(300))")
        let idle = Self.memory(of: pid).rss
        let file = Self.chatGPTFanOut(children: 99_999)
        let fileMB = Double(file.utf8.count) / 1_048_576
        let response = try await server.send(
            .post, "/chats/import", token: token, json: file, timeout: .seconds(600))
        #expect(response.status == 201, "\(response.body.prefix(300))")
        #expect(response.body.contains(#""messages":99999"#))
        let peak = Self.memory(of: pid).peak
        var after = Self.memory(of: pid).rss
        let givenBack = await eventually(within: .seconds(5)) {
            after = Self.memory(of: pid).rss
            return after <= idle + 50
        }
        print("import memory: file \(fileMB) MB, idle \(idle) MB, peak \(peak) MB, after \(after) MB")
        #expect(peak - idle <= 8 * fileMB, "peak \(peak) MB, idle \(idle) MB, file \(fileMB) MB")
        #expect(givenBack, "RSS \(idle) MB → \(after) MB after the import")
    }

    @Test(
        "a server killed in the middle of an import leaves none of it: nothing shows, and what it staged is removed at the next start"
    )
    func killedMidImport() async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/killed.db"
        let server = try await ServerProcess.start(database: path)
        defer { server.signal(SIGKILL) }
        let token = try #require(try await server.signUp("killed@example.com"))
        let running = try await RawConnection.open(
            port: server.port, "POST", "/chats/import", token: token,
            json: ImportLoadTests.file(chats: 400, messages: 100))
        defer { Task { await running.close() } }
        // Killed while it writes: SQLite's staged rows are committed and seen from another connection; on
        // PostgreSQL the server's transaction has written messages.
        let writing = await eventually(within: .seconds(120)) { Self.importIsWriting(in: path) }
        try #require(writing, "the import was never seen writing")
        server.signal(SIGKILL)
        _ = await server.exitStatus(within: .seconds(10))
        if !TestDatabase.isPostgres {
            #expect(try ImportLoadTests.count("chats", in: path) > 0, "staged rows are in the file before the restart")
        }
        let restarted = try await ServerProcess.start(database: path)
        defer { restarted.signal(SIGKILL) }
        #expect(try ImportLoadTests.count("chats", in: path) == 0)
        #expect(try ImportLoadTests.count("messages", in: path) == 0)
        let login = try await restarted.send(
            .post, "/auth/login", json: #"{"email": "killed@example.com", "password": "correct horse battery"}"#)
        #expect(login.status == 200)
        if !TestDatabase.isPostgres {
            #expect(restarted.log.contains("chats of imports interrupted by the last shutdown were removed"))
        }
    }

    /// Whether an import is being written into the database at `path`.
    static func importIsWriting(in path: String) -> Bool {
        if TestDatabase.isPostgres {
            let open = try? PostgresEngineTests.psql(
                """
                SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND state IN ('active', 'idle in transaction') AND query LIKE '%INSERT INTO messages%'
                """, database: path)
            return (open.flatMap { Int($0) } ?? 0) > 0
        }
        let staged = try? SQLiteConnection(path: path).queryOne(
            "SELECT count(*) FROM chats WHERE import_id IS NOT NULL"
        ) { $0.int(0) }
        return (staged ?? 0) > 0
    }
}
