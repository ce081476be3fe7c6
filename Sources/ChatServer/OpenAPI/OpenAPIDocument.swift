/// The OpenAPI 3.1 description of every route: request and response schemas, status codes and the
/// security schemes (bearer token, and the OAuth2 password flow Swagger UI's Authorize button uses).
///
/// A test compares these paths with the router's routes, so the two cannot drift apart.
enum OpenAPIDocument {
    /// Routes served but not described: the documentation itself, and the operators' Prometheus endpoint
    /// (routed only when `METRICS_TOKEN` is set; the README describes it).
    static let undocumentedRoutes: Set<String> = ["GET /openapi.json", "GET /docs", "GET /redoc", "GET /metrics"]

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
                    "HTTPBearer": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT"],
                ],
            ],
            "tags": [
                ["name": "auth", "description": "Accounts and tokens"],
                ["name": "chats", "description": "A user's chats and messages"],
                ["name": "admin", "description": "Admin area (role admin)"],
                ["name": "meta", "description": "Service information"],
            ],
        ]
    }

    // MARK: Paths

    private static var paths: JSONValue {
        let chatID = pathParameter("chat_id", "The chat's id")
        let userID = pathParameter("user_id", "The user's id")
        let offset = queryParameter("offset", "Items to skip", minimum: 0, maximum: Int(Int32.max), default: 0)
        let limitOffset = [queryParameter("limit", "Page size", minimum: 1, maximum: 100, default: 50), offset]
        let archived: JSONValue = [
            "name": "archived", "in": "query", "required": false,
            "description": "true: the archived chats instead of the others",
            "schema": ["type": "boolean", "default": false],
        ]
        // /auth/login and /auth/token answer alike.
        let loginResponses = [
            response(200, "An access token", ref("Token")),
            response(401, "Invalid email or password", ref("HTTPError")),
            response(403, "The account is disabled", ref("HTTPError")),
            response(429, "Too many failed logins from this address (see Retry-After)", ref("HTTPError")),
            response(503, "Too many sign-ins being checked at once (see Retry-After)", ref("HTTPError")),
        ]
        let dayRange = ["from", "to"].map { name -> JSONValue in
            [
                "name": .string(name), "in": "query", "required": false,
                "description": .string(
                    name == "from"
                        ? "First UTC day (default: the first of the current month); at most 366 days before `to`"
                        : "Last UTC day, inclusive (default: today)"),
                "schema": ["type": "string", "format": "date"],
            ]
        }
        let messagePage = [
            queryParameter("limit", "How many messages, oldest first", minimum: 1, maximum: 500, default: 100),
            queryParameter("after", "Only messages with a greater id", minimum: 0, maximum: Int.max, default: 0),
        ]
        return [
            "/": [
                "get": operation(
                    "meta", "Service name, version and documentation links", auth: false,
                    responses: [
                        response(200, "Service information", ref("Root"))
                    ])
            ],
            "/health": [
                "get": operation(
                    "meta", "Health check (the database answers)", auth: false,
                    responses: [
                        response(200, "Healthy", ref("Health")),
                        response(503, "The database does not answer", ref("HTTPError")),
                    ])
            ],
            "/auth/register": [
                "post": operation(
                    "auth", "Create an account", auth: false, body: ref("RegisterRequest"),
                    responses: [
                        response(201, "The new user", ref("User")),
                        response(409, "Email already registered", ref("HTTPError")),
                        response(429, "Too many registrations from this address (see Retry-After)", ref("HTTPError")),
                        response(503, "Too many sign-ins being checked at once (see Retry-After)", ref("HTTPError")),
                    ])
            ],
            "/auth/login": [
                "post": operation(
                    "auth", "Log in with a JSON body", auth: false, body: ref("LoginRequest"),
                    responses: loginResponses)
            ],
            "/auth/token": [
                "post": operation(
                    "auth", "OAuth2 password flow (form: username=email, password)", auth: false,
                    body: ref("TokenForm"), bodyType: "application/x-www-form-urlencoded",
                    responses: loginResponses)
            ],
            "/auth/logout": [
                "post": operation(
                    "auth", "Revoke every token of the current user",
                    responses: [
                        response(200, "Logged out", ref("MessageOnly"))
                    ])
            ],
            "/auth/me": [
                "get": operation(
                    "auth", "The current user",
                    responses: [
                        response(200, "The user", ref("User"))
                    ])
            ],
            "/auth/me/usage": [
                "get": operation(
                    "auth", "The current user's token usage per UTC day, with their quotas and what remains",
                    parameters: dayRange,
                    responses: [
                        response(200, "Usage per day, totals and quotas", ref("MyUsage"))
                    ])
            ],
            "/chats": [
                "post": operation(
                    "chats", "Create a chat (the body may be left out)", body: ref("CreateChatRequest"),
                    bodyRequired: false,
                    responses: [
                        response(201, "The new chat", ref("Chat"))
                    ]),
                "get": operation(
                    "chats", "The current user's chats: pinned first, then newest updated first",
                    parameters: limitOffset + [archived],
                    responses: [
                        response(200, "A page of chats and the total", ref("ChatList"))
                    ]),
            ],
            "/chats/search": [
                "get": operation(
                    "chats",
                    "Full-text search over your chat titles and messages: title hits first, then messages, each best first",
                    parameters: [
                        [
                            "name": "q", "in": "query", "required": true,
                            "description":
                                "Words (all must match), \"a phrase\", or a prefix* (at least 2 letters); at most 256 characters and 16 terms",
                            "schema": ["type": "string", "minLength": 1, "maxLength": 256],
                        ],
                        queryParameter("limit", "Page size", minimum: 1, maximum: 100, default: 20),
                        queryParameter("offset", "Results to skip", minimum: 0, maximum: 1000, default: 0),
                    ],
                    responses: [
                        response(200, "The results (an empty list when nothing matches)", ref("SearchResults"))
                    ])
            ],
            "/chats/import": [
                "post": operation(
                    "chats",
                    "Import chats: this server's chat export (one, an array, or the NDJSON of /auth/me/export) or ChatGPT's conversations.json; all or nothing",
                    body: [
                        "type": "string",
                        "description":
                            "The file (JSON, or NDJSON with Content-Type application/x-ndjson); at most IMPORT_MAX_MB",
                    ],
                    responses: [
                        response(201, "The chats written", ref("ImportResult")),
                        response(413, "Larger than IMPORT_MAX_MB", ref("HTTPError")),
                        response(415, "Not JSON or NDJSON", ref("HTTPError")),
                        response(429, "Other imports are running (Retry-After)", ref("HTTPError")),
                    ])
            ],
            "/chats/{chat_id}/export": [
                "get": operation(
                    "chats", "Download a chat as JSON (importable) or Markdown",
                    parameters: [
                        chatID,
                        [
                            "name": "format", "in": "query", "required": false,
                            "schema": ["type": "string", "enum": ["json", "markdown"], "default": "json"],
                        ],
                    ],
                    responses: [
                        (
                            "200",
                            [
                                "description": "The chat, as an attachment",
                                "content": [
                                    "application/json": ["schema": ref("ChatExport")],
                                    "text/markdown": ["schema": ["type": "string"]],
                                ],
                            ]
                        ),
                        response(404, "No such chat (or not yours)", ref("HTTPError")),
                    ])
            ],
            "/auth/me/export": [
                "get": operation(
                    "auth", "Download every chat of yours as NDJSON: one chat export per line",
                    responses: [
                        (
                            "200",
                            [
                                "description": "One ChatExport per line",
                                "content": ["application/x-ndjson": ["schema": ref("ChatExport")]],
                            ]
                        )
                    ])
            ],
            "/chats/{chat_id}": [
                "get": operation(
                    "chats", "One chat", parameters: [chatID],
                    responses: [
                        response(200, "The chat", ref("Chat")),
                        response(404, "No such chat (or not yours)", ref("HTTPError")),
                    ]),
                "patch": operation(
                    "chats", "Rename, pin or archive a chat, or set its own model and system prompt",
                    parameters: [chatID], body: ref("UpdateChatRequest"),
                    responses: [
                        response(200, "The chat", ref("Chat")),
                        response(404, "No such chat (or not yours)", ref("HTTPError")),
                    ]),
                "delete": operation(
                    "chats", "Delete a chat and its messages", parameters: [chatID],
                    responses: [
                        response(204, "Deleted", nil),
                        response(404, "No such chat (or not yours)", ref("HTTPError")),
                    ]),
            ],
            "/chats/{chat_id}/messages": [
                "get": operation(
                    "chats",
                    "The messages of a chat's active path, oldest first; with wait=1..60 a long-poll for messages after `after`; with tree=true every branch's messages",
                    parameters: [chatID] + messagePage + [
                        queryParameter(
                            "wait", "Seconds to wait for a newer message (0: answer at once)", minimum: 0, maximum: 60,
                            default: 0),
                        [
                            "name": "tree", "in": "query", "required": false,
                            "description": "Every message of every branch (TreeMessage), answered at once",
                            "schema": ["type": "boolean", "default": false],
                        ],
                    ],
                    responses: [
                        (
                            "200",
                            [
                                "description": "Messages (a reply being generated comes with its current text)",
                                "content": [
                                    "application/json": [
                                        "schema": ["oneOf": [array(ref("Message")), array(ref("TreeMessage"))]]
                                    ]
                                ],
                            ]
                        ),
                        response(404, "No such chat (or not yours)", ref("HTTPError")),
                        response(429, "Too many long-polls open for this user (LONG_POLLS_PER_USER)", ref("HTTPError")),
                    ]
                )
            ],
            "/chats/{chat_id}/messages/{message_id}/stream": [
                "get": operation(
                    "chats",
                    "Reattach to a reply: what exists so far, then live deltas until done (Last-Event-ID resumes)",
                    parameters: [
                        chatID,
                        messageID,
                        [
                            "name": "Last-Event-ID", "in": "header", "required": false,
                            "description": "The id of the last delta received (a character offset)",
                            "schema": ["type": "integer", "minimum": 0, "maximum": .int(Int.max)],
                        ],
                    ],
                    responses: [
                        eventStream("delta events, then done"),
                        response(404, "No such message (or not yours)", ref("HTTPError")),
                    ]
                )
            ],
            "/chats/{chat_id}/cancel": [
                "post": operation(
                    "chats", "Stop the reply being generated", parameters: [chatID],
                    responses: [
                        response(200, "The reply as saved, status cancelled", ref("Message")),
                        response(404, "No such chat (or not yours)", ref("HTTPError")),
                        response(409, "No reply is being generated", ref("HTTPError")),
                        response(
                            503, "Another replica generates the reply and did not save it within 10 s (Retry-After)",
                            ref("HTTPError")),
                    ])
            ],
            "/models": [
                "get": operation(
                    "chats", "The models a chat or a turn may use (ALLOWED_MODELS, checked against the upstream)",
                    responses: [response(200, "The models and the default", ref("ModelList"))])
            ],
            "/chat": [
                "post": operation(
                    "chats",
                    "Send a message and get the AI's reply (JSON, or Server-Sent Events with Accept: text/event-stream or stream: true)",
                    body: ref("SendRequest"), responses: turnResponses)
            ],
            "/chats/{chat_id}/messages/{message_id}/regenerate": [
                "post": operation(
                    "chats",
                    "Another reply to the message an assistant reply answered, beside it (a new branch, made active); answered like POST /chat",
                    parameters: [chatID, messageID], body: ref("RegenerateRequest"), bodyRequired: false,
                    responses: turnResponses)
            ],
            "/chats/{chat_id}/messages/{message_id}/edit": [
                "post": operation(
                    "chats",
                    "An edited copy of a user message beside the original, and a reply to it (a new branch, made active); answered like POST /chat",
                    parameters: [chatID, messageID], body: ref("EditRequest"), responses: turnResponses)
            ],
            "/chats/{chat_id}/active": [
                "post": operation(
                    "chats",
                    "Make the branch through a message the active path (its ancestors, it, then its newest descendants)",
                    parameters: [chatID], body: ref("ActivateRequest"),
                    responses: [
                        response(200, "The new active path", ref("ActivePath")),
                        response(404, "No such chat or message (or not yours)", ref("HTTPError")),
                        response(409, "A reply of the chat is being generated", ref("HTTPError")),
                    ])
            ],
            "/admin/usage": [
                "get": operation(
                    "admin", "Every user's token usage over a range of UTC days, heaviest first, and the total",
                    admin: true,
                    parameters: dayRange + [
                        queryParameter("limit", "Page size", minimum: 1, maximum: 500, default: 50), offset,
                        [
                            "name": "sort", "in": "query", "required": false,
                            "description": "Heaviest by total tokens or by requests",
                            "schema": ["type": "string", "enum": ["tokens", "requests"], "default": "tokens"],
                        ],
                    ],
                    responses: [
                        response(200, "A page of users' usage and the deployment's totals", ref("AdminUsage"))
                    ])
            ],
            "/admin/users": [
                "get": operation(
                    "admin", "All users, oldest first (total in X-Total-Count)", admin: true,
                    parameters: [
                        queryParameter("limit", "Page size", minimum: 1, maximum: 500, default: 100), offset,
                    ],
                    responses: [
                        response(200, "Users", array(ref("AdminUser")))
                    ])
            ],
            "/admin/users/{user_id}": [
                "patch": operation(
                    "admin",
                    "Disable a user (their tokens stop working, login answers 403) or enable them again; set their "
                        + "token quotas",
                    admin: true, parameters: [userID], body: ref("UpdateUserRequest"),
                    responses: [
                        response(200, "The user", ref("AdminUser")),
                        response(404, "No such user", ref("HTTPError")),
                        response(409, "The last admin cannot be disabled", ref("HTTPError")),
                    ]),
                "delete": operation(
                    "admin", "Delete a user with their chats and messages", admin: true, parameters: [userID],
                    responses: [
                        response(204, "Deleted", nil),
                        response(404, "No such user", ref("HTTPError")),
                        response(409, "The last admin cannot be deleted", ref("HTTPError")),
                    ]),
            ],
            "/admin/users/{user_id}/role": [
                "patch": operation(
                    "admin", "Set a user's role", admin: true, parameters: [userID],
                    body: ref("RoleRequest"),
                    responses: [
                        response(200, "The user", ref("AdminUser")),
                        response(404, "No such user", ref("HTTPError")),
                        response(409, "The last admin cannot be demoted", ref("HTTPError")),
                    ])
            ],
            "/admin/users/{user_id}/chats": [
                "get": operation(
                    "admin", "A user's chats, newest updated first", admin: true,
                    parameters: [userID] + limitOffset,
                    responses: [
                        response(200, "A page of the user's chats and their total", ref("ChatList")),
                        response(404, "No such user", ref("HTTPError")),
                    ])
            ],
            "/admin/chats/{chat_id}/messages": [
                "get": operation(
                    "admin", "Any chat's messages, oldest first", admin: true,
                    parameters: [chatID] + messagePage,
                    responses: [
                        response(200, "Messages", array(ref("Message"))),
                        response(404, "No such chat", ref("HTTPError")),
                    ])
            ],
        ]
    }

    // MARK: Schemas

    private static var schemas: JSONValue {
        let timestamp: JSONValue = ["type": "string", "format": "date-time"]
        let uuid: JSONValue = ["type": "string", "format": "uuid"]
        let role: JSONValue = ["type": "string", "enum": ["user", "admin"]]
        let date: JSONValue = ["type": "string", "format": "date"]
        let integer: JSONValue = ["type": "integer", "minimum": 0]
        let quota: JSONValue = [
            "type": ["integer", "null"], "minimum": 0,
            "description": "Tokens per UTC day or month for this user; 0: unlimited; null: the deployment's default",
        ]
        let usageTotals = object([
            "requests": integer, "prompt_tokens": integer, "completion_tokens": integer, "total_tokens": integer,
            "estimated_requests": [
                "type": "integer", "minimum": 0,
                "description": "Requests whose counts are estimates (streams cut off before the upstream reported)",
            ],
        ])
        return [
            "User": object([
                "id": uuid, "email": ["type": "string", "format": "email"], "role": role, "created_at": timestamp,
                "disabled": ["type": "boolean"],
            ]),
            "AdminUser": object([
                "id": uuid, "email": ["type": "string", "format": "email"], "role": role, "created_at": timestamp,
                "disabled": ["type": "boolean"], "daily_token_quota": quota, "monthly_token_quota": quota,
            ]),
            "UsageTotals": usageTotals,
            "Quota": object([
                "limit": ["type": ["integer", "null"], "description": "Null: unlimited"],
                "used": ["type": "integer", "description": "Tokens used in the current day or month"],
                "reserved": ["type": "integer", "description": "Tokens held by replies being generated"],
                "remaining": ["type": ["integer", "null"]], "resets_at": timestamp,
            ]),
            "MyUsage": object([
                "from": date, "to": date,
                "days": array(
                    object([
                        "date": date, "requests": integer, "prompt_tokens": integer, "completion_tokens": integer,
                        "total_tokens": integer, "estimated_requests": integer,
                    ])),
                "totals": ref("UsageTotals"),
                "quotas": object(["daily": ref("Quota"), "monthly": ref("Quota")]),
            ]),
            "AdminUsage": object([
                "from": date, "to": date,
                "users": array(
                    object([
                        "user_id": uuid, "email": ["type": "string", "format": "email"], "requests": integer,
                        "prompt_tokens": integer, "completion_tokens": integer, "total_tokens": integer,
                        "estimated_requests": integer,
                    ])),
                "total_users": integer, "totals": ref("UsageTotals"),
            ]),
            "Token": object([
                "access_token": ["type": "string"],
                "token_type": ["type": "string", "const": "bearer"],
                "expires_in": ["type": "integer", "description": "Seconds until the token expires"],
            ]),
            "Chat": object([
                "id": uuid, "user_id": uuid, "title": ["type": ["string", "null"]],
                "created_at": timestamp, "updated_at": timestamp, "message_count": ["type": "integer", "minimum": 0],
                "pinned": ["type": "boolean"], "archived": ["type": "boolean"],
                "model": ["type": ["string", "null"], "description": "The chat's own model; null: the default"],
                "system_prompt": [
                    "type": ["string", "null"], "description": "The chat's own system prompt; null: the default",
                ],
            ]),
            "SearchResults": object([
                "query": ["type": "string"],
                "results": array(
                    object([
                        "kind": ["type": "string", "enum": ["title", "message"]], "chat_id": uuid,
                        "chat_title": ["type": ["string", "null"]],
                        "message_id": ["type": ["integer", "null"], "description": "null for a title hit"],
                        "role": ["type": ["string", "null"], "enum": ["system", "user", "assistant", .null]],
                        "snippet": [
                            "type": "string",
                            "description": "HTML: the text around the matches, escaped, each match in <mark>",
                        ],
                        "created_at": timestamp,
                    ])),
            ]),
            "ChatExport": object([
                "format": ["type": "string", "const": "ai-chat-backend/chat"],
                "version": ["type": "integer", "const": 1],
                "exported_at": timestamp, "chat": ref("Chat"), "messages": array(ref("Message")),
            ]),
            "ImportResult": object([
                "imported": ["type": "integer"], "messages": ["type": "integer"],
                "skipped": ["type": "integer", "description": "Messages left out (images, files, tool calls)"],
                "chats": array(ref("Chat")),
            ]),
            "ModelList": object([
                "default": ["type": "string"],
                "checked": ["type": "boolean", "description": "Checked against the upstream's list"],
                "models": array(
                    object([
                        "id": ["type": "string"], "owned_by": ["type": ["string", "null"]],
                        "context_window": ["type": ["integer", "null"]], "default": ["type": "boolean"],
                    ])),
            ]),
            "ChatList": object(["chats": array(ref("Chat")), "total": ["type": "integer", "minimum": 0]]),
            "Message": object(
                [
                    "id": ["type": "integer"], "chat_id": uuid,
                    "role": ["type": "string", "enum": ["system", "user", "assistant"]],
                    "content": ["type": "string"], "created_at": timestamp,
                    "status": ["type": "string", "enum": ["streaming", "complete", "failed", "cancelled"]],
                    "error": ["type": "string", "description": "Why a reply failed or stopped"],
                    "model": ["type": ["string", "null"], "description": "Assistant replies only"],
                    "prompt_tokens": ["type": ["integer", "null"], "description": "Assistant replies only"],
                    "completion_tokens": ["type": ["integer", "null"], "description": "Assistant replies only"],
                ],
                required: ["id", "chat_id", "role", "content", "created_at", "status"]
            ),
            "TreeMessage": [
                "allOf": [
                    ref("Message"),
                    object(
                        [
                            "parent_id": [
                                "type": ["integer", "null"], "description": "The message before it on its branch",
                            ],
                            "sibling_ids": [
                                "type": "array", "items": ["type": "integer"],
                                "description": "Every message with the same parent, itself included, oldest first",
                            ],
                            "active": ["type": "boolean", "description": "On the chat's active path"],
                        ],
                        required: ["parent_id", "sibling_ids", "active"]),
                ]
            ],
            "ActivePath": object([
                "chat_id": uuid, "message_id": ["type": "integer", "description": "The path's last message"],
                "path": ["type": "array", "items": ["type": "integer"], "description": "Message ids, root first"],
            ]),
            "RegenerateRequest": object(
                [
                    "stream": ["type": "boolean", "description": "Answer as Server-Sent Events"],
                    "model": ["type": ["string", "null"], "description": "This turn's model (one of GET /models)"],
                ],
                required: []),
            "EditRequest": object(
                [
                    "content": ["type": "string", "minLength": 1, "maxLength": 32000],
                    "stream": ["type": "boolean", "description": "Answer as Server-Sent Events"],
                    "model": ["type": ["string", "null"], "description": "This turn's model (one of GET /models)"],
                ],
                required: ["content"]),
            "ActivateRequest": object(["message_id": ["type": "integer", "minimum": 1]], required: ["message_id"]),
            "Usage": object([
                "prompt_tokens": ["type": "integer"], "completion_tokens": ["type": "integer"],
                "total_tokens": ["type": "integer"],
            ]),
            "ChatReply": object([
                "reply": ["type": "string"], "chat_id": uuid, "message_id": ["type": "integer"],
                "user_message_id": ["type": "integer"], "usage": ["anyOf": [ref("Usage"), ["type": "null"]]],
            ]),
            "MessageOnly": object(["message": ["type": "string"]]),
            "ServerSentEvent": object(
                [
                    "event": ["type": "string", "enum": ["start", "delta", "done", "error"]],
                    "data": [
                        "type": "string",
                        "description":
                            "JSON. start: {chat_id, user_message, assistant_message_id}; delta: {content}; done: {message, usage}; error: {status, detail, message}",
                    ],
                    "id": [
                        "type": "string",
                        "description": "On delta events: the reply's length so far, to resume with Last-Event-ID",
                    ],
                ],
                required: ["event", "data"]
            ),
            "Root": object([
                "name": ["type": "string"], "version": ["type": "string"], "docs": ["type": "string"],
                "redoc": ["type": "string"], "openapi": ["type": "string"],
            ]),
            "Health": object(["status": ["type": "string", "const": "healthy"]]),
            "HTTPError": object(["detail": ["type": "string"]]),
            "ValidationError": object([
                "loc": array(["anyOf": [["type": "string"], ["type": "integer"]]]),
                "msg": ["type": "string"],
                "type": ["type": "string"],
            ]),
            "HTTPValidationError": object(["detail": array(ref("ValidationError"))]),
            "RegisterRequest": object([
                "email": ["type": "string", "format": "email", "maxLength": 254],
                "password": ["type": "string", "minLength": 8, "maxLength": 128],
            ]),
            "LoginRequest": object([
                "email": ["type": "string", "minLength": 1, "maxLength": 254],
                "password": ["type": "string", "minLength": 1, "maxLength": 128],
            ]),
            "TokenForm": object(
                [
                    "username": [
                        "type": "string", "minLength": 1, "maxLength": 254, "description": "The account's email",
                    ],
                    "password": ["type": "string", "minLength": 1, "maxLength": 128],
                    "grant_type": ["type": "string", "const": "password"],
                ],
                required: ["username", "password"]
            ),
            "CreateChatRequest": object(
                ["title": ["type": ["string", "null"], "minLength": 1, "maxLength": 200]], required: []),
            "UpdateChatRequest": object(
                [
                    "title": ["type": "string", "minLength": 1, "maxLength": 200],
                    "pinned": ["type": "boolean"], "archived": ["type": "boolean"],
                    "model": ["type": ["string", "null"], "description": "One of GET /models; null: the default"],
                    "system_prompt": [
                        "type": ["string", "null"], "minLength": 1, "maxLength": 4000,
                        "description": "null: the default",
                    ],
                ],
                required: []),
            "RoleRequest": object(["role": role]),
            "UpdateUserRequest": object([
                "disabled": ["type": "boolean"],
                "daily_token_quota": quota, "monthly_token_quota": quota,
            ]),
            "SendRequest": object(
                [
                    "chat_id": [
                        "type": ["string", "null"], "format": "uuid", "description": "Omit to start a new chat",
                    ],
                    "message": ["type": "string", "minLength": 1, "maxLength": 32000],
                    "stream": ["type": "boolean", "description": "Answer as Server-Sent Events"],
                    "model": [
                        "type": ["string", "null"], "description": "This turn's model (one of GET /models)",
                    ],
                ],
                required: ["message"]
            ),
        ]
    }

    // MARK: Builders

    private static let messageID: JSONValue = [
        "name": "message_id", "in": "path", "required": true,
        "schema": ["type": "integer", "minimum": 1, "maximum": .int(Int.max)],
    ]

    /// What a turn route answers (POST /chat, regenerate, edit).
    private static let turnResponses: [(String, JSONValue)] = [
        (
            "200",
            [
                "description": "The reply. As SSE: start, delta (id = offset), done, or error events.",
                "content": [
                    "application/json": ["schema": ref("ChatReply")],
                    "text/event-stream": ["schema": ref("ServerSentEvent")],
                ],
            ]
        ),
        response(404, "No such chat or message (or not yours)", ref("HTTPError")),
        response(409, "The reply was cancelled", ref("HTTPError")),
        response(429, "Over USER_MESSAGES_PER_MINUTE or a token quota (see Retry-After)", ref("HTTPError")),
        response(502, "The AI provider failed or rejected the server's key", ref("HTTPError")),
        response(503, "No provider configured, rate limited or queue full (Retry-After)", ref("HTTPError")),
        response(504, "The AI provider did not answer in time", ref("HTTPError")),
    ]

    private static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }

    private static func array(_ items: JSONValue) -> JSONValue { ["type": "array", "items": items] }

    /// An object schema; every property is required unless `required` says otherwise.
    private static func object(_ properties: KeyValuePairs<String, JSONValue>, required: [String]? = nil) -> JSONValue {
        let names = required ?? properties.map(\.key)
        return [
            "type": "object",
            "properties": .object(properties.map { ($0.key, $0.value) }),
            "required": .array(names.map(JSONValue.string)),
        ]
    }

    private static func pathParameter(_ name: String, _ description: String) -> JSONValue {
        [
            "name": .string(name), "in": "path", "required": true, "description": .string(description),
            "schema": ["type": "string", "format": "uuid"],
        ]
    }

    private static func queryParameter(
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

    private static func eventStream(_ description: String) -> (String, JSONValue) {
        (
            "200",
            ["description": .string(description), "content": ["text/event-stream": ["schema": ref("ServerSentEvent")]]]
        )
    }

    private static func response(_ status: Int, _ description: String, _ schema: JSONValue?) -> (String, JSONValue) {
        guard let schema else { return (String(status), ["description": .string(description)]) }
        return (
            String(status), ["description": .string(description), "content": ["application/json": ["schema": schema]]]
        )
    }

    private static func operation(
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
        if body != nil || !parameters.isEmpty {
            allResponses.append(response(422, "Validation error", ref("HTTPValidationError")))
        }
        if body != nil {
            allResponses.append(response(413, "The body is larger than 1 MiB", ref("HTTPError")))
            allResponses.append(response(415, "The body is not of the documented media type", ref("HTTPError")))
        }
        fields.append(("responses", .object(allResponses.sorted { $0.0 < $1.0 })))
        return .object(fields)
    }
}
