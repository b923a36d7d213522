"""Identifiers, order and delivery (spec/ordering.md): server-chosen id formats, the server's
sequence numbers, audiences of broadcasts, DID-addressed delivery, and durability before a
broadcast (kill -9 right after the echo)."""
from __future__ import annotations

import asyncio
import os
import re

from ..core import case
from ._util import (create_community, create_role, expect_silence, history, message_payload, require_restart,
                    restart, send_message, world)

HEX32_FRAME = re.compile(r"^[A-Za-z0-9._]+-[0-9a-f]{32}$")


@case("ORD-001", area="ordering", reqs=["R-ORD-1", "R-CRY-KEY-12"],
      types=["community.create/c2s", "role.create/c2s", "community.updated/s2c", "role.created/s2c", "error/s2c"],
      title="Server-chosen identifiers have the stated shapes with 128 random bits and never repeat",
      sends="two community.create, a role.create in each, an unknown type, a community.info; a second login",
      expects="community ids community:<32 hex>, channel ids <communityId>:channel:<16 hex>, role ids role:<16 hex>, "
              "frame ids of server frames <prefix>-<32 hex>; all distinct (upstream: millisecond counters)")
async def ord_ids(ctx):
    o = await ctx.connect("owner")
    seen = []
    for _ in range(2):
        cid, chid, _ = await create_community(ctx, o)
        ctx.check(re.fullmatch(r"community:[0-9a-f]{32}", cid), f"community id {cid!r}")
        ctx.check(chid and re.fullmatch(re.escape(cid) + r":channel:[0-9a-f]{16}", chid), f"channel id {chid!r}")
        rid = await create_role(ctx, o, cid)
        ctx.check(re.fullmatch(r"role:[0-9a-f]{16}", rid), f"role id {rid!r}")
        seen += [cid, chid, rid]
    await o.send("conformance.bogus", {})
    err = await o.expect_error()
    await o.send("community.info", {"communityId": seen[0]})
    info = await o.expect_type("community.info.response")
    o2 = await ctx.connect("owner-2", auth=False, identity=ctx.identity("owner"))
    await o2.send_frame(ctx.adapter.auth_frame(o2, ctx.identity("owner")))
    ok = await o2.expect_type("sync.response")
    for f in (err, info, ok):
        ctx.check(HEX32_FRAME.match(f["id"]), f"{f['type']} frame id {f['id']!r} is not <prefix>-<32 hex>")
        seen.append(f["id"])
    ctx.check(len(set(seen)) == len(seen), f"repeated identifiers: {seen}")


@case("ORD-002", area="ordering", reqs=["R-ORD-6"],
      types=["channel.send/c2s", "channel.message/s2c", "channel.history/c2s"],
      title="The server's order decides: a forged clock counter does not reorder history",
      sends="three messages sent in order with clock counters 1000000000, 1 and 5",
      expects="history returns them in sending order with positive, strictly increasing seq values; the live order "
              "is the same; each clock is returned unchanged (upstream sorts by the counter)")
async def ord_seq(ctx):
    w = await world(ctx, names=("bob",))
    o = w["owner"]
    ids = []
    for i, counter in enumerate((1_000_000_000, 1, 5)):
        ids.append(await send_message(ctx, o, w.cid, w.chid, f"ord-{i}",
                                      clock={"counter": counter, "authorDID": o.did}))
    live = [(await w["bob"].expect_type("channel.message"))["id"] for _ in range(3)]
    ctx.check(live == ids, f"live order {live}, sent {ids}")
    h = await history(ctx, o, w.cid, w.chid)
    msgs = [m for m in h.get("messages") or [] if m.get("id") in ids]
    ctx.check([m["id"] for m in msgs] == ids, f"history order {[m['id'] for m in msgs]}, sent {ids}")
    seqs = [m.get("seq") for m in msgs]
    ctx.check(all(isinstance(s, int) and s > 0 for s in seqs) and seqs == sorted(set(seqs)), f"seq values {seqs}")
    ctx.check([m["payload"].get("clock", {}).get("counter") for m in msgs] == [1_000_000_000, 1, 5],
              "clocks were changed")


@case("ORD-003", area="ordering", reqs=["R-ORD-7"],
      types=["channel.send/c2s", "channel.delete/c2s", "channel.history/c2s"], needs=["restart"], timeout=40,
      title="seq never goes backwards or is reused, across deletions and a restart",
      sends="three messages; the last is deleted; the server restarts; one more message",
      expects="history (with the tombstone) has strictly increasing seq values and the new message's seq is larger "
              "than every earlier one, the tombstone's included")
async def ord_seq_restart(ctx):
    require_restart(ctx)
    w = await world(ctx, names=())
    o = w["owner"]
    ids = [await send_message(ctx, o, w.cid, w.chid, f"s{i}") for i in range(3)]
    await o.send("channel.delete", {"communityId": w.cid, "channelId": w.chid, "messageId": ids[-1]})
    await asyncio.sleep(0.3)
    h1 = await history(ctx, o, w.cid, w.chid)
    before = {m.get("id"): m.get("seq") for m in h1.get("messages") or []}
    ctx.check(all(isinstance(before.get(i), int) for i in ids), f"seq values before the restart {before}")
    await restart(ctx)
    o2 = await ctx.connect("owner-after", identity=ctx.identity("owner"))
    new = await send_message(ctx, o2, w.cid, w.chid, "after restart")
    h2 = await history(ctx, o2, w.cid, w.chid)
    seqs = [m.get("seq") for m in h2.get("messages") or []]
    ctx.check(seqs == sorted(set(seqs)), f"seq values {seqs}")
    after = {m.get("id"): m.get("seq") for m in h2.get("messages") or []}
    ctx.check(isinstance(after.get(new), int) and after[new] > max(before.values()),
              f"new seq {after.get(new)} not above {max(before.values())}")


# ---- delivery ------------------------------------------------------------------------------

@case("DLV-003", area="delivery", reqs=["R-DLV-2"],
      types=["channel.typing/c2s", "channel.typing.indicator/s2c", "channel.send/c2s", "channel.message/s2c"],
      title="Audiences: channel.message includes the sending connection, typing excludes only that connection",
      sends="the owner has two connections, bob one; the owner's first connection sends channel.typing and then "
            "channel.send",
      expects="typing indicator at the owner's second connection and at bob, not at the sending connection; "
              "channel.message at all three")
async def dlv_audience(ctx):
    w = await world(ctx, names=("bob",))
    o2 = await ctx.connect("owner-2", identity=ctx.identity("owner"))
    await asyncio.sleep(0.2)
    o2.drain()
    o = w["owner"]
    await o.send("channel.typing", {"communityId": w.cid, "channelId": w.chid})
    for c in (o2, w["bob"]):
        await c.expect_type("channel.typing.indicator", lambda p: p.get("channelId") == w.chid)
    await o.expect_none("channel.typing.indicator", what="the typing indicator at the sending connection")
    await o.send("channel.send", message_payload(w.cid, w.chid, "to all", did=o.did))
    for c in (o, o2, w["bob"]):
        await c.expect_type("channel.message", lambda p: p.get("content") == "to all")


@case("DLV-004", area="delivery", reqs=["R-DLV-3"],
      types=["channel.send/c2s", "channel.message/s2c", "channel.typing/c2s"],
      title="No frame of a community reaches unauthenticated connections or non-members",
      sends="an unauthenticated connection and a logged-in non-member stay open while members post, type and "
            "create a role",
      expects="neither receives any frame")
async def dlv_outsiders(ctx):
    w = await world(ctx, names=("bob",))
    anon = await ctx.connect("anon", auth=False)
    eve = await ctx.connect("eve")
    await asyncio.sleep(0.2)
    eve.drain()
    o = w["owner"]
    await o.send("channel.send", message_payload(w.cid, w.chid, "members only", did=o.did))
    await w["bob"].send("channel.typing", {"communityId": w.cid, "channelId": w.chid})
    await create_role(ctx, o, w.cid)
    await w["bob"].expect_type("channel.message", lambda p: p.get("content") == "members only")
    await anon.expect_none(None, what="a frame at an unauthenticated connection")
    await eve.expect_none(None, what="a community frame at a non-member")


@case("DLV-005", area="delivery", reqs=["R-DLV-4"], types=["dm.send/c2s", "dm.message/s2c"],
      title="A DM reaches every connection of the recipient and no connection of the sender",
      sends="bob has two connections, alice two; alice's first connection sends dm.send to bob",
      expects="dm.message at both of bob's connections; none at either of alice's")
async def dlv_dm_fanout(ctx):
    a1 = await ctx.connect("alice")
    a2 = await ctx.connect("alice-2", identity=ctx.identity("alice"))
    b1 = await ctx.connect("bob")
    b2 = await ctx.connect("bob-2", identity=ctx.identity("bob"))
    await a1.send("dm.send", {"recipientDID": b1.did, "content": "hi bob", "nonce": os.urandom(8).hex()})
    for c in (b1, b2):
        f = await c.expect_type("dm.message", lambda p: p.get("content") == "hi bob")
        ctx.check(f["sender"] == a1.did, f"dm.message sender {f['sender']}")
    await expect_silence([a1, a2], ["dm.message"])


@case("DLV-006", area="delivery", reqs=["R-DLV-6", "R-PERS-1", "R-PERS-20"],
      types=["channel.send/c2s", "channel.message/s2c", "sync.request/c2s"], needs=["restart"], timeout=60,
      title="What a member saw survives kill -9: broadcasts follow durable commits",
      sends="three rounds: a member posts, the other member receives channel.message, the server is killed with "
            "SIGKILL at once and restarted",
      expects="after each restart the server starts without repair and sync.request returns every message that was "
              "broadcast")
async def dlv_crash(ctx):
    require_restart(ctx)
    w = await world(ctx, names=("bob",))
    seen = []
    for i in range(3):
        o = await ctx.connect(f"owner-{i}", identity=ctx.identity("owner")) if i else w["owner"]
        b = await ctx.connect(f"bob-{i}", identity=ctx.identity("bob")) if i else w["bob"]
        await asyncio.sleep(0.1)
        b.drain()
        env = await o.send("channel.send", message_payload(w.cid, w.chid, f"crash-{i}", did=o.did))
        await b.expect_type("channel.message", lambda p, t=f"crash-{i}": p.get("content") == t)
        seen.append(env["id"])
        await restart(ctx, hard=True)
    c = await ctx.connect("bob-final", identity=ctx.identity("bob"))
    await c.send("sync.request", {"communityId": w.cid, "channelId": w.chid, "limit": 50})
    f = await c.expect_type("sync.response", lambda p: p.get("channelId") == w.chid and "messages" in p)
    got = [m.get("id") for m in f["payload"].get("messages") or []]
    ctx.check(all(x in got for x in seen), f"messages lost by kill -9: {[x for x in seen if x not in got]}")


@case("DLV-007", area="delivery", reqs=["R-DLV-7"], types=["channel.send/c2s", "channel.message/s2c"],
      needs=["exclusive"], timeout=90,
      title="A connection that stops reading is closed when its send buffer passes 8 MiB",
      sends="a member logs in on a raw connection and then never reads; the owner posts 40 messages with ~700 KB "
            "encrypted content each (about 37 MB of channel.message for the stalled member)",
      expects="the stalled connection ends before all 40 frames reached it, with close code 1008 'Send buffer "
              "overflow' if a close frame arrives; the owner's own connection keeps working")
async def dlv_overflow(ctx):
    import json as _json
    from ..wsclient import u8
    from .transport import RawWS
    w = await world(ctx, names=())
    o = w["owner"]
    ident = ctx.identity("slow")
    from ._util import join
    slow_conn = await ctx.connect("slow-setup", identity=ident)
    await join(ctx, slow_conn, w.cid)
    await slow_conn.close_quietly()
    r = await RawWS(ctx).open()
    try:
        env = {"id": "dlv-7", "type": "sync.state", "timestamp": "2026-01-01T00:00:00.000Z", "sender": ident.did,
               "payload": ident.presentation()}
        r.send_frame(0x1, _json.dumps(env).encode())
        blob = u8(os.urandom(700_000))
        for i in range(40):
            await o.send("channel.send", dict(message_payload(w.cid, w.chid, did=o.did),
                                              content={"ciphertext": blob, "epoch": 0, "senderIndex": 0,
                                                       "nonce": u8(os.urandom(24))}))
            await o.expect_type("channel.message", timeout=20, what=f"the owner's echo #{i + 1}")
        o.drain()
        got, code, reason, authed = 0, None, "", False
        deadline = asyncio.get_running_loop().time() + 30
        while asyncio.get_running_loop().time() < deadline:
            fr = await r.recv_frame(5)
            if fr is None:
                break
            op, data = fr
            if op == 0x8:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                reason = data[2:].decode("utf-8", "replace")
                break
            if op == 0x1 and b'"channel.message"' in data[:200]:
                got += 1
            if op == 0x1 and b'"authenticated":true' in data:
                authed = True
        ctx.check(authed and got >= 1, f"the raw connection was not a subscribed member (auth-ok seen: {authed}, "
                                       f"channel.message frames: {got}): the case proves nothing")
        ctx.check(got < 40, f"the stalled connection received all {got} messages: no send-buffer limit")
        ctx.check(code in (None, 1008), f"closed with {code} ({reason!r}), expected 1008")
        if code == 1008:
            ctx.check(reason == "Send buffer overflow", f"close reason {reason!r}")
        await o.send("conformance.bogus", {})
        await o.expect_error("UNKNOWN_TYPE")
    finally:
        r.close()
