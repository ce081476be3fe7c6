import ChatStorage
import Foundation
import Testing

@testable import ChatStoragePostgres
@testable import ChatStorageSQLite

/// The contract of a store as a whole, on every engine: its schema, health check, settings, cancellation
/// requests and closing.
@Suite("Storage contract: the store")
struct StorageContractStoreTests {
    @Test(
        "migration: a fresh store is migrated from 0 to the one latest version; reopened, nothing is applied",
        arguments: StorageEngine.available)
    func migration(_ engine: StorageEngine) async throws {
        // The engines number their migrations in one sequence.
        #expect(Migrations.latestVersion == PostgresMigrations.latestVersion)
        try await engine.withReopenedStore { store in
            #expect(store.migration.from == 0 && store.migration.to == Migrations.latestVersion)
            _ = try await store.makeUser("kept@example.com")
        } then: { store, _ in
            #expect(store.migration.from == Migrations.latestVersion && store.migration.to == Migrations.latestVersion)
            let kept = try await store.user(email: "kept@example.com")
            #expect(kept != nil)
        }
    }

    @Test("ping answers while the store is open; once closed, work throws", arguments: StorageEngine.available)
    func pingAndClose(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            try await store.ping()
            try await store.ping()
            await store.close()
            await store.close()
            await #expect(throws: (any Error).self) { try await store.ping() }
            await #expect(throws: (any Error).self) { _ = try await store.user(id: unknownID) }
            await #expect(throws: (any Error).self) { _ = try await store.makeUser("late@example.com") }
        }
    }

    @Test(
        "settingInsertingIfAbsent: the first value stays, and every caller gets it", arguments: StorageEngine.available)
    func settings(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            #expect(try await store.setting("jwt_secret") == nil)
            #expect(try await store.settingInsertingIfAbsent("jwt_secret", value: "first") == "first")
            #expect(try await store.settingInsertingIfAbsent("jwt_secret", value: "second") == "first")
            #expect(try await store.setting("jwt_secret") == "first")
            let racing = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<8 {
                    group.addTask { try await store.settingInsertingIfAbsent("raced", value: "v\(index)") }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(racing.count == 1)
            await #expect(throws: StorageError.unsupportedCharacter) {
                _ = try await store.settingInsertingIfAbsent("nul", value: nulText)
            }
            #expect(try await store.setting("nul") == nil)
        }
    }

    @Test(
        "shared.requestCancel: a store shared with other processes tells them all (itself included) by an event",
        arguments: StorageEngine.available)
    func cancelRequests(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (_, chat) = try await store.makeOwnedChat()
            // A store this process owns alone is not shared: its own session is the one to cancel.
            guard let shared = store.shared else {
                #expect(engine == .sqlite)
                return
            }
            #expect(engine == .postgres)
            let events = shared.events
            // Asked again until seen: the store may still be starting to listen when the first is sent.
            let seen = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for await event in events where event == .cancelRequested(chatID: chat.id) { return true }
                    return false
                }
                group.addTask {
                    let deadline = ContinuousClock.now + .seconds(10)
                    while ContinuousClock.now < deadline {
                        try await shared.requestCancel(chatID: chat.id)
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    return false
                }
                defer { group.cancelAll() }
                return try await group.next() ?? false
            }
            #expect(seen)
        }
    }
}
