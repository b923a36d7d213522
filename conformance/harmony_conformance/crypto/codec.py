"""Wire codecs: upstream's base64 (``serialisation.ts``), ``btoa``/``atob``, and the
``{"__type":"Uint8Array","data":…}`` envelope (protocol-facts 1.3, crypto-facts 0.4).
"""

from __future__ import annotations

import base64
import re

from . import jsjson

B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64encode(data: bytes) -> str:
    """Standard base64 with ``=`` padding (upstream ``uint8ArrayToBase64`` and ``btoa``)."""
    return base64.b64encode(bytes(data)).decode("ascii")


def _utf16_units(s: str) -> list:
    units = []
    for c in s:
        o = ord(c)
        if o > 0xFFFF:
            o -= 0x10000
            units += [chr(0xD800 + (o >> 10)), chr(0xDC00 + (o & 0x3FF))]
        else:
            units.append(c)
    return units


def b64decode_upstream(text: str) -> bytes:
    """upstream ``base64ToUint8Array``, quirks included: every ``=`` removed, unknown
    characters read as -1 (garbage bits, no error), a trailing single character dropped.
    ``"AA*A"`` → ``00 ff c0``."""
    clean = [u for u in _utf16_units(text) if u != "="]
    n = len(clean)
    cap = (n * 3) // 4
    out = []
    idx = B64_ALPHABET.find
    for i in range(0, n, 4):
        c0 = idx(clean[i])
        c1 = idx(clean[i + 1]) if i + 1 < n else 0
        c2 = idx(clean[i + 2]) if i + 2 < n else 0
        c3 = idx(clean[i + 3]) if i + 3 < n else 0
        out.append(((c0 << 2) | (c1 >> 4)) & 0xFF)
        if i + 2 < n:
            out.append(((c1 << 4) | (c2 >> 2)) & 0xFF)
        if i + 3 < n:
            out.append(((c2 << 6) | c3) & 0xFF)
    return bytes(out[:cap])  # writes past the typed array's length are lost


_ATOB_WS = re.compile(r"[\t\n\f\r ]")


def atob(text: str) -> bytes:
    """WHATWG ``atob`` (forgiving base64): strips ASCII whitespace, padding optional, raises
    ``ValueError`` (InvalidCharacterError) on anything else. Returns the bytes (JS returns a
    binary string of the same code units)."""
    s = _ATOB_WS.sub("", text)
    if len(s) % 4 == 0 and s.endswith("=="):
        s = s[:-2]
    elif len(s) % 4 == 0 and s.endswith("="):
        s = s[:-1]
    if len(s) % 4 == 1 or not re.fullmatch(r"[A-Za-z0-9+/]*", s):
        raise ValueError("InvalidCharacterError")
    pad = (-len(s)) % 4
    raw = base64.b64decode(s + "=" * pad)
    return raw


def btoa(binary: str) -> str:
    """WHATWG ``btoa`` of a JS string: each code unit must be < 256."""
    units = _utf16_units(binary)
    if any(ord(u) > 0xFF for u in units):
        raise ValueError("InvalidCharacterError")
    return b64encode(bytes(ord(u) for u in units))


def serialise(value) -> str:
    """upstream ``serialise``: JSON.stringify with every Uint8Array as the ``__type`` envelope."""
    return jsjson.stringify(value, bytes_mode="envelope")


def _reviver(holder, key, value):
    if isinstance(value, dict) and value.get("__type") == "Uint8Array" and isinstance(value.get("data"), str):
        return b64decode_upstream(value["data"])
    return value


def deserialise(text):
    """upstream ``deserialise``: JSON.parse turning any envelope, at any depth, into bytes."""
    return jsjson.parse(text, _reviver)


def to_bytes(value) -> bytes | None:
    """The TS client's ``toBytes``: bytes, a number array, or a ``{"0":n,…}`` object."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, list):
        return bytes(int(v) & 0xFF for v in value)
    if isinstance(value, dict):
        return bytes(int(v) & 0xFF for v in value.values())
    return None


_B64_STRICT = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


def b64decode_strict(text: str) -> bytes:
    """R-CRY-B64-3: length a multiple of 4, standard alphabet, ``=`` only as final padding,
    unused bits zero, no whitespace. Raises ``ValueError`` otherwise."""
    if not isinstance(text, str) or not _B64_STRICT.match(text):
        raise ValueError("bad base64")
    raw = base64.b64decode(text, validate=True)
    if b64encode(raw) != text:  # non-zero unused bits
        raise ValueError("bad base64 (unused bits)")
    return raw


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(bytes(data)).decode("ascii").rstrip("=")


_B64URL_STRICT = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url_decode_strict(text: str) -> bytes:
    """URL alphabet, no padding, unused bits zero."""
    if not isinstance(text, str) or not _B64URL_STRICT.match(text) or len(text) % 4 == 1:
        raise ValueError("bad base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(raw) != text:
        raise ValueError("bad base64url (unused bits)")
    return raw
