import ChatStorage
import Hummingbird
import Synchronization

/// POST /chats/import: chats from this server's export or ChatGPT's `conversations.json`, written in one
/// transaction (all of them or none).
struct ImportController {
    let backend: ChatBackend
    /// Imports being parsed or written now, in this process: each holds its file (up to `IMPORT_MAX_MB`) and
    /// its parsed form in memory, so only a few run at once.
    let running = RunningImports()

    static let maximumRunning = 2

    final class RunningImports: Sendable {
        let count = Mutex(0)
    }

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("import", use: self.importChats)
    }

    @Sendable func importChats(_ request: Request, context: AppRequestContext) async throws -> EditedResponse<
        ImportResponse
    > {
        let user = try context.requireUser()
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let ndjson = contentType.hasPrefix("application/x-ndjson")
        guard ndjson || contentType.hasPrefix("application/json") else {
            throw APIError(
                .unsupportedMediaType, "Send the file as application/json, or application/x-ndjson for a full export")
        }
        let admitted = self.running.count.withLock { running in
            guard running < Self.maximumRunning else { return false }
            running += 1
            return true
        }
        guard admitted else {
            throw APIError.tooManyRequests("Other imports are running; try again shortly", retryAfter: .seconds(5))
        }
        defer { self.running.count.withLock { $0 -= 1 } }
        let body = try await request.collectBody(context: context, limit: self.backend.config.importMaxMegabytes << 20)
        let models = self.backend.models
        let parser = ChatImportParser(now: .now(), offers: { models.offers($0) })
        let parsed: ChatImportParser.Parsed
        do {
            parsed = try parser.parse(body.readableBytesView, ndjson: ndjson)
        } catch {
            throw APIError.validation(ValidationIssue(loc: error.location, msg: error.message, type: "value_error"))
        }
        let chats = try await self.backend.database.importChats(ownerID: user.id, parsed.chats)
        return EditedResponse(
            status: .created,
            response: ImportResponse(chats: chats, messages: parsed.messageCount, skipped: parsed.skipped))
    }
}

/// The answer of POST /chats/import: the chats as written, and how many messages were written and left out.
struct ImportResponse: JSONResponse {
    let chats: [ChatRecord]
    let messages: Int
    let skipped: Int

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("imported", self.chats.count)
            json.field("messages", self.messages)
            json.field("skipped", self.skipped)
            json.key("chats")
            json.array(self.chats) { json, chat in ChatResponse(chat).write(to: &json) }
        }
    }
}
