import ChatStorage
import Foundation

extension DatabaseActor {
    static let userColumns =
        "id, email, password_hash, role, token_version, created_at, disabled, daily_token_quota, monthly_token_quota"

    static func decodeUser(_ row: Row) throws -> UserRecord {
        guard let id = row.uuid(0), let role = UserRole(rawValue: row.text(3)) else {
            throw StorageError.corruptRow("users")
        }
        return UserRecord(
            id: id,
            email: row.text(1),
            passwordHash: row.text(2),
            role: role,
            tokenVersion: row.int64(4),
            createdAt: Timestamp(microseconds: row.int64(5)),
            disabled: row.int(6) != 0,
            dailyTokenQuota: row.isNull(7) ? nil : row.int64(7),
            monthlyTokenQuota: row.isNull(8) ? nil : row.int64(8)
        )
    }

    /// Inserts a user. `email` must already be normalised (trimmed, lower-cased).
    /// Throws ``StorageError/emailAlreadyRegistered`` when the email exists, whatever its case.
    public func createUser(email: String, passwordHash: String, role: UserRole) async throws -> UserRecord {
        let arguments: [SQLiteValue] = [
            .text(UUID().lowercasedString), .text(email), .text(passwordHash), .text(role.rawValue),
            .integer(Timestamp.now().microseconds),
        ]
        do {
            return try await self.write { connection in
                let user = try connection.queryOne(
                    """
                    INSERT INTO users (id, email, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?)
                    RETURNING \(Self.userColumns)
                    """,
                    arguments,
                    Self.decodeUser
                )
                guard let user else { throw StorageError.corruptRow("users") }
                return user
            }
        } catch let error as SQLiteError where error.isUniqueConstraintViolation {
            throw StorageError.emailAlreadyRegistered
        }
    }

    public func user(id: UUID) throws -> UserRecord? {
        try self.checkOpen()
        let user = try self.connection.queryOne(
            "SELECT \(Self.userColumns) FROM users WHERE id = ?",
            [.text(id.lowercasedString)],
            Self.decodeUser
        )
        if let user { self.userCache.store(user) }
        return user
    }

    /// Case-insensitive lookup (the column collates NOCASE).
    public func user(email: String) throws -> UserRecord? {
        try self.checkOpen()
        return try self.connection.queryOne(
            "SELECT \(Self.userColumns) FROM users WHERE email = ?",
            [.text(email)],
            Self.decodeUser
        )
    }

    /// Writes one change to a user (see ``ChatStore/apply(_:)``; the cache is the caller's concern).
    public func apply(_ change: UserChange) async throws -> UserRecord? {
        switch change {
        case .revokeTokens(let id): try await self.bumpTokenVersion(userID: id)
        case .passwordHash(let id, let hash): try self.writePasswordHash(userID: id, passwordHash: hash)
        case .role(.id(let id), let role): try self.setRole(where: "id = ?", .text(id.lowercasedString), role)
        case .role(.email(let email), let role): try self.setRole(where: "email = ?", .text(email), role)
        case .disabled(let id, let disabled): try self.writeDisabled(userID: id, disabled: disabled)
        case .deletion(let id): try self.removeUser(id: id)
        case .tokenQuotas(let id, let daily, let monthly):
            try await self.writeTokenQuotas(userID: id, daily: daily, monthly: monthly)
        }
    }

    /// Bumps the user's token version, which invalidates every token issued before.
    private func bumpTokenVersion(userID: UUID) async throws -> UserRecord? {
        let id = SQLiteValue.text(userID.lowercasedString)
        return try await self.write { connection in
            try connection.queryOne(
                "UPDATE users SET token_version = token_version + 1 WHERE id = ? RETURNING \(Self.userColumns)", [id],
                Self.decodeUser)
        }
    }

    /// Replaces a password hash (used to upgrade hashes made with older scrypt parameters).
    private func writePasswordHash(userID: UUID, passwordHash: String) throws -> UserRecord? {
        try self.checkOpen()
        return try self.connection.queryOne(
            "UPDATE users SET password_hash = ? WHERE id = ? RETURNING \(Self.userColumns)",
            [.text(passwordHash), .text(userID.lowercasedString)], Self.decodeUser)
    }

    /// A page of users, oldest first, and how many users there are; with `emailContaining`, only those whose
    /// (lower-cased) email holds it: `instr` compares characters as they are, so `%` and `_` are literal.
    public func users(limit: Int, offset: Int, emailContaining needle: String?) throws
        -> (users: [UserRecord], total: Int)
    {
        try self.checkOpen()
        // One of two fixed texts, never the caller's.
        let condition = needle == nil ? "" : "WHERE instr(email, ?) > 0"
        let filter: [SQLiteValue] = needle.map { [.text($0)] } ?? []
        let users = try self.connection.query(
            "SELECT \(Self.userColumns) FROM users \(condition) ORDER BY created_at, id LIMIT ? OFFSET ?",
            filter + [.int(limit), .int(offset)],
            Self.decodeUser
        )
        let total = try self.connection.queryOne("SELECT count(*) FROM users \(condition)", filter) { $0.int(0) } ?? 0
        return (users, total)
    }

    /// Sets the role of the user `condition` finds. Returns nil if there is no such user.
    /// Throws ``StorageError/lastAdmin`` rather than leave the database without an admin.
    private func setRole(where condition: String, _ argument: SQLiteValue, _ role: UserRole) throws -> UserRecord? {
        try self.checkOpen()
        return try self.connection.transaction {
            try self.setRoleInTransaction(where: condition, argument: argument, role: role)
        }
    }

    private func setRoleInTransaction(where condition: String, argument: SQLiteValue, role: UserRole) throws
        -> UserRecord?
    {
        guard
            let current = try self.connection.queryOne(
                "SELECT \(Self.userColumns) FROM users WHERE \(condition)",
                [argument],
                Self.decodeUser
            )
        else { return nil }
        try AccountRules.check(.role(role), of: current, activeAdmins: self.activeAdminCount)
        return try self.connection.queryOne(
            "UPDATE users SET role = ? WHERE id = ? RETURNING \(Self.userColumns)",
            [.text(role.rawValue), .text(current.id.lowercasedString)],
            Self.decodeUser
        )
    }

    /// Makes every listed email that is registered an admin. Returns how many users changed.
    public func applyAdminPromotions(emails: [String]) throws -> Int {
        try self.checkOpen()
        guard !emails.isEmpty else { return 0 }
        return try self.connection.transaction {
            var changed = 0
            for email in emails {
                changed += try self.connection.run(
                    "UPDATE users SET role = 'admin' WHERE email = ? AND role <> 'admin'",
                    [.text(email)]
                )
            }
            return changed
        }
    }

    /// Admins who are not disabled.
    public func activeAdminCount() throws -> Int {
        try self.checkOpen()
        return try self.connection.queryOne("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0") {
            $0.int(0)
        } ?? 0
    }

    /// Disables or re-enables a user. Disabling also revokes every token of the user. Returns nil if there is
    /// no such user; throws ``StorageError/lastAdmin`` rather than disable the last active admin.
    private func writeDisabled(userID: UUID, disabled: Bool) throws -> UserRecord? {
        try self.checkOpen()
        let id = SQLiteValue.text(userID.lowercasedString)
        return try self.connection.transaction {
            guard let current = try self.user(id: userID) else { return nil }
            try AccountRules.check(.disabled(disabled), of: current, activeAdmins: self.activeAdminCount)
            return try self.connection.queryOne(
                """
                UPDATE users SET disabled = ?, token_version = token_version + ?
                WHERE id = ? RETURNING \(Self.userColumns)
                """,
                [.int(disabled ? 1 : 0), .integer(AccountRules.tokenVersionBump(current, .disabled(disabled))), id],
                Self.decodeUser
            )
        }
    }

    /// Deletes a user with their chats and messages; the user as they were, or nil if there is no such user.
    /// Throws ``StorageError/lastAdmin`` rather than delete the last active admin.
    private func removeUser(id userID: UUID) throws -> UserRecord? {
        try self.checkOpen()
        return try self.connection.transaction {
            guard let current = try self.user(id: userID) else { return nil }
            try AccountRules.check(.deletion, of: current, activeAdmins: self.activeAdminCount)
            let deleted = try self.connection.run("DELETE FROM users WHERE id = ?", [.text(userID.lowercasedString)])
            return deleted == 1 ? current : nil
        }
    }

    /// The ids of a user's chats (to stop their running replies before the user is deleted).
    public func chatIDs(ownerID: UUID) throws -> [UUID] {
        try self.checkOpen()
        return try self.connection.query(
            "SELECT id FROM chats WHERE user_id = ?", [.text(ownerID.lowercasedString)]
        ) { row in
            guard let id = row.uuid(0) else { throw StorageError.corruptRow("chats") }
            return id
        }
    }
}
