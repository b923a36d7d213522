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


# ---- further channel cases (CHAN-007 ...) ------------------------------------------------------------

import asyncio  # noqa: E402

from ._util import (create_role, assign_role, expect_at, expect_silence, history, send_message,  # noqa: E402
                    sync, unique, world, restart)


@case("CHAN-007", area="channel", reqs=["R-CHAN-18", "R-ORD-3", "R-ORD-2"],
      types=["channel.send/c2s", "channel.message/s2c"],
      title="channel.message keeps the request id and timestamp and names the connection DID as sender",
      sends="channel.send with a chosen id, timestamp and an extra payload key",
      expects="channel.message at both members with that id and timestamp, sender = author DID, payload as sent")
async def chan_message_envelope(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    env = owner.envelope("channel.send", dict(message_payload(w.cid, w.chid, "kept"), extraKey={"a": [1, 2]}),
                         id=unique(ctx, "msgid"))
    env["timestamp"] = "2030-01-02T03:04:05.678Z"
    await owner.send_frame(env)
    for f in await expect_at(w.conns.values(), "channel.message", lambda p: p.get("content") == "kept"):
        ctx.check(f["id"] == env["id"], f"id {f['id']!r} != request id {env['id']!r}")
        ctx.check(f["timestamp"] == env["timestamp"], f"timestamp {f['timestamp']!r} != {env['timestamp']!r}")
        ctx.check(f["sender"] == owner.did, f"sender {f['sender']!r} != {owner.did}")
        ctx.check(f["payload"] == env["payload"], f"payload changed: {f['payload']} != {env['payload']}")
    await owner.expect_none("error", what="an error for an accepted message")


@case("CHAN-008", area="channel", reqs=["R-CHAN-11", "R-CHAN-4"], types=["channel.send/c2s", "error/s2c"],
      title="channel.send without content, or with a wrongly typed clock or attachments, is refused",
      sends="channel.send without content; with clock = \"x\"; with clock.counter = -1; with 11 attachments",
      expects="four error INVALID_PAYLOAD frames; no channel.message anywhere (upstream does not require content)")
async def chan_send_bad_fields(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    base = {"communityId": w.cid, "channelId": w.chid}
    for p in (dict(base),
              dict(base, content="c", clock="x"),
              dict(base, content="c", clock={"counter": -1, "authorDID": owner.did}),
              dict(base, content="c", attachments=[{"id": str(i)} for i in range(11)])):
        await owner.send("channel.send", p)
        await owner.expect_error("INVALID_PAYLOAD")
    await expect_silence(w.conns.values(), ["channel.message"])


@case("CHAN-009", area="channel", reqs=["R-CHAN-12"], types=["channel.send/c2s", "error/s2c"],
      title="channel.send to a channel of another community (or none) is refused with NOT_FOUND",
      sends="channel.send naming community A with the channel id of community B, and with an invented channel id",
      expects="two error NOT_FOUND; no channel.message in either community")
async def chan_send_wrong_channel(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    from ._util import create_community
    cid_b, chid_b, _ = await create_community(ctx, owner)
    await owner.send("channel.send", message_payload(w.cid, chid_b, "misplaced"))
    await owner.expect_error("NOT_FOUND")
    await owner.send("channel.send", message_payload(w.cid, w.chid + "-nope", "nowhere"))
    await owner.expect_error("NOT_FOUND")
    await owner.expect_none("channel.message")


@case("CHAN-010", area="channel", reqs=["R-ORD-5", "R-CHAN-14"], types=["channel.send/c2s", "error/s2c"],
      title="A replayed channel.send id is refused with CONFLICT and not delivered twice",
      sends="channel.send with id X, then another channel.send with the same id X and other content",
      expects="one channel.message per member; the second send gets error CONFLICT; history holds the first content")
async def chan_send_duplicate(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    mid = unique(ctx, "dup")
    await owner.send("channel.send", message_payload(w.cid, w.chid, "first"), id=mid)
    await expect_at(w.conns.values(), "channel.message", lambda p: p.get("content") == "first")
    await owner.send("channel.send", message_payload(w.cid, w.chid, "second"), id=mid)
    await owner.expect_error("CONFLICT")
    await expect_silence(w.conns.values(), ["channel.message"])
    h = await history(ctx, bob, w.cid, w.chid)
    got = [(m.get("id"), (m.get("payload") or {}).get("content")) for m in h.get("messages") or []]
    ctx.check(got == [(mid, "first")], f"history is {got}, expected only the first message")


@case("CHAN-011", area="channel", reqs=["R-ORD-4"], types=["channel.send/c2s", "error/s2c"],
      title="channel.send without an envelope id is refused with INVALID_MESSAGE",
      sends="a channel.send envelope with no `id` key",
      expects="error INVALID_MESSAGE; no channel.message")
async def chan_send_no_id(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    env = owner.envelope("channel.send", message_payload(w.cid, w.chid, "anonymous"))
    del env["id"]
    await owner.send_frame(env)
    await owner.expect_error("INVALID_MESSAGE")
    await expect_silence(w.conns.values(), ["channel.message"])


@case("CHAN-012", area="channel", reqs=["R-CHAN-19", "R-CHAN-22"],
      types=["channel.edit/c2s", "channel.message.updated/s2c"],
      title="channel.edit reaches every member connection except the editing one, the author's other connection included",
      sends="the author edits its message from connection 1 while it has a second connection",
      expects="channel.message.updated (request id, sender = author, messageId, new content) at the other member and "
              "at the author's second connection; nothing at the editing connection")
async def chan_edit_audience(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    owner, bob = w["owner"], w["bob"]
    owner2 = await ctx.connect("owner-2", identity=ctx.identity("owner"))
    await asyncio.sleep(0.1)
    owner2.drain()
    env = await owner.send("channel.edit", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg,
                                            "content": "edited text"})
    for f in await expect_at([bob, owner2], "channel.message.updated"):
        ctx.check(f["id"] == env["id"] and f["sender"] == owner.did, f"envelope id/sender wrong: {f}")
        p = f["payload"]
        ctx.check(p.get("messageId") == w.msg and p.get("content") == "edited text", f"payload wrong: {p}")
    await owner.expect_none("channel.message.updated", what="its own edit")


@case("CHAN-013", area="channel", reqs=["R-CHAN-21", "R-HIST-2"],
      types=["channel.edit/c2s", "channel.history/c2s", "channel.history.response/s2c"],
      title="An edit is stored: history returns the latest content marked edited",
      sends="channel.send, channel.edit of it, then channel.history and sync.request",
      expects="both show the edited content with edited:true and an editedAt string (upstream keeps the original: G25)")
async def chan_edit_stored(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    owner, bob = w["owner"], w["bob"]
    await owner.send("channel.edit", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg,
                                      "content": "after edit"})
    await bob.expect_type("channel.message.updated")
    for where, msgs in (("history", (await history(ctx, bob, w.cid, w.chid))["messages"]),
                        ("sync", (await sync(ctx, bob, w.cid, w.chid))["messages"])):
        m = [x for x in msgs if x.get("id") == w.msg]
        ctx.check(len(m) == 1, f"{where}: message {w.msg} not returned once: {msgs}")
        m = m[0]
        ctx.check((m.get("payload") or {}).get("content") == "after edit", f"{where}: content not edited: {m}")
        ctx.check(m.get("edited") is True and isinstance(m.get("editedAt"), str), f"{where}: no edited/editedAt: {m}")


@case("CHAN-014", area="channel", reqs=["R-CHAN-20"], types=["channel.edit/c2s", "error/s2c"],
      title="channel.edit of a message that does not exist in that channel is refused with NOT_FOUND",
      sends="channel.edit with an invented messageId",
      expects="error NOT_FOUND; no channel.message.updated anywhere (upstream relays it: G13)")
async def chan_edit_missing(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    await owner.send("channel.edit", {"communityId": w.cid, "channelId": w.chid, "messageId": "no-such-message",
                                      "content": "x"})
    await owner.expect_error("NOT_FOUND")
    await expect_silence(w.conns.values(), ["channel.message.updated"])


@case("CHAN-015", area="channel", reqs=["R-CHAN-1"], types=["channel.edit/c2s", "channel.delete/c2s", "error/s2c"],
      title="channel.edit and channel.delete without messageId (or with a blank one) are refused",
      sends="channel.edit without messageId; channel.delete with messageId = \"  \"",
      expects="two error INVALID_PAYLOAD; nothing broadcast")
async def chan_edit_delete_required(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    await owner.send("channel.edit", {"communityId": w.cid, "channelId": w.chid, "content": "x"})
    await owner.expect_error("INVALID_PAYLOAD")
    await owner.send("channel.delete", {"communityId": w.cid, "channelId": w.chid, "messageId": "  "})
    await owner.expect_error("INVALID_PAYLOAD")
    await expect_silence(w.conns.values(), ["channel.message.updated", "channel.message.deleted"])


@case("CHAN-016", area="channel", reqs=["R-CHAN-23", "R-CHAN-26"],
      types=["channel.delete/c2s", "channel.message.deleted/s2c"],
      title="channel.delete is broadcast to the members except the deleting connection",
      sends="the author deletes its message",
      expects="channel.message.deleted (request id, sender = author, messageId) at the other member; none at the author")
async def chan_delete_audience(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    owner, bob = w["owner"], w["bob"]
    env = await owner.send("channel.delete", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg})
    f = await bob.expect_type("channel.message.deleted")
    ctx.check(f["id"] == env["id"] and f["sender"] == owner.did, f"envelope id/sender wrong: {f}")
    ctx.check(f["payload"].get("messageId") == w.msg, f"messageId wrong: {f['payload']}")
    await owner.expect_none("channel.message.deleted", what="its own delete")


@case("CHAN-017", area="channel", reqs=["R-CHAN-25", "R-HIST-2"],
      types=["channel.delete/c2s", "channel.history/c2s", "sync.request/c2s"],
      title="A deleted message stays as a tombstone in history and disappears from sync",
      sends="two messages, delete the first, then channel.history and sync.request",
      expects="history: the first as {deleted:true} without content, the second intact; sync: only the second")
async def chan_delete_tombstone(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    m1 = await send_message(ctx, owner, w.cid, w.chid, "to be deleted")
    m2 = await send_message(ctx, owner, w.cid, w.chid, "to stay")
    await owner.send("channel.delete", {"communityId": w.cid, "channelId": w.chid, "messageId": m1})
    await bob.expect_type("channel.message.deleted", lambda p: p.get("messageId") == m1)
    h = (await history(ctx, bob, w.cid, w.chid))["messages"]
    ctx.check([m.get("id") for m in h] == [m1, m2], f"history ids {[m.get('id') for m in h]} != {[m1, m2]}")
    ctx.check(h[0].get("deleted") is True and "content" not in (h[0].get("payload") or {}),
              f"not a tombstone: {h[0]}")
    ctx.check((h[1].get("payload") or {}).get("content") == "to stay", f"second message changed: {h[1]}")
    s = (await sync(ctx, bob, w.cid, w.chid))["messages"]
    ctx.check([m.get("id") for m in s] == [m2], f"sync returned {[m.get('id') for m in s]}, expected [{m2}]")


@case("CHAN-018", area="channel", reqs=["R-AUTHZ-23"],
      types=["channel.delete/c2s", "role.create/c2s", "role.assign/c2s", "channel.message.deleted/s2c"],
      title="A member holding message.manage may delete another member's message",
      sends="bob gets a role with permission message.manage, then deletes carol's message",
      expects="channel.message.deleted at the other members; no error to bob")
async def chan_delete_message_manage(ctx):
    w = await world(ctx, names=("bob", "carol"))
    owner, bob, carol = w["owner"], w["bob"], w["carol"]
    mid = await send_message(ctx, carol, w.cid, w.chid, "carol's words")
    rid = await create_role(ctx, owner, w.cid, permissions=["message.manage"])
    await assign_role(ctx, owner, w.cid, bob.did, rid)
    await asyncio.sleep(0.1)
    for c in w.conns.values():
        c.drain()
    await bob.send("channel.delete", {"communityId": w.cid, "channelId": w.chid, "messageId": mid})
    await expect_at([owner, carol], "channel.message.deleted", lambda p: p.get("messageId") == mid)
    await bob.expect_none("error", what="an error for a permitted delete")


@case("CHAN-019", area="channel", reqs=["R-CHAN-25", "R-AUTHZ-11"],
      types=["channel.delete/c2s", "error/s2c"],
      title="channel.delete cannot reach a message of another community (G4)",
      sends="a member of community A deletes, naming A and its channel, the id of a message that lives in community B",
      expects="error NOT_FOUND; the message in B is unchanged in B's history")
async def chan_delete_cross_community(ctx):
    w = await world(ctx, names=())
    attacker = w["owner"]
    victim = await ctx.connect("victim")
    from ._util import create_community
    cid_b, chid_b, _ = await create_community(ctx, victim)
    mid = await send_message(ctx, victim, cid_b, chid_b, "victim's message")
    await attacker.send("channel.delete", {"communityId": w.cid, "channelId": w.chid, "messageId": mid})
    await attacker.expect_error("NOT_FOUND")
    h = (await history(ctx, victim, cid_b, chid_b))["messages"]
    ctx.check([(m.get("id"), (m.get("payload") or {}).get("content")) for m in h] == [(mid, "victim's message")],
              f"community B's history changed: {h}")


@case("CHAN-020", area="channel", reqs=["R-CHAN-29", "R-ORD-3"],
      types=["channel.typing/c2s", "channel.typing.indicator/s2c"],
      title="channel.typing.indicator carries the typer as sender, the request id and the channel",
      sends="channel.typing from bob",
      expects="channel.typing.indicator at the owner with the request id and timestamp, sender = bob, channelId")
async def chan_typing_shape(ctx):
    w = await world(ctx, names=("bob",))
    bob = w["bob"]
    env = bob.envelope("channel.typing", {"communityId": w.cid, "channelId": w.chid})
    await bob.send_frame(env)
    f = await w["owner"].expect_type("channel.typing.indicator")
    ctx.check(f["id"] == env["id"] and f["timestamp"] == env["timestamp"], f"id/timestamp not kept: {f}")
    ctx.check(f["sender"] == bob.did and f["payload"].get("channelId") == w.chid, f"sender/channel wrong: {f}")


@case("CHAN-021", area="channel", reqs=["R-CHAN-1"], types=["channel.typing/c2s", "error/s2c"],
      title="channel.typing without channelId is refused",
      sends="channel.typing {communityId} only",
      expects="error INVALID_PAYLOAD; no typing indicator anywhere")
async def chan_typing_missing(ctx):
    w = await world(ctx, names=("bob",))
    await w["bob"].send("channel.typing", {"communityId": w.cid})
    await w["bob"].expect_error("INVALID_PAYLOAD")
    await expect_silence(w.conns.values(), ["channel.typing.indicator"])


@case("CHAN-022", area="channel", reqs=["R-CHAN-30", "R-CHAN-33"],
      types=["channel.reaction.add/c2s", "channel.reaction.added/s2c"],
      title="channel.reaction.add is broadcast to every member including the reacting connection",
      sends="bob adds a reaction to the owner's message",
      expects="channel.reaction.added (request id, sender = bob, messageId, emoji, no DID in the payload) at "
              "owner and bob; not at a non-member")
async def chan_reaction_add(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    outsider = await ctx.connect("outsider")
    bob = w["bob"]
    env = await bob.send("channel.reaction.add", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg,
                                                  "emoji": "\U0001F44D"})
    for f in await expect_at(w.conns.values(), "channel.reaction.added"):
        ctx.check(f["id"] == env["id"] and f["sender"] == bob.did, f"envelope wrong: {f}")
        p = f["payload"]
        ctx.check(p.get("messageId") == w.msg and p.get("emoji") == "\U0001F44D", f"payload wrong: {p}")
        dids = [k for k, v in p.items() if isinstance(v, str) and v.startswith("did:")]
        ctx.check(not dids, f"payload carries a DID of its own in {dids}")
    await outsider.expect_none("channel.reaction.added", what="a reaction of a community it is not in")


@case("CHAN-023", area="channel", reqs=["R-CHAN-34", "R-CHAN-36"],
      types=["channel.reaction.remove/c2s", "channel.reaction.removed/s2c"],
      title="channel.reaction.remove is broadcast to every member including the removing connection",
      sends="bob adds then removes a reaction",
      expects="channel.reaction.removed (request id, sender = bob, messageId, emoji) at owner and bob")
async def chan_reaction_remove(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    bob = w["bob"]
    body = {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg, "emoji": "x"}
    await bob.send("channel.reaction.add", body)
    await expect_at(w.conns.values(), "channel.reaction.added")
    env = await bob.send("channel.reaction.remove", body)
    for f in await expect_at(w.conns.values(), "channel.reaction.removed"):
        ctx.check(f["id"] == env["id"] and f["sender"] == bob.did, f"envelope wrong: {f}")
        ctx.check(f["payload"].get("messageId") == w.msg and f["payload"].get("emoji") == "x", f"payload: {f}")


@case("CHAN-024", area="channel", reqs=["R-CHAN-31"], types=["channel.reaction.add/c2s", "error/s2c"],
      title="A reaction needs messageId and emoji and an existing message",
      sends="channel.reaction.add without emoji; without messageId; for an invented message id",
      expects="INVALID_PAYLOAD, INVALID_PAYLOAD, NOT_FOUND; no channel.reaction.added (upstream checks only communityId)")
async def chan_reaction_checks(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    bob = w["bob"]
    base = {"communityId": w.cid, "channelId": w.chid}
    await bob.send("channel.reaction.add", dict(base, messageId=w.msg))
    await bob.expect_error("INVALID_PAYLOAD")
    await bob.send("channel.reaction.add", dict(base, emoji="x"))
    await bob.expect_error("INVALID_PAYLOAD")
    await bob.send("channel.reaction.add", dict(base, messageId="no-such-message", emoji="x"))
    await bob.expect_error("NOT_FOUND")
    await expect_silence(w.conns.values(), ["channel.reaction.added"])


@case("CHAN-025", area="channel", reqs=["R-CHAN-32", "R-CHAN-35"],
      types=["channel.reaction.add/c2s", "channel.reaction.remove/c2s", "channel.history/c2s"],
      title="Reactions are stored per DID and a removal removes only the sender's own",
      sends="owner and bob react with the same emoji, bob removes his, then channel.history",
      expects="the message's reactions = [{emoji, dids:[owner]}] (upstream stores no reactions: G25)")
async def chan_reactions_stored(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    owner, bob = w["owner"], w["bob"]
    body = {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg, "emoji": "ok"}
    for c in (owner, bob):
        await c.send("channel.reaction.add", body)
        await c.expect_type("channel.reaction.added", lambda p, s=c: True)
    await bob.send("channel.reaction.remove", body)
    await bob.expect_type("channel.reaction.removed")
    m = [x for x in (await history(ctx, owner, w.cid, w.chid))["messages"] if x.get("id") == w.msg]
    ctx.check(m and m[0].get("reactions") == [{"emoji": "ok", "dids": [owner.did]}],
              f"reactions are {m[0].get('reactions') if m else None!r}, expected only the owner's")


@case("CHAN-026", area="channel", reqs=["R-CHAN-37", "R-CHAN-41", "R-AUTHZ-20"],
      types=["channel.pin/c2s", "channel.message.pinned/s2c"],
      title="channel.pin by the creator is broadcast with pinnedBy to every member including the pinner",
      sends="the creator pins a message",
      expects="channel.message.pinned {communityId, channelId, messageId, pinnedBy = sender = creator} at both "
              "members; not at a non-member")
async def chan_pin(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    outsider = await ctx.connect("outsider")
    owner = w["owner"]
    await owner.send("channel.pin", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg})
    for f in await expect_at(w.conns.values(), "channel.message.pinned"):
        p = f["payload"]
        ctx.check(p.get("messageId") == w.msg and p.get("channelId") == w.chid and p.get("communityId") == w.cid,
                  f"payload wrong: {p}")
        ctx.check(p.get("pinnedBy") == owner.did == f["sender"], f"pinnedBy/sender wrong: {f}")
    await outsider.expect_none("channel.message.pinned")


@case("CHAN-027", area="channel", reqs=["R-CHAN-42", "R-CHAN-43"],
      types=["channel.unpin/c2s", "channel.message.unpinned/s2c"],
      title="channel.unpin is broadcast with unpinnedBy to every member including the sender",
      sends="the creator pins then unpins a message",
      expects="channel.message.unpinned with unpinnedBy = sender = creator at both members")
async def chan_unpin(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    owner = w["owner"]
    body = {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg}
    await owner.send("channel.pin", body)
    await expect_at(w.conns.values(), "channel.message.pinned")
    await owner.send("channel.unpin", body)
    for f in await expect_at(w.conns.values(), "channel.message.unpinned"):
        p = f["payload"]
        ctx.check(p.get("messageId") == w.msg and p.get("unpinnedBy") == owner.did == f["sender"], f"wrong: {f}")


@case("CHAN-028", area="channel", reqs=["R-CHAN-44", "R-CHAN-46"],
      types=["channel.pins.list/c2s", "channel.pins.response/s2c"],
      title="channel.pins.list answers the requester only with the pinned ids, oldest pin first",
      sends="three messages, pin #2 then #1 then #3, unpin #3, then bob sends channel.pins.list",
      expects="channel.pins.response {communityId, channelId, messageIds: [#2, #1]} at bob only")
async def chan_pins_list(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    ids = [await send_message(ctx, owner, w.cid, w.chid, f"p{i}") for i in range(3)]
    for mid in (ids[1], ids[0], ids[2]):
        await owner.send("channel.pin", {"communityId": w.cid, "channelId": w.chid, "messageId": mid})
        await owner.expect_type("channel.message.pinned", lambda p, m=mid: p.get("messageId") == m)
    await owner.send("channel.unpin", {"communityId": w.cid, "channelId": w.chid, "messageId": ids[2]})
    await owner.expect_type("channel.message.unpinned")
    await asyncio.sleep(0.1)
    owner.drain()
    await bob.send("channel.pins.list", {"communityId": w.cid, "channelId": w.chid})
    f = await bob.expect_type("channel.pins.response")
    p = f["payload"]
    ctx.check(p.get("communityId") == w.cid and p.get("channelId") == w.chid, f"ids not echoed: {p}")
    ctx.check(p.get("messageIds") == [ids[1], ids[0]], f"messageIds {p.get('messageIds')} != {[ids[1], ids[0]]}")
    await owner.expect_none("channel.pins.response", what="another member's pins reply")


@case("CHAN-029", area="channel", reqs=["R-CHAN-39"], types=["channel.pin/c2s", "error/s2c"], timeout=40,
      title="A 51st pin in one channel is refused with PIN_LIMIT",
      sends="51 messages, pin each of them",
      expects="50 channel.message.pinned, then error PIN_LIMIT for the 51st and no 51st broadcast")
async def chan_pin_limit(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    ids = [await send_message(ctx, owner, w.cid, w.chid, f"pin-{i}") for i in range(51)]
    for mid in ids[:50]:
        await owner.send("channel.pin", {"communityId": w.cid, "channelId": w.chid, "messageId": mid})
        await owner.expect_type("channel.message.pinned", lambda p, m=mid: p.get("messageId") == m)
    await owner.send("channel.pin", {"communityId": w.cid, "channelId": w.chid, "messageId": ids[50]})
    await owner.expect_error("PIN_LIMIT")
    await owner.expect_none("channel.message.pinned")


@case("CHAN-030", area="channel", reqs=["R-AUTHZ-21"],
      types=["channel.pin/c2s", "role.create/c2s", "role.assign/c2s", "channel.message.pinned/s2c"],
      title="A role granting channel.pin lets a member pin",
      sends="bob gets a role with permissions [\"channel.pin\"] and pins a message",
      expects="channel.message.pinned with pinnedBy = bob at every member")
async def chan_pin_by_role(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    owner, bob = w["owner"], w["bob"]
    rid = await create_role(ctx, owner, w.cid, permissions=["channel.pin"])
    await assign_role(ctx, owner, w.cid, bob.did, rid)
    await bob.send("channel.pin", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg})
    for f in await expect_at(w.conns.values(), "channel.message.pinned"):
        ctx.check(f["payload"].get("pinnedBy") == bob.did, f"pinnedBy wrong: {f['payload']}")


@case("CHAN-031", area="channel", reqs=["R-CHAN-47", "R-CHAN-50", "R-HIST-1"],
      types=["channel.history/c2s", "channel.history.response/s2c"],
      title="channel.history answers the requester with StoredMessages of that channel, oldest first",
      sends="owner and bob post 3 messages; bob sends channel.history {communityId, channelId}",
      expects="channel.history.response at bob only: 3 StoredMessages (id, type channel.send, timestamp, "
              "sender = author, payload) in sending order, no proof key")
async def chan_history(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    sent = []
    for i, c in enumerate((owner, bob, owner)):
        env = await c.send("channel.send", message_payload(w.cid, w.chid, f"h{i}"))
        await c.expect_type("channel.message", lambda p, t=f"h{i}": p.get("content") == t)
        sent.append((env["id"], env["timestamp"], c.did, f"h{i}"))
    await asyncio.sleep(0.1)
    owner.drain()
    h = await history(ctx, bob, w.cid, w.chid)
    ctx.check(h.get("communityId") == w.cid, f"communityId not echoed: {h.get('communityId')}")
    got = [(m.get("id"), m.get("timestamp"), m.get("sender"), (m.get("payload") or {}).get("content"))
           for m in h.get("messages") or []]
    ctx.check(got == sent, f"history {got} != sent {sent}")
    for m in h["messages"]:
        ctx.check(m.get("type") == "channel.send" and "proof" not in m, f"bad StoredMessage: {m}")
    await owner.expect_none("channel.history.response", what="another member's history reply")


@case("CHAN-032", area="channel", reqs=["R-CHAN-48", "R-HIST-7"],
      types=["channel.history/c2s", "channel.history.response/s2c"],
      title="Walking history backwards with before = first id returns every message once, hasMore exact",
      sends="5 messages; channel.history limit 2, then before = the first id of each page",
      expects="pages [m4,m5], [m2,m3], [m1] with hasMore true, true, false (upstream returns the oldest page: G24)")
async def chan_history_paging(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    ids = [await send_message(ctx, owner, w.cid, w.chid, f"pg{i}") for i in range(5)]
    pages, before = [], None
    for _ in range(3):
        extra = {"limit": 2}
        if before:
            extra["before"] = before
        h = await history(ctx, owner, w.cid, w.chid, **extra)
        page = [m.get("id") for m in h.get("messages") or []]
        pages.append((page, h.get("hasMore")))
        if not page:
            break
        before = page[0]
    want = [([ids[3], ids[4]], True), ([ids[1], ids[2]], True), ([ids[0]], False)]
    ctx.check(pages == want, f"pages {pages} != {want}")


@case("CHAN-033", area="channel", reqs=["R-CHAN-52"], types=["channel.history/c2s", "error/s2c"],
      title="channel.history of a channel that is not the community's is refused with NOT_FOUND",
      sends="a member asks channel.history naming its community and an invented channel id",
      expects="error NOT_FOUND; no channel.history.response (upstream answers an empty history)")
async def chan_history_unknown_channel(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    await owner.send("channel.history", {"communityId": w.cid, "channelId": w.chid + "-nope"})
    await owner.expect_error("NOT_FOUND")
    await owner.expect_none("channel.history.response")


@case("CHAN-034", area="channel", reqs=["R-HIST-6"], types=["channel.history/c2s", "error/s2c"],
      title="channel.history limit: default 50, clamped to 1..200, other types refused",
      sends="52 messages; channel.history without limit, with limit 0, with limit 2.9, with limit \"5\"",
      expects="50 messages, 1 message, 2 messages, error INVALID_PAYLOAD", timeout=40)
async def chan_history_limit(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    for i in range(52):
        await send_message(ctx, owner, w.cid, w.chid, f"l{i}")
    n = [len((await history(ctx, owner, w.cid, w.chid, **x))["messages"]) for x in ({}, {"limit": 0}, {"limit": 2.9})]
    ctx.check(n == [50, 1, 2], f"page sizes {n} != [50, 1, 2]")
    await owner.send("channel.history", {"communityId": w.cid, "channelId": w.chid, "limit": "5"})
    await owner.expect_error("INVALID_PAYLOAD")


@case("CHAN-035", area="channel", reqs=["R-CHAN-13", "R-PERS-2"],
      types=["channel.send/c2s", "sync.request/c2s", "sync.response/s2c"], needs=["restart"], timeout=40,
      title="Messages survive a restart",
      sends="two messages, restart the server, a member logs in again and sends sync.request",
      expects="sync.response with both messages, same ids, authors and contents")
async def chan_messages_persist(ctx):
    from ._util import require_restart
    require_restart(ctx)
    w = await world(ctx, names=("bob",))
    m1 = await send_message(ctx, w["owner"], w.cid, w.chid, "before restart 1")
    m2 = await send_message(ctx, w["bob"], w.cid, w.chid, "before restart 2")
    await restart(ctx)
    bob = await ctx.connect("bob-after", identity=ctx.identity("bob"))
    s = await sync(ctx, bob, w.cid, w.chid)
    got = [(m.get("id"), m.get("sender"), (m.get("payload") or {}).get("content")) for m in s["messages"]]
    want = [(m1, ctx.identity("owner").did, "before restart 1"), (m2, ctx.identity("bob").did, "before restart 2")]
    ctx.check(got == want, f"after restart sync returned {got}, expected {want}")


@case("CHAN-036", area="channel", reqs=["R-CHAN-21", "R-CHAN-32", "R-CHAN-40", "R-PERS-6", "R-PERS-7"],
      types=["channel.edit/c2s", "channel.reaction.add/c2s", "channel.pin/c2s", "channel.pins.list/c2s"],
      needs=["restart"], timeout=40,
      title="Edits, reactions and pins survive a restart",
      sends="a message edited, reacted to and pinned; restart; channel.history and channel.pins.list",
      expects="history shows the edited content, edited:true and the reaction; the pin is listed")
async def chan_state_persist(ctx):
    from ._util import require_restart
    require_restart(ctx)
    w = await world(ctx, names=("bob",), msg=True)
    owner, bob = w["owner"], w["bob"]
    body = {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg}
    await owner.send("channel.edit", dict(body, content="edited before restart"))
    await bob.expect_type("channel.message.updated")
    await bob.send("channel.reaction.add", dict(body, emoji="r"))
    await bob.expect_type("channel.reaction.added")
    await owner.send("channel.pin", body)
    await owner.expect_type("channel.message.pinned")
    await restart(ctx)
    o2 = await ctx.connect("owner-after", identity=ctx.identity("owner"))
    m = [x for x in (await history(ctx, o2, w.cid, w.chid))["messages"] if x.get("id") == w.msg]
    ctx.check(len(m) == 1, f"message missing after restart: {m}")
    m = m[0]
    ctx.check((m.get("payload") or {}).get("content") == "edited before restart" and m.get("edited") is True,
              f"edit lost: {m}")
    ctx.check(m.get("reactions") == [{"emoji": "r", "dids": [ctx.identity("bob").did]}], f"reaction lost: {m}")
    await o2.send("channel.pins.list", {"communityId": w.cid, "channelId": w.chid})
    f = await o2.expect_type("channel.pins.response")
    ctx.check(f["payload"].get("messageIds") == [w.msg], f"pins after restart: {f['payload']}")


@case("CHAN-037", area="channel", reqs=["R-AUTHZ-4"], types=["channel.send/c2s", "channel.message/s2c"],
      title="A frame without sender (absent, null or empty) is processed as the connection's own",
      sends="three channel.send frames: envelope sender absent, null and \"\"",
      expects="three channel.message frames at the other member, each with sender = the connection DID "
              "(upstream drops a frame without sender silently)")
async def chan_send_no_sender(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    for i, mode in enumerate(("absent", None, "")):
        env = owner.envelope("channel.send", message_payload(w.cid, w.chid, f"nosender-{i}"))
        if mode == "absent":
            del env["sender"]
        else:
            env["sender"] = mode
        await owner.send_frame(env)
        f = await bob.expect_type("channel.message", lambda p, t=f"nosender-{i}": p.get("content") == t)
        ctx.check(f["sender"] == owner.did, f"sender {f['sender']!r} != {owner.did} (envelope sender {mode!r})")


def _enc(**extra):
    from ..wsclient import u8
    return dict({"ciphertext": u8(b"\x01\x02\x03opaque"), "epoch": 0, "senderIndex": 0}, **extra)


@case("CHAN-038", area="channel", reqs=["R-CHAN-3"], types=["channel.send/c2s", "channel.message/s2c", "error/s2c"],
      title="Encrypted content is relayed as sent; a malformed EncryptedContent or content type is refused",
      sends="content = {ciphertext: bytes, epoch, senderIndex, extra key}; then content 5; {ciphertext: \"text\"}; "
            "{ciphertext: bytes, epoch: -1}; {ciphertext: bytes, mentions: 101 DIDs}",
      expects="the first as channel.message with content unchanged (codec object kept); four error INVALID_PAYLOAD")
async def chan_encrypted_content(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    good = _enc(custom={"k": 1})
    await owner.send("channel.send", {"communityId": w.cid, "channelId": w.chid, "content": good})
    for f in await expect_at([owner, bob], "channel.message"):
        ctx.check(f["payload"].get("content") == good, f"content changed: {f['payload'].get('content')}")
    for content in (5, {"ciphertext": "text", "epoch": 0, "senderIndex": 0}, _enc(epoch=-1),
                    _enc(mentions=[f"did:key:z{i}" for i in range(101)])):
        await owner.send("channel.send", {"communityId": w.cid, "channelId": w.chid, "content": content})
        await owner.expect_error("INVALID_PAYLOAD")
    await expect_silence(w.conns.values(), ["channel.message"])


@case("CHAN-039", area="channel", reqs=["R-CHAN-15", "R-AUTHZ-26"], types=["channel.send/c2s", "error/s2c"],
      title="A channel.send carrying a malformed or unknown ZCAP proof is refused with ZCAP_INVALID",
      sends="channel.send with envelope proof {} ; with proof {capabilityId: \"urn:none\", invocation: {}}",
      expects="two error ZCAP_INVALID; no channel.message (upstream is silent on malformed proofs: G15)")
async def chan_zcap_invalid(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    for proof in ({}, {"capabilityId": "urn:none", "invocation": {}}):
        await owner.send("channel.send", message_payload(w.cid, w.chid, "with proof"), proof=proof)
        await owner.expect_error("ZCAP_INVALID")
    await expect_silence(w.conns.values(), ["channel.message"])


@case("CHAN-040", area="channel", reqs=["R-CHAN-16", "R-AUTHZ-27"],
      types=["channel.send/c2s", "notification.new/s2c"],
      title="Mentions notify mentioned members only, never the sender, and a refused send notifies nobody",
      sends="owner sends content.mentions [owner, bob, a non-member]; then a refused send (unknown channel) "
            "mentioning bob",
      expects="one notification.new {type mention} at bob; none at the owner or the non-member (upstream notifies "
              "any DID: G16)")
async def chan_mentions(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    stranger = await ctx.connect("stranger")
    mentions = [owner.did, bob.did, stranger.did]
    await owner.send("channel.send", {"communityId": w.cid, "channelId": w.chid, "content": _enc(mentions=mentions)})
    f = await bob.expect_type("notification.new")
    ctx.check(f["payload"].get("type") == "mention" and f["payload"].get("fromDID") == owner.did, f"{f}")
    await expect_silence([owner, stranger], ["notification.new"])
    await owner.send("channel.send", {"communityId": w.cid, "channelId": w.chid + "-nope",
                                      "content": _enc(mentions=[bob.did])})
    await owner.expect_error("NOT_FOUND")
    await bob.expect_none("notification.new", what="a notification for a refused message")


@case("CHAN-041", area="channel", reqs=["R-CHAN-28"], types=["channel.typing/c2s", "channel.typing.indicator/s2c"],
      title="Slow mode does not apply to typing notices",
      sends="slowMode 30 on the channel; bob sends a message, then channel.typing twice",
      expects="two channel.typing.indicator at the owner; no SLOW_MODE")
async def chan_typing_slow_mode(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await owner.send("channel.update", {"communityId": w.cid, "channelId": w.chid, "slowMode": 30})
    await expect_at(w.conns.values(), "channel.updated")
    await send_message(ctx, bob, w.cid, w.chid, "first")
    for _ in range(2):
        await bob.send("channel.typing", {"communityId": w.cid, "channelId": w.chid})
        await owner.expect_type("channel.typing.indicator")
    await bob.expect_none("error", what="an error for a typing notice in slow mode")


@case("CHAN-042", area="channel", reqs=["R-AUTHZ-2"],
      types=["channel.typing/c2s", "channel.typing.indicator/s2c", "dm.typing/c2s", "dm.typing.indicator/s2c"],
      title="Relayed frames carry the connection's DID as sender, not the envelope's",
      sends="bob sends channel.typing and dm.typing with no envelope sender",
      expects="channel.typing.indicator and dm.typing.indicator at the owner with sender = bob's DID")
async def chan_relay_sender(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    for t, p, r in (("channel.typing", {"communityId": w.cid, "channelId": w.chid}, "channel.typing.indicator"),
                    ("dm.typing", {"recipientDID": owner.did}, "dm.typing.indicator")):
        env = bob.envelope(t, p)
        del env["sender"]
        await bob.send_frame(env)
        f = await owner.expect_type(r)
        ctx.check(f["sender"] == bob.did, f"{r} sender {f['sender']!r} != {bob.did}")


@case("CHAN-043", area="channel", reqs=["R-AUTHZ-3"], types=["channel.send/c2s", "channel.history/c2s"],
      title="History reports the connection's DID as author, also for a frame without sender",
      sends="bob sends channel.send with envelope sender null; then channel.history",
      expects="the StoredMessage's sender is bob's DID")
async def chan_stored_author(ctx):
    w = await world(ctx, names=("bob",))
    bob = w["bob"]
    env = bob.envelope("channel.send", message_payload(w.cid, w.chid, "authored"))
    env["sender"] = None
    await bob.send_frame(env)
    await w["owner"].expect_type("channel.message")
    h = (await history(ctx, w["owner"], w.cid, w.chid))["messages"]
    m = [x for x in h if x.get("id") == env["id"]]
    ctx.check(m and m[0].get("sender") == bob.did, f"stored author {m[0].get('sender') if m else None!r}")


@case("CHAN-044", area="channel", reqs=["R-LIM-3", "R-CHAN-2"],
      types=["channel.send/c2s", "channel.reaction.add/c2s", "error/s2c"],
      title="Identifiers, nonce, emoji and replyTo are bounded and typed",
      sends="channel.send with channelId of 257; nonce of 257; replyTo 7; channel.reaction.add with emoji of 65",
      expects="four error INVALID_PAYLOAD; nothing broadcast (upstream bounds only content)")
async def chan_field_limits(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    owner = w["owner"]
    base = message_payload(w.cid, w.chid, "lim")
    for t, p in (("channel.send", dict(base, channelId="c" * 257)), ("channel.send", dict(base, nonce="n" * 257)),
                 ("channel.send", dict(base, replyTo=7)),
                 ("channel.reaction.add", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg,
                                           "emoji": "e" * 65})):
        await owner.send(t, p)
        await owner.expect_error("INVALID_PAYLOAD")
    await expect_silence(w.conns.values(), ["channel.message", "channel.reaction.added"])
