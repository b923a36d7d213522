"""Authentication: VP login, failures and their close codes, the auth timer, tokens."""
from __future__ import annotations

import asyncio
import copy
import json

from ..core import case
from ..wsclient import now_iso


def _tamper_signature(vp: dict) -> dict:
    vp = copy.deepcopy(vp)
    pv = vp["proof"]["proofValue"]
    # change one base58 character in the middle: still well-formed, no longer valid
    i = len(pv) // 2
    vp["proof"]["proofValue"] = pv[:i] + ("2" if pv[i] != "2" else "3") + pv[i + 1:]
    return vp


@case("AUTH-001", area="auth", reqs=["R-AUTH-1", "R-AUTH-16"],
      types=["sync.state/c2s", "sync.response/s2c"],
      title="A valid VP logs in",
      sends="sync.state with a fresh VP holding one self-issued IdentityAssertion VC",
      expects="sync.response {authenticated:true, did:<holder>, sessionToken:<string>}")
async def auth_vp_ok(ctx):
    c = await ctx.connect("alice", auth=False)
    ident = ctx.identity("alice")
    await c.send_frame(ctx.adapter.auth_frame(c, ident))
    f = await c.expect_type("sync.response", what="the auth-ok sync.response")
    p = f["payload"]
    ctx.check(p.get("authenticated") is True, f"authenticated is {p.get('authenticated')!r}, expected true")
    ctx.check(p.get("did") == ident.did, f"did is {p.get('did')!r}, expected {ident.did}")
    ctx.check(isinstance(p.get("sessionToken"), str) and p["sessionToken"], "no sessionToken string")


@case("AUTH-002", area="auth", reqs=["R-AUTH-15"], types=["sync.state/c2s", "error/s2c"],
      title="A VP with a bad signature is refused with AUTH_INVALID and close 4002",
      sends="sync.state whose VP proofValue has one base58 character changed",
      expects="error AUTH_INVALID, then close 4002; no sync.response")
async def auth_bad_signature(ctx):
    c = await ctx.connect("mallory", auth=False)
    ident = ctx.identity("mallory")
    vp = _tamper_signature(ident.presentation())
    await c.send("sync.state", vp, sender=ident.did)
    await c.expect_error("AUTH_INVALID")
    await c.expect_close(4002)
    await c.expect_none("sync.response", within=0.01)


@case("AUTH-003", area="auth", reqs=["R-AUTH-15"], types=["sync.state/c2s", "error/s2c"],
      title="A VP signed by another key (impersonation) is refused",
      sends="sync.state with holder = Alice's DID but signed with Mallory's key",
      expects="error AUTH_INVALID, then close 4002")
async def auth_impersonation(ctx):
    c = await ctx.connect("mallory", auth=False)
    alice, mallory = ctx.identity("alice"), ctx.identity("mallory")
    vp = mallory.presentation()
    forged = copy.deepcopy(vp)
    forged["holder"] = alice.did
    forged["proof"]["verificationMethod"] = alice.vm
    await c.send("sync.state", forged, sender=alice.did)
    await c.expect_error("AUTH_INVALID")
    await c.expect_close(4002)


@case("AUTH-004", area="auth", reqs=["R-AUTH-14"], types=["channel.send/c2s", "error/s2c"],
      title="Frames before authentication get AUTH_REQUIRED and the socket stays open",
      sends="channel.send, community.list and a JSON number before any login",
      expects="three error AUTH_REQUIRED frames; connection still open; a VP then logs in")
async def auth_required(ctx):
    c = await ctx.connect("alice", auth=False)
    ident = ctx.identity("alice")
    await c.send("channel.send", {"communityId": "x", "channelId": "y", "content": "hi"}, sender=ident.did)
    await c.expect_error("AUTH_REQUIRED")
    await c.send("community.list", {}, sender=ident.did)
    await c.expect_error("AUTH_REQUIRED")
    await c.send_raw("42")
    await c.expect_error("AUTH_REQUIRED")
    await c.expect_open(within=0.2)
    await ctx.adapter.authenticate(ctx, c, ident)


@case("AUTH-005", area="auth", reqs=["R-AUTH-25"], types=[],
      title="No login within the auth timeout closes with 4001",
      sends="nothing after opening the socket",
      expects="close 4001 within the configured auth timeout (+1 s), with no error frame first",
      needs=["timers"], timeout=40)
async def auth_timeout(ctx):
    ms = ctx.target.timers.get("auth_timeout_ms")
    if ms is None:
        if not ctx.run.options.slow:
            ctx.unsupported("the server's auth timeout is unknown (start it with --server-cmd, "
                            "set [timers] auth_timeout_ms, or pass --slow to wait 30 s)")
        ms = 30000
    c = await ctx.connect("idle", auth=False)
    await c.expect_close(4001, timeout=ms / 1000 + 1.0)
    errors = [f for f in c.inbox if isinstance(f, dict) and f.get("type") == "error"]
    ctx.check(not errors, f"an error frame was sent before the 4001 close: {errors[:1]}")


@case("AUTH-006", area="auth", reqs=["R-AUTH-11"], types=["sync.state/c2s", "error/s2c"],
      title="A VP with an empty credential list is refused",
      sends="sync.state with a correctly signed VP whose verifiableCredential is []",
      expects="error AUTH_INVALID and close 4002 (upstream logs it in: gap G1/W7)")
async def auth_empty_credentials(ctx):
    c = await ctx.connect("alice", auth=False)
    ident = ctx.identity("alice")
    vp = ident.presentation(credentials=[])
    await c.send("sync.state", vp, sender=ident.did)
    await c.expect_error("AUTH_INVALID")
    await c.expect_close(4002)


@case("AUTH-007", area="auth", reqs=["R-AUTH-10"], types=["sync.state/c2s", "error/s2c"],
      title="A replayed VP is refused",
      sends="the same valid VP twice, on two connections",
      expects="first logs in; second gets error AUTH_INVALID and close 4002")
async def auth_replay(ctx):
    ident = ctx.identity("alice")
    vp = ident.presentation()
    c1 = await ctx.connect("alice-1", auth=False, identity=ident)
    await c1.send("sync.state", vp, sender=ident.did)
    await c1.expect_type("sync.response", lambda p: p.get("authenticated") is True)
    c2 = await ctx.connect("alice-2", auth=False, identity=ident)
    await c2.send("sync.state", vp, sender=ident.did)
    await c2.expect_error("AUTH_INVALID")
    await c2.expect_close(4002)


@case("AUTH-008", area="auth", reqs=["R-AUTH-4"], types=["sync.state/c2s", "error/s2c"],
      title="The signing input keeps wire key order: a reordered VP fails",
      sends="a valid VP re-serialised with `holder` moved after `verifiableCredential`",
      expects="error AUTH_INVALID and close 4002 (the signature covers the key order)")
async def auth_key_order(ctx):
    ident = ctx.identity("alice")
    vp = ident.presentation()
    reordered = {k: vp[k] for k in vp if k != "holder"}
    items = list(reordered.items())
    idx = [k for k, _ in items].index("verifiableCredential") + 1
    items.insert(idx, ("holder", vp["holder"]))
    c = await ctx.connect("alice", auth=False)
    env = c.envelope("sync.state", dict(items), sender=ident.did)
    await c.send_frame(env)
    await c.expect_error("AUTH_INVALID")
    await c.expect_close(4002)


@case("AUTH-009", area="auth", reqs=["R-TOK-3"], types=["auth.token.verify/c2s", "sync.response/s2c"],
      title="A session token from a VP login logs in on a new connection",
      sends="auth.token.verify {token} with the sessionToken of a previous login",
      expects="sync.response {authenticated:true, did, sessionToken}")
async def auth_token_ok(ctx):
    ctx.adapter.require("session-token")
    ident = ctx.identity("alice")
    c1 = await ctx.connect("alice-1", identity=ident)
    token = c1.session_token
    ctx.check(isinstance(token, str) and token, "first login gave no sessionToken")
    c2 = await ctx.connect("alice-2", auth=False, identity=ident)
    ok = await ctx.adapter.authenticate(ctx, c2, ident, token=token)
    ctx.check(ok["payload"].get("did") == ident.did, "token login returned another DID")


@case("AUTH-010", area="auth", reqs=["R-TOK-4"], types=["auth.token.verify/c2s", "auth.token.expired/s2c"],
      title="A tampered session token is refused with auth.token.expired; the socket stays open",
      sends="auth.token.verify with a token whose payload part was altered",
      expects="auth.token.expired; the connection stays open and a VP login then succeeds")
async def auth_token_tampered(ctx):
    ctx.adapter.require("session-token")
    import base64
    ident = ctx.identity("alice")
    c1 = await ctx.connect("alice-1", identity=ident)
    body, _, sig = (c1.session_token or "").partition(".")
    try:
        claims = json.loads(base64.b64decode(body))
        claims["exp"] = claims.get("exp", 0) + 1000
        forged = base64.b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode() + "." + sig
    except ValueError:
        forged = body[:-2] + "AA." + sig
    c2 = await ctx.connect("alice-2", auth=False, identity=ident)
    await c2.send("auth.token.verify", {"token": forged}, sender=ident.did)
    await c2.expect_type("auth.token.expired")
    await c2.expect_open(within=0.2)
    await ctx.adapter.authenticate(ctx, c2, ident)
