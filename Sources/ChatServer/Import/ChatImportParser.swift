import ChatStorage
import Foundation

/// Reads an import file into chats to write (POST /chats/import), or says exactly what is wrong with it.
///
/// Takes:
/// - this server's export of a chat (GET /chats/{id}/export), a JSON array of them, or the NDJSON of
///   GET /auth/me/export (one per line);
/// - ChatGPT's `conversations.json` (a JSON array of conversations, each a message tree in `mapping`): every
///   branch, the one that ends at `current_node` as the active path; text parts only (images, files and tool
///   calls are left out and counted).
///
/// One pass over the bytes in place (``JSONPullReader``) after a syntax check: only the chats' own fields and
/// messages are materialised (a ChatGPT node as a compact ``ChatGPTNode``), never a tree of the whole document,
/// so an import costs about its file's size in memory, not many times it.
struct ChatImportParser: Sendable {
    /// What an import may hold.
    static let maximumChats = 1_000
    static let maximumMessages = 100_000
    static let maximumMessageLength = 100_000

    /// A problem with the file, for a 422: where (`loc`) and what.
    struct Problem: Error, Sendable {
        let location: [ValidationIssue.Location]
        let message: String
    }

    /// The chats, and how many messages were left out (not text).
    struct Parsed: Sendable {
        var chats: [ChatImport] = []
        var skipped = 0
        private(set) var messageCount = 0

        mutating func append(_ chat: ChatImport) {
            self.chats.append(chat)
            self.messageCount += chat.messages.count
        }
    }

    let now: Timestamp
    /// The models a chat may keep as its own; another is dropped (the chat then uses the default).
    let offers: @Sendable (String) -> Bool

    /// Parses the file's bytes (borrowed for the call).
    func parse(_ bytes: UnsafeRawBufferPointer, ndjson: Bool) throws(Problem) -> Parsed {
        var parsed = Parsed()
        if ndjson {
            var index = 0
            var lineStart = 0
            while lineStart < bytes.count {
                let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                let line = lineStart..<lineEnd
                lineStart = lineEnd + 1
                if bytes[line].allSatisfy(Self.isSpace) { continue }
                try self.document(bytes, line, at: ["body", .index(index)], element: true, into: &parsed)
                index += 1
            }
        } else {
            try self.document(bytes, 0..<bytes.count, at: ["body"], element: false, into: &parsed)
        }
        guard !parsed.chats.isEmpty else { throw Problem(location: ["body"], message: "The file holds no chat") }
        return parsed
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }

    /// One JSON document: checked whole first (invalid JSON anywhere is refused before anything else), then a
    /// chat, or (unless `element`: an NDJSON line is one chat) an array of chats.
    private func document(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, at location: [ValidationIssue.Location],
        element: Bool, into parsed: inout Parsed
    ) throws(Problem) {
        var check = JSONPullReader(bytes, range: range)
        guard check.validate() else { throw Problem(location: location, message: "Not valid JSON") }
        do {
            var reader = JSONPullReader(bytes, range: range)
            let value = try reader.item()
            guard !element, case .array(let elements) = value else {
                return try self.add(value, bytes, at: location, to: &parsed)
            }
            var array = JSONPullReader(bytes, range: elements)
            try array.beginArray()
            var index = 0
            while try array.nextElement() {
                try self.add(try array.item(), bytes, at: location + [.index(index)], to: &parsed)
                index += 1
            }
        } catch let problem as Problem {
            throw problem
        } catch {
            // Not reached: the document was checked above.
            throw Problem(location: location, message: "Not valid JSON")
        }
    }

    private func add(
        _ value: JSONPullReader.Item, _ bytes: UnsafeRawBufferPointer, at location: [ValidationIssue.Location],
        to parsed: inout Parsed
    ) throws {
        guard case .object(let range) = value else {
            throw Problem(location: location, message: "Expected a chat (an object)")
        }
        guard parsed.chats.count < Self.maximumChats else {
            throw Problem(location: location, message: "An import holds at most \(Self.maximumChats) chats")
        }
        let object = try JSONMembers(bytes, range, wanting: Self.chatKeys)
        let chat: ChatImport
        if object["format"]?.string == ChatExporter.formatName {
            chat = try self.ours(object, bytes, at: location)
        } else if object["mapping"] != nil {
            chat = try self.chatGPT(object, bytes, at: location, skipped: &parsed.skipped)
        } else {
            throw Problem(
                location: location,
                message:
                    "Not a chat this server exports (format \"\(ChatExporter.formatName)\") nor a ChatGPT conversation (with a mapping)"
            )
        }
        guard parsed.messageCount + chat.messages.count <= Self.maximumMessages else {
            throw Problem(location: location, message: "An import holds at most \(Self.maximumMessages) messages")
        }
        parsed.append(chat)
    }

    /// The members a chat's object is read for, in either format.
    private static let chatKeys = [
        "format", "version", "chat", "messages", "mapping", "current_node", "title", "create_time", "update_time",
        "is_archived",
    ]

    // MARK: This server's export

    private func ours(
        _ object: JSONMembers, _ bytes: UnsafeRawBufferPointer, at location: [ValidationIssue.Location]
    ) throws -> ChatImport {
        guard let version = object["version"]?.integer, (1...ChatExporter.formatVersion).contains(version) else {
            throw Problem(
                location: location + ["version"],
                message: "Only versions 1 to \(ChatExporter.formatVersion) of the export are known")
        }
        guard case .object(let chatRange)? = object["chat"] else {
            throw Problem(location: location + ["chat"], message: "Expected an object")
        }
        guard case .array(let messagesRange)? = object["messages"] else {
            throw Problem(location: location + ["messages"], message: "Expected an array")
        }
        let chat = try JSONMembers(
            bytes, chatRange,
            wanting: ["title", "created_at", "updated_at", "pinned", "archived", "model", "system_prompt"])
        let createdAt = try Self.time(chat["created_at"], at: location + ["chat", "created_at"]) ?? self.now
        let messages = try self.ourMessages(bytes, messagesRange, at: location, createdAt: createdAt)
        var systemPrompt: String?
        if let prompt = chat["system_prompt"]?.string {
            guard ChatsController.systemPromptLength.contains(prompt.unicodeScalars.count) else {
                throw Problem(
                    location: location + ["chat", "system_prompt"],
                    message: "Should have 1 to \(ChatsController.systemPromptLength.upperBound) characters")
            }
            systemPrompt = try Self.storable(prompt, at: location + ["chat", "system_prompt"])
        }
        var imported = ChatImport(
            title: try Self.title(chat["title"]?.string, at: location + ["chat", "title"]), createdAt: createdAt,
            updatedAt: try Self.time(chat["updated_at"], at: location + ["chat", "updated_at"]) ?? createdAt,
            pinned: chat["pinned"]?.bool ?? false, archived: chat["archived"]?.bool ?? false,
            model: chat["model"]?.string.flatMap { self.offers($0) ? $0 : nil }, systemPrompt: systemPrompt,
            messages: messages)
        imported.settleActivePath()
        return imported
    }

    private func ourMessages(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, at location: [ValidationIssue.Location],
        createdAt: Timestamp
    ) throws -> [MessageImport] {
        var messages: [MessageImport] = []
        // Version 2 has every branch: each message names its parent by its exported id.
        var indexOfID: [Int: Int] = [:]
        var array = JSONPullReader(bytes, range: range)
        try array.beginArray()
        var index = 0
        while try array.nextElement() {
            defer { index += 1 }
            let at = location + ["messages", .index(index)]
            guard case .object(let messageRange) = try array.item() else {
                throw Problem(location: at, message: "Expected an object")
            }
            let message = try JSONMembers(bytes, messageRange, wanting: Self.messageKeys)
            var parent = MessageImport.Parent.previous
            if case .null? = message["parent_id"] {
                parent = .root
            } else if let raw = message["parent_id"] {
                guard let id = raw.integer, let found = indexOfID[id] else {
                    throw Problem(
                        location: at + ["parent_id"], message: "Expected the id of an earlier message of this chat")
                }
                parent = .message(found)
            }
            if let id = message["id"]?.integer { indexOfID[id] = index }
            guard let role = message["role"]?.string.flatMap(MessageRole.init(rawValue:)) else {
                throw Problem(location: at + ["role"], message: "Expected system, user or assistant")
            }
            let content = try Self.text(message["content"], at: at + ["content"])
            var status = message["status"]?.string.flatMap(MessageStatus.init(rawValue:)) ?? .complete
            var error = try Self.storable(message["error"]?.string, at: at + ["error"])
            if status == .streaming {
                // Exported while it was being generated: it will never finish here.
                status = .failed
                error = "interrupted: exported while it was being generated"
            }
            messages.append(
                MessageImport(
                    role: role, content: content,
                    createdAt: try Self.time(message["created_at"], at: at + ["created_at"]) ?? createdAt,
                    status: status, model: try Self.storable(message["model"]?.string, at: at + ["model"]),
                    error: error, parent: parent,
                    onActivePath: message["active"]?.bool ?? true))
        }
        return messages
    }

    private static let messageKeys = [
        "parent_id", "id", "role", "content", "status", "error", "created_at", "model", "active",
    ]

    // MARK: Values

    /// A title as this server keeps them: one line, at most 200 characters; nil for none.
    static func title(_ raw: String?, at location: [ValidationIssue.Location]) throws(Problem) -> String? {
        guard let raw = try Self.storable(raw, at: location) else { return nil }
        let line = raw.split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        guard !line.isEmpty else { return nil }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: line.unicodeScalars.prefix(ChatsController.titleLength.upperBound))
        return String(scalars)
    }

    private static func text(
        _ raw: JSONPullReader.Item?, at location: [ValidationIssue.Location]
    ) throws(Problem) -> String {
        guard let text = raw?.string else { throw Problem(location: location, message: "Expected a string") }
        guard text.unicodeScalars.count <= Self.maximumMessageLength else {
            throw Problem(location: location, message: "Longer than \(Self.maximumMessageLength) characters")
        }
        return try Self.storable(text, at: location) ?? text
    }

    /// Text as it will be stored, refused when it holds what no engine stores (``ValidationIssue/storable(_:at:)``).
    static func storable(_ text: String?, at location: [ValidationIssue.Location]) throws(Problem) -> String? {
        guard let text, let issue = ValidationIssue.storable(text, at: location) else { return text }
        throw Problem(location: issue.loc, message: issue.msg)
    }

    /// Seconds since 1970 (ChatGPT's times, fractional).
    static func epoch(_ raw: JSONPullReader.Item?) -> Timestamp? {
        guard let seconds = raw?.double, seconds.isFinite, seconds > 0, seconds < 1e11 else {
            return nil
        }
        return Timestamp(microseconds: Int64(seconds * 1_000_000))
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, as this server writes times; nil when absent.
    static func time(
        _ raw: JSONPullReader.Item?, at location: [ValidationIssue.Location]
    ) throws(Problem) -> Timestamp? {
        guard let raw else { return nil }
        if case .null = raw { return nil }
        guard let text = raw.string, let time = Self.parseISO8601(text) else {
            throw Problem(location: location, message: "Expected a time like 2026-01-31T12:00:00Z")
        }
        return time
    }

    static func parseISO8601(_ text: String) -> Timestamp? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard bytes.count >= 20, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54 || bytes[10] == 0x20,
            bytes[13] == 0x3A, bytes[16] == 0x3A,
            number(0..<4) != nil, number(5..<7) != nil, number(8..<10) != nil,
            let date = UsageDay(iso: text.prefix(10)),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var micros = 0
        if index < bytes.count, bytes[index] == 0x2E {
            index += 1
            var digits = 0
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                if digits < 6 { micros = micros * 10 + Int(bytes[index] - 0x30) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            if digits < 6 {
                for _ in digits..<6 { micros *= 10 }
            }
        }
        var offset = 0
        guard index < bytes.count else { return nil }
        if bytes[index] == 0x5A {
            index += 1
        } else if bytes[index] == 0x2B || bytes[index] == 0x2D, let hours = number(index + 1..<index + 3),
            index + 3 < bytes.count, bytes[index + 3] == 0x3A, let minutes = number(index + 4..<index + 6)
        {
            offset = (hours * 60 + minutes) * 60 * (bytes[index] == 0x2B ? 1 : -1)
            index += 6
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        let seconds = date.number * 86_400 + hour * 3_600 + minute * 60 + second - offset
        return Timestamp(microseconds: Int64(seconds) * 1_000_000 + Int64(micros))
    }
}
