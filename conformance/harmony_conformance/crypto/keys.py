"""Identity keys: BIP-39 mnemonics, the Ed25519 seed, Harmony's X25519 derivation.

Upstream (crypto-facts 1.1):
  * a new identity is 16 random bytes of entropy → 12 English words;
  * seed64 = PBKDF2-HMAC-SHA512(NFKD(mnemonic), NFKD("mnemonic" + passphrase), 2048, 64) with an
    empty passphrase; the mnemonic is split on single ASCII spaces only to count the words
    (12/15/18/21/24 or ``Invalid mnemonic``); there is no checksum or word-list check;
  * the Ed25519 seed (RFC 8032 secret key) is seed64[0:32]; no derivation path;
  * the X25519 pair is clamp(SHA-512(seed)[0:32]) and the birational map of the Ed25519 key.

``mnemonic_to_seed(..., validate=True)`` adds the checksum and word-list check that upstream
omits (weakness 30), for clients that want it.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from . import primitives
from .jsjson import text_encode

WORDLIST_SHA256 = "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"
_WORDLIST_PATHS = ("/usr/lib/python3/dist-packages/mnemonic/wordlist/english.txt",)


class MnemonicError(ValueError):
    pass


@lru_cache(maxsize=1)
def english_wordlist() -> tuple:
    """The BIP-39 English list (2048 words) from Debian's python3-mnemonic, hash-checked."""
    paths = list(_WORDLIST_PATHS)
    try:
        import mnemonic  # type: ignore

        paths.insert(0, os.path.join(os.path.dirname(mnemonic.__file__), "wordlist", "english.txt"))
    except ImportError:
        pass
    for p in paths:
        if os.path.exists(p):
            raw = open(p, "rb").read()
            # the published hash is over the file with one word per line and a final newline
            norm = b"\n".join(raw.split()) + b"\n"
            if hashlib.sha256(norm).hexdigest() != WORDLIST_SHA256:
                raise RuntimeError(f"{p}: BIP-39 English word list hash mismatch")
            words = tuple(w.decode("ascii") for w in raw.split())
            assert len(words) == 2048
            return words
    raise RuntimeError("BIP-39 English word list not found (apt-get install python3-mnemonic)")


def entropy_to_mnemonic(entropy: bytes) -> str:
    """Standard BIP-39: entropy (16..32 bytes, multiple of 4) + SHA-256 checksum → words."""
    entropy = bytes(entropy)
    if len(entropy) not in (16, 20, 24, 28, 32):
        raise MnemonicError("entropy must be 16, 20, 24, 28 or 32 bytes")
    cs_bits = len(entropy) * 8 // 32
    n = int.from_bytes(entropy, "big") << cs_bits | (hashlib.sha256(entropy).digest()[0] >> (8 - cs_bits))
    nwords = (len(entropy) * 8 + cs_bits) // 11
    wl = english_wordlist()
    return " ".join(wl[(n >> (11 * (nwords - 1 - i))) & 0x7FF] for i in range(nwords))


def mnemonic_to_entropy(mnemonic: str) -> bytes:
    """Inverse of :func:`entropy_to_mnemonic`; raises on unknown words or a bad checksum."""
    words = unicodedata.normalize("NFKD", mnemonic).split(" ")
    if len(words) not in (12, 15, 18, 21, 24):
        raise MnemonicError("Invalid mnemonic")
    index = {w: i for i, w in enumerate(english_wordlist())}
    n = 0
    for w in words:
        if w not in index:
            raise MnemonicError(f"unknown word {w!r}")
        n = n << 11 | index[w]
    total = len(words) * 11
    cs_bits = total // 33
    ent_bits = total - cs_bits
    entropy = (n >> cs_bits).to_bytes(ent_bits // 8, "big")
    if (n & ((1 << cs_bits) - 1)) != hashlib.sha256(entropy).digest()[0] >> (8 - cs_bits):
        raise MnemonicError("invalid checksum")
    return entropy


def validate_mnemonic(mnemonic: str) -> bool:
    try:
        mnemonic_to_entropy(mnemonic)
        return True
    except MnemonicError:
        return False


def mnemonic_to_seed(mnemonic: str, passphrase: str = "", validate: bool = False) -> bytes:
    """The 64-byte BIP-39 seed, by @scure/bip39's rules (word count only, unless ``validate``)."""
    norm = unicodedata.normalize("NFKD", mnemonic)
    if len(norm.split(" ")) not in (12, 15, 18, 21, 24):
        raise MnemonicError("Invalid mnemonic")
    if validate:
        mnemonic_to_entropy(mnemonic)
    salt = unicodedata.normalize("NFKD", "mnemonic" + passphrase)
    return hashlib.pbkdf2_hmac("sha512", text_encode(norm), text_encode(salt), 2048, 64)


@dataclass(frozen=True)
class Identity:
    """A Harmony identity: the Ed25519 seed and everything derived from it."""

    seed: bytes  # 32-byte Ed25519 secret key
    ed_public: bytes
    x_secret: bytes
    x_public: bytes

    @property
    def did(self) -> str:
        from .didkey import did_from_public

        return did_from_public(self.ed_public)

    @property
    def vm(self) -> str:
        from .didkey import verification_method

        return verification_method(self.did)

    def sign(self, message: bytes) -> bytes:
        return primitives.ed25519_sign(self.seed, message)


def identity_from_seed(seed32: bytes) -> Identity:
    seed32 = bytes(seed32)
    if len(seed32) != 32:
        raise ValueError("Ed25519 seed must be 32 bytes")
    pk = primitives.ed25519_public(seed32)
    xs = primitives.ed_sk_to_x25519(seed32)
    return Identity(seed32, pk, xs, primitives.x25519_base(xs))


def identity_from_mnemonic(mnemonic: str, validate: bool = False) -> Identity:
    return identity_from_seed(mnemonic_to_seed(mnemonic, validate=validate)[:32])


def generate_identity() -> tuple:
    """A fresh 12-word identity, as the app makes one: (mnemonic, Identity)."""
    m = entropy_to_mnemonic(os.urandom(16))
    return m, identity_from_mnemonic(m)


def oauth_recovery_seed(provider: str, token: str) -> bytes:
    """crypto-facts 1.5: the OAuth-recovery Ed25519 seed."""
    return primitives.hkdf_sha256(
        text_encode(f"oauth-recovery:{provider}:{token}"),
        b"harmony-oauth-recovery",
        text_encode(f"{provider}-recovery"),
    )


def cloud_oauth_token_hash(provider: str, provider_user_id: str) -> bytes:
    """crypto-facts 1.5: the cloud variant's stored token hash."""
    return primitives.hkdf_sha256(
        text_encode(f"{provider}:{provider_user_id}"), b"harmony-oauth-recovery-hash", b"oauth-hash"
    )
