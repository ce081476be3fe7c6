import ChatStorage
import Foundation

/// One node of a ChatGPT conversation's `mapping` as an import keeps it: its place in the tree and what its
/// message becomes (with the text when it is kept), nothing else of the node.
struct ChatGPTNode {
    /// What the node's message becomes; decided when it is read, applied when the walk reaches the node.
    enum Outcome {
        /// No message (the root), or the node is not an object.
        case none
        /// Left out and counted: a tool call, an image or a file, a hidden message with text.
        case skipped
        /// Left out, not counted: the hidden, empty system message every conversation starts with.
        case silent
        case kept(MessageImport)
        /// Refused when reached: its text is longer than an import takes (the message's own id, for `loc`).
        case tooLong(messageID: String)
        /// Refused when reached: `field` of the message holds what no engine stores (a NUL).
        case unstorable(messageID: String, field: [ValidationIssue.Location])
    }

    let key: String
    let isObject: Bool
    var parent: String?
    /// The message's `create_time` (0 when none): siblings are taken oldest first.
    var sortTime: Double = 0
    var outcome = Outcome.none
}

extension ChatImportParser {
    /// A conversation of ChatGPT's `conversations.json`: every branch, parents before children (a depth-first
    /// walk from the roots, siblings oldest first), the one ending at `current_node` as the active path. A node
    /// that is not kept passes its place to its children, so a kept message hangs under its nearest kept
    /// ancestor.
    func chatGPT(
        _ object: JSONMembers, _ bytes: UnsafeRawBufferPointer, at location: [ValidationIssue.Location],
        skipped: inout Int
    ) throws -> ChatImport {
        guard case .object(let mappingRange)? = object["mapping"] else {
            throw Problem(location: location + ["mapping"], message: "Expected an object of message nodes")
        }
        let createdAt = Self.epoch(object["create_time"]) ?? self.now
        let (nodes, indexOfKey) = try self.chatGPTNodes(bytes, mappingRange, createdAt: createdAt)
        guard let currentNode = object["current_node"]?.string, indexOfKey[currentNode] != nil else {
            throw Problem(location: location + ["current_node"], message: "Expected the id of a node of the mapping")
        }
        let onPath = try Self.activePath(from: currentNode, nodes, indexOfKey, at: location)
        var children = [[Int]](repeating: [], count: nodes.count)
        var roots: [Int] = []
        for (index, node) in nodes.enumerated() {
            if let parent = node.parent, let parentIndex = indexOfKey[parent] {
                children[parentIndex].append(index)
            } else {
                roots.append(index)
            }
        }
        func order(_ indices: [Int]) -> [Int] {
            indices.sorted { (nodes[$0].sortTime, nodes[$0].key) < (nodes[$1].sortTime, nodes[$1].key) }
        }
        var messages: [MessageImport] = []
        var stack: [(node: Int, parent: Int?)] = order(roots).reversed().map { ($0, nil) }
        var visited = [Bool](repeating: false, count: nodes.count)
        while let (index, parent) = stack.popLast() {
            guard !visited[index], nodes[index].isObject else { continue }
            visited[index] = true
            var place = parent
            switch nodes[index].outcome {
            case .none, .silent: break
            case .skipped: skipped += 1
            case .tooLong(let id):
                throw Problem(
                    location: location + ["mapping", .key(id)],
                    message: "A message is longer than \(Self.maximumMessageLength) characters")
            case .unstorable(let id, let field):
                throw Problem(location: location + ["mapping", .key(id)] + field, message: ValidationIssue.nulMessage)
            case .kept(var message):
                message.parent = parent.map { .message($0) } ?? .root
                message.onActivePath = onPath[index]
                place = messages.count
                messages.append(message)
            }
            stack.append(contentsOf: order(children[index]).reversed().map { ($0, place) })
        }
        return ChatImport(
            title: try Self.title(object["title"]?.string, at: location + ["title"]), createdAt: createdAt,
            updatedAt: Self.epoch(object["update_time"]) ?? createdAt, archived: object["is_archived"]?.bool ?? false,
            messages: messages)
    }

    /// The mapping's nodes, and each one's index by key (a repeated key's last node counts).
    private func chatGPTNodes(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, createdAt: Timestamp
    ) throws -> (nodes: [ChatGPTNode], indexOfKey: [String: Int]) {
        var nodes: [ChatGPTNode] = []
        var indexOfKey: [String: Int] = [:]
        var reader = JSONPullReader(bytes, range: range)
        try reader.beginObject()
        while let key = try reader.nextKey() {
            let node = try self.chatGPTNode(key, try reader.item(), bytes, createdAt: createdAt)
            if let existing = indexOfKey[key] {
                nodes[existing] = node
            } else {
                indexOfKey[key] = nodes.count
                nodes.append(node)
            }
        }
        return (nodes, indexOfKey)
    }

    /// The branch that ends at `current` (by node), walked up to the root; bounded: a cycle cannot loop.
    private static func activePath(
        from current: String, _ nodes: [ChatGPTNode], _ indexOfKey: [String: Int],
        at location: [ValidationIssue.Location]
    ) throws(Problem) -> [Bool] {
        var onPath = [Bool](repeating: false, count: nodes.count)
        var key = current
        while true {
            guard let index = indexOfKey[key], !onPath[index], nodes[index].isObject else {
                throw Problem(
                    location: location + ["mapping", .key(key)], message: "A node's parent chain is broken or loops")
            }
            onPath[index] = true
            guard let parent = nodes[index].parent else { return onPath }
            key = parent
        }
    }

    private func chatGPTNode(
        _ key: String, _ item: JSONPullReader.Item, _ bytes: UnsafeRawBufferPointer, createdAt: Timestamp
    ) throws -> ChatGPTNode {
        guard case .object(let range) = item else { return ChatGPTNode(key: key, isObject: false) }
        let members = try JSONMembers(bytes, range, wanting: ["parent", "message"])
        var node = ChatGPTNode(key: key, isObject: true, parent: members["parent"]?.string)
        guard case .object(let messageRange)? = members["message"] else { return node }
        let message = try JSONMembers(
            bytes, messageRange, wanting: ["id", "author", "create_time", "content", "metadata"])
        node.sortTime = message["create_time"]?.double ?? 0
        node.outcome = try self.chatGPTOutcome(message, bytes, createdAt: createdAt)
        return node
    }

    /// What a node's message becomes: kept when it is a system, user or assistant message with text and not
    /// hidden.
    private func chatGPTOutcome(
        _ message: JSONMembers, _ bytes: UnsafeRawBufferPointer, createdAt: Timestamp
    ) throws -> ChatGPTNode.Outcome {
        guard case .object(let authorRange)? = message["author"],
            let role = try JSONMembers(bytes, authorRange, wanting: ["role"])["role"]?.string
                .flatMap(MessageRole.init(rawValue:))
        else {
            return .skipped  // tool calls and their results
        }
        var hidden = false
        var modelSlug: String?
        if case .object(let metadataRange)? = message["metadata"] {
            let metadata = try JSONMembers(
                bytes, metadataRange, wanting: ["is_visually_hidden_from_conversation", "model_slug"])
            hidden = metadata["is_visually_hidden_from_conversation"]?.bool == true
            modelSlug = metadata["model_slug"]?.string
        }
        var parts: [String] = []
        if case .object(let contentRange)? = message["content"],
            case .array(let partsRange)? = try JSONMembers(bytes, contentRange, wanting: ["parts"])["parts"]
        {
            var reader = JSONPullReader(bytes, range: partsRange)
            try reader.beginArray()
            while try reader.nextElement() {
                if case .string(let part) = try reader.item() { parts.append(part) }
            }
        }
        let text = parts.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty || hidden {
            // The hidden system message every conversation starts with, images, files.
            return role != .system || !text.isEmpty ? .skipped : .silent
        }
        let messageID = message["id"]?.string ?? "?"
        guard text.unicodeScalars.count <= Self.maximumMessageLength else { return .tooLong(messageID: messageID) }
        // The one rule for text an engine cannot store (ValidationIssue.storable); `loc` is added when reached.
        if ValidationIssue.storable(text, at: []) != nil {
            return .unstorable(messageID: messageID, field: ["message", "content", "parts"])
        }
        if role == .assistant, let modelSlug, ValidationIssue.storable(modelSlug, at: []) != nil {
            return .unstorable(messageID: messageID, field: ["message", "metadata", "model_slug"])
        }
        return .kept(
            MessageImport(
                role: role, content: text, createdAt: Self.epoch(message["create_time"]) ?? createdAt,
                model: role == .assistant ? modelSlug : nil))
    }
}
