"""The official `openai` Python SDK against chat-server's OpenAI-compatible door (/v1).

Run by Tests/scripts/openai-sdk-check, which starts the real chat-server binary and the in-repo mock upstream
and sets CHAT_SERVER and MOCK_GROQ. Nothing here is ours but the base URL and the API key: every call is the
SDK's own, and each error must arrive as the exception class OpenAI's SDK raises for OpenAI's own answer.
"""

import json
import os
import sys
import urllib.error
import urllib.request

import openai
from openai import OpenAI

SERVER = os.environ["CHAT_SERVER"]
MOCK = os.environ["MOCK_GROQ"]
PASSWORD = "correct horse battery"
RATE_LIMIT = int(os.environ["SDK_USER_MESSAGES_PER_MINUTE"])


def http(method, url, body=None, token=None):
    """One plain HTTP call; (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def account(email):
    """Registers `email` and logs in: (user id, JWT)."""
    status, user = http("POST", f"{SERVER}/auth/register", {"email": email, "password": PASSWORD})
    assert status == 201, (status, user)
    status, login = http("POST", f"{SERVER}/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, (status, login)
    return user["id"], login["access_token"]


def api_key(token, **fields):
    """A new API key of the JWT's user: (id, secret)."""
    status, key = http("POST", f"{SERVER}/auth/me/api-keys", {"name": "sdk check", **fields}, token)
    assert status == 201, (status, key)
    return key["id"], key["key"]


def client(key):
    # No retries: each answer is checked as it came.
    return OpenAI(base_url=f"{SERVER}/v1", api_key=key, max_retries=0, timeout=30)


def mock_behavior(**behavior):
    status, _ = http("PUT", f"{MOCK}/mock/behavior", behavior)
    assert status in (200, 204), status


def expect_error(exception, code, call, param=None):
    """`call` raises `exception` with OpenAI's error `code` (and `param`); returns the exception."""
    try:
        call()
    except exception as error:
        body = error.body if isinstance(error.body, dict) else {}
        assert body.get("code") == code, (exception.__name__, error.body)
        if param is not None:
            assert body.get("param") == param, error.body
        return error
    raise AssertionError(f"expected {exception.__name__} ({code})")


MESSAGES = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": [{"type": "text", "text": "Hello from the SDK"}]},
]


def check_models(sdk):
    models = sdk.models.list()
    ids = [model.id for model in models.data]
    assert ids and all(model.object == "model" for model in models.data), models
    return ids[0]


def check_completion(sdk, model):
    completion = sdk.chat.completions.create(model=model, messages=MESSAGES, max_tokens=64, temperature=0.2)
    assert completion.object == "chat.completion", completion
    choice = completion.choices[0]
    assert choice.index == 0 and choice.message.role == "assistant" and choice.message.content, choice
    assert choice.finish_reason in ("stop", "length"), choice
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0


def check_stream(sdk, model):
    chunks = list(
        sdk.chat.completions.create(
            model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks and all(chunk.object == "chat.completion.chunk" for chunk in chunks), chunks
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text, chunks
    finished = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert finished in (["stop"], ["length"]), finished
    last = chunks[-1]
    assert last.choices == [] and last.usage and last.usage.total_tokens > 0, last
    # Without include_usage, no usage chunk.
    plain = list(sdk.chat.completions.create(model=model, messages=MESSAGES, stream=True))
    assert all(chunk.usage is None for chunk in plain), plain[-1]


def check_tool_call(sdk, model):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    completion = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=tools
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather", call
    json.loads(call.function.arguments)
    # The tool's answer goes back as OpenAI's tool message; the upstream answers in text.
    answer = sdk.chat.completions.create(
        model=model,
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": '{"celsius": 3}'},
        ],
        tools=tools,
    )
    assert answer.choices[0].message.content, answer


def check_errors(sdk, model, user_token):
    expect_error(openai.AuthenticationError, "invalid_api_key", lambda: client("sk-" + "x" * 43).models.list())
    expect_error(
        openai.NotFoundError,
        "model_not_found",
        lambda: sdk.chat.completions.create(model="no-such-model", messages=MESSAGES),
    )
    for param, request in (("n", {"messages": MESSAGES, "n": 2}), ("messages", {"messages": []})):
        error = None
        try:
            sdk.chat.completions.create(model=model, **request)
        except openai.BadRequestError as raised:
            error = raised
        assert error is not None, param
        assert error.body.get("type") == "invalid_request_error" and error.body.get("param") == param, error.body
    # A revoked key is refused at once.
    key_id, secret = api_key(user_token)
    revocable = client(secret)
    revocable.models.list()
    status, _ = http("DELETE", f"{SERVER}/auth/me/api-keys/{key_id}", token=user_token)
    assert status == 204, status
    expect_error(openai.AuthenticationError, "invalid_api_key", lambda: revocable.models.list())


def check_budget_and_quota(model, admin_token):
    # A key's monthly budget: the first call fits, the next finds it spent.
    _, token = account("budget@example.com")
    _, secret = api_key(token, monthly_token_budget=1)
    budgeted = client(secret)
    budgeted.chat.completions.create(model=model, messages=MESSAGES)
    expect_error(
        openai.RateLimitError,
        "insufficient_quota",
        lambda: budgeted.chat.completions.create(model=model, messages=MESSAGES),
    )
    # A user's daily token quota, set by an admin, counts the door's calls too.
    user_id, token = account("quota@example.com")
    status, _ = http("PATCH", f"{SERVER}/admin/users/{user_id}", {"daily_token_quota": 1}, admin_token)
    assert status == 200, status
    _, secret = api_key(token)
    quota = client(secret)
    quota.chat.completions.create(model=model, messages=MESSAGES)
    expect_error(
        openai.RateLimitError,
        "insufficient_quota",
        lambda: quota.chat.completions.create(model=model, messages=MESSAGES),
    )


def check_rate_limit(model):
    _, token = account("busy@example.com")
    _, secret = api_key(token)
    busy = client(secret)
    for _ in range(RATE_LIMIT):
        busy.chat.completions.create(model=model, messages=MESSAGES, max_tokens=8)
    error = expect_error(
        openai.RateLimitError,
        "rate_limit_exceeded",
        lambda: busy.chat.completions.create(model=model, messages=MESSAGES),
    )
    assert int(error.response.headers["retry-after"]) >= 1, error.response.headers


def check_upstream_errors(model):
    _, token = account("upstream@example.com")
    sdk = client(api_key(token)[1])
    for fault, status in (("server_error", 502), ("unauthorized", 502)):
        mock_behavior(fault=fault)
        try:
            error = None
            try:
                sdk.chat.completions.create(model=model, messages=MESSAGES)
            except openai.APIStatusError as raised:
                error = raised
            assert error is not None and error.status_code == status, (fault, error)
            assert isinstance(error, openai.InternalServerError), (fault, type(error))
            assert "mock" not in json.dumps(error.body).lower(), error.body
        finally:
            mock_behavior()


def main():
    _, admin_token = account("admin@example.com")
    _, user_token = account("sdk@example.com")
    _, secret = api_key(user_token)
    sdk = client(secret)
    model = check_models(sdk)
    checks = [
        ("completion", lambda: check_completion(sdk, model)),
        ("stream with and without usage", lambda: check_stream(sdk, model)),
        ("tool call round trip", lambda: check_tool_call(sdk, model)),
        ("errors: key, model, request, revoked key", lambda: check_errors(sdk, model, user_token)),
        ("key budget and user quota", lambda: check_budget_and_quota(model, admin_token)),
        ("rate limit", lambda: check_rate_limit(model)),
        ("upstream errors", lambda: check_upstream_errors(model)),
    ]
    failed = 0
    for name, check in checks:
        try:
            check()
            print(f"ok    {name}")
        except Exception as error:  # noqa: BLE001 - every failure is reported, then the run fails
            failed += 1
            print(f"FAIL  {name}: {type(error).__name__}: {error}")
    print(f"openai {openai.__version__}: {len(checks) - failed} of {len(checks)} checks passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
