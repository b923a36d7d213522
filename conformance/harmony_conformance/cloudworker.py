"""The adapter for upstream's Cloudflare Worker backend (HexaField/harmony packages/cloud-worker).

What differs from a server that follows spec/ (facts: shared/upstream/cloudworker-run.md):

* One WebSocket per community, at ``/ws/<communityId>``; the id is chosen by the client and
  names its own community object. Nothing spans communities. A "client" of the suite is
  therefore a *set* of sockets (CloudClient): a private primary socket opened at connect time
  (a community nobody else uses, so the login has somewhere to happen), plus one socket per
  community the client talks to, opened and logged in on first use. Every frame from every
  socket lands in one inbox, so cases see one connection as they do elsewhere.
* The login is the raw VP as the first message, signed over JSON.stringify(VP without proof)
  (crypto/workervp.py). Logging in on a community's socket makes the DID a member, so
  ``community.join`` is sent on the socket of that community after logging in there. A login
  frame a case builds in the spec's form (a ``sync.state`` envelope) is carried over to the
  worker's form with the same validity: a proof that verifies under the holder's key is
  re-signed with that key, any other proof is replaced by a worker proof that does not
  verify (see _worker_login).
* No session tokens, no recovery, no SFU: cases that send those types are UNSUPPORTED.
* Reply shapes: a small, declared set of frames is rewritten into the spec's shape before a
  case sees it (translate()); every rewrite is noted in the transcript as an "adapt" line.
  Errors carry only English messages; the code a case looks for is derived from the message
  (ERROR_CODES). Shapes not listed here are left alone, so their differences fail honestly.
* Reconnection: a new client of an identity also opens the communities that identity joined
  or created earlier in the same case (what a real worker client does at start-up).
* The worker never completes a close the client starts, so sockets are dropped, not closed.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import urllib.parse
from typing import Dict, List, Optional, Union

import websockets

from .core import CheckFailed, Unsupported
from .crypto import didkey, workervp
from .crypto.jsjson import stringify, text_encode
from .crypto.primitives import ed25519_sign
from .crypto.proofs import verify_vp, without_proof
from .wsclient import Connection, now_iso

# The English messages of the worker's error frames, mapped to the spec's codes (spec/errors.md).
ERROR_CODES = [
    ("Not authorized", "FORBIDDEN"),
    ("Missing or empty required field", "INVALID_PAYLOAD"),
    ("exceeds maximum length", "INVALID_PAYLOAD"),
    ("Invalid DID format", "INVALID_PAYLOAD"),
    ("Unsupported message type", "UNKNOWN_TYPE"),
    ("Invalid message format", "INVALID_MESSAGE"),
    ("Expected VerifiablePresentation", "AUTH_INVALID"),
    ("VP verification failed", "AUTH_INVALID"),
    ("You are banned", "BANNED"),
    ("Max 50 pins", "PIN_LIMIT"),
    ("Recipient not connected", "NOT_FOUND"),
    ("Target not connected", "NOT_FOUND"),
    ("CF session create failed", "CF_SESSION_CREATE_FAILED"),
    ("CF tracks push failed", "CF_TRACKS_PUSH_FAILED"),
    ("CF tracks pull failed", "CF_TRACKS_PULL_FAILED"),
    ("CF tracks close failed", "CF_TRACKS_CLOSE_FAILED"),
    ("CF renegotiate failed", "CF_RENEGOTIATE_FAILED"),
]

# Registry types the worker does not implement (it answers "Unsupported message type" or NO_SFU,
# or needs Cloudflare credentials a local run does not have). A case sending one is UNSUPPORTED.
ABSENT_TYPES = {
    "auth.token.request": "session tokens (auth.token.*) do not exist on the cloud worker",
    "auth.token.verify": "session tokens (auth.token.*) do not exist on the cloud worker",
    "recovery.request.create": "the cloud worker has no identity recovery (recovery.*)",
    "recovery.request.cancel": "the cloud worker has no identity recovery (recovery.*)",
    "recovery.shard.submit": "the cloud worker has no identity recovery (recovery.*)",
    "recovery.shards.fetch": "the cloud worker has no identity recovery (recovery.*)",
    "voice.transport.connect": "the cloud worker has no mediasoup SFU (answers NO_SFU)",
    "voice.transport.connect-recv": "the cloud worker has no mediasoup SFU (answers NO_SFU)",
    "voice.transport.create-recv": "the cloud worker has no mediasoup SFU (answers NO_SFU)",
    "voice.produce": "the cloud worker has no mediasoup SFU (answers NO_SFU)",
    "voice.consume": "the cloud worker has no mediasoup SFU (answers NO_SFU)",
    "voice.consumer.resume": "the cloud worker has no mediasoup SFU (answers NO_SFU)",
    "voice.session.create": "the worker's Cloudflare Realtime proxy calls Cloudflare itself; "
                            "it cannot be pointed at the suite's SFU mock",
    "voice.tracks.push": "the worker's Cloudflare Realtime proxy cannot be pointed at the SFU mock",
    "voice.tracks.pull": "the worker's Cloudflare Realtime proxy cannot be pointed at the SFU mock",
    "voice.tracks.close": "the worker's Cloudflare Realtime proxy cannot be pointed at the SFU mock",
    "voice.renegotiate": "the worker's Cloudflare Realtime proxy cannot be pointed at the SFU mock",
}

# Payload fields the worker names differently: s2c type -> (worker name, spec name), renamed in place.
RENAMES = {
    "community.member.joined": ("did", "memberDID"),
    "community.member.left": ("did", "memberDID"),
    "member.kicked": ("did", "targetDID"),
    "channel.created": ("channelId", "id"),
    "role.created": ("roleId", "id"),
    "role.updated": ("roleId", "id"),
    "community.ban.applied": ("did", "targetDID"),
    "community.unban.applied": ("did", "targetDID"),
}
# Request fields the worker reads under another name: c2s type -> (spec name, worker name). The
# adapter adds the worker's name beside the spec's before sending.
REQUEST_RENAMES = {
    "community.ban": ("targetDID", "did"),
    "community.unban": ("targetDID", "did"),
    "community.kick": ("targetDID", "did"),
    "role.assign": ("memberDID", "did"),
    "role.remove": ("memberDID", "did"),
}
# s2c types whose communityId the adapter never fills in from the socket: the login reply and the
# worker's sync.response (which matches none of the spec's shapes either way)
NO_SOCKET_COMMUNITY = {"sync.response", "error"}

PRIMARY_PREFIX = "conf-home-"
# The worker closes a failed login with 4001 like an auth timeout, telling them apart only by the
# close reason; the spec's code for a refused login is 4002.
AUTH_FAILED_REASONS = {"Auth failed", "Invalid auth", "Invalid DID"}


def error_code_for(message) -> Optional[str]:
    if not isinstance(message, str):
        return None
    for needle, code in ERROR_CODES:
        if needle in message:
            return code
    return None


def _is_vp(obj) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("type"), list) and "VerifiablePresentation" in obj["type"]


class _Sock:
    """One WebSocket of a CloudClient (one community)."""

    def __init__(self, cid: str, url: str):
        self.cid = cid
        self.url = url
        self.ws = None
        self.reader = None
        self.authed = False
        self.auth_wait: Optional[asyncio.Future] = None
        self.join_pending = 0
        self.closed = False
        self.refused = False   # the adapter's login on this socket was refused (e.g. a banned DID)


class CloudClient(Connection):
    """A client of the cloud worker: one socket per community, one merged inbox."""

    def __init__(self, ctx, adapter, label: str, registry, identity, primary_cid: str, primary_url: str):
        super().__init__(ctx, primary_url, label, registry=registry)
        self.adapter = adapter
        self.identity = identity
        self.socks: Dict[str, _Sock] = {}
        self.primary: Optional[_Sock] = None
        self.primary_cid = primary_cid
        self.current: Optional[str] = None   # the community last talked to
        self._lock = asyncio.Lock()
        self._open_kw: dict = {}

    # ---- lifecycle ---------------------------------------------------------------------
    @property
    def ws(self):
        return self.primary.ws if self.primary else None

    @ws.setter
    def ws(self, value):  # Connection.__init__ assigns None
        pass

    @property
    def session_token(self):
        """The worker issues no session tokens: a case that needs one cannot run here."""
        raise Unsupported("the cloud worker issues no session tokens")

    @session_token.setter
    def session_token(self, value):
        pass

    async def open(self, **kw):
        self._open_kw = kw
        self.primary = await self._open_sock(self.primary_cid, self.url)
        return self

    async def _open_sock(self, cid: str, url: str) -> _Sock:
        max_size = self._open_kw.get("max_size", 16 * 1024 * 1024)
        open_timeout = self._open_kw.get("open_timeout", 10.0)
        opts = getattr(getattr(self.ctx, "run", None), "options", None)
        open_timeout *= getattr(opts, "time_scale", 1.0) or 1.0
        s = _Sock(cid, url)
        try:
            s.ws = await asyncio.wait_for(
                websockets.connect(url, max_size=max_size, ping_interval=None, close_timeout=1,
                                   compression=None), timeout=open_timeout)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake) as e:
            raise CheckFailed(f"[{self.label}] cannot open WebSocket to {url}: {type(e).__name__} {e}".rstrip())
        self.socks[cid] = s
        self._note("open", url)
        s.reader = asyncio.ensure_future(self._read_sock(s))
        return s

    async def _read_sock(self, s: _Sock):
        try:
            async for msg in s.ws:
                text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg
                self._note("recv" if isinstance(msg, str) else "recv-binary", text)
                try:
                    frame = json.loads(text)
                except (ValueError, RecursionError):
                    frame = {"__unparsable__": text}
                if not isinstance(frame, dict):
                    frame = {"__unparsable__": text}
                ok = frame.get("type") == "sync.response" and \
                    isinstance(frame.get("payload"), dict) and frame["payload"].get("authenticated") is True
                if ok:
                    s.authed = True
                    if self.did is None:
                        self.did = frame["payload"].get("did")
                if s.auth_wait is not None and not s.auth_wait.done():
                    if ok:  # the login the adapter made on the case's behalf: not shown to the case
                        s.auth_wait.set_result(frame)
                        continue
                    if frame.get("type") == "error":
                        s.auth_wait.set_result(frame)
                frame = self.adapter.translate(self, s, frame)
                if isinstance(frame.get("type"), str):
                    self.ctx.note_type(frame["type"], "s2c")
                    # the login reply lacks only the session token, a feature the worker does not have
                    if self.registry is not None and not (ok and set(frame["payload"]) == {"authenticated", "did"}):
                        for err in self.registry.check_s2c_frame(frame):
                            self.ctx.shape_errors.append(f"[{self.label}] {err}")
                async with self._cond:
                    self.inbox.append(frame)
                    self._cond.notify_all()
        except websockets.exceptions.ConnectionClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception as e:  # pragma: no cover - recorded for the report
            self._note("error", repr(e))
        finally:
            s.closed = True
            code, reason = s.ws.close_code, s.ws.close_reason or ""
            self._note("closed", f"code={code} reason={reason!r} community={s.cid}")
            if code == 4001 and reason in AUTH_FAILED_REASONS:
                code = 4002
                self._note("adapt", "close 4001 with a failed-login reason read as the spec's 4002")
            if s.auth_wait is not None and not s.auth_wait.done():
                s.auth_wait.set_result(None)
            if code in (4003, 4004) and self.did:
                self.adapter.forget(self.ctx, self.did, s.cid)
            if not self.closed.is_set():
                self.close_code, self.close_reason = code, reason
                self.closed.set()
            async with self._cond:
                self._cond.notify_all()

    async def close_quietly(self):
        # The worker never answers a Close frame the client sends: drop the TCP connection.
        for s in list(self.socks.values()):
            if s.reader is not None:
                s.reader.cancel()
            try:
                if s.ws is not None and s.ws.transport is not None:
                    s.ws.transport.abort()
            except Exception:
                pass

    # ---- logging in on a community's socket ------------------------------------------
    async def login(self, s: _Sock) -> Optional[dict]:
        """Send the identity's VP on `s` and wait for the reply; the success frame is not shown to
        the case, an error frame is. Returns the success frame or None."""
        loop = asyncio.get_running_loop()
        s.auth_wait = loop.create_future()
        vp = self.adapter.login_vp(self.identity)
        await self._send_on(s, json.dumps(vp, separators=(",", ":"), ensure_ascii=False))
        try:
            f = await asyncio.wait_for(asyncio.shield(s.auth_wait), timeout=self.ctx.timeout)
        except asyncio.TimeoutError:
            raise CheckFailed(f"[{self.label}] no reply to the login on community {s.cid}")
        if f is not None and f.get("type") == "sync.response":
            self.adapter.remember(self.ctx, self.identity.did, s.cid, self.primary_cid)
            return f
        s.refused = True
        return None

    async def ensure(self, cid: str) -> _Sock:
        """The socket of community `cid`, opened and logged in when it is new."""
        s = self.socks.get(cid)
        if s is not None:
            return s
        s = await self._open_sock(cid, self.adapter.community_url(cid, self.ctx.target))
        if self.did is not None:
            await self.login(s)
        return s

    # ---- sending -------------------------------------------------------------------------
    async def _send_on(self, s: _Sock, data: Union[str, bytes]):
        self._note("send" if isinstance(data, str) else "send-binary",
                   data if isinstance(data, str) else data.decode("utf-8", "replace"))
        try:
            await s.ws.send(data)
        except websockets.exceptions.ConnectionClosed as e:
            raise CheckFailed(f"[{self.label}] connection to community {s.cid} closed while sending (code {e.code})")

    async def send_raw(self, data: Union[str, bytes]):
        try:
            frame = json.loads(data)
        except (ValueError, RecursionError, UnicodeDecodeError):
            frame = None
        async with self._lock:
            s = self.primary
            if isinstance(frame, dict):
                t = frame.get("type")
                if t == "sync.state" and _is_vp(frame.get("payload")):
                    vp = self.adapter.worker_login(self.ctx, self, frame["payload"])
                    self._note("adapt", "sync.state envelope sent as the worker's raw VP login")
                    text = json.dumps(vp, separators=(",", ":"), ensure_ascii=False)
                    data = text.encode() if isinstance(data, bytes) else text
                    frame = vp
                    t = None
                rn = REQUEST_RENAMES.get(t) if isinstance(t, str) else None
                p = frame.get("payload")
                if rn and isinstance(p, dict) and rn[0] in p and rn[1] not in p:
                    frame = dict(frame, payload=dict(p, **{rn[1]: p[rn[0]]}))
                    text = json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
                    data = text.encode() if isinstance(data, bytes) else text
                    self._note("adapt", f"{t}: {rn[0]} also sent as {rn[1]}")
                if isinstance(t, str) and t in ABSENT_TYPES:
                    raise Unsupported(f"{t}: {ABSENT_TYPES[t]}")
                if self.did is not None and isinstance(t, str):
                    p = frame.get("payload")
                    cid = p.get("communityId") if isinstance(p, dict) else None
                    if t == "community.create" and not isinstance(cid, str):
                        cid = self.adapter.new_community_id(self.ctx)
                    if isinstance(cid, str) and cid:
                        s = await self.ensure(cid)
                        self.current = cid
                    elif self.current is not None and self.current in self.socks:
                        s = self.socks[self.current]
                    if t == "community.join":
                        s.join_pending += 1
                    if t == "community.leave":
                        self.adapter.forget(self.ctx, self.did, s.cid)
            if s.refused:
                # the worker refused this client's login on that community (its error frame and
                # close are in the inbox): the frame has nowhere to go
                self._note("adapt", f"frame not sent: the login on community {s.cid} was refused")
                return
            await self._send_on(s, data)


class CloudWorkerAdapter:
    """Drives upstream's cloud worker (see the module docstring)."""

    name = "cloudworker"
    features = {"per-community-sockets"}

    def __init__(self, runner):
        self.runner = runner
        self._cid_cache: Dict[str, bool] = {}

    # ---- URLs and ids -------------------------------------------------------------------
    def base(self, target=None) -> str:
        u = (target or self.runner.target).ws_url.rstrip("/")
        return u[:-3] if u.endswith("/ws") else u

    def community_url(self, cid: str, target=None) -> str:
        return f"{self.base(target)}/ws/{urllib.parse.quote(cid, safe=':@!$&()*+,;=-._~')}"

    def ws_url(self, path: str = "/", target=None) -> str:
        return self.base(target) + path

    def new_community_id(self, ctx) -> str:
        return f"conf-{ctx.case.id}-{os.urandom(6).hex()}"

    def require(self, feature: str):
        if feature not in self.features:
            raise Unsupported(f"the cloud worker has no '{feature}'")

    # ---- memberships known to the case (for reconnecting clients) ------------------------
    @staticmethod
    def _members(ctx) -> Dict[str, List[str]]:
        m = getattr(ctx, "_cw_memberships", None)
        if m is None:
            m = {}
            ctx._cw_memberships = m
        return m

    def remember(self, ctx, did: str, cid: str, primary_cid: str):
        if cid.startswith(PRIMARY_PREFIX):
            return
        lst = self._members(ctx).setdefault(did, [])
        if cid not in lst:
            lst.append(cid)

    def forget(self, ctx, did: str, cid: str):
        lst = self._members(ctx).get(did) or []
        if cid in lst:
            lst.remove(cid)

    # ---- connections and login ------------------------------------------------------------
    async def open(self, ctx, identity, label: str, path: str = "/", community: Optional[str] = None,
                   **kw) -> CloudClient:
        if community:
            cid = community
            url = self.community_url(cid, ctx.target)
        elif path in ("/", ""):
            cid = f"{PRIMARY_PREFIX}{ctx.case.id}-{label}-{os.urandom(4).hex()}"
            url = self.community_url(cid, ctx.target)
        else:
            cid = f"path:{path}"
            url = self.ws_url(path, ctx.target)
        conn = CloudClient(ctx, self, label, self.runner.registry, identity, cid, url)
        await conn.open(**kw)
        return conn

    def login_vp(self, identity, created: Optional[str] = None) -> dict:
        """The identity's login: a VP of its self-issued credential, signed the worker's way."""
        return workervp.create_vp(identity.did, identity.seed32, [identity.credential()], created or now_iso())

    def auth_frame(self, conn, identity, *, created: Optional[str] = None) -> dict:
        return self.login_vp(identity, created)

    def worker_login(self, ctx, conn, vp: dict) -> dict:
        """A spec login VP carried over to the worker's signature rule with the same validity."""
        holder = vp.get("holder")
        signer = None
        if verify_vp(vp).valid:
            for ident in list(ctx.run.identities._cache.values()):
                if ident.did == holder:
                    signer = ident
                    break
        valid = signer is not None
        signer = signer or conn.identity
        body = without_proof(vp)
        sig = bytearray(ed25519_sign(signer.seed32, text_encode(stringify(body))))
        if not valid and signer.did == holder:
            sig[0] ^= 1  # the spec proof did not verify: neither may its carried-over form
        out = dict(vp)
        if isinstance(vp.get("proof"), dict):
            proof = dict(vp["proof"])
            proof["proofValue"] = base64.b64encode(bytes(sig)).decode()
            out["proof"] = proof
        return out

    async def authenticate(self, ctx, conn: CloudClient, identity, *, token: Optional[str] = None) -> dict:
        if token is not None:
            raise Unsupported("session tokens do not exist on the cloud worker")
        await conn.send_raw(json.dumps(self.login_vp(identity), separators=(",", ":")))
        ok = await conn.expect(
            lambda f: f.get("type") == "sync.response" and (f.get("payload") or {}).get("authenticated") is True
            or f.get("type") == "error",
            timeout=ctx.timeout, what="the authentication reply (sync.response authenticated:true)")
        if ok.get("type") != "sync.response":
            raise CheckFailed(f"[{conn.label}] authentication refused: {ok}")
        p = ok.get("payload") or {}
        if p.get("did") != identity.did:
            raise CheckFailed(f"[{conn.label}] sync.response did is {p.get('did')!r}, expected {identity.did}")
        conn.did = identity.did
        conn.session_token = None
        # a client of the worker connects to every community it belongs to
        for cid in list(self._members(ctx).get(identity.did, [])):
            async with conn._lock:
                await conn.ensure(cid)
                conn.current = cid
        return ok

    @staticmethod
    def error_code(frame: dict) -> Optional[str]:
        p = frame.get("payload")
        return p.get("code") if isinstance(p, dict) else None

    def _needs_community(self, t) -> bool:
        """True when the spec's shape of s2c type `t` requires communityId. The worker leaves it out
        because its socket already names the community."""
        if t in self._cid_cache:
            return self._cid_cache[t]
        e = self.runner.registry.entry(t, "s2c") if isinstance(t, str) else None
        need = False
        if e:
            groups = [e.get("fields") or []] + [sh.get("fields") or [] for sh in e.get("shapes") or []]
            need = any(f.get("name") == "communityId" and f.get("required") for g in groups for f in g)
        self._cid_cache[t] = need
        return need

    @staticmethod
    def stored_message(cid, chid, m):
        """A worker history entry {id, author, content: JSON text, timestamp} as the spec's stored
        message (the channel.send envelope as the server accepted it)."""
        if not (isinstance(m, dict) and "author" in m and "payload" not in m):
            return m
        content = m.get("content")
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError:
                pass
        return {"id": m.get("id"), "type": "channel.send", "timestamp": m.get("timestamp"),
                "sender": m.get("author"), "payload": {"communityId": cid, "channelId": chid, "content": content}}

    # ---- reply shapes -----------------------------------------------------------------------
    def translate(self, conn: CloudClient, s: _Sock, frame: dict) -> dict:
        """Rewrite the declared worker reply shapes into the spec's; note each rewrite."""
        t = frame.get("type")
        p = frame.get("payload")
        if not isinstance(p, dict):
            return frame
        note = None
        renamed = RENAMES.get(t)
        if renamed and renamed[0] in p and renamed[1] not in p:
            p = {(renamed[1] if k == renamed[0] else k): v for k, v in p.items()}
            frame = dict(frame, payload=p)
            conn._note("adapt", f"{t}: {renamed[0]} -> {renamed[1]}")
        if "communityId" not in p and t not in NO_SOCKET_COMMUNITY and self._needs_community(t):
            p = dict({"communityId": s.cid}, **p)
            frame = dict(frame, payload=p)
            conn._note("adapt", f"{t}: communityId of the socket added")
        if t == "error" and "code" not in p:
            code = error_code_for(p.get("message"))
            if code:
                frame = dict(frame, payload=dict(p, code=code))
                note = f"error code {code} from its message"
        elif t == "community.updated" and isinstance(p.get("channelId"), str) and "channels" not in p:
            frame = dict(frame, payload=dict(p, channels=[{"id": p["channelId"]}]))
            note = "community.create reply: channelId -> channels[0].id"
        elif t == "sync.response" and s.join_pending > 0 and "members" in p and "authenticated" not in p:
            s.join_pending -= 1
            frame = dict(frame, type="community.updated",
                         payload={"communityId": s.cid, "channels": p.get("channels"), "members": p.get("members")})
            note = "community.join reply: sync.response {members, channels} -> community.updated"
        elif t == "channel.pins.list.response":
            frame = dict(frame, type="channel.pins.response", payload=dict({"communityId": s.cid}, **p))
            note = "channel.pins.list.response -> channel.pins.response (+communityId of the socket)"
        elif t == "channel.history.response" and isinstance(p.get("messages"), list):
            msgs = [self.stored_message(s.cid, p.get("channelId"), m) for m in p["messages"]]
            frame = dict(frame, payload=dict({"communityId": s.cid}, **dict(p, messages=msgs)))
            note = ("channel.history.response: {id, author, content (JSON text), timestamp} entries -> "
                    "stored channel.send envelopes; communityId of the socket added")
        if note:
            conn._note("adapt", note)
        return frame
