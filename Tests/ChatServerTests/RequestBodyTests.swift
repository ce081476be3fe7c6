import ChatProvider
import Foundation
import MockGroq
import Testing

/// The chat-completions body as Groq receives it, written without `JSONEncoder`.
@Suite("Upstream request body")
struct RequestBodyTests {
    /// Text that needs every kind of escape, and some that needs none.
    static let awkward =
        "quote \" backslash \\ slash / newline \n return \r tab \t nul \u{0} bell \u{7} unit \u{1F} del \u{7F} "
        + "é 漢字 🚀 line sep \u{2028} end"

    static func parsed(_ body: [UInt8]) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(body)) as? NSDictionary)
    }

    @Test("every field, every escape: the body parses back to what was asked")
    func allFields() throws {
        let request = ChatCompletionRequest(
            model: "openai/gpt-oss-20b",
            messages: [
                ChatMessage(role: "system", content: "Be brief."),
                ChatMessage(role: "user", content: Self.awkward),
                ChatMessage(role: "assistant", content: ""),
            ],
            temperature: 0.3, maxCompletionTokens: 256, stream: true)
        let expected: NSDictionary = [
            "model": "openai/gpt-oss-20b",
            "messages": [
                ["role": "system", "content": "Be brief."],
                ["role": "user", "content": Self.awkward],
                ["role": "assistant", "content": ""],
            ],
            "temperature": 0.3,
            "max_completion_tokens": 256,
            "stream": true,
        ]
        #expect(try Self.parsed(try request.jsonBody()) == expected)
    }

    @Test("absent options are left out, not sent as null")
    func absentOptions() throws {
        let request = ChatCompletionRequest(model: "m", messages: [ChatMessage(role: "user", content: "hi")])
        let body = try request.jsonBody()
        #expect(
            String(decoding: body, as: UTF8.self)
                == #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":false}"#)
        #expect(try Self.parsed(body).allKeys.count == 3)
    }

    @Test("a temperature JSON cannot hold is refused, as JSONEncoder refused it", arguments: [Double.nan, .infinity])
    func nonFiniteTemperature(temperature: Double) {
        let request = ChatCompletionRequest(model: "m", messages: [], temperature: temperature)
        #expect(throws: EncodingError.self) { try request.jsonBody() }
    }

    @Test("the mock upstream receives the messages exactly as sent")
    func receivedByMock() async throws {
        try await ProviderClientTests.withMock { mock, client in
            let messages = [ChatMessage(role: "user", content: Self.awkward)]
            _ = try await client.complete(ChatCompletionRequest(model: "m", messages: messages))
            let received = try #require(mock.conversations.last)
            #expect(received.map(\.role) == ["user"])
            #expect(received.map(\.content) == [Self.awkward])
        }
    }
}
