"""The server-under-test contract (spec/server-under-test.md): the command template, the
harmonyd flags and exit codes, the readiness line, the data directory, stopping, restart and
crash, small timers, the wall clock, wire-only setup, the SFU mock and URL-only mode.

Cases that run extra server processes start them from the suite's own command template (or,
for the harmonyd flag cases, from the harmonyd binary in it), each with a fresh data
directory and free ports, and stop them again."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

import websockets

from ..core import case
from ..server import HARMONYD_TEMPLATE, ManagedServer, free_port_pair
from ..wsclient import now_iso
from ._util import create_community, require_restart, restart, send_message, world
from .transport import server_settings

READY_LINE = re.compile(r"^harmonyd ready ws://127\.0\.0\.1:(\d+) http://127\.0\.0\.1:(\d+)$")


def _harmonyd(ctx) -> str:
    require_restart(ctx)
    first = shlex.split(ctx.target.managed.template)[0]
    if os.path.basename(first) != "harmonyd":
        ctx.unsupported("the harmonyd flag and exit-code cases need the harmonyd binary (--harmonyd)")
    return first


async def _run(args, timeout=5.0, cwd=None, env=None):
    """Run a process to its end; (returncode, stdout, stderr)."""
    p = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             stdin=subprocess.DEVNULL, cwd=cwd, env=env)
    try:
        out, err = await asyncio.wait_for(p.communicate(), timeout)
    except asyncio.TimeoutError:
        p.kill()
        await p.wait()
        return None, b"", b"did not exit"
    return p.returncode, out, err


async def _start(args, cwd=None, env=None):
    """Start a server process; returns (process, ready line) once it printed its first stdout line."""
    p = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             stdin=subprocess.DEVNULL, cwd=cwd, env=env)
    try:
        line = await asyncio.wait_for(p.stdout.readline(), 10)
    except asyncio.TimeoutError:
        p.kill()
        await p.wait()
        return p, None
    return p, line.decode("utf-8", "replace").rstrip("\n")


async def _stop(p, sig=signal.SIGTERM, wait=5.0):
    """Signal the process; (seconds it took to exit or None, returncode)."""
    if p.returncode is not None:
        return 0.0, p.returncode
    t0 = time.monotonic()
    p.send_signal(sig)
    try:
        await asyncio.wait_for(p.wait(), wait)
    except asyncio.TimeoutError:
        p.kill()
        await p.wait()
        return None, p.returncode
    return time.monotonic() - t0, p.returncode


async def _login(ctx, url, ident):
    """A VP login on a server that is not the suite's target; returns (websocket, auth-ok payload)."""
    ws = await asyncio.wait_for(websockets.connect(url, ping_interval=None, compression=None), 5)
    await ws.send(json.dumps({"id": "sut-login", "type": "sync.state", "timestamp": now_iso(), "sender": ident.did,
                              "payload": ident.presentation()}))
    f = json.loads(await asyncio.wait_for(ws.recv(), ctx.timeout))
    ctx.check(f.get("type") == "sync.response" and (f.get("payload") or {}).get("authenticated") is True,
              f"login on {url}: {f}")
    return ws, f["payload"]


def _tmpdir(ctx, what):
    d = tempfile.mkdtemp(prefix=f"harmony-sut-{what}-")
    ctx.on_cleanup(lambda: asyncio.sleep(0, shutil.rmtree(d, ignore_errors=True)))
    return d


# ---- the command template ----------------------------------------------------------------

KEEP = {"{host}", "{port}", "{http_port}", "{data_dir}"}


@case("SUT-001", area="sut", reqs=["R-SUT-1"], types=["sync.state/c2s", "sync.response/s2c"], needs=["restart"],
      timeout=30,
      title="A template without the optional placeholders starts the server with its defaults",
      sends="a second server from the suite's template with every '--flag {placeholder}' pair removed except host, "
            "ports and data directory (fresh data directory); a VP login",
      expects="the server becomes ready and the login succeeds")
async def sut_reduced_template(ctx):
    require_restart(ctx)
    toks = shlex.split(ctx.target.managed.template)
    out, i = [], 0
    while i < len(toks):
        t = toks[i]
        if t in ("{trusted_issuers}", "{revoked_credentials}"):
            i += 1
            continue
        if t.startswith("--") and i + 1 < len(toks) and re.fullmatch(r"\{\w+\}", toks[i + 1]) \
                and toks[i + 1] not in KEEP:
            i += 2
            continue
        out.append(t)
        i += 1
    left = sorted({p for t in out for p in re.findall(r"\{\w+\}", t)} - KEEP)
    if left:
        # e.g. "start.sh {port} {data_dir} {rate_limit} {http_port}": a positional placeholder
        # cannot be dropped without shifting the ones after it
        ctx.unsupported(f"the template passes {', '.join(left)} other than as '--flag {{placeholder}}' pairs, "
                        "so the suite cannot derive a template without them")
    port, http_port = free_port_pair()
    m = ManagedServer(shlex.join(out), {"host": "127.0.0.1", "port": port, "http_port": http_port,
                                        "data_dir": _tmpdir(ctx, "reduced")})
    await asyncio.get_running_loop().run_in_executor(None, m.start)
    try:
        ws, _ = await _login(ctx, m.ws_url, ctx.identity("alice"))
        await ws.close()
    finally:
        await asyncio.get_running_loop().run_in_executor(None, m.stop)


def _spec_template(ctx) -> str:
    path = os.path.join(ctx.run.registry.spec_dir, "server-under-test.md")
    text = open(path, encoding="utf-8").read()
    m = re.search(r"The template for our server is\s*```\s*\n(.*?)```", text, re.S)
    return " ".join(m.group(1).split()) if m else ""


@case("SUT-002", area="sut", reqs=["R-SUT-2"], types=[], needs=["restart"],
      title="harmonyd runs from exactly the template the contract gives",
      sends="(the suite's harmonyd template, the template in spec/server-under-test.md, the running server)",
      expects="the two templates are the same argument list and the server started from it is running")
async def sut_template(ctx):
    binary = _harmonyd(ctx)
    spec = _spec_template(ctx)
    ctx.check(spec, "no template found in spec/server-under-test.md")
    ours = " ".join(HARMONYD_TEMPLATE.replace("{harmonyd}", "harmonyd").split())
    ctx.check(shlex.split(spec) == shlex.split(ours), f"spec template {spec!r} != suite template {ours!r}")
    ctx.check(ctx.target.managed.template == HARMONYD_TEMPLATE.replace("{harmonyd}", binary)
              and ctx.target.managed.alive(), "the running server was not started from that template")


# ---- harmonyd flags, readiness, data directory, signals -------------------------------------

@case("SUT-003", area="sut", reqs=["R-SUT-3"], types=[], needs=["restart"], timeout=40,
      title="Bad flags exit 2 with one stderr line; a port in use exits 1",
      sends="harmonyd with --no-such-flag; with --port and no value; with --auth-timeout-ms 5; and with --port set "
            "to the running server's port",
      expects="exit status 2, 2, 2 (one stderr line naming the problem, nothing on stdout), then 1 with a message")
async def sut_bad_flags(ctx):
    h = _harmonyd(ctx)
    for extra, want in ((["--no-such-flag"], 2), (["--port"], 2), (["--auth-timeout-ms", "5", "--port", "0"], 2)):
        args = [h, "--data-dir", os.path.join(_tmpdir(ctx, "flags"), "d")] + extra
        rc, out, err = await _run(args)
        lines = [x for x in err.decode("utf-8", "replace").splitlines() if x.strip()]
        ctx.check(rc == want, f"{' '.join(extra)}: exit status {rc}, expected {want} ({err[:200]!r})")
        ctx.check(len(lines) == 1 and not out, f"{' '.join(extra)}: stderr {lines}, stdout {out[:100]!r}")
    busy = ctx.target.managed.params["port"]
    rc, out, err = await _run([h, "--data-dir", os.path.join(_tmpdir(ctx, "busy"), "d"), "--port", str(busy),
                               "--http-port", "0"])
    ctx.check(rc == 1 and err.strip(), f"port in use: exit status {rc}, stderr {err[:200]!r}")


@case("SUT-004", area="sut", reqs=["R-SUT-4"], types=[], needs=["restart"], timeout=30,
      title="Ready: exactly one stdout line 'harmonyd ready ws://HOST:PORT http://HOST:HTTPPORT' with the real ports",
      sends="harmonyd --port 0 with a fresh data directory; a TCP connection to each announced port; SIGTERM",
      expects="the first stdout line names two non-zero ports that accept connections; nothing else on stdout")
async def sut_ready(ctx):
    h = _harmonyd(ctx)
    p, line = await _start([h, "--port", "0", "--data-dir", os.path.join(_tmpdir(ctx, "ready"), "d")])
    try:
        m = READY_LINE.match(line or "")
        ctx.check(m, f"first stdout line {line!r}")
        for port in (int(m.group(1)), int(m.group(2))):
            ctx.check(port > 0, f"port {port}")
            _, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 3)
            w.close()
    finally:
        await _stop(p)
    rest = await p.stdout.read()
    ctx.check(not rest.strip(), f"more stdout after the ready line: {rest[:200]!r}")


@case("SUT-005", area="sut", reqs=["R-SUT-5"], types=["sync.state/c2s", "community.create/c2s"], needs=["restart"],
      timeout=30,
      title="All state goes into the data directory, which is created when missing",
      sends="harmonyd with a data directory three levels below a missing path, run from an empty working directory "
            "with HOME set to another empty directory; a login and a community.create; SIGTERM",
      expects="the data directory exists and holds files; the working directory and HOME stay empty")
async def sut_data_dir(ctx):
    h = _harmonyd(ctx)
    base, cwd, home = _tmpdir(ctx, "dd"), _tmpdir(ctx, "cwd"), _tmpdir(ctx, "home")
    dd = os.path.join(base, "a", "b", "c")
    env = dict(os.environ, HOME=home)
    p, line = await _start([h, "--port", "0", "--data-dir", dd], cwd=cwd, env=env)
    try:
        m = READY_LINE.match(line or "")
        ctx.check(m, f"ready line {line!r}")
        ws, _ = await _login(ctx, f"ws://127.0.0.1:{m.group(1)}", ctx.identity("alice"))
        await ws.send(json.dumps({"id": "sut-5", "type": "community.create", "timestamp": now_iso(),
                                  "sender": ctx.identity("alice").did, "payload": {"name": "sut-005"}}))
        f = json.loads(await asyncio.wait_for(ws.recv(), ctx.timeout))
        ctx.check(f.get("type") == "community.updated", f"community.create answered {f.get('type')}")
        await ws.close()
    finally:
        await _stop(p)
    ctx.check(os.path.isdir(dd) and os.listdir(dd), f"data directory {dd} missing or empty")
    ctx.check(not os.listdir(cwd), f"files written to the working directory: {os.listdir(cwd)}")
    ctx.check(not os.listdir(home), f"files written to HOME: {os.listdir(home)}")


@case("SUT-006", area="sut", reqs=["R-SUT-6"], types=[], needs=["restart"], timeout=30,
      title="SIGTERM and SIGINT make the server exit with status 0 within 1 s",
      sends="two harmonyd processes (fresh data directories), one stopped with SIGTERM, one with SIGINT",
      expects="each exits with status 0 within 1 s")
async def sut_signals(ctx):
    h = _harmonyd(ctx)
    for sig in (signal.SIGTERM, signal.SIGINT):
        p, line = await _start([h, "--port", "0", "--data-dir", os.path.join(_tmpdir(ctx, "sig"), "d")])
        ctx.check(READY_LINE.match(line or ""), f"ready line {line!r}")
        dt, rc = await _stop(p, sig)
        ctx.check(dt is not None and dt <= 1.0 and rc == 0, f"{sig.name}: exit status {rc} after {dt} s")


# ---- restart, crash, timers, clock -------------------------------------------------------

@case("SUT-007", area="sut", reqs=["R-SUT-7"],
      types=["community.create/c2s", "community.list/c2s", "auth.token.verify/c2s"], needs=["restart"], timeout=40,
      title="After a restart the stored state is there and earlier session tokens log in",
      sends="community.create; the server is stopped (SIGTERM) and started with the same command; the old token; "
            "community.list",
      expects="the token logs in; community.list contains the community")
async def sut_restart(ctx):
    require_restart(ctx)
    ident = ctx.identity("owner")
    o = await ctx.connect("owner", identity=ident)
    cid, _, _ = await create_community(ctx, o)
    tok = o.session_token
    await restart(ctx)
    c = await ctx.connect("owner-after", auth=False, identity=ident)
    await ctx.adapter.authenticate(ctx, c, ident, token=tok)
    c.drain()
    await c.send("community.list", {})
    f = await c.expect_type("community.list.response")
    ids = [x.get("id") or x.get("communityId") for x in f["payload"].get("communities") or [] if isinstance(x, dict)]
    ctx.check(cid in ids, f"community {cid} not listed after the restart: {ids}")


@case("SUT-008", area="sut", reqs=["R-SUT-8"], types=["channel.send/c2s", "channel.message/s2c"],
      needs=["restart"], timeout=40,
      title="SIGKILL right after an acknowledgement loses nothing and needs no repair",
      sends="a message is posted; as soon as its echo arrives the server gets SIGKILL and is started again",
      expects="the server starts and the message is in history")
async def sut_crash(ctx):
    require_restart(ctx)
    w = await world(ctx, names=())
    mid = await send_message(ctx, w["owner"], w.cid, w.chid, "acknowledged")
    await restart(ctx, hard=True)
    o = await ctx.connect("owner-after", identity=ctx.identity("owner"))
    await o.send("sync.request", {"communityId": w.cid, "channelId": w.chid})
    f = await o.expect_type("sync.response", lambda p: "messages" in p)
    ctx.check(mid in [m.get("id") for m in f["payload"].get("messages") or []], "the message was lost")


@case("SUT-009", area="sut", reqs=["R-SUT-9"], types=[], needs=["restart"], timeout=40,
      title="Small timer values are honoured (auth timeout 500 ms)",
      sends="the server restarted with auth_timeout_ms 500; an idle connection",
      expects="close 4001 between 0.45 s and 0.85 s after opening")
async def sut_small_timers(ctx):
    async with server_settings(ctx, auth_timeout_ms=500):
        t0 = time.monotonic()
        c = await ctx.connect("idle", auth=False)
        await c.expect_close(4001, timeout=3)
        dt = time.monotonic() - t0
        ctx.check(0.45 <= dt <= 0.85, f"closed after {dt:.3f} s, expected 0.5 s (+100 ms and scheduling)")


@case("SUT-010", area="sut", reqs=["R-SUT-10"], types=["sync.state/c2s", "sync.response/s2c"],
      title="The server uses the real wall clock",
      sends="a VP login",
      expects="the auth-ok timestamp and the session token's iat are within 2 s of the suite's clock")
async def sut_clock(ctx):
    from ._util import token_claims
    c = await ctx.connect("alice", auth=False)
    await c.send_frame(ctx.adapter.auth_frame(c, ctx.identity("alice")))
    f = await c.expect_type("sync.response")
    now = time.time()
    ts = f["timestamp"]
    t = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone + int(ts[20:23]) / 1000
    ctx.check(abs(t - now) < 2, f"timestamp {ts} is {t - now:+.1f} s off")
    iat = token_claims(f["payload"].get("sessionToken", "")).get("iat")
    ctx.check(isinstance(iat, int) and abs(iat / 1000 - now) < 2, f"token iat {iat}")


@case("SUT-011", area="sut", reqs=["R-SUT-11"],
      types=["community.create/c2s", "community.join/c2s", "channel.send/c2s", "channel.message/s2c"],
      title="Everything a case needs can be set up over the wire by new identities",
      sends="two never-seen DIDs: one creates a community, the other joins it and posts",
      expects="both logins succeed without any provisioning; the post reaches the creator")
async def sut_wire_only(ctx):
    a = await ctx.connect("fresh-a", identity=ctx.identity(f"fresh-{os.urandom(4).hex()}"))
    b = await ctx.connect("fresh-b", identity=ctx.identity(f"fresh-{os.urandom(4).hex()}"))
    from ._util import join, message_payload
    cid, chid, _ = await create_community(ctx, a)
    await join(ctx, b, cid)
    await b.send("channel.send", message_payload(cid, chid, "over the wire", did=b.did))
    await a.expect_type("channel.message", lambda p: p.get("content") == "over the wire")


@case("SUT-012", area="sut", reqs=["R-SUT-12"], types=["voice.session.create/c2s"], needs=["sfu-mock", "exclusive"],
      title="The server sends its SFU proxy calls to the mock given as {sfu_api_base}",
      sends="a voice participant sends voice.session.create",
      expects="the suite's mock records one POST .../sessions/new under /v1/apps/<the given app id>/")
async def sut_sfu_mock(ctx):
    from .sfu import check_call, one_call, sfu_world
    mock, w = await sfu_world(ctx, names=())
    n0 = mock.count()
    await w["owner"].send("voice.session.create", {})
    call = await one_call(ctx, mock, n0, "voice.session.create")
    check_call(ctx, call, "POST", "/sessions/new")


@case("SUT-013", area="sut", reqs=["R-SUT-13"], types=[], needs=["restart"], timeout=90,
      title="In URL-only mode the cases that need a managed server are UNSUPPORTED, not failed",
      sends="conformance/run --server <this server's URL> --only SESS-013,AUTH-105,AUTH-005,SUT-006 (a subprocess)",
      expects="exit status 0; each of the four cases is reported UNSUPPORTED")
async def sut_url_only(ctx):
    require_restart(ctx)
    runner = os.path.join(os.path.dirname(__file__), "..", "..", "run")
    rep = _tmpdir(ctx, "urlonly")
    ids = ["SESS-013", "AUTH-105", "AUTH-005", "SUT-006"]
    rc, out, err = await _run([os.path.normpath(runner), "--server", ctx.target.ws_url, "--http", ctx.target.http_url,
                               "--only", ",".join(ids), "--report", rep, "--seed", "url-only"], timeout=80)
    ctx.check(rc == 0, f"URL-only run exited {rc}: {out[-400:]!r} {err[-300:]!r}")
    with open(os.path.join(rep, "report.json"), encoding="utf-8") as fh:
        got = {c["id"]: c["outcome"] for c in json.load(fh)["cases"]}
    ctx.check(all(got.get(i) == "UNSUPPORTED" for i in ids), f"outcomes {got}")
