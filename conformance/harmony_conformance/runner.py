"""The command line: pick a target, run the selected cases, grade, report, exit.

  conformance/run                                  build-less: start our harmonyd (temp data dir)
  conformance/run --server ws://127.0.0.1:4000     drive any server by URL
  conformance/run --server-cmd "node x.js --port {port}"   start (and restart/kill) another server

Exit status: 0 when the profile's gate passes, 1 when it does not, 2 on bad usage or a
target that cannot be reached. See spec/README.md (profiles) and
spec/server-under-test.md.
"""
from __future__ import annotations

import argparse
import asyncio
import fnmatch
import importlib
import os
import pkgutil
import sys
import time
import tomllib
from typing import Dict, List, Optional

from . import coverage as coverage_mod
from . import report as report_mod
from .adapters import ADAPTERS
from .core import (ERROR, FAIL, INSECURE, PASS, REGISTRY, SKIPPED, UNSUPPORTED, Result, run_case)
from .identities import Identities
from .server import HARMONYD_TEMPLATE, ManagedServer, TempDataDir, free_port_pair
from .sfu_mock import APP_ID, APP_SECRET, SfuMock
from .spec import DEFAULT_SPEC, Registry

HERE = os.path.dirname(os.path.abspath(__file__))
# The issuer the suite configures as trusted (--trusted-issuer) and the VC id it configures
# as revoked (--revoked-credential) when it starts the server itself.
TRUSTED_ISSUER = "fixture/trusted-issuer"
REVOKED_VC_ID = "urn:uuid:" + "5e" * 16
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
IMPLS = os.path.join(ROOT, "conformance", "impls")

DEFAULT_TIMERS = {"auth_timeout_ms": 1500, "rate_limit": "200/1000", "vp_freshness_s": 300,
                  "keepalive_ms": 30000, "max_connections": 1024}


class Options:
    def __init__(self, ns):
        self.reply_timeout = ns.reply_timeout
        self.quiet_time = ns.quiet_time
        self.time_scale = ns.time_scale
        self.slow = ns.slow


class Target:
    def __init__(self, ws_url: str, http_url: Optional[str], managed: Optional[ManagedServer]):
        self._ws = ws_url
        self._http = http_url
        self.managed = managed
        self.timers: Dict = {}
        self.sfu: Optional[SfuMock] = None
        self.datadir: Optional[TempDataDir] = None

    def shutdown(self):
        """Stop what this target started: the server, its SFU mock, its data directory."""
        if self.managed:
            self.managed.stop()
        if self.sfu:
            self.sfu.stop()
        if self.datadir:
            self.datadir.cleanup()

    @property
    def ws_url(self):
        return self.managed.ws_url if self.managed else self._ws

    @property
    def http_url(self):
        if self.managed:
            return self.managed.http_url
        if self._http:
            return self._http
        # Upstream convention: HTTP on the WebSocket port + 1.
        host, _, port = self._ws.split("//", 1)[1].split("/", 1)[0].rpartition(":")
        return f"http://{host}:{int(port) + 1}"


def start_managed(ns, template: str, timers: dict, log_name: str) -> "Target":
    """Start one server from the template with a fresh data directory and its own SFU mock."""
    ids = Identities(ns.seed)
    sfu = SfuMock().start()
    datadir = TempDataDir(keep=ns.keep_data)
    port, http_port = free_port_pair()
    params = {"host": "127.0.0.1", "port": port, "http_port": http_port, "data_dir": datadir.path,
              "sfu_api_base": sfu.base, "sfu_app_id": APP_ID, "sfu_app_secret": APP_SECRET,
              "log_level": "warn", **{k: v for k, v in timers.items()},
              "trusted_issuers": [ids.get(TRUSTED_ISSUER).did],
              "revoked_credentials": [REVOKED_VC_ID]}
    managed = ManagedServer(template, params, log_path=os.path.join(ns.report, log_name))
    target = Target(None, None, managed)
    target.sfu, target.datadir = sfu, datadir
    try:
        managed.start()
    except RuntimeError:
        target.shutdown()
        raise
    return target


class Runner:
    def __init__(self, ns, registry: Registry, target: Target, impl: dict):
        self.ns = ns
        self.options = Options(ns)
        self.registry = registry
        self.target = target
        self.impl = impl
        self.identities = Identities(ns.seed)
        self.lane: Optional[Target] = None  # a second managed server for exclusive cases
        adapter_name = impl.get("impl", {}).get("adapter", "harmony")
        if adapter_name not in ADAPTERS:
            raise SystemExit(f"conformance: unknown adapter {adapter_name!r} in the expectations file")
        self.adapter = ADAPTERS[adapter_name](self)

    @property
    def timers(self):
        return self.target.timers


def load_cases():
    from . import cases
    for m in pkgutil.iter_modules(cases.__path__):
        importlib.import_module(f"{cases.__name__}.{m.name}")


def assign_levels(registry: Registry) -> List[str]:
    """Every case's level comes from its requirements, which must exist and agree."""
    problems = []
    for c in REGISTRY.values():
        levels = set()
        for r in c.reqs:
            lvl = registry.level(r)
            if lvl is None:
                problems.append(f"case {c.id} cites undefined requirement {r}")
            else:
                levels.add(lvl)
        if not c.reqs:
            problems.append(f"case {c.id} cites no requirement")
        if len(levels) > 1:
            problems.append(f"case {c.id} mixes levels {sorted(levels)}: split it")
        c.level = levels.pop() if len(levels) == 1 else "MUST"
        for t in c.types:
            ty, _, d = t.rpartition("/")
            if registry.entry(ty, d) is None:
                problems.append(f"case {c.id} names unknown registry type {t}")
    return problems


def select(ns) -> List:
    def match(c, pats):
        return any(fnmatch.fnmatch(c.id, p) or c.id.startswith(p) or c.area == p for p in pats)
    cases = sorted(REGISTRY.values(), key=lambda c: c.id)
    if ns.only:
        pats = [p for x in ns.only for p in x.split(",") if p]
        cases = [c for c in cases if match(c, pats)]
    if ns.exclude:
        pats = [p for x in ns.exclude for p in x.split(",") if p]
        cases = [c for c in cases if not match(c, pats)]
    return cases


def load_impl(name: Optional[str]) -> dict:
    if not name:
        return {"impl": {"name": "generic", "adapter": "harmony"}}
    path = name if name.endswith(".toml") else os.path.join(IMPLS, f"{name}.toml")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as e:
        raise SystemExit(f"conformance: cannot read expectations file {path}: {e}")


# The coverage report lives in coverage.py; these names stay importable from here.
VECTORS = coverage_mod.VECTORS
vector_requirements = coverage_mod.vector_requirements
coverage = coverage_mod.coverage


async def run_all(runner: Runner, cases) -> List[Result]:
    expectations = {e["case"]: e for e in runner.impl.get("expect", [])}
    skips = {e["case"]: e for e in runner.impl.get("skip", [])}
    results: Dict[str, Result] = {}
    sem = asyncio.Semaphore(max(1, runner.ns.jobs))
    exclusive = [c for c in cases if "restart" in c.needs or "exclusive" in c.needs]
    shared = [c for c in cases if c not in exclusive]

    async def one(c, target=None):
        if c.id in skips:
            results[c.id] = Result(case=c, outcome=SKIPPED, message=skips[c.id].get("reason", ""),
                                   expected=skips[c.id])
            return
        if target is not None:
            r = await run_case(runner, c, target)
        else:
            async with sem:
                r = await run_case(runner, c)
        r.expected = expectations.get(c.id)
        results[c.id] = r
        if runner.ns.verbose:
            print(f"  {r.outcome:<11} {c.id} {c.title}" + (f" -- {r.message.splitlines()[0]}" if r.message else ""),
                  flush=True)

    async def exclusive_lane():
        for c in exclusive:
            await one(c, runner.lane)

    if runner.lane is not None:
        # Cases that restart the server or need it to themselves run one at a time on a
        # second server instance, beside the shared lane.
        await asyncio.gather(exclusive_lane(), *(one(c) for c in shared))
    else:
        await asyncio.gather(*(one(c) for c in shared))
        for c in exclusive:
            await one(c)
    return [results[c.id] for c in cases]


def verdict(results: List[Result], profile: str) -> (bool, List[Result]):
    """hardened fails on every FAIL, INSECURE and ERROR (spec/README.md), expected or not:
    an expectations entry documents a known gap, it does not make the server hardened.
    compat fails on ERROR and on FAIL that the expectations file does not list."""
    gating = []
    for r in results:
        if profile == "hardened" and r.outcome in (FAIL, INSECURE, ERROR):
            gating.append(r)
            continue
        if not r.gating:
            continue
        if r.outcome == INSECURE and profile == "compat":
            continue
        gating.append(r)
    return (not gating), gating


def build_parser():
    ap = argparse.ArgumentParser(prog="conformance/run", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    tg = ap.add_argument_group("target")
    tg.add_argument("--server", metavar="WS_URL", help="drive the server at this URL (no restarts)")
    tg.add_argument("--http", metavar="URL", help="its HTTP base URL (default: WebSocket port + 1)")
    tg.add_argument("--server-cmd", metavar="TEMPLATE",
                    help="start the server with this command template (placeholders: see spec/server-under-test.md)")
    tg.add_argument("--harmonyd", metavar="PATH", help="our harmonyd binary (default: build/release/bin/harmonyd)")
    tg.add_argument("--keep-data", action="store_true", help="keep the temporary data directory")
    tg.add_argument("--no-lane", action="store_true",
                    help="run restart/exclusive cases after the others on the same server, instead of on a "
                         "second server started beside it")
    sg = ap.add_argument_group("selection and grading")
    sg.add_argument("--impl", metavar="NAME", help="expectations file conformance/impls/NAME.toml (or a path)")
    sg.add_argument("--profile", choices=["hardened", "compat"], default="hardened")
    sg.add_argument("--only", action="append", metavar="IDS", help="case ids, id prefixes, globs or areas (comma list)")
    sg.add_argument("--exclude", action="append", metavar="IDS")
    sg.add_argument("--list", action="store_true", help="list the selected cases and exit")
    sg.add_argument("--seed", default="0", help="seed of the deterministic identities (default 0)")
    sg.add_argument("--slow", action="store_true", help="also run cases that wait for the server's real timers")
    og = ap.add_argument_group("execution and output")
    og.add_argument("--jobs", type=int, default=16, help="cases run concurrently (default 16)")
    og.add_argument("--report", metavar="DIR", default="conformance-report", help="report directory")
    og.add_argument("--reply-timeout", type=float, default=3.0, help="seconds to wait for an expected frame")
    og.add_argument("--quiet-time", type=float, default=0.4, help="seconds a 'no frame' assertion waits")
    og.add_argument("--time-scale", type=float, default=1.0, help="multiply case time limits")
    og.add_argument("--spec", default=DEFAULT_SPEC, help="spec directory (registry and requirement ids)")
    og.add_argument("-v", "--verbose", action="store_true", help="print each case as it finishes")
    return ap


def main(argv=None) -> int:
    ns = build_parser().parse_args(argv)
    registry = Registry(ns.spec)
    load_cases()
    problems = assign_levels(registry)
    if problems:
        for p in problems:
            print(f"conformance: harness error: {p}", file=sys.stderr)
        return 2
    cases = select(ns)
    if ns.list:
        for c in cases:
            print(f"{c.id:<16} {c.area:<12} {c.level:<9} {c.title}  [{', '.join(c.reqs)}]")
        print(f"{len(cases)} cases")
        return 0
    if not cases:
        print("conformance: no case selected", file=sys.stderr)
        return 2

    impl_name = ns.impl or (None if (ns.server or ns.server_cmd) else "harmonyd")
    impl = load_impl(impl_name)
    timers = dict(DEFAULT_TIMERS)
    timers.update(impl.get("timers", {}))
    target = lane = None
    if ns.server and (ns.server_cmd or ns.harmonyd):
        print("conformance: --server cannot be combined with --server-cmd/--harmonyd", file=sys.stderr)
        return 2
    if ns.server:
        target = Target(ns.server, ns.http, None)
        timers = dict(impl.get("timers", {}))  # unknown unless the expectations file says
    else:
        template = ns.server_cmd
        if not template:
            harmonyd = os.path.abspath(ns.harmonyd or os.path.join(ROOT, "build", "release", "bin", "harmonyd"))
            if not os.access(harmonyd, os.X_OK):
                print(f"conformance: {harmonyd} not found: build it (tools/run-main does) or pass --server",
                      file=sys.stderr)
                return 2
            template = HARMONYD_TEMPLATE.replace("{harmonyd}", harmonyd)
        os.makedirs(ns.report, exist_ok=True)
        try:
            target = start_managed(ns, template, timers, "server.log")
            if any("restart" in c.needs or "exclusive" in c.needs for c in cases) and \
                    len(cases) > 1 and not ns.no_lane:
                lane = start_managed(ns, template, timers, "server-exclusive.log")
        except RuntimeError as e:
            print(f"conformance: {e}", file=sys.stderr)
            for t in (target, lane):
                if t is not None:
                    t.shutdown()
            return 2
    target.timers = timers

    runner = Runner(ns, registry, target, impl)
    if lane is not None:
        lane.timers = dict(timers)
        runner.lane = lane
    print(f"conformance: {len(cases)} cases against {target.ws_url} (impl {impl.get('impl', {}).get('name')}, "
          f"profile {ns.profile}, seed {ns.seed}, jobs {ns.jobs}"
          f"{', exclusive cases on ' + lane.ws_url if lane else ''})", flush=True)
    t0 = time.monotonic()
    try:
        results = asyncio.run(run_all(runner, cases))
    finally:
        for t in (target, lane):
            if t is not None:
                t.shutdown()
    dur = time.monotonic() - t0
    ok, gating = verdict(results, ns.profile)
    cov = coverage(registry, results, selected_all=not (ns.only or ns.exclude))
    meta = {"target": target.ws_url, "impl": impl.get("impl", {}).get("name"), "profile": ns.profile,
            "seed": ns.seed, "duration_s": round(dur, 1), "verdict": "PASS" if ok else "FAIL",
            "timers": timers}
    print()
    print(report_mod.terminal_summary(results, meta))
    print()
    for r in results:
        if r.outcome not in (PASS, SKIPPED) and (r.outcome != UNSUPPORTED or ns.verbose):
            exp = f" (expected: {r.expected.get('gap') or ''} {r.expected.get('reason', '')})" if r.expected else ""
            first = r.message.splitlines()[0] if r.message else ""
            print(f"{r.outcome:<11} {r.case.id:<16} {r.case.title}{exp}\n{'':<12}{first[:300]}")
    stale = [r for r in results if r.expected and r.expected.get("outcome") != r.outcome
             and r.outcome not in (SKIPPED, UNSUPPORTED)]
    if stale:
        print(f"expectations not met ({len(stale)}; update the expectations file):")
        for r in stale:
            print(f"  {r.case.id:<16} expected {r.expected.get('outcome')}, got {r.outcome}")
    print()
    print(f"coverage: {cov['summary']}")
    if not (ns.only or ns.exclude):
        for line in coverage_mod.report_lines(cov):
            print(line)
    paths = report_mod.write_all(ns.report, results, meta, cov)
    print(f"reports: {', '.join(paths)}")
    n = {o: sum(r.outcome == o for r in results) for o in (PASS, FAIL, INSECURE, ERROR)}
    print(f"conformance ({ns.profile}): {n[PASS]} passed, {n[FAIL] + n[INSECURE] + n[ERROR]} failed"
          f" in {dur:.1f}s -- verdict {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
