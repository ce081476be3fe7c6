import ChatStorage
import Foundation
import Synchronization
import Testing

@testable import ChatStoragePostgres

/// ``ChangeNotifier`` with a recording `send` in place of PostgreSQL: what it sends, when, and what the other
/// replicas make of it.
@Suite("Change notifications between replicas")
struct ChangeNotifierTests {
    /// The payloads of each send, in order.
    final class Sent: Sendable {
        let batches = Mutex<[[String]]>([])
        var all: [[String]] { self.batches.withLock { $0 } }
    }

    static func chats(_ count: Int) -> [UUID] { (0..<count).map { _ in UUID() } }

    /// Every chat id the payloads carry for a replica other than the sender.
    static func received(_ payloads: [String]) -> [UUID] {
        payloads.flatMap { StoreEvent.events(in: $0, notSentBy: UUID()) }.compactMap { event in
            if case .messagesChanged(let chat) = event { return chat }
            return nil
        }
    }

    @Test("changes made while a send is in flight go out together in the next one, 200 chats per payload")
    func batching() async throws {
        let replica = UUID()
        let (local, localSink) = AsyncStream.makeStream(of: StoreEvent.self)
        let notifier = ChangeNotifier(replicaID: replica, local: localSink)
        let sent = Sent()
        let (gate, opener) = AsyncStream.makeStream(of: Void.self)
        let running = Task {
            var gates = gate.makeAsyncIterator()
            await notifier.run(logger: testLogger()) { payloads in
                let first = sent.batches.withLock { batches in
                    batches.append(payloads)
                    return batches.count == 1
                }
                if first { _ = await gates.next() }
            }
        }
        let firstChat = UUID()
        notifier.changed([firstChat])
        try #require(await eventually(within: .seconds(10)) { !sent.all.isEmpty })
        // The first send is held open; these pile up meanwhile.
        let later = Self.chats(450)
        for chat in later { notifier.changed([chat]) }
        notifier.changed(later.prefix(10))  // again: still once each
        opener.yield(())
        try #require(await eventually(within: .seconds(10)) { sent.all.count >= 2 })
        notifier.finish()
        await running.value

        let batches = sent.all
        #expect(batches.count == 2)
        #expect(Self.received(batches[0]) == [firstChat])
        #expect(batches[1].count == 3, "450 chats: payloads of 200, 200 and 50")
        #expect(batches[1].allSatisfy { $0.hasPrefix("m" + replica.lowercasedString + ":") && $0.utf8.count < 8000 })
        #expect(
            Self.received(batches[1]).sorted(by: { $0.uuidString < $1.uuidString })
                == later.sorted(by: { $0.uuidString < $1.uuidString }))
        // The sender's own replica reads nothing from its payloads: its chats were woken when they changed.
        #expect(batches.joined().allSatisfy { StoreEvent.events(in: $0, notSentBy: replica).isEmpty })
        localSink.finish()
        var woken: [UUID] = []
        for await event in local { if case .messagesChanged(let chat) = event { woken.append(chat) } }
        #expect(woken.count == 1 + 450 + 10)
    }

    @Test("a change after a quiet spell is sent at once; the next send starts a spacing after it, with all since")
    func spacing() async throws {
        let notifier = ChangeNotifier(replicaID: UUID(), local: AsyncStream.makeStream(of: StoreEvent.self).1)
        let sends = Mutex<[(at: ContinuousClock.Instant, chats: [UUID])]>([])
        let spacing = Duration.milliseconds(300)
        let running = Task {
            await notifier.run(spacing: spacing, logger: testLogger()) { payloads in
                sends.withLock { $0.append((.now, Self.received(payloads))) }
            }
        }
        let first = UUID()
        let changedAt = ContinuousClock.now
        notifier.changed([first])
        try #require(await eventually(within: .seconds(10)) { !sends.withLock { $0.isEmpty } })
        let firstSend = try #require(sends.withLock { $0.first })
        #expect(firstSend.chats == [first])
        #expect(firstSend.at - changedAt < spacing / 2, "nothing was sent before: no wait")
        // A steady flow of changes right after: they wait for the spacing, then go out together.
        let later = Self.chats(20)
        for chat in later {
            notifier.changed([chat])
            try await Task.sleep(for: .milliseconds(5))
        }
        try #require(
            await eventually(within: .seconds(10)) {
                sends.withLock { $0.count >= 2 && Set($0.dropFirst().flatMap(\.chats)) == Set(later) }
            })
        notifier.finish()
        await running.value
        let all = sends.withLock { $0 }
        for (earlier, next) in zip(all, all.dropFirst()) {
            #expect(next.at - earlier.at >= spacing, "sends start a spacing apart")
        }
        #expect(all.count <= 3, "20 changes in ~100 ms: one send for most of them, not one each")
    }

    @Test("a failed send is retried with the same chats; what is pending at finish is sent before run returns")
    func retryAndFinish() async throws {
        let notifier = ChangeNotifier(replicaID: UUID(), local: AsyncStream.makeStream(of: StoreEvent.self).1)
        let sent = Sent()
        struct Refused: Error {}
        let running = Task {
            await notifier.run(retryDelay: .milliseconds(10), logger: testLogger()) { payloads in
                let count = sent.batches.withLock { batches in
                    batches.append(payloads)
                    return batches.count
                }
                if count == 1 { throw Refused() }
            }
        }
        let chats = Self.chats(3)
        notifier.changed(chats)
        try #require(await eventually(within: .seconds(10)) { sent.all.count >= 2 })
        #expect(Set(Self.received(sent.all[1])) == Set(chats), "the refused chats are sent again")
        let last = UUID()
        notifier.changed([last])
        notifier.finish()
        await running.value
        #expect(Self.received(sent.all.last ?? []) == [last])
    }

    @Test("past the pending limit the chats collapse into one resynchronise, which wakes everything elsewhere")
    func overflow() async throws {
        let replica = UUID()
        let notifier = ChangeNotifier(replicaID: replica, local: AsyncStream.makeStream(of: StoreEvent.self).1)
        let sent = Sent()
        notifier.changed(Self.chats(ChangeNotifier.pendingLimit + 1))
        notifier.changed(Self.chats(5))
        notifier.finish()
        await notifier.run(logger: testLogger()) { payloads in sent.batches.withLock { $0.append(payloads) } }
        #expect(sent.all == [["r" + replica.lowercasedString]])
        #expect(StoreEvent.events(in: "r" + replica.lowercasedString, notSentBy: UUID()) == [.resynchronized])
        #expect(StoreEvent.events(in: "r" + replica.lowercasedString, notSentBy: replica).isEmpty)
        // Unknown or malformed payloads are ignored, not guessed at.
        for bad in ["", "x", "m", "m" + replica.lowercasedString, "mnot-a-uuid:" + UUID().uuidString, "p-5", "unope"] {
            #expect(StoreEvent.events(in: bad, notSentBy: UUID()).isEmpty, "\(bad)")
        }
    }
}
