"""Self-test of the cloudworker adapter, without wrangler.

fakeworker.py stands in for upstream's Cloudflare Worker backend (a socket per community at
/ws/<id>, the raw VP as the first message, the worker's reply shapes). The suite runs a subset
of its cases through the cloudworker adapter (--impl cloudworker) against it:

* against the correct fake, every case of the subset passes, and none is a harness ERROR:
  the adapter opens a socket per community, logs each in with a worker-signed VP, routes
  frames by communityId, reconnects a client to its communities and maps the reply shapes;
* against a fake with a bug, the cases meant to catch that bug come out FAIL or INSECURE
  (a fake that accepts a VP whose signature does not verify is caught by the bad-signature
  and impersonation cases, whose spec-form logins the adapter carries over to the worker's
  form with the same validity).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.normpath(os.path.join(HERE, "..", ".."))
FAKE = os.path.join(HERE, "fakeworker.py")

# bug -> the cases that must catch it
CATCHES = {
    "no-sig-check": ["AUTH-002", "AUTH-003"],
    "leak-community": ["CHAN-004"],
    "drop-message": ["DLV-001"],
}
# cases the fake worker serves fully through the adapter (all must pass against it without bugs)
SUPPORTED = sorted({c for cs in CATCHES.values() for c in cs} | {
    "AUTH-008", "CHAN-001", "CHAN-005", "DM-002", "ENV-001", "ENV-005", "ENV-008"})


def run_suite(tmp_path, bugs, only):
    cmd = f"{sys.executable} {FAKE} --port {{port}}"
    for b in bugs:
        cmd += f" --bug {b}"
    report = tmp_path / ("report-" + ("-".join(bugs) or "none"))
    proc = subprocess.run(
        [os.path.join(CONF, "run"), "--server-cmd", cmd, "--report", str(report), "--impl", "cloudworker",
         "--only", ",".join(only), "--reply-timeout", "2", "--jobs", "4", "--no-lane"]
        + (["--spec", os.environ["HM_CONF_SPEC"]] if os.environ.get("HM_CONF_SPEC") else []),
        capture_output=True, text=True, timeout=240)
    with open(report / "report.json", encoding="utf-8") as fh:
        data = json.load(fh)
    return proc, {c["id"]: c for c in data["cases"]}


def test_cloudworker_adapter_passes_against_the_fake_worker(tmp_path):
    proc, cases = run_suite(tmp_path, [], SUPPORTED)
    bad = {k: (v["outcome"], v["message"][:300]) for k, v in cases.items() if v["outcome"] != "PASS"}
    assert not bad, f"the bug-free fake worker failed cases: {bad}\n{proc.stdout[-3000:]}"
    assert set(cases) == set(SUPPORTED)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_adapter_drives_the_workers_connection_model(tmp_path):
    """A failing case keeps its frames: they show the worker's model. Every socket is a /ws/<id>
    of one community, each client holds several (its home socket and the community's), the first
    message on each is a raw VP that verifies under the worker's rule, and the adapter's reply
    rewrites are noted in the transcript."""
    sys.path.insert(0, CONF)
    from harmony_conformance.crypto import workervp
    proc, cases = run_suite(tmp_path, ["drop-message"], ["DLV-001"])
    frames = cases["DLV-001"]["frames"]
    opens = {}
    first_sent = {}
    current = {}
    for x in frames:
        if x["dir"] == "open":
            opens.setdefault(x["conn"], []).append(x["data"])
            current[x["conn"]] = x["data"]
        elif x["dir"] in ("send", "send-binary") and current.get(x["conn"]) not in first_sent:
            first_sent[current[x["conn"]]] = json.loads(x["data"])
    urls = [u for us in opens.values() for u in us]
    assert urls and all("/ws/" in u for u in urls), urls
    assert any(len(us) >= 2 for us in opens.values()), "no client held a socket per community"
    assert set(first_sent) == set(urls)
    for url, vp in first_sent.items():
        assert isinstance(vp.get("type"), list) and "VerifiablePresentation" in vp["type"], (url, vp)
        assert workervp.verify(vp) == vp["holder"], f"the login on {url} does not verify the worker's way"
    assert any(x["dir"] == "adapt" for x in frames)


@pytest.mark.parametrize("bug", sorted(CATCHES))
def test_broken_fake_worker_is_caught(tmp_path, bug):
    proc, cases = run_suite(tmp_path, [bug], CATCHES[bug])
    for cid in CATCHES[bug]:
        outcome = cases[cid]["outcome"]
        assert outcome in ("FAIL", "INSECURE"), (
            f"{cid} came out {outcome} against a fake worker with bug '{bug}': {cases[cid]['message'][:300]}")
    assert proc.returncode == 1, "a run with a caught failure must exit 1"
