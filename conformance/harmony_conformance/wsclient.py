"""A raw-frame WebSocket client for the harness.

Not a Harmony client: it sends exactly the frames a case builds and records every frame
both ways (the transcript that goes into the report on failure). Waits are predicate
based with deadlines, and "no such frame within T" is a first-class assertion, because
errors carry no request id on every server and some paths are silent on some servers.
"""
from __future__ import annotations

import asyncio
import base64
import datetime
import itertools
import json
import time
from typing import Any, Callable, Optional, Union

import websockets

from .core import CheckFailed

Pred = Union[str, Callable[[dict], bool], None]
_ids = itertools.count(1)


def now_iso() -> str:
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def u8(data: bytes) -> dict:
    """The wire form of a byte array: {"__type":"Uint8Array","data":<std base64>}."""
    return {"__type": "Uint8Array", "data": base64.b64encode(data).decode()}


def from_u8(v: Any) -> Optional[bytes]:
    """Bytes from any of the accepted wire forms (codec object, number array, index map)."""
    if isinstance(v, dict) and v.get("__type") == "Uint8Array" and isinstance(v.get("data"), str):
        return base64.b64decode(v["data"], validate=True)
    if isinstance(v, list) and all(isinstance(x, int) and 0 <= x < 256 for x in v):
        return bytes(v)
    if isinstance(v, dict) and v and all(k.isdigit() for k in v):
        return bytes(v[str(i)] for i in range(len(v)))
    return None


def _matcher(pred: Pred) -> Callable[[dict], bool]:
    if pred is None:
        return lambda f: True
    if isinstance(pred, str):
        return lambda f, t=pred: f.get("type") == t
    return pred


def _describe(pred: Pred) -> str:
    if pred is None:
        return "any frame"
    if isinstance(pred, str):
        return f"a '{pred}' frame"
    return getattr(pred, "__doc__", None) or getattr(pred, "__name__", "a matching frame")


class Connection:
    def __init__(self, ctx, url: str, label: str, registry=None):
        self.ctx = ctx
        self.url = url
        self.label = label
        self.registry = registry
        self.ws = None
        self.inbox: list = []            # received, not yet consumed frames (parsed dicts)
        self.log: list = []              # (t, dir, text-or-note)
        self.closed = asyncio.Event()
        self.close_code: Optional[int] = None
        self.close_reason: str = ""
        self.did: Optional[str] = None
        self.session_token: Optional[str] = None
        self._cond = asyncio.Condition()
        self._reader = None
        self._t0 = time.monotonic()

    # ---- lifecycle ---------------------------------------------------------------------
    async def open(self, *, max_size: int = 16 * 1024 * 1024, open_timeout: float = 5.0):
        # a loaded machine or a slow server: --time-scale stretches the handshake wait too
        opts = getattr(getattr(self.ctx, "run", None), "options", None)
        open_timeout *= getattr(opts, "time_scale", 1.0) or 1.0
        try:
            self.ws = await asyncio.wait_for(
                websockets.connect(self.url, max_size=max_size, ping_interval=None,
                                   close_timeout=1, compression=None),
                timeout=open_timeout)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake) as e:
            raise CheckFailed(f"[{self.label}] cannot open WebSocket to {self.url}: {type(e).__name__} {e}".rstrip())
        self._note("open", self.url)
        self._reader = asyncio.ensure_future(self._read_loop())
        return self

    async def _read_loop(self):
        try:
            async for msg in self.ws:
                text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg
                self._note("recv" if isinstance(msg, str) else "recv-binary", text)
                try:
                    frame = json.loads(text)
                except (ValueError, RecursionError):  # deeper than Python's parser goes
                    frame = {"__unparsable__": text}
                if isinstance(frame, dict) and isinstance(frame.get("type"), str):
                    self.ctx.note_type(frame["type"], "s2c")
                    if self.registry is not None:
                        for err in self.registry.check_s2c_frame(frame):
                            self.ctx.shape_errors.append(f"[{self.label}] {err}")
                async with self._cond:
                    self.inbox.append(frame)
                    self._cond.notify_all()
        except websockets.exceptions.ConnectionClosed:
            pass
        except Exception as e:  # pragma: no cover - recorded for the report
            self._note("error", repr(e))
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason or ""
            self._note("closed", f"code={self.close_code} reason={self.close_reason!r}")
            self.closed.set()
            async with self._cond:
                self._cond.notify_all()

    async def close_quietly(self):
        if self.ws is not None and not self.closed.is_set():
            try:
                await asyncio.wait_for(self.ws.close(), timeout=2)
            except Exception:
                pass
        if self._reader is not None:
            self._reader.cancel()

    # ---- sending -------------------------------------------------------------------------
    def envelope(self, type_: str, payload: Any, *, id: Optional[str] = None,
                 sender: Optional[str] = None, **extra) -> dict:
        env = {"id": id or f"conf-{self.ctx.case.id}-{next(_ids)}", "type": type_,
               "timestamp": now_iso(), "sender": self.did if sender is None else sender,
               "payload": payload}
        env.update(extra)
        return env

    async def send(self, type_: str, payload: Any = None, **kw) -> dict:
        env = self.envelope(type_, payload if payload is not None else {}, **kw)
        self.ctx.note_type(type_, "c2s")
        await self.send_raw(json.dumps(env, separators=(",", ":"), ensure_ascii=False))
        return env

    async def send_frame(self, env: dict):
        if isinstance(env.get("type"), str):
            self.ctx.note_type(env["type"], "c2s")
        await self.send_raw(json.dumps(env, separators=(",", ":"), ensure_ascii=False))

    async def send_raw(self, data: Union[str, bytes]):
        self._note("send" if isinstance(data, str) else "send-binary",
                   data if isinstance(data, str) else data.decode("utf-8", "replace"))
        try:
            await self.ws.send(data)
        except websockets.exceptions.ConnectionClosed as e:
            raise CheckFailed(f"[{self.label}] connection closed while sending (code {e.code})")

    # ---- receiving -----------------------------------------------------------------------
    async def expect(self, pred: Pred = None, timeout: Optional[float] = None,
                     what: Optional[str] = None) -> dict:
        """Wait for and consume the first frame matching pred. Fails after timeout."""
        match = _matcher(pred)
        timeout = self.ctx.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        async with self._cond:
            while True:
                for i, f in enumerate(self.inbox):
                    if isinstance(f, dict) and match(f):
                        del self.inbox[i]
                        return f
                left = deadline - time.monotonic()
                if left <= 0 or self.closed.is_set():
                    break
                try:
                    await asyncio.wait_for(self._cond.wait(), timeout=left)
                except asyncio.TimeoutError:
                    break
        seen = ", ".join(str(f.get("type")) for f in self.inbox if isinstance(f, dict)) or "nothing"
        state = f"; connection closed with {self.close_code}" if self.closed.is_set() else ""
        raise CheckFailed(f"[{self.label}] expected {what or _describe(pred)} within {timeout:.1f}s; "
                          f"unconsumed frames: {seen}{state}")

    async def expect_type(self, type_: str, where: Optional[Callable[[dict], bool]] = None,
                          timeout: Optional[float] = None, what: Optional[str] = None) -> dict:
        def m(f):
            return f.get("type") == type_ and (where is None or where(f.get("payload") or {}))
        return await self.expect(m, timeout, what or f"a '{type_}' frame")

    async def expect_error(self, codes=None, timeout: Optional[float] = None) -> dict:
        """Wait for an error frame (with one of `codes`, if given)."""
        if isinstance(codes, str):
            codes = [codes]

        def m(f):
            if f.get("type") != "error":
                return False
            return codes is None or self.ctx.adapter.error_code(f) in codes
        return await self.expect(m, timeout, f"an error frame{(' with code ' + '/'.join(codes)) if codes else ''}")

    async def expect_none(self, pred: Pred = None, within: Optional[float] = None, what: str = ""):
        """Assert that no frame matching pred arrives within `within` seconds."""
        match = _matcher(pred)
        within = self.ctx.quiet if within is None else within
        deadline = time.monotonic() + within
        async with self._cond:
            while True:
                for f in self.inbox:
                    if isinstance(f, dict) and match(f):
                        raise CheckFailed(f"[{self.label}] received {what or _describe(pred)} "
                                          f"that must not arrive: {json.dumps(f)[:300]}")
                left = deadline - time.monotonic()
                if left <= 0 or self.closed.is_set():
                    return
                try:
                    await asyncio.wait_for(self._cond.wait(), timeout=left)
                except asyncio.TimeoutError:
                    pass

    async def expect_close(self, codes=None, timeout: Optional[float] = None) -> int:
        if isinstance(codes, int):
            codes = [codes]
        timeout = self.ctx.timeout if timeout is None else timeout
        try:
            await asyncio.wait_for(self.closed.wait(), timeout=timeout)
        except asyncio.TimeoutError:
            raise CheckFailed(f"[{self.label}] expected the server to close the connection"
                              f"{' with ' + '/'.join(map(str, codes)) if codes else ''} within {timeout:.1f}s")
        if codes and self.close_code not in codes:
            raise CheckFailed(f"[{self.label}] closed with {self.close_code} ({self.close_reason!r}), "
                              f"expected {'/'.join(map(str, codes))}")
        return self.close_code

    async def expect_open(self, within: Optional[float] = None):
        within = self.ctx.quiet if within is None else within
        try:
            await asyncio.wait_for(self.closed.wait(), timeout=within)
        except asyncio.TimeoutError:
            return
        raise CheckFailed(f"[{self.label}] connection closed ({self.close_code}) but must stay open")

    def drain(self):
        """Drop every unconsumed frame (e.g. broadcasts a case does not look at)."""
        self.inbox.clear()

    # ---- transcript ----------------------------------------------------------------------
    def _note(self, direction: str, text: str):
        self.log.append((round(time.monotonic() - self._t0, 4), direction, text))

    def transcript_dicts(self):
        return [{"conn": self.label, "t": t, "dir": d, "data": x[:4000]} for t, d, x in self.log]
