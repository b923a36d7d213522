"""Voice rooms and peer-to-peer signalling (spec/messages/voice.md). The SFU proxy calls are in sfu.py,
the deprecated mediasoup types in misc.py."""
from __future__ import annotations

import asyncio

from ..core import case
from ._util import expect_at, expect_silence, voice_join, voice_world, world

ROOM_TYPES = ["voice.participant.joined", "voice.participant.left", "voice.state", "voice.speaking",
              "voice.track.published", "voice.track.removed", "voice.producer-closed"]


def err_text(f):
    return (f.get("payload") or {}).get("message")


def details_of(p, did):
    for d in p.get("participants") or []:
        if isinstance(d, dict) and d.get("did") == did:
            return d
    return None


@case("VOICE-001", area="voice", reqs=["R-VOICE-1"], types=["voice.token/c2s", "voice.token.response/s2c"],
      title="voice.token from a member is answered with voice.token.response {channelId, token, mode}",
      sends="voice.token {channelId, communityId}",
      expects="voice.token.response with the same channelId, a non-empty string token and mode 'cf' or 'signaling'")
async def voice_token(ctx):
    w = await world(ctx, names=())
    await w["owner"].send("voice.token", {"channelId": w.chid, "communityId": w.cid})
    f = await w["owner"].expect_type("voice.token.response")
    p = f["payload"]
    ctx.check(p.get("channelId") == w.chid, f"channelId {p.get('channelId')!r}")
    ctx.check(isinstance(p.get("token"), str) and p["token"], f"token {p.get('token')!r}")
    ctx.check(p.get("mode") in ("cf", "signaling"), f"mode {p.get('mode')!r}")


@case("VOICE-002", area="voice", reqs=["R-VOICE-2"], types=["voice.token/c2s", "voice.join/c2s", "error/s2c"],
      title="voice.token and voice.join for a channel of a community one is not in, or no channel, get NOT_MEMBER",
      sends="an outsider sends voice.token and voice.join for the community's channel and for an invented channel",
      expects="four error NOT_MEMBER 'Not a member of this community'; no voice frame at the room's participant "
              "(upstream lets anyone in: G13)")
async def voice_non_member(ctx):
    w = await voice_world(ctx, names=())
    eve = await ctx.connect("eve")
    for chid in (w.chid, w.chid + "-none"):
        for t in ("voice.token", "voice.join"):
            await eve.send(t, {"channelId": chid})
            e = await eve.expect_error("NOT_MEMBER")
            ctx.check(err_text(e) == "Not a member of this community", f"{t}: message {err_text(e)!r}")
    await expect_silence([w["owner"], eve], ROOM_TYPES + ["voice.token.response"])


@case("VOICE-003", area="voice", reqs=["R-VOICE-3"],
      types=["voice.join/c2s", "voice.participant.joined/s2c", "voice.state/s2c"],
      title="voice.join tells every participant, then gives the joiner the room state",
      sends="the owner joins the room, then bob joins",
      expects="owner and bob get voice.participant.joined {channelId, did: bob, participants: [owner, bob]}; bob "
              "then gets voice.state {channelId, participants: [owner, bob], participantDetails with all flags false}")
async def voice_join_case(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await voice_join(ctx, owner, w.chid, cid=w.cid)
    await bob.send("voice.join", {"channelId": w.chid, "communityId": w.cid})
    order = [owner.did, bob.did]
    for f in await expect_at([owner, bob], "voice.participant.joined", lambda p: p.get("did") == bob.did):
        p = f["payload"]
        ctx.check(p.get("channelId") == w.chid and p.get("participants") == order, f"participant.joined {p}")
        ctx.check(f.get("sender") == bob.did, f"sender {f.get('sender')!r}")
    f = await bob.expect_type("voice.state", lambda p: "action" not in p, what="voice.state (join reply)")
    p = f["payload"]
    ctx.check(p.get("channelId") == w.chid and p.get("participants") == order, f"voice.state {p}")
    det = p.get("participantDetails") or []
    ctx.check([d.get("did") for d in det] == order, f"participantDetails {det}")
    for d in det:
        ctx.check(all(d.get(k) is False for k in ("muted", "deafened", "videoEnabled", "screenSharing")),
                  f"flags of a new room {d}")
    await owner.expect_none(lambda f: f.get("type") == "voice.state" and "action" not in (f.get("payload") or {}),
                            what="the join reply at another participant")


@case("VOICE-004", area="voice", reqs=["R-VOICE-4"],
      types=["voice.join/c2s", "voice.mute/c2s", "voice.speaking/c2s", "voice.leave/c2s"],
      title="A member outside the room receives none of the room's voice frames",
      sends="owner and bob in the room; carol (member, not in the room); bob mutes, speaks, leaves; dave joins",
      expects="nothing of type voice.* at carol")
async def voice_outsider(ctx):
    w = await voice_world(ctx, names=("bob", "carol", "dave"), joined=("owner", "bob"))
    bob = w["bob"]
    await bob.send("voice.mute", {})
    await bob.send("voice.speaking", {"speaking": True})
    await bob.send("voice.leave", {"channelId": w.chid})
    await w["dave"].send("voice.join", {"channelId": w.chid})
    await w["owner"].expect_type("voice.participant.joined", lambda p: p.get("did") == w.did("dave"))
    await expect_silence([w["carol"]], ROOM_TYPES)


@case("VOICE-005", area="voice", reqs=["R-VOICE-5"],
      types=["voice.join/c2s", "voice.participant.left/s2c", "channel.create/c2s"],
      title="Joining room B removes the connection from room A",
      sends="owner and bob in room A; the owner creates voice channel B; bob joins B",
      expects="the owner gets voice.participant.left {channelId: A, did: bob, participants: [owner]}")
async def voice_one_room(ctx):
    w = await voice_world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await owner.send("channel.create", {"communityId": w.cid, "name": "room-b", "type": "voice"})
    f = await owner.expect_type("channel.created")
    b = f["payload"].get("id") or f["payload"].get("channelId")
    await bob.send("voice.join", {"channelId": b})
    f = await owner.expect_type("voice.participant.left", what="voice.participant.left for room A")
    p = f["payload"]
    ctx.check(p.get("channelId") == w.chid and p.get("did") == bob.did and p.get("participants") == [owner.did],
              f"participant.left {p}")


@case("VOICE-006", area="voice", reqs=["R-VOICE-6"], types=["voice.join/c2s", "error/s2c"], timeout=90,
      needs=["exclusive"],
      title="The 51st participant of a room is refused with QUOTA_EXCEEDED",
      sends="50 members join the room, then a 51st",
      expects="error QUOTA_EXCEEDED 'Voice room is full (50)' to the 51st; no voice.participant.joined for it")
async def voice_room_full(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    await voice_join(ctx, owner, w.chid)
    from ._util import join as join_community
    conns = []
    for i in range(50):
        c = await ctx.connect(f"m{i}")
        await join_community(ctx, c, w.cid)
        conns.append(c)
        if i < 49:
            await voice_join(ctx, c, w.chid)
    last = conns[-1]
    last.drain()
    await last.send("voice.join", {"channelId": w.chid})
    e = await last.expect(lambda f: f.get("type") == "error" or f.get("type") == "voice.state",
                          what="the answer to the 51st voice.join")
    ctx.check(e.get("type") == "error" and (e.get("payload") or {}).get("code") == "QUOTA_EXCEEDED"
              and err_text(e) == "Voice room is full (50)", f"51st join answered {e}")


@case("VOICE-007", area="voice", reqs=["R-VOICE-7"], types=["voice.leave/c2s", "voice.participant.left/s2c"],
      title="voice.leave tells the remaining participants and sends the leaver nothing",
      sends="owner, bob, carol in the room; bob sends voice.leave",
      expects="owner and carol get voice.participant.left {channelId, did: bob, participants: [owner, carol]} with "
              "sender = bob; bob gets no frame")
async def voice_leave(ctx):
    w = await voice_world(ctx, names=("bob", "carol"))
    bob = w["bob"]
    await bob.send("voice.leave", {"channelId": w.chid})
    for f in await expect_at([w["owner"], w["carol"]], "voice.participant.left"):
        p = f["payload"]
        ctx.check(p.get("channelId") == w.chid and p.get("did") == bob.did
                  and p.get("participants") == [w.did("owner"), w.did("carol")], f"participant.left {p}")
        ctx.check(f.get("sender") == bob.did, f"sender {f.get('sender')!r}")
    await bob.expect_none(lambda f: True, what="a reply to voice.leave")


@case("VOICE-008", area="voice", reqs=["R-VOICE-8"], types=["voice.participant.left/s2c"],
      title="A participant's closed connection is announced as voice.participant.left",
      sends="owner and bob in the room; bob's connection closes",
      expects="the owner gets voice.participant.left {channelId, did: bob, participants: [owner]}")
async def voice_close(ctx):
    w = await voice_world(ctx, names=("bob",))
    await w["bob"].close_quietly()
    f = await w["owner"].expect_type("voice.participant.left")
    p = f["payload"]
    ctx.check(p.get("did") == w.did("bob") and p.get("participants") == [w.did("owner")], f"participant.left {p}")


@case("VOICE-009", area="voice", reqs=["R-VOICE-9"], types=["voice.leave/c2s", "voice.participant.left/s2c"],
      title="voice.leave for a room one is not in announces nothing",
      sends="owner in the room; bob (member, not in the room) sends voice.leave for it",
      expects="no voice.participant.left anywhere (upstream broadcasts a false departure: G13)")
async def voice_false_leave(ctx):
    w = await voice_world(ctx, names=("bob",), joined=("owner",))
    await w["bob"].send("voice.leave", {"channelId": w.chid})
    await expect_silence(w.conns.values(), ["voice.participant.left"])


@case("VOICE-010", area="voice", reqs=["R-VOICE-10"], types=["community.leave/c2s", "voice.participant.left/s2c"],
      title="Leaving the community removes the DID's connections from its voice rooms",
      sends="owner and bob in the room; bob sends community.leave",
      expects="the owner gets voice.participant.left for bob")
async def voice_left_community(ctx):
    w = await voice_world(ctx, names=("bob",))
    await w["bob"].send("community.leave", {"communityId": w.cid})
    f = await w["owner"].expect_type("voice.participant.left", what="voice.participant.left after community.leave")
    ctx.check(f["payload"].get("did") == w.did("bob"), f"payload {f['payload']}")


@case("VOICE-011", area="voice", reqs=["R-VOICE-11", "R-MISC-7"],
      types=["voice.mute/c2s", "voice.unmute/c2s", "voice.state/s2c"],
      title="voice.mute / voice.unmute update the flag and send voice.state to every participant",
      sends="owner and bob in the room; bob sends voice.mute with payload null, then voice.unmute {}",
      expects="both get voice.state {channelId, action 'voice.mute', did: bob, participants: details with bob "
              "muted true}, sender = bob; then action 'voice.unmute' with muted false")
async def voice_mute(ctx):
    w = await voice_world(ctx, names=("bob",))
    bob = w["bob"]
    for t, payload, muted in (("voice.mute", None, True), ("voice.unmute", {}, False)):
        await bob.send_frame(bob.envelope(t, payload))
        for f in await expect_at(w.conns.values(), "voice.state", lambda p, t=t: p.get("action") == t):
            p = f["payload"]
            ctx.check(p.get("channelId") == w.chid and p.get("did") == bob.did and f.get("sender") == bob.did,
                      f"{t}: {f}")
            d = details_of(p, bob.did)
            ctx.check(d is not None and d.get("muted") is muted, f"{t}: bob's details {d}")


@case("VOICE-012", area="voice", reqs=["R-VOICE-12"],
      types=["voice.mute/c2s", "voice.video/c2s", "voice.screen/c2s", "voice.speaking/c2s",
             "voice.producer-closed/c2s", "voice.unmute/c2s", "error/s2c"],
      title="Participant-only voice frames from a connection in no room get FORBIDDEN",
      sends="bob (member, in no room) sends voice.mute, voice.unmute, voice.video, voice.screen, voice.speaking, "
            "voice.producer-closed",
      expects="six error FORBIDDEN 'Not a participant of a voice room'; nothing at the room (upstream: silence, G18)")
async def voice_not_participant(ctx):
    w = await voice_world(ctx, names=("bob",), joined=("owner",))
    bob = w["bob"]
    for t, p in (("voice.mute", {}), ("voice.unmute", {}), ("voice.video", {"enabled": True}),
                 ("voice.screen", {"sharing": True}), ("voice.speaking", {"speaking": True}),
                 ("voice.producer-closed", {"producerId": "p1"})):
        await bob.send(t, p)
        e = await bob.expect_error("FORBIDDEN")
        ctx.check(err_text(e) == "Not a participant of a voice room", f"{t}: message {err_text(e)!r}")
    await expect_silence([w["owner"]], ROOM_TYPES)


@case("VOICE-013", area="voice", reqs=["R-VOICE-13"],
      types=["voice.video/c2s", "voice.screen/c2s", "voice.state/s2c"],
      title="voice.video and voice.screen update the flags and send voice.state to every participant",
      sends="bob sends voice.video {enabled: true}, then voice.screen {sharing: true}",
      expects="voice.state {action 'voice.video', did, videoEnabled true, participants} then {action "
              "'voice.screen', screenSharing true} at both participants")
async def voice_video(ctx):
    w = await voice_world(ctx, names=("bob",))
    bob = w["bob"]
    for t, field, flag, key in (("voice.video", "enabled", "videoEnabled", "videoEnabled"),
                                ("voice.screen", "sharing", "screenSharing", "screenSharing")):
        await bob.send(t, {field: True})
        for f in await expect_at(w.conns.values(), "voice.state", lambda p, t=t: p.get("action") == t):
            p = f["payload"]
            ctx.check(p.get("did") == bob.did and p.get(key) is True, f"{t}: {p}")
            d = details_of(p, bob.did)
            ctx.check(d is not None and d.get(flag) is True, f"{t}: bob's details {d}")


@case("VOICE-014", area="voice", reqs=["R-VOICE-14"],
      types=["voice.video/c2s", "voice.screen/c2s", "voice.speaking/c2s", "error/s2c"],
      title="Non-boolean enabled, sharing and speaking are refused",
      sends="voice.video {enabled: 'yes'}, voice.screen {sharing: 1}, voice.speaking {} from a participant",
      expects="three error INVALID_PAYLOAD 'Missing or invalid field: <name>'; no voice.state/voice.speaking")
async def voice_bool(ctx):
    w = await voice_world(ctx, names=("bob",))
    bob = w["bob"]
    for t, p, name in (("voice.video", {"enabled": "yes"}, "enabled"), ("voice.screen", {"sharing": 1}, "sharing"),
                       ("voice.speaking", {}, "speaking")):
        await bob.send(t, p)
        e = await bob.expect_error("INVALID_PAYLOAD")
        ctx.check(err_text(e) == f"Missing or invalid field: {name}", f"{t}: message {err_text(e)!r}")
    await expect_silence(w.conns.values(), ["voice.state", "voice.speaking"])


@case("VOICE-015", area="voice", reqs=["R-VOICE-15"], types=["voice.speaking/c2s", "voice.speaking/s2c"],
      title="voice.speaking reaches the other participants, not the sender",
      sends="owner, bob, carol in the room; bob sends voice.speaking {speaking: true}",
      expects="voice.speaking {channelId, did: bob, speaking: true} at owner and carol; nothing at bob")
async def voice_speaking(ctx):
    w = await voice_world(ctx, names=("bob", "carol"))
    bob = w["bob"]
    await bob.send("voice.speaking", {"speaking": True})
    for f in await expect_at([w["owner"], w["carol"]], "voice.speaking"):
        p = f["payload"]
        ctx.check(p.get("channelId") == w.chid and p.get("did") == bob.did and p.get("speaking") is True, f"{p}")
    await bob.expect_none("voice.speaking")


@case("VOICE-016", area="voice", reqs=["R-VOICE-16"],
      types=["voice.offer/c2s", "voice.answer/c2s", "voice.ice/c2s", "voice.offer/s2c", "voice.answer/s2c",
             "voice.ice/s2c"],
      title="voice.offer, voice.answer and voice.ice are relayed unchanged to the target participant only",
      sends="owner, bob, carol in the room; the owner sends offer, answer and ice to bob",
      expects="bob gets each with the request id, timestamp and payload, sender = owner; carol and the owner get "
              "nothing")
async def voice_signalling(ctx):
    w = await voice_world(ctx, names=("bob", "carol"))
    owner, bob = w["owner"], w["bob"]
    frames = [("voice.offer", {"targetDID": bob.did, "sdp": {"type": "offer", "sdp": "v=0\r\n"}, "communityId": w.cid}),
              ("voice.answer", {"targetDID": bob.did, "sdp": {"type": "answer", "sdp": "v=0\r\n"}}),
              ("voice.ice", {"targetDID": bob.did, "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ "
                                                                              "host", "sdpMid": "0"}})]
    for t, p in frames:
        env = await owner.send(t, p)
        f = await bob.expect_type(t, what=f"{t} at bob")
        ctx.check(f.get("id") == env["id"] and f.get("timestamp") == env["timestamp"]
                  and f.get("sender") == owner.did and f.get("payload") == env["payload"], f"relayed {t}: {f}")
    await expect_silence([owner, w["carol"]], ["voice.offer", "voice.answer", "voice.ice", "error"])


@case("VOICE-017", area="voice", reqs=["R-VOICE-17"], types=["voice.offer/c2s", "voice.ice/c2s", "error/s2c"],
      title="Signalling from outside a room, or to a DID outside the sender's room, is refused",
      sends="an outsider (no room) sends voice.offer to bob; the owner (in the room) sends voice.ice to carol "
            "(member, not in the room)",
      expects="FORBIDDEN 'Not a participant of a voice room'; NOT_FOUND 'Recipient not found'; nothing delivered "
              "(upstream relays between any two users: G13)")
async def voice_signalling_refused(ctx):
    w = await voice_world(ctx, names=("bob", "carol"), joined=("owner", "bob"))
    eve = await ctx.connect("eve")
    await eve.send("voice.offer", {"targetDID": w.did("bob"), "sdp": {"type": "offer", "sdp": "v=0\r\n"}})
    e = await eve.expect_error("FORBIDDEN")
    ctx.check(err_text(e) == "Not a participant of a voice room", f"message {err_text(e)!r}")
    await w["owner"].send("voice.ice", {"targetDID": w.did("carol"), "candidate": {"candidate": "x"}})
    e = await w["owner"].expect_error("NOT_FOUND")
    ctx.check(err_text(e) == "Recipient not found", f"message {err_text(e)!r}")
    await expect_silence([w["bob"], w["carol"]], ["voice.offer", "voice.ice"])


@case("VOICE-018", area="voice", reqs=["R-VOICE-21"],
      types=["voice.get-producers/c2s", "voice.get-producers.response/s2c"],
      title="voice.get-producers answers [] for a connection in no room and in a room without tracks",
      sends="voice.get-producers from a member in no room (payload null), then after joining the room",
      expects="voice.get-producers.response {producers: []} both times")
async def voice_producers_empty(ctx):
    w = await voice_world(ctx, names=("bob",), joined=("owner",))
    bob = w["bob"]
    await bob.send_frame(bob.envelope("voice.get-producers", None))
    f = await bob.expect_type("voice.get-producers.response")
    ctx.check(f["payload"].get("producers") == [], f"producers {f['payload']}")
    await voice_join(ctx, bob, w.chid)
    await bob.send("voice.get-producers", {"roomId": w.chid})
    f = await bob.expect_type("voice.get-producers.response")
    ctx.check(f["payload"].get("producers") == [], f"producers {f['payload']}")


@case("VOICE-019", area="voice", reqs=["R-VOICE-22"],
      types=["voice.producer-closed/c2s", "voice.producer-closed/s2c"],
      title="voice.producer-closed reaches the other participants with participantId",
      sends="owner and bob in the room; bob sends voice.producer-closed {producerId, mediaType: 'video'}",
      expects="the owner gets voice.producer-closed {producerId, participantId: bob, mediaType: 'video'}; bob nothing")
async def voice_producer_closed(ctx):
    w = await voice_world(ctx, names=("bob",))
    bob = w["bob"]
    await bob.send("voice.producer-closed", {"producerId": "track-1", "mediaType": "video", "roomId": w.chid})
    f = await w["owner"].expect_type("voice.producer-closed")
    p = f["payload"]
    ctx.check(p.get("producerId") == "track-1" and p.get("participantId") == bob.did
              and p.get("mediaType") == "video", f"payload {p}")
    await bob.expect_none("voice.producer-closed")


@case("VOICE-020", area="voice", reqs=["R-MISC-8"],
      types=["voice.join/c2s", "voice.offer/c2s", "voice.leave/c2s", "voice.token/c2s", "error/s2c"],
      title="Voice frames with missing or wrongly typed required fields are refused",
      sends="voice.join {}; voice.token {channelId: 5}; voice.leave {}; voice.offer {sdp: {}} (no targetDID) from "
            "a participant",
      expects="four error INVALID_PAYLOAD (upstream: a room keyed 'undefined', G18)")
async def voice_fields(ctx):
    w = await voice_world(ctx, names=("bob",))
    owner = w["owner"]
    for t, p in (("voice.join", {}), ("voice.token", {"channelId": 5}), ("voice.leave", {}),
                 ("voice.offer", {"sdp": {"type": "offer", "sdp": "v=0"}})):
        await owner.send(t, p)
        await owner.expect_error("INVALID_PAYLOAD")
    await expect_silence([w["bob"]], ROOM_TYPES + ["voice.offer"])
