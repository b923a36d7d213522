"""Delivery guarantees: exactly once, to exactly the members, in one order; history."""
from __future__ import annotations

import asyncio
import time

from ..core import case
from ._util import community_with_members, message_payload

N_MEMBERS = 6
N_PER_SENDER = 15


@case("DLV-001", area="delivery", reqs=["R-DLV-1"], types=["channel.send/c2s", "channel.message/s2c"],
      title="Every message is delivered exactly once to every member, in the same order everywhere",
      sends=f"{N_MEMBERS} members, 3 of them sending {N_PER_SENDER} messages each, interleaved",
      expects="each member receives each message exactly once; all members see one common order; "
              "each sender's messages keep their sending order",
      timeout=30)
async def dlv_exactly_once(ctx):
    names = tuple(f"m{i}" for i in range(1, N_MEMBERS))
    cid, chid, conns = await community_with_members(ctx, names=names)
    senders = [conns["owner"], conns["m1"], conns["m2"]]
    sent = {}

    async def blast(c):
        for i in range(N_PER_SENDER):
            env = await c.send("channel.send", message_payload(cid, chid, f"{c.label}-{i}", counter=i + 1))
            sent[env["id"]] = (c.label, i)
            await asyncio.sleep(0)
    await asyncio.gather(*(blast(c) for c in senders))
    total = len(sent)
    orders = {}
    deadline = time.monotonic() + 10
    for name, c in conns.items():
        got = []
        while len(got) < total and time.monotonic() < deadline:
            f = await c.expect_type("channel.message", timeout=max(0.1, deadline - time.monotonic()),
                                    what=f"channel.message #{len(got) + 1} of {total} at {name}")
            got.append(f["id"])
        await c.expect_none("channel.message", within=0.3, what="a duplicate or extra channel.message")
        ctx.check(len(got) == len(set(got)), f"{name} received duplicates")
        missing = set(sent) - set(got)
        ctx.check(not missing, f"{name} is missing {len(missing)} of {total} messages")
        orders[name] = got
        for s in senders:
            mine = [sent[i][1] for i in got if sent[i][0] == s.label]
            ctx.check(mine == sorted(mine), f"{name} received {s.label}'s messages out of order: {mine}")
    first = next(iter(orders.values()))
    for name, o in orders.items():
        ctx.check(o == first, f"{name} saw a different order than the others")


@case("DLV-002", area="delivery", reqs=["R-SYNC-1"],
      types=["sync.request/c2s", "sync.response/s2c"],
      title="History after reconnect has every message, in order",
      sends="5 messages, then a new connection of a member sends sync.request {communityId, channelId, limit: 50}",
      expects="sync.response with the 5 messages in sending order, each with the original id")
async def dlv_history_after_reconnect(ctx):
    cid, chid, conns = await community_with_members(ctx, names=("bob",))
    ids = []
    for i in range(5):
        env = await conns["owner"].send("channel.send", message_payload(cid, chid, f"h{i}", counter=i + 1))
        ids.append(env["id"])
        await conns["owner"].expect_type("channel.message", lambda p, t=f"h{i}": p.get("content") == t)
    bob2 = await ctx.connect("bob-again", identity=ctx.identity("bob"))
    await bob2.send("sync.request", {"communityId": cid, "channelId": chid, "limit": 50})
    f = await bob2.expect_type("sync.response", lambda p: p.get("channelId") == chid,
                               what="sync.response with the channel's messages")
    got = [m.get("id") for m in f["payload"].get("messages") or []]
    ctx.check(got == ids, f"history ids {got} != sent ids {ids}")
