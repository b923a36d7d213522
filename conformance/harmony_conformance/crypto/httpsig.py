"""``Authorization: Harmony-Ed25519 <did> <ts> <base64 sig>`` (crypto-facts 8.3).

``sig = Ed25519(UTF-8("<ts>:<METHOD>:<path>"))``; the client uses seconds and the path
without host; the server uses ``req.url`` (query included), a +-300 s window (``ts < 1e12`` is
seconds, otherwise ms), and Node's lenient ``Buffer.from(sig, "base64")``.
"""

from __future__ import annotations

import base64
import re

from . import codec, didkey, primitives
from .ed25519_zip215 import verify_strict, verify_zip215
from .jsjson import text_encode

SCHEME = "Harmony-Ed25519 "
WINDOW_MS = 300_000


def message(ts: str, method: str, path: str) -> bytes:
    return text_encode(f"{ts}:{method}:{path}")


def header(did: str, seed: bytes, ts, method: str, path: str) -> str:
    ts = str(ts)
    sig = primitives.ed25519_sign(seed, message(ts, method, path))
    return f"{SCHEME}{did} {ts} {codec.b64encode(sig)}"


_JS_WS = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def parse_int_js(s: str):
    """``parseInt(s, 10)``; None for NaN."""
    m = re.match(r"([+-]?)(\d+)", s.lstrip(_JS_WS))
    if not m:
        return None
    v = int(m.group(2))
    return -v if m.group(1) == "-" else v


def node_base64(s: str) -> bytes:
    """Node's ``Buffer.from(s, "base64")``: both alphabets, stops at ``=``, skips other bytes."""
    vals = []
    for c in s:
        if c == "=":
            break
        c = {"-": "+", "_": "/"}.get(c, c)
        i = codec.B64_ALPHABET.find(c)
        if i >= 0 and len(c) == 1:
            vals.append(c)
    t = "".join(vals)
    if len(t) % 4 == 1:
        t = t[:-1]
    return base64.b64decode(t + "=" * (-len(t) % 4))


def verify(header_value, method: str, path: str, now_ms: int, profile: str = "compat"):
    """The DID the header authenticates, or None (see :func:`verify_reason`)."""
    return verify_reason(header_value, method, path, now_ms, profile)[0]


def verify_reason(header_value, method: str, path: str, now_ms: int, profile: str = "compat"):
    """``(did, None)`` or ``(None, reason)``, reason one of BAD_HEADER, BAD_DID, STALE,
    BAD_SIGNATURE. Compat is R-CRY-HSIG-2, hardened R-CRY-HSIG-3."""
    hardened = profile == "hardened"
    if not isinstance(header_value, str) or not header_value.startswith(SCHEME):
        return None, "BAD_HEADER"
    parts = header_value[len(SCHEME):].split(" ")
    if len(parts) != 3:
        return None, "BAD_HEADER"
    did, ts_str, sig_b64 = parts
    if not did.startswith("did:key:z6Mk"):
        return None, "BAD_DID"
    if hardened and not re.fullmatch(r"[1-9][0-9]{0,12}", ts_str):
        return None, "BAD_HEADER"
    ts = parse_int_js(ts_str)
    if ts is None:
        return None, "BAD_HEADER"
    ts_ms = ts * 1000 if ts < 1e12 else ts
    if abs(now_ms - ts_ms) > WINDOW_MS:
        return None, "STALE"
    if hardened:
        if didkey.resolve(did, strict=True) is None:
            return None, "BAD_DID"
        key = didkey.decode_did(did, strict=True)[1]
        try:
            sig = codec.b64decode_strict(sig_b64)
        except ValueError:
            return None, "BAD_SIGNATURE"
        if len(sig) != 64 or not verify_strict(key, message(ts_str, method, path), sig):
            return None, "BAD_SIGNATURE"
        return did, None
    dec = didkey.decode_did(did)
    if dec is None:
        return None, "BAD_DID"
    try:
        sig = node_base64(sig_b64)
    except ValueError:
        return None, "BAD_SIGNATURE"
    if not verify_zip215(dec[1], message(ts_str, method, path), sig):
        return None, "BAD_SIGNATURE"
    return did, None
