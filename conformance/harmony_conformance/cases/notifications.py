"""notification.list / mark-read / count and the notification.new triggers (spec/messages/notifications.md)."""
from __future__ import annotations

import asyncio
import os
import re

from ..core import case
from ._util import expect_silence, message_payload, restart, send_message, world


def mention_payload(w, dids, text="hey"):
    return dict(message_payload(w.cid, w.chid), content={"text": text, "mentions": list(dids)})


async def notif_list(ctx, conn, payload=None) -> dict:
    await conn.send("notification.list", payload)
    f = await conn.expect_type("notification.list.response", what="notification.list.response")
    p = f["payload"]
    ns = p.get("notifications")
    ctx.check(isinstance(ns, list) and all(isinstance(n, dict) for n in ns),
              f"notification.list.response without a notifications array: {p}")
    return p


async def listed(ctx, conn, payload, at_least) -> list:
    """The notifications of a list reply, checked to hold at least `at_least` entries."""
    ns = (await notif_list(ctx, conn, payload))["notifications"]
    ctx.check(len(ns) >= at_least, f"{len(ns)} notifications listed, expected at least {at_least}")
    return ns


async def notif_count(ctx, conn, payload=None) -> dict:
    await conn.send("notification.count", payload)
    f = await conn.expect_type("notification.count.response", what="notification.count.response")
    return f["payload"]


async def clear(ctx, conn):
    """Mark all of the DID's notifications read and wait until that is done (count is the barrier)."""
    await conn.send("notification.mark-read", {})
    c = await notif_count(ctx, conn, {})
    ctx.check(c.get("unread") == 0, f"unread {c.get('unread')} after notification.mark-read {{}}")


async def mention(ctx, w, sender, target_names) -> str:
    """sender mentions the named members; waits for each target's notification.new; returns the message id."""
    env = await w[sender].send("channel.send", mention_payload(w, [w.did(n) for n in target_names]))
    for n in target_names:
        await w[n].expect_type("notification.new", lambda p: p.get("messageId") == env["id"],
                               what=f"notification.new at {n}")
    await asyncio.sleep(0.1)
    for c in w.conns.values():
        c.drain()
    return env["id"]


@case("NOTIF-001", area="notifications", reqs=["R-NOTIF-1"],
      types=["channel.send/c2s", "notification.new/s2c"],
      title="A mention of a member pushes notification.new of type mention to that member only",
      sends="the owner posts content {text, mentions: [bob]} in a community of owner, bob and carol",
      expects="bob: notification.new {type mention, fromDID owner, communityId, channelId, messageId, content "
              "'You were mentioned', read false}; nothing at the owner or carol")
async def notif_mention(ctx):
    w = await world(ctx, names=("bob", "carol"))
    owner, bob = w["owner"], w["bob"]
    env = await owner.send("channel.send", mention_payload(w, [bob.did]))
    f = await bob.expect_type("notification.new", what="the mention notification")
    p = f["payload"]
    for k, v in (("type", "mention"), ("fromDID", owner.did), ("communityId", w.cid), ("channelId", w.chid),
                 ("messageId", env["id"]), ("content", "You were mentioned"), ("read", False)):
        ctx.check(p.get(k) == v, f"{k} is {p.get(k)!r}, expected {v!r}")
    await expect_silence([owner, w["carol"]], ["notification.new"])


@case("NOTIF-002", area="notifications", reqs=["R-NOTIF-2"],
      types=["channel.send/c2s", "notification.new/s2c"],
      title="A reply to another member's message notifies that message's author",
      sends="bob posts; the owner posts with replyTo = bob's message id",
      expects="bob: notification.new type reply, content 'Replied to your message', fromDID owner; none at the owner")
async def notif_reply(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    mid = await send_message(ctx, bob, w.cid, w.chid, "original")
    await owner.expect_type("channel.message")
    await owner.send("channel.send", dict(message_payload(w.cid, w.chid, "answer"), replyTo=mid))
    f = await bob.expect_type("notification.new", lambda p: p.get("type") == "reply", what="the reply notification")
    p = f["payload"]
    ctx.check(p.get("content") == "Replied to your message" and p.get("fromDID") == owner.did, f"payload {p}")
    await owner.expect_none("notification.new")


@case("NOTIF-003", area="notifications", reqs=["R-NOTIF-3"], types=["dm.send/c2s", "notification.new/s2c"],
      title="An accepted DM gives the recipient a dm notification without community or channel",
      sends="dm.send from the owner to bob",
      expects="bob: notification.new {type dm, content 'New direct message', fromDID owner}, no communityId/channelId")
async def notif_dm(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await owner.send("dm.send", {"recipientDID": bob.did, "content": "psst"})
    f = await bob.expect_type("notification.new", lambda p: p.get("type") == "dm", what="the dm notification")
    p = f["payload"]
    ctx.check(p.get("content") == "New direct message" and p.get("fromDID") == owner.did, f"payload {p}")
    ctx.check("communityId" not in p and "channelId" not in p, f"dm notification names a community: {p}")
    await owner.expect_none("notification.new")


@case("NOTIF-004", area="notifications", reqs=["R-NOTIF-8", "R-MISC-7"],
      types=["notification.list/c2s", "notification.list.response/s2c"],
      title="notification.list (null payload, offset, limit, unreadOnly) lists the DID's own notifications",
      sends="bob is mentioned 3 times; bob sends notification.list with payload null, then {offset: 1, limit: 1}, "
            "then the owner lists its own",
      expects="3 notifications oldest first with total 3; then the second one alone with total 3; the owner's "
              "list holds none of bob's")
async def notif_list_case(ctx):
    w = await world(ctx, names=("bob",))
    base = (await notif_list(ctx, w["bob"], {})).get("total") or 0  # earlier runs against a long-lived server
    mids = [await mention(ctx, w, "owner", ["bob"]) for _ in range(3)]
    p = await notif_list(ctx, w["bob"], None) if base == 0 else await notif_list(ctx, w["bob"], {"offset": base})
    got = [n.get("messageId") for n in p.get("notifications") or []]
    ctx.check(got == mids and p.get("total") == base + 3, f"list {got} total {p.get('total')}, expected {mids} / "
                                                          f"{base + 3}")
    p = await notif_list(ctx, w["bob"], {"offset": base + 1, "limit": 1})
    got = [n.get("messageId") for n in p.get("notifications") or []]
    ctx.check(got == mids[1:2] and p.get("total") == base + 3, f"offset/limit gave {got} total {p.get('total')}")
    p = await notif_list(ctx, w["owner"], {})
    ctx.check(not any(n.get("messageId") in mids for n in p.get("notifications") or []),
              "the owner's list holds bob's notifications")


@case("NOTIF-005", area="notifications", reqs=["R-NOTIF-10"],
      types=["notification.mark-read/c2s", "notification.count/c2s", "notification.list/c2s"],
      title="mark-read marks exactly the listed notifications (or all), without a reply",
      sends="bob has 3 notifications; mark-read [first]; count; list unreadOnly; mark-read {} ; count",
      expects="no reply to mark-read; unread 2 and the 2 others listed; then unread 0")
async def notif_mark_read(ctx):
    w = await world(ctx, names=("bob",))
    bob = w["bob"]
    await clear(ctx, bob)  # earlier runs against a long-lived server
    for _ in range(3):
        await mention(ctx, w, "owner", ["bob"])
    lst = await listed(ctx, bob, {"unreadOnly": True}, 3)
    await bob.send("notification.mark-read", {"notificationIds": [lst[0].get("id")]})
    await bob.expect_none(lambda f: True, what="a reply to notification.mark-read")
    c = await notif_count(ctx, bob, {})
    ctx.check(c.get("unread") == 2, f"unread {c.get('unread')} after marking one of 3")
    p = await notif_list(ctx, bob, {"unreadOnly": True})
    ctx.check([n.get("id") for n in p.get("notifications") or []] == [n.get("id") for n in lst[1:]],
              f"unreadOnly list {p.get('notifications')}")
    await bob.send("notification.mark-read", {})
    await asyncio.sleep(0.1)
    c = await notif_count(ctx, bob, None)
    ctx.check(c.get("unread") == 0, f"unread {c.get('unread')} after marking all")


@case("NOTIF-006", area="notifications", reqs=["R-NOTIF-12", "R-MISC-7"],
      types=["notification.count/c2s", "notification.count.response/s2c"],
      title="notification.count answers {unread, byChannel} whatever its payload",
      sends="bob is mentioned twice in the channel and gets a DM; notification.count with payload null, then \"x\"",
      expects="{unread: 3, byChannel: {<channel>: 2}} both times")
async def notif_count_case(ctx):
    w = await world(ctx, names=("bob",))
    await clear(ctx, w["bob"])  # earlier runs against a long-lived server
    await mention(ctx, w, "owner", ["bob"])
    await mention(ctx, w, "owner", ["bob"])
    await w["owner"].send("dm.send", {"recipientDID": w.did("bob"), "content": "dm"})
    await w["bob"].expect_type("notification.new", lambda p: p.get("type") == "dm")
    for payload in (None, "x"):
        c = await notif_count(ctx, w["bob"], payload)
        ctx.check(c.get("unread") == 3, f"unread {c.get('unread')}, expected 3")
        ctx.check(c.get("byChannel") == {w.chid: 2}, f"byChannel {c.get('byChannel')}, expected {{{w.chid}: 2}}")


@case("NOTIF-007", area="notifications", reqs=["R-NOTIF-4", "R-AUTHZ-27"],
      types=["channel.send/c2s", "notification.new/s2c"],
      title="Mentions of non-members or oneself, and replies to no stored message, create no notification",
      sends="the owner mentions a connected outsider and itself; replies to an invented message id 'claimed' by bob",
      expects="no notification.new anywhere (upstream notifies any DID: G16)")
async def notif_spam(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    outsider = await ctx.connect("outsider", identity=ctx.identity(f"outsider-{os.urandom(4).hex()}"))
    await owner.send("channel.send", mention_payload(w, [outsider.did, owner.did]))
    await owner.send("channel.send", dict(message_payload(w.cid, w.chid, "re"), replyTo="no-such-message"))
    await expect_silence([owner, outsider, w["bob"]], ["notification.new"])
    p = await notif_list(ctx, outsider, {})
    ctx.check(p.get("total") == 0, f"the outsider has {p.get('total')} notifications")


@case("NOTIF-008", area="notifications", reqs=["R-NOTIF-11"],
      types=["notification.mark-read/c2s", "notification.count/c2s"],
      title="mark-read with another DID's notification ids changes nothing of theirs",
      sends="bob is mentioned; carol sends mark-read with bob's notification id",
      expects="bob's unread count stays 1")
async def notif_mark_other(ctx):
    w = await world(ctx, names=("bob", "carol"))
    await clear(ctx, w["bob"])  # earlier runs against a long-lived server
    await mention(ctx, w, "owner", ["bob"])
    nid = (await listed(ctx, w["bob"], {"unreadOnly": True}, 1))[0].get("id")
    await w["carol"].send("notification.mark-read", {"notificationIds": [nid]})
    await asyncio.sleep(0.2)
    c = await notif_count(ctx, w["bob"], {})
    ctx.check(c.get("unread") == 1, f"bob's unread is {c.get('unread')} after carol marked his notification")


@case("NOTIF-009", area="notifications", reqs=["R-NOTIF-7"], types=["notification.new/s2c"],
      title="Notification ids are notif- followed by 32 lowercase hex digits, and unique",
      sends="bob is mentioned twice",
      expects="two different ids matching ^notif-[0-9a-f]{32}$ (upstream: notif-<ms>-<base36>)")
async def notif_ids(ctx):
    w = await world(ctx, names=("bob",))
    await mention(ctx, w, "owner", ["bob"])
    await mention(ctx, w, "owner", ["bob"])
    ns = (await listed(ctx, w["bob"], {}, 2))[-2:]
    got = [n.get("id") for n in ns]
    ctx.check(len(set(got)) == 2, f"ids {got}")
    for i in got:
        ctx.check(re.fullmatch(r"notif-[0-9a-f]{32}", i or ""), f"id {i!r} is not notif-<32 hex>")


@case("NOTIF-010", area="notifications", reqs=["R-NOTIF-9"], types=["notification.list/c2s", "error/s2c"],
      title="notification.list with a wrongly typed or out-of-range field is refused",
      sends="notification.list {limit: 'x'}, {offset: -1}, {limit: 0}",
      expects="three error INVALID_PAYLOAD")
async def notif_list_invalid(ctx):
    c = await ctx.connect("alice")
    for p in ({"limit": "x"}, {"offset": -1}, {"limit": 0}):
        await c.send("notification.list", p)
        await c.expect_error("INVALID_PAYLOAD")
    await c.expect_none("notification.list.response")


@case("NOTIF-011", area="notifications", reqs=["R-NOTIF-6", "R-NOTIF-11"], needs=["restart"],
      types=["notification.list/c2s", "notification.mark-read/c2s"], timeout=40,
      title="Notifications and their read flags survive a restart",
      sends="bob is mentioned twice, marks the first read; restart; bob lists",
      expects="both notifications, the first read and the second unread (upstream: memory only, G19)")
async def notif_persist(ctx):
    w = await world(ctx, names=("bob",))
    m1 = await mention(ctx, w, "owner", ["bob"])
    m2 = await mention(ctx, w, "owner", ["bob"])
    ns = (await listed(ctx, w["bob"], {}, 2))[-2:]
    await w["bob"].send("notification.mark-read", {"notificationIds": [ns[0].get("id")]})
    await asyncio.sleep(0.2)
    await restart(ctx)
    bob = await ctx.connect("bob-again", identity=ctx.identity("bob"))
    ns = (await listed(ctx, bob, {}, 2))[-2:]
    got = [(n.get("messageId"), n.get("read")) for n in ns]
    ctx.check(got == [(m1, True), (m2, False)], f"after restart: {got}")


@case("NOTIF-012", area="notifications", reqs=["R-NOTIF-5"], types=["channel.send/c2s", "notification.new/s2c"],
      timeout=40,
      title="A reply to a message beyond the channel's 200 oldest still notifies its author",
      sends="bob posts 205 messages (in two bursts, below the frame rate limit); the owner replies to bob's last one",
      expects="bob receives notification.new type reply for it (upstream looks at the 200 oldest only: G28)")
async def notif_reply_deep(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    last = None
    for burst in (150, 55):
        for i in range(burst):
            env = await bob.send("channel.send", message_payload(w.cid, w.chid, f"deep {burst}-{i}"))
            last = env["id"]
        await bob.expect_type("channel.message", lambda p, b=burst: p.get("content") == f"deep {b}-{b - 1}",
                              timeout=10, what="the echo of the burst's last message")
        await asyncio.sleep(1.2)
    owner.drain()
    bob.drain()
    await owner.send("channel.send", dict(message_payload(w.cid, w.chid, "late reply"), replyTo=last))
    f = await bob.expect_type("notification.new", lambda p: p.get("type") == "reply", what="the reply notification")
    ctx.check(f["payload"].get("messageId") != last, f"payload {f['payload']}")
