"""base58btc (standard and upstream quirks) and the wire codecs."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harmony_conformance.crypto import base58, codec
from harmony_conformance.crypto.base58 import STANDARD, UPSTREAM


def test_base58_known_answers():
    # python3-base58 / npm bs58: "hello" -> "Cn8eVZg" (toolchain.md)
    assert base58.encode(b"hello") == "Cn8eVZg"
    assert base58.decode("Cn8eVZg") == b"hello"
    assert base58.encode(b"\x00\x00\x01") == "112"
    assert base58.decode("112") == b"\x00\x00\x01"


@pytest.mark.parametrize("data,std,up", [(b"", "", "1"), (b"\0", "1", "11"), (b"\0\0", "11", "111")])
def test_base58_all_zero_encode_quirk(data, std, up):
    assert base58.encode(data, STANDARD) == std
    assert base58.encode(data, UPSTREAM) == up


@pytest.mark.parametrize("text,std,up", [("", b"", b"\0"), ("1", b"\0", b"\0\0"), ("11", b"\0\0", b"\0\0\0")])
def test_base58_all_zero_decode_quirk(text, std, up):
    assert base58.decode(text, STANDARD) == std
    assert base58.decode(text, UPSTREAM) == up


@pytest.mark.parametrize("bad", ["0", "O", "I", "l", "z+", "\u00e9"])
def test_base58_rejects_non_alphabet(bad):
    with pytest.raises(base58.Base58Error):
        base58.decode(bad)


@given(st.binary(max_size=80))
def test_base58_modes_agree_unless_all_zero(b):
    assert base58.decode(base58.encode(b)) == b
    if any(b):
        assert base58.decode(base58.encode(b, UPSTREAM), UPSTREAM) == b
        assert base58.encode(b, STANDARD) == base58.encode(b, UPSTREAM)
    else:  # upstream's all-zero strings grow by one zero byte per round trip
        assert base58.decode(base58.encode(b, UPSTREAM), UPSTREAM) == b + b"\0\0"


def test_upstream_base64_decoder_quirks():
    # crypto-facts 0.4: "AA*A" -> 00ffc0 (invalid char read as -1)
    assert codec.b64decode_upstream("AA*A") == bytes.fromhex("00ffc0")
    assert codec.b64decode_upstream("aGVsbG8gb2JqZWN0") == b"hello object"
    assert codec.b64decode_upstream("aGk=") == b"hi"
    assert codec.b64decode_upstream("a=G=k") == b"hi"  # every '=' is removed first
    assert codec.b64decode_upstream("aGVsbG8") == b"hello"
    assert codec.b64decode_upstream("aGVsb") == b"hel"  # a lone trailing char is lost


@given(st.binary(max_size=64))
def test_upstream_base64_round_trip(b):
    assert codec.b64decode_upstream(codec.b64encode(b)) == b
    assert codec.b64encode(b) == base64.b64encode(b).decode()


def test_serialise_and_deserialise_envelope():
    wire = codec.serialise({"ciphertext": b"hello object", "n": [b"\x01"]})
    assert wire == '{"ciphertext":{"__type":"Uint8Array","data":"aGVsbG8gb2JqZWN0"},' \
                   '"n":[{"__type":"Uint8Array","data":"AQ=="}]}'
    back = codec.deserialise(wire)
    assert back == {"ciphertext": b"hello object", "n": [b"\x01"]}


def test_to_bytes_accepts_the_three_forms():
    assert codec.to_bytes(b"\x01\x02") == codec.to_bytes([1, 2]) == codec.to_bytes({"0": 1, "1": 2}) == b"\x01\x02"


def test_atob_btoa():
    assert codec.btoa("hi\xff") == "aGn/"
    assert codec.atob("aGn/") == b"hi\xff"
    assert codec.atob("aGk") == b"hi"  # padding optional
    for bad in ("a", "a*bc", "aG=k"):
        with pytest.raises(ValueError):
            codec.atob(bad)
    with pytest.raises(ValueError):
        codec.btoa("\u0100")


# Expected values from Node 20: Buffer.from(s, "base64") and atob(s) (throwaway script).
NODE_BUFFER_BASE64 = [("aGk=", "6869"), ("aGk", "6869"), ("a-_k", "6befe4"), ("aG=k", "68"), ("a G k", "6869"),
                      ("a*Gk", "6869"), ("aGk=aGk=", "6869"), ("aGkx=", "686931"), ("a", ""), ("aG", "68"),
                      ("YQ==YQ==", "61"), ("!!!!aGk", "6869")]
NODE_ATOB = [("aGk=", "6869"), ("aGk", "6869"), ("aG k=", "6869"), ("aGk==", None), ("aG=k", None), ("a", None),
             ("aGk\n", "6869"), ("a-_k", None), ("=aGk", None)]


@pytest.mark.parametrize("text,want", NODE_BUFFER_BASE64)
def test_node_buffer_base64_decoder(text, want):
    from harmony_conformance.crypto import httpsig

    assert httpsig.node_base64(text).hex() == want


@pytest.mark.parametrize("text,want", NODE_ATOB)
def test_atob_matches_node(text, want):
    if want is None:
        with pytest.raises(ValueError):
            codec.atob(text)
    else:
        assert codec.atob(text).hex() == want


@pytest.mark.parametrize("text,ok", [("Zm9vYmE=", True), ("", True), ("Zm9vYmE", False), ("Zm9vYmF=", False),
                                     ("Zm9v YmE=", False), ("Zm-vYmE=", False), ("Zg==Zg==", False)])
def test_strict_base64(text, ok):
    if ok:
        assert codec.b64encode(codec.b64decode_strict(text)) == text
    else:
        with pytest.raises(ValueError):
            codec.b64decode_strict(text)
