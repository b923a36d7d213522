"""The coverage report: scope-marked requirements are listed apart with their tests, and one
whose marker names no test stays uncovered; the real spec's markers parse."""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..")))

from harmony_conformance import coverage as cov_mod  # noqa: E402
from harmony_conformance.core import PASS, UNSUPPORTED, Case, Result  # noqa: E402
from harmony_conformance.spec import Registry  # noqa: E402


class FakeRegistry:
    requirements = {"R-A-1": ("MUST", "a.md"), "R-A-2": ("MUST", "a.md"), "R-A-3": ("SHOULD", "a.md"),
                    "R-A-4": ("SECURITY", "a.md"), "R-A-5": ("MUST", "a.md")}
    scopes = {"R-A-3": ("client-side", ["test_x", "e2e_client"]), "R-A-4": ("client-side", []),
              "R-A-1": ("library", ["test_y"])}

    def types(self, d):
        return ["t"]


def result(reqs, outcome=PASS):
    c = Case(id="X", area="a", title="", sends="", expects="", reqs=reqs, types=["t/c2s"], fn=None)
    r = Result(case=c, outcome=outcome)
    r.observed_types = ["t/s2c"]
    return r


def test_scoped_requirements_are_listed_apart_and_untested_ones_stay_uncovered():
    cov = cov_mod.coverage(FakeRegistry(), [result(["R-A-1"]), result(["R-A-5"], UNSUPPORTED)], True, vectors=set())
    # a case that ran wins over the marker; an UNSUPPORTED case covers nothing
    assert cov["requirements_by_cases"] == 1
    assert cov["requirements_outside_server"] == {"R-A-3": {"scope": "client-side", "tests": ["test_x", "e2e_client"]}}
    assert cov["missing_requirements"] == ["R-A-2", "R-A-4", "R-A-5"]
    assert cov["requirements_outside_server_untested"] == {"R-A-4": {"scope": "client-side"}}
    assert cov["requirements"] == [2, 5]
    text = "\n".join(cov_mod.report_lines(cov))
    assert "R-A-3" in text and "test_x, e2e_client" in text and "R-A-4 (client-side)" in text


def test_real_spec_markers_parse():
    reg = Registry()
    assert reg.scopes, "the spec has no scope markers"
    for rid, (scope, tests) in reg.scopes.items():
        assert rid in reg.requirements
        assert scope in ("client-side", "library", "upstream-only", "long-timer")
        assert all(t and " " not in t for t in tests), (rid, tests)
    assert reg.scopes["R-AUTH-24"] == ("client-side", ["test_client_open_sends_fresh_vp"])
