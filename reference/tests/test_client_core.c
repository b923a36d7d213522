/* test_client_core.c - the sans-I/O client core: auth frames, queue, backoff, resync, DMs
 * with a peer, simplified-MLS flows between two in-memory clients. */
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
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/json.h"
#include "harmony/vc.h"

static int64_t fake_now = 1795000000000LL;
static int64_t env_now(void *ctx) {
  (void)ctx;
  return fake_now;
}
static void env_rand(void *ctx, uint8_t *b, size_t n) {
  (void)ctx;
  randombytes_buf(b, n);
}

typedef struct {
  hm_identity id;
  hm_client *c;
  char last_type[64];
  char last_text[256];
  hm_client_e2e last_e2e;
  char msg_text[256]; /* last channel.message */
  hm_client_e2e msg_e2e;
  int events;
} peer;

static void on_ev(void *ctx, hm_client *c, const hm_client_event *ev) {
  (void)c;
  peer *p = ctx;
  p->events++;
  snprintf(p->last_type, sizeof p->last_type, "%s", ev->type);
  snprintf(p->last_text, sizeof p->last_text, "%s", ev->text ? ev->text : "");
  p->last_e2e = ev->e2e;
  if (!strcmp(ev->type, "channel.message")) {
    snprintf(p->msg_text, sizeof p->msg_text, "%s", ev->text ? ev->text : "");
    p->msg_e2e = ev->e2e;
  }
}

static void peer_init(peer *p, uint8_t seedbyte) {
  memset(p, 0, sizeof *p);
  uint8_t seed[32];
  memset(seed, seedbyte, sizeof seed);
  assert_int_equal(hm_identity_from_seed32(&p->id, seed), HM_OK);
  hm_client_env env = {env_now, env_rand, NULL};
  assert_int_equal(hm_client_new(&p->c, &env, &p->id), HM_OK);
  hm_client_set_default_handler(p->c, on_ev, p);
}

static void peer_clear(peer *p) {
  hm_client_free(p->c);
  hm_identity_clear(&p->id);
}

/* Pop the next outgoing frame, parsed (NULL when none). */
static hm_json *pop(hm_client *c) {
  const char *f;
  size_t n;
  if (!hm_client_next_out(c, &f, &n)) return NULL;
  hm_json *j = NULL;
  assert_int_equal(hm_json_parse(&j, f, n, 0, NULL), HM_OK);
  hm_client_pop_out(c);
  return j;
}

static const char *type_of(const hm_json *j) { return hm_json_string(hm_json_object_getc(j, "type"), NULL); }

static void feed(hm_client *c, const char *text) {
  assert_int_equal(hm_client_on_frame(c, text, strlen(text)), HM_OK);
}

static void feed_json(hm_client *c, const hm_json *j) {
  char *s = NULL;
  assert_int_equal(hm_json_stringify(&s, NULL, j), HM_OK);
  feed(c, s);
  hm_free(s);
}

/* Authenticate p: open, drain the auth frame, answer auth-ok with a token. */
static void login(peer *p) {
  assert_int_equal(hm_client_on_open(p->c), HM_OK);
  hm_json *a = pop(p->c);
  assert_non_null(a);
  hm_json_free(a);
  char buf[512];
  snprintf(buf, sizeof buf,
           "{\"id\":\"s1\",\"type\":\"sync.response\",\"timestamp\":\"x\",\"sender\":\"server\","
           "\"payload\":{\"authenticated\":true,\"did\":\"%s\",\"sessionToken\":\"tok-1\"}}",
           p->id.did);
  feed(p->c, buf);
  assert_int_equal(hm_client_get_state(p->c), HM_CLIENT_READY);
}

/* ---- authentication ---------------------------------------------------------------- */

static void test_client_open_sends_fresh_vp(void **st) {
  (void)st;
  peer p;
  peer_init(&p, 1);
  assert_int_equal(hm_client_on_open(p.c), HM_OK);
  hm_json *f = pop(p.c);
  assert_string_equal(type_of(f), "sync.state");
  const hm_json *vp = hm_json_object_getc(f, "payload");
  assert_true(hm_json_string_is(hm_json_object_getc(vp, "holder"), p.id.did));
  assert_int_equal(hm_json_array_size(hm_json_object_getc(vp, "verifiableCredential")), 1);
  /* The VP verifies under the hardened profile at the same time. */
  hm_verify_opts o;
  memset(&o, 0, sizeof o);
  o.profile = HM_PROFILE_HARDENED;
  o.now_ms = fake_now;
  assert_int_equal(hm_vp_verify(vp, &o, NULL), HM_OK);
  char *first = NULL;
  assert_int_equal(hm_json_stringify(&first, NULL, hm_json_object_getc(vp, "proof")), HM_OK);
  hm_json_free(f);
  assert_false(hm_client_auth_by_token(p.c));
  /* A second connection attempt builds a new VP (R-AUTH-24). */
  hm_client_on_close(p.c);
  fake_now += 1000;
  assert_int_equal(hm_client_on_open(p.c), HM_OK);
  f = pop(p.c);
  char *second = NULL;
  assert_int_equal(hm_json_stringify(&second, NULL, hm_json_object_getc(hm_json_object_getc(f, "payload"), "proof")), HM_OK);
  assert_string_not_equal(first, second);
  hm_free(first);
  hm_free(second);
  hm_json_free(f);
  peer_clear(&p);
}

static void test_client_open_token_first_then_vp_on_expired(void **st) {
  (void)st;
  peer p;
  peer_init(&p, 2);
  assert_int_equal(hm_client_set_token(p.c, "TOKEN123"), HM_OK);
  assert_int_equal(hm_client_on_open(p.c), HM_OK);
  hm_json *f = pop(p.c);
  assert_string_equal(type_of(f), "auth.token.verify");
  assert_true(hm_json_string_is(hm_json_object_getc(hm_json_object_getc(f, "payload"), "token"), "TOKEN123"));
  assert_true(hm_client_auth_by_token(p.c));
  hm_json_free(f);
  assert_null(pop(p.c));
  feed(p.c, "{\"id\":\"x\",\"type\":\"auth.token.expired\",\"timestamp\":\"t\",\"sender\":\"server\","
            "\"payload\":{\"message\":\"Token invalid or expired\"}}");
  assert_null(hm_client_token(p.c));
  f = pop(p.c);
  assert_string_equal(type_of(f), "sync.state");
  hm_json_free(f);
  assert_string_equal(p.last_type, "auth.token.expired");
  peer_clear(&p);
}

static void test_client_auth_ok_keeps_token_and_releases_queue(void **st) {
  (void)st;
  peer p;
  peer_init(&p, 3);
  /* Queued while disconnected: nothing goes out. */
  assert_int_equal(hm_client_send(p.c, "community.list", NULL, NULL, 0), HM_OK);
  assert_null(pop(p.c));
  assert_int_equal(hm_client_queued(p.c), 1);
  assert_int_equal(hm_client_on_open(p.c), HM_OK);
  hm_json *f = pop(p.c);
  assert_string_equal(type_of(f), "sync.state");
  hm_json_free(f);
  assert_null(pop(p.c)); /* held until auth-ok */
  /* A disconnect before auth keeps the user frame and drops nothing else of it. */
  hm_client_on_close(p.c);
  assert_int_equal(hm_client_attempts(p.c), 1);
  assert_int_equal(hm_client_queued(p.c), 1);
  login(&p);
  assert_string_equal(hm_client_token(p.c), "tok-1");
  assert_int_equal(hm_client_attempts(p.c), 0);
  f = pop(p.c);
  assert_string_equal(type_of(f), "community.list");
  assert_true(hm_json_string_is(hm_json_object_getc(f, "sender"), p.id.did));
  hm_json_free(f);
  assert_null(pop(p.c));
  peer_clear(&p);
}

/* ---- backoff --------------------------------------------------------------------------- */

static void test_client_backoff_bounds_and_growth(void **st) {
  (void)st;
  assert_int_equal(hm_client_backoff_ms(0, 250, 5000, 0), 125);
  assert_int_equal(hm_client_backoff_ms(0, 250, 5000, 125), 250);
  assert_int_equal(hm_client_backoff_ms(0, 250, 5000, 126), 125); /* wraps inside the range */
  assert_int_equal(hm_client_backoff_ms(3, 250, 5000, 0), 1000);
  assert_int_equal(hm_client_backoff_ms(3, 250, 5000, 0xffffffffu) <= 2000, 1);
  for (unsigned a = 0; a < 100; a++)
    for (uint32_t r = 0; r < 2000; r += 97) {
      uint64_t d = hm_client_backoff_ms(a, 250, 5000, r);
      uint64_t cap = 250ull << (a < 5 ? a : 5);
      if (cap > 5000) cap = 5000;
      assert_true(d >= cap / 2 && d <= cap);
    }
  /* Huge attempt counts do not overflow. */
  assert_true(hm_client_backoff_ms(1000000, 250, 5000, 7) <= 5000);
}

/* ---- resync -------------------------------------------------------------------------- */

static void test_client_resync_from_last_clock(void **st) {
  (void)st;
  peer p;
  peer_init(&p, 4);
  login(&p);
  feed(p.c, "{\"id\":\"u\",\"type\":\"community.updated\",\"timestamp\":\"t\",\"sender\":\"server\","
            "\"payload\":{\"communityId\":\"C\",\"channels\":[{\"id\":\"C:channel:1\"}]}}");
  assert_int_equal(hm_client_following(p.c), 1);
  hm_json *f = pop(p.c);
  assert_string_equal(type_of(f), "sync.request");
  assert_null(hm_json_object_getc(hm_json_object_getc(f, "payload"), "clock"));
  hm_json_free(f);
  feed(p.c, "{\"id\":\"r\",\"type\":\"sync.response\",\"timestamp\":\"t\",\"sender\":\"server\","
            "\"payload\":{\"communityId\":\"C\",\"channelId\":\"C:channel:1\",\"messages\":[{\"id\":\"m1\","
            "\"type\":\"channel.send\",\"timestamp\":\"t\",\"sender\":\"did:key:x\",\"payload\":{\"communityId\":\"C\","
            "\"channelId\":\"C:channel:1\",\"content\":\"hi\"}}],\"hasMore\":false,"
            "\"latestClock\":{\"counter\":5,\"authorDID\":\"\",\"seq\":7}}}");
  /* The live copy of the same message is not delivered twice. */
  int before = p.events;
  feed(p.c, "{\"id\":\"m1\",\"type\":\"channel.message\",\"timestamp\":\"t\",\"sender\":\"did:key:x\","
            "\"payload\":{\"communityId\":\"C\",\"channelId\":\"C:channel:1\",\"content\":\"hi\"}}");
  assert_int_equal(p.events, before);
  hm_client_on_close(p.c);
  login(&p);
  f = pop(p.c);
  assert_string_equal(type_of(f), "sync.request");
  const hm_json *clock = hm_json_object_getc(hm_json_object_getc(f, "payload"), "clock");
  assert_int_equal((int)hm_json_number(hm_json_object_getc(clock, "seq")), 7);
  hm_json_free(f);
  /* Persisted and restored in a new client (a restarted process): same position, and the
   * ids already shown stay suppressed. */
  char *txt = NULL;
  size_t tl = 0;
  assert_int_equal(hm_client_follows_export(p.c, &txt, &tl), HM_OK);
  peer q;
  peer_init(&q, 4);
  assert_int_equal(hm_client_follows_import(q.c, txt, tl), HM_OK);
  hm_free(txt);
  assert_int_equal(hm_client_following(q.c), 1);
  login(&q);
  f = pop(q.c);
  assert_string_equal(type_of(f), "sync.request");
  clock = hm_json_object_getc(hm_json_object_getc(f, "payload"), "clock");
  assert_int_equal((int)hm_json_number(hm_json_object_getc(clock, "seq")), 7);
  hm_json_free(f);
  before = q.events;
  feed(q.c, "{\"id\":\"m1\",\"type\":\"channel.message\",\"timestamp\":\"t\",\"sender\":\"did:key:x\","
            "\"payload\":{\"communityId\":\"C\",\"channelId\":\"C:channel:1\",\"content\":\"hi\"}}");
  assert_int_equal(q.events, before);
  assert_int_equal(hm_client_follows_import(q.c, "not json", 8), HM_ERR_STRUCTURE);
  peer_clear(&q);
  peer_clear(&p);
}

/* ---- DMs ----------------------------------------------------------------------------- */

static void test_client_dm_seal_open_with_peer(void **st) {
  (void)st;
  peer a, b;
  peer_init(&a, 5);
  peer_init(&b, 6);
  login(&a);
  login(&b);
  char id[64];
  assert_int_equal(hm_client_dm_send(a.c, b.id.did, "hello b", id, sizeof id), HM_OK);
  hm_json *f = pop(a.c);
  /* First the key announcement, bound to a's DID when relayed. */
  assert_string_equal(type_of(f), "dm.keyexchange");
  assert_int_equal(hm_json_array_size(hm_json_object_getc(hm_json_object_getc(f, "payload"), "senderPublicKey")), 32);
  feed_json(b.c, f);
  assert_int_equal(b.last_e2e, HM_CLIENT_E2E_NONE);
  hm_json_free(f);
  f = pop(a.c);
  assert_string_equal(type_of(f), "dm.send");
  const hm_json *content = hm_json_object_getc(hm_json_object_getc(f, "payload"), "content");
  assert_non_null(hm_json_object_getc(content, "nonce"));
  /* The server relays it as dm.message with sender = a. */
  assert_int_equal(hm_json_object_setc(f, "type", hm_json_new_cstr("dm.message")), HM_OK);
  feed_json(b.c, f);
  assert_string_equal(b.last_type, "dm.message");
  assert_string_equal(b.last_text, "hello b");
  assert_int_equal(b.last_e2e, HM_CLIENT_E2E_DECRYPTED);
  /* Claimed by another sender: does not decrypt. */
  assert_int_equal(hm_json_object_setc(f, "sender", hm_json_new_cstr(b.id.did)), HM_OK);
  feed_json(b.c, f);
  assert_int_equal(b.last_e2e, HM_CLIENT_E2E_FAILED);
  hm_json_free(f);
  /* A second DM is not preceded by another announcement. */
  assert_int_equal(hm_client_dm_send(a.c, b.id.did, "again", NULL, 0), HM_OK);
  f = pop(a.c);
  assert_string_equal(type_of(f), "dm.send");
  hm_json_free(f);
  /* Undecodable recipient: refused, nothing queued (no plaintext fallback). */
  size_t q = hm_client_queued(a.c);
  assert_int_equal(hm_client_dm_send(a.c, "did:key:zzz", "x", NULL, 0), HM_ERR_DID);
  assert_int_equal(hm_client_queued(a.c), q);
  peer_clear(&a);
  peer_clear(&b);
}

static void test_client_dm_keyexchange_mismatch_reported(void **st) {
  (void)st;
  peer a;
  peer_init(&a, 7);
  login(&a);
  char buf[1024];
  uint8_t other[32];
  memset(other, 9, sizeof other);
  char arr[200] = "";
  size_t l = 0;
  for (int i = 0; i < 32; i++) l += (size_t)snprintf(arr + l, sizeof arr - l, "%s%u", i ? "," : "", other[i]);
  snprintf(buf, sizeof buf,
           "{\"id\":\"k\",\"type\":\"dm.keyexchange\",\"timestamp\":\"t\",\"sender\":\"%s\","
           "\"payload\":{\"recipientDID\":\"%s\",\"senderPublicKey\":[%s]}}",
           a.id.did, a.id.did, arr);
  feed(a.c, buf);
  assert_int_equal(a.last_e2e, HM_CLIENT_E2E_KEY_MISMATCH);
  l = 0;
  for (int i = 0; i < 32; i++) l += (size_t)snprintf(arr + l, sizeof arr - l, "%s%u", i ? "," : "", a.id.x_pk[i]);
  snprintf(buf, sizeof buf,
           "{\"id\":\"k\",\"type\":\"dm.keyexchange\",\"timestamp\":\"t\",\"sender\":\"%s\","
           "\"payload\":{\"recipientDID\":\"%s\",\"senderPublicKey\":[%s]}}",
           a.id.did, a.id.did, arr);
  feed(a.c, buf);
  assert_int_equal(a.last_e2e, HM_CLIENT_E2E_NONE);
  peer_clear(&a);
}

/* ---- MLS ------------------------------------------------------------------------------- */

/* Relay every frame a queued of type t to b (as the server would), returning how many. */
static int relay(hm_client *from, hm_client *to, const char *t, const char *as) {
  int n = 0;
  hm_json *f;
  while ((f = pop(from))) {
    if (!strcmp(type_of(f), t)) {
      if (as) assert_int_equal(hm_json_object_setc(f, "type", hm_json_new_cstr(as)), HM_OK);
      feed_json(to, f);
      n++;
    }
    hm_json_free(f);
  }
  return n;
}

static void test_client_mls_add_welcome_commit_and_pending(void **st) {
  (void)st;
  peer a, b;
  peer_init(&a, 11);
  peer_init(&b, 12);
  login(&a);
  login(&b);
  /* b's key package, as the server would return it. */
  assert_int_equal(hm_client_mls_upload_keypackage(b.c), HM_OK);
  hm_json *up = pop(b.c);
  assert_string_equal(type_of(up), "mls.keypackage.upload");
  assert_int_equal(hm_client_mls_create_group(a.c, "C", "C:channel:1"), HM_OK);
  hm_json *setup = pop(a.c);
  assert_string_equal(type_of(setup), "mls.group.setup");
  hm_json_free(setup);
  assert_int_equal(hm_client_mls_add(a.c, "C", "C:channel:1", b.id.did), HM_OK);
  hm_json *fetch = pop(a.c);
  assert_string_equal(type_of(fetch), "mls.keypackage.fetch");
  hm_json_free(fetch);
  hm_json *resp = hm_json_new_object(), *pl = hm_json_new_object(), *kps = hm_json_new_object(), *list = hm_json_new_array();
  assert_int_equal(hm_json_array_append(list, hm_json_clone(hm_json_object_getc(hm_json_object_getc(up, "payload"), "keyPackage"))), HM_OK);
  assert_int_equal(hm_json_object_setc(kps, b.id.did, list), HM_OK);
  assert_int_equal(hm_json_object_setc(pl, "keyPackages", kps), HM_OK);
  assert_int_equal(hm_json_object_setc(resp, "type", hm_json_new_cstr("mls.keypackage.response")), HM_OK);
  assert_int_equal(hm_json_object_setc(resp, "sender", hm_json_new_cstr("server")), HM_OK);
  assert_int_equal(hm_json_object_setc(resp, "payload", pl), HM_OK);
  feed_json(a.c, resp);
  hm_json_free(resp);
  hm_json_free(up);
  uint64_t ep = 0;
  size_t n = 0;
  assert_int_equal(hm_client_mls_info(a.c, "C", "C:channel:1", &ep, &n), HM_OK);
  assert_int_equal(ep, 1);
  assert_int_equal(n, 2);
  /* Hold the Welcome back; a's message arrives first and waits in b's pending queue. */
  hm_json *welcome = pop(a.c);
  assert_string_equal(type_of(welcome), "mls.welcome");
  hm_json *commit = pop(a.c);
  assert_string_equal(type_of(commit), "mls.commit");
  assert_int_equal(hm_client_channel_send(a.c, "C", "C:channel:1", "group hello", NULL, 0), HM_OK);
  assert_int_equal(relay(a.c, b.c, "channel.send", "channel.message"), 1);
  assert_int_equal(b.last_e2e, HM_CLIENT_E2E_PENDING);
  assert_int_equal(hm_client_mls_pending(b.c), 1);
  feed_json(b.c, welcome);
  assert_int_equal(hm_client_mls_pending(b.c), 0);
  assert_string_equal(b.msg_text, "group hello");
  assert_int_equal(b.msg_e2e, HM_CLIENT_E2E_DECRYPTED);
  /* The commit of b's own add is already applied by the Welcome: ignored. */
  feed_json(b.c, commit);
  assert_int_equal(hm_client_mls_info(b.c, "C", "C:channel:1", &ep, &n), HM_OK);
  assert_int_equal(ep, 1);
  assert_int_equal(n, 2);
  hm_json_free(welcome);
  hm_json_free(commit);
  /* Both members derive the same media key for the epoch; it differs from the message key. */
  uint8_t mka[32], mkb[32];
  uint64_t mea = 0, meb = 0;
  assert_int_equal(hm_client_mls_media_key(a.c, "C", "C:channel:1", mka, &mea), HM_OK);
  assert_int_equal(hm_client_mls_media_key(b.c, "C", "C:channel:1", mkb, &meb), HM_OK);
  assert_memory_equal(mka, mkb, 32);
  assert_int_equal(mea, 1);
  assert_int_equal(hm_client_mls_media_key(a.c, "C", "nochannel", mka, NULL), HM_ERR_NOT_FOUND);
  /* b -> a. */
  assert_int_equal(hm_client_channel_send(b.c, "C", "C:channel:1", "reply", NULL, 0), HM_OK);
  assert_int_equal(relay(b.c, a.c, "channel.send", "channel.message"), 1);
  assert_string_equal(a.last_text, "reply");
  assert_int_equal(a.last_e2e, HM_CLIENT_E2E_DECRYPTED);
  /* Clear text in a channel with an active group is flagged as a possible downgrade. */
  feed(b.c, "{\"id\":\"pt\",\"type\":\"channel.message\",\"timestamp\":\"t\",\"sender\":\"did:key:x\","
            "\"payload\":{\"communityId\":\"C\",\"channelId\":\"C:channel:1\",\"content\":{\"ciphertext\":"
            "{\"__type\":\"Uint8Array\",\"data\":\"aGk=\"},\"epoch\":0,\"senderIndex\":0}}}");
  assert_string_equal(b.msg_text, "hi");
  assert_int_equal(b.msg_e2e, HM_CLIENT_E2E_DOWNGRADE);
  /* Export / import keeps decrypting. */
  char *txt = NULL;
  size_t tl = 0;
  assert_int_equal(hm_client_mls_export(b.c, &txt, &tl), HM_OK);
  assert_int_equal(hm_client_mls_import(b.c, txt, tl), HM_OK);
  hm_free_secret(txt, tl + 1);
  assert_int_equal(hm_client_channel_send(a.c, "C", "C:channel:1", "after reload", NULL, 0), HM_OK);
  assert_int_equal(relay(a.c, b.c, "channel.send", "channel.message"), 1);
  assert_string_equal(b.last_text, "after reload");
  /* A forged removal commit (signed by b, claimed by a as sender) is discarded. */
  assert_int_equal(hm_client_mls_remove(b.c, "C", "C:channel:1", a.id.did), HM_OK);
  hm_json *forged = pop(b.c);
  assert_string_equal(type_of(forged), "mls.commit");
  assert_int_equal(hm_json_object_setc(forged, "sender", hm_json_new_cstr(a.id.did)), HM_OK);
  feed_json(a.c, forged);
  assert_int_equal(hm_client_mls_info(a.c, "C", "C:channel:1", &ep, &n), HM_OK);
  assert_int_equal(ep, 1);
  assert_int_equal(n, 2);
  hm_json_free(forged);
  peer_clear(&a);
  peer_clear(&b);
}

static void test_client_channel_send_plain_without_group(void **st) {
  (void)st;
  peer a;
  peer_init(&a, 13);
  login(&a);
  assert_int_equal(hm_client_channel_send(a.c, "C", "C:channel:1", "open text", NULL, 0), HM_OK);
  hm_json *f = pop(a.c);
  const hm_json *content = hm_json_object_getc(hm_json_object_getc(f, "payload"), "content");
  assert_int_equal((int)hm_json_number(hm_json_object_getc(content, "epoch")), 0);
  /* Upstream's extra keys: nonce = envelope id, clock = {counter, authorDID}. */
  const hm_json *pl = hm_json_object_getc(f, "payload");
  assert_true(hm_json_equal(hm_json_object_getc(pl, "nonce"), hm_json_object_getc(f, "id")));
  assert_true(hm_json_string_is(hm_json_object_getc(hm_json_object_getc(pl, "clock"), "authorDID"), a.id.did));
  assert_int_equal((int)hm_json_number(hm_json_object_getc(hm_json_object_getc(pl, "clock"), "counter")), 1);
  assert_int_equal(hm_json_object_setc(f, "type", hm_json_new_cstr("channel.message")), HM_OK);
  feed_json(a.c, f);
  assert_string_equal(a.last_text, "open text");
  assert_int_equal(a.last_e2e, HM_CLIENT_E2E_PLAINTEXT);
  hm_json_free(f);
  peer_clear(&a);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_open_sends_fresh_vp),
      cmocka_unit_test(test_client_open_token_first_then_vp_on_expired),
      cmocka_unit_test(test_client_auth_ok_keeps_token_and_releases_queue),
      cmocka_unit_test(test_client_backoff_bounds_and_growth),
      cmocka_unit_test(test_client_resync_from_last_clock),
      cmocka_unit_test(test_client_dm_seal_open_with_peer),
      cmocka_unit_test(test_client_dm_keyexchange_mismatch_reported),
      cmocka_unit_test(test_client_mls_add_welcome_commit_and_pending),
      cmocka_unit_test(test_client_channel_send_plain_without_group),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
