"""The coverage report: which registry types and requirement ids the run exercised.

A requirement id counts as covered by a case when a case that ran (not SKIPPED or
UNSUPPORTED) cites it, and as covered by vectors when only the known-answer vectors cite it
(vectors/*.json `requirements`). A requirement with a scope marker in the spec
(spec/README.md, "Scope markers": `client-side`, `library`, `upstream-only`) has no
behaviour a server under test can show; it is listed apart, with the tests outside the
conformance cases that check it. One whose marker names no test is still uncovered, and is
listed as such.
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional

from .core import SKIPPED, UNSUPPORTED

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.normpath(os.path.join(HERE, "..", "..", "vectors"))


def vector_requirements(folder: str = VECTORS) -> set:
    """The requirement ids the known-answer vectors exercise: the union of every case's
    `requirements` list in vectors/*.json (vectors/README.md). Empty when there are none."""
    out = set()
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except OSError:
        return out
    for n in names:
        try:
            with open(os.path.join(folder, n), encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError):
            continue
        for c in doc.get("tests") or []:
            for r in c.get("requirements") or []:
                if isinstance(r, str):
                    out.add(r)
    return out


def req_key(s):
    area, _, n = s.rpartition("-")
    return (area, int(n) if n.isdigit() else 0)


def coverage(registry, results, selected_all: bool, vectors: Optional[set] = None) -> dict:
    c2s_declared = set()
    observed = set()
    reqs = set()
    for r in results:
        if r.outcome in (SKIPPED, UNSUPPORTED):
            continue
        for t in r.case.types:
            if t.endswith("/c2s"):
                c2s_declared.add(t)
        observed.update(r.observed_types)
        reqs.update(r.case.reqs)
    c2s = {f"{t}/c2s" for t in registry.types("c2s")}
    s2c = {f"{t}/s2c" for t in registry.types("s2c")}
    covered_c2s = c2s & (c2s_declared | observed)
    covered_s2c = s2c & observed
    all_reqs = set(registry.requirements)
    scopes: Dict[str, tuple] = dict(getattr(registry, "scopes", {}) or {})
    by_cases = all_reqs & reqs
    vec = all_reqs & (vector_requirements() if vectors is None else set(vectors))
    by_vectors_only = vec - by_cases
    rest = all_reqs - by_cases - by_vectors_only
    scoped = {r: scopes[r] for r in rest if r in scopes}
    by_tests = {r: s for r, s in scoped.items() if s[1]}
    scoped_untested = {r: s for r, s in scoped.items() if not s[1]}
    uncovered = rest - set(by_tests)
    out = {
        "c2s": [len(covered_c2s), len(c2s)], "s2c": [len(covered_s2c), len(s2c)],
        "requirements": [len(by_cases | by_vectors_only) + len(by_tests), len(all_reqs)],
        "requirements_by_cases": len(by_cases),
        "requirements_by_vectors_only": sorted(by_vectors_only, key=req_key),
        # outside the server: id -> {"scope", "tests"}
        "requirements_outside_server": {r: {"scope": by_tests[r][0], "tests": by_tests[r][1]}
                                        for r in sorted(by_tests, key=req_key)},
        "requirements_outside_server_untested": {r: {"scope": scoped_untested[r][0]}
                                                 for r in sorted(scoped_untested, key=req_key)},
        "missing_c2s": sorted(x[:-4] for x in c2s - covered_c2s),
        "missing_s2c": sorted(x[:-4] for x in s2c - covered_s2c),
        "missing_requirements": sorted(uncovered, key=req_key),
    }
    out["summary"] = (f"c2s types {out['c2s'][0]}/{out['c2s'][1]}, s2c types {out['s2c'][0]}/{out['s2c'][1]}, "
                      f"requirement ids {out['requirements'][0]}/{out['requirements'][1]} "
                      f"({len(by_cases)} by cases, {len(by_vectors_only)} by vectors only, "
                      f"{len(by_tests)} outside the server by tests, {len(uncovered)} uncovered)"
                      + ("" if selected_all else " (subset run)"))
    return out


def report_lines(cov: dict) -> List[str]:
    """The coverage detail printed after the summary line of a full run."""
    lines = [f"  requirement ids: {cov['requirements_by_cases']} by cases, "
             f"{len(cov['requirements_by_vectors_only'])} by vectors only, "
             f"{len(cov['requirements_outside_server'])} outside the server (covered by the tests named), "
             f"{len(cov['missing_requirements'])} uncovered"]
    outside = cov["requirements_outside_server"]
    if outside:
        lines.append(f"  requirement ids outside the server, with their tests ({len(outside)}):")
        for r, v in outside.items():
            lines.append(f"    {r:<16} {v['scope']:<14} {', '.join(v['tests'])}")
    for k in ("missing_c2s", "missing_s2c", "missing_requirements"):
        if cov[k]:
            # uncovered requirement ids are listed in full; message types are capped at 40
            lim = None if k == "missing_requirements" else 40
            shown = " ".join(cov[k][:lim]) + (" ..." if lim and len(cov[k]) > lim else "")
            lines.append(f"  {k.replace('_', ' ')} ({len(cov[k])}): {shown}")
    untested = cov["requirements_outside_server_untested"]
    if untested:
        lines.append(f"  of which outside the server and checked by no test yet ({len(untested)}): "
                     + " ".join(f"{r} ({v['scope']})" for r, v in untested.items()))
    return lines
