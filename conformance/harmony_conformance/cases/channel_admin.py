"""Channel administration: channel.create, channel.update, channel.delete.admin."""
from __future__ import annotations

import asyncio
import re

from ..core import case
from ._util import (assign_role, create_role, expect_at, expect_silence, message_payload, require_restart,
                    restart, send_message, world)


async def _create_channel(ctx, conn, cid, name, **extra) -> dict:
    """channel.create (type "text" unless given; type=None sends no type); returns the ChannelInfo."""
    extra.setdefault("type", "text")
    if extra["type"] is None:
        del extra["type"]
    await conn.send("channel.create", dict({"communityId": cid, "name": name}, **extra))
    f = await conn.expect_type("channel.created", lambda p: p.get("name") == name,
                               what=f"channel.created for {name}")
    return f["payload"]


async def _list_channels(ctx, conn, cid) -> list:
    await conn.send("community.list", {})
    f = await conn.expect_type("community.list.response")
    e = [c for c in f["payload"].get("communities") or [] if c.get("id") == cid]
    ctx.check(len(e) == 1, f"community {cid} not listed once by community.list")
    return e[0].get("channels") or []


@case("CADM-001", area="channel-admin", reqs=["R-CADM-1", "R-CADM-6"],
      types=["channel.create/c2s", "channel.created/s2c"],
      title="channel.create by the creator is broadcast as channel.created to every member incl. the sender",
      sends="the creator sends channel.create {communityId, name, type: voice, topic} while an outsider is connected",
      expects="channel.created (ChannelInfo id, communityId, name, type, topic, createdAt; sender = creator) at both "
              "members, none at the outsider; community.list then lists the channel")
async def cadm_create(ctx):
    w = await world(ctx, names=("bob",))
    outsider = await ctx.connect("outsider")
    owner = w["owner"]
    await owner.send("channel.create", {"communityId": w.cid, "name": "voice-room", "type": "voice",
                                        "topic": "talk"})
    frames = await expect_at(w.conns.values(), "channel.created", lambda p: p.get("name") == "voice-room")
    for f in frames:
        p = f["payload"]
        ctx.check(f["sender"] == owner.did, f"sender {f['sender']!r} != creator")
        ctx.check(p.get("communityId") == w.cid and p.get("type") == "voice" and p.get("topic") == "talk"
                  and isinstance(p.get("id"), str) and isinstance(p.get("createdAt"), str), f"ChannelInfo {p}")
    await outsider.expect_none("channel.created")
    chans = await _list_channels(ctx, owner, w.cid)
    ctx.check((frames[0]["payload"]["id"], "voice-room", "voice") in
              [(c.get("id"), c.get("name"), c.get("type")) for c in chans], f"community.list channels {chans}")


@case("CADM-002", area="channel-admin", reqs=["R-CADM-4"], types=["channel.create/c2s"],
      title="Channel ids are <communityId>:channel:<16 lower-case hex> and never repeat",
      sends="channel.create twice with the same name",
      expects="two different ids of that form")
async def cadm_ids(ctx):
    w = await world(ctx, names=())
    a = await _create_channel(ctx, w["owner"], w.cid, "same")
    b = await _create_channel(ctx, w["owner"], w.cid, "same")
    pat = re.compile(re.escape(w.cid) + r":channel:[0-9a-f]{16}$")
    for c in (a, b):
        ctx.check(pat.match(str(c.get("id"))), f"channel id {c.get('id')!r} has the wrong form")
    ctx.check(a["id"] != b["id"], "two channels got the same id")


@case("CADM-003", area="channel-admin", reqs=["R-CHAN-1", "R-LIM-2"], types=["channel.create/c2s", "error/s2c"],
      title="channel.create needs a name of at most 100; topic at most 500",
      sends="channel.create without name; with name \"  \"; with a 101-character name; with a 501-character topic",
      expects="four error INVALID_PAYLOAD; no channel.created")
async def cadm_create_fields(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    for p in ({}, {"name": "  "}, {"name": "n" * 101}, {"name": "ok", "topic": "t" * 501}):
        await owner.send("channel.create", dict({"communityId": w.cid}, **p))
        await owner.expect_error("INVALID_PAYLOAD")
    await owner.expect_none("channel.created")


@case("CADM-004", area="channel-admin", reqs=["R-CADM-3"], types=["channel.create/c2s", "error/s2c"],
      title="A channel type outside text/voice/announcement/thread is refused; no type means text",
      sends="channel.create with type \"bogus\", then without type",
      expects="error INVALID_PAYLOAD; then channel.created with type \"text\" (upstream accepts any string)")
async def cadm_create_type(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    await owner.send("channel.create", {"communityId": w.cid, "name": "weird", "type": "bogus"})
    await owner.expect_error("INVALID_PAYLOAD")
    c = await _create_channel(ctx, owner, w.cid, "plain", type=None)
    ctx.check(c.get("type") == "text", f"default type is {c.get('type')!r}")


@case("CADM-005", area="channel-admin", reqs=["R-CADM-7", "R-CADM-10"],
      types=["channel.update/c2s", "channel.updated/s2c"],
      title="channel.update is broadcast with the request id and only the fields sent",
      sends="the creator sends channel.update {communityId, channelId, topic}",
      expects="channel.updated (request id, sender = creator, {communityId, channelId, topic}, no name) at both members")
async def cadm_update(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    env = await owner.send("channel.update", {"communityId": w.cid, "channelId": w.chid, "topic": "new topic"})
    for f in await expect_at(w.conns.values(), "channel.updated"):
        ctx.check(f["id"] == env["id"] and f["sender"] == owner.did, f"envelope {f}")
        p = f["payload"]
        ctx.check(p.get("channelId") == w.chid and p.get("topic") == "new topic" and "name" not in p,
                  f"payload {p}")


@case("CADM-006", area="channel-admin", reqs=["R-CADM-9"],
      types=["channel.update/c2s", "community.list/c2s"],
      title="channel.update is stored: a later community.list shows the new name",
      sends="the creator renames the default channel, then sends community.list",
      expects="the channel is listed under the new name")
async def cadm_update_stored(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    await owner.send("channel.update", {"communityId": w.cid, "channelId": w.chid, "name": "renamed"})
    await owner.expect_type("channel.updated")
    chans = await _list_channels(ctx, owner, w.cid)
    ctx.check([(c.get("id"), c.get("name")) for c in chans] == [(w.chid, "renamed")], f"channels {chans}")


@case("CADM-007", area="channel-admin", reqs=["R-CADM-8"], types=["channel.update/c2s", "error/s2c"],
      title="channel.update of a channel that does not exist in the community is refused with NOT_FOUND",
      sends="channel.update with an invented channelId",
      expects="error NOT_FOUND; no channel.updated")
async def cadm_update_unknown(ctx):
    w = await world(ctx, names=("bob",))
    await w["owner"].send("channel.update", {"communityId": w.cid, "channelId": w.chid + "x", "name": "n"})
    await w["owner"].expect_error("NOT_FOUND")
    await expect_silence(w.conns.values(), ["channel.updated"])


@case("CADM-008", area="channel-admin", reqs=["R-CHAN-1", "R-LIM-2"], types=["channel.update/c2s", "error/s2c"],
      title="channel.update needs channelId and bounds name and topic",
      sends="channel.update without channelId; with a 101-character name; with a 501-character topic",
      expects="three error INVALID_PAYLOAD; no channel.updated")
async def cadm_update_fields(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    for p in ({"name": "x"}, {"channelId": w.chid, "name": "n" * 101}, {"channelId": w.chid, "topic": "t" * 501}):
        await owner.send("channel.update", dict({"communityId": w.cid}, **p))
        await owner.expect_error("INVALID_PAYLOAD")
    await owner.expect_none("channel.updated")


@case("CADM-009", area="channel-admin", reqs=["R-CHAN-17"],
      types=["channel.update/c2s", "channel.send/c2s", "error/s2c"],
      title="A channel's slow mode answers SLOW_MODE to a second message within the interval",
      sends="the creator sets slowMode 30 on the channel; bob sends two messages in a row",
      expects="the first is delivered; the second gets error SLOW_MODE and is not delivered")
async def cadm_slow_mode(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await owner.send("channel.update", {"communityId": w.cid, "channelId": w.chid, "slowMode": 30})
    await expect_at(w.conns.values(), "channel.updated")
    await send_message(ctx, bob, w.cid, w.chid, "first")
    await owner.expect_type("channel.message")
    await bob.send("channel.send", message_payload(w.cid, w.chid, "too soon"))
    await bob.expect_error("SLOW_MODE")
    await expect_silence(w.conns.values(), ["channel.message"])


@case("CADM-010", area="channel-admin", reqs=["R-CADM-9"],
      types=["channel.update/c2s", "moderation.config.update/c2s", "channel.send/c2s"],
      title="Slow mode is a channel property that moderation.config.update does not remove",
      sends="slowMode 30 on the channel; moderation.config.update {rules: []}; bob sends two messages",
      expects="the second message gets SLOW_MODE (upstream wipes slow mode on config update: G14)")
async def cadm_slow_mode_kept(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await owner.send("channel.update", {"communityId": w.cid, "channelId": w.chid, "slowMode": 30})
    await expect_at(w.conns.values(), "channel.updated")
    await owner.send("moderation.config.update", {"communityId": w.cid, "rules": []})
    await owner.expect_none("error", within=0.3, what="an error for the moderation config update")
    await send_message(ctx, bob, w.cid, w.chid, "first")
    await bob.send("channel.send", message_payload(w.cid, w.chid, "too soon"))
    await bob.expect_error("SLOW_MODE")


@case("CADM-011", area="channel-admin", reqs=["R-CADM-11", "R-CADM-13"],
      types=["channel.delete.admin/c2s", "channel.deleted/s2c"],
      title="channel.delete.admin is broadcast as channel.deleted to every member incl. the sender",
      sends="the creator creates a second channel and deletes it",
      expects="channel.deleted (request id, sender = creator, {communityId, channelId}) at both members")
async def cadm_delete(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    c = await _create_channel(ctx, owner, w.cid, "doomed")
    await asyncio.sleep(0.1)
    for x in w.conns.values():
        x.drain()
    env = await owner.send("channel.delete.admin", {"communityId": w.cid, "channelId": c["id"]})
    for f in await expect_at(w.conns.values(), "channel.deleted"):
        ctx.check(f["id"] == env["id"] and f["sender"] == owner.did and f["payload"].get("channelId") == c["id"]
                  and f["payload"].get("communityId") == w.cid, f"channel.deleted wrong: {f}")


@case("CADM-012", area="channel-admin", reqs=["R-CADM-12", "R-SYNC-4"],
      types=["channel.delete.admin/c2s", "channel.send/c2s", "sync.request/c2s", "error/s2c"],
      title="A deleted channel is gone: not listed, and send/history/sync answer NOT_FOUND",
      sends="a message in a second channel; delete the channel; community.list; channel.send, channel.history and "
            "sync.request for it",
      expects="not in community.list; three error NOT_FOUND; its message is never returned "
              "(upstream keeps the messages readable)")
async def cadm_delete_effect(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    c = await _create_channel(ctx, owner, w.cid, "doomed")
    await send_message(ctx, owner, w.cid, c["id"], "in doomed channel")
    await owner.send("channel.delete.admin", {"communityId": w.cid, "channelId": c["id"]})
    await owner.expect_type("channel.deleted")
    chans = await _list_channels(ctx, owner, w.cid)
    ctx.check(c["id"] not in [x.get("id") for x in chans], f"deleted channel still listed: {chans}")
    for t, p in (("channel.send", message_payload(w.cid, c["id"], "into the void")),
                 ("channel.history", {"communityId": w.cid, "channelId": c["id"]}),
                 ("sync.request", {"communityId": w.cid, "channelId": c["id"]})):
        await owner.send(t, p)
        await owner.expect_error("NOT_FOUND")
    await owner.expect_none(lambda f: f.get("type") in ("channel.message", "channel.history.response",
                                                        "sync.response"))


@case("CADM-013", area="channel-admin", reqs=["R-AUTHZ-19", "R-AUTHZ-21"],
      types=["channel.create/c2s", "channel.update/c2s", "channel.delete.admin/c2s", "role.create/c2s",
             "role.assign/c2s"],
      title="A role granting manage_channels (alias of channel.manage) lets a member administer channels",
      sends="bob gets a role with [\"manage_channels\"]; creates, updates and deletes a channel",
      expects="channel.created, channel.updated and channel.deleted at every member")
async def cadm_by_role(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    rid = await create_role(ctx, owner, w.cid, permissions=["manage_channels"])
    await assign_role(ctx, owner, w.cid, bob.did, rid)
    c = await _create_channel(ctx, bob, w.cid, "bobs")
    await bob.send("channel.update", {"communityId": w.cid, "channelId": c["id"], "topic": "t"})
    await expect_at(w.conns.values(), "channel.updated")
    await bob.send("channel.delete.admin", {"communityId": w.cid, "channelId": c["id"]})
    await expect_at(w.conns.values(), "channel.deleted")


@case("CADM-014", area="channel-admin", reqs=["R-CADM-9", "R-CADM-12"],
      types=["channel.create/c2s", "channel.update/c2s", "channel.delete.admin/c2s", "community.list/c2s"],
      needs=["restart"], timeout=40,
      title="Channel creation, update and deletion survive a restart",
      sends="create channels A and B, rename A, delete B; restart; community.list",
      expects="A listed with its new name; B absent")
async def cadm_persist(ctx):
    require_restart(ctx)
    w = await world(ctx, names=())
    owner = w["owner"]
    a = await _create_channel(ctx, owner, w.cid, "a")
    b = await _create_channel(ctx, owner, w.cid, "b")
    await owner.send("channel.update", {"communityId": w.cid, "channelId": a["id"], "name": "a-renamed"})
    await owner.expect_type("channel.updated")
    await owner.send("channel.delete.admin", {"communityId": w.cid, "channelId": b["id"]})
    await owner.expect_type("channel.deleted")
    await restart(ctx)
    o2 = await ctx.connect("owner-after", identity=ctx.identity("owner"))
    chans = {c.get("id"): c.get("name") for c in await _list_channels(ctx, o2, w.cid)}
    ctx.check(chans.get(a["id"]) == "a-renamed" and b["id"] not in chans, f"channels after restart {chans}")


@case("CADM-015", area="channel-admin", reqs=["R-AUTHZ-6"], types=["channel.update/c2s", "channel.send/c2s"],
      title="Slow mode is kept per DID, across the DID's connections",
      sends="slowMode 30; bob sends from connection 1, then from connection 2",
      expects="the second gets SLOW_MODE")
async def cadm_slow_mode_per_did(ctx):
    w = await world(ctx, names=("bob",))
    bob2 = await ctx.connect("bob-2", identity=ctx.identity("bob"))
    await w["owner"].send("channel.update", {"communityId": w.cid, "channelId": w.chid, "slowMode": 30})
    await expect_at(w.conns.values(), "channel.updated")
    await send_message(ctx, w["bob"], w.cid, w.chid, "first")
    await bob2.send("channel.send", message_payload(w.cid, w.chid, "second, other connection"))
    await bob2.expect_error("SLOW_MODE")


def _key_package(ident) -> dict:
    """ident's key package in wire form (bytes as the Uint8Array codec), built by the harness' crypto."""
    from ..crypto import mls
    from ..wsclient import u8
    kp = mls.create_key_package(ident.did, ident.seed32, ident.public_key, ident.x25519_public)

    def wire(v):
        if isinstance(v, (bytes, bytearray)):
            return u8(bytes(v))
        if isinstance(v, dict):
            return {k: wire(x) for k, x in v.items()}
        return v
    return wire(kp)


@case("CADM-016", area="channel-admin", reqs=["R-CADM-5"],
      types=["channel.create/c2s", "mls.keypackage.upload/c2s", "mls.group.setup.needed/s2c"],
      title="channel.create tells the creating connection to set up the MLS group once a member has a key package",
      sends="bob (member) uploads his key package; the creator sends channel.create",
      expects="mls.group.setup.needed {communityId, channelId, groupId = <communityId>:<channelId>} at the creating "
              "connection only; channel.created at both")
async def cadm_mls_setup_needed(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await bob.send("mls.keypackage.upload", {"keyPackage": _key_package(ctx.identity("bob"))})
    await bob.expect_none("error", what="an error for a valid key package upload")
    await owner.send("channel.create", {"communityId": w.cid, "name": "secure", "type": "text"})
    created = await owner.expect_type("channel.created", lambda p: p.get("name") == "secure")
    chid = created["payload"]["id"]
    f = await owner.expect_type("mls.group.setup.needed")
    ctx.check(f["payload"] == {"communityId": w.cid, "channelId": chid, "groupId": f"{w.cid}:{chid}"},
              f"mls.group.setup.needed {f['payload']}")
    await bob.expect_type("channel.created")
    await bob.expect_none("mls.group.setup.needed", what="another member's setup notice")
