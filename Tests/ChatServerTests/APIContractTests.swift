import Foundation
import Testing

@testable import ChatServer

/// The response checks every HTTP test runs (``APIContract``): they find a body, a status or an event that the
/// document does not describe, and they understand every keyword the document uses.
@Suite("Responses are checked against the OpenAPI document")
struct APIContractTests {
    static let contract = APIContract.served

    static func exchange(_ method: String, _ uri: String, _ status: Int, _ body: String, type: String? = nil)
        -> APIContract.Exchange
    {
        APIContract.Exchange(
            method: method, uri: uri, status: status, contentType: type ?? "application/json", body: Array(body.utf8))
    }

    static let chat = """
        {"id":"0b5e2a1c-8f3d-4c1e-9a7b-1d2e3f405162","user_id":"0b5e2a1c-8f3d-4c1e-9a7b-1d2e3f405163",\
        "title":null,"created_at":"2026-12-07T12:00:00.000Z","updated_at":"2026-12-07T12:00:00.000Z",\
        "message_count":0,"pinned":false,"archived":false,"model":null,"system_prompt":null}
        """

    @Test("a body that matches its schema passes; one that disagrees names the route, status and JSON path")
    func bodyDisagrees() {
        let uri = "/chats/0b5e2a1c-8f3d-4c1e-9a7b-1d2e3f405162"
        #expect(Self.contract.problems(Self.exchange("GET", uri, 200, Self.chat)) == [])
        let wrong = Self.chat.replacingOccurrences(of: #""pinned":false"#, with: #""pinned":"no","colour":1"#)
            .replacingOccurrences(of: #""archived":false,"#, with: "")
        let problems = Self.contract.problems(Self.exchange("GET", uri, 200, wrong))
        #expect(
            Set(problems) == [
                #"GET /chats/{chat_id} → 200: $: the required property "archived" is missing"#,
                #"GET /chats/{chat_id} → 200: $: the property "colour" is not in the document"#,
                #"GET /chats/{chat_id} → 200: $.pinned: expected boolean, got "no""#,
            ])
        let page = #"{"chats":[\#(Self.chat.replacingOccurrences(of: "2026-12-07T12", with: "yesterday"))],"total":1}"#
        #expect(
            Self.contract.problems(Self.exchange("GET", "/chats?limit=5", 200, page)) == [
                #"GET /chats → 200: $.chats[0].created_at: expected a date-time, got "yesterday:00:00.000Z""#,
                #"GET /chats → 200: $.chats[0].updated_at: expected a date-time, got "yesterday:00:00.000Z""#,
            ])
    }

    @Test("an undocumented status, a wrong media type or a body where none is documented is a problem")
    func undocumentedAnswers() {
        let uri = "/chats/0b5e2a1c-8f3d-4c1e-9a7b-1d2e3f405162"
        #expect(
            Self.contract.problems(Self.exchange("GET", uri, 418, #"{"detail":"teapot"}"#)) == [
                "GET /chats/{chat_id} → 418: status 418 is not documented"
            ])
        #expect(
            Self.contract.problems(Self.exchange("GET", uri, 200, Self.chat, type: "text/plain")) == [
                "GET /chats/{chat_id} → 200: media type text/plain is not one of application/json"
            ])
        #expect(
            Self.contract.problems(Self.exchange("DELETE", uri, 204, "{}")) == [
                "DELETE /chats/{chat_id} → 204: a body was sent, the document describes none"
            ])
        // Routes the document does not describe are not its business.
        #expect(Self.contract.problems(Self.exchange("GET", "/no/such/route", 404, "{}")) == [])
        #expect(Self.contract.problems(Self.exchange("PUT", uri, 405, "{}")) == [])
    }

    @Test("literal path segments win over parameters: /chats/search is not a chat id")
    func templates() {
        #expect(Self.contract.template(for: "/chats/search?q=x") == "/chats/search")
        #expect(Self.contract.template(for: "/chats/abc") == "/chats/{chat_id}")
        #expect(
            Self.contract.template(for: "/chats/abc/messages/7/stream")
                == "/chats/{chat_id}/messages/{message_id}/stream")
        #expect(Self.contract.template(for: "/chats/") == nil)
    }

    @Test("each Server-Sent Event's data is checked against the event it names")
    func events() {
        let uri = "/chat"
        let good = "event: delta\nid: 5\ndata: {\"content\":\"hello\"}\n\n"
        #expect(Self.contract.problems(Self.exchange("POST", uri, 200, good, type: "text/event-stream")) == [])
        let bad = "event: delta\nid: 5\ndata: {\"content\":5}\n\nevent: finish\ndata: {}\n\n"
        let problems = Self.contract.problems(Self.exchange("POST", uri, 200, bad, type: "text/event-stream"))
        #expect(
            problems.first
                == "POST /chat → 200: event 1 (delta): matches none of oneOf; nearest is option 2: "
                + "event 1 (delta).data<json>.content: expected string, got 5")
        #expect(problems.count == 2)
        #expect(problems.last?.hasPrefix("POST /chat → 200: event 2 (finish): matches none of oneOf") == true)
    }

    @Test("a disagreeing response is recorded as a test failure")
    func recorded() {
        withKnownIssue {
            expectDocumented(Self.exchange("GET", "/health", 200, #"{"status":"fine"}"#))
        } matching: { issue in
            issue.description.contains(#"GET /health → 200: $.status: expected the constant "healthy", got "fine""#)
        }
    }

    /// Keywords the validator applies, and those that only describe (no check to make on a response).
    static let understood: Set<String> = [
        "$ref", "type", "const", "enum", "properties", "required", "additionalProperties", "items", "allOf",
        "anyOf", "oneOf", "minimum", "maximum", "minLength", "maxLength", "format", "contentMediaType",
        "contentSchema", "description", "default", "title", "examples",
    ]

    @Test("the validator understands every keyword of every schema in the document")
    func keywordsUnderstood() {
        var unknown: Set<String> = []
        func walk(_ schema: JSONInstance) {
            guard let members = schema.members else { return }
            unknown.formUnion(Set(members.keys).subtracting(Self.understood))
            for key in ["items", "additionalProperties", "contentSchema"] { members[key].map(walk) }
            for key in ["allOf", "anyOf", "oneOf"] { members[key]?.elements?.forEach(walk) }
            members["properties"]?.members?.values.forEach(walk)
        }
        let document = JSONInstance(OpenAPIDocument.make())
        document["components"]?["schemas"]?.members?.values.forEach(walk)
        for operations in document["paths"]?.members?.values ?? [:].values {
            for operation in operations.members?.values ?? [:].values {
                for response in operation["responses"]?.members?.values ?? [:].values {
                    for media in response["content"]?.members?.values ?? [:].values { media["schema"].map(walk) }
                }
            }
        }
        #expect(unknown == [])
    }
}
