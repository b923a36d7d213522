#!/usr/bin/python3
"""harmony-crypto against the committed vectors: every op that a vector layer covers is run
on the vector's inputs and must print the vector's outputs (and verdicts, per profile).

usage: test_tool_vectors.py TOOL VECTORDIR
This ties the auditor tool's contract (field names, hex, exact JSON strings, exit codes) to
the same known answers the C library and the independent Python checker are held to."""
import json
import subprocess
import sys

TOOL, VDIR = sys.argv[1], sys.argv[2]
count = fails = 0
per_op = {}


def run(op, obj):
    p = subprocess.run([TOOL, op], input=json.dumps(obj).encode(), capture_output=True, timeout=60)
    out = json.loads(p.stdout) if p.stdout.strip() else None
    return p.returncode, out


def check(where, op, ok, detail=""):
    global count, fails
    count += 1
    per_op.setdefault(op, [0, 0])
    per_op[op][0] += 1
    if not ok:
        fails += 1
        per_op[op][1] += 1
        print(f"FAIL {where} ({op}): {detail}")


def expect(where, op, obj, want):
    rc, out = run(op, obj)
    check(where, op, rc == 0 and out == want, f"rc={rc} got={out} want={want}")


def expect_error(where, op, obj, code):
    rc, out = run(op, obj)
    check(where, op, rc == 1 and out and out.get("error") == code, f"rc={rc} got={out} want error {code}")


def load(name):
    with open(f"{VDIR}/{name}.json", encoding="utf-8") as f:
        return json.load(f)["tests"]


def verdicts(where, op, obj, case):
    for prof in ("compat", "hardened"):
        o = dict(obj, profile=prof)
        expect(f"{where} {prof}", op, o, case[prof])


def without_proof(doc_text):
    d = json.loads(doc_text)  # Python dicts keep order; our documents have no duplicate keys
    proof = d.pop("proof")
    return json.dumps(d, ensure_ascii=False, separators=(",", ":")), proof


# ---- primitives and codecs
for t in load("ed25519"):
    w = f"ed25519 tc {t['tc_id']}"
    if t["op"] == "sign":
        expect(w, "ed25519-sign", {"seed32": t["seed32"], "message": t["message"]}, {"signature": t["signature"]})
    for mode in ("strict", "zip215"):
        want = {"valid": t[mode] == "valid",
                "reason": None if t[mode] == "valid" else (t.get("strict_error") if mode == "strict" else None)}
        rc, out = run("ed25519-verify", {"public_key": t["public_key"], "message": t["message"],
                                         "signature": t["signature"], "mode": mode})
        ok = rc == 0 and out["valid"] == want["valid"] and (mode == "zip215" or out["reason"] == want["reason"])
        check(f"{w} {mode}", "ed25519-verify", ok, f"got={out} want={want}")
for t in load("x25519"):
    w = f"x25519 tc {t['tc_id']}"
    if t["op"] != "x25519":
        continue
    obj = {"secret_key": t["secret_key"], "public_key": t["public_key"]}
    if t["result"] == "valid":
        expect(w, "x25519", obj, {"shared_secret": t["shared_secret"]})
    else:
        expect_error(w, "x25519", obj, t["error"])
for t in load("hkdf"):
    w = f"hkdf tc {t['tc_id']}"
    obj = {k: t[k] for k in ("ikm", "salt", "info", "length")}
    if t["result"] == "valid":
        expect(w, "hkdf", obj, {"okm": t["okm"]})
    else:
        expect_error(w, "hkdf", obj, t["error"])
for t in load("aead"):
    w = f"aead tc {t['tc_id']}"
    pre = "xchacha" if t["aead"] == "xchacha20poly1305" else "aes256gcm"
    if t["op"] == "seal":
        expect(w, pre + "-seal", {"key": t["key"], "nonce": t["nonce"], "plaintext": t["plaintext"]},
               {"ciphertext": t["ciphertext"]})
    else:
        obj = {"key": t["key"], "nonce": t["nonce"], "ciphertext": t["ciphertext"]}
        if t["result"] == "valid":
            expect(w, pre + "-open", obj, {"plaintext": t["plaintext"]})
        else:
            expect_error(w, pre + "-open", obj, t["error"])
for t in load("codecs"):
    if t["codec"] != "base58btc-upstream" and not (t["codec"] == "base58btc" and t["result"] == "invalid"):
        continue
    w = f"codecs tc {t['tc_id']}"
    if t["direction"] == "encode":
        expect(w, "base58-encode", {"bytes": t["bytes"]}, {"encoded": t["text"]})
    elif t["result"] == "valid":
        expect(w, "base58-decode", {"encoded": t["text"]}, {"bytes": t["bytes"]})
    else:
        expect_error(w, "base58-decode", {"encoded": t["text"]}, t["error"])
for t in load("json-stringify"):
    w = f"json-stringify tc {t['tc_id']}"
    if t["result"] == "invalid" and "DepthLimit" not in t["flags"]:
        expect_error(w, "stringify", {"json": t["input"]}, t["error"])
    elif "DepthLimit" in t["flags"]:
        expect_error(w, "stringify", {"json": t["input"]}, "JSON_TOO_DEEP")  # the tool keeps the depth limit
    else:
        expect(w, "stringify", {"json": t["input"]}, {"json": t["output"]})

# ---- identity
for t in load("bip39"):
    w = f"bip39 tc {t['tc_id']}"
    if t["op"] == "entropy-mnemonic":
        if t["result"] == "valid":
            expect(w, "entropy-mnemonic", {"entropy": t["entropy"]}, {"mnemonic": t["mnemonic"]})
        else:
            expect_error(w, "entropy-mnemonic", {"entropy": t["entropy"]}, t["error"])
        continue
    if t["result"] == "invalid":
        expect_error(w, "mnemonic-keys", {"mnemonic": t["mnemonic"]}, t["error"])
        continue
    rc, out = run("mnemonic-keys", {"mnemonic": t["mnemonic"]})
    keys = ("seed64", "seed32", "ed25519_public_key", "x25519_secret_key", "x25519_public_key", "did")
    check(w, "mnemonic-keys", rc == 0 and all(out[k] == t[k] for k in keys), f"rc={rc} out={out}")
    rc2, doc = run("did-resolve", {"did": t["did"]})
    check(w + " document", "mnemonic-keys", rc2 == 0 and out.get("did_document") == doc["did_document"])
for t in load("did-document"):
    w = f"did-document tc {t['tc_id']}"
    if t["compat"]["valid"]:
        expect(w, "did-resolve", {"did": t["did"]}, {"did_document": t["did_document"]})
    else:
        expect_error(w, "did-resolve", {"did": t["did"]}, t["compat"]["reason"])

# ---- VC / VP / ZCAP
for t in load("vc"):
    w = f"vc tc {t['tc_id']}"
    if t["op"] == "issue":
        unsigned, proof = without_proof(t["credential"])
        expect(w, "vc-issue", {"issuer_seed32": t["issuer_seed32"], "credential": unsigned,
                               "created": proof["created"]}, {"credential": t["credential"]})
        expect(w, "signing-input", {"document": t["credential"]}, {"signing_input": t["signing_input"]})
    else:
        verdicts(w, "vc-verify", {"credential": t["credential"], "now": t["now"]}, t)
for t in load("vp"):
    w = f"vp tc {t['tc_id']}"
    if t["op"] == "create":
        unsigned, proof = without_proof(t["presentation"])
        expect(w, "vp-create", {"holder_seed32": t["holder_seed32"], "presentation": unsigned,
                                "created": proof["created"]}, {"presentation": t["presentation"]})
        expect(w, "signing-input", {"document": t["presentation"]}, {"signing_input": t["signing_input"]})
    else:
        verdicts(w, "vp-verify", {"presentation": t["presentation"], "now": t["now"]}, t)
for t in load("zcap"):
    w = f"zcap tc {t['tc_id']}"
    if t["op"] == "verify":
        verdicts(w, "zcap-verify", {"invocation": t["invocation"], "chain": t["chain"], "now": t["now"]}, t)
    elif t["result"] == "valid":
        doc = t["invocation"] if t["op"] == "invoke" else t["capability"]
        expect(w, "signing-input", {"document": doc}, {"signing_input": t["signing_input"]})

# ---- DM, tokens, HTTP signatures, MLS
for t in load("dm"):
    w = f"dm tc {t['tc_id']}"
    if t["op"] == "dm":
        expect(w, "dm-key", {"my_x25519_secret_key": t["alice_x25519_secret_key"],
                             "their_x25519_public_key": t["bob_x25519_public_key"]}, {"key": t["key"]})
        expect(w, "dm-encrypt", {"key": t["key"], "nonce": t["nonce"], "plaintext": t["plaintext"]},
               {"ciphertext": t["ciphertext"]})
    elif t["op"] == "open":
        obj = {"key": t["key"], "nonce": t["nonce"], "ciphertext": t["ciphertext"]}
        if t["result"] == "valid":
            expect(w, "dm-decrypt", obj, {"plaintext": t["plaintext"]})
        else:
            expect_error(w, "dm-decrypt", obj, t["error"])
    elif t["op"] == "provider-key":
        pass
for t in load("session-token"):
    w = f"session-token tc {t['tc_id']}"
    if t["op"] != "issue":
        continue
    obj = {k: t[k] for k in ("server_seed32", "did", "issued_at", "expires_at")}
    if t["result"] == "valid":
        expect(w, "session-token", obj, {"token": t["token"]})
    else:
        expect_error(w, "session-token", obj, t["error"])
for t in load("http-signature"):
    if t["op"] == "sign":
        expect(f"http-signature tc {t['tc_id']}", "http-signature",
               {k: t[k] for k in ("seed32", "did", "timestamp", "method", "url")},
               {"authorization": t["authorization"]})
for t in load("mls-simplified"):
    w = f"mls tc {t['tc_id']}"
    if t["op"] == "keypackage":
        expect(w, "mls-keypackage", {"seed32": t["seed32"], "did": t["did"]},
               {"keypackage": t["keypackage"], "signing_input": t["signing_input"], "signature": t["signature"]})
    elif t["op"] == "epoch-keys":
        expect(w, "mls-epoch-keys", {"epoch_secret": t["epoch_secret"], "epoch": t["epoch"]},
               {"message_key": t["message_key"], "media_key": t["media_key"]})
    elif t["op"] == "advance":
        expect(w, "mls-advance", {"epoch_secret": t["epoch_secret"], "commit_secret": t["commit_secret"]},
               {"epoch_secret": t["new_epoch_secret"]})
    elif t["op"] == "welcome-key":
        expect(w, "mls-welcome-key", {"init_key": t["init_key"]}, {"welcome_key": t["welcome_key"]})

for op in sorted(per_op):
    print(f"  {op:18s} {per_op[op][0] - per_op[op][1]}/{per_op[op][0]}")
print(f"harmony-crypto vs vectors: {count - fails}/{count} checks passed, {len(per_op)} ops exercised")
sys.exit(1 if fails else 0)
