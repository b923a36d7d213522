"""The login presentation of upstream's Cloudflare Worker backend (packages/cloud-worker).

That backend takes the VP itself as the first WebSocket message (no envelope) and checks
one Ed25519 signature: over the UTF-8 bytes of ``JSON.stringify`` of the VP with its
``proof`` member left out (keys in the order they were sent; nothing such as
``proofPurpose`` or ``created`` is appended, unlike the runtime server's rule in
proofs.signing_input). ``proof.proofValue`` is the 64-byte signature in standard base64,
``proof.type`` must be ``Ed25519Signature2020`` and the holder an Ed25519 did:key. The
embedded credentials are not looked at. Facts: shared/upstream/cloudworker-run.md.

Built here from the harness' own primitives, so the suite judges that backend's check
independently of any upstream code.
"""
from __future__ import annotations

import base64
import binascii

from . import didkey
from .ed25519_zip215 import verify_strict
from .jsjson import stringify, text_encode
from .primitives import ed25519_sign
from .proofs import PROOF_TYPE, without_proof


def signing_input(vp: dict) -> bytes:
    """UTF-8 of JSON.stringify(VP without proof), in the VP's own key order."""
    return text_encode(stringify(without_proof(vp)))


def sign(vp: dict, seed32: bytes, *, created: str = "", proof_type: str = PROOF_TYPE) -> dict:
    """A copy of `vp` (its proof replaced) signed the worker's way with `seed32`."""
    body = without_proof(vp)
    sig = ed25519_sign(seed32, signing_input(body))
    proof = {"type": proof_type, "created": created,
             "verificationMethod": didkey.verification_method(body.get("holder", "")) if body.get("holder") else "",
             "proofPurpose": "authentication", "proofValue": base64.b64encode(sig).decode()}
    out = dict(body)
    out["proof"] = proof
    return out


def create_vp(holder_did: str, seed32: bytes, credentials: list, created: str) -> dict:
    """A presentation of `credentials` by `holder_did` that the worker accepts."""
    vp = {"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiablePresentation"],
          "holder": holder_did, "verifiableCredential": list(credentials)}
    return sign(vp, seed32, created=created)


def signature(vp) -> bytes | None:
    """The proof's signature bytes, or None when it is missing or not base64."""
    proof = vp.get("proof") if isinstance(vp, dict) else None
    pv = proof.get("proofValue") if isinstance(proof, dict) else None
    if not isinstance(pv, str):
        return None
    try:
        return base64.b64decode(pv + "=" * (-len(pv) % 4))
    except (binascii.Error, ValueError):
        return None


def verify(vp) -> str | None:
    """The holder DID when `vp` passes the worker's check, else None (what the fake server uses)."""
    if not isinstance(vp, dict):
        return None
    types = vp.get("type")
    holder = vp.get("holder")
    if not (isinstance(types, list) and "VerifiablePresentation" in types and isinstance(holder, str) and holder):
        return None
    proof = vp.get("proof")
    if not isinstance(proof, dict) or proof.get("type") != PROOF_TYPE:
        return None
    dec = didkey.decode_did(holder)
    if dec is None or len(dec[1]) != 32:
        return None
    sig = signature(vp)
    if sig is None or len(sig) != 64:
        return None
    try:
        msg = signing_input(vp)
    except (TypeError, ValueError):
        return None
    return holder if verify_strict(dec[1], msg, sig) else None
