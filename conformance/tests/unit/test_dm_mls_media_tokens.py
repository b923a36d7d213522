"""DM, simplified MLS, media keys, session tokens and HTTP signatures.

Known answers marked "Node" were computed once with @noble/curves 1.9.7, @noble/hashes 1.8.0 and
@noble/ciphers 1.3.0 (the libraries upstream uses), in a throwaway script (/tmp/pyc-node/kat.js),
from the same fixed inputs."""

import pytest

from harmony_conformance.crypto import codec, dm, httpsig, keys, mediakeys, mls, primitives, tokens
from harmony_conformance.crypto.jsjson import parse, stringify


def seq(n, start):
    return bytes((start + i) & 0xFF for i in range(n))


A = keys.identity_from_seed(seq(32, 1))
B = keys.identity_from_seed(seq(32, 0x41))


def test_dm_key_and_message_known_answer():
    assert B.x_public.hex() == "759f49a098c9a6baa8465a42333c11cc4cd2c10beeda7b60f73e38205f81900c"  # Node
    shared = primitives.x25519(A.x_secret, B.x_public)
    assert shared.hex() == "42ee871e6c2352028906321a95d964a9b74dd1ed8ae12a96093fbc96a9860630"  # Node
    k = dm.dm_key(A.x_secret, B.x_public)
    assert k.hex() == "57bc14d002423ee2e40dfde5a97ebae2c86c2a2f6e57afcbf61d8ebc15c005e9"  # Node
    assert k == dm.dm_key(B.x_secret, A.x_public)  # same key both directions
    enc = dm.encrypt(k, "hello bob", A.x_public, nonce=seq(24, 0x90))
    assert enc["ciphertext"].hex() == "da988053715f26ea7a24cb4d6180556aee9f9a0e95707a9274"  # Node
    assert dm.decrypt(k, enc["ciphertext"], enc["nonce"]) == b"hello bob"
    with pytest.raises(primitives.AeadError):
        dm.decrypt(k, enc["ciphertext"][:-1] + b"\0", enc["nonce"])
    assert dm.provider_key(A.x_secret, B.x_public).hex() == \
        "ab592749fd394d75ceabcc3b058e3adfffae49ae225458dfebfb9e94ed906364"  # Node, info harmony-encrypt


def test_dm_wire_payloads():
    enc = dm.encrypt(dm.dm_key(A.x_secret, B.x_public), "x", A.x_public, nonce=bytes(24))
    p = dm.send_payload(B.did, enc, "msg-1", 3, A.did)
    assert list(p) == ["recipientDID", "content", "nonce", "clock"]
    assert list(p["content"]) == ["ciphertext", "epoch", "senderIndex", "nonce", "senderPublicKey"]
    wire = codec.serialise(p)
    assert '"nonce":{"__type":"Uint8Array","data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}' in wire
    assert codec.deserialise(wire)["content"]["senderPublicKey"] == A.x_public
    kx = dm.keyexchange_payload(B.did, A.x_public)
    assert stringify(kx) == '{"recipientDID":"%s","senderPublicKey":[%s]}' % (B.did, ",".join(map(str, A.x_public)))


def test_mls_derivations_known_answers():
    es, cs = seq(32, 0xA0), seq(32, 0xC0)
    assert mls.epoch_key(es, 3, "message").hex() == "cecc62d171a269afbace06afe725391e0b75a25b91812c1442ef5749f526cc3b"  # Node
    assert mls.epoch_key(es, 3, "media").hex() == "4cc650372d8ef6cb98d54f45779986d91218aa2340a3d1c03e9d985dbee46dab"  # Node
    assert mls.advance(es, cs).hex() == "57468804a374cd9b813c3dcfbac3f77cf52e13eed9b378bf924e873c2d8df958"  # Node
    assert mls.welcome_key(B.x_public).hex() == "944716b39a1ac5da4d2d07c60000b5ff9314e32760b303d9fb57abb97221bb7a"  # Node


def test_key_package_signing_input_and_signature():
    si = mls.key_package_signing_input(1, 1, B.x_public, "did:key:zB")
    assert si == ('{"protocolVersion":1,"cipherSuite":1,"initKey":[%s],"leafNode":{"did":"did:key:zB"}}'
                  % ",".join(map(str, B.x_public))).encode()
    kp = mls.create_key_package("did:key:zB", B.seed, B.ed_public, B.x_public)
    assert kp["signature"].hex() == (  # Node: ed25519.sign(signing input, seed)
        "e84661202cc645ae89f1f603c3c2425dec359acbb74c1e210de544b77831448117dfa1efe596db8c954aca73208d454d8f1e9ccaf25748a484ce674321647105")
    assert mls.verify_key_package(kp) and mls.verify_key_package(kp, strict=True)
    kp2 = dict(kp, leafNode=dict(kp["leafNode"], encryptionKey=bytes(32)))
    assert mls.verify_key_package(kp2)  # encryptionKey is not covered (weakness 20)
    kp3 = dict(kp, leafNode=dict(kp["leafNode"], did="did:key:zC"))
    assert not mls.verify_key_package(kp3)


def _group():
    g = mls.Group.create("c:c:channel:0", A.did, A.seed, A.ed_public, A.x_secret, A.x_public, epoch_secret=seq(32, 7))
    kp = mls.create_key_package(B.did, B.seed, B.ed_public, B.x_public)
    return g, kp


def test_mls_add_member_welcome_commit_and_messages():
    g, kp = _group()
    old = g.epoch_secret
    welcome, commit = g.add_member(kp, commit_secret=seq(32, 9), welcome_nonce=seq(24, 3))
    assert g.epoch == 1 and g.epoch_secret == mls.advance(old, seq(32, 9))
    assert welcome["epoch"] == 1 and welcome["encryptedGroupState"][:24] == seq(24, 3)
    assert commit["commitSecret"] == seq(32, 9)
    assert primitives.ed25519_sign(A.seed, mls.commit_signing_input(g.state["groupId"], 1, [{"type": "add", "did": B.did}])) \
        == commit["signature"]
    # anyone holding the public KeyPackage opens the Welcome (weakness 1)
    st = mls.open_welcome(welcome, kp["initKey"])
    assert st["epochSecret"] == g.epoch_secret and st["myLeafIndex"] == 1 and st["mySigningKey"] == b""
    gb = mls.Group.join_from_welcome(welcome, B.x_secret, B.x_public, B.seed, B.ed_public)
    ct = g.encrypt(b"hi", nonce=seq(24, 5))
    assert ct["ciphertext"][:24] == seq(24, 5) and ct["senderIndex"] == 0
    assert gb.decrypt(ct) == (b"hi", 0)
    with pytest.raises(mls.MLSError, match="Epoch mismatch: expected 1, got 0"):
        gb.decrypt(dict(ct, epoch=0))
    with pytest.raises(mls.MLSError, match="Unknown sender index: 9"):
        gb.decrypt(dict(ct, senderIndex=9))
    assert g.media_key() == gb.media_key() == mls.epoch_key(g.epoch_secret, 1, "media")


def test_mls_state_json_layout_and_round_trip():
    g, kp = _group()
    g.add_member(kp, commit_secret=bytes(32), welcome_nonce=bytes(24))
    j = parse(g.export_state())
    assert list(j) == ["groupId", "epoch", "myLeafIndex", "members", "epochSecret", "mySigningKey", "myEncryptionKey",
                       "mySigningPublicKey", "myEncryptionPublicKey"]
    assert list(j["members"][0]) == ["leafIndex", "did", "encryptionKey", "signatureKey"]
    assert j["mySigningKey"] == list(A.seed)
    assert mls.Group.serialize_state(mls.Group.deserialize_state(g.export_state())) == g.export_state()


def test_mls_process_commit_remove_then_duplicate_leaf_index():
    g, kp = _group()
    _, c1 = g.add_member(kp, commit_secret=seq(32, 1), welcome_nonce=bytes(24))
    carol = keys.identity_from_seed(seq(32, 0x61))
    dave = keys.identity_from_seed(seq(32, 0x71))
    _, c2 = g.add_member(mls.create_key_package(carol.did, carol.seed, carol.ed_public, carol.x_public),
                         commit_secret=seq(32, 2), welcome_nonce=bytes(24))
    c3 = g.remove_member(1, commit_secret=seq(32, 3))
    _, c4 = g.add_member(mls.create_key_package(dave.did, dave.seed, dave.ed_public, dave.x_public),
                         commit_secret=seq(32, 4), welcome_nonce=bytes(24))
    assert [m["leafIndex"] for m in g.state["members"]] == [0, 2, 2]  # weakness 18
    # an observer that replays the commits follows every epoch (weakness 2)
    obs = mls.Group.create("c:c:channel:0", A.did, A.seed, A.ed_public, A.x_secret, A.x_public, epoch_secret=seq(32, 7))
    for c in (c1, c2, c3, c4):
        assert obs.process_commit(c)
    assert obs.epoch == g.epoch == 4 and obs.epoch_secret == g.epoch_secret
    assert not obs.process_commit(c2)  # older epochs are ignored
    up = g.update_keys(commit_secret=seq(32, 5), new_enc_key=seq(32, 6))
    assert up["proposals"][0]["leafNode"]["encryptionKey"] == seq(32, 6) == g.state["myEncryptionKey"]


def test_media_keys_and_blob():
    assert mediakeys.fallback_channel_key("c1:c1:channel:00").hex() == \
        "51ff2a40669b18ace5942d9156a783d5ebbe49f19d8edaa3677983f5f8e2602e"  # Node
    k = seq(32, 0x11)
    blob = mediakeys.seal_blob(k, b"file", nonce=seq(24, 0))
    assert blob[:24] == seq(24, 0) and len(blob) == 24 + 4 + 16
    ref = mediakeys.media_ref("id1", "a.txt", "text/plain", blob, b"file", A.did, "2025-01-01T00:00:00.000Z")
    assert list(ref) == ["id", "filename", "contentType", "size", "originalSize", "checksum", "encryptedChecksum",
                         "uploadedBy", "uploadedAt", "url"]
    assert ref["checksum"] == "sha256:" + primitives.sha256(b"file").hex()
    assert mediakeys.download_check(k, ref, blob) == b"file"
    with pytest.raises(ValueError, match="Encrypted checksum mismatch"):
        mediakeys.download_check(k, ref, blob[:-1] + b"\0")
    assert mediakeys.thumbnail_plaintext(bytes(2000)) == b"HMYTHUMB:" + bytes(1024)
    assert mediakeys.export_key(k) == primitives.hkdf_sha256(k, b"harmony-export-salt-v1", b"harmony-export")
    assert mediakeys.sync_key(k) == primitives.hkdf_sha256(k, b"harmony-sync-salt-v1", b"harmony-sync")
    assert mediakeys.user_data_key(k) == primitives.hkdf_sha256(k, b"harmony-user-data-v1", b"harmony-user-data-encryption")


def test_voice_frames():
    fk = mediakeys.voice_frame_key(seq(32, 0))
    assert fk == primitives.hkdf_sha256(seq(32, 0), b"harmony-voice-e2ee-salt-v1", b"harmony-voice-e2ee")
    frame = seq(40, 0)
    out = mediakeys.encrypt_frame(fk, frame, "video", iv=seq(12, 1))
    assert out[:10] == frame[:10] and out[10:22] == seq(12, 1) and len(out) == 40 + 12 + 16
    assert mediakeys.decrypt_frame(fk, out, "video") == frame
    assert mediakeys.encrypt_frame(fk, b"\x01", "audio") == b"\x01"  # header-only frames pass through


SERVER = seq(32, 0x33)
SERVER_PK = primitives.ed25519_public(SERVER)
IAT = 1748779200000


def test_session_token_layout():
    t = tokens.create_token(SERVER, A.did, IAT)
    p, s = t.split(".")
    assert codec.atob(p).decode() == '{"did":"%s","iat":%d,"exp":%d}' % (A.did, IAT, IAT + 604800000)
    assert len(codec.b64decode_strict(s)) == 64
    assert tokens.verify_token(t, SERVER_PK, IAT + 1) == A.did
    assert tokens.verify_token(t, SERVER_PK, IAT + 1, "hardened") == A.did


def test_session_token_rejections():
    t = tokens.create_token(SERVER, A.did, IAT)
    assert tokens.verify_token_reason(t, SERVER_PK, IAT + 604800001) == (None, "EXPIRED")
    assert tokens.verify_token_reason(t, primitives.ed25519_public(bytes(32)), IAT) == (None, "BAD_SIGNATURE")
    assert tokens.verify_token(t + ".extra", SERVER_PK, IAT) == A.did  # upstream ignores further parts
    assert tokens.verify_token(t + ".extra", SERVER_PK, IAT, "hardened") is None
    no_exp = '{"did":"%s","iat":1}' % A.did
    t2 = codec.btoa(no_exp) + "." + codec.b64encode(primitives.ed25519_sign(SERVER, no_exp.encode()))
    assert tokens.verify_token(t2, SERVER_PK, 10 ** 15) == A.did  # never expires upstream
    assert tokens.verify_token(t2, SERVER_PK, 10 ** 15, "hardened") is None
    long = tokens.create_token(SERVER, A.did, IAT, exp_ms=IAT + 10 ** 12)
    assert tokens.verify_token(long, SERVER_PK, IAT) == A.did
    assert tokens.verify_token(long, SERVER_PK, IAT, "hardened") is None


def test_http_signature():
    h = httpsig.header(A.did, A.seed, 1748779200, "POST", "/api/user-data/upload?x=1")
    parts = h.split(" ")
    assert parts[0] == "Harmony-Ed25519" and parts[1] == A.did and parts[2] == "1748779200"
    sig = codec.b64decode_strict(parts[3])
    assert primitives.ed25519_sign(A.seed, b"1748779200:POST:/api/user-data/upload?x=1") == sig
    now = IAT
    assert httpsig.verify(h, "POST", "/api/user-data/upload?x=1", now) == A.did
    assert httpsig.verify(h, "POST", "/api/user-data/upload?x=1", now, "hardened") == A.did
    assert httpsig.verify_reason(h, "POST", "/api/user-data/upload", now) == (None, "BAD_SIGNATURE")
    assert httpsig.verify_reason(h, "POST", "/api/user-data/upload?x=1", now + 300_001) == (None, "STALE")
    ms = httpsig.header(A.did, A.seed, str(now), "GET", "/")
    assert httpsig.verify(ms, "GET", "/", now + 299_000) == A.did  # >= 1e12 read as ms
    junk = h.replace(" 1748779200 ", " 1748779200abc ")
    assert httpsig.verify_reason(junk, "POST", "/api/user-data/upload?x=1", now) == (None, "BAD_SIGNATURE")
    urlsafe = httpsig.header(A.did, A.seed, 1748779200, "GET", "/a")
    u = urlsafe.replace("+", "-").replace("/", "_")
    assert httpsig.verify(u, "GET", "/a", now) == A.did  # Node's decoder takes base64url too
    assert httpsig.verify(u, "GET", "/a", now, "hardened") in (None, A.did) and \
        (u == urlsafe or httpsig.verify(u, "GET", "/a", now, "hardened") is None)


def test_parse_int_js():
    assert httpsig.parse_int_js("  12ab") == 12 and httpsig.parse_int_js("-3") == -3
    assert httpsig.parse_int_js("x1") is None and httpsig.parse_int_js("") is None


def test_mls_flow_matches_upstream_run():
    """Upstream's SimplifiedMLSProvider (packages/e2ee/src/mls.ts at 422f90e, run under Node with
    crypto.getRandomValues replaced so that draw j of n bytes is ((7*j + i) & 255)): createGroup,
    createKeyPackage, addMember, encrypt, joinFromWelcome, updateKeys. Expected values (and the
    SHA-256 of the long ones) were printed by that run."""
    import hashlib

    def draw(j, n):
        return bytes((j * 7 + i) & 255 for i in range(n))

    bob = keys.identity_from_seed(bytes(i + 0x41 for i in range(32)))
    alice = keys.identity_from_seed(bytes(range(1, 33)))
    g = mls.Group.create("c1:c1:channel:00", alice.did, alice.seed, alice.ed_public, alice.x_secret, alice.x_public,
                         epoch_secret=draw(1, 32))
    kp = mls.create_key_package(bob.did, bob.seed, bob.ed_public, bob.x_public)
    w, c = g.add_member(kp, commit_secret=draw(2, 32), welcome_nonce=draw(3, 24))
    ct = g.encrypt(b"hello group", nonce=draw(4, 24))
    gb = mls.Group.join_from_welcome(w, bob.x_secret, bob.x_public, bob.seed, bob.ed_public)
    up = g.update_keys(commit_secret=draw(5, 32), new_enc_key=draw(6, 32))
    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    assert sha(w["encryptedGroupState"].hex().encode()) == "eccb35eb4e95d08582e388b67906fb8dd46d08133e0c06fb9f5c932ea538232b"
    assert sha(g.export_state()) == "38a90689d8b9fe876218563f29e172654a0ed1248e8cdc2c68263177dfd2ae8e"
    assert sha(gb.export_state()) == "712ef727a4832295d3f289e7406afe43fcc951b17dd25d8fc35fad70d650c12e"
    assert c["signature"].hex() == ("2087b125fb2694ee0a5d04be0ff073df46da2d81d587be7ac6d5fb7f41fd55b3"
                                    "b29b92965a62b5f18b9de72c7c097b63b9f0b2c207f698f97ac53c03b9a84700")
    assert ct["ciphertext"].hex() == ("1c1d1e1f202122232425262728292a2b2c2d2e2f30313233"
                                      "c78816c7e085e96d0ff02c8d6b2670cf5612e3a848a76c9e3102ff")
    assert up["signature"].hex() == ("8d2502cbfb54b68b76c419d9568579c0b049e8c00f41e4c2e26a312eebf1f3ae"
                                     "afc827f713fa18a1c42fe65d4db00981eb6f80e6ae55e8155e0bbd4790335700")
    assert g.media_key().hex() == "a47c7ff9aae90bc9fd4851172fc26587cb2eda4b38b7558fc18dc0eec1233809"


def test_key_package_hardened_rules():
    kp = mls.create_key_package(B.did, B.seed, B.ed_public, B.x_public)
    assert mls.verify_key_package_hardened(kp, B.did)
    wire = codec.deserialise(codec.serialise(kp))
    assert mls.verify_key_package_hardened(wire, B.did)
    assert not mls.verify_key_package_hardened(kp, A.did)  # not the connection's DID
    # an impostor: A's keys and signature under B's DID verify upstream (self-signed), not here
    imp = mls.create_key_package(B.did, A.seed, A.ed_public, A.x_public)
    assert mls.verify_key_package(imp) and not mls.verify_key_package_hardened(imp, B.did)
    assert not mls.verify_key_package_hardened(dict(kp, cipherSuite=2))
    assert not mls.verify_key_package_hardened(dict(kp, leafNode=dict(kp["leafNode"], encryptionKey=bytes(32))))
