"""Authentication, second part (spec/auth.md): the VP shape, the holder DID, signatures,
the hardened proof checks (strict Ed25519, proof form, method, freshness), the credential
checks (structure, expiry, revocation, subject and issuer binding) and the session token
format and validity rules. Presentations and credentials are built by the harness' crypto
with one rule broken at a time; everything else stays valid."""
from __future__ import annotations

import base64
import datetime
import json
import os
import re
import time

from ..core import case
from ..crypto import base58, didkey, proofs
from ..crypto.jsjson import spread
from ..wsclient import now_iso
from ._util import template_has, token_claims

DAY_MS = 86_400_000


def iso_at(offset_s: float) -> str:
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def make_vc(issuer, subject_did=None, *, purpose="assertionMethod", issued=None, expires=None, id_hex=None,
            drop=(), claims=None, vm=None, ptype=None, issuer_did=None, seed=None):
    """A credential signed by `issuer` (an Identity) with one field changed as asked."""
    idid = issuer_did or issuer.did
    cred = {"@context": [proofs.VC_CONTEXT], "id": "urn:uuid:" + (id_hex or os.urandom(16).hex()),
            "type": ["VerifiableCredential", "IdentityAssertion"], "issuer": idid,
            "issuanceDate": issued or now_iso(),
            "credentialSubject": spread({"id": subject_did or idid},
                                        claims if claims is not None else {"type": "IdentityAssertion"})}
    if expires:
        cred["expirationDate"] = expires
    for k in drop:
        cred.pop(k, None)
    proof = proofs.create_proof(cred, seed or issuer.seed32, vm or didkey.verification_method(idid), purpose,
                                issued or now_iso())
    if ptype:
        proof["type"] = ptype
    return spread(cred, {"proof": proof})


def make_vp(holder, creds=None, *, created=None, purpose="authentication", vm=None, ptype=None, pv_prefix="z",
            drop=(), holder_did=None, seed=None):
    """A presentation signed by `holder` with one field changed as asked."""
    hdid = holder_did or holder.did
    vp = {"@context": [proofs.VC_CONTEXT], "type": ["VerifiablePresentation"], "holder": hdid,
          "verifiableCredential": [holder.credential()] if creds is None else creds}
    for k in drop:
        vp.pop(k, None)
    proof = proofs.create_proof(vp, seed or holder.seed32, vm or didkey.verification_method(hdid), purpose,
                                created or now_iso())
    if ptype:
        proof["type"] = ptype
    if pv_prefix != "z":
        proof["proofValue"] = pv_prefix + proof["proofValue"][1:]
    return spread(vp, {"proof": proof})


async def refused(ctx, name, payload, sender, *, message=None):
    """Send sync.state with payload on a fresh connection: AUTH_INVALID (with `message`, when given), close 4002."""
    c = await ctx.connect(name, auth=False)
    await c.send("sync.state", payload, sender=sender)
    f = await c.expect_error("AUTH_INVALID")
    if message is not None:
        got = (f.get("payload") or {}).get("message")
        ctx.check(got == message, f"[{name}] AUTH_INVALID message {got!r}, expected {message!r}")
    await c.expect_close(4002)
    await c.expect_none("sync.response", within=0.01)
    return f


def freshness_s(ctx) -> int:
    return int((ctx.target.timers or {}).get("vp_freshness_s") or 300)


# ---- shape, holder, signatures (MUST) -----------------------------------------------------

@case("AUTH-101", area="auth", reqs=["R-AUTH-2"], types=["sync.state/c2s", "error/s2c"],
      title="A VP without holder, without a credential array or without a proof is refused",
      sends="three signed VPs on three connections: no `holder`; no `verifiableCredential`; no `proof`",
      expects="each: error AUTH_INVALID, then close 4002")
async def auth_shape(ctx):
    a = ctx.identity("alice")
    await refused(ctx, "no-holder", make_vp(a, drop=("holder",)), a.did)
    await refused(ctx, "no-creds", make_vp(a, drop=("verifiableCredential",)), a.did)
    vp = make_vp(a)
    del vp["proof"]
    await refused(ctx, "no-proof", vp, a.did)


@case("AUTH-102", area="auth", reqs=["R-AUTH-3"], types=["sync.state/c2s", "error/s2c"],
      title="A holder that is not a did:key Ed25519 DID is refused",
      sends="a VP with holder did:web:example.com (method did:web:example.com#key-1), signed with a real key; "
            "envelope sender = that holder",
      expects="error AUTH_INVALID, then close 4002")
async def auth_holder_method(ctx):
    a = ctx.identity("alice")
    h = "did:web:example.com"
    vp = make_vp(a, holder_did=h, vm=h + "#key-1")
    await refused(ctx, "alice", vp, h)


@case("AUTH-103", area="auth", reqs=["R-AUTH-5"], types=["sync.state/c2s", "error/s2c"],
      title="A credential whose signature does not verify fails the login",
      sends="a correctly signed VP embedding a credential whose proofValue has one base58 character changed",
      expects="error AUTH_INVALID, then close 4002")
async def auth_vc_signature(ctx):
    a = ctx.identity("alice")
    vc = a.credential()
    pv = vc["proof"]["proofValue"]
    i = len(pv) // 2
    vc["proof"]["proofValue"] = pv[:i] + ("2" if pv[i] != "2" else "3") + pv[i + 1:]
    await refused(ctx, "alice", make_vp(a, [vc]), a.did)


@case("AUTH-104", area="auth", reqs=["R-AUTH-12"], types=["sync.state/c2s", "error/s2c"],
      title="An expired credential or one without issuanceDate fails the login",
      sends="a VP whose credential expired yesterday; a VP whose credential has no issuanceDate (both correctly signed)",
      expects="each: error AUTH_INVALID, then close 4002")
async def auth_vc_expired(ctx):
    a = ctx.identity("alice")
    await refused(ctx, "expired", make_vp(a, [make_vc(a, expires=iso_at(-86400))]), a.did)
    await refused(ctx, "no-issuance", make_vp(a, [make_vc(a, drop=("issuanceDate",))]), a.did)


@case("AUTH-105", area="auth", reqs=["R-AUTH-12"], types=["sync.state/c2s", "error/s2c"],
      title="A revoked credential fails the login with 'Revoked VC'",
      sends="a VP with a self-issued credential whose id is on the server's revocation list (--revoked-credential)",
      expects="error AUTH_INVALID 'Revoked VC', then close 4002")
async def auth_vc_revoked(ctx):
    rid = ctx.revoked_vc_id
    if rid is None or not template_has(ctx, "{revoked_credentials}"):
        ctx.unsupported("the revoked credential fixture needs a server the suite starts with a template that passes "
                        "{revoked_credentials} (--revoked-credential)")
    a = ctx.identity("alice")
    vc = make_vc(a, id_hex=rid.split(":")[-1])
    await refused(ctx, "alice", make_vp(a, [vc]), a.did, message="Revoked VC")


# ---- hardened proof checks (SECURITY) ---------------------------------------------------------

SMALL_ORDER_KEY = bytes([0xEC]) + b"\xff" * 30 + bytes([0x7F])  # y = p - 1: the point (0, -1), order 2
UNIVERSAL_SIG = b"\x01" + b"\x00" * 63                             # R = identity, S = 0


def small_order_vp():
    """A VP (and VC) of the small-order did:key whose signature ZIP-215 accepts for every message."""
    did = didkey.did_from_public(SMALL_ORDER_KEY)
    vm = didkey.verification_method(did)
    pv = "z" + base58.encode(UNIVERSAL_SIG)
    t = now_iso()
    vc = {"@context": [proofs.VC_CONTEXT], "id": "urn:uuid:" + os.urandom(16).hex(),
          "type": ["VerifiableCredential", "IdentityAssertion"], "issuer": did, "issuanceDate": t,
          "credentialSubject": {"id": did, "type": "IdentityAssertion"},
          "proof": {"type": proofs.PROOF_TYPE, "created": t, "verificationMethod": vm,
                    "proofPurpose": "assertionMethod", "proofValue": pv}}
    vp = {"@context": [proofs.VC_CONTEXT], "type": ["VerifiablePresentation"], "holder": did,
          "verifiableCredential": [vc],
          "proof": {"type": proofs.PROOF_TYPE, "created": t, "verificationMethod": vm,
                    "proofPurpose": "authentication", "proofValue": pv}}
    return did, vp


@case("AUTH-106", area="auth", reqs=["R-AUTH-6", "R-CRY-ED-5", "R-CRY-PROF-3"], types=["sync.state/c2s", "error/s2c"],
      title="A small-order did:key with a universal signature cannot log in (strict Ed25519)",
      sends="a VP whose holder and credential issuer is the did:key of the order-2 point (0,-1), every proofValue "
            "the signature R = identity, S = 0 (valid for every message under ZIP-215)",
      expects="error AUTH_INVALID, then close 4002 (upstream's ZIP-215 verifier logs it in: W14)")
async def auth_small_order(ctx):
    did, vp = small_order_vp()
    await refused(ctx, "forger", vp, did)


@case("AUTH-107", area="auth", reqs=["R-AUTH-7"], types=["sync.state/c2s", "error/s2c"],
      title="A VP proof of another type, another purpose or without the 'z' prefix is refused",
      sends="three otherwise valid VPs: proof.type JsonWebSignature2020; proofPurpose assertionMethod (signed with "
            "it); proofValue starting 'x' instead of 'z'",
      expects="each: error AUTH_INVALID 'Invalid VP', then close 4002 (upstream checks none of them: G1)")
async def auth_proof_form(ctx):
    a = ctx.identity("alice")
    await refused(ctx, "type", make_vp(a, ptype="JsonWebSignature2020"), a.did, message="Invalid VP")
    await refused(ctx, "purpose", make_vp(a, purpose="assertionMethod"), a.did, message="Invalid VP")
    await refused(ctx, "prefix", make_vp(a, pv_prefix="x"), a.did, message="Invalid VP")


@case("AUTH-108", area="auth", reqs=["R-AUTH-8"], types=["sync.state/c2s", "error/s2c"],
      title="A VP proof must name the holder's own authentication method",
      sends="valid VPs whose verificationMethod is the holder's X25519 method, '<holder>#key-1', or another DID's "
            "method (each signed over that method string with the holder's key)",
      expects="each: error AUTH_INVALID 'Invalid VP', then close 4002")
async def auth_vm(ctx):
    a, b = ctx.identity("alice"), ctx.identity("bob")
    xmb = didkey.x25519_multibase(a.x25519_public)
    await refused(ctx, "x25519", make_vp(a, vm=a.did + "#" + xmb), a.did, message="Invalid VP")
    await refused(ctx, "key-1", make_vp(a, vm=a.did + "#key-1"), a.did, message="Invalid VP")
    await refused(ctx, "other", make_vp(a, vm=didkey.verification_method(b.did)), a.did, message="Invalid VP")


@case("AUTH-109", area="auth", reqs=["R-AUTH-9"], types=["sync.state/c2s", "error/s2c"],
      title="A VP whose proof.created is outside the freshness window, or not RFC 3339, is refused",
      sends="valid VPs with proof.created = now - W - 60 s, now + W + 60 s, and '2025/01/01 00:00:00'",
      expects="each: error AUTH_INVALID ('Stale VP' for the two out-of-window ones), then close 4002 "
              "(upstream has no freshness check: G1)")
async def auth_stale(ctx):
    a = ctx.identity("alice")
    w = freshness_s(ctx)
    await refused(ctx, "old", make_vp(a, created=iso_at(-w - 60)), a.did, message="Stale VP")
    await refused(ctx, "future", make_vp(a, created=iso_at(w + 60)), a.did, message="Stale VP")
    await refused(ctx, "garbled", make_vp(a, created="2025/01/01 00:00:00"), a.did)


@case("AUTH-110", area="auth", reqs=["R-AUTH-13"], types=["sync.state/c2s", "error/s2c"],
      title="A credential about another subject, or issued by an untrusted DID, fails the login",
      sends="alice's VP with a credential alice issued about bob; alice's VP with a credential bob issued about alice",
      expects="each: error AUTH_INVALID 'Invalid VC', then close 4002 (upstream binds neither: G1)")
async def auth_binding(ctx):
    a, b = ctx.identity("alice"), ctx.identity("bob")
    await refused(ctx, "subject", make_vp(a, [make_vc(a, b.did)]), a.did, message="Invalid VC")
    await refused(ctx, "issuer", make_vp(a, [make_vc(b, a.did)]), a.did, message="Invalid VC")


@case("AUTH-111", area="auth", reqs=["R-AUTH-13"], types=["sync.state/c2s", "sync.response/s2c"],
      title="A credential from the configured trusted issuer logs the holder in",
      sends="alice's VP with a credential about alice issued by the suite's trusted issuer (--trusted-issuer)",
      expects="sync.response authenticated:true with did = alice")
async def auth_trusted(ctx):
    t = ctx.trusted_issuer()
    if t is None or not template_has(ctx, "{trusted_issuers}"):
        ctx.unsupported("the trusted issuer fixture needs a server the suite starts with a template that passes "
                        "{trusted_issuers} (--trusted-issuer)")
    a = ctx.identity("alice")
    c = await ctx.connect("alice", auth=False)
    await c.send("sync.state", make_vp(a, [make_vc(t, a.did)]), sender=a.did)
    f = await c.expect(lambda f: f.get("type") in ("sync.response", "error"), what="the login reply")
    ctx.check(f["type"] == "sync.response" and f["payload"].get("did") == a.did, f"login reply {f}")


@case("AUTH-112", area="auth", reqs=["R-AUTH-13"], types=["sync.state/c2s", "error/s2c"],
      title="A credential proof with the wrong purpose or method, or issued in the future, fails the login",
      sends="alice's VPs with a self-issued credential: proofPurpose authentication; verificationMethod "
            "'<alice>#key-1'; issuanceDate now + W + 120 s",
      expects="each: error AUTH_INVALID 'Invalid VC', then close 4002")
async def auth_vc_proof(ctx):
    a = ctx.identity("alice")
    w = freshness_s(ctx)
    await refused(ctx, "purpose", make_vp(a, [make_vc(a, purpose="authentication")]), a.did, message="Invalid VC")
    await refused(ctx, "method", make_vp(a, [make_vc(a, vm=a.did + "#key-1")]), a.did, message="Invalid VC")
    await refused(ctx, "future", make_vp(a, [make_vc(a, issued=iso_at(w + 120))]), a.did, message="Invalid VC")


# ---- session tokens ------------------------------------------------------------------------

TOKEN_J = re.compile(r'^\{"did":"(did:key:z[1-9A-HJ-NP-Za-km-z]+)","iat":(\d+),"exp":(\d+)\}$')


def _canon_b64(s: str) -> bool:
    try:
        return base64.b64encode(base64.b64decode(s, validate=True)).decode() == s
    except ValueError:
        return False


@case("TOK-101", area="auth", reqs=["R-TOK-1"], types=["sync.state/c2s", "sync.response/s2c"],
      title="A session token is B64(JSON {did, iat, exp}) '.' B64(64-byte signature), valid for 7 days",
      sends="a VP login",
      expects="sessionToken has one '.', both parts canonical padded standard base64; the first decodes to exactly "
              "{\"did\":<DID>,\"iat\":<ms>,\"exp\":<ms>} with iat about now and exp = iat + 604800000; the second to "
              "64 bytes")
async def tok_format(ctx):
    c = await ctx.connect("alice")
    tok = c.session_token or ""
    parts = tok.split(".")
    ctx.check(len(parts) == 2, f"token has {len(parts) - 1} dots")
    ctx.check(all(_canon_b64(p) for p in parts), f"token parts are not canonical base64: {tok[:60]}")
    j = base64.b64decode(parts[0]).decode("utf-8")
    m = TOKEN_J.match(j)
    ctx.check(m, f"token JSON {j!r} is not {{\"did\":..,\"iat\":..,\"exp\":..}}")
    ctx.check(m.group(1) == c.did, f"token did {m.group(1)}")
    iat, exp = int(m.group(2)), int(m.group(3))
    ctx.check(abs(iat - time.time() * 1000) < 10_000, f"iat {iat} is not now")
    ctx.check(exp - iat == 7 * DAY_MS, f"exp - iat = {exp - iat}, expected 604800000")
    ctx.check(len(base64.b64decode(parts[1])) == 64, "signature part is not 64 bytes")


@case("TOK-102", area="auth", reqs=["R-TOK-7"], types=["auth.token.verify/c2s", "auth.token.expired/s2c"],
      title="Tokens that are not exactly canonical are refused",
      sends="a valid token with the signature's '=' padding removed; with a third '.' part; with a newline inside "
            "the first part; with the first part re-encoded with an extra key",
      expects="auth.token.expired for each, the connection open; the unmodified token then logs in "
              "(upstream's atob accepts the first three: W24)")
async def tok_strict(ctx):
    ident = ctx.identity("alice")
    first = await ctx.connect("alice-1", identity=ident)
    tok = first.session_token
    body, sig = tok.split(".")
    claims = token_claims(tok)
    extra = base64.b64encode(json.dumps(dict(claims, x=1), separators=(",", ":")).encode()).decode()
    variants = [body + "." + sig.rstrip("="), tok + ".AAAA", body[:8] + "\n" + body[8:] + "." + sig,
                extra + "." + sig]
    c = await ctx.connect("alice-2", auth=False, identity=ident)
    for v in variants:
        await c.send("auth.token.verify", {"token": v}, sender=ident.did)
        f = await c.expect(lambda f: f.get("type") in ("auth.token.expired", "sync.response", "error"),
                           what="the token reply")
        ctx.check(f["type"] == "auth.token.expired", f"token {v[:40]!r}... answered {f['type']}: {f.get('payload')}")
    await c.expect_open(within=0.05)
    await ctx.adapter.authenticate(ctx, c, ident, token=tok)


@case("TOK-103", area="auth", reqs=["R-TOK-9"], types=["auth.token.verify/c2s", "sync.response/s2c"],
      title="A token is a bearer credential usable on several connections until it expires",
      sends="the auth-ok token of one login presented on two new connections at once, and again on a third",
      expects="all three log in as the DID")
async def tok_bearer(ctx):
    ident = ctx.identity("alice")
    first = await ctx.connect("alice-1", identity=ident)
    tok = first.session_token
    for i in range(3):
        c = await ctx.connect(f"alice-t{i}", auth=False, identity=ident)
        ok = await ctx.adapter.authenticate(ctx, c, ident, token=tok)
        ctx.check(ok["payload"].get("did") == ident.did, f"token login {i} as {ok['payload'].get('did')}")
