"""Wire-only setup steps shared by cases (no server internals, no out-of-band fixtures)."""
from __future__ import annotations

import os

from ..core import CheckFailed


def unique(ctx, base: str) -> str:
    return f"{base}-{ctx.case.id}-{os.urandom(3).hex()}"


async def create_community(ctx, conn, name: str = None, **extra):
    """community.create; returns (communityId, first channel id or None, reply payload)."""
    name = name or unique(ctx, "conf")
    await conn.send("community.create", dict({"name": name}, **extra))
    f = await conn.expect_type("community.updated", lambda p: isinstance(p.get("communityId"), str),
                               what="community.updated after community.create")
    p = f["payload"]
    chans = p.get("channels") or []
    ch = chans[0]["id"] if chans and isinstance(chans[0], dict) else None
    return p["communityId"], ch, p


async def join(ctx, conn, community_id: str):
    await conn.send("community.join", {"communityId": community_id})
    f = await conn.expect_type("community.updated", lambda p: p.get("communityId") == community_id,
                               what=f"community.updated for the join of {community_id}")
    return f["payload"]


async def community_with_members(ctx, owner_name="owner", names=("bob",)):
    """An owner who creates a community and members who join it, all connected.

    Returns (cid, chid, {name: conn}); broadcasts caused by the joins are drained."""
    conns = {owner_name: await ctx.connect(owner_name)}
    cid, chid, _ = await create_community(ctx, conns[owner_name])
    if chid is None:
        raise CheckFailed("community.create reply has no channel (expected a default channel)")
    for n in names:
        conns[n] = await ctx.connect(n)
        await join(ctx, conns[n], cid)
    # let join broadcasts arrive, then forget them
    for c in conns.values():
        await c.expect_none(lambda f: f.get("type") == "error", within=0.2, what="an error during setup")
        c.drain()
    return cid, chid, conns


def message_payload(cid, chid, text="hello", counter=1, did=""):
    return {"communityId": cid, "channelId": chid, "content": text, "nonce": os.urandom(8).hex(),
            "clock": {"counter": counter, "authorDID": did}}


# ---- shared setup and audience helpers (session, community, channel, members, dm, threads, sync) ----

import asyncio  # noqa: E402
import dataclasses  # noqa: E402
from typing import Dict, Iterable, List, Optional  # noqa: E402


@dataclasses.dataclass
class World:
    """A community set up over the wire for one case."""
    cid: str
    chid: str
    conns: Dict[str, object]
    msg: Optional[str] = None       # id of a message the owner (or `msg_author`) posted
    role: Optional[str] = None      # id of a role the owner created
    thread: Optional[str] = None    # id of a thread the owner created on `msg`

    def __getitem__(self, name):
        return self.conns[name]

    def did(self, name):
        return self.conns[name].did


async def send_message(ctx, conn, cid, chid, text="hello", **extra) -> str:
    """channel.send, waits for the sender's own channel.message echo; returns the message id."""
    env = await conn.send("channel.send", dict(message_payload(cid, chid, text, did=conn.did), **extra))
    await conn.expect_type("channel.message", lambda p, t=text: p.get("content") == t,
                           what=f"the echo of '{text[:30]}' (setup)")
    return env["id"]


async def create_role(ctx, conn, cid, name=None, permissions=(), **extra) -> str:
    name = name or unique(ctx, "role")
    await conn.send("role.create", dict({"communityId": cid, "name": name, "color": "#336699",
                                         "permissions": list(permissions), "position": 0}, **extra))
    f = await conn.expect_type("role.created", lambda p: p.get("name") == name,
                               what="role.created after role.create (setup)")
    return f["payload"]["id"]


async def assign_role(ctx, conn, cid, member_did, role_id):
    await conn.send("role.assign", {"communityId": cid, "memberDID": member_did, "roleId": role_id})
    await conn.expect_type("community.member.updated",
                           lambda p: p.get("roleId") == role_id and p.get("did") == member_did,
                           what="community.member.updated after role.assign (setup)")


async def create_thread(ctx, conn, cid, chid, parent, name=None, content=None) -> str:
    payload = {"communityId": cid, "channelId": chid, "parentMessageId": parent, "name": name or "thread"}
    if content is not None:
        payload["content"] = content
    env = await conn.send("thread.create", payload)
    await conn.expect_type("thread.created", lambda p: p.get("threadId") == env["id"],
                           what="thread.created after thread.create (setup)")
    return env["id"]


async def world(ctx, names=("bob",), *, msg=False, role=False, thread=False, msg_author="owner") -> World:
    """community_with_members plus, on request, a message, a role and a thread (all drained)."""
    cid, chid, conns = await community_with_members(ctx, names=names)
    w = World(cid=cid, chid=chid, conns=conns)
    if msg or thread:
        w.msg = await send_message(ctx, conns[msg_author], cid, chid, unique(ctx, "m"))
    if role:
        w.role = await create_role(ctx, conns["owner"], cid)
    if thread:
        w.thread = await create_thread(ctx, conns["owner"], cid, chid, w.msg)
    if msg or role or thread:
        await asyncio.sleep(0.1)
        for c in conns.values():
            c.drain()
    return w


async def ban(ctx, owner, cid, target):
    """community.ban of `target` (a connection) by `owner`; waits for the applied reply and the 4003 close."""
    await owner.send("community.ban", {"communityId": cid, "targetDID": target.did})
    await owner.expect_type("community.ban.applied", lambda p: p.get("targetDID") == target.did,
                            what="community.ban.applied (setup)")
    await target.expect_close(4003)


async def expect_at(conns: Iterable, type_: str, where=None, what: str = "") -> List[dict]:
    """Every connection receives a `type_` frame (matching `where` on the payload); returns them."""
    conns = list(conns)
    return list(await asyncio.gather(*(
        c.expect_type(type_, where, what=what or f"'{type_}' at {c.label}") for c in conns)))


async def expect_silence(conns: Iterable, types: Iterable[str], within: Optional[float] = None,
                         what: str = ""):
    """None of the connections receives a frame of any of `types` (checked concurrently)."""
    ts = set(types)

    def m(f):
        return f.get("type") in ts
    m.__doc__ = what or f"a frame of type {'/'.join(sorted(ts))}"
    await asyncio.gather(*(c.expect_none(m, within=within) for c in conns))


def effect_types(ctx, type_: str) -> List[str]:
    """The s2c types a successful `type_` frame causes (registry reply and broadcast lists)."""
    e = ctx.run.registry.entry(type_, "c2s") or {}
    out = list(e.get("reply") or []) + [b["type"] for b in e.get("broadcast") or []]
    return sorted(set(out))


def token_claims(token: str) -> dict:
    """The JSON part of a session token (R-TOK-1), or {} when it does not parse."""
    import base64
    import json
    try:
        return json.loads(base64.b64decode(token.split(".", 1)[0]))
    except (ValueError, AttributeError, IndexError):
        return {}


async def history(ctx, conn, cid, chid, **extra) -> dict:
    """channel.history; returns the reply payload."""
    await conn.send("channel.history", dict({"communityId": cid, "channelId": chid}, **extra))
    f = await conn.expect_type("channel.history.response", lambda p: p.get("channelId") == chid,
                               what="channel.history.response")
    return f["payload"]


async def sync(ctx, conn, cid, chid, **extra) -> dict:
    """sync.request; returns the sync-result payload."""
    await conn.send("sync.request", dict({"communityId": cid, "channelId": chid}, **extra))
    f = await conn.expect_type("sync.response", lambda p: p.get("channelId") == chid and "messages" in p,
                               what="sync.response (sync result)")
    return f["payload"]


def template_has(ctx, placeholder: str) -> bool:
    """True when the suite starts the server with a command template that passes `placeholder`
    (e.g. "{revoked_credentials}"): only then was the server told that fixture."""
    m = ctx.target.managed
    return m is not None and placeholder in (getattr(m, "template", "") or "")


def require_restart(ctx):
    if ctx.target.managed is None:
        ctx.unsupported("the server was given by URL (--server): it cannot be restarted; use --server-cmd")


async def restart(ctx, hard: bool = False):
    """Restart the managed server; every open connection of the case is dropped by it."""
    require_restart(ctx)
    for c in ctx.conns:
        await c.close_quietly()
    await ctx.target.managed.restart(hard=hard)


# ---- shared helpers of the search .. misc, sfu and http families (helper cases-b) ----

import json as _json  # noqa: E402
import time as _time  # noqa: E402
import urllib.error as _urlerror  # noqa: E402
import urllib.request as _urlrequest  # noqa: E402


def key_package(ident, *, did: Optional[str] = None, mutate=None) -> dict:
    """A key package of `ident` on the wire (bytes in the Uint8Array codec), built and signed by
    the harness' own crypto (crypto/mls.py). `did` overrides leafNode.did *before* signing;
    `mutate(kp)` may change the python-level object (bytes values) after signing."""
    from ..crypto import mls as _mls
    from ..wsclient import u8
    kp = _mls.create_key_package(did or ident.did, ident.seed32, ident.public_key, ident.x25519_public)
    if mutate is not None:
        mutate(kp)

    def wire(v):
        if isinstance(v, (bytes, bytearray)):
            return u8(bytes(v))
        if isinstance(v, dict):
            return {k: wire(x) for k, x in v.items()}
        return v
    return wire(kp)


def rate_limit(ctx):
    """(N, WINDOW_MS) of the server-wide frame limit the suite configured (R-RATE-1), or UNSUPPORTED."""
    rl = (ctx.target.timers or {}).get("rate_limit")
    if not isinstance(rl, str) or "/" not in rl:
        ctx.unsupported("the server's frame rate limit is not known (start it with --server-cmd/--harmonyd, "
                        "or give [timers] rate_limit in the expectations file)")
    n, w = rl.split("/", 1)
    n, w = int(n), int(w)
    if n <= 0:
        ctx.unsupported("the frame rate limit is off (rate_limit 0)")
    return n, w


async def voice_join(ctx, conn, chid, *, cid=None) -> dict:
    """voice.join; waits for the joiner's own voice.participant.joined and the voice.state join reply."""
    p = {"channelId": chid}
    if cid is not None:
        p["communityId"] = cid
    await conn.send("voice.join", p)
    await conn.expect_type("voice.participant.joined", lambda q: q.get("did") == conn.did
                           and q.get("channelId") == chid, what="voice.participant.joined for the own join")
    f = await conn.expect_type("voice.state", lambda q: "action" not in q and q.get("channelId") == chid,
                               what="voice.state (join reply)")
    return f["payload"]


async def voice_world(ctx, names=("bob",), *, joined=None) -> World:
    """world() whose owner and `joined` members (default: all) are in the voice room of the channel;
    voice frames caused by the joins are drained."""
    w = await world(ctx, names=names)
    joined = list(w.conns) if joined is None else list(joined)
    for n in joined:
        await voice_join(ctx, w[n], w.chid, cid=w.cid)
    await asyncio.sleep(0.15)
    for c in w.conns.values():
        c.drain()
    return w


def http_url(ctx, path: str) -> str:
    ctx.adapter.require("http")
    return ctx.target.http_url.rstrip("/") + path


def _http_sync(url, method, body, headers, timeout):
    import http.client as _hc
    req = _urlrequest.Request(url, data=body, method=method, headers=headers)
    try:
        with _urlrequest.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except _urlerror.HTTPError as e:
        try:
            data = e.read()
        except (_hc.HTTPException, OSError) as e2:
            raise OSError(f"status {e.code} with a broken body: {e2!r}")
        return e.code, {k.lower(): v for k, v in e.headers.items()}, data
    except _hc.HTTPException as e:  # a malformed or truncated answer is the server's fault
        raise OSError(f"malformed HTTP answer: {e!r}")


class HttpAnswer:
    def __init__(self, status, headers, data):
        self.status, self.headers, self.data = status, headers, data

    def json(self):
        try:
            return _json.loads(self.data)
        except ValueError:
            return None

    def __repr__(self):
        return f"HTTP {self.status} {self.data[:200]!r}"


async def http(ctx, method: str, path: str, *, body=None, headers=None, sign=None, ts=None,
               auth: Optional[str] = None) -> HttpAnswer:
    """One HTTP request to the server's HTTP port. `body` (not bytes) is sent as JSON. `sign`: an
    identity that signs with Harmony-Ed25519 (timestamp `ts`, default now in seconds) over the
    request target `path`; `auth`: a literal Authorization header instead."""
    from ..crypto import httpsig
    h = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else _json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    if sign is not None:
        h["Authorization"] = httpsig.header(sign.did, sign.seed32, int(_time.time()) if ts is None else ts,
                                            method, path)
    elif auth is not None:
        h["Authorization"] = auth
    url = http_url(ctx, path)
    loop = asyncio.get_running_loop()
    try:
        st, hd, d = await loop.run_in_executor(None, _http_sync, url, method, data, h, ctx.timeout)
    except OSError as e:
        raise CheckFailed(f"HTTP {method} {path}: no answer from {url}: {e}")
    return HttpAnswer(st, hd, d)


def register_authz_matrix(prefix: str, area: str, payloads: dict, *, unauth=(), forged=(), non_member=None,
                          banned=None, setup=None):
    """Register an authorization matrix like authz.py's for other families.

    payloads: type -> builder(w, me_did, other_did) -> payload. Ids: <prefix>-0nn unauthenticated
    (R-AUTH-14), -1nn forged sender (R-AUTHZ-4), -2nn non-member ({type: (reqs, code)}), -3nn banned
    ({type: (reqs, code)}); numbering follows the order of each list/dict: append only.
    setup(ctx, w) may prepare the world (e.g. create a voice room) and returns nothing."""
    from ..core import case as _case

    def dummy():
        w = World(cid="community:00000000000000000000000000000000",
                  chid="community:00000000000000000000000000000000:channel:0000000000000000", conns={})
        w.msg = "msg-probe"
        return w

    def effects(t):
        from ..spec import Registry
        e = Registry().entry(t, "c2s") or {}
        return sorted(set((e.get("reply") or []) + [b["type"] for b in e.get("broadcast") or []]))

    def unauth_case(n, t):
        @_case(f"{prefix}-{n:03d}", area=area, reqs=["R-AUTH-14"], types=[f"{t}/c2s", "error/s2c"],
               title=f"{t} before authentication gets AUTH_REQUIRED",
               sends=f"{t} with a well-formed payload on a connection that has not authenticated",
               expects="error AUTH_REQUIRED; no other frame; the connection stays open")
        async def fn(ctx):
            c = await ctx.connect("anon", auth=False)
            ident = ctx.identity("anon")
            await c.send(t, payloads[t](dummy(), ident.did, ctx.identity("other").did), sender=ident.did)
            await c.expect_error("AUTH_REQUIRED")
            await c.expect_none(lambda f: f.get("type") != "error", what="a frame other than the error")
            await c.expect_open(within=0.05)

    def forged_case(n, t):
        eff = effects(t)

        @_case(f"{prefix}-{100 + n:03d}", area=area, reqs=["R-AUTHZ-4"], types=[f"{t}/c2s", "error/s2c"],
               title=f"{t} with a forged envelope sender is refused with FORBIDDEN",
               sends=f"{t} from a member allowed to send it, with envelope sender = another member's DID",
               expects=f"error FORBIDDEN; none of {', '.join(eff) or 'no frames'} anywhere (upstream: G5)")
        async def fn(ctx):
            w = await world(ctx, names=("bob",), msg=True)
            if setup:
                await setup(ctx, w)
            owner, bob = w["owner"], w["bob"]
            await owner.send(t, payloads[t](w, owner.did, bob.did), sender=bob.did)
            await owner.expect_error("FORBIDDEN")
            await expect_silence(w.conns.values(), effect_types(ctx, t))

    def non_member_case(n, t, reqs, code):
        eff = effects(t)

        @_case(f"{prefix}-{200 + n:03d}", area=area, reqs=reqs, types=[f"{t}/c2s", "error/s2c"],
               title=f"{t} from a non-member is refused with {code}",
               sends=f"{t} naming a real community and channel from an authenticated DID that never joined it",
               expects=f"error {code}; none of {', '.join(eff) or 'no frames'} at the members or the sender")
        async def fn(ctx):
            w = await world(ctx, names=("bob",), msg=True)
            if setup:
                await setup(ctx, w)
            eve = await ctx.connect("eve")
            w.conns["eve"] = eve
            await eve.send(t, payloads[t](w, eve.did, w["bob"].did))
            await eve.expect_error(code)
            await expect_silence(w.conns.values(), effect_types(ctx, t))

    def banned_case(n, t, reqs, code):
        eff = effects(t)

        @_case(f"{prefix}-{300 + n:03d}", area=area, reqs=reqs, types=[f"{t}/c2s", "community.ban/c2s", "error/s2c"],
               timeout=30,
               title=f"{t} from a banned DID is refused with {code}",
               sends=f"a member is banned (closed with 4003), logs in again and sends {t} for that community",
               expects=f"error {code}; the connection stays open; none of {', '.join(eff) or 'no frames'} anywhere")
        async def fn(ctx):
            w = await world(ctx, names=("bob", "mallory"), msg=True)
            if setup:
                await setup(ctx, w)
            owner = w["owner"]
            await ban(ctx, owner, w.cid, w["mallory"])
            m2 = await ctx.connect("mallory-again", identity=ctx.identity("mallory"))
            await asyncio.sleep(ctx.quiet)
            for c in list(w.conns.values()) + [m2]:
                c.drain()
            w.conns["mallory-again"] = m2
            await m2.send(t, payloads[t](w, m2.did, w["bob"].did))
            await m2.expect_error(code)
            await m2.expect_open(within=0.05)
            await expect_silence([w["owner"], w["bob"], m2], effect_types(ctx, t))

    for i, t in enumerate(unauth, start=1):
        unauth_case(i, t)
    for i, t in enumerate(forged, start=1):
        forged_case(i, t)
    for i, (t, (reqs, code)) in enumerate((non_member or {}).items(), start=1):
        non_member_case(i, t, reqs, code)
    for i, (t, (reqs, code)) in enumerate((banned or {}).items(), start=1):
        banned_case(i, t, reqs, code)


# ---- rate-limit bursts judged by arrival times (R-RATE-1) ---------------------------------------

from contextlib import asynccontextmanager as _asynccontextmanager  # noqa: E402
#
# A burst's outcome depends on which of the server's windows each frame falls in, and a loaded
# machine (the harness, the server or both) can stretch a burst over a window boundary. These
# helpers judge a burst only by what the arrival times prove, and tell the caller when the times
# leave the exact counts undecided, so that it can try again (with a longer window when the suite
# starts the server) instead of reporting a verdict that depends on machine load.

# budgets a case restarts the server with when it can (managed server): small enough that the
# burst takes a few milliseconds; the window grows on each attempt whose timing was inconclusive
RATE_ATTEMPTS_MANAGED = ((20, 1000), (20, 2000), (20, 4000))


def rate_attempts(ctx):
    """The (N, WINDOW_MS, restart) budgets to try: small ones set by restarting the server when
    the suite manages it, else the configured limit (UNSUPPORTED when unknown or too long)."""
    if template_has(ctx, "{rate_limit}"):
        return [(n, w, True) for n, w in RATE_ATTEMPTS_MANAGED]
    n, w = rate_limit(ctx)
    if w > 12000:
        ctx.unsupported(f"the rate window ({w} ms) is too long to wait for")
    return [(n, w, False)] * 3


@_asynccontextmanager
async def rate_budget(ctx, n: int, window_ms: int, restart_with: bool):
    """Run the body with the server's frame budget at N per WINDOW_MS (restarting it with that
    setting, and back afterwards, when restart_with is true)."""
    if restart_with:
        from .transport import server_settings
        async with server_settings(ctx, rate_limit=f"{n}/{window_ms}"):
            yield
    else:
        yield


def burst_arrivals(ctx, conns, t0: float, classify):
    """[(monotonic time, kind)] of every text frame received on conns at or after t0 for which
    classify(conn, frame) gives a kind (e.g. "served", "limited")."""
    out = []
    for c in conns:
        for t, d, text in c.log:
            if d != "recv" or c._t0 + t < t0 - 0.0002:  # log times are rounded to 0.1 ms
                continue
            try:
                f = _json.loads(text)
            except (ValueError, RecursionError):
                continue
            if isinstance(f, dict):
                k = classify(c, f)
                if k:
                    out.append((c._t0 + t, k))
    out.sort()
    return out


def is_rate_limited(ctx, f) -> bool:
    return f.get("type") == "error" and ctx.adapter.error_code(f) == "RATE_LIMITED"


async def wait_arrivals(ctx, conns, t0, classify, total, window_ms):
    """Wait (polling the connections' logs) until `total` frames classify, or until a window plus
    the reply timeout after the last one arrived; then a quiet time for extra ones."""
    limit = ctx.timeout * (ctx.run.options.time_scale or 1.0) + window_ms / 1000
    last_change, seen = _time.monotonic(), -1
    while True:
        got = burst_arrivals(ctx, conns, t0, classify)
        if len(got) != seen:
            seen, last_change = len(got), _time.monotonic()
        if len(got) >= total or _time.monotonic() - last_change > limit:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(ctx.quiet)
    return burst_arrivals(ctx, conns, t0, classify)


def judge_burst(ctx, n: int, window_ms: int, t0: float, total: int, arrivals, what: str) -> bool:
    """Judge a burst of `total` frames of one DID, sent from t0 after the DID was idle for more
    than a window, against a budget of N per WINDOW_MS (R-RATE-1). `arrivals` are the answers
    ("served"/"limited") with their arrival times. Fails on what the times prove whatever the
    load; returns False when they cannot decide the exact counts (the answers spread over more
    than one window), True when it judged them."""
    served = [t for t, k in arrivals if k == "served"]
    limited = [t for t, k in arrivals if k == "limited"]
    # A frame answered within one window of the burst's first frame was handled in the window
    # the burst opened, so no more than N of those may be served.
    early = sum(1 for t in served if (t - t0) * 1000 < window_ms)
    ctx.check(early <= n, f"{early} of the {what} were served within {window_ms} ms of the burst's first frame; "
                          f"the budget is {n} per {window_ms} ms")
    ctx.check(len(arrivals) <= total, f"{len(arrivals)} answers ({len(served)} served, {len(limited)} RATE_LIMITED) "
                                      f"to {total} {what}")
    ctx.check(len(arrivals) == total, f"{total - len(arrivals)} of the {total} {what} got no answer "
                                      f"({len(served)} served, {len(limited)} RATE_LIMITED)")
    # Whatever the window boundaries, the first window serves min(frames in it, N) and the
    # next one the rest, so at least min(total, N) are served.
    ctx.check(len(served) >= min(total, n), f"only {len(served)} of the {total} {what} were served "
                                            f"({len(limited)} RATE_LIMITED); the budget is {n} per {window_ms} ms")
    span_ms = (max(t for t, _ in arrivals) - t0) * 1000 if arrivals else 0.0
    if span_ms >= window_ms:
        return False
    ctx.check(len(served) == min(total, n) and len(limited) == total - len(served),
              f"of {total} {what} answered within {span_ms:.0f} ms, {len(served)} were served and {len(limited)} "
              f"refused with RATE_LIMITED; expected {min(total, n)} and {max(0, total - n)}")
    return True
