/* test_dm.c - DM key (X25519 + HKDF labels), XChaCha layout, key binding, tamper. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
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

/* Identities A (seed 0x01..0x20) and B (seed 0x21..0x40). Expected values in these tests
 * were computed independently with Python (hmac/hashlib HKDF, PyNaCl, cryptography). */
static void ident(hm_identity *id, uint8_t first) {
  uint8_t seed[32];
  for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(first + i);
  assert_int_equal(hm_identity_from_seed32(id, seed), HM_OK);
}
#include "harmony/dm.h"

static void test_dm_key_known_answer(void **state) {
  (void)state;
  hm_identity a, b;
  ident(&a, 0x01);
  ident(&b, 0x21);
  uint8_t k1[32], k2[32], want[32];
  assert_int_equal(hm_dm_key(k1, a.x_sk, b.x_pk), HM_OK);
  assert_int_equal(hm_dm_key(k2, b.x_sk, a.x_pk), HM_OK);
  unhex(want, 32, "7fecda079fdfa80ab231b2420e17d6a47a172287ce3352d0f2a0b5a4e7bf8622");
  assert_memory_equal(k1, want, 32);
  assert_memory_equal(k2, want, 32); /* same key both directions (W21) */
  unhex(want, 32, "eec82d0aa499556f0a7eea295286a17fbc768a83935afd75527def74f9ab475b");
  assert_int_equal(hm_crypto_provider_key(k1, a.x_sk, b.x_pk), HM_OK);
  assert_memory_equal(k1, want, 32);
  hm_identity_clear(&a);
  hm_identity_clear(&b);
}

static void test_dm_key_weak_peer(void **state) {
  (void)state;
  hm_identity a;
  ident(&a, 0x01);
  uint8_t zero[32] = {0}, k[32];
  memset(k, 0x55, 32);
  assert_int_equal(hm_dm_key(k, a.x_sk, zero), HM_ERR_WEAK_KEY);
  assert_true(sodium_is_zero(k, 32));
  hm_identity_clear(&a);
}

static void test_dm_seal_known_answer_and_tamper(void **state) {
  (void)state;
  uint8_t key[32], nonce[24], ct[25], want[25], pt[9];
  unhex(key, 32, "7fecda079fdfa80ab231b2420e17d6a47a172287ce3352d0f2a0b5a4e7bf8622");
  for (int i = 0; i < 24; i++) nonce[i] = (uint8_t)i;
  assert_int_equal(hm_dm_seal(ct, key, nonce, (const uint8_t *)"hello bob", 9), HM_OK);
  unhex(want, 25, "14bff6e66051a3ecdcf4d7f0495273f1baf6c3e135d303b6c3");
  assert_memory_equal(ct, want, 25);
  assert_int_equal(hm_dm_open(pt, key, nonce, ct, 25), HM_OK);
  assert_memory_equal(pt, "hello bob", 9);
  for (int bit = 0; bit < 25 * 8; bit++) {
    ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(hm_dm_open(pt, key, nonce, ct, 25), HM_ERR_AUTH_TAG);
    ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  for (int bit = 0; bit < 24 * 8; bit++) {
    nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(hm_dm_open(pt, key, nonce, ct, 25), HM_ERR_AUTH_TAG);
    nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  assert_int_equal(hm_dm_open(pt, key, nonce, ct, 10), HM_ERR_DECODE);
}

static void test_dm_peer_key_check_binding(void **state) {
  (void)state;
  hm_identity a, b;
  ident(&a, 0x01);
  ident(&b, 0x21);
  assert_int_equal(hm_dm_peer_key_check(b.did, b.x_pk), HM_OK);
  assert_int_equal(hm_dm_peer_key_check(b.did, a.x_pk), HM_ERR_WEAK_KEY); /* swapped key (W5) */
  assert_int_equal(hm_dm_peer_key_check("did:key:zzz", b.x_pk), HM_ERR_DID);
  hm_identity_clear(&a);
  hm_identity_clear(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dm_key_known_answer),
      cmocka_unit_test(test_dm_key_weak_peer),
      cmocka_unit_test(test_dm_seal_known_answer_and_tamper),
      cmocka_unit_test(test_dm_peer_key_check_binding),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
