/// Brute-force protection for login that hands nobody a lockout.
///
/// Counts failed logins, not attempts, in sliding one-minute windows:
/// - per (email, client address) and per client address, `limit` each: an address that guesses is slowed,
///   whichever emails it tries;
/// - per email from every address, `limit × 10`: past that ceiling, only addresses with a failure of their own
///   in the window are refused. A correct password from an address that is not over its own limits always
///   gets through, so nobody can lock an account (an admin's included) by failing on purpose from elsewhere.
///
/// Checked before any scrypt work. Safe from any task.
final class LoginThrottle: Sendable {
    let limit: Int
    private let perAddress: RateLimiter
    private let perEmail: RateLimiter

    init(perMinute limit: Int) {
        self.limit = limit
        self.perAddress = RateLimiter(perMinute: limit)
        self.perEmail = RateLimiter(perMinute: limit * 10)
    }

    private static func keys(email: String, address: String) -> (pair: String, address: String, email: String) {
        ("pair:" + address + " " + email, "address:" + address, "email:" + email)
    }

    /// How long `address` must wait before trying `email` again, or nil if it may try now.
    func wait(email: String, address: String, now: ContinuousClock.Instant = .now) -> Duration? {
        let keys = Self.keys(email: email, address: address)
        if let wait = self.perAddress.wait([keys.pair, keys.address], now: now) { return wait }
        if let wait = self.perEmail.wait([keys.email], now: now),
            self.perAddress.hasEvents(keys.address, now: now)
        {
            return wait
        }
        return nil
    }

    /// A wrong password or an unknown email from `address`.
    func recordFailure(email: String, address: String, now: ContinuousClock.Instant = .now) {
        let keys = Self.keys(email: email, address: address)
        self.perAddress.record([keys.pair, keys.address], now: now)
        self.perEmail.record([keys.email], now: now)
    }
}
