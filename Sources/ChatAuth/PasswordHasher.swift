import CCrypto
import NIOCore
import NIOPosix

/// The cost parameters of scrypt. Stored with every hash, so they can be raised without breaking old hashes.
public struct ScryptParameters: Sendable, Equatable, CustomStringConvertible {
    /// log2 of N, the CPU/memory cost.
    public var logN: Int
    /// Block size.
    public var r: Int
    /// Parallelisation.
    public var p: Int

    /// N = 2^15, r = 8, p = 1: 32 MiB and tens of milliseconds per hash.
    public static let recommended = ScryptParameters(logN: 15, r: 8, p: 1)

    public init(logN: Int, r: Int, p: Int) {
        self.logN = logN
        self.r = r
        self.p = p
    }

    /// Memory scrypt needs for these parameters, with headroom; passed to OpenSSL as `maxmem`.
    var memoryLimit: UInt64 { 2 * 128 * UInt64(r) * (UInt64(1) << UInt64(logN) + UInt64(p) + 2) }

    var isSupported: Bool { (1...22).contains(logN) && (1...32).contains(r) && (1...16).contains(p) }

    public var description: String { "ln=\(logN),r=\(r),p=\(p)" }
}

/// Hashes and verifies passwords with scrypt (OpenSSL `EVP_PBE_scrypt`).
///
/// Format: `$scrypt$ln=15,r=8,p=1$<salt>$<key>` (standard base64, unpadded), with a random 16-byte salt
/// per hash. Verification compares in constant time.
///
/// Every derivation runs on a dedicated `NIOThreadPool` (one thread fewer than the machine has cores), so a
/// burst of logins neither blocks Swift's cooperative pool nor takes every core from request handling.
public struct PasswordHasher: Sendable {
    public let parameters: ScryptParameters
    private let threadPool: NIOThreadPool
    private static let keyLength = 32
    private static let saltLength = 16

    /// The process-wide pool for password hashing: `max(1, cores - 1)` threads.
    public static let sharedThreadPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: max(1, System.coreCount - 1))
        pool.start()
        return pool
    }()

    public init(parameters: ScryptParameters = .recommended, threadPool: NIOThreadPool = Self.sharedThreadPool) {
        self.parameters = parameters
        self.threadPool = threadPool
    }

    /// Hashes `password` with a fresh salt and the current parameters.
    public func hash(_ password: String) async throws -> String {
        let parameters = self.parameters
        let salt = try SecureRandom.bytes(Self.saltLength)
        let key = try await self.threadPool.runIfActive {
            try Self.derive(password: Array(password.utf8), salt: salt, parameters: parameters)
        }
        return Self.encode(parameters: parameters, salt: salt, key: key)
    }

    /// True when `password` matches `encoded`. A hash this type cannot parse never matches.
    public func verify(_ password: String, against encoded: String) async throws -> Bool {
        guard let stored = Self.decode(encoded) else {
            try await self.burnVerification(password)
            return false
        }
        let key = try await self.threadPool.runIfActive {
            try Self.derive(password: Array(password.utf8), salt: stored.salt, parameters: stored.parameters)
        }
        return constantTimeEquals(key, stored.key)
    }

    /// Spends the time of one verification and learns nothing: used when the email is unknown, so the
    /// response time does not tell whether an account exists.
    public func burnVerification(_ password: String) async throws {
        let parameters = self.parameters
        _ = try await self.threadPool.runIfActive {
            try Self.derive(
                password: Array(password.utf8), salt: [UInt8](repeating: 0, count: Self.saltLength),
                parameters: parameters)
        }
    }

    /// True when `encoded` was made with parameters other than the current ones (or cannot be parsed).
    public func needsRehash(_ encoded: String) -> Bool {
        Self.decode(encoded)?.parameters != self.parameters
    }

    static func derive(password: [UInt8], salt: [UInt8], parameters: ScryptParameters) throws -> [UInt8] {
        guard parameters.isSupported else { throw CryptoError.scryptFailed }
        var key = [UInt8](repeating: 0, count: keyLength)
        let passwordCharacters = password.map { CChar(bitPattern: $0) }
        let result = passwordCharacters.withUnsafeBufferPointer { passwordBuffer in
            salt.withUnsafeBufferPointer { saltBuffer in
                key.withUnsafeMutableBufferPointer { keyBuffer in
                    // An empty password has no base address; OpenSSL treats a NULL password as empty.
                    EVP_PBE_scrypt(
                        passwordBuffer.baseAddress,
                        passwordBuffer.count,
                        saltBuffer.baseAddress,
                        saltBuffer.count,
                        UInt64(1) << UInt64(parameters.logN),
                        UInt64(parameters.r),
                        UInt64(parameters.p),
                        parameters.memoryLimit,
                        keyBuffer.baseAddress,
                        keyBuffer.count
                    )
                }
            }
        }
        guard result == 1 else { throw CryptoError.scryptFailed }
        return key
    }

    static func encode(parameters: ScryptParameters, salt: [UInt8], key: [UInt8]) -> String {
        "$scrypt$\(parameters)$\(Base64.encode(salt, alphabet: .standard))$\(Base64.encode(key, alphabet: .standard))"
    }

    static func decode(_ encoded: String) -> (parameters: ScryptParameters, salt: [UInt8], key: [UInt8])? {
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty, fields[1] == "scrypt" else { return nil }
        var values: [Substring: Int] = [:]
        for pair in fields[2].split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Int(parts[1]) else { return nil }
            values[parts[0]] = value
        }
        guard let logN = values["ln"], let r = values["r"], let p = values["p"],
            let salt = Base64.decode(fields[3], alphabet: .standard),
            let key = Base64.decode(fields[4], alphabet: .standard), key.count == keyLength
        else { return nil }
        let parameters = ScryptParameters(logN: logN, r: r, p: p)
        guard parameters.isSupported else { return nil }
        return (parameters, salt, key)
    }
}
