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


def require_restart(ctx):
    if ctx.target.managed is None:
        ctx.unsupported("the server was given by URL (--server): it cannot be restarted; use --server-cmd")


async def restart(ctx, hard: bool = False):
    """Restart the managed server; every open connection of the case is dropped by it."""
    require_restart(ctx)
    for c in ctx.conns:
        await c.close_quietly()
    await ctx.target.managed.restart(hard=hard)
