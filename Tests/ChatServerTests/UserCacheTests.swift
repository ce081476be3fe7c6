import ChatStorage
import Foundation
import Synchronization
import Testing

@Suite("User cache: a request's user is read once for all the requests that miss it together")
struct UserCacheTests {
    static func record(_ id: UUID, tokenVersion: Int64) -> UserRecord {
        UserRecord(
            id: id, email: "cache@example.com", passwordHash: "h", role: .user, tokenVersion: tokenVersion,
            createdAt: .now())
    }

    /// A read of the user as an engine does it: counted, slow, stored unless a change came since it began.
    final class Reader: Sendable {
        let cache: UserCache
        let id: UUID
        let reads = Mutex(0)
        let tokenVersion = Mutex<Int64>(0)
        let failing = Mutex(false)

        init(cache: UserCache, id: UUID) {
            self.cache = cache
            self.id = id
        }

        func read(taking duration: Duration) async throws -> UserRecord? {
            let generation = self.cache.generation
            let version = self.tokenVersion.withLock { $0 }
            let fails = self.failing.withLock { $0 }
            self.reads.withLock { $0 += 1 }
            try await Task.sleep(for: duration)
            if fails { throw CancellationError() }
            let user = UserCacheTests.record(self.id, tokenVersion: version)
            self.cache.store(user, readAt: generation)
            return user
        }

        func current(taking duration: Duration = .milliseconds(300)) async throws -> UserRecord? {
            try await self.cache.user(id: self.id) { try await self.read(taking: duration) }
        }
    }

    @Test("an entry is served for UserCache.lifetime after its read, then runs out (changes by another process)")
    func entriesRunOut() {
        let cache = UserCache()
        let id = UUID()
        let storedAt = ContinuousClock.now
        cache.store(Self.record(id, tokenVersion: 3), now: storedAt)
        #expect(cache.user(id: id, now: storedAt)?.tokenVersion == 3)
        #expect(cache.user(id: id, now: storedAt + UserCache.lifetime - .milliseconds(1))?.tokenVersion == 3)
        #expect(cache.user(id: id, now: storedAt + UserCache.lifetime) == nil)
        #expect(UserCache.lifetime == .seconds(1))
    }

    @Test("twenty requests that miss together make one read; the next request is served from the cache")
    func missesShareOneRead() async throws {
        let reader = Reader(cache: UserCache(), id: UUID())
        try await withThrowingTaskGroup(of: UserRecord?.self) { group in
            for _ in 0..<20 { group.addTask { try await reader.current() } }
            for try await user in group { #expect(user?.id == reader.id) }
        }
        #expect(reader.reads.withLock { $0 } == 1)
        _ = try await reader.current()
        #expect(reader.reads.withLock { $0 } == 1)
    }

    @Test("a request arriving after a change does not wait for a read begun before it: it reads the change")
    func changeStartsAFreshRead() async throws {
        let reader = Reader(cache: UserCache(), id: UUID())
        async let first = reader.current()
        try await Task.sleep(for: .milliseconds(50))
        async let joined = reader.current()
        try await Task.sleep(for: .milliseconds(50))
        // Tokens revoked: the engine writes the row, then drops the entry.
        reader.tokenVersion.withLock { $0 = 1 }
        reader.cache.remove(reader.id)
        let after = try await reader.current(taking: .milliseconds(10))
        #expect(after?.tokenVersion == 1)
        #expect(try await first?.tokenVersion == 0)
        #expect(try await joined?.tokenVersion == 0)
        #expect(reader.reads.withLock { $0 } == 2)
        // The read begun before the change was not stored; the one after it was.
        #expect(reader.cache.user(id: reader.id)?.tokenVersion == 1)
    }

    @Test("when the shared read fails (its request was cancelled), each waiting request reads on its own")
    func failedReadSendsWaitersToRead() async throws {
        let reader = Reader(cache: UserCache(), id: UUID())
        reader.failing.withLock { $0 = true }
        let leader = Task { try await reader.current() }
        try await Task.sleep(for: .milliseconds(50))
        let waiters = (0..<3).map { _ in Task { try await reader.current() } }
        try await Task.sleep(for: .milliseconds(50))
        reader.failing.withLock { $0 = false }
        await #expect(throws: CancellationError.self) { try await leader.value }
        for waiter in waiters { #expect(try await waiter.value?.id == reader.id) }
        #expect(reader.reads.withLock { $0 } == 4)
    }
}
