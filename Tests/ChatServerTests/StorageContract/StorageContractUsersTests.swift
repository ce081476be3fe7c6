import ChatStorage
import Foundation
import Testing

/// The contract of a store's users, on every engine: lookups, token versions, roles and the last-admin rule.
@Suite("Storage contract: users")
struct StorageContractUsersTests {
    @Test(
        "createUser and its lookups: by id, by email in any case, a taken email in any case refused",
        arguments: StorageEngine.available)
    func createAndLookUp(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.createUser(email: "same@example.com", passwordHash: "h1", role: .user)
            #expect(user.email == "same@example.com" && user.passwordHash == "h1" && user.role == .user)
            #expect(user.tokenVersion == 0 && !user.disabled)
            #expect(user.dailyTokenQuota == nil && user.monthlyTokenQuota == nil)
            await #expect(throws: StorageError.emailAlreadyRegistered) {
                _ = try await store.createUser(email: "SAME@example.com", passwordHash: "h", role: .user)
            }
            #expect(try await store.user(id: user.id) == user)
            #expect(try await store.user(email: "Same@Example.com") == user)
            #expect(try await store.currentUser(id: user.id) == user)
            #expect(try await store.user(id: unknownID) == nil)
            #expect(try await store.currentUser(id: unknownID) == nil)
            #expect(try await store.user(email: "nobody@example.com") == nil)
            #expect(try await store.users(limit: 10, offset: 0).total == 1, "the refused one left nothing")
        }
    }

    @Test("users: oldest first, a page of them and the total", arguments: StorageEngine.available)
    func usersPage(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            var created: [UUID] = []
            for index in 0..<5 { created.append(try await store.makeUser("u\(index)@example.com").id) }
            let all = try await store.users(limit: 10, offset: 0)
            #expect(all.users.map(\.id) == created)
            #expect(all.total == 5)
            let page = try await store.users(limit: 2, offset: 2)
            #expect(page.users.map(\.id) == Array(created[2..<4]))
            #expect(page.total == 5)
            #expect(try await store.users(limit: 2, offset: 10).users.isEmpty)
        }
    }

    @Test(
        "revokeTokens and updatePasswordHash: read back at once, through currentUser too",
        arguments: StorageEngine.available)
    func tokensAndPasswords(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("t@example.com")
            #expect(try await store.currentUser(id: user.id)?.tokenVersion == 0, "cached now")
            #expect(try await store.revokeTokens(userID: user.id))
            #expect(try await store.currentUser(id: user.id)?.tokenVersion == 1, "the cache was emptied")
            #expect(try await store.revokeTokens(userID: unknownID) == false)
            try await store.updatePasswordHash(userID: user.id, passwordHash: "new")
            #expect(try await store.currentUser(id: user.id)?.passwordHash == "new")
            #expect(try await store.user(id: user.id)?.tokenVersion == 1, "a new hash revokes nothing")
            try await store.updatePasswordHash(userID: unknownID, passwordHash: "x")
            #expect(try await store.users(limit: 10, offset: 0).total == 1)
        }
    }

    @Test("setRole by id and by email; promoteAdmins; activeAdminCount", arguments: StorageEngine.available)
    func roles(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let first = try await store.makeUser("first@example.com")
            let second = try await store.makeUser("second@example.com")
            #expect(try await store.activeAdminCount() == 0)
            #expect(try await store.setRole(userID: first.id, role: .admin)?.role == .admin)
            #expect(try await store.currentUser(id: first.id)?.role == .admin)
            #expect(try await store.setRole(email: "SECOND@example.com", role: .admin)?.id == second.id)
            #expect(try await store.activeAdminCount() == 2)
            #expect(try await store.setRole(userID: unknownID, role: .admin) == nil)
            #expect(try await store.setRole(email: "nobody@example.com", role: .admin) == nil)
            let third = try await store.makeUser("third@example.com")
            #expect(
                try await store.promoteAdmins(emails: ["FIRST@example.com", "Third@Example.com", "none@example.com"])
                    == 1, "only those not admins already, and registered")
            #expect(try await store.promoteAdmins(emails: []) == 0)
            #expect(try await store.user(id: third.id)?.role == .admin)
            #expect(try await store.activeAdminCount() == 3)
        }
    }

    @Test(
        "the last active admin cannot be demoted, disabled or deleted; a disabled admin can",
        arguments: StorageEngine.available)
    func lastAdmin(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let admin = try await store.makeUser("a@example.com", role: .admin)
            await #expect(throws: StorageError.lastAdmin) { _ = try await store.setRole(userID: admin.id, role: .user) }
            await #expect(throws: StorageError.lastAdmin) {
                _ = try await store.setRole(email: "a@example.com", role: .user)
            }
            await #expect(throws: StorageError.lastAdmin) {
                _ = try await store.setDisabled(userID: admin.id, disabled: true)
            }
            await #expect(throws: StorageError.lastAdmin) { _ = try await store.deleteUser(id: admin.id) }
            #expect(try await store.user(id: admin.id) == admin, "nothing changed")

            let other = try await store.makeUser("b@example.com", role: .admin)
            let disabled = try #require(try await store.setDisabled(userID: other.id, disabled: true))
            #expect(disabled.disabled && disabled.tokenVersion == other.tokenVersion + 1)
            #expect(try await store.activeAdminCount() == 1)
            await #expect(throws: StorageError.lastAdmin) { _ = try await store.setRole(userID: admin.id, role: .user) }
            #expect(try await store.setRole(userID: other.id, role: .user)?.role == .user, "a disabled admin")
            #expect(try await store.deleteUser(id: other.id))
            #expect(try await store.users(limit: 10, offset: 0).users.map(\.id) == [admin.id])
        }
    }

    @Test("setDisabled: disabling bumps the token version once, enabling does not", arguments: StorageEngine.available)
    func disable(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("d@example.com")
            _ = try await store.currentUser(id: user.id)
            #expect(try await store.setDisabled(userID: user.id, disabled: true)?.tokenVersion == 1)
            #expect(try await store.currentUser(id: user.id)?.disabled == true, "the cache was emptied")
            #expect(try await store.setDisabled(userID: user.id, disabled: true)?.tokenVersion == 1, "already disabled")
            let enabled = try #require(try await store.setDisabled(userID: user.id, disabled: false))
            #expect(!enabled.disabled && enabled.tokenVersion == 1)
            #expect(try await store.setDisabled(userID: unknownID, disabled: true) == nil)
        }
    }

    @Test(
        "deleteUser takes the user's chats and messages with them; chatIDs lists a user's chats",
        arguments: StorageEngine.available)
    func deleteUser(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            let other = try await store.createChat(userID: user.id, title: nil)
            let bystander = try await store.makeOwnedChat("bystander@example.com")
            try await store.completeTurn(chatID: chat.id, "q", reply: "a")
            #expect(Set(try await store.chatIDs(ownerID: user.id)) == [chat.id, other.id])
            #expect(try await store.chatIDs(ownerID: unknownID).isEmpty)
            _ = try await store.currentUser(id: user.id)
            #expect(try await store.deleteUser(id: user.id))
            #expect(try await store.currentUser(id: user.id) == nil, "the cache was emptied")
            #expect(try await store.chat(id: chat.id, ownerID: nil) == nil)
            #expect(try await store.messages(chatID: chat.id, ownerID: nil, after: 0, limit: 10) == nil)
            #expect(try await store.chatIDs(ownerID: user.id).isEmpty)
            #expect(try await store.deleteUser(id: user.id) == false)
            #expect(try await store.chatIDs(ownerID: bystander.user.id) == [bystander.chat.id])
        }
    }

    @Test(
        "a NUL in an email is refused as unsupportedCharacter, in a write or a lookup",
        arguments: StorageEngine.available)
    func nulEmail(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            _ = try await store.makeUser("admin@example.com", role: .admin)
            await #expect(throws: StorageError.unsupportedCharacter) {
                _ = try await store.createUser(email: nulText, passwordHash: "h", role: .user)
            }
            await #expect(throws: StorageError.unsupportedCharacter) { _ = try await store.user(email: nulText) }
            await #expect(throws: StorageError.unsupportedCharacter) {
                _ = try await store.setRole(email: nulText, role: .admin)
            }
            await #expect(throws: StorageError.unsupportedCharacter) {
                _ = try await store.promoteAdmins(emails: [nulText])
            }
            await #expect(throws: StorageError.unsupportedCharacter) {
                let user = try await store.makeUser("p@example.com")
                try await store.updatePasswordHash(userID: user.id, passwordHash: nulText)
            }
            #expect(try await store.users(limit: 10, offset: 0).total == 2)
        }
    }

    /// Each change of a user, applied through its named method, and whether it changes anyone (a refused
    /// change still drops the entry: the store cannot tell what a failed transaction left).
    static let cacheChanges: [(name: String, apply: @Sendable (any ChatStore, UserRecord) async throws -> Void)] = [
        ("revokeTokens", { store, user in try await store.revokeTokens(userID: user.id) }),
        (
            "updatePasswordHash",
            { store, user in try await store.updatePasswordHash(userID: user.id, passwordHash: "h2") }
        ),
        ("setRole by id", { store, user in _ = try await store.setRole(userID: user.id, role: .admin) }),
        (
            "setRole by email",
            { store, user in _ = try await store.setRole(email: user.email.uppercased(), role: .admin) }
        ),
        ("promoteAdmins", { store, user in try await store.promoteAdmins(emails: [user.email]) }),
        ("setDisabled", { store, user in _ = try await store.setDisabled(userID: user.id, disabled: true) }),
        (
            "setTokenQuotas",
            { store, user in _ = try await store.setTokenQuotas(userID: user.id, daily: 5, monthly: nil) }
        ),
        ("deleteUser", { store, user in _ = try await store.deleteUser(id: user.id) }),
        (
            "a refused change (the last admin)",
            { store, _ in
                let admin = try #require(try await store.user(email: "admin@example.com"))
                await #expect(throws: StorageError.lastAdmin) {
                    _ = try await store.setRole(userID: admin.id, role: .user)
                }
            }
        ),
    ]

    @Test(
        "the user cache: currentUser fills it, and every change to a user, through the store, empties it",
        arguments: StorageEngine.available, 0..<cacheChanges.count)
    func cacheFreshness(_ engine: StorageEngine, _ index: Int) async throws {
        let change = Self.cacheChanges[index]
        try await engine.withStore { store in
            let admin = try await store.makeUser("admin@example.com", role: .admin)
            let user = try await store.makeUser("cached@example.com")
            let subject = change.name.hasPrefix("a refused") ? admin : user
            #expect(try await store.currentUser(id: subject.id) == subject)
            // Filled by a read; on PostgreSQL a read that overlapped the notification of the users' creation
            // (which empties the cache as another replica's change would) is not kept, so read until one is.
            let filled = try await eventually(within: .seconds(5)) {
                _ = try await store.currentUser(id: subject.id)
                return store.userCache.user(id: subject.id) == subject
            }
            #expect(filled, "filled by a read")
            try await change.apply(store, subject)
            #expect(store.userCache.user(id: subject.id) == nil, "\(change.name) left the cached user")
            let now = try await store.currentUser(id: subject.id)
            #expect(now == (try await store.user(id: subject.id)), "\(change.name): currentUser reads the change")
        }
    }
}
