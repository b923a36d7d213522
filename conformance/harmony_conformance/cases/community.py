"""Communities: create, join, leave, update, ban, unban, kick, info, list, reconcile, resync."""
from __future__ import annotations

import asyncio
import re

from ..core import case
from ._util import (assign_role, ban, create_community, create_role, expect_at, expect_silence, join,
                    message_payload, restart, require_restart, send_message, sync, unique, world)

CID_RE = re.compile(r"^community:[0-9a-f]{32}$")


@case("COMM-001", area="community", reqs=["R-COMM-1", "R-AUTHZ-9"],
      types=["community.create/c2s", "community.updated/s2c"],
      title="community.create answers the creator with the create shape of community.updated, and nobody else",
      sends="community.create {name, defaultChannels: [\"alpha\", \"beta\"]} while another DID is connected",
      expects="community.updated {communityId, rootCapability, membershipVC, channels: [alpha, beta]} "
              "(sender \"server\") at the creator only; the creator then receives the community's messages")
async def comm_create(ctx):
    owner = await ctx.connect("owner")
    other = await ctx.connect("other")
    name = unique(ctx, "c")
    await owner.send("community.create", {"name": name, "defaultChannels": ["alpha", "beta"]})
    f = await owner.expect_type("community.updated", lambda p: "rootCapability" in p)
    p = f["payload"]
    ctx.check(f["sender"] == "server", f"sender is {f['sender']!r}, expected \"server\"")
    ctx.check(isinstance(p.get("membershipVC"), dict) and isinstance(p.get("rootCapability"), dict),
              f"rootCapability/membershipVC missing: {list(p)}")
    chans = p.get("channels") or []
    ctx.check([c.get("name") for c in chans] == ["alpha", "beta"], f"channels {chans}")
    for c in chans:
        ctx.check(c.get("communityId") == p["communityId"] and isinstance(c.get("id"), str)
                  and c.get("type") == "text" and isinstance(c.get("createdAt"), str), f"bad ChannelInfo {c}")
    await other.expect_none(lambda f: f.get("type", "").startswith("community."),
                            what="a community frame about another DID's new community")
    await owner.send("channel.send", message_payload(p["communityId"], chans[0]["id"], "first"))
    await owner.expect_type("channel.message")


@case("COMM-002", area="community", reqs=["R-COMM-5"], types=["community.create/c2s"],
      title="Community ids are community:<32 lower-case hex> and unique",
      sends="three community.create with the same name",
      expects="three different ids of the form community:<32 hex>")
async def comm_ids(ctx):
    owner = await ctx.connect("owner")
    ids = [(await create_community(ctx, owner, name="same"))[0] for _ in range(3)]
    for i in ids:
        ctx.check(CID_RE.match(i), f"community id {i!r} is not community:<32 hex>")
    ctx.check(len(set(ids)) == 3, f"ids repeat: {ids}")


@case("COMM-003", area="community", reqs=["R-COMM-3"], types=["community.create/c2s", "error/s2c"],
      title="defaultChannels is bounded: more than 20, a blank name or a non-string is refused",
      sends="community.create with 21 default channels; with [\"ok\", \"  \"]; with [\"ok\", 5]; with one of 101 chars",
      expects="four error INVALID_PAYLOAD and no community.updated (upstream: unbounded, G20)")
async def comm_default_channels(ctx):
    owner = await ctx.connect("owner")
    for dc in ([f"c{i}" for i in range(21)], ["ok", "  "], ["ok", 5], ["x" * 101]):
        await owner.send("community.create", {"name": unique(ctx, "c"), "defaultChannels": dc})
        await owner.expect_error("INVALID_PAYLOAD")
    await owner.expect_none("community.updated")


@case("COMM-004", area="community", reqs=["R-COMM-4", "R-AUTHZ-25"], types=["community.create/c2s", "community.updated/s2c"],
      title="A creatorKeyPair in community.create is ignored, whatever it holds",
      sends="community.create with creatorKeyPair = {publicKey: 5, secretKey: \"junk\", type: 1}",
      expects="community.updated (create shape) as without it (upstream is silent on a malformed key pair: G7, G18)")
async def comm_creator_keypair(ctx):
    owner = await ctx.connect("owner")
    await owner.send("community.create", {"name": unique(ctx, "c"),
                                          "creatorKeyPair": {"publicKey": 5, "secretKey": "junk", "type": 1}})
    f = await owner.expect_type("community.updated", lambda p: "rootCapability" in p)
    ctx.check(CID_RE.match(str(f["payload"].get("communityId"))), f"bad reply {f['payload']}")


@case("COMM-005", area="community", reqs=["R-COMM-6"], types=["community.create/c2s", "community.join/c2s",
                                                               "community.auto-joined/s2c"],
      title="A DID's other connections learn of a community it creates or joins (community.auto-joined)",
      sends="the owner (2 connections) creates from one; bob (2 connections) joins from one",
      expects="community.auto-joined for that community at the other connection of each")
async def comm_auto_joined_other_conns(ctx):
    owner = await ctx.connect("owner")
    owner2 = await ctx.connect("owner-2", identity=ctx.identity("owner"))
    cid, _, _ = await create_community(ctx, owner)
    await owner2.expect_type("community.auto-joined", lambda p: p.get("communityId") == cid)
    bob = await ctx.connect("bob")
    bob2 = await ctx.connect("bob-2", identity=ctx.identity("bob"))
    await join(ctx, bob, cid)
    await bob2.expect_type("community.auto-joined", lambda p: p.get("communityId") == cid)


@case("COMM-006", area="community", reqs=["R-CHAN-1", "R-LIM-2"], types=["community.create/c2s", "error/s2c"],
      title="community.create needs a name of at most 100 and a description of at most 1000",
      sends="community.create without name; name \"   \"; name of 101; description of 1001",
      expects="four error INVALID_PAYLOAD, no community.updated")
async def comm_create_fields(ctx):
    owner = await ctx.connect("owner")
    for p in ({}, {"name": "   "}, {"name": "x" * 101}, {"name": "ok", "description": "d" * 1001}):
        await owner.send("community.create", p)
        await owner.expect_error("INVALID_PAYLOAD")
    await owner.expect_none("community.updated")


@case("COMM-007", area="community", reqs=["R-COMM-7", "R-COMM-8", "R-COMM-12"],
      types=["community.join/c2s", "community.updated/s2c", "community.member.joined/s2c"],
      title="community.join answers the join shape and announces the joiner to the others only",
      sends="bob joins a community of which the owner is a member, while an outsider is connected",
      expects="community.updated {communityId, channels, members incl. bob and owner} at bob; "
              "community.member.joined {memberDID = sender = bob} at the owner; none at bob or the outsider")
async def comm_join(ctx):
    owner = await ctx.connect("owner")
    cid, chid, _ = await create_community(ctx, owner)
    outsider = await ctx.connect("outsider")
    bob = await ctx.connect("bob")
    await bob.send("community.join", {"communityId": cid})
    f = await bob.expect_type("community.updated", lambda p: p.get("communityId") == cid)
    p = f["payload"]
    ctx.check([c.get("id") for c in p.get("channels") or []] == [chid], f"channels {p.get('channels')}")
    dids = {m.get("did") for m in p.get("members") or []}
    ctx.check(dids == {owner.did, bob.did}, f"members {dids} != owner and bob")
    j = await owner.expect_type("community.member.joined", lambda p: p.get("communityId") == cid)
    ctx.check(j["payload"].get("memberDID") == bob.did == j["sender"], f"member.joined wrong: {j}")
    await expect_silence([bob, outsider], ["community.member.joined"])


@case("COMM-008", area="community", reqs=["R-COMM-9"], types=["community.join/c2s", "error/s2c"],
      title="Joining a community that does not exist is refused with NOT_FOUND",
      sends="community.join with an invented community id",
      expects="error NOT_FOUND and no community.updated (upstream creates member records: G31)")
async def comm_join_unknown(ctx):
    bob = await ctx.connect("bob")
    await bob.send("community.join", {"communityId": "community:" + "0" * 31 + "1"})
    await bob.expect_error("NOT_FOUND")
    await bob.expect_none("community.updated")


@case("COMM-009", area="community", reqs=["R-COMM-10"], types=["community.join/c2s", "community.updated/s2c"],
      title="A repeated join is answered again, announced to nobody, and duplicates no later frame",
      sends="bob joins twice, then the owner sends a message",
      expects="a second join-shape community.updated; no second community.member.joined; exactly one "
              "channel.message at bob (upstream duplicates the subscription: G29)")
async def comm_rejoin(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await join(ctx, bob, w.cid)
    await owner.expect_none("community.member.joined", what="a second member.joined")
    await send_message(ctx, owner, w.cid, w.chid, "once")
    await bob.expect_type("channel.message")
    await bob.expect_none("channel.message", what="the same message a second time")


@case("COMM-010", area="community", reqs=["R-CHAN-1"], types=["community.join/c2s", "error/s2c"],
      title="community.join without a communityId is refused",
      sends="community.join {} and {communityId: \"\"}",
      expects="two error INVALID_PAYLOAD")
async def comm_join_missing(ctx):
    bob = await ctx.connect("bob")
    for p in ({}, {"communityId": ""}):
        await bob.send("community.join", p)
        await bob.expect_error("INVALID_PAYLOAD")


@case("COMM-011", area="community", reqs=["R-COMM-13", "R-COMM-15"],
      types=["community.leave/c2s", "community.member.left/s2c"],
      title="community.leave announces the leaver to the remaining members",
      sends="bob leaves a community with owner and carol",
      expects="community.member.left {communityId, memberDID = bob} (sender bob) at owner and carol")
async def comm_leave(ctx):
    w = await world(ctx, names=("bob", "carol"))
    bob = w["bob"]
    await bob.send("community.leave", {"communityId": w.cid})
    for f in await expect_at([w["owner"], w["carol"]], "community.member.left"):
        ctx.check(f["payload"].get("memberDID") == bob.did and f["sender"] == bob.did
                  and f["payload"].get("communityId") == w.cid, f"member.left wrong: {f}")


@case("COMM-012", area="community", reqs=["R-COMM-14", "R-AUTHZ-10"],
      types=["community.leave/c2s", "community.member.left/s2c", "channel.send/c2s"],
      title="After a leave, none of the leaver's connections receives the community's frames",
      sends="bob (2 connections) leaves from one; the owner then sends a message",
      expects="bob's other connection gets community.member.left; neither bob connection gets the message; "
              "bob's channel.send answers NOT_MEMBER (upstream unsubscribes the leaving connection only: G29)")
async def comm_leave_all_conns(ctx):
    w = await world(ctx, names=("bob",))
    bob2 = await ctx.connect("bob-2", identity=ctx.identity("bob"))
    await asyncio.sleep(0.1)
    bob2.drain()
    bob = w["bob"]
    await bob.send("community.leave", {"communityId": w.cid})
    await bob2.expect_type("community.member.left", lambda p: p.get("memberDID") == bob.did)
    await w["owner"].expect_type("community.member.left")
    await send_message(ctx, w["owner"], w.cid, w.chid, "after leave")
    await expect_silence([bob, bob2], ["channel.message"])
    await bob2.send("channel.send", message_payload(w.cid, w.chid, "still here?"))
    await bob2.expect_error("NOT_MEMBER")


@case("COMM-013", area="community", reqs=["R-COMM-16"],
      types=["community.update/c2s", "community.updated/s2c", "community.list/c2s"],
      title="community.update by the creator is broadcast with only the keys sent and shows in community.list",
      sends="the creator sends community.update {communityId, name}",
      expects="community.updated {communityId, name} (sender = creator, no description key) at both members; "
              "community.list then shows the new name")
async def comm_update(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    new = unique(ctx, "renamed")
    await owner.send("community.update", {"communityId": w.cid, "name": new})
    for f in await expect_at(w.conns.values(), "community.updated", lambda p: p.get("communityId") == w.cid):
        ctx.check(f["sender"] == owner.did, f"sender {f['sender']!r} != creator")
        ctx.check(f["payload"].get("name") == new and "description" not in f["payload"], f"payload {f['payload']}")
    await owner.send("community.list", {})
    f = await owner.expect_type("community.list.response")
    mine = [c for c in f["payload"].get("communities") or [] if c.get("id") == w.cid]
    ctx.check(mine and mine[0].get("name") == new, f"community.list shows {mine}")


@case("COMM-014", area="community", reqs=["R-COMM-18", "R-AUTHZ-21"],
      types=["community.update/c2s", "role.create/c2s", "role.assign/c2s", "community.updated/s2c"],
      title="A member holding admin through a role may update the community",
      sends="bob gets a role with [\"admin\"] and sends community.update {name}",
      expects="community.updated at every member (upstream: only the creator is admin, G12)")
async def comm_update_by_role(ctx):
    w = await world(ctx, names=("bob",))
    rid = await create_role(ctx, w["owner"], w.cid, permissions=["admin"])
    await assign_role(ctx, w["owner"], w.cid, w.did("bob"), rid)
    await w["bob"].send("community.update", {"communityId": w.cid, "name": "by-admin-role"})
    await expect_at(w.conns.values(), "community.updated", lambda p: p.get("name") == "by-admin-role")


@case("COMM-015", area="community", reqs=["R-COMM-19", "R-COMM-23", "R-AUTHZ-13"],
      types=["community.ban/c2s", "community.ban.applied/s2c", "error/s2c"],
      title="community.ban answers the admin and closes the target with BANNED and 4003",
      sends="the creator bans member bob",
      expects="community.ban.applied {communityId, targetDID} (sender \"server\") at the creator only; "
              "error BANNED then close 4003 at bob")
async def comm_ban(ctx):
    w = await world(ctx, names=("bob", "carol"))
    owner, bob = w["owner"], w["bob"]
    await owner.send("community.ban", {"communityId": w.cid, "targetDID": bob.did, "reason": "spam"})
    f = await owner.expect_type("community.ban.applied")
    ctx.check(f["sender"] == "server" and f["payload"] == {"communityId": w.cid, "targetDID": bob.did},
              f"ban.applied wrong: {f}")
    await bob.expect_error("BANNED")
    await bob.expect_close(4003)
    await w["carol"].expect_none("community.ban.applied", what="another admin's ban reply")


@case("COMM-016", area="community", reqs=["R-COMM-22"], types=["community.ban/c2s", "community.member.left/s2c"],
      title="A ban is announced to the remaining members as community.member.left",
      sends="the creator bans bob while carol is a member",
      expects="community.member.left {memberDID: bob} at carol")
async def comm_ban_member_left(ctx):
    w = await world(ctx, names=("bob", "carol"))
    await ban(ctx, w["owner"], w.cid, w["bob"])
    await w["carol"].expect_type("community.member.left", lambda p: p.get("memberDID") == w.did("bob"))


@case("COMM-017", area="community", reqs=["R-COMM-20"], types=["community.ban/c2s", "error/s2c"],
      title="Banning oneself is refused with INVALID",
      sends="the creator sends community.ban with its own DID",
      expects="error INVALID; no community.ban.applied; the creator's connection stays open")
async def comm_ban_self(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    await owner.send("community.ban", {"communityId": w.cid, "targetDID": owner.did})
    await owner.expect_error("INVALID")
    await owner.expect_none("community.ban.applied")
    await owner.expect_open(within=0.05)


@case("COMM-018", area="community", reqs=["R-AUTHZ-22", "R-AUTHZ-18"], types=["community.ban/c2s",
                                                                             "community.kick/c2s", "error/s2c"],
      title="Nobody can ban or kick the owner, and a non-member cannot be kicked",
      sends="bob (admin by role) bans and kicks the creator; the creator kicks a DID that never joined",
      expects="FORBIDDEN, FORBIDDEN, NOT_FOUND; nothing applied or broadcast")
async def comm_ban_owner_or_stranger(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    rid = await create_role(ctx, owner, w.cid, permissions=["admin"])
    await assign_role(ctx, owner, w.cid, bob.did, rid)
    await asyncio.sleep(0.1)
    for c in w.conns.values():
        c.drain()
    for t in ("community.ban", "community.kick"):
        await bob.send(t, {"communityId": w.cid, "targetDID": owner.did})
        await bob.expect_error("FORBIDDEN")
    stranger = ctx.identity("stranger").did
    await owner.send("community.kick", {"communityId": w.cid, "targetDID": stranger})
    await owner.expect_error("NOT_FOUND")
    await expect_silence(w.conns.values(), ["community.ban.applied", "member.kicked", "community.member.left"])


@case("COMM-019", area="community", reqs=["R-AUTHZ-14"], types=["community.ban/c2s", "error/s2c"],
      title="A ban closes every connection of the target, also one that never received the community's frames",
      sends="bob opens connection A, then joins on connection B; the creator bans bob",
      expects="both A and B get error BANNED and close 4003 (upstream closes only subscribed ones: G11)")
async def comm_ban_all_conns(ctx):
    owner = await ctx.connect("owner")
    cid, _, _ = await create_community(ctx, owner)
    bob_a = await ctx.connect("bob-a", identity=ctx.identity("bob"))
    bob_b = await ctx.connect("bob-b", identity=ctx.identity("bob"))
    await join(ctx, bob_b, cid)
    await owner.send("community.ban", {"communityId": cid, "targetDID": bob_b.did})
    await owner.expect_type("community.ban.applied")
    for c in (bob_b, bob_a):
        await c.expect_error("BANNED")
        await c.expect_close(4003)


@case("COMM-020", area="community", reqs=["R-COMM-21", "R-AUTH-20", "R-COMM-40"],
      types=["community.ban/c2s", "sync.state/c2s", "community.auto-joined/s2c"],
      title="A banned DID's login resync leaves the community out and it receives none of its frames",
      sends="bob is banned, logs in again; the owner then posts a message",
      expects="no community.auto-joined/community.info.response for it at bob's new connection, and no "
              "channel.message (upstream re-subscribes banned DIDs: G11)")
async def comm_ban_resync(ctx):
    w = await world(ctx, names=("bob",))
    await ban(ctx, w["owner"], w.cid, w["bob"])
    bob2 = await ctx.connect("bob-again", identity=ctx.identity("bob"))
    await bob2.expect_none(lambda f: (f.get("payload") or {}).get("communityId") == w.cid,
                           what="a resync frame for the community it is banned from")
    await send_message(ctx, w["owner"], w.cid, w.chid, "after the ban")
    await bob2.expect_none("channel.message")


@case("COMM-021", area="community", reqs=["R-COMM-24", "R-COMM-26"],
      types=["community.unban/c2s", "community.unban.applied/s2c"],
      title="community.unban answers the admin with community.unban.applied",
      sends="the creator bans bob, then unbans him",
      expects="community.unban.applied {communityId, targetDID} (sender \"server\") at the creator only")
async def comm_unban(ctx):
    w = await world(ctx, names=("bob", "carol"))
    await ban(ctx, w["owner"], w.cid, w["bob"])
    await w["owner"].send("community.unban", {"communityId": w.cid, "targetDID": w.did("bob")})
    f = await w["owner"].expect_type("community.unban.applied")
    ctx.check(f["sender"] == "server" and f["payload"] == {"communityId": w.cid, "targetDID": w.did("bob")},
              f"unban.applied wrong: {f}")
    await w["carol"].expect_none("community.unban.applied")


@case("COMM-022", area="community", reqs=["R-COMM-25", "R-AUTHZ-17"],
      types=["community.unban/c2s", "community.join/c2s", "channel.send/c2s"],
      title="After an unban the DID is not a member until it joins again",
      sends="ban bob, unban bob, bob logs in and sends channel.send, then community.join, then channel.send",
      expects="NOT_MEMBER for the first send, a join-shape community.updated, then the message is delivered")
async def comm_unban_rejoin(ctx):
    w = await world(ctx, names=("bob",))
    await ban(ctx, w["owner"], w.cid, w["bob"])
    await w["owner"].send("community.unban", {"communityId": w.cid, "targetDID": w.did("bob")})
    await w["owner"].expect_type("community.unban.applied")
    bob2 = await ctx.connect("bob-again", identity=ctx.identity("bob"))
    await bob2.send("channel.send", message_payload(w.cid, w.chid, "not yet"))
    await bob2.expect_error("NOT_MEMBER")
    await join(ctx, bob2, w.cid)
    await send_message(ctx, bob2, w.cid, w.chid, "back again")


@case("COMM-023", area="community", reqs=["R-COMM-27", "R-COMM-30"],
      types=["community.kick/c2s", "member.kicked/s2c", "error/s2c"],
      title="community.kick broadcasts member.kicked to everyone incl. the target, then KICKED; no close",
      sends="the creator kicks bob with reason \"bye\"",
      expects="member.kicked {communityId, targetDID, reason} (sender = creator) at creator, bob and carol; "
              "then error KICKED with message \"bye\" at bob; bob's connection stays open")
async def comm_kick(ctx):
    w = await world(ctx, names=("bob", "carol"))
    owner, bob = w["owner"], w["bob"]
    await owner.send("community.kick", {"communityId": w.cid, "targetDID": bob.did, "reason": "bye"})
    for f in await expect_at(w.conns.values(), "member.kicked"):
        ctx.check(f["sender"] == owner.did and f["payload"].get("targetDID") == bob.did
                  and f["payload"].get("reason") == "bye", f"member.kicked wrong: {f}")
    e = await bob.expect_error("KICKED")
    ctx.check((e.get("payload") or {}).get("message") == "bye", f"KICKED message {e.get('payload')}")
    await bob.expect_open()


@case("COMM-024", area="community", reqs=["R-COMM-28"], types=["community.kick/c2s", "error/s2c"],
      title="Kicking oneself is refused with INVALID",
      sends="the creator kicks itself",
      expects="error INVALID; no member.kicked")
async def comm_kick_self(ctx):
    w = await world(ctx, names=("bob",))
    await w["owner"].send("community.kick", {"communityId": w.cid, "targetDID": w.did("owner")})
    await w["owner"].expect_error("INVALID")
    await expect_silence(w.conns.values(), ["member.kicked"])


@case("COMM-025", area="community", reqs=["R-COMM-29", "R-AUTHZ-18"],
      types=["community.kick/c2s", "channel.send/c2s", "community.join/c2s"],
      title="A kicked DID receives nothing more from the community on any connection and may join again",
      sends="bob (2 connections, one opened before joining) is kicked; the owner posts; bob sends; bob joins again",
      expects="no channel.message at either bob connection; NOT_MEMBER; the rejoin is accepted "
              "(upstream keeps unsubscribed connections' deliveries: G30)")
async def comm_kick_effect(ctx):
    owner = await ctx.connect("owner")
    cid, chid, _ = await create_community(ctx, owner)
    bob_a = await ctx.connect("bob-a", identity=ctx.identity("bob"))
    bob_b = await ctx.connect("bob-b", identity=ctx.identity("bob"))
    await join(ctx, bob_b, cid)
    await owner.send("community.kick", {"communityId": cid, "targetDID": bob_b.did})
    await owner.expect_type("member.kicked")
    await asyncio.sleep(0.1)
    bob_a.drain()
    bob_b.drain()
    await send_message(ctx, owner, cid, chid, "after kick")
    await expect_silence([bob_a, bob_b], ["channel.message"])
    await bob_a.send("channel.send", message_payload(cid, chid, "am I in?"))
    await bob_a.expect_error("NOT_MEMBER")
    await join(ctx, bob_a, cid)


@case("COMM-026", area="community", reqs=["R-COMM-31", "R-COMM-33"],
      types=["community.info/c2s", "community.info.response/s2c"],
      title="community.info answers the requester with info, members and onlineMembers",
      sends="bob (no display name set) is a member; the owner sends community.info",
      expects="community.info.response {communityId, info {id, name, creatorDID, createdAt, memberCount: 2}, "
              "members (did, displayName = the DID, status, linked), onlineMembers} at the owner only")
async def comm_info(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await owner.send("community.info", {"communityId": w.cid})
    f = await owner.expect_type("community.info.response")
    p = f["payload"]
    info = p.get("info") or {}
    ctx.check(p.get("communityId") == w.cid and info.get("id") == w.cid, f"ids wrong: {p}")
    ctx.check(info.get("creatorDID") == owner.did and info.get("memberCount") == 2, f"info wrong: {info}")
    members = {m.get("did"): m for m in p.get("members") or []}
    ctx.check(set(members) == {owner.did, bob.did}, f"members {list(members)}")
    ctx.check(members[bob.did].get("displayName") == bob.did, f"bob's view {members[bob.did]} (no name set)")
    for m in members.values():
        ctx.check(m.get("status") in ("online", "idle", "dnd", "offline") and isinstance(m.get("linked"), bool),
                  f"MemberView incomplete: {m}")
    ctx.check(isinstance(p.get("onlineMembers"), list), "onlineMembers missing")
    await bob.expect_none("community.info.response", what="another member's info reply")


@case("COMM-027", area="community", reqs=["R-COMM-34", "R-COMM-35"],
      types=["community.list/c2s", "community.list.response/s2c"],
      title="community.list (with {} or no payload) lists every community with its channels",
      sends="a community with a description exists; a non-member sends community.list {} and community.list with no payload",
      expects="two community.list.response; the community's entry has id, name, description, creatorDID, "
              "createdAt, memberCount 1 and channels [{id, name, type}]")
async def comm_list(ctx):
    owner = await ctx.connect("owner")
    cid, chid, _ = await create_community(ctx, owner, description="about")
    other = await ctx.connect("other")
    env = other.envelope("community.list", {})
    del env["payload"]
    for send in (lambda: other.send("community.list", {}), lambda: other.send_frame(env)):
        await send()
        f = await other.expect_type("community.list.response")
        e = [c for c in f["payload"].get("communities") or [] if c.get("id") == cid]
        ctx.check(len(e) == 1, f"community {cid} not listed once")
        e = e[0]
        ctx.check(e.get("description") == "about" and e.get("creatorDID") == owner.did
                  and e.get("memberCount") == 1 and isinstance(e.get("createdAt"), str), f"entry {e}")
        ctx.check([(c.get("id"), c.get("type")) for c in e.get("channels") or []] == [(chid, "text")],
                  f"channels {e.get('channels')}")


@case("COMM-028", area="community", reqs=["R-COMM-36", "R-AUTHZ-5"],
      types=["community.member.reconciled/c2s", "error/s2c"],
      title="community.member.reconciled naming another DID is refused and subscribes nobody (G6)",
      sends="eve sends community.member.reconciled {did: bob, reconciledCommunities: [the owner's community]}",
      expects="error FORBIDDEN at eve; no community.auto-joined at bob; bob then receives no channel.message")
async def comm_reconciled_forged(ctx):
    owner = await ctx.connect("owner")
    cid, chid, _ = await create_community(ctx, owner)
    bob = await ctx.connect("bob")
    eve = await ctx.connect("eve")
    await eve.send("community.member.reconciled", {"did": bob.did, "reconciledCommunities": [cid]})
    await eve.expect_error("FORBIDDEN")
    await bob.expect_none("community.auto-joined")
    await send_message(ctx, owner, cid, chid, "members only")
    await bob.expect_none("channel.message")


@case("COMM-029", area="community", reqs=["R-COMM-37"],
      types=["community.member.reconciled/c2s", "community.auto-joined/s2c"],
      title="A valid community.member.reconciled re-announces the community to every connection of the DID",
      sends="bob (member, 2 connections) sends community.member.reconciled {did: bob, reconciledCommunities: [cid]}",
      expects="community.auto-joined {communityId, communityName, channels: [{id, name, type}]} at both")
async def comm_reconciled_ok(ctx):
    w = await world(ctx, names=("bob",))
    bob2 = await ctx.connect("bob-2", identity=ctx.identity("bob"))
    await asyncio.sleep(0.1)
    bob2.drain()
    await w["bob"].send("community.member.reconciled", {"did": w.did("bob"), "reconciledCommunities": [w.cid]})
    for f in await expect_at([w["bob"], bob2], "community.auto-joined", lambda p: p.get("communityId") == w.cid):
        p = f["payload"]
        ctx.check(isinstance(p.get("communityName"), str)
                  and [c.get("id") for c in p.get("channels") or []] == [w.chid], f"reconcile shape wrong: {p}")


@case("COMM-030", area="community", reqs=["R-COMM-39", "R-AUTH-18"],
      types=["sync.state/c2s", "community.auto-joined/s2c", "community.info.response/s2c"],
      title="Login announces each community of the DID: community.auto-joined then community.info.response",
      sends="a member logs in on a new connection",
      expects="after the auth-ok sync.response: community.auto-joined {communityId, communityName, channels, "
              "members} then community.info.response for that community, both with sender \"server\"")
async def comm_resync(ctx):
    w = await world(ctx, names=("bob",))
    bob2 = await ctx.connect("bob-2", identity=ctx.identity("bob"))
    a = await bob2.expect_type("community.auto-joined", lambda p: p.get("communityId") == w.cid)
    i = await bob2.expect_type("community.info.response", lambda p: p.get("communityId") == w.cid)
    ctx.check(a["sender"] == "server" and i["sender"] == "server", "resync frames not from \"server\"")
    ctx.check([c.get("id") for c in a["payload"].get("channels") or []] == [w.chid], f"channels {a['payload']}")
    ctx.check({m.get("did") for m in a["payload"].get("members") or []} == {w.did("owner"), w.did("bob")},
              f"members {a['payload'].get('members')}")


@case("COMM-031", area="community", reqs=["R-PERS-2", "R-PERS-3", "R-COMM-1"],
      types=["community.create/c2s", "community.join/c2s", "community.list/c2s", "community.auto-joined/s2c"],
      needs=["restart"], timeout=40,
      title="Communities, channels and memberships survive a restart",
      sends="create a community (description), bob joins; restart; bob logs in; community.list; bob sends a message",
      expects="bob's resync announces the community; community.list shows name, description, memberCount 2 and "
              "the channel; bob's message is delivered")
async def comm_persist(ctx):
    require_restart(ctx)
    owner = await ctx.connect("owner")
    cid, chid, _ = await create_community(ctx, owner, name=unique(ctx, "p"), description="kept")
    bob = await ctx.connect("bob")
    await join(ctx, bob, cid)
    await restart(ctx)
    bob2 = await ctx.connect("bob-after", identity=ctx.identity("bob"))
    await bob2.expect_type("community.auto-joined", lambda p: p.get("communityId") == cid)
    await bob2.send("community.list", {})
    f = await bob2.expect_type("community.list.response")
    e = [c for c in f["payload"].get("communities") or [] if c.get("id") == cid]
    ctx.check(e and e[0].get("description") == "kept" and e[0].get("memberCount") == 2
              and [c.get("id") for c in e[0].get("channels") or []] == [chid], f"after restart: {e}")
    await send_message(ctx, bob2, cid, chid, "after restart")


@case("COMM-032", area="community", reqs=["R-PERS-4", "R-COMM-21", "R-AUTHZ-12"],
      types=["community.ban/c2s", "community.join/c2s", "error/s2c"], needs=["restart"], timeout=40,
      title="A ban survives a restart",
      sends="ban bob; restart; bob logs in and sends community.join",
      expects="no resync for the community; error BANNED and close 4003 on the join")
async def comm_ban_persist(ctx):
    require_restart(ctx)
    w = await world(ctx, names=("bob",))
    await ban(ctx, w["owner"], w.cid, w["bob"])
    await restart(ctx)
    bob2 = await ctx.connect("bob-after", identity=ctx.identity("bob"))
    await bob2.expect_none("community.auto-joined")
    await bob2.send("community.join", {"communityId": w.cid})
    await bob2.expect_error("BANNED")
    await bob2.expect_close(4003)


@case("COMM-033", area="community", reqs=["R-COMM-16", "R-PERS-2"],
      types=["community.update/c2s", "community.info/c2s"], needs=["restart"], timeout=40,
      title="community.update survives a restart",
      sends="the creator renames the community; restart; community.info",
      expects="info.name is the new name")
async def comm_update_persist(ctx):
    require_restart(ctx)
    w = await world(ctx, names=())
    await w["owner"].send("community.update", {"communityId": w.cid, "name": "renamed-kept"})
    await w["owner"].expect_type("community.updated", lambda p: p.get("name") == "renamed-kept")
    await restart(ctx)
    o2 = await ctx.connect("owner-after", identity=ctx.identity("owner"))
    await asyncio.sleep(0.1)
    o2.drain()
    await o2.send("community.info", {"communityId": w.cid})
    f = await o2.expect_type("community.info.response")
    ctx.check((f["payload"].get("info") or {}).get("name") == "renamed-kept", f"info {f['payload'].get('info')}")


@case("COMM-034", area="community", reqs=["R-COMM-2"], types=["community.create/c2s", "community.updated/s2c"],
      title="rootCapability and membershipVC name the creator and verify under the server's own key (G7)",
      sends="community.create",
      expects="membershipVC: CommunityMembershipCredential for the creator, community = the id, role admin, a valid "
              "signature by a did:key that is not the creator; rootCapability: invoker = creator, valid signature "
              "by its stated signer, which is not the creator")
async def comm_credentials(ctx):
    from ..crypto import didkey, proofs
    owner = await ctx.connect("owner")
    cid, _, p = await create_community(ctx, owner)

    def verified(obj):
        proof = obj.get("proof") or {}
        vm = proof.get("verificationMethod") or ""
        doc = didkey.resolve(vm.split("#")[0])
        key = didkey.public_key_from_document(doc, vm) if doc else None
        return key is not None and proofs.verify_proof(proofs.without_proof(obj), proof, key, proofs.COMPAT), \
            vm.split("#")[0]

    vc, cap = p.get("membershipVC") or {}, p.get("rootCapability") or {}
    subj = vc.get("credentialSubject") or {}
    ctx.check("CommunityMembershipCredential" in (vc.get("type") or []) and subj.get("id") == owner.did
              and subj.get("community") == cid and subj.get("role") == "admin", f"membershipVC content {vc}")
    ok, signer = verified(vc)
    ctx.check(ok and signer == vc.get("issuer") and signer != owner.did,
              f"membershipVC does not verify under a server key (signer {signer!r}, issuer {vc.get('issuer')!r})")
    ctx.check(cap.get("invoker") == owner.did, f"rootCapability invoker {cap.get('invoker')!r}")
    ok, signer = verified(cap)
    ctx.check(ok and signer != owner.did, f"rootCapability does not verify under a server key (signer {signer!r})")


@case("COMM-035", area="community", reqs=["R-LIM-3", "R-CHAN-2"],
      types=["community.ban/c2s", "community.kick/c2s", "error/s2c"],
      title="ban and kick bound reason and require a DID-shaped target",
      sends="community.kick with reason of 501; community.ban with targetDID \"bob\" (no did: prefix); "
            "community.ban with a 257-character targetDID",
      expects="three error INVALID_PAYLOAD; bob stays a member (no member.kicked, no close)")
async def comm_ban_kick_limits(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    for t, p in (("community.kick", {"targetDID": w.did("bob"), "reason": "r" * 501}),
                 ("community.ban", {"targetDID": "bob"}),
                 ("community.ban", {"targetDID": "did:key:z" + "x" * 248})):
        await owner.send(t, dict({"communityId": w.cid}, **p))
        await owner.expect_error("INVALID_PAYLOAD")
    await expect_silence(w.conns.values(), ["member.kicked", "community.ban.applied"])
    await w["bob"].expect_open(within=0.05)


@case("COMM-036", area="community", reqs=["R-AUTHZ-18", "R-COMM-21"],
      types=["community.kick/c2s", "community.ban/c2s", "community.ban.applied/s2c", "community.join/c2s",
             "error/s2c"],
      title="A DID that was kicked (or never joined) can still be banned, and the ban keeps it out",
      sends="the creator kicks bob, then bans him; bob joins again",
      expects="community.ban.applied to the creator with no community.member.left broadcast; bob's join gets "
              "error BANNED and close 4003")
async def comm_ban_after_kick(ctx):
    w = await world(ctx, names=("bob", "carol"))
    owner, bob, carol = w["owner"], w["bob"], w["carol"]
    await owner.send("community.kick", {"communityId": w.cid, "targetDID": bob.did})
    await owner.expect_type("member.kicked", lambda p: p.get("targetDID") == bob.did)
    await carol.expect_type("member.kicked", lambda p: p.get("targetDID") == bob.did)
    await owner.send("community.ban", {"communityId": w.cid, "targetDID": bob.did})
    await owner.expect_type("community.ban.applied", lambda p: p.get("targetDID") == bob.did)
    await carol.expect_none("community.member.left", what="a member.left for a DID that was no member")
    bob2 = await ctx.connect("bob-again", identity=ctx.identity("bob"))
    await bob2.send("community.join", {"communityId": w.cid})
    await bob2.expect_error("BANNED")
    await bob2.expect_close(4003)
