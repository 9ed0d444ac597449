# Drives a weblock server with Python's standard http.client, as a plain Python client would: a grab,
# a long-poll hand-over, a release, and an over-limit body (which must be answered 413, not a broken
# pipe). Usage: python3 http_client.py HOST PORT. Prints "ok" and exits 0, or fails with a traceback.
import http.client
import json
import sys
import threading
import time
import urllib.parse

HOST, PORT = sys.argv[1], int(sys.argv[2])
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def call(method, path, fields=None, body=None, headers=None):
    conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
    if fields is not None:
        body, headers = urllib.parse.urlencode(fields), FORM
    conn.request(method, path, body=body, headers=headers or {})
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    return answer.status, data


status, data = call("POST", "/grab", {"id": "py-db", "ttl": "60"})
assert status == 200, (status, data)
first = json.loads(data)["token"]

waited = {}
waiter = threading.Thread(
    target=lambda: waited.setdefault("answer", call("POST", "/grab", {"id": "py-db", "wait": "30"}))
)
waiter.start()
deadline = time.monotonic() + 10
while json.loads(call("GET", "/status?id=py-db")[1])["waiting"] < 1:
    assert time.monotonic() < deadline, "the waiter never got in line"
    time.sleep(0.01)

status, data = call("POST", "/release", {"id": "py-db", "token": first})
assert status == 200, (status, data)
waiter.join(10)
assert not waiter.is_alive(), "the waiter was not answered at the release"
status, data = waited["answer"]
assert status == 200, (status, data)
second = json.loads(data)["token"]
assert second != first
status, data = call("POST", "/release", {"id": "py-db", "token": second})
assert status == 200, (status, data)
assert json.loads(call("GET", "/status?id=py-db")[1])["in_use"] is False

big = b"id=py-db&pad=" + b"x" * (2 * 1024 * 1024)
status, data = call("POST", "/grab", body=big, headers=FORM)
assert status == 413, (status, data)
assert "too large" in json.loads(data)["reason"], data
print("ok")
