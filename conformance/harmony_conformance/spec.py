"""The spec as the harness reads it: requirement ids with levels, and the message registry.

Read from the repository's spec/ folder (or --spec DIR), never from server code.
"""
from __future__ import annotations

import json
import os
import re
from typing import Dict, List, Optional, Tuple

REQ_DEF = re.compile(r"^\s*[-*]\s+\*\*(R-[A-Z]+(?:-[A-Z]+)*-\d+)\*\*\s+\[([A-Z]+)\]")
# A scope marker right after the level (spec/README.md, "Scope markers"):
#   - **R-X-1** [SHOULD] [client-side: test_a, test_b] text ...
# says the requirement has no behaviour a server under test can show, and names the tests
# outside the conformance cases that check it (none: nothing checks it yet).
SCOPE_MARK = re.compile(r"\s*\[(client-side|library|upstream-only|long-timer)(?::\s*([^\]]*))?\]")
SCOPES = ("client-side", "library", "upstream-only", "long-timer")

DEFAULT_SPEC = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "spec"))


def load_requirements(spec_dir: str) -> Dict[str, Tuple[str, str]]:
    """id -> (level, file)"""
    return _load(spec_dir)[0]


def load_scopes(spec_dir: str) -> Dict[str, Tuple[str, List[str]]]:
    """id -> (scope, [test names]) for requirements with a scope marker."""
    return _load(spec_dir)[1]


def _load(spec_dir: str):
    reqs, scopes = {}, {}
    for root, _, files in os.walk(spec_dir):
        for f in sorted(files):
            if not f.endswith(".md"):
                continue
            path = os.path.join(root, f)
            in_code = False
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if line.lstrip().startswith("```"):
                        in_code = not in_code
                        continue
                    if in_code:
                        continue
                    m = REQ_DEF.match(line)
                    if m:
                        reqs[m.group(1)] = (m.group(2), os.path.relpath(path, spec_dir))
                        sm = SCOPE_MARK.match(line, m.end())
                        if sm:
                            refs = [x.strip() for x in (sm.group(2) or "").split(",") if x.strip()]
                            scopes[m.group(1)] = (sm.group(1), refs)
    return reqs, scopes


def _type_ok(value, jtype: str) -> bool:
    for t in jtype.split("|"):
        if t == "any":
            return True
        if t == "string" and isinstance(value, str):
            return True
        if t == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t == "integer" and isinstance(value, float) and value.is_integer():
            return True
        if t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if t == "boolean" and isinstance(value, bool):
            return True
        if t == "object" and isinstance(value, dict):
            return True
        if t == "array" and isinstance(value, list):
            return True
        if t == "null" and value is None:
            return True
        if t == "bytes":
            if isinstance(value, dict) and value.get("__type") == "Uint8Array" and isinstance(value.get("data"), str):
                return True
            if isinstance(value, list) and all(isinstance(x, int) for x in value):
                return True
    return False


def field_errors(payload, fields: List[dict]) -> List[str]:
    if not isinstance(payload, dict):
        return [f"payload is {type(payload).__name__}, expected an object"]
    errs = []
    for f in fields:
        name = f["name"]
        if name not in payload or payload[name] is None and "null" not in str(f["type"]):
            if f.get("required"):
                errs.append(f"missing field '{name}'")
            continue
        if not _type_ok(payload[name], str(f["type"])):
            errs.append(f"field '{name}' is {type(payload[name]).__name__}, expected {f['type']}")
    return errs


class Registry:
    def __init__(self, spec_dir: str = DEFAULT_SPEC):
        self.spec_dir = spec_dir
        with open(os.path.join(spec_dir, "registry.json"), encoding="utf-8") as fh:
            data = json.load(fh)
        self.entries: Dict[Tuple[str, str], dict] = {}
        for e in data.get("messages", []):
            self.entries[(e["type"], e["direction"])] = e
        self.requirements, self.scopes = _load(spec_dir)

    def entry(self, type_: str, direction: str) -> Optional[dict]:
        return self.entries.get((type_, direction))

    def types(self, direction: str) -> List[str]:
        return sorted(t for (t, d) in self.entries if d == direction)

    def level(self, req: str) -> Optional[str]:
        r = self.requirements.get(req)
        return r[0] if r else None

    def shape_errors(self, type_: str, direction: str, payload) -> List[str]:
        e = self.entry(type_, direction)
        if e is None:
            return [f"type '{type_}' ({direction}) is not in the registry"]
        if e.get("shapes"):
            all_errs = []
            for s in e["shapes"]:
                errs = field_errors(payload, s["fields"])
                if not errs:
                    return []
                all_errs.append(f"{s['name']}: {', '.join(errs)}")
            return [f"{type_} matches no shape ({'; '.join(all_errs)})"]
        if e.get("fields") is None:
            return []
        errs = field_errors(payload, e["fields"])
        return [f"{type_}: {x}" for x in errs]

    def check_s2c_frame(self, frame: dict) -> List[str]:
        """Envelope and payload shape of a server frame against the registry."""
        errs = []
        t = frame.get("type")
        for k, jt in (("id", str), ("type", str), ("timestamp", str)):
            if not isinstance(frame.get(k), jt):
                errs.append(f"{t}: envelope field '{k}' missing or not a string")
        if "payload" not in frame:
            errs.append(f"{t}: envelope has no payload")
            return errs
        errs.extend(self.shape_errors(t, "s2c", frame.get("payload")))
        return errs
