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

    /// The token's claims if its signature is valid and it has not expired. A token verified before is taken
    /// from the cache (no HMAC, no JSON decoding); its expiry is checked again every time.
    public func verify(_ token: String, now: Int64 = Timestamp.now().secondsSinceEpoch) throws(TokenError)
        -> TokenClaims
    {
        if let claims = self.verified[token] {
            guard claims.exp > now else { throw .expired }
            return claims
        }
        let claims = try self.signer.verify(token, now: now)
        self.verified[token] = claims
        return claims
    }

    /// Whether `token` is in the verified-token cache (for tests).
    func isCached(_ token: String) -> Bool { self.verified[token] != nil }

    /// The key used when `JWT_SECRET_KEY` is unset: 32 random bytes made on first start and kept in the
    /// database, so tokens survive restarts and no default secret exists.
    static func persistedSecret(in database: any ChatStore) async throws -> [UInt8] {
        let candidate = Base64.encode(try SecureRandom.bytes(32))
        let stored = try await database.settingInsertingIfAbsent("jwt_secret", value: candidate)
        return Array(stored.utf8)
    }
}

/// Tokens whose signature has been verified, with their claims (the key is the whole token, so a token that
/// differs in any byte is verified afresh). Bounded: when full it starts over, so memory stays small whatever
/// the number of clients.
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
