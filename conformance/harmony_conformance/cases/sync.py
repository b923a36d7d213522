"""sync.request: reading a channel forward, its filters and paging, and who may read."""
from __future__ import annotations

from ..core import case
from ._util import create_community, message_payload, send_message, sync, unique, world


async def _post(ctx, conn, w, n, prefix="s", counter=None):
    """n messages; clock.counter = counter (or i+1); returns their ids."""
    ids = []
    for i in range(n):
        env = await conn.send("channel.send", message_payload(w.cid, w.chid, f"{prefix}{i}",
                                                              counter=counter or i + 1, did=conn.did))
        await conn.expect_type("channel.message", lambda p, t=f"{prefix}{i}": p.get("content") == t)
        ids.append(env["id"])
    return ids


@case("SYNC-001", area="sync", reqs=["R-SYNC-1", "R-HIST-3", "R-HIST-1"],
      types=["sync.request/c2s", "sync.response/s2c"],
      title="sync.request returns the channel's messages oldest first, to the requester only",
      sends="3 messages; bob sends sync.request {communityId, channelId} (no clock, no limit)",
      expects="sync.response {communityId, channelId, messages (3 StoredMessages in order), hasMore false, "
              "latestClock with a numeric counter} at bob only")
async def sync_basic(ctx):
    w = await world(ctx, names=("bob",))
    ids = await _post(ctx, w["owner"], w, 3)
    w["owner"].drain()
    s = await sync(ctx, w["bob"], w.cid, w.chid)
    ctx.check(s.get("communityId") == w.cid and s.get("channelId") == w.chid, f"ids not echoed: {s}")
    ctx.check([m.get("id") for m in s["messages"]] == ids, f"messages {[m.get('id') for m in s['messages']]}")
    for m in s["messages"]:
        ctx.check(m.get("type") == "channel.send" and m.get("sender") == w.did("owner")
                  and isinstance(m.get("timestamp"), str) and isinstance(m.get("payload"), dict), f"StoredMessage {m}")
    ctx.check(s.get("hasMore") is False, f"hasMore {s.get('hasMore')!r}")
    lc = s.get("latestClock")
    ctx.check(isinstance(lc, dict) and isinstance(lc.get("counter"), (int, float)), f"latestClock {lc!r}")
    await w["owner"].expect_none("sync.response", what="another member's sync reply")


@case("SYNC-002", area="sync", reqs=["R-HIST-3"], types=["sync.request/c2s", "sync.response/s2c"],
      title="sync.request with clock {counter: N} leaves out messages with counter <= N",
      sends="messages with clock counters 1, 2, 3; sync.request with clock {counter: 2, authorDID: \"\"}",
      expects="only the message with counter 3")
async def sync_counter(ctx):
    w = await world(ctx, names=())
    ids = await _post(ctx, w["owner"], w, 3)
    s = await sync(ctx, w["owner"], w.cid, w.chid, clock={"counter": 2, "authorDID": ""})
    ctx.check([m.get("id") for m in s["messages"]] == ids[2:], f"got {[m.get('id') for m in s['messages']]}")


@case("SYNC-003", area="sync", reqs=["R-HIST-6"], types=["sync.request/c2s", "sync.response/s2c"], timeout=40,
      title="sync.request returns at most 50 messages by default, and limit messages when given",
      sends="52 messages; sync.request without limit; with limit 2",
      expects="the oldest 50 with hasMore true; the oldest 2")
async def sync_limit(ctx):
    w = await world(ctx, names=())
    ids = await _post(ctx, w["owner"], w, 52)
    s = await sync(ctx, w["owner"], w.cid, w.chid)
    ctx.check([m.get("id") for m in s["messages"]] == ids[:50] and s.get("hasMore") is True,
              f"default page: {len(s['messages'])} messages, hasMore {s.get('hasMore')}")
    s = await sync(ctx, w["owner"], w.cid, w.chid, limit=2)
    ctx.check([m.get("id") for m in s["messages"]] == ids[:2], f"limit 2 gave {[m.get('id') for m in s['messages']]}")


@case("SYNC-004", area="sync", reqs=["R-HIST-6"], types=["sync.request/c2s", "error/s2c"],
      title="sync.request clamps limit to 1..200 and refuses a non-numeric one",
      sends="3 messages; sync.request with limit 0; with limit 1.7; with limit \"2\"",
      expects="1 message; 1 message; error INVALID_PAYLOAD")
async def sync_limit_clamp(ctx):
    w = await world(ctx, names=())
    await _post(ctx, w["owner"], w, 3)
    for lim in (0, 1.7):
        s = await sync(ctx, w["owner"], w.cid, w.chid, limit=lim)
        ctx.check(len(s["messages"]) == 1, f"limit {lim} gave {len(s['messages'])} messages")
    await w["owner"].send("sync.request", {"communityId": w.cid, "channelId": w.chid, "limit": "2"})
    await w["owner"].expect_error("INVALID_PAYLOAD")


@case("SYNC-005", area="sync", reqs=["R-HIST-4", "R-HIST-5"], types=["sync.request/c2s", "sync.response/s2c"],
      title="Passing latestClock back pages exactly, even when every message has the same counter",
      sends="5 messages all with clock.counter 1; sync.request limit 2, then with clock = the previous latestClock",
      expects="pages [1,2], [3,4], [5] with hasMore true, true, false; latestClock carries seq (upstream skips "
              "equal counters and sets hasMore on any full page: G24)")
async def sync_paging(ctx):
    w = await world(ctx, names=())
    ids = await _post(ctx, w["owner"], w, 5, counter=1)
    pages, clock = [], None
    for _ in range(3):
        extra = {"limit": 2}
        if clock is not None:
            extra["clock"] = clock
        s = await sync(ctx, w["owner"], w.cid, w.chid, **extra)
        pages.append(([m.get("id") for m in s["messages"]], s.get("hasMore")))
        clock = s.get("latestClock")
        ctx.check(isinstance(clock, dict) and isinstance(clock.get("seq"), int), f"latestClock without seq: {clock}")
    want = [(ids[0:2], True), (ids[2:4], True), (ids[4:5], False)]
    ctx.check(pages == want, f"pages {pages} != {want}")


@case("SYNC-006", area="sync", reqs=["R-SYNC-2", "R-AUTHZ-7"],
      types=["sync.request/c2s", "error/s2c", "channel.message/s2c"],
      title="A refused sync.request does not subscribe the non-member to the community (G2)",
      sends="eve (non-member) sends sync.request for a community; a member then posts and sets presence",
      expects="error NOT_MEMBER; eve receives no channel.message and no presence.changed; eve's channel.send "
              "answers NOT_MEMBER")
async def sync_no_subscribe(ctx):
    w = await world(ctx, names=("bob",))
    eve = await ctx.connect("eve")
    await eve.send("sync.request", {"communityId": w.cid, "channelId": w.chid})
    await eve.expect_error("NOT_MEMBER")
    await send_message(ctx, w["owner"], w.cid, w.chid, "members only")
    await w["bob"].send("presence.update", {"status": "idle"})
    await eve.expect_none(lambda f: f.get("type") in ("channel.message", "presence.changed"),
                          what="a frame of a community it is not a member of")
    await eve.send("channel.send", message_payload(w.cid, w.chid, "let me in"))
    await eve.expect_error("NOT_MEMBER")


@case("SYNC-007", area="sync", reqs=["R-SYNC-3", "R-HIST-8"], types=["sync.request/c2s", "dm.send/c2s", "error/s2c"],
      title="Nobody reads direct messages through sync.request {communityId: \"dm\"} (G3)",
      sends="alice DMs bob; carol sends sync.request {communityId: \"dm\", channelId: \"<alice>:<bob>\"}; so does alice",
      expects="error NOT_MEMBER for both; no sync.response carries the DM")
async def sync_dm(ctx):
    alice, bob, carol = await ctx.connect("alice"), await ctx.connect("bob"), await ctx.connect("carol")
    await alice.send("dm.send", {"recipientDID": bob.did, "content": "private"})
    await bob.expect_type("dm.message")
    for c in (carol, alice):
        await c.send("sync.request", {"communityId": "dm", "channelId": f"{alice.did}:{bob.did}"})
        await c.expect_error("NOT_MEMBER")
        await c.expect_none("sync.response")


@case("SYNC-008", area="sync", reqs=["R-SYNC-4"], types=["sync.request/c2s", "error/s2c"],
      title="sync.request naming a channel of another community is refused with NOT_FOUND",
      sends="the owner of communities A and B posts in B, then asks sync.request {communityId: A, channelId: B's}",
      expects="error NOT_FOUND; B's message is not returned")
async def sync_wrong_channel(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    cid_b, chid_b, _ = await create_community(ctx, owner)
    await send_message(ctx, owner, cid_b, chid_b, unique(ctx, "in-b"))
    await owner.send("sync.request", {"communityId": w.cid, "channelId": chid_b})
    await owner.expect_error("NOT_FOUND")
    await owner.expect_none("sync.response")


@case("SYNC-009", area="sync", reqs=["R-HIST-4"], types=["sync.request/c2s", "channel.delete/c2s"],
      title="Tombstones are left out of sync.response unless includeDeleted is true",
      sends="two messages, the first deleted; sync.request; sync.request {includeDeleted: true}",
      expects="[second]; then [first as tombstone (deleted:true, no content), second]")
async def sync_include_deleted(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    ids = await _post(ctx, owner, w, 2)
    await owner.send("channel.delete", {"communityId": w.cid, "channelId": w.chid, "messageId": ids[0]})
    await w["bob"].expect_type("channel.message.deleted")
    s = await sync(ctx, owner, w.cid, w.chid)
    ctx.check([m.get("id") for m in s["messages"]] == ids[1:], f"default: {[m.get('id') for m in s['messages']]}")
    s = await sync(ctx, owner, w.cid, w.chid, includeDeleted=True)
    ms = s["messages"]
    ctx.check([m.get("id") for m in ms] == ids and ms[0].get("deleted") is True
              and "content" not in (ms[0].get("payload") or {}), f"includeDeleted: {ms}")


@case("SYNC-010", area="sync", reqs=["R-ENV-12", "R-ENV-5"], types=["sync.request/c2s", "error/s2c"],
      title="sync.request with a missing channelId, a wrongly typed clock or a null payload is refused",
      sends="sync.request {communityId}; {communityId, channelId, clock: \"x\"}; payload null",
      expects="three error INVALID_PAYLOAD; no sync.response (upstream: silent or answered)")
async def sync_bad_payload(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    for p in ({"communityId": w.cid}, {"communityId": w.cid, "channelId": w.chid, "clock": "x"}):
        await owner.send("sync.request", p)
        await owner.expect_error("INVALID_PAYLOAD")
    await owner.send_frame(owner.envelope("sync.request", None))
    await owner.expect_error("INVALID_PAYLOAD")
    await owner.expect_none("sync.response")
