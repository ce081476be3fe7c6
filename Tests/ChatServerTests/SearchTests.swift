import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// GET /chats/search on the suite's engine (SQLite's FTS5, PostgreSQL's tsvector).
@Suite("Full-text search")
struct SearchTests {
    /// The results of a search as (kind, chat id, message id, snippet), or the failing response.
    struct Results {
        let response: TestResponse
        var items: [[String: Any]] { (try? JSONBody(self.response))?["results"] as? [[String: Any]] ?? [] }
        var snippets: [String] { self.items.compactMap { $0["snippet"] as? String } }
        var messageIDs: [Int] { self.items.compactMap { $0["message_id"] as? Int } }
        var kinds: [String] { self.items.compactMap { $0["kind"] as? String } }
    }

    static func search(_ client: any TestClientProtocol, _ token: String, _ query: String, _ extra: String = "")
        async throws -> Results
    {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&+=?#")
        let encoded = query.addingPercentEncoding(withAllowedCharacters: allowed) ?? query
        return Results(response: try await client.send(.get, "/chats/search?q=\(encoded)\(extra)", token: token))
    }

    @Test("ranked hits in titles and messages, phrases and prefixes, snippets marked and escaped, own content only")
    func searchesOwnContent() async throws {
        try await withApp { client, backend in
            let database = backend.database
            let (ownerID, token) = try await client.signUp("searcher@example.com")
            let (otherID, otherToken) = try await client.signUp("neighbour@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            let other = try #require(UUID(uuidString: otherID))

            let trip = try await database.createChat(userID: owner, title: "Trip to Lisbon")
            let food = try await database.createChat(userID: owner, title: "Food")
            let pastel = try await database.appendMessage(
                chatID: food.id, role: .user, content: "Where can I eat pastel de nata in Lisbon?")
            let markup = try await database.appendMessage(
                chatID: trip.id, role: .assistant, content: "Pack <b>sunscreen</b> & a hat: Lisbon is sunny.")
            let lisbonese = try await database.appendMessage(
                chatID: trip.id, role: .user, content: "Is the Lisbonese accent hard to follow?")
            _ = try await database.appendMessage(chatID: trip.id, role: .user, content: "Nothing to see here")
            let secret = try await database.createChat(userID: other, title: "Lisbon secret")
            _ = try await database.appendMessage(chatID: secret.id, role: .user, content: "my Lisbon password hunter2")

            let lisbon = try await Self.search(client, token, "lisbon")
            #expect(lisbon.response.status == .ok, "\(lisbon.response.text)")
            #expect(lisbon.kinds == ["title", "message", "message"])
            #expect(lisbon.items.first?["chat_id"] as? String == trip.id.lowercasedString)
            #expect(lisbon.items.first?["message_id"] is NSNull)
            #expect(lisbon.snippets.first == "Trip to <mark>Lisbon</mark>")
            #expect(Set(lisbon.messageIDs) == [Int(pastel.id), Int(markup.id)])
            #expect(
                lisbon.snippets.contains(
                    "Pack &lt;b&gt;sunscreen&lt;/b&gt; &amp; a hat: <mark>Lisbon</mark> is sunny."))
            let pastelHit = try #require(lisbon.items.first { $0["message_id"] as? Int == Int(pastel.id) })
            #expect(pastelHit["chat_title"] as? String == "Food")
            #expect(pastelHit["role"] as? String == "user")
            #expect(!lisbon.response.text.contains("hunter2") && !lisbon.response.text.contains("secret"))

            #expect(try await Self.search(client, token, "\"pastel de nata\"").messageIDs == [Int(pastel.id)])
            #expect(try await Self.search(client, token, "\"nata de pastel\"").items.isEmpty)
            #expect(try await Self.search(client, token, "LISBON sunny").messageIDs == [Int(markup.id)])
            let prefix = try await Self.search(client, token, "lisb*")
            #expect(Set(prefix.messageIDs) == [Int(pastel.id), Int(markup.id), Int(lisbonese.id)])
            #expect(prefix.snippets.contains { $0.contains("<mark>Lisbonese</mark>") })
            #expect(try await Self.search(client, token, "porto").items.isEmpty)
            #expect(try await Self.search(client, token, "porto").response.status == .ok)

            // Pages run over titles, then messages.
            let first = try await Self.search(client, token, "lisbon", "&limit=2")
            let second = try await Self.search(client, token, "lisbon", "&limit=2&offset=2")
            #expect(first.kinds == ["title", "message"])
            #expect(second.items.count == 1)
            #expect(Set(first.messageIDs + second.messageIDs) == [Int(pastel.id), Int(markup.id)])

            // What the index might read as its own syntax is only ever words: never another user's rows, never 500.
            for attempt in [
                #"x" OR "lisbon"#, "lisbon) OR (secret", "secret OR hunter2", "NEAR(lisbon password)", "content:lisbon",
                "hunter2*", "{content}: lisbon", "lisbon -", "'lisbon'", "lisbon:*", "!!lisbon", "lisbon\u{0}",
            ] {
                let result = try await Self.search(client, token, attempt)
                #expect(result.response.status == .ok || result.response.status == .unprocessableContent, "\(attempt)")
                // (The answer echoes the query: look at the results.)
                #expect(!result.items.contains { $0["chat_id"] as? String == secret.id.lowercasedString }, "\(attempt)")
                #expect(!result.snippets.contains { $0.contains("hunter2") || $0.contains("secret") }, "\(attempt)")
            }
            // The other user finds their own.
            #expect(try await Self.search(client, otherToken, "hunter2").items.count == 1)
        }
    }

    @Test(
        "plain words are all required in any order, as a browser encodes them (+) or not (%20); quotes ask for a phrase"
    )
    func wordsInAnyOrder() async throws {
        try await withApp { client, backend in
            let database = backend.database
            let (ownerID, token) = try await client.signUp("order@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            let notes = try await database.createChat(userID: owner, title: "Weekly notes")
            let fox = try await database.appendMessage(
                chatID: notes.id, role: .user, content: "the quick brown fox jumps over the fence")
            _ = try await database.appendMessage(chatID: notes.id, role: .assistant, content: "a lazy cat sleeps")

            func found(_ rawQuery: String) async throws -> (kinds: [String], messageIDs: [Int]) {
                let response = try await client.send(.get, "/chats/search?q=\(rawQuery)", token: token)
                #expect(response.status == .ok, "\(rawQuery): \(response.text)")
                let results = Results(response: response)
                return (results.kinds, results.messageIDs)
            }
            // The issue's cases, as an HTML form, Python's requests or URLSearchParams send them, and with %20.
            for raw in ["quick+fox", "fox+quick", "quick%20fox", "fox%20quick", "FOX+Quick", "jumps+the+quick"] {
                #expect(try await found(raw).messageIDs == [Int(fox.id)], "\(raw)")
            }
            for raw in ["quick+dog", "quick%20dog", "dog+quick"] {
                #expect(try await found(raw).kinds.isEmpty, "\(raw)")
            }
            for raw in ["notes+weekly", "weekly+notes", "notes%20weekly"] {
                #expect(try await found(raw).kinds == ["title"], "\(raw)")
            }
            #expect(try await found("notes+monthly").kinds.isEmpty)
            // Quotes still ask for the words side by side, in order.
            #expect(try await found("%22quick+brown%22").messageIDs == [Int(fox.id)])
            #expect(try await found("%22quick+fox%22").kinds.isEmpty)
            #expect(try await found("%22brown+quick%22").kinds.isEmpty)
            #expect(try await found("%22notes+weekly%22").kinds.isEmpty)
            #expect(try await found("%22weekly+notes%22").kinds == ["title"])
            // An encoded plus sign is the character itself: punctuation inside a word, so the phrase of its parts.
            #expect(try await found("quick%2Bbrown").messageIDs == [Int(fox.id)])
            #expect(try await found("quick%2Bfox").kinds.isEmpty)
            // Broken percent-encoding is the client's mistake.
            let broken = try await client.send(.get, "/chats/search?q=quick%2", token: token)
            #expect(broken.status == .unprocessableContent)
            #expect(broken.validationLocations == ["query.q"])
        }
    }

    @Test(
        "ranking: the words side by side in the query's order first, then apart or reversed, newer first among equals")
    func adjacentWordsRankFirst() async throws {
        try await withApp { client, backend in
            let database = backend.database
            let (ownerID, token) = try await client.signUp("rank@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            let chat = try await database.createChat(userID: owner, title: nil)
            // Same length and the same counts of each word: only where they stand tells them apart. The best is
            // the oldest, so newest-first alone would put it last.
            let adjacent = try await database.appendMessage(chatID: chat.id, role: .user, content: "one quick fox two")
            let apart = try await database.appendMessage(chatID: chat.id, role: .user, content: "quick one two fox")
            let reversed = try await database.appendMessage(chatID: chat.id, role: .user, content: "one fox quick two")
            let results = try await Self.search(client, token, "quick fox")
            #expect(results.messageIDs == [Int(adjacent.id), Int(reversed.id), Int(apart.id)])
            let reverse = try await Self.search(client, token, "fox quick")
            #expect(reverse.messageIDs == [Int(reversed.id), Int(apart.id), Int(adjacent.id)])
        }
    }

    @Test("bad queries are 422 naming q; other parameters are checked")
    func badQueries() async throws {
        try await withApp { client, _ in
            let (_, token) = try await client.signUp("bad@example.com")
            for query in [
                "", "   ", "***", "🙂 ...", "a*", String(repeating: "word ", count: 60),
                "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
            ] {
                let result = try await Self.search(client, token, query)
                #expect(result.response.status == .unprocessableContent, "\(query): \(result.response.text)")
                #expect(result.response.validationLocations == ["query.q"], "\(query)")
            }
            let missing = try await client.send(.get, "/chats/search", token: token)
            #expect(missing.status == .unprocessableContent)
            #expect(missing.validationLocations == ["query.q"])
            #expect(try await Self.search(client, token, "ok", "&limit=0").response.status == .unprocessableContent)
            #expect(try await Self.search(client, token, "ok", "&offset=-1").response.status == .unprocessableContent)
            #expect(try await client.send(.get, "/chats/search?q=ok").status == .unauthorized)
        }
    }

    @Test("the index follows every write: replies once they end, renames, deletions; accents and scripts")
    func indexInStep() async throws {
        try await withApp { client, backend in
            let database = backend.database
            let (ownerID, token) = try await client.signUp("step@example.com")
            let owner = try #require(UUID(uuidString: ownerID))
            let chat = try await database.createChat(userID: owner, title: "Old name")
            let turn = try #require(
                try await database.beginTurn(
                    chatID: chat.id, userContent: "tell me about zebras", model: "m", contextThrough: .max,
                    reservation: nil))
            try await database.updateStreamingContent(messageID: turn.assistant.id, content: "Zebras have stripes")
            // While it is generated, the reply is not indexed (its text is still changing); the question is.
            #expect(try await Self.search(client, token, "stripes").items.isEmpty)
            #expect(try await Self.search(client, token, "zebras").messageIDs == [Int(turn.user.id)])
            try await database.finishMessage(
                id: turn.assistant.id,
                outcome: MessageOutcome(content: "Zebras have black and white stripes", status: .complete))
            #expect(try await Self.search(client, token, "stripes").messageIDs == [Int(turn.assistant.id)])
            #expect(try await Self.search(client, token, "\"black and white\"").messageIDs == [Int(turn.assistant.id)])

            _ = try await database.updateChat(id: chat.id, ownerID: owner, changes: ChatChanges(title: "Savanna notes"))
            #expect(try await Self.search(client, token, "savanna").kinds == ["title"])
            #expect(try await Self.search(client, token, "old").items.isEmpty)

            let words = try await database.createChat(userID: owner, title: nil)
            let cafe = try await database.appendMessage(chatID: words.id, role: .user, content: "Un café à Paris")
            let japanese = try await database.appendMessage(chatID: words.id, role: .user, content: "東京 タワー")
            #expect(try await Self.search(client, token, "CAFÉ").messageIDs == [Int(cafe.id)])
            #expect(try await Self.search(client, token, "東京").messageIDs == [Int(japanese.id)])
            let untitled = try await Self.search(client, token, "paris")
            #expect(untitled.items.first?["chat_title"] is NSNull)

            #expect(
                try await client.send(.delete, "/chats/\(chat.id.lowercasedString)", token: token).status == .noContent)
            #expect(try await Self.search(client, token, "zebras").items.isEmpty)
            #expect(try await Self.search(client, token, "savanna").items.isEmpty)
        }
    }

    @Test("query parsing: terms, phrases, prefixes, and each engine's syntax built from words only")
    func parsing() throws {
        let query = try SearchQuery(parsing: #"Lisbon "pastel de nata" don't trav* e-mail"#)
        #expect(
            query.terms == [
                .init(words: ["lisbon"], prefix: false), .init(words: ["pastel", "de", "nata"], prefix: false),
                .init(words: ["don", "t"], prefix: false), .init(words: ["trav"], prefix: true),
                .init(words: ["e", "mail"], prefix: false),
            ])
        #expect(
            query.fts5Expression(column: "content")
                == #"content : "lisbon" AND content : "pastel de nata" AND content : "don t" AND content : "trav" * AND content : "e mail""#
        )
        #expect(
            query.tsqueryExpression
                == "('lisbon') & ('pastel' <-> 'de' <-> 'nata') & ('don' <-> 't') & ('trav':*) & ('e' <-> 'mail')")
        let hostile = try SearchQuery(parsing: #"a") OR ("b' | 'c"#)
        #expect(
            hostile.fts5Expression(column: "title") == #"title : "a" AND title : "or" AND title : "b" AND title : "c""#)
        #expect(hostile.tsqueryExpression == "('a') & ('or') & ('b') & ('c')")
        #expect(
            query.snippet(of: "We could travel to Lisbon", width: 24)
                == "We could <mark>travel</mark> to <mark>Lisbon</mark>")
        // Ranking as BM25 weighs it: a match in a short text first, then two matches in a long one, then one;
        // the newer first among equals.
        let ranking = try SearchQuery(parsing: "zebra")
        func hit(_ id: Int64, _ text: String, at time: Int64 = 0) -> SearchHit {
            SearchHit(
                chatID: UUID(), chatTitle: nil, messageID: id, role: .user, text: text,
                createdAt: Timestamp(microseconds: time))
        }
        let filler = Array(repeating: "grass", count: 30).joined(separator: " ")
        let ranked = ranking.rank([
            hit(1, "a zebra " + filler), hit(2, "zebra zebra " + filler), hit(3, "a zebra here"),
            hit(4, "a zebra " + filler, at: 5),
        ])
        #expect(ranked.compactMap(\.messageID) == [3, 2, 4, 1])
        let phrase = try SearchQuery(parsing: #""black and white""#)
        #expect(
            phrase.score(of: "black and white and black and white", averageWords: 7)
                > phrase.score(of: "black and white, white and black", averageWords: 7))
        let long =
            (1...100).map { "w\($0)" }.joined(separator: " ") + " lisbon "
            + (1...100).map { "v\($0)" }.joined(separator: " ")
        let cut = query.snippet(of: long, width: 10)
        #expect(cut.hasPrefix("…") && cut.hasSuffix("…") && cut.contains("<mark>lisbon</mark>"), "\(cut)")
    }
}
