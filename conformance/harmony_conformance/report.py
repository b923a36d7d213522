"""Reports: the terminal summary, JSON (one object per case), JUnit XML, and an HTML page."""
from __future__ import annotations

import html
import json
import os
import xml.etree.ElementTree as ET
from collections import OrderedDict
from typing import Dict, List

from .core import ERROR, FAIL, INSECURE, NON_STRICT, OUTCOMES, PASS, SKIPPED, UNSUPPORTED

COLOURS = {PASS: "#2e7d32", FAIL: "#c62828", INSECURE: "#ef6c00", NON_STRICT: "#f9a825",
           UNSUPPORTED: "#607d8b", SKIPPED: "#9e9e9e", ERROR: "#6a1b9a"}


def by_area(results) -> "OrderedDict[str, Dict[str, int]]":
    table = OrderedDict()
    for r in sorted(results, key=lambda r: (r.case.area, r.case.id)):
        row = table.setdefault(r.case.area, {o: 0 for o in OUTCOMES})
        row[r.outcome] += 1
    return table


def terminal_summary(results, meta: dict) -> str:
    table = by_area(results)
    cols = [PASS, FAIL, INSECURE, NON_STRICT, UNSUPPORTED, SKIPPED, ERROR]
    w = max([len(a) for a in table] + [5])
    lines = [f"{'area':<{w}} " + " ".join(f"{c:>11}" for c in cols)]
    totals = {c: 0 for c in cols}
    for area, row in table.items():
        lines.append(f"{area:<{w}} " + " ".join(f"{row[c]:>11}" for c in cols))
        for c in cols:
            totals[c] += row[c]
    lines.append(f"{'total':<{w}} " + " ".join(f"{totals[c]:>11}" for c in cols))
    return "\n".join(lines)


def case_json(r) -> dict:
    c = r.case
    d = {"id": c.id, "area": c.area, "title": c.title, "level": c.level, "requirements": c.reqs,
         "types": c.types, "sends": c.sends, "expects": c.expects, "outcome": r.outcome,
         "message": r.message, "duration_s": round(r.duration, 3),
         "observed_types": r.observed_types}
    if r.expected:
        d["expected"] = r.expected
    if r.transcript:
        d["frames"] = r.transcript
    return d


def write_json(path, results, meta):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "cases": [case_json(r) for r in results]}, fh, indent=1)


def write_junit(path, results, meta):
    suites = ET.Element("testsuites", name="harmony-conformance")
    for area, _ in by_area(results).items():
        rs = [r for r in results if r.case.area == area]
        s = ET.SubElement(suites, "testsuite", name=area, tests=str(len(rs)),
                          failures=str(sum(r.outcome in (FAIL, INSECURE) for r in rs)),
                          errors=str(sum(r.outcome == ERROR for r in rs)),
                          skipped=str(sum(r.outcome in (SKIPPED, UNSUPPORTED) for r in rs)))
        for r in rs:
            tc = ET.SubElement(s, "testcase", classname=f"conformance.{area}", name=f"{r.case.id} {r.case.title}",
                               time=f"{r.duration:.3f}")
            if r.outcome in (FAIL, INSECURE):
                el = ET.SubElement(tc, "failure", type=r.outcome, message=r.message[:500])
                el.text = r.message + "\n" + json.dumps(r.transcript, indent=1)[:20000]
            elif r.outcome == ERROR:
                el = ET.SubElement(tc, "error", message=r.message[:500])
                el.text = r.message
            elif r.outcome in (SKIPPED, UNSUPPORTED):
                ET.SubElement(tc, "skipped", message=f"{r.outcome}: {r.message}"[:500])
            elif r.outcome == NON_STRICT:
                ET.SubElement(tc, "system-out").text = f"NON-STRICT: {r.message}"
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def write_html(path, results, meta, coverage: dict):
    e = html.escape
    table = by_area(results)
    parts = [f"""<!doctype html><html><head><meta charset="utf-8"><title>Harmony conformance: {e(meta.get('target',''))}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5em;}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:2px 6px}}
.o{{color:#fff;font-weight:600;padding:0 4px;border-radius:3px}} details{{margin:2px 0}} pre{{background:#f6f6f6;padding:6px;overflow:auto;max-height:30em}}
.grid span{{display:inline-block;width:12px;height:12px;margin:1px}}</style></head><body>
<h1>Harmony conformance report</h1>
<p>Target <code>{e(str(meta.get('target')))}</code>, implementation <code>{e(str(meta.get('impl')))}</code>,
profile <b>{e(str(meta.get('profile')))}</b>, seed <code>{e(str(meta.get('seed')))}</code>,
verdict <b>{e(str(meta.get('verdict')))}</b>, {len(results)} cases in {meta.get('duration_s')} s.</p>
<h2>Matrix</h2><table><tr><th>area</th>"""]
    parts += [f"<th>{o}</th>" for o in OUTCOMES] + ["<th>cases</th></tr>"]
    for area, row in table.items():
        parts.append(f"<tr><td>{e(area)}</td>" + "".join(
            f"<td style='text-align:right'>{row[o] or ''}</td>" for o in OUTCOMES))
        cells = "".join(
            f"<span title='{e(r.case.id)} {r.outcome}' style='background:{COLOURS[r.outcome]}'></span>"
            for r in sorted(results, key=lambda r: r.case.id) if r.case.area == area)
        parts.append(f"<td class='grid'>{cells}</td></tr>")
    parts.append("</table>")
    parts.append(f"<h2>Coverage</h2><p>{e(coverage.get('summary',''))}</p>")
    for k in ("missing_c2s", "missing_s2c", "missing_requirements"):
        if coverage.get(k):
            parts.append(f"<details><summary>{k} ({len(coverage[k])})</summary><pre>{e(' '.join(coverage[k]))}</pre></details>")
    outside = coverage.get("requirements_outside_server") or {}
    if outside:
        rows = "\n".join(f"{r}  {v['scope']}  {', '.join(v['tests'])}" for r, v in outside.items())
        parts.append(f"<details><summary>requirements outside the server, with their tests ({len(outside)})</summary>"
                     f"<pre>{e(rows)}</pre></details>")
    parts.append("<h2>Cases</h2>")
    for r in sorted(results, key=lambda r: (r.outcome == PASS, r.case.id)):
        c = r.case
        parts.append(f"<details><summary><span class='o' style='background:{COLOURS[r.outcome]}'>{r.outcome}</span> "
                     f"<code>{e(c.id)}</code> {e(c.title)} <small>({e(', '.join(c.reqs))})</small></summary>"
                     f"<p><b>Sends:</b> {e(c.sends)}<br><b>Expects:</b> {e(c.expects)}<br>"
                     f"<b>Level:</b> {e(str(c.level))}; <b>types:</b> {e(', '.join(c.types))}</p>")
        if r.message:
            parts.append(f"<p><b>Result:</b></p><pre>{e(r.message)}</pre>")
        if r.expected:
            parts.append(f"<p><b>Expected for this implementation:</b> {e(json.dumps(r.expected))}</p>")
        if r.transcript:
            lines = "\n".join(f"{t['t']:>8.3f} {t['conn']:<10} {t['dir']:<12} {t['data']}" for t in r.transcript)
            parts.append(f"<p><b>Frames:</b></p><pre>{e(lines)}</pre>")
        parts.append("</details>")
    parts.append("</body></html>")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("".join(parts))


def write_all(report_dir: str, results, meta: dict, coverage: dict) -> List[str]:
    os.makedirs(report_dir, exist_ok=True)
    out = []
    for name, fn in (("report.json", lambda p: write_json(p, results, dict(meta, coverage=coverage))),
                     ("junit.xml", lambda p: write_junit(p, results, meta)),
                     ("report.html", lambda p: write_html(p, results, meta, coverage))):
        p = os.path.join(report_dir, name)
        fn(p)
        out.append(p)
    return out
