import ChatStorage
import Hummingbird

/// GET /chats/search: full-text search over the caller's own chat titles and messages, at most
/// `SEARCHES_PER_USER` at once per user (429 beyond), each stopped after `SEARCH_TIMEOUT_MS` (503).
struct SearchController {
    let backend: ChatBackend

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("search", use: self.search)
    }

    @Sendable func search(_ request: Request, context: AppRequestContext) async throws -> SearchResponse {
        let user = try context.requireUser()
        guard let text = try request.textQuery("q") else {
            throw APIError.validation(.missing(["query", "q"]))
        }
        if let issue = ValidationIssue.storable(text, at: ["query", "q"]) { throw APIError.validation(issue) }
        let limit = try request.integerQuery("limit", default: 20, in: 1...100)
        let offset = try request.integerQuery("offset", default: 0, in: 0...1_000)
        let query: SearchQuery
        do {
            query = try SearchQuery(parsing: text)
        } catch {
            throw APIError.validation(ValidationIssue(loc: ["query", "q"], msg: error.message, type: "value_error"))
        }
        let config = self.backend.config
        let database = self.backend.database
        let hits: [SearchHit]?
        do {
            hits = try await self.backend.searches.run(for: user.id) {
                try await database.search(
                    ownerID: user.id, query: query, limit: limit, offset: offset,
                    timeLimit: .milliseconds(config.searchTimeoutMilliseconds))
            }
        } catch StorageError.searchTimedOut {
            throw APIError(
                .serviceUnavailable,
                "The search took longer than \(config.searchTimeoutMilliseconds) ms and was stopped; "
                    + "try rarer words, fewer prefixes, or again later",
                headers: [.retryAfter: "1"])
        }
        guard let hits else {
            throw APIError.tooManyRequests(
                "Too many searches running: at most \(config.searchesPerUser) at once per user",
                retryAfter: .seconds(1))
        }
        return SearchResponse(query: text, results: hits.map { SearchResult($0, query: query) })
    }
}

/// One result of GET /chats/search: a chat whose title matches (`message_id` and `role` null), or a message.
struct SearchResult: Sendable {
    let hit: SearchHit
    /// HTML: the text escaped, each matching word in `<mark>`.
    let snippet: String

    init(_ hit: SearchHit, query: SearchQuery) {
        self.hit = hit
        self.snippet = query.snippet(of: hit.text)
    }
}

struct SearchResponse: JSONResponse {
    let query: String
    let results: [SearchResult]

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("query", self.query)
            json.key("results")
            json.array(self.results) { json, result in
                json.object { json in
                    json.field("kind", result.hit.messageID == nil ? "title" : "message")
                    json.field("chat_id", result.hit.chatID.lowercasedString)
                    json.field("chat_title", result.hit.chatTitle)
                    json.field("message_id", result.hit.messageID)
                    json.field("role", result.hit.role?.rawValue)
                    json.field("snippet", result.snippet)
                    json.field("created_at", result.hit.createdAt)
                }
            }
        }
    }
}
