#!/usr/bin/python3
"""End-to-end test of the reference client: harmonyd on loopback and three `harmony script`
clients (a, b, c) through login, community create/join, channel messages both ways, DMs both
ways (decrypted by the peer), bad input and error frames, reconnect with resync (token login,
queued frame sent after the reconnect, missed message delivered once), and a simplified-MLS
group with add, message, remove and re-add (c, a community member outside the group, never
reads the group's messages).

Usage: e2e.py --harmonyd PATH --harmony PATH   (exit 0 = pass). Bounded: about 10 s.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

DEADLINE = time.monotonic() + 90


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    print("ok  -", what, flush=True)


class Client:
    def __init__(self, name, harmony, home, url, extra=()):
        self.name = name
        self.lines = []
        self.cv = threading.Condition()
        self.seq = 0
        self.proc = subprocess.Popen(
            [harmony, "--home", home, "--server", url] + list(extra) + ["script"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                obj = {"unparsed": line}
            with self.cv:
                self.lines.append(obj)
                self.cv.notify_all()

    def send_line(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def cmd(self, timeout=10, **kw):
        self.seq += 1
        kw["seq"] = self.seq
        self.send_line(json.dumps(kw))
        return self.wait(lambda o: o.get("seq") == kw["seq"] and "result" in o, timeout,
                         "%s: result of %s" % (self.name, kw.get("cmd")))

    def wait(self, pred, timeout, what, start=0):
        end = min(time.monotonic() + timeout, DEADLINE)
        with self.cv:
            while True:
                for o in self.lines[start:]:
                    if pred(o):
                        return o
                left = end - time.monotonic()
                if left <= 0:
                    raise Failure("timed out waiting for " + what)
                self.cv.wait(left)

    def mark(self):
        with self.cv:
            return len(self.lines)

    def events(self, pred, start=0):
        with self.cv:
            return [o for o in self.lines[start:] if pred(o)]

    def close(self):
        try:
            self.send_line('{"cmd":"quit"}')
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def ev(kind, **match):
    def pred(o):
        if o.get("event") != kind:
            return False
        for k, v in match.items():
            if k.startswith("p_"):
                if (o.get("payload") or {}).get(k[2:]) != v:
                    return False
            elif o.get(k) != v:
                return False
        return True
    return pred


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harmonyd", required=True)
    ap.add_argument("--harmony", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="harmony-e2e-")
    server = None
    clients = []
    try:
        server = subprocess.Popen(
            [args.harmonyd, "--host", "127.0.0.1", "--port", "0", "--http-port", "0",
             "--data-dir", os.path.join(tmp, "data"), "--rate-limit", "0", "--log-level", "error"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready = server.stdout.readline().split()
        if len(ready) != 4 or ready[:2] != ["harmonyd", "ready"]:
            raise Failure("harmonyd did not print its ready line: %r" % ready)
        url = ready[2]

        # Identities: the mnemonic is printed once, the store is private.
        dids = {}
        for n in "abc":
            home = os.path.join(tmp, n)
            r = subprocess.run([args.harmony, "--home", home, "id", "new"], capture_output=True,
                               text=True, timeout=10)
            out = r.stdout.split("\n")
            check(r.returncode == 0 and len(out[0].split()) == 12 and out[1].startswith("did:key:z6Mk"),
                  "%s: id new prints a 12-word mnemonic and a did:key" % n)
            dids[n] = out[1]
            mode = os.stat(os.path.join(home, "harmony.db")).st_mode & 0o777
            check(mode == 0o600, "%s: identity store has mode 0600 (got %o)" % (n, mode))
        r = subprocess.run([args.harmony, "--home", os.path.join(tmp, "a"), "id", "show"],
                           capture_output=True, text=True, timeout=10)
        check(r.stdout.strip() == dids["a"], "id show prints the stored DID")
        r = subprocess.run([args.harmony, "--home", os.path.join(tmp, "a"), "--server", "http://x",
                            "history", "a", "b"], capture_output=True, text=True, timeout=10)
        check(r.returncode == 2 and "bad server URL" in r.stderr, "bad --server URL is refused clearly")

        # Passphrase sealing (Argon2id): the right passphrase logs in, a wrong one is refused.
        sealed = os.path.join(tmp, "sealed")
        pw, bad = os.path.join(tmp, "pw"), os.path.join(tmp, "bad")
        with open(pw, "w") as f:
            f.write("correct horse\n")
        with open(bad, "w") as f:
            f.write("wrong\n")
        r = subprocess.run([args.harmony, "--home", sealed, "--passphrase-file", pw, "id", "new"],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, "sealed identity created")
        r = subprocess.run([args.harmony, "--home", sealed, "--server", url, "--passphrase-file", pw,
                            "community", "create", "Sealed"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 0 and r.stdout.startswith("community community:"),
              "sealed identity logs in with the right passphrase")
        r = subprocess.run([args.harmony, "--home", sealed, "--server", url, "--passphrase-file", bad,
                            "community", "create", "Sealed"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 2 and "wrong passphrase" in r.stderr, "a wrong passphrase is refused")

        # c runs without the automatic key package upload: it stays outside MLS groups
        # until it uploads one itself (below).
        a, b = (Client(n, args.harmony, os.path.join(tmp, n), url) for n in "ab")
        c = Client("c", args.harmony, os.path.join(tmp, "c"), url, ["--no-key-package"])
        clients = [a, b, c]
        for cl, n in ((a, "a"), (b, "b"), (c, "c")):
            r = cl.cmd(cmd="connect")
            check(r["ok"] and r["did"] == dids[n], "%s: login with a fresh VP" % n)

        # Key packages: uploaded right after login without being asked (an upstream peer
        # that finds none sends its DMs in clear), not with --no-key-package.
        time.sleep(0.3)
        r = c.cmd(cmd="req", type="mls.keypackage.fetch", payload={"dids": [dids["a"], dids["c"]]},
                  wait="mls.keypackage.response")
        kps = r["payload"]["keyPackages"]
        check(r["ok"] and len(kps[dids["a"]]) == 1 and kps[dids["a"]][0]["leafNode"]["did"] == dids["a"],
              "a: its key package is on the server right after login (automatic upload)")
        check(kps[dids["c"]] == [], "c: --no-key-package uploads none")

        # Bad input and error frames.
        a.send_line("not json")
        r = a.wait(lambda o: o.get("result") == "?" and not o["ok"], 5, "a: bad line answer")
        check(r["error"]["code"] == "BAD_INPUT", "a: a non-JSON script line gets BAD_INPUT")
        r = a.cmd(cmd="community.join", communityId="community:doesnotexist")
        check(not r["ok"] and r["error"]["code"] == "NOT_FOUND",
              "a: joining an unknown community reports the server's NOT_FOUND error")
        r = a.cmd(cmd="dm.send", did="did:key:zNotAKey", text="x")
        check(not r["ok"] and r["error"]["code"] == "BAD_DID",
              "a: a DM to a DID whose key cannot be verified is refused, nothing sent in clear")

        # Community create / join.
        r = a.cmd(cmd="community.create", name="E2E")
        check(r["ok"] and r["communityId"].startswith("community:") and r["channels"],
              "a: community.create answers with the community and its channel")
        cid, ch = r["communityId"], r["channels"][0]["id"]
        for cl in (b, c):
            r = cl.cmd(cmd="community.join", communityId=cid)
            check(r["ok"] and r["communityId"] == cid, "%s: community.join" % cl.name)

        # Channel messages both ways.
        m = b.mark()
        r = a.cmd(cmd="channel.send", communityId=cid, channelId=ch, text="hello from a")
        check(r["ok"], "a: channel.send acknowledged by its own broadcast")
        o = b.wait(ev("channel.message", text="hello from a"), 5, "b gets a's message", m)
        check(o["sender"] == dids["a"] and o["e2e"] == "plaintext",
              "b: receives a's message from a's DID, marked unencrypted (no group yet)")
        m = a.mark()
        r = b.cmd(cmd="channel.send", communityId=cid, channelId=ch, text="hello from b")
        o = a.wait(ev("channel.message", text="hello from b"), 5, "a gets b's message", m)
        check(o["sender"] == dids["b"], "a: receives b's message")
        r = a.cmd(cmd="history", communityId=cid, channelId=ch)
        check(r["ok"] and [x["text"] for x in r["messages"]] == ["hello from a", "hello from b"],
              "a: history returns both messages in order")

        # Other requests through the generic "req" command, and an edit.
        r = a.cmd(cmd="req", type="search.query", payload={"communityId": cid, "query": "hello"},
                  wait="search.results")
        check(r["ok"] and len(r["payload"]["results"]) == 2, "a: search.query finds both messages")
        first = a.cmd(cmd="history", communityId=cid, channelId=ch)["messages"][0]["id"]
        m = b.mark()
        r = a.cmd(cmd="channel.edit", communityId=cid, channelId=ch, messageId=first, text="hello (edited)")
        check(r["ok"], "a: channel.edit accepted")
        o = b.wait(ev("channel.message.updated", p_messageId=first), 5, "b sees the edit", m)
        check(o["text"] == "hello (edited)", "b: the edit event carries the decoded new text")
        r = b.cmd(cmd="history", communityId=cid, channelId=ch)
        check(r["messages"][0]["text"] == "hello (edited)", "b: history shows the edited text")
        r = c.cmd(cmd="req", type="channel.delete",
                  payload={"communityId": cid, "channelId": ch, "messageId": first})
        check(not r["ok"] and r["error"]["code"] == "FORBIDDEN",
              "c: deleting a's message is refused with the server's FORBIDDEN error")

        # Voice signalling with an SDP read from a file (peer to peer through the server).
        sdp_path = os.path.join(tmp, "offer.sdp")
        with open(sdp_path, "w") as f:
            f.write("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")
        r = a.cmd(cmd="req", type="voice.join", payload={"communityId": cid, "channelId": ch}, wait="voice.state")
        check(r["ok"], "a: voice.join answered with voice.state")
        m = a.mark()
        r = b.cmd(cmd="req", type="voice.join", payload={"communityId": cid, "channelId": ch}, wait="voice.state")
        check(r["ok"], "b: voice.join")
        a.wait(ev("voice.participant.joined"), 5, "a sees b join the room", m)
        m = b.mark()
        r = a.cmd(cmd="req", type="voice.offer", payload={"targetDID": dids["b"], "communityId": cid},
                  sdpFile=sdp_path, sdpKey="sdp", sdpType="offer")
        check(r["ok"], "a: voice.offer with the SDP from a file")
        o = b.wait(ev("voice.offer"), 5, "b gets the offer", m)
        check(o["sender"] == dids["a"] and o["payload"]["sdp"]["sdp"].startswith("v=0"),
              "b: receives the offer with the file's SDP")
        for cl in (a, b):
            cl.cmd(cmd="req", type="voice.leave", payload={"channelId": ch})

        # One-shot voice commands (each one connection: join, act, leave) by d, with b in
        # the room. harmonyd has no SFU credentials here: signalling-only (R-SFU-13).
        def hm(*argv, home="d", timeout=20):
            return subprocess.run([args.harmony, "--home", os.path.join(tmp, home), "--server", url] + list(argv),
                                  capture_output=True, text=True, timeout=timeout)
        r = subprocess.run([args.harmony, "--home", os.path.join(tmp, "d"), "id", "new"], capture_output=True,
                           text=True, timeout=10)
        dids["d"] = r.stdout.split("\n")[1]
        r = hm("community", "join", cid)
        check(r.returncode == 0, "d: one-shot community join")
        m = b.mark()
        r = b.cmd(cmd="req", type="voice.join", payload={"communityId": cid, "channelId": ch}, wait="voice.state")
        check(r["ok"], "b: in the voice room")
        r = hm("voice", "offer", cid, ch, dids["b"], sdp_path)
        check(r.returncode == 0, "d: one-shot `voice offer` (join, offer from the SDP file, leave) exits 0")
        o = b.wait(ev("voice.offer", sender=dids["d"]), 5, "b gets d's one-shot offer", m)
        check(o["payload"]["sdp"]["sdp"].startswith("v=0") and o["payload"]["sdp"]["type"] == "offer",
              "b: receives d's offer with the SDP from the file")
        b.wait(ev("voice.participant.left", p_did=dids["d"]), 5, "b sees d leave after its one-shot", m)
        check(True, "b: d joined and left the room around its one-shot command")
        m = b.mark()
        r = hm("--json", "voice", "mute", cid, ch)
        res = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
        mute = [x for x in res if x.get("result") == "req" and (x.get("payload") or {}).get("action") == "voice.mute"]
        check(r.returncode == 0 and mute and any(p["did"] == dids["d"] and p["muted"] for p in mute[0]["payload"]["participants"]),
              "d: one-shot `voice mute` prints the room with d muted")
        o = b.wait(ev("voice.state", p_action="voice.mute"), 5, "b sees d's mute", m)
        check(o["payload"]["did"] == dids["d"], "b: the room sees d muted")
        r = hm("voice", "session", cid, ch)
        check(r.returncode == 1 and "CF_SESSION_CREATE_FAILED" in r.stderr and "signalling-only" in r.stderr,
              "d: `voice session` on a signalling-only server fails clearly (CF_SESSION_CREATE_FAILED)")
        r = hm("voice", "push", cid, ch, sdp_path, "audio0")
        check(r.returncode == 1 and "CF_SESSION_CREATE_FAILED" in r.stderr,
              "d: `voice push` on a signalling-only server fails at the session (CF_SESSION_CREATE_FAILED)")
        r = hm("voice", "push", cid, ch, os.path.join(tmp, "missing.sdp"), "audio0")
        check(r.returncode == 2 and "cannot read the SDP file" in r.stderr, "d: a missing SDP file is refused before connecting")
        with open(os.path.join(tmp, "bad.sdp"), "w") as f:
            f.write("not an sdp")
        r = hm("voice", "offer", cid, ch, dids["b"], os.path.join(tmp, "bad.sdp"))
        check(r.returncode == 2 and "does not hold an SDP" in r.stderr, "d: a file that is not an SDP is refused")
        r = hm("voice", "offer", cid, ch, dids["c"], sdp_path)
        check(r.returncode == 1 and "NOT_FOUND" in r.stderr,
              "d: an offer to a DID not in the room reports the server's NOT_FOUND")
        r = hm("voice", "join", cid)
        check(r.returncode == 2 and "usage" in r.stderr, "d: `voice join` with missing arguments prints its usage")
        b.cmd(cmd="req", type="voice.leave", payload={"channelId": ch})

        # One-shot DM from d (its first to b: key exchange, settle, then the DM).
        m = b.mark()
        r = hm("dm", "send", dids["b"], "one-shot dm")
        check(r.returncode == 0 and "encrypted" in r.stdout, "d: one-shot `dm send` exits 0 after the DM was written")
        o = b.wait(ev("dm.message", sender=dids["d"]), 5, "b gets d's one-shot DM", m)
        check(o["text"] == "one-shot dm" and o["e2e"] == "decrypted", "b: decrypts d's one-shot DM")

        # DMs both ways, decrypted by the peer.
        m = b.mark()
        r = a.cmd(cmd="dm.send", did=dids["b"], text="secret for b")
        check(r["ok"], "a: dm.send")
        r_dm_id = r["id"]
        o = b.wait(ev("dm.message", text="secret for b"), 5, "b gets the DM", m)
        check(o["e2e"] == "decrypted" and o["sender"] == dids["a"],
              "b: the DM arrives encrypted and decrypts")
        got = [x.get("event") for x in b.events(lambda x: x.get("event") in ("dm.keyexchange", "dm.message"), m)]
        check(got[:2] == ["dm.keyexchange", "dm.message"],
              "b: a's key exchange arrives before its first DM (the DM is held until it settled)")
        ct = o["payload"]["content"]
        check("nonce" in ct and ct["epoch"] == 0 and "secret" not in json.dumps(ct),
              "b: the DM content on the wire is ciphertext with a nonce")
        m = a.mark()
        b.cmd(cmd="dm.send", did=dids["a"], text="reply for a")
        o = a.wait(ev("dm.message", text="reply for a"), 5, "a gets the DM reply", m)
        check(o["e2e"] == "decrypted", "a: b's DM decrypts")
        check(not c.events(ev("dm.message")), "c: receives no DM of a and b")
        m = b.mark()
        r = a.cmd(cmd="dm.edit", did=dids["b"], messageId=r_dm_id, text="secret for b (edited)")
        check(r["ok"], "a: dm.edit")
        o = b.wait(ev("dm.edited"), 5, "b gets the DM edit", m)
        check(o["text"] == "secret for b (edited)" and o["e2e"] == "decrypted", "b: the DM edit decrypts")

        # Reconnect with resync: b loses its connection; a posts meanwhile; b's own message
        # is queued while offline; b logs in again with its session token.
        m = b.mark()
        b.cmd(cmd="drop", hold=1200)
        b.wait(ev("disconnected"), 5, "b disconnected", m)
        ma = a.mark()
        a.cmd(cmd="channel.send", communityId=cid, channelId=ch, text="while b was away")
        b.send_line(json.dumps({"cmd": "channel.send", "communityId": cid, "channelId": ch,
                                "text": "queued by b", "seq": 999}))
        o = b.wait(lambda o: o.get("event") == "sync.response" and o.get("auth"), 8, "b re-authenticates", m)
        check(o["auth"] == "token", "b: reconnects with its session token (no VP)")
        b.wait(lambda o: o.get("seq") == 999, 8, "b's queued send completes", m)
        a.wait(ev("channel.message", text="queued by b"), 5, "a gets b's queued message", ma)
        check(True, "b: a message queued while disconnected is sent after the reconnect")
        b.wait(ev("channel.message", text="while b was away"), 5, "b resyncs the missed message", m)
        got = b.events(ev("channel.message", text="while b was away"), m)
        check(len(got) == 1, "b: the missed message arrives by resync, exactly once")
        check(len(b.events(ev("channel.message", text="hello from a"), m)) == 0,
              "b: resync starts at the last seen position (old messages not redelivered)")

        # MLS group: a creates, b is added automatically (key package + member.joined).
        # c uploads no key package, so it stays outside the group (a creator adds every
        # member with a key package automatically, on mls.member.joined).
        for cl in (a, b):
            check(cl.cmd(cmd="mls.keypackage.upload")["ok"], "%s: key package uploaded" % cl.name)
        time.sleep(0.3)
        mb = b.mark()
        a.cmd(cmd="mls.create", communityId=cid, channelId=ch)
        a.cmd(cmd="mls.add", communityId=cid, channelId=ch, did=dids["b"])
        b.wait(ev("mls.welcome"), 5, "b gets a Welcome", mb)
        r = b.cmd(cmd="mls.info", communityId=cid, channelId=ch)
        check(r["ok"] and r["members"] == 2 and r["epoch"] == 1, "b: joined the group from the Welcome (epoch 1)")
        r = a.cmd(cmd="mls.info", communityId=cid, channelId=ch)
        check(r["ok"] and r["members"] == 2 and r["epoch"] == 1, "a: group has 2 members at epoch 1")

        mb, mc = b.mark(), c.mark()
        a.cmd(cmd="channel.send", communityId=cid, channelId=ch, text="group secret 1")
        o = b.wait(ev("channel.message", p_communityId=cid, sender=dids["a"]), 5, "b gets the group message", mb)
        check(o["text"] == "group secret 1" and o["e2e"] == "decrypted", "b: decrypts a's group message")
        check(o["payload"]["content"]["epoch"] == 1, "the group message is MLS ciphertext at epoch 1")
        o = c.wait(ev("channel.message", sender=dids["a"]), 5, "c gets the frame", mc)
        check(o.get("text") is None and o["e2e"] == "pending",
              "c (not in the group): cannot read it; queued pending a Welcome")
        ma = a.mark()
        b.cmd(cmd="channel.send", communityId=cid, channelId=ch, text="group reply")
        o = a.wait(ev("channel.message", sender=dids["b"], text="group reply"), 5, "a decrypts b", ma)
        check(o["e2e"] == "decrypted", "a: decrypts b's group message")

        # c uploads a key package now: the creator adds it on mls.member.joined; its
        # pending message (epoch 1) is then tried and cannot open at epoch 2.
        mc = c.mark()
        check(c.cmd(cmd="mls.keypackage.upload")["ok"], "c: key package uploaded")
        c.wait(ev("mls.welcome"), 5, "c gets a Welcome", mc)
        r = c.cmd(cmd="mls.info", communityId=cid, channelId=ch)
        check(r["ok"] and r["members"] == 3 and r["epoch"] == 2 and r["pending"] == 0,
              "c: added automatically after its key package upload (3 members, epoch 2, queue flushed)")
        b.wait(ev("mls.commit"), 5, "b applies the commit adding c")
        r = b.cmd(cmd="mls.info", communityId=cid, channelId=ch)
        check(r["members"] == 3 and r["epoch"] == 2, "b: applied the signed add commit (epoch 2)")

        # Remove b, then a message b must not read, then re-add b.
        mb = b.mark()
        check(a.cmd(cmd="mls.remove", communityId=cid, channelId=ch, did=dids["b"])["ok"], "a: removes b")
        b.wait(ev("mls.commit"), 5, "b gets the removal commit", mb)
        r = b.cmd(cmd="mls.info", communityId=cid, channelId=ch)
        check(not r["ok"], "b: dropped the group after its removal")
        r = a.cmd(cmd="mls.info", communityId=cid, channelId=ch)
        check(r["members"] == 2 and r["epoch"] == 3, "a: group has 2 members at epoch 3")
        mb, mc = b.mark(), c.mark()
        a.cmd(cmd="channel.send", communityId=cid, channelId=ch, text="after removal")
        o = c.wait(ev("channel.message", sender=dids["a"]), 5, "c gets the message", mc)
        check(o.get("text") == "after removal" and o["e2e"] == "decrypted", "c: decrypts at epoch 3")
        o = b.wait(ev("channel.message", sender=dids["a"]), 5, "b gets the frame", mb)
        check(o.get("text") is None, "b: cannot read messages after its removal")
        mb = b.mark()
        a.cmd(cmd="mls.add", communityId=cid, channelId=ch, did=dids["b"])
        b.wait(ev("mls.welcome"), 5, "b gets a second Welcome", mb)
        r = b.cmd(cmd="mls.info", communityId=cid, channelId=ch)
        check(r["ok"] and r["members"] == 3 and r["epoch"] == 4, "b: re-added (3 members, epoch 4)")
        mb, mc = b.mark(), c.mark()
        a.cmd(cmd="channel.send", communityId=cid, channelId=ch, text="welcome back")
        o = b.wait(ev("channel.message", text="welcome back"), 5, "b decrypts after re-add", mb)
        check(o["e2e"] == "decrypted", "b: decrypts again after the re-add")
        o = c.wait(ev("channel.message", text="welcome back"), 5, "c decrypts after re-add", mc)
        check(o["e2e"] == "decrypted", "c: applied the re-add commit and decrypts")

        # Update commits: the creator, then a member that is not the creator, move the group
        # to a new epoch without a membership change; everybody follows and decrypts.
        mb, mc = b.mark(), c.mark()
        r = a.cmd(cmd="mls.update", communityId=cid, channelId=ch)
        check(r["ok"] and r["epoch"] == 5 and r["members"] == 3, "a: update commit (epoch 5, 3 members)")
        b.wait(ev("mls.commit", sender=dids["a"]), 5, "b gets the update commit", mb)
        c.wait(ev("mls.commit", sender=dids["a"]), 5, "c gets the update commit", mc)
        for cl in (b, c):
            r = cl.cmd(cmd="mls.info", communityId=cid, channelId=ch)
            check(r["epoch"] == 5 and r["members"] == 3, "%s: applied a's update commit (epoch 5)" % cl.name)
        ma, mc = a.mark(), c.mark()
        r = b.cmd(cmd="mls.update", communityId=cid, channelId=ch)
        check(r["ok"] and r["epoch"] == 6, "b (not the creator): update commit (epoch 6)")
        a.wait(ev("mls.commit", sender=dids["b"]), 5, "a gets b's update commit", ma)
        c.wait(ev("mls.commit", sender=dids["b"]), 5, "c gets b's update commit", mc)
        ma, mc = a.mark(), c.mark()
        b.cmd(cmd="channel.send", communityId=cid, channelId=ch, text="after two updates")
        for cl, mk in ((a, ma), (c, mc)):
            o = cl.wait(ev("channel.message", text="after two updates"), 5, "%s decrypts at epoch 6" % cl.name, mk)
            check(o["e2e"] == "decrypted" and o["payload"]["content"]["epoch"] == 6,
                  "%s: decrypts b's message at epoch 6" % cl.name)
        r = c.cmd(cmd="mls.update", communityId=cid, channelId="nochannel")
        check(not r["ok"] and r["error"]["code"] == "NOT_FOUND", "c: update of a channel without a group is NOT_FOUND")

        # Restart of b's process: token, channel positions and group state come from SQLite.
        b.close()
        clients.remove(b)
        a.cmd(cmd="channel.send", communityId=cid, channelId=ch, text="while b restarted")
        b = Client("b2", args.harmony, os.path.join(tmp, "b"), url)
        clients.append(b)
        r = b.cmd(cmd="connect")
        check(r["ok"], "b (restarted): logs in")
        o = b.wait(lambda o: o.get("event") == "sync.response" and o.get("auth"), 5, "b2 auth")
        check(o["auth"] == "token", "b (restarted): used the stored session token")
        o = b.wait(ev("channel.message", text="while b restarted"), 5, "b2 resync")
        check(o["e2e"] == "decrypted", "b (restarted): resync delivers the missed group message, decrypted "
              "with the stored group state")
        time.sleep(0.3)
        check(not b.events(ev("channel.message", text="welcome back")),
              "b (restarted): resumes from the stored position (nothing seen before is redelivered)")
        print("PASS", flush=True)
        return 0
    except Failure as e:
        print("FAIL -", e, flush=True)
        for cl in clients:
            print("---- %s stdout (last 30) ----" % cl.name)
            for o in cl.lines[-30:]:
                print(json.dumps(o)[:400])
        return 1
    finally:
        for cl in clients:
            cl.close()
        if server:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
