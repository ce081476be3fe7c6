import ChatStorage
import Foundation
import PostgresNIO

/// Users' API keys (`api_keys`) and their usage per month (`api_key_usage`).
extension PostgresStore {
    static let apiKeyColumns =
        "k.id, k.user_id, k.name, k.prefix, k.created_at, k.expires_at, k.last_used_at, k.models, k.monthly_token_budget"

    /// A key and its user by the key's hash: the user's columns first, as ``decodeUser(_:)`` reads them.
    static let apiKeyOwnerColumns =
        userColumns.split(separator: ", ").map { "u." + $0 }.joined(separator: ", ") + ", " + apiKeyColumns

    static func decodeAPIKey(_ cells: inout RowCells) throws -> APIKeyRecord {
        let id = try cells.next(UUID.self)
        let userID = try cells.next(UUID.self)
        let name = try cells.next(String.self)
        let prefix = try cells.next(String.self)
        let createdAt = try cells.next(Int64.self)
        let expiresAt = try cells.next(Int64?.self)
        let lastUsedAt = try cells.next(Int64?.self)
        let models = try cells.next(String?.self)
        let budget = try cells.next(Int64?.self)
        return APIKeyRecord(
            id: id, userID: userID, name: name, prefix: prefix, createdAt: Timestamp(microseconds: createdAt),
            expiresAt: expiresAt.map(Timestamp.init(microseconds:)),
            lastUsedAt: lastUsedAt.map(Timestamp.init(microseconds:)), models: try APIKeyRecord.decodeModels(models),
            monthlyTokenBudget: budget)
    }

    public func createAPIKey(_ key: NewAPIKey, limit: Int) async throws -> APIKeyCreation {
        try await self.transaction { transaction in
            // The user's row locked (NO KEY UPDATE: rows referring to the user can still be written), so keys
            // created at once for one user are counted one after the other.
            guard
                try await transaction.one(
                    "SELECT 1 FROM users WHERE id = \(key.userID) FOR NO KEY UPDATE", { _ in () }) != nil
            else { return .noSuchUser }
            let held =
                try await transaction.one(
                    "SELECT count(*) FROM api_keys WHERE user_id = \(key.userID)", { try $0.decode(Int64.self) }) ?? 0
            guard held < Int64(limit) else { return .limitReached }
            let record = try await transaction.one(
                """
                INSERT INTO api_keys AS k (id, user_id, name, key_hash, prefix, created_at, expires_at, models,
                    monthly_token_budget)
                VALUES (\(UUID()), \(key.userID), \(key.name), \(key.hash), \(key.prefix),
                    \(Timestamp.now().microseconds), \(key.expiresAt?.microseconds),
                    \(APIKeyRecord.encodeModels(key.models)), \(key.monthlyTokenBudget))
                RETURNING \(unescaped: Self.apiKeyColumns)
                """
            ) { row in
                var cells = RowCells(row, of: "api_keys")
                return try Self.decodeAPIKey(&cells)
            }
            guard let record else { throw StorageError.corruptRow("api_keys") }
            return .created(record)
        }
    }

    public func apiKeys(userID: UUID, month: UsageDay) async throws -> [APIKeyListing] {
        try await self.rows(
            """
            SELECT \(unescaped: Self.apiKeyColumns), coalesce(u.requests, 0), coalesce(u.total_tokens, 0)
            FROM api_keys k LEFT JOIN api_key_usage u ON u.key_id = k.id AND u.month = \(Int32(clamping: month.number))
            WHERE k.user_id = \(userID) ORDER BY k.created_at, k.id
            """
        ) { row in
            var cells = RowCells(row, of: "api_keys")
            let key = try Self.decodeAPIKey(&cells)
            return APIKeyListing(
                key: key,
                usage: APIKeyUsage(requests: try cells.next(Int64.self), totalTokens: try cells.next(Int64.self)))
        }
    }

    public func apiKeyOwner(hash: String) async throws -> APIKeyOwner? {
        try await self.rows(APIKeyOwnerStatement(hash: hash)).first
    }

    public func deleteAPIKey(id: UUID, userID: UUID?) async throws -> Bool {
        try await !self.write(
            """
            DELETE FROM api_keys WHERE id = \(id) AND (\(userID)::uuid IS NULL OR user_id = \(userID)) RETURNING 1
            """,
            { _ in () }
        ).isEmpty
    }

    public func touchAPIKey(id: UUID, at: Timestamp) async throws {
        let threshold = at.microseconds - APIKeyRecord.lastUsedPrecision
        try await self.execute(
            """
            UPDATE api_keys SET last_used_at = \(at.microseconds)
            WHERE id = \(id) AND (last_used_at IS NULL OR last_used_at <= \(threshold))
            """)
    }
}

/// API keys for `chat-server copy` (``StoreCopying``).
extension PostgresStore {
    public func apiKeysForCopy(userID: UUID) async throws -> [APIKeyCopy] {
        let keys = try await self.rows(
            """
            SELECT \(unescaped: Self.apiKeyColumns), k.key_hash FROM api_keys k WHERE k.user_id = \(userID)
            ORDER BY k.created_at, k.id
            """
        ) { row in
            var cells = RowCells(row, of: "api_keys")
            return (try Self.decodeAPIKey(&cells), try cells.next(String.self))
        }
        var copies: [APIKeyCopy] = []
        for (key, hash) in keys {
            let months = try await self.rows(
                """
                SELECT month, requests, total_tokens FROM api_key_usage WHERE key_id = \(key.id) ORDER BY month
                """
            ) { row in
                var cells = RowCells(row, of: "api_key_usage")
                let month = try cells.next(Int32.self)
                return APIKeyMonth(
                    month: UsageDay(number: Int(month)),
                    usage: APIKeyUsage(requests: try cells.next(Int64.self), totalTokens: try cells.next(Int64.self)))
            }
            copies.append(APIKeyCopy(key: key, hash: hash, months: months))
        }
        return copies
    }

    public func importAPIKeys(_ keys: [APIKeyCopy]) async throws {
        guard !keys.isEmpty else { return }
        try await self.transaction { transaction in
            for copy in keys {
                let key = copy.key
                try await transaction.execute(
                    """
                    INSERT INTO api_keys (id, user_id, name, key_hash, prefix, created_at, expires_at, last_used_at,
                        models, monthly_token_budget)
                    VALUES (\(key.id), \(key.userID), \(key.name), \(copy.hash), \(key.prefix),
                        \(key.createdAt.microseconds), \(key.expiresAt?.microseconds), \(key.lastUsedAt?.microseconds),
                        \(APIKeyRecord.encodeModels(key.models)), \(key.monthlyTokenBudget))
                    """)
                for month in copy.months {
                    try await transaction.execute(
                        """
                        INSERT INTO api_key_usage (key_id, month, requests, total_tokens)
                        VALUES (\(key.id), \(Int32(clamping: month.month.number)), \(month.usage.requests),
                            \(month.usage.totalTokens))
                        """)
                }
            }
        }
    }
}
