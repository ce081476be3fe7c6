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
        "malformed chunked framing is 400, never 500",
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
            #expect(await connection.answered(within: .seconds(3)))
            #expect(connection.text.hasPrefix("HTTP/1.1 400"), "\(connection.text.prefix(120))")
            await connection.close()
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
