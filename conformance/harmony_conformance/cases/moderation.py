"""Moderation config, rules (slow mode, rate limit, raid, VC, account age) and the frame rate limit
(spec/messages/moderation.md: areas MOD, MODR, RATE)."""
from __future__ import annotations

import asyncio
import json
import os
import re
import time

from ..core import case
from ._util import (assign_role, create_role, expect_silence, is_rate_limited, judge_burst, message_payload,
                    rate_attempts, rate_budget, rate_limit, restart, send_message, wait_arrivals, world)


def err_text(f):
    return (f.get("payload") or {}).get("message")


async def config_update(ctx, conn, cid, rules) -> list:
    await conn.send("moderation.config.update", {"communityId": cid, "rules": rules})
    f = await conn.expect_type("moderation.config.response", lambda p: p.get("communityId") == cid,
                               what="moderation.config.response to the update")
    return f["payload"].get("rules")


async def config_get(ctx, conn, cid) -> list:
    await conn.send("moderation.config.get", {"communityId": cid})
    f = await conn.expect_type("moderation.config.response", lambda p: p.get("communityId") == cid,
                               what="moderation.config.response to the get")
    return f["payload"].get("rules")


async def set_slow_mode(ctx, conn, cid, chid, seconds):
    await conn.send("channel.update", {"communityId": cid, "channelId": chid, "slowMode": seconds})
    await conn.expect_type("channel.updated", lambda p: p.get("channelId") == chid, what="channel.updated (setup)")


async def try_send(ctx, conn, cid, chid, text):
    """channel.send; returns the echo channel.message or the error frame."""
    await conn.send("channel.send", message_payload(cid, chid, text))
    return await conn.expect(lambda f: f.get("type") == "error" or f.get("type") == "channel.message"
                             and (f.get("payload") or {}).get("content") == text,
                             what=f"the echo of '{text}' or an error")


# ---- MOD: configuration ----------------------------------------------------------------------------

@case("MOD-001", area="moderation", reqs=["R-MOD-1"],
      types=["moderation.config.update/c2s", "moderation.config.response/s2c"],
      title="moderation.config.update from the creator returns the rules with ids and defaults filled in",
      sends="moderation.config.update {rules: [rateLimit {maxMessages: 5}, raidDetection {}]}",
      expects="moderation.config.response {communityId, rules}: rateLimit with a fresh id, scope 'community', "
              "scopeId = communityId, maxMessages 5, windowSeconds 60; raidDetection with joinThreshold 10, "
              "windowSeconds 60, action 'lockdown', lockdownDurationSeconds 300; in request order")
async def mod_update(ctx):
    w = await world(ctx, names=())
    rules = await config_update(ctx, w["owner"], w.cid, [{"type": "rateLimit", "config": {"maxMessages": 5}},
                                                         {"type": "raidDetection", "config": {}}])
    ctx.check(isinstance(rules, list) and len(rules) == 2, f"rules {rules}")
    rl, rd = rules
    ctx.check(rl.get("type") == "rateLimit" and isinstance(rl.get("id"), str) and rl["id"], f"rule 0 {rl}")
    for k, v in (("scope", "community"), ("scopeId", w.cid), ("maxMessages", 5), ("windowSeconds", 60)):
        ctx.check(rl.get(k) == v, f"rateLimit {k} is {rl.get(k)!r}, expected {v!r}")
    ctx.check(rd.get("type") == "raidDetection" and isinstance(rd.get("id"), str) and rd["id"] != rl["id"],
              f"rule 1 {rd}")
    for k, v in (("joinThreshold", 10), ("windowSeconds", 60), ("action", "lockdown"),
                 ("lockdownDurationSeconds", 300)):
        ctx.check(rd.get(k) == v, f"raidDetection {k} is {rd.get(k)!r}, expected {v!r}")


@case("MOD-002", area="moderation", reqs=["R-MOD-2"], types=["moderation.config.update/c2s", "error/s2c"],
      title="config update by a plain member, a non-member, or with a non-array rules is refused",
      sends="bob (member, no role) updates; an outsider updates; the owner sends rules = 'x'; the owner gets",
      expects="FORBIDDEN 'Only admins can update moderation config'; NOT_MEMBER 'Not a member of this community'; "
              "INVALID_PAYLOAD 'rules must be an array'; the rules are still the owner's earlier ones")
async def mod_update_refused(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    before = await config_update(ctx, owner, w.cid, [{"type": "rateLimit", "config": {"maxMessages": 7}}])
    new = [{"type": "rateLimit", "config": {"maxMessages": 1}}]
    await bob.send("moderation.config.update", {"communityId": w.cid, "rules": new})
    e = await bob.expect_error("FORBIDDEN")
    ctx.check(err_text(e) == "Only admins can update moderation config", f"message {err_text(e)!r}")
    eve = await ctx.connect("eve")
    await eve.send("moderation.config.update", {"communityId": w.cid, "rules": new})
    e = await eve.expect_error("NOT_MEMBER")
    ctx.check(err_text(e) == "Not a member of this community", f"message {err_text(e)!r}")
    await owner.send("moderation.config.update", {"communityId": w.cid, "rules": "x"})
    e = await owner.expect_error("INVALID_PAYLOAD")
    ctx.check(err_text(e) == "rules must be an array", f"message {err_text(e)!r}")
    after = await config_get(ctx, owner, w.cid)
    ctx.check(after == before, f"rules changed by refused updates: {after} != {before}")
    await expect_silence([bob, eve], ["moderation.config.response"])


@case("MOD-003", area="moderation", reqs=["R-MOD-3", "R-MISC-9"],
      types=["moderation.config.update/c2s", "error/s2c"],
      title="Unknown rule types, wrongly typed or out-of-range values and more than 32 rules are refused atomically",
      sends="updates: [rateLimit ok, {type: 'slowMode'}]; [rateLimit {maxMessages: '5'}]; "
            "[raidDetection {joinThreshold: 1}]; [accountAge {minAgeSeconds: 1.5}]; 33 rateLimit rules",
      expects="INVALID_PAYLOAD 'Invalid moderation rule: 1', then ': 0' three times, then 'rules has too many items "
              "(max 32)'; the rules stay as before (upstream drops or stores them: G14)")
async def mod_update_invalid(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    before = await config_update(ctx, owner, w.cid, [{"type": "rateLimit", "config": {"maxMessages": 9}}])
    ok = {"type": "rateLimit", "config": {"maxMessages": 3}}
    for rules, text in (([ok, {"type": "slowMode", "config": {}}], "Invalid moderation rule: 1"),
                        ([{"type": "rateLimit", "config": {"maxMessages": "5"}}], "Invalid moderation rule: 0"),
                        ([{"type": "raidDetection", "config": {"joinThreshold": 1}}], "Invalid moderation rule: 0"),
                        ([{"type": "accountAge", "config": {"minAgeSeconds": 1.5}}], "Invalid moderation rule: 0"),
                        ([ok] * 33, "rules has too many items (max 32)")):
        await owner.send("moderation.config.update", {"communityId": w.cid, "rules": rules})
        e = await owner.expect_error("INVALID_PAYLOAD")
        ctx.check(err_text(e) == text, f"message {err_text(e)!r}, expected {text!r}")
    await owner.expect_none("moderation.config.response")
    after = await config_get(ctx, owner, w.cid)
    ctx.check(after == before, f"a refused update changed the rules: {after}")


@case("MOD-004", area="moderation", reqs=["R-MOD-4", "R-AUTHZ-19"],
      types=["moderation.config.update/c2s", "moderation.config.response/s2c", "role.create/c2s"],
      title="A role granting moderation.manage lets a non-creator update the config",
      sends="the owner gives bob a role with permission moderation.manage; bob updates the config",
      expects="moderation.config.response to bob (upstream: creator only, G12)")
async def mod_role(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    rid = await create_role(ctx, owner, w.cid, permissions=["moderation.manage"])
    await assign_role(ctx, owner, w.cid, bob.did, rid)
    rules = await config_update(ctx, bob, w.cid, [{"type": "rateLimit", "config": {"maxMessages": 4}}])
    ctx.check(any(r.get("maxMessages") == 4 for r in rules or []), f"rules {rules}")


@case("MOD-005", area="moderation", reqs=["R-MOD-5"],
      types=["moderation.config.get/c2s", "moderation.config.response/s2c", "error/s2c"],
      title="moderation.config.get returns the current rules to a member; a non-member gets NOT_MEMBER",
      sends="the owner updates the rules; bob (plain member) gets them; an outsider gets them",
      expects="bob: moderation.config.response with the same rules the update returned; outsider: NOT_MEMBER")
async def mod_get(ctx):
    w = await world(ctx, names=("bob",))
    rules = await config_update(ctx, w["owner"], w.cid, [{"type": "rateLimit", "config": {"maxMessages": 6}}])
    got = await config_get(ctx, w["bob"], w.cid)
    ctx.check(got == rules, f"get returned {got}, the update returned {rules}")
    eve = await ctx.connect("eve")
    await eve.send("moderation.config.get", {"communityId": w.cid})
    e = await eve.expect_error("NOT_MEMBER")
    ctx.check(err_text(e) == "Not a member of this community", f"message {err_text(e)!r}")


@case("MOD-006", area="moderation", reqs=["R-MOD-6", "R-MODR-11"], needs=["restart"], timeout=40,
      types=["moderation.config.get/c2s", "moderation.config.response/s2c"],
      title="Moderation rules, slow mode included, survive a restart",
      sends="slow mode 30 on the channel and a rateLimit rule; restart; moderation.config.get",
      expects="the same rules as before the restart (upstream: memory only)")
async def mod_persist(ctx):
    w = await world(ctx, names=())
    await set_slow_mode(ctx, w["owner"], w.cid, w.chid, 30)
    rules = await config_update(ctx, w["owner"], w.cid, [{"type": "rateLimit", "config": {"maxMessages": 6}}])
    await restart(ctx)
    owner = await ctx.connect("owner-again", identity=ctx.identity("owner"))
    got = await config_get(ctx, owner, w.cid)
    ctx.check(got == rules, f"after restart: {got}, before: {rules}")


# ---- MODR: rules applied ---------------------------------------------------------------------------

@case("MODR-001", area="moderation", reqs=["R-MODR-1"], types=["channel.update/c2s", "channel.send/c2s", "error/s2c"],
      title="Slow mode refuses a DID's second message within the interval; other DIDs are unaffected",
      sends="channel.update slowMode 30; bob sends two messages; the owner then sends one",
      expects="bob's first is delivered; the second gets SLOW_MODE 'Slow mode: wait 30s between messages' and "
              "reaches nobody; the owner's message is delivered")
async def modr_slow(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await set_slow_mode(ctx, owner, w.cid, w.chid, 30)
    await asyncio.sleep(0.1)
    bob.drain()
    f = await try_send(ctx, bob, w.cid, w.chid, "first")
    ctx.check(f["type"] == "channel.message", f"first message refused: {f}")
    await owner.expect_type("channel.message", lambda p: p.get("content") == "first")
    f = await try_send(ctx, bob, w.cid, w.chid, "second")
    ctx.check(f["type"] == "error" and ctx.adapter.error_code(f) == "SLOW_MODE", f"second message: {f}")
    ctx.check(err_text(f) == "Slow mode: wait 30s between messages", f"message {err_text(f)!r}")
    await owner.expect_none(lambda f: f.get("type") == "channel.message"
                            and (f.get("payload") or {}).get("content") == "second", what="the refused message")
    f = await try_send(ctx, owner, w.cid, w.chid, "owner's")
    ctx.check(f["type"] == "channel.message", f"another DID was limited: {f}")


@case("MODR-002", area="moderation", reqs=["R-MODR-2"], types=["channel.send/c2s", "error/s2c"],
      title="Slow mode follows the DID across connections and reconnects",
      sends="slow mode 30; bob sends from connection 1, then from a second connection, then from a new one after "
            "closing both",
      expects="SLOW_MODE for the second and the third message")
async def modr_slow_did(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await set_slow_mode(ctx, owner, w.cid, w.chid, 30)
    bob2 = await ctx.connect("bob-2", identity=ctx.identity("bob"))
    await asyncio.sleep(0.1)
    bob.drain()
    bob2.drain()
    f = await try_send(ctx, bob, w.cid, w.chid, "one")
    ctx.check(f["type"] == "channel.message", f"first message refused: {f}")
    f = await try_send(ctx, bob2, w.cid, w.chid, "two")
    ctx.check(f["type"] == "error" and ctx.adapter.error_code(f) == "SLOW_MODE", f"second connection: {f}")
    await bob.close_quietly()
    await bob2.close_quietly()
    bob3 = await ctx.connect("bob-3", identity=ctx.identity("bob"))
    await asyncio.sleep(0.2)
    bob3.drain()
    f = await try_send(ctx, bob3, w.cid, w.chid, "three")
    ctx.check(f["type"] == "error" and ctx.adapter.error_code(f) == "SLOW_MODE", f"after reconnecting: {f}")


@case("MODR-003", area="moderation", reqs=["R-MODR-3"],
      types=["moderation.config.update/c2s", "channel.send/c2s", "error/s2c"],
      title="A rateLimit rule refuses message M+1 within the window",
      sends="rateLimit {maxMessages: 2, windowSeconds: 60}; bob sends 3 messages",
      expects="2 delivered; the third gets RATE_LIMITED 'Rate limited: max 2 messages per 60s' and is not delivered")
async def modr_rate(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await config_update(ctx, owner, w.cid, [{"type": "rateLimit", "config": {"maxMessages": 2, "windowSeconds": 60}}])
    for i in range(2):
        f = await try_send(ctx, bob, w.cid, w.chid, f"m{i}")
        ctx.check(f["type"] == "channel.message", f"message {i + 1} refused: {f}")
    f = await try_send(ctx, bob, w.cid, w.chid, "m2")
    ctx.check(f["type"] == "error" and ctx.adapter.error_code(f) == "RATE_LIMITED", f"third message: {f}")
    ctx.check(err_text(f) == "Rate limited: max 2 messages per 60s", f"message {err_text(f)!r}")
    await owner.expect_none(lambda f: (f.get("payload") or {}).get("content") == "m2", what="the refused message")


@case("MODR-004", area="moderation", reqs=["R-MODR-4"],
      types=["moderation.config.update/c2s", "channel.create/c2s", "channel.send/c2s"],
      title="A channel-scoped rateLimit rule applies only to its channel",
      sends="a second channel; rateLimit {scope: channel, scopeId: <first channel>, maxMessages: 1}; bob sends 1 "
            "message in the first channel and 2 in the second",
      expects="all three delivered (upstream applies the rule to the whole community)")
async def modr_rate_scope(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    await owner.send("channel.create", {"communityId": w.cid, "name": "second", "type": "text"})
    f = await owner.expect_type("channel.created", what="channel.created (setup)")
    ch2 = f["payload"].get("id") or f["payload"].get("channelId")
    await config_update(ctx, owner, w.cid, [{"type": "rateLimit", "config": {
        "scope": "channel", "scopeId": w.chid, "maxMessages": 1, "windowSeconds": 60}}])
    await asyncio.sleep(0.1)
    bob.drain()
    for chid, text in ((w.chid, "a"), (ch2, "b"), (ch2, "c")):
        f = await try_send(ctx, bob, w.cid, chid, text)
        ctx.check(f["type"] == "channel.message", f"message '{text}' refused: {f}")


async def raid_setup(ctx, w, threshold=2, action="lockdown"):
    return await config_update(ctx, w["owner"], w.cid, [{"type": "raidDetection", "config": {
        "joinThreshold": threshold, "windowSeconds": 60, "action": action, "lockdownDurationSeconds": 300}}])


@case("MODR-005", area="moderation", reqs=["R-MODR-8", "R-MODR-6"],
      types=["moderation.config.update/c2s", "community.join/c2s", "channel.send/c2s", "error/s2c"],
      title="A raid rule refuses the join that reaches the threshold and locks the community down",
      sends="raidDetection {joinThreshold 2, windowSeconds 60, lockdown}; carol and dave join (membershipVC {}), "
            "then erin joins; then bob (member) sends a message",
      expects="carol joins; dave gets FORBIDDEN 'Raid detected: 2 joins in 60s'; erin FORBIDDEN 'Community is in "
              "lockdown'; bob's message RATE_LIMITED 'Community is in lockdown'")
async def modr_raid(ctx):
    w = await world(ctx, names=("bob",))
    await raid_setup(ctx, w)
    carol = await ctx.connect("carol")
    await carol.send("community.join", {"communityId": w.cid, "membershipVC": {}})
    await carol.expect_type("community.updated", lambda p: p.get("communityId") == w.cid, what="carol's join")
    for name, text in (("dave", "Raid detected: 2 joins in 60s"), ("erin", "Community is in lockdown")):
        c = await ctx.connect(name)
        await c.send("community.join", {"communityId": w.cid, "membershipVC": {}})
        e = await c.expect_error("FORBIDDEN")
        ctx.check(err_text(e) == text, f"{name}: message {err_text(e)!r}, expected {text!r}")
    w["bob"].drain()
    f = await try_send(ctx, w["bob"], w.cid, w.chid, "during lockdown")
    ctx.check(f["type"] == "error" and ctx.adapter.error_code(f) == "RATE_LIMITED"
              and err_text(f) == "Community is in lockdown", f"message during lockdown: {f}")


@case("MODR-006", area="moderation", reqs=["R-MODR-7"],
      types=["community.join/c2s", "moderation.raid-detected/s2c"],
      title="moderation.raid-detected goes once to the moderators only",
      sends="raidDetection threshold 2 (alert), set twice by config updates; carol and dave join",
      expects="exactly one moderation.raid-detected {communityId, rule} at the owner; none at bob, carol, dave "
              "(upstream: every subscriber, once per update: G14)")
async def modr_raid_audience(ctx):
    w = await world(ctx, names=("bob",))
    await raid_setup(ctx, w, action="alert")
    await raid_setup(ctx, w, action="alert")
    carol = await ctx.connect("carol")
    dave = await ctx.connect("dave")
    for c in (carol, dave):
        await c.send("community.join", {"communityId": w.cid, "membershipVC": {}})
        await c.expect(lambda f: f.get("type") in ("community.updated", "error"), what="the join's answer")
    f = await w["owner"].expect_type("moderation.raid-detected", what="moderation.raid-detected at the owner")
    ctx.check(f["payload"].get("communityId") == w.cid and (f["payload"].get("rule") or {}).get("type")
              == "raidDetection", f"payload {f['payload']}")
    await expect_silence([w["owner"], w["bob"], carol, dave], ["moderation.raid-detected"])


@case("MODR-007", area="moderation", reqs=["R-MODR-5", "R-COMM-11"],
      types=["community.join/c2s", "error/s2c"],
      title="Join rules apply also to a join without membershipVC",
      sends="raidDetection threshold 2 (lockdown); carol and dave join without membershipVC",
      expects="dave gets FORBIDDEN 'Raid detected: 2 joins in 60s' (upstream skips the rules without a VC: G14)")
async def modr_join_no_vc(ctx):
    w = await world(ctx, names=())
    await raid_setup(ctx, w)
    carol = await ctx.connect("carol")
    await carol.send("community.join", {"communityId": w.cid})
    await carol.expect_type("community.updated", lambda p: p.get("communityId") == w.cid)
    dave = await ctx.connect("dave")
    await dave.send("community.join", {"communityId": w.cid})
    e = await dave.expect_error("FORBIDDEN")
    ctx.check(err_text(e) == "Raid detected: 2 joins in 60s", f"message {err_text(e)!r}")


@case("MODR-008", area="moderation", reqs=["R-MODR-9"], types=["community.join/c2s", "error/s2c"],
      title="A VC requirement is not met by a self-issued credential that merely lists the type",
      sends="vcRequirement {requiredVCTypes: ['MemberPass']}; carol joins with a valid VC of type MemberPass "
            "that carol issued to herself",
      expects="error FORBIDDEN 'Missing required VC types: MemberPass' (upstream compares type strings: G14)")
async def modr_vc(ctx):
    w = await world(ctx, names=())
    await config_update(ctx, w["owner"], w.cid, [{"type": "vcRequirement", "config": {"requiredVCTypes": ["MemberPass"]}}])
    carol = await ctx.connect("carol")
    vc = ctx.identity("carol").credential(types=("VerifiableCredential", "MemberPass"))
    await carol.send("community.join", {"communityId": w.cid, "membershipVC": vc})
    e = await carol.expect_error("FORBIDDEN")
    ctx.check(err_text(e) == "Missing required VC types: MemberPass", f"message {err_text(e)!r}")


@case("MODR-009", area="moderation", reqs=["R-MODR-10"], types=["community.join/c2s", "error/s2c"],
      title="Account age comes from the server's first sight of the DID, not from client dates",
      sends="accountAge {minAgeSeconds: 3600}; a new DID joins with a membershipVC dated 2020",
      expects="error FORBIDDEN starting 'Account too new: ' (upstream trusts issuanceDate: G14)")
async def modr_age(ctx):
    w = await world(ctx, names=())
    await config_update(ctx, w["owner"], w.cid, [{"type": "accountAge", "config": {"minAgeSeconds": 3600}}])
    carol = await ctx.connect("carol")
    vc = ctx.identity("carol").credential(issued="2020-01-01T00:00:00.000Z")
    await carol.send("community.join", {"communityId": w.cid, "membershipVC": vc})
    e = await carol.expect_error("FORBIDDEN")
    ctx.check((err_text(e) or "").startswith("Account too new: "), f"message {err_text(e)!r}")


@case("MODR-010", area="moderation", reqs=["R-MODR-12"],
      types=["channel.update/c2s", "moderation.config.update/c2s", "channel.send/c2s"],
      title="moderation.config.update keeps slow-mode rules",
      sends="slow mode 30; moderation.config.update with rules []; bob sends two messages",
      expects="the config response still lists slowmode:<channel>; bob's second message gets SLOW_MODE "
              "(upstream wipes slow mode: G14)")
async def modr_keep_slow(ctx):
    w = await world(ctx, names=("bob",))
    await set_slow_mode(ctx, w["owner"], w.cid, w.chid, 30)
    rules = await config_update(ctx, w["owner"], w.cid, [])
    ctx.check(any(r.get("id") == f"slowmode:{w.chid}" for r in rules or []), f"slow mode gone: {rules}")
    w["bob"].drain()
    await try_send(ctx, w["bob"], w.cid, w.chid, "one")
    f = await try_send(ctx, w["bob"], w.cid, w.chid, "two")
    ctx.check(f["type"] == "error" and ctx.adapter.error_code(f) == "SLOW_MODE", f"second message: {f}")


@case("MODR-011", area="moderation", reqs=["R-MODR-13"],
      types=["channel.update/c2s", "moderation.config.get/c2s", "moderation.config.response/s2c"],
      title="channel.update slowMode creates, replaces and removes the slowmode rule",
      sends="slowMode 30, then 60, then 0, with moderation.config.get after each",
      expects="{id: 'slowmode:<ch>', type: 'slowMode', channelId, intervalSeconds: 30}, then 60, then no such rule")
async def modr_slow_rule(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    for n in (30, 60, 0):
        await set_slow_mode(ctx, owner, w.cid, w.chid, n)
        rules = await config_get(ctx, owner, w.cid)
        sm = [r for r in rules or [] if r.get("id") == f"slowmode:{w.chid}"]
        if n:
            ctx.check(len(sm) == 1 and sm[0].get("type") == "slowMode" and sm[0].get("channelId") == w.chid
                      and sm[0].get("intervalSeconds") == n, f"slowMode {n}: rules {rules}")
        else:
            ctx.check(not sm, f"slowMode 0 kept the rule: {rules}")


# ---- RATE: the server-wide frame limit ------------------------------------------------------------

async def _burst(ctx, conns, n_total, last=None):
    """Send n_total notification.count frames round-robin over conns (then `last` on conns[0]),
    as fast as possible; returns the list of sent ids and the seconds the burst took."""
    ids = []
    t0 = time.monotonic()
    for i in range(n_total):
        c = conns[i % len(conns)]
        env = c.envelope("notification.count", {})
        ids.append(env["id"])
        await c.send_raw(json.dumps(env))
    if last is not None:
        await conns[0].send_frame(last)
        ids.append(last["id"])
    return ids, time.monotonic() - t0


async def _fresh_window(ctx, window_ms):
    if window_ms > 12000:
        ctx.unsupported(f"the rate window ({window_ms} ms) is too long to wait for")
    await asyncio.sleep(window_ms / 1000 + 0.1)


async def _judged_bursts(ctx, body):
    """Run body(n, window_ms, attempt) under each budget of rate_attempts (a 20-frame budget and a
    growing window when the suite can restart the server, else the configured one) until an
    attempt is judged (body returns None). A body returns a note instead when its answers spread
    over more than one window, which leaves the outcome undecided; after the last such attempt
    the case is UNSUPPORTED. A body fails at once on whatever its arrival times do prove."""
    tried = []
    for attempt, (n, win, restart_with) in enumerate(rate_attempts(ctx)):
        async with rate_budget(ctx, n, win, restart_with):
            note = await body(n, win, attempt)
            if note is None:
                return
            tried.append(f"{n}/{win} ms: {note}")
            for c in ctx.conns:
                await c.close_quietly()
    ctx.unsupported("the answers of every attempt spread over more than one rate window, so the outcome could not "
                    f"be judged ({'; '.join(tried)})")


def _count_reply(ctx):
    def classify(conn, f):
        if is_rate_limited(ctx, f):
            return "limited"
        return "served" if f.get("type") == "notification.count.response" else None
    return classify


def _spread(arrivals, t0):
    return f"answers over {(arrivals[-1][0] - t0) * 1000:.0f} ms" if arrivals else "no answers"


@case("RATE-001", area="rate", reqs=["R-RATE-1"], types=["notification.count/c2s", "error/s2c"], timeout=60, needs=["exclusive"],
      title="Frame N+1 of a DID within the rate window is refused with RATE_LIMITED and its requestId",
      sends="a fresh connection sends N+1 notification.count frames in a burst (N from the configured limit; "
            "the suite restarts the server with N = 20 when it can)",
      expects="N replies and exactly one error RATE_LIMITED 'Rate limit exceeded' with requestId = the last id")
async def rate_basic(ctx):
    async def body(n, win, attempt):
        c = await ctx.connect(f"alice-{attempt}", identity=ctx.identity("alice"))
        await _fresh_window(ctx, win)
        c.drain()
        t0 = time.monotonic()
        ids, _ = await _burst(ctx, [c], n + 1)
        arrivals = await wait_arrivals(ctx, [c], t0, _count_reply(ctx), n + 1, win)
        if not judge_burst(ctx, n, win, t0, n + 1, arrivals, "notification.count frames"):
            return _spread(arrivals, t0)
        p = [f for f in c.inbox if is_rate_limited(ctx, f)][0]["payload"]
        ctx.check(p.get("code") == "RATE_LIMITED" and p.get("message") == "Rate limit exceeded", f"error {p}")
        ctx.check(p.get("requestId") == ids[-1], f"requestId {p.get('requestId')!r}, expected {ids[-1]!r}")
    await _judged_bursts(ctx, body)


@case("RATE-002", area="rate", reqs=["R-RATE-2"], types=["channel.send/c2s", "error/s2c"], timeout=60, needs=["exclusive"],
      title="A rate-limited frame has no effect and the connection stays open",
      sends="bob's new connection sends N notification.count frames, then a channel.send (frame N+1; the suite "
            "restarts the server with N = 20 when it can)",
      expects="RATE_LIMITED for the channel.send; no channel.message at the owner; bob's connection stays open")
async def rate_no_effect(ctx):
    async def body(n, win, attempt):
        w = await world(ctx, names=("bob",))
        bob2 = await ctx.connect(f"bob-2-{attempt}", identity=ctx.identity("bob"))
        await _fresh_window(ctx, win)
        for c in w.conns.values():
            c.drain()
        bob2.drain()
        text = f"over the limit {attempt} {os.urandom(4).hex()}"
        last = bob2.envelope("channel.send", message_payload(w.cid, w.chid, text))

        def classify(conn, f):
            if conn is bob2 and is_rate_limited(ctx, f) \
                    and (f.get("payload") or {}).get("requestId") in (None, last["id"]):
                return "limited"
            if f.get("type") == "channel.message" and (f.get("payload") or {}).get("content") == text:
                return "served"
            return None
        t0 = time.monotonic()
        await _burst(ctx, [bob2], n, last=last)
        arrivals = await wait_arrivals(ctx, [w["owner"], w["bob"], bob2], t0, classify, 1, win)
        served = [t for t, k in arrivals if k == "served"]
        if served:
            # the channel.send is frame N+1 of its connection, which the server handles in order:
            # carried out within a window of the burst's first frame, it was carried out over the budget
            ctx.check((served[0] - t0) * 1000 >= win,
                      f"the channel.send (frame {n + 1} within {(served[0] - t0) * 1000:.0f} ms, budget {n} per "
                      f"{win} ms) was carried out: channel.message arrived")
            return _spread(arrivals, t0)
        ctx.check(arrivals, f"the channel.send (frame {n + 1}) got neither RATE_LIMITED nor a channel.message")
        await expect_silence([w["owner"], w["bob"], bob2], ["channel.message"])
        await bob2.expect_open(within=0.1)
    await _judged_bursts(ctx, body)


@case("RATE-003", area="rate", reqs=["R-RATE-1"], types=["notification.count/c2s", "error/s2c"], timeout=60, needs=["exclusive"],
      title="The frame budget is per DID, summed over its connections",
      sends="two connections of one DID send N+1 notification.count frames between them in a burst (the suite "
            "restarts the server with N = 20 when it can)",
      expects="N replies and exactly one RATE_LIMITED in total (upstream counts per connection: G19)")
async def rate_per_did(ctx):
    async def body(n, win, attempt):
        a = await ctx.connect(f"alice-{attempt}", identity=ctx.identity("alice"))
        b = await ctx.connect(f"alice-2-{attempt}", identity=ctx.identity("alice"))
        await _fresh_window(ctx, win)
        a.drain()
        b.drain()
        t0 = time.monotonic()
        await _burst(ctx, [a, b], n + 1)
        arrivals = await wait_arrivals(ctx, [a, b], t0, _count_reply(ctx), n + 1, win)
        if not judge_burst(ctx, n, win, t0, n + 1, arrivals, "notification.count frames over two connections"):
            return _spread(arrivals, t0)
    await _judged_bursts(ctx, body)


@case("RATE-004", area="rate", reqs=["R-RATE-1"], types=["error/s2c"], timeout=60, needs=["exclusive"],
      title="Invalid frames count against the budget too",
      sends="a fresh connection sends N frames of invalid JSON, then one notification.count (the suite restarts "
            "the server with N = 20 when it can)",
      expects="the notification.count is answered RATE_LIMITED (each invalid frame got its own error)")
async def rate_invalid(ctx):
    async def body(n, win, attempt):
        c = await ctx.connect(f"alice-{attempt}", identity=ctx.identity("alice"))
        await _fresh_window(ctx, win)
        c.drain()
        env = c.envelope("notification.count", {})

        def classify(conn, f):
            if is_rate_limited(ctx, f) and (f.get("payload") or {}).get("requestId") == env["id"]:
                return "limited"
            return "served" if f.get("type") == "notification.count.response" else None
        t0 = time.monotonic()
        for i in range(n):
            await c.send_raw("{not json")
        await c.send_frame(env)
        arrivals = await wait_arrivals(ctx, [c], t0, classify, 1, win)
        ctx.check(arrivals, "the frame after N invalid ones got neither RATE_LIMITED (with its requestId) nor a reply")
        t, kind = arrivals[0]
        if kind == "served":
            # frame N+1 of the connection, answered within a window of the first: over the budget
            ctx.check((t - t0) * 1000 >= win,
                      f"the frame after {n} invalid ones was answered normally within {(t - t0) * 1000:.0f} ms "
                      f"(budget {n} per {win} ms)")
            return _spread(arrivals, t0)
        ctx.check(len(arrivals) == 1, f"the frame over the budget was answered more than once: {arrivals}")
    await _judged_bursts(ctx, body)


@case("RATE-005", area="rate", reqs=["R-RATE-3"], types=["voice.ice/c2s", "voice.ice/s2c"], timeout=30, needs=["exclusive"],
      title="A burst of 100 voice.ice frames within one second is accepted",
      sends="two participants of a voice room; one sends 100 voice.ice to the other within a second",
      expects="all 100 delivered; no RATE_LIMITED")
async def rate_ice_burst(ctx):
    from ._util import voice_world
    n, win = rate_limit(ctx)
    w = await voice_world(ctx, names=("bob",))
    await _fresh_window(ctx, win)
    owner, bob = w["owner"], w["bob"]
    for i in range(100):
        env = owner.envelope("voice.ice", {"targetDID": bob.did, "candidate": {"candidate": f"candidate:{i} 1 udp 1 "
                                                                                            "127.0.0.1 9 typ host",
                                                                            "sdpMid": "0", "sdpMLineIndex": 0}})
        await owner.send_raw(json.dumps(env))
    deadline = time.monotonic() + 5
    got = 0
    while got < 100 and time.monotonic() < deadline:
        await bob.expect_type("voice.ice", timeout=max(0.1, deadline - time.monotonic()),
                              what=f"voice.ice #{got + 1} of 100")
        got += 1
    await owner.expect_none(lambda f: f.get("type") == "error", what="an error for the burst")
