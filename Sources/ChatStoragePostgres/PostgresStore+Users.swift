import ChatStorage
import Foundation
import PostgresNIO

extension PostgresStore {
    static let userColumns =
        "id, email, password_hash, role, token_version, created_at, disabled, daily_token_quota, monthly_token_quota"

    static func decodeUser(_ row: PostgresRow) throws -> UserRecord {
        var cells = RowCells(row, of: "users")
        let id = try cells.next(UUID.self)
        let email = try cells.next(String.self)
        let hash = try cells.next(String.self)
        let role = try cells.next(String.self)
        let tokenVersion = try cells.next(Int64.self)
        let createdAt = try cells.next(Int64.self)
        let disabled = try cells.next(Bool.self)
        let dailyQuota = try cells.next(Int64?.self)
        let monthlyQuota = try cells.next(Int64?.self)
        guard let role = UserRole(rawValue: role) else { throw StorageError.corruptRow("users") }
        return UserRecord(
            id: id, email: email, passwordHash: hash, role: role, tokenVersion: tokenVersion,
            createdAt: Timestamp(microseconds: createdAt), disabled: disabled, dailyTokenQuota: dailyQuota,
            monthlyTokenQuota: monthlyQuota)
    }

    /// `pg_advisory_xact_lock` key taken by every change that could leave no active admin ("aichatad"), so two
    /// admins demoting each other at once cannot both pass the check.
    static let adminLockKey: Int64 = 0x6169_6368_6174_6164

    public func createUser(email: String, passwordHash: String, role: UserRole) async throws -> UserRecord {
        do {
            let user = try await self.write(
                """
                INSERT INTO users (id, email, password_hash, role, created_at)
                VALUES (\(UUID()), \(email), \(passwordHash), \(role.rawValue), \(Timestamp.now().microseconds))
                RETURNING \(unescaped: Self.userColumns)
                """,
                Self.decodeUser
            ).first
            guard let user else { throw StorageError.corruptRow("users") }
            return user
        } catch let error as PSQLError where error.sqlState == "23505" {
            throw StorageError.emailAlreadyRegistered
        }
    }

    public func user(id: UUID) async throws -> UserRecord? {
        let generation = self.userCache.generation
        let user = try await self.one(
            "SELECT \(unescaped: Self.userColumns) FROM users WHERE id = \(id)", Self.decodeUser)
        if let user { self.userCache.store(user, readAt: generation) }
        return user
    }

    public func user(email: String) async throws -> UserRecord? {
        try await self.one(
            "SELECT \(unescaped: Self.userColumns) FROM users WHERE lower(email) = lower(\(email))", Self.decodeUser)
    }

    /// Writes one change to a user (see ``ChatStore/apply(_:)``; the cache is the caller's concern).
    public func apply(_ change: UserChange) async throws -> UserRecord? {
        switch change {
        case .revokeTokens(let id):
            try await self.write(
                "UPDATE users SET token_version = token_version + 1 WHERE id = \(id) RETURNING \(unescaped: Self.userColumns)",
                Self.decodeUser
            ).first
        case .passwordHash(let id, let hash):
            try await self.write(
                "UPDATE users SET password_hash = \(hash) WHERE id = \(id) RETURNING \(unescaped: Self.userColumns)",
                Self.decodeUser
            ).first
        case .role(let key, let role): try await self.setRole(of: key, role: role)
        case .disabled(let id, let disabled): try await self.writeDisabled(userID: id, disabled: disabled)
        case .deletion(let id): try await self.removeUser(id: id)
        case .tokenQuotas(let id, let daily, let monthly):
            try await self.writeTokenQuotas(userID: id, daily: daily, monthly: monthly)
        }
    }

    /// A page of users, oldest first, and how many; with `emailContaining`, only those whose (lower-cased) email
    /// holds it: `strpos` compares characters as they are, so `%` and `_` are literal.
    public func users(limit: Int, offset: Int, emailContaining needle: String?) async throws
        -> (users: [UserRecord], total: Int)
    {
        // A NULL needle keeps every row; the planner folds the constant away.
        let users = try await self.rows(
            """
            SELECT \(unescaped: Self.userColumns) FROM users
            WHERE \(needle)::text IS NULL OR strpos(email, \(needle)) > 0
            ORDER BY created_at, id LIMIT \(Int64(limit)) OFFSET \(Int64(offset))
            """,
            Self.decodeUser)
        let total =
            try await self.one(
                "SELECT count(*) FROM users WHERE \(needle)::text IS NULL OR strpos(email, \(needle)) > 0"
            ) { try $0.decode(Int64.self) } ?? 0
        return (users, Int(total))
    }

    private func setRole(of key: UserKey, role: UserRole) async throws -> UserRecord? {
        try await self.transaction { transaction in
            try await transaction.execute("SELECT pg_advisory_xact_lock(\(Self.adminLockKey))")
            let select: PostgresQuery =
                switch key {
                case .id(let id): "SELECT \(unescaped: Self.userColumns) FROM users WHERE id = \(id) FOR UPDATE"
                case .email(let email):
                    "SELECT \(unescaped: Self.userColumns) FROM users WHERE lower(email) = lower(\(email)) FOR UPDATE"
                }
            guard let current = try await transaction.one(select, Self.decodeUser) else { return nil }
            try await AccountRules.check(.role(role), of: current) { try await Self.activeAdminCount(transaction) }
            return try await transaction.one(
                "UPDATE users SET role = \(role.rawValue) WHERE id = \(current.id) RETURNING \(unescaped: Self.userColumns)",
                Self.decodeUser)
        }
    }

    public func applyAdminPromotions(emails: [String]) async throws -> Int {
        guard !emails.isEmpty else { return 0 }
        return try await self.write(
            """
            UPDATE users SET role = 'admin' WHERE lower(email) = ANY(\(emails.map { $0.lowercased() }))
            AND role <> 'admin' RETURNING 1
            """,
            { _ in () }
        ).count
    }

    /// Admins who are not disabled, read in `transaction` (which holds the admin-change lock).
    private static func activeAdminCount(_ transaction: Transaction) async throws -> Int {
        Int(
            try await transaction.one(
                "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled", { try $0.decode(Int64.self) }) ?? 0)
    }

    public func activeAdminCount() async throws -> Int {
        Int(
            try await self.one("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled") {
                try $0.decode(Int64.self)
            } ?? 0)
    }

    private func writeDisabled(userID: UUID, disabled: Bool) async throws -> UserRecord? {
        return try await self.transaction { transaction in
            guard let current = try await Self.lockForAdminChange(userID, transaction) else { return nil }
            try await AccountRules.check(.disabled(disabled), of: current) {
                try await Self.activeAdminCount(transaction)
            }
            let bump = AccountRules.tokenVersionBump(current, .disabled(disabled))
            return try await transaction.one(
                """
                UPDATE users SET disabled = \(disabled), token_version = token_version + \(bump)
                WHERE id = \(userID) RETURNING \(unescaped: Self.userColumns)
                """,
                Self.decodeUser)
        }
    }

    /// Deletes the user; the user as they were, or nil when there is no such user.
    private func removeUser(id userID: UUID) async throws -> UserRecord? {
        let deleted: (user: UserRecord, chats: [UUID])? = try await self.transaction { transaction in
            guard let current = try await Self.lockForAdminChange(userID, transaction) else { return nil }
            try await AccountRules.check(.deletion, of: current) { try await Self.activeAdminCount(transaction) }
            let chats = try await transaction.rows("SELECT id FROM chats WHERE user_id = \(userID)") {
                try $0.decode(UUID.self)
            }
            try await transaction.execute("DELETE FROM users WHERE id = \(userID)")
            return (current, chats)
        }
        guard let deleted else { return nil }
        self.notifier.changed(deleted.chats)
        return deleted.user
    }

    /// Takes the admin-change lock and the user's row lock; the user as they are now, or nil.
    private static func lockForAdminChange(_ userID: UUID, _ transaction: Transaction) async throws -> UserRecord? {
        try await transaction.execute("SELECT pg_advisory_xact_lock(\(Self.adminLockKey))")
        return try await transaction.one(
            "SELECT \(unescaped: Self.userColumns) FROM users WHERE id = \(userID) FOR UPDATE", Self.decodeUser)
    }

    public func chatIDs(ownerID: UUID) async throws -> [UUID] {
        try await self.rows("SELECT id FROM chats WHERE user_id = \(ownerID)") { try $0.decode(UUID.self) }
    }
}
