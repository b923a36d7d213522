"""A black-box wire fuzzer for any Harmony server (issue 7, item 3).

It logs in with fresh presentations built by the harness' own crypto, creates a community
of its own, builds a valid frame for each c2s type of spec/registry.json from the registry's
field list (right JSON types, its own community and channel ids), mutates it (types, fields,
lengths, encodings, frame boundaries, sequences) and sends the result. It watches for:

  crash      the server stops accepting WebSocket connections or fails its /health check
  hang       a probe gets no answer within the deadline: an unknown-type frame on a quiet
             connection must be answered with an error (spec: every bad input gets an
             answer), and a fresh login must succeed
  violation  generic spec violations: a server frame that does not parse, whose type is not
             an s2c registry type, whose envelope or payload does not match the registry, an
             error frame without a code, a frame to a connection that must get none (the
             quiet probe connection is in no community; a connection before login gets only
             errors and login replies)

Every finding gets a reproducer (JSON lines of steps: which connection, how the frame goes
on the wire, its data) in --out, shrunk by replaying it with frames and fields dropped.
Case i is generated from Random("<seed>:<i>") only, so a seed gives the same cases.

Exit status: 0 no crash or hang, 1 a crash or hang, 2 the harness could not run.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import signal
import sys
import time
import traceback
import urllib.request
from typing import Dict, List, Optional

import websockets

from .identities import Identities
from .server import HARMONYD_TEMPLATE, ManagedServer, TempDataDir, free_port_pair
from .spec import Registry

MIB = 1 << 20
RAW = "@@RAW%d@@"          # placeholder for tokens json cannot write (1e309, deep nesting)

UNICODE = ["", " ", "\u0000", "\ufeff", "\u202e", "e\u0301", "\U0001F600" * 3, "\u00e9", "\uffff",
           "\ud800", "\udfff", "\ud83d", "a\udc00b", "\u2028\u2029", "\\", "\"", "<script>", "%s%n",
           "../../etc/passwd", "\x7f", "null", "0", "true", "\t\n\r"]
NUMBERS = ["1e309", "-1e309", "-0", "9007199254740993", "-9223372036854775809", "1e-400",
           "18446744073709551616", "0.5", "-1", "0", "2147483648", "1E+2"]


def u8(data: bytes) -> dict:
    return {"__type": "Uint8Array", "data": base64.b64encode(data).decode()}


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


# ------------------------------------------------------------------------------------------
# serialising with raw tokens
def dumps(obj, raws: List[str], ascii_: bool) -> str:
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=ascii_)
    for i, r in enumerate(raws):
        text = text.replace(json.dumps(RAW % i), r)
    return text


def has_lone_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


# ------------------------------------------------------------------------------------------
class World:
    """What the fuzzer created on the server: identities, community, channel, message ids."""

    def __init__(self, seed: int):
        self.ids = Identities(f"wirefuzz-{seed}")
        self.cid = "community:none"
        self.chid = "channel:none"
        self.msg_ids: List[str] = ["msg-0"]
        self.token: Optional[str] = None

        self.gen = 0        # worker identities are renewed every few thousand cases

    def ident(self, label: str):
        """Workers A and B are new identities in each generation (the fuzz frames ban, kick
        and delete, and fill the per-DID community quota); Q, L and P stay the same."""
        return self.ids.get(f"{label}.{self.gen}" if label in ("A", "B") else label)

    def did(self, label: str) -> str:
        return self.ident(label).did


class Gen:
    """Valid frames from the registry and their mutations."""

    def __init__(self, registry: Registry, world: World):
        self.reg = registry
        self.world = world
        self.c2s = [e for (t, d), e in sorted(registry.entries.items()) if d == "c2s"]
        self.s2c_types = registry.types("s2c")
        self.ts = now_iso()     # one envelope timestamp per run: cases depend on the seed only

    def fields_of(self, e, rng) -> List[dict]:
        if e.get("shapes"):
            return rng.choice(e["shapes"])["fields"]
        return e.get("fields") or []

    def value(self, f: dict, rng) -> object:
        name, jt = f["name"], rng.choice(str(f["type"]).split("|"))
        w = self.world
        if f.get("enum"):
            return rng.choice(f["enum"])
        low = name.lower()
        if jt == "string":
            if name == "communityId":
                return w.cid
            if name in ("channelId", "activeChannelId", "roomId"):
                return w.chid
            if name in ("messageId", "parentMessageId", "replyTo", "threadId"):
                return rng.choice(w.msg_ids)
            if low.endswith("did"):
                return w.did(rng.choice(["A", "B"]))
            if name == "status":
                return rng.choice(["online", "idle", "dnd", "offline"])
            if name in ("emoji",):
                return "\U0001F44D"
            if name == "token":
                return w.token or "x.y"
            if name == "data":
                return base64.b64encode(b"hello").decode()
            return f"{name}-{rng.randrange(1000)}"
        if jt == "integer":
            return rng.randrange(1, 50)
        if jt == "number":
            return rng.randrange(1, 50)
        if jt == "boolean":
            return rng.random() < 0.5
        if jt == "bytes":
            return u8(bytes(rng.randrange(256) for _ in range(32)))
        if jt == "array":
            if low in ("dids", "guardiandids"):
                return [w.did("B")]
            if low in ("tracks",):
                return [{"trackName": "t1", "mid": "0", "location": "local"}]
            return []
        if jt == "object":
            if name == "clock":
                return {"counter": rng.randrange(100), "authorDID": w.did("A")}
            return {"k": "v"}
        return "x"

    def valid(self, rng, e=None) -> dict:
        e = e or rng.choice(self.c2s)
        payload = {}
        for f in self.fields_of(e, rng):
            if f.get("required") or rng.random() < 0.5:
                payload[f["name"]] = self.value(f, rng)
        if e["type"] == "channel.send":
            mid = f"wf-{rng.randrange(1 << 30)}"
            if len(self.world.msg_ids) < 64:
                self.world.msg_ids.append(mid)
        else:
            mid = f"wf-{rng.randrange(1 << 30)}"
        return {"id": mid, "type": e["type"], "timestamp": self.ts, "sender": "@SENDER@", "payload": payload}

    # -- mutations: each returns (frame-or-None, raws) on a dict frame ------------------------
    def junk(self, rng, raws: List[str], depth=0):
        k = rng.randrange(12)
        if k == 0:
            return None
        if k == 1:
            return rng.choice(UNICODE)
        if k == 2:
            raws.append(rng.choice(NUMBERS))
            return RAW % (len(raws) - 1)
        if k == 3:
            return rng.choice([True, False, 0, -1, 1.5, 2 ** 53 + 1])
        if k == 4:
            return "x" * rng.choice([255, 256, 257, 4000, 4001, 65536, 600_000])
        if k == 5:
            return "\U0001F600" * rng.choice([50, 64, 128, 2000, 2001])
        if k == 6:
            return [0] * rng.choice([0, 1, 33, 101, 10_000])
        if k == 7:
            n = rng.choice([32, 200, 1000, 5000, 100_000])
            raws.append("[" * n + "]" * n if rng.random() < 0.5 else '{"a":' * n + "1" + "}" * n)
            return RAW % (len(raws) - 1)
        if k == 8:
            return {"__type": "Uint8Array", "data": rng.choice(["!!!", "", "AAA", "=", "A" * 5, 7, None])}
        if k == 9:
            return rng.choice([[256, -1, 3.5], {"0": 1, "2": 3}, {"0": 300}, [None]])
        if k == 10 and depth < 2:
            return {rng.choice(["a", "", "__proto__", "constructor", "\ud800"]): self.junk(rng, raws, depth + 1)}
        return rng.choice([{}, [], "", " "])

    def mutate(self, frame: dict, rng, raws: List[str]) -> dict:
        e = self.reg.entry(frame.get("type"), "c2s") if isinstance(frame.get("type"), str) else None
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            p = frame.get("payload")
            k = rng.randrange(100)
            if k < 12:       # type
                frame["type"] = rng.choice([
                    rng.choice(self.c2s)["type"], rng.choice(self.s2c_types), "fuzz.unknown", "", " ",
                    None, 1, [], {}, "CHANNEL.SEND", "channel.send\u0000", "channel.send ", "sync.state",
                    "auth.token.verify", "__proto__", "x" * 300])
            elif k < 16:     # envelope fields
                key = rng.choice(["id", "sender", "timestamp", "type", "payload", "extra"])
                if rng.random() < 0.3:
                    frame.pop(key, None)
                else:
                    frame[key] = rng.choice([self.junk(rng, raws), self.world.did("B"), "did:key:z6Mk"])
            elif k < 22:     # payload not an object
                frame["payload"] = rng.choice([None, [], "payload", 0, True, [p]])
            elif not isinstance(p, dict):
                continue
            elif k < 36 and p:    # drop a field
                p.pop(rng.choice(sorted(p)), None)
            elif k < 62 and e:    # wrong value for a known field
                flds = self.fields_of(e, rng)
                if flds:
                    p[rng.choice(flds)["name"]] = self.junk(rng, raws)
            elif k < 74 and e:    # length edges
                flds = [f for f in self.fields_of(e, rng) if f.get("max")]
                if flds:
                    f = rng.choice(flds)
                    n = f["max"] + rng.choice([-1, 0, 1, 1000])
                    if "array" in str(f["type"]):
                        cur = p.get(f["name"])
                        p[f["name"]] = [cur[0] if isinstance(cur, list) and cur else "x"] * max(n, 0)
                    else:
                        unit = rng.choice(["a", "\U0001F600", "\u00e9"])
                        p[f["name"]] = unit * (max(n, 0) // (len(unit.encode("utf-16-le")) // 2))
            elif k < 82:     # unknown/extra field
                p[rng.choice(["zz", "", "__proto__", "communityId\u0000", "x" * 1000])] = self.junk(rng, raws)
            elif k < 90:     # string values get unicode edge cases
                keys = [k2 for k2, v in p.items() if isinstance(v, str)]
                if keys:
                    key = rng.choice(keys)
                    p[key] = rng.choice([p[key] + rng.choice(UNICODE), rng.choice(UNICODE)])
            elif k < 95:     # other identities' ids
                keys = sorted(p)
                if keys:
                    p[rng.choice(keys)] = rng.choice([self.world.did("B"), "community:nope", self.world.cid,
                                                      self.world.chid, rng.choice(self.world.msg_ids)])
            else:            # null everywhere
                for key in list(p):
                    if rng.random() < 0.5:
                        p[key] = None
        return frame


# ------------------------------------------------------------------------------------------
class Conn:
    def __init__(self, fz: "Fuzzer", label: str, role: str):
        self.fz = fz
        self.label = label
        self.role = role             # worker | probe | preauth | login | replay
        self.ws = None
        self.frames: List[dict] = []
        self.recent: List[list] = []   # steps of the last cases sent on this connection
        self.closed = asyncio.Event()
        self.cond = asyncio.Condition()
        self.reader = None
        self.authed = False
        self.sent_login = False

    async def open(self, timeout: float):
        self.ws = await asyncio.wait_for(websockets.connect(
            self.fz.url, max_size=16 * MIB, ping_interval=None, close_timeout=1, compression=None,
            open_timeout=timeout), timeout=timeout)
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            async for msg in self.ws:
                f = self.fz.inspect(self, msg)
                async with self.cond:
                    self.frames.append(f)
                    if len(self.frames) > 200:
                        del self.frames[:100]
                    self.cond.notify_all()
        except websockets.exceptions.ConnectionClosed:
            pass
        except Exception as e:  # noqa: BLE001 - a harness fault is counted, not hidden
            self.fz.harness_error(f"reader {self.label}: {e!r}")
        finally:
            if self.ws is not None and not self.fz.replaying:
                # "by-client" marks closes this side started (an echo of our own close code)
                mine = self.ws.close_sent is not None and not self.ws.close_rcvd_then_sent
                k = f"{self.role}:{self.ws.close_code}" + (":by-client" if mine else "")
                self.fz.closes[k] = self.fz.closes.get(k, 0) + 1
            if self.ws is not None and self.ws.close_code == 1011 and self.ws.close_rcvd_then_sent:
                # "internal error": a fault on the server's side of this connection
                self.fz.violation(self, "close-1011", "server closed a connection with 1011 (internal error)",
                                  self.ws.close_reason or "")
            self.closed.set()
            async with self.cond:
                self.cond.notify_all()

    async def wait_for(self, pred, timeout: float) -> Optional[dict]:
        deadline = time.monotonic() + timeout
        async with self.cond:
            while True:
                for i, f in enumerate(self.frames):
                    if pred(f):
                        del self.frames[i]
                        return f
                left = deadline - time.monotonic()
                if left <= 0 or self.closed.is_set():
                    return None
                try:
                    await asyncio.wait_for(self.cond.wait(), timeout=left)
                except asyncio.TimeoutError:
                    return None

    async def send_step(self, step: dict):
        how, data = step["how"], step["data"]
        if how == "text":
            await self.ws.send(data)
        elif how == "binary":
            await self.ws.send(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes.fromhex(data["hex"]))
        elif how == "frag":
            parts = data
            await self.ws.send(iter(parts))
        elif how == "rawtext":     # a text frame with arbitrary bytes (invalid UTF-8)
            await self.ws.write_frame(True, 0x1, bytes.fromhex(data))
        if step.get("login"):
            self.sent_login = True

    async def close(self):
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), timeout=2)
            except Exception:  # noqa: BLE001
                pass
        if self.reader:
            self.reader.cancel()


# ------------------------------------------------------------------------------------------
class Fuzzer:
    def __init__(self, ns, registry: Registry, url: str, http: Optional[str], managed=None):
        self.ns = ns
        self.reg = registry
        self.url = url
        self.http = http
        self.managed = managed
        self.world = World(ns.seed)
        self.gen = Gen(registry, self.world)
        self.s2c = set(registry.types("s2c"))
        self.preauth_ok = {"error", "auth.token.expired"} | set(
            (registry.entry("sync.state", "c2s") or {}).get("reply", [])) | set(
            (registry.entry("auth.token.verify", "c2s") or {}).get("reply", []))
        self.conns: Dict[str, Conn] = {}
        self.findings: List[dict] = []
        self.sigs: Dict[str, dict] = {}
        self.counts = {"crash": 0, "hang": 0, "violation": 0}
        self.harness_errors: List[str] = []
        self.cases = 0
        self.frames_sent = 0
        self.window: List[dict] = []         # cases since the last good probe
        self.health_ok = http is not None
        self.stop = False
        self.replaying = False
        self.login_n = 0
        self.to_shrink: List[dict] = []
        self.received: Dict[str, int] = {}
        self.closes: Dict[str, int] = {}
        self.replay_sigs: set = set()
        os.makedirs(ns.out, exist_ok=True)

    def harness_error(self, msg: str):
        self.harness_errors.append(msg)
        if len(self.harness_errors) <= 5:
            print(f"wirefuzz: harness error: {msg}", file=sys.stderr)

    # -- what comes back ----------------------------------------------------------------
    def inspect(self, conn: Conn, msg) -> dict:
        text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg
        try:
            f = json.loads(text)
        except (ValueError, RecursionError):  # a deeply nested frame is unparsable to Python
            self.violation(conn, "unparsable", "server frame is not JSON", text[:200])
            return {"__unparsable__": text[:200]}
        if not isinstance(f, dict):
            self.violation(conn, "unparsable", "server frame is not a JSON object", text[:200])
            return {"__unparsable__": text[:200]}
        t = f.get("type")
        key = t if t != "error" else "error:" + str((f.get("payload") or {}).get("code")
                                                 if isinstance(f.get("payload"), dict) else None)
        self.received[str(key)] = self.received.get(str(key), 0) + 1
        if t not in self.s2c:
            self.violation(conn, "unknown-s2c-type", f"type {t!r} is not an s2c registry type", text[:300])
        else:
            if t == "error":
                p = f.get("payload")
                if not isinstance(p, dict) or not isinstance(p.get("code"), str) or not p.get("code"):
                    self.violation(conn, "error-without-code", "error frame without a code", text[:300])
            for err in self.reg.check_s2c_frame(f):
                self.violation(conn, "bad-shape", err[:160], text[:300])
        if conn.role == "probe" and conn.authed and t != "error":
            self.violation(conn, "unexpected-frame", f"{t!r} to the quiet probe connection (in no community)", text[:300])
        if conn.role == "preauth" and not conn.authed and t not in self.preauth_ok:
            self.violation(conn, "reply-before-auth", f"{t!r} to a connection before login", text[:300])
        if t == "sync.response" and isinstance(f.get("payload"), dict) and f["payload"].get("authenticated"):
            conn.authed = True
        return f

    def violation(self, conn: Conn, kind: str, detail: str, frame_text: str):
        sig = f"{kind}: {detail}"
        if self.replaying:
            self.replay_sigs.add(sig)
            return
        if sig in self.sigs:
            self.sigs[sig]["count"] += 1
            return
        steps = [s for case in conn.recent[-3:] for s in case]
        self.record("violation", sig, steps, {"server_frame": frame_text, "connection": conn.label})
        self.to_shrink.append(self.findings[-1])

    def record(self, kind: str, sig: str, steps: List[dict], extra: dict):
        n = len(self.findings) + 1
        path = os.path.join(self.ns.out, f"{kind}-{n:03d}.jsonl")
        entry = {"kind": kind, "sig": sig, "count": 1, "path": path, "steps": steps, "extra": extra, "shrunk": False}
        self.findings.append(entry)
        self.sigs[sig] = entry
        self.counts[kind] += 1
        self.write(entry)
        print(f"FINDING {kind} #{n}: {sig} ({len(steps)} steps) -> {path}", flush=True)

    def write(self, entry: dict):
        with open(entry["path"], "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"finding": entry["kind"], "what": entry["sig"], "seed": self.ns.seed,
                                 "server": self.url, "shrunk": entry["shrunk"], **entry["extra"]},
                                ensure_ascii=True) + "\n")
            for s in entry["steps"]:
                fh.write(json.dumps(s, ensure_ascii=True) + "\n")

    # -- connections and logins --------------------------------------------------------------
    def login_frame(self, label: str) -> str:
        vp = self.world.ident(label).presentation()
        return json.dumps({"id": f"login-{label}-{self.login_n}", "type": "sync.state", "timestamp": now_iso(),
                           "sender": self.world.did(label), "payload": vp}, separators=(",", ":"))

    async def login(self, label: str, role: str, conn_label: Optional[str] = None) -> Optional[Conn]:
        """A fresh connection logged in as identity `label`; None when the server never answers."""
        self.login_n += 1
        c = Conn(self, conn_label or label, role)
        await c.open(self.ns.deadline)
        await c.ws.send(self.login_frame(label))
        f = await c.wait_for(lambda f: f.get("type") in ("sync.response", "error", "auth.token.expired"),
                             self.ns.deadline)
        if f is None or f.get("type") != "sync.response":
            await c.close()
            return None if f is None else False
        c.authed = True
        tok = (f.get("payload") or {}).get("sessionToken") if isinstance(f.get("payload"), dict) else None
        if isinstance(tok, str) and label == "A":
            self.world.token = tok
        await asyncio.sleep(0.05)
        c.frames.clear()
        return c

    async def setup(self) -> Optional[str]:
        for label, role in (("A", "worker"), ("B", "worker"), ("Q", "probe")):
            try:
                c = await self.login(label, role)
            except Exception as e:  # noqa: BLE001
                return f"cannot connect to {self.url}: {e!r}"
            if c is None:
                self.hang_or_crash("fresh login got no answer", [], "login")
                return "hang"
            if c is False:
                return f"login of a fresh identity was refused by {self.url}"
            self.conns[label] = c
        await self.make_community()
        return None

    async def make_community(self):
        try:
            await self.ensure_workers()
            await self._make_community()
        except (OSError, asyncio.TimeoutError, ConnectionError, websockets.exceptions.WebSocketException) as e:
            # a worker closed under us: the next probe decides whether that is a finding
            print(f"wirefuzz: community refresh skipped ({type(e).__name__})", flush=True)

    async def _make_community(self):
        a, b = self.conns["A"], self.conns["B"]
        a.frames.clear()
        b.frames.clear()
        await a.ws.send(json.dumps({"id": f"wf-create-{self.cases}", "type": "community.create", "timestamp": now_iso(),
                                    "sender": self.world.did("A"), "payload": {"name": f"wirefuzz {self.ns.seed}"}}))
        # an error (e.g. QUOTA_EXCEEDED: the fuzz frames create communities too) keeps the old one
        f = await a.wait_for(lambda f: f.get("type") in ("community.updated", "error"), self.ns.deadline)
        if f and f.get("type") == "community.updated" and isinstance(f.get("payload"), dict):
            p = f["payload"]
            self.world.cid = p.get("communityId") or (p.get("community") or {}).get("id") or self.world.cid
            chans = p.get("channels") or (p.get("community") or {}).get("channels") or []
            if chans and isinstance(chans[0], dict) and isinstance(chans[0].get("id"), str):
                self.world.chid = chans[0]["id"]
        await b.ws.send(json.dumps({"id": f"wf-join-{self.cases}", "type": "community.join", "timestamp": now_iso(),
                                    "sender": self.world.did("B"), "payload": {"communityId": self.world.cid}}))
        await b.wait_for(lambda f: f.get("type") in ("community.updated", "error"), self.ns.deadline)

    async def renew_workers(self):
        """New worker identities with a new community of their own."""
        self.world.gen += 1
        self.world.msg_ids = ["msg-0"]
        for label in ("A", "B"):
            c = self.conns.pop(label, None)
            if c:
                await c.close()
        await self.make_community()

    async def ensure_workers(self):
        for label in ("A", "B"):
            c = self.conns.get(label)
            if c is None or c.closed.is_set():
                nc = await self.login(label, "worker")
                if not nc:
                    raise ConnectionError(f"re-login of {label} failed")
                self.conns[label] = nc

    # -- cases ------------------------------------------------------------------------------
    def make_case(self, i: int) -> List[dict]:
        rng = random.Random(f"{self.ns.seed}:{i}")
        k = rng.randrange(1000)
        conn = rng.choice(["A", "A", "B"])
        raws: List[str] = []

        def text_of(frame, conn_label):
            frame = self.sub_sender(frame, conn_label)
            s = dumps(frame, raws, ascii_=True)
            if not has_lone_surrogate(s) and rng.random() < 0.7:
                s2 = dumps(frame, raws, ascii_=False)
                if not has_lone_surrogate(s2):
                    s = s2
            return s
        if k < 700:
            f = self.gen.mutate(self.gen.valid(rng), rng, raws)
            return [{"conn": conn, "how": "text", "data": text_of(f, conn)}]
        if k < 780:
            n = rng.choice([1, 2, 3, 5])
            steps = []
            for _ in range(n):
                c = rng.choice(["A", "B"])
                steps.append({"conn": c, "how": "text", "data": text_of(self.gen.valid(rng), c)})
            return steps
        if k < 840:      # before login, on a new connection
            steps = []
            for _ in range(rng.choice([1, 2, 4, 17])):
                if rng.random() < 0.3:
                    vp = self.world.ident("P").presentation()
                    f = {"id": "pre", "type": "sync.state", "timestamp": now_iso(), "sender": self.world.did("P"),
                         "payload": vp}
                    if rng.random() < 0.8:
                        self.gen.mutate(f, rng, raws)
                else:
                    f = self.gen.mutate(self.gen.valid(rng), rng, raws)
                steps.append({"conn": "pre", "how": "text", "data": text_of(f, "P")})
            return steps
        if k < 900:      # raw text: not JSON, not an object, odd JSON
            data = rng.choice(["", " ", "{", "}", "null", "[]", "[1,2]", "\"str\"", "123", "{\"type\":}",
                               "{\"type\":\"channel.send\",\"type\":\"community.leave\",\"payload\":{}}",
                               "{\"type\":\"x\"}garbage", "\ufeff{}", "{\"payload\":{},\"type\":\"fuzz\"", "NaN",
                               "{\"type\":\"channel.send\",\"payload\":" + "[" * 20000 + "]" * 20000 + "}",
                               "[" * 100000, "{\"a\":" * 50000])
            return [{"conn": conn, "how": "text", "data": data}]
        if k < 950:      # binary frames
            if rng.random() < 0.5:
                f = self.gen.mutate(self.gen.valid(rng), rng, raws) if rng.random() < 0.5 else self.gen.valid(rng)
                return [{"conn": conn, "how": "binary", "data": text_of(f, conn)}]
            blob = rng.choice([b"\xff\xfe", b"{\"type\":\"\xc3\x28\"}", b"\xed\xa0\x80", b"\x00" * 10,
                               b"{\"type\":\"channel.send\",\"payload\":{\"content\":\"\xf0\x28\x8c\xbc\"}}",
                               os.urandom(0) + bytes(rng.randrange(256) for _ in range(64))])
            return [{"conn": conn, "how": "binary", "data": {"hex": blob.hex()}}]
        if k < 975:      # fragmented message
            s = text_of(self.gen.mutate(self.gen.valid(rng), rng, raws) if rng.random() < 0.5
                        else self.gen.valid(rng), conn)
            cuts = sorted(rng.sample(range(1, max(len(s), 3)), min(3, max(len(s) - 1, 1))))
            parts = [s[a:b] for a, b in zip([0] + cuts, cuts + [len(s)])]
            return [{"conn": conn, "how": "frag", "data": [p for p in parts if p] or [s]}]
        if k < 985:      # near the 1 MiB limit
            f = self.gen.valid(rng, self.reg.entry("channel.send", "c2s"))
            f["payload"]["content"] = "c"
            base = len(dumps(self.sub_sender(f, conn), raws, True))
            size = MIB + rng.choice([-1, 0, 1, 4096, -4096])
            f["payload"]["content"] = "c" * max(size - base + 1, 1)
            how = rng.choice(["text", "text", "frag"])
            s = dumps(self.sub_sender(f, conn), raws, True)
            return [{"conn": conn, "how": how, "data": s if how == "text" else [s[:len(s) // 2], s[len(s) // 2:]]}]
        if k < 990:      # invalid UTF-8 in a text frame (close 1007 expected)
            return [{"conn": conn, "how": "rawtext", "data": b"{\"type\":\"\xc0\xaf\"}".hex()}]
        # reconnects: drop a worker and log in again, or resume with the session token
        if rng.random() < 0.5:
            return [{"conn": conn, "how": "reconnect", "data": ""}]
        return [{"conn": "pre", "how": "text", "data": json.dumps({
            "id": "tok", "type": "auth.token.verify", "timestamp": now_iso(),
            "payload": {"token": self.world.token or "x"}})}]

    def sub_sender(self, frame: dict, conn_label: str) -> dict:
        if frame.get("sender") == "@SENDER@":
            frame["sender"] = self.world.did(conn_label if conn_label in ("A", "B", "P") else "A")
        return frame

    async def run_steps(self, steps: List[dict], conns: Dict[str, Conn], record: bool = True):
        pre: Optional[Conn] = None
        for s in steps:
            if s["how"] == "reconnect":
                c = conns.get(s["conn"])
                if c:
                    await c.close()
                nc = await self.login(s["conn"], "worker" if not self.replaying else "replay")
                if nc:
                    conns[s["conn"]] = nc
                elif nc is None:
                    raise TimeoutError("re-login got no answer")
                continue
            if s["conn"] == "pre":
                if pre is None or pre.closed.is_set():
                    pre = Conn(self, "pre", "preauth")
                    await pre.open(self.ns.deadline)
                    self.preauths.append(pre)
                c = pre
            else:
                c = conns[s["conn"]]
            if record:
                c.recent.append(steps)
                del c.recent[:-3]
            try:
                await c.send_step(s)
                self.frames_sent += 1
            except (websockets.exceptions.ConnectionClosed, websockets.exceptions.InvalidState):
                pass

    # -- probes ---------------------------------------------------------------------------
    def health(self) -> bool:
        if not self.http:
            return True
        try:
            with urllib.request.urlopen(self.http.rstrip("/") + "/health", timeout=self.ns.deadline) as r:
                return 200 <= r.status < 300
        except Exception:  # noqa: BLE001
            return False

    async def alive(self) -> bool:
        try:
            c = Conn(self, "ping", "login")
            await c.open(self.ns.deadline)
            await c.close()
        except Exception:  # noqa: BLE001
            return False
        if self.health_ok:
            return await asyncio.get_running_loop().run_in_executor(None, self.health)
        return True

    async def probe(self, q: Conn) -> Optional[str]:
        """None when the server answered; else what failed ('crash: ...' or 'hang: ...')."""
        if self.managed and not self.managed.alive():
            return f"crash: the server process exited with {self.managed.proc.returncode}"
        if q is None or q.closed.is_set():
            if not await self.alive():
                return "crash: the server no longer accepts connections or fails /health"
            return "hang: the quiet probe connection was closed by the server"
        pid = f"probe-{self.cases}-{time.monotonic_ns()}"
        try:
            await q.ws.send(json.dumps({"id": pid, "type": "fuzz.probe.unknown", "timestamp": now_iso(),
                                        "sender": self.world.did("Q"), "payload": {}}))
        except websockets.exceptions.ConnectionClosed:
            pass
        f = await q.wait_for(lambda f: f.get("type") == "error", self.ns.deadline)
        if f is None:
            if not await self.alive():
                return "crash: the server no longer accepts connections or fails /health"
            return "hang: an unknown-type frame got no error within the deadline"
        return None

    async def worker_probe(self, label: str) -> Optional[str]:
        """An unknown-type frame on a busy worker connection must get its error too (matched
        by requestId; an error without requestId after the probe also counts)."""
        c = self.conns.get(label)
        if c is None or c.closed.is_set():
            return None
        pid = f"probe-{label}-{self.cases}"
        async with c.cond:
            c.frames.clear()
        try:
            await c.ws.send(json.dumps({"id": pid, "type": "fuzz.probe.unknown", "timestamp": now_iso(),
                                        "sender": self.world.did(label), "payload": {}}))
        except websockets.exceptions.ConnectionClosed:
            return None

        def answer(f):
            p = f.get("payload") if isinstance(f.get("payload"), dict) else {}
            return f.get("type") == "error" and (p.get("requestId") == pid or "requestId" not in p)
        if await c.wait_for(answer, self.ns.deadline) is None and not c.closed.is_set():
            if not await self.alive():
                return "crash: the server no longer accepts connections or fails /health"
            return "hang: an unknown-type frame on a worker connection got no error within the deadline"
        return None

    async def login_probe(self) -> Optional[str]:
        try:
            c = await self.login("L", "login")
        except Exception as e:  # noqa: BLE001
            return f"crash: cannot connect for a fresh login ({type(e).__name__})"
        if c is None:
            if not await self.alive():
                return "crash: the server no longer accepts connections or fails /health"
            return "hang: a fresh login got no answer within the deadline"
        if c is False:
            return "hang: a fresh login was refused"
        await c.close()
        return None

    def hang_or_crash(self, what: str, window: List[dict], probe: str) -> dict:
        kind = "crash" if what.startswith("crash") else "hang"
        steps = [s for case in window for s in case["steps"]]
        sig = what
        if sig in self.sigs and kind == "hang" and not steps:
            self.sigs[sig]["count"] += 1
            return self.sigs[sig]
        self.record(kind, sig, steps, {"probe": probe, "cases": [c["i"] for c in window]})
        return self.findings[-1]

    # -- shrinking --------------------------------------------------------------------------
    async def replay_fails(self, steps: List[dict], kind: str, sig: str) -> bool:
        """Replay steps on fresh connections (a restarted server when it crashed); True if
        the finding shows again."""
        if kind == "crash":
            if not self.managed:
                return False
            await self.managed.restart()
        self.replaying = True
        self.replay_sigs = set()
        conns: Dict[str, Conn] = {}
        try:
            for label in sorted({s["conn"] for s in steps if s["conn"] not in ("pre",)}):
                c = await self.login(label, "replay")
                if not c:
                    return kind != "violation" and not await self.alive()
                conns[label] = c
            q = await self.login("Q", "probe", "Qr")
            if not q:
                return False
            conns["Qr"] = q
            await self.run_steps(steps, conns, record=False)
            if kind == "violation":
                await asyncio.sleep(0.5)
                return sig in self.replay_sigs
            res = await self.probe(q)
            return res is not None and res.split(":")[0] == kind
        except Exception:  # noqa: BLE001 - a replay that cannot even connect counts as failing
            return kind == "crash" and not await self.alive()
        finally:
            for c in conns.values():
                await c.close()
            for c in self.preauths:
                await c.close()
            self.preauths.clear()
            self.replaying = False

    async def shrink(self, entry: dict, budget_s: float = 60.0):
        steps, kind, sig = list(entry["steps"]), entry["kind"], entry["sig"]
        if not steps or (kind == "crash" and not self.managed):
            return
        t_end = time.monotonic() + budget_s
        if not await self.replay_fails(steps, kind, sig):
            entry["extra"]["note"] = "did not reproduce on replay (timing or state dependent)"
            self.write(entry)
            return
        i = 0
        while i < len(steps) and time.monotonic() < t_end and len(steps) > 1:   # drop frames
            cand = steps[:i] + steps[i + 1:]
            if await self.replay_fails(cand, kind, sig):
                steps = cand
            else:
                i += 1
        for si, s in enumerate(steps):     # drop payload fields, then envelope keys
            if s["how"] not in ("text", "binary") or not isinstance(s["data"], str):
                continue
            try:
                fr = json.loads(s["data"])
            except (ValueError, RecursionError):
                continue
            if not isinstance(fr, dict):
                continue
            for where in ("payload", None):
                obj = fr.get("payload") if where else fr
                if not isinstance(obj, dict):
                    continue
                for key in list(obj):
                    if time.monotonic() > t_end:
                        break
                    val = obj.pop(key)
                    cand = steps[:si] + [dict(s, data=json.dumps(fr, ensure_ascii=True))] + steps[si + 1:]
                    if await self.replay_fails(cand, kind, sig):
                        steps = cand
                    else:
                        obj[key] = val
        entry["steps"], entry["shrunk"] = steps, True
        self.write(entry)
        if kind == "crash" and self.managed and not self.managed.alive():
            await self.managed.restart()

    # -- main loop --------------------------------------------------------------------------
    async def run(self) -> int:
        self.preauths: List[Conn] = []
        if self.http and not await asyncio.get_running_loop().run_in_executor(None, self.health):
            print(f"wirefuzz: {self.http}/health does not answer at the start; crash detection by "
                  f"WebSocket connect only", flush=True)
            self.health_ok = False
        err = await self.setup()
        t0 = time.monotonic()
        if err == "hang":
            return self.summary(t0)
        if err:
            print(f"wirefuzz: {err}", file=sys.stderr)
            return 2
        end = t0 + self.ns.time if self.ns.time else None
        next_at = t0
        i = 0
        while i < self.ns.cases and not self.stop:
            if end and time.monotonic() > end:
                break
            if self.ns.rate:
                next_at += 1.0 / self.ns.rate
                d = next_at - time.monotonic()
                if d > 0:
                    await asyncio.sleep(d)
            try:
                steps = self.make_case(i)
            except Exception as e:  # noqa: BLE001 - a generator fault is the harness' own
                self.harness_error(f"generating case {i}: {e!r}")
                steps = []
            self.window.append({"i": i, "steps": steps})
            failed = None
            try:
                await self.ensure_workers()
                await self.run_steps(steps, self.conns)
            except (OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake,
                    websockets.exceptions.ConnectionClosed, ConnectionError, TimeoutError) as e:
                failed = ("crash: the server no longer accepts connections or fails /health"
                          if not await self.alive() else f"hang: {e}")
            except Exception as e:  # noqa: BLE001
                where = traceback.extract_tb(e.__traceback__)[-1]
                self.harness_error(f"case {i}: {e!r} at {os.path.basename(where.filename)}:{where.lineno}")
            self.cases += 1
            i += 1
            if i % 10000 == 0:
                el = time.monotonic() - t0
                print(f"wirefuzz: {i} cases, {el:.0f} s, {i / el:.0f} execs/s, findings {self.counts}", flush=True)
            if len(self.preauths) > 8:
                for c in self.preauths[:-4]:
                    await c.close()
                del self.preauths[:-4]
            if failed is None and (i % self.ns.probe_every == 0 or i == self.ns.cases):
                try:
                    failed = await self.probe(self.conns.get("Q"))
                    for label in ("A", "B"):
                        if failed is None:
                            failed = await self.worker_probe(label)
                    if failed is None and i % self.ns.login_every == 0:
                        failed = await self.login_probe()
                        if failed is None and i % (4 * self.ns.login_every) == 0:
                            await self.renew_workers()
                except Exception as e:  # noqa: BLE001
                    self.harness_error(f"probe after case {i}: {e!r}")
            if failed is None:
                if i % self.ns.probe_every == 0:
                    self.window.clear()
                    while self.to_shrink and self.ns.shrink:
                        await self.shrink(self.to_shrink.pop(0), budget_s=20.0)
                continue
            entry = self.hang_or_crash(failed, self.window, "unknown-type frame / fresh login")
            self.window.clear()
            if self.ns.shrink:
                await self.shrink(entry)
            if entry["kind"] == "crash" and not self.managed:
                print("wirefuzz: the server is down and not ours to restart; stopping", flush=True)
                break
            try:
                if self.managed and not self.managed.alive():
                    await self.managed.restart()
                for c in list(self.conns.values()):
                    await c.close()
                self.conns.clear()
                err = await self.setup()
                if err:
                    print(f"wirefuzz: cannot continue after the finding: {err}", flush=True)
                    break
            except Exception as e:  # noqa: BLE001
                print(f"wirefuzz: cannot continue after the finding: {e!r}", flush=True)
                break
        for c in list(self.conns.values()) + self.preauths:
            await c.close()
        return self.summary(t0)

    def summary(self, t0: float) -> int:
        el = max(time.monotonic() - t0, 1e-9)
        for e in self.findings:
            if e["count"] > 1:
                e_count = e["count"]
                print(f"  {e['kind']}: {e['sig']} (seen {e_count}x) -> {e['path']}")
        with open(os.path.join(self.ns.out, "summary.json"), "w", encoding="utf-8") as fh:
            json.dump({"seed": self.ns.seed, "server": self.url, "cases": self.cases, "frames": self.frames_sent,
                       "seconds": round(el, 1), "execs_per_s": round(self.cases / el, 1),
                       "findings": self.counts, "harness_errors": len(self.harness_errors),
                       "received": dict(sorted(self.received.items())), "closes": self.closes,
                       "list": [{k: e[k] for k in ("kind", "sig", "count", "path", "shrunk")} for e in self.findings]},
                      fh, indent=1)
        top = sorted(self.received.items(), key=lambda kv: -kv[1])[:12]
        print("wirefuzz: received " + ", ".join(f"{k} {v}" for k, v in top), flush=True)
        print("wirefuzz: connections closed by role:close-code " +
              ", ".join(f"{k} {v}" for k, v in sorted(self.closes.items())), flush=True)
        print(f"wirefuzz: cases {self.cases}, frames {self.frames_sent}, {el:.1f} s, "
              f"{self.cases / el:.1f} execs/s; findings: crash {self.counts['crash']}, hang {self.counts['hang']}, "
              f"violation {self.counts['violation']}; harness errors {len(self.harness_errors)}", flush=True)
        if self.counts["crash"] or self.counts["hang"]:
            return 1
        return 2 if self.harness_errors else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="fuzz-wire", description="Black-box wire fuzzer for a Harmony server.")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--server", help="ws://HOST:PORT of a running server (loopback)")
    g.add_argument("--harmonyd", help="start this harmonyd with a temporary data dir")
    ap.add_argument("--http", help="HTTP base URL for /health (default: WS port + 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=0, help="cases per second (0: as fast as possible)")
    ap.add_argument("--time", type=float, default=0, help="stop after this many seconds")
    ap.add_argument("--out", default="wirefuzz-out")
    ap.add_argument("--deadline", type=float, default=5.0, help="seconds a probe may take")
    ap.add_argument("--probe-every", type=int, default=25)
    ap.add_argument("--login-every", type=int, default=500)
    ap.add_argument("--no-shrink", dest="shrink", action="store_false")
    ap.add_argument("--spec", default=None)
    ns = ap.parse_args(argv)
    reg = Registry(ns.spec) if ns.spec else Registry()
    managed = datadir = None
    if ns.harmonyd:
        datadir = TempDataDir()
        port, http_port = free_port_pair()
        params = {"host": "127.0.0.1", "port": port, "http_port": http_port, "data_dir": datadir.path,
                  "auth_timeout_ms": 10000, "rate_limit": "1000000/1000", "vp_freshness_s": 300,
                  "keepalive_ms": 30000, "max_connections": 1024, "sfu_api_base": "http://127.0.0.1:9",
                  "sfu_app_id": "", "sfu_app_secret": "", "log_level": "warn",
                  "trusted_issuers": [], "revoked_credentials": []}
        os.makedirs(ns.out, exist_ok=True)
        managed = ManagedServer(HARMONYD_TEMPLATE.replace("{harmonyd}", os.path.abspath(ns.harmonyd)), params,
                                log_path=os.path.join(ns.out, "harmonyd.log"))
        managed.start()
        url, http = managed.ws_url, ns.http or managed.http_url
    else:
        url = ns.server.rstrip("/")
        host = url.split("//", 1)[-1].split("/", 1)[0]
        if host.rsplit(":", 1)[0] not in ("127.0.0.1", "localhost", "[::1]"):
            print("wirefuzz: loopback servers only", file=sys.stderr)
            return 2
        if ns.http:
            http = ns.http
        else:
            h, p = host.rsplit(":", 1)
            http = f"http://{h}:{int(p) + 1}"
    # SIGTERM ends the run through the finally below, so the server we started is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return asyncio.run(Fuzzer(ns, reg, url, http, managed).run())
    finally:
        if managed:
            managed.stop()
        if datadir:
            datadir.cleanup()


if __name__ == "__main__":
    sys.exit(main())
