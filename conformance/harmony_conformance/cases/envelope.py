"""Transport and envelope robustness: bad JSON, non-objects, unknown types, binary frames,
oversize frames. The server must answer as the spec says and keep serving."""
from __future__ import annotations

import json

from ..core import case


@case("ENV-001", area="envelope", reqs=["R-ENV-3"], types=["error/s2c"],
      title="Invalid JSON after login gets error INVALID_MESSAGE and the socket stays open",
      sends="the text `{\"type\":` (truncated JSON) after login",
      expects="error INVALID_MESSAGE; connection open; a later valid frame is still served (upstream: silent, G18)")
async def env_invalid_json(ctx):
    c = await ctx.connect("alice")
    await c.send_raw('{"type":')
    await c.expect_error("INVALID_MESSAGE")
    await c.expect_open(within=0.1)
    await c.send("no.such.type", {})
    await c.expect_error("UNKNOWN_TYPE")


@case("ENV-002", area="envelope", reqs=["R-ENV-2"], types=["error/s2c"],
      title="A JSON value that is not an envelope gets INVALID_MESSAGE",
      sends="`[]`, `42`, `\"x\"` and `{}` after login",
      expects="four error INVALID_MESSAGE frames; connection stays open")
async def env_not_object(ctx):
    c = await ctx.connect("alice")
    for raw in ("[]", "42", '"x"', "{}"):
        await c.send_raw(raw)
        await c.expect_error("INVALID_MESSAGE")
    await c.expect_open(within=0.1)


@case("ENV-003", area="envelope", reqs=["R-ENV-6"], types=["error/s2c"],
      title="An unknown type gets UNKNOWN_TYPE",
      sends="type `conformance.bogus` after login",
      expects="error UNKNOWN_TYPE whose message names the type; connection stays open")
async def env_unknown_type(ctx):
    c = await ctx.connect("alice")
    await c.send("conformance.bogus", {})
    f = await c.expect_error("UNKNOWN_TYPE")
    ctx.check("conformance.bogus" in str((f.get("payload") or {}).get("message")),
              f"error message does not name the type: {f.get('payload')}")
    await c.expect_open(within=0.1)


@case("ENV-004", area="envelope", reqs=["R-ERR-2"], types=["error/s2c"],
      title="Error frames carry the offending frame's id as requestId",
      sends="an unknown type with id `req-<n>`",
      expects="error UNKNOWN_TYPE with payload.requestId equal to that id (upstream: no reference, G18)")
async def env_error_request_id(ctx):
    c = await ctx.connect("alice")
    env = await c.send("conformance.bogus", {}, id="req-env-004")
    f = await c.expect_error("UNKNOWN_TYPE")
    ctx.check((f.get("payload") or {}).get("requestId") == env["id"],
              f"requestId is {(f.get('payload') or {}).get('requestId')!r}, expected {env['id']!r}")


@case("ENV-005", area="envelope", reqs=["R-TRN-5"], types=["sync.state/c2s", "sync.response/s2c"],
      title="A binary frame is read as UTF-8 JSON like a text frame",
      sends="the VP login envelope as a binary WebSocket message",
      expects="sync.response authenticated:true")
async def env_binary_login(ctx):
    c = await ctx.connect("alice", auth=False)
    ident = ctx.identity("alice")
    env = ctx.adapter.auth_frame(c, ident)
    await c.send_raw(json.dumps(env, separators=(",", ":")).encode())
    await c.expect_type("sync.response", lambda p: p.get("authenticated") is True)


@case("ENV-006", area="envelope", reqs=["R-LIM-1"], types=[],
      title="A message over 1 MiB closes the connection with 1009, and the server keeps serving",
      sends="a 1 048 577-byte text message after login, then a login on a new connection",
      expects="close 1009; a new connection still logs in")
async def env_oversize(ctx):
    c = await ctx.connect("alice")
    await c.send_raw(_sized_frame(1048577))
    await c.expect_close(1009, timeout=5)
    await ctx.connect("bob")


def _sized_frame(n: int) -> str:
    """A valid JSON envelope of exactly n bytes (an unknown type padded with a string)."""
    head, tail = '{"type":"conformance.padding","payload":{"p":"', '"}}'
    return head + "x" * (n - len(head) - len(tail)) + tail


@case("ENV-008", area="envelope", reqs=["R-LIM-1"], types=["error/s2c"],
      title="A message of exactly 1 MiB is accepted",
      sends="a 1 048 576-byte envelope of an unknown type after login",
      expects="error UNKNOWN_TYPE (the frame was read and dispatched); the connection stays open")
async def env_max_size_ok(ctx):
    c = await ctx.connect("alice")
    await c.send_raw(_sized_frame(1048576))
    await c.expect_error("UNKNOWN_TYPE", timeout=5)
    await c.expect_open(within=0.1)


@case("ENV-007", area="envelope", reqs=["R-AUTHZ-4"], types=["channel.send/c2s", "error/s2c"],
      title="A frame whose sender is another DID is refused with FORBIDDEN",
      sends="channel.send from a member with envelope sender = another member's DID",
      expects="error FORBIDDEN to the sender; no channel.message to anyone (upstream stores the forged author, G5)")
async def env_forged_sender(ctx):
    from ._util import community_with_members, message_payload
    cid, chid, conns = await community_with_members(ctx, names=("bob",))
    owner, bob = conns["owner"], conns["bob"]
    await owner.send("channel.send", message_payload(cid, chid, "forged"), sender=bob.did)
    await owner.expect_error("FORBIDDEN")
    await bob.expect_none("channel.message")
