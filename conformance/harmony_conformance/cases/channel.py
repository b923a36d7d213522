"""Channel messaging: who receives what, and who must not."""
from __future__ import annotations

from ..core import case
from ._util import community_with_members, message_payload


@case("CHAN-001", area="channel", reqs=["R-CHAN-10"],
      types=["community.create/c2s", "community.join/c2s", "channel.send/c2s", "channel.message/s2c"],
      title="channel.send is broadcast to every member, the sender's connection included",
      sends="channel.send from a member of a 3-member community",
      expects="channel.message with the request id, sender = author DID and the payload, on all 3 connections")
async def chan_send_broadcast(ctx):
    cid, chid, conns = await community_with_members(ctx, names=("bob", "carol"))
    owner = conns["owner"]
    env = await owner.send("channel.send", message_payload(cid, chid, "hello all", did=owner.did))
    for name, c in conns.items():
        f = await c.expect_type("channel.message", lambda p: p.get("channelId") == chid,
                                what=f"channel.message at {name}")
        ctx.check(f.get("id") == env["id"], f"{name}: id {f.get('id')!r} != request id {env['id']!r}")
        ctx.check(f.get("sender") == owner.did, f"{name}: sender {f.get('sender')!r} != {owner.did}")
        ctx.check(f["payload"].get("content") == "hello all", f"{name}: content changed: {f['payload']}")


@case("CHAN-002", area="channel", reqs=["R-AUTHZ-8"], types=["channel.send/c2s", "error/s2c"],
      title="channel.send from a non-member is refused and reaches nobody",
      sends="channel.send into a community the sender never joined",
      expects="error NOT_MEMBER to the sender; no channel.message at the members (upstream: per-connection check, G2)")
async def chan_send_non_member(ctx):
    cid, chid, conns = await community_with_members(ctx, names=("bob",))
    eve = await ctx.connect("eve")
    await eve.send("channel.send", message_payload(cid, chid, "intrusion"))
    await eve.expect_error("NOT_MEMBER")
    for name, c in conns.items():
        await c.expect_none("channel.message", what=f"the non-member's message at {name}")


@case("CHAN-003", area="channel", reqs=["R-CHAN-27"],
      types=["channel.typing/c2s", "channel.typing.indicator/s2c"],
      title="channel.typing is relayed to the other members but not to the sending connection",
      sends="channel.typing from the owner",
      expects="channel.typing.indicator at the other members; nothing at the owner's connection")
async def chan_typing_excludes_sender(ctx):
    cid, chid, conns = await community_with_members(ctx, names=("bob", "carol"))
    owner = conns["owner"]
    await owner.send("channel.typing", {"communityId": cid, "channelId": chid})
    for name in ("bob", "carol"):
        f = await conns[name].expect_type("channel.typing.indicator", what=f"typing indicator at {name}")
        ctx.check(f.get("sender") == owner.did, f"{name}: sender {f.get('sender')!r} != {owner.did}")
    await owner.expect_none("channel.typing.indicator", what="its own typing indicator")


@case("CHAN-004", area="channel", reqs=["R-AUTHZ-10"], types=["channel.send/c2s", "channel.message/s2c"],
      title="A community's messages never reach a connected non-member",
      sends="channel.send in community A while a non-member (member of another community) is connected",
      expects="no channel.message at the outsider")
async def chan_no_leak(ctx):
    cid, chid, conns = await community_with_members(ctx, names=("bob",))
    from ._util import create_community
    outsider = await ctx.connect("outsider")
    await create_community(ctx, outsider)
    outsider.drain()
    await conns["bob"].send("channel.send", message_payload(cid, chid, "members only"))
    await conns["owner"].expect_type("channel.message")
    await outsider.expect_none("channel.message", what="another community's message")


@case("CHAN-005", area="channel", reqs=["R-LIM-2"], types=["channel.send/c2s", "error/s2c"],
      title="A string content longer than 4000 code units is refused",
      sends="channel.send with content of 4001 characters",
      expects="error INVALID_PAYLOAD; no channel.message")
async def chan_content_too_long(ctx):
    cid, chid, conns = await community_with_members(ctx, names=())
    owner = conns["owner"]
    await owner.send("channel.send", message_payload(cid, chid, "x" * 4001))
    await owner.expect_error("INVALID_PAYLOAD")
    await owner.expect_none("channel.message")


@case("CHAN-006", area="channel", reqs=["R-CHAN-2"], types=["channel.send/c2s", "error/s2c"],
      title="channel.send with a missing or non-string channelId is refused",
      sends="channel.send without channelId, then with channelId = 7",
      expects="two error INVALID_PAYLOAD frames; no channel.message")
async def chan_missing_field(ctx):
    cid, chid, conns = await community_with_members(ctx, names=())
    owner = conns["owner"]
    await owner.send("channel.send", {"communityId": cid, "content": "x"})
    await owner.expect_error("INVALID_PAYLOAD")
    await owner.send("channel.send", {"communityId": cid, "channelId": 7, "content": "x"})
    await owner.expect_error("INVALID_PAYLOAD")
    await owner.expect_none("channel.message")
