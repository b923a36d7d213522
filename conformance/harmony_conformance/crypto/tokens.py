"""Server session tokens (crypto-facts 8.2, protocol-facts 2.2).

``token = btoa(payload_json) + "." + btoa(signature)`` with
``payload_json = JSON.stringify({did, iat, exp})``, ``exp = iat + 604800000`` (ms), and the
Ed25519 signature over ``UTF-8(payload_json)``. Both halves are standard base64 with padding.
(``btoa`` encodes code units, so a DID with characters above U+00FF cannot get a token upstream.)
"""

from __future__ import annotations

from . import codec, primitives
from .ed25519_zip215 import verify_strict, verify_zip215
from .jsjson import JSONError, parse, stringify, text_encode

TOKEN_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000
COMPAT = "compat"
HARDENED = "hardened"


def payload_json(did: str, iat_ms: int, exp_ms: int | None = None) -> str:
    return stringify({"did": did, "iat": iat_ms, "exp": iat_ms + TOKEN_LIFETIME_MS if exp_ms is None else exp_ms})


def create_token(server_seed: bytes, did: str, iat_ms: int, exp_ms: int | None = None) -> str:
    pj = payload_json(did, iat_ms, exp_ms)
    sig = primitives.ed25519_sign(server_seed, text_encode(pj))
    return codec.btoa(pj) + "." + codec.b64encode(sig)


def verify_token(token: str, server_public: bytes, now_ms: int, profile: str = COMPAT,
                 lifetime_ms: int = TOKEN_LIFETIME_MS, skew_ms: int = 300_000):
    """The DID the token authenticates, or None.

    Compat is upstream ``verifySessionToken`` (R-CRY-TOK-2): parts after a second ``.`` are
    ignored, ``atob`` decoding, a payload without a numeric ``exp`` never expires, ZIP-215, and
    ``did`` is returned whatever its type. Hardened is R-CRY-TOK-4.
    """
    return verify_token_reason(token, server_public, now_ms, profile, lifetime_ms, skew_ms)[0]


def verify_token_reason(token, server_public: bytes, now_ms: int, profile: str = COMPAT,
                        lifetime_ms: int = TOKEN_LIFETIME_MS, skew_ms: int = 300_000):
    """``(did, None)`` or ``(None, reason)`` with reason BAD_TOKEN, EXPIRED or BAD_SIGNATURE."""
    if not isinstance(token, str):
        return None, "BAD_TOKEN"
    parts = token.split(".")
    if profile == HARDENED:
        return _verify_hardened(parts, server_public, now_ms, lifetime_ms, skew_ms)
    if len(parts) < 2:
        return None, "BAD_TOKEN"
    try:
        payload_str = codec.atob(parts[0]).decode("latin-1")  # atob: one code unit per byte
        payload = parse(payload_str)
        sig = codec.atob(parts[1])
    except (ValueError, JSONError):
        return None, "BAD_TOKEN"
    if payload is None:
        return None, "BAD_TOKEN"  # upstream: payload.exp on null throws
    exp = payload.get("exp") if isinstance(payload, dict) else None
    if isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp < now_ms:
        return None, "EXPIRED"
    if isinstance(exp, str):  # JS compares "123" < now numerically
        try:
            if float(exp) < now_ms:
                return None, "EXPIRED"
        except ValueError:
            pass
    if not verify_zip215(server_public, text_encode(payload_str), sig):
        return None, "BAD_SIGNATURE"
    return (payload.get("did") if isinstance(payload, dict) else None), None


def _verify_hardened(parts, server_public, now_ms, lifetime_ms, skew_ms):
    from . import didkey
    from .jsjson import DuplicateKeyError

    if len(parts) != 2:
        return None, "BAD_TOKEN"
    try:
        raw = codec.b64decode_strict(parts[0])
        sig = codec.b64decode_strict(parts[1])
    except ValueError:
        return None, "BAD_TOKEN"
    if len(sig) != 64:
        return None, "BAD_TOKEN"
    if not verify_strict(server_public, raw, sig):
        return None, "BAD_SIGNATURE"
    try:
        payload = parse(raw, reject_duplicates=True)
    except (DuplicateKeyError, JSONError):
        return None, "BAD_TOKEN"
    if not isinstance(payload, dict) or sorted(payload) != ["did", "exp", "iat"]:
        return None, "BAD_TOKEN"
    did, iat, exp = payload["did"], payload["iat"], payload["exp"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
        return None, "BAD_TOKEN"
    if not isinstance(did, str) or didkey.resolve(did, strict=True) is None:
        return None, "BAD_TOKEN"
    if iat > now_ms + skew_ms or exp - iat > lifetime_ms:
        return None, "BAD_TOKEN"
    if now_ms > exp:
        return None, "EXPIRED"
    return did, None
