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
struct ChatImportParser {
    /// What an import may hold.
    static let maximumChats = 1_000
    static let maximumMessages = 100_000
    static let maximumMessageLength = 100_000

    /// A problem with the file, for a 422: where (`loc`) and what.
    struct Problem: Error {
        let location: [ValidationIssue.Location]
        let message: String
    }

    /// The chats, and how many messages were left out (not text).
    struct Parsed {
        var chats: [ChatImport] = []
        var skipped = 0
        var messageCount: Int { self.chats.reduce(0) { $0 + $1.messages.count } }
    }

    let now: Timestamp
    /// The models a chat may keep as its own; another is dropped (the chat then uses the default).
    let offers: (String) -> Bool

    func parse(_ bytes: some Collection<UInt8>, ndjson: Bool) throws(Problem) -> Parsed {
        var parsed = Parsed()
        if ndjson {
            var index = 0
            for line in bytes.split(separator: UInt8(ascii: "\n")) where !line.allSatisfy(Self.isSpace) {
                let value = try Self.json(Data(line), at: ["body", .index(index)])
                try self.add(value, at: ["body", .index(index)], to: &parsed)
                index += 1
            }
        } else {
            let value = try Self.json(Data(bytes), at: ["body"])
            if let array = value as? [Any] {
                for (index, element) in array.enumerated() {
                    try self.add(element, at: ["body", .index(index)], to: &parsed)
                }
            } else {
                try self.add(value, at: ["body"], to: &parsed)
            }
        }
        guard !parsed.chats.isEmpty else { throw Problem(location: ["body"], message: "The file holds no chat") }
        return parsed
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }

    private static func json(_ data: Data, at location: [ValidationIssue.Location]) throws(Problem) -> Any {
        do {
            return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw Problem(location: location, message: "Not valid JSON")
        }
    }

    private func add(_ value: Any, at location: [ValidationIssue.Location], to parsed: inout Parsed) throws(Problem) {
        guard let object = value as? [String: Any] else {
            throw Problem(location: location, message: "Expected a chat (an object)")
        }
        guard parsed.chats.count < Self.maximumChats else {
            throw Problem(location: location, message: "An import holds at most \(Self.maximumChats) chats")
        }
        let chat: ChatImport
        if object["format"] as? String == ChatExporter.formatName {
            chat = try self.ours(object, at: location)
        } else if object["mapping"] != nil {
            chat = try self.chatGPT(object, at: location, skipped: &parsed.skipped)
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
        parsed.chats.append(chat)
    }

    // MARK: This server's export

    private func ours(_ object: [String: Any], at location: [ValidationIssue.Location]) throws(Problem) -> ChatImport {
        guard let version = object["version"] as? Int, (1...ChatExporter.formatVersion).contains(version) else {
            throw Problem(
                location: location + ["version"],
                message: "Only versions 1 to \(ChatExporter.formatVersion) of the export are known")
        }
        guard let chat = object["chat"] as? [String: Any] else {
            throw Problem(location: location + ["chat"], message: "Expected an object")
        }
        guard let rawMessages = object["messages"] as? [Any] else {
            throw Problem(location: location + ["messages"], message: "Expected an array")
        }
        let createdAt = try Self.time(chat["created_at"], at: location + ["chat", "created_at"]) ?? self.now
        var messages: [MessageImport] = []
        // Version 2 has every branch: each message names its parent by its exported id.
        var indexOfID: [Int: Int] = [:]
        for (index, raw) in rawMessages.enumerated() {
            let at = location + ["messages", .index(index)]
            guard let message = raw as? [String: Any] else {
                throw Problem(location: at, message: "Expected an object")
            }
            var parent = MessageImport.Parent.previous
            if message["parent_id"] is NSNull {
                parent = .root
            } else if let raw = message["parent_id"] {
                guard let id = raw as? Int, let found = indexOfID[id] else {
                    throw Problem(
                        location: at + ["parent_id"], message: "Expected the id of an earlier message of this chat")
                }
                parent = .message(found)
            }
            if let id = message["id"] as? Int { indexOfID[id] = index }
            guard let role = (message["role"] as? String).flatMap(MessageRole.init(rawValue:)) else {
                throw Problem(location: at + ["role"], message: "Expected system, user or assistant")
            }
            let content = try Self.text(message["content"], at: at + ["content"])
            var status = (message["status"] as? String).flatMap(MessageStatus.init(rawValue:)) ?? .complete
            var error = try Self.storable(message["error"] as? String, at: at + ["error"])
            if status == .streaming {
                // Exported while it was being generated: it will never finish here.
                status = .failed
                error = "interrupted: exported while it was being generated"
            }
            messages.append(
                MessageImport(
                    role: role, content: content,
                    createdAt: try Self.time(message["created_at"], at: at + ["created_at"]) ?? createdAt,
                    status: status, model: try Self.storable(message["model"] as? String, at: at + ["model"]),
                    error: error, parent: parent,
                    onActivePath: message["active"] as? Bool ?? true))
        }
        var systemPrompt: String?
        if let prompt = chat["system_prompt"] as? String {
            guard ChatsController.systemPromptLength.contains(prompt.unicodeScalars.count) else {
                throw Problem(
                    location: location + ["chat", "system_prompt"],
                    message: "Should have 1 to \(ChatsController.systemPromptLength.upperBound) characters")
            }
            systemPrompt = try Self.storable(prompt, at: location + ["chat", "system_prompt"])
        }
        var imported = ChatImport(
            title: try Self.title(chat["title"] as? String, at: location + ["chat", "title"]), createdAt: createdAt,
            updatedAt: try Self.time(chat["updated_at"], at: location + ["chat", "updated_at"]) ?? createdAt,
            pinned: chat["pinned"] as? Bool ?? false, archived: chat["archived"] as? Bool ?? false,
            model: (chat["model"] as? String).flatMap { self.offers($0) ? $0 : nil }, systemPrompt: systemPrompt,
            messages: messages)
        imported.settleActivePath()
        return imported
    }

    // MARK: ChatGPT's conversations.json

    private func chatGPT(
        _ object: [String: Any], at location: [ValidationIssue.Location], skipped: inout Int
    ) throws(Problem) -> ChatImport {
        guard let mapping = object["mapping"] as? [String: Any] else {
            throw Problem(location: location + ["mapping"], message: "Expected an object of message nodes")
        }
        guard let currentNode = object["current_node"] as? String, mapping[currentNode] != nil else {
            throw Problem(location: location + ["current_node"], message: "Expected the id of a node of the mapping")
        }
        // The branch that ends at current_node, walked up to the root (bounded: a cycle cannot loop): the
        // active path.
        var current: Set<String> = []
        var next: String? = currentNode
        while let id = next {
            guard current.insert(id).inserted, let node = mapping[id] as? [String: Any] else {
                throw Problem(
                    location: location + ["mapping", .key(id)], message: "A node's parent chain is broken or loops")
            }
            next = node["parent"] as? String
        }
        // Every branch, parents before children: a depth-first walk from the roots, siblings oldest first. A node
        // that is not kept (no text) passes its place to its children, so a kept message hangs under its
        // nearest kept ancestor.
        var children: [String: [String]] = [:]
        var roots: [String] = []
        for (id, value) in mapping {
            let parent = (value as? [String: Any])?["parent"] as? String
            if let parent, mapping[parent] != nil { children[parent, default: []].append(id) } else { roots.append(id) }
        }
        let createdAt = Self.epoch(object["create_time"]) ?? self.now
        func order(_ ids: [String]) -> [String] {
            ids.map { id in
                let message = (mapping[id] as? [String: Any])?["message"] as? [String: Any]
                return (id: id, time: (message?["create_time"] as? NSNumber)?.doubleValue ?? 0)
            }
            .sorted { ($0.time, $0.id) < ($1.time, $1.id) }.map(\.id)
        }
        var messages: [MessageImport] = []
        var stack: [(id: String, parent: Int?)] = order(roots).reversed().map { ($0, nil) }
        var visited: Set<String> = []
        while let (id, parent) = stack.popLast() {
            guard visited.insert(id).inserted, let node = mapping[id] as? [String: Any] else { continue }
            var place = parent
            if var message = try self.chatGPTMessage(node, at: location, createdAt: createdAt, skipped: &skipped) {
                message.parent = parent.map { .message($0) } ?? .root
                message.onActivePath = current.contains(id)
                place = messages.count
                messages.append(message)
            }
            stack.append(contentsOf: order(children[id] ?? []).reversed().map { ($0, place) })
        }
        return ChatImport(
            title: try Self.title(object["title"] as? String, at: location + ["title"]), createdAt: createdAt,
            updatedAt: Self.epoch(object["update_time"]) ?? createdAt,
            archived: object["is_archived"] as? Bool ?? false,
            messages: messages)
    }

    /// A node's message as it is imported; nil when it is not kept (no message, tool calls, hidden, no text).
    private func chatGPTMessage(
        _ node: [String: Any], at location: [ValidationIssue.Location], createdAt: Timestamp, skipped: inout Int
    ) throws(Problem) -> MessageImport? {
        guard let message = node["message"] as? [String: Any] else { return nil }
        let author = (message["author"] as? [String: Any])?["role"] as? String
        let metadata = message["metadata"] as? [String: Any]
        guard let role = author.flatMap(MessageRole.init(rawValue:)) else {
            skipped += 1  // tool calls and their results
            return nil
        }
        let content = message["content"] as? [String: Any]
        let parts = (content?["parts"] as? [Any] ?? []).compactMap { $0 as? String }
        let text = parts.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty || metadata?["is_visually_hidden_from_conversation"] as? Bool == true {
            // The hidden system message every conversation starts with, images, files.
            if role != .system || !text.isEmpty { skipped += 1 }
            return nil
        }
        let at = location + ["mapping", .key(message["id"] as? String ?? "?")]
        guard text.unicodeScalars.count <= Self.maximumMessageLength else {
            throw Problem(location: at, message: "A message is longer than \(Self.maximumMessageLength) characters")
        }
        return MessageImport(
            role: role, content: try Self.storable(text, at: at + ["message", "content", "parts"]) ?? text,
            createdAt: Self.epoch(message["create_time"]) ?? createdAt,
            model: role == .assistant
                ? try Self.storable(metadata?["model_slug"] as? String, at: at + ["message", "metadata", "model_slug"])
                : nil)
    }

    // MARK: Values

    /// A title as this server keeps them: one line, at most 200 characters; nil for none.
    private static func title(_ raw: String?, at location: [ValidationIssue.Location]) throws(Problem) -> String? {
        guard let raw = try Self.storable(raw, at: location) else { return nil }
        let line = raw.split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        guard !line.isEmpty else { return nil }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: line.unicodeScalars.prefix(ChatsController.titleLength.upperBound))
        return String(scalars)
    }

    private static func text(_ raw: Any?, at location: [ValidationIssue.Location]) throws(Problem) -> String {
        guard let text = raw as? String else { throw Problem(location: location, message: "Expected a string") }
        guard text.unicodeScalars.count <= Self.maximumMessageLength else {
            throw Problem(location: location, message: "Longer than \(Self.maximumMessageLength) characters")
        }
        return try Self.storable(text, at: location) ?? text
    }

    /// Text as it will be stored, refused when it holds what no engine stores (``ValidationIssue/storable(_:at:)``).
    private static func storable(_ text: String?, at location: [ValidationIssue.Location]) throws(Problem) -> String? {
        guard let text, let issue = ValidationIssue.storable(text, at: location) else { return text }
        throw Problem(location: issue.loc, message: issue.msg)
    }

    /// Seconds since 1970 (ChatGPT's times, fractional).
    private static func epoch(_ raw: Any?) -> Timestamp? {
        guard let seconds = (raw as? NSNumber)?.doubleValue, seconds.isFinite, seconds > 0, seconds < 1e11 else {
            return nil
        }
        return Timestamp(microseconds: Int64(seconds * 1_000_000))
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, as this server writes times; nil when absent.
    static func time(_ raw: Any?, at location: [ValidationIssue.Location]) throws(Problem) -> Timestamp? {
        guard let raw, !(raw is NSNull) else { return nil }
        guard let text = raw as? String, let time = Self.parseISO8601(text) else {
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
