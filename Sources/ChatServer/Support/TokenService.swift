import ChatAuth
import ChatStorage
import Foundation
import Synchronization

/// Issues and verifies the API's access tokens (JWT HS256 with `sub`, `ver`, `iat`, `exp`).
public struct TokenService: Sendable {
    private let signer: JWTSigner
    public let lifetimeSeconds: Int64
    private let verified = VerifiedTokenCache(capacity: 4096)

    public init(secret: [UInt8], lifetimeMinutes: Int) {
        self.signer = JWTSigner(secret: secret)
        self.lifetimeSeconds = Int64(lifetimeMinutes) * 60
    }

    public func issue(for user: UserRecord, now: Int64 = Timestamp.now().secondsSinceEpoch) throws -> String {
        try self.signer.sign(
            TokenClaims(
                sub: user.id.lowercasedString, ver: user.tokenVersion, iat: now, exp: now + self.lifetimeSeconds)
        )
    }

    public func verify(_ token: String, now: Int64 = Timestamp.now().secondsSinceEpoch) throws(TokenError)
        -> TokenClaims
    {
        try self.signer.verify(token, now: now)
    }

    /// The key used when `JWT_SECRET_KEY` is unset: 32 random bytes made on first start and kept in the
    /// database, so tokens survive restarts and no default secret exists.
    static func persistedSecret(in database: DatabaseActor) async throws -> [UInt8] {
        let candidate = Base64.encode(try SecureRandom.bytes(32))
        let stored = try await database.settingInsertingIfAbsent("jwt_secret", value: candidate)
        return Array(stored.utf8)
    }
}

/// Tokens whose signature has been verified, with their claims. Bounded: when full it starts over, so
/// memory stays small whatever the number of clients.
final class VerifiedTokenCache: Sendable {
    private let entries = Mutex<[String: TokenClaims]>([:])
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    subscript(token: String) -> TokenClaims? {
        get { self.entries.withLock { $0[token] } }
        set {
            self.entries.withLock { entries in
                if entries.count >= self.capacity { entries.removeAll(keepingCapacity: true) }
                entries[token] = newValue
            }
        }
    }
}
