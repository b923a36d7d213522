"""Starting, restarting and killing a server under test (spec/server-under-test.md).

The suite starts a server from a command template. Placeholders:

  {host} {port} {http_port} {data_dir} {auth_timeout_ms} {rate_limit} {vp_freshness_s}
  {keepalive_ms} {sfu_api_base} {sfu_app_id} {sfu_app_secret} {max_connections} {log_level}
  and, standing alone, {trusted_issuers} {revoked_credentials} (expanded to flag pairs)

The suite picks free loopback ports itself, so a restart comes back on the same URLs.
Readiness: a line containing `ready ws://HOST:PORT http://HOST:PORT` on stdout (our
harmonyd prints `harmonyd ready ws://... http://...`), or, for a server that prints no such
line, a TCP connect to {port} succeeding. Every process is stopped at the end (SIGTERM, then
SIGKILL after 5 s).
"""
from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from typing import Dict, List, Optional

READY = re.compile(r"ready\s+(ws://\S+)\s+(http://\S+)")

HARMONYD_TEMPLATE = ("{harmonyd} --host {host} --port {port} --http-port {http_port} "
                     "--data-dir {data_dir} --auth-timeout-ms {auth_timeout_ms} "
                     "--rate-limit {rate_limit} --vp-freshness-s {vp_freshness_s} "
                     "--keepalive-ms {keepalive_ms} --sfu-api-base {sfu_api_base} "
                     "--sfu-app-id {sfu_app_id} --sfu-app-secret {sfu_app_secret} "
                     "--max-connections {max_connections} --log-level {log_level} "
                     "{trusted_issuers} {revoked_credentials}")

# Placeholders that stand alone and expand to zero or more flag pairs (R-SUT-2).
LIST_PLACEHOLDERS = {"{trusted_issuers}": ("--trusted-issuer", "trusted_issuers"),
                     "{revoked_credentials}": ("--revoked-credential", "revoked_credentials")}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair() -> (int, int):
    """Two free ports p and p+1 where possible (upstream convention: HTTP = WS + 1)."""
    for _ in range(50):
        p = free_port()
        if p >= 65535:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", p + 1))
            return p, p + 1
        except OSError:
            continue
    return free_port(), free_port()


class ManagedServer:
    """One server process started from a template, restartable on the same ports and data."""

    def __init__(self, template: str, params: Dict[str, str], log_path: Optional[str] = None,
                 ready_timeout: float = 15.0):
        self.template = template
        self.params = dict(params)
        self.proc: Optional[subprocess.Popen] = None
        self.ws_url = f"ws://127.0.0.1:{params['port']}"
        self.http_url = f"http://127.0.0.1:{params['http_port']}"
        self.ready_timeout = ready_timeout
        self.log_path = log_path
        self._log = open(log_path, "ab") if log_path else None
        self.starts = 0

    def command(self) -> List[str]:
        """Split the template first (shlex rules), then substitute each argument."""
        out = []
        for tok in shlex.split(self.template):
            if tok in LIST_PLACEHOLDERS:
                flag, key = LIST_PLACEHOLDERS[tok]
                for v in self.params.get(key) or []:
                    out += [flag, v]
            else:
                out.append(tok.format(**{k: v for k, v in self.params.items()
                                         if not isinstance(v, (list, tuple))}))
        return out

    def start(self):
        cmd = self.command()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log or subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.starts += 1
        ready = threading.Event()
        urls = {}

        def pump():
            for raw in self.proc.stdout:
                if self._log:
                    self._log.write(raw)
                    self._log.flush()
                m = READY.search(raw.decode("utf-8", "replace"))
                if m and not ready.is_set():
                    urls["ws"], urls["http"] = m.group(1), m.group(2)
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if ready.wait(0.05):
                self.ws_url, self.http_url = urls["ws"].rstrip("/"), urls["http"].rstrip("/")
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} before it was ready: "
                                   f"{' '.join(cmd)} (log: {self.log_path})")
            if self._port_open():
                # No ready line (another implementation): a listening port will do.
                if not ready.wait(0.3):
                    return
        self.stop()
        raise RuntimeError(f"server not ready within {self.ready_timeout}s: {' '.join(cmd)}")

    def _port_open(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", int(self.params["port"])), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM, wait: float = 5.0) -> Optional[float]:
        """Stop the process; returns how long it took to exit after the signal."""
        if not self.proc or self.proc.poll() is not None:
            return None
        t0 = time.monotonic()
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return None
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
            return None
        return time.monotonic() - t0

    def kill9(self):
        return self.stop(signal.SIGKILL)

    async def restart(self, hard: bool = False):
        await asyncio.get_running_loop().run_in_executor(None, self._restart, hard)

    def _restart(self, hard: bool):
        if hard:
            self.kill9()
        else:
            self.stop()
        self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class TempDataDir:
    def __init__(self, keep: bool = False):
        self.path = tempfile.mkdtemp(prefix="harmony-conformance-")
        self.keep = keep

    def cleanup(self):
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)
