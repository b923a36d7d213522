#!/usr/bin/python3
"""smoke.py BINDIR - the benchmark tools still work (ctest bench_smoke; not a benchmark).

Runs every bench program on a tiny workload and checks its CSV: the throughput floor
(frames read = frames written), the latency floor (a latency for every frame, min <= p50 <=
p99 <= max), the fsync floor, the crypto ceiling, and hmload's login, fanout (fixed rate and
closed loop: lost = duplicated = 0, every delivery counted), history and mem workloads
against a harmonyd started here on 127.0.0.1 port 0 with a temporary data dir. Figures are
not judged (this runs under sanitizers on a shared box); shapes and invariants are.
Exit status 0 when every check passed.
"""
import os
import subprocess
import sys
import tempfile
import time

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def run(argv, timeout=120, env=None):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def rows(out):
    """the CSV rows of a bench program's stdout as dicts (header = first non-# line)"""
    lines = [l for l in out.splitlines() if l and not l.startswith("#")]
    if len(lines) < 2:
        return []
    head = lines[0].split(",")
    return [dict(zip(head, l.split(","))) for l in lines[1:]]


def num(r, k):
    try:
        return float(r[k])
    except (KeyError, ValueError):
        return float("nan")


def main():
    bindir = sys.argv[1]
    floor, hmload, harmonyd = (os.path.join(bindir, n) for n in ("floor", "hmload", "harmonyd"))

    rc, out, err = run([floor, "--conns", "8", "--bytes", "723", "--duration", "0.3"])
    r = rows(out)
    check(rc == 0 and len(r) == 1 and out.startswith("# env,"), "floor: exit 0, env line, one row (%s)" % err.strip())
    if r:
        check(num(r[0], "frames_read") == num(r[0], "frames_written") > 0, "floor: every frame written was read")

    rc, out, err = run([floor, "--conns", "8", "--bytes", "723", "--duration", "1", "--rate", "20", "--writers", "2"])
    r = rows(out)
    check(rc == 0 and len(r) == 1 and r[0].get("workload") == "floor-latency", "floor --rate: one floor-latency row")
    if r:
        lat = [num(r[0], k) for k in ("lat_min_ms", "lat_p50_ms", "lat_p99_ms", "lat_max_ms")]
        check(0 < lat[0] <= lat[1] <= lat[2] <= lat[3] < 1000, "floor --rate: 0 < min <= p50 <= p99 <= max: %s" % lat)
        check(num(r[0], "frames_read") == num(r[0], "frames_written") >= 8 * 10, "floor --rate: ~20 broadcasts to 8 read")
    rc, _, err = run([floor, "--rate", "5", "--bytes", "4"])
    check(rc == 2 and "--bytes >= 8" in err, "floor --rate with a 4-byte payload: usage error")

    with tempfile.TemporaryDirectory() as d:
        rc, out, err = run([floor, "--fsync", d, "--count", "5"])
        r = rows(out)
        check(rc == 0 and len(r) == 1 and 0 < num(r[0], "us_min") <= num(r[0], "us_max"), "floor --fsync: one row")
        check(os.listdir(d) == [], "floor --fsync: removes its file")
    rc, _, err = run([floor, "--fsync", "/nonexistent/dir"])
    check(rc == 1 and "cannot create" in err, "floor --fsync on a missing dir: readable error")

    rc, out, err = run([hmload, "ceiling", "--iters", "20"])
    r = rows(out)
    check(rc == 0 and len(r) == 1 and num(r[0], "verifies_per_login") == 2, "hmload ceiling: one row, 2 verifies")

    with tempfile.TemporaryDirectory() as d:
        srv = subprocess.Popen([harmonyd, "--port", "0", "--data-dir", d, "--rate-limit", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = srv.stdout.readline()
            check(line.startswith("harmonyd ready ws://127.0.0.1:"), "harmonyd started: " + line.strip())
            url = line.split()[2]
            base = [hmload, "--url", url, "--server-pid", str(srv.pid)]
            rc, out, err = run(base + ["login", "--conc", "4", "--count", "20", "--warmup", "2"])
            r = rows(out)
            check(rc == 0 and r and num(r[0], "ok") == 20 and num(r[0], "failed") == 0, "hmload login: 20 ok, 0 failed")
            for mode in (["--rate", "20"], ["--window", "2"]):
                rc, out, err = run(base + ["fanout", "--members", "5", "--senders", "2", "--duration", "1"] + mode)
                r = rows(out)
                ok = rc == 0 and r and num(r[0], "lost") == 0 and num(r[0], "duplicated") == 0
                check(ok, "hmload fanout %s: exit 0, lost 0, duplicated 0" % mode[0])
                if r:
                    check(num(r[0], "delivered_frames") == num(r[0], "sent_msgs") * 5 > 0,
                          "hmload fanout %s: every message reached all 5 members" % mode[0])
            rc, out, err = run(base + ["history", "--messages", "300", "--fetch", "250", "--fetches", "2"])
            r = rows(out)
            check(rc == 0 and r and num(r[0], "returned_per_fetch") == 250, "hmload history: 250 returned per fetch")
            rc, out, err = run(base + ["mem", "--conns", "20", "--settle", "0.2"])
            r = rows(out)
            check(rc == 0 and r and num(r[0], "ok") == 20 and num(r[0], "rss_conns_kb") > 0, "hmload mem: 20 conns")
        finally:
            srv.terminate()
            try:
                srv.wait(timeout=10)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait()
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
