/// API keys (managed with a JWT) and the OpenAI-compatible `/v1` routes, whose errors take OpenAI's shape.
extension OpenAPIDocument {
    static let apiKeyID = pathParameter("key_id", "The API key's id")

    static var apiKeyPaths: JSONValue {
        [
            "/auth/me/api-keys": [
                "post": operation(
                    "auth", "Create an API key for the /v1 routes; the key is in this answer only",
                    body: ref("CreateAPIKeyRequest"),
                    responses: [
                        response(201, "The new key, with `key` shown this once (422 past 50 keys)", ref("NewAPIKey"))
                    ]),
                "get": operation(
                    "auth", "Your API keys, oldest first, with this UTC month's usage (never the key itself)",
                    responses: [response(200, "Your keys", array(ref("APIKey")))]),
            ],
            "/auth/me/api-keys/{key_id}": [
                "delete": operation(
                    "auth", "Delete one of your API keys: it is refused at once, on every replica",
                    parameters: [apiKeyID],
                    responses: [
                        response(204, "Deleted", nil),
                        response(404, "No such key (or not yours)", ref("HTTPError")),
                    ])
            ],
            "/admin/api-keys": [
                "get": operation(
                    "admin", "A user's API keys, oldest first, with this UTC month's usage", admin: true,
                    parameters: [
                        [
                            "name": "user_id", "in": "query", "required": true, "description": "The user's id",
                            "schema": ["type": "string", "format": "uuid"],
                        ]
                    ],
                    responses: [
                        response(200, "The user's keys", array(ref("APIKey"))),
                        response(404, "No such user", ref("HTTPError")),
                    ])
            ],
            "/admin/api-keys/{key_id}": [
                "delete": operation(
                    "admin", "Delete anyone's API key: it is refused at once, on every replica", admin: true,
                    parameters: [apiKeyID],
                    responses: [
                        response(204, "Deleted", nil),
                        response(404, "No such key", ref("HTTPError")),
                    ])
            ],
            "/v1/models": [
                "get": openAIOperation(
                    "The models on offer that the API key (or the user, with a JWT) may use, in OpenAI's shape",
                    responses: [response(200, "The models", ref("OpenAIModelList"))])
            ],
        ]
    }

    static var apiKeySchemas: JSONValue {
        [
            "CreateAPIKeyRequest": object(
                [
                    "name": ["type": "string", "minLength": 1, "maxLength": 100],
                    "expires_in_days": [
                        "type": "integer", "minimum": 1, "maximum": 3650, "description": "Absent: never expires",
                    ],
                    "models": [
                        "type": "array", "items": ["type": "string"],
                        "description": "Ids of GET /models the key may use; absent: all offered",
                    ],
                    "monthly_token_budget": [
                        "type": "integer", "minimum": 1, "description": "Tokens per UTC month; absent: no budget",
                    ],
                ], required: ["name"]),
            "APIKey": fields(apiKeyFields + [("usage", object(["requests": integer, "total_tokens": integer]))]),
            "NewAPIKey": fields(
                apiKeyFields + [("key", ["type": "string", "description": "sk- and base64url of 32 random bytes"])]),
            "OpenAIModelList": object([
                "object": ["type": "string", "const": "list"],
                "data": array(
                    object([
                        "id": ["type": "string"], "object": ["type": "string", "const": "model"],
                        "created": integer, "owned_by": ["type": "string"],
                    ])),
            ]),
            "OpenAIError": object([
                "error": object([
                    "message": ["type": "string"], "type": ["type": "string"],
                    "param": ["type": ["string", "null"]], "code": ["type": ["string", "null"]],
                ])
            ]),
        ]
    }

    /// The fields every API key answer has.
    private static var apiKeyFields: [(String, JSONValue)] {
        [
            ("id", uuid), ("user_id", uuid), ("name", ["type": "string"]),
            ("prefix", ["type": "string", "description": "The first 8 characters after `sk-`"]),
            ("created_at", timestamp), ("expires_at", ["type": ["string", "null"], "format": "date-time"]),
            ("last_used_at", ["type": ["string", "null"], "format": "date-time", "description": "To the minute"]),
            ("models", ["type": ["array", "null"], "items": ["type": "string"], "description": "Null: all offered"]),
            ("monthly_token_budget", ["type": ["integer", "null"], "minimum": 1]),
        ]
    }

    /// An object schema of these properties, all required.
    private static func fields(_ properties: [(String, JSONValue)]) -> JSONValue {
        [
            "type": "object", "properties": .object(properties),
            "required": .array(properties.map { JSONValue.string($0.0) }),
        ]
    }

    /// A `/v1` operation: an API key (`Authorization: Bearer sk-…`) or a JWT, and errors in OpenAI's shape.
    static func openAIOperation(_ summary: String, responses: [(String, JSONValue)]) -> JSONValue {
        let errors = [
            response(401, "Missing, invalid, revoked or expired API key or token", ref("OpenAIError")),
            response(503, "The database did not answer in time (Retry-After)", ref("OpenAIError")),
        ]
        return [
            "tags": ["openai"], "summary": .string(summary),
            "security": [["HTTPBearer": []]],
            "responses": .object((responses + errors).sorted { $0.0 < $1.0 }),
        ]
    }
}
