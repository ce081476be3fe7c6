import Foundation

/// The claims of an access token.
public struct TokenClaims: Codable, Sendable, Equatable {
    /// The user's id.
    public var sub: String
    /// The user's token version when the token was issued; a bump revokes the token.
    public var ver: Int64
    /// Issued at, seconds since the epoch.
    public var iat: Int64
    /// Expires at, seconds since the epoch.
    public var exp: Int64

    public init(sub: String, ver: Int64, iat: Int64, exp: Int64) {
        self.sub = sub
        self.ver = ver
        self.iat = iat
        self.exp = exp
    }
}

/// Why a token was refused. Every case answers 401; the distinction is for logs and tests.
public enum TokenError: Error, Equatable, Sendable {
    case malformed
    case unsupportedAlgorithm(String)
    case badSignature
    case expired
    case notYetValid
}

/// Signs and verifies JSON Web Tokens with HMAC-SHA256 (HS256).
///
/// Only `alg: HS256` is accepted: `none` and every other algorithm are refused before the signature is
/// even looked at, and the signature is compared in constant time.
public struct JWTSigner: Sendable {
    private let key: [UInt8]
    private static let encodedHeader = Base64.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
    /// Longer tokens are refused without parsing.
    public static let maximumLength = 4096
    /// Tolerated clock difference for `iat`.
    static let clockSkewSeconds: Int64 = 60

    public init(secret: [UInt8]) {
        self.key = secret
    }

    public func sign(_ claims: TokenClaims) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let payload = Base64.encode(try encoder.encode(claims))
        let signingInput = Self.encodedHeader + "." + payload
        let signature = try HMACSHA256.authenticate(Array(signingInput.utf8), key: self.key)
        return signingInput + "." + Base64.encode(signature)
    }

    /// Checks the token's form, algorithm, signature and lifetime, and returns its claims.
    public func verify(_ token: String, now: Int64) throws(TokenError) -> TokenClaims {
        guard token.utf8.count <= Self.maximumLength else { throw .malformed }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { throw .malformed }

        struct Header: Decodable {
            let alg: String
            let typ: String?
            let crit: [String]?
        }
        guard let headerBytes = Base64.decode(parts[0]),
            let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes))
        else { throw .malformed }
        guard header.alg == "HS256" else { throw .unsupportedAlgorithm(header.alg) }
        guard header.typ == nil || header.typ == "JWT", header.crit == nil else { throw .malformed }

        guard let signature = Base64.decode(parts[2]), signature.count == HMACSHA256.byteCount else {
            throw .badSignature
        }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard let expected = try? HMACSHA256.authenticate(signingInput, key: self.key),
            constantTimeEquals(expected, signature)
        else { throw .badSignature }

        guard let payloadBytes = Base64.decode(parts[1]),
            let claims = try? JSONDecoder().decode(TokenClaims.self, from: Data(payloadBytes))
        else { throw .malformed }
        guard claims.exp > now else { throw .expired }
        guard claims.iat <= now + Self.clockSkewSeconds else { throw .notYetValid }
        return claims
    }
}
