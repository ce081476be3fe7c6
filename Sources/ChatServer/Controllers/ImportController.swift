import ChatStorage
import ChatTurns
import Foundation
import Hummingbird
import NIOPosix
import Synchronization

/// POST /chats/import: chats from this server's export or ChatGPT's `conversations.json`, all of them or none
/// (SQLite writes them in short slices that stay invisible until one publishing commit; PostgreSQL in one
/// transaction).
struct ImportController {
    let backend: ChatBackend
    /// Imports being parsed or written now, in this process.
    let running = RunningImports()

    /// Each import holds its file (up to `IMPORT_MAX_MB`) and its parsed form in memory: two at once bound a
    /// process's import memory to twice one import's, whatever the number of users.
    static let maximumRunning = 2

    /// The imports running in this process, and whose they are: one at a time per user, at most
    /// ``maximumRunning`` in all.
    final class RunningImports: Sendable {
        private let state = Mutex((count: 0, users: Set<UUID>()))

        /// Takes a place for `user`'s import, or says why not (a 429).
        func admit(_ user: UUID) throws(APIError) {
            let refusal: String? = self.state.withLock { state in
                if state.users.contains(user) {
                    return "An import of yours is running; send the next one when it has finished"
                }
                guard state.count < ImportController.maximumRunning else {
                    return "Other imports are running; try again shortly"
                }
                state.count += 1
                state.users.insert(user)
                return nil
            }
            if let refusal { throw APIError.tooManyRequests(refusal, retryAfter: .seconds(5)) }
        }

        func release(_ user: UUID) {
            self.state.withLock { state in
                state.count -= 1
                state.users.remove(user)
            }
        }
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
        try self.running.admit(user.id)
        defer { self.running.release(user.id) }
        let response: ImportResponse
        do {
            response = try await self.write(request, context: context, ndjson: ndjson, for: user.id)
        } catch {
            await MemoryTrimService.trim()
            throw error
        }
        // After the file and its chats were released (they lived in `write`), not before: glibc keeps freed
        // memory in its arenas, so without this a process that once imported a large file stays that large.
        await MemoryTrimService.trim()
        return EditedResponse(status: .created, response: response)
    }

    private func write(
        _ request: Request, context: AppRequestContext, ndjson: Bool, for user: UUID
    ) async throws -> ImportResponse {
        let parsed = try await self.parse(request, context: context, ndjson: ndjson)
        let chats = try await self.backend.database.importChats(ownerID: user, parsed.chats)
        return ImportResponse(chats: chats, messages: parsed.messageCount, skipped: parsed.skipped)
    }

    /// The file's chats; the file itself is released when this returns, before they are written. Parsed on
    /// NIO's blocking-work thread pool: a 32 MB file is a second or more of CPU, which on the cooperative pool
    /// (one thread per core) would stall every other request's task while two imports run.
    private func parse(
        _ request: Request, context: AppRequestContext, ndjson: Bool
    ) async throws -> ChatImportParser.Parsed {
        let body = try await request.collectBody(context: context, limit: self.backend.config.importMaxMegabytes << 20)
        let models = self.backend.models
        let parser = ChatImportParser(now: .now(), offers: { models.offers($0) })
        do {
            return try await NIOThreadPool.singleton.runIfActive {
                try body.withUnsafeReadableBytes { bytes in try parser.parse(bytes, ndjson: ndjson) }
            }
        } catch let error as ChatImportParser.Problem {
            throw APIError.validation(ValidationIssue(loc: error.location, msg: error.message, type: "value_error"))
        }
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
