import ChatStorage

/// Brute-force protection for login that hands nobody a lockout.
///
/// Counts failed logins, not attempts, in sliding one-minute windows:
/// - per (email, client address) and per client address, `limit` each: an address that guesses is slowed,
///   whichever emails it tries;
/// - per email from every address, `limit × 10`: past that ceiling, only addresses with a failure of their own
///   in the window are refused. A correct password from an address that is not over its own limits always
///   gets through, so nobody can lock an account (an admin's included) by failing on purpose from elsewhere.
///
/// Checked before any scrypt work. Safe from any task. With several replicas on one store, the failures are
/// counted for the deployment (``RateLimiter/waitForDeployment(_:)``), so spreading guesses over replicas gains
/// nothing.
final class LoginThrottle: Sendable {
    let limit: Int
    private let perAddress: RateLimiter
    private let perEmail: RateLimiter

    init(perMinute limit: Int, shared ledger: (any RateLedger)? = nil) {
        self.limit = limit
        self.perAddress = RateLimiter(perMinute: limit, shared: ledger.map { ($0, "login-address") })
        self.perEmail = RateLimiter(perMinute: limit * 10, shared: ledger.map { ($0, "login-email") })
    }

    private static func keys(email: String, address: String) -> (pair: String, address: String, email: String) {
        ("pair:" + address + " " + email, "address:" + address, "email:" + email)
    }

    /// How long `address` must wait before trying `email` again, or nil if it may try now.
    func wait(email: String, address: String) async throws -> Duration? {
        let keys = Self.keys(email: email, address: address)
        if let wait = try await self.perAddress.waitForDeployment([keys.pair, keys.address]) { return wait }
        if let wait = try await self.perEmail.waitForDeployment([keys.email]),
            try await self.perAddress.hasEventsForDeployment(keys.address)
        {
            return wait
        }
        return nil
    }

    /// A wrong password or an unknown email from `address`.
    func recordFailure(email: String, address: String) async throws {
        let keys = Self.keys(email: email, address: address)
        try await self.perAddress.recordForDeployment([keys.pair, keys.address])
        try await self.perEmail.recordForDeployment([keys.email])
    }
}
