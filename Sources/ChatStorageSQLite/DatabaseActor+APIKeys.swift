import ChatStorage
import Foundation

/// Users' API keys (`api_keys`) and their usage per month (`api_key_usage`).
extension DatabaseActor {
    static let apiKeyColumns =
        "k.id, k.user_id, k.name, k.prefix, k.created_at, k.expires_at, k.last_used_at, k.models, k.monthly_token_budget"

    /// The key's columns in a `RETURNING` clause (where SQLite takes no table alias).
    static let apiKeyReturning = apiKeyColumns.replacingOccurrences(of: "k.", with: "")

    /// A key and its user by the key's hash: the user's columns first, as ``decodeUser(_:)`` reads them.
    static let apiKeyOwnerSQL = """
        SELECT \(userColumns.split(separator: ", ").map { "u." + $0 }.joined(separator: ", ")), \(apiKeyColumns)
        FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?
        """

    /// The key in the row's columns from `first` on (``apiKeyColumns``).
    static func decodeAPIKey(_ row: Row, from first: Int32 = 0) throws -> APIKeyRecord {
        guard let id = row.uuid(first), let userID = row.uuid(first + 1) else {
            throw StorageError.corruptRow("api_keys")
        }
        func optional(_ column: Int32) -> Int64? { row.isNull(column) ? nil : row.int64(column) }
        return APIKeyRecord(
            id: id, userID: userID, name: row.text(first + 2), prefix: row.text(first + 3),
            createdAt: Timestamp(microseconds: row.int64(first + 4)),
            expiresAt: optional(first + 5).map(Timestamp.init(microseconds:)),
            lastUsedAt: optional(first + 6).map(Timestamp.init(microseconds:)),
            models: try APIKeyRecord.decodeModels(row.isNull(first + 7) ? nil : row.text(first + 7)),
            monthlyTokenBudget: optional(first + 8))
    }

    public func createAPIKey(_ key: NewAPIKey, limit: Int) async throws -> APIKeyCreation {
        let user = SQLiteValue.text(key.userID.lowercasedString)
        let arguments: [SQLiteValue] = [
            .text(UUID().lowercasedString), user, .text(key.name), .text(key.hash), .text(key.prefix),
            .integer(Timestamp.now().microseconds), key.expiresAt.map { .integer($0.microseconds) } ?? .null,
            APIKeyRecord.encodeModels(key.models).map { .text($0) } ?? .null,
            key.monthlyTokenBudget.map { .integer($0) } ?? .null,
        ]
        // Writes run one at a time on this thread, so nothing comes between the count and the insert.
        return try await self.write { connection in
            guard try connection.queryOne("SELECT 1 FROM users WHERE id = ?", [user], { $0.int(0) }) != nil else {
                return .noSuchUser
            }
            let held = try connection.queryOne("SELECT count(*) FROM api_keys WHERE user_id = ?", [user]) { $0.int(0) }
            guard (held ?? 0) < limit else { return .limitReached }
            let record = try connection.queryOne(
                """
                INSERT INTO api_keys (id, user_id, name, key_hash, prefix, created_at, expires_at, models,
                    monthly_token_budget)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                RETURNING \(Self.apiKeyReturning)
                """,
                arguments, { try Self.decodeAPIKey($0) })
            guard let record else { throw StorageError.corruptRow("api_keys") }
            return .created(record)
        }
    }

    public func apiKeys(userID: UUID, month: UsageDay) throws -> [APIKeyListing] {
        try self.checkOpen()
        return try self.connection.query(
            """
            SELECT \(Self.apiKeyColumns), coalesce(u.requests, 0), coalesce(u.total_tokens, 0)
            FROM api_keys k LEFT JOIN api_key_usage u ON u.key_id = k.id AND u.month = ?
            WHERE k.user_id = ? ORDER BY k.created_at, k.id
            """,
            [.int(month.number), .text(userID.lowercasedString)]
        ) { row in
            APIKeyListing(
                key: try Self.decodeAPIKey(row), usage: APIKeyUsage(requests: row.int64(9), totalTokens: row.int64(10)))
        }
    }

    /// The key and its user from the caches when both hold a recent read (``APIKeyCache``), else read on the
    /// database thread.
    public nonisolated func apiKeyOwner(hash: String) async throws -> APIKeyOwner? {
        if let key = self.apiKeyCache.key(hash: hash), let user = self.userCache.user(id: key.userID) {
            return APIKeyOwner(key: key, user: user)
        }
        return try await self.readAPIKeyOwner(hash: hash)
    }

    /// Reads the key and its user, and caches both.
    func readAPIKeyOwner(hash: String) throws -> APIKeyOwner? {
        try self.checkOpen()
        let owner = try self.connection.queryOne(Self.apiKeyOwnerSQL, [.text(hash)]) { row in
            APIKeyOwner(key: try Self.decodeAPIKey(row, from: 9), user: try Self.decodeUser(row))
        }
        if let owner {
            self.apiKeyCache.store(owner.key, hash: hash)
            self.userCache.store(owner.user)
        }
        return owner
    }

    public func deleteAPIKey(id: UUID, userID: UUID?) async throws -> Bool {
        let arguments: [SQLiteValue] = [.text(id.lowercasedString), userID.map { .text($0.lowercasedString) } ?? .null]
        defer { self.apiKeyCache.remove(id: id) }
        return try await self.write { connection in
            try connection.run("DELETE FROM api_keys WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)", arguments) == 1
        }
    }

    public func touchAPIKey(id: UUID, at: Timestamp) async throws {
        let arguments: [SQLiteValue] = [
            .integer(at.microseconds), .text(id.lowercasedString),
            .integer(at.microseconds - APIKeyRecord.lastUsedPrecision),
        ]
        defer { self.apiKeyCache.remove(id: id) }
        try await self.write { connection in
            try connection.run(
                "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at <= ?3)",
                arguments)
        }
    }
}

/// API keys for `chat-server copy` (``StoreCopying``).
extension DatabaseActor {
    public func apiKeysForCopy(userID: UUID) throws -> [APIKeyCopy] {
        try self.checkOpen()
        let keys = try self.connection.query(
            "SELECT \(Self.apiKeyColumns), k.key_hash FROM api_keys k WHERE k.user_id = ? ORDER BY k.created_at, k.id",
            [.text(userID.lowercasedString)]
        ) { row in (try Self.decodeAPIKey(row), row.text(9)) }
        return try keys.map { key, hash in
            let months = try self.connection.query(
                "SELECT month, requests, total_tokens FROM api_key_usage WHERE key_id = ? ORDER BY month",
                [.text(key.id.lowercasedString)]
            ) { row in
                APIKeyMonth(
                    month: UsageDay(number: row.int(0)),
                    usage: APIKeyUsage(requests: row.int64(1), totalTokens: row.int64(2)))
            }
            return APIKeyCopy(key: key, hash: hash, months: months)
        }
    }

    public func importAPIKeys(_ keys: [APIKeyCopy]) throws {
        try self.checkOpen()
        try self.connection.transaction {
            for copy in keys {
                let key = copy.key
                try self.connection.run(
                    """
                    INSERT INTO api_keys (id, user_id, name, key_hash, prefix, created_at, expires_at, last_used_at,
                        models, monthly_token_budget)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(key.id.lowercasedString), .text(key.userID.lowercasedString), .text(key.name),
                        .text(copy.hash), .text(key.prefix), .integer(key.createdAt.microseconds),
                        key.expiresAt.map { .integer($0.microseconds) } ?? .null,
                        key.lastUsedAt.map { .integer($0.microseconds) } ?? .null,
                        APIKeyRecord.encodeModels(key.models).map { .text($0) } ?? .null,
                        key.monthlyTokenBudget.map { .integer($0) } ?? .null,
                    ])
                for month in copy.months {
                    try self.connection.run(
                        "INSERT INTO api_key_usage (key_id, month, requests, total_tokens) VALUES (?, ?, ?, ?)",
                        [
                            .text(key.id.lowercasedString), .int(month.month.number),
                            .integer(month.usage.requests), .integer(month.usage.totalTokens),
                        ])
                }
            }
        }
    }
}
