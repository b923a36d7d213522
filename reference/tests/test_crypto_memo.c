/* test_crypto_memo.c - the Ed25519 verification memo (hm_ed25519_memo_*): hits are one-shot,
 * only successes on a producer thread are stored, any changed input misses, the table is
 * bounded, and a disabled memo has no effect. The counters of hm_ed25519_memo_stats are the
 * observable: a hit returns HM_OK without verifying. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "harmony/crypto.h"
#include "harmony/error.h"

typedef struct {
  uint8_t seed[32], pk[32], sig[64];
  uint8_t msg[40];
} fixture;

static void make(fixture *f, uint8_t tag) {
  memset(f, 0, sizeof *f);
  memset(f->seed, tag, 32);
  for (size_t i = 0; i < sizeof f->msg; i++) f->msg[i] = (uint8_t)(tag + i);
  assert_int_equal(hm_ed25519_seed_keypair(f->pk, NULL, f->seed), HM_OK);
  assert_int_equal(hm_ed25519_sign(f->sig, f->msg, sizeof f->msg, f->seed), HM_OK);
}

static uint64_t hits(void) {
  uint64_t h;
  hm_ed25519_memo_stats(&h, NULL);
  return h;
}

static uint64_t stored(void) {
  uint64_t s;
  hm_ed25519_memo_stats(NULL, &s);
  return s;
}

static int teardown(void **state) {
  (void)state;
  hm_ed25519_memo_producer(0);
  assert_int_equal(hm_ed25519_memo_enable(0), HM_OK);
  return 0;
}

static void test_ed25519_memo_hit_one_shot(void **state) {
  (void)state;
  fixture f;
  make(&f, 1);
  assert_int_equal(hm_ed25519_memo_enable(64), HM_OK);
  hm_ed25519_memo_producer(1);
  uint64_t s0 = stored(), h0 = hits();
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_STRICT), HM_OK);
  assert_int_equal(stored(), s0 + 1);
  assert_int_equal(hits(), h0);
  hm_ed25519_memo_producer(0);
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_STRICT), HM_OK);
  assert_int_equal(hits(), h0 + 1); /* served from the memo */
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_STRICT), HM_OK);
  assert_int_equal(hits(), h0 + 1); /* one-shot: the second lookup misses (and verifies) */
  assert_int_equal(stored(), s0 + 1); /* not a producer: nothing stored */
}

static void test_ed25519_memo_failure_not_stored(void **state) {
  (void)state;
  fixture f;
  make(&f, 2);
  assert_int_equal(hm_ed25519_memo_enable(64), HM_OK);
  hm_ed25519_memo_producer(1);
  uint64_t s0 = stored(), h0 = hits();
  f.sig[5] ^= 1;
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_STRICT), HM_ERR_BADSIG);
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_ZIP215), HM_ERR_BADSIG);
  assert_int_equal(stored(), s0);
  hm_ed25519_memo_producer(0);
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_STRICT), HM_ERR_BADSIG);
  assert_int_equal(hits(), h0);
}

static void test_ed25519_memo_changed_input_misses(void **state) {
  (void)state;
  fixture f, g;
  make(&f, 3);
  make(&g, 4);
  assert_int_equal(hm_ed25519_memo_enable(4096), HM_OK);
  hm_ed25519_memo_producer(1);
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_STRICT), HM_OK);
  hm_ed25519_memo_producer(0);
  uint64_t h0 = hits();
  uint8_t m2[sizeof f.msg], s2[64], p2[32];
  memcpy(m2, f.msg, sizeof m2);
  m2[0] ^= 1;
  assert_int_equal(hm_ed25519_verify(f.sig, m2, sizeof m2, f.pk, HM_ED25519_STRICT), HM_ERR_BADSIG);
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg - 1, f.pk, HM_ED25519_STRICT), HM_ERR_BADSIG);
  memcpy(s2, f.sig, 64);
  s2[63] ^= 0x10;
  assert_int_not_equal(hm_ed25519_verify(s2, f.msg, sizeof f.msg, f.pk, HM_ED25519_STRICT), HM_OK);
  memcpy(p2, g.pk, 32);
  assert_int_not_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, p2, HM_ED25519_STRICT), HM_OK);
  /* the same inputs under the other mode: a miss, verified again (valid in both) */
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_ZIP215), HM_OK);
  assert_int_equal(hits(), h0);
  /* the stored entry is still there for the exact inputs */
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_STRICT), HM_OK);
  assert_int_equal(hits(), h0 + 1);
}

static void test_ed25519_memo_bounded(void **state) {
  (void)state;
  enum { N = 40 };
  static fixture fs[N];
  for (int i = 0; i < N; i++) make(&fs[i], (uint8_t)(10 + i));
  assert_int_equal(hm_ed25519_memo_enable(4), HM_OK); /* 4 slots for 40 successes */
  hm_ed25519_memo_producer(1);
  for (int i = 0; i < N; i++)
    assert_int_equal(hm_ed25519_verify(fs[i].sig, fs[i].msg, sizeof fs[i].msg, fs[i].pk, HM_ED25519_STRICT), HM_OK);
  hm_ed25519_memo_producer(0);
  uint64_t h0 = hits();
  for (int i = 0; i < N; i++)
    assert_int_equal(hm_ed25519_verify(fs[i].sig, fs[i].msg, sizeof fs[i].msg, fs[i].pk, HM_ED25519_STRICT), HM_OK);
  assert_true(hits() - h0 <= 4); /* at most one entry per slot survived */
  assert_true(hits() - h0 >= 1); /* the last one stored is always there */
}

static void test_ed25519_memo_disabled_no_effect(void **state) {
  (void)state;
  fixture f;
  make(&f, 5);
  assert_int_equal(hm_ed25519_memo_enable(64), HM_OK);
  hm_ed25519_memo_producer(1);
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_STRICT), HM_OK);
  assert_int_equal(hm_ed25519_memo_enable(0), HM_OK); /* wipes the table */
  uint64_t h0 = hits(), s0 = stored();
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_STRICT), HM_OK);
  assert_int_equal(hits(), h0);
  assert_int_equal(stored(), s0); /* producer, but disabled: nothing stored */
  /* re-enabled: the old entry is gone too */
  assert_int_equal(hm_ed25519_memo_enable(64), HM_OK);
  hm_ed25519_memo_producer(0);
  assert_int_equal(hm_ed25519_verify(f.sig, f.msg, sizeof f.msg, f.pk, HM_ED25519_STRICT), HM_OK);
  assert_int_equal(hits(), h0);
  assert_int_equal(hm_ed25519_memo_enable((size_t)1 << 25), HM_ERR_INVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_ed25519_memo_hit_one_shot, teardown),
      cmocka_unit_test_teardown(test_ed25519_memo_failure_not_stored, teardown),
      cmocka_unit_test_teardown(test_ed25519_memo_changed_input_misses, teardown),
      cmocka_unit_test_teardown(test_ed25519_memo_bounded, teardown),
      cmocka_unit_test_teardown(test_ed25519_memo_disabled_no_effect, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
