import Foundation

/// How many API keys a user may hold at once (``ChatStore/createAPIKey(_:limit:)`` enforces it atomically).
public let apiKeysPerUser = 50

/// A user's API key as stored: never the key itself, only its SHA-256 (``NewAPIKey/hash``) and its first
/// characters after `sk-` (``prefix``), which identify it in lists and logs.
public struct APIKeyRecord: Sendable, Equatable {
    public let id: UUID
    public let userID: UUID
    public let name: String
    public let prefix: String
    public let createdAt: Timestamp
    /// Nil: never expires.
    public let expiresAt: Timestamp?
    /// When the key last authenticated a request, to within ``APIKeyRecord/lastUsedPrecision``; nil: never.
    public let lastUsedAt: Timestamp?
    /// The model ids the key may use; nil: every model on offer.
    public let models: [String]?
    /// Tokens the key may use per UTC month; nil: no budget of its own.
    public let monthlyTokenBudget: Int64?

    public init(
        id: UUID, userID: UUID, name: String, prefix: String, createdAt: Timestamp, expiresAt: Timestamp?,
        lastUsedAt: Timestamp?, models: [String]?, monthlyTokenBudget: Int64?
    ) {
        self.id = id
        self.userID = userID
        self.name = name
        self.prefix = prefix
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.models = models
        self.monthlyTokenBudget = monthlyTokenBudget
    }

    /// `last_used_at` is written at most this often per key, so a busy key costs no write per request.
    public static let lastUsedPrecision: Int64 = 60_000_000

    /// Whether the key has expired at `now`.
    public func isExpired(at now: Timestamp) -> Bool {
        self.expiresAt.map { $0 <= now } ?? false
    }

    /// The models as stored: a JSON array of strings, or nil for every model.
    public static func encodeModels(_ models: [String]?) -> String? {
        guard let models, let data = try? JSONEncoder().encode(models) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The stored JSON array read back; throws ``StorageError/corruptRow(_:)`` for anything else.
    public static func decodeModels(_ text: String?) throws -> [String]? {
        guard let text else { return nil }
        guard let models = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
            throw StorageError.corruptRow("api_keys")
        }
        return models
    }
}

/// What ``ChatStore/createAPIKey(_:limit:)`` writes: the key's SHA-256 (64 hex digits), never the key.
public struct NewAPIKey: Sendable, Equatable {
    public let userID: UUID
    public let name: String
    public let hash: String
    public let prefix: String
    public let expiresAt: Timestamp?
    public let models: [String]?
    public let monthlyTokenBudget: Int64?

    public init(
        userID: UUID, name: String, hash: String, prefix: String, expiresAt: Timestamp?, models: [String]?,
        monthlyTokenBudget: Int64?
    ) {
        self.userID = userID
        self.name = name
        self.hash = hash
        self.prefix = prefix
        self.expiresAt = expiresAt
        self.models = models
        self.monthlyTokenBudget = monthlyTokenBudget
    }
}

/// What ``ChatStore/createAPIKey(_:limit:)`` did.
public enum APIKeyCreation: Sendable, Equatable {
    case created(APIKeyRecord)
    /// The user already holds `limit` keys; nothing was written.
    case limitReached
    /// No such user; nothing was written.
    case noSuchUser
}

/// A key's use in one UTC month: the calls charged to it and their tokens.
public struct APIKeyUsage: Sendable, Equatable {
    public var requests: Int64
    public var totalTokens: Int64

    public init(requests: Int64 = 0, totalTokens: Int64 = 0) {
        self.requests = requests
        self.totalTokens = totalTokens
    }
}

/// A key with its usage this month (``ChatStore/apiKeys(userID:month:)``).
public struct APIKeyListing: Sendable, Equatable {
    public let key: APIKeyRecord
    public let usage: APIKeyUsage

    public init(key: APIKeyRecord, usage: APIKeyUsage) {
        self.key = key
        self.usage = usage
    }
}

/// A key found by its hash, with its user as they are now (``ChatStore/apiKeyOwner(hash:)``).
public struct APIKeyOwner: Sendable, Equatable {
    public let key: APIKeyRecord
    public let user: UserRecord

    public init(key: APIKeyRecord, user: UserRecord) {
        self.key = key
        self.user = user
    }
}

/// A key as `chat-server copy` moves it (``StoreCopying``): the record, its hash, its usage per month.
public struct APIKeyCopy: Sendable, Equatable {
    public let key: APIKeyRecord
    public let hash: String
    /// Oldest month first.
    public let months: [APIKeyMonth]

    public init(key: APIKeyRecord, hash: String, months: [APIKeyMonth]) {
        self.key = key
        self.hash = hash
        self.months = months
    }
}

/// A key's usage in the month that begins on ``month``.
public struct APIKeyMonth: Sendable, Equatable {
    public let month: UsageDay
    public let usage: APIKeyUsage

    public init(month: UsageDay, usage: APIKeyUsage) {
        self.month = month
        self.usage = usage
    }
}
