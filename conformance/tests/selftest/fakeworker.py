"""A small stand-in for upstream's Cloudflare Worker backend, for the cloudworker adapter's self-test.

It follows the worker's model as recorded in shared/upstream/cloudworker-run.md and the
captures next to it, closely enough to drive the adapter without wrangler:

* GET /health -> {"status":"ok"}; a WebSocket per community at /ws/<id> (or /ws?community=<id>);
  /ws without an id -> 400, any other path -> 404. Each id is its own community.
* The first message is the raw VP, checked the worker's way (crypto/workervp.verify): not a VP
  -> error "Expected VerifiablePresentation for authentication" + close 4001 "Invalid auth";
  bad signature -> error "VP verification failed" + close 4001 "Auth failed"; banned -> close
  4003. Success makes the DID a member: sync.response {authenticated, did} (no token) and
  presence.changed online to every other socket of the community (logged in or not).
* Replies copy the worker's shapes: community.create -> community.updated {communityId, name,
  channelId}; community.join -> community.member.joined to all, then sync.response {members,
  channels} to the joiner; channel.send -> channel.message to all, sender included, with no
  membership or channel check; history newest first with JSON-string contents; errors are
  {message} only (RATE_LIMITED the one code); unknown types -> "Unsupported message type: X".
* One auth alarm per community (reset by every upgrade) closes sockets that never logged in;
  50 frames per 10 s per socket.

Bugs (--bug, for the self-test to catch):
  no-sig-check     a VP whose signature does not verify still logs in
  leak-community   channel.message also goes to the sockets of every other community
  drop-message     every 4th channel.message delivery is silently dropped
"""
from __future__ import annotations

import argparse
import asyncio
import http
import json
import os
import sys
import time
import urllib.parse
import uuid

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from harmony_conformance.crypto import workervp  # noqa: E402

BUGS = {"no-sig-check", "leak-community", "drop-message"}


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def community_of(path: str):
    u = urllib.parse.urlsplit(path)
    if u.path.startswith("/ws/"):
        seg = u.path.split("/")[2]
        if seg:
            return seg
    if u.path.startswith("/ws/") or u.path == "/ws":
        q = urllib.parse.parse_qs(u.query).get("community")
        return q[0] if q else ""
    return None


class Sock:
    def __init__(self, ws):
        self.ws = ws
        self.did = None
        self.window = 0.0
        self.count = 0


class Community:
    def __init__(self, cid):
        self.cid = cid
        self.created = False
        self.name = None
        self.description = None
        self.creator = None
        self.members = {}      # did -> {"displayName", "roles", "joinedAt"}
        self.channels = []     # {"id","name","type","categoryId","topic"}
        self.messages = {}     # channelId -> [{"id","author","content","timestamp"}]
        self.pins = {}
        self.banned = set()
        self.socks = set()
        self.alarm = None


class FakeWorker:
    def __init__(self, bugs=(), auth_timeout_ms=30000, rate=(50, 10000)):
        self.bugs = set(bugs)
        if self.bugs - BUGS:
            raise ValueError(f"unknown bugs {self.bugs - BUGS}")
        self.auth_timeout = auth_timeout_ms / 1000
        self.rate_n, self.rate_ms = rate
        self.communities = {}
        self.deliveries = 0

    def community(self, cid) -> Community:
        if cid not in self.communities:
            self.communities[cid] = Community(cid)
        return self.communities[cid]

    # ---- HTTP routing ---------------------------------------------------------------------
    async def process_request(self, path, headers):
        u = urllib.parse.urlsplit(path)
        if u.path == "/health":
            return http.HTTPStatus.OK, [("Content-Type", "application/json")], b'{"status":"ok"}'
        cid = community_of(path)
        if cid is None:
            return http.HTTPStatus.NOT_FOUND, [], b"Not found"
        if cid == "":
            return http.HTTPStatus.BAD_REQUEST, [], b"Missing community ID"
        if headers.get("Upgrade", "").lower() != "websocket":
            return http.HTTPStatus.UPGRADE_REQUIRED, [], b"Expected WebSocket upgrade"
        return None

    # ---- frames -----------------------------------------------------------------------------
    @staticmethod
    def frame(type_, payload, *, id=None, sender="server", timestamp=None):
        return {"id": id or str(uuid.uuid4()), "type": type_, "timestamp": timestamp or now_iso(),
                "sender": sender, "payload": payload}

    async def send(self, s: Sock, f):
        try:
            await s.ws.send(json.dumps(f, separators=(",", ":")))
        except websockets.exceptions.ConnectionClosed:
            pass

    async def error(self, s, message, code=None):
        await self.send(s, self.frame("error", dict({"message": message}, **({"code": code} if code else {}))))

    async def broadcast(self, c: Community, f, exclude=None):
        for o in list(c.socks):
            if o is not exclude:
                await self.send(o, f)

    def arm_alarm(self, c: Community):
        if c.alarm is not None:
            c.alarm.cancel()
        c.alarm = asyncio.get_running_loop().call_later(self.auth_timeout, lambda: asyncio.ensure_future(self.fire(c)))

    async def fire(self, c: Community):
        for s in list(c.socks):
            if s.did is None:
                await self.error(s, "Authentication timeout")
                await s.ws.close(4001, "Authentication timeout")

    # ---- connection -------------------------------------------------------------------------
    async def handler(self, ws, path):
        c = self.community(community_of(path))
        s = Sock(ws)
        c.socks.add(s)
        self.arm_alarm(c)
        try:
            async for msg in ws:
                text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg
                if s.did is None:
                    if not await self.login(c, s, text):
                        return
                    continue
                now = time.monotonic() * 1000
                if now - s.window > self.rate_ms:
                    s.window, s.count = now, 1
                else:
                    s.count += 1
                if s.count > self.rate_n:
                    await self.error(s, "Rate limit exceeded", "RATE_LIMITED")
                    continue
                try:
                    m = json.loads(text)
                except ValueError:
                    await self.error(s, "Invalid message format")
                    continue
                if not isinstance(m, dict):
                    await self.error(s, f"Unsupported message type: undefined")
                    continue
                try:
                    await self.dispatch(c, s, m)
                except Exception as e:  # the worker logs a handler's exception and sends nothing
                    print(f"fakeworker: handler error {e!r}", file=sys.stderr, flush=True)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            c.socks.discard(s)
            if s.did is not None:
                await self.broadcast(c, self.frame("presence.changed", {"did": s.did, "status": "offline"}))

    async def login(self, c: Community, s: Sock, text: str) -> bool:
        try:
            vp = json.loads(text)
        except ValueError:
            vp = None
        if not (isinstance(vp, dict) and isinstance(vp.get("type"), list)
                and "VerifiablePresentation" in vp["type"] and vp.get("holder")):
            await self.error(s, "Expected VerifiablePresentation for authentication")
            await s.ws.close(4001, "Invalid auth")
            return False
        did = workervp.verify(vp)
        if did is None and "no-sig-check" in self.bugs and isinstance(vp.get("holder"), str) \
                and vp["holder"].startswith("did:key:"):
            did = vp["holder"]
        if did is None:
            await self.error(s, "VP verification failed")
            await s.ws.close(4001, "Auth failed")
            return False
        if did in c.banned:
            await self.error(s, "You are banned from this community")
            await s.ws.close(4003, "Banned")
            return False
        s.did = did
        c.members.setdefault(did, {"displayName": None, "roles": "[]", "joinedAt": now_iso()})
        await self.send(s, self.frame("sync.response", {"authenticated": True, "did": did}))
        await self.broadcast(c, self.frame("presence.changed", {"did": did, "status": "online"}), exclude=s)
        return True

    async def dispatch(self, c: Community, s: Sock, m: dict):
        t = m.get("type")
        p = m.get("payload") if isinstance(m.get("payload"), dict) else {}
        if isinstance(p.get("communityId"), str) and c.created and p["communityId"] != c.cid:
            return await self.error(
                s, f"Community ID mismatch: message targets '{p['communityId']}' but this DO owns '{c.cid}'")
        h = getattr(self, "h_" + str(t).replace(".", "_").replace("-", "_"), None)
        if h is None:
            return await self.error(s, f"Unsupported message type: {t if isinstance(t, str) else 'undefined'}")
        await h(c, s, m, p)

    # ---- handlers (the worker's shapes) ---------------------------------------------------
    async def h_community_create(self, c, s, m, p):
        name = p.get("name")
        if not isinstance(name, str) or not name.strip():
            return await self.error(s, "Missing or empty required field: name")
        if len(name) > 100:
            return await self.error(s, "name exceeds maximum length of 100")
        c.created, c.name, c.description = True, name, p.get("description")
        if c.creator is None:
            c.creator = s.did
        ch = str(uuid.uuid4())
        c.channels.append({"id": ch, "name": "general", "type": "text", "categoryId": None, "topic": None})
        await self.send(s, self.frame("community.updated", {"communityId": c.cid, "name": name, "channelId": ch},
                                      id=m.get("id")))

    async def sync_state(self, c, s):
        members = [{"did": d, **v} for d, v in c.members.items()]
        await self.send(s, self.frame("sync.response", {"members": members, "channels": list(c.channels)}))

    async def h_community_join(self, c, s, m, p):
        c.members.setdefault(s.did, {"displayName": None, "roles": "[]", "joinedAt": now_iso()})
        await self.broadcast(c, self.frame("community.member.joined", {"did": s.did}, id=m.get("id")))
        await self.sync_state(c, s)

    async def h_sync_request(self, c, s, m, p):
        await self.sync_state(c, s)

    async def h_community_leave(self, c, s, m, p):
        c.members.pop(s.did, None)
        await self.broadcast(c, self.frame("community.member.left", {"did": s.did}, id=m.get("id")))

    async def h_community_info(self, c, s, m, p):
        await self.send(s, self.frame("community.info.response", self.info(c), id=m.get("id")))

    async def h_community_list(self, c, s, m, p):
        await self.send(s, self.frame("community.list.response", {"communities": [self.info(c)]}, id=m.get("id")))

    def info(self, c):
        return {"communityId": c.cid, "name": c.name, "description": c.description,
                "members": [{"did": d, "displayName": v["displayName"]} for d, v in c.members.items()]}

    async def h_channel_create(self, c, s, m, p):
        name = p.get("name")
        if not isinstance(name, str) or not name.strip():
            return await self.error(s, "Missing or empty required field: name")
        ch = str(uuid.uuid4())
        c.channels.append({"id": ch, "name": name, "type": p.get("type") or "text",
                           "categoryId": p.get("categoryId"), "topic": p.get("topic")})
        await self.broadcast(c, self.frame("channel.created", dict({"channelId": ch}, **p), id=m.get("id"),
                                           sender=s.did))

    async def h_channel_send(self, c, s, m, p):
        content = p.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        if len(text) > 4000:
            return await self.error(s, "content exceeds maximum length of 4000")
        out = {"id": m.get("id"), "type": "channel.message", "timestamp": m.get("timestamp"), "sender": s.did,
               "payload": p}
        c.messages.setdefault(p.get("channelId"), []).append(
            {"id": m.get("id"), "author": s.did, "content": json.dumps(content), "timestamp": m.get("timestamp")})
        targets = list(c.socks)
        if "leak-community" in self.bugs:
            targets = [o for cc in self.communities.values() for o in cc.socks]
        for o in targets:
            self.deliveries += 1
            if "drop-message" in self.bugs and self.deliveries % 4 == 0:
                continue
            await self.send(o, out)

    async def h_channel_typing(self, c, s, m, p):
        await self.broadcast(c, self.frame("channel.typing.indicator", p, id=m.get("id"), sender=s.did))

    async def _own_message(self, c, s, p):
        for msg in c.messages.get(p.get("channelId"), []):
            if msg["id"] == p.get("messageId"):
                return msg if msg["author"] == s.did else None
        return None

    async def h_channel_edit(self, c, s, m, p):
        msg = await self._own_message(c, s, p)
        if msg is None:
            return  # a non-author edit is silently ignored
        msg["content"] = json.dumps(p.get("content"))
        await self.broadcast(c, self.frame("channel.message.updated", p, id=m.get("id"), sender=s.did))

    async def h_channel_delete(self, c, s, m, p):
        msg = await self._own_message(c, s, p)
        if msg is None:
            return
        c.messages[p.get("channelId")].remove(msg)
        await self.broadcast(c, self.frame("channel.message.deleted", p, id=m.get("id"), sender=s.did))

    async def h_channel_reaction_add(self, c, s, m, p):
        await self.broadcast(c, self.frame("channel.reaction.added", dict(p, did=s.did), id=m.get("id"),
                                           sender=s.did))

    async def h_channel_pin(self, c, s, m, p):
        c.pins.setdefault(p.get("channelId"), []).append(p.get("messageId"))
        await self.broadcast(c, self.frame("channel.message.pinned", p, id=m.get("id"), sender=s.did))

    async def h_channel_pins_list(self, c, s, m, p):
        await self.send(s, self.frame("channel.pins.list.response",
                                      {"channelId": p.get("channelId"), "messageIds": c.pins.get(p.get("channelId"), [])},
                                      id=m.get("id")))

    async def h_channel_history(self, c, s, m, p):
        msgs = list(reversed(c.messages.get(p["channelId"], [])))  # a missing channelId throws: no frame
        limit = p.get("limit") if isinstance(p.get("limit"), int) and p["limit"] > 0 else 50
        await self.send(s, self.frame("channel.history.response", {"channelId": p["channelId"],
                                                                    "messages": msgs[:limit]}, id=m.get("id")))

    async def h_member_update(self, c, s, m, p):
        if s.did in c.members and "displayName" in p:
            c.members[s.did]["displayName"] = p["displayName"]
        await self.broadcast(c, self.frame("community.member.updated",
                                           {"did": s.did, "displayName": p.get("displayName")},
                                           id=m.get("id"), sender=s.did))

    async def h_community_kick(self, c, s, m, p):
        if s.did != c.creator:
            return await self.error(s, "Not authorized")
        target = p.get("did") or p.get("targetDID")
        c.members.pop(target, None)
        await self.broadcast(c, self.frame("member.kicked", {"did": target}, id=m.get("id")))
        for o in list(c.socks):
            if o.did == target:
                await o.ws.close(4004, "Kicked")

    async def h_community_ban(self, c, s, m, p):
        if s.did != c.creator:
            return await self.error(s, "Not authorized")
        target = p.get("targetDID") or p.get("did")
        c.banned.add(target)
        c.members.pop(target, None)
        await self.broadcast(c, self.frame("member.banned", {"did": target}, id=m.get("id")))
        for o in list(c.socks):
            if o.did == target:
                await o.ws.close(4003, "Banned")

    async def h_dm_send(self, c, s, m, p):
        targets = [o for o in c.socks if o.did == p.get("recipientDID") and o.did is not None]
        if not targets:
            return await self.error(s, "Recipient not connected")
        for o in targets:
            await self.send(o, self.frame("dm.message", p, id=m.get("id"), sender=s.did,
                                          timestamp=m.get("timestamp")))

    async def h_presence_update(self, c, s, m, p):
        await self.broadcast(c, self.frame("presence.changed", dict({"did": s.did}, **p), id=m.get("id"),
                                           sender=s.did, timestamp=m.get("timestamp")))


async def serve(port, bugs, auth_timeout_ms, rate):
    srv = FakeWorker(bugs, auth_timeout_ms, rate)
    async with websockets.serve(srv.handler, "127.0.0.1", port, max_size=1 << 20, ping_interval=None,
                                process_request=srv.process_request) as s:
        real = s.sockets[0].getsockname()[1]
        print(f"fakeworker ready ws://127.0.0.1:{real} http://127.0.0.1:{real}", flush=True)
        await asyncio.Future()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bug", action="append", default=[], choices=sorted(BUGS))
    ap.add_argument("--auth-timeout-ms", type=int, default=30000)
    ap.add_argument("--rate-limit", default="50/10000", help="N/WINDOW_MS frames per socket")
    ns = ap.parse_args()
    n, w = ns.rate_limit.split("/")
    try:
        asyncio.run(serve(ns.port, ns.bug, ns.auth_timeout_ms, (int(n), int(w))))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
