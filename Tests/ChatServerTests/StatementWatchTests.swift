import ChatStorage
import Foundation
import NIOPosix
import PostgresNIO
import Synchronization
import Testing

@testable import ChatStoragePostgres

@Suite("PostgreSQL statement watch: bounded waits for a connection and on a closed one")
struct StatementWatchTests {
    @Test("a wait for a connection is given up once, past the limit and not before")
    func waitPastLimit() {
        let watch = StatementWatch(limit: .seconds(1))
        let givenUp = Mutex(0)
        let started = ContinuousClock.now
        let id = watch.begin { givenUp.withLock { $0 += 1 } }
        #expect(watch.tick(at: started + .milliseconds(500)) == 0)
        #expect(givenUp.withLock { $0 } == 0)
        #expect(watch.tick(at: started + .milliseconds(1_100)) == 1)
        #expect(watch.tick(at: started + .seconds(5)) == 0)
        #expect(givenUp.withLock { $0 } == 1)
        watch.end(id)
        #expect(watch.tick(at: started + .seconds(10)) == 0)
    }

    @Test(
        "a statement on a connection that closes under it is given up after the grace; a closed connection is not used; a late lease is refused",
        .enabled(if: TestDatabase.isPostgres))
    func closedConnection() async throws {
        let location = try #require(TestDatabase.postgres(standingInFor: "/statement-watch"))
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.any(), configuration: try location.connectionConfiguration(),
            id: 1, logger: testLogger()
        ).get()
        let watch = StatementWatch(limit: .seconds(1), closedGrace: .seconds(1))
        let givenUp = Mutex<[String]>([])
        let running = watch.begin { givenUp.withLock { $0.append("running") } }
        #expect(watch.leased(running, on: connection) == .run)
        // Running on an open connection: the wait limit no longer applies.
        #expect(watch.tick(at: .now + .seconds(10)) == 0)

        try await connection.close()
        let closed = ContinuousClock.now
        #expect(watch.tick(at: closed) == 0, "first seen closed")
        #expect(watch.tick(at: closed + .milliseconds(900)) == 0, "within the grace")
        #expect(watch.tick(at: closed + .milliseconds(1_000)) == 1)
        #expect(givenUp.withLock { $0 } == ["running"])

        // Leased already closed: not used, and the statement goes on waiting for another connection.
        let waiting = watch.begin { givenUp.withLock { $0.append("waiting") } }
        #expect(watch.leased(waiting, on: connection) == .closed)
        #expect(watch.tick(at: .now + .seconds(2)) == 1)
        #expect(givenUp.withLock { $0 } == ["running", "waiting"])
        // A lease that comes after the statement was given up on must not send it.
        #expect(watch.leased(waiting, on: connection) == .expired)
        watch.end(running)
        watch.end(waiting)
    }
}
