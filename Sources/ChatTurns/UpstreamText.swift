import Foundation

extension String {
    /// Text from the upstream as it is stored: each NUL (U+0000), which no engine stores, becomes U+FFFD, one
    /// scalar for one, so offsets into a reply keep their meaning.
    var replacingNUL: String {
        self.utf8.contains(0) ? self.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : self
    }
}
