"""The SFU (Cloudflare Realtime) proxy (spec/sfu.md and the SFU parts of spec/messages/voice.md).

The suite points a server it starts at its recording mock (sfu_mock.py); each case asserts the
method, path, headers and body of every call. Cases that queue failures or count calls are
'exclusive' (run alone), so no other case's calls interleave. Signalling-only mode cannot be
switched at run time: SFU-012 runs only against a server whose voice.token says mode 'signaling'
(for example upstream, or a server started without SFU credentials).

Cases that only make calls on their own session ids run beside the other cases: they count
and check only the calls whose path names their sessions (one_call/no_call with `sids`) and
inject failures and delays with the mock's path-matched rules (slow_calls), never with the
mock-wide fail_next queue. Cases that count session creations (no session id in the path),
queue mock-wide failures, or assert "no call at all" (SFU-002, SFU-007, SFU-008, SFU-009,
SFU-013) are exclusive."""
from __future__ import annotations

import asyncio
import json

from ..core import case
from ..sfu_mock import APP_ID, APP_SECRET
from ._util import expect_silence, voice_join, voice_world

SD_OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}
NOT_CONFIGURED = "Error: CF Realtime SFU not configured — set CALLS_APP_ID and CALLS_APP_SECRET"
FAIL_CODES = {"voice.session.create": "CF_SESSION_CREATE_FAILED", "voice.tracks.push": "CF_TRACKS_PUSH_FAILED",
              "voice.tracks.pull": "CF_TRACKS_PULL_FAILED", "voice.tracks.close": "CF_TRACKS_CLOSE_FAILED",
              "voice.renegotiate": "CF_RENEGOTIATE_FAILED"}


def err_text(f):
    return (f.get("payload") or {}).get("message")


def require_mock(ctx):
    ctx.adapter.require("sfu-proxy")
    if ctx.target.sfu is None:
        ctx.unsupported("no SFU mock: the server was not started by the suite")
    return ctx.target.sfu


def api(path):
    return f"/v1/apps/{APP_ID}{path}"


def check_call(ctx, call, method, path, body=...):
    ctx.check(call.method == method and call.path == api(path), f"call {call.method} {call.path}, expected "
                                                                 f"{method} {api(path)}")
    ctx.check(call.headers.get("authorization") == f"Bearer {APP_SECRET}",
              f"Authorization header {call.headers.get('authorization')!r}")
    ctx.check((call.headers.get("content-type") or "").split(";")[0].strip() == "application/json",
              f"Content-Type {call.headers.get('content-type')!r}")
    if body is not ...:
        ctx.check(call.body == body, f"body {call.body_text!r}, expected {json.dumps(body)}")


def _mine(calls, sids):
    """The calls whose path names one of the session ids (all calls when sids is None)."""
    if sids is None:
        return calls
    return [c for c in calls if any(f"/sessions/{s}/" in c.path for s in sids)]


async def one_call(ctx, mock, n0, what, sids=None):
    """The one SFU call made since call number n0 (only calls on `sids` count when given:
    cases that run beside others must name their sessions)."""
    for _ in range(40):
        calls = _mine(mock.calls_since(n0), sids)
        if calls:
            await asyncio.sleep(0.05)
            calls = _mine(mock.calls_since(n0), sids)
            ctx.check(len(calls) == 1, f"{what}: {len(calls)} SFU calls, expected 1: {calls}")
            return calls[0]
        await asyncio.sleep(0.05)
    ctx.fail(f"{what}: no SFU call was made")


async def no_call(ctx, mock, n0, what, sids=None):
    if mock is None:
        return
    await asyncio.sleep(0.2)
    calls = _mine(mock.calls_since(n0), sids)
    ctx.check(not calls, f"{what}: the server made SFU calls it must not make: {calls}")


async def new_session(ctx, conn) -> str:
    await conn.send("voice.session.create", {})
    f = await conn.expect(lambda f: f.get("type") in ("voice.session.created", "error"),
                          what="voice.session.created")
    ctx.check(f["type"] == "voice.session.created", f"voice.session.create refused: {f}")
    sid = (f.get("payload") or {}).get("sessionId")
    ctx.check(isinstance(sid, str) and sid, f"voice.session.created without a sessionId: {f}")
    return sid


async def sfu_world(ctx, names=("bob",)):
    mock = require_mock(ctx)

    async def drop_queued_failures():
        # a failure queued with fail_next() that the server never consumed must not hit a later case
        with mock._lock:
            mock._fail.clear()
    ctx.on_cleanup(drop_queued_failures)
    w = await voice_world(ctx, names=names)
    return mock, w


def push_tracks():
    return [{"location": "local", "trackName": "audio-1", "mid": "0"}]


@case("SFU-001", area="sfu", reqs=["R-SFU-1"], needs=["sfu-mock"], types=["voice.token/c2s", "voice.token.response/s2c"],
      title="With SFU credentials, voice.token reports mode 'cf'",
      sends="voice.token {channelId} to a server started with the mock's app id and secret",
      expects="voice.token.response mode 'cf'")
async def sfu_mode(ctx):
    require_mock(ctx)
    from ._util import world
    w = await world(ctx, names=())
    await w["owner"].send("voice.token", {"channelId": w.chid})
    f = await w["owner"].expect_type("voice.token.response")
    ctx.check(f["payload"].get("mode") == "cf", f"mode {f['payload'].get('mode')!r} with credentials configured")


@case("SFU-002", area="sfu", reqs=["R-SFU-3", "R-SFU-2", "R-VOICE-23"], needs=["sfu-mock", "exclusive"],
      types=["voice.session.create/c2s", "voice.session.created/s2c"],
      title="voice.session.create makes POST /sessions/new and answers voice.session.created {sessionId}",
      sends="a participant sends voice.session.create {}",
      expects="one call POST /v1/apps/<app>/sessions/new with Authorization: Bearer <secret> and Content-Type "
              "application/json; voice.session.created {sessionId: the mock's id}, sender 'server'")
async def sfu_session(ctx):
    mock, w = await sfu_world(ctx, names=())
    n0 = mock.count()
    await w["owner"].send("voice.session.create", {})
    f = await w["owner"].expect_type("voice.session.created")
    call = await one_call(ctx, mock, n0, "voice.session.create")
    check_call(ctx, call, "POST", "/sessions/new")
    ctx.check(call.body in (None, {}), f"session create body {call.body_text!r}")
    ctx.check(f.get("sender") == "server" and (f["payload"].get("sessionId") or "").startswith("mocksess"),
              f"reply {f}")


@case("SFU-003", area="sfu", reqs=["R-SFU-4", "R-VOICE-29"], needs=["sfu-mock"],
      types=["voice.tracks.push/c2s", "voice.tracks.pushed/s2c"],
      title="voice.tracks.push makes POST /sessions/<id>/tracks/new and relays the SFU answer unchanged",
      sends="a participant pushes {sessionId, tracks, sessionDescription}, then pushes without sessionDescription",
      expects="calls with body {tracks, sessionDescription} then {tracks} only; voice.tracks.pushed = the mock's "
              "answer object")
async def sfu_push(ctx):
    mock, w = await sfu_world(ctx, names=())
    owner = w["owner"]
    sid = await new_session(ctx, owner)
    tracks = push_tracks()
    for sd in (SD_OFFER, None):
        n0 = mock.count()
        p = {"sessionId": sid, "tracks": tracks}
        if sd:
            p["sessionDescription"] = sd
        await owner.send("voice.tracks.push", p)
        f = await owner.expect_type("voice.tracks.pushed")
        call = await one_call(ctx, mock, n0, "voice.tracks.push", [sid])
        body = {"tracks": tracks, "sessionDescription": sd} if sd else {"tracks": tracks}
        check_call(ctx, call, "POST", f"/sessions/{sid}/tracks/new", body)
        expected = mock._answer(call)[1]
        ctx.check(f["payload"] == expected, f"voice.tracks.pushed {f['payload']} != SFU answer {expected}")


@case("SFU-004", area="sfu", reqs=["R-SFU-5", "R-VOICE-27", "R-VOICE-29"], needs=["sfu-mock"],
      types=["voice.tracks.pull/c2s", "voice.tracks.pulled/s2c"],
      title="voice.tracks.pull of another participant's track calls tracks/new on the puller's session",
      sends="owner and bob have sessions; bob pulls [{location: remote, trackName, sessionId: owner's}]",
      expects="POST /sessions/<bob's>/tracks/new with body {tracks}; voice.tracks.pulled = the answer")
async def sfu_pull(ctx):
    mock, w = await sfu_world(ctx)
    sid_o = await new_session(ctx, w["owner"])
    sid_b = await new_session(ctx, w["bob"])
    tracks = [{"location": "remote", "trackName": "audio-1", "sessionId": sid_o}]
    n0 = mock.count()
    await w["bob"].send("voice.tracks.pull", {"sessionId": sid_b, "tracks": tracks})
    f = await w["bob"].expect_type("voice.tracks.pulled")
    call = await one_call(ctx, mock, n0, "voice.tracks.pull", [sid_b, sid_o])
    check_call(ctx, call, "POST", f"/sessions/{sid_b}/tracks/new", {"tracks": tracks})
    ctx.check(f["payload"] == mock._answer(call)[1], f"voice.tracks.pulled {f['payload']}")


@case("SFU-005", area="sfu", reqs=["R-SFU-7", "R-VOICE-29"], needs=["sfu-mock"],
      types=["voice.tracks.close/c2s", "voice.tracks.closed/s2c"],
      title="voice.tracks.close makes PUT /sessions/<id>/tracks/close with force defaulting to false",
      sends="voice.tracks.close {sessionId, tracks: [{mid: '0'}]}",
      expects="PUT call with body {tracks, force: false}; voice.tracks.closed {closed: true}")
async def sfu_close(ctx):
    mock, w = await sfu_world(ctx, names=())
    sid = await new_session(ctx, w["owner"])
    n0 = mock.count()
    await w["owner"].send("voice.tracks.close", {"sessionId": sid, "tracks": [{"mid": "0"}]})
    f = await w["owner"].expect_type("voice.tracks.closed")
    call = await one_call(ctx, mock, n0, "voice.tracks.close", [sid])
    check_call(ctx, call, "PUT", f"/sessions/{sid}/tracks/close", {"tracks": [{"mid": "0"}], "force": False})
    ctx.check(f["payload"] == {"closed": True}, f"voice.tracks.closed {f['payload']}")


@case("SFU-006", area="sfu", reqs=["R-SFU-8", "R-VOICE-29"], needs=["sfu-mock"],
      types=["voice.renegotiate/c2s", "voice.renegotiated/s2c"],
      title="voice.renegotiate makes PUT /sessions/<id>/renegotiate and relays the answer",
      sends="voice.renegotiate {sessionId, sessionDescription}",
      expects="PUT call with body {sessionDescription}; voice.renegotiated = the answer ({})")
async def sfu_renegotiate(ctx):
    mock, w = await sfu_world(ctx, names=())
    sid = await new_session(ctx, w["owner"])
    n0 = mock.count()
    sd = {"type": "answer", "sdp": "v=0\r\n"}
    await w["owner"].send("voice.renegotiate", {"sessionId": sid, "sessionDescription": sd})
    f = await w["owner"].expect_type("voice.renegotiated")
    call = await one_call(ctx, mock, n0, "voice.renegotiate", [sid])
    check_call(ctx, call, "PUT", f"/sessions/{sid}/renegotiate", {"sessionDescription": sd})
    ctx.check(f["payload"] == {}, f"voice.renegotiated {f['payload']}")


@case("SFU-007", area="sfu", reqs=["R-SFU-12"], needs=["sfu-mock", "exclusive"],
      types=["voice.session.create/c2s", "voice.tracks.push/c2s", "voice.tracks.pull/c2s", "voice.tracks.close/c2s",
             "voice.renegotiate/c2s", "error/s2c"],
      title="SFU failures give each type's CF_*_FAILED error, never the secret",
      sends="a 500 answer to each of the five calls; then a 201 session answer without sessionId and one with "
            "sessionId '../x'",
      expects="CF_SESSION_CREATE_FAILED, CF_TRACKS_PUSH_FAILED, CF_TRACKS_PULL_FAILED, CF_TRACKS_CLOSE_FAILED, "
              "CF_RENEGOTIATE_FAILED; messages 'Error: CF API error 500: ...' without the app secret; then "
              "CF_SESSION_CREATE_FAILED twice")
async def sfu_failures(ctx):
    mock, w = await sfu_world(ctx, names=())
    owner = w["owner"]
    sid = await new_session(ctx, owner)
    frames = [("voice.session.create", {}),
              ("voice.tracks.push", {"sessionId": sid, "tracks": push_tracks(), "sessionDescription": SD_OFFER}),
              ("voice.tracks.pull", {"sessionId": sid, "tracks": push_tracks()}),
              ("voice.tracks.close", {"sessionId": sid, "tracks": [{"mid": "0"}]}),
              ("voice.renegotiate", {"sessionId": sid, "sessionDescription": SD_OFFER})]
    for t, p in frames:
        mock.fail_next(500, {"errorCode": "boom", "errorDescription": f"injected {APP_SECRET}"})
        await owner.send(t, p)
        e = await owner.expect_error(FAIL_CODES[t])
        msg = err_text(e) or ""
        ctx.check(msg.startswith("Error: CF API error 500"), f"{t}: message {msg!r}")
        ctx.check(APP_SECRET not in msg, f"{t}: the error message leaks the app secret")
    for body in ({"foo": 1}, {"sessionId": "../x"}):
        mock.fail_next(201, body)
        await owner.send("voice.session.create", {})
        await owner.expect_error("CF_SESSION_CREATE_FAILED")
    await owner.expect_none("voice.session.created")


@case("SFU-008", area="sfu", reqs=["R-SFU-6"], needs=["exclusive"],
      types=["voice.session.create/c2s", "voice.tracks.push/c2s", "voice.tracks.pull/c2s", "voice.tracks.close/c2s",
             "voice.renegotiate/c2s", "error/s2c"],
      title="Only voice-room participants may use the SFU proxy; nobody else causes an HTTP call",
      sends="a member in no room sends all five proxy types with well-formed payloads",
      expects="five error FORBIDDEN 'Not a participant of a voice room'; no SFU call (upstream: anyone, G17)")
async def sfu_participants_only(ctx):
    from ._util import world
    mock = ctx.target.sfu
    w = await world(ctx, names=())
    owner = w["owner"]
    n0 = mock.count() if mock else 0
    sid = "mocksess9999"
    for t, p in (("voice.session.create", {}),
                 ("voice.tracks.push", {"sessionId": sid, "tracks": push_tracks()}),
                 ("voice.tracks.pull", {"sessionId": sid, "tracks": push_tracks()}),
                 ("voice.tracks.close", {"sessionId": sid, "tracks": [{"mid": "0"}]}),
                 ("voice.renegotiate", {"sessionId": sid, "sessionDescription": SD_OFFER})):
        await owner.send(t, p)
        e = await owner.expect_error()
        ctx.check(ctx.adapter.error_code(e) == "FORBIDDEN" and err_text(e) == "Not a participant of a voice room",
                  f"{t}: answered {e.get('payload')}")
    await no_call(ctx, mock, n0, "non-participant proxy frames")


@case("SFU-009", area="sfu", reqs=["R-SFU-9"], needs=["exclusive"],
      types=["voice.tracks.push/c2s", "voice.tracks.pull/c2s", "voice.renegotiate/c2s", "voice.tracks.close/c2s",
             "error/s2c"],
      title="Path-injecting or malformed sessionIds and bad fields are refused without any HTTP call",
      sends="a participant: push with sessionId '../../../apps/other/sessions/new'; pull with a tracks[].sessionId "
            "'a/b'; renegotiate with sessionDescription type 'bogus'; close with tracks 'x'",
      expects="INVALID_PAYLOAD for each ('Invalid sessionId' for the first two); no SFU call (upstream interpolates "
              "the id into the URL: G17)")
async def sfu_session_id(ctx):
    mock = ctx.target.sfu
    w = await voice_world(ctx, names=())
    owner = w["owner"]
    n0 = mock.count() if mock else 0
    for t, p, text in (("voice.tracks.push", {"sessionId": "../../../apps/other/sessions/new",
                                              "tracks": push_tracks()}, "Invalid sessionId"),
                       ("voice.tracks.pull", {"sessionId": "abc", "tracks": [{"location": "remote", "trackName": "a",
                                                                             "sessionId": "a/b"}]},
                        "Invalid sessionId"),
                       ("voice.renegotiate", {"sessionId": "abc", "sessionDescription": {"type": "bogus", "sdp": "x"}},
                        None),
                       ("voice.tracks.close", {"sessionId": "abc", "tracks": "x"}, None)):
        await owner.send(t, p)
        e = await owner.expect_error()
        ctx.check(ctx.adapter.error_code(e) == "INVALID_PAYLOAD", f"{t}: answered {e.get('payload')}")
        if text:
            ctx.check(err_text(e) == text, f"{t}: message {err_text(e)!r}")
    await no_call(ctx, mock, n0, "invalid proxy frames")


@case("SFU-010", area="sfu", reqs=["R-SFU-10"], needs=["sfu-mock"],
      types=["voice.tracks.push/c2s", "voice.tracks.close/c2s", "voice.renegotiate/c2s", "voice.leave/c2s",
             "error/s2c"],
      title="A session id is usable only by the connection that created it, while it stays in the room",
      sends="bob uses the owner's session id for push, close and renegotiate; the owner leaves the room and "
            "pushes on its own session",
      expects="error FORBIDDEN 'Unknown SFU session' each time; no SFU call")
async def sfu_binding(ctx):
    mock, w = await sfu_world(ctx)
    owner, bob = w["owner"], w["bob"]
    sid = await new_session(ctx, owner)
    n0 = mock.count()
    probes = [("voice.tracks.push", {"sessionId": sid, "tracks": push_tracks(), "sessionDescription": SD_OFFER}),
              ("voice.tracks.close", {"sessionId": sid, "tracks": [{"mid": "0"}]}),
              ("voice.renegotiate", {"sessionId": sid, "sessionDescription": SD_OFFER})]
    for t, p in probes:
        await bob.send(t, p)
        e = await bob.expect_error("FORBIDDEN")
        ctx.check(err_text(e) == "Unknown SFU session", f"{t}: message {err_text(e)!r}")
    await owner.send("voice.leave", {"channelId": w.chid})
    await asyncio.sleep(0.1)
    await voice_join(ctx, owner, w.chid)
    await owner.send(*probes[0])
    e = await owner.expect_error("FORBIDDEN")
    ctx.check(err_text(e) == "Unknown SFU session", f"after leaving: message {err_text(e)!r}")
    await no_call(ctx, mock, n0, "unbound session ids", [sid])


async def _room_b(ctx, w, name):
    """A second voice channel; `name`'s connection joins it and creates a session there."""
    await w["owner"].send("channel.create", {"communityId": w.cid, "name": "room-b", "type": "voice"})
    f = await w["owner"].expect_type("channel.created")
    b = f["payload"].get("id") or f["payload"].get("channelId")
    await voice_join(ctx, w[name], b)
    return b, await new_session(ctx, w[name])


@case("SFU-011", area="sfu", reqs=["R-SFU-14", "R-VOICE-26"], needs=["sfu-mock"],
      types=["voice.tracks.pull/c2s", "voice.tracks.push/c2s", "error/s2c"],
      title="Remote track entries must name a session of a participant of the puller's room",
      sends="carol has a session in room B; bob (room A, own session) pulls and pushes remote entries naming "
            "carol's session",
      expects="two error FORBIDDEN 'Unknown SFU session'; no SFU call")
async def sfu_remote(ctx):
    mock, w = await sfu_world(ctx, names=("bob", "carol"))
    sid_b = await new_session(ctx, w["bob"])
    _, sid_c = await _room_b(ctx, w, "carol")
    n0 = mock.count()
    tracks = [{"location": "remote", "trackName": "audio-1", "sessionId": sid_c}]
    for t in ("voice.tracks.pull", "voice.tracks.push"):
        await w["bob"].send(t, {"sessionId": sid_b, "tracks": tracks})
        e = await w["bob"].expect_error("FORBIDDEN")
        ctx.check(err_text(e) == "Unknown SFU session", f"{t}: message {err_text(e)!r}")
    await no_call(ctx, mock, n0, "remote entries of another room", [sid_b, sid_c])


@case("SFU-012", area="sfu", reqs=["R-SFU-13", "R-VOICE-23"], needs=["sfu-unconfigured", "exclusive"], timeout=40,
      types=["voice.session.create/c2s", "voice.tracks.push/c2s", "voice.tracks.pull/c2s", "voice.tracks.close/c2s",
             "voice.renegotiate/c2s", "error/s2c"],
      title="In signalling-only mode every proxy type answers its CF_*_FAILED error with upstream's text",
      sends="a participant sends the five proxy types with well-formed payloads to a server whose voice.token "
            "says mode 'signaling'",
      expects="CF_SESSION_CREATE_FAILED, CF_TRACKS_PUSH_FAILED, CF_TRACKS_PULL_FAILED, CF_TRACKS_CLOSE_FAILED, "
              "CF_RENEGOTIATE_FAILED, each 'Error: CF Realtime SFU not configured — set CALLS_APP_ID and "
              "CALLS_APP_SECRET'")
async def sfu_signalling_only(ctx):
    if ctx.target.managed is not None:
        # The suite started the server: restart it without SFU credentials for this case.
        from .transport import server_settings
        async with server_settings(ctx, sfu_app_id="", sfu_app_secret=""):
            await _signalling_only(ctx)
    else:
        await _signalling_only(ctx)


async def _signalling_only(ctx):
    w = await voice_world(ctx, names=())
    owner = w["owner"]
    await owner.send("voice.token", {"channelId": w.chid})
    f = await owner.expect_type("voice.token.response")
    if f["payload"].get("mode") != "signaling":
        if ctx.target.managed is not None:
            ctx.fail("started without SFU credentials, the server still reports voice.token mode "
                     f"{f['payload'].get('mode')!r} (expected 'signaling')")
        ctx.unsupported("the server has SFU credentials (mode 'cf'); signalling-only mode needs a server started "
                        "without them")
    sid = "mocksess0001"
    for t, p in (("voice.session.create", {}),
                 ("voice.tracks.push", {"sessionId": sid, "tracks": push_tracks(), "sessionDescription": SD_OFFER}),
                 ("voice.tracks.pull", {"sessionId": sid, "tracks": [{"location": "remote", "trackName": "a",
                                                                     "sessionId": "mocksess0002"}]}),
                 ("voice.tracks.close", {"sessionId": sid, "tracks": [{"mid": "0"}]}),
                 ("voice.renegotiate", {"sessionId": sid, "sessionDescription": SD_OFFER})):
        await owner.send(t, p)
        e = await owner.expect_error(FAIL_CODES[t])
        ctx.check(err_text(e) == NOT_CONFIGURED, f"{t}: message {err_text(e)!r}")


@case("SFU-013", area="sfu", reqs=["R-VOICE-24"], needs=["sfu-mock", "exclusive"],
      types=["voice.session.create/c2s", "error/s2c"],
      title="A connection holds at most 2 SFU sessions",
      sends="a participant sends voice.session.create three times",
      expects="two voice.session.created, then error QUOTA_EXCEEDED 'Voice session limit reached (2)' with no "
              "third SFU call")
async def sfu_session_quota(ctx):
    mock, w = await sfu_world(ctx, names=())
    owner = w["owner"]
    await new_session(ctx, owner)
    await new_session(ctx, owner)
    n0 = mock.count()
    await owner.send("voice.session.create", {})
    e = await owner.expect_error("QUOTA_EXCEEDED")
    ctx.check(err_text(e) == "Voice session limit reached (2)", f"message {err_text(e)!r}")
    await no_call(ctx, mock, n0, "the third session")


@case("SFU-014", area="sfu", reqs=["R-VOICE-25"], needs=["sfu-mock"],
      types=["voice.track.published/c2s", "voice.track.removed/c2s", "error/s2c"],
      title="voice.track.published/removed need the sender's own bound session",
      sends="the owner publishes and removes a track naming bob's session id, then an invented one",
      expects="error FORBIDDEN 'Unknown SFU session' each time; nothing at bob (upstream: any id, G17)")
async def sfu_track_foreign(ctx):
    mock, w = await sfu_world(ctx)
    sid_b = await new_session(ctx, w["bob"])
    owner = w["owner"]
    for t, p in (("voice.track.published", {"roomId": w.chid, "sessionId": sid_b, "trackName": "a", "kind": "audio",
                                            "mediaType": "audio"}),
                 ("voice.track.removed", {"roomId": w.chid, "sessionId": sid_b, "trackName": "a"}),
                 ("voice.track.published", {"sessionId": "mocksessnope", "trackName": "a", "kind": "audio",
                                            "mediaType": "audio"})):
        await owner.send(t, p)
        e = await owner.expect_error("FORBIDDEN")
        ctx.check(err_text(e) == "Unknown SFU session", f"{t}: message {err_text(e)!r}")
    await expect_silence([w["bob"]], ["voice.track.published", "voice.track.removed"])


@case("SFU-015", area="sfu", reqs=["R-VOICE-18", "R-VOICE-20", "R-VOICE-21", "R-VOICE-27"], needs=["sfu-mock"],
      types=["voice.track.published/c2s", "voice.track.published/s2c", "voice.track.removed/c2s",
             "voice.track.removed/s2c", "voice.get-producers/c2s", "voice.get-producers.response/s2c"],
      title="Published tracks reach the other participants and their producer lists until removed",
      sends="the owner (own session) publishes a track; bob asks for producers; the owner asks too; the owner "
            "removes the track; bob asks again",
      expects="bob gets voice.track.published {roomId, sessionId, trackName, kind, mediaType, participantId}; bob's "
              "producers list it, the owner's do not; bob gets voice.track.removed; bob's producers are then []")
async def sfu_tracks(ctx):
    mock, w = await sfu_world(ctx)
    owner, bob = w["owner"], w["bob"]
    sid = await new_session(ctx, owner)
    await owner.send("voice.track.published", {"roomId": w.chid, "sessionId": sid, "trackName": "cam",
                                               "kind": "video", "mediaType": "video"})
    f = await bob.expect_type("voice.track.published")
    want = {"roomId": w.chid, "sessionId": sid, "trackName": "cam", "kind": "video", "mediaType": "video",
            "participantId": owner.did}
    ctx.check(all(f["payload"].get(k) == v for k, v in want.items()), f"voice.track.published {f['payload']}")
    await owner.expect_none("voice.track.published")
    await bob.send("voice.get-producers", {"roomId": w.chid})
    f = await bob.expect_type("voice.get-producers.response")
    ctx.check(f["payload"].get("producers") == [{"trackName": "cam", "sessionId": sid, "kind": "video",
                                                 "mediaType": "video", "participantId": owner.did}],
              f"bob's producers {f['payload']}")
    await owner.send("voice.get-producers", {})
    f = await owner.expect_type("voice.get-producers.response")
    ctx.check(f["payload"].get("producers") == [], f"the owner's own producers {f['payload']}")
    await owner.send("voice.track.removed", {"roomId": w.chid, "sessionId": sid, "trackName": "cam"})
    f = await bob.expect_type("voice.track.removed")
    ctx.check(f["payload"].get("trackName") == "cam" and f["payload"].get("participantId") == owner.did,
              f"voice.track.removed {f['payload']}")
    await bob.send("voice.get-producers", {})
    f = await bob.expect_type("voice.get-producers.response")
    ctx.check(f["payload"].get("producers") == [], f"producers after removal {f['payload']}")


@case("SFU-016", area="sfu", reqs=["R-VOICE-19"], needs=["sfu-mock"],
      types=["voice.track.published/c2s", "error/s2c"],
      title="voice.track.published naming another room is refused and reaches nobody there",
      sends="carol is in room B; the owner (room A, own session) publishes with roomId = room B",
      expects="error FORBIDDEN 'Not a participant of this voice room'; nothing at carol or bob (upstream: G13)")
async def sfu_track_other_room(ctx):
    mock, w = await sfu_world(ctx, names=("bob", "carol"))
    sid = await new_session(ctx, w["owner"])
    b, _ = await _room_b(ctx, w, "carol")
    await w["owner"].send("voice.track.published", {"roomId": b, "sessionId": sid, "trackName": "x", "kind": "audio",
                                                    "mediaType": "audio"})
    e = await w["owner"].expect_error("FORBIDDEN")
    ctx.check(err_text(e) == "Not a participant of this voice room", f"message {err_text(e)!r}")
    await expect_silence([w["carol"], w["bob"]], ["voice.track.published"])


@case("SFU-017", area="sfu", reqs=["R-SFU-11"], needs=["sfu-mock"],
      types=["voice.tracks.push/c2s", "voice.renegotiate/c2s", "error/s2c"],
      title="An SFU answer that is not a JSON object, or larger than 256 KiB, is a failure",
      sends="a participant's push is answered 200 with the JSON array [1,2]; its renegotiate 200 with a 300 KiB "
            "JSON object",
      expects="CF_TRACKS_PUSH_FAILED and CF_RENEGOTIATE_FAILED; no voice.tracks.pushed / voice.renegotiated")
async def sfu_bad_answers(ctx):
    mock, w = await sfu_world(ctx, names=())
    owner = w["owner"]
    sid = await new_session(ctx, owner)
    slow_calls(ctx, mock, 0, f"/sessions/{sid}/tracks/new", status=200, body=b"[1,2]")
    await owner.send("voice.tracks.push", {"sessionId": sid, "tracks": push_tracks(), "sessionDescription": SD_OFFER})
    await owner.expect_error("CF_TRACKS_PUSH_FAILED")
    slow_calls(ctx, mock, 0, f"/sessions/{sid}/renegotiate", status=200,
               body={"sessionDescription": {"type": "answer", "sdp": "x" * (300 * 1024)}})
    await owner.send("voice.renegotiate", {"sessionId": sid, "sessionDescription": SD_OFFER})
    await owner.expect_error("CF_RENEGOTIATE_FAILED")
    await owner.expect_none(lambda f: f.get("type") in ("voice.tracks.pushed", "voice.renegotiated"),
                            what="a reply built from an unusable SFU answer")


# ---- slow and hanging SFU calls (R-SFU-11, R-SFU-15, R-VOICE-28) ----------------------------
# These cases run beside the others: the mock holds back only the calls whose path names the
# case's own session id, and no check counts the mock's calls as a whole.

import time  # noqa: E402

SLOW = 2.0          # seconds the mock holds back a slow answer
FAST_BOUND = 1.0    # an unrelated frame must be served well within that


def slow_calls(ctx, mock, seconds, match, **kw):
    """A delay rule on the mock, dropped when the case ends (even if it never matched)."""
    rule = mock.delay(seconds, match, **kw)

    async def drop():
        mock.drop_delay(rule)
    ctx.on_cleanup(drop)
    return rule


def calls_for(mock, sid, n0=0):
    return [c for c in mock.calls_since(n0) if f"/sessions/{sid}/" in c.path]


async def round_trip(ctx, sender, receiver, cid, chid, text):
    """channel.send by `sender` until `receiver` has the message; returns the seconds it took."""
    from ._util import message_payload
    t0 = time.monotonic()
    await sender.send("channel.send", message_payload(cid, chid, text, did=sender.did))
    await receiver.expect_type("channel.message", lambda p: p.get("content") == text,
                               timeout=SLOW + 3, what=f"channel.message '{text}'")
    return time.monotonic() - t0


@case("SFU-018", area="sfu", reqs=["R-SFU-11"], needs=["sfu-mock"], timeout=20,
      types=["voice.tracks.push/c2s", "voice.tracks.pushed/s2c", "channel.send/c2s", "channel.message/s2c"],
      title="While one connection's SFU call hangs for 2 s, other connections are served at once; the slow answer "
            "then arrives intact",
      sends="the owner (voice participant, own session) pushes tracks; the mock holds that answer back 2 s; "
            "meanwhile bob sends five channel messages one after another to carol",
      expects="each message reaches carol within 1 s of being sent, the first before the SFU answer is released; then the "
              "owner's voice.tracks.pushed arrives (no sooner than the mock answered) and equals the mock's answer to "
              "exactly that call (its tracks, its SDP)")
async def sfu_slow_call_other_connections(ctx):
    mock, w = await sfu_world(ctx, names=("bob", "carol"))
    owner, bob, carol = w["owner"], w["bob"], w["carol"]
    sid = await new_session(ctx, owner)
    slow_calls(ctx, mock, SLOW, f"/sessions/{sid}/tracks/new")
    tracks = [{"location": "local", "trackName": "slow-audio", "mid": "7"}]
    await owner.send("voice.tracks.push", {"sessionId": sid, "tracks": tracks, "sessionDescription": SD_OFFER})
    for _ in range(40):  # the call has reached the mock before the clock for the others starts
        if calls_for(mock, sid):
            break
        await asyncio.sleep(0.025)
    ctx.check(calls_for(mock, sid), "voice.tracks.push caused no SFU call within 1 s")
    times, ends = [], []
    for i in range(5):
        times.append(await round_trip(ctx, bob, carol, w.cid, w.chid, f"during the slow call {i}"))
        ends.append(time.monotonic())
    ctx.check(max(times) < FAST_BOUND,
              f"bob's messages took {', '.join(f'{t:.2f}' for t in times)} s to reach carol while another "
              f"connection's SFU call was outstanding: the call blocks the server")
    release = calls_for(mock, sid)[0].received_at + SLOW
    ctx.check(ends[0] < release, "bob's first message arrived only after the mock released the SFU answer, so "
                                 "it was not served during the call")
    f = await owner.expect_type("voice.tracks.pushed", timeout=SLOW + 3)
    call = calls_for(mock, sid)[0]
    ctx.check(call.answered_at is not None and time.monotonic() >= call.answered_at,
              "voice.tracks.pushed arrived before the mock released its answer")
    ctx.check(call.body == {"tracks": tracks, "sessionDescription": SD_OFFER}, f"call body {call.body_text!r}")
    expected = mock._answer(call)[1]
    ctx.check(f["payload"] == expected, f"voice.tracks.pushed {f['payload']} != the slow call's answer {expected}")


@case("SFU-019", area="sfu", reqs=["R-VOICE-28"], needs=["sfu-mock"], timeout=20,
      types=["voice.tracks.push/c2s", "voice.renegotiate/c2s", "voice.get-producers/c2s",
             "voice.get-producers.response/s2c", "voice.tracks.pushed/s2c", "error/s2c"],
      title="SFU replies come after the replies to the connection's later frames; a late SFU error names its frame",
      sends="the owner pushes tracks (answer held back 2 s), renegotiates (answered 500 after 2 s), then at once sends "
            "voice.get-producers",
      expects="voice.get-producers.response within 1 s, before either SFU reply; then voice.tracks.pushed and error "
              "CF_RENEGOTIATE_FAILED whose requestId is the renegotiate frame's id")
async def sfu_reply_order(ctx):
    mock, w = await sfu_world(ctx, names=())
    owner = w["owner"]
    sid = await new_session(ctx, owner)
    slow_calls(ctx, mock, SLOW, f"/sessions/{sid}/tracks/new")
    slow_calls(ctx, mock, SLOW, f"/sessions/{sid}/renegotiate", status=500)
    t0 = time.monotonic()
    await owner.send("voice.tracks.push", {"sessionId": sid, "tracks": push_tracks(), "sessionDescription": SD_OFFER})
    reneg = await owner.send("voice.renegotiate", {"sessionId": sid, "sessionDescription": SD_OFFER})
    await owner.send("voice.get-producers", {"roomId": w.chid})
    await owner.expect_type("voice.get-producers.response", timeout=FAST_BOUND)
    ctx.check(time.monotonic() - t0 < FAST_BOUND, "voice.get-producers waited for the outstanding SFU calls")
    early = [f.get("type") for f in owner.inbox if isinstance(f, dict)
             and f.get("type") in ("voice.tracks.pushed", "error")]
    ctx.check(not early, f"SFU replies {early} arrived before the later frame's reply although the mock held them "
                         f"back {SLOW} s")
    await owner.expect_type("voice.tracks.pushed", timeout=SLOW + 3)
    e = await owner.expect_error("CF_RENEGOTIATE_FAILED", timeout=SLOW + 3)
    ctx.check((e.get("payload") or {}).get("requestId") == reneg["id"],
              f"the late CF_RENEGOTIATE_FAILED carries requestId {(e.get('payload') or {}).get('requestId')!r}, "
              f"expected the renegotiate frame's id {reneg['id']!r}")


@case("SFU-020", area="sfu", reqs=["R-SFU-11"], needs=["sfu-mock"], timeout=20,
      types=["voice.tracks.push/c2s", "voice.tracks.pushed/s2c", "error/s2c"],
      title="A connection has at most 4 SFU calls outstanding; the 5th is refused at once without a call",
      sends="the owner sends five voice.tracks.push on its session back to back; the mock holds each answer 2 s",
      expects="within 1 s error RATE_LIMITED 'Too many SFU requests in flight' (requestId: the 5th frame); four calls "
              "reach the mock, four voice.tracks.pushed follow; afterwards a push is accepted again")
async def sfu_in_flight_limit(ctx):
    mock, w = await sfu_world(ctx, names=())
    owner = w["owner"]
    sid = await new_session(ctx, owner)
    slow_calls(ctx, mock, SLOW, f"/sessions/{sid}/tracks/new", count=4)
    t0 = time.monotonic()
    sent = []
    for i in range(5):
        sent.append(await owner.send("voice.tracks.push", {"sessionId": sid, "tracks": [
            {"location": "local", "trackName": f"t{i}", "mid": str(i)}]}))
    e = await owner.expect_error("RATE_LIMITED", timeout=FAST_BOUND)
    ctx.check(time.monotonic() - t0 < FAST_BOUND, "the 5th call was refused only after the others finished")
    ctx.check(err_text(e) == "Too many SFU requests in flight", f"message {err_text(e)!r}")
    rid = (e.get("payload") or {}).get("requestId")
    ctx.check(rid in (None, sent[4]["id"]), f"RATE_LIMITED names frame {rid!r}, not the 5th push {sent[4]['id']!r}")
    for _ in range(4):
        await owner.expect_type("voice.tracks.pushed", timeout=SLOW + 3)
    calls = calls_for(mock, sid)
    ctx.check(len(calls) == 4, f"{len(calls)} SFU calls for 5 pushes with 4 allowed in flight: {calls}")
    await owner.send("voice.tracks.push", {"sessionId": sid, "tracks": push_tracks()})
    await owner.expect_type("voice.tracks.pushed", timeout=ctx.timeout)


@case("SFU-021", area="sfu", reqs=["R-SFU-11"], needs=["sfu-mock"], timeout=40,
      types=["voice.tracks.push/c2s", "voice.get-producers/c2s", "error/s2c"],
      title="An SFU call that gets no answer fails after the server's SFU timeout; the late answer is dropped",
      sends="the owner pushes tracks; the mock holds that answer back for the SFU timeout (10 s unless the "
            "expectations file sets timers.sfu_timeout_ms) plus 2.5 s; halfway the owner sends voice.get-producers",
      expects="voice.get-producers.response at once; error CF_TRACKS_PUSH_FAILED between the timeout - 0.5 s and "
              "the timeout + 2 s after the push; no voice.tracks.pushed afterwards, even once the mock answers")
async def sfu_timeout(ctx):
    mock, w = await sfu_world(ctx, names=())
    owner = w["owner"]
    sid = await new_session(ctx, owner)
    limit = float((ctx.target.timers or {}).get("sfu_timeout_ms") or 10000) / 1000.0
    hold = limit + 2.5
    slow_calls(ctx, mock, hold, f"/sessions/{sid}/tracks/new")
    t0 = time.monotonic()
    await owner.send("voice.tracks.push", {"sessionId": sid, "tracks": push_tracks(), "sessionDescription": SD_OFFER})
    await asyncio.sleep(limit / 2)
    t1 = time.monotonic()
    await owner.send("voice.get-producers", {"roomId": w.chid})
    await owner.expect_type("voice.get-producers.response", timeout=FAST_BOUND)
    ctx.check(time.monotonic() - t1 < FAST_BOUND, "the connection's next frame waited for the hanging SFU call")
    e = await owner.expect(lambda f: f.get("type") in ("error", "voice.tracks.pushed"), timeout=hold + 1,
                           what="the failure of the hanging call")
    took = time.monotonic() - t0
    ctx.check(e.get("type") == "error" and ctx.adapter.error_code(e) == "CF_TRACKS_PUSH_FAILED",
              f"a call the mock held back {hold:.1f} s was answered {e.get('type')} {e.get('payload')}")
    ctx.check(limit - 0.5 <= took <= limit + 2.0,
              f"the hanging call failed after {took:.2f} s; the SFU timeout is {limit:.1f} s")
    ctx.check("conf-secret" not in json.dumps(e), "the timeout error reveals the app secret")
    rest = hold - (time.monotonic() - t0) + 0.5
    await owner.expect_none(lambda f: f.get("type") == "voice.tracks.pushed", within=max(rest, 0.5),
                            what="voice.tracks.pushed from an answer that came after the timeout")


@case("SFU-022", area="sfu", reqs=["R-SFU-15"], needs=["sfu-mock"], timeout=20,
      types=["voice.session.create/c2s", "voice.tracks.push/c2s", "voice.tracks.pull/c2s", "voice.leave/c2s",
             "error/s2c"],
      title="Session bindings end when their connection closes or leaves the room",
      sends="the owner's first connection creates a session and closes; a second connection of the same DID joins "
            "the room, creates a session, leaves and re-joins; it then pushes on both old sessions; bob pulls a "
            "remote track naming the first one",
      expects="error FORBIDDEN 'Unknown SFU session' for each; no SFU call for either old session after it ended")
async def sfu_bindings_forgotten(ctx):
    mock, w = await sfu_world(ctx)
    owner, bob = w["owner"], w["bob"]
    sid_closed = await new_session(ctx, owner)
    sid_bob = await new_session(ctx, bob)
    await owner.close_quietly()
    await asyncio.sleep(0.2)
    again = await ctx.connect("owner-again", identity=ctx.identity("owner"))
    await voice_join(ctx, again, w.chid)
    sid_left = await new_session(ctx, again)
    await again.send("voice.leave", {"channelId": w.chid})
    await asyncio.sleep(0.2)
    await voice_join(ctx, again, w.chid)
    again.drain()
    n0 = mock.count()
    for sid, why in ((sid_closed, "a session of a closed connection"), (sid_left, "a session left with the room")):
        await again.send("voice.tracks.push", {"sessionId": sid, "tracks": push_tracks()})
        e = await again.expect_error("FORBIDDEN")
        ctx.check(err_text(e) == "Unknown SFU session", f"{why}: message {err_text(e)!r}")
    await bob.send("voice.tracks.pull", {"sessionId": sid_bob, "tracks": [
        {"location": "remote", "trackName": "audio-1", "sessionId": sid_closed}]})
    e = await bob.expect_error("FORBIDDEN")
    ctx.check(err_text(e) == "Unknown SFU session", f"pull naming a closed connection's session: {err_text(e)!r}")
    await asyncio.sleep(0.2)
    bad = calls_for(mock, sid_closed, n0) + calls_for(mock, sid_left, n0) + calls_for(mock, sid_bob, n0)
    ctx.check(not bad, f"SFU calls made for ended sessions: {bad}")


@case("SFU-023", area="sfu", reqs=["R-SFU-11"], needs=["sfu-mock"], timeout=20,
      types=["voice.tracks.push/c2s", "voice.get-producers/c2s", "voice.get-producers.response/s2c"],
      title="A connection that closes while its SFU call is outstanding leaves the server serving everyone",
      sends="the owner pushes tracks (answer held back 1 s) and closes its connection at once; bob then asks for "
            "the room's producers before and after the answer is released",
      expects="the call reaches the mock once; bob's voice.get-producers are answered within 1 s each "
              "and the server accepts a new connection of the owner afterwards")
async def sfu_close_during_call(ctx):
    mock, w = await sfu_world(ctx)
    owner, bob = w["owner"], w["bob"]
    sid = await new_session(ctx, owner)
    slow_calls(ctx, mock, 1.0, f"/sessions/{sid}/tracks/new")
    await owner.send("voice.tracks.push", {"sessionId": sid, "tracks": push_tracks(), "sessionDescription": SD_OFFER})
    for _ in range(40):
        if calls_for(mock, sid):
            break
        await asyncio.sleep(0.025)
    await owner.close_quietly()
    for _ in range(2):
        t0 = time.monotonic()
        await bob.send("voice.get-producers", {"roomId": w.chid})
        await bob.expect_type("voice.get-producers.response", timeout=FAST_BOUND)
        ctx.check(time.monotonic() - t0 < FAST_BOUND, "bob waited for a closed connection's SFU call")
        await asyncio.sleep(1.0)
    calls = calls_for(mock, sid)
    ctx.check(len(calls) == 1, f"{len(calls)} SFU calls for the push, expected 1")
    await ctx.connect("owner-after", identity=ctx.identity("owner"))
