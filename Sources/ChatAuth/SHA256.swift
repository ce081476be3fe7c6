import CCrypto

/// SHA-256 from OpenSSL libcrypto (`EVP_Digest`): how API keys are stored (a key is 256 random bits, so a
/// plain digest is as strong as its secret; no salt or stretching is needed).
public enum SHA256 {
    public static let byteCount = 32

    public static func digest(_ message: some Collection<UInt8>) throws -> [UInt8] {
        let bytes = Array(message)
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = bytes.withUnsafeBufferPointer { messageBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                EVP_Digest(
                    messageBuffer.baseAddress, messageBuffer.count, outputBuffer.baseAddress, &length, EVP_sha256(), nil
                )
            }
        }
        guard result == 1, length == byteCount else { throw CryptoError.digestFailed }
        return Array(output.prefix(byteCount))
    }

    /// The digest as 64 lower-case hexadecimal digits.
    public static func hexDigest(_ message: some Collection<UInt8>) throws -> String {
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(2 * byteCount)
        for byte in try digest(message) {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
