"""VC / VP / ZCAP: the protocol-facts 2.1 known answers, the signing rule, both profiles."""

import pytest

from harmony_conformance.crypto import base58, didkey, keys, proofs
from harmony_conformance.crypto.jsjson import UNDEFINED, parse, stringify

SEED = bytes(range(1, 33))
DID = "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7"
VM = DID + "#" + DID[8:]
T0 = "2025-01-01T00:00:00.000Z"
T1 = "2025-01-01T00:00:01.000Z"
VC_PV = "z5P238KUFMgB7W2uzHkgigLvpmHSyMybh4WjiNEREHLDGRBHBPWLJ4DUXHE4vNsvnvJKLHDhkksfTKHDrDEtwynx5"
VP_PV = "z2omZpCcc5GL1qHE8dWJ1UNpBjybmkQ8m5nLi8Nyi6vBvsBrQDRr1PaNL1zThc4ZtiXpaV6m112Xrh44vSBgfuydU"
NOW = proofs.parse_js_date("2025-01-01T00:00:02.000Z")


@pytest.fixture
def vc():
    return proofs.issue_vc(DID, SEED, DID, "IdentityAssertion", {"type": "IdentityAssertion"}, T0,
                           id_hex="0" * 31 + "1")


@pytest.fixture
def vp(vc):
    return proofs.create_vp(DID, SEED, [vc], T1)


def test_vc_known_answer(vc):
    body = ('{"@context":["https://www.w3.org/2018/credentials/v1"],"id":"urn:uuid:00000000000000000000000000000001",'
            '"type":["VerifiableCredential","IdentityAssertion"],"issuer":"%s","issuanceDate":"%s",'
            '"credentialSubject":{"id":"%s","type":"IdentityAssertion"}' % (DID, T0, DID))
    si = body + ',"proofPurpose":"assertionMethod","created":"%s","verificationMethod":"%s"}' % (T0, VM)
    assert proofs.signing_input(proofs.without_proof(vc), "assertionMethod", T0, VM) == si.encode()
    assert vc["proof"] == {"type": "Ed25519Signature2020", "created": T0, "verificationMethod": VM,
                           "proofPurpose": "assertionMethod", "proofValue": VC_PV}
    assert list(vc["proof"]) == ["type", "created", "verificationMethod", "proofPurpose", "proofValue"]
    assert stringify(vc) == body + ',"proof":' + stringify(vc["proof"]) + "}"


def test_vp_known_answer_and_1104_byte_signing_input(vp):
    assert vp["proof"]["proofValue"] == VP_PV
    assert len(proofs.signing_input(proofs.without_proof(vp), "authentication", T1, VM)) == 1104
    assert list(vp) == ["@context", "type", "holder", "verifiableCredential", "proof"]


def test_both_verify_under_both_profiles(vc, vp):
    assert proofs.verify_vc(vc, NOW).valid
    assert proofs.verify_vc(vc, NOW, profile=proofs.HARDENED).valid
    assert proofs.verify_vp(vp, NOW).valid
    assert proofs.authenticate_vp(vp, NOW) == (DID, None)
    assert proofs.authenticate_vp(stringify(vp), NOW, profile=proofs.HARDENED) == (DID, None)


def test_key_order_sensitivity(vc):
    reordered = {k: vc[k] for k in ["id", "@context", "type", "issuer", "issuanceDate", "credentialSubject", "proof"]}
    assert not proofs.verify_vc(reordered, NOW).valid
    # whitespace on the wire and the position of "proof" do not matter
    text = stringify(vc)
    moved = '{"proof":' + stringify(vc["proof"]) + "," + text[1:text.index(',"proof"')] + "}"
    assert proofs.verify_vc(parse(moved), NOW).valid
    assert proofs.verify_vc(parse(text.replace(",", " ,\n ")), NOW).valid


def test_proof_purpose_overwritten_in_place():
    data = {"a": 1, "proofPurpose": "x", "b": 2}
    assert proofs.signing_input(data, "p", "c", "v") == b'{"a":1,"proofPurpose":"p","b":2,"created":"c","verificationMethod":"v"}'
    assert proofs.signing_input({"a": 1}, UNDEFINED, "c", UNDEFINED) == b'{"a":1,"created":"c"}'


def test_compat_quirks_vs_hardened(vc):
    # first character of proofValue is not checked upstream
    x = parse(stringify(vc))
    x["proof"]["proofValue"] = "Q" + x["proof"]["proofValue"][1:]
    assert proofs.verify_vc(x, NOW).valid
    assert not proofs.verify_vc(x, NOW, profile=proofs.HARDENED).valid
    # purpose is not checked upstream
    y = proofs.issue_vc(DID, SEED, DID, "T", {}, T0)
    y2 = dict(y)
    p = proofs.create_proof(proofs.without_proof(y), SEED, VM, "capabilityDelegation", T0)
    y2["proof"] = p
    assert proofs.verify_vc(y2, NOW).valid and not proofs.verify_vc(y2, NOW, profile=proofs.HARDENED).valid
    # unparseable expiry never expires upstream; hardened refuses it
    z = proofs.issue_vc(DID, SEED, DID, "T", {}, T0, expiration_date="soon")
    assert proofs.verify_vc(z, NOW).valid and not proofs.verify_vc(z, NOW, profile=proofs.HARDENED).valid
    e = proofs.issue_vc(DID, SEED, DID, "T", {}, T0, expiration_date="2025-01-01T00:00:01.000Z")
    r = proofs.verify_vc(e, NOW)
    assert not r.valid and r.failed()[0][0] == "expiration"
    assert proofs.authenticate_vp(proofs.create_vp(DID, SEED, [e], T1), NOW) == (None, "Expired VC")


def test_claim_id_keeps_first_position():
    v = proofs.issue_vc(DID, SEED, "did:x", "T", {"role": "a", "id": "over"}, T0)
    assert list(v["credentialSubject"]) == ["id", "role"] and v["credentialSubject"]["id"] == "over"


def test_expiration_after_subject_and_escapes_verify():
    v = proofs.issue_vc(DID, SEED, DID, "T", {"n": "\u2028\x01/\ud800é"}, T0, expiration_date="2030-01-01T00:00:00.000Z")
    assert list(v)[-2:] == ["expirationDate", "proof"]
    assert proofs.verify_vc(parse(stringify(v)), NOW).valid


def test_vp_login_rules(vc):
    empty = proofs.create_vp(DID, SEED, [], T1)
    assert proofs.authenticate_vp(empty, NOW) == (DID, None)  # upstream accepts no credentials
    assert proofs.authenticate_vp(empty, NOW, profile=proofs.HARDENED)[0] is None
    other = keys.identity_from_seed(bytes(32))
    foreign = proofs.issue_vc(other.did, other.seed, other.did, "IdentityAssertion", {}, T0)
    vp2 = proofs.create_vp(DID, SEED, [foreign], T1)
    assert proofs.authenticate_vp(vp2, NOW) == (DID, None)  # subject never compared upstream
    assert proofs.authenticate_vp(vp2, NOW, profile=proofs.HARDENED) == (None, "SUBJECT_MISMATCH")
    seen = set()
    good = proofs.create_vp(DID, SEED, [vc], T1)
    assert proofs.authenticate_vp(good, NOW, profile=proofs.HARDENED, seen=seen) == (DID, None)
    assert proofs.authenticate_vp(good, NOW, profile=proofs.HARDENED, seen=seen) == (None, "REPLAY")
    assert proofs.authenticate_vp(good, NOW + 301_000, profile=proofs.HARDENED) == (None, "STALE")
    dup = stringify(good).replace('"holder":', '"holder":"x","holder":', 1)
    assert proofs.authenticate_vp(dup, NOW, profile=proofs.HARDENED) == (None, "DUPLICATE_KEY")
    tampered = parse(stringify(good))
    tampered["holder"] = other.did
    assert proofs.authenticate_vp(tampered, NOW) == (None, "Invalid VP")


def test_small_order_did_forges_anything_in_compat_only():
    small = bytes.fromhex("ec" + "ff" * 30 + "7f")
    did = didkey.did_from_public(small)
    forged = {"@context": [proofs.VC_CONTEXT], "type": ["VerifiablePresentation"], "holder": did,
              "verifiableCredential": [],
              "proof": {"type": proofs.PROOF_TYPE, "created": T1, "verificationMethod": proofs.didkey.verification_method(did),
                        "proofPurpose": "authentication", "proofValue": "z" + base58.encode(bytes([1]) + bytes(63))}}
    assert proofs.authenticate_vp(forged, NOW) == (did, None)
    assert proofs.authenticate_vp(forged, NOW, profile=proofs.HARDENED)[0] is None


@pytest.mark.parametrize("s,ms", [
    ("2025-01-01T00:00:00.000Z", 1735689600000), ("2025-01-01T00:00:00Z", 1735689600000),
    ("2025-01-01T01:00:00+01:00", 1735689600000), ("2025-06-01T12:00:00.000Z", 1748779200000),
    # V8 tolerances (values from Node's new Date(s).getTime())
    ("2025-02-30", 1740873600000), ("2025-01-01T24:00:00Z", 1735776000000), ("2025", 1735689600000),
    ("2025-01-01T00:00:00.123456Z", 1735689600123),
    ("2025-13-01", None), ("not a date", None), ("2025-01-01T00:00:60Z", None), ("-000000-01-01T00:00:00Z", None),
])
def test_js_date_parse(s, ms):
    assert proofs.parse_js_date(s) == ms


@pytest.mark.parametrize("s,ok", [("2025-01-01T00:00:00.000Z", True), ("2025-01-01T00:00:00Z", True),
                                  ("2024-02-29T00:00:00+05:30", True), ("2025-02-29T00:00:00Z", False),
                                  ("2025-01-01t00:00:00Z", False), ("2025-01-01", False),
                                  ("2025-01-01T24:00:00Z", False), ("2025-01-01T00:00:00.1234567890Z", False)])
def test_rfc3339_strict_dates(s, ok):
    assert (proofs.parse_rfc3339(s) is not None) == ok


# ------------------------------------------------------------------------------------- ZCAP

ALICE = keys.identity_from_seed(SEED)
BOB = keys.identity_from_seed(bytes(range(2, 34)))
SEND = proofs.VOCAB + "SendMessage"


@pytest.fixture
def chain():
    root = proofs.create_root(ALICE.did, ALICE.seed, {"community": "c1"},
                              [proofs.VOCAB + a for a in proofs.HARMONY_ACTIONS], T0, id_hex="aa" * 16)
    child = proofs.delegate(root, ALICE.seed, BOB.did, [SEND], {"community": "c1"}, T0, id_hex="bb" * 16)
    inv = proofs.invoke(child, BOB.seed, SEND, "c1:channel:0", T1)
    return root, child, inv


def test_zcap_shapes(chain):
    root, child, inv = chain
    assert list(root) == ["@context", "id", "invoker", "delegator", "allowedAction", "scope", "proof"]
    assert list(child) == ["@context", "id", "parentCapability", "invoker", "delegator", "allowedAction", "scope", "proof"]
    assert "caveats" not in stringify(child)  # no caveats: the key is omitted
    assert list(inv) == ["capability", "invoker", "action", "target", "proof"]
    assert inv["proof"]["proofPurpose"] == "capabilityInvocation" and child["proof"]["proofPurpose"] == "capabilityDelegation"
    assert len(proofs.HARMONY_ACTIONS) == 28


def test_zcap_verify_both_profiles(chain):
    root, child, inv = chain
    assert proofs.verify_invocation(inv, [child, root], NOW).valid
    r = proofs.verify_invocation(stringify(inv), stringify([child, root]), NOW, profile=proofs.HARDENED,
                                 trusted_roots={root["id"]}, caller_did=BOB.did)
    assert r.valid, r.failed()
    assert not proofs.verify_invocation(inv, [child, root], NOW, profile=proofs.HARDENED, trusted_roots=set()).valid
    assert not proofs.verify_invocation(inv, [child, root], NOW, profile=proofs.HARDENED,
                                        trusted_roots={root["id"]}, caller_did=ALICE.did).valid


def test_zcap_compat_does_not_need_the_root(chain):
    root, child, inv = chain
    # upstream: a parentless chain of just the child fails only the linkage check
    r = proofs.verify_invocation(inv, [child], NOW)
    assert [c[0] for c in r.failed()] == ["chainLink:" + child["id"]]
    # upstream: no attenuation at verify time; a self-made "root" signed by anyone verifies
    fake = proofs.create_root(BOB.did, BOB.seed, {}, ["anything"], T0)
    finv = proofs.invoke(fake, BOB.seed, "anything", "t", T1)
    assert proofs.verify_invocation(finv, [fake], NOW).valid
    assert not proofs.verify_invocation(finv, [fake], NOW, profile=proofs.HARDENED, trusted_roots={root["id"]}).valid


def test_zcap_attenuation_errors(chain):
    root, child, _ = chain
    with pytest.raises(proofs.ProofError, match="Cannot widen actions beyond parent capability"):
        proofs.delegate(child, BOB.seed, ALICE.did, [proofs.VOCAB + "BanUser"], {}, T0)
    with pytest.raises(proofs.ProofError, match="Cannot widen scope beyond parent capability"):
        proofs.delegate(child, BOB.seed, ALICE.did, [SEND], {"channel": "x"}, T0)
    with pytest.raises(proofs.ProofError, match="Cannot widen scope beyond parent capability"):
        proofs.delegate(child, BOB.seed, ALICE.did, [SEND], {"community": "c2"}, T0)
    nested = proofs.create_root(ALICE.did, ALICE.seed, {"o": {"a": 1}}, [SEND], T0)
    with pytest.raises(proofs.ProofError):  # === on objects: a parsed copy is never identical
        proofs.delegate(nested, ALICE.seed, BOB.did, [SEND], {"o": {"a": 1}}, T0)
    proofs.delegate(nested, ALICE.seed, BOB.did, [SEND], {"o": nested["scope"]["o"]}, T0)  # same object passes


def test_zcap_expiry_caveat(chain):
    root, _, _ = chain
    c = proofs.delegate(root, ALICE.seed, BOB.did, [SEND], {}, T0,
                        caveats=[{"type": "harmony:Expiry", "value": "2025-01-01T00:00:01.000Z"}])
    inv = proofs.invoke(c, BOB.seed, SEND, "t", T1)
    r = proofs.verify_invocation(inv, [c, root], NOW)
    assert not r.valid and r.failed()[0][0] == "expiryCaveat"
    c2 = proofs.delegate(root, ALICE.seed, BOB.did, [SEND], {}, T0, caveats=[{"type": "harmony:Expiry", "value": "never"}])
    inv2 = proofs.invoke(c2, BOB.seed, SEND, "t", T1)
    assert proofs.verify_invocation(inv2, [c2, root], NOW).valid
    assert not proofs.verify_invocation(inv2, [c2, root], NOW, profile=proofs.HARDENED, trusted_roots={root["id"]}).valid


def test_zcap_revocation_stops_at_once(chain):
    root, child, inv = chain
    r = proofs.verify_invocation(inv, [child, root], NOW, revoked={child["id"]})
    assert not r.valid and r.checks[-1][0] == "chainRevocation:" + child["id"]


def test_zcap_kept_caveats_option(chain):
    root, _, _ = chain
    bob = proofs.delegate(root, ALICE.seed, BOB.did, [SEND], {}, T0, id_hex="11" * 16,
                          caveats=[{"type": "harmony:Expiry", "value": "2030-01-01T00:00:00.000Z"}])
    carol = keys.identity_from_seed(bytes(range(3, 35)))
    dropped = proofs.delegate(bob, BOB.seed, carol.did, [SEND], {}, T0, id_hex="22" * 16)
    inv = proofs.invoke(dropped, carol.seed, SEND, "t", T1)
    anchors = {root["id"]}
    # the spec applies bob's caveat anyway (R-CRY-ZCAP-12); libharmony also refuses the drop
    assert proofs.verify_invocation(inv, [dropped, bob, root], NOW, profile=proofs.HARDENED, trusted_roots=anchors).valid
    r = proofs.verify_invocation(inv, [dropped, bob, root], NOW, profile=proofs.HARDENED, trusted_roots=anchors,
                                 require_kept_caveats=True)
    assert not r.valid and r.failed()[0][2] == "ATTENUATION"
