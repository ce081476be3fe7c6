import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import ChatServer

/// What happens on the wire: broken framing, HTTP/1.0, early 413, repeated JSON keys.
@Suite("HTTP framing")
struct HTTPFramingTests {
    @Test(
        "malformed chunked framing is one 400 with a detail, never 500, and the connection closes",
        arguments: [
            "Transfer-Encoding: gzip\r\n\r\nxyz",
            "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":1}\r\n0\r\n\r\n",
        ])
    func malformedChunks(framing: String) async throws {
        try await withApp(.live) { client, _ in
            let port = try #require(client.port)
            let connection = try await RawConnection.connect(port: port)
            try await connection.send(
                "POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\(framing)")
            #expect(await connection.closed(within: .seconds(3)))
            // One answer, with a detail and Connection: close.
            let answer = connection.text
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer.prefix(300))")
            #expect(answer.components(separatedBy: "HTTP/1.1 ").count == 2, "\(answer)")
            #expect(answer.lowercased().contains("\r\nconnection: close\r\n"), "\(answer)")
            #expect(answer.contains(#"{"detail":"#), "\(answer)")
        }
    }

    /// A request whose head leaves its framing in doubt, and the answer it must get (RFC 9112).
    struct DoubtfulHead: Sendable, CustomStringConvertible {
        let description: String
        let request: String
        let status: Int
    }

    static let register = "POST /auth/register"
    static let account = #"{"email": "framed@example.com", "password": "correct horse battery"}"#
    static let chunkedAccount = String(Self.account.utf8.count, radix: 16) + "\r\n" + Self.account + "\r\n0\r\n\r\n"
    static let doubtfulHeads = [
        DoubtfulHead(
            description: "a transfer coding the server cannot decode (gzip, chunked): 501",
            request: "\(register) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: gzip, chunked\r\n\r\n\(chunkedAccount)",
            status: 501),
        DoubtfulHead(
            description: "chunked applied twice: 400",
            request: "\(register) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n\(chunkedAccount)",
            status: 400),
        DoubtfulHead(
            description: "Transfer-Encoding in HTTP/1.0: 400",
            request: "\(register) HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n\(chunkedAccount)",
            status: 400),
        DoubtfulHead(
            description: "HTTP/1.1 without Host: 400",
            request: "\(register) HTTP/1.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(account.utf8.count)\r\n\r\n\(account)",
            status: 400),
        DoubtfulHead(
            description: "two Host headers: 400",
            request: "\(register) HTTP/1.1\r\nHost: x\r\nHost: y\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(account.utf8.count)\r\n\r\n\(account)",
            status: 400),
    ]

    @Test(
        "a head that leaves the framing in doubt is refused with a detail and Connection: close",
        arguments: doubtfulHeads)
    func doubtfulHead(_ doubtful: DoubtfulHead) async throws {
        try await withApp(.live) { client, _ in
            let port = try #require(client.port)
            let connection = try await RawConnection.connect(port: port)
            try await connection.send(doubtful.request)
            #expect(await connection.closed(within: .seconds(3)))
            let answer = connection.text
            #expect(answer.hasPrefix("HTTP/1.1 \(doubtful.status) "), "\(answer.prefix(200))")
            let head = answer.components(separatedBy: "\r\n\r\n").first ?? ""
            #expect(head.lowercased().contains("\r\nconnection: close"), "\(head)")
            let body = answer.components(separatedBy: "\r\n\r\n").dropFirst().joined()
            let detail = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            #expect(detail?["detail"] is String, "\(body)")
            // The request was not served: the account does not exist, and the server carries on.
            #expect(try await client.send(.post, "/auth/register", json: Self.account).status == .created)
        }
    }

    @Test("a doubtful head pipelined behind a good request is answered after that request's response, not inside it")
    func pipelinedDoubtfulHead() async throws {
        try await withApp(.live) { client, _ in
            let connection = try await RawConnection.connect(port: try #require(client.port))
            try await connection.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\n\r\n")
            #expect(await connection.closed(within: .seconds(3)))
            // Each answer's status line starts the text or follows the JSON body before it.
            let text = connection.text
            let statusLines = try NSRegularExpression(pattern: #"(?:^|\})HTTP/1\.1 (\d{3}) "#)
                .matches(in: text, range: NSRange(text.startIndex..., in: text))
                .compactMap { Range($0.range(at: 1), in: text).map { String(text[$0]) } }
            #expect(statusLines == ["200", "400"], "\(text)")
            #expect(text.contains(#"{"status":"healthy"}HTTP/1.1 400"#), "\(text)")
            #expect(text.hasSuffix(#"{"detail":"An HTTP/1.1 request must have exactly one Host header"}"#), "\(text)")
        }
    }

    @Test("HTTP/1.0 without keep-alive, and Connection: Close in any case, close after the response")
    func http10() async throws {
        try await withApp(.live) { client, _ in
            let port = try #require(client.port)
            for request in [
                "GET /health HTTP/1.0\r\n\r\n", "GET /health HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n",
            ] {
                let connection = try await RawConnection.connect(port: port)
                try await connection.send(request)
                #expect(await connection.closed(within: .seconds(2)), "\(request)")
                #expect(connection.text.contains("200 OK"))
            }
            // HTTP/1.0 asking for keep-alive, and HTTP/1.1, keep their connection.
            let kept = try await RawConnection.connect(port: port)
            try await kept.send("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(await kept.answered(within: .seconds(2)))
            #expect(!(await kept.closed(within: .milliseconds(300))))
            await kept.close()
        }
    }

    @Test("a declared Content-Length over 1 MiB is 413 at once, before the body (with or without Expect: 100-continue)")
    func earlyTooLarge() async throws {
        try await withApp(.live) { client, _ in
            let port = try #require(client.port)
            for expect in ["", "Expect: 100-continue\r\n"] {
                let connection = try await RawConnection.connect(port: port)
                try await connection.send(
                    "POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Content-Length: 5000000\r\n\(expect)\r\n")
                #expect(await connection.answered(within: .seconds(1)))
                #expect(connection.text.hasPrefix("HTTP/1.1 413"), "\(connection.text.prefix(120))")
                #expect(connection.text.contains(#""detail""#))
                await connection.close()
            }
            // The server carries on.
            #expect(try await client.send(.get, "/health").status == .ok)
        }
    }

    @Test("a repeated JSON key keeps its last value, as in the reference")
    func duplicateKeys() async throws {
        try await withApp { client, _ in
            try await client.register("dup@example.com")
            let (_, token) = try await client.signUp("keys@example.com")
            let chat = try await client.send(
                .post, "/chats", token: token, json: #"{"title": "first", "title": "last"}"#)
            #expect(try JSONBody(chat).string("title") == "last")
            let login = try await client.send(
                .post, "/auth/login",
                json:
                    #"{"email": "nobody@example.com", "password": "x", "email": "dup@example.com", "password": "correct horse battery"}"#
            )
            #expect(login.status == .ok)
            // Keys inside strings and nested objects are not confused with repeats.
            #expect(
                !DuplicateKeys.containsDuplicate(
                    Array(#"{"a": "\"a\": 1", "b": {"a": 1}, "c": [{"a": 1}, {"a": 2}]}"#.utf8)))
            #expect(DuplicateKeys.containsDuplicate(Array(#"{"b": {"a": 1, "a": 2}}"#.utf8)))
        }
    }
}
