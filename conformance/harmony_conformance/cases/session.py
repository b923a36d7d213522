"""Session frames: auth.token.request/response, auth.token.verify/expired, the auth-ok
sync.response and the resync that follows it, error frames' audience, and tokens across a restart."""
from __future__ import annotations

import asyncio

from ..core import case
from ._util import (create_community, join, message_payload, require_restart, restart, token_claims, world)


def _auth_reply(f):
    return f.get("type") in ("sync.response", "error", "auth.token.expired")


@case("SESS-001", area="session", reqs=["R-TOK-5", "R-SESS-6"],
      types=["auth.token.request/c2s", "auth.token.response/s2c", "auth.token.verify/c2s"],
      title="auth.token.request answers <request id>-response with a token that logs in on a new connection",
      sends="auth.token.request with id X after login; then auth.token.verify {token} on a new connection",
      expects="auth.token.response {token} with envelope id \"X-response\", sender \"server\", to the requester only; "
              "the token authenticates the same DID")
async def sess_token_request(ctx):
    ctx.adapter.require("session-token")
    ident = ctx.identity("alice")
    c1 = await ctx.connect("alice-1", identity=ident)
    other = await ctx.connect("alice-2", identity=ident)
    env = await c1.send("auth.token.request", {}, id="tokreq-SESS-001")
    f = await c1.expect_type("auth.token.response")
    ctx.check(f["id"] == env["id"] + "-response", f"id {f['id']!r}, expected {env['id'] + '-response'!r}")
    ctx.check(f["sender"] == "server" and isinstance(f["payload"].get("token"), str), f"reply {f}")
    await other.expect_none("auth.token.response", what="another connection's token reply")
    c3 = await ctx.connect("alice-3", auth=False, identity=ident)
    ok = await ctx.adapter.authenticate(ctx, c3, ident, token=f["payload"]["token"])
    ctx.check(ok["payload"].get("did") == ident.did, f"token logged in as {ok['payload'].get('did')}")


@case("SESS-002", area="session", reqs=["R-SESS-3"], types=["auth.token.request/c2s", "auth.token.response/s2c"],
      title="auth.token.request always yields a token for the connection's own DID",
      sends="auth.token.request {did: <another DID>}",
      expects="a token whose claims name the connection DID; it logs in as that DID on a new connection")
async def sess_token_self(ctx):
    ctx.adapter.require("session-token")
    alice = await ctx.connect("alice")
    await alice.send("auth.token.request", {"did": ctx.identity("bob").did})
    f = await alice.expect_type("auth.token.response")
    tok = f["payload"].get("token")
    ctx.check(token_claims(tok).get("did") == alice.did, f"token claims {token_claims(tok)}")
    c2 = await ctx.connect("alice-2", auth=False, identity=ctx.identity("alice"))
    await c2.send("auth.token.verify", {"token": tok})
    ok = await c2.expect(_auth_reply, what="the token login reply")
    ctx.check(ok.get("type") == "sync.response" and ok["payload"].get("did") == alice.did, f"token login {ok}")


@case("SESS-003", area="session", reqs=["R-AUTH-17", "R-AUTHZ-1"],
      types=["sync.state/c2s", "auth.token.verify/c2s", "error/s2c", "auth.token.request/c2s"],
      title="After login, sync.state and auth.token.verify are unknown types and do not change the DID",
      sends="after alice's login: sync.state with bob's valid VP; auth.token.verify with bob's token; "
            "then auth.token.request",
      expects="two error UNKNOWN_TYPE, no sync.response and no auth.token.expired; the new token still names alice")
async def sess_no_reauth(ctx):
    bob_conn = await ctx.connect("bob")
    bob_token = bob_conn.session_token
    alice = await ctx.connect("alice")
    await alice.send_frame(ctx.adapter.auth_frame(alice, ctx.identity("bob")))
    await alice.expect_error("UNKNOWN_TYPE")
    await alice.send("auth.token.verify", {"token": bob_token})
    await alice.expect_error("UNKNOWN_TYPE")
    await alice.expect_none(lambda f: f.get("type") in ("sync.response", "auth.token.expired"),
                            what="a second login reply")
    await alice.send("auth.token.request", {})
    f = await alice.expect_type("auth.token.response")
    ctx.check(token_claims(f["payload"].get("token")).get("did") == alice.did,
              f"the connection now acts as {token_claims(f['payload'].get('token')).get('did')}")


@case("SESS-004", area="session", reqs=["R-TOK-4", "R-SESS-2", "R-SESS-5"],
      types=["auth.token.verify/c2s", "auth.token.expired/s2c", "sync.state/c2s"],
      title="A token that is not a string or is garbage gets one auth.token.expired each; a VP then logs in",
      sends="auth.token.verify {token: 42}; auth.token.verify {token: \"garbage\"}; then a VP",
      expects="two auth.token.expired {message} (sender \"server\"), the socket open; the VP logs in")
async def sess_token_bad(ctx):
    ident = ctx.identity("alice")
    c = await ctx.connect("alice", auth=False)
    for tok in (42, "garbage"):
        await c.send("auth.token.verify", {"token": tok}, sender=ident.did)
        f = await c.expect_type("auth.token.expired")
        ctx.check(f["sender"] == "server" and isinstance(f["payload"].get("message"), str), f"{f}")
        await c.expect_none("auth.token.expired", within=0.2, what="a second auth.token.expired")
    await c.expect_open(within=0.05)
    await ctx.adapter.authenticate(ctx, c, ident)


@case("SESS-005", area="session", reqs=["R-AUTH-14"], types=["auth.token.verify/c2s", "sync.state/c2s",
                                                              "error/s2c"],
      title="auth.token.verify and sync.state without a payload get AUTH_REQUIRED and the socket stays open",
      sends="auth.token.verify with payload null; sync.state with payload null; sync.state with no payload",
      expects="three error AUTH_REQUIRED; the connection stays open and a VP then logs in")
async def sess_no_payload(ctx):
    ident = ctx.identity("alice")
    c = await ctx.connect("alice", auth=False)
    await c.send_frame(c.envelope("auth.token.verify", None, sender=ident.did))
    await c.expect_error("AUTH_REQUIRED")
    await c.send_frame(c.envelope("sync.state", None, sender=ident.did))
    await c.expect_error("AUTH_REQUIRED")
    env = c.envelope("sync.state", {}, sender=ident.did)
    del env["payload"]
    await c.send_frame(env)
    await c.expect_error("AUTH_REQUIRED")
    await c.expect_open(within=0.05)
    await ctx.adapter.authenticate(ctx, c, ident)


@case("SESS-006", area="session", reqs=["R-SESS-4", "R-TOK-2"],
      types=["sync.state/c2s", "sync.request/c2s", "sync.response/s2c"],
      title="The two sync.response shapes never mix, and a connection gets exactly one auth-ok",
      sends="a VP login, then sync.request for the community's channel",
      expects="auth-ok {authenticated: true, did, sessionToken (naming the DID)} without messages; the sync result "
              "has messages, hasMore, latestClock {counter} and no authenticated; no second auth-ok")
async def sess_shapes(ctx):
    w = await world(ctx, names=())
    c = await ctx.connect("owner-2", auth=False, identity=ctx.identity("owner"))
    await c.send_frame(ctx.adapter.auth_frame(c, ctx.identity("owner")))
    ok = await c.expect(_auth_reply, what="the auth reply")
    p = ok.get("payload") or {}
    ctx.check(ok.get("type") == "sync.response" and p.get("authenticated") is True and "messages" not in p,
              f"auth-ok {ok}")
    ctx.check(token_claims(p.get("sessionToken")).get("did") == w.did("owner"), "sessionToken does not name the DID")
    c.did = w.did("owner")
    await c.send("sync.request", {"communityId": w.cid, "channelId": w.chid})
    f = await c.expect_type("sync.response", lambda q: "messages" in q)
    q = f["payload"]
    ctx.check(isinstance(q.get("messages"), list) and isinstance(q.get("hasMore"), bool)
              and isinstance((q.get("latestClock") or {}).get("counter"), (int, float))
              and "authenticated" not in q, f"sync result {q}")
    await c.expect_none(lambda f: f.get("type") == "sync.response" and "authenticated" in (f.get("payload") or {}),
                        what="a second auth-ok")


@case("SESS-007", area="session", reqs=["R-SESS-1", "R-AUTH-16"],
      types=["sync.state/c2s", "sync.response/s2c", "community.auto-joined/s2c"],
      title="The auth-ok sync.response is the first frame after the VP, before the resync",
      sends="a member of two communities logs in on a new connection",
      expects="first frame: sync.response {authenticated: true, did} with sender \"server\"; no error before it; "
              "then community.auto-joined for both communities")
async def sess_first_frame(ctx):
    w = await world(ctx, names=())
    cid2, _, _ = await create_community(ctx, w["owner"])
    c = await ctx.connect("owner-2", auth=False, identity=ctx.identity("owner"))
    await c.send_frame(ctx.adapter.auth_frame(c, ctx.identity("owner")))
    first = await c.expect(None, what="the first frame after the VP")
    ctx.check(first.get("type") == "sync.response" and first.get("sender") == "server"
              and (first.get("payload") or {}).get("authenticated") is True
              and first["payload"].get("did") == w.did("owner"), f"first frame is {first}")
    for cid in (w.cid, cid2):
        await c.expect_type("community.auto-joined", lambda p, x=cid: p.get("communityId") == x)


@case("SESS-008", area="session", reqs=["R-AUTH-19"],
      types=["sync.state/c2s", "community.info/c2s", "community.auto-joined/s2c"],
      title="A frame sent right behind the VP is answered after the auth-ok and the resync (G35)",
      sends="the VP and, without waiting, community.info for a community the DID belongs to (five logins)",
      expects="sync.response auth-ok, community.auto-joined and the resync's community.info.response before the "
              "reply to the community.info; no AUTH_REQUIRED")
async def sess_pipelined(ctx):
    w = await world(ctx, names=())
    ident = ctx.identity("owner")
    want = ["sync.response", "community.auto-joined", "community.info.response", "community.info.response"]
    # A server that handles the frame while it still verifies the VP shows it only when the
    # verification is slow enough, which depends on the machine: five logins, each must be right.
    for attempt in range(5):
        c = await ctx.connect(f"owner-{attempt + 2}", auth=False, identity=ident)
        await c.send_frame(ctx.adapter.auth_frame(c, ident))
        await c.send("community.info", {"communityId": w.cid}, sender=ident.did)
        got = []
        for _ in range(4):
            f = await c.expect(None, what=f"frame #{len(got) + 1} after the VP (login {attempt + 1} of 5)")
            got.append(f.get("type"))
        ctx.check(got == want, f"login {attempt + 1} of 5: frames {got}, expected {want}")
        await c.close_quietly()


@case("SESS-009", area="session", reqs=["R-SESS-7", "R-ERR-5"],
      types=["channel.send/c2s", "error/s2c"],
      title="An error goes only to the connection whose frame caused it",
      sends="the owner (2 connections) and bob are members; the owner's first connection sends an unknown type and "
            "a channel.send without channelId",
      expects="two errors at that connection only; no error at the owner's second connection or at bob")
async def sess_error_audience(ctx):
    w = await world(ctx, names=("bob",))
    o2 = await ctx.connect("owner-2", identity=ctx.identity("owner"))
    await asyncio.sleep(0.1)
    o2.drain()
    owner = w["owner"]
    await owner.send("conformance.unknown.type", {})
    await owner.expect_error()
    await owner.send("channel.send", {"communityId": w.cid, "content": "no channel"})
    await owner.expect_error()
    for c in (o2, w["bob"]):
        await c.expect_none("error", what="another connection's error")


@case("SESS-010", area="session", reqs=["R-AUTH-21"],
      types=["sync.state/c2s", "community.auto-joined/s2c", "channel.message/s2c"],
      title="A DID may hold several connections; each gets its own resync and the community's broadcasts",
      sends="bob (member) opens three connections; the owner posts",
      expects="community.auto-joined at each new connection; channel.message at all three")
async def sess_multi_conn(ctx):
    w = await world(ctx, names=("bob",))
    extra = []
    for i in range(2):
        c = await ctx.connect(f"bob-{i + 2}", identity=ctx.identity("bob"))
        await c.expect_type("community.auto-joined", lambda p: p.get("communityId") == w.cid)
        extra.append(c)
    await w["owner"].send("channel.send", message_payload(w.cid, w.chid, "to every bob"))
    for c in [w["bob"]] + extra:
        await c.expect_type("channel.message", lambda p: p.get("content") == "to every bob")


@case("SESS-011", area="session", reqs=["R-TOK-8"], types=["auth.token.verify/c2s", "auth.token.expired/s2c"],
      title="auth.token.verify whose envelope sender is not the token's DID is refused",
      sends="bob's valid token presented with envelope sender = alice's DID",
      expects="auth.token.expired; the connection stays unauthenticated (a later frame gets AUTH_REQUIRED)")
async def sess_token_sender(ctx):
    ctx.adapter.require("session-token")
    bob = await ctx.connect("bob")
    c = await ctx.connect("mallory", auth=False)
    await c.send("auth.token.verify", {"token": bob.session_token}, sender=ctx.identity("alice").did)
    await c.expect_type("auth.token.expired")
    await c.send("community.list", {})
    await c.expect_error("AUTH_REQUIRED")


@case("SESS-012", area="session", reqs=["R-AUTH-23"], types=["sync.state/c2s", "error/s2c"],
      title="A sync.state whose envelope sender is not the VP holder fails with AUTH_INVALID and 4002",
      sends="alice's valid VP with envelope sender = bob's DID",
      expects="error AUTH_INVALID then close 4002; no sync.response")
async def sess_vp_sender(ctx):
    c = await ctx.connect("alice", auth=False)
    await c.send("sync.state", ctx.identity("alice").presentation(), sender=ctx.identity("bob").did)
    await c.expect_error("AUTH_INVALID")
    await c.expect_close(4002)
    await c.expect_none("sync.response", within=0.01)


@case("SESS-013", area="session", reqs=["R-TOK-6", "R-PERS-13"],
      types=["auth.token.verify/c2s", "auth.token.request/c2s", "sync.response/s2c"], needs=["restart"], timeout=40,
      title="Session tokens issued before a restart still log in after it",
      sends="the auth-ok token and an auth.token.response token; restart; auth.token.verify with each",
      expects="both log in as the DID (upstream makes a new token key at every start: G38)")
async def sess_token_restart(ctx):
    ctx.adapter.require("session-token")
    require_restart(ctx)
    ident = ctx.identity("alice")
    c = await ctx.connect("alice", identity=ident)
    t1 = c.session_token
    await c.send("auth.token.request", {})
    t2 = (await c.expect_type("auth.token.response"))["payload"]["token"]
    await restart(ctx)
    for i, tok in enumerate((t1, t2)):
        c2 = await ctx.connect(f"alice-after-{i}", auth=False, identity=ident)
        ok = await ctx.adapter.authenticate(ctx, c2, ident, token=tok)
        ctx.check(ok["payload"].get("did") == ident.did, f"token {i} logged in as {ok['payload'].get('did')}")


@case("SESS-014", area="session", reqs=["R-PERS-18"],
      types=["sync.state/c2s", "community.info/c2s", "community.info.response/s2c"], needs=["restart"], timeout=40,
      title="Presence is not kept across a restart: everybody starts offline",
      sends="owner and bob connected (bob idle); restart; only the owner logs in and sends community.info",
      expects="bob's status offline; the owner online")
async def sess_presence_restart(ctx):
    require_restart(ctx)
    w = await world(ctx, names=("bob",))
    await w["bob"].send("presence.update", {"status": "idle"})
    await w["owner"].expect_type("presence.changed")
    await restart(ctx)
    o2 = await ctx.connect("owner-after", identity=ctx.identity("owner"))
    await asyncio.sleep(0.1)
    o2.drain()
    await o2.send("community.info", {"communityId": w.cid})
    f = await o2.expect_type("community.info.response")
    st = {m.get("did"): m.get("status") for m in f["payload"].get("members") or []}
    ctx.check(st.get(w.did("bob")) == "offline" and st.get(w.did("owner")) == "online", f"statuses {st}")


@case("SESS-015", area="session", reqs=["R-AUTHZ-9"], types=["community.join/c2s", "channel.message/s2c"],
      title="A connection that joins receives the community's broadcasts from its join reply on",
      sends="bob joins; the owner posts right after bob's join reply",
      expects="channel.message at bob")
async def sess_join_subscribes(ctx):
    owner = await ctx.connect("owner")
    cid, chid, _ = await create_community(ctx, owner)
    bob = await ctx.connect("bob")
    await join(ctx, bob, cid)
    await owner.send("channel.send", message_payload(cid, chid, "welcome"))
    await bob.expect_type("channel.message", lambda p: p.get("content") == "welcome")
