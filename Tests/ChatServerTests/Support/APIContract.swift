import Foundation
import Testing

@testable import ChatServer

/// The OpenAPI document as a contract on every response the HTTP tests receive: the status must be documented
/// for the route's method and template, the media type must be one the response lists, and the body must match
/// its schema (each line of NDJSON, each Server-Sent Event). Requests to routes the document does not describe
/// (unknown paths, methods a path does not have, the docs and metrics pages) are not checked.
struct APIContract: Sendable {
    /// The contract of the document the server serves.
    static let served = APIContract(document: JSONInstance(OpenAPIDocument.make()))

    let paths: [String: JSONInstance]
    let validator: SchemaValidator

    init(document: JSONInstance) {
        self.paths = document["paths"]?.members ?? [:]
        self.validator = SchemaValidator(components: document["components"]?["schemas"]?.members ?? [:])
    }

    /// One received response, as any of the suite's clients sees it.
    struct Exchange: Sendable {
        var method: String
        var uri: String
        var status: Int
        var contentType: String?
        var body: [UInt8]
    }

    /// The documented path template a request path falls under (literal segments win over parameters), or nil.
    func template(for uri: String) -> String? {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var best: (template: String, literals: Int)?
        for template in self.paths.keys {
            let parts = template.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == segments.count else { continue }
            var literals = 0
            let fits = zip(parts, segments).allSatisfy { part, segment in
                if part.hasPrefix("{") { return !segment.isEmpty }
                literals += 1
                return part == segment
            }
            if fits, literals > best?.literals ?? -1 { best = (template, literals) }
        }
        return best?.template
    }

    /// The documented response of a request's route for a status; nil with no problem when the route is not
    /// documented at all.
    func documentedResponse(method: String, uri: String, status: Int) -> (route: String, response: JSONInstance?)? {
        guard let template = self.template(for: uri),
            let operation = self.paths[template]?[method.lowercased()]
        else { return nil }
        let route = "\(method.uppercased()) \(template)"
        return (route, operation["responses"]?[String(status)] ?? operation["responses"]?["default"])
    }

    /// Every way a response disagrees with the document, each naming the route and status. With
    /// `checkingBody: false` only the status and media type are checked (a stream whose body is read later).
    func problems(_ exchange: Exchange, checkingBody: Bool = true) -> [String] {
        guard exchange.method.uppercased() != "HEAD",
            let (route, documented) = self.documentedResponse(
                method: exchange.method, uri: exchange.uri, status: exchange.status)
        else { return [] }
        let context = "\(route) → \(exchange.status)"
        guard let response = documented else { return ["\(context): status \(exchange.status) is not documented"] }
        let found: [String]
        if let content = response["content"]?.members {
            let mediaType = Self.mediaType(exchange.contentType)
            if let schema = content[mediaType]?["schema"] {
                found = checkingBody ? self.bodyProblems(exchange.body, mediaType: mediaType, schema: schema) : []
            } else {
                let listed = content.keys.sorted().joined(separator: ", ")
                found = ["media type \(mediaType.isEmpty ? "(none)" : mediaType) is not one of \(listed)"]
            }
        } else {
            found = exchange.body.isEmpty ? [] : ["a body was sent, the document describes none"]
        }
        return found.map { "\(context): \($0)" }
    }

    private func bodyProblems(_ body: [UInt8], mediaType: String, schema: JSONInstance) -> [String] {
        switch mediaType {
        case "application/json": return self.jsonProblems(body, schema, at: "$")
        case "application/x-ndjson":
            let lines = body.split(separator: UInt8(ascii: "\n"))
            return lines.enumerated().flatMap { self.jsonProblems(Array($1), schema, at: "line \($0 + 1): $") }
        case "text/event-stream":
            let text = String(decoding: body, as: UTF8.self)
            return parseServerSentEvents(text).enumerated().flatMap { self.eventProblems($1, schema, index: $0) }
        default: return []
        }
    }

    private func jsonProblems(_ body: [UInt8], _ schema: JSONInstance, at path: String) -> [String] {
        guard let value = try? JSONInstance.parse(body) else {
            return ["\(path): the body is not JSON: \(String(decoding: body.prefix(120), as: UTF8.self))"]
        }
        return self.validator.problems(value, schema, at: path)
    }

    /// One event checked as the object `{event, data, id?}` its schema describes.
    func eventProblems(_ event: SSEEvent, _ schema: JSONInstance, index: Int) -> [String] {
        var members: [String: JSONInstance] = ["event": .string(event.event), "data": .string(event.data)]
        if let id = event.id { members["id"] = .string(id) }
        return self.validator.problems(.object(members), schema, at: "event \(index + 1) (\(event.event))")
    }

    /// The schema of a route's Server-Sent Events, when its 200 answer can be an event stream.
    func eventSchema(method: String, uri: String) -> JSONInstance? {
        let documented = self.documentedResponse(method: method, uri: uri, status: 200)
        return documented?.response?["content"]?["text/event-stream"]?["schema"]
    }

    static func mediaType(_ contentType: String?) -> String {
        let type = contentType?.split(separator: ";", maxSplits: 1).first ?? ""
        return type.trimmingCharacters(in: .whitespaces).lowercased()
    }
}

extension APIContract {
    /// Statuses a test provokes on purpose that no route documents (a fault that makes a route answer 500):
    /// responses with them are not checked while `body` runs.
    @TaskLocal static var undocumentedOnPurpose: Set<Int> = []
}

/// Records an issue for each way a response disagrees with the API document.
func expectDocumented(_ exchange: APIContract.Exchange, sourceLocation: SourceLocation = #_sourceLocation) {
    guard !APIContract.undocumentedOnPurpose.contains(exchange.status) else { return }
    for problem in APIContract.served.problems(exchange) {
        Issue.record("Response disagrees with the OpenAPI document: \(problem)", sourceLocation: sourceLocation)
    }
}
