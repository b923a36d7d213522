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
