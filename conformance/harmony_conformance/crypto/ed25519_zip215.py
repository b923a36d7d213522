"""Ed25519 verification the way Harmony does it (noble-curves 1.9.7 ``ed25519.verify``), in pure
Python, plus strict RFC 8032 verification through libsodium (PyNaCl) for the hardened profile.

Harmony's verifier (crypto-facts 0.2, weakness 14) follows ZIP-215:
  * A and R may be non-canonical (y >= p) and may have x = 0 with the sign bit set;
  * A and R may be of small order;
  * S must be < L;
  * the check is cofactored: [8]([S]B - R - [k]A) = O.
noble computes ``k = SHA-512(enc(R) || enc(A) || M) mod L`` over the *re-encoded* (canonical)
points, not over the bytes received; this module does the same, since the goal is to accept
exactly what Harmony accepts. Anything that makes noble throw (wrong lengths, a y with no
square root) is a plain ``False``, as ``CryptoProvider.verify`` turns exceptions into false.

The same point decoder (strict mode) gives noble's Edwards-to-Montgomery conversion, which is
what did:key resolution uses (crypto-facts 1.4).
"""

from __future__ import annotations

import hashlib

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

_BY = (4 * pow(5, P - 2, P)) % P
_BX_SQ = ((_BY * _BY - 1) * pow(D * _BY * _BY + 1, P - 2, P)) % P


class PointError(ValueError):
    """The 32 bytes are not a decodable point."""


def _sqrt_ratio(u: int, v: int):
    """(is_valid, x) with x = sqrt(u/v), the even root (RFC 8032 5.1.3 step 2-3)."""
    v3 = v * v % P * v % P
    v7 = v3 * v3 % P * v % P
    x = u * v3 % P * pow(u * v7 % P, (P - 5) // 8, P) % P
    vx2 = v * x % P * x % P
    if vx2 == u % P:
        pass
    elif vx2 == (-u) % P:
        x = x * SQRT_M1 % P
    else:
        return False, 0
    if x & 1:
        x = P - x
    return True, x % P


def _base():
    ok, x = _sqrt_ratio((_BY * _BY - 1) % P, (D * _BY * _BY + 1) % P)
    assert ok
    return (x, _BY, 1, x * _BY % P)


# extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z; curve -x^2 + y^2 = 1 + d x^2 y^2
ZERO = (0, 1, 1, 0)


def _add(p1, p2):
    X1, Y1, Z1, T1 = p1
    X2, Y2, Z2, T2 = p2
    A = (Y1 - X1) * (Y2 - X2) % P
    B = (Y1 + X1) * (Y2 + X2) % P
    C = T1 * 2 * D * T2 % P
    Dd = Z1 * 2 * Z2 % P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F % P, G * H % P, F * G % P, E * H % P)


def _double(p):
    return _add(p, p)


def _neg(p):
    X, Y, Z, T = p
    return ((-X) % P, Y, Z, (-T) % P)


def _mul(n: int, p):
    q = ZERO
    while n:
        if n & 1:
            q = _add(q, p)
        p = _double(p)
        n >>= 1
    return q


def _is_zero(p) -> bool:
    X, Y, Z, _ = p
    return X % P == 0 and (Y - Z) % P == 0


def _affine(p):
    X, Y, Z, _ = p
    zi = pow(Z, P - 2, P)
    return X * zi % P, Y * zi % P


B = _base()


def decode_point(b: bytes, zip215: bool):
    """noble's ``Point.fromBytes(b, zip215)``."""
    b = bytes(b)
    if len(b) != 32:
        raise PointError("point must be 32 bytes")
    last = b[31]
    y = int.from_bytes(b[:31] + bytes([last & 0x7F]), "little")
    if not zip215 and y >= P:
        raise PointError("non-canonical y")
    y2 = y * y % P
    ok, x = _sqrt_ratio((y2 - 1) % P, (D * y2 + 1) % P)
    if not ok:
        raise PointError("invalid y coordinate")
    x_0 = (last & 0x80) != 0
    if not zip215 and x == 0 and x_0:
        raise PointError("x=0 and x_0=1")
    if x_0 != bool(x & 1):
        x = (-x) % P
    y %= P
    return (x, y, 1, x * y % P)


def encode_point(p) -> bytes:
    x, y = _affine(p)
    out = bytearray(y.to_bytes(32, "little"))
    out[31] |= (x & 1) << 7
    return bytes(out)


def is_small_order(p) -> bool:
    return _is_zero(_mul(8, p))


def verify_zip215(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True exactly when Harmony's (noble, zip215=true) verifier accepts."""
    public_key, message, signature = bytes(public_key), bytes(message), bytes(signature)
    if len(signature) != 64 or len(public_key) != 32:
        return False
    s = int.from_bytes(signature[32:], "little")
    try:
        A = decode_point(public_key, True)
        R = decode_point(signature[:32], True)
    except PointError:
        return False
    if s >= L:
        return False
    k = int.from_bytes(
        hashlib.sha512(encode_point(R) + encode_point(A) + message).digest(), "little"
    ) % L
    rka = _add(R, _mul(k, A))
    diff = _add(rka, _neg(_mul(s, B)))
    return _is_zero(_mul(8, diff))


def verify_strict(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032 verification with libsodium 1.0.18's rules (canonical encodings, no small-order
    A or R, cofactorless). This is what the hardened profile requires (spec decision 10)."""
    from nacl.bindings import crypto_sign_open  # type: ignore
    from nacl.exceptions import BadSignatureError, CryptoError  # type: ignore

    if len(public_key) != 32 or len(signature) != 64:
        return False
    # crypto_sign_open runs the same check as crypto_sign_verify_detached
    try:
        crypto_sign_open(bytes(signature) + bytes(message), bytes(public_key))
        return True
    except (BadSignatureError, CryptoError, ValueError):
        return False


def ed_to_x25519_public_upstream(public_key: bytes) -> bytes:
    """noble ``edwardsToMontgomeryPub``: strict decode, then u = (1+y)/(1-y) mod p.

    Unlike libsodium's conversion this accepts small-order and mixed-order points; it raises
    :class:`PointError` for wrong length, non-canonical or undecodable points and for y = 1.
    """
    _, y = _affine(decode_point(public_key, False))
    if y == 1:
        raise PointError("y = 1 has no Montgomery image")
    u = (1 + y) * pow((1 - y) % P, P - 2, P) % P
    return u.to_bytes(32, "little")
