import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Testing

@testable import ChatStoragePostgres

/// The PostgreSQL engine's answers to a server or network that fails between the pool and the server, each fault
/// put on the wire by ``PostgresFaultProxy``.
@Suite("PostgreSQL faults between the pool and the server")
struct PostgresFaultTests {
    /// A fault struck in place of a statement, and whether the store must call it the database being unavailable.
    struct Probe: Sendable, CustomTestStringConvertible {
        let fault: PostgresFaultProxy.Fault
        let unavailable: Bool

        var testDescription: String { "\(self.fault) → \(self.unavailable ? "unavailable" : "its own error")" }
    }

    static let probes: [Probe] = [
        // The server ends the session: shutting down, crashed, starting up; a connection failure; too many
        // connections.
        Probe(fault: .fatal("57P01"), unavailable: true),
        Probe(fault: .fatal("57P02"), unavailable: true),
        Probe(fault: .fatal("57P03"), unavailable: true),
        Probe(fault: .fatal("08006"), unavailable: true),
        Probe(fault: .error("08P01"), unavailable: true),
        Probe(fault: .fatal("53300"), unavailable: true),
        // The connection ends with no answer (the driver's serverClosedConnection), or is reset (connectionError).
        Probe(fault: .close, unavailable: true),
        Probe(fault: .reset, unavailable: true),
        // Errors of the statement, not of the server's reach: a cancelled query (class 57 too), a missing table.
        Probe(fault: .error("57014"), unavailable: false),
        Probe(fault: .error("42P01"), unavailable: false),
    ]

    /// The database all these tests share (each user its own).
    static let path = "/postgres-faults"

    @Test(
        "a store call struck by a fault of the server's reach throws unavailable; by another server error, that error; the store goes on",
        .enabled(if: TestDatabase.isPostgres), .timeLimit(.minutes(1)), arguments: Self.probes)
    func storeCall(_ probe: Probe) async throws {
        let proxy = try await PostgresFaultProxy.start()
        let location = try #require(TestDatabase.postgres(standingInFor: Self.path))
        let store = try await PostgresStore.open(
            proxy.location(for: location), maxConnections: 2, connectionWait: .seconds(30), logger: testLogger())
        do {
            let user = try await store.createUser(email: "\(UUID())@example.com", passwordHash: "h", role: .user)
            _ = try await store.createChat(userID: user.id, title: "kept")
            proxy.arm(probe.fault, onStatementContaining: ChatPageStatement.name)
            do {
                let page = try await store.chats(ownerID: user.id, archived: false, limit: 20, offset: 0)
                Issue.record("answered \(page) in spite of \(probe.fault)")
            } catch {
                if probe.unavailable {
                    #expect(error as? StorageError == .unavailable, "\(String(reflecting: error))")
                } else if case .error(let state) = probe.fault {
                    #expect((error as? PSQLError)?.sqlState == state, "\(String(reflecting: error))")
                }
            }
            #expect(proxy.fired == 1)
            // The pool replaces a connection that was ended; a call is answered again.
            let page = try await Self.answered {
                try await store.chats(ownerID: user.id, archived: false, limit: 20, offset: 0)
            }
            #expect(page.chats.map(\.title) == ["kept"])
        } catch {
            Issue.record(error)
        }
        await store.close()
        try await proxy.stop()
    }

    /// `call`'s answer, once it gives one: a connection ended by a fault may still be handed to a call or two
    /// before the driver has read its end (they fail as unavailable, and are tried again).
    static func answered<T>(_ call: () async throws -> T) async throws -> T {
        for _ in 1..<5 {
            do { return try await call() } catch StorageError.unavailable { continue }
        }
        return try await call()
    }

    @Test(
        "a lease from a pool that has shut down (ConnectionPoolError) is unavailable too",
        .enabled(if: TestDatabase.isPostgres))
    func poolShutDown() async throws {
        let location = try #require(TestDatabase.postgres(standingInFor: Self.path))
        let store = try await PostgresStore.open(location, maxConnections: 1, logger: testLogger())
        await store.close()
        // What only the store's last statements may still try (close() itself stops them before the pool).
        await #expect(throws: StorageError.unavailable) {
            try await store.leased(cancelledWithCaller: false, whileClosing: true) { _ in () }
        }
    }

    @Test(
        "over HTTP, GET /chats struck by a fault of the server's reach answers 503 with the database's detail and Retry-After; by another server error, 500",
        .enabled(if: TestDatabase.isPostgres), .timeLimit(.minutes(1)),
        arguments: [Self.probes[0], Self.probes[6], Self.probes[7], Self.probes[8]])
    func overHTTP(_ probe: Probe) async throws {
        let proxy = try await PostgresFaultProxy.start()
        do {
            try await withApp(.live, configure: { $0.postgres = $0.postgres.map(proxy.location(for:)) }) { client, _ in
                let (_, token) = try await client.signUp("\(UUID())@example.com")
                _ = try await client.createChat(token: token, title: "kept")
                proxy.arm(probe.fault, onStatementContaining: ChatPageStatement.name)
                // A server error other than the database's reach is a 500, which the API does not document.
                let struck = try await APIContract.$undocumentedOnPurpose.withValue([500]) {
                    try await client.send(.get, "/chats", token: token)
                }
                let detail = try JSONBody(struck).string("detail")
                if probe.unavailable {
                    #expect(struck.status == .serviceUnavailable, "\(struck.text)")
                    #expect(struck.headers[.retryAfter] == "5")
                    #expect(detail == "The database is not answering; try again in a few seconds")
                } else {
                    #expect(struck.status == .internalServerError, "\(struck.text)")
                    #expect(detail == "Internal server error")
                }
                #expect(proxy.fired == 1)
                var listed = try await client.send(.get, "/chats", token: token)
                // As in storeCall: a request or two may still be handed the connection that was ended.
                for _ in 1..<5 where listed.status == .serviceUnavailable {
                    listed = try await client.send(.get, "/chats", token: token)
                }
                #expect(listed.status == .ok && listed.text.contains("\"kept\""), "\(listed.text)")
            }
        } catch {
            Issue.record(error)
        }
        try await proxy.stop()
    }

    @Test(
        "a pooled connection that the server closed, leased before the pool learns of it, is given back unused: the statement answers on another",
        .enabled(if: TestDatabase.isPostgres), .timeLimit(.minutes(1)))
    func closedWhenLeased() async throws {
        let proxy = try await PostgresFaultProxy.start()
        let logs = LogCapture()
        let location = try #require(TestDatabase.postgres(standingInFor: Self.path))
        // One connection for statements, besides the listener's.
        let store = try await PostgresStore.open(
            proxy.location(for: location), maxConnections: 1, connectionWait: .seconds(30),
            logger: logs.logger(level: .debug))
        do {
            let user = try await store.createUser(email: "\(UUID())@example.com", passwordHash: "h", role: .user)
            _ = try await store.createChat(userID: user.id, title: "kept")
            // Once the listener listens, it holds its connection: every statement runs on the other one.
            for await event in store.events where event == .resynchronized { break }
            let opened = proxy.opened
            // Leased here, so that no other statement holds it when it closes; given back to the pool closed.
            let hold = try await store.client.withConnection { connection in
                try await Self.holdWhenClosed(connection, proxy: proxy)
            }
            defer { hold.release() }
            // The connection is closed and the pool not told: the statement can only lease that one.
            let answer = Task {
                try await LogCapture.$tag.withValue("probe") {
                    try await store.chats(ownerID: user.id, archived: false, limit: 20, offset: 0)
                }
            }
            let leasedClosed = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await logs.first { $0.tag == "probe" && $0.message.contains("closed when leased") } != nil
                }
                group.addTask {
                    _ = await answer.result
                    return false
                }
                let first = await group.next() ?? false
                // The pool learns of the close; the statement's next lease gets a new connection.
                hold.release()
                group.cancelAll()
                return first
            }
            #expect(leasedClosed, "the statement never leased the closed connection")
            #expect(try await answer.value.chats.map(\.title) == ["kept"])
            #expect(proxy.opened > opened, "no new connection was opened for it")
        } catch {
            Issue.record(error)
        }
        await store.close()
        try await proxy.stop()
    }

    /// Leaves a statement unanswered on `connection`, has the proxy close the connection (as a server that ends
    /// it), and returns once the connection's event loop is held inside the close: the connection says it is
    /// closed, the pool has not been told.
    static func holdWhenClosed(_ connection: PostgresConnection, proxy: PostgresFaultProxy) async throws
        -> EventLoopHold
    {
        let pid = try await Self.backendPID(of: connection)
        proxy.arm(.swallow, onStatementContaining: "left unanswered")
        let pending: EventLoopFuture<PostgresQueryResult> = connection.query(
            "SELECT 'left unanswered'", logger: testLogger())
        let hold = EventLoopHold(whenFails: pending, on: connection)
        do {
            for await _ in proxy.strikes { break }
            try await proxy.close(backendPID: pid)
            #expect(await hold.held() == true, "the connection was not closed when its statement failed")
            return hold
        } catch {
            hold.release()
            throw error
        }
    }

    static func backendPID(of connection: PostgresConnection) async throws -> Int32 {
        let rows = try await connection.query("SELECT pg_backend_pid()", logger: testLogger())
        for try await row in rows { return try row.decode(Int32.self) }
        throw StorageError.corruptRow("pg_backend_pid")
    }

    @Test(
        "a turn whose start finds the database cut off answers 503 with the database's detail, not 500, and saves nothing; once it is back, the next turn runs",
        .enabled(if: TestDatabase.isPostgres), .timeLimit(.minutes(2)))
    func turnStartCutOff() async throws {
        let proxy = try await PostgresFaultProxy.start()
        let logs = LogCapture()
        do {
            try await withTurnApp(
                logger: logs.logger(level: .warning),
                configure: { $0.postgres = $0.postgres.map(proxy.location(for:)) }
            ) { client, _, _ in
                let (_, token) = try await client.signUp("\(UUID())@example.com")
                let chatID = try await client.createChat(token: token, title: "kept")
                // The turn's start is one statement (its context read and its two messages saved): cut off there.
                proxy.arm(.cutOff, onStatementContaining: BeginTurnStatement.name)
                let refused = try await client.send(
                    .post, "/chat", token: token, json: #"{"chat_id": "\#(chatID)", "message": "during"}"#)
                #expect(refused.status == .serviceUnavailable, "\(refused.text)")
                #expect(refused.headers[.retryAfter] == "5")
                #expect(
                    try JSONBody(refused).string("detail")
                        == "The database is not answering; try again in a few seconds")
                #expect(proxy.fired == 1)
                #expect(
                    logs.entries.contains {
                        $0.level == .warning && $0.message == "could not start a turn: the database did not answer"
                    })
                proxy.restore()
                let messages = "/chats/\(chatID)/messages"
                #expect(try await Self.served(client, messages, token: token).text == "[]")
                let after = try await client.send(
                    .post, "/chat", token: token, json: #"{"chat_id": "\#(chatID)", "message": "after"}"#)
                #expect(after.status == .ok, "\(after.text)")
                let saved = try JSONBody(try await client.send(.get, messages, token: token)).array
                #expect(saved.compactMap { ($0 as? [String: Any])?["content"] as? String }.first == "after")
                #expect(saved.count == 2)
            }
        } catch {
            Issue.record(error)
        }
        try await proxy.stop()
    }

    /// `path` once it is answered 200 again (the pool reconnects with a backoff of its own), within 30 s.
    static func served(_ client: any TestClientProtocol, _ path: String, token: String) async throws -> TestResponse {
        let deadline = ContinuousClock.now + .seconds(30)
        var response = try await client.send(.get, path, token: token)
        while response.status != .ok && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            response = try await client.send(.get, path, token: token)
        }
        #expect(response.status == .ok, "\(response.text)")
        return response
    }
}
