"""crypto/workervp.py: the cloud worker's login VP (signature over JSON.stringify(VP without proof))."""
import base64
import json
import os

import pytest

from harmony_conformance.crypto import proofs, workervp
from harmony_conformance.identities import Identities

CAPTURES = "/work/shared/upstream/cloudworker-captures"


def ident(name):
    return Identities("workervp-test").get(name)


def test_workervp_create_verify_roundtrip():
    a = ident("alice")
    vp = workervp.create_vp(a.did, a.seed32, [a.credential()], "2026-01-01T00:00:00.000Z")
    assert workervp.verify(vp) == a.did
    assert vp["proof"]["type"] == "Ed25519Signature2020"
    assert len(base64.b64decode(vp["proof"]["proofValue"])) == 64


def test_workervp_signature_covers_the_vp_without_proof_only():
    a = ident("alice")
    vp = workervp.create_vp(a.did, a.seed32, [], "t")
    vp["proof"]["created"] = "another time"          # proof fields other than proofValue are not signed
    vp["proof"]["proofPurpose"] = "anything"
    assert workervp.verify(vp) == a.did
    vp2 = json.loads(json.dumps(vp))
    vp2["verifiableCredential"] = [{"x": 1}]          # the body is signed
    assert workervp.verify(vp2) is None


def test_workervp_key_order_is_part_of_the_signing_input():
    a = ident("alice")
    vp = workervp.create_vp(a.did, a.seed32, [], "t")
    reordered = {"holder": vp["holder"], "@context": vp["@context"], "type": vp["type"],
                 "verifiableCredential": vp["verifiableCredential"], "proof": vp["proof"]}
    assert workervp.verify(reordered) is None


def test_workervp_refuses_bad_signature_impersonation_and_wrong_proof_type():
    a, m = ident("alice"), ident("mallory")
    vp = workervp.create_vp(a.did, a.seed32, [], "t")
    sig = bytearray(base64.b64decode(vp["proof"]["proofValue"]))
    sig[5] ^= 1
    bad = dict(vp, proof=dict(vp["proof"], proofValue=base64.b64encode(bytes(sig)).decode()))
    assert workervp.verify(bad) is None
    forged = workervp.sign(dict(vp, holder=a.did), m.seed32)   # alice as holder, mallory's key
    assert workervp.verify(forged) is None
    assert workervp.verify(dict(vp, proof=dict(vp["proof"], type="JsonWebSignature2020"))) is None
    assert workervp.verify(dict(vp, holder="did:web:example.com")) is None


def test_workervp_unpadded_base64_is_accepted():
    a = ident("alice")
    vp = workervp.create_vp(a.did, a.seed32, [], "t")
    vp["proof"]["proofValue"] = vp["proof"]["proofValue"].rstrip("=")
    assert workervp.verify(vp) == a.did


def test_workervp_differs_from_the_runtime_servers_rule():
    a = ident("alice")
    server_vp = a.presentation()
    assert proofs.verify_vp(server_vp).valid
    assert workervp.verify(server_vp) is None


def _captured_vps(name):
    out = []
    with open(os.path.join(CAPTURES, name), encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            f = r.get("frame")
            if r["dir"] == "c2s" and isinstance(f, dict) and isinstance(f.get("type"), list):
                out.append((r["conn"], f))
    return out


@pytest.mark.skipif(not os.path.isdir(CAPTURES), reason="upstream cloud-worker captures not present")
def test_workervp_agrees_with_the_recorded_worker_sessions():
    """VPs recorded against the real worker: the accepted ones verify, the refused ones do not."""
    ok = _captured_vps("01-handshake-vp-ok.jsonl")
    assert ok and all(workervp.verify(vp) == vp["holder"] for _, vp in ok)
    for name, conns in (("02-auth-bad-signature.jsonl", None), ("04-auth-server-format-raw-vp.jsonl", None),
                        ("05-auth-variants.jsonl", {"b-didweb", "c-impersonate"})):
        refused = [(c, vp) for c, vp in _captured_vps(name) if conns is None or c in conns]
        assert refused, name
        assert all(workervp.verify(vp) is None for _, vp in refused), name
    accepted = [vp for c, vp in _captured_vps("05-auth-variants.jsonl") if c in ("d-vc-unsigned", "f-binary")]
    assert accepted and all(workervp.verify(vp) == vp["holder"] for vp in accepted)
