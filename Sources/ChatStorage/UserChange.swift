import Foundation

/// One change to a user's row, as an engine writes it (``ChatStore/apply(_:)``).
///
/// Callers use the named methods of ``ChatStore`` (``ChatStore/setRole(userID:role:)``,
/// ``ChatStore/setDisabled(userID:disabled:)``, …), which are the one place that keeps the ``UserCache``
/// fresh: whatever the engine, a change drops what it may have made stale before the call returns.
public enum UserChange: Sendable, Equatable {
    /// Bumps the token version, so every token issued before is refused.
    case revokeTokens(UUID)
    case passwordHash(UUID, String)
    /// Sets the role of the user with this id, or with this email (case-insensitive); ``AccountRules`` apply.
    case role(UserKey, UserRole)
    /// Disables or enables; ``AccountRules`` apply (the last admin, the token version bump).
    case disabled(UUID, Bool)
    /// Deletes the user with their chats and messages; ``AccountRules`` apply.
    case deletion(UUID)
    /// The user's own token quotas (nil: none).
    case tokenQuotas(UUID, daily: Int64?, monthly: Int64?)

    /// The cache entries the change may make stale.
    var stale: StaleUsers {
        switch self {
        case .revokeTokens(let id), .passwordHash(let id, _), .role(.id(let id), _), .disabled(let id, _),
            .deletion(let id), .tokenQuotas(let id, _, _):
            .one(id)
        case .role(.email, _): .all
        }
    }
}

/// How a change names its user.
public enum UserKey: Sendable, Equatable {
    case id(UUID)
    /// Case-insensitive.
    case email(String)
}

/// What a change to users leaves stale in the ``UserCache``.
enum StaleUsers {
    case one(UUID)
    case all
}

extension UserCache {
    /// Drops the entries `stale` names.
    func drop(_ stale: StaleUsers) {
        switch stale {
        case .one(let id): self.remove(id)
        case .all: self.removeAll()
        }
    }
}

extension ChatStore {
    /// Writes `change`, then (whether it succeeded or threw) drops the cache entries it may have made stale:
    /// the freshness rule of ``UserCache``, applied here once for every engine.
    private func change(_ change: UserChange) async throws -> UserRecord? {
        defer { self.userCache.drop(change.stale) }
        return try await self.apply(change)
    }

    /// The user for authenticating a request: from the cache when it holds a recent read, else read now (once
    /// for all the requests that missed together; the engine's read stores what it read).
    public func currentUser(id: UUID) async throws -> UserRecord? {
        try await self.userCache.user(id: id) { try await self.user(id: id) }
    }

    /// Bumps the user's token version, so every token issued before is refused. False when no such user.
    @discardableResult
    public func revokeTokens(userID: UUID) async throws -> Bool {
        try await self.change(.revokeTokens(userID)) != nil
    }

    public func updatePasswordHash(userID: UUID, passwordHash: String) async throws {
        _ = try await self.change(.passwordHash(userID, passwordHash))
    }

    /// Sets a role (tokens stay valid: they carry no role); ``StorageError/lastAdmin`` for the last active admin
    /// (``AccountRules``). Nil when no such user.
    public func setRole(userID: UUID, role: UserRole) async throws -> UserRecord? {
        try await self.change(.role(.id(userID), role))
    }

    /// As ``setRole(userID:role:)``, for the user with this email (case-insensitive).
    public func setRole(email: String, role: UserRole) async throws -> UserRecord? {
        try await self.change(.role(.email(email), role))
    }

    /// Makes the listed (registered) users admins; returns how many changed.
    @discardableResult
    public func promoteAdmins(emails: [String]) async throws -> Int {
        defer { self.userCache.drop(.all) }
        return try await self.applyAdminPromotions(emails: emails)
    }

    /// Disables or enables a user (disabling an enabled user bumps the token version); ``StorageError/lastAdmin``
    /// for the last active admin. Nil when no such user.
    public func setDisabled(userID: UUID, disabled: Bool) async throws -> UserRecord? {
        try await self.change(.disabled(userID, disabled))
    }

    /// Deletes the user with their chats and messages; ``StorageError/lastAdmin`` for the last active admin.
    /// False when no such user.
    public func deleteUser(id: UUID) async throws -> Bool {
        try await self.change(.deletion(id)) != nil
    }

    /// Sets a user's own token quotas (nil: none); nil when no such user.
    public func setTokenQuotas(userID: UUID, daily: Int64?, monthly: Int64?) async throws -> UserRecord? {
        try await self.change(.tokenQuotas(userID, daily: daily, monthly: monthly))
    }
}
