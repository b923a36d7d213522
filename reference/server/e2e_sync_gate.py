#!/usr/bin/python3
"""e2e_sync_gate.py HARMONYD HMLOAD - with the sync thread on (HARMONYD_ASYNC_SYNC=1), no
frame that reveals a write leaves harmonyd before the WAL sync that makes it durable
(R-PERS-1, R-DLV-6): with every sync delayed by HARMONYD_SYNC_DELAY_MS=D, the fastest login
(whose replay-cache insert is a write) and the fastest channel.message delivery take at
least D; without the delay both are far below D, so the delay is what held them. Everything
is still delivered exactly once (hmload checks lost = duplicated = 0).
Exit status 0 when every check passed.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from smoke import rows  # noqa: E402  (the bench tools' CSV reader)

FAILS = []
DELAY_MS = 250


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def run_with(harmonyd, hmload, env_extra, workload):
    env = dict(os.environ, HARMONYD_ASYNC_SYNC="1", **env_extra)
    with tempfile.TemporaryDirectory() as d:
        srv = subprocess.Popen([harmonyd, "--port", "0", "--data-dir", d, "--rate-limit", "0", "--log-level", "warn"],
                               stdout=subprocess.PIPE, text=True, env=env)
        try:
            line = srv.stdout.readline()
            if not line.startswith("harmonyd ready "):
                return 99, []
            url = line.split()[2]
            p = subprocess.run([hmload, "--url", url] + workload, capture_output=True, text=True, timeout=120)
            return p.returncode, rows(p.stdout)
        finally:
            srv.terminate()
            try:
                srv.wait(timeout=10)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait()


def main():
    harmonyd, hmload = sys.argv[1], sys.argv[2]
    login = ["login", "--conc", "2", "--count", "6", "--warmup", "1"]
    fanout = ["fanout", "--members", "4", "--senders", "1", "--rate", "4", "--duration", "1.5"]
    delayed = {"HARMONYD_SYNC_DELAY_MS": str(DELAY_MS)}
    for name, wl in (("login", login), ("fanout", fanout)):
        rc, r = run_with(harmonyd, hmload, delayed, wl)
        ok = rc == 0 and len(r) == 1
        check(ok, "%s with every sync delayed %d ms: completed" % (name, DELAY_MS))
        if not ok:
            continue
        lmin = float(r[0]["lat_min_ms"])
        check(lmin >= DELAY_MS * 0.95, "%s: fastest answer %.1f ms >= the %d ms sync delay" % (name, lmin, DELAY_MS))
        if name == "fanout":
            check(r[0]["lost"] == "0" and r[0]["duplicated"] == "0" and int(r[0]["delivered_frames"]) > 0,
                  "fanout: lost 0, duplicated 0, delivered %s" % r[0]["delivered_frames"])
        rc, r = run_with(harmonyd, hmload, {}, wl)
        ok = rc == 0 and len(r) == 1
        check(ok and float(r[0]["lat_min_ms"]) < DELAY_MS / 2,
              "%s without the delay: fastest answer %s ms (the delay was what held it)" % (name, r[0]["lat_min_ms"] if ok else "?"))
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
