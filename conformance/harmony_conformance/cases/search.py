"""search.query / search.results (spec/messages/search.md)."""
from __future__ import annotations

import asyncio
import base64

from ..core import case
from ._util import (ban, create_community, expect_silence, message_payload, send_message, unique, world)


async def search(ctx, conn, cid, query, **extra) -> dict:
    await conn.send("search.query", dict({"communityId": cid, "query": query}, **extra))
    f = await conn.expect_type("search.results", lambda p: p.get("communityId") == cid,
                               what="search.results")
    return f["payload"]


def ids(res) -> list:
    return [m.get("id") for m in res.get("results") or [] if isinstance(m, dict)]


@case("SRCH-001", area="search", reqs=["R-SRCH-1"], types=["search.query/c2s", "search.results/s2c"],
      title="search.query from a member is answered with one search.results {communityId, query, results, metadata}",
      sends="a member posts a plaintext message with a unique word, then search.query for that word",
      expects="exactly one search.results with the request's communityId and query, results (array, holding the "
              "message) and metadata (array); no broadcast to the other member")
async def srch_basic(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    word = unique(ctx, "needle")
    mid = await send_message(ctx, owner, w.cid, w.chid, f"text with {word} inside")
    await bob.expect_type("channel.message")
    p = await search(ctx, owner, w.cid, word)
    ctx.check(p.get("query") == word, f"query {p.get('query')!r} != {word!r}")
    ctx.check(isinstance(p.get("results"), list) and isinstance(p.get("metadata"), list),
              f"results/metadata not arrays: {p}")
    ctx.check(mid in ids(p), f"the message {mid} is not among the results {ids(p)}")
    await owner.expect_none("search.results", what="a second search.results")
    await bob.expect_none("search.results", what="another member's search.results")


@case("SRCH-002", area="search", reqs=["R-SRCH-2"], types=["search.query/c2s", "error/s2c"],
      title="search.query with a missing/non-string communityId or query, or a query over 200 units, is refused",
      sends="search.query without communityId; with query 5; without query; with a 201-character query",
      expects="error INVALID_PAYLOAD for each (the last with 'query exceeds maximum length of 200'); no search.results")
async def srch_invalid(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    for p in ({"query": "x"}, {"communityId": w.cid, "query": 5}, {"communityId": w.cid}):
        await owner.send("search.query", p)
        await owner.expect_error("INVALID_PAYLOAD")
    await owner.send("search.query", {"communityId": w.cid, "query": "q" * 201})
    e = await owner.expect_error("INVALID_PAYLOAD")
    msg = (e.get("payload") or {}).get("message")
    ctx.check(msg == "query exceeds maximum length of 200", f"message {msg!r}")
    await owner.expect_none("search.results")


@case("SRCH-003", area="search", reqs=["R-SRCH-3"], types=["search.query/c2s", "error/s2c"],
      title="search.query from a non-member is refused with FORBIDDEN, whether or not the community exists",
      sends="search.query by an outsider for a real community, then for an invented community id",
      expects="two error FORBIDDEN 'Not a member of this community'; no search.results")
async def srch_non_member(ctx):
    w = await world(ctx, names=())
    await send_message(ctx, w["owner"], w.cid, w.chid, "secret words")
    eve = await ctx.connect("eve")
    for cid in (w.cid, "community:" + "0" * 32):
        await eve.send("search.query", {"communityId": cid, "query": "secret"})
        e = await eve.expect_error("FORBIDDEN")
        msg = (e.get("payload") or {}).get("message")
        ctx.check(msg == "Not a member of this community", f"message {msg!r}")
    await eve.expect_none("search.results")


@case("SRCH-004", area="search", reqs=["R-SRCH-4", "R-HIST-9"], types=["search.query/c2s", "search.results/s2c"],
      title="An encrypted (object) message is never matched, e.g. by 'object' or '['",
      sends="a member posts content {ciphertext: bytes, epoch: 3, senderIndex: 0}; search.query 'object', "
            "'Object', '[object', '['",
      expects="search.results without that message for each query (upstream matches '[object Object]': G27)")
async def srch_encrypted(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    env = await owner.send("channel.send", dict(message_payload(w.cid, w.chid), content={
        "ciphertext": {"__type": "Uint8Array", "data": base64.b64encode(b"\x01\x02opaque").decode()},
        "epoch": 3, "senderIndex": 0}))
    await owner.expect_type("channel.message")
    for q in ("object", "Object", "[object", "["):
        p = await search(ctx, owner, w.cid, q)
        ctx.check(env["id"] not in ids(p), f"query {q!r} matched the encrypted message")


@case("SRCH-005", area="search", reqs=["R-SRCH-5", "R-HIST-9"],
      types=["search.query/c2s", "search.results/s2c", "channel.delete/c2s", "channel.edit/c2s"],
      title="Search returns only current, undeleted messages of the named community",
      sends="a word posted in community A (once, then deleted), in a message later edited, and in community B; "
            "search.query in A for the old and new words",
      expects="the deleted message is absent; the edited message is found by its new text only, with its new "
              "content and sender = author; B's message is absent")
async def srch_current_state(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    word = unique(ctx, "w")
    gone = await send_message(ctx, owner, w.cid, w.chid, f"{word} to delete")
    edited = await send_message(ctx, owner, w.cid, w.chid, f"{word} before edit")
    cid_b, chid_b, _ = await create_community(ctx, owner)
    other = await send_message(ctx, owner, cid_b, chid_b, f"{word} elsewhere")
    await owner.send("channel.delete", {"communityId": w.cid, "channelId": w.chid, "messageId": gone})
    await owner.send("channel.edit", {"communityId": w.cid, "channelId": w.chid, "messageId": edited,
                                      "content": f"after-{word}"})
    await asyncio.sleep(0.3)
    owner.drain()
    p = await search(ctx, owner, w.cid, word)
    got = ids(p)
    ctx.check(gone not in got, "a deleted message is returned")
    ctx.check(other not in got, "a message of another community is returned")
    p = await search(ctx, owner, w.cid, "before edit")
    ctx.check(edited not in ids(p), "the edited message still matches its old text")
    p = await search(ctx, owner, w.cid, f"after-{word}")
    hit = [m for m in p.get("results") or [] if m.get("id") == edited]
    ctx.check(hit, "the edited message is not found by its new text")
    ctx.check((hit[0].get("payload") or {}).get("content") == f"after-{word}", f"stale content: {hit[0]}")
    ctx.check(hit[0].get("sender") == owner.did, f"sender {hit[0].get('sender')!r}")


@case("SRCH-006", area="search", reqs=["R-SRCH-6"], types=["search.query/c2s", "search.results/s2c"],
      title="channelId and authorDID filters restrict the results and apply together",
      sends="owner and bob post the same word in the default channel; search with authorDID = bob, then with "
            "an invented channelId",
      expects="only bob's message for the authorDID filter; nothing for the invented channel")
async def srch_filters(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    word = unique(ctx, "f")
    m1 = await send_message(ctx, owner, w.cid, w.chid, f"{word} one")
    m2 = await send_message(ctx, bob, w.cid, w.chid, f"{word} two")
    p = await search(ctx, owner, w.cid, word, authorDID=bob.did)
    ctx.check(ids(p) == [m2], f"authorDID filter gave {ids(p)}, expected only {m2} (not {m1})")
    p = await search(ctx, owner, w.cid, word, channelId=w.chid + "-none")
    ctx.check(ids(p) == [], f"an invented channel gave {ids(p)}")


@case("SRCH-007", area="search", reqs=["R-SRCH-7"], types=["search.query/c2s", "search.results/s2c"],
      title="Results are newest first, bounded by limit, with one metadata entry per result",
      sends="3 messages with a common word; search.query limit 2",
      expects="the 2 newest messages, newest first; metadata [{messageId, channelId, authorDID, timestamp, "
              "hasAttachment}] in the same order")
async def srch_order(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    word = unique(ctx, "o")
    mids = [await send_message(ctx, owner, w.cid, w.chid, f"{word} {i}") for i in range(3)]
    p = await search(ctx, owner, w.cid, word, limit=2)
    ctx.check(ids(p) == [mids[2], mids[1]], f"results {ids(p)}, expected {[mids[2], mids[1]]}")
    md = p.get("metadata") or []
    ctx.check([m.get("messageId") for m in md] == ids(p), f"metadata order {md}")
    for m in md:
        ctx.check(m.get("channelId") == w.chid and m.get("authorDID") == owner.did
                  and m.get("hasAttachment") is False and isinstance(m.get("timestamp"), str), f"metadata {m}")


@case("SRCH-008", area="search", reqs=["R-SRCH-8"], types=["search.query/c2s", "search.results/s2c"],
      title="An epoch-0 plaintext message (upstream client form) is found by its text",
      sends="content {ciphertext: bytes(UTF-8 text), epoch: 0, senderIndex: 0}; search for a word of the text",
      expects="the message is among the results")
async def srch_epoch0(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    word = unique(ctx, "plain")
    env = await owner.send("channel.send", dict(message_payload(w.cid, w.chid), content={
        "ciphertext": {"__type": "Uint8Array", "data": base64.b64encode(f"hi {word}".encode()).decode()},
        "epoch": 0, "senderIndex": 0}))
    await owner.expect_type("channel.message")
    p = await search(ctx, owner, w.cid, word)
    ctx.check(env["id"] in ids(p), f"epoch-0 plaintext not found: {ids(p)}")


@case("SRCH-009", area="search", reqs=["R-SRCH-9"], types=["search.query/c2s", "channel.message/s2c"],
      title="search.query by a non-member creates no subscription",
      sends="an outsider sends search.query for a community, then a member posts a message",
      expects="the outsider receives no channel.message (or other frame of the community)")
async def srch_no_side_effect(ctx):
    w = await world(ctx, names=())
    eve = await ctx.connect("eve")
    await eve.send("search.query", {"communityId": w.cid, "query": "x"})
    await asyncio.sleep(0.2)
    eve.drain()
    await send_message(ctx, w["owner"], w.cid, w.chid, "after the probe")
    await expect_silence([eve], ["channel.message"])


@case("SRCH-010", area="search", reqs=["R-SRCH-10", "R-AUTHZ-16"], types=["search.query/c2s", "error/s2c"],
      title="A banned DID's search.query is refused with BANNED and reveals nothing",
      sends="the owner posts a message and bans bob; bob reconnects and sends search.query for the community",
      expects="error BANNED 'You are banned from this community'; no search.results (upstream checks bans only "
              "on channel.send and community.join: G11)")
async def srch_banned(ctx):
    w = await world(ctx, names=("bob",))
    await send_message(ctx, w["owner"], w.cid, w.chid, "banned cannot find this")
    await ban(ctx, w["owner"], w.cid, w["bob"])
    bob = await ctx.connect("bob-again", identity=ctx.identity("bob"))
    await bob.send("search.query", {"communityId": w.cid, "query": "banned"})
    e = await bob.expect_error("BANNED")
    msg = (e.get("payload") or {}).get("message")
    ctx.check(msg == "You are banned from this community", f"message {msg!r}")
    await bob.expect_none("search.results")
