"""A small Harmony server in Python for the harness' self-tests, with switchable bugs.

It implements only what the self-test cases touch (VP login, community create/join/leave,
channel send/typing, sync.request, errors for bad input, the auth timeout, voice.join and
the SFU proxy calls voice.session.create, voice.tracks.push/pull and voice.renegotiate, and
on its HTTP port signed user-data upload/read/delete with the replay rule) and follows our
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
  unbounded-sfu    no limit on a connection's outstanding SFU calls (R-SFU-11: at most 4)
  no-sfu-timeout   an SFU call waits for its answer however long it takes (R-SFU-11: 10 s)
  sfu-in-order     a connection's frames wait while its own SFU call is outstanding, so
                   SFU replies never come after replies to later frames (R-VOICE-28)
  sticky-sessions  SFU sessions stay bound to the DID after its connection closed or left
                   the room (R-SFU-15)
  no-delete-replay signed DELETE requests are not remembered, so a captured one can be
                   replayed (R-CRY-HSIG-4; POST replays are still refused)
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
import urllib.parse
import urllib.request

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from harmony_conformance.crypto import httpsig, proofs  # noqa: E402

BUGS = {"echo-to-sender", "no-membership", "drop-message", "never-reply", "leak-broadcast",
        "no-sig-check", "silent-errors", "forged-sender", "blocking-sfu",
        "unbounded-sfu", "no-sfu-timeout", "sfu-in-order", "sticky-sessions",
        "no-delete-replay"}


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


class Conn:
    def __init__(self, ws):
        self.ws = ws
        self.did = None
        self.room = None        # voice channel id
        self.sessions = set()   # SFU session ids bound to this connection
        self.in_flight = 0      # outstanding SFU calls


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
        self.did_sessions = {}  # DID -> session ids ever created (the sticky-sessions bug uses them)
        self.user_data = {}     # DID -> {"ciphertext", "nonce", "metadata"}
        self.seen_sigs = set()  # accepted signatures of POST/DELETE requests (R-HTTP-7)

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
            with urllib.request.urlopen(req, timeout=None if "no-sfu-timeout" in self.bugs else 10) as r:
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

        if conn.in_flight >= 4 and "unbounded-sfu" not in self.bugs:
            return await self.error(conn, "RATE_LIMITED", "Too many SFU requests in flight", msg)
        conn.in_flight += 1

        async def run():
            try:
                await call()
            finally:
                conn.in_flight -= 1

        async def call():
            if "blocking-sfu" in self.bugs:
                status, ans = self.sfu_call(method, path, body)  # blocks the whole event loop
            else:
                status, ans = await asyncio.get_running_loop().run_in_executor(
                    None, self.sfu_call, method, path, body)
            if 200 <= status < 300 and isinstance(ans, dict):
                await on_ok(ans)
            else:
                await self.error(conn, code, f"Error: CF API error {status}", msg)
        if "blocking-sfu" in self.bugs or "sfu-in-order" in self.bugs:
            await run()
        else:
            asyncio.ensure_future(run())

    def bound(self, conn, sid):
        """Is `sid` a session of this connection (the sticky-sessions bug: of this DID, ever)?"""
        if "sticky-sessions" in self.bugs:
            return sid in self.did_sessions.get(conn.did, set())
        return sid in conn.sessions

    async def h_voice_leave(self, conn, msg, p, author):
        chid = conn.room
        conn.room = None
        conn.sessions.clear()
        if chid is not None:
            room = [x for x in self.conns if x.room == chid]
            dids = sorted({x.did for x in room})
            for other in room:
                await self.send(other, self.frame("voice.participant.left",
                                                  {"channelId": chid, "did": conn.did, "participants": dids}))

    async def h_voice_get_producers(self, conn, msg, p, author):
        await self.send(conn, self.frame("voice.get-producers.response", {"producers": []}))

    async def h_voice_session_create(self, conn, msg, p, author):
        async def ok(ans):
            sid = ans.get("sessionId")
            if not isinstance(sid, str):
                return await self.error(conn, "CF_SESSION_CREATE_FAILED", "Error: no sessionId", msg)
            conn.sessions.add(sid)
            self.did_sessions.setdefault(conn.did, set()).add(sid)
            await self.send(conn, self.frame("voice.session.created", {"sessionId": sid}))
        await self.proxy(conn, msg, "POST", "/sessions/new", None, ok, "CF_SESSION_CREATE_FAILED")

    async def h_voice_tracks_push(self, conn, msg, p, author, reply="voice.tracks.pushed",
                                  code="CF_TRACKS_PUSH_FAILED"):
        sid = p.get("sessionId")
        if not self.bound(conn, sid):
            return await self.error(conn, "FORBIDDEN", "Unknown SFU session", msg)
        for t in p.get("tracks") or []:
            remote = t.get("sessionId") if isinstance(t, dict) else None
            if remote is not None and not any(self.bound(x, remote) for x in self.conns
                                              if x.room is not None and x.room == conn.room):
                return await self.error(conn, "FORBIDDEN", "Unknown SFU session", msg)
        body = {"tracks": p.get("tracks")}
        if "sessionDescription" in p:
            body["sessionDescription"] = p["sessionDescription"]

        async def ok(ans):
            await self.send(conn, self.frame(reply, ans))
        await self.proxy(conn, msg, "POST", f"/sessions/{sid}/tracks/new", body, ok, code)

    async def h_voice_tracks_pull(self, conn, msg, p, author):
        await self.h_voice_tracks_push(conn, msg, p, author, "voice.tracks.pulled", "CF_TRACKS_PULL_FAILED")

    async def h_voice_renegotiate(self, conn, msg, p, author):
        sid = p.get("sessionId")
        if not self.bound(conn, sid):
            return await self.error(conn, "FORBIDDEN", "Unknown SFU session", msg)

        async def ok(ans):
            await self.send(conn, self.frame("voice.renegotiated", ans))
        await self.proxy(conn, msg, "PUT", f"/sessions/{sid}/renegotiate",
                         {"sessionDescription": p.get("sessionDescription")}, ok, "CF_RENEGOTIATE_FAILED")


    # ---- HTTP: signed user data (the parts HTTP-009 and HTTP-024 touch) --------------------
    def http_answer(self, method, target, headers, body):
        """(status, JSON answer) for one request."""
        path = target.split("?", 1)[0]
        if path != "/api/user-data/upload" and not path.startswith("/api/user-data/"):
            return 404, {"error": "Not found"}
        did, why = httpsig.verify_reason(headers.get("authorization"), method, target, int(time.time() * 1000),
                                         "hardened")
        if did is None:
            return 401, {"error": f"Signature check failed: {why}"}
        if method in ("POST", "DELETE") and not (method == "DELETE" and "no-delete-replay" in self.bugs):
            sig = headers["authorization"].rsplit(" ", 1)[1]
            if sig in self.seen_sigs:
                return 401, {"error": "Replayed request"}
            self.seen_sigs.add(sig)
        if path == "/api/user-data/upload" and method == "POST":
            try:
                b = json.loads(body)
            except ValueError:
                return 400, {"error": "Invalid JSON body"}
            if not isinstance(b, dict) or not all(isinstance(b.get(k), str) for k in ("did", "ciphertext", "nonce")):
                return 400, {"error": "Missing required fields: did, ciphertext, nonce"}
            if b["did"] != did:
                return 403, {"error": "DID mismatch: you can only upload data for your own DID"}
            self.user_data[did] = {"ciphertext": b["ciphertext"], "nonce": b["nonce"], "metadata": b.get("metadata")}
            return 200, {"ok": True, "size": 4 + len(base64.b64decode(b["nonce"])) + len(base64.b64decode(b["ciphertext"]))}
        owner = urllib.parse.unquote(path[len("/api/user-data/"):])
        if owner != did:
            return 403, {"error": "DID mismatch: you can only access your own data"}
        if method == "GET":
            if did not in self.user_data:
                return 404, {"error": "No data found for this DID"}
            return 200, self.user_data[did]
        if method == "DELETE":
            if self.user_data.pop(did, None) is None:
                return 404, {"error": "No data found for this DID"}
            return 200, {"ok": True}
        return 405, {"error": "Method not allowed"}

    async def http_conn(self, reader, writer):
        """One HTTP/1.1 request per connection (answered with Connection: close)."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for ln in lines[1:]:
                if ":" in ln:
                    k, v = ln.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length") or 0))
            status, ans = self.http_answer(method, target, headers, body)
            data = json.dumps(ans).encode()
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + data)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
            pass
        finally:
            writer.close()


async def serve(port, bugs, auth_timeout_ms, ready_file=None, sfu=None, http_port=None):
    srv = FakeServer(bugs, auth_timeout_ms, sfu)
    async with websockets.serve(srv.handler, "127.0.0.1", port, max_size=1 << 20, ping_interval=None) as s:
        real = s.sockets[0].getsockname()[1]
        if http_port is not None:
            h = await asyncio.start_server(srv.http_conn, "127.0.0.1", http_port)
        else:  # upstream's convention, WebSocket port + 1, or any free port when that one is taken
            try:
                h = await asyncio.start_server(srv.http_conn, "127.0.0.1", real + 1)
            except OSError:
                h = await asyncio.start_server(srv.http_conn, "127.0.0.1", 0)
        hreal = h.sockets[0].getsockname()[1]
        print(f"fakeserver ready ws://127.0.0.1:{real} http://127.0.0.1:{hreal}", flush=True)
        await asyncio.Future()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--http-port", type=int, default=None, help="default: the WebSocket port + 1")
    ap.add_argument("--bug", action="append", default=[], choices=sorted(BUGS))
    ap.add_argument("--auth-timeout-ms", type=int, default=1500)
    ap.add_argument("--sfu-api-base", default="")
    ap.add_argument("--sfu-app-id", default="")
    ap.add_argument("--sfu-app-secret", default="")
    ns = ap.parse_args()
    sfu = {"base": ns.sfu_api_base.rstrip("/"), "app_id": ns.sfu_app_id, "secret": ns.sfu_app_secret}
    try:
        asyncio.run(serve(ns.port, ns.bug, ns.auth_timeout_ms, sfu=sfu, http_port=ns.http_port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
