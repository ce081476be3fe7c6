import ChatStorage
import ChatStoragePostgres
import Foundation
import Logging
import Testing

/// The contract of the OpenAI-compatible door's reservations on every engine: a call is admitted while used
/// plus held stays below each limit, its hold counts for the user's turns and calls and for its key until it
/// is settled, admissions of one user or key are taken one at a time (across replicas on PostgreSQL), and a
/// hold ends with the process that made it.
@Suite("Storage contract: call holds")
struct StorageContractCallHoldsTests {
    static func reservation(
        _ user: UUID, _ tokens: Int, daily: Int64? = nil, monthly: Int64? = nil, key: UUID? = nil,
        budget: Int64? = nil
    ) -> CallReservation {
        CallReservation(
            userID: user, apiKey: key, tokens: tokens, today: contractDay, dailyLimit: daily, monthlyLimit: monthly,
            keyBudget: budget)
    }

    static func charge(_ user: UUID, _ tokens: Int, on day: UsageDay = contractDay) -> UsageCharge {
        UsageCharge(userID: user, day: day, promptTokens: tokens, completionTokens: 0, estimated: false)
    }

    /// Expects `reservation` to be refused with `expected`.
    static func expectRefused(
        _ store: any ChatStore, _ reservation: CallReservation, _ expected: StorageError,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            _ = try await store.reserveCall(reservation)
            Issue.record("admitted, expected \(expected)", sourceLocation: sourceLocation)
        } catch let error as StorageError {
            #expect("\(error)" == "\(expected)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test(
        "a user's holds count against their quotas, for calls and turns alike, until settled",
        arguments: StorageEngine.available)
    func userHolds(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat("holds@example.com")
            let first = try await store.reserveCall(Self.reservation(user.id, 600, daily: 1_000))
            let second = try await store.reserveCall(Self.reservation(user.id, 500, daily: 1_000))
            #expect(try await store.quotaStanding(userID: user.id, today: contractDay).reserved == 1_100)
            await Self.expectRefused(store, Self.reservation(user.id, 1, daily: 1_000), .quotaExceeded(.daily))
            await Self.expectRefused(store, Self.reservation(user.id, 1, monthly: 1_100), .quotaExceeded(.monthly))
            let turn = TokenReservation(
                userID: user.id, tokens: 1, today: contractDay, dailyLimit: 1_000, monthlyLimit: nil)
            do {
                _ = try await store.beginTurn(chatID: chat.id, userContent: "q", reservation: turn)
                Issue.record("a turn was admitted past the calls' holds")
            } catch StorageError.quotaExceeded(.daily) {}
            try await store.settleCall(Self.charge(user.id, 100), hold: first, apiKey: nil)
            var standing = try await store.quotaStanding(userID: user.id, today: contractDay)
            #expect(standing.usedToday == 100 && standing.reserved == 500)
            let third = try await store.reserveCall(Self.reservation(user.id, 1, daily: 1_000))
            try await store.settleCall(nil, hold: second, apiKey: nil)
            standing = try await store.quotaStanding(userID: user.id, today: contractDay)
            #expect(standing.usedToday == 100 && standing.reserved == 1)
            #expect(try await store.beginTurn(chatID: chat.id, userContent: "q", reservation: turn) != nil)
            try await store.settleCall(nil, hold: third, apiKey: nil)
            await Self.expectRefused(store, Self.reservation(unknownID, 1, daily: 1_000), .userGone)
        }
    }

    @Test(
        "a key's budget counts its charges this month and its running calls; other keys are not held back",
        arguments: StorageEngine.available)
    func keyHolds(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("budget@example.com")
            let newKey = { (hash: String) in
                try StorageContractAPIKeysTests.created(
                    try await store.createAPIKey(
                        StorageContractAPIKeysTests.newKey(user.id, hash: hash, budget: 100), limit: 50))
            }
            let (a, b) = (try await newKey("a"), try await newKey("b"))
            let onA = { (tokens: Int) in Self.reservation(user.id, tokens, key: a.id, budget: 100) }
            let heldA = try await store.reserveCall(onA(80))
            let heldA2 = try await store.reserveCall(onA(80))
            await Self.expectRefused(store, onA(1), .keyBudgetExceeded)
            let heldB = try await store.reserveCall(Self.reservation(user.id, 80, key: b.id, budget: 100))
            try await store.settleCall(Self.charge(user.id, 50), hold: heldA, apiKey: a.id)
            await Self.expectRefused(store, onA(1), .keyBudgetExceeded)
            try await store.settleCall(nil, hold: heldA2, apiKey: a.id)
            try await store.settleCall(nil, hold: try await store.reserveCall(onA(10)), apiKey: a.id)
            // Last month's charges do not count.
            try await store.settleCall(nil, hold: heldB, apiKey: b.id)
            try await store.settleCall(
                Self.charge(user.id, 500, on: contractDay.monthStart.adding(days: -1)), hold: nil, apiKey: b.id)
            try await store.settleCall(nil, hold: try await store.reserveCall(onA(1)), apiKey: a.id)
            #expect(
                try await store.apiKeys(userID: user.id, month: contractDay.monthStart).map(\.usage.totalTokens) == [
                    50, 0,
                ])
            #expect(try await store.deleteAPIKey(id: a.id, userID: nil))
            await Self.expectRefused(store, onA(1), .userGone)
        }
    }

    @Test(
        "concurrent calls of one user and one key are admitted one at a time: exactly what the limits allow",
        arguments: StorageEngine.available)
    func concurrentAdmission(_ engine: StorageEngine) async throws {
        try await engine.withReplicas { stores in
            let user = try await stores[0].makeUser("race@example.com")
            let key = try StorageContractAPIKeysTests.created(
                try await stores[0].createAPIKey(StorageContractAPIKeysTests.newKey(user.id, budget: 500), limit: 50))
            let admitted = { (reservation: CallReservation) in
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<24 {
                        group.addTask {
                            do {
                                _ = try await stores[index % stores.count].reserveCall(reservation)
                                return true
                            } catch StorageError.quotaExceeded, StorageError.keyBudgetExceeded {
                                return false
                            }
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
            }
            // 100 tokens each against 1,000 a day: the eleventh sees 1,000 held.
            #expect(try await admitted(Self.reservation(user.id, 100, daily: 1_000)) == 10)
            let other = try await stores[0].makeUser("race2@example.com")
            #expect(try await admitted(Self.reservation(other.id, 100, key: key.id, budget: 500)) == 5)
        }
    }

    @Test("a hold ends with the process that made it", arguments: StorageEngine.available)
    func holdsEndWithTheirProcess(_ engine: StorageEngine) async throws {
        try await engine.withReopenedStore { store in
            let user = try await store.makeUser("lapse@example.com")
            _ = try await store.reserveCall(Self.reservation(user.id, 600, daily: 1_000))
            #expect(try await store.quotaStanding(userID: user.id, today: contractDay).reserved == 600)
            return user.id
        } then: { store, userID in
            // SQLite: gone with the connection. PostgreSQL: released by the next replica's lease renewal, which
            // runs as it opens.
            let deadline = ContinuousClock.now + .seconds(10)
            var reserved = try await store.quotaStanding(userID: userID, today: contractDay).reserved
            while reserved != 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                reserved = try await store.quotaStanding(userID: userID, today: contractDay).reserved
            }
            #expect(reserved == 0)
            _ = try await store.reserveCall(Self.reservation(userID, 999, daily: 1_000))
        }
    }
}
