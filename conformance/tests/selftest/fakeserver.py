"""A small Harmony server in Python for the harness' self-tests, with switchable bugs.

It implements only what the self-test cases touch (VP login, community create/join/leave,
channel send/typing, sync.request, errors for bad input, the auth timeout, voice.join and
two SFU proxy calls, voice.session.create and voice.tracks.push) and follows our
spec there. Each bug flag breaks one behaviour the way a real server might; the self-tests
assert that the suite's cases meant to catch that bug do catch it, and that the correct
server passes them. A case that passes against a broken server is a harness bug.

Bugs:
  echo-to-sender   channel.typing.indicator also goes to the sending connection
  no-membership    channel.send from a non-member is accepted and broadcast
  drop-message     every 5th channel.message delivery is silently dropped
  never-reply      nothing is ever answered after the connection opens
  leak-broadcast   channel.message goes to every authenticated connection, members or not
  no-sig-check     a VP whose signature does not verify still logs in
  silent-errors    bad input (invalid JSON, unknown type) gets no answer
  forged-sender    the envelope sender the client claims is relayed as the author
  blocking-sfu     SFU proxy calls are made synchronously on the event loop, so every
                   connection waits while one call is outstanding (R-SFU-11)
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import os
import sys
import time
import urllib.error
import urllib.request

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from harmony_conformance.crypto import proofs  # noqa: E402

BUGS = {"echo-to-sender", "no-membership", "drop-message", "never-reply", "leak-broadcast",
        "no-sig-check", "silent-errors", "forged-sender", "blocking-sfu"}


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


class Conn:
    def __init__(self, ws):
        self.ws = ws
        self.did = None
        self.room = None        # voice channel id
        self.sessions = set()   # SFU session ids bound to this connection


class FakeServer:
    def __init__(self, bugs=(), auth_timeout_ms=1500, sfu=None):
        self.bugs = set(bugs)
        unknown = self.bugs - BUGS
        if unknown:
            raise ValueError(f"unknown bugs {unknown}")
        self.auth_timeout = auth_timeout_ms / 1000
        self.conns = set()
        self.communities = {}   # id -> {"name", "creator", "members": set, "channels": [ids]}
        self.messages = {}      # channel id -> [stored envelope]
        self.ids = itertools.count(1)
        self.deliveries = 0
        self.seen_vps = set()
        self.token_key = os.urandom(32)
        self.sfu = sfu or {}    # {"base", "app_id", "secret"}; empty = signalling-only

    def nid(self, prefix):
        return f"{prefix}-{os.urandom(8).hex()}"

    def frame(self, type_, payload, sender="server", id_=None):
        return {"id": id_ or self.nid("srv"), "type": type_, "timestamp": now_iso(), "sender": sender,
                "payload": payload}

    async def send(self, conn, frame):
        try:
            await conn.ws.send(json.dumps(frame))
        except websockets.exceptions.ConnectionClosed:
            pass

    async def error(self, conn, code, message, req=None):
        if "silent-errors" in self.bugs and code in ("INVALID_MESSAGE", "UNKNOWN_TYPE"):
            return
        p = {"code": code, "message": message}
        if isinstance(req, dict) and isinstance(req.get("id"), str):
            p["requestId"] = req["id"]
        await self.send(conn, self.frame("error", p))

    def member_conns(self, cid):
        c = self.communities.get(cid)
        if "leak-broadcast" in self.bugs:
            return [x for x in self.conns if x.did]
        if not c:
            return []
        return [x for x in self.conns if x.did in c["members"]]

    async def handler(self, ws, path=None):
        conn = Conn(ws)
        self.conns.add(conn)
        timer = asyncio.get_running_loop().call_later(
            self.auth_timeout, lambda: None if conn.did else asyncio.ensure_future(ws.close(4001, "Authentication timeout")))
        try:
            async for raw in ws:
                if "never-reply" in self.bugs:
                    continue
                await self.on_frame(conn, raw)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            timer.cancel()
            self.conns.discard(conn)

    async def on_frame(self, conn, raw):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                return await self.error(conn, "INVALID_MESSAGE", "frame is not UTF-8")
        try:
            msg = json.loads(raw)
        except ValueError:
            return await self.error(conn, "INVALID_MESSAGE", "Invalid JSON")
        if conn.did is None:
            t = msg.get("type") if isinstance(msg, dict) else None
            p = msg.get("payload") if isinstance(msg, dict) else None
            if t == "sync.state" and isinstance(p, dict):
                did = self.verify_vp(p)
                if not did:
                    await self.error(conn, "AUTH_INVALID", "Invalid VP", msg)
                    await conn.ws.close(4002, "Authentication failed")
                    return
                return await self.logged_in(conn, did)
            if t == "auth.token.verify" and isinstance(p, dict):
                did = self.check_token(p.get("token"))
                if not did:
                    return await self.send(conn, self.frame("auth.token.expired",
                                                            {"message": "Token invalid or expired"}))
                return await self.logged_in(conn, did)
            return await self.error(conn, "AUTH_REQUIRED", "Must authenticate first", msg)
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str) or not msg["type"]:
            return await self.error(conn, "INVALID_MESSAGE", "Missing or invalid message type", msg)
        t, p = msg["type"], msg.get("payload")
        sender = msg.get("sender")
        if sender not in (None, "", conn.did) and "forged-sender" not in self.bugs:
            return await self.error(conn, "FORBIDDEN", "sender does not match the authenticated DID", msg)
        author = sender if ("forged-sender" in self.bugs and sender) else conn.did
        if not isinstance(p, dict):
            return await self.error(conn, "INVALID_PAYLOAD", "payload must be an object", msg)
        h = getattr(self, "h_" + t.replace(".", "_").replace("-", "_"), None)
        if h is None:
            return await self.error(conn, "UNKNOWN_TYPE", f"Unknown message type: {t}", msg)
        await h(conn, msg, p, author)

    async def logged_in(self, conn, did):
        conn.did = did
        await self.send(conn, self.frame("sync.response", {"authenticated": True, "did": did,
                                                           "sessionToken": self.make_token(did)}))

    def make_token(self, did):
        body = base64.b64encode(json.dumps({"did": did, "iat": int(time.time() * 1000),
                                            "exp": int(time.time() * 1000) + 3600_000}).encode()).decode()
        mac = hmac.new(self.token_key, body.encode(), hashlib.sha256).digest()
        return body + "." + base64.b64encode(mac).decode()

    def check_token(self, token):
        if not isinstance(token, str) or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        good = base64.b64encode(hmac.new(self.token_key, body.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(good, mac):
            return None
        claims = json.loads(base64.b64decode(body))
        return claims["did"] if claims.get("exp", 0) > time.time() * 1000 else None

    def verify_vp(self, vp):
        if "no-sig-check" in self.bugs:
            return vp.get("holder") if isinstance(vp.get("holder"), str) else None
        try:
            did, _err = proofs.authenticate_vp(vp, profile="hardened", seen=self.seen_vps)
        except Exception:
            return None
        return did

    def req(self, p, *names):
        for n in names:
            if not isinstance(p.get(n), str) or not p[n].strip():
                return n
        return None

    async def h_community_create(self, conn, msg, p, author):
        bad = self.req(p, "name")
        if bad:
            return await self.error(conn, "INVALID_PAYLOAD", f"Missing or invalid field: {bad}", msg)
        cid = "community:" + os.urandom(16).hex()
        ch = {"id": f"{cid}:channel:{os.urandom(8).hex()}", "communityId": cid, "name": "general",
              "type": "text", "createdAt": now_iso()}
        self.communities[cid] = {"name": p["name"], "creator": conn.did, "members": {conn.did},
                                 "channels": [ch]}
        await self.send(conn, self.frame("community.updated", {"communityId": cid, "channels": [ch]}))

    async def h_community_join(self, conn, msg, p, author):
        bad = self.req(p, "communityId")
        if bad:
            return await self.error(conn, "INVALID_PAYLOAD", f"Missing or invalid field: {bad}", msg)
        c = self.communities.get(p["communityId"])
        if not c:
            return await self.error(conn, "NOT_FOUND", "Community not found", msg)
        for other in self.member_conns(p["communityId"]):
            if other is not conn:
                await self.send(other, self.frame("community.member.joined",
                                                  {"communityId": p["communityId"], "memberDID": conn.did},
                                                  sender=conn.did))
        c["members"].add(conn.did)
        members = [{"did": d, "roles": [], "joinedAt": now_iso(), "presence": {"status": "online"}}
                   for d in sorted(c["members"])]
        await self.send(conn, self.frame("community.updated", {"communityId": p["communityId"],
                                                               "channels": c["channels"], "members": members}))

    async def membership(self, conn, msg, p):
        bad = self.req(p, "communityId", "channelId")
        if bad:
            await self.error(conn, "INVALID_PAYLOAD", f"Missing or invalid field: {bad}", msg)
            return None
        c = self.communities.get(p["communityId"])
        if (not c or conn.did not in c["members"]) and "no-membership" not in self.bugs:
            await self.error(conn, "NOT_MEMBER", "Not a member of this community", msg)
            return None
        return c or {"members": set(), "channels": []}

    async def h_channel_send(self, conn, msg, p, author):
        if await self.membership(conn, msg, p) is None:
            return
        if isinstance(p.get("content"), str) and len(p["content"]) > 4000:
            return await self.error(conn, "INVALID_PAYLOAD", "content exceeds maximum length of 4000", msg)
        out = {"id": msg.get("id"), "type": "channel.message", "timestamp": msg.get("timestamp") or now_iso(),
               "sender": author, "payload": p}
        self.messages.setdefault(p["channelId"], []).append(
            {"id": msg.get("id"), "type": "channel.send", "timestamp": out["timestamp"], "sender": author, "payload": p})
        for other in self.member_conns(p["communityId"]):
            self.deliveries += 1
            if "drop-message" in self.bugs and self.deliveries % 5 == 0:
                continue
            await self.send(other, out)

    async def h_channel_typing(self, conn, msg, p, author):
        if await self.membership(conn, msg, p) is None:
            return
        out = self.frame("channel.typing.indicator", p, sender=author)
        for other in self.member_conns(p["communityId"]):
            if other is not conn or "echo-to-sender" in self.bugs:
                await self.send(other, out)

    async def h_sync_request(self, conn, msg, p, author):
        if await self.membership(conn, msg, p) is None:
            return
        limit = p.get("limit") if isinstance(p.get("limit"), int) and p["limit"] > 0 else 50
        stored = self.messages.get(p["channelId"], [])
        page = stored[:limit]
        await self.send(conn, self.frame("sync.response", {
            "communityId": p["communityId"], "channelId": p["channelId"], "messages": page,
            "hasMore": len(stored) > len(page), "latestClock": {"counter": len(page), "authorDID": ""}}))


    # ---- voice room and SFU proxy (the parts SFU-018 touches) ------------------------------
    async def h_voice_join(self, conn, msg, p, author):
        chid = p.get("channelId")
        if not isinstance(chid, str) or not chid:
            return await self.error(conn, "INVALID_PAYLOAD", "Missing or invalid field: channelId", msg)
        cid = next((k for k, c in self.communities.items() if any(ch["id"] == chid for ch in c["channels"])), None)
        if cid is None or conn.did not in self.communities[cid]["members"]:
            return await self.error(conn, "NOT_MEMBER", "Not a member of this community", msg)
        conn.room = chid
        room = [x for x in self.conns if x.room == chid]
        dids = sorted({x.did for x in room})
        for other in room:
            await self.send(other, self.frame("voice.participant.joined",
                                              {"channelId": chid, "did": conn.did, "participants": dids}))
        await self.send(conn, self.frame("voice.state", {"channelId": chid, "participants": dids,
                                                         "participantDetails": []}))

    def sfu_call(self, method, path, body):
        """One blocking HTTP exchange with the SFU API: (status, parsed answer or None)."""
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        req = urllib.request.Request(f"{self.sfu['base']}/v1/apps/{self.sfu['app_id']}{path}", data=data,
                                     method=method, headers={"Authorization": f"Bearer {self.sfu['secret']}",
                                                             "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, None
        except (OSError, ValueError):
            return 0, None

    async def proxy(self, conn, msg, method, path, body, on_ok, code):
        if not self.sfu.get("app_id"):
            return await self.error(conn, code, "Error: CF Realtime SFU not configured", msg)
        if conn.room is None:
            return await self.error(conn, "FORBIDDEN", "Not a participant of a voice room", msg)

        async def run():
            if "blocking-sfu" in self.bugs:
                status, ans = self.sfu_call(method, path, body)  # blocks the whole event loop
            else:
                status, ans = await asyncio.get_running_loop().run_in_executor(
                    None, self.sfu_call, method, path, body)
            if 200 <= status < 300 and isinstance(ans, dict):
                await on_ok(ans)
            else:
                await self.error(conn, code, f"Error: CF API error {status}", msg)
        if "blocking-sfu" in self.bugs:
            await run()
        else:
            asyncio.ensure_future(run())

    async def h_voice_session_create(self, conn, msg, p, author):
        async def ok(ans):
            sid = ans.get("sessionId")
            if not isinstance(sid, str):
                return await self.error(conn, "CF_SESSION_CREATE_FAILED", "Error: no sessionId", msg)
            conn.sessions.add(sid)
            await self.send(conn, self.frame("voice.session.created", {"sessionId": sid}))
        await self.proxy(conn, msg, "POST", "/sessions/new", None, ok, "CF_SESSION_CREATE_FAILED")

    async def h_voice_tracks_push(self, conn, msg, p, author):
        sid = p.get("sessionId")
        if sid not in conn.sessions:
            return await self.error(conn, "FORBIDDEN", "Unknown SFU session", msg)
        body = {"tracks": p.get("tracks")}
        if "sessionDescription" in p:
            body["sessionDescription"] = p["sessionDescription"]

        async def ok(ans):
            await self.send(conn, self.frame("voice.tracks.pushed", ans))
        await self.proxy(conn, msg, "POST", f"/sessions/{sid}/tracks/new", body, ok, "CF_TRACKS_PUSH_FAILED")


async def serve(port, bugs, auth_timeout_ms, ready_file=None, sfu=None):
    srv = FakeServer(bugs, auth_timeout_ms, sfu)
    async with websockets.serve(srv.handler, "127.0.0.1", port, max_size=1 << 20, ping_interval=None) as s:
        real = s.sockets[0].getsockname()[1]
        print(f"fakeserver ready ws://127.0.0.1:{real} http://127.0.0.1:{real + 1}", flush=True)
        await asyncio.Future()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bug", action="append", default=[], choices=sorted(BUGS))
    ap.add_argument("--auth-timeout-ms", type=int, default=1500)
    ap.add_argument("--sfu-api-base", default="")
    ap.add_argument("--sfu-app-id", default="")
    ap.add_argument("--sfu-app-secret", default="")
    ns = ap.parse_args()
    sfu = {"base": ns.sfu_api_base.rstrip("/"), "app_id": ns.sfu_app_id, "secret": ns.sfu_app_secret}
    try:
        asyncio.run(serve(ns.port, ns.bug, ns.auth_timeout_ms, sfu=sfu))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
