"""Media, voice, export, sync and user-data keys and formats (crypto-facts 6, 7).

All keys are HKDF-SHA256 with 32-byte output; all blobs are ``nonce(24) || XChaCha20-Poly1305``
with empty AAD, except voice frames (AES-256-GCM, 12-byte IV).
"""

from __future__ import annotations

import os

from . import primitives
from .jsjson import text_encode

THUMB_MARKER = b"HMYTHUMB:"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


def fallback_channel_key(group_id: str) -> bytes:
    """The key used when no MLS group with more than one member exists (computable by anyone)."""
    return primitives.hkdf_sha256(text_encode("harmony-media-fallback-" + group_id), b"harmony-media-salt",
                                  b"harmony-media-channel-key")


def voice_frame_key(media_key: bytes) -> bytes:
    return primitives.hkdf_sha256(media_key, b"harmony-voice-e2ee-salt-v1", b"harmony-voice-e2ee")


def export_key(admin_seed: bytes) -> bytes:
    return primitives.hkdf_sha256(admin_seed, b"harmony-export-salt-v1", b"harmony-export")


def sync_key(ed_seed: bytes) -> bytes:
    return primitives.hkdf_sha256(ed_seed, b"harmony-sync-salt-v1", b"harmony-sync")


def user_data_key(ed_seed: bytes) -> bytes:
    return primitives.hkdf_sha256(ed_seed, b"harmony-user-data-v1", b"harmony-user-data-encryption")


def seal_blob(key: bytes, data: bytes, nonce: bytes | None = None) -> bytes:
    """``nonce(24) || XChaCha(ct||tag)``: the stored file and thumbnail format."""
    nonce = os.urandom(24) if nonce is None else bytes(nonce)
    return nonce + primitives.xchacha_encrypt(key, nonce, data)


def open_blob(key: bytes, blob: bytes) -> bytes:
    blob = bytes(blob)
    if len(blob) < 40:
        raise primitives.AeadError("blob too short")
    return primitives.xchacha_decrypt(key, blob[:24], blob[24:])


def thumbnail_plaintext(data: bytes) -> bytes:
    return THUMB_MARKER + bytes(data)[:1024]


def checksum(data: bytes) -> str:
    return "sha256:" + primitives.sha256(data).hex()


def media_ref(file_id: str, filename: str, content_type: str, blob: bytes, plaintext: bytes, uploaded_by: str,
              uploaded_at: str, thumbnail_id: str | None = None) -> dict:
    ref = {
        "id": file_id,
        "filename": filename,
        "contentType": content_type,
        "size": len(blob),
        "originalSize": len(plaintext),
        "checksum": checksum(plaintext),
        "encryptedChecksum": checksum(blob),
        "uploadedBy": uploaded_by,
        "uploadedAt": uploaded_at,
    }
    if thumbnail_id is not None:
        ref["thumbnailId"] = thumbnail_id
    ref["url"] = "/files/" + file_id
    return ref


def download_check(key: bytes, ref: dict, blob: bytes) -> bytes:
    """The download order: encrypted checksum, AEAD, plaintext checksum."""
    if checksum(blob) != ref.get("encryptedChecksum"):
        raise ValueError("Encrypted checksum mismatch")
    pt = open_blob(key, blob)
    if checksum(pt) != ref.get("checksum"):
        raise ValueError("Plaintext checksum mismatch")
    return pt


def encrypt_frame(frame_key: bytes, frame: bytes, kind: str = "audio", iv: bytes | None = None) -> bytes:
    """The voice transform: 1 (audio) or 10 (video) header bytes in clear, then IV(12) ||
    AES-256-GCM(rest). The sender passes frames of header length or less through unchanged;
    the receiver passes through frames of header+12 bytes or less and drops (here: raises on)
    frames that fail to decrypt."""
    hdr = 1 if kind == "audio" else 10
    frame = bytes(frame)
    if len(frame) <= hdr:
        return frame
    iv = os.urandom(12) if iv is None else bytes(iv)
    return frame[:hdr] + iv + primitives.aes256gcm_encrypt(frame_key, iv, frame[hdr:])


def decrypt_frame(frame_key: bytes, frame: bytes, kind: str = "audio") -> bytes:
    hdr = 1 if kind == "audio" else 10
    frame = bytes(frame)
    if len(frame) <= hdr + 12:
        return frame
    return frame[:hdr] + primitives.aes256gcm_decrypt(frame_key, frame[hdr:hdr + 12], frame[hdr + 12:])
