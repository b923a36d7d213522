"""Persistence (spec/persistence.md): what survives a restart. Every case here restarts the
server the suite started (needs "restart"); state is set up and read back over the wire."""
from __future__ import annotations

import asyncio
import os

from ..core import case
from ._util import (assign_role, ban, create_community, create_role, history, http, key_package,
                    require_restart, restart, template_has,
                    send_message, world)
from .auth2 import make_vc, make_vp


@case("PERS-001", area="persistence", reqs=["R-PERS-10"],
      types=["mls.keypackage.upload/c2s", "mls.keypackage.fetch/c2s", "mls.keypackage.response/s2c"],
      needs=["restart"], timeout=40,
      title="An uploaded MLS key package survives a restart",
      sends="alice uploads a key package; the server restarts; bob fetches alice's key packages",
      expects="the fetched key package has the uploaded signature (upstream keeps them in memory)")
async def pers_keypackage(ctx):
    from .mls import fetch_settled
    require_restart(ctx)
    a = await ctx.connect("alice")
    kp = key_package(ctx.identity("alice"))
    await a.send("mls.keypackage.upload", {"keyPackage": kp})
    def has_it(ks):
        return isinstance(ks, list) and any(isinstance(k, dict) and k.get("signature") == kp["signature"] for k in ks)
    got = await fetch_settled(ctx, a, [a.did], a.did, has_it)
    ctx.check(has_it(got.get(a.did)), "the key package is not fetched back before the restart")
    await restart(ctx)
    b = await ctx.connect("bob")
    got = await fetch_settled(ctx, b, [ctx.identity("alice").did], ctx.identity("alice").did, has_it)
    k = got.get(ctx.identity("alice").did)
    ctx.check(has_it(k), f"after the restart: {str(k)[:300]}")


@case("PERS-002", area="persistence", reqs=["R-PERS-11"],
      types=["channel.send/c2s", "notification.new/s2c", "notification.list/c2s", "notification.list.response/s2c"],
      needs=["restart"], timeout=40,
      title="Notifications survive a restart",
      sends="the owner mentions bob (bob receives notification.new); the server restarts; bob sends notification.list",
      expects="the list holds the notification with the same id, still unread")
async def pers_notifications(ctx):
    from .notifications import mention_payload, notif_list
    require_restart(ctx)
    w = await world(ctx, names=("bob",))
    env = await w["owner"].send("channel.send", mention_payload(w, [w.did("bob")]))
    f = await w["bob"].expect_type("notification.new", lambda p: p.get("messageId") == env["id"])
    nid = f["payload"].get("id")
    await restart(ctx)
    b = await ctx.connect("bob-after", identity=ctx.identity("bob"))
    ns = (await notif_list(ctx, b, {}))["notifications"]
    mine = [n for n in ns if n.get("id") == nid]
    ctx.check(mine and mine[0].get("read") is False, f"notification {nid} after the restart: {mine[:1]}")


@case("PERS-003", area="persistence", reqs=["R-PERS-12"], types=["sync.state/c2s", "error/s2c"],
      needs=["restart"], timeout=40,
      title="The VP replay cache survives a restart",
      sends="a VP logs in; the server restarts; the same VP is sent again",
      expects="error AUTH_INVALID ('Replayed VP') and close 4002")
async def pers_replay(ctx):
    require_restart(ctx)
    a = ctx.identity("alice")
    vp = a.presentation()
    c = await ctx.connect("alice", auth=False)
    await c.send("sync.state", vp, sender=a.did)
    await c.expect_type("sync.response", lambda p: p.get("authenticated") is True)
    await restart(ctx)
    c2 = await ctx.connect("alice-again", auth=False, identity=a)
    await c2.send("sync.state", vp, sender=a.did)
    f = await c2.expect_error("AUTH_INVALID")
    ctx.check(f["payload"].get("message") == "Replayed VP", f"message {f['payload'].get('message')!r}")
    await c2.expect_close(4002)


@case("PERS-004", area="persistence", reqs=["R-PERS-14"],
      types=["moderation.config.update/c2s", "moderation.config.get/c2s", "moderation.config.response/s2c"],
      needs=["restart"], timeout=40,
      title="Moderation configuration survives a restart",
      sends="the owner sets a rateLimit rule; the server restarts; the owner sends moderation.config.get",
      expects="the rule is returned")
async def pers_moderation(ctx):
    from .moderation import config_get, config_update
    require_restart(ctx)
    w = await world(ctx, names=())
    rules = [{"type": "rateLimit", "config": {"maxMessages": 9}}]
    await config_update(ctx, w["owner"], w.cid, rules)
    await restart(ctx)
    o = await ctx.connect("owner-after", identity=ctx.identity("owner"))
    got = await config_get(ctx, o, w.cid)
    ctx.check(isinstance(got, list) and any(r.get("type") == "rateLimit" and 9 in (
        r.get("maxMessages"), (r.get("config") or {}).get("maxMessages")) for r in got if isinstance(r, dict)),
        f"rules after the restart: {got}")


@case("PERS-005", area="persistence", reqs=["R-PERS-15"],
      types=["media.upload.request/c2s", "media.upload.complete/s2c"], needs=["restart"], timeout=40,
      title="Uploaded media survive a restart",
      sends="a member uploads a small PNG; the server restarts; GET of the returned url",
      expects="HTTP 200 with the uploaded bytes")
async def pers_media(ctx):
    from .media import PNG, upload
    require_restart(ctx)
    w = await world(ctx, names=())
    p = await upload(ctx, w["owner"], w)
    url = p.get("url")
    ctx.check(isinstance(url, str) and url.startswith("/"), f"upload reply {p}")
    await restart(ctx)
    r = await http(ctx, "GET", url)
    ctx.check(r.status == 200 and r.data == PNG, f"GET {url} after the restart: {r}")


@case("PERS-006", area="persistence", reqs=["R-PERS-16"],
      types=["recovery.request.create/c2s", "recovery.request.notify/s2c"], needs=["restart"], timeout=40,
      title="A pending recovery request survives a restart",
      sends="a requester creates a request naming two guardians who are offline; the server restarts; a guardian "
            "logs in",
      expects="the guardian receives recovery.request.notify for the request")
async def pers_recovery(ctx):
    require_restart(ctx)
    for g in ("g1", "g2"):
        c = await ctx.connect(g)
        await c.close_quietly()
    req = await ctx.connect("req", identity=ctx.identity(f"req-{os.urandom(4).hex()}"))
    rid = "recovery:" + os.urandom(16).hex()
    await req.send("recovery.request.create", {"requestId": rid, "requesterDID": req.did,
                                               "guardianDIDs": [ctx.identity("g1").did, ctx.identity("g2").did],
                                               "threshold": 2})
    await req.expect_type("recovery.request.created", lambda p: p.get("requestId") == rid)
    await restart(ctx)
    g = await ctx.connect("g1-after", identity=ctx.identity("g1"))
    await g.expect_type("recovery.request.notify", lambda p: p.get("requestId") == rid)


@case("PERS-007", area="persistence", reqs=["R-PERS-17"], types=["sync.state/c2s", "error/s2c"],
      needs=["restart"], timeout=40,
      title="The revocation list and the trusted issuers are in force after a restart",
      sends="the server restarts (with the same --revoked-credential and --trusted-issuer); a VP with the revoked "
            "credential; a VP with a credential from the trusted issuer",
      expects="the first: AUTH_INVALID 'Revoked VC' and close 4002; the second logs in")
async def pers_revocations(ctx):
    require_restart(ctx)
    t, rid = ctx.trusted_issuer(), ctx.revoked_vc_id
    if not (template_has(ctx, "{revoked_credentials}") and template_has(ctx, "{trusted_issuers}")):
        ctx.unsupported("the server's command template does not pass {revoked_credentials} and {trusted_issuers}: "
                        "the server was not told the fixtures")
    await restart(ctx)
    a = ctx.identity("alice")
    c = await ctx.connect("revoked", auth=False)
    await c.send("sync.state", make_vp(a, [make_vc(a, id_hex=rid.split(":")[-1])]), sender=a.did)
    f = await c.expect_error("AUTH_INVALID")
    ctx.check(f["payload"].get("message") == "Revoked VC", f"message {f['payload'].get('message')!r}")
    await c.expect_close(4002)
    c2 = await ctx.connect("trusted", auth=False)
    await c2.send("sync.state", make_vp(a, [make_vc(t, a.did)]), sender=a.did)
    await c2.expect_type("sync.response", lambda p: p.get("authenticated") is True)


@case("PERS-008", area="persistence", reqs=["R-PERS-19"],
      types=["channel.delete.admin/c2s", "channel.deleted/s2c", "channel.history/c2s"], needs=["restart"],
      timeout=40,
      title="A deleted channel's messages are gone, also after a restart",
      sends="the owner posts two messages, deletes the channel with channel.delete.admin, the server restarts",
      expects="channel.history and sync.request for the deleted channel answer NOT_FOUND before and after the "
              "restart; no message of it appears anywhere")
async def pers_channel_delete(ctx):
    require_restart(ctx)
    w = await world(ctx, names=())
    o = w["owner"]
    for i in range(2):
        await send_message(ctx, o, w.cid, w.chid, f"doomed-{i}")
    await o.send("channel.delete.admin", {"communityId": w.cid, "channelId": w.chid})
    await o.expect_type("channel.deleted")
    for when in ("before", "after"):
        if when == "after":
            await restart(ctx)
            o = await ctx.connect("owner-after", identity=ctx.identity("owner"))
        await o.send("channel.history", {"communityId": w.cid, "channelId": w.chid})
        f = await o.expect(lambda f: f.get("type") in ("error", "channel.history.response"), what="history reply")
        ctx.check(f["type"] == "error" and ctx.adapter.error_code(f) == "NOT_FOUND",
                  f"{when} the restart channel.history answered {f['type']}: {f.get('payload')}")


@case("PERS-009", area="persistence", reqs=["R-PERS-22"],
      types=["community.create/c2s", "community.info/c2s", "community.info.response/s2c", "channel.send/c2s"],
      needs=["restart"], timeout=40,
      title="Community and channel ids handed out before a restart name the same objects after it",
      sends="community.create with a unique name; a message; the server restarts; community.info and channel.send "
            "with the old ids",
      expects="community.info names the same community; a message is sent to the old channel id and history holds "
              "both messages")
async def pers_ids(ctx):
    require_restart(ctx)
    o = await ctx.connect("owner")
    name = f"pers-ids-{os.urandom(3).hex()}"
    cid, chid, _ = await create_community(ctx, o, name)
    m1 = await send_message(ctx, o, cid, chid, "before")
    await restart(ctx)
    o = await ctx.connect("owner-after", identity=ctx.identity("owner"))
    await asyncio.sleep(0.1)
    o.drain()
    await o.send("community.info", {"communityId": cid})
    f = await o.expect_type("community.info.response", lambda p: p.get("communityId") == cid)
    p = f["payload"]
    ctx.check((p.get("info") or {}).get("name") == name, f"community.info after the restart: {str(p)[:300]}")
    m2 = await send_message(ctx, o, cid, chid, "after")
    h = await history(ctx, o, cid, chid)
    ids = [m.get("id") for m in h.get("messages") or []]
    ctx.check(m1 in ids and m2 in ids, f"history ids {ids}")


@case("PERS-010", area="persistence", reqs=["R-PERS-21"], types=[], needs=["restart"], timeout=40,
      title="harmonyd refuses a data directory of a newer storage format and leaves it unchanged",
      sends="harmonyd starts on a fresh data directory and stops; its stored schema version is raised by 1000 "
            "(harmonyd's own format: meta.schema_version in harmony.db); harmonyd starts again",
      expects="the second start exits with a non-zero status and a message on stderr; the schema version is still "
              "the raised one")
async def pers_newer_format(ctx):
    import sqlite3
    from .sut import READY_LINE, _harmonyd, _run, _start, _stop, _tmpdir
    h = _harmonyd(ctx)
    dd = os.path.join(_tmpdir(ctx, "newer"), "d")
    p, line = await _start([h, "--port", "0", "--data-dir", dd])
    ctx.check(READY_LINE.match(line or ""), f"first start: ready line {line!r}")
    await _stop(p)
    db = os.path.join(dd, "harmony.db")
    if not os.path.exists(db):
        ctx.unsupported("harmonyd's store file harmony.db is not where this case expects it")
    con = sqlite3.connect(db)
    try:
        cur = con.execute("SELECT value FROM meta WHERE key='schema_version'")
        row = cur.fetchone()
        if row is None:
            ctx.unsupported("harmonyd's store has no meta.schema_version")
        raised = int(row[0]) + 1000
        con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (raised,))
        con.commit()
    finally:
        con.close()
    rc, out, err = await _run([h, "--port", "0", "--data-dir", dd], timeout=10)
    ctx.check(rc not in (None, 0) and err.strip(), f"start on a newer data directory: status {rc}, "
                                                   f"stderr {err[:200]!r}, stdout {out[:100]!r}")
    con = sqlite3.connect(db)
    try:
        now = int(con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
    finally:
        con.close()
    ctx.check(now == raised, f"schema version changed to {now}")


@case("PERS-011", area="persistence", reqs=["R-PERS-1", "R-PERS-4", "R-PERS-5", "R-PERS-10", "R-PERS-20"],
      types=["community.join/c2s", "role.create/c2s", "role.assign/c2s", "community.ban/c2s",
             "mls.keypackage.upload/c2s", "mls.keypackage.fetch/c2s", "mls.keypackage.response/s2c",
             "channel.pin/c2s", "channel.message.pinned/s2c"],
      needs=["restart"], timeout=40,
      title="SIGKILL loses no acknowledged membership, role, ban or key package",
      sends="bob joins, gets a role, uploads a key package; carol joins and is banned; each step waits for its "
            "acknowledgement (reply or broadcast); then the server is killed with SIGKILL and started again",
      expects="after the restart: bob's login resync includes the community, bob can still pin (his role's "
              "permission), carol's join answers BANNED, and fetching bob's key packages returns the uploaded one")
async def pers_kill9_state(ctx):
    require_restart(ctx)
    w = await world(ctx, names=("bob", "carol"), msg=True)
    owner, bob, carol = w["owner"], w["bob"], w["carol"]
    rid = await create_role(ctx, owner, w.cid, permissions=["channel.pin"])
    await assign_role(ctx, owner, w.cid, bob.did, rid)
    kp = key_package(ctx.identity("bob"))
    await bob.send("mls.keypackage.upload", {"keyPackage": kp})
    # a fetch by bob himself is the barrier that the upload was processed (and acknowledged)
    await bob.send("mls.keypackage.fetch", {"dids": [bob.did]})
    f = await bob.expect_type("mls.keypackage.response")
    ctx.check(len((f["payload"].get("keyPackages") or {}).get(bob.did) or []) >= 1, f"upload not visible: {f}")
    await ban(ctx, owner, w.cid, carol)
    await restart(ctx, hard=True)
    bob2 = await ctx.connect("bob-after", identity=ctx.identity("bob"))
    await bob2.expect_type("community.auto-joined", lambda p: p.get("communityId") == w.cid,
                           what="the resync of bob's membership after SIGKILL")
    # the role survives: its permission still lets bob pin (a member without it gets FORBIDDEN)
    await bob2.send("channel.pin", {"communityId": w.cid, "channelId": w.chid, "messageId": w.msg})
    await bob2.expect_type("channel.message.pinned", lambda p: p.get("messageId") == w.msg,
                           what="channel.message.pinned: bob's role (channel.pin) after SIGKILL")
    await bob2.send("mls.keypackage.fetch", {"dids": [bob.did]})
    f = await bob2.expect_type("mls.keypackage.response")
    ctx.check(len((f["payload"].get("keyPackages") or {}).get(bob.did) or []) >= 1,
              f"the key package was lost: {f['payload']}")
    carol2 = await ctx.connect("carol-after", identity=ctx.identity("carol"))
    await carol2.send("community.join", {"communityId": w.cid})
    await carol2.expect_error("BANNED")
