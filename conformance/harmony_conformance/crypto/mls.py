"""Upstream's "simplified MLS" (crypto-facts 5): not RFC 9420, a flat member list with one
shared epoch secret.

Derivations (HKDF-SHA256, 32 bytes):
  * epoch key  = HKDF(epochSecret, "harmony-mls-epoch-salt-v1", "harmony-mls-<purpose>-<epoch>")
  * advance    = HKDF(epochSecret || commitSecret, "harmony-mls-advance-salt-v1", "harmony-mls-epoch-advance")
  * welcome key = HKDF(joiner's initKey (a PUBLIC X25519 key), no salt, "harmony-mls-welcome")

Layouts: message ``ciphertext = nonce(24) || XChaCha(ct||tag)``; ``encryptedGroupState = nonce(24)
|| XChaCha(GroupState JSON)``. Randomness is passed in so the output can be reproduced.
"""

from __future__ import annotations

import copy
import os

from . import primitives
from .ed25519_zip215 import verify_strict, verify_zip215
from .jsjson import parse, stringify, text_encode

EPOCH_SALT = b"harmony-mls-epoch-salt-v1"
ADVANCE_SALT = b"harmony-mls-advance-salt-v1"
ADVANCE_INFO = b"harmony-mls-epoch-advance"
WELCOME_INFO = b"harmony-mls-welcome"


class MLSError(ValueError):
    pass


def epoch_key(epoch_secret: bytes, epoch: int, purpose: str = "message") -> bytes:
    # the epoch appears as JS would print it in a template string
    from .jsjson import number_to_string

    return primitives.hkdf_sha256(epoch_secret, EPOCH_SALT, text_encode(f"harmony-mls-{purpose}-{number_to_string(epoch)}"))


def advance(epoch_secret: bytes, commit_secret: bytes) -> bytes:
    return primitives.hkdf_sha256(bytes(epoch_secret) + bytes(commit_secret), ADVANCE_SALT, ADVANCE_INFO)


def welcome_key(init_key: bytes) -> bytes:
    return primitives.hkdf_sha256(init_key, None, WELCOME_INFO)


# --------------------------------------------------------------------------------------------
# KeyPackage


def key_package_signing_input(protocol_version, cipher_suite, init_key: bytes, did) -> bytes:
    return text_encode(stringify({
        "protocolVersion": protocol_version,
        "cipherSuite": cipher_suite,
        "initKey": list(bytes(init_key)),
        "leafNode": {"did": did},
    }))


def create_key_package(did: str, ed_seed: bytes, ed_public: bytes, x_public: bytes) -> dict:
    """``createKeyPackage``: initKey = leaf encryption key = the long-term X25519 public key."""
    sig = primitives.ed25519_sign(ed_seed, key_package_signing_input(1, 1, x_public, did))
    return {
        "protocolVersion": 1,
        "cipherSuite": 1,
        "initKey": bytes(x_public),
        "leafNode": {"encryptionKey": bytes(x_public), "signatureKey": bytes(ed_public), "did": did},
        "signature": sig,
    }


def verify_key_package(kp: dict, strict: bool = False) -> bool:
    """``verifyKeyPackageSignature`` (self-signed: the key inside the package)."""
    try:
        data = key_package_signing_input(kp["protocolVersion"], kp["cipherSuite"], kp["initKey"], kp["leafNode"]["did"])
        pk = bytes(kp["leafNode"]["signatureKey"])
        sig = bytes(kp["signature"])
    except (KeyError, TypeError, ValueError):
        return False
    return verify_strict(pk, data, sig) if strict else verify_zip215(pk, data, sig)


def commit_signing_input(group_id: str, epoch: int, proposals: list) -> bytes:
    """The reduced commit JSON the committer signs: proposals as ``{"type":"add","did"}``,
    ``{"type":"remove","leafIndex"}`` or ``{"type":"update"}``."""
    return text_encode(stringify({"groupId": group_id, "epoch": epoch, "proposals": proposals}))


# --------------------------------------------------------------------------------------------
# Group state


def _member(leaf_index, did, enc, sig) -> dict:
    return {"leafIndex": leaf_index, "did": did, "encryptionKey": bytes(enc), "signatureKey": bytes(sig)}


class Group:
    """``SimplifiedMLSGroup``; ``state`` holds the GroupState fields with bytes values."""

    def __init__(self, state: dict):
        self.state = state

    @classmethod
    def create(cls, group_id: str, did: str, ed_seed: bytes, ed_public: bytes, x_secret: bytes, x_public: bytes,
               epoch_secret: bytes | None = None) -> "Group":
        es = os.urandom(32) if epoch_secret is None else bytes(epoch_secret)
        return cls({
            "groupId": group_id,
            "epoch": 0,
            "myLeafIndex": 0,
            "members": [_member(0, did, x_public, ed_public)],
            "epochSecret": es,
            "mySigningKey": bytes(ed_seed),
            "myEncryptionKey": bytes(x_secret),
            "mySigningPublicKey": bytes(ed_public),
            "myEncryptionPublicKey": bytes(x_public),
        })

    # -- serialisation (serializeGroupState: every byte field as a decimal array)
    @staticmethod
    def serialize_state(st: dict) -> bytes:
        return text_encode(stringify({
            "groupId": st["groupId"],
            "epoch": st["epoch"],
            "myLeafIndex": st["myLeafIndex"],
            "members": [
                {"leafIndex": m["leafIndex"], "did": m["did"], "encryptionKey": list(m["encryptionKey"]),
                 "signatureKey": list(m["signatureKey"])}
                for m in st["members"]
            ],
            "epochSecret": list(st["epochSecret"]),
            "mySigningKey": list(st["mySigningKey"]),
            "myEncryptionKey": list(st["myEncryptionKey"]),
            "mySigningPublicKey": list(st["mySigningPublicKey"]),
            "myEncryptionPublicKey": list(st["myEncryptionPublicKey"]),
        }))

    @staticmethod
    def deserialize_state(data: bytes) -> dict:
        j = parse(bytes(data))
        b = lambda v: bytes(int(x) & 0xFF for x in v)  # noqa: E731  (new Uint8Array(array))
        return {
            "groupId": j["groupId"],
            "epoch": j["epoch"],
            "myLeafIndex": j["myLeafIndex"],
            "members": [_member(m["leafIndex"], m["did"], b(m["encryptionKey"]), b(m["signatureKey"])) for m in j["members"]],
            "epochSecret": b(j["epochSecret"]),
            "mySigningKey": b(j["mySigningKey"]),
            "myEncryptionKey": b(j["myEncryptionKey"]),
            "mySigningPublicKey": b(j["mySigningPublicKey"]),
            "myEncryptionPublicKey": b(j["myEncryptionPublicKey"]),
        }

    def export_state(self) -> bytes:
        return self.serialize_state(self.state)

    # -- accessors
    @property
    def epoch(self) -> int:
        return self.state["epoch"]

    @property
    def epoch_secret(self) -> bytes:
        return self.state["epochSecret"]

    def message_key(self) -> bytes:
        return epoch_key(self.state["epochSecret"], self.state["epoch"], "message")

    def media_key(self) -> bytes:
        return epoch_key(self.state["epochSecret"], self.state["epoch"], "media")

    # -- messages
    def encrypt(self, plaintext: bytes, nonce: bytes | None = None) -> dict:
        nonce = os.urandom(24) if nonce is None else bytes(nonce)
        ct = nonce + primitives.xchacha_encrypt(self.message_key(), nonce, plaintext)
        return {"epoch": self.state["epoch"], "senderIndex": self.state["myLeafIndex"], "ciphertext": ct,
                "contentType": "application"}

    def decrypt(self, msg: dict) -> tuple:
        if msg.get("epoch") != self.state["epoch"]:
            raise MLSError(f"Epoch mismatch: expected {self.state['epoch']}, got {msg.get('epoch')}")
        if not any(m["leafIndex"] == msg.get("senderIndex") for m in self.state["members"]):
            raise MLSError(f"Unknown sender index: {msg.get('senderIndex')}")
        ct = bytes(msg["ciphertext"])
        return primitives.xchacha_decrypt(self.message_key(), ct[:24], ct[24:]), msg["senderIndex"]

    # -- membership
    def add_member(self, kp: dict, commit_secret: bytes | None = None, welcome_nonce: bytes | None = None):
        """Returns (welcome, commit) and advances the local state, as ``addMember``.
        Upstream draws ``commitSecret`` first, then the welcome nonce."""
        st = self.state
        cs = os.urandom(32) if commit_secret is None else bytes(commit_secret)
        wn = os.urandom(24) if welcome_nonce is None else bytes(welcome_nonce)
        leaf = kp["leafNode"]
        new_index = len(st["members"])
        newm = _member(new_index, leaf["did"], leaf["encryptionKey"], leaf["signatureKey"])
        new_secret = advance(st["epochSecret"], cs)
        future = dict(st)
        future.update({
            "epoch": st["epoch"] + 1,
            "members": st["members"] + [newm],
            "epochSecret": new_secret,
            "myLeafIndex": new_index,
            "mySigningKey": b"",
            "myEncryptionKey": b"",
            "mySigningPublicKey": bytes(leaf["signatureKey"]),
            "myEncryptionPublicKey": bytes(leaf["encryptionKey"]),
        })
        blob = wn + primitives.xchacha_encrypt(welcome_key(kp["initKey"]), wn, self.serialize_state(future))
        welcome = {"groupId": st["groupId"], "epoch": st["epoch"] + 1, "encryptedGroupState": blob}
        sig = primitives.ed25519_sign(st["mySigningKey"], commit_signing_input(
            st["groupId"], st["epoch"] + 1, [{"type": "add", "did": leaf["did"]}]))
        commit = {"groupId": st["groupId"], "epoch": st["epoch"] + 1,
                  "proposals": [{"type": "add", "keyPackage": kp}], "commitSecret": cs, "signature": sig}
        st["members"] = st["members"] + [copy.deepcopy(newm)]
        st["epoch"] += 1
        st["epochSecret"] = new_secret
        return welcome, commit

    def remove_member(self, leaf_index: int, commit_secret: bytes | None = None) -> dict:
        st = self.state
        idx = next((i for i, m in enumerate(st["members"]) if m["leafIndex"] == leaf_index), -1)
        if idx < 0:
            raise MLSError(f"Member not found at index {leaf_index}")
        cs = os.urandom(32) if commit_secret is None else bytes(commit_secret)
        new_secret = advance(st["epochSecret"], cs)
        sig = primitives.ed25519_sign(st["mySigningKey"], commit_signing_input(
            st["groupId"], st["epoch"] + 1, [{"type": "remove", "leafIndex": leaf_index}]))
        commit = {"groupId": st["groupId"], "epoch": st["epoch"] + 1,
                  "proposals": [{"type": "remove", "leafIndex": leaf_index}], "commitSecret": cs, "signature": sig}
        del st["members"][idx]
        st["epoch"] += 1
        st["epochSecret"] = new_secret
        return commit

    def update_keys(self, commit_secret: bytes | None = None, new_enc_key: bytes | None = None) -> dict:
        """``updateKeys``: commitSecret drawn first, then 32 random bytes used as both the
        "public" leaf key and the "secret" (weakness 19)."""
        st = self.state
        cs = os.urandom(32) if commit_secret is None else bytes(commit_secret)
        new_secret = advance(st["epochSecret"], cs)
        nk = os.urandom(32) if new_enc_key is None else bytes(new_enc_key)
        me = next(m for m in st["members"] if m["leafIndex"] == st["myLeafIndex"])
        leaf = {"encryptionKey": nk, "signatureKey": st["mySigningPublicKey"], "did": me["did"]}
        sig = primitives.ed25519_sign(st["mySigningKey"], commit_signing_input(
            st["groupId"], st["epoch"] + 1, [{"type": "update"}]))
        commit = {"groupId": st["groupId"], "epoch": st["epoch"] + 1,
                  "proposals": [{"type": "update", "leafNode": leaf}], "commitSecret": cs, "signature": sig}
        me["encryptionKey"] = nk
        st["myEncryptionKey"] = nk
        st["epoch"] += 1
        st["epochSecret"] = new_secret
        return commit

    def process_commit(self, commit: dict) -> bool:
        """``processCommit`` (no signature or membership check; any larger epoch accepted with a
        single advance). Returns False when ignored (epoch not newer)."""
        st = self.state
        if commit["epoch"] <= st["epoch"]:
            return False
        for p in commit["proposals"]:
            if p.get("type") == "add":
                leaf = p["keyPackage"]["leafNode"]
                st["members"].append(_member(len(st["members"]), leaf["did"], leaf["encryptionKey"], leaf["signatureKey"]))
            elif p.get("type") == "remove":
                idx = next((i for i, m in enumerate(st["members"]) if m["leafIndex"] == p.get("leafIndex")), -1)
                if idx >= 0:
                    del st["members"][idx]
            elif p.get("type") == "update":
                m = next((m for m in st["members"] if m["did"] == p["leafNode"]["did"]), None)
                if m is not None:
                    m["encryptionKey"] = bytes(p["leafNode"]["encryptionKey"])
                    m["signatureKey"] = bytes(p["leafNode"]["signatureKey"])
        st["epochSecret"] = advance(st["epochSecret"], commit["commitSecret"])
        st["epoch"] = commit["epoch"]
        return True

    @classmethod
    def join_from_welcome(cls, welcome: dict, x_secret: bytes, x_public: bytes, ed_seed: bytes, ed_public: bytes) -> "Group":
        blob = bytes(welcome["encryptedGroupState"])
        pt = primitives.xchacha_decrypt(welcome_key(x_public), blob[:24], blob[24:])
        st = cls.deserialize_state(pt)
        st.update({"mySigningKey": bytes(ed_seed), "myEncryptionKey": bytes(x_secret),
                   "mySigningPublicKey": bytes(ed_public), "myEncryptionPublicKey": bytes(x_public)})
        return cls(st)


def open_welcome(welcome: dict, init_key: bytes) -> dict:
    """What anyone holding the joiner's (public) KeyPackage can do (weakness 1)."""
    blob = bytes(welcome["encryptedGroupState"])
    return Group.deserialize_state(primitives.xchacha_decrypt(welcome_key(init_key), blob[:24], blob[24:]))


def verify_key_package_hardened(kp: dict, expected_did: str | None = None) -> bool:
    """R-CRY-MLS-4: version and suite are the number 1; 32-byte keys and a 64-byte signature;
    ``leafNode.did`` resolves strictly and ``signatureKey`` is that DID's Ed25519 key;
    ``encryptionKey == initKey``; strict signature; and, when given, ``did == expected_did``
    (on the server: the connection's DID). ``kp`` holds bytes (e.g. from ``codec.deserialise``)."""
    from . import didkey

    if not isinstance(kp, dict) or not isinstance(kp.get("leafNode"), dict):
        return False
    leaf = kp["leafNode"]
    for v in (kp.get("protocolVersion"), kp.get("cipherSuite")):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != 1:
            return False
    init, enc, sig_key, sig = kp.get("initKey"), leaf.get("encryptionKey"), leaf.get("signatureKey"), kp.get("signature")
    if not all(isinstance(x, (bytes, bytearray)) for x in (init, enc, sig_key, sig)):
        return False
    if len(init) != 32 or len(enc) != 32 or len(sig_key) != 32 or len(sig) != 64 or bytes(enc) != bytes(init):
        return False
    did = leaf.get("did")
    if not isinstance(did, str) or (expected_did is not None and did != expected_did):
        return False
    if didkey.resolve(did, strict=True) is None or didkey.decode_did(did, strict=True)[1] != bytes(sig_key):
        return False
    return verify_strict(bytes(sig_key), key_package_signing_input(1, 1, init, did), bytes(sig))
