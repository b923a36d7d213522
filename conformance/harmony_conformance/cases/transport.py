"""Transport (spec/transport.md): the endpoint, frames, keepalive, per-connection order, the
envelope rules, the Uint8Array codec and the connection limits.

Some cases need WebSocket behaviour the `websockets` library hides (a text frame with invalid
UTF-8, a peer that never answers pings, raw handshake headers): they use RawWS below, a small
RFC 6455 client over a plain TCP stream. Cases that need other server settings than the
suite's defaults (a short keepalive, a low connection limit) restart the managed server with
`server_settings` and restore the defaults afterwards (needs "restart")."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import struct
import time
import urllib.error
import urllib.request

import websockets

from ..core import CheckFailed, case
from ..wsclient import now_iso, u8
from ._util import (create_community, expect_silence, history, join, key_package, message_payload,
                    rate_limit, require_restart, restart, send_message, world)

ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
B64_RE = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


# ---- a raw RFC 6455 client ----------------------------------------------------------------

class RawWS:
    """A minimal WebSocket client: exact bytes out, frames in, no automatic pong or close."""

    def __init__(self, ctx, path: str = "/"):
        self.ctx = ctx
        self.path = path
        self.reader = self.writer = None
        self.status = None
        self.headers = {}

    async def open(self, extra_headers=None):
        url = ctx_ws_url(self.ctx)
        hostport = url.split("//", 1)[1].split("/", 1)[0]
        host, _, port = hostport.rpartition(":")
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 5)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {hostport}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in (extra_headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        first, *rest = head.decode("latin-1").split("\r\n")
        self.status = int(first.split()[1])
        for ln in rest:
            if ":" in ln:
                k, _, v = ln.partition(":")
                self.headers[k.strip().lower()] = v.strip()
        if self.status != 101:
            raise CheckFailed(f"raw handshake answered {first}")
        return self

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True):
        mask = os.urandom(4)
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", b0, 0x80 | 127, n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + body)

    async def recv_frame(self, timeout: float):
        """(opcode, payload) of the next frame, or None on EOF / timeout."""
        try:
            h = await asyncio.wait_for(self.reader.readexactly(2), timeout)
            n = h[1] & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            data = await self.reader.readexactly(n)
            return h[0] & 0x0F, data
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return None

    async def recv_until_close(self, timeout: float):
        """Read frames until a close frame; returns (close code, reason, [(opcode, payload) before])."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fr = await self.recv_frame(max(0.01, deadline - time.monotonic()))
            if fr is None:
                return None, "", seen
            op, data = fr
            if op == 8:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                return code, data[2:].decode("utf-8", "replace"), seen
            seen.append(fr)
        return None, "", seen

    def close(self):
        if self.writer is not None:
            self.writer.close()


def ctx_ws_url(ctx) -> str:
    return ctx.target.ws_url


@contextlib.asynccontextmanager
async def server_settings(ctx, **over):
    """Restart the managed server with some template values changed; restore them afterwards."""
    require_restart(ctx)
    m = ctx.target.managed
    missing = [k for k in over if "{" + k + "}" not in (m.template or "")]
    if missing:
        # e.g. upstream's start script: its template cannot pass these, so a restart would not change them
        ctx.unsupported(f"the server's command template has no {', '.join('{' + k + '}' for k in missing)}: "
                        "the suite cannot start it with other values")
    old = {k: m.params.get(k) for k in over}
    old_timers = {k: ctx.target.timers.get(k) for k in over}
    m.params.update(over)
    ctx.target.timers.update(over)
    await restart(ctx)
    try:
        yield
    finally:
        m.params.update(old)
        ctx.target.timers.update(old_timers)
        await restart(ctx)


def raw_frames(conn):
    """Every text frame the connection received, parsed keeping key order and duplicates."""
    out = []
    for _, d, text in conn.log:
        if d in ("recv", "recv-binary"):
            try:
                out.append((d, text, json.loads(text, object_pairs_hook=lambda kv: kv)))
            except ValueError:
                out.append((d, text, None))
    return out


# ---- 1. endpoint ----------------------------------------------------------------------------

@case("TRN-001", area="transport", reqs=["R-TRN-1"], types=["sync.state/c2s", "sync.response/s2c"],
      title="Any request path and query is the same endpoint, and an offered subprotocol is selected",
      sends="a WebSocket handshake to /some/deep/path?x=1 offering the subprotocols 'harmony-x, other'; a VP login",
      expects="handshake completes with Sec-WebSocket-Protocol 'harmony-x' (the first offered); the login succeeds")
async def trn_any_path(ctx):
    url = ctx_ws_url(ctx).rstrip("/") + "/some/deep/path?x=1"
    try:
        ws = await asyncio.wait_for(websockets.connect(url, subprotocols=["harmony-x", "other"], ping_interval=None,
                                                       compression=None), 5)
    except Exception as e:  # noqa: BLE001 - the handshake failing is the finding
        ctx.fail(f"handshake to {url} with subprotocols failed: {type(e).__name__} {e}")
    try:
        ctx.check(ws.subprotocol == "harmony-x", f"selected subprotocol {ws.subprotocol!r}, expected 'harmony-x'")
        ident = ctx.identity("alice")
        vp = ident.presentation()
        env = {"id": "trn-001", "type": "sync.state", "timestamp": now_iso(), "sender": ident.did, "payload": vp}
        await ws.send(json.dumps(env))
        deadline = time.monotonic() + ctx.timeout
        while True:
            f = json.loads(await asyncio.wait_for(ws.recv(), max(0.05, deadline - time.monotonic())))
            if f.get("type") == "sync.response":
                ctx.check((f.get("payload") or {}).get("authenticated") is True, f"login reply {f}")
                break
            ctx.check(f.get("type") != "error", f"login on a deep path refused: {f}")
    finally:
        await ws.close()
    c = await ctx.connect("bob", path="/another?y=2")
    ctx.check(c.did == ctx.identity("bob").did, "login on /another?y=2 failed")


@case("TRN-002", area="transport", reqs=["R-TRN-2"], types=[],
      title="The HTTP API answers on its own port (by default the WebSocket port + 1)",
      sends="GET /health on the target's HTTP port",
      expects="an HTTP answer with status 200")
async def trn_http_port(ctx):
    from ._util import http
    a = await http(ctx, "GET", "/health")
    ctx.check(a.status == 200, f"GET /health on {ctx.target.http_url}: {a}")


def _plain_get(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@case("TRN-003", area="transport", reqs=["R-TRN-3"], types=[],
      title="A plain HTTP request to the WebSocket port is answered 426 Upgrade Required",
      sends="GET / on the WebSocket port without Upgrade headers",
      expects="HTTP status 426")
async def trn_426(ctx):
    url = "http://" + ctx_ws_url(ctx).split("//", 1)[1].rstrip("/") + "/"
    try:
        st = await asyncio.get_running_loop().run_in_executor(None, _plain_get, url)
    except OSError as e:
        ctx.fail(f"GET {url}: no HTTP answer ({e})")
    ctx.check(st == 426, f"GET {url} answered {st}, expected 426")


@case("TRN-004", area="transport", reqs=["R-TRN-4"], types=["sync.state/c2s", "sync.response/s2c"],
      title="The server speaks plain ws:// itself (TLS is left to a proxy)",
      sends="a plain (non-TLS) WebSocket handshake and a VP login",
      expects="the handshake answers 101 in clear text and the login succeeds")
async def trn_plain(ctx):
    r = await RawWS(ctx).open()
    try:
        ctx.check(r.status == 101 and r.headers.get("upgrade", "").lower() == "websocket",
                  f"plain handshake: {r.status} {r.headers}")
    finally:
        r.close()
    await ctx.connect("alice")


# ---- 2. frames ------------------------------------------------------------------------------

@case("TRN-005", area="transport", reqs=["R-TRN-6"], types=["sync.state/c2s", "channel.send/c2s", "error/s2c"],
      title="The server sends only text messages holding UTF-8 JSON without a byte-order mark",
      sends="a login, a message with non-ASCII text, an unknown type",
      expects="every received message is a text message whose text parses as one JSON object and has no BOM")
async def trn_text_only(ctx):
    w = await world(ctx, names=())
    c = w["owner"]
    await send_message(ctx, c, w.cid, w.chid, "grüße ✓ 😀")
    await c.send("conformance.bogus", {})
    await c.expect_error()
    frames = raw_frames(c)
    ctx.check(frames, "no frames recorded")
    for d, text, parsed in frames:
        ctx.check(d == "recv", f"a binary message arrived: {text[:100]}")
        ctx.check(not text.startswith("\ufeff"), "a message starts with a byte-order mark")
        ctx.check(isinstance(parsed, list), f"a message is not one JSON object: {text[:100]}")


@case("TRN-006", area="transport", reqs=["R-TRN-7"], types=[],
      title="A text message that is not valid UTF-8 fails the connection with 1007",
      sends="a text frame whose bytes are ff fe 7b 7d (invalid UTF-8)",
      expects="a close frame with code 1007")
async def trn_bad_utf8_text(ctx):
    r = await RawWS(ctx).open()
    try:
        r.send_frame(0x1, b"\xff\xfe{}")
        code, reason, _ = await r.recv_until_close(ctx.timeout)
        ctx.check(code == 1007, f"close code {code} ({reason!r}), expected 1007")
    finally:
        r.close()


@case("TRN-007", area="transport", reqs=["R-TRN-8"], types=["error/s2c"],
      title="A binary message that is not valid UTF-8 gets INVALID_MESSAGE and the socket stays open",
      sends="after login, a binary message with the bytes ff fe 7b 7d",
      expects="error INVALID_MESSAGE 'Invalid UTF-8'; the connection stays open and serves the next frame "
              "(upstream parses U+FFFD replacements)")
async def trn_bad_utf8_binary(ctx):
    c = await ctx.connect("alice")
    await c.send_raw(b"\xff\xfe{}")
    f = await c.expect_error("INVALID_MESSAGE")
    ctx.check("utf-8" in str((f.get("payload") or {}).get("message")).lower(), f"message {f.get('payload')}")
    await c.expect_open(within=0.1)
    await c.send("conformance.bogus", {})
    await c.expect_error("UNKNOWN_TYPE")


@case("TRN-008", area="transport", reqs=["R-TRN-9"], types=["error/s2c"],
      title="Fragmented messages, pings with data and the closing handshake follow RFC 6455",
      sends="an unknown-type frame in three fragments; a ping with application data 'hm-ping'; a close 1000",
      expects="error UNKNOWN_TYPE for the reassembled frame; a pong with the same data; a close frame 1000 back")
async def trn_rfc6455(ctx):
    c = await ctx.connect("alice")
    text = json.dumps(c.envelope("conformance.fragmented", {}))
    parts = [text[:10], text[10:20], text[20:]]
    await c.ws.send(iter(parts))
    f = await c.expect_error("UNKNOWN_TYPE")
    ctx.check("conformance.fragmented" in str(f["payload"].get("message")), f"error {f['payload']}")
    waiter = await c.ws.ping(b"hm-ping")
    try:
        await asyncio.wait_for(waiter, ctx.timeout)
    except asyncio.TimeoutError:
        ctx.fail("no pong with the ping's application data")
    await asyncio.wait_for(c.ws.close(1000, "bye"), ctx.timeout)
    ctx.check(c.ws.close_code == 1000, f"the server's close frame had code {c.ws.close_code}, expected 1000 "
                                       "(1006 = no close frame)")


@case("TRN-015", area="transport", reqs=["R-TRN-16"], types=[],
      title="A burst of pings is answered: at least the most recent ping gets its pong",
      sends="50 pings with distinct application data sent back to back, without waiting",
      expects="a pong carrying the data of the 50th ping (RFC 6455 5.5.3 allows skipping only earlier ones); the "
              "connection stays open")
async def trn_ping_burst(ctx):
    c = await ctx.connect("alice")
    waiters = [await c.ws.ping(f"burst-{i:02d}".encode()) for i in range(50)]
    for w in waiters:  # pings left unanswered fail when the connection closes: nobody needs to hear of it
        w.add_done_callback(lambda f: f.cancelled() or f.exception())
    try:
        await asyncio.wait_for(waiters[-1], ctx.timeout)
    except asyncio.TimeoutError:
        done = sum(1 for w in waiters if w.done())
        ctx.fail(f"no pong for the last of 50 pings ({done} of the 50 acknowledged; connection closed: "
                 f"{c.closed.is_set()})")
    await c.expect_open(within=0.1)


@case("TRN-009", area="transport", reqs=["R-TRN-10"], types=["sync.state/c2s", "sync.response/s2c"],
      title="A handshake offering permessage-deflate completes without compression",
      sends="a handshake with Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; then a VP login",
      expects="101 without a Sec-WebSocket-Extensions header; the login succeeds")
async def trn_deflate(ctx):
    r = await RawWS(ctx).open({"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"})
    r.close()
    ctx.check("sec-websocket-extensions" not in r.headers,
              f"the server accepted an extension: {r.headers.get('sec-websocket-extensions')}")
    ws = await websockets.connect(ctx_ws_url(ctx), compression="deflate", ping_interval=None)
    try:
        ident = ctx.identity("alice")
        await ws.send(json.dumps({"id": "trn-009", "type": "sync.state", "timestamp": now_iso(),
                                  "sender": ident.did, "payload": ident.presentation()}))
        f = json.loads(await asyncio.wait_for(ws.recv(), ctx.timeout))
        ctx.check(f.get("type") == "sync.response", f"login reply {f}")
    finally:
        await ws.close()


# ---- 3. keepalive ---------------------------------------------------------------------------

@case("TRN-010", area="transport", reqs=["R-TRN-11", "R-CLOSE-6"], types=["sync.state/c2s"],
      needs=["restart"], timeout=45,
      title="Keepalive: pings every interval; a peer silent for two intervals is closed with 4005",
      sends="server restarted with keepalive 300 ms; a raw connection that never answers pings; a normal client "
            "(answers pings) logged in",
      expects="the raw connection receives pings, then close 4005 'Keepalive timeout' within ~600 ms (+slack); "
              "the normal client stays open for 1.5 s")
async def trn_keepalive(ctx):
    async with server_settings(ctx, keepalive_ms=300, auth_timeout_ms=5000):
        good = await ctx.connect("alice")
        r = await RawWS(ctx).open()
        try:
            t0 = time.monotonic()
            code, reason, seen = await r.recv_until_close(3.0)
            dt = time.monotonic() - t0
            pings = [x for x in seen if x[0] == 0x9]
            ctx.check(pings, f"no ping before the close (frames: {[x[0] for x in seen]})")
            ctx.check(code == 4005, f"the silent connection closed with {code} ({reason!r}) after {dt:.2f}s, "
                                    "expected 4005")
            ctx.check(reason == "Keepalive timeout", f"close reason {reason!r}")
            ctx.check(0.45 <= dt <= 1.5, f"closed after {dt:.2f}s, expected about 0.6 s (two intervals)")
        finally:
            r.close()
        await good.expect_open(within=1.5)


@case("TRN-011", area="transport", reqs=["R-TRN-12"], types=["error/s2c"],
      title="No application heartbeats; client pings are answered and not counted by the rate limiter",
      sends="a logged-in connection idles 1 s; then sends rate-limit N + 10 pings, each after the previous pong, "
            "and an unknown type",
      expects="no data frame while idle; every ping answered; the unknown type gets UNKNOWN_TYPE, not RATE_LIMITED")
async def trn_no_heartbeat(ctx):
    n, _ = rate_limit(ctx)
    c = await ctx.connect("alice")
    await c.expect_none(None, within=1.0, what="an application-level frame while idle")
    for i in range(n + 10):
        try:
            await asyncio.wait_for(await c.ws.ping(os.urandom(4)), ctx.timeout)
        except asyncio.TimeoutError:
            ctx.fail(f"ping #{i + 1} of {n + 10} was not answered with a pong (connection closed: "
                     f"{c.closed.is_set()}, code {c.close_code})")
    await c.send("conformance.bogus", {})
    f = await c.expect_error()
    ctx.check(ctx.adapter.error_code(f) == "UNKNOWN_TYPE", f"after {n + 10} pings: {f['payload']}")


# ---- 4. concurrency -------------------------------------------------------------------------

@case("TRN-012", area="transport", reqs=["R-TRN-13"],
      types=["auth.token.request/c2s", "auth.token.response/s2c", "error/s2c"],
      title="One connection's frames are answered strictly in the order they were sent",
      sends="30 frames without waiting: auth.token.request with its own id, alternating with unknown types "
            "conformance.ord-<n>",
      expects="the 30 answers (auth.token.response '<id>-response'; UNKNOWN_TYPE naming conformance.ord-<n>) arrive in "
              "exactly the sending order")
async def trn_in_order(ctx):
    c = await ctx.connect("alice")
    want = []
    for i in range(30):
        if i % 2 == 0:
            rid = f"ord-{i:02d}-{os.urandom(2).hex()}"
            await c.send("auth.token.request", {}, id=rid)
            want.append(rid)
        else:
            await c.send(f"conformance.ord-{i:02d}", {})
            want.append(f"conformance.ord-{i:02d}")
    got = []
    for _ in range(30):
        f = await c.expect(lambda f: f.get("type") in ("error", "auth.token.response"), what="an answer")
        if f["type"] == "error":
            m = re.search(r"conformance\.ord-\d\d", str((f.get("payload") or {}).get("message")))
            got.append(m.group(0) if m else f"error {f.get('payload')}")
        else:
            got.append(f["id"][:-len("-response")])
    ctx.check(got == want, f"answers in order {got[:8]}..., sent {want[:8]}...")


@case("TRN-013", area="transport", reqs=["R-TRN-15", "R-DLV-5"],
      types=["channel.send/c2s", "channel.message/s2c", "channel.history/c2s"],
      title="Frames of different connections are serialised: one channel order, live and in history",
      sends="two members post 15 messages each at the same time; a third member watches; then channel.history",
      expects="all three connections receive the 30 channel.message frames in the same order, which is the history "
              "order, and history seq values strictly increase in it", timeout=30)
async def trn_serial(ctx):
    w = await world(ctx, names=("bob", "carol"))
    senders = [w["owner"], w["bob"]]

    async def blast(c):
        for i in range(15):
            await c.send("channel.send", message_payload(w.cid, w.chid, f"{c.label}-{i}", counter=i + 1, did=c.did))
    await asyncio.gather(*(blast(c) for c in senders))
    orders = {}
    for name in ("owner", "bob", "carol"):
        got = []
        for _ in range(30):
            f = await w[name].expect_type("channel.message", what=f"channel.message #{len(got) + 1} at {name}")
            got.append(f["id"])
        orders[name] = got
    ctx.check(orders["owner"] == orders["bob"] == orders["carol"], "the members saw different orders")
    h = await history(ctx, w["carol"], w.cid, w.chid, limit=50)
    hist = [m.get("id") for m in h.get("messages") or []]
    ctx.check(hist == orders["carol"], "history order differs from the live order")
    seqs = [m.get("seq") for m in h.get("messages") or []]
    ctx.check(all(isinstance(s, int) for s in seqs) and all(a < b for a, b in zip(seqs, seqs[1:])),
              f"history seq values {seqs}")


@case("TRN-014", area="transport", reqs=["R-TRN-14"],
      types=["voice.session.create/c2s", "voice.session.created/s2c", "error/s2c"],
      needs=["restart", "sfu-mock"], timeout=60,
      title="An SFU proxy call does not hold up later frames of the connection or frames of other connections",
      sends="server restarted with an SFU mock that answers after 1.5 s; a voice participant sends "
            "voice.session.create and at once an unknown type; another participant sends an unknown type",
      expects="both UNKNOWN_TYPE errors arrive before the mock answers the SFU call and before "
              "voice.session.created; voice.session.created arrives after the mock answered")
async def trn_sfu_async(ctx):
    from ..sfu_mock import SfuMock
    from ._util import voice_world
    slow = SfuMock()
    answer = slow._answer

    def delayed(call):
        time.sleep(1.5)
        return answer(call)
    slow._answer = delayed
    slow.start()
    try:
        async with server_settings(ctx, sfu_api_base=slow.base):
            w = await voice_world(ctx, names=("bob",))
            o, b = w["owner"], w["bob"]
            t0 = time.monotonic()
            await o.send("voice.session.create", {})
            await o.send("conformance.after-sfu", {})
            await b.send("conformance.other-conn", {})
            f = await o.expect(lambda f: f.get("type") in ("error", "voice.session.created"), timeout=5,
                               what="the first answer after voice.session.create")
            ctx.check(not str(ctx.adapter.error_code(f) or "").startswith("CF_"),
                      f"voice.session.create was refused, no SFU call was made: {f.get('payload')}")
            # "not held up" is judged by the order of events, not by a time bound a loaded machine
            # could exceed: the answer came before the mock answered the call (it holds it 1.5 s)
            def answered():
                return [c.answered_at for c in slow.calls_since(0) if c.answered_at is not None]
            ctx.check(f["type"] == "error" and ctx.adapter.error_code(f) == "UNKNOWN_TYPE" and not answered(),
                      f"first answer {f['type']} {f.get('payload')} after {time.monotonic() - t0:.2f} s, "
                      f"{'after' if answered() else 'before'} the mock answered the SFU call: the SFU call held up "
                      "the connection's next frame")
            await b.expect_error("UNKNOWN_TYPE", timeout=5)
            ctx.check(not answered(), "another connection's frame was answered only after the mock answered the SFU "
                                      "call: it waited for the call")
            f = await o.expect(lambda f: f.get("type") in ("error", "voice.session.created"), timeout=6,
                               what="the voice.session.create reply")
            ctx.check(f["type"] == "voice.session.created", f"voice.session.create answered {f}")
    finally:
        slow.stop()


# ---- 5. the envelope ------------------------------------------------------------------------

@case("ENV-009", area="envelope", reqs=["R-ENV-1"], types=["channel.send/c2s", "channel.message/s2c"],
      title="Envelope keys are accepted in any order",
      sends="channel.send whose envelope keys come as payload, sender, timestamp, type, id",
      expects="channel.message with that id at the sender and at another member")
async def env_key_order(ctx):
    w = await world(ctx, names=("bob",))
    o = w["owner"]
    env = o.envelope("channel.send", message_payload(w.cid, w.chid, "reordered", did=o.did))
    rev = {k: env[k] for k in reversed(list(env))}
    await o.send_frame(rev)
    for c in (o, w["bob"]):
        f = await c.expect_type("channel.message", lambda p: p.get("content") == "reordered")
        ctx.check(f["id"] == env["id"], f"id {f['id']} != {env['id']}")


ENV_BAD = [("id", 42), ("id", ""), ("id", "x" * 129), ("timestamp", 5), ("timestamp", "t" * 65),
           ("sender", 7), ("sender", "d" * 257), ("proof", "not-an-object")]


@case("ENV-010", area="envelope", reqs=["R-ENV-4"], types=["channel.send/c2s", "sync.state/c2s", "error/s2c"],
      title="Envelope fields of the wrong type or length get INVALID_MESSAGE 'Invalid envelope field: <name>'",
      sends="after login, channel.send with id 42, id '', a 129-character id, timestamp 5, a 65-character timestamp, "
            "sender 7, a 257-character sender, proof 'not-an-object'; before login, sync.state with id 42",
      expects="one error INVALID_MESSAGE naming the field for each; no channel.message; the VP with a bad id does "
              "not log in (upstream validates none: G18)")
async def env_bad_fields(ctx):
    w = await world(ctx, names=("bob",))
    o = w["owner"]
    for field, val in ENV_BAD:
        env = o.envelope("channel.send", message_payload(w.cid, w.chid, f"bad-{field}", did=o.did))
        env[field] = val
        await o.send_frame(env)
        f = await o.expect_error("INVALID_MESSAGE")
        ctx.check(field in str(f["payload"].get("message")), f"{field}={val!r:.20}: message {f['payload']}")
    await expect_silence([o, w["bob"]], ["channel.message"])
    c = await ctx.connect("carol", auth=False)
    ident = ctx.identity("carol")
    env = ctx.adapter.auth_frame(c, ident)
    env["id"] = 42
    await c.send_frame(env)
    f = await c.expect_error("INVALID_MESSAGE")
    await c.expect_none("sync.response", within=0.2)


@case("ENV-011", area="envelope", reqs=["R-ENV-7"], types=["channel.send/c2s", "channel.message/s2c"],
      title="Extra envelope keys are neither relayed nor stored",
      sends="channel.send with extra top-level keys 'x-extra' and 'meta'",
      expects="the channel.message at another member and the history entry have none of them (upstream relays them)")
async def env_extra_keys(ctx):
    w = await world(ctx, names=("bob",))
    o = w["owner"]
    env = o.envelope("channel.send", message_payload(w.cid, w.chid, "extra keys", did=o.did))
    env["x-extra"] = {"a": 1}
    env["meta"] = "m"
    await o.send_frame(env)
    f = await w["bob"].expect_type("channel.message", lambda p: p.get("content") == "extra keys")
    ctx.check("x-extra" not in f and "meta" not in f, f"relayed frame keys {list(f)}")
    h = await history(ctx, o, w.cid, w.chid)
    m = [x for x in h.get("messages") or [] if x.get("id") == env["id"]]
    ctx.check(m and "x-extra" not in m[0] and "meta" not in m[0], f"history entry {m[:1]}")


@case("ENV-012", area="envelope", reqs=["R-ENV-9"], types=["channel.send/c2s", "channel.message/s2c", "error/s2c"],
      title="Every server frame has exactly the keys id, type, timestamp, sender, payload in that order",
      sends="a login, a message with an extra envelope key and a proof null, an unknown type, channel.history",
      expects="every received frame (reply, broadcast, error) has exactly those five keys in that order, no proof")
async def env_exact_keys(ctx):
    w = await world(ctx, names=("bob",))
    o = w["owner"]
    env = o.envelope("channel.send", message_payload(w.cid, w.chid, "keys", did=o.did))
    env["proof"] = None
    env["zz"] = 1
    await o.send_frame(env)
    await w["bob"].expect_type("channel.message", lambda p: p.get("content") == "keys")
    await o.send("conformance.bogus", {})
    await o.expect_error()
    await history(ctx, o, w.cid, w.chid)
    for c in (o, w["bob"]):
        for _, text, parsed in raw_frames(c):
            keys = [k for k, _ in parsed] if isinstance(parsed, list) else None
            ctx.check(keys == ["id", "type", "timestamp", "sender", "payload"], f"[{c.label}] frame keys {keys}: "
                                                                              f"{text[:120]}")


@case("ENV-013", area="envelope", reqs=["R-ENV-8"], types=["channel.send/c2s", "channel.message/s2c"],
      title="A repeated key in a frame takes its last value",
      sends="channel.send whose payload text has \"content\":\"first\" and later \"content\":\"second\"",
      expects="channel.message with content 'second'")
async def env_dup_key(ctx):
    w = await world(ctx, names=("bob",))
    o = w["owner"]
    p = message_payload(w.cid, w.chid, "first", did=o.did)
    env = o.envelope("channel.send", p)
    text = json.dumps(env, separators=(",", ":"))
    text = text[:-2] + ',"content":"second"}}'
    await o.send_raw(text)
    f = await w["bob"].expect_type("channel.message", lambda q: q.get("content") in ("first", "second"))
    ctx.check(f["payload"]["content"] == "second", f"content {f['payload']['content']!r}, expected 'second'")


@case("ENV-014", area="envelope", reqs=["R-ENV-10"], types=["channel.send/c2s", "channel.message/s2c", "error/s2c"],
      title="Server timestamps are toISOString() of now; relayed messages keep the client's timestamp",
      sends="a login, an unknown type, a message whose envelope timestamp is 2020-01-02T03:04:05.678Z",
      expects="auth-ok and error timestamps match YYYY-MM-DDTHH:MM:SS.sssZ within 5 s of now; channel.message "
              "carries 2020-01-02T03:04:05.678Z")
async def env_timestamps(ctx):
    w = await world(ctx, names=("bob",))
    o = w["owner"]
    c = await ctx.connect("owner-2", auth=False, identity=ctx.identity("owner"))
    await c.send_frame(ctx.adapter.auth_frame(c, ctx.identity("owner")))
    ok = await c.expect_type("sync.response")
    await o.send("conformance.bogus", {})
    err = await o.expect_error()
    for f in (ok, err):
        ts = f.get("timestamp")
        ctx.check(isinstance(ts, str) and ISO_RE.match(ts), f"{f['type']} timestamp {ts!r}")
        t = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        ctx.check(abs(t - time.time()) < 5, f"{f['type']} timestamp {ts} is not now")
    await o.send("channel.send", message_payload(w.cid, w.chid, "old clock", did=o.did),
                 timestamp="2020-01-02T03:04:05.678Z")
    f = await w["bob"].expect_type("channel.message", lambda p: p.get("content") == "old clock")
    ctx.check(f["timestamp"] == "2020-01-02T03:04:05.678Z", f"relayed timestamp {f['timestamp']}")


@case("ENV-015", area="envelope", reqs=["R-ENV-11"],
      types=["channel.send/c2s", "channel.message/s2c", "community.info/c2s", "community.info.response/s2c"],
      title="sender is 'server' on frames the server originates and the acting DID on broadcasts",
      sends="a member posts; the owner asks community.info; an unknown type",
      expects="channel.message sender = the poster's DID; community.info.response, error and auth-ok sender 'server'")
async def env_sender(ctx):
    w = await world(ctx, names=("bob",))
    o, b = w["owner"], w["bob"]
    await b.send("channel.send", message_payload(w.cid, w.chid, "who", did=b.did))
    f = await o.expect_type("channel.message", lambda p: p.get("content") == "who")
    ctx.check(f["sender"] == b.did, f"broadcast sender {f['sender']}")
    await o.send("community.info", {"communityId": w.cid})
    f = await o.expect_type("community.info.response")
    ctx.check(f["sender"] == "server", f"community.info.response sender {f['sender']}")
    await o.send("conformance.bogus", {})
    f = await o.expect_error()
    ctx.check(f["sender"] == "server", f"error sender {f['sender']}")


@case("ENV-016", area="envelope", reqs=["R-ENV-13"],
      types=["community.create/c2s", "community.join/c2s", "community.update/c2s", "community.updated/s2c"],
      title="community.updated comes in upstream's three shapes: create reply, join reply, update broadcast",
      sends="community.create; a second member joins; the owner sends community.update {name}",
      expects="create reply: communityId, rootCapability, channels; join reply: communityId, channels, members; "
              "update broadcast: communityId, name (no channels)")
async def env_shapes(ctx):
    o = await ctx.connect("owner")
    cid, _, p = await create_community(ctx, o)
    ctx.check(isinstance(p.get("rootCapability"), dict) and isinstance(p.get("channels"), list),
              f"create reply keys {sorted(p)}")
    b = await ctx.connect("bob")
    pj = await join(ctx, b, cid)
    ctx.check(isinstance(pj.get("channels"), list) and isinstance(pj.get("members"), list)
              and "rootCapability" not in pj, f"join reply keys {sorted(pj)}")
    await asyncio.sleep(0.1)
    b.drain()
    await o.send("community.update", {"communityId": cid, "name": "renamed-env016"})
    f = await b.expect_type("community.updated", lambda q: q.get("name") == "renamed-env016")
    ctx.check("channels" not in f["payload"] and f["payload"].get("communityId") == cid,
              f"update broadcast keys {sorted(f['payload'])}")


# ---- 6. the Uint8Array codec ----------------------------------------------------------------

def _ordered_codec_objects(parsed, out):
    """Every object (as key/value pair lists) whose first pair is ('__type', 'Uint8Array') or that has __type."""
    if isinstance(parsed, list) and parsed and all(isinstance(x, tuple) for x in parsed):
        keys = [k for k, _ in parsed]
        if "__type" in keys:
            out.append(parsed)
        for _, v in parsed:
            _ordered_codec_objects(v, out)
    elif isinstance(parsed, list):
        for v in parsed:
            _ordered_codec_objects(v, out)


@case("BIN-001", area="codec", reqs=["R-BIN-1"],
      types=["mls.keypackage.upload/c2s", "mls.keypackage.fetch/c2s", "mls.keypackage.response/s2c"],
      title="Bytes the server emits are {\"__type\":\"Uint8Array\",\"data\":<canonical base64>} objects",
      sends="mls.keypackage.upload of a key package (bytes as codec objects), then mls.keypackage.fetch",
      expects="in the raw mls.keypackage.response every byte value is an object with exactly the keys __type, data "
              "in that order, __type 'Uint8Array', data canonical padded standard base64")
async def bin_emit(ctx):
    c = await ctx.connect("alice")
    await c.send("mls.keypackage.upload", {"keyPackage": key_package(ctx.identity("alice"))})
    got = None
    for _ in range(5):
        await c.send("mls.keypackage.fetch", {"dids": [c.did]})
        f = await c.expect_type("mls.keypackage.response")
        if (f["payload"].get("keyPackages") or {}).get(c.did):
            got = f
            break
        await asyncio.sleep(0.2)
    ctx.check(got is not None, "the uploaded key package is not fetched back")
    objs = []
    for _, text, parsed in raw_frames(c):
        if '"mls.keypackage.response"' in text and c.did in text:
            _ordered_codec_objects(parsed, objs)
    ctx.check(len(objs) >= 4, f"expected at least 4 byte values in the response, found {len(objs)}")
    for o in objs:
        keys = [k for k, _ in o]
        ctx.check(keys == ["__type", "data"] and o[0][1] == "Uint8Array", f"codec object {o}")
        d = o[1][1]
        ctx.check(isinstance(d, str) and B64_RE.match(d) and base64.b64encode(base64.b64decode(d)).decode() == d,
                  f"data {d!r} is not canonical base64")


@case("BIN-002", area="codec", reqs=["R-BIN-2", "R-CRY-DM-4"], types=["dm.keyexchange/c2s", "dm.keyexchange/s2c"],
      title="Byte fields accept the codec object and, where declared, a plain number array",
      sends="dm.keyexchange {recipientDID, senderPublicKey: [32 numbers]} and again with a codec object",
      expects="the recipient receives both dm.keyexchange frames")
async def bin_accept(ctx):
    w = await world(ctx, names=("bob",))
    key = os.urandom(32)
    await w["owner"].send("dm.keyexchange", {"recipientDID": w.did("bob"), "senderPublicKey": list(key)})
    f = await w["bob"].expect_type("dm.keyexchange")
    await w["owner"].send("dm.keyexchange", {"recipientDID": w.did("bob"), "senderPublicKey": u8(key)})
    f = await w["bob"].expect_type("dm.keyexchange")
    ctx.check(f["sender"] == w.did("owner"), f"sender {f['sender']}")


BAD_CODEC = [{"__type": "Uint8Array", "data": "AA-_"}, {"__type": "Uint8Array", "data": "AAA"},
             {"__type": "Uint8Array", "data": "AB=="}, {"__type": "Uint8Array", "data": "AAAA", "x": 1},
             {"__type": "Uint8Array", "data": 12}]


@case("BIN-003", area="codec", reqs=["R-BIN-3"], types=["channel.send/c2s", "dm.keyexchange/c2s", "error/s2c"],
      title="A non-canonical Uint8Array object anywhere in a frame gets INVALID_PAYLOAD",
      sends="channel.send whose content object holds URL-safe, unpadded, non-zero-bit, extra-key and non-string codec "
            "objects (one per frame); dm.keyexchange with senderPublicKey [300, ...]",
      expects="error INVALID_PAYLOAD 'Invalid Uint8Array encoding' for each; nothing is broadcast or relayed "
              "(upstream decodes leniently)")
async def bin_invalid(ctx):
    w = await world(ctx, names=("bob",))
    o = w["owner"]
    for bad in BAD_CODEC:
        await o.send("channel.send", dict(message_payload(w.cid, w.chid, did=o.did),
                                          content={"text": "x", "blob": bad}))
        f = await o.expect_error("INVALID_PAYLOAD")
        ctx.check("uint8array" in str(f["payload"].get("message")).lower(), f"{bad}: {f['payload']}")
    await o.send("dm.keyexchange", {"recipientDID": w.did("bob"), "senderPublicKey": [300] + [1] * 31})
    await o.expect_error("INVALID_PAYLOAD")
    await expect_silence([o, w["bob"]], ["channel.message", "dm.keyexchange"])


@case("BIN-004", area="codec", reqs=["R-BIN-4"], types=["channel.send/c2s", "channel.message/s2c",
                                                         "channel.history/c2s"],
      title="Byte values in opaque payloads are passed on in the form they arrived in",
      sends="channel.send with content {ciphertext: codec object, nonce: codec object, epoch: 0, senderIndex: 0, "
            "pad: [1, 2, 3, 250]} (an unlisted key is kept as sent)",
      expects="the channel.message at another member and the history entry carry the same codec object and the "
              "same number array")
async def bin_passthrough(ctx):
    w = await world(ctx, names=("bob",))
    o = w["owner"]
    ct = u8(os.urandom(40))
    content = {"ciphertext": ct, "nonce": u8(os.urandom(24)), "epoch": 0, "senderIndex": 0, "pad": [1, 2, 3, 250]}
    env = await o.send("channel.send", dict(message_payload(w.cid, w.chid, did=o.did), content=content))
    f = await w["bob"].expect_type("channel.message", lambda p: isinstance(p.get("content"), dict))
    ctx.check(f["payload"]["content"] == content, f"relayed content {f['payload']['content']}")
    h = await history(ctx, w["bob"], w.cid, w.chid)
    m = [x for x in h.get("messages") or [] if x.get("id") == env["id"]]
    ctx.check(m and m[0]["payload"].get("content") == content, f"history content {m[:1]}")


@case("BIN-005", area="codec", reqs=["R-BIN-5", "R-CRY-JSON-12"], types=["sync.state/c2s", "error/s2c"],
      title="A presentation whose signed part holds a Uint8Array object is refused",
      sends="a correctly signed VP whose credential claims include {\"__type\":\"Uint8Array\",\"data\":\"AAEC\"}",
      expects="error AUTH_INVALID and close 4002")
async def bin_signed(ctx):
    ident = ctx.identity("alice")
    vc = ident.credential(claims={"type": "IdentityAssertion", "blob": {"__type": "Uint8Array", "data": "AAEC"}})
    vp = ident.presentation(credentials=[vc])
    c = await ctx.connect("alice", auth=False)
    await c.send("sync.state", vp, sender=ident.did)
    await c.expect_error("AUTH_INVALID")
    await c.expect_close(4002)


# ---- 7. limits ------------------------------------------------------------------------------

@case("LIM-001", area="limits", reqs=["R-LIM-4", "R-CLOSE-7"], types=["sync.state/c2s", "error/s2c"], timeout=40,
      title="A DID's 17th authenticated connection gets QUOTA_EXCEEDED and close 1013",
      sends="16 connections of one DID log in; a 17th sends a valid VP",
      expects="the 17th gets error QUOTA_EXCEEDED then close 1013 'Too many connections'; the 16 stay open "
              "(upstream: G19)")
async def lim_per_did(ctx):
    ident = ctx.identity("alice")
    conns = []
    for i in range(16):
        conns.append(await ctx.connect(f"alice-{i}", identity=ident))
    c = await ctx.connect("alice-17", auth=False, identity=ident)
    await c.send_frame(ctx.adapter.auth_frame(c, ident))
    await c.expect_error("QUOTA_EXCEEDED")
    await c.expect_close(1013)
    ctx.check(c.close_reason == "Too many connections", f"close reason {c.close_reason!r}")
    await conns[0].expect_open(within=0.1)


@case("LIM-002", area="limits", reqs=["R-LIM-4", "R-CLOSE-7"], types=[], needs=["restart"], timeout=40,
      title="Connections beyond max-connections are closed with 1013",
      sends="server restarted with max-connections 6; 7 connections are opened",
      expects="the 7th is accepted and closed with 1013 'Too many connections'; the first 6 stay open")
async def lim_total(ctx):
    async with server_settings(ctx, max_connections=6):
        conns = [await ctx.connect(f"c{i}", auth=False) for i in range(6)]
        extra = await ctx.connect("c7", auth=False)
        await extra.expect_close(1013)
        ctx.check(extra.close_reason == "Too many connections", f"close reason {extra.close_reason!r}")
        await conns[0].expect_open(within=0.1)
        for c in conns + [extra]:
            await c.close_quietly()


@case("LIM-003", area="limits", reqs=["R-LIM-5", "R-CLOSE-9"], types=["error/s2c"],
      title="The 17th frame before authentication closes the connection with 1008",
      sends="16 community.list frames before login (each gets AUTH_REQUIRED), then a 17th",
      expects="16 error AUTH_REQUIRED, then close 1008 'Too many frames before authentication'")
async def lim_preauth(ctx):
    # The 17 frames go out back to back and the answers are judged afterwards: the server
    # handles frames of one connection in order, so this checks the same thing as 17 round
    # trips, but finishes in about one round trip. Sequential round trips on a loaded machine
    # could outlast the authentication timer (1.5 s when the suite starts the server), whose
    # close (4001) then came first and made the case fail for a reason that is not the server's.
    ident = ctx.identity("alice")
    auth_ms = (ctx.target.timers or {}).get("auth_timeout_ms")
    for attempt in range(3):
        t_open = time.monotonic()
        c = await ctx.connect("alice" if attempt == 0 else f"alice-retry{attempt}", auth=False, identity=ident)
        for i in range(17):
            await c.send("community.list", {}, sender=ident.did)
        await c.expect_close()
        took_ms = (time.monotonic() - t_open) * 1000
        answered = sum(1 for f in c.inbox if isinstance(f, dict) and f.get("type") == "error"
                       and ctx.adapter.error_code(f) == "AUTH_REQUIRED")
        if (c.close_code == 4001 and answered < 17 and isinstance(auth_ms, (int, float))
                and took_ms >= auth_ms):
            # The authentication timer may legitimately have fired before the 17th frame was
            # handled: nothing about the frame limit can be concluded; try again. (A 17th
            # AUTH_REQUIRED shows the frame was handled without the close: judged below.)
            continue
        break
    else:
        ctx.unsupported(f"three connections were closed by the {auth_ms} ms authentication timer (4001) before "
                        f"17 frames were answered (the last took {took_ms:.0f} ms): the machine is too slow")
    ctx.check(answered <= 16, f"all 17 frames before authentication were answered with AUTH_REQUIRED; the 17th "
                              f"must close the connection (closed later with {c.close_code} {c.close_reason!r})")
    for i in range(16):
        try:
            await c.expect_error("AUTH_REQUIRED", timeout=0)
        except CheckFailed:
            ctx.fail(f"frame {i + 1} of 16 before authentication got no error AUTH_REQUIRED before the close "
                     f"({c.close_code}, {c.close_reason!r})")
    ctx.check(c.close_code == 1008, f"closed with {c.close_code} ({c.close_reason!r}) after 17 frames, expected 1008")
    ctx.check(c.close_reason == "Too many frames before authentication", f"reason {c.close_reason!r}")
