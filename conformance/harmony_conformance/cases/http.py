"""The HTTP surface (spec/http.md): health, CORS and security headers, Harmony-Ed25519 signed
requests, user data, migration import validation, export secrets, metrics. The user-data and
migration calls sign with the harness' own crypto (crypto/httpsig.py)."""
from __future__ import annotations

import base64
import os
import time
import urllib.parse

from ..core import case
from ..crypto import httpsig
from ._util import http

SEC_HEADERS = {"access-control-allow-origin": "*", "x-content-type-options": "nosniff", "x-frame-options": "DENY",
               "x-xss-protection": "1; mode=block"}
MISSING_AUTH = ("Missing or invalid Authorization header. Expected: Harmony-Ed25519 <did> <timestamp> "
                "<base64-signature>")


def fresh(ctx, name="user"):
    """An identity never used before (user data is stored per DID on a long-running server)."""
    return ctx.identity(f"{name}-{os.urandom(4).hex()}")


def ud_path(did):
    return "/api/user-data/" + urllib.parse.quote(did, safe="")


def blob(did, ct=b"ciphertext-bytes", nonce=b"n" * 24, metadata=None):
    return {"did": did, "ciphertext": base64.b64encode(ct).decode(), "nonce": base64.b64encode(nonce).decode(),
            "metadata": {"v": 1} if metadata is None else metadata}


def err(r):
    j = r.json()
    return j.get("error") if isinstance(j, dict) else None


@case("HTTP-001", area="http", reqs=["R-HTTP-1"], types=[],
      title="GET /health answers 200 {status: 'healthy', uptime}",
      sends="GET /health on the HTTP port", expects="200 with JSON {status: 'healthy', uptime: whole seconds >= 0}")
async def http_health(ctx):
    r = await http(ctx, "GET", "/health")
    ctx.check(r.status == 200, f"GET /health: {r}")
    j = r.json() or {}
    ctx.check(j.get("status") == "healthy", f"body {j}")
    ctx.check(isinstance(j.get("uptime"), int) and not isinstance(j.get("uptime"), bool) and j["uptime"] >= 0,
              f"uptime {j.get('uptime')!r}")


@case("HTTP-002", area="http", reqs=["R-HTTP-2"], types=[],
      title="Every non-OPTIONS response carries the CORS and security headers",
      sends="GET /health, GET of an unknown path, an unsigned POST /api/user-data/upload",
      expects="Access-Control-Allow-Origin *, X-Content-Type-Options nosniff, X-Frame-Options DENY, "
              "X-XSS-Protection '1; mode=block' on all three")
async def http_headers(ctx):
    for method, path in (("GET", "/health"), ("GET", "/no-such-path-" + os.urandom(3).hex()),
                         ("POST", "/api/user-data/upload")):
        r = await http(ctx, method, path, body={} if method == "POST" else None)
        for k, v in SEC_HEADERS.items():
            ctx.check(r.headers.get(k) == v, f"{method} {path} ({r.status}): {k} is {r.headers.get(k)!r}")


@case("HTTP-003", area="http", reqs=["R-HTTP-3"], types=[],
      title="OPTIONS preflight allows GET, POST, DELETE and the Authorization header",
      sends="OPTIONS /api/user-data/x",
      expects="204 with Allow-Origin *, Allow-Methods 'GET, POST, DELETE, OPTIONS', Allow-Headers "
              "'Content-Type, Authorization', Max-Age 600 (upstream omits DELETE and Authorization: G37)")
async def http_preflight(ctx):
    r = await http(ctx, "OPTIONS", "/api/user-data/x")
    ctx.check(r.status == 204, f"OPTIONS: {r}")
    want = {"access-control-allow-origin": "*", "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
            "access-control-allow-headers": "Content-Type, Authorization", "access-control-max-age": "600"}
    for k, v in want.items():
        ctx.check(r.headers.get(k) == v, f"{k} is {r.headers.get(k)!r}, expected {v!r}")


@case("HTTP-004", area="http", reqs=["R-HTTP-4"], types=[],
      title="Unknown paths answer 404 {error: 'Not found'}; a wrong method on a known path answers 405 with Allow",
      sends="GET /no-such-path; DELETE /health",
      expects="404 {error: 'Not found'}; 405 with an Allow header")
async def http_404(ctx):
    r = await http(ctx, "GET", "/no-such-path")
    ctx.check(r.status == 404 and err(r) == "Not found", f"unknown path: {r}")
    r = await http(ctx, "DELETE", "/health")
    ctx.check(r.status == 405 and r.headers.get("allow"), f"DELETE /health: {r} allow={r.headers.get('allow')!r}")


@case("HTTP-005", area="http", reqs=["R-HTTP-5"], types=[], timeout=30,
      title="Oversized bodies get 413, invalid JSON gets 400",
      sends="a signed POST /api/user-data/upload with a 5 MiB + 1 byte body; one with body 'not json'",
      expects="413 {error: 'Request body too large'}; 400 {error: 'Invalid JSON body'} (upstream resets the "
              "connection on the first)")
async def http_body_limits(ctx):
    me = fresh(ctx)
    r = await http(ctx, "POST", "/api/user-data/upload", body=b"not json", sign=me,
                   headers={"Content-Type": "application/json"})
    ctx.check(r.status == 400 and err(r) == "Invalid JSON body", f"invalid JSON: {r}")
    r = await http(ctx, "POST", "/api/user-data/upload", body=b" " * (5 * 1024 * 1024 + 1), sign=me,
                   ts=int(time.time()) + 1, headers={"Content-Type": "application/json"})
    ctx.check(r.status == 413 and err(r) == "Request body too large", f"oversized body: {r}")


@case("HTTP-006", area="http", reqs=["R-HTTP-6", "R-HTTP-10", "R-HTTP-11", "R-HTTP-12"], types=[],
      title="User data: upload, read back, delete (signed; seconds and milliseconds timestamps)",
      sends="signed POST /api/user-data/upload (timestamp in seconds); signed GET /api/user-data/<did> "
            "(milliseconds); signed DELETE; signed GET again",
      expects="200 {ok: true, size: 4 + nonce + ciphertext bytes}; 200 with the same ciphertext, nonce and "
              "metadata; 200 {ok: true}; 404 {error: 'No data found for this DID'}")
async def http_user_data(ctx):
    me = fresh(ctx)
    b = blob(me.did, ct=os.urandom(40), nonce=os.urandom(24), metadata={"kind": "settings"})
    r = await http(ctx, "POST", "/api/user-data/upload", body=b, sign=me)
    ctx.check(r.status == 200 and r.json() == {"ok": True, "size": 4 + 24 + 40}, f"upload: {r}")
    path = ud_path(me.did)
    r = await http(ctx, "GET", path, sign=me, ts=int(time.time() * 1000))
    ctx.check(r.status == 200, f"GET: {r}")
    j = r.json() or {}
    ctx.check(j.get("ciphertext") == b["ciphertext"] and j.get("nonce") == b["nonce"]
              and j.get("metadata") == {"kind": "settings"}, f"GET body {j}")
    r = await http(ctx, "DELETE", path, sign=me)
    ctx.check(r.status == 200 and r.json() == {"ok": True}, f"DELETE: {r}")
    r = await http(ctx, "GET", path, sign=me, ts=int(time.time()) + 1)
    ctx.check(r.status == 404 and err(r) == "No data found for this DID", f"GET after delete: {r}")


@case("HTTP-007", area="http", reqs=["R-HTTP-9", "R-HTTP-6"], types=[],
      title="Signed calls with a missing or bad Authorization header get 401 with upstream's texts",
      sends="GET /api/user-data/<did> without header; with 2 parts; with did:web; timestamp 'abc'; timestamp "
            "6 minutes old; a signature by another key",
      expects="401 with the matching error text each time")
async def http_sig_errors(ctx):
    me, other = fresh(ctx), fresh(ctx, "other")
    path = ud_path(me.did)
    now = int(time.time())
    good = httpsig.header(me.did, me.seed32, now, "GET", path)
    sig = good.rsplit(" ", 1)[1]
    probes = [(None, MISSING_AUTH),
              (f"Harmony-Ed25519 {me.did} {now}", "Malformed Authorization header"),
              (f"Harmony-Ed25519 did:web:example.com {now} {sig}", "Only did:key (Ed25519) DIDs are supported"),
              (f"Harmony-Ed25519 {me.did} abc {sig}", "Invalid timestamp"),
              (httpsig.header(me.did, me.seed32, now - 360, "GET", path),
               "Timestamp outside acceptable window (±5 minutes)"),
              (httpsig.header(me.did, other.seed32, now, "GET", path), "Signature verification failed")]
    for auth, text in probes:
        r = await http(ctx, "GET", path, auth=auth)
        ctx.check(r.status == 401 and err(r) == text, f"header {auth!r}: {r}, expected 401 {text!r}")


@case("HTTP-008", area="http", reqs=["R-HTTP-6"], types=[],
      title="The ±5 minute window applies to seconds and milliseconds timestamps alike",
      sends="signed GETs with timestamps now+290 s, now-290 s (seconds), now-290000 ms, now+310 s, now-310000 ms",
      expects="the first three pass the signature check (404: no data), the last two get 401 'Timestamp outside "
              "acceptable window (±5 minutes)'")
async def http_window(ctx):
    me = fresh(ctx)
    path = ud_path(me.did)
    now = time.time()
    for ts, ok in ((int(now) + 290, True), (int(now) - 290, True), (int(now * 1000) - 290000, True),
                   (int(now) + 310, False), (int(now * 1000) - 310000, False)):
        r = await http(ctx, "GET", path, sign=me, ts=ts)
        if ok:
            ctx.check(r.status == 404, f"timestamp {ts}: {r}, expected 404 (signature accepted, no data)")
        else:
            ctx.check(r.status == 401 and err(r) == "Timestamp outside acceptable window (±5 minutes)",
                      f"timestamp {ts}: {r}")


@case("HTTP-009", area="http", reqs=["R-HTTP-7"], types=[],
      title="A replayed signed POST is refused; a repeated GET is not",
      sends="the same signed POST /api/user-data/upload header twice (second with another body); the same "
            "signed GET header twice",
      expects="200, then 401 {error: 'Replayed request'} and the stored blob is the first; both GETs 200 "
              "(upstream has no replay protection)")
async def http_replay(ctx):
    me = fresh(ctx)
    ts = int(time.time())
    auth = httpsig.header(me.did, me.seed32, ts, "POST", "/api/user-data/upload")
    first = blob(me.did, ct=b"first")
    r = await http(ctx, "POST", "/api/user-data/upload", body=first, auth=auth)
    ctx.check(r.status == 200, f"first upload: {r}")
    r = await http(ctx, "POST", "/api/user-data/upload", body=blob(me.did, ct=b"second!"), auth=auth)
    ctx.check(r.status == 401 and err(r) == "Replayed request", f"replayed upload: {r}")
    path = ud_path(me.did)
    gauth = httpsig.header(me.did, me.seed32, ts, "GET", path)
    for i in range(2):
        r = await http(ctx, "GET", path, auth=gauth)
        ctx.check(r.status == 200 and (r.json() or {}).get("ciphertext") == first["ciphertext"],
                  f"GET #{i + 1}: {r}")


@case("HTTP-010", area="http", reqs=["R-HTTP-8"], types=[],
      title="Timestamps and signatures are parsed strictly",
      sends="signed GETs whose timestamp text is '0<ts>' (leading zero), '<ts>abc' (signed as sent), and whose "
            "signature is valid but written without base64 padding",
      expects="401 each time (upstream's parseInt and lenient base64 accept them)")
async def http_strict(ctx):
    me = fresh(ctx)
    path = ud_path(me.did)
    now = int(time.time())
    probes = []
    for ts in (f"0{now}", f"{now}abc"):
        probes.append(httpsig.header(me.did, me.seed32, ts, "GET", path))
    h = httpsig.header(me.did, me.seed32, now, "GET", path)
    probes.append(h.rstrip("="))
    for auth in probes:
        r = await http(ctx, "GET", path, auth=auth)
        ctx.check(r.status == 401, f"header {auth!r}: {r}, expected 401")


@case("HTTP-011", area="http", reqs=["R-HTTP-10", "R-HTTP-11", "R-HTTP-12"], types=[],
      title="User data refuses missing fields and other DIDs",
      sends="signed upload without nonce; upload naming another DID; GET and DELETE of another DID's data",
      expects="400 'Missing required fields: did, ciphertext, nonce'; 403 'DID mismatch: you can only upload data "
              "for your own DID'; 403 '... access your own data'; 403 '... delete your own data'")
async def http_user_data_errors(ctx):
    me, other = fresh(ctx), fresh(ctx, "other")
    b = blob(me.did)
    del b["nonce"]
    ts = int(time.time())
    r = await http(ctx, "POST", "/api/user-data/upload", body=b, sign=me, ts=ts)
    ctx.check(r.status == 400 and err(r) == "Missing required fields: did, ciphertext, nonce", f"no nonce: {r}")
    r = await http(ctx, "POST", "/api/user-data/upload", body=blob(other.did), sign=me, ts=ts + 1)
    ctx.check(r.status == 403 and err(r) == "DID mismatch: you can only upload data for your own DID",
              f"other DID: {r}")
    r = await http(ctx, "GET", ud_path(other.did), sign=me)
    ctx.check(r.status == 403 and err(r) == "DID mismatch: you can only access your own data", f"GET other: {r}")
    r = await http(ctx, "DELETE", ud_path(other.did), sign=me)
    ctx.check(r.status == 403 and err(r) == "DID mismatch: you can only delete your own data", f"DELETE other: {r}")


@case("HTTP-012", area="http", reqs=["R-HTTP-13"], types=[],
      title="User data must be canonical base64 with an object metadata",
      sends="signed uploads with ciphertext '@@@', with nonce 'YQ' (unpadded), with metadata 'x'",
      expects="400 'Invalid base64', 400 'Invalid base64', 400 'Invalid metadata'; nothing stored (GET 404)")
async def http_user_data_strict(ctx):
    me = fresh(ctx)
    ts = int(time.time())
    for i, (b, text) in enumerate(((dict(blob(me.did), ciphertext="@@@"), "Invalid base64"),
                                   (dict(blob(me.did), nonce="YQ"), "Invalid base64"),
                                   (dict(blob(me.did), metadata="x"), "Invalid metadata"))):
        r = await http(ctx, "POST", "/api/user-data/upload", body=b, sign=me, ts=ts + i)
        ctx.check(r.status == 400 and err(r) == text, f"upload {i + 1}: {r}, expected 400 {text!r}")
    r = await http(ctx, "GET", ud_path(me.did), sign=me)
    ctx.check(r.status == 404, f"something was stored: {r}")


@case("HTTP-013", area="http", reqs=["R-HTTP-14"], types=[],
      title="Migration import without bundle, adminDID or communityName is refused",
      sends="signed POST /api/migration/import {adminDID, communityName} (no bundle)",
      expects="400 {error: 'Missing required fields: bundle, adminDID, communityName'}")
async def http_import_missing(ctx):
    me = fresh(ctx)
    r = await http(ctx, "POST", "/api/migration/import", body={"adminDID": me.did, "communityName": "x"}, sign=me)
    ctx.check(r.status == 400 and err(r) == "Missing required fields: bundle, adminDID, communityName", f"{r}")


@case("HTTP-014", area="http", reqs=["R-HTTP-15"], types=[],
      title="Migration import: adminDID must be the signer; adminKeyPair required; an undecryptable bundle is 400",
      sends="signed imports: adminDID of another DID; no adminKeyPair; a bundle of random bytes",
      expects="403 'adminDID must match the authenticated DID'; 400 'adminKeyPair is required'; 400 'Import "
              "failed: cannot decrypt bundle' (upstream: no check, 500: G10)")
async def http_import_checks(ctx):
    me, other = fresh(ctx), fresh(ctx, "other")
    bundle = {"ciphertext": base64.b64encode(os.urandom(64)).decode(),
              "nonce": base64.b64encode(os.urandom(24)).decode(), "metadata": {}}
    kp = {"publicKey": base64.b64encode(me.public_key).decode(), "secretKey": base64.b64encode(me.seed32).decode()}
    ts = int(time.time())
    for i, (body, status, text) in enumerate((
            ({"bundle": bundle, "adminDID": other.did, "communityName": "x", "adminKeyPair": kp}, 403,
             "adminDID must match the authenticated DID"),
            ({"bundle": bundle, "adminDID": me.did, "communityName": "x"}, 400, "adminKeyPair is required"),
            ({"bundle": bundle, "adminDID": me.did, "communityName": "x", "adminKeyPair": kp}, 400,
             "Import failed: cannot decrypt bundle"))):
        r = await http(ctx, "POST", "/api/migration/import", body=body, sign=me, ts=ts + i)
        ctx.check(r.status == status and err(r) == text, f"import {i + 1}: {r}, expected {status} {text!r}")


@case("HTTP-015", area="http", reqs=["R-HTTP-19"], types=[],
      title="Export status needs a signature and never returns key material",
      sends="GET /api/migration/export/<id> unsigned, then signed",
      expects="401; then 404 {error: 'Export not found'} (upstream answers without authentication: G9)")
async def http_export(ctx):
    me = fresh(ctx)
    path = "/api/migration/export/0123abcd-0000-4000-8000-" + os.urandom(6).hex()
    r = await http(ctx, "GET", path)
    ctx.check(r.status == 401, f"unsigned: {r}")
    r = await http(ctx, "GET", path, sign=me)
    ctx.check(r.status == 404 and err(r) == "Export not found", f"signed: {r}")
    ctx.check(b"secretKey" not in r.data, "the answer carries key material")


@case("HTTP-016", area="http", reqs=["R-HTTP-18"], types=[],
      title="Discord-side migration calls answer 501",
      sends="signed POST /api/migration/create, signed POST /api/migration/export; unsigned GET "
            "/api/migration/<id>/status",
      expects="501 {error: 'Not supported by this server'} each time")
async def http_discord(ctx):
    me = fresh(ctx)
    ts = int(time.time())
    for i, (method, path, signed) in enumerate((("POST", "/api/migration/create", True),
                                                ("POST", "/api/migration/export", True),
                                                ("GET", "/api/migration/0123abcd-0000/status", False))):
        r = await http(ctx, method, path, body={} if method == "POST" else None, sign=me if signed else None,
                       ts=ts + i)
        ctx.check(r.status == 501 and err(r) == "Not supported by this server", f"{method} {path}: {r}")


@case("HTTP-017", area="http", reqs=["R-HTTP-21"], types=[],
      title="GET /metrics answers Prometheus text with the named metrics",
      sends="GET /metrics",
      expects="200, Content-Type text/plain; version=0.0.4, and the metric names of R-HTTP-21, no DID in the text")
async def http_metrics(ctx):
    r = await http(ctx, "GET", "/metrics")
    ctx.check(r.status == 200, f"GET /metrics: {r}")
    ctx.check((r.headers.get("content-type") or "").startswith("text/plain; version=0.0.4"),
              f"content-type {r.headers.get('content-type')!r}")
    text = r.data.decode("utf-8", "replace")
    for name in ("harmony_uptime_seconds", "harmony_connections", "harmony_authenticated_connections",
                 "harmony_frames_received_total", "harmony_frames_sent_total", "harmony_errors_total",
                 "harmony_auth_failures_total", "harmony_messages_stored_total", "harmony_sfu_requests_total"):
        ctx.check(name in text, f"metric {name} missing")
    ctx.check("did:key:" not in text, "metrics carry a DID")


# ---- migration import with a real bundle (built by the harness' crypto: spec/crypto.md R-CRY-EXP-1) ----

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
HV = "https://harmony.example/vocab#"


def _nq(s, p, o, g, literal=False):
    obj = '"' + o.replace("\\", "\\\\").replace('"', '\\"') + '"' if literal else f"<{o}>"
    return f"<{s}> <{p}> {obj} <{g}> ."


def export_bundle(admin, members=("harmony:member:1001",), channel_name="general"):
    """An encrypted export of one community with one channel and the given member subjects."""
    from ..crypto import mediakeys, primitives
    c = f"community:{os.urandom(16).hex()}"
    ch = f"{c}:channel:{os.urandom(8).hex()}"
    lines = [_nq(c, RDF_TYPE, HV + "Community", c), _nq(c, HV + "name", "Exported", c, literal=True),
             _nq(ch, RDF_TYPE, HV + "Channel", c), _nq(ch, HV + "name", channel_name, c, literal=True),
             _nq(ch, HV + "community", c, c)]
    for m in members:
        lines += [_nq(m, RDF_TYPE, HV + "Member", c), _nq(m, HV + "name", "ghost " + m[-4:], c, literal=True),
                  _nq(m, HV + "community", c, c)]
    key = mediakeys.export_key(admin.seed32)
    nonce = os.urandom(24)
    ct = primitives.xchacha_encrypt(key, nonce, "\n".join(lines).encode())
    meta = {"exportDate": "2026-01-01T00:00:00.000Z", "sourceServerId": "1", "sourceServerName": "src",
            "adminDID": admin.did, "channelCount": 1, "messageCount": 0, "memberCount": len(members)}
    bundle = {"ciphertext": base64.b64encode(ct).decode(), "nonce": base64.b64encode(nonce).decode(), "metadata": meta}
    return c, bundle


def import_body(admin, bundle, name="Imported community"):
    return {"bundle": bundle, "adminDID": admin.did, "communityName": name,
            "adminKeyPair": {"publicKey": base64.b64encode(admin.public_key).decode(),
                             "secretKey": base64.b64encode(admin.seed32).decode()}}


@case("HTTP-018", area="http", reqs=["R-HTTP-14"], types=[],
      title="A valid migration import creates the community and answers its summary",
      sends="signed POST /api/migration/import with a bundle (one community, channel 'general', one imported member) "
            "encrypted under the signer's export key",
      expects="200 {communityId (string), channels (holding 'general'), members (one), roles, categories (arrays)}")
async def http_import(ctx):
    me = fresh(ctx)
    _, bundle = export_bundle(me)
    r = await http(ctx, "POST", "/api/migration/import", body=import_body(me, bundle), sign=me)
    ctx.check(r.status == 200, f"import: {r}")
    j = r.json() or {}
    ctx.check(isinstance(j.get("communityId"), str) and j["communityId"], f"communityId in {j}")
    for k in ("channels", "members", "roles", "categories"):
        ctx.check(isinstance(j.get(k), list), f"{k} is not an array: {j}")
    ctx.check(any(isinstance(c, dict) and c.get("name") == "general" for c in j.get("channels") or []),
              f"channels {j.get('channels')}")
    ctx.check(len(j.get("members") or []) == 1, f"members {j.get('members')}")


@case("HTTP-019", area="http", reqs=["R-HTTP-16"], types=["community.list/c2s"],
      title="An import bundle naming a DID as a member is refused and creates no membership",
      sends="a signed import whose bundle lists a victim's DID as a member; then the victim logs in and sends "
            "community.list",
      expects="400 starting 'Import failed: invalid bundle: '; the victim's community list does not hold the "
              "bundle's community (upstream writes every quad: G10)")
async def http_import_forged_member(ctx):
    me, victim = fresh(ctx), fresh(ctx, "victim")
    cid, bundle = export_bundle(me, members=(victim.did,))
    r = await http(ctx, "POST", "/api/migration/import", body=import_body(me, bundle), sign=me)
    ctx.check(r.status == 400 and (err(r) or "").startswith("Import failed: invalid bundle: "), f"import: {r}")
    v = await ctx.connect("victim", identity=victim)
    await v.send("community.list", {})
    f = await v.expect_type("community.list.response")
    ctx.check(cid not in json_text(f), "the victim was made a member of the imported community")


def json_text(f):
    import json
    return json.dumps(f)


@case("HTTP-020", area="http", reqs=["R-HTTP-17"], types=["community.auto-joined/s2c", "community.info.response/s2c"],
      title="After an import only the importer's connections hear about the new community",
      sends="the importer and another user are connected; the importer posts a valid import",
      expects="the importer's connection receives community.auto-joined and community.info.response for the "
              "returned communityId; the other user receives no community frame (upstream pushes "
              "community.list.response to everybody: G10)")
async def http_import_notify(ctx):
    me = fresh(ctx)
    mine = await ctx.connect("importer", identity=me)
    other = await ctx.connect("other", identity=fresh(ctx, "other"))
    mine.drain()
    other.drain()
    _, bundle = export_bundle(me)
    r = await http(ctx, "POST", "/api/migration/import", body=import_body(me, bundle), sign=me)
    ctx.check(r.status == 200, f"import: {r}")
    new = (r.json() or {}).get("communityId")
    await mine.expect_type("community.auto-joined", lambda p: p.get("communityId") == new,
                           what="community.auto-joined for the imported community")
    await mine.expect_type("community.info.response", lambda p: p.get("communityId") == new,
                           what="community.info.response for the imported community")
    await other.expect_none(lambda f: str(f.get("type", "")).startswith("community."),
                            what="a community frame caused by another DID's import")


# ---- imported members linked to DIDs, bundle encodings, key material, DELETE replay ----------

@case("HTTP-021", area="http", reqs=["R-COMM-38"], types=["community.join/c2s", "community.member.reconciled/s2c"],
      title="Linking an imported member to a member's DID announces community.member.reconciled to the members only",
      sends="the importer imports a bundle with imported member harmony:member:1001 ('ghost 1001'); bob joins the "
            "new community; an outsider is connected; the importer (the creator) signs POST /api/migration/reconcile "
            "{communityId, discordUserId: '1001', did: bob}",
      expects="200 {communityId, discordUserId, newDID, displayName}; the importer's and bob's connections receive "
              "community.member.reconciled {communityId, discordUserId '1001', newDID bob, displayName 'ghost 1001'}; "
              "the outsider receives nothing (the link endpoint is R-HTTP-22 on the branch that adds it)")
async def http_reconcile(ctx):
    from ._util import join
    me, bob_id = fresh(ctx), fresh(ctx, "bob")
    mine = await ctx.connect("importer", identity=me)
    _, bundle = export_bundle(me, members=("harmony:member:1001",))
    r = await http(ctx, "POST", "/api/migration/import", body=import_body(me, bundle), sign=me)
    ctx.check(r.status == 200, f"import: {r}")
    cid = (r.json() or {}).get("communityId")
    bob = await ctx.connect("bob", identity=bob_id)
    await join(ctx, bob, cid)
    outsider = await ctx.connect("outsider", identity=fresh(ctx, "outsider"))
    import asyncio as _asyncio
    await _asyncio.sleep(0.1)
    for c in (mine, bob, outsider):
        c.drain()
    body = {"communityId": cid, "discordUserId": "1001", "did": bob.did}
    r = await http(ctx, "POST", "/api/migration/reconcile", body=body, sign=me)
    want = {"communityId": cid, "discordUserId": "1001", "newDID": bob.did, "displayName": "ghost 1001"}
    ctx.check(r.status == 200, f"linking imported member 1001 to a member's DID: {r}")
    j = r.json() or {}
    ctx.check(all(j.get(k) == v for k, v in want.items()), f"answer {j}, expected {want}")
    for c in (mine, bob):
        f = await c.expect_type("community.member.reconciled", lambda p: p.get("communityId") == cid,
                                what=f"community.member.reconciled at {c.label}")
        ctx.check(all(f["payload"].get(k) == v for k, v in want.items()) and f.get("sender") == "server",
                  f"{c.label}: {f}")
    await outsider.expect_none(lambda f: f.get("type") == "community.member.reconciled",
                               what="community.member.reconciled at a non-member")


@case("HTTP-022", area="http", reqs=["R-CRY-EXP-2"], types=[],
      title="An export bundle is read in both encodings: base64 strings (server runtime) and integer arrays (portal)",
      sends="two signed imports of bundles {ciphertext, nonce, metadata{exportDate, sourceServerId, sourceServerName, "
            "adminDID, channelCount, messageCount, memberCount}}: one with ciphertext and nonce as standard base64, "
            "one with them as JSON arrays of decimal integers",
      expects="200 with a communityId for each")
async def http_bundle_encodings(ctx):
    me = fresh(ctx)
    ts = int(time.time())
    _, b64_bundle = export_bundle(me)
    _, arr_bundle = export_bundle(me, channel_name="portal")
    for k in ("ciphertext", "nonce"):
        arr_bundle[k] = list(base64.b64decode(arr_bundle[k]))
    # two signed POSTs to the same target in one second need distinct timestamp texts (R-HTTP-7)
    for what, bundle, stamp in (("base64", b64_bundle, ts), ("integer arrays", arr_bundle, ts * 1000 + 1)):
        ctx.check(set(bundle["metadata"]) == {"exportDate", "sourceServerId", "sourceServerName", "adminDID",
                                              "channelCount", "messageCount", "memberCount"}, "harness bundle")
        r = await http(ctx, "POST", "/api/migration/import", body=import_body(me, bundle), sign=me, ts=stamp)
        ctx.check(r.status == 200 and isinstance((r.json() or {}).get("communityId"), str),
                  f"bundle with {what}: {r}")


@case("HTTP-023", area="http", reqs=["R-CRY-EXP-3"], types=[],
      title="No HTTP answer carries the key that opens an export bundle or any secret key",
      sends="a signed import (the body carries adminKeyPair as R-HTTP-14 requires); a signed GET of the export "
            "status; the import's answer and both are searched for the admin seed, the derived export key and the "
            "word secretKey",
      expects="none of them appears in any answer body or header (upstream's export status returns the bundle with "
              "the admin secret key: W11). The clause that our import takes no secret key in its body is not "
              "tested: R-HTTP-14/15 require adminKeyPair.secretKey there")
async def http_no_key_material(ctx):
    from ..crypto import mediakeys
    me = fresh(ctx)
    _, bundle = export_bundle(me)
    secrets = {"seed (base64)": base64.b64encode(me.seed32), "seed (hex)": me.seed32.hex().encode(),
               "export key (base64)": base64.b64encode(mediakeys.export_key(me.seed32)),
               "export key (hex)": mediakeys.export_key(me.seed32).hex().encode(), "secretKey": b"secretKey"}
    answers = []
    r = await http(ctx, "POST", "/api/migration/import", body=import_body(me, bundle), sign=me)
    ctx.check(r.status == 200, f"import: {r}")
    answers.append(("import", r))
    cid = (r.json() or {}).get("communityId")
    path = "/api/migration/export/" + urllib.parse.quote(cid or "x", safe="")
    answers.append(("export status", await http(ctx, "GET", path, sign=me)))
    for what, a in answers:
        text = a.data + repr(a.headers).encode()
        for name, s in secrets.items():
            ctx.check(s not in text, f"the {what} answer carries the {name}: {a}")


@case("HTTP-024", area="http", reqs=["R-CRY-HSIG-4"], types=[],
      title="A replayed signed DELETE is refused while its window lasts",
      sends="upload a blob; DELETE it with a signed header; upload again; send the same DELETE header again",
      expects="200, 200, 200, then 401 {error: 'Replayed request'}, and the second blob is still stored")
async def http_delete_replay(ctx):
    me = fresh(ctx)
    ts = int(time.time())
    path = ud_path(me.did)
    r = await http(ctx, "POST", "/api/user-data/upload", body=blob(me.did, ct=b"one"), sign=me, ts=ts)
    ctx.check(r.status == 200, f"upload: {r}")
    dauth = httpsig.header(me.did, me.seed32, ts, "DELETE", path)
    r = await http(ctx, "DELETE", path, auth=dauth)
    ctx.check(r.status == 200, f"delete: {r}")
    second = blob(me.did, ct=b"two")
    r = await http(ctx, "POST", "/api/user-data/upload", body=second, sign=me, ts=ts * 1000 + 1)
    ctx.check(r.status == 200, f"second upload: {r}")
    r = await http(ctx, "DELETE", path, auth=dauth)
    ctx.check(r.status == 401 and err(r) == "Replayed request", f"replayed DELETE: {r}")
    r = await http(ctx, "GET", path, sign=me, ts=ts * 1000 + 2)
    ctx.check(r.status == 200 and (r.json() or {}).get("ciphertext") == second["ciphertext"],
              f"after the refused replay the blob must still be stored: {r}")


# ---- linking refusals, strict N-Quads, what an import reads, placeholder views ---------------
# (R-HTTP-22, R-HTTP-23, R-HTTP-24, R-COMM-41). Bundles are plaintext N-Quads sealed with the
# harness' own export key (seal_text); lines are written out by hand so a case can break one.

XSD = "http://www.w3.org/2001/XMLSchema#"
IMPORT = "/api/migration/import"
RECONCILE = "/api/migration/reconcile"
_last_stamp = [0]


def stamp():
    """A fresh millisecond timestamp: signed POSTs to one target need distinct ones (R-HTTP-7)."""
    _last_stamp[0] = max(_last_stamp[0] + 1, int(time.time() * 1000))
    return _last_stamp[0]


def lit(text):
    """An N-Quads literal term for text (escapes \\ " LF CR)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def q(s, p, o, g=None):
    """One statement line; s, p, o and g are complete terms (e.g. '<iri>' or lit(..))."""
    return f"{s} {p} {o}" + (f" {g}" if g else "") + " ."


def iri(x):
    return f"<{x}>"


def seal_text(admin, text):
    """An export bundle whose plaintext is exactly `text` (str or bytes), sealed under admin's export key."""
    from ..crypto import mediakeys, primitives
    data = text.encode() if isinstance(text, str) else text
    nonce = os.urandom(24)
    ct = primitives.xchacha_encrypt(mediakeys.export_key(admin.seed32), nonce, data)
    meta = {"exportDate": "2026-01-01T00:00:00.000Z", "sourceServerId": "1", "sourceServerName": "src",
            "adminDID": admin.did, "channelCount": 1, "messageCount": 0, "memberCount": 0}
    return {"ciphertext": base64.b64encode(ct).decode(), "nonce": base64.b64encode(nonce).decode(), "metadata": meta}


class Doc:
    """A bundle's statements under construction: one community (graph = the community IRI)."""

    def __init__(self):
        self.c = f"community:{os.urandom(16).hex()}"
        self.g = iri(self.c)
        self.lines = [q(iri(self.c), iri(RDF_TYPE), iri(HV + "Community"), self.g),
                      q(iri(self.c), iri(HV + "name"), lit("Exported"), self.g)]

    def add(self, s, p, o):
        self.lines.append(q(s, p, o, self.g))

    def channel(self, name="general", ctype=None, community=None):
        ch = f"{self.c}:channel:{os.urandom(8).hex()}"
        self.add(iri(ch), iri(RDF_TYPE), iri(HV + "Channel"))
        if name is not None:
            self.add(iri(ch), iri(HV + "name"), lit(name))
        if ctype is not None:
            self.add(iri(ch), iri(HV + "channelType"), lit(ctype))
        self.add(iri(ch), iri(HV + "community"), iri(community or self.c))
        return ch

    def member(self, mid, name=None):
        m = f"harmony:member:{mid}"
        self.add(iri(m), iri(RDF_TYPE), iri(HV + "Member"))
        if name is not None:
            self.add(iri(m), iri(HV + "name"), lit(name))
        return m

    def message(self, author, channel, ts, content, ts_term=None):
        s = f"{self.c}:message:{os.urandom(8).hex()}"
        self.add(iri(s), iri(RDF_TYPE), iri(HV + "Message"))
        self.add(iri(s), iri(HV + "author"), iri(author))
        self.add(iri(s), iri(HV + "inChannel"), iri(channel))
        self.add(iri(s), iri(HV + "timestamp"), ts_term or lit(ts))
        self.add(iri(s), iri(HV + "content"), lit(content))
        return s

    def text(self, eol="\n"):
        return eol.join(self.lines) + eol


async def post_import(ctx, me, text, name="Imported community"):
    return await http(ctx, "POST", IMPORT, body=import_body(me, seal_text(me, text), name), sign=me, ts=stamp())


async def created_by(ctx, conn, did):
    """The ids of the communities whose creatorDID is did (community.list lists every community, R-COMM-34;
    each case imports as a fresh DID, so this is what its own imports stored)."""
    await conn.send("community.list", {})
    f = await conn.expect_type("community.list.response", what="community.list.response")
    return {c.get("id") for c in (f["payload"].get("communities") or [])
            if isinstance(c, dict) and c.get("creatorDID") == did}


async def info(ctx, conn, cid):
    await conn.send("community.info", {"communityId": cid})
    f = await conn.expect_type("community.info.response", lambda p: p.get("communityId") == cid,
                               what="community.info.response")
    return f["payload"]


async def refused_and_nothing_stored(ctx, me, conn, before, attempts):
    """attempts: (what, text, error prefix). Each import is 400 with that prefix and no community appears."""
    for what, text, prefix in attempts:
        r = await post_import(ctx, me, text)
        e = err(r) or ""
        ctx.check(r.status == 400 and e.startswith(prefix) and len(e) > len(prefix),
                  f"{what}: {r}, expected 400 {prefix!r}<reason>")
    await conn.expect_none(lambda f: f.get("type") == "community.auto-joined", within=0.3,
                           what="community.auto-joined after a refused import")
    after = await created_by(ctx, conn, me.did)
    ctx.check(after == before, f"a refused import stored a community: {sorted(after - before)}")


@case("HTTP-025", area="http", reqs=["R-HTTP-22"],
      types=["community.join/c2s", "community.ban/c2s", "community.member.reconciled/s2c"],
      title="POST /api/migration/reconcile: each refusal of R-HTTP-22, then one link, then no second link",
      sends="an import with imported members 1001 and 1002; bob joins; carol joins and is banned; an outsider is "
            "connected. Signed reconciles: missing did, discordUserId of 65 chars, communityId of 257 chars; signed "
            "by bob; an unknown community; discordUserId 9999; did of the outsider; did of banned carol; then 1001 -> "
            "bob; then 1001 -> the creator and 1002 -> bob",
      expects="400 'Missing required fields: communityId, discordUserId, did' (x3); 403 'Only the community creator "
              "can link imported members'; 404 'Community not found'; 404 'Imported member not found'; 409 'The DID "
              "is not a member of this community' (x2); 200 {communityId, discordUserId, newDID, displayName}; "
              "409 'Imported member or DID already linked' (x2); bob hears community.member.reconciled only once")
async def http_reconcile_refusals(ctx):
    from ._util import ban, join
    me = fresh(ctx, "creator")
    mine = await ctx.connect("creator", identity=me)
    d = Doc()
    d.channel()
    d.member("1001", "ghost 1001")
    d.member("1002", "ghost 1002")
    r = await post_import(ctx, me, d.text())
    ctx.check(r.status == 200, f"import: {r}")
    cid = (r.json() or {}).get("communityId")
    bob_id = fresh(ctx, "bob")
    bob = await ctx.connect("bob", identity=bob_id)
    await join(ctx, bob, cid)
    carol = await ctx.connect("carol", identity=fresh(ctx, "carol"))
    await join(ctx, carol, cid)
    outsider = fresh(ctx, "outsider")
    await ban(ctx, mine, cid, carol)
    import asyncio as _asyncio
    await _asyncio.sleep(0.1)
    for c in (mine, bob):
        c.drain()

    def body(**kw):
        return dict({"communityId": cid, "discordUserId": "1001", "did": bob.did}, **kw)

    missing = "Missing required fields: communityId, discordUserId, did"
    refusals = (
        ("no did", me, {"communityId": cid, "discordUserId": "1001"}, 400, missing),
        ("discordUserId of 65 characters", me, body(discordUserId="1" * 65), 400, missing),
        ("communityId of 257 characters", me, body(communityId="c" * 257), 400, missing),
        ("signed by a member who is not the creator", bob_id, body(), 403,
         "Only the community creator can link imported members"),
        ("unknown community", me, body(communityId=f"community:{os.urandom(16).hex()}"), 404, "Community not found"),
        ("unknown imported member", me, body(discordUserId="9999"), 404, "Imported member not found"),
        ("a DID that never joined", me, body(did=outsider.did), 409, "The DID is not a member of this community"),
        ("a banned DID", me, body(did=carol.did), 409, "The DID is not a member of this community"),
    )
    for what, signer, b, status, text in refusals:
        r = await http(ctx, "POST", RECONCILE, body=b, sign=signer, ts=stamp())
        ctx.check(r.status == status and err(r) == text, f"{what}: {r}, expected {status} {text!r}")
    await bob.expect_none(lambda f: f.get("type") == "community.member.reconciled", within=0.3,
                          what="community.member.reconciled after a refused link")
    r = await http(ctx, "POST", RECONCILE, body=body(), sign=me, ts=stamp())
    want = {"communityId": cid, "discordUserId": "1001", "newDID": bob.did, "displayName": "ghost 1001"}
    j = r.json() if r.status == 200 else {}
    ctx.check(r.status == 200 and all((j or {}).get(k) == v for k, v in want.items()),
              f"link 1001 -> bob: {r}, expected 200 {want}")
    await bob.expect_type("community.member.reconciled", lambda p: p.get("discordUserId") == "1001",
                          what="community.member.reconciled for 1001")
    for what, b in (("1001 again (to the creator, a member)", body(did=me.did)),
                    ("1002 to bob, who is already linked", body(discordUserId="1002"))):
        r = await http(ctx, "POST", RECONCILE, body=b, sign=me, ts=stamp())
        ctx.check(r.status == 409 and err(r) == "Imported member or DID already linked",
                  f"{what}: {r}, expected 409 'Imported member or DID already linked'")
    await bob.expect_none(lambda f: f.get("type") == "community.member.reconciled", within=0.3,
                          what="a second community.member.reconciled")


BAD_LINES = (
    ("a space in an IRI", b"<urn:x y> <urn:p> <urn:o> ."),
    ("an escape in an IRI", b"<urn:\\u0041> <urn:p> <urn:o> ."),
    ("a '{' in an IRI", b"<urn:x{}> <urn:p> <urn:o> ."),
    ("an unknown literal escape", b'<urn:s> <urn:p> "a\\qb" .'),
    ("a literal escaping NUL", b'<urn:s> <urn:p> "a\\u0000b" .'),
    ("a lone surrogate escape", b'<urn:s> <urn:p> "a\\uD800b" .'),
    ("invalid UTF-8 in a literal", b'<urn:s> <urn:p> "a\xff\xfeb" .'),
    ("no ' .' at the end", b'<urn:s> <urn:p> "x" <urn:g>'),
    ("an unterminated literal", b'<urn:s> <urn:p> "x .'),
    ("a literal as subject", b'"s" <urn:p> <urn:o> .'),
    ("a blank node as predicate", b"<urn:s> _:p <urn:o> ."),
)


@case("HTTP-026", area="http", reqs=["R-HTTP-23", "R-HTTP-15"], types=["community.list/c2s"],
      title="An import whose N-Quads break the strict syntax is 400 naming the line, and stores nothing",
      sends="the importer is connected; signed imports of a valid bundle with one bad statement added as its last "
            "line: a space, an escape or '{' in an IRI, an unknown literal escape, \\u0000, a raw NUL byte, a lone "
            "surrogate escape, invalid UTF-8, no ' .', an unterminated literal, a literal subject, a blank-node "
            "predicate; and one with CRLF endings, a comment and a blank line before the bad line; then community.list",
      expects="400 'Import failed: invalid bundle: line <n>: <reason>' with n the bad line each time; no "
              "community.auto-joined; the importer's community list is unchanged")
async def http_import_syntax(ctx):
    me = fresh(ctx)
    mine = await ctx.connect("importer", identity=me)
    before = await created_by(ctx, mine, me.did)
    d = Doc()
    d.channel()
    d.member("1001", "ghost")
    good = d.text().encode()
    n = len(d.lines) + 1
    attempts = [(what, good + bad + b"\n", f"Import failed: invalid bundle: line {n}: ") for what, bad in BAD_LINES]
    attempts.append(("a raw NUL byte in a literal", good + b'<urn:s> <urn:p> "a\x00b" .\n',
                     f"Import failed: invalid bundle: line {n}: "))
    crlf = d.lines[:1] + ["# a comment", ""] + d.lines[1:]
    attempts.append(("a bad line after CRLF lines, a comment and a blank line",
                     ("\r\n".join(crlf) + "\r\n").encode() + b'<urn:s> <urn:p> "a\\qb" .\r\n',
                     f"Import failed: invalid bundle: line {len(crlf) + 1}: "))
    await refused_and_nothing_stored(ctx, me, mine, before, attempts)


@case("HTTP-027", area="http", reqs=["R-HTTP-23", "R-HTTP-24"], types=[],
      title="The strict N-Quads parser accepts the legal edge syntax and decodes literal escapes",
      sends="a signed import with CRLF line ends, a comment line, blank lines, a statement without graph, one in a "
            "blank-node graph, a channel name with @lang and \\u escapes, one with ^^<xsd:string> and \\U0001F600, "
            "a member name with \\\" \\\\ \\' and \\t escapes, and no newline after the last line",
      expects="200; channels named 'général' and 'smile \U0001F600'; member 1001 shown as 'a \"q\" \\\\ it's\\tx'")
async def http_import_syntax_ok(ctx):
    me = fresh(ctx)
    c = f"community:{os.urandom(16).hex()}"
    ch1, ch2 = f"{c}:channel:1", f"{c}:channel:2"
    g, t = iri(c), iri(RDF_TYPE)
    lines = ["# exported by the conformance harness", "",
             q(iri(c), t, iri(HV + "Community"), g),
             q(iri(ch1), t, iri(HV + "Channel")),
             q(iri(ch1), iri(HV + "name"), '"g\\u00e9n\\u00E9ral"@fr-BE', g),
             q(iri(ch1), iri(HV + "community"), iri(c), "_:g1"),
             "   ",
             q(iri(ch2), t, iri(HV + "Channel"), g),
             q(iri(ch2), iri(HV + "name"), f'"smile \\U0001F600"^^<{XSD}string>', g),
             "# another comment",
             q(iri("harmony:member:1001"), t, iri(HV + "Member"), g),
             q(iri("harmony:member:1001"), iri(HV + "name"), '"a \\"q\\" \\\\ it\\\'s\\tx"', g)]
    r = await post_import(ctx, me, "\r\n".join(lines))
    ctx.check(r.status == 200, f"import: {r}")
    j = r.json() or {}
    names = sorted(ch.get("name") for ch in j.get("channels") or [] if isinstance(ch, dict))
    ctx.check(names == sorted(["g\u00e9n\u00e9ral", "smile \U0001F600"]), f"channel names {names}")
    mem = [m.get("displayName") for m in j.get("members") or [] if isinstance(m, dict)]
    ctx.check(mem == ["a \"q\" \\ it's\tx"], f"member names {mem}")


@case("HTTP-028", area="http", reqs=["R-HTTP-24", "R-HTTP-16"],
      types=["community.info/c2s", "community.info.response/s2c"],
      title="Predicates and record types an import does not read never surface",
      sends="a signed import whose bundle also holds a victim's DID typed harmony:CommunityMember with role admin, "
            "a harmony:Role, a harmony:Ban of the importer, a harmony:topic on the channel, a channel of another "
            "community and a harmony:memberCount; the victim logs in and asks "
            "community.info for the new community; the importer asks community.info",
      expects="200 with channels [general], members [1001], roles [] and categories []; the victim is refused "
              "NOT_MEMBER; community.info: members = the importer then placeholder 1001, memberCount 1, none of the "
              "injected values anywhere in the answer")
async def http_import_ignored(ctx):
    me, victim = fresh(ctx), fresh(ctx, "victim")
    d = Doc()
    ch = iri(d.channel("general"))
    d.member("1001", "ghost")
    v = iri(victim.did)
    d.add(v, iri(RDF_TYPE), iri(HV + "CommunityMember"))
    d.add(v, iri(HV + "community"), iri(d.c))
    d.add(v, iri(HV + "role"), lit("admin"))
    d.add(iri(d.c + ":role:evil"), iri(RDF_TYPE), iri(HV + "Role"))
    d.add(iri(d.c + ":role:evil"), iri(HV + "name"), lit("injected-role"))
    d.add(iri(d.c + ":ban:1"), iri(RDF_TYPE), iri(HV + "Ban"))
    d.add(iri(d.c + ":ban:1"), iri(HV + "target"), iri(me.did))
    d.add(ch, iri(HV + "topic"), lit("injected-topic"))
    d.add(iri(d.c), iri(HV + "memberCount"), lit("999"))
    d.channel("injected-channel", community=f"community:{os.urandom(16).hex()}")
    mine = await ctx.connect("importer", identity=me)
    r = await post_import(ctx, me, d.text())
    ctx.check(r.status == 200, f"import: {r}")
    j = r.json() or {}
    cid = j.get("communityId")
    ctx.check([c.get("name") for c in j.get("channels") or [] if isinstance(c, dict)] == ["general"],
              f"channels {j.get('channels')}")
    ctx.check([m.get("id") for m in j.get("members") or [] if isinstance(m, dict)] == ["harmony:member:1001"],
              f"members {j.get('members')}")
    ctx.check(j.get("roles") == [] and j.get("categories") == [], f"roles/categories {j}")
    vc = await ctx.connect("victim", identity=victim)
    await vc.send("community.info", {"communityId": cid})
    e = await vc.expect_type("error", what="error NOT_MEMBER for the victim's community.info")
    ctx.check(e["payload"].get("code") == "NOT_MEMBER", f"the victim's community.info: {e}")
    p = await info(ctx, mine, cid)
    dids = [m.get("did") for m in p.get("members") or [] if isinstance(m, dict)]
    ctx.check(dids == [me.did, "harmony:member:1001"], f"members {dids}")
    ctx.check((p.get("info") or {}).get("memberCount") == 1, f"memberCount {(p.get('info') or {})}")
    text = json_text(p)
    for bad in ("injected", "admin", victim.did, "999"):
        ctx.check(bad not in text, f"{bad!r} surfaced in community.info.response: {text[:400]}")


@case("HTTP-029", area="http", reqs=["R-HTTP-24"],
      types=["channel.history/c2s", "channel.history.response/s2c"],
      title="An import's fallbacks and its messages: names, channel types, members typed twice, timestamp order",
      sends="a signed import: channels with a 101-unit name, no name, type 'stage', type 'voice', type "
            "'announcement'; members 'a.b-c_1' without name, '2' with a 101-unit name, '3' typed twice; two "
            "messages by 'a.b-c_1' in the first channel, the later one first in the bundle (one timestamp as "
            "xsd:dateTime); then channel.history of that channel",
      expects="channels (bundle order) 'imported'/text, 'imported'/text, text, voice, announcement; members "
              "displayName = id for the first two, member 3 once; history holds both messages oldest first, ids "
              "imported-<32 hex>, sender harmony:member:a.b-c_1, payload exactly {content}")
async def http_import_fallbacks(ctx):
    import datetime
    import re
    from ._util import history
    me = fresh(ctx)
    d = Doc()
    first = d.channel("x" * 101)
    d.channel(None)
    d.channel("s", "stage")
    d.channel("v", "voice")
    d.channel("a", "announcement")
    author = d.member("a.b-c_1")
    d.member("2", "\U0001F600" * 50 + "x")
    d.member("3", "three")
    d.add(iri("harmony:member:3"), iri(RDF_TYPE), iri(HV + "Member"))
    d.message(author, first, "2026-03-02T10:00:00Z", "second")
    d.message(author, first, None, "first", ts_term=f'"2026-03-01T09:30:00.250Z"^^<{XSD}dateTime>')
    mine = await ctx.connect("importer", identity=me)
    r = await post_import(ctx, me, d.text())
    ctx.check(r.status == 200, f"import: {r}")
    j = r.json() or {}
    cid = j.get("communityId")
    chans = [(c.get("name"), c.get("type")) for c in j.get("channels") or [] if isinstance(c, dict)]
    ctx.check(chans == [("imported", "text"), ("imported", "text"), ("s", "text"), ("v", "voice"),
                        ("a", "announcement")], f"channels {chans}")
    mems = [(m.get("id"), m.get("displayName")) for m in j.get("members") or [] if isinstance(m, dict)]
    ctx.check(mems == [("harmony:member:a.b-c_1", "a.b-c_1"), ("harmony:member:2", "2"),
                       ("harmony:member:3", "three")], f"members {mems}")
    chid = ((j.get("channels") or [{}])[0] or {}).get("id")
    h = await history(ctx, mine, cid, chid)
    msgs = h.get("messages") or []
    ctx.check([(m.get("payload") or {}).get("content") for m in msgs] == ["first", "second"],
              f"history order/content {msgs}")
    want_ts = [datetime.datetime(2026, 3, 1, 9, 30, 0, 250000, datetime.timezone.utc),
               datetime.datetime(2026, 3, 2, 10, 0, 0, 0, datetime.timezone.utc)]
    for m, w in zip(msgs, want_ts):
        ctx.check(re.fullmatch(r"imported-[0-9a-f]{32}", str(m.get("id"))) is not None, f"id {m.get('id')!r}")
        ctx.check(m.get("sender") == author, f"sender {m.get('sender')!r}, expected {author}")
        ctx.check(set((m.get("payload") or {})) == {"content"}, f"payload {m.get('payload')}")
        try:
            got = datetime.datetime.fromisoformat(str(m.get("timestamp")).replace("Z", "+00:00"))
        except ValueError:
            got = None
        ctx.check(got == w, f"timestamp {m.get('timestamp')!r}, expected {w.isoformat()}")


@case("HTTP-030", area="http", reqs=["R-HTTP-24", "R-HTTP-16"], types=["community.list/c2s"],
      title="An import breaking what R-HTTP-24 reads or its limits is refused and stores nothing",
      sends="signed imports: member ids 'a/b' and 65 characters; a message with two authors, by a non-member, in an "
            "unknown channel, with timestamp 'yesterday', with 4,001 code units of content; two communities; 501 "
            "channels; 10,001 members; then one message of 4,000 code units (2,000 astral characters)",
      expects="400 'Import failed: invalid bundle: <reason>' each time, no community.auto-joined, the importer's "
              "community list unchanged; the last import is 200")
async def http_import_limits(ctx):
    me = fresh(ctx)
    mine = await ctx.connect("importer", identity=me)
    before = await created_by(ctx, mine, me.did)
    prefix = "Import failed: invalid bundle: "

    def base():
        d = Doc()
        ch = d.channel()
        m = d.member("1001", "ghost")
        return d, ch, m

    attempts = []
    for what, mid in (("member id with '/'", "a/b"), ("member id of 65 characters", "1" * 65)):
        d, _, _ = base()
        d.member(mid)
        attempts.append((what, d.text(), prefix))
    d, ch, m = base()
    s = d.message(m, ch, "2026-01-01T00:00:00Z", "x")
    d.add(iri(s), iri(HV + "author"), iri(d.member("1002")))
    attempts.append(("a message with two authors", d.text(), prefix))
    d, ch, m = base()
    d.message("harmony:member:9999", ch, "2026-01-01T00:00:00Z", "x")
    attempts.append(("a message by a member not in the bundle", d.text(), prefix))
    d, ch, m = base()
    d.message(m, d.c + ":channel:nowhere", "2026-01-01T00:00:00Z", "x")
    attempts.append(("a message in an unknown channel", d.text(), prefix))
    d, ch, m = base()
    d.message(m, ch, "yesterday", "x")
    attempts.append(("a message timestamp that is not ISO 8601", d.text(), prefix))
    d, ch, m = base()
    d.message(m, ch, "2026-01-01T00:00:00Z", "\U0001F600" * 2000 + "x")
    attempts.append(("a message of 4,001 code units", d.text(), prefix))
    d, ch, m = base()
    other = f"community:{os.urandom(16).hex()}"
    d.add(iri(other), iri(RDF_TYPE), iri(HV + "Community"))
    attempts.append(("two communities", d.text(), prefix))
    d, ch, m = base()
    for _ in range(500):
        d.channel("c")
    attempts.append(("501 channels", d.text(), prefix))
    d, ch, m = base()
    for i in range(10000):
        d.add(iri(f"harmony:member:m{i}"), iri(RDF_TYPE), iri(HV + "Member"))
    attempts.append(("10,001 members", d.text(), prefix))
    await refused_and_nothing_stored(ctx, me, mine, before, attempts)
    d, ch, m = base()
    d.message(m, ch, "2026-01-01T00:00:00Z", "\U0001F600" * 2000)
    r = await post_import(ctx, me, d.text())
    ctx.check(r.status == 200, f"a message of exactly 4,000 code units: {r}")


@case("HTTP-031", area="http", reqs=["R-COMM-41", "R-HTTP-22"],
      types=["community.info/c2s", "community.info.response/s2c", "community.join/c2s"],
      title="community.info.response lists unlinked imported members after the stored ones, offline and uncounted",
      sends="a signed import with imported members z9 ('Zed'), a1 ('Ay'), m5 (no name) in that order; the "
            "importer's community.info; bob joins; community.info; the importer links a1 to bob; community.info",
      expects="members: the stored members, then {did: harmony:member:z9, displayName Zed, status offline, linked "
              "false}, a1, m5 (displayName 'm5') in bundle order; none in onlineMembers; memberCount = stored "
              "members (1, then 2); after the link a1 is gone, bob listed once, z9 and m5 remain")
async def http_info_placeholders(ctx):
    from ._util import join
    me = fresh(ctx)
    d = Doc()
    d.channel()
    for mid, name in (("z9", "Zed"), ("a1", "Ay"), ("m5", None)):
        d.member(mid, name)
    mine = await ctx.connect("importer", identity=me)
    r = await post_import(ctx, me, d.text())
    ctx.check(r.status == 200, f"import: {r}")
    cid = (r.json() or {}).get("communityId")
    ph = {"z9": "Zed", "a1": "Ay", "m5": "m5"}

    def judge(p, stored, placeholders, when):
        members = [m for m in p.get("members") or [] if isinstance(m, dict)]
        dids = [m.get("did") for m in members]
        ctx.check(sorted(dids[:len(stored)]) == sorted(stored), f"{when}: stored members first: {dids}")
        tail = members[len(stored):]
        want = [{"did": f"harmony:member:{i}", "displayName": ph[i], "status": "offline", "linked": False}
                for i in placeholders]
        got = [{k: m.get(k) for k in ("did", "displayName", "status", "linked")} for m in tail]
        ctx.check(got == want, f"{when}: placeholder views {got}, expected {want}")
        online = [m.get("did") for m in p.get("onlineMembers") or [] if isinstance(m, dict)]
        ctx.check(not any(str(x).startswith("harmony:member:") for x in online), f"{when}: onlineMembers {online}")
        ctx.check((p.get("info") or {}).get("memberCount") == len(stored),
                  f"{when}: memberCount {(p.get('info') or {}).get('memberCount')}, expected {len(stored)}")

    judge(await info(ctx, mine, cid), [me.did], ["z9", "a1", "m5"], "after the import")
    bob = await ctx.connect("bob", identity=fresh(ctx, "bob"))
    await join(ctx, bob, cid)
    mine.drain()
    judge(await info(ctx, mine, cid), [me.did, bob.did], ["z9", "a1", "m5"], "after bob joined")
    r = await http(ctx, "POST", RECONCILE, body={"communityId": cid, "discordUserId": "a1", "did": bob.did},
                   sign=me, ts=stamp())
    ctx.check(r.status == 200, f"link a1 -> bob: {r}")
    mine.drain()
    judge(await info(ctx, mine, cid), [me.did, bob.did], ["z9", "m5"], "after a1 was linked to bob")
