"""Catch-all, deprecated and no-op types, shared field validation of the search .. recovery families
(spec/messages/misc.md), and the authorization matrix of those families (AUTHZB-*)."""
from __future__ import annotations

import asyncio
import json
import os

from ..core import case
from ..spec import Registry
from ._util import expect_silence, register_authz_matrix, voice_world, world

_REG = Registry()

UNHANDLED = ["bot.install", "bot.uninstall", "bot.action", "governance.propose", "governance.sign",
             "governance.execute", "governance.contest", "governance.cancel", "delegation.create",
             "delegation.revoke", "credential.issue", "credential.present", "credential.verify", "search.metadata",
             "media.upload.complete", "member.kick", "member.ban", "voice.state", "federation.relay",
             "federation.sync", "federation.presence", "sync.state"]
DEPRECATED_TEXT = "mediasoup is no longer supported. Use CF Realtime SFU."
# Fixed order: the case ids MISC-011.. follow it (append only).
DEPRECATED = ["voice.transport.connect", "voice.transport.connect-recv", "voice.transport.create-recv",
              "voice.produce", "voice.consume", "voice.consumer.resume"]


def err_text(f):
    return (f.get("payload") or {}).get("message")


async def expect_unknown(ctx, conn, t, payload):
    env = await conn.send(t, payload) if payload is not ... else None
    if env is None:
        env = conn.envelope(t, None)
        del env["payload"]
        await conn.send_frame(env)
    e = await conn.expect_error()
    ctx.check(ctx.adapter.error_code(e) == "UNKNOWN_TYPE", f"{t!r}: answered {e.get('payload')}")
    ctx.check(err_text(e) == f"Unknown message type: {t}"[:len("Unknown message type: ") + 100],
              f"{t!r}: message {err_text(e)!r}")
    return env


@case("MISC-001", area="misc", reqs=["R-MISC-1", "R-ENV-6"], types=["error/s2c"],
      title="The 22 declared-but-unhandled types get UNKNOWN_TYPE after authentication and have no effect",
      sends="each of bot.*, governance.*, delegation.*, credential.*, search.metadata, media.upload.complete, "
            "member.kick, member.ban, voice.state, federation.*, and sync.state again, with plausible payloads",
      expects="error UNKNOWN_TYPE 'Unknown message type: <type>' for each; nothing at the other member; the "
              "connection stays open")
async def misc_unhandled(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    for t in UNHANDLED:
        p = {"communityId": w.cid, "channelId": w.chid, "targetDID": w.did("bob"), "memberDID": w.did("bob")}
        if t == "sync.state":
            p = ctx.identity("owner").presentation()
        await expect_unknown(ctx, owner, t, p)
    await expect_silence([w["bob"]], [t for t in UNHANDLED] + ["community.member.left", "member.kicked",
                                                                "community.ban.applied"])
    await owner.expect_open(within=0.05)


def _s2c_only():
    return sorted(t for t in _REG.types("s2c") if _REG.entry(t, "c2s") is None)


@case("MISC-002", area="misc", reqs=["R-MISC-2"], types=["error/s2c"], timeout=40,
      title="Every server-to-client-only type sent by a client gets UNKNOWN_TYPE and is never relayed",
      sends="each registry type that exists only in the s2c direction, with a payload naming the community",
      expects="error UNKNOWN_TYPE for each; the other member receives none of those types")
async def misc_s2c_only(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    types = _s2c_only()
    for t in types:
        await expect_unknown(ctx, owner, t, {"communityId": w.cid, "channelId": w.chid, "did": owner.did})
    await expect_silence([w["bob"]], [t for t in types if t != "error"])


@case("MISC-003", area="misc", reqs=["R-MISC-3"], types=["error/s2c"],
      title="Type names match exactly and case-sensitively",
      sends="'Voice.join', 'voice.join ' (trailing space), 'voice.produce.response', 'SEARCH.QUERY'",
      expects="error UNKNOWN_TYPE for each; no voice.participant.joined")
async def misc_exact(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    for t in ("Voice.join", "voice.join ", "voice.produce.response", "SEARCH.QUERY"):
        await expect_unknown(ctx, owner, t, {"channelId": w.chid, "communityId": w.cid, "query": "x"})
    await owner.expect_none(lambda f: f.get("type") in ("voice.participant.joined", "voice.state", "search.results"),
                            what="an effect of a mis-cased type")


def _deprecated_case(n, t):
    @case(f"MISC-{10 + n:03d}", area="misc", reqs=["R-MISC-4", "R-MISC-5"], types=[f"{t}/c2s", "error/s2c"],
          title=f"Deprecated {t} answers DEPRECATED whatever its payload",
          sends=f"{t} without payload, with null, with 5, and with a plausible object, from a voice-room participant",
          expects=f"error DEPRECATED '{DEPRECATED_TEXT}' each time; no UNKNOWN_TYPE, no reply of its own, nothing "
                  "at the other participant; the connection stays open")
    async def fn(ctx):
        w = await voice_world(ctx, names=("bob",))
        owner = w["owner"]
        for p in (..., None, 5, {"transportId": "t1", "dtlsParameters": {}, "kind": "audio", "rtpParameters": {}}):
            env = owner.envelope(t, p if p is not ... else None)
            if p is ...:
                del env["payload"]
            await owner.send_frame(env)
            e = await owner.expect(lambda f: True, what=f"the answer to {t}")
            ctx.check(e.get("type") == "error" and ctx.adapter.error_code(e) == "DEPRECATED",
                      f"{t}: answered {e.get('type')} {e.get('payload')}")
            ctx.check(err_text(e) == DEPRECATED_TEXT, f"{t}: message {err_text(e)!r}")
        await owner.expect_none(lambda f: True, what=f"any further frame after {t}")
        await w["bob"].expect_none(lambda f: True, what=f"anything caused by {t}")
        await owner.expect_open(within=0.05)
    return fn


for _i, _t in enumerate(DEPRECATED, start=1):
    _deprecated_case(_i, _t)


@case("MISC-017", area="misc", reqs=["R-MISC-4"], types=["error/s2c"],
      title="The registry's deprecated c2s types are exactly the six mediasoup types tested above",
      sends="nothing (reads the registry)",
      expects="the registry lists exactly the types of MISC-011..016 with status deprecated")
async def misc_deprecated_registry(ctx):
    reg = sorted(t for t in ctx.run.registry.types("c2s")
                 if (ctx.run.registry.entry(t, "c2s") or {}).get("status") == "deprecated")
    ctx.check(reg == sorted(DEPRECATED), f"registry deprecated types {reg} != {sorted(DEPRECATED)}")


@case("MISC-018", area="misc", reqs=["R-MISC-6"], types=["mls.member.joined/c2s"],
      title="Every no-op c2s type is accepted silently whatever its payload",
      sends="each registry type with status noop, without payload, with null and with an object",
      expects="no frame at all (no reply, no error), nothing at the other member, the connection stays open")
async def misc_noop(ctx):
    noop = [t for t in ctx.run.registry.types("c2s") if (ctx.run.registry.entry(t, "c2s") or {}).get("status") == "noop"]
    ctx.check(noop, "the registry lists no noop type")
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    for t in noop:
        for p in (..., None, {"communityId": w.cid, "memberDID": w.did("bob")}):
            env = owner.envelope(t, p if p is not ... else None)
            if p is ...:
                del env["payload"]
            await owner.send_frame(env)
    await owner.expect_none(lambda f: True, what="any answer to a no-op type")
    await w["bob"].expect_none(lambda f: True, what="anything caused by a no-op type")
    await owner.expect_open(within=0.05)


@case("MISC-019", area="misc", reqs=["R-MISC-7"],
      types=["notification.list/c2s", "notification.count/c2s", "notification.mark-read/c2s", "voice.mute/c2s",
             "voice.unmute/c2s", "voice.get-producers/c2s", "voice.session.create/c2s"],
      title="Types without required fields accept an absent or null payload",
      sends="a voice-room participant sends notification.list, notification.count, notification.mark-read, "
            "voice.get-producers, voice.mute, voice.unmute, voice.session.create without payload or with null",
      expects="the normal answers (list/count responses, no error for mark-read, producers response, voice.state "
              "updates, voice.session.created or a CF_SESSION_CREATE_FAILED error), never INVALID_PAYLOAD")
async def misc_null_payloads(ctx):
    w = await voice_world(ctx, names=())
    owner = w["owner"]
    plan = [("notification.list", "notification.list.response"), ("notification.count", "notification.count.response"),
            ("voice.get-producers", "voice.get-producers.response"), ("voice.mute", "voice.state"),
            ("voice.unmute", "voice.state"), ("notification.mark-read", None)]
    for absent in (True, False):
        for t, reply in plan:
            env = owner.envelope(t, None)
            if absent:
                del env["payload"]
            await owner.send_frame(env)
            if reply:
                await owner.expect_type(reply, what=f"{reply} to {t} with {'no' if absent else 'a null'} payload")
        await owner.expect_none("error", what="an error for a payload-less frame")
    await owner.send_frame(owner.envelope("voice.session.create", None))
    f = await owner.expect(lambda f: f.get("type") in ("voice.session.created", "error"),
                           what="the answer to voice.session.create with a null payload")
    ctx.check(f["type"] == "voice.session.created" or ctx.adapter.error_code(f) == "CF_SESSION_CREATE_FAILED",
              f"voice.session.create with null payload answered {f}")


@case("MISC-020", area="misc", reqs=["R-MISC-8"],
      types=["media.delete/c2s", "recovery.request.cancel/c2s", "voice.join/c2s", "moderation.config.get/c2s",
             "search.query/c2s", "mls.welcome/c2s", "error/s2c"],
      title="Blank or wrongly typed required fields and wrongly typed optional fields are refused",
      sends="media.delete {mediaId: '   '}; recovery.request.cancel {requestId: 5}; voice.join {channelId: ' '}; "
            "moderation.config.get {communityId: ''}; search.query with channelId 7; mls.welcome with groupId 7",
      expects="error INVALID_PAYLOAD for each (upstream validates only some: G18)")
async def misc_fields(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    for t, p in (("media.delete", {"mediaId": "   "}), ("recovery.request.cancel", {"requestId": 5}),
                 ("voice.join", {"channelId": " "}), ("moderation.config.get", {"communityId": ""}),
                 ("search.query", {"communityId": w.cid, "query": "x", "channelId": 7}),
                 ("mls.welcome", {"recipientDID": w.did("bob"), "communityId": w.cid, "groupId": 7,
                                  "welcome": {"epoch": 1}})):
        await owner.send(t, p)
        e = await owner.expect_error()
        ctx.check(ctx.adapter.error_code(e) == "INVALID_PAYLOAD", f"{t} {p}: answered {e.get('payload')}")
    await expect_silence([w["bob"]], ["mls.welcome", "voice.participant.joined"])


@case("MISC-021", area="misc", reqs=["R-MISC-9"],
      types=["search.query/c2s", "notification.list/c2s", "media.upload.request/c2s", "error/s2c"],
      title="Integer fields refuse 1.5, '3', true and 1e400",
      sends="search.query limit 1.5, '3', true; notification.list {limit: 1e400} (raw JSON); media upload size 1.5",
      expects="error INVALID_PAYLOAD for each; no search.results, notification.list.response or upload")
async def misc_integers(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    for bad in (1.5, "3", True):
        await owner.send("search.query", {"communityId": w.cid, "query": "x", "limit": bad})
        e = await owner.expect_error()
        ctx.check(ctx.adapter.error_code(e) == "INVALID_PAYLOAD", f"limit {bad!r}: answered {e.get('payload')}")
    env = owner.envelope("notification.list", {"limit": 0})
    raw = json.dumps(env).replace('"limit": 0', '"limit": 1e400')
    await owner.send_raw(raw)
    e = await owner.expect_error()
    ctx.check(ctx.adapter.error_code(e) == "INVALID_PAYLOAD", f"limit 1e400: answered {e.get('payload')}")
    import base64
    await owner.send("media.upload.request", {"communityId": w.cid, "channelId": w.chid, "filename": "a.txt",
                                              "mimeType": "text/plain", "size": 1.5,
                                              "data": base64.b64encode(b"ab").decode()})
    e = await owner.expect_error("INVALID_PAYLOAD")
    await owner.expect_none(lambda f: f.get("type") in ("search.results", "notification.list.response",
                                                        "media.upload.complete"), what="an answer to a bad integer")


# ---- the authorization matrix of the search .. recovery families ------------------------------------------

def _rid():
    return "rq-" + os.urandom(6).hex()


def _kp_stub(me):
    return {"protocolVersion": 1, "cipherSuite": 1, "initKey": {"__type": "Uint8Array", "data": "A" * 43 + "="},
            "leafNode": {"encryptionKey": {"__type": "Uint8Array", "data": "A" * 43 + "="},
                         "signatureKey": {"__type": "Uint8Array", "data": "A" * 43 + "="}, "did": me},
            "signature": {"__type": "Uint8Array", "data": "A" * 86 + "=="}}


_PNG_B64 = "iVBORw0KGgoAAAANSUhEUg=="
P = {
    "search.query": lambda w, me, o: {"communityId": w.cid, "query": "probe"},
    "media.upload.request": lambda w, me, o: {"communityId": w.cid, "channelId": w.chid, "filename": "p.png",
                                              "mimeType": "image/png", "size": 16, "data": _PNG_B64},
    "media.delete": lambda w, me, o: {"mediaId": "media-1-" + "0" * 32},
    "notification.list": lambda w, me, o: {},
    "notification.mark-read": lambda w, me, o: {},
    "notification.count": lambda w, me, o: {},
    "moderation.config.update": lambda w, me, o: {"communityId": w.cid, "rules": [{"type": "rateLimit",
                                                                                   "config": {"maxMessages": 1}}]},
    "moderation.config.get": lambda w, me, o: {"communityId": w.cid},
    "mls.keypackage.upload": lambda w, me, o: {"keyPackage": _kp_stub(me)},
    "mls.keypackage.fetch": lambda w, me, o: {"dids": [o]},
    "mls.welcome": lambda w, me, o: {"recipientDID": o, "communityId": w.cid, "channelId": w.chid,
                                     "groupId": f"{w.cid}:{w.chid}", "welcome": {"epoch": 1}},
    "mls.commit": lambda w, me, o: {"communityId": w.cid, "channelId": w.chid, "groupId": f"{w.cid}:{w.chid}",
                                    "commit": {"epoch": 1}},
    "mls.group.setup": lambda w, me, o: {"communityId": w.cid, "channelId": w.chid, "groupId": f"{w.cid}:{w.chid}"},
    "mls.member.joined": lambda w, me, o: {},
    "voice.token": lambda w, me, o: {"channelId": w.chid, "communityId": w.cid},
    "voice.join": lambda w, me, o: {"channelId": w.chid, "communityId": w.cid},
    "voice.leave": lambda w, me, o: {"channelId": w.chid},
    "voice.mute": lambda w, me, o: {},
    "voice.unmute": lambda w, me, o: {},
    "voice.video": lambda w, me, o: {"enabled": True},
    "voice.screen": lambda w, me, o: {"sharing": True},
    "voice.speaking": lambda w, me, o: {"speaking": True},
    "voice.offer": lambda w, me, o: {"targetDID": o, "sdp": {"type": "offer", "sdp": "v=0"}},
    "voice.answer": lambda w, me, o: {"targetDID": o, "sdp": {"type": "answer", "sdp": "v=0"}},
    "voice.ice": lambda w, me, o: {"targetDID": o, "candidate": {"candidate": "candidate:1"}},
    "voice.track.published": lambda w, me, o: {"roomId": w.chid, "sessionId": "s1", "trackName": "t",
                                               "kind": "audio", "mediaType": "audio"},
    "voice.track.removed": lambda w, me, o: {"roomId": w.chid, "sessionId": "s1", "trackName": "t"},
    "voice.get-producers": lambda w, me, o: {"roomId": w.chid},
    "voice.producer-closed": lambda w, me, o: {"producerId": "p1"},
    "voice.session.create": lambda w, me, o: {},
    "voice.tracks.push": lambda w, me, o: {"sessionId": "s1", "tracks": [{"location": "local", "trackName": "t"}]},
    "voice.tracks.pull": lambda w, me, o: {"sessionId": "s1", "tracks": [{"location": "remote", "trackName": "t",
                                                                          "sessionId": "s2"}]},
    "voice.tracks.close": lambda w, me, o: {"sessionId": "s1", "tracks": [{"mid": "0"}]},
    "voice.renegotiate": lambda w, me, o: {"sessionId": "s1", "sessionDescription": {"type": "offer", "sdp": "v=0"}},
    "recovery.request.create": lambda w, me, o: {"requestId": _rid(), "requesterDID": me, "guardianDIDs": [o],
                                                 "threshold": 1},
    "recovery.request.cancel": lambda w, me, o: {"requestId": _rid()},
    "recovery.shard.submit": lambda w, me, o: {"requestId": _rid(), "guardianDID": me, "encryptedShard": "x"},
    "recovery.shards.fetch": lambda w, me, o: {"requestId": _rid()},
}
for _t in DEPRECATED:
    P[_t] = lambda w, me, o: {}

UNAUTH = list(P)  # insertion order above fixes the ids AUTHZB-001..
FORGED = ["search.query", "media.upload.request", "moderation.config.get", "moderation.config.update",
          "mls.keypackage.fetch", "mls.welcome", "mls.commit", "mls.group.setup", "notification.list",
          "notification.count", "voice.token", "voice.join", "recovery.request.create"]
NON_MEMBER = {
    "search.query": (["R-SRCH-3"], "FORBIDDEN"),
    "media.upload.request": (["R-MEDIA-3"], "NOT_MEMBER"),
    "moderation.config.update": (["R-MOD-2"], "NOT_MEMBER"),
    "moderation.config.get": (["R-MOD-5"], "NOT_MEMBER"),
    "mls.welcome": (["R-MLS-10", "R-AUTHZ-8"], "NOT_MEMBER"),
    "mls.commit": (["R-MLS-12", "R-AUTHZ-8"], "NOT_MEMBER"),
    "mls.group.setup": (["R-MLS-12", "R-AUTHZ-8"], "NOT_MEMBER"),
    "voice.token": (["R-VOICE-2", "R-AUTHZ-8"], "NOT_MEMBER"),
    "voice.join": (["R-VOICE-2", "R-AUTHZ-8"], "NOT_MEMBER"),
}
BANNED = {t: (["R-AUTHZ-16"] + (["R-VOICE-2"] if t.startswith("voice.") else []), "BANNED") for t in NON_MEMBER}

register_authz_matrix("AUTHZB", "authz", P, unauth=UNAUTH, forged=FORGED, non_member=NON_MEMBER, banned=BANNED)
