#!/usr/bin/env python3
"""Login latency idle and during a registration flood from 100 loopback addresses.

Usage: registration-flood.py PORT [SECONDS] [INTERVAL] [register|health]
Against a chat-server on 127.0.0.1:PORT with a fresh database (it registers returning@example.com itself).
Each flooding address (127.0.0.2 .. 127.0.0.101) binds its own source address and registers new accounts in a
loop, one connection per request, at most one request every INTERVAL seconds (0: as fast as answers come).
`health` floods GET /health instead (the control: the cost of that many requests, whatever they ask).
Logins come from 127.0.1.1, one after another.
"""
import http.client, json, statistics, sys, threading, time, uuid

PORT = int(sys.argv[1])
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 15
INTERVAL = float(sys.argv[3]) if len(sys.argv) > 3 else 0
MODE = sys.argv[4] if len(sys.argv) > 4 else "register"


class SourceConnection(http.client.HTTPConnection):
    def __init__(self, source, timeout=60):
        super().__init__("127.0.0.1", PORT, timeout=timeout, source_address=(source, 0))


def post(path, body, source):
    connection = SourceConnection(source)
    try:
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json", "Connection": "close"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def login():
    started = time.monotonic()
    status = post("/auth/login", {"email": "returning@example.com", "password": "correct horse battery"}, "127.0.1.1")
    assert status == 200, status
    return time.monotonic() - started


def logins(count, pause):
    times = []
    for _ in range(count):
        times.append(login())
        time.sleep(pause)
    return times


post("/auth/register", {"email": "returning@example.com", "password": "correct horse battery"}, "127.0.1.2")
idle = logins(20, 0.2)

statuses = {}
lock = threading.Lock()
stop = time.monotonic() + SECONDS


def get_health(source):
    connection = SourceConnection(source)
    try:
        connection.request("GET", "/health", headers={"Connection": "close"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def flood(address):
    while time.monotonic() < stop:
        started = time.monotonic()
        try:
            if MODE == "health":
                status = get_health(address)
            else:
                status = post("/auth/register",
                              {"email": f"{uuid.uuid4().hex}@example.com", "password": "long enough 1"}, address)
        except Exception as error:  # noqa: BLE001
            status = type(error).__name__
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
        rest = INTERVAL - (time.monotonic() - started)
        if rest > 0:
            time.sleep(rest)


threads = [threading.Thread(target=flood, args=(f"127.0.0.{index}",)) for index in range(2, 102)]
for thread in threads:
    thread.start()
time.sleep(0.5)
during = []
series = []
flood_start = time.monotonic()
while time.monotonic() < stop - 0.5:
    at = time.monotonic() - flood_start
    during.append(login())
    series.append(f"{at:.1f}s:{during[-1] * 1000:.0f}")
    time.sleep(0.2)
for thread in threads:
    thread.join()
after = logins(10, 0.2)

print(f"idle logins:   n={len(idle)} p50={statistics.median(idle) * 1000:.0f} ms max={max(idle) * 1000:.0f} ms")
print(f"during flood:  n={len(during)} p50={statistics.median(during) * 1000:.0f} ms max={max(during) * 1000:.0f} ms")
print(f"after flood:   n={len(after)} p50={statistics.median(after) * 1000:.0f} ms")
print(f"ratio p50 during/idle: {statistics.median(during) / statistics.median(idle):.2f}")
print("series (start of login: ms):", " ".join(series))
print(f"flood ({MODE}, interval {INTERVAL}s): {dict(sorted(statuses.items(), key=str))}")
