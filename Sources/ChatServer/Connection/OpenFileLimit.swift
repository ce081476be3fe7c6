#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The open-file limit the server runs under. At start the soft limit is raised to the hard one (a shell's
/// default of 1,024 would otherwise cap connections far below `MAX_CONNECTIONS`), and `MAX_CONNECTIONS` is
/// lowered to what the limit leaves, so that the connection guard closes the longest-idle connections before
/// accepting fails for lack of descriptors (when accept fails, the guard never sees the connection).
public enum OpenFileLimit {
    /// Descriptors kept for what is not a client connection: the database's files or pool, libcurl's sockets
    /// to the upstream, the listener, the log.
    public static let reserved = 256

    /// Raises the soft limit to the hard limit; the limit now in force, or nil if it cannot be read.
    public static func raise() -> Int? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        // RLIM_INFINITY is all ones.
        return limit.rlim_cur == rlim_t.max ? Int.max : Int(clamping: limit.rlim_cur)
    }

    /// The client connections that fit `limit` descriptors: `configured`, or fewer when the limit is lower
    /// (at least 16).
    public static func connections(fitting limit: Int, configured: Int) -> Int {
        min(configured, max(limit - Self.reserved, 16))
    }
}
