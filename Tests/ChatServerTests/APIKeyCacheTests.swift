import ChatStorage
import ChatStorageSQLite
import Foundation
import Testing

/// SQLite's ``APIKeyCache``: a key read once is served from memory with its cached user (no trip to the
/// database thread), and the changes that could make it stale remove it first. The contract tests check the
/// answers stay current on every engine; this checks the cache is what answers.
@Suite("API key cache (SQLite)")
struct APIKeyCacheTests {
    @Test("a key read once is cached; deleting it, or recording its use, removes the entry")
    func cachesAndForgets() async throws {
        try await StorageEngine.sqlite.withStore { store in
            let database = try #require(store as? DatabaseActor)
            let user = try await store.makeUser("cached@example.com")
            let key = try StorageContractAPIKeysTests.created(
                try await store.createAPIKey(StorageContractAPIKeysTests.newKey(user.id, hash: "k1"), limit: 50))
            #expect(database.apiKeyCache.key(hash: "k1") == nil)
            #expect(try await store.apiKeyOwner(hash: "k1")?.key.id == key.id)
            #expect(database.apiKeyCache.key(hash: "k1")?.id == key.id)
            #expect(database.userCache.user(id: user.id)?.id == user.id)

            try await store.touchAPIKey(id: key.id, at: .now())
            #expect(database.apiKeyCache.key(hash: "k1") == nil)
            #expect(try await store.apiKeyOwner(hash: "k1")?.key.lastUsedAt != nil)
            #expect(database.apiKeyCache.key(hash: "k1")?.lastUsedAt != nil)

            #expect(try await store.deleteAPIKey(id: key.id, userID: user.id))
            #expect(database.apiKeyCache.key(hash: "k1") == nil)
            #expect(try await store.apiKeyOwner(hash: "k1") == nil)
        }
    }
}
