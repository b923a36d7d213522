#!/usr/bin/python3
"""Check every vectors/*.json file with the suite's independent Python implementation.

    /usr/bin/python3 vectors/check.py [DIR]        (DIR defaults to this file's folder)

The expected values were produced by the C library (tools/gen-vectors); here each case is
recomputed with conformance/harmony_conformance/crypto (PyNaCl, cryptography, hashlib and pure
Python; never the C code). Seeds are re-derived from the labels where vectors/README.md says how.

Output: one line per file ("<file>: <passed> passed, <failed> failed"), a line per failing case,
and last exactly "N passed, N failed". Exit status 1 on any failure or on a file this checker
does not know (a new layer needs a checker before it counts), 0 otherwise.
"""

from __future__ import annotations

import hashlib
import json
import re
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "conformance"))

from harmony_conformance.crypto import (  # noqa: E402
    base58, codec, didkey, dm, httpsig, keys, mediakeys, mls, primitives, proofs, tokens,
)
from harmony_conformance.crypto import ed25519_zip215 as z  # noqa: E402
from harmony_conformance.crypto.jsjson import JSONError, parse, stringify, text_encode  # noqa: E402


class Mismatch(Exception):
    pass


def need(cond, what):
    if not cond:
        raise Mismatch(what)


def eq(got, want, what):
    if got != want:
        raise Mismatch(f"{what}: got {got!r}, want {want!r}")


def H(s):
    return bytes.fromhex(s)


def fails(fn, *a, exc=Exception):
    try:
        fn(*a)
    except exc:
        return True
    return False


def seed(file, label):
    return hashlib.sha256(f"harmony-vectors/{file}/{label}".encode()).digest()


def derive(file, label, purpose):
    return hashlib.sha256(f"harmony-vectors/{file}/{label}/{purpose}".encode()).digest()


def hx(b):
    return bytes(b).hex()


# --------------------------------------------------------------------------------- codecs

def _varint_decode_strict(b: bytes) -> int:
    v, shift = 0, 0
    for i, byte in enumerate(b):
        v |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if i != len(b) - 1:
                raise ValueError("trailing bytes")
            if i > 0 and byte == 0:
                raise ValueError("non-minimal")
            return v
        shift += 7
        if shift > 63:
            raise ValueError("too long")
    raise ValueError("truncated")


def _hex_decode(t: str) -> bytes:
    if len(t) % 2:
        raise ValueError("odd")
    return bytes.fromhex(t)


def _multibase_decode(t: str) -> bytes:
    if t == "":
        raise ValueError("DECODE")
    if t[0] != "z":
        raise LookupError("UNSUPPORTED")
    return base58.decode(t[1:])


ENC = {
    "base58btc": lambda b: base58.encode(b),
    "base58btc-upstream": lambda b: base58.encode(b, base58.UPSTREAM),
    "base64": codec.b64encode,
    "base64url": codec.b64url_encode,
    "multibase": lambda b: "z" + base58.encode(b),
    "hex": lambda b: b.hex(),
}
DEC = {
    "base58btc": lambda t: base58.decode(t),
    "base58btc-upstream": lambda t: base58.decode(t, base58.UPSTREAM),
    "base64": codec.b64decode_strict,
    "base64url": codec.b64url_decode_strict,
    "base64-lenient": codec.b64decode_upstream,
    "multibase": _multibase_decode,
    "hex": _hex_decode,
}


def check_codecs(c, f):
    name, d = c["codec"], c["direction"]
    if name == "varint":
        if d == "encode":
            eq(hx(didkey.varint(c["value"])), c["bytes"], "varint")
        elif c["result"] == "valid":
            eq(_varint_decode_strict(H(c["bytes"])), c["value"], "varint decode")
        else:
            need(fails(_varint_decode_strict, H(c["bytes"])), "varint decode should fail")
        return
    if d == "encode":
        eq(ENC[name](H(c["bytes"])), c["text"], f"{name} encode")
    elif c["result"] == "valid":
        eq(hx(DEC[name](c["text"])), c["bytes"], f"{name} decode")
    else:
        need(fails(DEC[name], c["text"]), f"{name} decode should fail")
        if name == "multibase":
            kind = "UNSUPPORTED" if c["text"][:1] not in ("", "z") else "DECODE"
            eq(kind, c.get("error"), "multibase error")


# ------------------------------------------------------------------------ json-stringify

def check_json(c, f):
    r = c["result"]
    if r == "invalid":
        need(fails(parse, c["input"], exc=JSONError), "JSON.parse should throw")
        return
    eq(stringify(parse(c["input"])), c["output"], "JSON.stringify(JSON.parse(input))")
    if r == "valid":
        need(not fails(lambda: parse(c["input"], reject_duplicates=True), exc=JSONError)
             and _depth(parse(c["input"])) <= 128, "a valid case must also pass a strict parser")
    if r == "acceptable":
        flags = set(c.get("flags", []))
        if "DuplicateKey" in flags:
            need(fails(lambda: parse(c["input"], reject_duplicates=True), exc=JSONError),
                 "a strict parser must refuse the duplicate")
        elif "DepthLimit" in flags:
            need(_depth(parse(c["input"])) > 128, "depth must exceed 128")
        else:
            raise Mismatch("acceptable case without a known flag")


def _depth(v):
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    return 0


# --------------------------------------------------------------------------------- ed25519

def check_ed25519(c, f):
    pk, msg, sig = H(c["public_key"]), H(c["message"]), H(c["signature"])
    if c["op"] == "sign":
        s32 = H(c["seed32"])
        if "Rfc8032" not in c.get("flags", []):
            eq(hx(s32), hx(seed(f, c["label"])), "seed32 = seed(file, label)")
        eq(hx(primitives.ed25519_public(s32)), c["public_key"], "public key")
        eq(hx(primitives.ed25519_sign(s32, msg)), c["signature"], "signature")
    strict = z.verify_strict(pk, msg, sig)
    zip215 = z.verify_zip215(pk, msg, sig)
    eq("valid" if strict else "invalid", c["strict"], "strict verdict")
    eq("valid" if zip215 else "invalid", c["zip215"], "zip215 verdict")
    want = "valid" if strict and zip215 else "acceptable" if zip215 else "invalid"
    need(not (strict and not zip215), "strict accepts what zip215 rejects")
    eq(want, c["result"], "result")


# ---------------------------------------------------------------------------------- x25519

def check_x25519(c, f):
    if c["op"] == "x25519":
        sk, pk = H(c["secret_key"]), H(c["public_key"])
        if c["label"] in ("alice-bob", "bob-alice"):
            me = "alice" if c["label"] == "alice-bob" else "bob"
            eq(hx(sk), hx(derive(f, "alice-bob", me)), "secret = derive(alice-bob, party)")
        if c["result"] == "invalid":
            need(fails(primitives.x25519, sk, pk, exc=primitives.X25519Error), "all-zero secret must fail")
        else:
            eq(hx(primitives.x25519(sk, pk)), c["shared_secret"], "shared secret")
    elif c["op"] == "ed25519-to-x25519":
        s = H(c["seed32"])
        idn = keys.identity_from_seed(s)
        eq(hx(idn.ed_public), c["ed25519_public_key"], "ed25519 public")
        eq(hx(idn.x_secret), c["x25519_secret_key"], "x25519 secret")
        eq(hx(z.ed_to_x25519_public_upstream(idn.ed_public)), c["x25519_public_key"], "x25519 public (birational)")
        eq(hx(primitives.x25519_base(idn.x_secret)), c["x25519_public_key"], "x25519 public (base mult)")
    else:
        raise Mismatch(f"unknown op {c['op']}")


# ------------------------------------------------------------------------------------ hkdf

def check_hkdf(c, f):
    ikm, salt, info, n = H(c["ikm"]), H(c["salt"]), H(c["info"]), c["length"]
    for k in ("ikm", "salt", "info"):
        if k + "_text" in c:
            eq(hx(text_encode(c[k + "_text"])), c[k], f"{k}_text")
    if "Harmony" in c.get("flags", []) and "ikm_text" not in c:
        want = seed(f, c["label"]) + (derive(f, c["label"], "commit") if c["label"] == "mls-advance" else b"")
        eq(c["ikm"], hx(want), "ikm = seed(label)")
    if c["result"] == "invalid":
        need(n > 255 * 32, "length should be above 8160")
        return
    if c["result"] == "acceptable":  # length 0: noble returns b"", libharmony refuses
        eq(n, 0, "only length 0 is acceptable")
    else:
        need(n >= 1, "length 0 is acceptable, not valid")
    eq(hx(primitives.hkdf_sha256(ikm, salt, info, n)), c["okm"], "okm")


# ------------------------------------------------------------------------------------ aead

def _aead(c, op, data):
    key, nonce = H(c["key"]), H(c["nonce"])
    aad = H(c.get("aad", ""))
    need(aad == b"", "Harmony AAD is always empty")
    if c["aead"] == "xchacha20poly1305":
        if len(nonce) != 24:
            raise ValueError("nonce length")
        return (primitives.xchacha_encrypt if op == "seal" else primitives.xchacha_decrypt)(key, nonce, data)
    if c["aead"] == "aes256gcm":
        if len(nonce) != 12:
            raise ValueError("nonce length")
        if op == "open" and len(data) < 16:
            raise ValueError("truncated")
        return (primitives.aes256gcm_encrypt if op == "seal" else primitives.aes256gcm_decrypt)(key, nonce, data)
    raise Mismatch(f"unknown aead {c['aead']}")


def check_aead(c, f):
    if c["op"] == "seal":
        lab = c["label"]
        eq(c["key"], hx(derive(f, lab, "key")), "key = derive(label, key)")
        eq(c["nonce"], hx(derive(f, lab, "nonce")[: len(H(c["nonce"]))]), "nonce = derive(label, nonce)")
        pt = H(c["plaintext"])
        eq(pt, bytes((31 * i + 5) % 256 for i in range(len(pt))), "plaintext pattern")
        if c["result"] == "invalid":
            need(fails(_aead, c, "seal", pt), "seal should fail")
            return
        ct = _aead(c, "seal", pt)
        eq(hx(ct), c["ciphertext"], "ciphertext")
        eq(_aead(c, "open", ct), pt, "open(seal(pt))")
    elif c["op"] == "open":
        ct = H(c["ciphertext"])
        if c["result"] == "invalid":
            need(fails(_aead, c, "open", ct), "open should fail")
        else:
            eq(hx(_aead(c, "open", ct)), c["plaintext"], "plaintext")
    else:
        raise Mismatch(f"unknown op {c['op']}")


# ----------------------------------------------------------------------------------- bip39

def check_bip39(c, f):
    if c["op"] == "entropy-mnemonic":
        if c["result"] == "invalid":
            need(fails(keys.entropy_to_mnemonic, H(c["entropy"]), exc=keys.MnemonicError), "entropy length must be refused")
            return
        eq(keys.entropy_to_mnemonic(H(c["entropy"])), c["mnemonic"], "mnemonic")
        eq(hx(keys.mnemonic_to_entropy(c["mnemonic"])), c["entropy"], "entropy back")
        return
    if c["op"] != "mnemonic-keys":
        raise Mismatch(f"unknown op {c['op']}")
    m = c["mnemonic"]
    if c["result"] == "invalid":
        need(fails(keys.mnemonic_to_seed, m, exc=keys.MnemonicError), "word count must be refused")
        return
    s64 = keys.mnemonic_to_seed(m)
    eq(hx(s64), c["seed64"], "seed64")
    eq(hx(s64[:32]), c["seed32"], "seed32")
    idn = keys.identity_from_seed(s64[:32])
    eq(hx(idn.ed_public), c["ed25519_public_key"], "ed25519 public")
    eq(hx(idn.x_secret), c["x25519_secret_key"], "x25519 secret")
    eq(hx(idn.x_public), c["x25519_public_key"], "x25519 public")
    eq(idn.did, c["did"], "did")
    ok = keys.validate_mnemonic(m)
    eq("valid" if ok else "acceptable", c["result"], "checksum / word-list verdict")


# ---------------------------------------------------------------------------------- did:key

def check_didkey(c, f):
    if c["op"] == "encode":
        pk = H(c["public_key"])
        eq(didkey.did_from_public(pk), c["did"], "did")
        if "x25519_multibase" in c:
            eq(didkey.x25519_multibase(z.ed_to_x25519_public_upstream(pk)), c["x25519_multibase"], "x25519 multibase")
        return
    did = c["did"]
    compat, strict = didkey.resolve(did), didkey.resolve(did, strict=True)
    for prof, doc in (("compat", compat), ("hardened", strict)):
        if prof in c:
            _verdict(c, prof, doc is not None)
    if "ed25519_multibase" in c:
        eq(c["ed25519_multibase"], did[len("did:key:"):], "ed25519 multibase")
    if compat is not None and "x25519_public_key" in c:
        eq(hx(z.ed_to_x25519_public_upstream(didkey.decode_did(did)[1])), c["x25519_public_key"], "x25519 public")
    if c["result"] == "valid":
        need(compat is not None and strict is not None, "must resolve in both profiles")
        eq(hx(didkey.decode_did(did, strict=True)[1]), c["public_key"], "public key")
    elif c["result"] == "acceptable":
        need(compat is not None and strict is None, "compat resolves, hardened refuses")
        if "public_key" in c:
            eq(hx(didkey.decode_did(did)[1]), c["public_key"], "public key")
    else:
        need(strict is None, "hardened must refuse")
        need(compat is None, "compat must refuse too (result invalid)")


def check_did_document(c, f):
    did = c["did"]
    compat, strict = didkey.resolve(did), didkey.resolve(did, strict=True)
    for prof, doc in (("compat", compat), ("hardened", strict)):
        if prof in c:
            _verdict(c, prof, doc is not None)
    if c["result"] == "valid":
        need(compat is not None and strict is not None, "must resolve in both profiles")
        eq(stringify(compat), c["did_document"], "document (compat)")
        eq(stringify(strict), c["did_document"], "document (hardened)")
    elif c["result"] == "acceptable":
        need(compat is not None and strict is None, "compat resolves, hardened refuses")
        if "did_document" in c:
            eq(stringify(compat), c["did_document"], "document (compat)")
    else:
        need(compat is None and strict is None, "must not resolve")


# ----------------------------------------------------------------------------- VC / VP / ZCAP

def _verdict(c, name, ok):
    want = c[name]
    if bool(ok) != want["valid"]:
        raise Mismatch(f"{name} verdict: got valid={bool(ok)}, want {want}")


def _result_consistent(c):
    cv, hv = c["compat"]["valid"], c["hardened"]["valid"]
    want = "valid" if cv and hv else "acceptable" if cv else "invalid"
    need(not (hv and not cv), "hardened accepts what compat rejects")
    eq(c["result"], want, "result vs verdicts")


def _now(c):
    n = c["now"]
    t = n if isinstance(n, int) else proofs.parse_js_date(n)
    need(t is not None, "now must parse")
    return t


def _id_of(f, label):
    return "urn:uuid:" + derive(f, label, "id")[:16].hex()


def _signed_output(c, out_key, unsigned, seed32, purpose, created, vm):
    si = proofs.signing_input(unsigned, purpose, created, vm)
    eq(si.decode("utf-8"), c["signing_input"], "signing input")
    proof = proofs.create_proof(unsigned, seed32, vm, purpose, created)
    eq(stringify({**unsigned, "proof": proof}), c[out_key], out_key)


def check_vc(c, f):
    if c["op"] == "issue":
        s32 = H(c["issuer_seed32"])
        issuer = keys.identity_from_seed(s32).did
        eq(issuer, c["issuer_did"], "issuer DID from seed")
        eq(c["id"], _id_of(f, c["label"]), "id = urn:uuid: + derive(label, id)")
        vc = proofs.issue_vc(issuer, s32, c["subject_did"], c["type"], parse(c["claims"]), c["issuance_date"],
                             created=c["created"], id_hex=c["id"][len("urn:uuid:"):],
                             expiration_date=c.get("expiration_date"))
        unsigned = proofs.without_proof(vc)
        eq(proofs.signing_input(unsigned, "assertionMethod", c["created"], didkey.verification_method(issuer)).decode(),
           c["signing_input"], "signing input")
        eq(stringify(vc), c["credential"], "credential")
        if "LeadingZero" in c.get("flags", []):
            need(vc["proof"]["proofValue"].startswith("z1"), "signature starts with 0x00")
        return
    if c["op"] != "verify":
        raise Mismatch(f"unknown op {c['op']}")
    now = _now(c)
    _verdict(c, "compat", proofs.verify_vc(c["credential"], now).valid)
    _verdict(c, "hardened", proofs.verify_vc(c["credential"], now, profile=proofs.HARDENED).valid)
    _result_consistent(c)


def check_vp(c, f):
    if c["op"] == "create":
        s32 = H(c["holder_seed32"])
        holder = keys.identity_from_seed(s32).did
        eq(holder, c["holder_did"], "holder DID from seed")
        creds = parse(c["credentials"])
        eq(stringify(creds), c["credentials"], "credentials are JSON.stringify-exact")
        vp = proofs.create_vp(holder, s32, creds, c["created"])
        eq(proofs.signing_input(proofs.without_proof(vp), "authentication", c["created"],
                                didkey.verification_method(holder)).decode(), c["signing_input"], "signing input")
        eq(stringify(vp), c["presentation"], "presentation")
        return
    if c["op"] != "verify":
        raise Mismatch(f"unknown op {c['op']}")
    now = _now(c)
    did, _ = proofs.authenticate_vp(c["presentation"], now)
    _verdict(c, "compat", did is not None)
    did, _ = proofs.authenticate_vp(c["presentation"], now, profile=proofs.HARDENED,
                                    trusted_issuers=tuple(c.get("trusted_issuers", ())))
    _verdict(c, "hardened", did is not None)
    _result_consistent(c)


def check_zcap(c, f):
    op = c["op"]
    if op in ("root", "delegate", "invoke"):
        if c.get("id") is not None:
            eq(c["id"], _id_of(f, c["label"]), "id = urn:uuid: + derive(label, id)")
        id_hex = c["id"][len("urn:uuid:"):] if "id" in c else None
    if op == "root":
        s32 = H(c["owner_seed32"])
        owner = keys.identity_from_seed(s32).did
        cap = proofs.create_root(owner, s32, parse(c["scope"]), parse(c["allowed_action"]), c["created"], id_hex=id_hex)
        eq(proofs.signing_input(proofs.without_proof(cap), "capabilityDelegation", c["created"],
                                didkey.verification_method(owner)).decode(), c["signing_input"], "signing input")
        eq(stringify(cap), c["capability"], "capability")
    elif op == "delegate":
        parent = parse(c["parent"])
        s32 = H(c["signer_seed32"])
        eq(keys.identity_from_seed(s32).did, parent["invoker"], "signer is the parent's invoker")
        from harmony_conformance.crypto.jsjson import UNDEFINED
        cav = parse(c["caveats"]) if "caveats" in c else UNDEFINED
        args = (parent, s32, c["invoker_did"], parse(c["allowed_action"]), parse(c["scope"]), c["created"])
        if c["result"] == "invalid":
            need(fails(proofs.delegate, *args, cav, id_hex, exc=proofs.ProofError), "upstream delegate must throw")
            return
        cap = proofs.delegate(*args, caveats=cav, id_hex=id_hex)
        eq(proofs.signing_input(proofs.without_proof(cap), "capabilityDelegation", c["created"],
                                didkey.verification_method(parent["invoker"])).decode(), c["signing_input"], "signing input")
        eq(stringify(cap), c["capability"], "capability")
    elif op == "invoke":
        cap = parse(c["capability"])
        s32 = H(c["invoker_seed32"])
        eq(keys.identity_from_seed(s32).did, cap["invoker"], "signer is the capability's invoker")
        inv = proofs.invoke(cap, s32, c["action"], c["target"], c["created"])
        eq(proofs.signing_input(proofs.without_proof(inv), "capabilityInvocation", c["created"],
                                didkey.verification_method(cap["invoker"])).decode(), c["signing_input"], "signing input")
        eq(stringify(inv), c["invocation"], "invocation")
    elif op == "verify":
        now = _now(c)
        _verdict(c, "compat", proofs.verify_invocation(c["invocation"], c["chain"], now).valid)
        # Hardened as the README documents for these vectors: the invoker the invocation names,
        # any action/target, any self-delegated root. Caveats follow the spec (R-CRY-ZCAP-12:
        # every caveat on the path applies; a delegation may omit its parent's).
        inv = parse(c["invocation"])
        chain = parse(c["chain"])
        anchors = {x.get("id") for x in chain if isinstance(x, dict) and "parentCapability" not in x
                   and x.get("invoker") == x.get("delegator")}
        r = proofs.verify_invocation(c["invocation"], c["chain"], now, profile=proofs.HARDENED,
                                     trusted_roots=set(c.get("trust_anchors", anchors)), root_owner=c.get("root_owner"),
                                     caller_did=c.get("invoker", inv.get("invoker") if isinstance(inv, dict) else None),
                                     expected_action=c.get("action"), expected_target=c.get("target"))
        _verdict(c, "hardened", r.valid)
        _result_consistent(c)
    else:
        raise Mismatch(f"unknown op {op}")


# ------------------------------------------------------------------------------------- DM

def check_dm(c, f):
    op = c["op"]
    if op == "dm":
        a, b = keys.identity_from_seed(H(c["alice_seed32"])), keys.identity_from_seed(H(c["bob_seed32"]))
        eq(c["alice_seed32"], hx(derive(f, "parties", "alice")), "alice = derive(dm, parties, alice)")
        eq(c["bob_seed32"], hx(derive(f, "parties", "bob")), "bob = derive(dm, parties, bob)")
        eq(c["nonce"], hx(derive(f, c["label"], "nonce")[:24]), "nonce = derive(label, nonce)")
        eq(hx(a.x_secret), c["alice_x25519_secret_key"], "alice x25519 secret")
        eq(hx(a.x_public), c["alice_x25519_public_key"], "alice x25519")
        eq(hx(b.x_public), c["bob_x25519_public_key"], "bob x25519")
        eq(hx(primitives.x25519(a.x_secret, b.x_public)), c["shared_secret"], "shared secret")
        eq(hx(primitives.x25519(b.x_secret, a.x_public)), c["shared_secret"], "shared secret (other side)")
        k = dm.dm_key(a.x_secret, b.x_public)
        eq(hx(k), c["key"], "dm key")
        eq(hx(dm.dm_key(b.x_secret, a.x_public)), c["key"], "dm key (other side)")
        ct = dm.encrypt(k, H(c["plaintext"]), a.x_public, H(c["nonce"]))["ciphertext"]
        eq(hx(ct), c["ciphertext"], "ciphertext")
        eq(hx(dm.decrypt(k, ct, H(c["nonce"]))), c["plaintext"], "decrypt")
    elif op == "open":
        k, n, ct = H(c["key"]), H(c["nonce"]), H(c["ciphertext"])
        if c["result"] == "invalid":
            need(fails(dm.decrypt, k, ct, n), "open must fail")
        else:
            eq(hx(dm.decrypt(k, ct, n)), c["plaintext"], "plaintext")
    elif op == "peer-check":
        dec = didkey.decode_did(c["peer_did"])
        need(dec is not None, "peer DID must decode")
        bound = z.ed_to_x25519_public_upstream(dec[1]) == H(c["x25519_public_key"])
        eq("valid" if bound else "acceptable", c["result"], "binding verdict")
    elif op == "provider-key":
        eq(hx(dm.provider_key(H(c["my_x25519_secret_key"]), H(c["their_x25519_public_key"]))), c["key"], "key")
    else:
        raise Mismatch(f"unknown op {op}")


# --------------------------------------------------------------------------- session token

def check_token(c, f):
    op = c.get("op")
    if op == "issue":
        s32 = H(c["server_seed32"])
        if c["result"] == "invalid":
            need(fails(tokens.create_token, s32, c["did"], c["issued_at"], c["expires_at"]),
                 "upstream btoa() must refuse this DID")
            return
        eq(hx(primitives.ed25519_public(s32)), c["server_public_key"], "server public key")
        eq(tokens.payload_json(c["did"], c["issued_at"], c["expires_at"]), c["payload"], "payload")
        eq(tokens.create_token(s32, c["did"], c["issued_at"], c["expires_at"]), c["token"], "token")
        return
    if op != "verify":
        raise Mismatch(f"unknown op {op}")
    spk = H(c["server_public_key"])
    compat = tokens.verify_token(c["token"], spk, c["now"])
    hard = tokens.verify_token(c["token"], spk, c["now"], tokens.HARDENED)
    if (compat is not None) != c["compat"]["valid"] and c["token"].count(".") > 1:
        raise Mismatch("compat verdict: upstream splits on '.' and ignores parts after the second "
                       f"(R-CRY-TOK-2), so it {'accepts' if compat else 'refuses'} this token; "
                       f"the vector says {c['compat']}")
    _verdict(c, "compat", compat is not None)
    _verdict(c, "hardened", hard is not None)
    if hard is not None and "did" in c:
        eq(hard, c["did"], "did")
    _result_consistent(c)


def _expect_result(c, compat_ok, hard_ok):
    r = c["result"]
    if r == "valid":
        need(compat_ok and hard_ok, f"both profiles must accept (compat={compat_ok}, hardened={hard_ok})")
    elif r == "acceptable":
        need(compat_ok and not hard_ok, f"compat accepts, hardened refuses (compat={compat_ok}, hardened={hard_ok})")
    else:
        need(not compat_ok and not hard_ok, f"both profiles must refuse (compat={compat_ok}, hardened={hard_ok})")


# -------------------------------------------------------------------------- HTTP signature

def check_httpsig(c, f):
    if c["op"] == "sign":
        s32 = H(c["seed32"])
        eq(c["seed32"], hx(derive(f, "parties", "client")), "client = derive(http-signature, parties, client)")
        eq(keys.identity_from_seed(s32).did, c["did"], "did from seed")
        ts = str(c["timestamp"])
        eq(httpsig.message(ts, c["method"], c["url"]).decode("utf-8"), c["signing_input"], "signing input")
        eq(httpsig.header(c["did"], s32, ts, c["method"], c["url"]), c["authorization"], "authorization")
        return
    if c["op"] != "verify":
        raise Mismatch(f"unknown op {c['op']}")
    _verdict(c, "compat", httpsig.verify(c["authorization"], c["method"], c["url"], c["now"]) is not None)
    _verdict(c, "hardened", httpsig.verify(c["authorization"], c["method"], c["url"], c["now"], "hardened") is not None)
    _result_consistent(c)


# ----------------------------------------------------------------------------------- media

SEED_KEYS = {"export": mediakeys.export_key, "identity-sync": mediakeys.sync_key, "user-data": mediakeys.user_data_key}


def check_media(c, f):
    op = c["op"]
    if op == "fallback-channel-key":
        eq(hx(mediakeys.fallback_channel_key(c["group_id"])), c["key"], "key")
    elif op == "voice-frame-key":
        eq(hx(mediakeys.voice_frame_key(H(c["media_key"]))), c["key"], "key")
    elif op == "seed-key":
        eq(c["seed32"], hx(seed(f, c["label"])), "seed32 = seed(label)")
        eq(hx(SEED_KEYS[c["purpose"]](H(c["seed32"]))), c["key"], f"{c['purpose']} key")
    elif op == "oauth-recovery-seed":
        s32 = keys.oauth_recovery_seed(c["provider"], c["token"])
        eq(hx(s32), c["seed32"], "seed32")
        eq(keys.identity_from_seed(s32).did, c["did"], "did")
    elif op == "oauth-hash":
        eq(hx(keys.cloud_oauth_token_hash(c["provider"], c["provider_user_id"])), c["hash"], "hash")
    elif op == "file-blob":
        k, n, pt = H(c["key"]), H(c["nonce"]), H(c["plaintext"])
        blob = mediakeys.seal_blob(k, pt, n)
        eq(hx(blob), c["blob"], "blob")
        eq(len(blob), c["size"], "size")
        eq(len(pt), c["original_size"], "original size")
        eq(mediakeys.checksum(pt), c["checksum"], "checksum")
        eq(mediakeys.checksum(blob), c["encrypted_checksum"], "encrypted checksum")
        eq(hx(mediakeys.thumbnail_plaintext(pt)), c["thumbnail_plaintext"], "thumbnail plaintext")
        eq(mediakeys.open_blob(k, blob), pt, "open(blob)")
    elif op == "file-open":
        k, blob = H(c["key"]), H(c["blob"])
        if c["result"] == "invalid":
            need(fails(mediakeys.open_blob, k, blob), "open must fail")
        else:
            eq(hx(mediakeys.open_blob(k, blob)), c["plaintext"], "plaintext")
    elif op in ("voice-frame", "voice-frame-open"):
        kind = {1: "audio", 10: "video"}.get(c["header_len"])
        need(kind is not None, "header_len must be 1 or 10")
        k, frame = H(c["key"]), H(c["frame"])
        if op == "voice-frame":
            out = mediakeys.encrypt_frame(k, frame, kind, H(c["iv"]))
            eq(hx(out), c["output"], "output")
            eq(mediakeys.decrypt_frame(k, out, kind), frame, "decrypt(output)")
        elif c["result"] == "invalid":
            need(fails(mediakeys.decrypt_frame, k, frame, kind), "frame must be dropped")
        else:
            eq(hx(mediakeys.decrypt_frame(k, frame, kind)), c["output"], "output")
    else:
        raise Mismatch(f"unknown op {op}")


# ------------------------------------------------------------------------------------- MLS

def _kp_from_wire(text):
    kp = codec.deserialise(text)
    need(isinstance(kp, dict) and isinstance(kp.get("leafNode"), dict), "key package shape")
    return kp


def check_mls(c, f):
    op = c["op"]
    if op == "keypackage":
        idn = keys.identity_from_seed(H(c["seed32"]))
        eq(c["seed32"], hx(seed(f, c["label"])), "seed32 = seed(label)")
        eq(idn.did, c["did"], "did")
        eq(hx(idn.x_public), c["x25519_public_key"], "x25519 public")
        eq(hx(idn.ed_public), c["ed25519_public_key"], "ed25519 public")
        kp = mls.create_key_package(idn.did, idn.seed, idn.ed_public, idn.x_public)
        eq(mls.key_package_signing_input(1, 1, idn.x_public, idn.did).decode(), c["signing_input"], "signing input")
        eq(hx(kp["signature"]), c["signature"], "signature")
        eq(codec.serialise(kp), c["keypackage"], "key package wire JSON")
        need(mls.verify_key_package(_kp_from_wire(c["keypackage"])), "key package must verify")
    elif op == "keypackage-verify":
        kp = _kp_from_wire(c["keypackage"])
        _verdict(c, "compat", mls.verify_key_package(kp))
        _verdict(c, "hardened", mls.verify_key_package_hardened(kp, c["expected_did"]))
        _result_consistent(c)
    elif op == "epoch-keys":
        es, e = H(c["epoch_secret"]), c["epoch"]
        eq(hx(mls.epoch_key(es, e, "message")), c["message_key"], "message key")
        eq(hx(mls.epoch_key(es, e, "media")), c["media_key"], "media key")
    elif op == "advance":
        eq(hx(mls.advance(H(c["epoch_secret"]), H(c["commit_secret"]))), c["new_epoch_secret"], "new epoch secret")
    elif op == "welcome-key":
        eq(hx(mls.welcome_key(H(c["init_key"]))), c["welcome_key"], "welcome key")
    elif op == "welcome":
        n, st = H(c["nonce"]), c["group_state"]
        blob = n + primitives.xchacha_encrypt(mls.welcome_key(H(c["init_key"])), n, st.encode("utf-8"))
        eq(hx(blob), c["encrypted_group_state"], "encrypted group state")
        w = {"groupId": c["group_id"], "epoch": c["epoch"], "encryptedGroupState": blob}
        eq(codec.serialise(w), c["welcome"], "welcome wire JSON")
        eq(stringify(mls.open_welcome(codec.deserialise(c["welcome"]), H(c["init_key"]))["groupId"]),
           stringify(c["group_id"]), "anyone with the init key opens it")
    elif op == "message":
        g = mls.Group({"epochSecret": H(c["epoch_secret"]), "epoch": c["epoch"], "myLeafIndex": 0, "members": []})
        eq(hx(g.encrypt(H(c["plaintext"]), H(c["nonce"]))["ciphertext"]), c["ciphertext"], "ciphertext")
    elif op == "message-open":
        g = mls.Group({"epochSecret": H(c["epoch_secret"]), "epoch": c["current_epoch"], "myLeafIndex": 0,
                       "members": [{"leafIndex": 0}]})
        msg = {"epoch": c["message_epoch"], "senderIndex": 0, "ciphertext": H(c["ciphertext"])}
        if c["result"] == "invalid":
            need(fails(g.decrypt, msg), "decrypt must fail")
        else:
            eq(hx(g.decrypt(msg)[0]), c["plaintext"], "plaintext")
    elif op == "commit-signing-input":
        prop = {"add": lambda: {"type": "add", "did": c["did"]},
                "remove": lambda: {"type": "remove", "leafIndex": c["leaf_index"]},
                "update": lambda: {"type": "update"}}[c["proposal"]]()
        eq(mls.commit_signing_input(c["group_id"], c["new_epoch"], [prop]).decode(), c["signing_input"], "signing input")
    else:
        raise Mismatch(f"unknown op {op}")


CHECKERS = {
    "codecs": check_codecs,
    "json-stringify": check_json,
    "ed25519": check_ed25519,
    "x25519": check_x25519,
    "hkdf": check_hkdf,
    "aead": check_aead,
    "bip39": check_bip39,
    "didkey": check_didkey,
    "did-document": check_did_document,
    "vc": check_vc,
    "vp": check_vp,
    "zcap": check_zcap,
    "dm": check_dm,
    "session-token": check_token,
    "http-signature": check_httpsig,
    "media": check_media,
    "mls-simplified": check_mls,
}

# Operations that only produce outputs: their case must be "valid" (a mutated verdict is caught).
PRODUCE_ONLY = {
    ("codecs", "encode"), ("x25519", "ed25519-to-x25519"), ("didkey", "encode"), ("vc", "issue"), ("vp", "create"),
    ("zcap", "root"), ("zcap", "invoke"), ("dm", "dm"), ("dm", "provider-key"), ("http-signature", "sign"),
    ("media", "fallback-channel-key"), ("media", "voice-frame-key"), ("media", "seed-key"),
    ("media", "oauth-recovery-seed"), ("media", "oauth-hash"), ("media", "file-blob"), ("media", "voice-frame"),
    ("mls-simplified", "keypackage"), ("mls-simplified", "epoch-keys"), ("mls-simplified", "advance"),
    ("mls-simplified", "welcome-key"), ("mls-simplified", "welcome"), ("mls-simplified", "message"),
    ("mls-simplified", "commit-signing-input"),
}
# Layers where "acceptable" has a meaning (a compat/hardened or strict/zip215 split).
ACCEPTABLE_OK = {"hkdf", "json-stringify", "ed25519", "bip39", "didkey", "did-document", "vc", "vp", "zcap", "dm",
                 "session-token", "http-signature", "mls-simplified"}


NO_ACCEPTABLE_OPS = {("bip39", "entropy-mnemonic"), ("zcap", "delegate"), ("session-token", "issue"),
                     ("dm", "open"), ("media", "file-open"), ("media", "voice-frame-open"),
                     ("mls-simplified", "message-open")}


def check_result_policy(c, layer):
    op = c.get("op", c.get("direction"))
    if (layer, op) in NO_ACCEPTABLE_OPS:
        need(c["result"] != "acceptable", f"a {op} case is valid or invalid")
    if (layer, op) in PRODUCE_ONLY:
        eq(c["result"], "valid", f"result of a {op} case")
    if c["result"] == "acceptable" and layer not in ACCEPTABLE_OK:
        raise Mismatch(f"{layer} has no acceptable cases")


HEADER = ("algorithm", "source", "generator", "numberOfTests", "tests")


def _spec_cry_ids():
    """The R-CRY-* ids defined in spec/crypto.md (empty when the spec is not next to vectors/)."""
    path = os.path.join(HERE, "..", "spec", "crypto.md")
    try:
        with open(path, encoding="utf-8") as fh:
            return set(re.findall(r"^\s*- \*\*(R-CRY-[A-Z0-9-]+)\*\*", fh.read(), re.M))
    except OSError:
        return set()


SPEC_CRY = _spec_cry_ids()


def check_header(doc, name):
    for k in HEADER:
        need(k in doc, f"header field {k!r} missing")
    eq(doc["numberOfTests"], len(doc["tests"]), "numberOfTests")
    notes = doc.get("notes", {})
    labels = set()
    for i, c in enumerate(doc["tests"], 1):
        eq(c.get("tc_id"), i, "tc_id sequence")
        need(c.get("label") not in labels, f"duplicate label {c.get('label')!r}")
        labels.add(c.get("label"))
        need(c.get("result") in ("valid", "invalid", "acceptable"), f"tc {i}: bad result")
        need(("error" in c) == (c["result"] != "valid"), f"tc {i}: error iff not valid")
        for fl in c.get("flags", []):
            need(fl in notes, f"tc {i}: flag {fl!r} not in notes")
        # the R-CRY-* ids the case exercises (tools/gen-vectors/reqs.c); each must be defined
        reqs = c.get("requirements")
        need(isinstance(reqs, list) and reqs, f"tc {i}: requirements missing or empty")
        for r in reqs:
            need(isinstance(r, str) and r.startswith("R-CRY-"), f"tc {i}: bad requirement id {r!r}")
            need(not SPEC_CRY or r in SPEC_CRY, f"tc {i}: requirement {r} is not defined in spec/crypto.md")
        need(len(set(reqs)) == len(reqs), f"tc {i}: repeated requirement id")


def main(argv):
    folder = argv[1] if len(argv) > 1 else HERE
    files = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    total_ok = total_bad = 0
    for name in files:
        layer = name[:-5]
        ok = bad = 0
        msgs = []
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                doc = json.load(fh)
            check_header(doc, layer)
        except Exception as e:  # noqa: BLE001 - any broken file is one failure
            print(f"{name}: unreadable or bad header: {e}")
            total_bad += 1
            continue
        fn = CHECKERS.get(layer)
        if fn is None:
            print(f"{name}: unknown layer (no checker): {len(doc['tests'])} cases counted as failed")
            total_bad += len(doc["tests"]) or 1
            continue
        for c in doc["tests"]:
            try:
                fn(c, layer)
                check_result_policy(c, layer)
                ok += 1
            except Mismatch as e:
                bad += 1
                msgs.append(f"  tc {c.get('tc_id')} {c.get('label')}: {e}")
            except Exception as e:  # noqa: BLE001
                bad += 1
                tb = traceback.extract_tb(e.__traceback__)[-1]
                msgs.append(f"  tc {c.get('tc_id')} {c.get('label')}: {type(e).__name__}: {e} "
                            f"({os.path.basename(tb.filename)}:{tb.lineno})")
        print(f"{name}: {ok} passed, {bad} failed")
        for m in msgs:
            print(m)
        total_ok += ok
        total_bad += bad
    print(f"{total_ok} passed, {total_bad} failed")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
