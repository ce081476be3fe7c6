/// The OpenAPI 3.1 description of every route: request and response schemas, status codes and the
/// security schemes (bearer token, and the OAuth2 password flow Swagger UI's Authorize button uses).
///
/// A test compares these paths with the router's routes, and every response the HTTP tests receive is checked
/// against the document (its status, media type and schema, each SSE event's data), so neither can drift apart.
enum OpenAPIDocument {
    /// Routes served but not described: the documentation itself (with the files its pages load), the web
    /// console, and the operators' Prometheus endpoint (routed only when `METRICS_TOKEN` is set; the README
    /// describes it).
    static let undocumentedRoutes: Set<String> = [
        "GET /openapi.json", "GET /docs", "GET /redoc", "GET /docs/assets/{name}", "GET /metrics", "GET /app",
        "GET /app/{version}/{asset}",
    ]

    static func make() -> JSONValue {
        [
            "openapi": "3.1.0",
            "info": [
                "title": .string(ChatBackend.name),
                "version": .string(ChatBackend.version),
                "description": "Accounts, chats and AI conversations over Groq's OpenAI-compatible API.",
            ],
            "paths": paths,
            "components": [
                "schemas": schemas,
                "securitySchemes": [
                    "OAuth2PasswordBearer": [
                        "type": "oauth2",
                        "description": "Log in with email (as username) and password.",
                        "flows": ["password": ["tokenUrl": "/auth/token", "scopes": [:]]],
                    ],
                    "HTTPBearer": [
                        "type": "http", "scheme": "bearer",
                        "description": "A JWT; on the /v1 routes also an API key (sk-…)",
                    ],
                ],
            ],
            "tags": [
                ["name": "auth", "description": "Accounts and tokens"],
                ["name": "chats", "description": "A user's chats and messages"],
                ["name": "admin", "description": "Admin area (role admin)"],
                ["name": "meta", "description": "Service information"],
                ["name": "openai", "description": "OpenAI-compatible routes: an API key (sk-…) or a JWT"],
            ],
        ]
    }

    // MARK: Paths and schemas (by area, in OpenAPIDocument+Paths.swift and OpenAPIDocument+Schemas.swift)

    private static var paths: JSONValue {
        merged([
            metaPaths, authPaths, accountDataPaths, chatListPaths, chatPaths, messagePaths, turnPaths,
            adminUserPaths, adminReadPaths, apiKeyPaths, chatCompletionPaths,
        ])
    }

    private static var schemas: JSONValue {
        merged([
            accountSchemas, usageSchemas, chatSchemas, messageSchemas, turnSchemas, metaSchemas, eventSchemas,
            apiKeySchemas, chatCompletionSchemas,
        ])
    }

    /// One object of the members of `parts` (objects), in order.
    static func merged(_ parts: [JSONValue]) -> JSONValue {
        .object(
            parts.flatMap { part -> [(String, JSONValue)] in
                guard case .object(let members) = part else { return [] }
                return members
            })
    }

    // MARK: Builders

    static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }

    static func array(_ items: JSONValue) -> JSONValue { ["type": "array", "items": items] }

    /// An object schema; every property is required unless `required` says otherwise.
    static func object(_ properties: KeyValuePairs<String, JSONValue>, required: [String]? = nil) -> JSONValue {
        let names = required ?? properties.map(\.key)
        return [
            "type": "object",
            "properties": .object(properties.map { ($0.key, $0.value) }),
            "required": .array(names.map(JSONValue.string)),
        ]
    }

    static func pathParameter(_ name: String, _ description: String) -> JSONValue {
        [
            "name": .string(name), "in": "path", "required": true, "description": .string(description),
            "schema": ["type": "string", "format": "uuid"],
        ]
    }

    static func queryParameter(
        _ name: String,
        _ description: String,
        minimum: Int,
        maximum: Int? = nil,
        default defaultValue: Int
    ) -> JSONValue {
        var schema: [(String, JSONValue)] = [("type", "integer"), ("minimum", .int(minimum))]
        if let maximum { schema.append(("maximum", .int(maximum))) }
        schema.append(("default", .int(defaultValue)))
        return [
            "name": .string(name), "in": "query", "required": false, "description": .string(description),
            "schema": .object(schema),
        ]
    }

    static func eventStream(_ description: String) -> (String, JSONValue) {
        (
            "200",
            ["description": .string(description), "content": ["text/event-stream": ["schema": ref("ServerSentEvent")]]]
        )
    }

    static func response(_ status: Int, _ description: String, _ schema: JSONValue?) -> (String, JSONValue) {
        guard let schema else { return (String(status), ["description": .string(description)]) }
        return (
            String(status), ["description": .string(description), "content": ["application/json": ["schema": schema]]]
        )
    }

    static func operation(
        _ tag: String,
        _ summary: String,
        auth: Bool = true,
        admin: Bool = false,
        parameters: [JSONValue] = [],
        body: JSONValue? = nil,
        bodyRequired: Bool = true,
        bodyType: String = "application/json",
        responses: [(String, JSONValue)]
    ) -> JSONValue {
        var fields: [(String, JSONValue)] = [("tags", [.string(tag)]), ("summary", .string(summary))]
        if !parameters.isEmpty { fields.append(("parameters", .array(parameters))) }
        if let body {
            fields.append(
                ("requestBody", ["required": .bool(bodyRequired), "content": [bodyType: ["schema": body]]]))
        }
        var allResponses = responses
        if auth || admin {
            allResponses.append(response(401, "Missing, invalid, expired or revoked token", ref("HTTPError")))
            fields.append(("security", [["OAuth2PasswordBearer": []], ["HTTPBearer": []]]))
        }
        if admin { allResponses.append(response(403, "Admin privileges required", ref("HTTPError"))) }
        // A signed-in request reads the database (its user at least); one that does not answer in time is 503.
        if auth || admin, !allResponses.contains(where: { $0.0 == "503" }) {
            allResponses.append(response(503, "The database did not answer in time (Retry-After)", ref("HTTPError")))
        }
        if body != nil || !parameters.isEmpty {
            allResponses.append(response(422, "Validation error", ref("HTTPValidationError")))
        }
        if body != nil {
            allResponses.append(response(413, "The body is larger than 1 MiB", ref("HTTPError")))
            allResponses.append(response(415, "The body is not of the documented media type", ref("HTTPError")))
        }
        // A status the route describes itself keeps its own description (a key may appear once in an object:
        // ReDoc refuses a document that repeats one).
        var seen = Set<String>()
        allResponses = allResponses.filter { seen.insert($0.0).inserted }
        fields.append(("responses", .object(allResponses.sorted { $0.0 < $1.0 })))
        return .object(fields)
    }
}
