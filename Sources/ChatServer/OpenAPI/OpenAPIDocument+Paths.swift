extension OpenAPIDocument {
    // MARK: Paths, by area

    /// Service information, health and the models.
    static var metaPaths: JSONValue {
        [
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
            "/models": [
                "get": operation(
                    "chats", "The models a chat or a turn may use (ALLOWED_MODELS, checked against the upstream)",
                    responses: [response(200, "The models and the default", ref("ModelList"))])
            ],
        ]
    }

    /// Accounts and tokens.
    static var authPaths: JSONValue {
        [
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
        ]
    }

    /// The current user's usage and their chats' export.
    static var accountDataPaths: JSONValue {
        [
            "/auth/me/usage": [
                "get": operation(
                    "auth", "The current user's token usage per UTC day, with their quotas and what remains",
                    parameters: dayRange,
                    responses: [
                        response(200, "Usage per day, totals and quotas", ref("MyUsage"))
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
        ]
    }

    /// Creating, listing, searching and importing chats.
    static var chatListPaths: JSONValue {
        [
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
                        response(200, "The results (an empty list when nothing matches)", ref("SearchResults")),
                        response(
                            429, "SEARCHES_PER_USER searches of yours already running (Retry-After)", ref("HTTPError")),
                        response(503, "Stopped after SEARCH_TIMEOUT_MS (Retry-After)", ref("HTTPError")),
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
                        response(500, "The database refused a write; nothing of the import is kept", ref("HTTPError")),
                    ])
            ],
        ]
    }

    /// One chat: read, change, delete, export.
    static var chatPaths: JSONValue {
        [
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
        ]
    }

    /// A chat's messages: the list (or long-poll, or tree) and a reply's live stream.
    static var messagePaths: JSONValue {
        [
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
                                        "schema": ["anyOf": [array(ref("Message")), array(ref("TreeMessage"))]]
                                    ]
                                ],
                            ]
                        ),
                        response(404, "No such chat (or not yours)", ref("HTTPError")),
                        response(
                            409, "The user's role changed while the long-poll waited (send it again)", ref("HTTPError")),
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
        ]
    }

    /// Turns: send, regenerate, edit, switch branch, cancel.
    static var turnPaths: JSONValue {
        [
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
        ]
    }

    /// The admin area: users, their roles, and deleting them.
    static var adminUserPaths: JSONValue {
        [
            "/admin/users": [
                "get": operation(
                    "admin", "All users, or those whose email contains `email`, oldest first (total in X-Total-Count)",
                    admin: true,
                    parameters: [
                        queryParameter("limit", "Page size", minimum: 1, maximum: 500, default: 100), offset,
                        [
                            "name": "email", "in": "query", "required": false,
                            "description":
                                "Part of the email, in any letter case; every character (`%`, `_` and `+` too) literal",
                            "schema": ["type": "string", "minLength": 1, "maxLength": 254],
                        ],
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
        ]
    }

    /// The admin area: usage, and any user's chats and messages.
    static var adminReadPaths: JSONValue {
        [
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
            "/admin/usage/daily": [
                "get": operation(
                    "admin", "Tokens per UTC day over a range, of every user or of one: each day, zeros included",
                    admin: true,
                    parameters: dayRange + [
                        [
                            "name": "user_id", "in": "query", "required": false,
                            "description": "Only this user's usage", "schema": uuid,
                        ]
                    ],
                    responses: [
                        response(200, "Usage per day and the totals", ref("AdminDailyUsage")),
                        response(404, "No such user", ref("HTTPError")),
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

    // MARK: Parameters and answers several paths share

    static let chatID = pathParameter("chat_id", "The chat's id")
    static let userID = pathParameter("user_id", "The user's id")
    static let offset = queryParameter("offset", "Items to skip", minimum: 0, maximum: Int(Int32.max), default: 0)
    static let limitOffset = [queryParameter("limit", "Page size", minimum: 1, maximum: 100, default: 50), offset]

    static let archived: JSONValue = [
        "name": "archived", "in": "query", "required": false,
        "description": "true: the archived chats instead of the others",
        "schema": ["type": "boolean", "default": false],
    ]

    /// What /auth/login and /auth/token answer.
    static let loginResponses = [
        response(200, "An access token", ref("Token")),
        response(401, "Invalid email or password", ref("HTTPError")),
        response(403, "The account is disabled", ref("HTTPError")),
        response(429, "Too many failed logins from this address (see Retry-After)", ref("HTTPError")),
        response(503, "Too many sign-ins being checked at once (see Retry-After)", ref("HTTPError")),
    ]

    /// `from` and `to`: a range of UTC days.
    static let dayRange = ["from", "to"].map { name -> JSONValue in
        [
            "name": .string(name), "in": "query", "required": false,
            "description": .string(
                name == "from"
                    ? "First UTC day (default: the first of the current month); at most 366 days before `to`"
                    : "Last UTC day, inclusive (default: today)"),
            "schema": ["type": "string", "format": "date"],
        ]
    }

    static let messagePage = [
        queryParameter("limit", "How many messages, oldest first", minimum: 1, maximum: 500, default: 100),
        queryParameter("after", "Only messages with a greater id", minimum: 0, maximum: Int.max, default: 0),
    ]

    static let messageID: JSONValue = [
        "name": "message_id", "in": "path", "required": true,
        "schema": ["type": "integer", "minimum": 1, "maximum": .int(Int.max)],
    ]

    /// What a turn route answers (POST /chat, regenerate, edit).
    static let turnResponses: [(String, JSONValue)] = [
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
}
