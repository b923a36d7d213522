"""did:key for Ed25519, Harmony's DID document, resolution and key lookup (crypto-facts 1.2-1.4,
2.3 step 4).

``resolve(did)`` reproduces upstream ``DIDKeyProvider.resolve`` (R-CRY-DID-5; returns ``None``
where it returns null); ``resolve(did, strict=True)`` is the hardened resolver of R-CRY-DID-6:
standard base58 of exactly ``ed 01`` + 32 bytes that re-encodes to the same DID, and a key that
is a canonical point not of small order (mixed-order keys pass, as in the spec; their X25519
key is the birational image, which libsodium's own conversion would refuse).
"""

from __future__ import annotations

from . import base58
from .ed25519_zip215 import PointError, decode_point, ed_to_x25519_public_upstream, is_small_order

ED25519_CODEC = 0xED
X25519_CODEC = 0xEC
DID_CONTEXTS = [
    "https://www.w3.org/ns/did/v1",
    "https://w3id.org/security/suites/ed25519-2020/v1",
    "https://w3id.org/security/suites/x25519-2020/v1",
]


def varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _decode_varint_js(b: bytes):
    """upstream ``decodeVarint``: JS 32-bit ``|=`` and ``<<`` (shift counts taken mod 32)."""
    result, shift, pos = 0, 0, 0
    while pos < len(b):
        byte = b[pos]
        result = (result | (((byte & 0x7F) << (shift % 32)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        pos += 1
        if not byte & 0x80:
            break
        shift += 7
    if result & 0x80000000:
        result -= 1 << 32
    return result, pos


def multibase(codec: int, key: bytes) -> str:
    return "z" + base58.encode(varint(codec) + bytes(key))


def did_from_public(ed_public: bytes) -> str:
    return "did:key:" + multibase(ED25519_CODEC, ed_public)


def x25519_multibase(x_public: bytes) -> str:
    return multibase(X25519_CODEC, x_public)


def verification_method(did: str) -> str:
    """``<did>#<did with the first "did:key:" removed>`` as VCService/ZCAPService build it."""
    return did + "#" + did.replace("did:key:", "", 1)


def build_document(did: str, ed_mb: str, x_mb: str) -> dict:
    """The document of crypto-facts 1.3, keys in upstream's order."""
    ed_vm = {
        "id": f"{did}#{ed_mb}",
        "type": "Ed25519VerificationKey2020",
        "controller": did,
        "publicKeyMultibase": ed_mb,
    }
    x_vm = {
        "id": f"{did}#{x_mb}",
        "type": "X25519KeyAgreementKey2020",
        "controller": did,
        "publicKeyMultibase": x_mb,
    }
    return {
        "@context": list(DID_CONTEXTS),
        "id": did,
        "verificationMethod": [ed_vm, x_vm],
        "authentication": [ed_vm["id"]],
        "assertionMethod": [ed_vm["id"]],
        "keyAgreement": [x_vm["id"]],
    }


def create_document(ed_public: bytes) -> dict:
    """``DIDKeyProvider.create``: the X25519 key is the birational image of the Ed25519 key."""
    did = did_from_public(ed_public)
    x_pub = ed_to_x25519_public_upstream(ed_public)
    return build_document(did, did[len("did:key:"):], x25519_multibase(x_pub))


def decode_did(did: str, strict: bool = False):
    """(multibase string, key bytes) of an Ed25519 did:key, or None."""
    if not isinstance(did, str) or not did.startswith("did:key:z"):
        return None
    mb = did.replace("did:key:", "", 1)
    try:
        raw = base58.decode(mb[1:], base58.STANDARD if strict else base58.UPSTREAM)
    except base58.Base58Error:
        return None
    prefix, off = _decode_varint_js(raw)
    if prefix != ED25519_CODEC:
        return None
    key = raw[off:]
    if strict and (len(key) != 32 or raw[:off] != varint(ED25519_CODEC) or multibase(ED25519_CODEC, key) != mb):
        return None
    return mb, key


def resolve(did: str, strict: bool = False):
    """The DID document for ``did``, or None (upstream ``DIDKeyProvider.resolve``)."""
    dec = decode_did(did, strict)
    if dec is None:
        return None
    mb, key = dec
    try:
        if strict and is_small_order(decode_point(key, False)):
            return None
        x_pub = ed_to_x25519_public_upstream(key)
    except (PointError, ValueError):
        return None
    return build_document(did, mb, x25519_multibase(x_pub))


def resolve_server_fallback(did: str):
    """The upstream server's ZCAP resolver: ``resolve`` first, else a minimal document for any
    ``did:key:`` string (crypto-facts 1.4)."""
    doc = resolve(did)
    if doc is not None:
        return doc
    if not isinstance(did, str) or not did.startswith("did:key:"):
        return None
    mb = did.replace("did:key:", "", 1)
    vm = f"{did}#{mb}"
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "verificationMethod": [
            {"id": vm, "type": "Ed25519VerificationKey2020", "controller": did, "publicKeyMultibase": mb}
        ],
        "authentication": [vm],
        "assertionMethod": [vm],
        "capabilityDelegation": [vm],
        "capabilityInvocation": [vm],
        "keyAgreement": [],
    }


def public_key_from_document(doc, vm_id: str, relationship: str | None = None, strict: bool = False):
    """upstream ``getPublicKeyFromDocument``: find the VM by exact id, require a ``z`` multibase,
    skip the varint, return the rest (no codec or length check). None if not found.

    ``strict`` (hardened) also requires the Ed25519 codec, 32 bytes, a canonical encoding and,
    when ``relationship`` is given, that ``vm_id`` is listed under it in the document.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("verificationMethod"), list):
        return None
    vm = next((v for v in doc["verificationMethod"] if isinstance(v, dict) and v.get("id") == vm_id), None)
    if vm is None:
        return None
    mb = vm.get("publicKeyMultibase")
    if not isinstance(mb, str) or not mb.startswith("z"):
        return None
    try:
        raw = base58.decode(mb[1:], base58.STANDARD if strict else base58.UPSTREAM)
    except base58.Base58Error:
        return None
    off = 0
    while off < len(raw) and raw[off] & 0x80:
        off += 1
    off += 1
    key = raw[off:]
    if strict:
        if raw[:off] != varint(ED25519_CODEC) or len(key) != 32 or multibase(ED25519_CODEC, key) != mb:
            return None
        if vm.get("type") != "Ed25519VerificationKey2020":
            return None
        if relationship is not None:
            rel = doc.get(relationship)
            if not isinstance(rel, list) or vm_id not in rel:
                return None
    return key
