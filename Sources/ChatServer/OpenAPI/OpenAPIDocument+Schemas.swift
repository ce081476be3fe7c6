extension OpenAPIDocument {
    // MARK: Schemas, by area

    /// Users, tokens and the bodies that sign in or change a user.
    static var accountSchemas: JSONValue {
        [
            "User": object([
                "id": uuid, "email": ["type": "string", "format": "email"], "role": role, "created_at": timestamp,
                "disabled": ["type": "boolean"],
            ]),
            "AdminUser": object([
                "id": uuid, "email": ["type": "string", "format": "email"], "role": role, "created_at": timestamp,
                "disabled": ["type": "boolean"], "daily_token_quota": quota, "monthly_token_quota": quota,
            ]),
            "Token": object([
                "access_token": ["type": "string"],
                "token_type": ["type": "string", "const": "bearer"],
                "expires_in": ["type": "integer", "description": "Seconds until the token expires"],
            ]),
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
            "RoleRequest": object(["role": role]),
            "UpdateUserRequest": object([
                "disabled": ["type": "boolean"],
                "daily_token_quota": quota, "monthly_token_quota": quota,
            ]),
        ]
    }

    /// Token usage and quotas.
    static var usageSchemas: JSONValue {
        [
            "UsageTotals": usageTotals,
            "Quota": object([
                "limit": ["type": ["integer", "null"], "description": "Null: unlimited"],
                "used": ["type": "integer", "description": "Tokens used in the current day or month"],
                "reserved": ["type": "integer", "description": "Tokens held by replies being generated"],
                "remaining": ["type": ["integer", "null"]], "resets_at": timestamp,
            ]),
            "MyUsage": object([
                "from": date, "to": date, "days": array(usageOnDay),
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
            "AdminDailyUsage": object([
                "from": date, "to": date,
                "user_id": ["anyOf": [uuid, ["type": "null"]], "description": "The user asked for; null: every user"],
                "days": [
                    "type": "array", "items": usageOnDay,
                    "description": "Every day from `from` through `to`, oldest first; zeros on days without calls",
                ],
                "totals": ref("UsageTotals"),
            ]),
        ]
    }

    /// Chats, their pages, search results, export and import.
    static var chatSchemas: JSONValue {
        [
            "Chat": object([
                "id": uuid, "user_id": uuid, "title": ["type": ["string", "null"]],
                "created_at": timestamp, "updated_at": timestamp, "message_count": ["type": "integer", "minimum": 0],
                "pinned": ["type": "boolean"], "archived": ["type": "boolean"],
                "model": ["type": ["string", "null"], "description": "The chat's own model; null: the default"],
                "system_prompt": [
                    "type": ["string", "null"], "description": "The chat's own system prompt; null: the default",
                ],
            ]),
            "ChatList": object(["chats": array(ref("Chat")), "total": ["type": "integer", "minimum": 0]]),
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
                "version": [
                    "type": "integer", "const": 2, "description": "Version 1 (still imported) had no branches",
                ],
                "exported_at": timestamp, "chat": ref("Chat"), "messages": array(ref("ExportedMessage")),
            ]),
            "ImportResult": object([
                "imported": ["type": "integer"], "messages": ["type": "integer"],
                "skipped": ["type": "integer", "description": "Messages left out (images, files, tool calls)"],
                "chats": array(ref("Chat")),
            ]),
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
        ]
    }

    /// Messages, the message tree and the active path.
    static var messageSchemas: JSONValue {
        [
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
            "ExportedMessage": [
                "allOf": [
                    ref("Message"),
                    object([
                        "parent_id": [
                            "type": ["integer", "null"], "description": "The message before it on its branch",
                        ],
                        "active": ["type": "boolean", "description": "On the chat's active path"],
                    ]),
                ]
            ],
            "ActivePath": object([
                "chat_id": uuid, "message_id": ["type": "integer", "description": "The path's last message"],
                "path": ["type": "array", "items": ["type": "integer"], "description": "Message ids, root first"],
            ]),
        ]
    }

    /// A turn's request bodies and its JSON answer.
    static var turnSchemas: JSONValue {
        [
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
        ]
    }

    /// Service information, models and errors.
    static var metaSchemas: JSONValue {
        [
            "Root": object([
                "name": ["type": "string"], "version": ["type": "string"], "docs": ["type": "string"],
                "redoc": ["type": "string"], "openapi": ["type": "string"],
            ]),
            "Health": object(["status": ["type": "string", "const": "healthy"]]),
            "ModelList": object([
                "default": ["type": "string"],
                "checked": ["type": "boolean", "description": "Checked against the upstream's list"],
                "models": array(
                    object([
                        "id": ["type": "string"], "owned_by": ["type": ["string", "null"]],
                        "context_window": ["type": ["integer", "null"]], "default": ["type": "boolean"],
                    ])),
            ]),
            "MessageOnly": object(["message": ["type": "string"]]),
            "HTTPError": object(["detail": ["type": "string"]]),
            "ValidationError": object([
                "loc": array(["anyOf": [["type": "string"], ["type": "integer"]]]),
                "msg": ["type": "string"],
                "type": ["type": "string"],
            ]),
            "HTTPValidationError": object(["detail": array(ref("ValidationError"))]),
        ]
    }

    /// Server-Sent Events of a turn and what each event's data holds.
    static var eventSchemas: JSONValue {
        [
            "ServerSentEvent": [
                "description":
                    "One event of a turn's stream: its `data` is JSON (contentSchema). Keep-alive comments come between.",
                "oneOf": [
                    event("start", "TurnStarted"), event("delta", "ReplyDelta", id: true),
                    event("done", "ReplyDone"), event("error", "StreamError"),
                ],
            ],
            "TurnStarted": object([
                "chat_id": uuid, "user_message": ref("Message"), "assistant_message_id": ["type": "integer"],
            ]),
            "ReplyDelta": object(["content": ["type": "string", "description": "The reply's next characters"]]),
            "ReplyDone": object(["message": ref("Message"), "usage": ["anyOf": [ref("Usage"), ["type": "null"]]]]),
            "StreamError": object([
                "status": ["type": "integer", "description": "The HTTP status the error would have had"],
                "detail": ["type": "string"],
            ]),
        ]
    }

    /// An event named `name` whose `data` is the JSON of the schema `data`; `id`: it carries an id (the reply's
    /// length so far, to resume with Last-Event-ID).
    static func event(_ name: String, _ data: String, id: Bool = false) -> JSONValue {
        var properties: [(String, JSONValue)] = [
            ("event", ["type": "string", "const": .string(name)]),
            ("data", ["type": "string", "contentMediaType": "application/json", "contentSchema": ref(data)]),
        ]
        if id {
            properties.append(
                ("id", ["type": "string", "description": "The reply's length so far, to resume with Last-Event-ID"]))
        }
        return [
            "type": "object", "properties": .object(properties),
            "required": .array(properties.map { .string($0.0) }),
        ]
    }

    // MARK: Schemas several areas share

    static let timestamp: JSONValue = ["type": "string", "format": "date-time"]
    static let uuid: JSONValue = ["type": "string", "format": "uuid"]
    static let role: JSONValue = ["type": "string", "enum": ["user", "admin"]]
    static let date: JSONValue = ["type": "string", "format": "date"]
    static let integer: JSONValue = ["type": "integer", "minimum": 0]
    static let quota: JSONValue = [
        "type": ["integer", "null"], "minimum": 0,
        "description": "Tokens per UTC day or month for this user; 0: unlimited; null: the deployment's default",
    ]

    /// One UTC day's usage (`/auth/me/usage`, `/admin/usage/daily`).
    static let usageOnDay = object([
        "date": date, "requests": integer, "prompt_tokens": integer, "completion_tokens": integer,
        "total_tokens": integer, "estimated_requests": integer,
    ])

    static let usageTotals = object([
        "requests": integer, "prompt_tokens": integer, "completion_tokens": integer, "total_tokens": integer,
        "estimated_requests": [
            "type": "integer", "minimum": 0,
            "description": "Requests whose counts are estimates (streams cut off before the upstream reported)",
        ],
    ])
}
