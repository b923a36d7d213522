#!/usr/bin/python3
"""Differential check of harmony_conformance.crypto (compat profile) against upstream's own
TypeScript, run under Node. A manual tool, not part of the pytest run: it needs a checkout of
HexaField/harmony at 422f90e and the npm registry.

    /usr/bin/python3 conformance/tests/unit/upstream_diff/run.py <upstream git dir> [workdir]

It exports packages/{crypto,did,vc,zcap,quads,e2ee,protocol} from the upstream repository into
the work dir, installs the exact library versions upstream pins (@noble/curves 1.9.7,
@noble/ciphers 1.3.0, @noble/hashes 2.0.1, @scure/bip39 1.6.0) plus tsx, then compares:
  * VCService.verify, verifyPresentation + the server's per-credential loop, and
    ZCAPService.verifyInvocation with the server's fallback resolver, on ~700 generated cases
    (gen_cases.py; the clock is frozen through a Date subclass);
  * DIDKeyProvider.resolve on ~150 edge-case DIDs (gen_dids.py), byte for byte.
Nothing from upstream is copied into this repository; it is only executed in the work dir.
Exit status 0 when every verdict and document agrees.
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", ".."))

from harmony_conformance.crypto import didkey, proofs  # noqa: E402
from harmony_conformance.crypto.jsjson import stringify  # noqa: E402

PACKAGES = ["crypto", "did", "vc", "zcap", "quads", "e2ee", "protocol"]
NPM = ["@noble/curves@1.9.7", "@noble/ciphers@1.3.0", "@noble/hashes@2.0.1", "@scure/bip39@1.6.0", "tsx"]


def sh(cmd, cwd, **kw):
    return subprocess.run(cmd, cwd=cwd, check=True, **kw)


def setup(upstream: str, work: str) -> None:
    tar = subprocess.run(["git", "--git-dir", upstream, "archive", "HEAD"] + [f"packages/{p}" for p in PACKAGES],
                         check=True, capture_output=True).stdout
    sh(["tar", "-x"], work, input=tar)
    if not os.path.exists(os.path.join(work, "package.json")):
        sh(["npm", "init", "-y"], work, capture_output=True)
    sh(["npm", "install", "--no-audit", "--no-fund"] + NPM, work, capture_output=True)
    os.makedirs(os.path.join(work, "node_modules", "@harmony"), exist_ok=True)
    for p in PACKAGES:
        link = os.path.join(work, "node_modules", "@harmony", p)
        if not os.path.islink(link):
            os.symlink(os.path.join(work, "packages", p), link)
    for f in ("diff.mts", "dids.mts"):
        with open(os.path.join(HERE, f)) as src, open(os.path.join(work, f), "w") as dst:
            dst.write(src.read())


def main(argv) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    upstream = argv[1]
    if os.path.isdir(os.path.join(upstream, ".git")):
        upstream = os.path.join(upstream, ".git")
    work = argv[2] if len(argv) > 2 else tempfile.mkdtemp(prefix="harmony-upstream-diff-")
    os.makedirs(work, exist_ok=True)
    setup(upstream, work)
    py = sys.executable
    sh([py, os.path.join(HERE, "gen_cases.py"), work], work, capture_output=True)
    sh([py, os.path.join(HERE, "gen_dids.py"), work], work, capture_output=True)
    sh(["npx", "tsx", "diff.mts"], work, capture_output=True)
    sh(["npx", "tsx", "dids.mts"], work, capture_output=True)

    bad = 0
    cases = json.load(open(os.path.join(work, "cases.json")))
    verdicts = json.load(open(os.path.join(work, "out.json")))
    for k, up in zip(cases, verdicts):
        up = False if up == "throw" else up
        if k["kind"] == "vc":
            mine = proofs.verify_vc(k["text"], k["now"]).valid
        elif k["kind"] == "vp":
            mine = proofs.authenticate_vp(k["text"], k["now"])[0] is not None
        else:
            mine = proofs.verify_invocation(k["text"], k["chain"], k["now"]).valid
        if mine != up:
            bad += 1
            print(f"{k['kind']}: upstream {up}, ours {mine}: {k['text'][:200]}")
    print(f"proofs: {len(cases) - bad} agree, {bad} differ")
    dids = json.load(open(os.path.join(work, "dids.json")))
    docs = json.load(open(os.path.join(work, "dids.out")))
    dbad = 0
    for d, u in zip(dids, docs):
        m = didkey.resolve(d)
        m = stringify(m) if m else None
        if m != (None if u == "throw" else u):
            dbad += 1
            print(f"did: {d!r}: upstream {str(u)[:80]}, ours {str(m)[:80]}")
    print(f"dids: {len(dids) - dbad} agree, {dbad} differ")
    return 1 if bad or dbad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
