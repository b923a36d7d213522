"""Social recovery relay (spec/messages/recovery.md)."""
from __future__ import annotations

import asyncio
import os

from ..core import case
from ._util import expect_silence, unique

ALL = ["recovery.request.created", "recovery.request.notify", "recovery.request.cancelled",
       "recovery.shard.submitted", "recovery.shards.response"]


def err_text(f):
    return (f.get("payload") or {}).get("message")


async def parties(ctx, guardians=("g1", "g2"), others=()):
    # the requester is a DID never used before: requests are bounded per requester (R-LIM-6) and live 24 h
    c = {"req": await ctx.connect("req", identity=ctx.identity(f"req-{os.urandom(4).hex()}"))}
    for n in tuple(guardians) + tuple(others):
        c[n] = await ctx.connect(n)
    return c


async def create(ctx, c, rid, guardians=("g1", "g2"), threshold=2):
    await c["req"].send("recovery.request.create", {"requestId": rid, "requesterDID": c["req"].did,
                                                    "guardianDIDs": [ctx.identity(g).did for g in guardians],
                                                    "threshold": threshold})
    await c["req"].expect_type("recovery.request.created", lambda p: p.get("requestId") == rid,
                               what="recovery.request.created")
    await asyncio.sleep(0.1)
    for x in c.values():
        x.drain()


async def submit(ctx, conn, rid, shard):
    await conn.send("recovery.shard.submit", {"requestId": rid, "guardianDID": conn.did, "encryptedShard": shard})
    await conn.expect_type("recovery.shard.submitted", lambda p: p.get("requestId") == rid,
                           what="recovery.shard.submitted (receipt)")


async def fetch(ctx, conn, rid):
    await conn.send("recovery.shards.fetch", {"requestId": rid})
    f = await conn.expect(lambda f: f.get("type") in ("recovery.shards.response", "error"),
                          what="the answer to recovery.shards.fetch")
    return f


@case("RECOV-001", area="recovery", reqs=["R-RECOV-1"],
      types=["recovery.request.create/c2s", "recovery.request.created/s2c", "recovery.request.notify/s2c"],
      title="A recovery request is confirmed to the requester and announced to every guardian connection",
      sends="recovery.request.create {requestId, requesterDID, guardianDIDs: [g1, g2], threshold: 2}; g1 has two "
            "connections; another user is connected",
      expects="recovery.request.created {requestId}; recovery.request.notify {requestId, requesterDID, timestamp} "
              "at all three guardian connections; nothing at the other user")
async def recov_create(ctx):
    c = await parties(ctx, others=("x",))
    c["g1b"] = await ctx.connect("g1-2", identity=ctx.identity("g1"))
    rid = unique(ctx, "rq")
    await c["req"].send("recovery.request.create", {"requestId": rid, "requesterDID": c["req"].did,
                                                    "guardianDIDs": [c["g1"].did, c["g2"].did], "threshold": 2})
    f = await c["req"].expect_type("recovery.request.created")
    ctx.check(f["payload"].get("requestId") == rid, f"payload {f['payload']}")
    for n in ("g1", "g1b", "g2"):
        f = await c[n].expect_type("recovery.request.notify", what=f"recovery.request.notify at {n}")
        p = f["payload"]
        ctx.check(p.get("requestId") == rid and p.get("requesterDID") == c["req"].did
                  and isinstance(p.get("timestamp"), str), f"{n}: notify {p}")
    await expect_silence([c["x"]], ALL)


@case("RECOV-002", area="recovery", reqs=["R-RECOV-2"], types=["recovery.request.create/c2s", "error/s2c"],
      title="A request without requestId, without a guardian array or with threshold 0 is refused",
      sends="recovery.request.create without requestId; with guardianDIDs 'g1'; with threshold 0",
      expects="three error INVALID_PAYLOAD 'Missing required fields for recovery request'; no notification")
async def recov_create_invalid(ctx):
    c = await parties(ctx)
    base = {"requestId": unique(ctx, "rq"), "requesterDID": c["req"].did,
            "guardianDIDs": [c["g1"].did, c["g2"].did], "threshold": 1}
    norid = dict(base)
    del norid["requestId"]
    for p in (norid, dict(base, guardianDIDs=c["g1"].did), dict(base, threshold=0)):
        await c["req"].send("recovery.request.create", p)
        e = await c["req"].expect_error("INVALID_PAYLOAD")
        ctx.check(err_text(e) == "Missing required fields for recovery request", f"message {err_text(e)!r}")
    await expect_silence(c.values(), ["recovery.request.notify", "recovery.request.created"])


@case("RECOV-003", area="recovery", reqs=["R-RECOV-3", "R-AUTHZ-5"], types=["recovery.request.create/c2s", "error/s2c"],
      title="A request whose requesterDID is not the sender's DID is refused",
      sends="eve sends recovery.request.create naming req as requesterDID",
      expects="error FORBIDDEN 'requesterDID does not match the authenticated identity'; no notify to the "
              "guardians (upstream: G8)")
async def recov_forged_requester(ctx):
    c = await parties(ctx, others=("eve",))
    await c["eve"].send("recovery.request.create", {"requestId": unique(ctx, "rq"), "requesterDID": c["req"].did,
                                                    "guardianDIDs": [c["g1"].did], "threshold": 1})
    e = await c["eve"].expect_error("FORBIDDEN")
    ctx.check(err_text(e) == "requesterDID does not match the authenticated identity", f"message {err_text(e)!r}")
    await expect_silence(c.values(), ["recovery.request.notify", "recovery.request.created"])


@case("RECOV-004", area="recovery", reqs=["R-RECOV-4"], types=["recovery.request.create/c2s", "error/s2c"],
      title="Re-creating an existing request id is refused and leaves the request untouched",
      sends="req creates request R, g1 submits a shard; eve creates R naming herself and her own guardian",
      expects="eve gets CONFLICT 'Recovery request already exists'; req still fetches g1's shard; eve's fetch "
              "gets NOT_FOUND (upstream overwrites: G8)")
async def recov_takeover(ctx):
    c = await parties(ctx, others=("eve", "eg"))
    rid = unique(ctx, "rq")
    await create(ctx, c, rid)
    await submit(ctx, c["g1"], rid, "shard-one")
    await c["eve"].send("recovery.request.create", {"requestId": rid, "requesterDID": c["eve"].did,
                                                    "guardianDIDs": [c["eg"].did], "threshold": 1})
    e = await c["eve"].expect_error("CONFLICT")
    ctx.check(err_text(e) == "Recovery request already exists", f"message {err_text(e)!r}")
    f = await fetch(ctx, c["req"], rid)
    ctx.check(f["type"] == "recovery.shards.response" and [s.get("encryptedShard") for s in
                                                           f["payload"].get("shards") or []] == ["shard-one"],
              f"the requester's fetch after the takeover attempt: {f}")
    f = await fetch(ctx, c["eve"], rid)
    ctx.check(f["type"] == "error" and ctx.adapter.error_code(f) == "NOT_FOUND", f"eve's fetch: {f}")


@case("RECOV-005", area="recovery", reqs=["R-RECOV-5", "R-MISC-9"], types=["recovery.request.create/c2s", "error/s2c"],
      title="Bad thresholds and guardian lists are refused",
      sends="threshold 3 for 2 guardians; threshold 1.5; a duplicated guardian; the requester as guardian; "
            "33 guardians",
      expects="INVALID_PAYLOAD each time (the last 'guardianDIDs has too many items (max 32)'); nothing notified")
async def recov_bad_lists(ctx):
    c = await parties(ctx)
    g = [c["g1"].did, c["g2"].did]
    base = {"requesterDID": c["req"].did, "guardianDIDs": g, "threshold": 1}
    probes = [dict(base, threshold=3), dict(base, threshold=1.5), dict(base, guardianDIDs=[g[0], g[0]]),
              dict(base, guardianDIDs=[g[0], c["req"].did]),
              dict(base, guardianDIDs=[ctx.identity(f"gg{i}").did for i in range(33)])]
    for i, p in enumerate(probes):
        await c["req"].send("recovery.request.create", dict(p, requestId=unique(ctx, f"rq{i}")))
        e = await c["req"].expect_error("INVALID_PAYLOAD")
        if i == 4:
            ctx.check(err_text(e) == "guardianDIDs has too many items (max 32)", f"message {err_text(e)!r}")
    await expect_silence(c.values(), ["recovery.request.notify", "recovery.request.created"])


@case("RECOV-006", area="recovery", reqs=["R-RECOV-6"], types=["recovery.request.notify/s2c"],
      title="An offline guardian is told about the request when it next authenticates",
      sends="req creates a request naming g1 (online) and g3 (offline); g3 then logs in",
      expects="g3 receives recovery.request.notify for the request after its authentication")
async def recov_offline(ctx):
    c = await parties(ctx, guardians=("g1",))
    rid = unique(ctx, "rq")
    await create(ctx, c, rid, guardians=("g1", "g3"), threshold=1)
    g3 = await ctx.connect("g3")
    f = await g3.expect_type("recovery.request.notify", lambda p: p.get("requestId") == rid)
    ctx.check(f["payload"].get("requesterDID") == c["req"].did, f"payload {f['payload']}")


@case("RECOV-007", area="recovery", reqs=["R-RECOV-8"],
      types=["recovery.request.cancel/c2s", "recovery.request.cancelled/s2c", "error/s2c"],
      title="Only the requester cancels; afterwards the request is gone",
      sends="g1 cancels the request; req cancels an unknown id; req cancels the request; g1 submits a shard",
      expects="NOT_FOUND 'Recovery request not found or not authorized' twice; recovery.request.cancelled "
              "{requestId}; the submission gets NOT_FOUND")
async def recov_cancel(ctx):
    c = await parties(ctx)
    rid = unique(ctx, "rq")
    await create(ctx, c, rid)
    for conn, r in ((c["g1"], rid), (c["req"], rid + "-unknown")):
        await conn.send("recovery.request.cancel", {"requestId": r})
        e = await conn.expect_error("NOT_FOUND")
        ctx.check(err_text(e) == "Recovery request not found or not authorized", f"message {err_text(e)!r}")
    await c["req"].send("recovery.request.cancel", {"requestId": rid})
    f = await c["req"].expect_type("recovery.request.cancelled")
    ctx.check(f["payload"].get("requestId") == rid, f"payload {f['payload']}")
    await c["g1"].send("recovery.shard.submit", {"requestId": rid, "guardianDID": c["g1"].did,
                                                 "encryptedShard": "late"})
    await c["g1"].expect_error("NOT_FOUND")


@case("RECOV-008", area="recovery", reqs=["R-RECOV-9"],
      types=["recovery.shard.submit/c2s", "recovery.shard.submitted/s2c"],
      title="A guardian's shard gives it a receipt and the requester a progress notice",
      sends="g1 submits a shard for a 2-of-2 request",
      expects="g1: recovery.shard.submitted {requestId, guardianDID: g1}; req: recovery.shard.submitted "
              "{requestId, guardianDID: g1, shardsCollected: 1, threshold: 2}; nothing at g2")
async def recov_submit(ctx):
    c = await parties(ctx)
    rid = unique(ctx, "rq")
    await create(ctx, c, rid)
    await c["g1"].send("recovery.shard.submit", {"requestId": rid, "guardianDID": c["g1"].did,
                                                 "encryptedShard": "opaque-1"})
    f = await c["g1"].expect_type("recovery.shard.submitted")
    ctx.check(f["payload"].get("requestId") == rid and f["payload"].get("guardianDID") == c["g1"].did,
              f"receipt {f['payload']}")
    f = await c["req"].expect_type("recovery.shard.submitted")
    p = f["payload"]
    ctx.check(p.get("requestId") == rid and p.get("guardianDID") == c["g1"].did and p.get("shardsCollected") == 1
              and p.get("threshold") == 2, f"notice {p}")
    await expect_silence([c["g2"]], ["recovery.shard.submitted"])


@case("RECOV-009", area="recovery", reqs=["R-RECOV-10"], types=["recovery.shard.submit/c2s", "error/s2c"],
      title="Submissions for unknown requests, by non-guardians or with missing fields are refused",
      sends="g1 submits for an unknown id; x (not a guardian) submits for the request; g1 submits without a shard",
      expects="NOT_FOUND 'Recovery request not found'; UNAUTHORIZED 'Not a guardian for this recovery request'; "
              "INVALID_PAYLOAD 'Missing required fields for shard submission'; nothing at the requester")
async def recov_submit_refused(ctx):
    c = await parties(ctx, others=("x",))
    rid = unique(ctx, "rq")
    await create(ctx, c, rid)
    for conn, p, code, text in (
            (c["g1"], {"requestId": rid + "-unknown", "guardianDID": c["g1"].did, "encryptedShard": "s"},
             "NOT_FOUND", "Recovery request not found"),
            (c["x"], {"requestId": rid, "guardianDID": c["x"].did, "encryptedShard": "s"},
             "UNAUTHORIZED", "Not a guardian for this recovery request"),
            (c["g1"], {"requestId": rid, "guardianDID": c["g1"].did},
             "INVALID_PAYLOAD", "Missing required fields for shard submission")):
        await conn.send("recovery.shard.submit", p)
        e = await conn.expect_error(code)
        ctx.check(err_text(e) == text, f"{code}: message {err_text(e)!r}")
    await expect_silence([c["req"]], ["recovery.shard.submitted"])


@case("RECOV-010", area="recovery", reqs=["R-RECOV-11", "R-AUTHZ-5"], types=["recovery.shard.submit/c2s", "error/s2c"],
      title="A shard submitted in another guardian's name is refused and not stored",
      sends="eve submits {guardianDID: g1, encryptedShard: 'evil'} for the request",
      expects="error FORBIDDEN 'guardianDID does not match the authenticated identity'; the requester's fetch "
              "holds no shard (upstream stores it: G8)")
async def recov_forged_guardian(ctx):
    c = await parties(ctx, others=("eve",))
    rid = unique(ctx, "rq")
    await create(ctx, c, rid)
    await c["eve"].send("recovery.shard.submit", {"requestId": rid, "guardianDID": c["g1"].did,
                                                  "encryptedShard": "evil"})
    e = await c["eve"].expect_error("FORBIDDEN")
    ctx.check(err_text(e) == "guardianDID does not match the authenticated identity", f"message {err_text(e)!r}")
    f = await fetch(ctx, c["req"], rid)
    ctx.check(f["type"] == "recovery.shards.response" and f["payload"].get("shards") == [], f"fetch: {f}")


@case("RECOV-011", area="recovery", reqs=["R-RECOV-12"],
      types=["recovery.shards.fetch/c2s", "recovery.shards.response/s2c", "error/s2c"],
      title="The requester fetches every shard as submitted; nobody else can",
      sends="g2 then g1 submit shards; req fetches; g1 fetches",
      expects="recovery.shards.response {requestId, shards: [{g2, s2}, {g1, s1}], threshold: 2, total: 2}; g1 gets "
              "NOT_FOUND 'Recovery request not found or not authorized'")
async def recov_fetch(ctx):
    c = await parties(ctx)
    rid = unique(ctx, "rq")
    await create(ctx, c, rid)
    await submit(ctx, c["g2"], rid, "s2-\u00e9")
    await submit(ctx, c["g1"], rid, "s1")
    f = await fetch(ctx, c["req"], rid)
    ctx.check(f["type"] == "recovery.shards.response", f"fetch answered {f}")
    p = f["payload"]
    ctx.check(p.get("requestId") == rid and p.get("threshold") == 2 and p.get("total") == 2, f"payload {p}")
    ctx.check(p.get("shards") == [{"guardianDID": c["g2"].did, "encryptedShard": "s2-\u00e9"},
                                  {"guardianDID": c["g1"].did, "encryptedShard": "s1"}], f"shards {p.get('shards')}")
    f = await fetch(ctx, c["g1"], rid)
    ctx.check(f["type"] == "error" and ctx.adapter.error_code(f) == "NOT_FOUND"
              and err_text(f) == "Recovery request not found or not authorized", f"a guardian's fetch: {f}")


@case("RECOV-012", area="recovery", reqs=["R-RECOV-13"], types=["recovery.shard.submit/c2s"],
      title="Shards appear in no frame other than the requester's recovery.shards.response",
      sends="g1 submits a distinctive shard; everybody's frames are inspected",
      expects="the shard text occurs in no frame received by g1, g2 or the requester before its fetch")
async def recov_no_leak(ctx):
    c = await parties(ctx)
    rid = unique(ctx, "rq")
    await create(ctx, c, rid)
    secret = unique(ctx, "SHARD")
    await c["g1"].send("recovery.shard.submit", {"requestId": rid, "guardianDID": c["g1"].did,
                                                 "encryptedShard": secret})
    await c["req"].expect_type("recovery.shard.submitted")
    await asyncio.sleep(0.3)
    for name, conn in c.items():
        for t, d, text in conn.log:
            if d.startswith("recv"):
                ctx.check(secret not in text, f"{name} received the shard in {text[:200]}")


@case("RECOV-013", area="recovery", reqs=["R-LIM-6"], types=["recovery.request.create/c2s", "error/s2c"],
      title="A requester has at most 4 open recovery requests",
      sends="five recovery.request.create with distinct ids from one DID",
      expects="four recovery.request.created, then error QUOTA_EXCEEDED 'Recovery request limit reached (4)' "
              "(upstream: no bound, G19)")
async def recov_quota(ctx):
    c = await parties(ctx, guardians=("g1",))
    for i in range(4):
        await create(ctx, c, unique(ctx, f"rq{i}"), guardians=("g1",), threshold=1)
    await c["req"].send("recovery.request.create", {"requestId": unique(ctx, "rq5"), "requesterDID": c["req"].did,
                                                    "guardianDIDs": [c["g1"].did], "threshold": 1})
    e = await c["req"].expect_error("QUOTA_EXCEEDED")
    ctx.check(err_text(e) == "Recovery request limit reached (4)", f"message {err_text(e)!r}")
