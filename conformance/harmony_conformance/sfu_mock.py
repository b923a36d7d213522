"""A mock of the Cloudflare Realtime (Calls) API on loopback that records every call.

The server under test is pointed at it ({sfu_api_base}); cases then assert the method,
path, headers and body of each call (spec/sfu.md) and the error mapping, by queueing
failures with fail_next(), and slow answers with delay() (per call, matched by path, so a
case can slow down its own calls without touching other cases' calls).
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, Optional

APP_ID = "conf-app"
APP_SECRET = "conf-secret-0123456789"


class Call:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.received_at = time.monotonic()
        self.answered_at = None     # when the answer was written (None: not (yet) answered)
        self.delayed = 0.0          # seconds the mock held the answer back
        self.body_text = body.decode("utf-8", "replace")
        try:
            self.body = json.loads(self.body_text) if body else None
        except ValueError:
            self.body = {"__unparsable__": self.body_text}

    def __repr__(self):
        return f"{self.method} {self.path} {self.body_text[:200]}"


class SfuMock:
    def __init__(self):
        self.calls: List[Call] = []
        self._fail: List[tuple] = []
        self._delays: List[list] = []   # [match, seconds, remaining count, (status, body) or None]
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                call = Call(self.command, self.path, dict(self.headers), body)
                with mock._lock:
                    mock.calls.append(call)
                    slow = mock._take_delay(call)
                    fail = None
                    if slow is not None and slow[1] is not None:
                        fail = slow[1]
                    elif mock._fail:
                        fail = mock._fail.pop(0)
                if slow is not None:
                    call.delayed = slow[0]
                    time.sleep(slow[0])
                status, payload = fail if fail else mock._answer(call)
                data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    call.answered_at = time.monotonic()
                except OSError:
                    pass  # the server gave up on the call (its timeout) and closed the connection

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail_next(self, status: int, body=None):
        with self._lock:
            self._fail.append((status, body if body is not None else {"errorCode": "mock", "errorDescription": "injected"}))

    def delay(self, seconds: float, match=None, count: int = 1, status: Optional[int] = None, body=None):
        """Hold back the answer to the next `count` calls that `match` by `seconds`.

        `match` is a callable taking a Call, or a string the call's path must contain (for
        example a session id), or None for any call. With `status`, the delayed answer is
        that status and `body` (default: an error object) instead of the normal answer.
        Calls the rule does not match are answered at once, so concurrent cases are not
        slowed down."""
        if isinstance(match, str):
            needle = match
            match = lambda c: needle in c.path  # noqa: E731
        fail = None
        if status is not None:
            fail = (status, body if body is not None else {"errorCode": "mock", "errorDescription": "injected"})
        rule = [match, float(seconds), int(count), fail]
        with self._lock:
            self._delays.append(rule)
        return rule

    def drop_delay(self, rule):
        with self._lock:
            if rule in self._delays:
                self._delays.remove(rule)

    def _take_delay(self, call):
        """Under the lock: the (seconds, fail) of the first delay rule matching `call`, or None."""
        for rule in self._delays:
            if rule[0] is None or rule[0](call):
                rule[2] -= 1
                if rule[2] <= 0:
                    self._delays.remove(rule)
                return rule[1], rule[3]
        return None

    def calls_since(self, n: int) -> List[Call]:
        with self._lock:
            return list(self.calls[n:])

    def count(self) -> int:
        with self._lock:
            return len(self.calls)

    def _answer(self, call: Call):
        p = call.path
        if call.method == "POST" and p.endswith("/sessions/new"):
            return 201, {"sessionId": f"mocksess{next(self._ids):04d}"}
        if call.method == "POST" and p.endswith("/tracks/new"):
            tracks = (call.body or {}).get("tracks") or []
            out = [{"trackName": t.get("trackName"), "mid": str(i), "sessionId": t.get("sessionId")}
                   for i, t in enumerate(tracks) if isinstance(t, dict)]
            return 200, {"requiresImmediateRenegotiation": False, "tracks": out,
                         "sessionDescription": {"type": "answer", "sdp": "v=0\r\no=mock 1 1 IN IP4 127.0.0.1\r\n"}}
        if call.method == "PUT" and p.endswith("/tracks/close"):
            return 200, {"tracks": (call.body or {}).get("tracks") or [], "requiresImmediateRenegotiation": False}
        if call.method == "PUT" and p.endswith("/renegotiate"):
            return 200, {}
        return 404, {"errorCode": "not_found", "errorDescription": f"mock has no route {call.method} {p}"}


def expect_call(calls: List[Call], method: str, path: str) -> Optional[Call]:
    for c in calls:
        if c.method == method and c.path == path:
            return c
    return None
