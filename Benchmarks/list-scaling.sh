#!/usr/bin/env bash
# Measures GET /chats for a user with 20 chats and for one with 10,000 chats against a running server,
# with wrk (Debian package `wrk`). Seeds both users through the public API first.
#
#   .build/release/chat-server serve --port 8000 --database /tmp/list-scaling.db &
#   Benchmarks/list-scaling.sh http://127.0.0.1:8000
#
# The full benchmark executable (chat-bench) replaces this script; see README "Performance".
set -euo pipefail
BASE=${1:-http://127.0.0.1:8000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
# Both users get the same page size, so the comparison isolates the cost of owning many chats.
QUERY=${QUERY:-limit=20}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }

seed() { # email, chat count -> token on stdout
  python3 - "$BASE" "$1" "$2" <<'PY'
import http.client, json, sys, urllib.parse
base, email, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port)
def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token: headers["Authorization"] = "Bearer " + token
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, data
call("POST", "/auth/register", {"email": email, "password": "benchmark password"})
status, data = call("POST", "/auth/login", {"email": email, "password": "benchmark password"})
token = json.loads(data)["access_token"]
for i in range(count):
    status, _ = call("POST", "/chats", {"title": f"chat {i}"}, token)
    assert status == 201, status
print(token)
PY
}

SMALL=$(seed "small-$RANDOM@example.com" 20)
LARGE=$(seed "large-$RANDOM@example.com" 10000)
for name in small large; do
  token=$([ $name = small ] && echo "$SMALL" || echo "$LARGE")
  echo "== GET /chats?$QUERY, user with $([ $name = small ] && echo 20 || echo 10000) chats"
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $token" "$BASE/chats?$QUERY" | \
    grep -E "Requests/sec|50%|90%|99%|Non-2xx"
done
