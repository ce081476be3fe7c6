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
        if let user { self.users.store(user) }
        return user
    }

    /// The user as read within the last second (see ``UserCache``) without leaving the caller's thread, or
    /// nil: then ask ``user(id:)``. For authentication, where every request reads its user.
    public nonisolated func recentUser(id: UUID) -> UserRecord? {
        self.users.user(id: id)
    }

    /// The user for authenticating a request: from the cache when it holds a recent read (no trip to the
    /// database thread), else read (and cached) now, once for all the requests that missed together.
    public nonisolated func currentUser(id: UUID) async throws -> UserRecord? {
        try await self.users.user(id: id) { try await self.user(id: id) }
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

    /// Bumps the user's token version, which invalidates every token issued before. Returns false if no such user.
    @discardableResult
    public func revokeTokens(userID: UUID) async throws -> Bool {
        let id = SQLiteValue.text(userID.lowercasedString)
        defer { self.users.remove(userID) }
        return try await self.write { connection in
            try connection.run("UPDATE users SET token_version = token_version + 1 WHERE id = ?", [id]) == 1
        }
    }

    /// Replaces a password hash (used to upgrade hashes made with older scrypt parameters).
    public func updatePasswordHash(userID: UUID, passwordHash: String) throws {
        try self.checkOpen()
        defer { self.users.remove(userID) }
        try self.connection.run(
            "UPDATE users SET password_hash = ? WHERE id = ?",
            [.text(passwordHash), .text(userID.lowercasedString)]
        )
    }

    /// A page of users, oldest first, and how many users there are.
    public func users(limit: Int, offset: Int) throws -> (users: [UserRecord], total: Int) {
        try self.checkOpen()
        let users = try self.connection.query(
            "SELECT \(Self.userColumns) FROM users ORDER BY created_at, id LIMIT ? OFFSET ?",
            [.int(limit), .int(offset)],
            Self.decodeUser
        )
        let total = try self.connection.queryOne("SELECT count(*) FROM users") { $0.int(0) } ?? 0
        return (users, total)
    }

    /// Sets a user's role. Returns nil if there is no such user.
    /// Throws ``StorageError/lastAdmin`` rather than leave the database without an admin.
    public func setRole(userID: UUID, role: UserRole) throws -> UserRecord? {
        try self.checkOpen()
        defer { self.users.remove(userID) }
        return try self.connection.transaction {
            try self.setRoleInTransaction(
                where: "id = ?",
                argument: .text(userID.lowercasedString),
                role: role
            )
        }
    }

    /// Sets the role of the user with this email (case-insensitive). Returns nil if there is no such user.
    public func setRole(email: String, role: UserRole) throws -> UserRecord? {
        try self.checkOpen()
        defer { self.users.removeAll() }
        return try self.connection.transaction {
            try self.setRoleInTransaction(where: "email = ?", argument: .text(email), role: role)
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
    @discardableResult
    public func promoteAdmins(emails: [String]) throws -> Int {
        try self.checkOpen()
        defer { self.users.removeAll() }
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
    public func setDisabled(userID: UUID, disabled: Bool) throws -> UserRecord? {
        try self.checkOpen()
        defer { self.users.remove(userID) }
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

    /// Deletes a user with their chats and messages. Returns false if there is no such user; throws
    /// ``StorageError/lastAdmin`` rather than delete the last active admin.
    public func deleteUser(id userID: UUID) throws -> Bool {
        try self.checkOpen()
        defer { self.users.remove(userID) }
        return try self.connection.transaction {
            guard let current = try self.user(id: userID) else { return false }
            try AccountRules.check(.deletion, of: current, activeAdmins: self.activeAdminCount)
            return try self.connection.run("DELETE FROM users WHERE id = ?", [.text(userID.lowercasedString)]) == 1
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
