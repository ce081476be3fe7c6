import NIOCore
import Testing

@testable import ChatServer

/// ``EventMailbox``: events that arrive together are taken as one buffer, in order; the limit refuses a
/// producer whose consumer stopped taking; the end (clean or an error) comes after the events before it; a
/// cancelled consumer ends the mailbox.
@Suite("EventMailbox")
struct EventMailboxTests {
    @Test("events appended before a take leave together, in order, and the end follows them")
    func coalescesInOrder() async throws {
        let mailbox = EventMailbox(limit: 8)
        for index in 0..<3 { #expect(mailbox.append(ByteBuffer(string: "e\(index);"))) }
        mailbox.finish()
        #expect(!mailbox.append(ByteBuffer(string: "late")))
        let first = try await mailbox.take()
        #expect(first.map { String(buffer: $0) } == "e0;e1;e2;")
        #expect(try await mailbox.take() == nil)
    }

    @Test("a waiting consumer wakes for the next event; the producer's error comes after what it appended")
    func wakesAndEndsWithError() async throws {
        struct Boom: Error {}
        let mailbox = EventMailbox(limit: 8)
        let consumer = Task { try await mailbox.take().map { String(buffer: $0) } }
        // The consumer may or may not be parked yet: either way it gets this event.
        #expect(mailbox.append(ByteBuffer(string: "one")))
        #expect(try await consumer.value == "one")
        #expect(mailbox.append(ByteBuffer(string: "two")))
        mailbox.finish(throwing: Boom())
        #expect(try await mailbox.take().map { String(buffer: $0) } == "two")
        await #expect(throws: Boom.self) { try await mailbox.take() }
    }

    @Test("past the limit of untaken events the producer is refused until the consumer takes")
    func boundsUntakenEvents() async throws {
        let mailbox = EventMailbox(limit: 2)
        #expect(mailbox.append(ByteBuffer(string: "a")))
        #expect(mailbox.append(ByteBuffer(string: "b")))
        #expect(!mailbox.append(ByteBuffer(string: "c")))
        #expect(try await mailbox.take().map { String(buffer: $0) } == "ab")
        #expect(mailbox.append(ByteBuffer(string: "d")))
    }

    @Test("cancelling a waiting consumer ends the mailbox with CancellationError")
    func cancelledConsumerEndsIt() async throws {
        let mailbox = EventMailbox(limit: 2)
        let consumer = Task { try await mailbox.take() }
        consumer.cancel()
        await #expect(throws: CancellationError.self) { try await consumer.value }
        #expect(!mailbox.append(ByteBuffer(string: "after")))
    }
}
