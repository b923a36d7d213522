"""RFC known answers for the primitives, and Harmony's ZIP-215 verifier."""

import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harmony_conformance.crypto import ed25519_zip215 as z
from harmony_conformance.crypto import primitives as pr


def test_hkdf_rfc5869_case1():
    okm = pr.hkdf_sha256(bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                         "34007208d5b887185865")


def test_hkdf_rfc5869_case3_and_none_salt_equals_empty_and_zero_salt():
    okm = pr.hkdf_sha256(bytes([0x0B] * 22), b"", b"", 42)
    assert okm.hex() == ("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                         "9d201395faa4b61a96c8")
    assert pr.hkdf_sha256(b"k", None, b"i") == pr.hkdf_sha256(b"k", b"", b"i") == pr.hkdf_sha256(b"k", bytes(32), b"i")


@given(st.binary(max_size=40), st.binary(max_size=40), st.binary(max_size=20))
@settings(max_examples=50)
def test_hkdf_agrees_with_cryptography(ikm, salt, info):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    ref = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt or None, info=info).derive(ikm)
    assert pr.hkdf_sha256(ikm, salt, info) == ref


def test_ed25519_rfc8032_test1():
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    pk = pr.ed25519_public(seed)
    assert pk.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    sig = pr.ed25519_sign(seed, b"")
    assert sig.hex() == ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    assert z.verify_zip215(pk, b"", sig) and z.verify_strict(pk, b"", sig)
    assert not z.verify_zip215(pk, b"x", sig) and not z.verify_strict(pk, b"x", sig)


def test_x25519_rfc7748_section6_1():
    a = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    b = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    apk, bpk = pr.x25519_base(a), pr.x25519_base(b)
    assert apk.hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    assert bpk.hex() == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    assert pr.x25519(a, bpk).hex() == k and pr.x25519(b, apk).hex() == k


def test_x25519_all_zero_output_is_an_error():
    with pytest.raises(pr.X25519Error):
        pr.x25519(os.urandom(32), bytes(32))


def test_xchacha20poly1305_draft_arciszewski_a3():
    key = bytes(range(0x80, 0xA0))
    nonce = bytes(range(0x40, 0x58))
    aad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    pt = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
          b"future, sunscreen would be it.")
    out = pr.xchacha_encrypt(key, nonce, pt, aad)
    assert out.hex() == (
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39"
        "ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
        "21f9664c97637da9768812f615c68b13b52e" "c0875924c1c7987947deafd8780acf49")
    assert pr.xchacha_decrypt(key, nonce, out, aad) == pt
    with pytest.raises(pr.AeadError):
        pr.xchacha_decrypt(key, nonce, out[:-1] + bytes([out[-1] ^ 1]), aad)


def test_aes256gcm_round_trip_and_tamper():
    k, iv = os.urandom(32), os.urandom(12)
    ct = pr.aes256gcm_encrypt(k, iv, b"frame")
    assert len(ct) == 5 + 16 and pr.aes256gcm_decrypt(k, iv, ct) == b"frame"
    with pytest.raises(pr.AeadError):
        pr.aes256gcm_decrypt(k, iv, bytes([ct[0] ^ 1]) + ct[1:])


def test_ed_to_x25519_secret_matches_libsodium_and_node():
    seed = bytes(range(1, 33))
    from nacl.bindings import crypto_sign_ed25519_sk_to_curve25519, crypto_sign_seed_keypair

    _, sk64 = crypto_sign_seed_keypair(seed)
    assert pr.ed_sk_to_x25519(seed) == crypto_sign_ed25519_sk_to_curve25519(sk64)
    # noble edwardsToMontgomeryPriv / Pub for seed 01..20 (from Node, @noble/curves 1.9.7)
    assert pr.ed_sk_to_x25519(seed).hex() == "70788f1a0cea001a2631dae5d05dbd062008d5b30f50b9e29beb2a7822289044"
    pk = pr.ed25519_public(seed)
    xpk = "4a3807d064d077181cc070989e76891d20dca5559548dc2c77c1a50273882b38"
    assert z.ed_to_x25519_public_upstream(pk).hex() == xpk
    assert pr.ed_pk_to_x25519_strict(pk).hex() == xpk
    assert pr.x25519_base(pr.ed_sk_to_x25519(seed)).hex() == xpk


# ------------------------------------------------------------------------------------ ZIP-215

SMALL_PK = bytes.fromhex("ec" + "ff" * 30 + "7f")  # order 2 (y = -1)
UNIVERSAL_SIG = bytes([1]) + bytes(63)  # R = identity, S = 0


@pytest.mark.parametrize("msg", [b"", b"anything", os.urandom(100)])
def test_zip215_universal_signature_for_small_order_key(msg):
    # crypto-facts 0.2 / vector ed25519_zip215: Harmony accepts, libsodium rejects
    assert z.verify_zip215(SMALL_PK, msg, UNIVERSAL_SIG)
    assert not z.verify_strict(SMALL_PK, msg, UNIVERSAL_SIG)


def test_zip215_requires_s_below_l():
    seed = os.urandom(32)
    pk, sig = pr.ed25519_public(seed), pr.ed25519_sign(seed, b"m")
    s = int.from_bytes(sig[32:], "little")
    malleated = sig[:32] + (s + z.L).to_bytes(32, "little")
    assert z.verify_zip215(pk, b"m", sig)
    assert not z.verify_zip215(pk, b"m", malleated)
    assert not z.verify_strict(pk, b"m", malleated)


def test_zip215_accepts_non_canonical_identity_encodings():
    # y = p + 1 (non-canonical identity) and x = 0 with the sign bit set
    noncanon_R = (z.P + 1).to_bytes(32, "little")
    signed_zero = bytearray((1).to_bytes(32, "little"))
    signed_zero[31] |= 0x80
    for R in (noncanon_R, bytes(signed_zero)):
        assert z.verify_zip215(SMALL_PK, b"m", R + bytes(32))
        assert not z.verify_strict(SMALL_PK, b"m", R + bytes(32))
    with pytest.raises(z.PointError):
        z.decode_point(noncanon_R, False)
    with pytest.raises(z.PointError):
        z.decode_point(bytes(signed_zero), False)


def test_zip215_length_and_decoding_failures_are_false():
    seed = os.urandom(32)
    pk, sig = pr.ed25519_public(seed), pr.ed25519_sign(seed, b"m")
    assert not z.verify_zip215(pk[:31], b"m", sig)
    assert not z.verify_zip215(pk, b"m", sig[:63])
    # y = 2 has no x on the curve
    assert not z.verify_zip215((2).to_bytes(32, "little"), b"m", sig)


def test_identity_key_has_no_montgomery_image():
    with pytest.raises(z.PointError):
        z.ed_to_x25519_public_upstream((1).to_bytes(32, "little"))
    # the order-2 key converts under noble's rule (u = 0) but not under libsodium's
    assert z.ed_to_x25519_public_upstream(SMALL_PK) == bytes(32)
    with pytest.raises(ValueError):
        pr.ed_pk_to_x25519_strict(SMALL_PK)


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=64))
@settings(max_examples=25)
def test_honest_signatures_verify_under_both_rules(seed, msg):
    pk, sig = pr.ed25519_public(seed), pr.ed25519_sign(seed, msg)
    assert z.verify_zip215(pk, msg, sig) and z.verify_strict(pk, msg, sig)
    bad = bytes([sig[0] ^ 0x01]) + sig[1:]
    assert z.verify_zip215(pk, msg, bad) == z.verify_strict(pk, msg, bad) == False  # noqa: E712


def test_point_codec_round_trip_on_base_multiples():
    p = z.B
    for _ in range(20):
        enc = z.encode_point(p)
        assert z.encode_point(z.decode_point(enc, False)) == enc
        p = z._add(p, z.B)
    assert hashlib.sha256(z.encode_point(z.B)).hexdigest()  # base point encodes
    assert z.encode_point(z.B).hex() == "5866666666666666666666666666666666666666666666666666666666666666"
