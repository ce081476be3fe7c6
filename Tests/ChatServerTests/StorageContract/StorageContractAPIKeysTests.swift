import ChatStorage
import Foundation
import Testing

/// The contract of API keys on every engine: what a key stores, the per-user cap (atomic), lookup by hash with
/// the user as they are now, deletion (own or any), `last_used_at` written at most once a minute, and the usage
/// charged per key and month.
@Suite("Storage contract: API keys")
struct StorageContractAPIKeysTests {
    static func newKey(
        _ user: UUID, _ name: String = "k", hash: String? = nil, expiresAt: Timestamp? = nil, models: [String]? = nil,
        budget: Int64? = nil
    ) -> NewAPIKey {
        NewAPIKey(
            userID: user, name: name, hash: hash ?? UUID().lowercasedString, prefix: "abcdefgh", expiresAt: expiresAt,
            models: models, monthlyTokenBudget: budget)
    }

    static func created(_ result: APIKeyCreation) throws -> APIKeyRecord {
        guard case .created(let record) = result else {
            Issue.record("expected a key, got \(result)")
            throw StorageError.corruptRow("api_keys")
        }
        return record
    }

    @Test(
        "a key is stored as given, found by its hash with its user, listed oldest first",
        arguments: StorageEngine.available)
    func createAndFind(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("keys@example.com")
            let expiry = Timestamp(microseconds: 4_000_000_000_000_000)
            let first = try Self.created(
                try await store.createAPIKey(
                    Self.newKey(user.id, "ci", hash: "h1", expiresAt: expiry, models: ["a", "b"], budget: 1_000),
                    limit: apiKeysPerUser))
            #expect(first.userID == user.id && first.name == "ci" && first.prefix == "abcdefgh")
            #expect(first.expiresAt == expiry && first.lastUsedAt == nil)
            #expect(first.models == ["a", "b"] && first.monthlyTokenBudget == 1_000)
            let second = try Self.created(
                try await store.createAPIKey(Self.newKey(user.id, "all", hash: "h2"), limit: apiKeysPerUser))
            #expect(second.models == nil && second.expiresAt == nil && second.monthlyTokenBudget == nil)

            let owner = try #require(try await store.apiKeyOwner(hash: "h1"))
            #expect(owner.key == first && owner.user == user)
            #expect(try await store.apiKeyOwner(hash: "nope") == nil)
            let listed = try await store.apiKeys(userID: user.id, month: contractDay.monthStart)
            #expect(listed.map(\.key) == [first, second])
            #expect(listed.allSatisfy { $0.usage == APIKeyUsage() })
            #expect(try await store.apiKeys(userID: unknownID, month: contractDay).isEmpty)
            #expect(try await store.createAPIKey(Self.newKey(unknownID), limit: apiKeysPerUser) == .noSuchUser)
        }
    }

    @Test(
        "the cap holds even when keys are created at once; a deleted key frees a place",
        arguments: StorageEngine.available)
    func cap(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("cap@example.com")
            let results = try await withThrowingTaskGroup(of: APIKeyCreation.self) { group in
                for _ in 0..<12 { group.addTask { try await store.createAPIKey(Self.newKey(user.id), limit: 5) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { if case .created = $0 { true } else { false } }.count == 5)
            #expect(results.filter { $0 == .limitReached }.count == 7)
            let keys = try await store.apiKeys(userID: user.id, month: contractDay)
            #expect(keys.count == 5)
            // Another user's keys do not count against this one's.
            let other = try await store.makeUser("other@example.com")
            _ = try Self.created(try await store.createAPIKey(Self.newKey(other.id), limit: 5))
            #expect(try await store.deleteAPIKey(id: try #require(keys.first).key.id, userID: user.id))
            _ = try Self.created(try await store.createAPIKey(Self.newKey(user.id), limit: 5))
        }
    }

    @Test(
        "deleting: only the owner's (or any, for nil); a user's deletion takes their keys",
        arguments: StorageEngine.available)
    func deletion(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let owner = try await store.makeUser("owner@example.com")
            let stranger = try await store.makeUser("stranger@example.com")
            let key = try Self.created(try await store.createAPIKey(Self.newKey(owner.id, hash: "o1"), limit: 50))
            #expect(try await !store.deleteAPIKey(id: key.id, userID: stranger.id))
            #expect(try await store.apiKeyOwner(hash: "o1") != nil)
            #expect(try await store.deleteAPIKey(id: key.id, userID: owner.id))
            #expect(try await store.apiKeyOwner(hash: "o1") == nil)
            #expect(try await !store.deleteAPIKey(id: key.id, userID: owner.id))

            let any = try Self.created(try await store.createAPIKey(Self.newKey(owner.id, hash: "o2"), limit: 50))
            #expect(try await store.deleteAPIKey(id: any.id, userID: nil))
            _ = try Self.created(try await store.createAPIKey(Self.newKey(owner.id, hash: "o3"), limit: 50))
            #expect(try await store.apiKeyOwner(hash: "o3") != nil)
            #expect(try await store.deleteUser(id: owner.id))
            #expect(try await store.apiKeyOwner(hash: "o3") == nil)
        }
    }

    @Test(
        "the owner comes as they are now: disabled, quotas and last use show at once",
        arguments: StorageEngine.available)
    func ownerIsCurrent(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("current@example.com")
            _ = try Self.created(try await store.createAPIKey(Self.newKey(user.id, hash: "c1"), limit: 50))
            #expect(try await store.apiKeyOwner(hash: "c1")?.user.disabled == false)
            _ = try await store.setDisabled(userID: user.id, disabled: true)
            #expect(try await store.apiKeyOwner(hash: "c1")?.user.disabled == true)
            _ = try await store.setTokenQuotas(userID: user.id, daily: 7, monthly: nil)
            #expect(try await store.apiKeyOwner(hash: "c1")?.user.dailyTokenQuota == 7)
            let key = try #require(try await store.apiKeyOwner(hash: "c1")?.key)
            let used = Timestamp(microseconds: key.createdAt.microseconds + 2 * APIKeyRecord.lastUsedPrecision)
            try await store.touchAPIKey(id: key.id, at: used)
            #expect(try await store.apiKeyOwner(hash: "c1")?.key.lastUsedAt == used)
        }
    }

    @Test("last_used_at: set on first use, then at most once a minute", arguments: StorageEngine.available)
    func touch(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("touch@example.com")
            let key = try Self.created(try await store.createAPIKey(Self.newKey(user.id, hash: "t1"), limit: 50))
            func lastUsed() async throws -> Timestamp? { try await store.apiKeyOwner(hash: "t1")?.key.lastUsedAt }
            let start = Timestamp(microseconds: 1_000_000_000_000)
            try await store.touchAPIKey(id: key.id, at: start)
            #expect(try await lastUsed() == start)
            let soon = Timestamp(microseconds: start.microseconds + APIKeyRecord.lastUsedPrecision - 1)
            try await store.touchAPIKey(id: key.id, at: soon)
            #expect(try await lastUsed() == start, "within a minute: not written again")
            let later = Timestamp(microseconds: start.microseconds + APIKeyRecord.lastUsedPrecision)
            try await store.touchAPIKey(id: key.id, at: later)
            #expect(try await lastUsed() == later)
            try await store.touchAPIKey(id: unknownID, at: later)
        }
    }

    /// A call of `prompt` and `completion` tokens on `day`.
    static func call(_ user: UUID, _ day: UsageDay, _ prompt: Int, _ completion: Int = 0, estimated: Bool = false)
        -> UsageCharge
    {
        UsageCharge(userID: user, day: day, promptTokens: prompt, completionTokens: completion, estimated: estimated)
    }

    @Test(
        "settleCall: to the user's day and to the key's month together; a deleted key's part is dropped",
        arguments: StorageEngine.available)
    func charges(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("charge@example.com")
            let first = try Self.created(try await store.createAPIKey(Self.newKey(user.id), limit: 50))
            let second = try Self.created(try await store.createAPIKey(Self.newKey(user.id), limit: 50))
            let month = contractDay.monthStart
            let previous = month.adding(days: -1).monthStart
            try await store.settleCall(Self.call(user.id, contractDay, 60, 40), hold: nil, apiKey: first.id)
            try await store.settleCall(
                Self.call(user.id, contractDay, 20, 3, estimated: true), hold: nil, apiKey: first.id)
            try await store.settleCall(Self.call(user.id, previous, 5_000), hold: nil, apiKey: first.id)
            try await store.settleCall(Self.call(user.id, contractDay, 0), hold: nil, apiKey: second.id)
            try await store.settleCall(Self.call(user.id, contractDay, 9), hold: nil, apiKey: unknownID)
            try await store.settleCall(Self.call(user.id, contractDay, 7), hold: nil, apiKey: nil)
            try await store.settleCall(Self.call(unknownID, contractDay, 11), hold: nil, apiKey: nil)
            let now = try await store.apiKeys(userID: user.id, month: month)
            #expect(now.map(\.usage) == [APIKeyUsage(requests: 2, totalTokens: 123), APIKeyUsage(requests: 1)])
            let before = try await store.apiKeys(userID: user.id, month: previous)
            #expect(before.map(\.usage) == [APIKeyUsage(requests: 1, totalTokens: 5_000), APIKeyUsage()])
            // Every call counts for its user, the unknown key's and the keyless one's too.
            let usage = try await store.usage(userID: user.id, from: previous, to: contractDay)
            #expect(
                usage.map(\.totals) == [
                    UsageTotals(requests: 1, promptTokens: 5_000),
                    UsageTotals(requests: 5, promptTokens: 96, completionTokens: 43, estimatedRequests: 1),
                ])
            #expect(try await store.quotaStanding(userID: user.id, today: contractDay).usedToday == 139)
        }
    }

    @Test(
        "chat-server copy moves keys as they are: ids, hashes, times, models, budget, usage per month",
        arguments: StorageEngine.available)
    func copied(_ engine: StorageEngine) async throws {
        try await StorageEngine.sqlite.withStore { source in
            let user = try await source.makeUser("copied@example.com")
            let later = Timestamp(microseconds: 4_000_000_000_000_000)
            let restricted = try Self.created(
                try await source.createAPIKey(
                    Self.newKey(user.id, "ci", hash: "copy1", expiresAt: later, models: ["m"], budget: 9),
                    limit: apiKeysPerUser))
            _ = try Self.created(try await source.createAPIKey(Self.newKey(user.id, hash: "copy2"), limit: 50))
            try await source.touchAPIKey(id: restricted.id, at: Timestamp(microseconds: 1_000_000_000))
            try await source.settleCall(Self.call(user.id, contractDay, 70), hold: nil, apiKey: restricted.id)
            try await source.settleCall(
                Self.call(user.id, contractDay.monthStart.adding(days: -1), 5), hold: nil, apiKey: restricted.id)
            try await engine.withStore { target in
                let (from, to) = (try #require(source as? any StoreCopying), try #require(target as? any StoreCopying))
                _ = try await StoreCopier(from: from, to: to, progress: { _ in }).run()
                for month in [contractDay.monthStart, contractDay.monthStart.adding(days: -1).monthStart] {
                    #expect(
                        try await target.apiKeys(userID: user.id, month: month)
                            == source.apiKeys(userID: user.id, month: month))
                }
                #expect(try await target.apiKeyOwner(hash: "copy1") == source.apiKeyOwner(hash: "copy1"))
                #expect(try await to.apiKeysForCopy(userID: user.id) == from.apiKeysForCopy(userID: user.id))
                #expect(try await to.apiKeysForCopy(userID: user.id).first?.months.count == 2)
            }
        }
    }
}
