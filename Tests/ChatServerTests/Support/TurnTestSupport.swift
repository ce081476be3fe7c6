import ChatProvider
import ChatServer
import ChatStorage
import ChatTurns
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MockGroq
import NIOCore
import Testing

/// The real application, live on a socket, with its provider pointed at a fresh mock upstream.
func withTurnApp(
    behavior: MockGroqBehavior = MockGroqBehavior(),
    adminEmails: [String] = [],
    clock: UsageClock = .system,
    logger: Logger = testLogger(),
    configure: (inout AppConfig) -> Void = { _ in },
    _ body: @escaping @Sendable (any TestClientProtocol, ChatBackend, MockGroqServer) async throws -> Void
) async throws {
    let mock = try await MockGroqServer.start(behavior: behavior)
    do {
        try await withApp(
            .live,
            adminEmails: adminEmails,
            clock: clock,
            logger: logger,
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

/// The project's own libcurl client on a live server, for what the in-process test client cannot do: read SSE
/// incrementally, and send requests beside each other (that client sends one after another on one connection).
struct StreamingClient {
    let port: Int
    let http: CurlClient

    init(port: Int) throws {
        self.port = port
        self.http = try CurlClient()
    }

    /// Sends a request and returns its head and a reader of its body's events; the status and media type, and
    /// then each event (or, for an answer that is not a stream, the whole body) are checked against the API
    /// document as they are read.
    func open(
        _ method: String,
        _ path: String,
        token: String,
        json: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> (CurlResponseHead, SSEReader) {
        var allHeaders = [("Authorization", "Bearer \(token)"), ("Accept", "text/event-stream")] + headers
        if json != nil { allHeaders.append(("Content-Type", "application/json")) }
        let (head, body) = try await self.http.stream(
            CurlRequest(
                method: method,
                url: "http://127.0.0.1:\(self.port)\(path)",
                headers: allHeaders,
                body: Array((json ?? "").utf8),
                totalTimeout: .seconds(30)
            )
        )
        let exchange = APIContract.Exchange(
            method: method, uri: path, status: head.status, contentType: head.header("content-type"), body: [])
        for problem in APIContract.served.problems(exchange, checkingBody: false) {
            Issue.record("Response disagrees with the OpenAPI document: \(problem)")
        }
        return (head, SSEReader(body, exchange: exchange))
    }
}

extension StreamingClient {
    /// Sends a request and reads its answer whole, checked against the API document.
    func send(
        _ method: HTTPRequest.Method, _ path: String, token: String, json: String? = nil,
        timeout: Duration = .seconds(30)
    ) async throws -> WireResponse {
        var headers = [("Authorization", "Bearer \(token)")]
        if json != nil { headers.append(("Content-Type", "application/json")) }
        let response = try await self.http.perform(
            CurlRequest(
                method: method.rawValue, url: "http://127.0.0.1:\(self.port)\(path)", headers: headers,
                body: Array((json ?? "").utf8), totalTimeout: timeout))
        expectDocumented(
            APIContract.Exchange(
                method: method.rawValue, uri: path, status: response.head.status,
                contentType: response.head.header("content-type"), body: response.body))
        return WireResponse(status: response.head.status, body: String(decoding: response.body, as: UTF8.self))
    }

    /// POST /chat as Server-Sent Events (into `chatID`, or a new chat), returning a reader of its events.
    func sendMessage(_ message: String, chatID: String? = nil, token: String) async throws -> SSEReader {
        let chat = chatID.map { #""chat_id": "\#($0)", "# } ?? ""
        let (head, body) = try await self.open(
            "POST", "/chat", token: token, json: #"{\#(chat)"message": "\#(message)"}"#)
        #expect(head.status == 200)
        return body
    }
}

/// Reads SSE events from a byte stream one at a time. Given the exchange they belong to, it checks each event
/// against the route's documented event schema (or, when the answer is not a stream, the whole body at its end).
struct SSEReader {
    var iterator: (any AsyncIteratorProtocol<[UInt8], any Error>)?
    var buffer = ""
    var exchange: APIContract.Exchange?
    var eventsRead = 0

    init(_ stream: some AsyncSequence<[UInt8], any Error>, exchange: APIContract.Exchange? = nil) {
        self.iterator = stream.makeAsyncIterator()
        self.exchange = exchange
    }

    mutating func next() async throws -> SSEEvent? {
        while true {
            if let range = self.buffer.range(of: "\n\n") {
                let block = String(self.buffer[..<range.upperBound])
                self.buffer.removeSubrange(..<range.upperBound)
                if let event = parseServerSentEvents(block).first {
                    self.check(event)
                    return event
                }
                continue
            }
            guard let chunk = try await self.iterator?.next() else {
                self.checkWholeBody()
                return nil
            }
            self.buffer += String(decoding: chunk, as: UTF8.self)
            if self.exchange.map({ APIContract.mediaType($0.contentType) != "text/event-stream" }) == true {
                self.exchange?.body += chunk
            }
        }
    }

    private mutating func check(_ event: SSEEvent) {
        defer { self.eventsRead += 1 }
        guard let exchange = self.exchange,
            let schema = APIContract.served.eventSchema(method: exchange.method, uri: exchange.uri)
        else { return }
        for problem in APIContract.served.eventProblems(event, schema, index: self.eventsRead) {
            Issue.record("Event disagrees with the OpenAPI document: \(exchange.method) \(exchange.uri): \(problem)")
        }
    }

    /// An answer that is not an event stream (an error) is checked whole once it has ended.
    private mutating func checkWholeBody() {
        guard let exchange = self.exchange, APIContract.mediaType(exchange.contentType) != "text/event-stream" else {
            return
        }
        self.exchange = nil
        for problem in APIContract.served.problems(exchange) {
            Issue.record("Response disagrees with the OpenAPI document: \(problem)")
        }
    }
}
