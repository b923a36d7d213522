"""Cases for the upstream differential (see run.py): valid and mutated VCs, VPs and ZCAP
invocations built with harmony_conformance.crypto. Writes <workdir>/cases.json."""
import sys, json, os, random
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
from harmony_conformance.crypto import keys, proofs, didkey, base58
from harmony_conformance.crypto.jsjson import stringify, parse
random.seed(5)
A = keys.identity_from_seed(bytes(range(1, 33)))
B = keys.identity_from_seed(bytes(range(2, 34)))
SMALL = didkey.did_from_public(bytes.fromhex("ec" + "ff" * 30 + "7f"))
T0 = "2025-01-01T00:00:00.000Z"; T1 = "2025-01-01T00:00:01.000Z"
NOW = 1735689602000
cases = []
def add(kind, obj_or_text, now=NOW, chain=None):
    t = obj_or_text if isinstance(obj_or_text, str) else stringify(obj_or_text)
    c = {"kind": kind, "text": t, "now": now}
    if chain is not None:
        c["chain"] = chain if isinstance(chain, str) else stringify(chain)
    cases.append(c)

def vcs():
    out = []
    out.append(proofs.issue_vc(A.did, A.seed, A.did, "IdentityAssertion", {"type": "IdentityAssertion"}, T0))
    out.append(proofs.issue_vc(A.did, A.seed, B.did, "M", {"1": "x", "0": "y", "b": [1e21, -0.0, 1.5e-7], "s": "\u2028\ud800\x01é"}, T0))
    for exp in ["2030-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z", "soon", "2025-01-01", "2025-01-01T00:00:01Z", "2025-01-01T00:00:03.000+00:00"]:
        out.append(proofs.issue_vc(A.did, A.seed, A.did, "T", {}, T0, expiration_date=exp))
    return out

def mutate(o):
    o = parse(stringify(o))
    r = random.randrange(14)
    if r == 0 and "proof" in o: o["proof"]["proofValue"] = random.choice("QAz1") + o["proof"]["proofValue"][1:]
    elif r == 1 and "proof" in o: o["proof"]["proofPurpose"] = random.choice(["authentication", "x", 5])
    elif r == 2: o = dict(reversed(list(o.items())))
    elif r == 3 and "proof" in o: o["proof"]["proofValue"] = o["proof"]["proofValue"] + "0"
    elif r == 4 and "proof" in o: del o["proof"]["created"]
    elif r == 5: o["extra"] = {"z": None}
    elif r == 6 and "proof" in o:
        doc = didkey.resolve(A.did); o["proof"]["verificationMethod"] = doc["verificationMethod"][1]["id"]
    elif r == 7 and "issuer" in o: o["issuer"] = random.choice([B.did, "did:web:x", "", SMALL])
    elif r == 8 and "type" in o: o["type"] = random.choice(["VerifiableCredential", ["X"], "VerifiableCredentialX"])
    elif r == 9 and "credentialSubject" in o: o["credentialSubject"] = random.choice([{}, {"id": ""}, "s"])
    elif r == 10 and "proof" in o: o["proof"]["proofValue"] = "z" + base58.encode(bytes(64))
    elif r == 11 and "proof" in o: o["proof"]["proofValue"] = "z"
    elif r == 12: o["expirationDate"] = random.choice([0, 1, "", "2000-01-01T00:00:00Z", None, True, 1735689601999])
    elif r == 13: o.pop(random.choice(list(o.keys())))
    return o

for v in vcs():
    add("vc", v)
    for _ in range(40):
        add("vc", mutate(v))
    t = stringify(v)
    add("vc", t.replace('"issuer":', '"issuer":"did:web:x","issuer":', 1))
    add("vc", t.replace('{"@context"', '{"issuer":"did:web:y","@context"', 1))

# forged small-order VC and VP
forged_proof = {"type": "Ed25519Signature2020", "created": T1, "verificationMethod": didkey.verification_method(SMALL),
                "proofPurpose": "authentication", "proofValue": "z" + base58.encode(bytes([1]) + bytes(63))}
add("vc", {"@context": [proofs.VC_CONTEXT], "id": "x", "type": ["VerifiableCredential"], "issuer": SMALL,
           "issuanceDate": T0, "credentialSubject": {"id": SMALL}, "proof": forged_proof})
good = vcs()
for creds in ([], [good[0]], [good[0], good[1]], [good[3]], [good[4]], [good[5]]):
    vp = proofs.create_vp(A.did, A.seed, creds, T1)
    add("vp", vp)
    for _ in range(25):
        add("vp", mutate(vp))
add("vp", {"@context": [proofs.VC_CONTEXT], "type": ["VerifiablePresentation"], "holder": SMALL,
           "verifiableCredential": [], "proof": forged_proof})
add("vp", {"@context": [proofs.VC_CONTEXT], "type": ["VerifiablePresentation"], "holder": SMALL, "proof": forged_proof})

# zcap
SEND = proofs.VOCAB + "SendMessage"
root = proofs.create_root(A.did, A.seed, {"community": "c1"}, [proofs.VOCAB + a for a in proofs.HARMONY_ACTIONS], T0, id_hex="aa"*16)
child = proofs.delegate(root, A.seed, B.did, [SEND], {"community": "c1"}, T0, id_hex="bb"*16)
child_cav = proofs.delegate(root, A.seed, B.did, [SEND], {}, T0, id_hex="cc"*16,
                            caveats=[{"type": "harmony:Expiry", "value": "2025-01-01T00:00:01.000Z"}, {"type": "other", "value": 1}])
child_cav2 = proofs.delegate(root, A.seed, B.did, [SEND], {}, T0, id_hex="dd"*16,
                            caveats=[{"type": "harmony:Expiry", "value": "garbage"}])
for ch in ([child, root], [child], [root, child], [child_cav, root], [child_cav2, root], [child, child]):
    inv = proofs.invoke(ch[0], B.seed, SEND, "t", T1)
    add("zcap", inv, chain=ch)
    for _ in range(15):
        add("zcap", mutate(inv), chain=ch)
        mc = [mutate(x) if random.random() < 0.5 else x for x in ch]
        add("zcap", inv, chain=mc)
rinv = proofs.invoke(root, A.seed, proofs.VOCAB + "BanUser", "t", T1)
add("zcap", rinv, chain=[root])
fake = {"@context": [proofs.ZCAP_CONTEXT], "id": "f", "invoker": SMALL, "delegator": SMALL, "allowedAction": ["a"], "scope": {},
        "proof": dict(forged_proof, proofPurpose="capabilityDelegation")}
finv = {"capability": "f", "invoker": SMALL, "action": "a", "target": "t", "proof": dict(forged_proof, proofPurpose="capabilityInvocation")}
add("zcap", finv, chain=[fake])
ident = didkey.did_from_public((1).to_bytes(32, "little"))
fake2 = dict(fake, invoker=ident, delegator=ident, proof=dict(fake["proof"], verificationMethod=didkey.verification_method(ident)))
finv2 = dict(finv, invoker=ident, proof=dict(finv["proof"], verificationMethod=didkey.verification_method(ident)))
add("zcap", finv2, chain=[fake2])
json.dump(cases, open(os.path.join(sys.argv[1], 'cases.json'), 'w'))
print(len(cases))
