"""Members, roles and presence: member.update, role.*, presence.update and presence.changed."""
from __future__ import annotations

import asyncio

from ..core import case
from ._util import (assign_role, create_community, create_role, expect_at, expect_silence, join,
                    require_restart, restart, world)


async def _info(ctx, conn, cid) -> dict:
    await conn.send("community.info", {"communityId": cid})
    f = await conn.expect_type("community.info.response", lambda p: p.get("communityId") == cid)
    return f["payload"]


def _view(info, did):
    return next((m for m in info.get("members") or [] if m.get("did") == did), None)


# ---- display names ---------------------------------------------------------------------------------


@case("MEMB-001", area="members", reqs=["R-MEMB-1", "R-MEMB-4"],
      types=["member.update/c2s", "community.member.updated/s2c", "community.info/c2s"],
      title="member.update is announced to the other members of each community and shown by community.info",
      sends="bob (member of two communities, 2 connections) sends member.update {displayName}",
      expects="community.member.updated {did = bob, displayName} (sender bob) at each community's "
              "other members and bob's second connection, not at the sending connection or an outsider; "
              "community.info then shows the name")
async def memb_update(ctx):
    w = await world(ctx, names=("bob",))
    carol = await ctx.connect("carol")
    cid2, _, _ = await create_community(ctx, carol)
    bob = w["bob"]
    await join(ctx, bob, cid2)
    bob2 = await ctx.connect("bob-2", identity=ctx.identity("bob"))
    outsider = await ctx.connect("outsider")
    await asyncio.sleep(0.1)
    for c in (w["owner"], carol, bob, bob2):
        c.drain()
    await bob.send("member.update", {"displayName": "Bobby"})
    # communityId in this frame is R-MEMB-5 (SHOULD): upstream sends only {did, displayName}
    for c in (w["owner"], carol):
        f = await c.expect_type("community.member.updated", lambda p: p.get("displayName") == "Bobby")
        ctx.check(f["sender"] == bob.did and f["payload"].get("did") == bob.did, f"{c.label}: {f}")
    await bob2.expect_type("community.member.updated")
    await expect_silence([bob, outsider], ["community.member.updated"])
    v = _view(await _info(ctx, w["owner"], w.cid), bob.did)
    ctx.check(v and v.get("displayName") == "Bobby", f"community.info shows {v}")


@case("MEMB-002", area="members", reqs=["R-MEMB-2"], types=["member.update/c2s", "error/s2c"],
      title="A missing, non-string, blank or over-long displayName is refused",
      sends="member.update {}, {displayName: 5}, {displayName: \"  \"}, {displayName: 101 chars}",
      expects="four error INVALID_PAYLOAD; no community.member.updated (upstream checks nothing: G21)")
async def memb_update_bad(ctx):
    w = await world(ctx, names=("bob",))
    for p in ({}, {"displayName": 5}, {"displayName": "  "}, {"displayName": "n" * 101}):
        await w["bob"].send("member.update", p)
        await w["bob"].expect_error("INVALID_PAYLOAD")
    await expect_silence(w.conns.values(), ["community.member.updated"])


@case("MEMB-003", area="members", reqs=["R-MEMB-3"], types=["member.update/c2s", "community.member.updated/s2c"],
      title="member.update changes only the sender's own name, whatever memberDID or roles it names",
      sends="bob sends member.update {displayName: \"Owner?\", memberDID: <owner>, roles: [\"admin\"]}",
      expects="the broadcast names bob; community.info shows the owner's name unchanged and bob without roles")
async def memb_update_other(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await bob.send("member.update", {"displayName": "Owner?", "memberDID": owner.did, "roles": ["admin"]})
    f = await owner.expect_type("community.member.updated")
    ctx.check(f["payload"].get("did") == bob.did, f"broadcast names {f['payload'].get('did')}")
    info = await _info(ctx, owner, w.cid)
    ctx.check((_view(info, owner.did) or {}).get("displayName") != "Owner?", "the owner's name was changed")
    await bob.send("community.update", {"communityId": w.cid, "name": "x"})
    await bob.expect_error("FORBIDDEN")


# ---- roles -------------------------------------------------------------------------------------------


@case("ROLE-001", area="members", reqs=["R-ROLE-1", "R-ROLE-5"], types=["role.create/c2s", "role.created/s2c"],
      title="role.create by the creator is broadcast as role.created to every member incl. the sender",
      sends="role.create {communityId, name, color, permissions: [\"channel.pin\"], position: 3}",
      expects="role.created {id: role:<hex>, communityId, name, color, permissions, position, createdBy = creator} "
              "at both members; not at an outsider")
async def role_create(ctx):
    w = await world(ctx, names=("bob",))
    outsider = await ctx.connect("outsider")
    owner = w["owner"]
    await owner.send("role.create", {"communityId": w.cid, "name": "mods", "color": "#ff0000",
                                     "permissions": ["channel.pin"], "position": 3})
    for f in await expect_at(w.conns.values(), "role.created"):
        p = f["payload"]
        ctx.check(str(p.get("id", "")).startswith("role:") and p.get("communityId") == w.cid
                  and p.get("name") == "mods" and p.get("color") == "#ff0000"
                  and p.get("permissions") == ["channel.pin"] and p.get("position") == 3
                  and p.get("createdBy") == owner.did, f"role {p}")
    await outsider.expect_none("role.created")


@case("ROLE-002", area="members", reqs=["R-ROLE-3"], types=["role.create/c2s", "error/s2c"],
      title="role.create with bad permissions or position is refused",
      sends="permissions \"admin\" (a string); 33 permissions; a 65-character permission; position -1; position 1.5",
      expects="five error INVALID_PAYLOAD; no role.created (upstream validates neither)")
async def role_create_bad(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    base = {"communityId": w.cid, "name": "r"}
    for p in (dict(base, permissions="admin"), dict(base, permissions=[f"p{i}" for i in range(33)]),
              dict(base, permissions=["p" * 65]), dict(base, position=-1), dict(base, position=1.5)):
        await owner.send("role.create", p)
        await owner.expect_error("INVALID_PAYLOAD")
    await owner.expect_none("role.created")


@case("ROLE-003", area="members", reqs=["R-CHAN-1", "R-LIM-2"], types=["role.create/c2s", "error/s2c"],
      title="role.create needs a name of at most 100",
      sends="role.create without name, then with a 101-character name",
      expects="two error INVALID_PAYLOAD")
async def role_create_name(ctx):
    w = await world(ctx, names=())
    for p in ({"communityId": w.cid}, {"communityId": w.cid, "name": "r" * 101}):
        await w["owner"].send("role.create", p)
        await w["owner"].expect_error("INVALID_PAYLOAD")
    await w["owner"].expect_none("role.created")


@case("ROLE-004", area="members", reqs=["R-ROLE-6", "R-ROLE-7"],
      types=["role.update/c2s", "role.updated/s2c", "error/s2c"],
      title="role.update is broadcast with the whole role; an unknown role is NOT_FOUND",
      sends="role.update {roleId, name: \"renamed\"}; then role.update with an invented roleId",
      expects="role.updated with every Role key and the new name at both members; then error NOT_FOUND")
async def role_update(ctx):
    w = await world(ctx, names=("bob",), role=True)
    owner = w["owner"]
    await owner.send("role.update", {"communityId": w.cid, "roleId": w.role, "name": "renamed"})
    for f in await expect_at(w.conns.values(), "role.updated"):
        p = f["payload"]
        ctx.check(p.get("id") == w.role and p.get("name") == "renamed" and p.get("createdBy") == owner.did
                  and isinstance(p.get("permissions"), list) and "position" in p, f"role.updated {p}")
    await owner.send("role.update", {"communityId": w.cid, "roleId": "role:ffffffffffffffff", "name": "x"})
    await owner.expect_error("NOT_FOUND")


@case("ROLE-005", area="members", reqs=["R-ROLE-8", "R-ROLE-10"],
      types=["role.delete/c2s", "role.deleted/s2c", "error/s2c"],
      title="role.delete is broadcast as role.deleted; an unknown role is NOT_FOUND",
      sends="role.delete {roleId}; then the same again",
      expects="role.deleted {communityId, roleId} at both members; then error NOT_FOUND")
async def role_delete(ctx):
    w = await world(ctx, names=("bob",), role=True)
    owner = w["owner"]
    await owner.send("role.delete", {"communityId": w.cid, "roleId": w.role})
    for f in await expect_at(w.conns.values(), "role.deleted"):
        ctx.check(f["payload"] == {"communityId": w.cid, "roleId": w.role}, f"role.deleted {f['payload']}")
    await owner.send("role.delete", {"communityId": w.cid, "roleId": w.role})
    await owner.expect_error("NOT_FOUND")


@case("ROLE-006", area="members", reqs=["R-ROLE-11", "R-MEMB-4"],
      types=["role.assign/c2s", "community.member.updated/s2c", "error/s2c"],
      title="role.assign is broadcast as community.member.updated (role.assigned); an unknown role is NOT_FOUND",
      sends="role.assign {memberDID: bob, roleId}; then with an invented roleId",
      expects="community.member.updated {communityId, did: bob, roleId, action: \"role.assigned\"} at both members "
              "incl. the sender; then error NOT_FOUND")
async def role_assign(ctx):
    w = await world(ctx, names=("bob",), role=True)
    owner, bob = w["owner"], w["bob"]
    await owner.send("role.assign", {"communityId": w.cid, "memberDID": bob.did, "roleId": w.role})
    for f in await expect_at(w.conns.values(), "community.member.updated"):
        ctx.check(f["payload"] == {"communityId": w.cid, "did": bob.did, "roleId": w.role,
                                   "action": "role.assigned"}, f"payload {f['payload']}")
    await owner.send("role.assign", {"communityId": w.cid, "memberDID": bob.did, "roleId": "role:ffffffffffffffff"})
    await owner.expect_error("NOT_FOUND")


@case("ROLE-007", area="members", reqs=["R-ROLE-12"], types=["role.assign/c2s", "error/s2c"],
      title="A role cannot be assigned to a DID that is not a member",
      sends="role.assign with memberDID = a connected DID that never joined",
      expects="error NOT_FOUND; no community.member.updated")
async def role_assign_non_member(ctx):
    w = await world(ctx, names=(), role=True)
    stranger = await ctx.connect("stranger")
    await w["owner"].send("role.assign", {"communityId": w.cid, "memberDID": stranger.did, "roleId": w.role})
    await w["owner"].expect_error("NOT_FOUND")
    await expect_silence([w["owner"], stranger], ["community.member.updated"])


@case("ROLE-008", area="members", reqs=["R-ROLE-12", "R-AUTHZ-21"],
      types=["role.assign/c2s", "community.ban/c2s", "community.ban.applied/s2c"],
      title="A member assigned a role holding admin can ban",
      sends="bob gets a role with [\"admin\"] and bans carol",
      expects="community.ban.applied at bob; carol closed with 4003 (upstream: only the creator is admin, G12)")
async def role_admin_bans(ctx):
    w = await world(ctx, names=("bob", "carol"))
    rid = await create_role(ctx, w["owner"], w.cid, permissions=["admin"])
    await assign_role(ctx, w["owner"], w.cid, w.did("bob"), rid)
    await w["bob"].send("community.ban", {"communityId": w.cid, "targetDID": w.did("carol")})
    await w["bob"].expect_type("community.ban.applied")
    await w["carol"].expect_close(4003)


@case("ROLE-009", area="members", reqs=["R-ROLE-13"],
      types=["role.remove/c2s", "community.member.updated/s2c"],
      title="role.remove is broadcast as community.member.updated (role.removed)",
      sends="role.assign then role.remove of the role for bob",
      expects="community.member.updated {communityId, did: bob, roleId, action: \"role.removed\"} at both members")
async def role_remove(ctx):
    w = await world(ctx, names=("bob",), role=True)
    owner, bob = w["owner"], w["bob"]
    await assign_role(ctx, owner, w.cid, bob.did, w.role)
    await owner.send("role.remove", {"communityId": w.cid, "memberDID": bob.did, "roleId": w.role})
    for f in await expect_at(w.conns.values(), "community.member.updated",
                             lambda p: p.get("action") == "role.removed"):
        ctx.check(f["payload"] == {"communityId": w.cid, "did": bob.did, "roleId": w.role,
                                   "action": "role.removed"}, f"payload {f['payload']}")


@case("ROLE-010", area="members", reqs=["R-ROLE-14"], types=["role.remove/c2s", "channel.pin/c2s", "error/s2c"],
      title="role.remove of an unknown role is NOT_FOUND; after a removal the permission is gone",
      sends="role.remove with an invented roleId; bob gets then loses a channel.pin role and tries to pin",
      expects="error NOT_FOUND; the pin is refused with FORBIDDEN")
async def role_remove_effect(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    owner, bob = w["owner"], w["bob"]
    await owner.send("role.remove", {"communityId": w.cid, "memberDID": bob.did, "roleId": "role:ffffffffffffffff"})
    await owner.expect_error("NOT_FOUND")
    rid = await create_role(ctx, owner, w.cid, permissions=["channel.pin"])
    await assign_role(ctx, owner, w.cid, bob.did, rid)
    await owner.send("role.remove", {"communityId": w.cid, "memberDID": bob.did, "roleId": rid})
    await owner.expect_type("community.member.updated", lambda p: p.get("action") == "role.removed")
    await bob.send("channel.pin", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg})
    await bob.expect_error("FORBIDDEN")


@case("ROLE-011", area="members", reqs=["R-ROLE-9"], types=["role.delete/c2s", "channel.pin/c2s", "error/s2c"],
      title="Deleting a role removes the permissions it granted",
      sends="bob holds a channel.pin role; the role is deleted; bob tries to pin",
      expects="error FORBIDDEN; no channel.message.pinned")
async def role_delete_effect(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    owner, bob = w["owner"], w["bob"]
    rid = await create_role(ctx, owner, w.cid, permissions=["channel.pin"])
    await assign_role(ctx, owner, w.cid, bob.did, rid)
    await owner.send("role.delete", {"communityId": w.cid, "roleId": rid})
    await expect_at(w.conns.values(), "role.deleted")
    await bob.send("channel.pin", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg})
    await bob.expect_error("FORBIDDEN")
    await expect_silence(w.conns.values(), ["channel.message.pinned"])


@case("ROLE-012", area="members", reqs=["R-AUTHZ-22"], types=["role.remove/c2s", "error/s2c"],
      title="Nobody can remove a role from the community's owner",
      sends="the owner holds a role; bob (admin by role) sends role.remove of it for the owner",
      expects="error FORBIDDEN; no community.member.updated")
async def role_remove_owner(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    admin = await create_role(ctx, owner, w.cid, permissions=["admin"])
    await assign_role(ctx, owner, w.cid, bob.did, admin)
    await assign_role(ctx, owner, w.cid, owner.did, admin)
    await asyncio.sleep(0.1)
    for c in w.conns.values():
        c.drain()
    await bob.send("role.remove", {"communityId": w.cid, "memberDID": owner.did, "roleId": admin})
    await bob.expect_error("FORBIDDEN")
    await expect_silence(w.conns.values(), ["community.member.updated"])


@case("ROLE-013", area="members", reqs=["R-ROLE-4", "R-PERS-5"],
      types=["role.create/c2s", "role.assign/c2s", "channel.pin/c2s", "community.auto-joined/s2c"],
      needs=["restart"], timeout=40,
      title="Roles and assignments survive a restart",
      sends="bob gets a channel.pin role; restart; bob logs in and pins a message",
      expects="bob's MemberInfo lists the role in the resync; channel.message.pinned with pinnedBy = bob")
async def role_persist(ctx):
    require_restart(ctx)
    w = await world(ctx, names=("bob",), msg=True)
    rid = await create_role(ctx, w["owner"], w.cid, permissions=["channel.pin"])
    await assign_role(ctx, w["owner"], w.cid, w.did("bob"), rid)
    await restart(ctx)
    bob = await ctx.connect("bob-after", identity=ctx.identity("bob"))
    a = await bob.expect_type("community.auto-joined", lambda p: p.get("communityId") == w.cid)
    me = [m for m in a["payload"].get("members") or [] if m.get("did") == bob.did]
    ctx.check(me and rid in (me[0].get("roles") or []), f"bob's MemberInfo after restart: {me}")
    await bob.send("channel.pin", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg})
    f = await bob.expect_type("channel.message.pinned")
    ctx.check(f["payload"].get("pinnedBy") == bob.did, f"pinned {f['payload']}")


# ---- presence ----------------------------------------------------------------------------------------


@case("PRES-001", area="members", reqs=["R-PRES-1"], types=["presence.update/c2s", "presence.changed/s2c"],
      title="presence.update is broadcast to those sharing a community, except the sending connection",
      sends="bob sends presence.update {status: \"dnd\", customStatus: \"busy\"} while an outsider is connected",
      expects="presence.changed {status dnd, customStatus busy} (sender bob) at the owner; none at bob or the outsider")
async def pres_update(ctx):
    w = await world(ctx, names=("bob",))
    outsider = await ctx.connect("outsider")
    bob = w["bob"]
    await bob.send("presence.update", {"status": "dnd", "customStatus": "busy"})
    f = await w["owner"].expect_type("presence.changed", lambda p: p.get("status") == "dnd")
    ctx.check(f["sender"] == bob.did and f["payload"].get("customStatus") == "busy", f"presence.changed {f}")
    await expect_silence([bob, outsider], ["presence.changed"])


@case("PRES-002", area="members", reqs=["R-PRES-2"], types=["presence.update/c2s", "error/s2c"],
      title="A null payload, an unknown status or an over-long customStatus is refused",
      sends="presence.update with payload null; {status: \"away\"}; {}; {status: online, customStatus: 129 chars}",
      expects="four error INVALID_PAYLOAD; no presence.changed (upstream broadcasts anything: G22)")
async def pres_update_bad(ctx):
    w = await world(ctx, names=("bob",))
    bob = w["bob"]
    env = bob.envelope("presence.update", None)
    await bob.send_frame(env)
    await bob.expect_error("INVALID_PAYLOAD")
    for p in ({"status": "away"}, {}, {"status": "online", "customStatus": "c" * 129}):
        await bob.send("presence.update", p)
        await bob.expect_error("INVALID_PAYLOAD")
    await expect_silence(w.conns.values(), ["presence.changed"])


@case("PRES-003", area="members", reqs=["R-PRES-3"], types=["presence.update/c2s", "presence.changed/s2c"],
      title="A connection sharing two communities with the sender gets one presence.changed",
      sends="owner and bob share two communities; bob sends presence.update",
      expects="exactly one presence.changed at the owner")
async def pres_once(ctx):
    w = await world(ctx, names=("bob",))
    cid2, _, _ = await create_community(ctx, w["owner"])
    await join(ctx, w["bob"], cid2)
    await asyncio.sleep(0.1)
    w["owner"].drain()
    await w["bob"].send("presence.update", {"status": "idle"})
    await w["owner"].expect_type("presence.changed")
    await w["owner"].expect_none("presence.changed", what="a second copy of the presence change")


@case("PRES-004", area="members", reqs=["R-PRES-5", "R-AUTH-18"],
      types=["sync.state/c2s", "presence.changed/s2c"],
      title="A member's login is announced as presence.changed online to the other members",
      sends="bob (member, offline) logs in",
      expects="presence.changed {status: online} with sender bob at the owner; none at an outsider")
async def pres_online(ctx):
    w = await world(ctx, names=("bob",))
    await w["bob"].close_quietly()
    await asyncio.sleep(0.2)
    w["owner"].drain()
    outsider = await ctx.connect("outsider")
    await ctx.connect("bob-again", identity=ctx.identity("bob"))
    f = await w["owner"].expect_type("presence.changed", lambda p: p.get("status") == "online")
    ctx.check(f["sender"] == w.did("bob"), f"sender {f['sender']}")
    await outsider.expect_none("presence.changed")


@case("PRES-005", area="members", reqs=["R-PRES-6", "R-AUTH-22"],
      types=["sync.state/c2s", "presence.changed/s2c", "community.info/c2s"],
      title="Presence is per DID: a second connection announces nothing, offline only when the last one closes",
      sends="bob opens a second connection, closes it, then closes the first",
      expects="no presence.changed for the second open or its close; offline after the last close; community.info "
              "then shows bob offline and not among onlineMembers (upstream: per connection, G29)")
async def pres_per_did(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    bob2 = await ctx.connect("bob-2", identity=ctx.identity("bob"))
    await owner.expect_none("presence.changed", what="presence for a second connection of an online DID")
    await bob2.close_quietly()
    await owner.expect_none("presence.changed", what="offline while another connection is open")
    await w["bob"].close_quietly()
    f = await owner.expect_type("presence.changed", lambda p: p.get("status") == "offline")
    ctx.check(f["sender"] == w.did("bob"), f"sender {f['sender']}")
    info = await _info(ctx, owner, w.cid)
    ctx.check((_view(info, w.did("bob")) or {}).get("status") == "offline", f"bob's view {info.get('members')}")
    ctx.check(w.did("bob") not in [m.get("did") for m in info.get("onlineMembers") or []], "bob listed online")


@case("PRES-006", area="members", reqs=["R-PRES-4"],
      types=["presence.update/c2s", "community.info/c2s", "community.info.response/s2c"],
      title="community.info reports the status a member set, and online for a connected member who set none",
      sends="bob sets idle; the owner sends community.info",
      expects="bob's MemberView status idle; the owner's online; both in onlineMembers")
async def pres_in_info(ctx):
    w = await world(ctx, names=("bob",))
    await w["bob"].send("presence.update", {"status": "idle"})
    await w["owner"].expect_type("presence.changed")
    info = await _info(ctx, w["owner"], w.cid)
    ctx.check((_view(info, w.did("bob")) or {}).get("status") == "idle", f"bob {_view(info, w.did('bob'))}")
    ctx.check((_view(info, w.did("owner")) or {}).get("status") == "online", f"owner {_view(info, w.did('owner'))}")
    online = {m.get("did") for m in info.get("onlineMembers") or []}
    ctx.check({w.did("bob"), w.did("owner")} <= online, f"onlineMembers {online}")


@case("ROLE-014", area="members", reqs=["R-LIM-3"], types=["role.create/c2s", "role.update/c2s", "error/s2c"],
      title="Role color and name limits apply to role.create and role.update",
      sends="role.create with a 33-character color; role.update with a 101-character name",
      expects="two error INVALID_PAYLOAD; nothing broadcast")
async def role_limits(ctx):
    w = await world(ctx, names=(), role=True)
    owner = w["owner"]
    await owner.send("role.create", {"communityId": w.cid, "name": "r", "color": "c" * 33})
    await owner.expect_error("INVALID_PAYLOAD")
    await owner.send("role.update", {"communityId": w.cid, "roleId": w.role, "name": "n" * 101})
    await owner.expect_error("INVALID_PAYLOAD")
    await owner.expect_none(lambda f: f.get("type") in ("role.created", "role.updated"))


@case("MEMB-004", area="members", reqs=["R-MEMB-5"],
      types=["member.update/c2s", "community.member.updated/s2c"],
      title="community.member.updated names the community it is sent for",
      sends="bob, a member of two communities (owner's and carol's), sends member.update {displayName}",
      expects="the owner's frame carries communityId = the owner's community and carol's frame carries "
              "communityId = carol's community (upstream sends only {did, displayName})")
async def memb_update_names_community(ctx):
    w = await world(ctx, names=("bob",))
    carol = await ctx.connect("carol")
    cid2, _, _ = await create_community(ctx, carol)
    bob = w["bob"]
    await join(ctx, bob, cid2)
    await asyncio.sleep(0.1)
    for c in (w["owner"], carol):
        c.drain()
    await bob.send("member.update", {"displayName": "Bob Two"})
    for c, cid in ((w["owner"], w.cid), (carol, cid2)):
        f = await c.expect_type("community.member.updated", lambda p: p.get("displayName") == "Bob Two")
        ctx.check(f["payload"].get("communityId") == cid,
                  f"{c.label}: communityId {f['payload'].get('communityId')!r}, expected {cid}")
