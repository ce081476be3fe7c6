import ChatStorage
import ChatStorageSQLite
import Foundation
import NIOHTTP1

/// The search scenario's history: one user with 2,000 chats and 200,000 messages, written through the storage
/// layer (as the budget says), each message 10 to 40 words drawn from a 2,000-word vocabulary with a
/// Zipf distribution, so that some words are in nearly every message and others in a few hundred.
struct SearchCorpus: Sendable {
    let token: String
    static let chats = 2_000
    static let messages = 200_000
    static let vocabulary: [String] = {
        let common = [
            "the", "and", "you", "that", "was", "for", "are", "with", "his", "they", "this", "have", "from", "one",
            "had", "word", "but", "not", "what", "all", "were", "when", "your", "can", "said", "there", "use", "each",
            "which", "she", "how", "their", "will", "other", "about", "out", "many", "then", "them", "these", "some",
            "her", "would", "make", "like", "him", "into", "time", "has", "look", "two", "more", "write", "see",
            "number", "way", "could", "people", "than", "first", "water", "been", "call", "who", "oil", "its", "now",
            "find", "long", "down", "day", "did", "get", "come", "made", "may", "part", "lisbon", "recipe", "garden",
            "invoice", "python", "swift", "server", "database", "holiday", "train", "music", "budget", "doctor",
        ]
        return common + (common.count..<2_000).map { "topic\($0)" }
    }()

    /// The queries the clients cycle through: common, middling and rare words, two words, a phrase and a
    /// prefix (of a word, as people type them: `topic12*` would match 111 of the synthetic words, a cost of its
    /// own that docs/architecture.md states).
    static let queries = [
        "the", "lisbon", "topic1500", "swift database", "\"and you\"", "holi*", "garden recipe", "topic600",
    ]

    static func seed(_ target: BenchTarget, run: String, log: @escaping @Sendable (String) -> Void) async throws
        -> SearchCorpus
    {
        guard let store = target.store else {
            throw BenchError.setup(
                "search seeds through the storage layer: run in-process, or give --database-url with --spawn-server")
        }
        let token = try await target.user("bench-search-\(run)@example.com")
        log("seeding search: 2,000 chats and 200,000 messages through the storage layer")
        let chats = try await target.createChats(Self.chats, token: token).compactMap(UUID.init(uuidString:))
        guard chats.count == Self.chats else { throw BenchError.setup("could not create the search chats") }
        // Zipf weights, as a cumulative table to draw from.
        var cumulative: [Double] = []
        var total = 0.0
        for rank in 0..<Self.vocabulary.count {
            total += 1 / Double(rank + 1)
            cumulative.append(total)
        }
        let table = cumulative.map { $0 / total }
        let started = ContinuousClock.now
        let lanes = 16
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<lanes {
                group.addTask {
                    var random = SplitMix(seed: UInt64(lane + 1))
                    for index in stride(from: lane, to: Self.messages, by: lanes) {
                        let length = 10 + Int(random.next() % 31)
                        var words: [String] = []
                        words.reserveCapacity(length)
                        for _ in 0..<length {
                            let draw = Double(random.next() % 1_000_000) / 1_000_000
                            var low = 0
                            var high = table.count - 1
                            while low < high {
                                let middle = (low + high) / 2
                                if table[middle] < draw { low = middle + 1 } else { high = middle }
                            }
                            words.append(Self.vocabulary[low])
                        }
                        _ = try await store.appendMessage(
                            chatID: chats[index % chats.count], role: index.isMultiple(of: 2) ? .user : .assistant,
                            content: words.joined(separator: " "))
                        if lane == 0, index % 20_000 == 0, index > 0 { log("  about \(index) messages") }
                    }
                }
            }
            try await group.waitForAll()
        }
        log("seeded search in \(ContinuousClock.now - started)")
        return SearchCorpus(token: token)
    }
}

/// A small, fast, reproducible generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// GET /chats/search at the scenario's concurrency (16 by default), cycling through ``SearchCorpus/queries``;
/// around it GET /chats for the same user with 64 clients, before and after the searches with the full-text
/// index, then (on SQLite) after dropping it, so the index's cost to the listing is a ratio within one run;
/// between them, another user's GET /chats while one user runs 16 searches at once (``crowds(queries:)``).
struct SearchScenario {
    let runner: ScenarioRunner
    let corpus: SearchCorpus

    func run() async throws -> [ScenarioResult] {
        let target = self.runner.target
        let token = self.corpus.token
        let list: @Sendable (Int, Int) async -> Int? = { _, _ in
            await target.status(.GET, "/chats?limit=20", token: token)
        }
        let withIndex = await self.runner.load(
            "list-search-user", 64, "GET /chats?limit=20, with the search index", operation: list)
        let queries = SearchCorpus.queries.map { query in
            query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
        }
        let search = await self.runner.load(
            "search", self.runner.settings.concurrency, "GET /chats/search over 200,000 messages, 8 queries in turn"
        ) { worker, iteration in
            await target.status(
                .GET, "/chats/search?q=\(queries[(worker + iteration) % queries.count])&limit=20", token: token)
        }
        let crowds = try await self.crowds(queries: queries)
        // The listing again, right before the index is dropped, so the two figures compared are neighbours.
        let again = await self.runner.load(
            "list-search-user-again", 64, "GET /chats?limit=20, with the search index, after the searches",
            operation: list)
        guard let path = target.sqlitePath else { return [withIndex, search] + crowds + [again] }
        // The same listing once the index is gone (its tables and the triggers that keep it).
        let connection = try SQLiteConnection(path: path)
        try connection.execute(
            """
            DROP TRIGGER messages_fts_insert; DROP TRIGGER messages_fts_delete; DROP TRIGGER messages_fts_update;
            DROP TRIGGER chats_fts_insert; DROP TRIGGER chats_fts_delete; DROP TRIGGER chats_fts_update;
            DROP TRIGGER messages_fts_chat_delete;
            DROP TABLE messages_fts; DROP TABLE chats_fts;
            """)
        let withoutIndex = await self.runner.load(
            "list-search-user-no-index", 64, "GET /chats?limit=20, search index dropped", operation: list)
        return [withIndex, search] + crowds + [again, withoutIndex]
    }

    /// What 16 concurrent searches of one user cost another user's GET /chats (4 clients, latency measured):
    /// first a user with no messages searching for a phrase found all over the corpus (its owner's rows, not
    /// theirs), then the same user with 16 prefixes of two or three letters in one query (each matching words
    /// all over the corpus), then the corpus's owner cycling through the queries. The bench runs with
    /// `SEARCHES_PER_USER=0`, so all 16 run (the default cap of 2 would refuse 14 of them at once).
    private func crowds(queries: [String]) async throws -> [ScenarioResult] {
        let target = self.runner.target
        let owner = self.corpus.token
        let other = self.runner.fixtures.smallToken
        let stranger = try await target.user("bench-search-stranger-\(UUID().uuidString.prefix(8))@example.com")
        var results: [ScenarioResult] = []
        let phrase = "%22and%20you%22"
        let prefixes = [
            "th", "an", "yo", "wa", "fo", "ar", "wi", "hi", "ha", "fr", "on", "wo", "bu", "no", "wh", "top",
        ]
        .map { $0 + "%2A" }.joined(separator: "%20")
        let crowds = [("stranger", stranger, phrase), ("stranger-prefixes", stranger, prefixes), ("owner", owner, "")]
        for (name, token, fixed) in crowds {
            async let searches = self.runner.load(
                "search-\(name)-16", 16, "GET /chats/search by the \(name) of the corpus (16 at once)"
            ) { worker, iteration in
                let query = fixed.isEmpty ? queries[(worker + iteration) % queries.count] : fixed
                return await target.status(.GET, "/chats/search?q=\(query)&limit=20", token: token)
            }
            async let lists = self.runner.load(
                "list-during-\(name)-search", 4, "another user's GET /chats?limit=20 meanwhile"
            ) { _, _ in
                await target.status(.GET, "/chats?limit=20", token: other)
            }
            results += await [searches, lists]
        }
        return results
    }
}
