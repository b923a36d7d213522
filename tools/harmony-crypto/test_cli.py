#!/usr/bin/python3
"""Smoke test of the harmony-crypto contract: usage/exit codes, error objects, known answers
that do not depend on our own library (RFC 8032 / RFC 7748 / RFC 5869 test vectors)."""
import json
import subprocess
import sys

TOOL = sys.argv[1]
failures = 0
count = 0


def run(op, obj=None, raw=None):
    data = raw if raw is not None else json.dumps(obj)
    p = subprocess.run([TOOL] + ([op] if op is not None else []), input=data.encode(),
                       capture_output=True, timeout=60)
    out = None
    if p.stdout.strip():
        out = json.loads(p.stdout)
    return p.returncode, out, p.stderr.decode()


def check(name, cond, detail=""):
    global failures, count
    count += 1
    if not cond:
        failures += 1
        print(f"FAIL {name} {detail}")


def expect(name, op, obj, want, rc_want=0):
    rc, out, err = run(op, obj)
    check(name, rc == rc_want and out == want, f"rc={rc} out={out} err={err}")


# usage
hp = subprocess.run([TOOL, "--help"], capture_output=True)
check("help", hp.returncode == 0)
helptext = hp.stdout.decode()
for op in ["mnemonic-keys", "entropy-mnemonic", "base58-encode", "base58-decode", "did-resolve",
           "stringify", "ed25519-sign", "ed25519-verify", "x25519", "hkdf", "xchacha-seal",
           "xchacha-open", "aes256gcm-seal", "aes256gcm-open", "signing-input", "vc-issue",
           "vc-verify", "vp-create", "vp-verify", "zcap-verify", "dm-key", "dm-encrypt",
           "dm-decrypt", "mls-keypackage", "mls-epoch-keys", "mls-advance", "mls-welcome-key",
           "session-token", "http-signature"]:
    check("help lists " + op, op in helptext)
rc, out, err = run("no-such-op", {})
check("unknown op exit 2", rc == 2 and "usage" in err, f"rc={rc}")
rc, out, err = run(None, raw="")
check("no op exit 2", rc == 2)

# input errors
rc, out, _ = run("x25519", raw="{not json")
check("bad json", rc == 1 and out["error"] == "JSON_SYNTAX", str(out))
rc, out, _ = run("x25519", raw='{"secret_key":"00","secret_key":"01"}')
check("dup key", rc == 1 and out["error"] == "JSON_DUPLICATE_KEY", str(out))
rc, out, _ = run("x25519", raw='[1]')
check("not object", rc == 1 and out["error"] == "BAD_STRUCTURE", str(out))
rc, out, _ = run("x25519", {"secret_key": "00" * 32})
check("missing field", rc == 1 and out["error"] == "BAD_STRUCTURE" and "public_key" in out["message"], str(out))
rc, out, _ = run("x25519", {"secret_key": "zz" * 32, "public_key": "00" * 32})
check("bad hex", rc == 1 and out["error"] == "DECODE", str(out))
rc, out, _ = run("x25519", {"secret_key": "00" * 31, "public_key": "00" * 32})
check("bad length", rc == 1 and out["error"] == "INVALID_ARGUMENT", str(out))
rc, out, _ = run("x25519", {"secret_key": "00" * 32, "public_key": "00" * 32, "extra": 1})
check("unknown field", rc == 1 and out["error"] == "INVALID_ARGUMENT", str(out))

# RFC 8032 test 2
seed = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"
pk = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
sig = ("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
       "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")
expect("ed25519-sign rfc8032", "ed25519-sign", {"seed32": seed, "message": "72"}, {"signature": sig})
for mode in ("strict", "zip215"):
    expect("ed25519-verify ok " + mode, "ed25519-verify",
           {"public_key": pk, "message": "72", "signature": sig, "mode": mode}, {"valid": True, "reason": None})
    expect("ed25519-verify bad msg " + mode, "ed25519-verify",
           {"public_key": pk, "message": "73", "signature": sig, "mode": mode},
           {"valid": False, "reason": "BAD_SIGNATURE"})
# order-2 key + (R = identity, S = 0): upstream (zip215) accepts any message, strict refuses
small = "ec" + "ff" * 30 + "7f"
ident_sig = "01" + "00" * 63
rc, out, _ = run("ed25519-verify", {"public_key": small, "message": "68656c6c6f", "signature": ident_sig,
                                     "mode": "zip215"})
check("zip215 small order", rc == 0 and out["valid"] is True, str(out))
rc, out, _ = run("ed25519-verify", {"public_key": small, "message": "68656c6c6f", "signature": ident_sig,
                                     "mode": "strict"})
check("strict small order", rc == 0 and out["valid"] is False, str(out))
expect("ed25519-verify short sig", "ed25519-verify",
       {"public_key": pk, "message": "72", "signature": sig[:-2], "mode": "strict"},
       {"valid": False, "reason": "BAD_SIGNATURE"})

# RFC 7748 6.1
a = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
bpub = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
expect("x25519 rfc7748", "x25519", {"secret_key": a, "public_key": bpub},
       {"shared_secret": "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"})
rc, out, _ = run("x25519", {"secret_key": a, "public_key": "00" * 32})
check("x25519 low order", rc == 1 and out["error"] == "WEAK_KEY", str(out))

# RFC 5869 A.1
expect("hkdf rfc5869", "hkdf", {"ikm": "0b" * 22, "salt": "000102030405060708090a0b0c",
                                "info": "f0f1f2f3f4f5f6f7f8f9", "length": 42},
       {"okm": "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"})
rc, out, _ = run("hkdf", {"ikm": "00", "salt": "", "info": "", "length": 8161})
check("hkdf too long", rc == 1 and out["error"] == "OUT_OF_RANGE", str(out))

# AEAD round trips and tag failures
k = "80" * 32
for op, n in (("xchacha", 24), ("aes256gcm", 12)):
    rc, out, _ = run(op + "-seal", {"key": k, "nonce": "01" * n, "plaintext": "68656c6c6f"})
    check(op + " seal", rc == 0 and len(out["ciphertext"]) == 2 * (5 + 16), str(out))
    ct = out["ciphertext"]
    expect(op + " open", op + "-open", {"key": k, "nonce": "01" * n, "ciphertext": ct}, {"plaintext": "68656c6c6f"})
    bad = ct[:-2] + ("00" if ct[-2:] != "00" else "01")
    rc, out, _ = run(op + "-open", {"key": k, "nonce": "01" * n, "ciphertext": bad})
    check(op + " bad tag", rc == 1 and out["error"] == "AUTH_TAG", str(out))

# base58 upstream quirks
expect("b58 empty", "base58-encode", {"bytes": ""}, {"encoded": "1"})
expect("b58 zero", "base58-encode", {"bytes": "00"}, {"encoded": "11"})
expect("b58 dec 1", "base58-decode", {"encoded": "1"}, {"bytes": "0000"})
expect("b58 dec empty", "base58-decode", {"encoded": ""}, {"bytes": "00"})
expect("b58 hello", "base58-encode", {"bytes": "0068656c6c6f"}, {"encoded": "1Cn8eVZg"})
rc, out, _ = run("base58-decode", {"encoded": "0OIl"})
check("b58 bad", rc == 1 and out["error"] == "DECODE", str(out))

print(f"harmony-crypto cli: {count - failures}/{count} checks passed")
sys.exit(1 if failures else 0)
