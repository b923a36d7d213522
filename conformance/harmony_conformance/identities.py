"""Deterministic identities for cases.

Every identity's Ed25519 seed is SHA-256("harmony-conformance/<run seed>/<case id>/<name>"),
so a case talks as the same DIDs on every run with the same --seed, and no two cases share
an identity (they cannot disturb each other's memberships). Credentials and presentations
are built by the harness' own crypto (harmony_conformance.crypto), never by the server's
code. Presentations are made fresh (proof.created = now) on every login, as the upstream
client does.
"""
from __future__ import annotations

import hashlib
import os
from typing import Optional

from .crypto import keys, proofs
from .wsclient import now_iso


class Identity:
    def __init__(self, label: str, seed32: bytes):
        self.label = label
        self.seed32 = seed32
        self._id = keys.identity_from_seed(seed32)
        self.public_key = self._id.ed_public
        self.x25519_public = self._id.x_public
        self.x25519_secret = self._id.x_secret
        self.did = self._id.did
        self.vm = self._id.vm

    def sign(self, message: bytes) -> bytes:
        return self._id.sign(message)

    def credential(self, *, issuer: Optional["Identity"] = None, subject: Optional[str] = None,
                   types=("IdentityAssertion",), issued: Optional[str] = None,
                   expires: Optional[str] = None, claims: Optional[dict] = None) -> dict:
        """A VC (default: the self-issued IdentityAssertion the upstream client sends)."""
        issuer = issuer or self
        return proofs.issue_vc(
            issuer.did, issuer.seed32, subject or self.did, types[-1],
            claims if claims is not None else {"type": types[-1]},
            issuance_date=issued or now_iso(), created=issued or now_iso(),
            id_hex=os.urandom(16).hex(), expiration_date=expires)

    def presentation(self, *, credentials=None, created: Optional[str] = None) -> dict:
        creds = [self.credential()] if credentials is None else credentials
        return proofs.create_vp(self.did, self.seed32, creds, created=created or now_iso())


class Identities:
    def __init__(self, run_seed: str):
        self.run_seed = run_seed
        self._cache = {}

    def get(self, name: str) -> Identity:
        if name not in self._cache:
            seed = hashlib.sha256(f"harmony-conformance/{self.run_seed}/{name}".encode()).digest()
            self._cache[name] = Identity(name, seed)
        return self._cache[name]
