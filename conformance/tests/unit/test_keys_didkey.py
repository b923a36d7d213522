"""BIP-39, identities, did:key and the DID document (crypto-facts 1, protocol-facts 2.1 vector)."""

import pytest

from harmony_conformance.crypto import didkey, keys
from harmony_conformance.crypto.jsjson import stringify

# Trezor BIP-39 vectors (passphrase "TREZOR"); also checked against Debian python3-mnemonic.
BIP39 = [
    ("00000000000000000000000000000000",
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
     "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04"),
    ("7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
     "legal winner thank year wave sausage worth useful legal winner thank yellow",
     "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607"),
    ("80808080808080808080808080808080",
     "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
     "d71de856f81a8acc65e6fc851a38d4d7ec216fd0796d0a6827a3ad6ed5511a30fa280f12eb2e47ed2ac03b5c462a0358d18d69fe4f985ec81778c1b370b652a8"),
    ("ffffffffffffffffffffffffffffffff",
     "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
     "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c6f15b11c61dee327651a14c34e18231052e48c069"),
    ("0000000000000000000000000000000000000000000000000000000000000000",
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art",
     "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8"),
    ("9e885d952ad362caeb4efe34a8e91bd2",
     "ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic",
     "274ddc525802f7c828d8ef7ddbcdc5304e87ac3535913611fbbfa986d0c9e5476c91689f9c8a54fd55bd38606aa6a8595ad213d4c9c9f9aca3fb217069a41028"),
]

ABOUT = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


@pytest.mark.parametrize("entropy,words,seed", BIP39)
def test_bip39_standard_vectors(entropy, words, seed):
    assert keys.entropy_to_mnemonic(bytes.fromhex(entropy)) == words
    assert keys.mnemonic_to_entropy(words).hex() == entropy
    assert keys.mnemonic_to_seed(words, "TREZOR").hex() == seed
    assert keys.mnemonic_to_seed(words, "TREZOR", validate=True).hex() == seed


def test_wordlist_is_the_bip39_english_list():
    wl = keys.english_wordlist()
    assert len(wl) == 2048 and wl[0] == "abandon" and wl[-1] == "zoo"


def test_identity_from_about_phrase_matches_scure_and_noble():
    # expected values from Node (@scure/bip39 1.6.0 mnemonicToSeedSync, @noble/curves 1.9.7)
    idn = keys.identity_from_mnemonic(ABOUT)
    assert idn.seed.hex() == "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc1"
    assert idn.ed_public.hex() == "c5785e1865b708938aff8161d573006496663b1aa10834e396dc566869a2c66a"
    assert idn.x_public.hex() == "da75184a2c9248ecedcb8016f8630b015096d886c4cadc850f224ed2997db63d"
    assert idn.did == "did:key:z6Mksk6pFzcZUxnaeXsuCv4k46FVUVFnhgYtFaFopTFJVBuB"  # npm bs58 6.0.0
    assert didkey.x25519_multibase(idn.x_public) == "z6LSrNwbtnWTnpcT9VvTZhGZ2AGHWe99dABvZCPL4MxqT268"


def test_bad_checksum_phrase_still_yields_a_key_upstream():
    bad = "abandon " * 11 + "abandon"
    assert not keys.validate_mnemonic(bad)
    # @scure/bip39 mnemonicToSeedSync(bad).slice(0, 32), from Node
    assert keys.mnemonic_to_seed(bad)[:32].hex() == "94cfb81f135f8d85d787a84173cf1e9fc51792f3723e2b93a162fa57a03370fd"
    with pytest.raises(keys.MnemonicError):
        keys.mnemonic_to_seed(bad, validate=True)


@pytest.mark.parametrize("phrase", ["abandon " * 10 + "about", " " + ABOUT, ABOUT + " abandon", ""])
def test_word_count_is_checked_on_single_space_split(phrase):
    with pytest.raises(keys.MnemonicError, match="Invalid mnemonic"):
        keys.mnemonic_to_seed(phrase)


def test_double_space_counts_as_a_token_and_changes_the_key():
    odd = ABOUT.replace("abandon abandon", "abandon  abandon", 1).rsplit(" ", 1)[0]
    assert len(odd.split(" ")) == 12
    assert keys.mnemonic_to_seed(odd) != keys.mnemonic_to_seed(ABOUT)


def test_generated_identity_is_12_valid_words():
    m, idn = keys.generate_identity()
    assert len(m.split(" ")) == 12 and keys.validate_mnemonic(m)
    assert idn.did.startswith("did:key:z6Mk")


# ---------------------------------------------------------------------------------- did:key

SEED = bytes(range(1, 33))
DID = "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7"
XMB = "z6LSgfttUXwS7v5MP2Y7nYEbdzrYiEZJdrv6Uiqg7BapsXPd"  # npm bs58 of ec01 || noble X25519 key
DOC = (
    '{"@context":["https://www.w3.org/ns/did/v1","https://w3id.org/security/suites/ed25519-2020/v1",'
    '"https://w3id.org/security/suites/x25519-2020/v1"],"id":"DID","verificationMethod":[{"id":"DID#EMB",'
    '"type":"Ed25519VerificationKey2020","controller":"DID","publicKeyMultibase":"EMB"},{"id":"DID#XMB",'
    '"type":"X25519KeyAgreementKey2020","controller":"DID","publicKeyMultibase":"XMB"}],'
    '"authentication":["DID#EMB"],"assertionMethod":["DID#EMB"],"keyAgreement":["DID#XMB"]}'
).replace("DID", DID).replace("EMB", DID[8:]).replace("XMB", XMB)


def test_protocol_facts_vector_key_and_did():
    idn = keys.identity_from_seed(SEED)
    assert idn.ed_public.hex() == "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664"
    assert idn.did == DID
    assert idn.vm == DID + "#" + DID[8:]


def test_document_exact_bytes_and_resolve_is_identical():
    idn = keys.identity_from_seed(SEED)
    assert stringify(didkey.create_document(idn.ed_public)) == DOC
    assert stringify(didkey.resolve(DID)) == DOC
    assert stringify(didkey.resolve(DID, strict=True)) == DOC


@pytest.mark.parametrize("did", [
    "did:key:y6MkneMk", "did:web:example.com", "did:key:z0OIl", "did:key:zQ3s",  # prefix/base58/codec
    "did:key:z" + "6LSgfttUXwS7v5MP2Y7nYEbdzrYiEZJdrv6Uiqg7BapsXPd",  # X25519 codec, not Ed25519
    None, 42,
])
def test_resolve_rejects(did):
    assert didkey.resolve(did) is None


def test_small_order_key_resolves_upstream_but_not_strictly():
    small = bytes.fromhex("ec" + "ff" * 30 + "7f")
    did = didkey.did_from_public(small)
    assert didkey.resolve(did) is not None
    assert didkey.resolve(did, strict=True) is None
    identity_point = didkey.did_from_public((1).to_bytes(32, "little"))
    assert didkey.resolve(identity_point) is None


def test_wrong_length_key_does_not_resolve_but_is_returned_by_key_lookup():
    did = "did:key:" + didkey.multibase(0xED, bytes(range(1, 34)))
    assert didkey.resolve(did) is None
    doc = {"verificationMethod": [{"id": "v", "publicKeyMultibase": didkey.multibase(0xEC, b"\x01\x02")}]}
    # upstream getPublicKeyFromDocument: any codec, any length
    assert didkey.public_key_from_document(doc, "v") == b"\x01\x02"
    assert didkey.public_key_from_document(doc, "v", strict=True) is None
    assert didkey.public_key_from_document(doc, "w") is None


def test_server_fallback_document_for_unresolvable_did_key():
    did = didkey.did_from_public((1).to_bytes(32, "little"))
    doc = didkey.resolve_server_fallback(did)
    assert list(doc) == ["@context", "id", "verificationMethod", "authentication", "assertionMethod",
                         "capabilityDelegation", "capabilityInvocation", "keyAgreement"]
    assert didkey.public_key_from_document(doc, did + "#" + did[8:]) == (1).to_bytes(32, "little")
    assert didkey.resolve_server_fallback("did:web:x") is None


def test_oauth_recovery_labels():
    from harmony_conformance.crypto import primitives as pr

    assert keys.oauth_recovery_seed("github", "tok") == pr.hkdf_sha256(
        b"oauth-recovery:github:tok", b"harmony-oauth-recovery", b"github-recovery")
    assert keys.cloud_oauth_token_hash("github", "42") == pr.hkdf_sha256(
        b"github:42", b"harmony-oauth-recovery-hash", b"oauth-hash")
