/// A failure inside OpenSSL. These are faults of the machine, not of the caller's input.
public enum CryptoError: Error, Equatable, Sendable {
    case randomBytesUnavailable
    case hmacFailed
    case digestFailed
    case scryptFailed
}
