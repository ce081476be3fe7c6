/// POST /v1/chat/completions: OpenAI's request and answers (whole, or chunks as Server-Sent Events).
extension OpenAPIDocument {
    static var chatCompletionPaths: JSONValue {
        [
            "/v1/chat/completions": [
                "post": [
                    "tags": ["openai"],
                    "summary":
                        "A chat completion in OpenAI's wire format: the messages go upstream as given, nothing is stored as a chat",
                    "security": [["HTTPBearer": []]],
                    "requestBody": [
                        "required": true, "content": ["application/json": ["schema": ref("ChatCompletionRequest")]],
                    ],
                    "responses": .object(chatCompletionResponses.sorted { $0.0 < $1.0 }),
                ]
            ]
        ]
    }

    private static var chatCompletionResponses: [(String, JSONValue)] {
        [
            (
                "200",
                [
                    "description":
                        "chat.completion, or with stream: true chat.completion.chunk events ending data: [DONE]",
                    "content": [
                        "application/json": ["schema": ref("ChatCompletion")],
                        "text/event-stream": ["schema": ref("ChatCompletionEvent")],
                    ],
                ]
            ),
            response(400, "Invalid request (`param` names the field; n other than 1)", ref("OpenAIError")),
            response(401, "Missing, invalid, revoked or expired API key or token", ref("OpenAIError")),
            response(404, "model_not_found: not offered, or not among the key's models", ref("OpenAIError")),
            response(413, "The body is larger than 1 MiB", ref("OpenAIError")),
            response(415, "The body is not JSON", ref("OpenAIError")),
            response(
                429, "rate_limit_exceeded (USER_MESSAGES_PER_MINUTE) or insufficient_quota (Retry-After)",
                ref("OpenAIError")),
            response(502, "The AI provider failed or rejected the server's key", ref("OpenAIError")),
            response(503, "No provider configured, rate limited or queue full (Retry-After)", ref("OpenAIError")),
            response(504, "The AI provider did not answer in time", ref("OpenAIError")),
        ]
    }

    static var chatCompletionSchemas: JSONValue {
        let usage = object(["prompt_tokens": integer, "completion_tokens": integer, "total_tokens": integer])
        let anyObject: JSONValue = ["type": "object"]
        return [
            "ChatCompletionRequest": object(
                [
                    "model": ["type": "string"],
                    "messages": array(anyObject),
                    "stream": ["type": "boolean"],
                    "stream_options": object(["include_usage": ["type": "boolean"]], required: []),
                    "n": ["type": "integer", "const": 1],
                    "max_tokens": ["type": "integer", "minimum": 1],
                    "max_completion_tokens": ["type": "integer", "minimum": 1],
                    "temperature": ["type": "number", "minimum": 0, "maximum": 2],
                    "top_p": ["type": "number", "minimum": 0, "maximum": 1],
                    "stop": ["anyOf": [["type": "string"], array(["type": "string"])]],
                    "seed": ["type": "integer"],
                    "response_format": anyObject,
                    "tools": array(anyObject),
                    "tool_choice": ["anyOf": [["type": "string"], anyObject]],
                    "user": ["type": "string"],
                    "frequency_penalty": ["type": "number", "minimum": -2, "maximum": 2],
                    "presence_penalty": ["type": "number", "minimum": -2, "maximum": 2],
                    "parallel_tool_calls": ["type": "boolean"],
                    "reasoning_effort": ["type": "string"],
                    "service_tier": ["type": "string"],
                    "logprobs": ["type": "boolean", "const": false],
                    "logit_bias": ["type": "object", "description": "Only empty: the upstream offers no logit bias"],
                ], required: ["model", "messages"]),
            "ChatCompletion": object([
                "id": ["type": "string"], "object": ["type": "string", "const": "chat.completion"],
                "created": integer, "model": ["type": "string"],
                "choices": array(
                    object([
                        "index": integer, "message": anyObject, "logprobs": ["type": "null"],
                        "finish_reason": ["type": ["string", "null"]],
                    ])),
                "usage": usage,
            ]),
            "ChatCompletionChunk": object([
                "id": ["type": "string"], "object": ["type": "string", "const": "chat.completion.chunk"],
                "created": integer, "model": ["type": "string"], "choices": array(anyObject),
                "usage": ["anyOf": [usage, ["type": "null"]]],
            ]),
            "ChatCompletionEvent": [
                "description": "A chunk, an error (no [DONE] follows), or the final data: [DONE]",
                "oneOf": [
                    dataEvent(["contentMediaType": "application/json", "contentSchema": ref("ChatCompletionChunk")]),
                    dataEvent(["contentMediaType": "application/json", "contentSchema": ref("OpenAIError")]),
                    dataEvent(["const": "[DONE]"]),
                ],
            ],
        ]
    }

    /// An unnamed event (`message`) whose `data` string is described by `data`.
    private static func dataEvent(_ data: JSONValue) -> JSONValue {
        guard case .object(var members) = data else { return data }
        members.insert(("type", "string"), at: 0)
        return object(["event": ["type": "string", "const": "message"], "data": .object(members)])
    }
}
