"""Self-tests of the harness: every deliberately broken fake server is caught.

For each bug of fakeserver.py, the suite runs the cases meant to catch it against a fake
server with that bug, and each of those cases must come out with its level's failure grade:
FAIL (MUST), INSECURE (SECURITY) or NON-STRICT (SHOULD); never PASS, never a harness ERROR.
The same cases must all PASS against the fake server without bugs, so a catch is the bug's
doing and not a harness fault.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.normpath(os.path.join(HERE, "..", ".."))
FAKE = os.path.join(HERE, "fakeserver.py")

# bug -> the cases that must catch it
CATCHES = {
    "echo-to-sender": ["CHAN-003"],
    "no-membership": ["CHAN-002"],
    "drop-message": ["DLV-001"],
    "never-reply": ["AUTH-001", "AUTH-004", "ENV-003"],
    "leak-broadcast": ["CHAN-004"],
    "no-sig-check": ["AUTH-002", "AUTH-003"],
    "silent-errors": ["ENV-001", "ENV-003"],
    "forged-sender": ["ENV-007"],
    "blocking-sfu": ["SFU-018"],
    "unbounded-sfu": ["SFU-020"],
    "no-sfu-timeout": ["SFU-021"],
    "sfu-in-order": ["SFU-019"],
    "sticky-sessions": ["SFU-022"],
    "no-delete-replay": ["HTTP-024"],
}
GRADE = {"MUST": "FAIL", "SECURITY": "INSECURE", "SHOULD": "NON-STRICT"}
# cases the fake server implements fully (all must pass against it without bugs)
SUPPORTED = sorted({c for cs in CATCHES.values() for c in cs} | {
    "AUTH-005", "AUTH-006", "AUTH-007", "AUTH-008", "AUTH-009", "AUTH-010", "CHAN-001", "CHAN-005",
    "CHAN-006", "DLV-002", "ENV-002", "HTTP-009", "ENV-004", "ENV-005", "ENV-006", "ENV-008"})


def run_suite(tmp_path, bugs, only):
    cmd = (f"{sys.executable} {FAKE} --port {{port}} --http-port {{http_port}} "
           "--auth-timeout-ms {auth_timeout_ms} "
           "--sfu-api-base {sfu_api_base} --sfu-app-id {sfu_app_id} --sfu-app-secret {sfu_app_secret}")
    for b in bugs:
        cmd += f" --bug {b}"
    report = tmp_path / ("report-" + ("-".join(bugs) or "none"))
    proc = subprocess.run(
        [os.path.join(CONF, "run"), "--server-cmd", cmd, "--report", str(report), "--impl", "harmonyd",
         "--only", ",".join(only), "--reply-timeout", "2", "--jobs", "4"]
        + (["--spec", os.environ["HM_CONF_SPEC"]] if os.environ.get("HM_CONF_SPEC") else []),
        capture_output=True, text=True, timeout=240)
    with open(report / "report.json", encoding="utf-8") as fh:
        data = json.load(fh)
    return proc, {c["id"]: c for c in data["cases"]}


def test_correct_fake_server_passes_every_supported_case(tmp_path):
    proc, cases = run_suite(tmp_path, [], SUPPORTED)
    bad = {k: (v["outcome"], v["message"][:200]) for k, v in cases.items() if v["outcome"] != "PASS"}
    assert not bad, f"the bug-free fake server failed cases: {bad}\n{proc.stdout[-3000:]}"
    assert set(cases) == set(SUPPORTED)
    assert proc.returncode == 0, proc.stdout[-2000:]


@pytest.mark.parametrize("bug", sorted(CATCHES))
def test_broken_fake_server_is_caught(tmp_path, bug):
    proc, cases = run_suite(tmp_path, [bug], CATCHES[bug])
    gating = False
    for cid in CATCHES[bug]:
        outcome = cases[cid]["outcome"]
        # a case is caught with the grade of its level: FAIL (MUST), INSECURE (SECURITY),
        # NON-STRICT (SHOULD, which fails neither profile)
        want = GRADE[cases[cid]["level"]]
        gating |= want in ("FAIL", "INSECURE")
        assert outcome == want, (
            f"{cid} came out {outcome} against a server with bug '{bug}', expected {want}: "
            f"{cases[cid]['message'][:300]}")
    assert proc.returncode == (1 if gating else 0), \
        "a run with a caught FAIL or INSECURE must exit 1, one with only NON-STRICT 0"
