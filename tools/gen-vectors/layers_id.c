/* tools/gen-vectors/layers_id.c - bip39, didkey, did-document vector layers. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/bip39.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "layers.h"
#include "vfile.h"

/* ======================================================================== bip39 */

static int b39_entropy_compute(json_t *c) {
  uint8_t e[64];
  size_t n = vget_hex(c, "entropy", e, sizeof e);
  char m[HM_BIP39_MNEMONIC_MAX];
  int rc = hm_bip39_entropy_to_mnemonic(m, sizeof m, e, n);
  if (rc) {
    json_object_del(c, "mnemonic");
    vset_result(c, "invalid", rc);
  } else {
    vset_str(c, "mnemonic", m);
    vset_result(c, "valid", 0);
  }
  return 0;
}

static int b39_keys_compute(json_t *c) {
  const char *m = vget_str(c, "mnemonic", NULL);
  hm_identity id;
  memset(&id, 0, sizeof id);
  int rc = hm_identity_from_mnemonic(&id, m, HM_BIP39_COMPAT);
  static const char *const outs[] = {"seed64", "seed32", "ed25519_public_key", "x25519_secret_key",
                                     "x25519_public_key", "did"};
  if (rc) {
    for (size_t i = 0; i < 6; i++) json_object_del(c, outs[i]);
    vset_result(c, "invalid", rc);
    return 0;
  }
  vset_hex(c, "seed64", id.seed64, 64);
  vset_hex(c, "seed32", id.seed32, 32);
  vset_hex(c, "ed25519_public_key", id.ed_pk, 32);
  vset_hex(c, "x25519_secret_key", id.x_sk, 32);
  vset_hex(c, "x25519_public_key", id.x_pk, 32);
  vset_str(c, "did", id.did);
  hm_identity_clear(&id);
  int hrc = hm_bip39_check(m, NULL, NULL);
  if (hrc) vset_result(c, "acceptable", hrc);
  else vset_result(c, "valid", 0);
  return 0;
}

static void bip39_generate(vfile *f) {
  static const char *const ent[][3] = {
    {"ent-zero-16", "00000000000000000000000000000000", "BIP-39 / Trezor vector: abandon x11 about"},
    {"ent-7f-16", "7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f", "Trezor vector"},
    {"ent-80-16", "80808080808080808080808080808080", "Trezor vector"},
    {"ent-ff-16", "ffffffffffffffffffffffffffffffff", "Trezor vector: zoo x11 wrong"},
    {"ent-zero-32", "0000000000000000000000000000000000000000000000000000000000000000",
     "24 words: abandon x23 art"},
  };
  for (size_t i = 0; i < sizeof ent / sizeof ent[0]; i++) {
    json_t *c = vcase(f, "entropy-mnemonic", ent[i][0], ent[i][2], "Known");
    vset_str(c, "entropy", ent[i][1]);
    vrun(f, c);
  }
  static const size_t lens[] = {16, 20, 24, 28, 32};
  for (size_t i = 0; i < 5; i++) {
    char label[32];
    uint8_t s[32];
    snprintf(label, sizeof label, "ent-seeded-%zu", lens[i]);
    vseed(f, label, NULL, s);
    json_t *c = vcase(f, "entropy-mnemonic", label, "entropy = first bytes of seed(label)", "Seeded");
    vset_hex(c, "entropy", s, lens[i]);
    vrun(f, c);
  }
  {
    json_t *c = vcase(f, "entropy-mnemonic", "ent-bad-15", "15 bytes of entropy: refused", "BadLength");
    vset_str(c, "entropy", "000000000000000000000000000000");
    vrun(f, c);
  }
  /* mnemonic -> keys */
  char gen[HM_BIP39_MNEMONIC_MAX];
  static const char *const mn[][4] = {
    {"abandon-about", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
     "the BIP-39 test phrase used in upstream's tests", "Known"},
    {"legal-winner", "legal winner thank year wave sausage worth useful legal winner thank yellow", "Trezor vector",
     "Known"},
    {"letter-advice", "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
     "Trezor vector", "Known"},
    {"zoo-wrong", "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong", "Trezor vector", "Known"},
    {"abandon-art-24",
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art",
     "24 words", "Known"},
    {"bad-checksum", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon",
     "12 words with a wrong checksum: upstream still derives a key (crypto-facts 1.1)", "BadChecksum"},
    {"unknown-word", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon harmony",
     "a word outside the list: upstream still derives a key", "UnknownWord"},
    {"upper-case", "Abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
     "no lower-casing: a different key upstream; not a list word for the hardened check", "UnknownWord"},
    {"words-11", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
     "11 words: refused by upstream too", "WordCount"},
    {"double-space", "abandon  abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
     "a double space gives an empty token: 13 tokens, refused", "WordCount"},
    {"trailing-space", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about ",
     "no trimming: 13 tokens, refused", "WordCount"},
  };
  for (size_t i = 0; i < sizeof mn / sizeof mn[0]; i++) {
    json_t *c = vcase(f, "mnemonic-keys", mn[i][0], mn[i][2], mn[i][3]);
    vset_str(c, "mnemonic", mn[i][1]);
    vrun(f, c);
  }
  for (int i = 1; i <= 2; i++) {
    char label[32];
    uint8_t s[32];
    snprintf(label, sizeof label, "seeded-%d", i);
    vseed(f, label, NULL, s);
    if (hm_bip39_entropy_to_mnemonic(gen, sizeof gen, s, 16)) vdie("mnemonic");
    json_t *c = vcase(f, "mnemonic-keys", label, "12 words from entropy = first 16 bytes of seed(label)", "Seeded");
    vset_str(c, "mnemonic", gen);
    vrun(f, c);
  }
}

static const char *const B39_NOTES[] = {
  "Known", "a published BIP-39 (Trezor) phrase or entropy",
  "Seeded", "derived from the case label",
  "BadLength", "entropy not 16/20/24/28/32 bytes (INVALID_ARGUMENT)",
  "BadChecksum", "acceptable: upstream ignores the checksum; hardened check fails (BAD_CHECKSUM)",
  "UnknownWord", "acceptable: upstream ignores the word list; hardened check fails (BAD_MNEMONIC)",
  "WordCount", "token count (split on single spaces) not 12/15/18/21/24: refused by everyone (BAD_MNEMONIC)",
  NULL};
static const vkind B39_KINDS[] = {{"entropy-mnemonic", "entropy", b39_entropy_compute},
                                  {"mnemonic-keys", "mnemonic", b39_keys_compute},
                                  {0}};
const vlayer LAYER_BIP39 = {"bip39", "BIP-39 and the Harmony identity",
                            "BIP-39 English, seed32 = first 32 bytes of the PBKDF2 seed, X25519 by conversion, "
                            "did:key: crypto-facts 1.1, 1.2",
                            B39_NOTES, B39_KINDS, bip39_generate};

/* ======================================================================== didkey */

static int dk_encode_compute(json_t *c) {
  uint8_t pk[32], xpk[32];
  vget_hex_fixed(c, "public_key", pk, 32);
  char did[HM_DIDKEY_MAX], edmb[HM_MULTIBASE_KEY_MAX], xmb[HM_MULTIBASE_KEY_MAX];
  if (hm_didkey_encode(did, sizeof did, pk) || hm_ed25519_multibase_encode(edmb, sizeof edmb, pk))
    vdie("didkey encode");
  vset_str(c, "did", did);
  vset_str(c, "ed25519_multibase", edmb);
  if (hm_ed25519_to_x25519_pk(xpk, pk) || hm_x25519_multibase_encode(xmb, sizeof xmb, xpk)) vdie("x mb");
  vset_hex(c, "x25519_public_key", xpk, 32);
  vset_str(c, "x25519_multibase", xmb);
  vset_result(c, "valid", 0);
  return 0;
}

static int dk_decode_compute(json_t *c) {
  const char *did = vget_str(c, "did", NULL);
  uint8_t pk[32], xpk[32], pk2[32], xpk2[32];
  int crc = hm_didkey_decode(pk, xpk, did, HM_DID_COMPAT);
  int hrc = hm_didkey_decode(pk2, xpk2, did, HM_DID_HARDENED);
  if (crc == HM_OK) {
    vset_hex(c, "public_key", pk, 32);
    vset_hex(c, "x25519_public_key", xpk, 32);
    if (hrc == HM_OK && (memcmp(pk, pk2, 32) || memcmp(xpk, xpk2, 32))) vdie("modes disagree on the key");
  } else {
    json_object_del(c, "public_key");
    json_object_del(c, "x25519_public_key");
  }
  vset_profiles(c, crc, hrc);
  return 0;
}

static void did_of(const uint8_t *keybytes, size_t n, char *out, size_t cap) {
  /* "did:key:z" + base58btc(bytes): for malformed keys we build the text by hand */
  memcpy(out, "did:key:", 8);
  if (hm_multibase_encode_b58(out + 8, cap - 8, keybytes, n)) vdie("mb");
}

static void dk_decode_case(vfile *f, const char *label, const char *comment, const char *flags, const char *did) {
  json_t *c = vcase(f, "decode", label, comment, flags);
  vset_str(c, "did", did);
  vrun(f, c);
}

static void didkey_generate(vfile *f) {
  uint8_t s[32], pk[32];
  char did[256];
  for (int i = 1; i <= 3; i++) {
    char label[32];
    snprintf(label, sizeof label, "encode-%d", i);
    vseed(f, label, NULL, s);
    if (hm_ed25519_seed_keypair(pk, NULL, s)) vdie("kp");
    json_t *c = vcase(f, "encode", label, "public key of seed(label)", "Honest");
    vset_hex(c, "public_key", pk, 32);
    vrun(f, c);
  }
  {
    static const char *rfc = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    json_t *c = vcase(f, "encode", "encode-rfc8032", "RFC 8032 test-1 public key", "Honest");
    vset_str(c, "public_key", rfc);
    vrun(f, c);
  }
  vseed(f, "decode-honest", NULL, s);
  if (hm_ed25519_seed_keypair(pk, NULL, s)) vdie("kp");
  uint8_t kb[40] = {0xed, 0x01};
  memcpy(kb + 2, pk, 32);
  did_of(kb, 34, did, sizeof did);
  dk_decode_case(f, "decode-honest", "did:key of seed(decode-honest)", "Honest", did);
  /* small-order and odd keys */
  static const char *const odd[][4] = {
    {"decode-order2", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
     "order-2 key: resolves upstream (noble toMontgomery), refused hardened; with the (R = identity, S = 0) "
     "signature it verifies anything upstream",
     "SmallOrder"},
    {"decode-order8", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", "order-8 key",
     "SmallOrder"},
    {"decode-order4", "0000000000000000000000000000000000000000000000000000000000000000",
     "order-4 key (y = 0)", "SmallOrder"},
    {"decode-identity", "0100000000000000000000000000000000000000000000000000000000000000",
     "identity key (y = 1): the X25519 map divides by zero, does not resolve anywhere", "SmallOrder"},
    {"decode-noncanonical", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
     "y = p + 1: non-canonical, not resolvable (noble toMontgomery needs a canonical point)", "NonCanonical"},
    {"decode-not-on-curve", "0200000000000000000000000000000000000000000000000000000000000000",
     "y = 2 is not on the curve", "NotOnCurve"},
  };
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    uint8_t k[32];
    size_t got;
    if (hm_hex_decode(k, 32, &got, odd[i][1], 64)) vdie("hex");
    memcpy(kb + 2, k, 32);
    did_of(kb, 34, did, sizeof did);
    dk_decode_case(f, odd[i][0], odd[i][2], odd[i][3], did);
  }
  {
    /* mixed-order key: honest key + order-8 point */
    uint8_t t8[32], apk[32];
    size_t got;
    if (hm_hex_decode(t8, 32, &got, odd[1][1], 64)) vdie("hex");
    if (crypto_core_ed25519_add(apk, pk, t8)) vdie("add");
    memcpy(kb + 2, apk, 32);
    did_of(kb, 34, did, sizeof did);
    dk_decode_case(f, "decode-mixed-order", "honest key + order-8 point: upstream resolves it, libsodium's map refuses",
                   "MixedOrder", did);
  }
  memcpy(kb + 2, pk, 32);
  /* malformed */
  kb[0] = 0xec;
  did_of(kb, 34, did, sizeof did);
  dk_decode_case(f, "decode-x25519-codec", "multicodec ec 01 (X25519) instead of ed 01", "Malformed", did);
  kb[0] = 0xed;
  did_of(kb, 33, did, sizeof did);
  dk_decode_case(f, "decode-short-key", "31-byte key", "Malformed", did);
  kb[34] = 0;
  did_of(kb, 35, did, sizeof did);
  dk_decode_case(f, "decode-long-key", "33-byte key", "Malformed", did);
  did_of(kb, 34, did, sizeof did);
  char tmp[300];
  snprintf(tmp, sizeof tmp, "did:key:f%s", did + 9);
  dk_decode_case(f, "decode-not-z", "multibase prefix other than z", "Malformed", tmp);
  snprintf(tmp, sizeof tmp, "did:web:example.com");
  dk_decode_case(f, "decode-did-web", "another DID method", "Malformed", tmp);
  snprintf(tmp, sizeof tmp, "%s0", did);
  dk_decode_case(f, "decode-bad-char", "a '0' (outside the base58 alphabet) appended", "Malformed", tmp);
  dk_decode_case(f, "decode-empty", "\"did:key:z\" with nothing after it", "Malformed", "did:key:z");
  snprintf(tmp, sizeof tmp, "DID:KEY:%s", did + 8);
  dk_decode_case(f, "decode-upper-prefix", "the prefix is case-sensitive", "Malformed", tmp);
}

static const char *const DK_NOTES[] = {
  "Honest", "an ordinary Ed25519 key",
  "SmallOrder", "a small-order key",
  "NonCanonical", "a non-canonical key encoding",
  "NotOnCurve", "not a curve point",
  "MixedOrder", "a key with a torsion component",
  "Malformed", "not a did:key of a 32-byte Ed25519 key (BAD_DID)",
  NULL};
static const vkind DK_KINDS[] = {{"encode", "public_key", dk_encode_compute},
                                 {"decode", "did", dk_decode_compute},
                                 {0}};
const vlayer LAYER_DIDKEY = {"didkey", "did:key (Ed25519)",
                             "did = did:key:z + base58btc(ed 01 || pk); resolution rules compat (upstream) and "
                             "hardened (libsodium map): crypto-facts 1.2, 1.4",
                             DK_NOTES, DK_KINDS, didkey_generate};

/* ======================================================================== did-document */

static int dd_compute(json_t *c) {
  const char *did = vget_str(c, "did", NULL);
  char *doc = NULL;
  size_t len;
  int crc = hm_did_document(&doc, &len, did, HM_DID_COMPAT);
  if (crc == HM_OK) {
    vset_strn(c, "did_document", doc, len);
    hm_free(doc);
  } else {
    json_object_del(c, "did_document");
  }
  char *doc2 = NULL;
  int hrc = hm_did_document(&doc2, &len, did, HM_DID_HARDENED);
  hm_free(doc2);
  vset_profiles(c, crc, hrc);
  return 0;
}

static void diddoc_generate(vfile *f) {
  uint8_t s[32], pk[32];
  char did[HM_DIDKEY_MAX];
  for (int i = 1; i <= 3; i++) {
    char label[32];
    snprintf(label, sizeof label, "doc-%d", i);
    vseed(f, label, NULL, s);
    if (hm_ed25519_seed_keypair(pk, NULL, s) || hm_didkey_encode(did, sizeof did, pk)) vdie("kp");
    json_t *c = vcase(f, NULL, label, "DID document of the did:key of seed(label)", "Honest");
    vset_str(c, "did", did);
    vrun(f, c);
  }
  {
    hm_identity id;
    memset(&id, 0, sizeof id);
    if (hm_identity_from_mnemonic(&id, "abandon abandon abandon abandon abandon abandon abandon abandon abandon "
                                       "abandon abandon about",
                                  HM_BIP39_COMPAT))
      vdie("identity");
    json_t *c = vcase(f, NULL, "doc-abandon-about", "identity of the abandon x11 about phrase", "Honest");
    vset_str(c, "did", id.did);
    vrun(f, c);
    hm_identity_clear(&id);
  }
  uint8_t kb[34] = {0xed, 0x01};
  memset(kb + 2, 0xff, 32);
  kb[2] = 0xec;
  kb[33] = 0x7f;
  memcpy(did, "did:key:", 8);
  if (hm_multibase_encode_b58(did + 8, sizeof did - 8, kb, 34)) vdie("mb");
  json_t *c = vcase(f, NULL, "doc-order2",
                    "order-2 key: upstream builds a document (the universal-signature key), hardened refuses",
                    "SmallOrder");
  vset_str(c, "did", did);
  vrun(f, c);
  c = vcase(f, NULL, "doc-not-didkey", "not a did:key: upstream resolves to null", "Malformed");
  vset_str(c, "did", "did:example:123");
  vrun(f, c);
}

static const char *const DD_NOTES[] = {
  "Honest", "an ordinary identity",
  "SmallOrder", "acceptable: upstream resolves a small-order key, hardened does not",
  "Malformed", "does not resolve",
  NULL};
static const vkind DD_KINDS[] = {{NULL, "did", dd_compute}, {0}};
const vlayer LAYER_DIDDOC = {"did-document", "DID document",
                             "upstream DIDKeyProvider document, exact key order: crypto-facts 1.3, 1.4", DD_NOTES,
                             DD_KINDS, diddoc_generate};
