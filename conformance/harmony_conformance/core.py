"""The case model: registration, graded outcomes, the per-case context.

A case is an async function registered with @case. It states what it sends and what it
expects (title/sends/expects), the requirement ids it checks, and the registry types it
exercises. Its grade on failure follows the level of its requirements (spec/README.md):

    MUST      -> FAIL
    SECURITY  -> INSECURE
    SHOULD    -> NON-STRICT

A case that cannot run against a server (feature absent, no restart command, ...) raises
Unsupported. A case listed with `skip` in the implementation's expectations file is
SKIPPED. Anything else that goes wrong inside the harness is ERROR, which always fails
the run: a harness error is never a pass.
"""
from __future__ import annotations

import asyncio
import dataclasses
import time
import traceback
from typing import Any, Awaitable, Callable, Dict, List, Optional

PASS = "PASS"
FAIL = "FAIL"
INSECURE = "INSECURE"
NON_STRICT = "NON-STRICT"
UNSUPPORTED = "UNSUPPORTED"
SKIPPED = "SKIPPED"
ERROR = "ERROR"
OUTCOMES = [PASS, FAIL, INSECURE, NON_STRICT, UNSUPPORTED, SKIPPED, ERROR]

LEVEL_TO_FAILURE = {"MUST": FAIL, "SECURITY": INSECURE, "SHOULD": NON_STRICT}


class CheckFailed(Exception):
    """A requirement was not met. The message says what was expected and what came back."""


class Unsupported(Exception):
    """The server (or the way it is driven) lacks what this case needs."""


@dataclasses.dataclass
class Case:
    id: str
    area: str
    title: str
    sends: str
    expects: str
    reqs: List[str]
    types: List[str]            # registry types exercised, "type/c2s" or "type/s2c"
    fn: Callable[["Context"], Awaitable[None]]
    timeout: float = 15.0
    needs: List[str] = dataclasses.field(default_factory=list)  # e.g. "restart", "sfu-mock", "timers"
    level: Optional[str] = None  # filled in from the spec by the loader

    def failure_grade(self) -> str:
        return LEVEL_TO_FAILURE.get(self.level or "MUST", FAIL)


REGISTRY: Dict[str, Case] = {}


def case(id: str, *, area: str, title: str, sends: str, expects: str, reqs: List[str],
         types: List[str] = (), timeout: float = 15.0, needs: List[str] = ()):
    """Register a conformance case. Ids are stable: never renumber or reuse one."""

    def deco(fn):
        if id in REGISTRY:
            raise ValueError(f"duplicate case id {id}")
        REGISTRY[id] = Case(id=id, area=area, title=title, sends=sends, expects=expects,
                            reqs=list(reqs), types=list(types), fn=fn, timeout=timeout,
                            needs=list(needs))
        return fn

    return deco


@dataclasses.dataclass
class Result:
    case: Case
    outcome: str
    message: str = ""
    duration: float = 0.0
    transcript: List[dict] = dataclasses.field(default_factory=list)
    expected: Optional[dict] = None  # the expectations-file entry, when there is one
    observed_types: List[str] = dataclasses.field(default_factory=list)
    shape_errors: List[str] = dataclasses.field(default_factory=list)

    @property
    def gating(self) -> bool:
        """True when this result should fail the run (before profile filtering)."""
        if self.outcome == ERROR:
            return True
        if self.expected and self.expected.get("outcome") == self.outcome:
            return False
        return self.outcome in (FAIL, INSECURE)


class Context:
    """What a case gets: the target, identities, connections, and assertion helpers."""

    def __init__(self, run, case_: Case, target=None):
        self.run = run                 # the Runner (target, adapter, options)
        self.case = case_
        self.adapter = run.adapter
        self.target = target if target is not None else run.target
        self.conns = []                # every connection the case opened (for transcripts)
        self.observed = set()
        self.shape_errors: List[str] = []
        self._cleanup: List[Callable[[], Awaitable[None]]] = []

    # ---- identities and connections -------------------------------------------------
    def identity(self, name: str):
        """A deterministic identity for this case: same seed, case and name -> same keys."""
        return self.run.identities.get(f"{self.case.id}/{name}")

    def trusted_issuer(self):
        """The identity the suite configures as a trusted credential issuer when it starts
        the server (--trusted-issuer); None when the server was not started by the suite."""
        if self.target.managed is None:
            return None
        return self.run.identities.get("fixture/trusted-issuer")

    @property
    def revoked_vc_id(self):
        """The VC id the suite configures as revoked (--revoked-credential), or None."""
        if self.target.managed is None:
            return None
        from .runner import REVOKED_VC_ID
        return REVOKED_VC_ID

    async def connect(self, name: str = "alice", *, auth: bool = True, identity=None, **kw):
        """Open a connection as `name` (authenticated through the adapter unless auth=False)."""
        ident = identity or self.identity(name)
        conn = await self.adapter.open(self, ident, label=name, **kw)
        self.conns.append(conn)
        if auth:
            await self.adapter.authenticate(self, conn, ident)
        return conn

    def on_cleanup(self, fn):
        self._cleanup.append(fn)

    async def close_all(self):
        for fn in reversed(self._cleanup):
            try:
                await fn()
            except Exception:
                pass
        for c in self.conns:
            await c.close_quietly()

    # ---- assertions ------------------------------------------------------------------
    def check(self, cond: Any, message: str):
        if not cond:
            raise CheckFailed(message)

    def fail(self, message: str):
        raise CheckFailed(message)

    def unsupported(self, reason: str):
        raise Unsupported(reason)

    def note_type(self, type_: str, direction: str):
        self.observed.add(f"{type_}/{direction}")

    @property
    def timeout(self) -> float:
        return self.run.options.reply_timeout

    @property
    def quiet(self) -> float:
        """How long 'no frame arrives' is waited for."""
        return self.run.options.quiet_time


async def run_case(runner, case_: Case, target=None) -> Result:
    ctx = Context(runner, case_, target)
    t0 = time.monotonic()
    outcome, message = PASS, ""
    try:
        await asyncio.wait_for(case_.fn(ctx), timeout=case_.timeout * runner.options.time_scale)
        if ctx.shape_errors:
            outcome, message = case_.failure_grade(), "; ".join(ctx.shape_errors[:5])
    except CheckFailed as e:
        outcome, message = case_.failure_grade(), str(e)
    except Unsupported as e:
        outcome, message = UNSUPPORTED, str(e)
    except asyncio.TimeoutError:
        outcome, message = case_.failure_grade(), f"case did not finish within {case_.timeout}s"
    except Exception as e:  # a harness error, or a server behaviour the harness did not expect
        outcome = ERROR
        message = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}"
    finally:
        try:
            await asyncio.wait_for(ctx.close_all(), timeout=5)
        except Exception:
            pass
    res = Result(case=case_, outcome=outcome, message=message, duration=time.monotonic() - t0)
    res.observed_types = sorted(ctx.observed)
    res.shape_errors = ctx.shape_errors
    if outcome != PASS:
        for c in ctx.conns:
            res.transcript.extend(c.transcript_dicts())
    return res
