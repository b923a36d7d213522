"""Threads: thread.create and thread.send."""
from __future__ import annotations

from ..core import case
from ._util import (create_community, create_thread, expect_at, expect_silence, message_payload, require_restart,
                    restart, send_message, sync, unique, world)


def _create_payload(w, parent, name="topic", **extra):
    return dict({"communityId": w.cid, "channelId": w.chid, "parentMessageId": parent, "name": name}, **extra)


@case("THR-001", area="threads", reqs=["R-THR-1", "R-THR-5"], types=["thread.create/c2s", "thread.created/s2c"],
      title="thread.create is broadcast as thread.created to every member including the creator",
      sends="bob sends thread.create {communityId, channelId, parentMessageId, name, content, clock}",
      expects="thread.created (request id and timestamp; threadId = request id; creatorDID = sender = bob; "
              "the payload fields) at owner and bob; none at an outsider")
async def thr_create(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    outsider = await ctx.connect("outsider")
    bob = w["bob"]
    clock = {"counter": 1, "authorDID": bob.did}
    env = await bob.send("thread.create", _create_payload(w, w.msg, content="first words", clock=clock))
    for f in await expect_at(w.conns.values(), "thread.created"):
        p = f["payload"]
        ctx.check(f["id"] == env["id"] and f["timestamp"] == env["timestamp"] and f["sender"] == bob.did,
                  f"envelope {f}")
        ctx.check(p.get("threadId") == env["id"] and p.get("creatorDID") == bob.did
                  and p.get("parentMessageId") == w.msg and p.get("channelId") == w.chid
                  and p.get("communityId") == w.cid and p.get("name") == "topic"
                  and p.get("content") == "first words" and p.get("clock") == clock, f"payload {p}")
    await outsider.expect_none("thread.created")


@case("THR-002", area="threads", reqs=["R-THR-2"], types=["thread.create/c2s", "error/s2c"],
      title="thread.create on a message or channel that is not there is refused with NOT_FOUND",
      sends="thread.create with an invented parentMessageId; with the channel of another community",
      expects="two error NOT_FOUND; no thread.created (upstream checks neither)")
async def thr_create_missing(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    owner = w["owner"]
    await owner.send("thread.create", _create_payload(w, "no-such-message"))
    await owner.expect_error("NOT_FOUND")
    _, chid_b, _ = await create_community(ctx, owner)
    await owner.send("thread.create", dict(_create_payload(w, w.msg), channelId=chid_b))
    await owner.expect_error("NOT_FOUND")
    await expect_silence(w.conns.values(), ["thread.created"])


@case("THR-003", area="threads", reqs=["R-THR-3"], types=["thread.create/c2s", "error/s2c"],
      title="A thread id is never replaced: a second thread.create with the same id gets CONFLICT",
      sends="thread.create with id X, then another thread.create with id X and another name",
      expects="one thread.created; error CONFLICT for the second (upstream silently replaces the thread)")
async def thr_create_duplicate(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    owner = w["owner"]
    tid = unique(ctx, "thread")
    await owner.send("thread.create", _create_payload(w, w.msg, name="one"), id=tid)
    await expect_at(w.conns.values(), "thread.created")
    await owner.send("thread.create", _create_payload(w, w.msg, name="two"), id=tid)
    await owner.expect_error("CONFLICT")
    await expect_silence(w.conns.values(), ["thread.created"])


@case("THR-004", area="threads", reqs=["R-CHAN-1", "R-LIM-2"], types=["thread.create/c2s", "error/s2c"],
      title="thread.create needs parentMessageId and a name of at most 100",
      sends="thread.create without name; without parentMessageId; with a 101-character name",
      expects="three error INVALID_PAYLOAD; no thread.created")
async def thr_create_fields(ctx):
    w = await world(ctx, names=(), msg=True)
    owner = w["owner"]
    for p in ({"communityId": w.cid, "channelId": w.chid, "parentMessageId": w.msg},
              {"communityId": w.cid, "channelId": w.chid, "name": "n"},
              _create_payload(w, w.msg, name="n" * 101)):
        await owner.send("thread.create", p)
        await owner.expect_error("INVALID_PAYLOAD")
    await owner.expect_none("thread.created")


@case("THR-005", area="threads", reqs=["R-THR-6", "R-THR-10"], types=["thread.send/c2s", "thread.message/s2c"],
      title="thread.send is broadcast as thread.message to the members with the running messageCount",
      sends="a thread created with content; bob sends thread.send {threadId, content, nonce}",
      expects="thread.message (request id, sender bob, threadId, content, messageCount 2) at owner and bob; "
              "none at an outsider")
async def thr_send(ctx):
    w = await world(ctx, names=("bob",), msg=True)
    outsider = await ctx.connect("outsider")
    tid = await create_thread(ctx, w["owner"], w.cid, w.chid, w.msg, content="opening")
    for c in w.conns.values():
        c.drain()
    bob = w["bob"]
    env = await bob.send("thread.send", {"threadId": tid, "content": "reply", "nonce": "n1"})
    for f in await expect_at(w.conns.values(), "thread.message"):
        p = f["payload"]
        ctx.check(f["id"] == env["id"] and f["sender"] == bob.did, f"envelope {f}")
        ctx.check(p.get("threadId") == tid and p.get("content") == "reply" and p.get("messageCount") == 2,
                  f"payload {p}")
    await outsider.expect_none("thread.message")


@case("THR-006", area="threads", reqs=["R-THR-7"], types=["thread.send/c2s", "error/s2c"],
      title="thread.send to an unknown thread is refused with THREAD_NOT_FOUND",
      sends="thread.send with an invented threadId",
      expects="error THREAD_NOT_FOUND; no thread.message")
async def thr_send_unknown(ctx):
    w = await world(ctx, names=())
    await w["owner"].send("thread.send", {"threadId": unique(ctx, "nothread"), "content": "x"})
    await w["owner"].expect_error("THREAD_NOT_FOUND")
    await w["owner"].expect_none("thread.message")


@case("THR-007", area="threads", reqs=["R-CHAN-1"], types=["thread.send/c2s", "error/s2c"],
      title="thread.send without threadId is refused",
      sends="thread.send {content} and {threadId: \"  \", content}",
      expects="two error INVALID_PAYLOAD")
async def thr_send_required(ctx):
    w = await world(ctx, names=())
    for p in ({"content": "x"}, {"threadId": "  ", "content": "x"}):
        await w["owner"].send("thread.send", p)
        await w["owner"].expect_error("INVALID_PAYLOAD")
    await w["owner"].expect_none("thread.message")


@case("THR-008", area="threads", reqs=["R-ORD-4", "R-ORD-5", "R-ENV-12"],
      types=["thread.send/c2s", "thread.create/c2s", "error/s2c"],
      title="thread.send needs an envelope id, a content, and an id not used in the thread",
      sends="thread.send without envelope id; without content; twice with the same id",
      expects="INVALID_MESSAGE, INVALID_PAYLOAD, one thread.message then CONFLICT")
async def thr_send_ids(ctx):
    w = await world(ctx, names=("bob",), thread=True)
    owner = w["owner"]
    env = owner.envelope("thread.send", {"threadId": w.thread, "content": "no id"})
    del env["id"]
    await owner.send_frame(env)
    await owner.expect_error("INVALID_MESSAGE")
    await owner.send("thread.send", {"threadId": w.thread})
    await owner.expect_error("INVALID_PAYLOAD")
    mid = unique(ctx, "tm")
    await owner.send("thread.send", {"threadId": w.thread, "content": "one"}, id=mid)
    await expect_at(w.conns.values(), "thread.message")
    await owner.send("thread.send", {"threadId": w.thread, "content": "two"}, id=mid)
    await owner.expect_error("CONFLICT")
    await expect_silence(w.conns.values(), ["thread.message"])


@case("THR-009", area="threads", reqs=["R-THR-4", "R-PERS-8"], types=["thread.send/c2s", "thread.message/s2c"],
      needs=["restart"], timeout=40,
      title="Threads survive a restart and their messageCount continues",
      sends="a thread with a first message and one thread.send; restart; thread.send again",
      expects="thread.message with messageCount 3")
async def thr_persist(ctx):
    require_restart(ctx)
    w = await world(ctx, names=(), msg=True)
    tid = await create_thread(ctx, w["owner"], w.cid, w.chid, w.msg, content="first")
    await w["owner"].send("thread.send", {"threadId": tid, "content": "second"})
    await w["owner"].expect_type("thread.message")
    await restart(ctx)
    o2 = await ctx.connect("owner-after", identity=ctx.identity("owner"))
    await o2.send("thread.send", {"threadId": tid, "content": "third"})
    f = await o2.expect_type("thread.message")
    ctx.check(f["payload"].get("messageCount") == 3, f"messageCount after restart {f['payload']}")


@case("THR-010", area="threads", reqs=["R-SYNC-5", "R-THR-9"], types=["sync.request/c2s", "sync.response/s2c"],
      title="sync.request with threadId returns the thread's messages in order",
      sends="a thread created with content and two thread.send; sync.request {communityId, channelId, threadId}",
      expects="sync.response with threadId and 3 StoredMessages (thread.create, thread.send, thread.send) in order")
async def thr_sync(ctx):
    w = await world(ctx, names=(), msg=True)
    owner = w["owner"]
    tid = await create_thread(ctx, owner, w.cid, w.chid, w.msg, content="t0")
    ids = [tid]
    for t in ("t1", "t2"):
        env = await owner.send("thread.send", {"threadId": tid, "content": t})
        await owner.expect_type("thread.message", lambda p, x=t: p.get("content") == x)
        ids.append(env["id"])
    s = await sync(ctx, owner, w.cid, w.chid, threadId=tid)
    got = [(m.get("id"), m.get("type")) for m in s.get("messages") or []]
    want = [(ids[0], "thread.create"), (ids[1], "thread.send"), (ids[2], "thread.send")]
    ctx.check(s.get("threadId") == tid and got == want, f"thread sync {s.get('threadId')} {got} != {want}")
