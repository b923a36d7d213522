"""Direct-message encryption (crypto-facts 4) and the unused ``CryptoProvider.encrypt``.

``dm_key = HKDF(X25519(my_sk, peer_pk), salt "harmony-dm-salt-v1", info "harmony-dm-key")``;
each message is a random 24-byte nonce and XChaCha20-Poly1305 with empty AAD. The key is static
and the same in both directions.
"""

from __future__ import annotations

import os

from . import primitives
from .jsjson import text_encode

DM_SALT = b"harmony-dm-salt-v1"
DM_INFO = b"harmony-dm-key"
ENCRYPT_INFO = b"harmony-encrypt"


def dm_key(my_x_secret: bytes, peer_x_public: bytes) -> bytes:
    return primitives.hkdf_sha256(primitives.x25519(my_x_secret, peer_x_public), DM_SALT, DM_INFO)


def encrypt(key: bytes, plaintext, my_x_public: bytes, nonce: bytes | None = None) -> dict:
    """``SimplifiedDMChannel.encrypt``: ``{ciphertext, nonce, senderPublicKey}``."""
    if isinstance(plaintext, str):
        plaintext = text_encode(plaintext)
    nonce = os.urandom(24) if nonce is None else bytes(nonce)
    return {
        "ciphertext": primitives.xchacha_encrypt(key, nonce, plaintext),
        "nonce": nonce,
        "senderPublicKey": bytes(my_x_public),
    }


def decrypt(key: bytes, ciphertext: bytes, nonce: bytes) -> bytes:
    """Raises :class:`primitives.AeadError` on a bad tag (the client then shows ``[encrypted]``)."""
    return primitives.xchacha_decrypt(key, nonce, ciphertext)


def send_payload(recipient_did: str, enc: dict, message_id: str, clock_counter: int, author_did: str,
                 reply_to: str | None = None) -> dict:
    """The ``dm.send`` payload (bytes fields are serialised as ``__type`` envelopes on the wire).

    Note ``payload.nonce`` is the message id; the cipher nonce is ``content.nonce``.
    """
    p = {
        "recipientDID": recipient_did,
        "content": {
            "ciphertext": enc["ciphertext"],
            "epoch": 0,
            "senderIndex": 0,
            "nonce": enc["nonce"],
            "senderPublicKey": enc["senderPublicKey"],
        },
        "nonce": message_id,
    }
    if reply_to is not None:
        p["replyTo"] = reply_to
    p["clock"] = {"counter": clock_counter, "authorDID": author_did}
    return p


def keyexchange_payload(recipient_did: str, my_x_public: bytes) -> dict:
    """``dm.keyexchange``: the key travels as a plain decimal array, not an envelope."""
    return {"recipientDID": recipient_did, "senderPublicKey": list(bytes(my_x_public))}


def provider_key(my_x_secret: bytes, peer_x_public: bytes) -> bytes:
    """``CryptoProvider.encrypt``'s key: HKDF with no salt and info ``harmony-encrypt``."""
    return primitives.hkdf_sha256(primitives.x25519(my_x_secret, peer_x_public), None, ENCRYPT_INFO)
