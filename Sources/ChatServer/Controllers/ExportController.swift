import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Downloads of a user's history: one chat as JSON or Markdown (GET /chats/{id}/export), every chat as NDJSON
/// (GET /auth/me/export). Streamed a page of messages at a time, so memory stays the same whatever the size
/// (the full export also holds the list of the user's chat ids, 16 bytes each).
struct ExportController {
    let backend: ChatBackend

    /// Messages read per round trip while exporting.
    static let pageSize = 500

    func addRoutes(chats: RouterGroup<AppRequestContext>, own: RouterGroup<AppRequestContext>) {
        chats.get(":chat_id/export", use: self.exportChat)
        own.get("me/export", use: self.exportAll)
    }

    enum Format: String {
        case json, markdown
    }

    @Sendable func exportChat(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let chatID = try context.uuidParameter("chat_id")
        let raw = request.uri.queryParameters["format"].map(String.init) ?? "json"
        guard let format = Format(rawValue: raw) else {
            throw APIError.validation(
                ValidationIssue(
                    loc: ["query", "format"], msg: "Input should be 'json' or 'markdown'", type: "enum"))
        }
        guard let chat = try await self.backend.database.chat(id: chatID, ownerID: user.id) else {
            throw APIError.chatNotFound
        }
        let exporter = ChatExporter(database: self.backend.database, exportedAt: .now())
        let name = ChatExporter.fileName(for: chat, extension: format == .json ? "json" : "md")
        return Response(
            status: .ok,
            headers: [
                .contentType: format == .json ? "application/json" : "text/markdown; charset=utf-8",
                .contentDisposition: "attachment; filename=\"\(name)\"",
                .cacheControl: "no-store",
            ],
            body: ResponseBody { writer in
                switch format {
                case .json: try await exporter.writeJSON(chat, to: &writer)
                case .markdown: try await exporter.writeMarkdown(chat, to: &writer)
                }
                try await writer.finish(nil)
            })
    }

    @Sendable func exportAll(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let database = self.backend.database
        let chatIDs = try await database.chatIDs(ownerID: user.id)
        let exporter = ChatExporter(database: database, exportedAt: .now())
        let day = String(Timestamp.now().iso8601.prefix(10))
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/x-ndjson",
                .contentDisposition: "attachment; filename=\"chats-\(day).ndjson\"",
                .cacheControl: "no-store",
            ],
            body: ResponseBody { writer in
                for chatID in chatIDs {
                    // A chat deleted since the list was read is left out.
                    guard let chat = try await database.chat(id: chatID, ownerID: user.id) else { continue }
                    try await exporter.writeJSON(chat, to: &writer)
                    try await writer.write(ByteBuffer(string: "\n"))
                }
                try await writer.finish(nil)
            })
    }
}

/// Writes a chat in the export formats, reading its messages a page at a time.
///
/// JSON (one line, also one line of the NDJSON export):
/// `{"format": "ai-chat-backend/chat", "version": 2, "exported_at", "chat": {…as GET /chats/{id}}, "messages": [{…as GET /chats/{id}/messages, "parent_id", "active"}]}`,
/// the messages of every branch (version 1 had the active path only, without `parent_id` and `active`).
/// Markdown: the active path, for reading. POST /chats/import reads both versions back.
struct ChatExporter: Sendable {
    let database: any ChatStore
    let exportedAt: Timestamp

    static let formatName = "ai-chat-backend/chat"
    static let formatVersion = 2

    /// `chat-<title as ASCII words>-<id prefix>.<ext>`: safe in any file system and in a quoted header value.
    static func fileName(for chat: ChatRecord, extension ext: String) -> String {
        var slug = ""
        for scalar in (chat.title ?? "").lowercased().unicodeScalars {
            if scalar.isASCII, CharacterSet.alphanumerics.contains(scalar) {
                slug.unicodeScalars.append(scalar)
            } else if !slug.isEmpty, !slug.hasSuffix("-") {
                slug += "-"
            }
            if slug.count >= 40 { break }
        }
        while slug.hasSuffix("-") { slug.removeLast() }
        let id = String(chat.id.lowercasedString.prefix(8))
        return "chat-" + (slug.isEmpty ? "" : slug + "-") + id + "." + ext
    }

    /// Each page of the chat's messages, oldest first: the active path's, or (`branches`) every branch's.
    private func forEachPage(
        of chat: ChatRecord, branches: Bool, _ body: ([MessageRecord]) async throws -> Void
    ) async throws {
        var after: Int64 = 0
        while true {
            let (chatID, ownerID, limit) = (chat.id, chat.userID, ExportController.pageSize)
            let page =
                try await branches
                ? self.database.allMessages(chatID: chatID, ownerID: ownerID, after: after, limit: limit)
                : self.database.messages(chatID: chatID, ownerID: ownerID, after: after, limit: limit)
            guard let page, let last = page.last else { return }
            try await body(page)
            after = last.id
            if page.count < ExportController.pageSize { return }
        }
    }

    func writeJSON(_ chat: ChatRecord, to writer: inout some ResponseBodyWriter) async throws {
        var head = JSONWriter()
        head.object { json in
            json.field("format", Self.formatName)
            json.field("version", Self.formatVersion)
            json.field("exported_at", self.exportedAt)
            json.key("chat")
            ChatResponse(chat).write(to: &json)
        }
        // The object without its closing brace, then the messages array, then the brace.
        var opening = head.bytes
        opening.removeLast()
        opening.append(contentsOf: Array(#","messages":["#.utf8))
        try await writer.write(ByteBuffer(bytes: opening))
        var first = true
        let chatID = chat.id.lowercasedString
        try await self.forEachPage(of: chat, branches: true) { page in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16_384)
            for message in page {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                var json = JSONWriter()
                json.object { json in
                    MessageResponse(message, chatID: chatID).writeFields(to: &json)
                    json.field("parent_id", message.parentID)
                    json.field("active", message.onActivePath)
                }
                bytes += json.bytes
            }
            try await writer.write(ByteBuffer(bytes: bytes))
        }
        try await writer.write(ByteBuffer(string: "]}"))
    }

    func writeMarkdown(_ chat: ChatRecord, to writer: inout some ResponseBodyWriter) async throws {
        var head = "# \(Self.markdownLine(chat.title ?? "Untitled chat"))\n\n"
        head += "_Exported \(self.exportedAt.iso8601) · created \(chat.createdAt.iso8601)"
        head += " · \(chat.messageCount) messages_\n"
        if let model = chat.model { head += "\nModel: `\(model)`\n" }
        if let prompt = chat.systemPrompt { head += "\nSystem prompt:\n\n> \(Self.quoted(prompt))\n" }
        try await writer.write(ByteBuffer(string: head))
        try await self.forEachPage(of: chat, branches: false) { page in
            var text = ""
            for message in page {
                var heading = "\n## \(message.role.rawValue.capitalized) · \(message.createdAt.iso8601)"
                if message.role == .assistant, let model = message.model { heading += " · \(model)" }
                if message.status != .complete {
                    heading += " · \(message.status.rawValue)"
                    if let error = message.error { heading += ": \(Self.markdownLine(error))" }
                }
                text += heading + "\n\n" + message.content + "\n"
            }
            try await writer.write(ByteBuffer(string: text))
        }
    }

    /// One line of Markdown: line breaks become spaces.
    static func markdownLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// Text inside a block quote: every line quoted.
    static func quoted(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n> ")
    }
}
