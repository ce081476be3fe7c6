import HTTPTypes

/// How large a request body may be: `standard` for every route but POST /chats/import, which takes `imports`
/// (`IMPORT_MAX_MB`: a ChatGPT export runs to tens of megabytes).
struct BodyLimits: Sendable {
    let standard: Int
    let imports: Int

    static let importPath = "/chats/import"

    func limit(for request: HTTPRequest) -> Int {
        guard request.method == .post, let path = request.path else { return self.standard }
        let route = path.firstIndex(of: "?").map { path[..<$0] } ?? path[...]
        return route == Self.importPath ? self.imports : self.standard
    }
}
