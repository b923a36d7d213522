/* test_client_interop.c - the client core against frames an unmodified upstream TypeScript
 * client produced (shared/upstream/wire-captures/30-real-client.jsonl): its key package
 * passes our hardened check, its Welcome opens (the Welcome key needs only the joiner's
 * public key, W1), the group state it carries lets our client decrypt its channel message and
 * edit, and its add commit passes our signature and key-package checks. No private key of
 * the capture is known, so its DM cannot be checked here. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/client.h"
#include "harmony/codec.h"
#include "harmony/json.h"
#include "harmony/mls.h"

#define MAXL 64
static hm_json *lines[MAXL];
static size_t nlines;

static int load(void **st) {
  (void)st;
  const char *sh = getenv("HARMONY_SHARED");
  char path[1024];
  snprintf(path, sizeof path, "%s/upstream/wire-captures/30-real-client.jsonl", sh ? sh : "../../shared");
  FILE *f = fopen(path, "r");
  if (!f) return 0; /* tests skip themselves */
  char buf[65536];
  while (nlines < MAXL && fgets(buf, sizeof buf, f)) {
    hm_json *j = NULL;
    if (hm_json_parse(&j, buf, strcspn(buf, "\n"), 0, NULL) == HM_OK) lines[nlines++] = j;
  }
  fclose(f);
  return 0;
}

static int unload(void **st) {
  (void)st;
  for (size_t i = 0; i < nlines; i++) hm_json_free(lines[i]);
  return 0;
}

/* The n-th frame (0-based) with this conn, dir and type. */
static const hm_json *frame(const char *conn, const char *dir, const char *type, int n) {
  for (size_t i = 0; i < nlines; i++) {
    const hm_json *l = lines[i], *f = hm_json_object_getc(l, "frame");
    if (hm_json_string_is(hm_json_object_getc(l, "conn"), conn) && hm_json_string_is(hm_json_object_getc(l, "dir"), dir) &&
        hm_json_string_is(hm_json_object_getc(f, "type"), type) && n-- == 0)
      return f;
  }
  return NULL;
}

static int64_t now0(void *ctx) {
  (void)ctx;
  return 1795337312175LL;
}

static hm_client_e2e got_e2e;
static char got_text[256], got_type[64];
static void on_ev(void *ctx, hm_client *c, const hm_client_event *ev) {
  (void)ctx;
  (void)c;
  snprintf(got_type, sizeof got_type, "%s", ev->type);
  snprintf(got_text, sizeof got_text, "%s", ev->text ? ev->text : "");
  got_e2e = ev->e2e;
}

static hm_client *new_client(void) {
  hm_identity id;
  uint8_t seed[32];
  memset(seed, 77, sizeof seed);
  assert_int_equal(hm_identity_from_seed32(&id, seed), HM_OK);
  hm_client_env env = {now0, NULL, NULL};
  hm_client *c = NULL;
  assert_int_equal(hm_client_new(&c, &env, &id), HM_OK);
  hm_identity_clear(&id);
  hm_client_set_default_handler(c, on_ev, NULL);
  return c;
}

static void feed(hm_client *c, const hm_json *f) {
  char *s = NULL;
  size_t n = 0;
  assert_int_equal(hm_json_stringify(&s, &n, f), HM_OK);
  assert_int_equal(hm_client_on_frame(c, s, n), HM_OK);
  hm_free(s);
}

static int b64_bytes(const hm_json *codec, uint8_t *out, size_t cap, size_t *n) {
  size_t dl = 0;
  const char *d = hm_json_string(hm_json_object_getc(codec, "data"), &dl);
  return d ? hm_base64_decode(out, cap, n, d, dl, 0) : HM_ERR_STRUCTURE;
}

static void test_client_interop_upstream_keypackage_welcome_message(void **st) {
  (void)st;
  if (nlines == 0) skip();
  /* Bob's key package passes R-CRY-MLS-4 for his DID. */
  const hm_json *up = frame("bob", "c2s", "mls.keypackage.upload", 0);
  const hm_json *wel = frame("bob", "s2c", "mls.welcome", 0);
  assert_non_null(up);
  assert_non_null(wel);
  const char *bob = hm_json_string(hm_json_object_getc(hm_json_object_getc(wel, "payload"), "recipientDID"), NULL);
  char *kp = NULL;
  size_t kpl = 0;
  assert_int_equal(hm_json_stringify(&kp, &kpl, hm_json_object_getc(hm_json_object_getc(up, "payload"), "keyPackage")), HM_OK);
  hm_mls_keypackage_info info;
  assert_int_equal(hm_mls_keypackage_verify(&info, kp, kpl, HM_MLS_HARDENED, bob), HM_OK);
  hm_free(kp);
  /* Open the Welcome with bob's public initKey (W1) and take the group state. */
  const hm_json *wp = hm_json_object_getc(wel, "payload");
  uint8_t enc[4096], state[4096];
  size_t el = 0;
  assert_int_equal(b64_bytes(hm_json_object_getc(hm_json_object_getc(wp, "welcome"), "encryptedGroupState"), enc, sizeof enc, &el), HM_OK);
  assert_true(el > HM_MLS_OVERHEAD);
  assert_int_equal(hm_mls_welcome_open(state, info.init_key, enc, el), HM_OK);
  hm_json *st_json = NULL;
  assert_int_equal(hm_json_parse(&st_json, (const char *)state, el - HM_MLS_OVERHEAD, 0, NULL), HM_OK);
  const char *comm = hm_json_string(hm_json_object_getc(wp, "communityId"), NULL);
  const char *ch = hm_json_string(hm_json_object_getc(wp, "channelId"), NULL);
  char gid[600];
  snprintf(gid, sizeof gid, "%s:%s", comm, ch);
  assert_true(hm_json_string_is(hm_json_object_getc(st_json, "groupId"), gid));
  /* Import that state into our client (byte arrays are accepted as they are). */
  hm_json *g = hm_json_new_object(), *arr = hm_json_new_array();
  assert_int_equal(hm_json_object_setc(g, "communityId", hm_json_new_cstr(comm)), HM_OK);
  assert_int_equal(hm_json_object_setc(g, "channelId", hm_json_new_cstr(ch)), HM_OK);
  assert_int_equal(hm_json_object_setc(g, "epoch", hm_json_clone(hm_json_object_getc(st_json, "epoch"))), HM_OK);
  assert_int_equal(hm_json_object_setc(g, "myLeafIndex", hm_json_clone(hm_json_object_getc(st_json, "myLeafIndex"))), HM_OK);
  assert_int_equal(hm_json_object_setc(g, "epochSecret", hm_json_clone(hm_json_object_getc(st_json, "epochSecret"))), HM_OK);
  assert_int_equal(hm_json_object_setc(g, "members", hm_json_clone(hm_json_object_getc(st_json, "members"))), HM_OK);
  assert_int_equal(hm_json_array_append(arr, g), HM_OK);
  char *imp = NULL;
  size_t il = 0;
  assert_int_equal(hm_json_stringify(&imp, &il, arr), HM_OK);
  hm_json_free(arr);
  hm_client *c = new_client();
  assert_int_equal(hm_client_mls_import(c, imp, il), HM_OK);
  hm_free_secret(imp, il + 1);
  hm_json_free(st_json);
  /* The upstream client's channel message decrypts to what that client displayed. */
  const hm_json *msg = frame("bob", "s2c", "channel.message", 0);
  assert_non_null(msg);
  feed(c, msg);
  assert_string_equal(got_type, "channel.message");
  assert_int_equal(got_e2e, HM_CLIENT_E2E_DECRYPTED);
  assert_string_equal(got_text, "hello from the real client");
  /* Its edit too. */
  const hm_json *upd = frame("bob", "s2c", "channel.message.updated", 0);
  assert_non_null(upd);
  feed(c, upd);
  assert_string_equal(got_type, "channel.message.updated");
  assert_int_equal(got_e2e, HM_CLIENT_E2E_DECRYPTED);
  assert_true(strlen(got_text) > 0);
  hm_client_free(c);
}

static void test_client_interop_upstream_commit_accepted(void **st) {
  (void)st;
  if (nlines == 0) skip();
  const hm_json *cm = frame("bob", "s2c", "mls.commit", 0);
  const hm_json *wel = frame("bob", "s2c", "mls.welcome", 0);
  assert_non_null(cm);
  const hm_json *cp = hm_json_object_getc(cm, "payload");
  const char *comm = hm_json_string(hm_json_object_getc(cp, "communityId"), NULL);
  const char *ch = hm_json_string(hm_json_object_getc(cp, "channelId"), NULL);
  const char *alice = hm_json_string(hm_json_object_getc(cm, "sender"), NULL);
  (void)wel;
  /* Alice's keys come from her own key package in the capture. */
  const hm_json *aup = frame("alice", "c2s", "mls.keypackage.upload", 0);
  const hm_json *leaf = hm_json_object_getc(hm_json_object_getc(hm_json_object_getc(aup, "payload"), "keyPackage"), "leafNode");
  /* The group as alice had it before the add: epoch 0, alice alone (the secret does not matter
   * for accepting the commit: signature and key package are what is checked). */
  char imp[2048];
  char enc[64], sig[64];
  snprintf(enc, sizeof enc, "%s", hm_json_string(hm_json_object_getc(hm_json_object_getc(leaf, "encryptionKey"), "data"), NULL));
  snprintf(sig, sizeof sig, "%s", hm_json_string(hm_json_object_getc(hm_json_object_getc(leaf, "signatureKey"), "data"), NULL));
  snprintf(imp, sizeof imp,
           "[{\"communityId\":\"%s\",\"channelId\":\"%s\",\"epoch\":0,\"myLeafIndex\":0,\"creator\":false,"
           "\"epochSecret\":{\"__type\":\"Uint8Array\",\"data\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"},"
           "\"members\":[{\"leafIndex\":0,\"did\":\"%s\",\"encryptionKey\":{\"__type\":\"Uint8Array\",\"data\":\"%s\"},"
           "\"signatureKey\":{\"__type\":\"Uint8Array\",\"data\":\"%s\"}}]}]",
           comm, ch, alice, enc, sig);
  hm_client *c = new_client();
  assert_int_equal(hm_client_mls_import(c, imp, strlen(imp)), HM_OK);
  feed(c, cm);
  uint64_t ep = 0;
  size_t n = 0;
  assert_int_equal(hm_client_mls_info(c, comm, ch, &ep, &n), HM_OK);
  assert_int_equal(ep, 1);
  assert_int_equal(n, 2);
  hm_client_free(c);
  /* The same commit claimed by another sender is refused (not a member / wrong key). */
  c = new_client();
  assert_int_equal(hm_client_mls_import(c, imp, strlen(imp)), HM_OK);
  hm_json *forged = hm_json_clone(cm);
  assert_int_equal(hm_json_object_setc(forged, "sender", hm_json_new_cstr("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")), HM_OK);
  feed(c, forged);
  hm_json_free(forged);
  assert_int_equal(hm_client_mls_info(c, comm, ch, &ep, &n), HM_OK);
  assert_int_equal(ep, 0);
  hm_client_free(c);
}

static void test_client_interop_upstream_keyexchange_bound_to_did(void **st) {
  (void)st;
  if (nlines == 0) skip();
  /* The X25519 key an upstream client announces is the one its did:key implies (W5), so our
   * client accepts it; the same key claimed by another DID is reported. */
  const hm_json *kx = frame("alice", "s2c", "dm.keyexchange", 0);
  assert_non_null(kx);
  hm_client *c = new_client();
  feed(c, kx);
  assert_string_equal(got_type, "dm.keyexchange");
  assert_int_equal(got_e2e, HM_CLIENT_E2E_NONE);
  hm_json *other = hm_json_clone(kx);
  assert_int_equal(hm_json_object_setc(other, "sender", hm_json_new_cstr(hm_client_did(c))), HM_OK);
  feed(c, other);
  hm_json_free(other);
  assert_int_equal(got_e2e, HM_CLIENT_E2E_KEY_MISMATCH);
  hm_client_free(c);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_interop_upstream_keypackage_welcome_message),
      cmocka_unit_test(test_client_interop_upstream_commit_accepted),
      cmocka_unit_test(test_client_interop_upstream_keyexchange_bound_to_did),
  };
  return cmocka_run_group_tests(tests, load, unload);
}
