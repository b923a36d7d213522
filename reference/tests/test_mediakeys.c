/* test_mediakeys.c - media/voice/export/sync/user-data/OAuth keys and formats. */
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
#include "harmony/mediakeys.h"
#include "harmony/mls.h"

static const char *GROUP = "c1:c1:channel:0123456789abcdef";

static void check_key(int rc, const uint8_t got[32], const char *hex) {
  uint8_t want[32];
  assert_int_equal(rc, HM_OK);
  unhex(want, 32, hex);
  assert_memory_equal(got, want, 32);
}

static void test_mediakeys_known_answers(void **state) {
  (void)state;
  uint8_t k[32], es[32], mk[32], seed[32];
  memset(es, 0xaa, 32);
  for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(i + 1);
  hm_identity ia;
  ident(&ia, 0x01);
  assert_memory_equal(ia.seed32, seed, 32);
  hm_identity_clear(&ia);
  check_key(hm_media_fallback_key(k, GROUP), k,
            "076545420627fb8152e386c2c1842ae40775855e8c1f165f055f4e7105f57bf6");
  check_key(hm_media_channel_key(k, NULL, 7, GROUP), k,
            "076545420627fb8152e386c2c1842ae40775855e8c1f165f055f4e7105f57bf6");
  check_key(hm_media_channel_key(k, es, 12, GROUP), k,
            "50cb54713d086ad467c36d4527751c436df7f0a49b00279841ee17ff995f557f");
  assert_int_equal(hm_media_channel_key(mk, es, 0, GROUP), HM_OK);
  check_key(hm_voice_frame_key(k, mk), k,
            "606ccd2b8c03fedc4877bd19785277168bd42bc35a542591e4e8baafaeb6cbf9");
  check_key(hm_export_key(k, seed), k,
            "4964ffc97514651bf3365fcea7a98bb014352e6bf4ffb1e89625f8fd69cd18d6");
  check_key(hm_identity_sync_key(k, seed), k,
            "e6c5f9feb6272d8107ac699a06a476e98075612b78a972cdebf6e1caf5faee9b");
  check_key(hm_user_data_key(k, seed), k,
            "32060f652506a62b769011bc86d041c9eaf6e7b3168250d4458918c834c142d9");
  check_key(hm_oauth_recovery_seed(k, "google", "tok123"), k,
            "12e1b56b4dc3850bc33fe3053b76d01ecce0bf7f85bf91752bb54f0e498cd52b");
  check_key(hm_oauth_recovery_hash(k, "google", "12345"), k,
            "cca9971526a7dac56fad22c9f8d3faff541a958cd86e4cc34a3cfcf2a9131e46");
  /* the OAuth seed is an Ed25519 seed: it makes a normal identity */
  hm_identity id;
  assert_int_equal(hm_oauth_recovery_seed(k, "google", "tok123"), HM_OK);
  assert_int_equal(hm_identity_from_seed32(&id, k), HM_OK);
  assert_memory_equal(id.did, "did:key:z6Mk", 12);
  hm_identity_clear(&id);
}

static void test_media_file_seal_roundtrip_tamper(void **state) {
  (void)state;
  uint8_t key[32], nonce[24], blob[5 + 40], back[5];
  hm_random_bytes(key, 32);
  hm_random_bytes(nonce, 24);
  assert_int_equal(hm_media_file_seal(blob, key, nonce, (const uint8_t *)"file!", 5), HM_OK);
  assert_memory_equal(blob, nonce, 24);
  assert_int_equal(hm_media_file_open(back, key, blob, sizeof blob), HM_OK);
  assert_memory_equal(back, "file!", 5);
  for (size_t bit = 0; bit < sizeof blob * 8; bit++) {
    blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(hm_media_file_open(back, key, blob, sizeof blob), HM_ERR_AUTH_TAG);
    blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  assert_int_equal(hm_media_file_open(back, key, blob, 39), HM_ERR_DECODE);
  uint8_t th[1100], big[2000];
  size_t tl = 0;
  memset(big, 'x', sizeof big);
  assert_int_equal(hm_media_thumbnail_plaintext(th, sizeof th, &tl, big, sizeof big), HM_OK);
  assert_int_equal(tl, 9 + 1024);
  assert_memory_equal(th, "HMYTHUMB:", 9);
  assert_int_equal(hm_media_thumbnail_plaintext(th, sizeof th, &tl, big, 3), HM_OK);
  assert_int_equal(tl, 12);
  assert_int_equal(hm_media_thumbnail_plaintext(th, 100, &tl, big, sizeof big), HM_ERR_BUFSZ);
}

static void test_voice_frame_known_answer(void **state) {
  (void)state;
  uint8_t es[32], mk[32], vk[32], iv[12], out[64], want[64], back[64];
  memset(es, 0xaa, 32);
  for (int i = 0; i < 12; i++) iv[i] = (uint8_t)i;
  assert_int_equal(hm_mls_epoch_key(mk, es, HM_MLS_MEDIA, 0), HM_OK);
  assert_int_equal(hm_voice_frame_key(vk, mk), HM_OK);
  uint8_t frame[17] = {0x90};
  memcpy(frame + 1, "opus-frame-bytes", 16);
  size_t ol = 0, bl = 0;
  assert_int_equal(hm_voice_frame_encrypt(out, sizeof out, &ol, vk, iv, frame, 17,
                                          HM_VOICE_HEADER_AUDIO),
                   HM_OK);
  size_t wl = unhex(want, sizeof want,
                    "90000102030405060708090a0b42d6d2d5744eb6b2508a4004aec01b47b73eaa1028eea72169d57dea14deed0a");
  assert_int_equal(ol, wl);
  assert_memory_equal(out, want, wl);
  assert_int_equal(hm_voice_frame_decrypt(back, sizeof back, &bl, vk, out, ol, HM_VOICE_HEADER_AUDIO), HM_OK);
  assert_int_equal(bl, 17);
  assert_memory_equal(back, frame, 17);
  /* tamper anywhere after the (unauthenticated) header byte */
  for (size_t bit = 8; bit < ol * 8; bit++) {
    out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(hm_voice_frame_decrypt(back, sizeof back, &bl, vk, out, ol, 1), HM_ERR_AUTH_TAG);
    out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  /* the header byte is not authenticated (upstream): a change passes */
  out[0] ^= 1;
  assert_int_equal(hm_voice_frame_decrypt(back, sizeof back, &bl, vk, out, ol, 1), HM_OK);
  assert_int_equal(back[0], 0x91);
  /* pass-through rules: <= h when encrypting, <= h + 12 when decrypting */
  assert_int_equal(hm_voice_frame_encrypt(out, sizeof out, &ol, vk, iv, frame, 1, 1), HM_OK);
  assert_int_equal(ol, 1);
  assert_int_equal(hm_voice_frame_decrypt(back, sizeof back, &bl, vk, frame, 13, 1), HM_OK);
  assert_int_equal(bl, 13);
  assert_memory_equal(back, frame, 13);
  assert_int_equal(hm_voice_frame_decrypt(back, sizeof back, &bl, vk, frame, 14, 1), HM_ERR_DECODE);
  /* video: 10 clear bytes */
  uint8_t vf[40];
  memset(vf, 0x33, sizeof vf);
  assert_int_equal(hm_voice_frame_encrypt(out, sizeof out, &ol, vk, iv, vf, 30, HM_VOICE_HEADER_VIDEO), HM_OK);
  assert_int_equal(ol, 58);
  assert_memory_equal(out, vf, 10);
  assert_int_equal(hm_voice_frame_decrypt(back, sizeof back, &bl, vk, out, ol, HM_VOICE_HEADER_VIDEO), HM_OK);
  assert_int_equal(bl, 30);
}

static void test_mediakeys_alloc_failure(void **state) {
  (void)state;
  hm_test_alloc_install();
  uint8_t k[32];
  long n;
  for (n = 1;; n++) {
    hm_test_alloc_fail_at(n);
    int rc = hm_oauth_recovery_seed(k, "google", "tok123");
    assert_int_equal(hm_test_alloc_outstanding(), 0);
    if (rc == HM_OK) break;
    assert_int_equal(rc, HM_ERR_NOMEM);
  }
  assert_true(n >= 3);
  for (n = 1;; n++) {
    hm_test_alloc_fail_at(n);
    int rc = hm_media_fallback_key(k, GROUP);
    assert_int_equal(hm_test_alloc_outstanding(), 0);
    if (rc == HM_OK) break;
    assert_int_equal(rc, HM_ERR_NOMEM);
  }
  assert_true(n >= 2);
  hm_test_alloc_fail_at(0);
  hm_set_allocator(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mediakeys_known_answers),
      cmocka_unit_test(test_media_file_seal_roundtrip_tamper),
      cmocka_unit_test(test_voice_frame_known_answer),
      cmocka_unit_test(test_mediakeys_alloc_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
