/// Event counts per key, shared by every process on one store (PostgreSQL replicas): "at most `limit` per
/// window" for the whole deployment, as `USER_MESSAGES_PER_MINUTE`, `REGISTRATIONS_PER_MINUTE` and
/// `LOGIN_ATTEMPTS_PER_MINUTE` promise.
public protocol RateLedger: Sendable {
    /// Records one event for every key if each has had fewer than `limit` in the last `window`, and returns
    /// nil; otherwise records nothing and returns how long until every key has room again.
    func acquireRate(keys: [String], limit: Int, window: Duration) async throws -> Duration?

    /// How long until every key has had fewer than `limit` events in the last `window` (nil: they all have
    /// now). Records nothing.
    func rateWait(keys: [String], limit: Int, window: Duration) async throws -> Duration?
}
