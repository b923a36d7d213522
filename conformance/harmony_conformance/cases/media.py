"""media.upload.request / media.delete (spec/messages/media.md) and the /media route (R-HTTP-20)."""
from __future__ import annotations

import asyncio
import base64
import os
import re
import urllib.parse

from ..core import case
from ._util import create_community, expect_silence, http, restart, world

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452")


def upload_payload(w, *, filename="pic.png", mime="image/png", data: bytes = PNG, **over) -> dict:
    p = {"communityId": w.cid, "channelId": w.chid, "filename": filename, "mimeType": mime,
         "size": len(data), "data": base64.b64encode(data).decode()}
    p.update(over)
    return p


async def upload(ctx, conn, w, **kw) -> dict:
    await conn.send("media.upload.request", upload_payload(w, **kw))
    f = await conn.expect_type("media.upload.complete", what="media.upload.complete (reply)")
    p = f["payload"]
    ctx.check(isinstance(p, dict) and isinstance(p.get("mediaId"), str) and isinstance(p.get("url"), str),
              f"media.upload.complete without mediaId/url: {p}")
    return p


def err_text(f):
    return (f.get("payload") or {}).get("message")


@case("MEDIA-001", area="media", reqs=["R-MEDIA-1"], types=["media.upload.request/c2s", "media.upload.complete/s2c"],
      title="A member's upload is answered with media.upload.complete carrying the reference",
      sends="media.upload.request {communityId, channelId, filename 'pic one.png', mimeType image/png, size, data}",
      expects="media.upload.complete {mediaId, filename, mimeType, size, url = /media/<id>/pic%20one.png, "
              "communityId, channelId}, sender 'server'")
async def media_upload(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    await owner.send("media.upload.request", upload_payload(w, filename="pic one.png"))
    f = await owner.expect_type("media.upload.complete")
    p = f["payload"] if isinstance(f.get("payload"), dict) else {}
    ctx.check(f.get("sender") == "server", f"reply sender {f.get('sender')!r}")
    ctx.check(isinstance(p.get("mediaId"), str) and p["mediaId"], f"mediaId {p.get('mediaId')!r}")
    for k, v in (("filename", "pic one.png"), ("mimeType", "image/png"), ("size", len(PNG)),
                 ("communityId", w.cid), ("channelId", w.chid)):
        ctx.check(p.get(k) == v, f"{k} is {p.get(k)!r}, expected {v!r}")
    ctx.check(p.get("url") == f"/media/{p['mediaId']}/pic%20one.png", f"url {p.get('url')!r}")


@case("MEDIA-002", area="media", reqs=["R-MEDIA-2"], types=["media.upload.request/c2s", "media.upload.complete/s2c"],
      title="The upload is announced to every member connection except the sending one, and to no outsider",
      sends="an upload from the owner's first connection; the owner has a second connection; bob is a member; "
            "an outsider is connected",
      expects="media.upload.complete with sender = the owner DID at bob and the owner's second connection; "
              "only the reply at the sending connection; nothing at the outsider")
async def media_broadcast(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    owner2 = await ctx.connect("owner-2", identity=ctx.identity("owner"))
    outsider = await ctx.connect("outsider")
    await asyncio.sleep(0.2)
    owner2.drain()
    outsider.drain()
    p = await upload(ctx, owner, w)
    for c in (bob, owner2):
        f = await c.expect_type("media.upload.complete", lambda q: q.get("mediaId") == p["mediaId"],
                                what=f"the announcement at {c.label}")
        ctx.check(f.get("sender") == owner.did, f"{c.label}: sender {f.get('sender')!r}")
        ctx.check(f["payload"] == p, f"{c.label}: payload differs from the reply: {f['payload']} != {p}")
    await expect_silence([owner, outsider], ["media.upload.complete"])


@case("MEDIA-003", area="media", reqs=["R-MEDIA-3"], types=["media.upload.request/c2s", "error/s2c"],
      title="Invalid size, MIME type, too large a file and missing data are refused with upstream's codes and texts",
      sends="uploads with size 'big'; mimeType text/html; size 10485761; no data; a mimeType of 50 emoji",
      expects="INVALID_PAYLOAD 'Invalid file size', INVALID_MIME_TYPE 'MIME type not allowed: text/html', "
              "FILE_TOO_LARGE 'File exceeds 10MB limit', MISSING_DATA 'No file data provided'; for the emoji type "
              "INVALID_MIME_TYPE quoting a whole-character prefix of it; nothing broadcast")
async def media_refusals(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    base = upload_payload(w)
    nodata = dict(base)
    del nodata["data"]
    for p, code, text in ((dict(base, size="big"), "INVALID_PAYLOAD", "Invalid file size"),
                          (dict(base, mimeType="text/html"), "INVALID_MIME_TYPE", "MIME type not allowed: text/html"),
                          (dict(base, size=10485761), "FILE_TOO_LARGE", "File exceeds 10MB limit"),
                          (nodata, "MISSING_DATA", "No file data provided")):
        await owner.send("media.upload.request", p)
        e = await owner.expect_error(code)
        ctx.check(err_text(e) == text, f"{code}: message {err_text(e)!r}, expected {text!r}")
    # a long non-ASCII MIME type: the quoted text may be shortened, but never cut inside a
    # character (the error frame must still be built and sent; the wire fuzzer once got 1011)
    mime = "\U0001F600" * 50
    await owner.send("media.upload.request", dict(base, mimeType=mime))
    e = await owner.expect_error("INVALID_MIME_TYPE")
    t, head = err_text(e), "MIME type not allowed: "
    ctx.check(t.startswith(head) and len(t) > len(head) and mime.startswith(t[len(head):]),
              f"INVALID_MIME_TYPE for a 50-emoji type: message {t!r}")
    await expect_silence(w.conns.values(), ["media.upload.complete"])


@case("MEDIA-004", area="media", reqs=["R-MEDIA-4"], types=["media.upload.request/c2s", "media.upload.complete/s2c"],
      title="Path separators and '..' in a filename are replaced with '_'",
      sends="an upload named '../etc/passwd', then one named 'a\\\\b.txt' (text/plain)",
      expects="filenames '__etc_passwd' and 'a_b.txt' in the replies and their urls")
async def media_sanitise(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    p = await upload(ctx, owner, w, filename="../etc/passwd")
    ctx.check(p.get("filename") == "__etc_passwd", f"filename {p.get('filename')!r}")
    ctx.check(p.get("url") == f"/media/{p['mediaId']}/__etc_passwd", f"url {p.get('url')!r}")
    p = await upload(ctx, owner, w, filename="a\\b.txt", mime="text/plain", data=b"hello")
    ctx.check(p.get("filename") == "a_b.txt", f"filename {p.get('filename')!r}")


@case("MEDIA-005", area="media", reqs=["R-MEDIA-6"], types=["media.upload.request/c2s", "error/s2c"],
      title="data that is not base64 or does not decode to exactly size bytes is refused",
      sends="an upload whose size is one more than the data; one whose data is '!!!not base64'",
      expects="two error INVALID_PAYLOAD 'Invalid file data'; nothing broadcast (upstream never compares: G19)")
async def media_bad_data(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    for p in (upload_payload(w, size=len(PNG) + 1), dict(upload_payload(w), data="!!!not base64")):
        await owner.send("media.upload.request", p)
        e = await owner.expect_error("INVALID_PAYLOAD")
        ctx.check(err_text(e) == "Invalid file data", f"message {err_text(e)!r}")
    await expect_silence(w.conns.values(), ["media.upload.complete"])


@case("MEDIA-006", area="media", reqs=["R-MEDIA-7"], types=["media.upload.request/c2s", "error/s2c"],
      title="An upload into a channel that is not a channel of the community is refused with NOT_FOUND",
      sends="an upload naming community A and the channel of the owner's community B",
      expects="error NOT_FOUND 'Channel not found'; no media.upload.complete anywhere")
async def media_wrong_channel(ctx):
    w = await world(ctx, names=("bob",))
    owner = w["owner"]
    _, chid_b, _ = await create_community(ctx, owner)
    await owner.send("media.upload.request", upload_payload(w, channelId=chid_b))
    e = await owner.expect_error("NOT_FOUND")
    ctx.check(err_text(e) == "Channel not found", f"message {err_text(e)!r}")
    await expect_silence(w.conns.values(), ["media.upload.complete"])


@case("MEDIA-007", area="media", reqs=["R-MEDIA-9"], types=["media.upload.request/c2s", "media.upload.complete/s2c"],
      title="mediaId is media-<ms>-<32 hex> and unique",
      sends="two uploads sent back to back",
      expects="two different mediaIds, each matching ^media-[0-9]+-[0-9a-f]{32}$ (upstream: 8 hex digits)")
async def media_ids(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    await owner.send("media.upload.request", upload_payload(w))
    await owner.send("media.upload.request", upload_payload(w))
    a = (await owner.expect_type("media.upload.complete"))["payload"].get("mediaId")
    b = (await owner.expect_type("media.upload.complete"))["payload"].get("mediaId")
    ctx.check(a != b, f"two uploads got the same mediaId {a}")
    for m in (a, b):
        ctx.check(re.fullmatch(r"media-[0-9]+-[0-9a-f]{32}", m or ""), f"mediaId {m!r} has not 128 random bits")


@case("MEDIA-008", area="media", reqs=["R-MEDIA-10"], types=["media.upload.request/c2s", "media.upload.complete/s2c"],
      title="Control characters in a filename are replaced with '_'",
      sends="an upload named 'a\\nb\\x7fc.txt'",
      expects="filename 'a_b_c.txt'")
async def media_control_chars(ctx):
    w = await world(ctx, names=())
    p = await upload(ctx, w["owner"], w, filename="a\nb\x7fc.txt", mime="text/plain", data=b"hi")
    ctx.check(p.get("filename") == "a_b_c.txt", f"filename {p.get('filename')!r}")


@case("MEDIA-009", area="media", reqs=["R-MEDIA-11"], types=["media.delete/c2s", "media.delete/s2c", "error/s2c"],
      title="The uploader deletes its media; a second delete gets NOT_FOUND",
      sends="upload, then media.delete {mediaId, communityId} twice",
      expects="media.delete {mediaId, deleted: true} to the sender only, then error NOT_FOUND 'Media not found'")
async def media_delete(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    p = await upload(ctx, owner, w)
    await bob.expect_type("media.upload.complete")
    await owner.send("media.delete", {"mediaId": p["mediaId"], "communityId": w.cid})
    f = await owner.expect_type("media.delete")
    ctx.check(f["payload"].get("mediaId") == p["mediaId"] and f["payload"].get("deleted") is True,
              f"reply payload {f['payload']}")
    await bob.expect_none("media.delete", what="the deletion reply at another member")
    await owner.send("media.delete", {"mediaId": p["mediaId"], "communityId": w.cid})
    e = await owner.expect_error("NOT_FOUND")
    ctx.check(err_text(e) == "Media not found", f"message {err_text(e)!r}")


@case("MEDIA-010", area="media", reqs=["R-MEDIA-12"], types=["media.delete/c2s", "error/s2c"],
      title="media.delete by another DID is FORBIDDEN and keeps the object; an unknown id is NOT_FOUND",
      sends="bob deletes the owner's upload; the owner deletes an invented id; then the owner deletes its upload",
      expects="FORBIDDEN 'Only the uploader can delete this file'; NOT_FOUND 'Media not found'; then "
              "media.delete deleted:true (the object survived bob's attempt)")
async def media_delete_other(ctx):
    w = await world(ctx, names=("bob",))
    owner, bob = w["owner"], w["bob"]
    p = await upload(ctx, owner, w)
    await bob.send("media.delete", {"mediaId": p["mediaId"]})
    e = await bob.expect_error("FORBIDDEN")
    ctx.check(err_text(e) == "Only the uploader can delete this file", f"message {err_text(e)!r}")
    await owner.send("media.delete", {"mediaId": "media-1-" + "0" * 32})
    e = await owner.expect_error("NOT_FOUND")
    ctx.check(err_text(e) == "Media not found", f"message {err_text(e)!r}")
    await owner.send("media.delete", {"mediaId": p["mediaId"]})
    await owner.expect_type("media.delete", lambda q: q.get("deleted") is True)


@case("MEDIA-011", area="media", reqs=["R-MEDIA-5", "R-HTTP-20"], needs=["restart"],
      types=["media.upload.request/c2s", "media.upload.complete/s2c"],
      title="Stored media survives a restart and its URL serves exactly the uploaded bytes",
      sends="upload 300 random bytes as application/pdf; restart the server; GET the url on the HTTP port",
      expects="200 with the same bytes, Content-Type application/pdf, Content-Security-Policy sandbox "
              "(upstream: memory only, no /media route: G36)", timeout=40)
async def media_persist(ctx):
    w = await world(ctx, names=())
    data = os.urandom(300)
    p = await upload(ctx, w["owner"], w, filename="doc.pdf", mime="application/pdf", data=data)
    await restart(ctx)
    r = await http(ctx, "GET", p["url"])
    ctx.check(r.status == 200, f"GET {p['url']}: {r}")
    ctx.check(r.data == data, "served bytes differ from the upload")
    ctx.check((r.headers.get("content-type") or "").startswith("application/pdf"), f"content-type {r.headers}")
    ctx.check(r.headers.get("content-security-policy") == "sandbox", f"CSP {r.headers.get('content-security-policy')!r}")


@case("MEDIA-012", area="media", reqs=["R-MEDIA-13", "R-HTTP-20"], needs=["restart"],
      types=["media.delete/c2s", "media.delete/s2c"],
      title="A deletion is durable: the URL answers 404 and a new delete NOT_FOUND after a restart",
      sends="upload, delete, restart; GET the url; media.delete again",
      expects="404 for the url; error NOT_FOUND", timeout=40)
async def media_delete_durable(ctx):
    w = await world(ctx, names=())
    p = await upload(ctx, w["owner"], w)
    await w["owner"].send("media.delete", {"mediaId": p["mediaId"]})
    await w["owner"].expect_type("media.delete")
    await restart(ctx)
    r = await http(ctx, "GET", p["url"])
    ctx.check(r.status == 404, f"deleted media served: {r}")
    c = await ctx.connect("owner-again", identity=ctx.identity("owner"))
    await c.send("media.delete", {"mediaId": p["mediaId"]})
    await c.expect_error("NOT_FOUND")


@case("MEDIA-013", area="media", reqs=["R-MEDIA-8"], types=["media.upload.request/c2s", "error/s2c"], timeout=40,
      title="The 101st stored media object of one DID is refused with QUOTA_EXCEEDED; deleting frees quota",
      sends="101 small uploads by one DID; then a delete and one more upload",
      expects="100 media.upload.complete, then error QUOTA_EXCEEDED 'Media quota reached'; after the delete "
              "the upload succeeds (upstream: no quota, G19)")
async def media_quota(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    first = None
    for i in range(100):
        await owner.send("media.upload.request", upload_payload(w, filename=f"f{i}.txt", mime="text/plain",
                                                                data=b"q"))
        f = await owner.expect(lambda f: f.get("type") in ("media.upload.complete", "error"),
                               what=f"the answer to upload {i + 1}")
        ctx.check(f["type"] == "media.upload.complete", f"upload {i + 1} of 100 refused: {f}")
        first = first or f["payload"].get("mediaId")
    await owner.send("media.upload.request", upload_payload(w, filename="over.txt", mime="text/plain", data=b"q"))
    e = await owner.expect_error("QUOTA_EXCEEDED")
    ctx.check(err_text(e) == "Media quota reached", f"message {err_text(e)!r}")
    await owner.send("media.delete", {"mediaId": first})
    await owner.expect_type("media.delete")
    await upload(ctx, owner, w, filename="again.txt", mime="text/plain", data=b"q")


@case("MEDIA-014", area="media", reqs=["R-ENV-5", "R-MISC-8"], types=["media.upload.request/c2s", "media.delete/c2s",
                                                                       "error/s2c"],
      title="A null payload and a missing mediaId are answered with INVALID_PAYLOAD",
      sends="media.upload.request with payload null; media.delete with payload null; media.delete {}; "
            "media.upload.request with filename 7",
      expects="four error INVALID_PAYLOAD (upstream drops some silently: G18)")
async def media_null(ctx):
    w = await world(ctx, names=())
    owner = w["owner"]
    for t, p in (("media.upload.request", None), ("media.delete", None), ("media.delete", {}),
                 ("media.upload.request", upload_payload(w, filename=7))):
        env = owner.envelope(t, p)
        await owner.send_frame(env)
        await owner.expect_error("INVALID_PAYLOAD")


@case("MEDIA-015", area="media", reqs=["R-HTTP-20"], types=["media.upload.request/c2s"],
      title="The media URL serves the bytes with safe headers; a wrong filename or unknown id is 404; SVG is an attachment",
      sends="upload a PNG and an SVG; GET both urls, the PNG url with another filename, an unknown id",
      expects="200 image/png with Content-Length, CSP sandbox and Cache-Control private, max-age=3600; SVG as "
              "application/octet-stream with Content-Disposition attachment; 404 for the others (upstream: G36)")
async def media_http(ctx):
    w = await world(ctx, names=())
    p = await upload(ctx, w["owner"], w)
    r = await http(ctx, "GET", p["url"])
    ctx.check(r.status == 200 and r.data == PNG, f"GET {p['url']}: {r}")
    ctx.check(r.headers.get("content-type", "").startswith("image/png"), f"content-type {r.headers.get('content-type')}")
    ctx.check(r.headers.get("content-length") == str(len(PNG)), f"content-length {r.headers.get('content-length')}")
    ctx.check(r.headers.get("cache-control") == "private, max-age=3600", f"cache-control {r.headers.get('cache-control')}")
    ctx.check(r.headers.get("content-security-policy") == "sandbox", "no CSP sandbox")
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    s = await upload(ctx, w["owner"], w, filename="x.svg", mime="image/svg+xml", data=svg)
    r = await http(ctx, "GET", s["url"])
    ctx.check(r.status == 200 and r.headers.get("content-type", "").startswith("application/octet-stream"),
              f"SVG served as {r.headers.get('content-type')} ({r.status})")
    ctx.check("attachment" in (r.headers.get("content-disposition") or ""), "SVG without Content-Disposition attachment")
    for path in (f"/media/{p['mediaId']}/other.png", f"/media/media-1-{'0' * 32}/pic.png"):
        r = await http(ctx, "GET", urllib.parse.quote(path))
        ctx.check(r.status == 404, f"GET {path}: {r.status}")
