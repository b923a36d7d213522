"""The authorization matrix for the session, channel, channel-admin, community, members,
dm, threads and sync families.

Every c2s type of those families that needs authorization is tried
  AUTHZ-0nn  unauthenticated                 -> AUTH_REQUIRED, socket stays open (R-AUTH-14)
  AUTHZ-1nn  with a forged envelope sender   -> FORBIDDEN (R-AUTHZ-4)
  AUTHZ-2nn  as a non-member                 -> NOT_MEMBER (FORBIDDEN for channel.history)
  AUTHZ-3nn  as a banned former member       -> BANNED (+ close 4003 for channel.send and join)
  AUTHZ-4nn  as a member lacking a permission or authorship -> FORBIDDEN
and in every refused case no frame of the type's reply or broadcast types (registry) reaches
any connection of the case. Each payload is otherwise valid (real community, channel,
message, role and thread ids), so a server that skips the check carries the frame out and
is caught. Ids follow the order of the tables below: append new rows, never reorder.
"""
from __future__ import annotations

import asyncio

from ..core import case
from ._util import World, ban, effect_types, expect_silence, join, unique, world

# type -> (payload builder (w, me_did, other_did) -> dict, needs)
#   needs: "msg" (w.msg), "role" (w.role), "thread" (w.thread), "dm" (a DM from me to other)


def _c(w):
    return {"communityId": w.cid}


def _cc(w):
    return {"communityId": w.cid, "channelId": w.chid}


P = {
    "auth.token.request": (lambda w, me, o: {}, ()),
    "channel.send": (lambda w, me, o: dict(_cc(w), content="authz probe", nonce="n-authz"), ()),
    "channel.edit": (lambda w, me, o: dict(_cc(w), messageId=w.msg, content="edited by probe"), ("msg",)),
    "channel.delete": (lambda w, me, o: dict(_cc(w), messageId=w.msg), ("msg",)),
    "channel.typing": (lambda w, me, o: _cc(w), ()),
    "channel.reaction.add": (lambda w, me, o: dict(_cc(w), messageId=w.msg, emoji="+1"), ("msg",)),
    "channel.reaction.remove": (lambda w, me, o: dict(_cc(w), messageId=w.msg, emoji="+1"), ("msg",)),
    "channel.pin": (lambda w, me, o: dict(_cc(w), messageId=w.msg), ("msg",)),
    "channel.unpin": (lambda w, me, o: dict(_cc(w), messageId=w.msg), ("msg",)),
    "channel.pins.list": (lambda w, me, o: _cc(w), ()),
    "channel.history": (lambda w, me, o: _cc(w), ()),
    "channel.create": (lambda w, me, o: dict(_c(w), name="probe-channel", type="text"), ()),
    "channel.update": (lambda w, me, o: dict(_cc(w), name="renamed-by-probe"), ()),
    "channel.delete.admin": (lambda w, me, o: _cc(w), ()),
    "community.create": (lambda w, me, o: {"name": "authz-probe-community"}, ()),
    "community.join": (lambda w, me, o: dict(_c(w), membershipVC={}), ()),
    "community.leave": (lambda w, me, o: _c(w), ()),
    "community.update": (lambda w, me, o: dict(_c(w), name="renamed-by-probe"), ()),
    "community.ban": (lambda w, me, o: dict(_c(w), targetDID=o), ()),
    "community.unban": (lambda w, me, o: dict(_c(w), targetDID=o), ()),
    "community.kick": (lambda w, me, o: dict(_c(w), targetDID=o), ()),
    "community.info": (lambda w, me, o: _c(w), ()),
    "community.list": (lambda w, me, o: {}, ()),
    "community.member.reconciled": (lambda w, me, o: {"did": me, "reconciledCommunities": [w.cid]}, ()),
    "member.update": (lambda w, me, o: {"displayName": "probe-name"}, ()),
    "role.create": (lambda w, me, o: dict(_c(w), name="probe-role", permissions=["admin"]), ()),
    "role.update": (lambda w, me, o: dict(_c(w), roleId=w.role, name="probe-renamed"), ("role",)),
    "role.delete": (lambda w, me, o: dict(_c(w), roleId=w.role), ("role",)),
    "role.assign": (lambda w, me, o: dict(_c(w), memberDID=o, roleId=w.role), ("role",)),
    "role.remove": (lambda w, me, o: dict(_c(w), memberDID=o, roleId=w.role), ("role",)),
    "presence.update": (lambda w, me, o: {"status": "dnd"}, ()),
    "dm.send": (lambda w, me, o: {"recipientDID": o, "content": "authz probe dm"}, ()),
    "dm.edit": (lambda w, me, o: {"recipientDID": o, "messageId": w.dm, "content": "edited"}, ("dm",)),
    "dm.delete": (lambda w, me, o: {"recipientDID": o, "messageId": w.dm}, ("dm",)),
    "dm.typing": (lambda w, me, o: {"recipientDID": o}, ()),
    "dm.keyexchange": (lambda w, me, o: {"recipientDID": o, "senderPublicKey": list(range(32))}, ()),
    "thread.create": (lambda w, me, o: dict(_cc(w), parentMessageId=w.msg, name="probe-thread"), ("msg",)),
    "thread.send": (lambda w, me, o: {"threadId": w.thread, "content": "probe in thread"}, ("thread",)),
    "sync.request": (lambda w, me, o: _cc(w), ()),
}

# Order fixes the case ids: never reorder, only append.
ALL_TYPES = [
    "auth.token.request",
    "channel.send", "channel.edit", "channel.delete", "channel.typing", "channel.reaction.add",
    "channel.reaction.remove", "channel.pin", "channel.unpin", "channel.pins.list", "channel.history",
    "channel.create", "channel.update", "channel.delete.admin",
    "community.create", "community.join", "community.leave", "community.update", "community.ban",
    "community.unban", "community.kick", "community.info", "community.list", "community.member.reconciled",
    "member.update", "role.create", "role.update", "role.delete", "role.assign", "role.remove",
    "presence.update",
    "dm.send", "dm.edit", "dm.delete", "dm.typing", "dm.keyexchange",
    "thread.create", "thread.send", "sync.request",
]

COMMUNITY_SCOPED = [
    "channel.send", "channel.edit", "channel.delete", "channel.typing", "channel.reaction.add",
    "channel.reaction.remove", "channel.pin", "channel.unpin", "channel.pins.list", "channel.history",
    "channel.create", "channel.update", "channel.delete.admin",
    "community.leave", "community.update", "community.ban", "community.unban", "community.kick",
    "community.info", "community.member.reconciled",
    "role.create", "role.update", "role.delete", "role.assign", "role.remove",
    "thread.create", "thread.send", "sync.request",
]

# non-member: the requirement a type cites besides the general R-AUTHZ-8 (all SECURITY) and the code
NON_MEMBER = {t: (["R-AUTHZ-8"], "NOT_MEMBER") for t in COMMUNITY_SCOPED}
NON_MEMBER.update({
    "channel.pins.list": (["R-AUTHZ-8", "R-CHAN-45"], "NOT_MEMBER"),
    "community.info": (["R-AUTHZ-8", "R-COMM-32"], "NOT_MEMBER"),
    "community.leave": (["R-AUTHZ-8", "R-COMM-14"], "NOT_MEMBER"),
    "community.member.reconciled": (["R-AUTHZ-8", "R-COMM-36"], "NOT_MEMBER"),
    "thread.send": (["R-AUTHZ-8", "R-THR-8"], "NOT_MEMBER"),
    "sync.request": (["R-AUTHZ-8", "R-SYNC-2"], "NOT_MEMBER"),
    # upstream's own code for this type, and a MUST (upstream checks it)
    "channel.history": (["R-CHAN-49"], "FORBIDDEN"),
})

BANNED_TYPES = COMMUNITY_SCOPED + ["community.join"]
BANNED_CLOSES = {"channel.send", "community.join"}  # R-AUTHZ-15 (MUST): BANNED then close 4003

# non-admin / non-author: requirement ids (a MUST where upstream checks it too)
NON_ADMIN = {
    "channel.edit": ["R-CHAN-20"],
    "channel.delete": ["R-CHAN-24"],
    "channel.pin": ["R-CHAN-38"],
    "channel.unpin": ["R-CHAN-42"],
    "channel.create": ["R-CADM-2"],
    "channel.update": ["R-CADM-8"],
    "channel.delete.admin": ["R-CADM-12"],
    "community.update": ["R-COMM-17"],
    "community.ban": ["R-COMM-20"],
    "community.unban": ["R-COMM-24"],
    "community.kick": ["R-COMM-28"],
    "role.create": ["R-ROLE-2"],
    "role.update": ["R-ROLE-6"],
    "role.delete": ["R-ROLE-8"],
    "role.assign": ["R-ROLE-11"],
    "role.remove": ["R-ROLE-13"],
}
NON_ADMIN_ORDER = list(NON_ADMIN)


class _DummyWorld(World):
    dm = "dm-probe"


def _dummy_world() -> World:
    w = _DummyWorld(cid="community:00000000000000000000000000000000",
                    chid="community:00000000000000000000000000000000:channel:0000000000000000", conns={})
    w.msg, w.role, w.thread = "msg-probe", "role:0000000000000000", "thread-probe"
    return w


async def _prepare(ctx, w: World, needs, me_name: str, other_name: str):
    """Create what the payload refers to: a DM from me to other (the rest comes from world())."""
    w.dm = None
    if "dm" in needs:
        me, other = w[me_name], w[other_name]
        env = await me.send("dm.send", {"recipientDID": other.did, "content": "dm to edit"})
        await other.expect_type("dm.message", lambda p: True, what="the setup DM at its recipient")
        w.dm = env["id"]
        await asyncio.sleep(0.05)
        for c in w.conns.values():
            c.drain()


def _world_flags(needs):
    return dict(msg="msg" in needs, role="role" in needs, thread="thread" in needs)


# ---- AUTHZ-0nn: unauthenticated -------------------------------------------------------------------


def _unauth_case(n, t):
    @case(f"AUTHZ-{n:03d}", area="authz", reqs=["R-AUTH-14"], types=[f"{t}/c2s", "error/s2c"],
          title=f"{t} before authentication gets AUTH_REQUIRED",
          sends=f"{t} with a well-formed payload on a connection that has not authenticated",
          expects="error AUTH_REQUIRED; no other frame; the connection stays open")
    async def fn(ctx):
        c = await ctx.connect("anon", auth=False)
        ident = ctx.identity("anon")
        builder, _ = P[t]
        await c.send(t, builder(_dummy_world(), ident.did, ctx.identity("other").did), sender=ident.did)
        await c.expect_error("AUTH_REQUIRED")
        await c.expect_none(lambda f: f.get("type") != "error", what="a frame other than the error")
        await c.expect_open(within=0.05)
    return fn


for _i, _t in enumerate(ALL_TYPES, start=1):
    _unauth_case(_i, _t)


# ---- AUTHZ-1nn: forged envelope sender ------------------------------------------------------------


def _forged_case(n, t):
    @case(f"AUTHZ-{100 + n:03d}", area="authz", reqs=["R-AUTHZ-4"], types=[f"{t}/c2s", "error/s2c"],
          title=f"{t} with a forged envelope sender is refused with FORBIDDEN",
          sends=f"{t} from the community's creator (allowed to do it) with envelope sender = another member's DID",
          expects=f"error FORBIDDEN to the sender; none of {', '.join(effect_types_static(t)) or 'no frames'} "
                  "anywhere (upstream ignores or trusts the sender: G5, G14)")
    async def fn(ctx):
        builder, needs = P[t]
        actor_name = "carol" if t == "community.join" else "owner"
        w = await world(ctx, names=("bob",), **_world_flags(needs))
        await _prepare(ctx, w, needs, "owner", "bob")
        if actor_name == "carol":
            w.conns["carol"] = await ctx.connect("carol")
        actor, bob = w[actor_name], w["bob"]
        await actor.send(t, builder(w, actor.did, bob.did), sender=bob.did)
        await actor.expect_error("FORBIDDEN")
        await expect_silence(w.conns.values(), effect_types(ctx, t))
    return fn


def effect_types_static(t):
    from ..spec import Registry
    global _REG
    try:
        _REG
    except NameError:
        _REG = Registry()
    e = _REG.entry(t, "c2s") or {}
    return sorted(set((e.get("reply") or []) + [b["type"] for b in e.get("broadcast") or []]))


for _i, _t in enumerate(ALL_TYPES, start=1):
    _forged_case(_i, _t)


# ---- AUTHZ-2nn: non-member ------------------------------------------------------------------------


def _non_member_case(n, t):
    reqs, code = NON_MEMBER[t]

    @case(f"AUTHZ-{200 + n:03d}", area="authz", reqs=reqs, types=[f"{t}/c2s", "error/s2c"],
          title=f"{t} from a non-member is refused with {code}",
          sends=f"{t} naming a real community (and its channel, message, role, thread) from an "
                "authenticated DID that never joined it",
          expects=f"error {code}; none of {', '.join(effect_types_static(t)) or 'no frames'} at the members "
                  "or the sender")
    async def fn(ctx):
        builder, needs = P[t]
        w = await world(ctx, names=(), **_world_flags(needs))
        eve = await ctx.connect("eve")
        w.conns["eve"] = eve
        await eve.send(t, builder(w, eve.did, w["owner"].did))
        await eve.expect_error(code)
        await expect_silence(w.conns.values(), effect_types(ctx, t))
    return fn


for _i, _t in enumerate(COMMUNITY_SCOPED, start=1):
    _non_member_case(_i, _t)


# ---- AUTHZ-3nn: banned ------------------------------------------------------------------------------


def _banned_case(n, t):
    closes = t in BANNED_CLOSES
    reqs = ["R-AUTHZ-15", "R-CLOSE-3"] if closes else ["R-AUTHZ-16"]

    @case(f"AUTHZ-{300 + n:03d}", area="authz", reqs=reqs, types=[f"{t}/c2s", "community.ban/c2s", "error/s2c"],
          title=f"{t} from a banned DID is refused with BANNED" + (" and close 4003" if closes else ""),
          sends=f"a member is banned (its connection closes with 4003), logs in again and sends {t} "
                "for that community",
          expects="error BANNED " + ("then close 4003" if closes else "and the connection stays open")
                  + f"; none of {', '.join(effect_types_static(t)) or 'no frames'} anywhere"
                  + ("" if closes else " (upstream checks bans only on channel.send and join: G11)"))
    async def fn(ctx):
        builder, needs = P[t]
        w = await world(ctx, names=("mallory",), msg_author="mallory", **_world_flags(needs))
        owner = w["owner"]
        await ban(ctx, owner, w.cid, w["mallory"])
        await asyncio.sleep(0.1)
        owner.drain()
        m2 = await ctx.connect("mallory-again", identity=ctx.identity("mallory"))
        await asyncio.sleep(ctx.quiet)  # let any login resync arrive (COMM-020 judges it, not this case)
        m2.drain()
        owner.drain()
        w.conns["mallory-again"] = m2
        await m2.send(t, builder(w, m2.did, owner.did))
        await m2.expect_error("BANNED")
        if closes:
            await m2.expect_close(4003)
        else:
            await m2.expect_open(within=0.05)
        effects = effect_types(ctx, t)
        await expect_silence([owner], effects)
        await expect_silence([m2], [x for x in effects if x != "community.auto-joined"])
    return fn


for _i, _t in enumerate(BANNED_TYPES, start=1):
    _banned_case(_i, _t)


# ---- AUTHZ-4nn: member without the permission (or not the author) -------------------------------------


def _non_admin_case(n, t):
    reqs = NON_ADMIN[t]
    author = t in ("channel.edit", "channel.delete")

    @case(f"AUTHZ-{400 + n:03d}", area="authz", reqs=reqs, types=[f"{t}/c2s", "error/s2c"],
          title=f"{t} from a member without " + ("authorship or permission" if author else "the permission")
                + " is refused with FORBIDDEN",
          sends=f"{t} from a plain member (no role)"
                + (" on a message the creator wrote" if author else ", targeting another plain member"),
          expects=f"error FORBIDDEN; none of {', '.join(effect_types_static(t)) or 'no frames'} anywhere")
    async def fn(ctx):
        builder, needs = P[t]
        w = await world(ctx, names=("bob", "carol"), **_world_flags(needs))
        bob = w["bob"]
        await bob.send(t, builder(w, bob.did, w["carol"].did))
        await bob.expect_error("FORBIDDEN")
        await expect_silence(w.conns.values(), effect_types(ctx, t))
    return fn


for _i, _t in enumerate(NON_ADMIN_ORDER, start=1):
    _non_admin_case(_i, _t)


# ---- AUTHZ-5nn: order of checks ----------------------------------------------------------------------


@case("AUTHZ-501", area="authz", reqs=["R-AUTHZ-24"],
      types=["channel.send/c2s", "channel.edit/c2s", "role.update/c2s", "error/s2c"],
      title="When several checks fail, the first in the specified order decides the error",
      sends="a non-member: channel.send to an invented channel, channel.edit without content; a plain member: "
            "role.update of an invented role; a banned DID: channel.edit without messageId",
      expects="NOT_MEMBER (membership before existence), INVALID_PAYLOAD (payload before membership), "
              "FORBIDDEN (permission before existence), INVALID_PAYLOAD (payload before ban)")
async def authz_order(ctx):
    w = await world(ctx, names=("bob", "mallory"), msg=True)
    eve = await ctx.connect("eve")
    await eve.send("channel.send", {"communityId": w.cid, "channelId": w.chid + "-nope", "content": "x"})
    await eve.expect_error("NOT_MEMBER")
    await eve.send("channel.edit", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg})
    await eve.expect_error("INVALID_PAYLOAD")
    await w["bob"].send("role.update", {"communityId": w.cid, "roleId": "role:ffffffffffffffff", "name": "x"})
    await w["bob"].expect_error("FORBIDDEN")
    await ban(ctx, w["owner"], w.cid, w["mallory"])
    m2 = await ctx.connect("mallory-again", identity=ctx.identity("mallory"))
    await m2.send("channel.edit", {"communityId": w.cid, "channelId": w.chid, "content": "x"})
    await m2.expect_error("INVALID_PAYLOAD")
