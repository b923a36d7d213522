/* test_did.c - did:key, X25519 multibase, DID document, identity from mnemonic. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "hm_test_alloc.h"

static size_t unhex(uint8_t *out, size_t cap, const char *hex) {
  size_t n = strlen(hex) / 2;
  assert_true(n <= cap);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
  return n;
}

static const char *ABOUT =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

/* protocol-facts 2.1: seed 0x01..0x20 */
static void test_didkey_encode_protocol_vector(void **state) {
  (void)state;
  uint8_t seed[32], pk[32], back[32], x[32];
  for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(i + 1);
  assert_int_equal(hm_ed25519_seed_keypair(pk, NULL, seed), HM_OK);
  char did[HM_DIDKEY_MAX];
  assert_int_equal(hm_didkey_encode(did, sizeof did, pk), HM_OK);
  assert_string_equal(did, "did:key:z6MkneMkZqwqRiU5mJzSG3kDwzt9P8C59N4NGTfBLfSGE7c7");
  for (int mode = 0; mode < 2; mode++) {
    assert_int_equal(hm_didkey_decode(back, x, did, (hm_did_mode)mode), HM_OK);
    assert_memory_equal(back, pk, 32);
  }
  char xmb[HM_MULTIBASE_KEY_MAX];
  assert_int_equal(hm_x25519_multibase_encode(xmb, sizeof xmb, x), HM_OK);
  /* cross-checked with PyNaCl + an independent base58 */
  assert_string_equal(xmb, "z6LSgfttUXwS7v5MP2Y7nYEbdzrYiEZJdrv6Uiqg7BapsXPd");
  assert_int_equal(hm_didkey_encode(did, 20, pk), HM_ERR_BUFSZ);
}

/* Identity for "abandon x11 about": values computed independently with Python
 * (hashlib PBKDF2, PyNaCl, a hand base58). */
static void test_identity_from_mnemonic_about(void **state) {
  (void)state;
  hm_identity id;
  assert_int_equal(hm_identity_from_mnemonic(&id, ABOUT, HM_BIP39_HARDENED), HM_OK);
  uint8_t want[64];
  unhex(want, 64,
        "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc19a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4");
  assert_memory_equal(id.seed64, want, 64);
  assert_memory_equal(id.seed32, want, 32);
  assert_memory_equal(id.ed_sk64, want, 32);
  unhex(want, 32, "c5785e1865b708938aff8161d573006496663b1aa10834e396dc566869a2c66a");
  assert_memory_equal(id.ed_pk, want, 32);
  assert_memory_equal(id.ed_sk64 + 32, want, 32);
  unhex(want, 32, "08fc7c10140ddf3e7ae3829fafca7241400ad747b2f330a2db7e08fde554af66");
  assert_memory_equal(id.x_sk, want, 32);
  unhex(want, 32, "da75184a2c9248ecedcb8016f8630b015096d886c4cadc850f224ed2997db63d");
  assert_memory_equal(id.x_pk, want, 32);
  const char *did = "did:key:z6Mksk6pFzcZUxnaeXsuCv4k46FVUVFnhgYtFaFopTFJVBuB";
  const char *ed = "z6Mksk6pFzcZUxnaeXsuCv4k46FVUVFnhgYtFaFopTFJVBuB";
  const char *x = "z6LSrNwbtnWTnpcT9VvTZhGZ2AGHWe99dABvZCPL4MxqT268";
  assert_string_equal(id.did, did);
  assert_string_equal(id.ed_multibase, ed);
  assert_string_equal(id.x_multibase, x);
  char expect[2048];
  snprintf(expect, sizeof expect,
           "{\"@context\":[\"https://www.w3.org/ns/did/v1\",\"https://w3id.org/security/suites/"
           "ed25519-2020/v1\",\"https://w3id.org/security/suites/x25519-2020/v1\"],\"id\":\"%s\","
           "\"verificationMethod\":[{\"id\":\"%s#%s\",\"type\":\"Ed25519VerificationKey2020\","
           "\"controller\":\"%s\",\"publicKeyMultibase\":\"%s\"},{\"id\":\"%s#%s\",\"type\":"
           "\"X25519KeyAgreementKey2020\",\"controller\":\"%s\",\"publicKeyMultibase\":\"%s\"}],"
           "\"authentication\":[\"%s#%s\"],\"assertionMethod\":[\"%s#%s\"],\"keyAgreement\":[\"%s#%s\"]}",
           did, did, ed, did, ed, did, x, did, x, did, ed, did, ed, did, x);
  assert_string_equal(id.document, expect);
  assert_int_equal(id.document_len, strlen(expect));
  /* resolve(did) is byte-identical to create() */
  for (int mode = 0; mode < 2; mode++) {
    char *doc = NULL;
    size_t len = 0;
    assert_int_equal(hm_did_document(&doc, &len, did, (hm_did_mode)mode), HM_OK);
    assert_string_equal(doc, expect);
    assert_int_equal(len, strlen(expect));
    hm_free(doc);
  }
  hm_identity_clear(&id);
  assert_null(id.document);
  assert_true(sodium_is_zero(id.seed64, 64));
  assert_true(sodium_is_zero(id.x_sk, 32));
  assert_true(sodium_is_zero(id.ed_sk64, 64));
}

/* Upstream derives a key from a bad-checksum phrase; hardened refuses. */
static void test_identity_from_mnemonic_bad_checksum(void **state) {
  (void)state;
  const char *bad =
      "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon";
  hm_identity id;
  assert_int_equal(hm_identity_from_mnemonic(&id, bad, HM_BIP39_COMPAT), HM_OK);
  assert_memory_equal(id.did, "did:key:z6Mk", 12);
  hm_identity_clear(&id);
  assert_int_equal(hm_identity_from_mnemonic(&id, bad, HM_BIP39_HARDENED), HM_ERR_CHECKSUM);
  assert_null(id.document);
  assert_true(sodium_is_zero(id.seed32, 32));
}

static void test_didkey_decode_rejects(void **state) {
  (void)state;
  uint8_t pk[32], seed[32] = {7};
  assert_int_equal(hm_ed25519_seed_keypair(pk, NULL, seed), HM_OK);
  char did[HM_DIDKEY_MAX];
  assert_int_equal(hm_didkey_encode(did, sizeof did, pk), HM_OK);
  uint8_t out[32];
  for (int mode = 0; mode < 2; mode++) {
    hm_did_mode m = (hm_did_mode)mode;
    assert_int_equal(hm_didkey_decode(out, NULL, "did:web:example.com", m), HM_ERR_DID);
    assert_int_equal(hm_didkey_decode(out, NULL, "did:key:", m), HM_ERR_DID);
    assert_int_equal(hm_didkey_decode(out, NULL, "did:key:u6Mk", m), HM_ERR_DID);
    assert_int_equal(hm_didkey_decode(out, NULL, "did:key:z0OIl", m), HM_ERR_DID);
    assert_int_equal(hm_didkey_decode(out, NULL, did + 8, m), HM_ERR_DID); /* no prefix */
    /* wrong multicodec: the X25519 multibase as a DID */
    uint8_t x[32];
    char xmb[HM_MULTIBASE_KEY_MAX], xdid[HM_DIDKEY_MAX];
    assert_int_equal(hm_ed25519_to_x25519_pk(x, pk), HM_OK);
    assert_int_equal(hm_x25519_multibase_encode(xmb, sizeof xmb, x), HM_OK);
    snprintf(xdid, sizeof xdid, "did:key:%s", xmb);
    assert_int_equal(hm_didkey_decode(out, NULL, xdid, m), HM_ERR_DID);
    /* wrong length: 31- and 33-byte keys */
    uint8_t raw[35] = {0xed, 0x01};
    memcpy(raw + 2, pk, 32);
    char mb[80], d2[90];
    assert_int_equal(hm_multibase_encode_b58(mb, sizeof mb, raw, 33), HM_OK);
    snprintf(d2, sizeof d2, "did:key:%s", mb);
    assert_int_equal(hm_didkey_decode(out, NULL, d2, m), HM_ERR_DID);
    raw[34] = 1;
    assert_int_equal(hm_multibase_encode_b58(mb, sizeof mb, raw, 35), HM_OK);
    snprintf(d2, sizeof d2, "did:key:%s", mb);
    assert_int_equal(hm_didkey_decode(out, NULL, d2, m), HM_ERR_DID);
    /* identity point (y = 1) never resolves */
    uint8_t ident[32] = {1};
    assert_int_equal(hm_didkey_encode(d2, sizeof d2, ident), HM_OK);
    assert_int_equal(hm_didkey_decode(out, NULL, d2, m), HM_ERR_WEAK_KEY);
    char *doc = (char *)1;
    assert_int_equal(hm_did_document(&doc, NULL, d2, m), HM_ERR_WEAK_KEY);
    assert_null(doc);
    /* every single-character change of a valid DID is rejected or decodes to another key */
    char t[HM_DIDKEY_MAX];
    for (size_t i = 9; i < strlen(did); i++) {
      strcpy(t, did);
      t[i] = t[i] == 'a' ? 'b' : 'a';
      int rc = hm_didkey_decode(out, NULL, t, m);
      if (rc == HM_OK) assert_memory_not_equal(out, pk, 32);
    }
  }
}

/* crypto-facts 0.2 / 1.4: the order-2 key ecff..7f resolves upstream (u = 0);
 * hardened refuses it. */
static void test_didkey_decode_small_order_key(void **state) {
  (void)state;
  uint8_t pk[32], out[32], x[32], zero[32] = {0};
  memset(pk, 0xff, 32);
  pk[0] = 0xec;
  pk[31] = 0x7f;
  char did[HM_DIDKEY_MAX];
  assert_int_equal(hm_didkey_encode(did, sizeof did, pk), HM_OK);
  assert_int_equal(hm_didkey_decode(out, x, did, HM_DID_COMPAT), HM_OK);
  assert_memory_equal(out, pk, 32);
  assert_memory_equal(x, zero, 32);
  assert_int_equal(hm_didkey_decode(out, x, did, HM_DID_HARDENED), HM_ERR_WEAK_KEY);
  char *doc = NULL;
  assert_int_equal(hm_did_document(&doc, NULL, did, HM_DID_COMPAT), HM_OK);
  assert_non_null(strstr(doc, "\"X25519KeyAgreementKey2020\""));
  hm_free(doc);
}

/* R-CRY-B58-6 / R-CRY-DID-5/6: a non-minimal varint (ed 81 00) resolves upstream only;
 * a mixed-order key (honest key + 8-torsion point) resolves in both modes. */
static void test_didkey_decode_varint_and_mixed_order(void **state) {
  (void)state;
  uint8_t seed[32] = {9}, pk[32], out[32];
  assert_int_equal(hm_ed25519_seed_keypair(pk, NULL, seed), HM_OK);
  uint8_t raw[35] = {0xed, 0x81, 0x00};
  memcpy(raw + 3, pk, 32);
  char mb[80], did[90];
  assert_int_equal(hm_multibase_encode_b58(mb, sizeof mb, raw, 35), HM_OK);
  snprintf(did, sizeof did, "did:key:%s", mb);
  assert_int_equal(hm_didkey_decode(out, NULL, did, HM_DID_COMPAT), HM_OK);
  assert_memory_equal(out, pk, 32);
  assert_int_equal(hm_didkey_decode(out, NULL, did, HM_DID_HARDENED), HM_ERR_DID);

  uint8_t t8[32], mixed[32];
  unhex(t8, 32, "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
  assert_int_equal(crypto_core_ed25519_add(mixed, pk, t8), 0);
  int canonical = 0, small = 1;
  assert_int_equal(hm_ed25519_point_check(mixed, &canonical, &small), HM_OK);
  assert_int_equal(canonical, 1);
  assert_int_equal(small, 0);
  assert_int_equal(hm_didkey_encode(did, sizeof did, mixed), HM_OK);
  assert_int_equal(hm_didkey_decode(out, NULL, did, HM_DID_COMPAT), HM_OK);
  assert_int_equal(hm_didkey_decode(out, NULL, did, HM_DID_HARDENED), HM_OK);
  assert_memory_equal(out, mixed, 32);
  /* the small-order T8 itself is refused in hardened, accepted upstream */
  assert_int_equal(hm_didkey_encode(did, sizeof did, t8), HM_OK);
  assert_int_equal(hm_didkey_decode(out, NULL, did, HM_DID_COMPAT), HM_OK);
  assert_int_equal(hm_didkey_decode(out, NULL, did, HM_DID_HARDENED), HM_ERR_WEAK_KEY);
}

static void test_did_document_alloc_failure(void **state) {
  (void)state;
  hm_test_alloc_install();
  long n;
  for (n = 1;; n++) {
    hm_test_alloc_fail_at(n);
    hm_identity id;
    int rc = hm_identity_from_mnemonic(&id, ABOUT, HM_BIP39_COMPAT);
    if (rc == HM_OK) {
      hm_identity_clear(&id);
      assert_int_equal(hm_test_alloc_outstanding(), 0);
      break;
    }
    assert_int_equal(rc, HM_ERR_NOMEM);
    assert_int_equal(hm_test_alloc_outstanding(), 0);
    assert_true(sodium_is_zero((const uint8_t *)&id, sizeof id));
  }
  assert_true(n >= 3); /* the salt and the document allocations were both failed */
  hm_test_alloc_fail_at(0);
  hm_set_allocator(NULL);
}

/* The resolution memo (did.h): hits give exactly what a fresh resolution gives, failures are
 * never stored, the two modes never share an entry, eviction and disable work, and every
 * other test of this file still passes with the memo on (run twice: cold, then warm). */
static void test_did_memo(void **state) {
  (void)state;
  uint8_t seed[32], pk[32], x[32], pk2[32], x2[32];
  for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(0x40 + i);
  assert_int_equal(hm_ed25519_seed_keypair(pk, NULL, seed), HM_OK);
  char did[HM_DIDKEY_MAX];
  assert_int_equal(hm_didkey_encode(did, sizeof did, pk), HM_OK);
  char *cold = NULL, *warm = NULL;
  size_t cold_len = 0, warm_len = 0;
  assert_int_equal(hm_did_document(&cold, &cold_len, did, HM_DID_HARDENED), HM_OK);
  assert_int_equal(hm_didkey_decode(pk2, x2, did, HM_DID_HARDENED), HM_OK);
  memcpy(x, x2, 32);

  assert_int_equal(hm_did_memo_enable(64), HM_OK);
  uint64_t h0, s0, h1, s1;
  hm_did_memo_stats(&h0, &s0);
  for (int round = 0; round < 3; round++) {
    memset(pk2, 0, 32);
    memset(x2, 0, 32);
    assert_int_equal(hm_didkey_decode(pk2, x2, did, HM_DID_HARDENED), HM_OK);
    assert_memory_equal(pk2, pk, 32);
    assert_memory_equal(x2, x, 32);
    assert_int_equal(hm_did_document(&warm, &warm_len, did, HM_DID_HARDENED), HM_OK);
    assert_int_equal(warm_len, cold_len);
    assert_string_equal(warm, cold);
    hm_free(warm);
    warm = NULL;
  }
  hm_did_memo_stats(&h1, &s1);
  assert_true(h1 - h0 >= 4); /* rounds 2 and 3 hit for both calls */
  assert_true(s1 - s0 >= 1 && s1 - s0 <= 2);

  /* failures are not stored: a bad DID fails every time and stores nothing */
  char bad[HM_DIDKEY_MAX];
  snprintf(bad, sizeof bad, "%s", did);
  bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'a' ? 'b' : 'a';
  hm_did_memo_stats(&h0, &s0);
  for (int i = 0; i < 3; i++) {
    int rc = hm_didkey_decode(pk2, NULL, bad, HM_DID_HARDENED);
    if (rc == HM_OK) assert_memory_not_equal(pk2, pk, 32);
    else assert_true(rc == HM_ERR_DID || rc == HM_ERR_WEAK_KEY);
  }
  /* modes never share: the small-order key resolves in compat (stored) and still fails in hardened */
  uint8_t so[32];
  memset(so, 0xff, 32);
  so[0] = 0xec;
  so[31] = 0x7f;
  char sodid[HM_DIDKEY_MAX];
  assert_int_equal(hm_didkey_encode(sodid, sizeof sodid, so), HM_OK);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(hm_didkey_decode(pk2, NULL, sodid, HM_DID_COMPAT), HM_OK);
    assert_int_equal(hm_didkey_decode(pk2, NULL, sodid, HM_DID_HARDENED), HM_ERR_WEAK_KEY);
    char *d = NULL;
    assert_int_equal(hm_did_document(&d, NULL, sodid, HM_DID_HARDENED), HM_ERR_WEAK_KEY);
    assert_null(d);
  }
  hm_did_memo_stats(&h1, &s1);
  assert_true(s1 - s0 >= 1); /* the compat success */

  /* one slot: two DIDs evict each other and both stay correct */
  assert_int_equal(hm_did_memo_enable(1), HM_OK);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(hm_didkey_decode(pk2, NULL, i % 2 ? did : sodid, HM_DID_COMPAT), HM_OK);
    assert_memory_equal(pk2, i % 2 ? pk : so, 32);
  }
  /* NULL xpk on a hit, and a too-long "DID" is simply not memoised */
  assert_int_equal(hm_didkey_decode(pk2, NULL, did, HM_DID_COMPAT), HM_OK);
  char longdid[200];
  memset(longdid, 'z', sizeof longdid - 1);
  longdid[sizeof longdid - 1] = 0;
  memcpy(longdid, "did:key:z", 9);
  assert_int_not_equal(hm_didkey_decode(pk2, NULL, longdid, HM_DID_HARDENED), HM_OK);
  assert_int_equal(hm_did_memo_enable((size_t)1 << 21), HM_ERR_INVAL);

  /* the rest of this file with the memo on, twice */
  assert_int_equal(hm_did_memo_enable(256), HM_OK);
  for (int r = 0; r < 2; r++) {
    test_didkey_encode_protocol_vector(state);
    test_didkey_decode_rejects(state);
    test_didkey_decode_small_order_key(state);
    test_didkey_decode_varint_and_mixed_order(state);
  }
  assert_int_equal(hm_did_memo_enable(0), HM_OK);
  hm_free(cold);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_didkey_encode_protocol_vector),
      cmocka_unit_test(test_identity_from_mnemonic_about),
      cmocka_unit_test(test_identity_from_mnemonic_bad_checksum),
      cmocka_unit_test(test_didkey_decode_rejects),
      cmocka_unit_test(test_didkey_decode_small_order_key),
      cmocka_unit_test(test_didkey_decode_varint_and_mixed_order),
      cmocka_unit_test(test_did_document_alloc_failure),
      cmocka_unit_test(test_did_memo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
