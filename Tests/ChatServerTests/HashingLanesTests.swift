import ChatAuth
import ChatServer
import Dispatch
import Foundation
import NIOPosix
import Synchronization
import Testing

/// Sign-ins before sign-ups in the password-hashing queue, on the hasher itself (its threads held by the test,
/// so the order is decided before any derivation runs) and over HTTP.
@Suite("Password hashing lanes")
struct HashingLanesTests {
    static let cheap = ScryptParameters(logN: 10, r: 8, p: 1)

    /// A thread pool of `threads` threads, each held by a blocking job until `release`.
    final class HeldPool: Sendable {
        let pool: NIOThreadPool
        let threads: Int
        private let gate = DispatchSemaphore(value: 0)

        init(threads: Int) async throws {
            self.threads = threads
            self.pool = NIOThreadPool(numberOfThreads: threads)
            self.pool.start()
            let started = Atomic<Int>(0)
            for _ in 0..<threads {
                self.pool.submit { [gate] _ in
                    started.add(1, ordering: .relaxed)
                    gate.wait()
                }
            }
            #expect(await eventually(within: .seconds(5)) { started.load(ordering: .relaxed) == threads })
        }

        func release() {
            for _ in 0..<self.threads { self.gate.signal() }
        }

        func shutdown() async {
            try? await self.pool.shutdownGracefully()
        }
    }

    /// The order in which derivations were reported done.
    final class FinishOrder: Sendable {
        private let recorded = Mutex<[String]>([])

        func record(_ name: String) { self.recorded.withLock { $0.append(name) } }
        var names: [String] { self.recorded.withLock { $0 } }
    }

    /// Waits until the hasher reports `load` (as many waiting and running of each purpose).
    static func reach(
        _ hasher: PasswordHasher, waiting: [HashingPurpose: Int], running: [HashingPurpose: Int]
    ) async -> Bool {
        await eventually(within: .seconds(5)) {
            let load = hasher.load
            return HashingPurpose.allCases.allSatisfy {
                load.waiting[$0, default: 0] == waiting[$0, default: 0]
                    && load.running[$0, default: 0] == running[$0, default: 0]
            }
        }
    }

    @Test("a login that arrives behind five queued sign-ups is served before them (one hashing thread)")
    func signInFirst() async throws {
        let stored = try await PasswordHasher(parameters: Self.cheap).hash("returning user")
        let held = try await HeldPool(threads: 1)
        // Sign-ups cost 4 times the login's derivation, so each finishes well after the one before it is recorded.
        let hasher = PasswordHasher(
            parameters: ScryptParameters(logN: 12, r: 8, p: 1), queueLimit: 16, threadPool: held.pool, threads: 1)
        let finished = FinishOrder()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<6 {
                group.addTask {
                    _ = try await hasher.hash("stranger \(index)", for: .signUp)
                    finished.record("sign-up \(index)")
                }
                // One at a time, so the queue's order is the loop's.
                #expect(await Self.reach(hasher, waiting: [.signUp: index], running: [.signUp: 1]))
            }
            group.addTask {
                let matched = try await hasher.verify("returning user", against: stored)
                #expect(matched)
                finished.record("login")
            }
            #expect(await Self.reach(hasher, waiting: [.signIn: 1, .signUp: 5], running: [.signUp: 1]))
            held.release()
            try await group.waitForAll()
        }
        await held.shutdown()
        // The first sign-up already had the thread (it and the login may be recorded in either order); the login
        // goes next, ahead of the five that waited, which keep their order.
        let order = finished.names.filter { $0 != "sign-up 0" }
        #expect(order == ["login"] + (1..<6).map { "sign-up \($0)" }, "\(finished.names)")
    }

    @Test("sign-ups take at most half of PASSWORD_HASH_QUEUE: the next is busy at once, a login still gets in")
    func signUpShare() async throws {
        let stored = try await PasswordHasher(parameters: Self.cheap).hash("returning user")
        let held = try await HeldPool(threads: 1)
        let hasher = PasswordHasher(parameters: Self.cheap, queueLimit: 8, threadPool: held.pool, threads: 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<4 {
                group.addTask { _ = try await hasher.hash("stranger \(index)", for: .signUp) }
            }
            #expect(await Self.reach(hasher, waiting: [.signUp: 3], running: [.signUp: 1]))
            // Refused at once (waited for, it would wait for the held thread: cancelled then).
            let outcome = FinishOrder()
            let extra = Task {
                do {
                    _ = try await hasher.hash("one more", for: .signUp)
                    outcome.record("admitted")
                } catch {
                    outcome.record(error is PasswordHashingBusy ? "busy" : "\(error)")
                }
            }
            #expect(await eventually(within: .seconds(2)) { !outcome.names.isEmpty })
            extra.cancel()
            await extra.value
            #expect(outcome.names == ["busy"])
            group.addTask {
                let matched = try await hasher.verify("returning user", against: stored)
                #expect(matched)
            }
            #expect(await Self.reach(hasher, waiting: [.signIn: 1, .signUp: 3], running: [.signUp: 1]))
            held.release()
            try await group.waitForAll()
        }
        await held.shutdown()
    }

    @Test("with two hashing threads, sign-ups use one: a login never waits for a sign-up to finish")
    func signInThread() async throws {
        let stored = try await PasswordHasher(parameters: Self.cheap).hash("returning user")
        let held = try await HeldPool(threads: 2)
        let hasher = PasswordHasher(parameters: Self.cheap, queueLimit: 16, threadPool: held.pool, threads: 2)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<3 {
                group.addTask { _ = try await hasher.hash("stranger \(index)", for: .signUp) }
            }
            #expect(await Self.reach(hasher, waiting: [.signUp: 2], running: [.signUp: 1]))
            group.addTask {
                let matched = try await hasher.verify("returning user", against: stored)
                #expect(matched)
            }
            // Given the thread kept for sign-ins at once, not queued behind the two waiting sign-ups.
            #expect(await Self.reach(hasher, waiting: [.signUp: 2], running: [.signIn: 1, .signUp: 1]))
            held.release()
            try await group.waitForAll()
        }
        await held.shutdown()
    }
}
