"""Harmony proofs: VC issue/verify, VP create/verify, ZCAP root/delegate/invoke/verify.

One signing rule covers them all (crypto-facts 2.1, protocol-facts 2.1 step 3):
``Ed25519(UTF-8(JSON.stringify({...objectWithoutProof, proofPurpose, created, verificationMethod})))``
with ``proofValue = "z" + base58btc(signature)``; the verifier re-serialises the object as parsed,
so the sender's key order matters.

Two profiles (spec/README.md, decision 10 and "Profiles"):

* ``COMPAT`` reproduces upstream exactly: ZIP-215 signatures, ``proofValue``'s first character
  dropped unchecked, proof type/purpose/relationship ignored, unparseable dates never expire,
  empty credential lists accepted, chains not rooted or attenuation-checked.
* ``HARDENED`` follows spec/crypto.md: R-CRY-VC-8/-9 (credentials), R-CRY-VP-5..8
  (presentations), R-CRY-ZCAP-10..14 (capabilities and invocations), with R-CRY-DID-6/-8
  (strict did:key, exact verification method in the right relationship), R-CRY-ED-3/-8
  (libsodium-strict signatures, ``z`` + canonical base58 of 64 bytes), R-CRY-JSON-5/-12 (no
  repeated keys when given the JSON text, no ``__type`` codec objects).

Verification results are :class:`Result` objects with upstream's check names.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field

from . import base58, didkey
from .ed25519_zip215 import verify_strict, verify_zip215
from .jsjson import UNDEFINED, JSONError, parse, spread, stringify, text_encode
from .primitives import ed25519_sign

COMPAT = "compat"
HARDENED = "hardened"
PROOF_TYPE = "Ed25519Signature2020"
VC_CONTEXT = "https://www.w3.org/2018/credentials/v1"
ZCAP_CONTEXT = "https://w3id.org/zcap/v1"
VOCAB = "https://harmony.example/vocab#"
HARMONY_ACTIONS = [
    "SendMessage", "DeleteMessage", "AddReaction", "ManageChannel", "ManageRoles", "MuteUser",
    "BanUser", "InviteMember", "RelayMessage", "VerifyMembership", "ReadChannel", "CreateThread",
    "SendDM", "ManageMembers", "FederateRelay", "FederateVerify", "ModerateContent", "JoinVoice",
    "ManageVoice", "UploadMedia", "DeleteMedia", "InstallBot", "ManageWebhooks", "ProposeGovernance",
    "VoteGovernance", "DelegateUser", "AuthorizeAgent", "IssueCustomCredential",
]
DEFAULT_FRESHNESS_MS = 300_000


class ProofError(ValueError):
    """Raised by the builders where upstream throws (e.g. attenuation errors)."""


@dataclass
class Result:
    valid: bool = True
    checks: list = field(default_factory=list)  # (name, passed, error)

    def add(self, name: str, passed: bool, error: str | None = None) -> bool:
        self.checks.append((name, bool(passed), None if passed else error))
        if not passed:
            self.valid = False
        return bool(passed)

    def failed(self) -> list:
        return [c for c in self.checks if not c[1]]

    def done(self) -> "Result":
        self.valid = all(c[1] for c in self.checks)
        return self


# --------------------------------------------------------------------------------------------
# dates

_ISO = re.compile(
    r"^([+-]\d{6}|\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?([Zz]|[+-]\d{2}:\d{2})?$"
)


def parse_js_date(s) -> int | None:
    """``new Date(s).getTime()`` for ISO-8601-like strings; ``None`` stands for NaN.

    Covers the ECMAScript date-time format and V8's tolerances seen in practice (1-2 digit
    month/day, day up to 31 rolling over, lowercase t/z, a space for T, any number of fraction
    digits, 24:00). Offset-less date-times are read as UTC (V8 uses local time; the suite runs
    in UTC). V8's legacy free-form formats are not modelled and read as NaN.
    """
    if isinstance(s, (int, float)) and not isinstance(s, bool):
        return int(s) if s == s and abs(s) <= 8.64e15 else None  # new Date(number)
    if not isinstance(s, str):
        return None
    m = _ISO.match(s)
    if not m:
        return None
    ys, mo, d, hh, mi, ss, frac, tz = m.groups()
    if ys == "-000000":
        return None
    y = int(ys)
    mo = int(mo) if mo else 1
    d = int(d) if d else 1
    hh, mi, ss = int(hh or 0), int(mi or 0), int(ss or 0)
    if not (1 <= mo <= 12 and 1 <= d <= 31 and mi <= 59 and ss <= 59):
        return None
    if hh > 24 or (hh == 24 and (mi or ss or (frac and int(frac)))):
        return None
    ms = int((frac or "0")[:3].ljust(3, "0"))
    days = _days_from_civil(y, mo, 1) + d - 1
    t = ((days * 24 + hh) * 60 + mi) * 60_000 + ss * 1000 + ms
    if tz and tz not in "Zz":
        sign = 1 if tz[0] == "+" else -1
        t -= sign * (int(tz[1:3]) * 60 + int(tz[4:6])) * 60_000
    if abs(t) > 8.64e15:
        return None
    return t


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def iso_ms(ms: int) -> str:
    """``new Date(ms).toISOString()`` for years 0..9999."""
    secs, milli = divmod(int(ms), 1000)
    import time

    t = time.gmtime(secs)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, milli)


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


# --------------------------------------------------------------------------------------------
# the signing rule


def signing_input(data: dict, proof_purpose, created, verification_method) -> bytes:
    """UTF-8 of ``JSON.stringify({...data, proofPurpose, created, verificationMethod})``.

    A value of :data:`UNDEFINED` (a missing proof field) drops the key, as in JavaScript.
    """
    merged = spread(
        data,
        {"proofPurpose": proof_purpose, "created": created, "verificationMethod": verification_method},
    )
    s = stringify(merged)
    return text_encode(s)


def without_proof(obj: dict) -> dict:
    """``const { proof, ...rest } = obj``."""
    return {k: v for k, v in obj.items() if k != "proof"}


def create_proof(data: dict, seed: bytes, verification_method: str, proof_purpose: str, created: str) -> dict:
    sig = ed25519_sign(seed, signing_input(data, proof_purpose, created, verification_method))
    return {
        "type": PROOF_TYPE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
        "proofValue": "z" + base58.encode(sig, base58.UPSTREAM),
    }


def verify_proof(data: dict, proof, public_key: bytes, profile: str = COMPAT, expected_purpose: str | None = None) -> bool:
    """upstream ``verifyProof`` (compat), or the hardened rule."""
    if not isinstance(proof, dict):
        return False
    pv = proof.get("proofValue")
    if not isinstance(pv, str):
        return False
    g = lambda k: proof.get(k, UNDEFINED)  # noqa: E731
    try:
        msg = signing_input(data, g("proofPurpose"), g("created"), g("verificationMethod"))
    except TypeError:
        return False
    if profile == HARDENED:
        if proof.get("type") != PROOF_TYPE or not pv.startswith("z"):
            return False
        if expected_purpose is not None and proof.get("proofPurpose") != expected_purpose:
            return False
        try:
            sig = base58.decode(pv[1:])
        except base58.Base58Error:
            return False
        return len(sig) == 64 and verify_strict(public_key, msg, sig)
    try:
        sig = base58.decode(pv[1:], base58.UPSTREAM)
    except base58.Base58Error:
        return False
    return verify_zip215(public_key, msg, sig)


def _expired(value, now_ms: int, profile: str) -> bool:
    t = parse_js_date(value)
    if t is None:
        return profile == HARDENED  # upstream: NaN < now is false, so it never expires
    return t < now_ms


# --------------------------------------------------------------------------------------------
# Verifiable Credentials


def issue_vc(issuer_did: str, seed: bytes, subject_did: str, type_: str, claims: dict, issuance_date: str,
             created: str | None = None, id_hex: str = "0" * 31 + "1", expiration_date: str | None = None) -> dict:
    """``VCService.issue`` with the random id and the two clock readings supplied."""
    cred = {
        "@context": [VC_CONTEXT],
        "id": "urn:uuid:" + id_hex,
        "type": ["VerifiableCredential", type_],
        "issuer": issuer_did,
        "issuanceDate": issuance_date,
        "credentialSubject": spread({"id": subject_did}, claims),
    }
    if expiration_date:
        cred["expirationDate"] = expiration_date
    vm = didkey.verification_method(issuer_did)
    proof = create_proof(cred, seed, vm, "assertionMethod", created or issuance_date)
    return spread(cred, {"proof": proof})


def _truthy(v) -> bool:
    """JavaScript truthiness for parsed JSON values."""
    if v is None or v is UNDEFINED or v is False:
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v == v and v != 0
    if isinstance(v, str):
        return v != ""
    return True


def verify_vc(vc, now_ms: int | None = None, resolver=None, revoked=None, profile: str = COMPAT) -> Result:
    """``VCService.verify`` (compat) or R-CRY-VC-8 (hardened). ``revoked`` is a set of ids or
    None. ``vc`` may be the parsed object or its JSON text (hardened then also rejects repeated
    keys)."""
    now_ms = _now_ms() if now_ms is None else now_ms
    if profile == HARDENED:
        return verify_vc_hardened(vc, now_ms, resolver, revoked)
    if isinstance(vc, str):
        vc = parse(vc)
    res = Result()
    if not isinstance(vc, dict):
        res.add("structure", False, "not an object")
        return res.done()
    t = vc.get("type")
    subj = vc.get("credentialSubject")
    res.add("structure", _truthy(vc.get("@context")) and isinstance(t, (list, str)) and "VerifiableCredential" in t
            and _truthy(vc.get("issuer")) and _truthy(vc.get("issuanceDate"))
            and isinstance(subj, dict) and _truthy(subj.get("id")), "Invalid structure")
    if "expirationDate" in vc and _truthy(vc.get("expirationDate")):
        res.add("expiration", not _expired(vc["expirationDate"], now_ms, COMPAT), "Credential expired")
    else:
        res.add("expiration", True)
    doc = (resolver or didkey.resolve)(vc.get("issuer"))
    if not doc:
        res.add("issuerResolution", False, "Could not resolve issuer DID")
        return res.done()
    res.add("issuerResolution", True)
    proof = vc.get("proof")
    vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
    key = didkey.public_key_from_document(doc, vm)
    if key is None:
        res.add("proofVerification", False, "Verification method not found")
        return res.done()
    ok = verify_proof(without_proof(vc), proof, key, COMPAT)
    res.add("proofVerification", ok, "Invalid signature")
    if revoked is not None:
        res.add("revocation", vc.get("id") not in revoked, "Credential revoked")
    return res.done()


# ------------------------------------------------------------------------ hardened building blocks

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-](\d{2}):(\d{2}))$")
DEFAULT_SKEW_MS = 300_000
PROOF_KEYS = ("type", "created", "verificationMethod", "proofPurpose", "proofValue")


def parse_rfc3339(s) -> int | None:
    """R-CRY-VC-9: the only date form the hardened profile reads; ms since the epoch or None."""
    if not isinstance(s, str):
        return None
    m = _RFC3339.match(s)
    if not m:
        return None
    y, mo, d, hh, mi, ss = (int(m.group(i)) for i in range(1, 7))
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and hh <= 23 and mi <= 59 and ss <= 59):
        return None
    t = ((_days_from_civil(y, mo, d) * 24 + hh) * 60 + mi) * 60_000 + ss * 1000 + int((m.group(7) or "0")[:3].ljust(3, "0"))
    if m.group(8) != "Z":
        oh, om = int(m.group(9)), int(m.group(10))
        if oh > 23 or om > 59:
            return None
        t -= (1 if m.group(8)[0] == "+" else -1) * (oh * 60 + om) * 60_000
    return t


def has_codec_object(v) -> bool:
    """R-CRY-JSON-12: a ``{"__type":"Uint8Array",...}`` anywhere."""
    if isinstance(v, dict):
        if v.get("__type") == "Uint8Array":
            return True
        return any(has_codec_object(x) for x in v.values())
    if isinstance(v, list):
        return any(has_codec_object(x) for x in v)
    return False


def load_signed(obj):
    """(object, error) for a hardened check: JSON text is parsed rejecting repeated keys."""
    if isinstance(obj, str):
        try:
            obj = parse(obj, reject_duplicates=True)
        except JSONError:
            return None, "DUPLICATE_KEY"
    if has_codec_object(obj):
        return None, "CODEC_OBJECT"
    return obj, None


def signer_vm(did) -> str | None:
    return didkey.verification_method(did) if isinstance(did, str) else None


def check_proof_hardened(obj: dict, signer, purpose: str, relationship: str | None):
    """R-CRY-VC-1/-2, R-CRY-DID-6/-8, R-CRY-ED-3/-8 for one proof. Returns an error string or None."""
    proof = obj.get("proof")
    if not isinstance(proof, dict) or sorted(proof) != sorted(PROOF_KEYS) or \
            not all(isinstance(proof[k], str) for k in PROOF_KEYS):
        return "BAD_PROOF"
    if proof["type"] != PROOF_TYPE or proof["proofPurpose"] != purpose:
        return "BAD_PROOF"
    if not isinstance(signer, str) or proof["verificationMethod"] != signer_vm(signer):
        return "BAD_PROOF"
    doc = didkey.resolve(signer, strict=True)
    if doc is None:
        return "BAD_DID"
    rel = relationship or "authentication"  # did:key authorises its Ed25519 method for capabilities
    key = didkey.public_key_from_document(doc, proof["verificationMethod"], relationship=rel, strict=True)
    if key is None:
        return "BAD_PROOF"
    pv = proof["proofValue"]
    if not pv.startswith("z"):
        return "BAD_PROOF"
    try:
        sig = base58.decode(pv[1:])
    except base58.Base58Error:
        return "BAD_PROOF"
    if len(sig) != 64 or base58.encode(sig) != pv[1:]:
        return "BAD_PROOF"
    msg = signing_input(without_proof(obj), proof["proofPurpose"], proof["created"], proof["verificationMethod"])
    return None if verify_strict(key, msg, sig) else "BAD_SIGNATURE"


def _str_list(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def verify_vc_hardened(vc, now_ms: int, resolver=None, revoked=None, skew_ms: int = DEFAULT_SKEW_MS) -> Result:
    res = Result()
    vc, err = load_signed(vc)
    if err:
        res.add("structure", False, err)
        return res.done()
    if not isinstance(vc, dict):
        res.add("structure", False, "BAD_CREDENTIAL")
        return res.done()
    ctx, t, subj = vc.get("@context"), vc.get("type"), vc.get("credentialSubject")
    ok = (_str_list(ctx) and ctx[:1] == [VC_CONTEXT] and isinstance(vc.get("id"), str) and _str_list(t)
          and "VerifiableCredential" in t and isinstance(vc.get("issuer"), str) and isinstance(subj, dict)
          and isinstance(subj.get("id"), str))
    res.add("structure", ok, "BAD_CREDENTIAL")
    issued = parse_rfc3339(vc.get("issuanceDate"))
    res.add("issuanceDate", issued is not None and issued <= now_ms + skew_ms, "BAD_DATE")
    proof = vc.get("proof")
    created = parse_rfc3339(proof.get("created")) if isinstance(proof, dict) else None
    res.add("created", created is not None and created <= now_ms + skew_ms, "BAD_DATE")
    if "expirationDate" in vc:
        exp = parse_rfc3339(vc.get("expirationDate"))
        res.add("expiration", exp is not None, "BAD_DATE")
        if exp is not None:
            res.add("expiration", exp >= now_ms, "EXPIRED")
    perr = check_proof_hardened(vc, vc.get("issuer"), "assertionMethod", "assertionMethod")
    res.add("proofVerification", perr is None, perr)
    if revoked is not None:
        res.add("revocation", vc.get("id") not in revoked, "REVOKED")
    return res.done()


# --------------------------------------------------------------------------------------------
# Verifiable Presentations


def create_vp(holder_did: str, seed: bytes, credentials: list, created: str) -> dict:
    """``VCService.present`` with the clock reading supplied."""
    vp = {
        "@context": [VC_CONTEXT],
        "type": ["VerifiablePresentation"],
        "holder": holder_did,
        "verifiableCredential": list(credentials),
    }
    proof = create_proof(vp, seed, didkey.verification_method(holder_did), "authentication", created)
    return spread(vp, {"proof": proof})


def verify_vp(vp, now_ms: int | None = None, resolver=None, profile: str = COMPAT) -> Result:
    """``VCService.verifyPresentation`` (compat): the holder's signature only."""
    if isinstance(vp, str):
        vp = parse(vp)
    res = Result()
    if not isinstance(vp, dict):
        res.add("holderResolution", False, "not an object")
        return res.done()
    doc = (resolver or didkey.resolve)(vp.get("holder"))
    if not doc:
        res.add("holderResolution", False, "Could not resolve holder DID")
        return res.done()
    res.add("holderResolution", True)
    proof = vp.get("proof")
    vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
    key = didkey.public_key_from_document(doc, vm)
    if key is None:
        res.add("proofVerification", False, "Verification method not found")
        return res.done()
    res.add("proofVerification", verify_proof(without_proof(vp), proof, key, COMPAT), "Invalid signature")
    return res.done()


def authenticate_vp(vp, now_ms: int | None = None, resolver=None, revoked=None, profile: str = COMPAT,
                    trusted_issuers=(), freshness_ms: int = DEFAULT_FRESHNESS_MS, seen=None,
                    skew_ms: int = DEFAULT_SKEW_MS):
    """A login with a presentation: protocol-facts 2.1 step 4 (compat), or R-CRY-VP-5..8
    (hardened). ``vp`` is the parsed object or its JSON text.

    Returns ``(did, None)`` or ``(None, reason)``. Compat reasons are upstream's AUTH_INVALID
    messages ("Invalid VP", "Expired VC", "Revoked VC", "Invalid VC", "Authentication error");
    hardened reasons are codes (BAD_PROOF, BAD_SIGNATURE, STALE, REPLAY, BAD_CREDENTIAL, ...).
    ``seen`` (hardened) is the replay cache: a set of accepted signature hex strings.
    """
    now_ms = _now_ms() if now_ms is None else now_ms
    if profile == HARDENED:
        return _authenticate_vp_hardened(vp, now_ms, revoked, trusted_issuers, freshness_ms, seen, skew_ms)
    if isinstance(vp, str):
        vp = parse(vp)
    if not isinstance(vp, dict):
        return None, "Authentication error"
    r = verify_vp(vp, now_ms, resolver, COMPAT)
    if not r.valid:
        return None, "Invalid VP"
    creds = vp.get("verifiableCredential")
    if not isinstance(creds, list):
        return None, "Authentication error"  # upstream throws iterating a missing array
    for vc in creds:
        cr = verify_vc(vc, now_ms, resolver, revoked if revoked is not None else set(), COMPAT)
        if not cr.valid:
            names = {c[0] for c in cr.failed()}
            if "expiration" in names:
                return None, "Expired VC"
            if "revocation" in names:
                return None, "Revoked VC"
            return None, "Invalid VC"
    return vp.get("holder"), None


def _authenticate_vp_hardened(vp, now_ms, revoked, trusted_issuers, freshness_ms, seen, skew_ms):
    vp, err = load_signed(vp)
    if err:
        return None, err
    if not isinstance(vp, dict):
        return None, "BAD_PRESENTATION"
    ctx, t, holder = vp.get("@context"), vp.get("type"), vp.get("holder")
    if not (_str_list(ctx) and ctx[:1] == [VC_CONTEXT] and _str_list(t) and "VerifiablePresentation" in t
            and isinstance(holder, str)):
        return None, "BAD_PRESENTATION"
    if didkey.resolve(holder, strict=True) is None:
        return None, "BAD_DID"
    perr = check_proof_hardened(vp, holder, "authentication", "authentication")
    if perr:
        return None, perr
    created = parse_rfc3339(vp["proof"]["created"])
    if created is None:
        return None, "BAD_DATE"
    if abs(now_ms - created) > freshness_ms:
        return None, "STALE"
    sig_hex = base58.decode(vp["proof"]["proofValue"][1:]).hex()
    if seen is not None and sig_hex in seen:
        return None, "REPLAY"
    creds = vp.get("verifiableCredential")
    if not isinstance(creds, list) or not 1 <= len(creds) <= 16:
        return None, "BAD_CREDENTIAL"
    for vc in creds:
        cr = verify_vc_hardened(vc, now_ms, None, revoked, skew_ms)
        if not cr.valid:
            return None, cr.failed()[0][2] or "BAD_CREDENTIAL"
        if vc["credentialSubject"]["id"] != holder:
            return None, "SUBJECT_MISMATCH"
        if vc["issuer"] != holder and vc["issuer"] not in trusted_issuers:
            return None, "UNTRUSTED_ISSUER"
    if seen is not None:
        seen.add(sig_hex)
    return holder, None


# --------------------------------------------------------------------------------------------
# ZCAPs


def _vm_of(did: str) -> str:
    return didkey.verification_method(did)


def create_root(owner_did: str, seed: bytes, scope: dict, allowed_action: list, created: str,
                id_hex: str = "0" * 32) -> dict:
    cap = {
        "@context": [ZCAP_CONTEXT],
        "id": "urn:uuid:" + id_hex,
        "invoker": owner_did,
        "delegator": owner_did,
        "allowedAction": allowed_action,
        "scope": scope,
    }
    return spread(cap, {"proof": create_proof(cap, seed, _vm_of(owner_did), "capabilityDelegation", created)})


def _js_strict_equal(a, b) -> bool:
    """``===`` for parsed JSON: primitives by value, objects and arrays by identity."""
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b  # NaN != NaN, -0 == 0
    return type(a) is type(b) and a == b


def _includes(lst, x) -> bool:
    """``Array.prototype.includes`` (SameValueZero) on parsed JSON."""
    if not isinstance(lst, (list, str)):
        return False
    if isinstance(lst, str):
        return isinstance(x, str) and x in lst
    for v in lst:
        if _js_strict_equal(v, x) or (isinstance(v, float) and isinstance(x, float) and v != v and x != x):
            return True
    return False


def check_attenuation(parent: dict, allowed_action: list, scope: dict):
    """upstream's delegate-time checks; raises :class:`ProofError` with upstream's messages."""
    if not all(_includes(parent.get("allowedAction"), a) for a in allowed_action):
        raise ProofError("Cannot widen actions beyond parent capability")
    pscope = parent.get("scope") or {}
    for k in scope:
        if k not in pscope:
            raise ProofError("Cannot widen scope beyond parent capability")
        if pscope[k] is not UNDEFINED and not _js_strict_equal(scope[k], pscope[k]):
            raise ProofError("Cannot widen scope beyond parent capability")


def delegate(parent: dict, seed: bytes, invoker_did: str, allowed_action: list, scope: dict, created: str,
             caveats=UNDEFINED, id_hex: str = "0" * 31 + "1") -> dict:
    check_attenuation(parent, allowed_action, scope)
    cap = {
        "@context": [ZCAP_CONTEXT],
        "id": "urn:uuid:" + id_hex,
        "parentCapability": parent["id"],
        "invoker": invoker_did,
        "delegator": parent["invoker"],
        "allowedAction": allowed_action,
        "scope": scope,
        "caveats": caveats,
    }
    if caveats is UNDEFINED:
        del cap["caveats"]  # JS keeps the key holding undefined; JSON never shows it
    proof = create_proof(cap, seed, _vm_of(parent["invoker"]), "capabilityDelegation", created)
    return spread(cap, {"proof": proof})


def invoke(cap: dict, seed: bytes, action: str, target: str, created: str) -> dict:
    inv = {"capability": cap["id"], "invoker": cap["invoker"], "action": action, "target": target}
    return spread(inv, {"proof": create_proof(inv, seed, _vm_of(cap["invoker"]), "capabilityInvocation", created)})


def verify_invocation(invocation, chain, now_ms: int | None = None, resolver=None, revoked=None,
                      profile: str = COMPAT, trusted_roots=None, caller_did: str | None = None,
                      freshness_ms: int = DEFAULT_FRESHNESS_MS, seen=None, skew_ms: int = DEFAULT_SKEW_MS,
                      root_owner: str | None = None, expected_action: str | None = None,
                      expected_target: str | None = None, require_kept_caveats: bool = False) -> Result:
    """``ZCAPService.verifyInvocation`` (compat, upstream's check order and early returns), or
    R-CRY-ZCAP-10..14 (hardened). ``invocation``/``chain`` may be parsed values or JSON text.

    Compat resolves with the server's fallback (:func:`didkey.resolve_server_fallback`) unless
    ``resolver`` is given. Hardened needs trust anchors: ``trusted_roots`` (root capability
    ids) and/or ``root_owner`` (a root is trusted when its ``delegator`` is that DID);
    ``caller_did``, ``expected_action`` and ``expected_target`` bind the invocation to the
    connection and the operation (R-CRY-ZCAP-13); ``seen`` is the invocation replay cache.
    ``require_kept_caveats`` additionally refuses a delegation that drops one of its parent's
    caveats (libharmony's rule; the spec instead applies every caveat on the path, R-CRY-ZCAP-12).
    """
    now_ms = _now_ms() if now_ms is None else now_ms
    if profile == HARDENED:
        return _verify_invocation_hardened(invocation, chain, now_ms, revoked, trusted_roots or set(), caller_did,
                                           freshness_ms, seen, skew_ms, root_owner, expected_action, expected_target,
                                           require_kept_caveats)
    if isinstance(invocation, str):
        invocation = parse(invocation)
    if isinstance(chain, str):
        chain = parse(chain)
    resolve = resolver or didkey.resolve_server_fallback
    res = Result()
    if not isinstance(invocation, dict) or not isinstance(chain, list):
        res.add("capabilityFound", False, "Capability not found in chain")
        return res.done()
    cap = next((c for c in chain if isinstance(c, dict) and c.get("id") == invocation.get("capability")), None)
    if cap is None:
        res.add("capabilityFound", False, "Capability not found in chain")
        return res.done()
    res.add("capabilityFound", True)
    if invocation.get("invoker") != cap.get("invoker"):
        res.add("invokerMatch", False, "Invoker does not match capability")
        return res.done()
    res.add("invokerMatch", True)
    doc = resolve(invocation.get("invoker"))
    if not doc:
        res.add("invokerResolution", False, "Could not resolve invoker DID")
        return res.done()
    iproof = invocation.get("proof")
    vm = iproof.get("verificationMethod") if isinstance(iproof, dict) else None
    key = didkey.public_key_from_document(doc, vm)
    if key is None:
        res.add("invokerKey", False, "Invoker key not found")
        return res.done()
    res.add("invocationProof", verify_proof(without_proof(invocation), iproof, key, COMPAT),
            "Invalid invocation signature")
    res.add("actionAllowed", _includes(cap.get("allowedAction"), invocation.get("action")),
            "Action not in allowed actions")
    for c in chain:
        cid = c.get("id")
        if revoked is not None and cid in revoked:
            res.add(f"chainRevocation:{cid}", False, "Capability revoked")
            return res.done()
        cav = c.get("caveats")
        if _truthy(cav) and isinstance(cav, list):
            for cv in cav:
                if isinstance(cv, dict) and cv.get("type") == "harmony:Expiry":
                    res.add("expiryCaveat", not _expired(cv.get("value"), now_ms, COMPAT), "Capability expired")
        ddoc = resolve(c.get("delegator"))
        if not ddoc:
            res.add(f"chainResolution:{cid}", False, "Could not resolve delegator")
            continue
        cproof = c.get("proof")
        cvm = cproof.get("verificationMethod") if isinstance(cproof, dict) else None
        dkey = didkey.public_key_from_document(ddoc, cvm)
        if dkey is None:
            res.add(f"chainKey:{cid}", False, "Delegator key not found")
            continue
        res.add(f"chainProof:{cid}", verify_proof(without_proof(c), cproof, dkey, COMPAT),
                "Invalid capability signature")
    ids = {c.get("id") for c in chain if isinstance(c, dict)}
    for c in chain:
        if _truthy(c.get("parentCapability")):
            res.add(f"chainLink:{c.get('id')}", c.get("parentCapability") in ids,
                    "Parent capability missing from chain")
    return res.done()


def _deep_equal(a, b) -> bool:
    """R-CRY-ZCAP-11 deep equality (same JSON type, key order ignored)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(_deep_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


MAX_CHAIN = 8


def _cap_shape_ok(c) -> bool:
    if not isinstance(c, dict):
        return False
    if c.get("@context") != [ZCAP_CONTEXT]:
        return False
    if not all(isinstance(c.get(k), str) for k in ("id", "invoker", "delegator")):
        return False
    if not _str_list(c.get("allowedAction")) or not isinstance(c.get("scope"), dict):
        return False
    if "caveats" in c:
        cv = c["caveats"]
        if not isinstance(cv, list) or not all(isinstance(x, dict) and isinstance(x.get("type"), str) for x in cv):
            return False
    if "parentCapability" in c and not isinstance(c["parentCapability"], str):
        return False
    return True


def _verify_invocation_hardened(invocation, chain, now_ms, revoked, trusted_roots, caller_did, freshness_ms, seen,
                                skew_ms, root_owner=None, expected_action=None, expected_target=None,
                                require_kept_caveats=False) -> Result:
    res = Result()

    def fail(name, err):
        res.add(name, False, err)
        return res.done()

    invocation, err = load_signed(invocation)
    if err:
        return fail("invocation", err)
    chain, err = load_signed(chain)
    if err:
        return fail("chain", err)
    if not isinstance(invocation, dict) or sorted(invocation) != sorted(("capability", "invoker", "action", "target", "proof")) \
            or not all(isinstance(invocation[k], str) for k in ("capability", "invoker", "action", "target")):
        return fail("invocation", "BAD_INVOCATION")
    if not isinstance(chain, list) or not all(isinstance(c, dict) for c in chain):
        return fail("chain", "BAD_CAPABILITY")
    ids = [c.get("id") for c in chain]
    if len(set(map(str, ids))) != len(ids):
        return fail("chain", "BAD_CHAIN")
    by_id = {c.get("id"): c for c in chain}
    # the path from the invoked capability to the root
    path, cur = [], by_id.get(invocation["capability"])
    if cur is None:
        return fail("capabilityFound", "BAD_CHAIN")
    while True:
        if not _cap_shape_ok(cur):
            return fail("capabilityShape", "BAD_CAPABILITY")
        if any(cur is p for p in path):
            return fail("chain", "BAD_CHAIN")
        path.append(cur)
        if len(path) > MAX_CHAIN:
            return fail("chain", "BAD_CHAIN")
        pid = cur.get("parentCapability")
        if pid is None:
            break
        cur = by_id.get(pid)
        if cur is None:
            return fail("chain", "BAD_CHAIN")
    if len(path) != len(chain):
        return fail("chain", "BAD_CHAIN")
    root = path[-1]
    if root["id"] not in trusted_roots and not (root_owner is not None and root["delegator"] == root_owner):
        return fail("chainRooted", "UNTRUSTED_ROOT")
    cap = path[0]
    res.add("invokerMatch", invocation["invoker"] == cap["invoker"], "FORBIDDEN")
    if caller_did is not None:
        res.add("invokerIsCaller", invocation["invoker"] == caller_did, "FORBIDDEN")
    res.add("actionAllowed", invocation["action"] in cap["allowedAction"], "FORBIDDEN")
    if expected_action is not None:
        res.add("actionExpected", invocation["action"] == expected_action, "FORBIDDEN")
    if expected_target is not None:
        res.add("targetExpected", invocation["target"] == expected_target, "FORBIDDEN")
    perr = check_proof_hardened(invocation, invocation["invoker"], "capabilityInvocation", None)
    res.add("invocationProof", perr is None, perr)
    created = parse_rfc3339(invocation["proof"].get("created")) if isinstance(invocation.get("proof"), dict) else None
    res.add("invocationFresh", created is not None and abs(now_ms - created) <= freshness_ms, "STALE")
    if perr is None and seen is not None:
        sig_hex = base58.decode(invocation["proof"]["proofValue"][1:]).hex()
        res.add("replay", sig_hex not in seen, "REPLAY")
    for i, c in enumerate(path):
        cid = c["id"]
        if revoked is not None and cid in revoked:
            res.add(f"revocation:{cid}", False, "REVOKED")
        perr = check_proof_hardened(c, c["delegator"], "capabilityDelegation", None)
        res.add(f"chainProof:{cid}", perr is None, perr)
        ccreated = parse_rfc3339(c["proof"].get("created")) if isinstance(c.get("proof"), dict) else None
        res.add(f"created:{cid}", ccreated is not None and ccreated <= now_ms + skew_ms, "BAD_DATE")
        for cv in c.get("caveats", []):
            if cv["type"] == "harmony:Expiry":
                t = parse_rfc3339(cv.get("value"))
                res.add(f"expiry:{cid}", t is not None, "BAD_DATE")
                if t is not None:
                    res.add(f"expiry:{cid}", t >= now_ms, "EXPIRED")
            else:
                res.add(f"caveat:{cid}", False, "UNSUPPORTED")
        if i + 1 < len(path):
            parent = path[i + 1]
            res.add(f"delegatorIsParentInvoker:{cid}", c["delegator"] == parent["invoker"], "BAD_CHAIN")
            res.add(f"attenuation:{cid}", all(a in parent["allowedAction"] for a in c["allowedAction"])
                    and all(k in parent["scope"] and _deep_equal(v, parent["scope"][k]) for k, v in c["scope"].items()),
                    "WIDENED")
            if require_kept_caveats:
                kept = all(any(_deep_equal(pc, cc) for cc in c.get("caveats", [])) for pc in parent.get("caveats", []))
                res.add(f"caveatsKept:{cid}", kept, "ATTENUATION")
    res.done()
    if res.valid and seen is not None:
        seen.add(base58.decode(invocation["proof"]["proofValue"][1:]).hex())
    return res
