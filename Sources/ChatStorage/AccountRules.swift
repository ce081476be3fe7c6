/// The rules of changing an account, written once for every engine and for the HTTP layer's early checks.
///
/// An engine reads the account and the count of active admins inside the transaction that makes the change
/// (under its admin-change lock on PostgreSQL, so replicas cannot both remove "another" admin), and asks these
/// rules what the change may do; it only reads and writes.
public enum AccountRules {
    /// A change an administrator makes to an account.
    public enum Change: Sendable, Equatable {
        case role(UserRole)
        case disabled(Bool)
        case deletion
    }

    /// Whether `change` takes away one of the admins who can administer (an admin who is not disabled; a disabled
    /// admin can be demoted, disabled or deleted freely: it cannot administer anything).
    public static func removesActiveAdmin(_ user: UserRecord, _ change: Change) -> Bool {
        guard user.role == .admin, !user.disabled else { return false }
        switch change {
        case .role(let role): return role != .admin
        case .disabled(let disabled): return disabled
        case .deletion: return true
        }
    }

    /// Throws ``StorageError/lastAdmin`` when `change` would leave no active admin. `activeAdmins` (the count,
    /// `user` included) is read only when the change removes an active admin.
    public static func check(_ change: Change, of user: UserRecord, activeAdmins: () async throws -> Int)
        async throws
    {
        guard Self.removesActiveAdmin(user, change) else { return }
        if try await activeAdmins() <= 1 { throw StorageError.lastAdmin }
    }

    /// The synchronous form of ``check(_:of:activeAdmins:)``, for an engine whose reads do not suspend.
    public static func check(_ change: Change, of user: UserRecord, activeAdmins: () throws -> Int) throws {
        guard Self.removesActiveAdmin(user, change) else { return }
        if try activeAdmins() <= 1 { throw StorageError.lastAdmin }
    }

    /// How much `change` raises the account's token version, which revokes every token issued before it:
    /// disabling an account that was enabled does; nothing else here does (a role change ends the user's waits
    /// but keeps their tokens, which carry no role).
    public static func tokenVersionBump(_ user: UserRecord, _ change: Change) -> Int64 {
        change == .disabled(true) && !user.disabled ? 1 : 0
    }
}
