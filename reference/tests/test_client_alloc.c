/* test_client_alloc.c - allocation failures in the client core: every operation is run with
 * the 1st, 2nd, ... allocation failing until it runs clean; each run must neither crash nor
 * leak (after hm_client_free every block is back), and a failing sender returns
 * HM_ERR_NOMEM without queueing a partial frame. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/client.h"
#include "harmony/did.h"
#include "hm_test_alloc.h"

static int64_t now0(void *ctx) {
  (void)ctx;
  return 1795000000000LL;
}

static hm_identity ida, idb;

typedef int (*op_fn)(hm_client *c);

static int op_open(hm_client *c) { return hm_client_on_open(c); }
static int op_channel_send(hm_client *c) { return hm_client_channel_send(c, "C", "C:channel:1", "hello", NULL, 0); }
static int op_dm_send(hm_client *c) { return hm_client_dm_send(c, idb.did, "secret", NULL, 0); }
static int op_keypackage(hm_client *c) { return hm_client_mls_upload_keypackage(c); }
static int op_group(hm_client *c) { return hm_client_mls_create_group(c, "C", "C:channel:1"); }
static int op_update(hm_client *c) {
  int rc = hm_client_mls_create_group(c, "C", "C:channel:1");
  return rc == HM_OK ? hm_client_mls_update(c, "C", "C:channel:1") : rc;
}
/* Connected: auth-ok (key package upload), the first DM (announcement + hold), the barrier's
 * answer and the release. */
static int op_dm_ready(hm_client *c) {
  char buf[600];
  int rc = hm_client_on_open(c);
  static const char *ok =
      "{\"id\":\"s\",\"type\":\"sync.response\",\"sender\":\"server\",\"payload\":{\"authenticated\":true,\"did\":\"x\",\"sessionToken\":\"t\"}}";
  int r = hm_client_on_frame(c, ok, strlen(ok));
  if (rc == HM_OK) rc = r;
  r = hm_client_dm_send(c, idb.did, "secret", NULL, 0);
  if (rc == HM_OK) rc = r;
  hm_client_set_dm_settle_ms(c, 0);
  snprintf(buf, sizeof buf,
           "{\"id\":\"k\",\"type\":\"mls.keypackage.response\",\"sender\":\"server\",\"payload\":{\"keyPackages\":{\"%s\":[]}}}",
           idb.did);
  r = hm_client_on_frame(c, buf, strlen(buf));
  if (rc == HM_OK) rc = r;
  r = hm_client_tick(c);
  if (rc == HM_OK) rc = r;
  return rc;
}
static int op_frames(hm_client *c) {
  static const char *frames[] = {
      "{\"id\":\"s\",\"type\":\"sync.response\",\"sender\":\"server\",\"payload\":{\"authenticated\":true,\"did\":\"x\",\"sessionToken\":\"t\"}}",
      "{\"id\":\"u\",\"type\":\"community.updated\",\"sender\":\"server\",\"payload\":{\"communityId\":\"C\",\"channels\":[{\"id\":\"C:channel:1\"}]}}",
      "{\"id\":\"m\",\"type\":\"channel.message\",\"sender\":\"did:key:x\",\"payload\":{\"communityId\":\"C\",\"channelId\":\"C:channel:1\",\"content\":{\"ciphertext\":{\"__type\":\"Uint8Array\",\"data\":\"aGk=\"},\"epoch\":3,\"senderIndex\":0}}}",
      "{\"id\":\"r\",\"type\":\"sync.response\",\"sender\":\"server\",\"payload\":{\"communityId\":\"C\",\"channelId\":\"C:channel:1\",\"messages\":[{\"id\":\"m2\",\"sender\":\"d\",\"payload\":{\"communityId\":\"C\",\"channelId\":\"C:channel:1\",\"content\":\"x\"}}],\"hasMore\":true,\"latestClock\":{\"counter\":1,\"seq\":1}}}",
  };
  int rc = HM_OK;
  for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
    int r = hm_client_on_frame(c, frames[i], strlen(frames[i]));
    if (r != HM_OK) rc = r;
  }
  return rc;
}

static void sweep(op_fn op, int check_queue) {
  hm_test_alloc_install();
  long base = hm_test_alloc_outstanding();
  for (long n = 1; n < 5000; n++) {
    hm_client_env env = {now0, NULL, NULL};
    hm_client *c = NULL;
    assert_int_equal(hm_client_new(&c, &env, &ida), HM_OK);
    size_t q0 = hm_client_queued(c), h0 = hm_client_dm_held(c);
    long before = hm_test_alloc_count();
    hm_test_alloc_fail_at(n);
    int rc = op(c);
    long used = hm_test_alloc_count() - before;
    hm_test_alloc_fail_at(0);
    if (rc != HM_OK) {
      assert_int_equal(rc, HM_ERR_NOMEM);
      if (check_queue) {
        assert_int_equal(hm_client_queued(c), q0);
        assert_int_equal(hm_client_dm_held(c), h0);
      }
    }
    hm_client_free(c);
    assert_int_equal(hm_test_alloc_outstanding(), base);
    if (rc == HM_OK && used < n) return; /* ran clean: every failure point was covered */
  }
  fail_msg("allocation sweep did not finish");
}

static void test_client_alloc_open(void **st) { (void)st; sweep(op_open, 1); }
static void test_client_alloc_channel_send(void **st) { (void)st; sweep(op_channel_send, 1); }
static void test_client_alloc_dm_send(void **st) { (void)st; sweep(op_dm_send, 1); }
static void test_client_alloc_keypackage_upload(void **st) { (void)st; sweep(op_keypackage, 1); }
static void test_client_alloc_group_create(void **st) { (void)st; sweep(op_group, 0); }
static void test_client_alloc_inbound_frames(void **st) { (void)st; sweep(op_frames, 0); }
static void test_client_alloc_update(void **st) { (void)st; sweep(op_update, 0); }
static void test_client_alloc_dm_ready(void **st) { (void)st; sweep(op_dm_ready, 0); }

int main(void) {
  if (sodium_init() < 0) return 1;
  uint8_t s1[32], s2[32];
  memset(s1, 21, sizeof s1);
  memset(s2, 22, sizeof s2);
  if (hm_identity_from_seed32(&ida, s1) != HM_OK || hm_identity_from_seed32(&idb, s2) != HM_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_alloc_open),
      cmocka_unit_test(test_client_alloc_channel_send),
      cmocka_unit_test(test_client_alloc_dm_send),
      cmocka_unit_test(test_client_alloc_keypackage_upload),
      cmocka_unit_test(test_client_alloc_group_create),
      cmocka_unit_test(test_client_alloc_inbound_frames),
      cmocka_unit_test(test_client_alloc_update),
      cmocka_unit_test(test_client_alloc_dm_ready),
  };
  int r = cmocka_run_group_tests(tests, NULL, NULL);
  hm_identity_clear(&ida);
  hm_identity_clear(&idb);
  return r;
}
