import ChatStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import MockGroq
import Testing

@testable import ChatServer
@testable import ChatTurns

/// Upstream timeouts as configured, bounded followers, and reattaching beyond a reply's current length.
@Suite("Streams and timeouts")
struct StreamTimeoutTests {
    @Test("GROQ_TIMEOUT: a hung upstream is 504 after the configured time, ±1 s", arguments: [2, 4])
    func hungUpstream(seconds: Int) async throws {
        try await withTurnApp(
            behavior: MockGroqBehavior(fault: .hang), configure: { $0.groqTimeoutSeconds = seconds }
        ) { client, _, _ in
            let (_, token) = try await client.signUp("hang@example.com")
            let clock = ContinuousClock()
            let started = clock.now
            let response = try await client.send(.post, "/chat", token: token, json: #"{"message": "hello"}"#)
            let elapsed = clock.now - started
            #expect(response.status == .gatewayTimeout)
            #expect(elapsed >= .seconds(seconds) - .milliseconds(200), "\(elapsed)")
            #expect(elapsed <= .seconds(seconds + 1), "\(elapsed)")
        }
    }

    @Test("GROQ_TIMEOUT also bounds the gap between two chunks")
    func stalledStream() async throws {
        try await withTurnApp(
            behavior: MockGroqBehavior(chunkDelayMilliseconds: 4000), configure: { $0.groqTimeoutSeconds = 1 }
        ) { client, _, _ in
            let (_, token) = try await client.signUp("stall@example.com")
            let clock = ContinuousClock()
            let started = clock.now
            let response = try await client.send(.post, "/chat", token: token, json: #"{"message": "hello"}"#)
            #expect(response.status == .gatewayTimeout)
            #expect(clock.now - started < .milliseconds(2500), "\(clock.now - started)")
        }
    }

    @Test("reattaching with Last-Event-ID beyond the reply's current length sends nothing before that offset")
    func reattachAhead() async throws {
        let reply = (1...40).map { "w\($0)" }.joined(separator: " ")
        try await withTurnApp(behavior: MockGroqBehavior(chunkDelayMilliseconds: 60, reply: reply)) {
            client, _, _ in
            let (_, token) = try await client.signUp("ahead@example.com")
            let streaming = try StreamingClient(port: try #require(client.port))
            var reader = try await streaming.sendMessage("go", token: token)
            let start = try #require(try await reader.next())
            let chatID = try #require(start.json["chat_id"] as? String)
            let messageID = try #require(start.json["assistant_message_id"] as? Int)
            let first = try #require(try await reader.next())
            let length = try #require(first.id.flatMap { Int($0) })
            let asked = length + 11
            let (_, resumed) = try await streaming.open(
                "GET", "/chats/\(chatID)/messages/\(messageID)/stream", token: token,
                headers: [("Last-Event-ID", String(asked))])
            var resumedReader = resumed
            var received = ""
            var final: String?
            var firstOffset: Int?
            while let event = try await resumedReader.next() {
                if event.event == "delta" {
                    let text = event.json["content"] as? String ?? ""
                    let end = try #require(event.id.flatMap { Int($0) })
                    if firstOffset == nil { firstOffset = end - text.unicodeScalars.count }
                    received += text
                }
                if event.event == "done" { final = (event.json["message"] as? [String: Any])?["content"] as? String }
            }
            let content = try #require(final)
            #expect(firstOffset == asked)
            #expect(received == String(content.unicodeScalars.dropFirst(asked)))
        }
    }

    @Test("a follower that stops reading is dropped when its buffer is full; the others get everything")
    func boundedFollowers() async throws {
        var followers = ReplyFollowers()
        let (stalled, stalledContinuation) = ReplyFollowers.makeStream()
        let (reading, readingContinuation) = ReplyFollowers.makeStream()
        followers.add(stalledContinuation)
        followers.add(readingContinuation)
        let consumer = Task {
            var count = 0
            for await event in reading {
                if case .delta = event { count += 1 }
            }
            return count
        }
        let total = ReplyFollowers.bufferLimit + 500
        var length = 0
        for index in 0..<total {
            length += 1
            followers.sendDelta("x", scalarCount: 1, end: length)
            // Let the reading follower keep up, as a connected client would.
            if index % 64 == 0 { try await Task.sleep(for: .milliseconds(1)) }
        }
        #expect(followers.count == 1)
        followers.finish(with: .keepAlive)
        var stalledEvents = 0
        var stalledSawEnd = false
        for await event in stalled {
            if case .keepAlive = event { stalledSawEnd = true }
            stalledEvents += 1
        }
        #expect(stalledEvents == ReplyFollowers.bufferLimit)
        #expect(!stalledSawEnd)
        #expect(await consumer.value == total)
    }
}
