"""The primitives Harmony builds on, from libsodium (PyNaCl) and OpenSSL (cryptography, hashlib).

Everything here is a thin, byte-oriented wrapper; nothing is Harmony-specific except that the
HKDF output length is always 32 and the AEAD never has associated data (crypto-facts 0.2).
"""

from __future__ import annotations

import hashlib
import hmac

from nacl import bindings as _sb  # type: ignore
from nacl.exceptions import CryptoError  # type: ignore


class AeadError(ValueError):
    """Authentication failed (noble: ``invalid tag``)."""


class X25519Error(ValueError):
    """The X25519 shared secret is all zero (noble throws, libsodium returns -1)."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(bytes(data)).digest()


def hkdf_sha256(ikm: bytes, salt: bytes | None, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 HKDF-SHA256. ``salt=None`` (noble's ``undefined``) means 32 zero bytes, which
    HMAC treats exactly like an empty salt."""
    if salt is None:
        salt = b"\0" * 32
    if isinstance(info, str):
        info = info.encode("utf-8")
    if isinstance(salt, str):
        salt = salt.encode("utf-8")
    prk = hmac.new(bytes(salt), bytes(ikm), hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + bytes(info) + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def xchacha_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes | None = None) -> bytes:
    """XChaCha20-Poly1305 (IETF); returns ciphertext || tag. Harmony always uses empty AAD."""
    return _sb.crypto_aead_xchacha20poly1305_ietf_encrypt(
        bytes(plaintext), None if aad is None else bytes(aad), bytes(nonce), bytes(key))


def xchacha_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes | None = None) -> bytes:
    if len(nonce) != 24 or len(key) != 32:
        raise AeadError("bad key or nonce length")
    try:
        return _sb.crypto_aead_xchacha20poly1305_ietf_decrypt(
            bytes(ciphertext), None if aad is None else bytes(aad), bytes(nonce), bytes(key))
    except CryptoError:
        raise AeadError("invalid tag") from None


def aes256gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # type: ignore

    return AESGCM(bytes(key)).encrypt(bytes(iv), bytes(plaintext), None)


def aes256gcm_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag  # type: ignore
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # type: ignore

    try:
        return AESGCM(bytes(key)).decrypt(bytes(iv), bytes(ciphertext), None)
    except InvalidTag:
        raise AeadError("invalid tag") from None


def x25519(secret: bytes, public: bytes) -> bytes:
    """RFC 7748 X25519 (clamped scalar, top bit of u masked); all-zero output is an error."""
    try:
        out = _sb.crypto_scalarmult(bytes(secret), bytes(public))
    except (CryptoError, RuntimeError):
        raise X25519Error("all-zero shared secret") from None
    if out == b"\0" * 32:
        raise X25519Error("all-zero shared secret")
    return out


def x25519_base(secret: bytes) -> bytes:
    return _sb.crypto_scalarmult_base(bytes(secret))


def ed25519_public(seed32: bytes) -> bytes:
    pk, _ = _sb.crypto_sign_seed_keypair(bytes(seed32))
    return pk


def ed25519_sign(seed32: bytes, message: bytes) -> bytes:
    """Pure RFC 8032 Ed25519 over ``message`` with the 32-byte seed as the secret key."""
    if len(seed32) != 32:
        raise ValueError("Ed25519 secret key must be 32 bytes")
    _, sk64 = _sb.crypto_sign_seed_keypair(bytes(seed32))
    return _sb.crypto_sign(bytes(message), sk64)[:64]


def ed_sk_to_x25519(seed32: bytes) -> bytes:
    """clamp(SHA-512(seed)[0:32]), the X25519 secret Harmony derives from an Ed25519 seed."""
    h = bytearray(hashlib.sha512(bytes(seed32)).digest()[:32])
    h[0] &= 0xF8
    h[31] &= 0x7F
    h[31] |= 0x40
    return bytes(h)


def ed_pk_to_x25519_strict(public_key: bytes) -> bytes:
    """libsodium's conversion (rejects small-order and non-main-subgroup points)."""
    try:
        return _sb.crypto_sign_ed25519_pk_to_curve25519(bytes(public_key))
    except (CryptoError, RuntimeError):
        raise ValueError("public key not convertible") from None
