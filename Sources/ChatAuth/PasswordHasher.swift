import CCrypto
import Foundation
import NIOCore
import NIOPosix
import Synchronization

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

/// Thrown at once, without waiting, when ``PasswordHasher/queueLimit`` derivations are already waiting or
/// running (or half of them are sign-ups and this is another): the caller answers 503 with `Retry-After`
/// instead of queueing without bound.
public struct PasswordHashingBusy: Error, Sendable {}

/// Hashes and verifies passwords with scrypt (OpenSSL `EVP_PBE_scrypt`).
///
/// Format: `$scrypt$ln=15,r=8,p=1$<salt>$<key>` (standard base64, unpadded), with a random 16-byte salt
/// per hash. Passwords are normalised to Unicode NFC first, so the same typed password matches from any
/// keyboard. Verification compares in constant time.
///
/// Every derivation runs on a dedicated `NIOThreadPool` (one thread fewer than the machine has cores), so a
/// burst of logins neither blocks Swift's cooperative pool nor takes every core from request handling. Which
/// derivation gets a thread next is decided by ``HashingLanes``: sign-ins (``verify(_:against:)``,
/// ``burnVerification(_:)``) before sign-ups, which may hold at most half of the `queueLimit` places. More than
/// `queueLimit` fail with ``PasswordHashingBusy`` at once.
///
/// Timing: every failed verification takes at least as long as one derivation at the current parameters
/// (``burnVerification(_:)`` for an unknown email does one), so a hash made before the cost was raised does
/// not tell, by a faster answer, that its account exists.
public struct PasswordHasher: Sendable {
    public let parameters: ScryptParameters
    public let queueLimit: Int
    private let threadPool: NIOThreadPool
    private let lanes: HashingLanes
    private let currentCost = DerivationTimes()
    private static let keyLength = 32
    private static let saltLength = 16

    /// The threads of ``sharedThreadPool``: `max(1, cores - 1)`.
    public static let sharedThreadCount = max(1, System.coreCount - 1)

    /// The process-wide pool for password hashing.
    public static let sharedThreadPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: sharedThreadCount)
        pool.start()
        return pool
    }()

    /// `threads` must be the number of threads of `threadPool`: at most that many derivations are handed to it
    /// at once, so the order in which they run is decided here rather than in the pool's own queue.
    public init(
        parameters: ScryptParameters = .recommended, queueLimit: Int = 64,
        threadPool: NIOThreadPool = Self.sharedThreadPool, threads: Int = Self.sharedThreadCount
    ) {
        self.parameters = parameters
        self.queueLimit = queueLimit
        self.threadPool = threadPool
        self.lanes = HashingLanes(threads: threads, queueLimit: queueLimit)
    }

    /// Derivations waiting and running now, per purpose.
    public var load: HashingLoad { self.lanes.load }

    /// Unicode NFC: `é` typed as one code point or as `e` + combining accent is the same password.
    public static func normalize(_ password: String) -> String {
        password.precomposedStringWithCanonicalMapping
    }

    /// Hashes `password` (normalised) with a fresh salt and the current parameters; `purpose` places it in the
    /// queue (a new account by default; `.signIn` to upgrade the hash of someone who just signed in).
    public func hash(_ password: String, for purpose: HashingPurpose = .signUp) async throws -> String {
        let parameters = self.parameters
        let salt = try SecureRandom.bytes(Self.saltLength)
        let key = try await self.derive(
            Array(Self.normalize(password).utf8), salt: salt, parameters: parameters, for: purpose)
        return Self.encode(parameters: parameters, salt: salt, key: key)
    }

    /// True when `password` matches `encoded`. A hash this type cannot parse never matches. A password that
    /// is not in NFC is also tried as typed, so hashes made before passwords were normalised keep working.
    public func verify(_ password: String, against encoded: String) async throws -> Bool {
        let started = ContinuousClock.now
        guard let stored = Self.decode(encoded) else {
            try await self.burnVerification(password)
            return false
        }
        let normalized = Self.normalize(password)
        var candidates = [normalized]
        if normalized != password { candidates.append(password) }
        for candidate in candidates {
            let key = try await self.derive(
                Array(candidate.utf8), salt: stored.salt, parameters: stored.parameters, for: .signIn)
            if constantTimeEquals(key, stored.key) { return true }
        }
        if stored.parameters != self.parameters {
            // A cheaper (older) hash answers no sooner than a derivation at the current cost would: pad to the
            // typical time of one, or, before any has run since start, run one.
            let typical = self.currentCost.typical
            if typical == .zero {
                try await self.burnVerification(password)
            } else {
                try? await Task.sleep(until: started + typical, clock: .continuous)
            }
        }
        return false
    }

    /// Spends the time of one verification and learns nothing: used when the email is unknown, so the
    /// response time does not tell whether an account exists.
    public func burnVerification(_ password: String) async throws {
        _ = try await self.derive(
            Array(Self.normalize(password).utf8), salt: [UInt8](repeating: 0, count: Self.saltLength),
            parameters: self.parameters, for: .signIn)
    }

    /// One derivation on the pool, in its turn (see ``HashingLanes``); times derivations at the current cost.
    private func derive(
        _ password: [UInt8], salt: [UInt8], parameters: ScryptParameters, for purpose: HashingPurpose
    ) async throws -> [UInt8] {
        let current = parameters == self.parameters ? self.currentCost : nil
        return try await self.lanes.withTurn(purpose) {
            try await self.threadPool.runIfActive {
                let started = ContinuousClock.now
                let key = try Self.derive(password: password, salt: salt, parameters: parameters)
                current?.record(ContinuousClock.now - started)
                return key
            }
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

/// How long a derivation at the current parameters takes, from the last few that ran (their median).
private final class DerivationTimes: Sendable {
    private let recent = Mutex<[Duration]>([])

    func record(_ duration: Duration) {
        self.recent.withLock { recent in
            recent.append(duration)
            if recent.count > 15 { recent.removeFirst() }
        }
    }

    /// The median of the recent derivations; zero before the first.
    var typical: Duration {
        self.recent.withLock { recent in
            recent.isEmpty ? .zero : recent.sorted()[recent.count / 2]
        }
    }
}
