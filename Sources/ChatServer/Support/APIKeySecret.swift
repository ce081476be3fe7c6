import ChatAuth

/// An API key as handed to its user once: `sk-` and 43 characters of base64url (32 random bytes from
/// OpenSSL's CSPRNG). Only its SHA-256 (``hash``) and ``prefix`` are kept; the key itself is never stored or
/// logged.
struct APIKeySecret: Sendable {
    static let marker = "sk-"
    static let randomByteCount = 32
    static let prefixLength = 8

    let key: String
    let hash: String
    /// The first characters after `sk-`, which identify the key in lists and logs.
    let prefix: String

    /// A new random key.
    static func generate() throws -> APIKeySecret {
        let key = Self.marker + Base64.encode(try SecureRandom.bytes(Self.randomByteCount))
        return APIKeySecret(
            key: key, hash: try Self.hash(of: key),
            prefix: String(key.dropFirst(Self.marker.count).prefix(Self.prefixLength)))
    }

    /// The stored form of `key`: SHA-256 of its UTF-8, as 64 hex digits.
    static func hash(of key: String) throws -> String {
        try SHA256.hexDigest(key.utf8)
    }

    /// Whether a bearer credential is an API key (JWTs never start so: their first part is base64url of `{"`).
    static func isAPIKey(_ credential: some StringProtocol) -> Bool {
        credential.hasPrefix(Self.marker)
    }
}
