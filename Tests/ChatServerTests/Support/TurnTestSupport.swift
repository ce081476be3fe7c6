import ChatProvider
import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MockGroq
import NIOCore
import Testing

/// The real application, live on a socket, with its provider pointed at a fresh mock upstream.
func withTurnApp(
    behavior: MockGroqBehavior = MockGroqBehavior(),
    adminEmails: [String] = [],
    clock: UsageClock = .system,
    configure: (inout AppConfig) -> Void = { _ in },
    _ body: @escaping @Sendable (any TestClientProtocol, ChatBackend, MockGroqServer) async throws -> Void
) async throws {
    let mock = try await MockGroqServer.start(behavior: behavior)
    do {
        try await withApp(
            .live,
            adminEmails: adminEmails,
            clock: clock,
            configure: { config in
                config.groqAPIKey = mock.apiKey
                config.groqBaseURL = mock.baseURL
                config.groqMaxRetries = 0
                configure(&config)
            }
        ) { client, backend in
            try await body(client, backend, mock)
        }
    } catch {
        await mock.stop()
        throw error
    }
    await mock.stop()
}

/// One parsed Server-Sent Event.
struct SSEEvent: Sendable {
    var event: String
    var id: String?
    var data: String

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(self.data.utf8))) as? [String: Any] ?? [:]
    }
}

func parseServerSentEvents(_ text: String) -> [SSEEvent] {
    text.components(separatedBy: "\n\n").compactMap { block in
        var event = "message"
        var id: String?
        var data: [String] = []
        for line in block.split(separator: "\n") {
            if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
            if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
            if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
        }
        return data.isEmpty ? nil : SSEEvent(event: event, id: id, data: data.joined(separator: "\n"))
    }
}

/// A raw streaming HTTP client (the project's own libcurl client) for reading SSE incrementally.
struct StreamingClient {
    let port: Int
    let http: CurlClient

    init(port: Int) throws {
        self.port = port
        self.http = try CurlClient()
    }

    func open(
        _ method: String,
        _ path: String,
        token: String,
        json: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> (CurlResponseHead, CurlBodyStream) {
        var allHeaders = [("Authorization", "Bearer \(token)"), ("Accept", "text/event-stream")] + headers
        if json != nil { allHeaders.append(("Content-Type", "application/json")) }
        return try await self.http.stream(
            CurlRequest(
                method: method,
                url: "http://127.0.0.1:\(self.port)\(path)",
                headers: allHeaders,
                body: Array((json ?? "").utf8),
                totalTimeout: .seconds(30)
            )
        )
    }
}

extension StreamingClient {
    /// POST /chat as Server-Sent Events (into `chatID`, or a new chat), returning a reader of its events.
    func sendMessage(_ message: String, chatID: String? = nil, token: String) async throws -> SSEReader {
        let chat = chatID.map { #""chat_id": "\#($0)", "# } ?? ""
        let (head, body) = try await self.open(
            "POST", "/chat", token: token, json: #"{\#(chat)"message": "\#(message)"}"#)
        #expect(head.status == 200)
        return SSEReader(body)
    }
}

/// Reads SSE events from a byte stream one at a time.
struct SSEReader {
    var iterator: (any AsyncIteratorProtocol<[UInt8], any Error>)?
    var buffer = ""

    init(_ stream: some AsyncSequence<[UInt8], any Error>) {
        self.iterator = stream.makeAsyncIterator()
    }

    mutating func next() async throws -> SSEEvent? {
        while true {
            if let range = self.buffer.range(of: "\n\n") {
                let block = String(self.buffer[..<range.upperBound])
                self.buffer.removeSubrange(..<range.upperBound)
                if let event = parseServerSentEvents(block).first { return event }
                continue
            }
            guard let chunk = try await self.iterator?.next() else { return nil }
            self.buffer += String(decoding: chunk, as: UTF8.self)
        }
    }
}
