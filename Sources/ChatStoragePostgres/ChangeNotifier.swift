import ChatStorage
import Foundation
import Logging
import Synchronization

/// Tells every replica which chats' messages this one changed, after the changes committed.
///
/// - A write calls ``changed(_:)`` once its transaction committed. The chat is woken here at once (the
///   store's own event stream) and queued for the others: one task sends whatever piled up during its previous
///   send, as one `pg_notify` per ``idsPerPayload`` chats in a transaction of its own, with `synchronous_commit`
///   off (a lost notification costs a wake-up, never data).
/// - Outside the data transactions: PostgreSQL serialises the commits of every transaction that notifies
///   (a lock held until the commit record is flushed), so a NOTIFY per write capped turns per second and
///   delayed every replica's wake-ups under load.
/// - Spaced: a send starts at least ``spacing`` after the one before it started, so under a steady flow of
///   changes a replica sends at most 50 notifications a second, each carrying every chat changed meanwhile
///   (each notification wakes every replica's listener). A change after a quiet spell goes out at once; one
///   made while sends follow each other waits at most ``spacing`` more.
/// - Bounded: past ``pendingLimit`` distinct chats waiting to be sent, they collapse into one "resynchronise"
///   that wakes every waiter of every replica.
/// - The listener skips payloads sent by its own replica (their chats were woken here already).
final class ChangeNotifier: Sendable {
    /// Chats per payload: 36 characters and a comma each, under PostgreSQL's 8,000-byte payload limit.
    static let idsPerPayload = 200
    static let pendingLimit = 100_000
    /// The least time between the starts of two sends.
    static let spacing = Duration.milliseconds(20)

    private struct Pending {
        var chats = Set<UUID>()
        var overflowed = false
        var isEmpty: Bool { self.chats.isEmpty && !self.overflowed }
    }

    private let replicaID: UUID
    private let pending = Mutex(Pending())
    private let doorbell: AsyncStream<Void>.Continuation
    private let rings: AsyncStream<Void>
    private let local: AsyncStream<StoreEvent>.Continuation

    init(replicaID: UUID, local: AsyncStream<StoreEvent>.Continuation) {
        self.replicaID = replicaID
        self.local = local
        (self.rings, self.doorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The chats' messages changed in a committed transaction.
    func changed(_ chats: some Sequence<UUID>) {
        let chats = Array(chats)
        guard !chats.isEmpty else { return }
        for chat in chats { self.local.yield(.messagesChanged(chatID: chat)) }
        self.pending.withLock { pending in
            guard !pending.overflowed else { return }
            pending.chats.formUnion(chats)
            if pending.chats.count > Self.pendingLimit { pending = Pending(overflowed: true) }
        }
        self.doorbell.yield(())
    }

    /// Sends what is pending until ``finish()``; then once more, and returns. Sends start `spacing` apart at
    /// least (the last one, after ``finish()``, at once). A failed send is retried after `retryDelay` (the chats
    /// stay pending), except after ``finish()``.
    func run(
        retryDelay: Duration = .milliseconds(200), spacing: Duration = ChangeNotifier.spacing, logger: Logger,
        send: ([String]) async throws -> Void
    ) async {
        var finished = false
        var iterator = self.rings.makeAsyncIterator()
        var lastStart: ContinuousClock.Instant?
        while true {
            if !finished, await iterator.next() == nil { finished = true }
            if !finished, let lastStart, lastStart + spacing > .now {
                try? await Task.sleep(until: lastStart + spacing, clock: .continuous)
            }
            let batch = self.pending.withLock { pending in
                defer { pending = Pending() }
                return pending
            }
            if !batch.isEmpty {
                lastStart = .now
                do {
                    try await send(self.payloads(batch))
                } catch {
                    logger.error(
                        "could not notify the other replicas", metadata: ["error": "\(PostgresStore.reason(error))"])
                    if !finished {
                        self.requeue(batch)
                        try? await Task.sleep(for: retryDelay)
                        self.doorbell.yield(())
                    }
                }
            }
            if finished { return }
        }
    }

    /// No more changes: ``run(retryDelay:logger:send:)`` sends the last ones and returns.
    func finish() {
        self.doorbell.finish()
    }

    private func requeue(_ batch: Pending) {
        self.pending.withLock { pending in
            if batch.overflowed || pending.overflowed || pending.chats.count + batch.chats.count > Self.pendingLimit {
                pending = Pending(overflowed: true)
            } else {
                pending.chats.formUnion(batch.chats)
            }
        }
    }

    private func payloads(_ batch: Pending) -> [String] {
        let sender = self.replicaID.lowercasedString
        if batch.overflowed { return ["r" + sender] }
        let ids = batch.chats.map(\.lowercasedString)
        return stride(from: 0, to: ids.count, by: Self.idsPerPayload).map { start in
            "m" + sender + ":" + ids[start..<min(start + Self.idsPerPayload, ids.count)].joined(separator: ",")
        }
    }
}
