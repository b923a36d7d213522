"""Backend adapters: what differs between server implementations.

A case talks to the server through its Context, which asks the adapter how to open a
connection (which URL, one socket per client or per community), how to authenticate
(an envelope `sync.state` VP, a session token, a raw VP), how to read an error code, and
which optional features exist. The default adapter is for servers that follow our spec.
Selected by --impl through the expectations file's `adapter` key.
"""
from __future__ import annotations

from typing import Optional

from .core import CheckFailed, Unsupported
from .wsclient import Connection


class HarmonyAdapter:
    """Servers that follow spec/: one socket per client on any path, envelope auth."""

    name = "harmony"
    # Optional features a case may need; an adapter for a server without one makes those
    # cases UNSUPPORTED instead of FAIL.
    features = {"session-token", "vp-auth", "http", "sfu-proxy", "recovery", "error-request-id"}

    def __init__(self, runner):
        self.runner = runner

    def ws_url(self, path: str = "/", target=None) -> str:
        return (target or self.runner.target).ws_url.rstrip("/") + path

    def require(self, feature: str):
        if feature not in self.features:
            raise Unsupported(f"the {self.name} adapter has no '{feature}'")

    async def open(self, ctx, identity, label: str, path: str = "/", community: Optional[str] = None,
                   **kw) -> Connection:
        conn = Connection(ctx, self.ws_url(path, ctx.target), label, registry=self.runner.registry)
        conn.identity = identity
        await conn.open(**kw)
        return conn

    def auth_frame(self, conn: Connection, identity, *, created: Optional[str] = None) -> dict:
        vp = identity.presentation(created=created)
        return conn.envelope("sync.state", vp, sender=identity.did)

    async def authenticate(self, ctx, conn: Connection, identity, *, token: Optional[str] = None) -> dict:
        """Log in (VP, or `token` when given) and return the success frame."""
        if token is not None:
            await conn.send("auth.token.verify", {"token": token}, sender=identity.did)
        else:
            await conn.send_frame(self.auth_frame(conn, identity))
        ok = await conn.expect(
            lambda f: f.get("type") == "sync.response" and (f.get("payload") or {}).get("authenticated") is True
            or f.get("type") in ("error", "auth.token.expired"),
            timeout=ctx.timeout, what="the authentication reply (sync.response authenticated:true)")
        if ok.get("type") != "sync.response":
            raise CheckFailed(f"[{conn.label}] authentication refused: {ok}")
        p = ok.get("payload") or {}
        if p.get("did") != identity.did:
            raise CheckFailed(f"[{conn.label}] sync.response did is {p.get('did')!r}, expected {identity.did}")
        conn.did = identity.did
        conn.session_token = p.get("sessionToken")
        return ok

    @staticmethod
    def error_code(frame: dict) -> Optional[str]:
        p = frame.get("payload")
        return p.get("code") if isinstance(p, dict) else None


class UpstreamAdapter(HarmonyAdapter):
    """The upstream TypeScript server (packages/server-runtime): same wire as ours."""

    name = "upstream"
    features = {"session-token", "vp-auth", "http", "recovery"}


from .cloudworker import CloudWorkerAdapter  # noqa: E402  (imports wsclient/core like this module)

ADAPTERS = {"harmony": HarmonyAdapter, "upstream": UpstreamAdapter, "cloudworker": CloudWorkerAdapter}
