import ChatAuth
import ChatStorage
import Foundation

/// Issues and verifies the API's access tokens (JWT HS256 with `sub`, `ver`, `iat`, `exp`).
public struct TokenService: Sendable {
    private let signer: JWTSigner
    public let lifetimeSeconds: Int64

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
