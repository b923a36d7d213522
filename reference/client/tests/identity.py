#!/usr/bin/python3
"""Tests of the reference client's identity store (spec crypto.md R-CRY-KEY-13): the store
keeps seed32 only, never the mnemonic or its entropy (in clear, hex, base64 or the BIP-39
seed's second half), in files of mode 0600; `id recover` gives the same DID; a store of an
older version that holds the mnemonic (clear or sealed) is migrated on first load and the
mnemonic wiped from every file; sealing with a passphrase keeps working.

No server is needed: `harmony script` with `whoami` loads the identity without connecting.
Usage: identity.py --harmony PATH   (exit 0 = pass).
"""
import argparse
import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

from mnemonic import Mnemonic

HARMONY = None
MNEMO = Mnemonic("english")


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    print("ok  -", what, flush=True)


def run(home, *args, stdin=None, passfile=None):
    cmd = [HARMONY, "--home", home]
    if passfile:
        cmd += ["--passphrase-file", passfile]
    return subprocess.run(cmd + list(args), input=stdin, capture_output=True, text=True, timeout=60)


def whoami(home, passfile=None):
    r = run(home, "script", stdin='{"cmd":"whoami"}\n{"cmd":"quit"}\n', passfile=passfile)
    for line in r.stdout.splitlines():
        o = json.loads(line)
        if o.get("result") == "whoami" and o.get("ok"):
            return o["did"]
    return None


def forms(mnemonic):
    """Every encoding of the mnemonic and its entropy we can look for in the files."""
    ent = bytes(MNEMO.to_entropy(mnemonic))
    seed64 = MNEMO.to_seed(mnemonic, "")
    out = {"mnemonic": mnemonic.encode(), "mnemonic-upper": mnemonic.upper().encode(),
           "entropy": ent, "entropy-hex": ent.hex().encode(), "entropy-HEX": ent.hex().upper().encode(),
           "entropy-b64": base64.b64encode(ent).rstrip(b"="),
           "entropy-b64url": base64.urlsafe_b64encode(ent).rstrip(b"="),
           "entropy-sha256": hashlib.sha256(ent).digest(),
           "entropy-sha256-hex": hashlib.sha256(ent).hexdigest().encode(),
           "seed64-second-half": seed64[32:], "seed64-second-half-hex": seed64[32:].hex().encode(),
           "seed64-hex": seed64.hex().encode()}
    words = mnemonic.split()
    for i in range(len(words) - 1):  # any two consecutive words, however joined
        for sep in (" ", "", ",", "-", "\n"):
            out["words %d-%d %r" % (i, i + 1, sep)] = (words[i] + sep + words[i + 1]).encode()
    return out


def files_of(home):
    return [os.path.join(home, f) for f in sorted(os.listdir(home))]


def assert_clean(home, mnemonic, what):
    fs = files_of(home)
    check(fs, "%s: the store has files" % what)
    for path in fs:
        mode = os.stat(path).st_mode & 0o777
        check(mode == 0o600, "%s: %s has mode 0600 (got %o)" % (what, os.path.basename(path), mode))
        data = open(path, "rb").read()
        found = [name for name, needle in forms(mnemonic).items() if needle in data]
        check(not found, "%s: %s holds no form of the mnemonic or entropy (found: %s)"
              % (what, os.path.basename(path), ", ".join(found) or "none"))
    check(os.stat(home).st_mode & 0o777 == 0o700, "%s: the store directory has mode 0700" % what)


def seed32_hex(mnemonic):
    return MNEMO.to_seed(mnemonic, "")[:32].hex()


def test_cli_id_new_stores_seed32_only(tmp):
    home = os.path.join(tmp, "new")
    r = run(home, "id", "new")
    out = r.stdout.split("\n")
    m, did = out[0], out[1]
    check(r.returncode == 0 and MNEMO.check(m) and did.startswith("did:key:z6Mk"),
          "id new prints a valid mnemonic once, then the DID")
    check("recovery phrase" in r.stderr and r.stdout.count(m) == 1, "the mnemonic is shown exactly once")
    assert_clean(home, m, "id new")
    db = sqlite3.connect(os.path.join(home, "harmony.db"))
    row = db.execute("SELECT seed, did FROM identity_seed").fetchone()
    tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    check(row == (seed32_hex(m), did), "the store holds seed32 (the BIP-39 seed's first half) and the DID")
    check("identity" not in tables, "no mnemonic table exists")
    check(whoami(home) == did, "the identity loads from seed32 (same DID)")
    return m, did


def test_cli_id_recover_derives_seed32(tmp, m, did):
    home = os.path.join(tmp, "recover")
    r = run(home, "id", "recover", stdin=m + "\n")
    check(r.returncode == 0 and r.stdout.strip() == did, "id recover gives the same DID")
    assert_clean(home, m, "id recover")
    check(whoami(home) == did, "the recovered identity loads (same DID)")
    bad = m.split()
    bad[0], bad[1] = bad[1], bad[0]
    r = run(os.path.join(tmp, "recover-bad"), "id", "recover", stdin=" ".join(bad) + "\n")
    check(r.returncode != 0 or MNEMO.check(" ".join(bad)), "id recover refuses a mnemonic with a bad checksum")


def test_cli_identity_migrates_stored_mnemonic(tmp, m, did):
    """A store of an older version (table identity with the mnemonic in clear)."""
    home = os.path.join(tmp, "old")
    os.mkdir(home, 0o700)
    path = os.path.join(home, "harmony.db")
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE identity(k INTEGER PRIMARY KEY CHECK(k=1), mnemonic TEXT NOT NULL, did TEXT NOT NULL)")
    db.execute("CREATE TABLE identity_sealed(k INTEGER PRIMARY KEY CHECK(k=1), sealed TEXT NOT NULL, did TEXT NOT NULL)")
    db.execute("INSERT INTO identity VALUES(1, ?, ?)", (m, did))
    db.commit()
    db.close()
    os.chmod(path, 0o600)
    check(m.encode() in open(path, "rb").read(), "the old store holds the mnemonic before migration")
    check(whoami(home) == did, "the old store loads with the same DID")
    assert_clean(home, m, "migrated store")
    db = sqlite3.connect(path)
    row = db.execute("SELECT seed FROM identity_seed").fetchone()
    db.close()
    check(row == (seed32_hex(m),), "the migrated store holds seed32")
    check(whoami(home) == did, "the migrated store loads again")


def test_cli_identity_sealed_seed32(tmp):
    home = os.path.join(tmp, "sealed")
    pf = os.path.join(tmp, "pass")
    with open(pf, "w") as f:
        f.write("correct horse battery\n")
    wrong = os.path.join(tmp, "wrong")
    with open(wrong, "w") as f:
        f.write("incorrect horse\n")
    r = run(home, "id", "new", passfile=pf)
    m, did = r.stdout.split("\n")[:2]
    check(r.returncode == 0 and MNEMO.check(m), "sealed id new prints the mnemonic")
    assert_clean(home, m, "sealed id new")
    db = sqlite3.connect(os.path.join(home, "harmony.db"))
    sealed = db.execute("SELECT sealed FROM identity_sealed").fetchone()[0]
    n_clear = db.execute("SELECT count(*) FROM identity_seed").fetchone()[0]
    db.close()
    check(len(bytes.fromhex(sealed)) == 16 + 24 + 32 + 16 and n_clear == 0,
          "the sealed store holds salt, nonce and sealed seed32 (88 bytes), nothing in clear")
    check(seed32_hex(m) not in sealed and seed32_hex(m).encode() not in open(os.path.join(home, "harmony.db"), "rb").read(),
          "seed32 is not in the sealed store in clear")
    check(whoami(home, pf) == did, "the sealed identity opens with the passphrase")
    check(whoami(home) is None, "the sealed identity does not load without the passphrase")
    check(whoami(home, wrong) is None, "the sealed identity does not load with a wrong passphrase")


def test_cli_identity_migrates_sealed_mnemonic(tmp, m, did):
    """A sealed store of an older version: XChaCha20-Poly1305 of the mnemonic under
    Argon2id(passphrase, salt) with libsodium's interactive limits."""
    try:
        import nacl.bindings as nb
        import nacl.pwhash as pw
    except ImportError:
        print("skip - PyNaCl missing: the sealed-mnemonic migration is not checked")
        return
    home = os.path.join(tmp, "old-sealed")
    os.mkdir(home, 0o700)
    pf = os.path.join(tmp, "pass2")
    with open(pf, "w") as f:
        f.write("old passphrase\n")
    salt, nonce = os.urandom(16), os.urandom(24)
    key = pw.argon2id.kdf(32, b"old passphrase", salt, opslimit=pw.argon2id.OPSLIMIT_INTERACTIVE,
                          memlimit=pw.argon2id.MEMLIMIT_INTERACTIVE)
    ct = nb.crypto_aead_xchacha20poly1305_ietf_encrypt(m.encode(), None, nonce, key)
    path = os.path.join(home, "harmony.db")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE identity_sealed(k INTEGER PRIMARY KEY CHECK(k=1), sealed TEXT NOT NULL, did TEXT NOT NULL)")
    db.execute("INSERT INTO identity_sealed VALUES(1, ?, ?)", ((salt + nonce + ct).hex(), did))
    db.commit()
    db.close()
    os.chmod(path, 0o600)
    check(whoami(home, pf) == did, "the old sealed store (mnemonic inside) loads with the same DID")
    db = sqlite3.connect(path)
    sealed = bytes.fromhex(db.execute("SELECT sealed FROM identity_sealed").fetchone()[0])
    db.close()
    check(len(sealed) == 16 + 24 + 32 + 16, "the old sealed store now seals seed32 (88 bytes)")
    key2 = pw.argon2id.kdf(32, b"old passphrase", sealed[:16], opslimit=pw.argon2id.OPSLIMIT_INTERACTIVE,
                           memlimit=pw.argon2id.MEMLIMIT_INTERACTIVE)
    pt = nb.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed[40:], None, sealed[16:40], key2)
    check(pt.hex() == seed32_hex(m), "the re-sealed content is seed32 under the same passphrase")
    assert_clean(home, m, "migrated sealed store")
    check(whoami(home, pf) == did, "the migrated sealed store loads again")


def main():
    global HARMONY
    ap = argparse.ArgumentParser()
    ap.add_argument("--harmony", required=True)
    HARMONY = ap.parse_args().harmony
    old = os.umask(0o022)  # a permissive umask: the modes must come from the client
    try:
        with tempfile.TemporaryDirectory(prefix="harmony-id-") as tmp:
            m, did = test_cli_id_new_stores_seed32_only(tmp)
            test_cli_id_recover_derives_seed32(tmp, m, did)
            test_cli_identity_migrates_stored_mnemonic(tmp, m, did)
            test_cli_identity_sealed_seed32(tmp)
            test_cli_identity_migrates_sealed_mnemonic(tmp, m, did)
    except Failure as e:
        print("FAIL -", e, flush=True)
        return 1
    finally:
        os.umask(old)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
