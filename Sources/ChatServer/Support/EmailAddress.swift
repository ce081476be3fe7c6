import Foundation

/// Email syntax checks (a practical subset of RFC 5321/5322, with internationalised characters allowed).
public enum EmailAddress {
    public static let maximumLength = 254

    /// Trimmed, Unicode NFC and lower-cased: emails are unique whatever their case or the keyboard that typed
    /// them (`é` as one code point or as `e` + combining accent is one address).
    public static func normalize(_ email: some StringProtocol) -> String {
        String(email.trimmingWhitespace()).precomposedStringWithCanonicalMapping.lowercased()
    }

    /// Characters that display as nothing, as blank space, or control the display: spaces of every width (the
    /// no-break, figure, ideographic and Ogham spaces: General Category Zs), line and paragraph separators,
    /// zero-width spaces and joiners, the soft hyphen, bidirectional controls, byte-order marks and other
    /// format and control characters, and the blanks that are letters or symbols by category (the Braille
    /// pattern blank U+2800, the Hangul fillers). Two addresses that differ only by them would look identical,
    /// so they are refused.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .spaceSeparator, .format, .control, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate,
            .unassigned:
            true
        default:
            scalar.properties.isDefaultIgnorableCodePoint || scalar.properties.isWhitespace
                || Self.blanks.contains(scalar.value)
        }
    }

    /// Blank by their glyph, though neither spaces nor format characters by category.
    private static let blanks: Set<UInt32> = [0x2800, 0x115F, 0x1160, 0x3164, 0xFFA0]

    /// Why `email` holds a character no address may hold (``isInvisible(_:)``), or nil. Login and the token
    /// route refuse such input (422) as registration does: no account can have it.
    public static func characterProblem(in email: some StringProtocol) -> String? {
        guard email.unicodeScalars.contains(where: Self.isInvisible) else { return nil }
        return "The email address contains spaces, invisible or control characters."
    }

    public static func isValid(_ email: some StringProtocol) -> Bool {
        self.problem(with: email) == nil
    }

    /// Why `email` is not an address, or nil if it is one.
    public static func problem(with email: some StringProtocol) -> String? {
        guard email.utf8.count <= maximumLength else { return "The email address is too long." }
        if let problem = Self.characterProblem(in: email) { return problem }
        guard let at = email.lastIndex(of: "@") else { return "An email address must have an @-sign." }
        let local = email[..<at]
        let domain = email[email.index(after: at)...]
        guard !local.isEmpty else { return "There must be something before the @-sign." }
        guard local.utf8.count <= 64 else { return "The part before the @-sign is too long." }
        let localAllowed = Set("!#$%&'*+-/=?^_`{|}~.")
        guard
            local.unicodeScalars.allSatisfy({
                $0.value > 127 || ($0.properties.isAlphabetic || ("0"..."9").contains($0))
                    || localAllowed.contains(Character($0))
            })
        else { return "The part before the @-sign contains invalid characters." }
        guard !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else {
            return "The part before the @-sign cannot start or end with a period or have two periods in a row."
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return "The part after the @-sign is not valid. It should have a period." }
        for label in labels {
            guard !label.isEmpty, label.utf8.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-"),
                label.unicodeScalars.allSatisfy({
                    $0.value > 127 || $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-"
                })
            else { return "The part after the @-sign is not valid." }
        }
        if let tld = labels.last, tld.allSatisfy(\.isNumber) {
            return "The part after the @-sign is not valid."
        }
        return nil
    }
}
