import Foundation

/// A user's search (GET /chats/search), parsed into words and phrases that each engine's full-text index is
/// given in its own syntax, built here from letters and digits only: no text a user typed reaches an engine
/// as query syntax, so no query can widen itself past its owner's rows or make the engine fail.
///
/// - Words are runs of letters and digits, compared without regard to case; every term must match (AND).
/// - `"two words"` is a phrase: the words adjacent, in that order.
/// - `word*` (at least ``minimumPrefix`` characters) matches the words that start with it.
/// - Anything else (punctuation, operators) separates words; a word with inner punctuation (`don't`,
///   `e-mail`) is the phrase of its parts.
public struct SearchQuery: Sendable, Equatable {
    /// Words that must appear adjacent, in order; with `prefix`, the last may be the start of a longer word.
    public struct Term: Sendable, Equatable {
        public let words: [String]
        public let prefix: Bool

        public init(words: [String], prefix: Bool) {
            self.words = words
            self.prefix = prefix
        }
    }

    public let terms: [Term]

    public static let maximumLength = 256
    public static let maximumTerms = 16
    public static let minimumPrefix = 2

    /// Parses `text`; throws a message for the user when it cannot be searched for.
    public init(parsing text: String) throws(SearchQueryError) {
        guard text.unicodeScalars.count <= Self.maximumLength else {
            throw SearchQueryError("The query is longer than \(Self.maximumLength) characters")
        }
        var terms: [Term] = []
        var quoted = false
        var pending: [String] = []
        var word = ""
        func endWord() {
            if !word.isEmpty { pending.append(word.lowercased()) }
            word = ""
        }
        func endTerm(prefix: Bool) throws(SearchQueryError) {
            endWord()
            guard !pending.isEmpty else { return }
            if prefix, let last = pending.last, last.count < Self.minimumPrefix {
                throw SearchQueryError("A prefix search (word*) needs at least \(Self.minimumPrefix) letters")
            }
            terms.append(Term(words: pending, prefix: prefix))
            pending = []
        }
        for character in text {
            if character.isLetter || character.isNumber {
                word.append(character)
            } else if character == "\"" {
                try endTerm(prefix: false)
                quoted.toggle()
            } else if character == "*" {
                try endTerm(prefix: !pending.isEmpty || !word.isEmpty)
            } else if quoted || (!word.isEmpty && !character.isWhitespace) {
                // Inside a phrase, or punctuation inside a word: the parts stay one phrase.
                endWord()
            } else {
                try endTerm(prefix: false)
            }
        }
        try endTerm(prefix: false)
        guard !terms.isEmpty else { throw SearchQueryError("The query has no words to search for") }
        guard terms.count <= Self.maximumTerms else {
            throw SearchQueryError("The query has more than \(Self.maximumTerms) words or phrases")
        }
        self.terms = terms
    }

    /// The query in SQLite FTS5's syntax, every term looked for in `column` only: each term a quoted phrase
    /// (`*` after it for a prefix), all ANDed, in any order (`column : "a" AND column : "b c" *`).
    public func fts5Expression(column: String) -> String {
        self.terms.map { term in
            column + " : \"" + term.words.joined(separator: " ") + "\"" + (term.prefix ? " *" : "")
        }.joined(separator: " AND ")
    }

    /// The query in PostgreSQL's `to_tsquery` syntax: each word quoted, a phrase's words joined by `<->`, a
    /// prefix marked `:*`, all terms joined by `&`.
    public var tsqueryExpression: String {
        self.terms.map { term in
            let words = term.words.enumerated().map { index, word in
                "'" + word + "'" + (term.prefix && index == term.words.count - 1 ? ":*" : "")
            }
            return "(" + words.joined(separator: " <-> ") + ")"
        }.joined(separator: " & ")
    }

    /// Whether `word` (lower-cased) is one the query looks for: equal to one of its words, or starting with a
    /// prefix term's last word.
    func matches(_ word: String) -> Bool {
        self.terms.contains { term in
            term.words.enumerated().contains { index, searched in
                Self.word(word, matches: searched, prefix: term.prefix && index == term.words.count - 1)
            }
        }
    }

    private static func word(_ word: String, matches searched: String, prefix: Bool) -> Bool {
        prefix ? word.hasPrefix(searched) : word == searched
    }

    /// The words of `text` (runs of letters and digits) with their ranges, lower-cased, as the query sees them.
    static func words(of text: String) -> [(range: Range<String.Index>, word: String)] {
        var words: [(range: Range<String.Index>, word: String)] = []
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            // ASCII (most text): bytes are characters, and a word of up to 15 letters is a String without a
            // heap allocation.
            var start: String.Index?
            var lowered: [UInt8] = []
            var index = text.utf8.startIndex
            while index < text.utf8.endIndex {
                let byte = text.utf8[index]
                let isUpper = byte >= 0x41 && byte <= 0x5A
                let isWordByte = isUpper || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                if isWordByte {
                    if start == nil { start = index }
                    lowered.append(isUpper ? byte + 0x20 : byte)
                } else if let begun = start {
                    words.append((begun..<index, String(decoding: lowered, as: UTF8.self)))
                    lowered.removeAll(keepingCapacity: true)
                    start = nil
                }
                index = text.utf8.index(after: index)
            }
            if let begun = start { words.append((begun..<text.endIndex, String(decoding: lowered, as: UTF8.self))) }
            return words
        }
        var start: String.Index?
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let isWordCharacter = character.isLetter || character.isNumber
            if isWordCharacter, start == nil { start = index }
            if !isWordCharacter, let begun = start {
                words.append((begun..<index, text[begun..<index].lowercased()))
                start = nil
            }
            index = text.index(after: index)
        }
        if let begun = start { words.append((begun..<text.endIndex, text[begun...].lowercased())) }
        return words
    }

    /// How well `text` answers the query: BM25's term-frequency part (k1 = 1.2, b = 0.75) summed over the
    /// terms, a phrase counting where its words stand together; with several terms, the places where they all
    /// stand together in the query's order count once more, so a text with the words side by side in that order
    /// comes before one where they are apart. Every text ranked holds every term, so the terms' rarity (BM25's
    /// IDF) would not change their order much; it is left out, which spares counting each term's rows in the
    /// whole index.
    public func score(of text: String, averageWords: Double) -> Double {
        self.score(words: Self.words(of: text).map(\.word), averageWords: averageWords)
    }

    /// A word the query looks for at one place of a phrase: equal to `word`, or starting with it (`prefix`).
    private typealias Searched = (word: String, prefix: Bool)

    private func score(words: [String], averageWords: Double) -> Double {
        guard !words.isEmpty else { return 0 }
        let lengthFactor = 1.2 * (0.25 + 0.75 * Double(words.count) / max(averageWords, 1))
        func part(_ phrase: [Searched]) -> Double {
            let frequency = Self.frequency(of: phrase, in: words)
            return frequency * 2.2 / (frequency + lengthFactor)
        }
        var score = self.terms.reduce(0) { $0 + part(Self.searched($1)) }
        if self.terms.count > 1 { score += part(self.terms.flatMap(Self.searched)) }
        return score
    }

    private static func searched(_ term: Term) -> [Searched] {
        term.words.enumerated().map { ($1, term.prefix && $0 == term.words.count - 1) }
    }

    /// How many times `phrase` stands in `words`, its words adjacent and in order.
    private static func frequency(of phrase: [Searched], in words: [String]) -> Double {
        var frequency = 0.0
        var position = 0
        while position + phrase.count <= words.count {
            var all = true
            for (offset, searched) in phrase.enumerated()
            where !Self.word(words[position + offset], matches: searched.word, prefix: searched.prefix) {
                all = false
                break
            }
            if all { frequency += 1 }
            position += 1
        }
        return frequency
    }

    /// `hits` best first by ``score(of:averageWords:)``, newer first among equals.
    public func rank(_ hits: [SearchHit]) -> [SearchHit] {
        guard hits.count > 1 else { return hits }
        let words = hits.map { Self.words(of: $0.text).map(\.word) }
        let average = Double(words.reduce(0) { $0 + $1.count }) / Double(words.count)
        let scored = zip(hits, words).map { (hit: $0, score: self.score(words: $1, averageWords: average)) }
        return scored.sorted { left, right in
            if left.score != right.score { return left.score > right.score }
            if left.hit.createdAt != right.hit.createdAt { return left.hit.createdAt > right.hit.createdAt }
            return (left.hit.messageID ?? 0) > (right.hit.messageID ?? 0)
        }.map(\.hit)
    }

    /// About `width` words of `text` around its first stretch dense with matches, HTML-escaped, each matching
    /// word in `<mark>…</mark>`, `…` where text was cut. The same on every engine: it is made here, not by
    /// the engine.
    public func snippet(of text: String, width: Int = 24) -> String {
        let words = Self.words(of: text).map { (range: $0.range, hit: self.matches($0.word)) }
        guard !words.isEmpty else { return Self.escape(text.prefix(200)) }

        // The window of `width` words holding the most matches (the first such).
        var best = 0
        var bestCount = -1
        var count = 0
        for (position, word) in words.enumerated() {
            if word.hit { count += 1 }
            if position >= width, words[position - width].hit { count -= 1 }
            let first = max(0, position - width + 1)
            if count > bestCount {
                bestCount = count
                best = first
            }
        }
        // Start a little before the first match in the window, so it has some context.
        if let firstHit = words[best..<min(words.count, best + width)].firstIndex(where: \.hit) {
            best = max(0, min(best, firstHit - 3))
        }
        let last = min(words.count, best + width) - 1
        let from = best == 0 ? text.startIndex : words[best].range.lowerBound
        let to = last == words.count - 1 ? text.endIndex : words[last].range.upperBound
        var output = best == 0 ? "" : "…"
        var cursor = from
        for word in words[best...last] where word.hit {
            output += Self.escape(text[cursor..<word.range.lowerBound])
            output += "<mark>" + Self.escape(text[word.range]) + "</mark>"
            cursor = word.range.upperBound
        }
        output += Self.escape(text[cursor..<to])
        if to < text.endIndex { output += "…" }
        return output
    }

    static func escape(_ text: Substring) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "&": output += "&amp;"
            case "\"": output += "&quot;"
            case "'": output += "&#39;"
            case "\n", "\r\n", "\r", "\t": output += " "
            default: output.append(character)
            }
        }
        return output
    }
}

/// Why a search query cannot be run; the message is for the user (422).
public struct SearchQueryError: Error, Equatable, Sendable {
    public let message: String

    public init(_ message: String) { self.message = message }
}

/// One search result: a chat whose title matches (`messageID` nil), or a message.
public struct SearchHit: Sendable, Equatable {
    public let chatID: UUID
    public let chatTitle: String?
    public let messageID: Int64?
    public let role: MessageRole?
    /// The matching text: the message's content, or the chat's title.
    public let text: String
    public let createdAt: Timestamp

    public init(
        chatID: UUID, chatTitle: String?, messageID: Int64?, role: MessageRole?, text: String, createdAt: Timestamp
    ) {
        self.chatID = chatID
        self.chatTitle = chatTitle
        self.messageID = messageID
        self.role = role
        self.text = text
        self.createdAt = createdAt
    }
}
