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
#include "harmony/mls.h"
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
  hm_json *kp; /* the key package of the last automatic upload (login) */
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
  hm_json_free(p->kp);
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

static void auth_ok(peer *p) {
  char buf[512];
  snprintf(buf, sizeof buf,
           "{\"id\":\"s1\",\"type\":\"sync.response\",\"timestamp\":\"x\",\"sender\":\"server\","
           "\"payload\":{\"authenticated\":true,\"did\":\"%s\",\"sessionToken\":\"tok-1\"}}",
           p->id.did);
  feed(p->c, buf);
  assert_int_equal(hm_client_get_state(p->c), HM_CLIENT_READY);
}

/* The next frame must be the automatic upload of p's own key package, valid for p's DID
 * under the hardened checks (R-CRY-MLS-4); it is kept in p->kp. */
static void expect_kp_upload(peer *p) {
  hm_json *f = pop(p->c);
  assert_non_null(f);
  assert_string_equal(type_of(f), "mls.keypackage.upload");
  const hm_json *kp = hm_json_object_getc(hm_json_object_getc(f, "payload"), "keyPackage");
  char *t = NULL;
  size_t tl = 0;
  assert_int_equal(hm_json_stringify(&t, &tl, kp), HM_OK);
  hm_mls_keypackage_info info;
  assert_int_equal(hm_mls_keypackage_verify(&info, t, tl, HM_MLS_HARDENED, p->id.did), HM_OK);
  hm_free(t);
  hm_json_free(p->kp);
  p->kp = hm_json_clone(kp);
  assert_non_null(p->kp);
  hm_json_free(f);
}

/* Authenticate p: open, drain the auth frame, answer auth-ok with a token, drain the
 * automatic key package upload that comes first after it. */
static void login(peer *p) {
  assert_int_equal(hm_client_on_open(p->c), HM_OK);
  hm_json *a = pop(p->c);
  assert_non_null(a);
  hm_json_free(a);
  auth_ok(p);
  expect_kp_upload(p);
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

/* Right after auth-ok, before the resync and the user's queued frames, the client uploads
 * its own key package (as upstream's client does on every connect): an upstream peer that
 * finds none sends its DMs in clear. Again after every re-authentication; never when
 * switched off. */
static void test_client_auth_ok_uploads_keypackage_first(void **st) {
  (void)st;
  peer p;
  peer_init(&p, 8);
  assert_int_equal(hm_client_follow(p.c, "C", "C:channel:1"), HM_OK);
  assert_int_equal(hm_client_send(p.c, "community.list", NULL, NULL, 0), HM_OK);
  login(&p); /* asserts the upload comes first and verifies */
  hm_json *f = pop(p.c);
  assert_string_equal(type_of(f), "sync.request");
  hm_json_free(f);
  f = pop(p.c);
  assert_string_equal(type_of(f), "community.list");
  hm_json_free(f);
  assert_null(pop(p.c));
  /* The same package every time (deterministic signature): the server stores it once. */
  hm_json *first = hm_json_clone(p.kp);
  hm_client_on_close(p.c);
  login(&p);
  assert_true(hm_json_equal(first, p.kp));
  hm_json_free(first);
  f = pop(p.c);
  assert_string_equal(type_of(f), "sync.request");
  hm_json_free(f);
  /* Off: no upload after authentication. */
  hm_client_set_auto_keypackage(p.c, 0);
  hm_client_on_close(p.c);
  assert_int_equal(hm_client_on_open(p.c), HM_OK);
  hm_json_free(pop(p.c));
  auth_ok(&p);
  f = pop(p.c);
  assert_string_equal(type_of(f), "sync.request");
  hm_json_free(f);
  assert_null(pop(p.c));
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

/* Answer a's barrier fetch as the server would: mls.keypackage.response naming peer_did. */
static void answer_fetch(peer *a, const hm_json *fetch, const char *peer_did) {
  assert_string_equal(type_of(fetch), "mls.keypackage.fetch");
  const hm_json *dids = hm_json_object_getc(hm_json_object_getc(fetch, "payload"), "dids");
  assert_int_equal(hm_json_array_size(dids), 1);
  assert_true(hm_json_string_is(hm_json_array_get(dids, 0), peer_did));
  char buf[512];
  snprintf(buf, sizeof buf,
           "{\"id\":\"kr\",\"type\":\"mls.keypackage.response\",\"timestamp\":\"t\",\"sender\":\"server\","
           "\"payload\":{\"keyPackages\":{\"%s\":[]}}}", peer_did);
  feed(a->c, buf);
}

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
  answer_fetch(&a, f, b.id.did);
  hm_json_free(f);
  fake_now += HM_CLIENT_DM_SETTLE_MS;
  assert_int_equal(hm_client_tick(a.c), HM_OK);
  f = pop(a.c);
  assert_string_equal(type_of(f), "dm.send");
  assert_true(hm_json_string_is(hm_json_object_getc(f, "id"), id));
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
  /* A second DM is not preceded by another announcement and is not held. */
  assert_int_equal(hm_client_dm_send(a.c, b.id.did, "again", NULL, 0), HM_OK);
  assert_int_equal(hm_client_dm_held(a.c), 0);
  f = pop(a.c);
  assert_string_equal(type_of(f), "dm.send");
  hm_json_free(f);
  /* Undecodable recipient: refused, nothing queued or held (no plaintext fallback). */
  size_t q = hm_client_queued(a.c);
  assert_int_equal(hm_client_dm_send(a.c, "did:key:zzz", "x", NULL, 0), HM_ERR_DID);
  assert_int_equal(hm_client_queued(a.c), q);
  assert_int_equal(hm_client_dm_held(a.c), 0);
  peer_clear(&a);
  peer_clear(&b);
}

/* Regression for the first-DM race with upstream's client (it opens its DM channel from
 * dm.keyexchange asynchronously and shows a dm.message read together with it as
 * "[encrypted]"): the first dm.send never leaves in the same burst as dm.keyexchange. It is
 * held until the server has answered the fetch sent after the key exchange and the settle
 * time has passed; an error answering the fetch counts too, other answers do not. */
static void test_client_dm_first_send_waits_for_keyexchange_settle(void **st) {
  (void)st;
  peer a, b, c;
  peer_init(&a, 21);
  peer_init(&b, 22);
  peer_init(&c, 23);
  login(&a);
  int64_t t0 = fake_now;
  assert_int_equal(hm_client_dm_send(a.c, b.id.did, "one", NULL, 0), HM_OK);
  assert_int_equal(hm_client_dm_send(a.c, b.id.did, "two", NULL, 0), HM_OK);
  assert_int_equal(hm_client_dm_held(a.c), 2);
  hm_json *kx = pop(a.c), *fetch = pop(a.c);
  assert_string_equal(type_of(kx), "dm.keyexchange");
  assert_string_equal(type_of(fetch), "mls.keypackage.fetch");
  assert_null(pop(a.c)); /* nothing else in this burst */
  /* Time alone releases nothing while the server has not answered. */
  fake_now = t0 + 10 * HM_CLIENT_DM_SETTLE_MS;
  assert_int_equal(hm_client_tick(a.c), HM_OK);
  assert_null(pop(a.c));
  /* A response about another DID is not the answer. */
  feed(a.c, "{\"id\":\"x\",\"type\":\"mls.keypackage.response\",\"timestamp\":\"t\",\"sender\":\"server\","
            "\"payload\":{\"keyPackages\":{\"did:key:other\":[]}}}");
  assert_null(pop(a.c));
  answer_fetch(&a, fetch, b.id.did);
  int64_t t1 = fake_now;
  assert_null(pop(a.c)); /* settle time not yet passed */
  fake_now = t1 + HM_CLIENT_DM_SETTLE_MS - 1;
  assert_int_equal(hm_client_tick(a.c), HM_OK);
  assert_null(pop(a.c));
  assert_int_equal(hm_client_dm_held(a.c), 2);
  fake_now = t1 + HM_CLIENT_DM_SETTLE_MS;
  assert_int_equal(hm_client_tick(a.c), HM_OK);
  assert_int_equal(hm_client_dm_held(a.c), 0);
  /* Released in order, and they decrypt at the peer. */
  const char *want[2] = {"one", "two"};
  for (int i = 0; i < 2; i++) {
    hm_json *f = pop(a.c);
    assert_string_equal(type_of(f), "dm.send");
    assert_int_equal(hm_json_object_setc(f, "type", hm_json_new_cstr("dm.message")), HM_OK);
    feed_json(b.c, f);
    assert_string_equal(b.last_text, want[i]);
    assert_int_equal(b.last_e2e, HM_CLIENT_E2E_DECRYPTED);
    hm_json_free(f);
  }
  assert_null(pop(a.c));
  hm_json_free(kx);
  hm_json_free(fetch);

  char buf[512];
  /* To c, with no settle time, the fetch refused by an error (e.g. rate limited): the
   * error answering that request id releases at once; an error for another id does not. */
  hm_client_set_dm_settle_ms(a.c, 0);
  assert_int_equal(hm_client_dm_send(a.c, c.id.did, "to c", NULL, 0), HM_OK);
  /* An answer naming c that arrives before the barrier was even written belongs to an
   * earlier request (e.g. an MLS add's fetch): it does not count. */
  snprintf(buf, sizeof buf,
           "{\"id\":\"kr0\",\"type\":\"mls.keypackage.response\",\"timestamp\":\"t\",\"sender\":\"server\","
           "\"payload\":{\"keyPackages\":{\"%s\":[]}}}", c.id.did);
  feed(a.c, buf);
  assert_int_equal(hm_client_dm_held(a.c), 1);
  kx = pop(a.c);
  fetch = pop(a.c);
  assert_string_equal(type_of(fetch), "mls.keypackage.fetch");
  feed(a.c, "{\"id\":\"e\",\"type\":\"error\",\"timestamp\":\"t\",\"sender\":\"server\","
            "\"payload\":{\"code\":\"RATE_LIMITED\",\"message\":\"x\",\"requestId\":\"nope\"}}");
  assert_null(pop(a.c));
  snprintf(buf, sizeof buf,
           "{\"id\":\"e2\",\"type\":\"error\",\"timestamp\":\"t\",\"sender\":\"server\","
           "\"payload\":{\"code\":\"RATE_LIMITED\",\"message\":\"x\",\"requestId\":\"%s\"}}",
           hm_json_string(hm_json_object_getc(fetch, "id"), NULL));
  feed(a.c, buf);
  hm_json *f = pop(a.c);
  assert_string_equal(type_of(f), "dm.send");
  hm_json_free(f);
  hm_json_free(kx);
  hm_json_free(fetch);
  peer_clear(&a);
  peer_clear(&b);
  peer_clear(&c);
}

/* A DM written while offline, and a disconnect before the announcement was answered: the
 * DM stays held (it survives like every queued frame) and the announcement is sent again
 * after the next authentication, after the key package upload. */
static void test_client_dm_announce_survives_disconnect(void **st) {
  (void)st;
  peer a, b;
  peer_init(&a, 24);
  peer_init(&b, 25);
  assert_int_equal(hm_client_dm_send(a.c, b.id.did, "offline", NULL, 0), HM_OK);
  assert_int_equal(hm_client_dm_held(a.c), 1);
  assert_null(pop(a.c));
  login(&a); /* the key package upload comes first */
  hm_json *kx = pop(a.c), *fetch = pop(a.c);
  assert_string_equal(type_of(kx), "dm.keyexchange");
  assert_string_equal(type_of(fetch), "mls.keypackage.fetch");
  hm_json_free(kx);
  /* Lost before the answer. */
  hm_client_on_close(a.c);
  assert_int_equal(hm_client_dm_held(a.c), 1);
  /* An answer to the dead connection's fetch (late frame) does not count either. */
  login(&a);
  kx = pop(a.c);
  hm_json *fetch2 = pop(a.c);
  assert_string_equal(type_of(kx), "dm.keyexchange");
  assert_string_equal(type_of(fetch2), "mls.keypackage.fetch");
  assert_string_not_equal(hm_json_string(hm_json_object_getc(fetch, "id"), NULL),
                          hm_json_string(hm_json_object_getc(fetch2, "id"), NULL));
  answer_fetch(&a, fetch2, b.id.did);
  fake_now += HM_CLIENT_DM_SETTLE_MS;
  assert_int_equal(hm_client_tick(a.c), HM_OK);
  hm_json *f = pop(a.c);
  assert_string_equal(type_of(f), "dm.send");
  assert_int_equal(hm_client_dm_held(a.c), 0);
  hm_json_free(f);
  hm_json_free(kx);
  hm_json_free(fetch);
  hm_json_free(fetch2);
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

/* a creates the group of C/C:channel:1 and adds b from b's uploaded key package (b->kp);
 * b joins from the Welcome. Both end at epoch 1 with 2 members. */
static void make_group(peer *a, peer *b) {
  assert_int_equal(hm_client_mls_create_group(a->c, "C", "C:channel:1"), HM_OK);
  hm_json_free(pop(a->c)); /* mls.group.setup */
  assert_int_equal(hm_client_mls_add(a->c, "C", "C:channel:1", b->id.did), HM_OK);
  hm_json_free(pop(a->c)); /* mls.keypackage.fetch */
  hm_json *resp = hm_json_new_object(), *pl = hm_json_new_object(), *kps = hm_json_new_object(), *list = hm_json_new_array();
  assert_int_equal(hm_json_array_append(list, hm_json_clone(b->kp)), HM_OK);
  assert_int_equal(hm_json_object_setc(kps, b->id.did, list), HM_OK);
  assert_int_equal(hm_json_object_setc(pl, "keyPackages", kps), HM_OK);
  assert_int_equal(hm_json_object_setc(resp, "type", hm_json_new_cstr("mls.keypackage.response")), HM_OK);
  assert_int_equal(hm_json_object_setc(resp, "sender", hm_json_new_cstr("server")), HM_OK);
  assert_int_equal(hm_json_object_setc(resp, "payload", pl), HM_OK);
  feed_json(a->c, resp);
  hm_json_free(resp);
  hm_json *welcome = pop(a->c);
  assert_string_equal(type_of(welcome), "mls.welcome");
  feed_json(b->c, welcome);
  hm_json_free(welcome);
  hm_json_free(pop(a->c)); /* mls.commit of the add */
  uint64_t ep = 0;
  size_t n = 0;
  assert_int_equal(hm_client_mls_info(b->c, "C", "C:channel:1", &ep, &n), HM_OK);
  assert_int_equal(ep, 1);
  assert_int_equal(n, 2);
}

/* Feed a commit object built here (signed with signer's seed) as an mls.commit frame whose
 * sender is sender_did. */
static void feed_commit(peer *to, const char *sender_did, const char *commit_text, size_t cl) {
  hm_json *cj = NULL;
  assert_int_equal(hm_json_parse(&cj, commit_text, cl, 0, NULL), HM_OK);
  hm_json *f = hm_json_new_object(), *pl = hm_json_new_object();
  assert_int_equal(hm_json_object_setc(pl, "communityId", hm_json_new_cstr("C")), HM_OK);
  assert_int_equal(hm_json_object_setc(pl, "channelId", hm_json_new_cstr("C:channel:1")), HM_OK);
  assert_int_equal(hm_json_object_setc(pl, "groupId", hm_json_new_cstr("C:C:channel:1")), HM_OK);
  assert_int_equal(hm_json_object_setc(pl, "commit", cj), HM_OK);
  assert_int_equal(hm_json_object_setc(f, "id", hm_json_new_cstr("fc")), HM_OK);
  assert_int_equal(hm_json_object_setc(f, "type", hm_json_new_cstr("mls.commit")), HM_OK);
  assert_int_equal(hm_json_object_setc(f, "sender", hm_json_new_cstr(sender_did)), HM_OK);
  assert_int_equal(hm_json_object_setc(f, "payload", pl), HM_OK);
  feed_json(to->c, f);
  hm_json_free(f);
}

static void expect_epoch(peer *p, uint64_t want) {
  uint64_t ep = 0;
  size_t n = 0;
  assert_int_equal(hm_client_mls_info(p->c, "C", "C:channel:1", &ep, &n), HM_OK);
  assert_int_equal(ep, want);
  assert_int_equal(n, 2);
}

/* Update commits: any member (creator or not) advances the epoch without a membership change,
 * in upstream's update format with its own did:key-bound leaf keys; the other member applies
 * it and both keep decrypting at the new epoch, while the old epoch's messages no longer open.
 * Updates of another member's leaf, with keys not bound to the DID (upstream's random
 * updateKeys key, W19), or with a bad signature are discarded. */
static void test_client_mls_update_commit(void **st) {
  (void)st;
  peer a, b;
  peer_init(&a, 31);
  peer_init(&b, 32);
  login(&a);
  login(&b);
  assert_int_equal(hm_client_mls_update(a.c, "C", "nochannel"), HM_ERR_NOT_FOUND);
  make_group(&a, &b);
  /* A message of epoch 1, kept to replay after the update. */
  assert_int_equal(hm_client_channel_send(a.c, "C", "C:channel:1", "epoch one", NULL, 0), HM_OK);
  hm_json *old = pop(a.c);
  assert_int_equal(hm_json_object_setc(old, "type", hm_json_new_cstr("channel.message")), HM_OK);
  uint8_t mk1[32], mk2[32];
  assert_int_equal(hm_client_mls_media_key(a.c, "C", "C:channel:1", mk1, NULL), HM_OK);

  /* The creator rotates. */
  assert_int_equal(hm_client_mls_update(a.c, "C", "C:channel:1"), HM_OK);
  expect_epoch(&a, 2);
  hm_json *cm = pop(a.c);
  assert_string_equal(type_of(cm), "mls.commit");
  const hm_json *commit = hm_json_object_getc(hm_json_object_getc(cm, "payload"), "commit");
  assert_int_equal((int)hm_json_number(hm_json_object_getc(commit, "epoch")), 2);
  const hm_json *prop = hm_json_array_get(hm_json_object_getc(commit, "proposals"), 0);
  assert_int_equal(hm_json_array_size(hm_json_object_getc(commit, "proposals")), 1);
  assert_true(hm_json_string_is(hm_json_object_getc(prop, "type"), "update"));
  const hm_json *leaf = hm_json_object_getc(prop, "leafNode");
  assert_true(hm_json_string_is(hm_json_object_getc(leaf, "did"), a.id.did));
  feed_json(b.c, cm);
  hm_json_free(cm);
  expect_epoch(&b, 2);
  assert_int_equal(hm_client_mls_media_key(a.c, "C", "C:channel:1", mk2, NULL), HM_OK);
  assert_memory_not_equal(mk1, mk2, 32);
  assert_int_equal(hm_client_channel_send(a.c, "C", "C:channel:1", "epoch two", NULL, 0), HM_OK);
  assert_int_equal(relay(a.c, b.c, "channel.send", "channel.message"), 1);
  assert_string_equal(b.msg_text, "epoch two");
  assert_int_equal(b.msg_e2e, HM_CLIENT_E2E_DECRYPTED);
  feed_json(b.c, old); /* epoch 1 ciphertext no longer opens */
  assert_int_equal(b.msg_e2e, HM_CLIENT_E2E_FAILED);
  hm_json_free(old);

  /* A member that is not the creator rotates too. */
  assert_int_equal(hm_client_mls_update(b.c, "C", "C:channel:1"), HM_OK);
  assert_int_equal(relay(b.c, a.c, "mls.commit", NULL), 1);
  expect_epoch(&a, 3);
  assert_int_equal(hm_client_channel_send(b.c, "C", "C:channel:1", "epoch three", NULL, 0), HM_OK);
  assert_int_equal(relay(b.c, a.c, "channel.send", "channel.message"), 1);
  assert_string_equal(a.msg_text, "epoch three");
  assert_int_equal(a.msg_e2e, HM_CLIENT_E2E_DECRYPTED);

  /* Forgeries, each signed by b (a member) for epoch 4: all discarded by a. */
  uint8_t cs[32], rnd[32];
  memset(cs, 7, sizeof cs);
  memset(rnd, 0x5a, sizeof rnd);
  hm_mls_proposal pr;
  char *ct = NULL;
  size_t cl = 0;
  /* (1) b updating a's leaf. */
  memset(&pr, 0, sizeof pr);
  pr.type = HM_MLS_UPDATE;
  pr.did = a.id.did;
  pr.encryption_key = a.id.x_pk;
  pr.signature_key = a.id.ed_pk;
  assert_int_equal(hm_mls_commit_build(&ct, &cl, "C:C:channel:1", 4, &pr, 1, cs, b.id.seed32), HM_OK);
  feed_commit(&a, b.id.did, ct, cl);
  hm_free(ct);
  expect_epoch(&a, 3);
  /* (2) b's own leaf with a random encryption key (upstream's updateKeys, W19). */
  pr.did = b.id.did;
  pr.encryption_key = rnd;
  pr.signature_key = b.id.ed_pk;
  assert_int_equal(hm_mls_commit_build(&ct, &cl, "C:C:channel:1", 4, &pr, 1, cs, b.id.seed32), HM_OK);
  feed_commit(&a, b.id.did, ct, cl);
  hm_free(ct);
  expect_epoch(&a, 3);
  /* (3) b's own bound keys but signed by a key that is not b's. */
  pr.encryption_key = b.id.x_pk;
  assert_int_equal(hm_mls_commit_build(&ct, &cl, "C:C:channel:1", 4, &pr, 1, cs, a.id.seed32), HM_OK);
  feed_commit(&a, b.id.did, ct, cl);
  hm_free(ct);
  expect_epoch(&a, 3);
  /* (4) The same, correctly signed by b: applied (the forgeries changed nothing). */
  assert_int_equal(hm_mls_commit_build(&ct, &cl, "C:C:channel:1", 4, &pr, 1, cs, b.id.seed32), HM_OK);
  feed_commit(&a, b.id.did, ct, cl);
  hm_free(ct);
  expect_epoch(&a, 4);
  peer_clear(&a);
  peer_clear(&b);
}

/* mls.group.setup.needed (after our channel.create, R-MLS-18): the client creates the
 * channel's group and sends mls.group.setup, as upstream's client does; a notice whose
 * groupId is not <communityId>:<channelId>, or for a channel that has a group, does nothing. */
static void test_client_mls_setup_needed_creates_group(void **st) {
  (void)st;
  peer a;
  peer_init(&a, 33);
  login(&a);
  feed(a.c, "{\"id\":\"n\",\"type\":\"mls.group.setup.needed\",\"timestamp\":\"t\",\"sender\":\"server\","
            "\"payload\":{\"communityId\":\"C\",\"channelId\":\"C:channel:2\",\"groupId\":\"X:C:channel:2\"}}");
  assert_int_equal(hm_client_mls_info(a.c, "C", "C:channel:2", NULL, NULL), HM_ERR_NOT_FOUND);
  assert_null(pop(a.c));
  feed(a.c, "{\"id\":\"n\",\"type\":\"mls.group.setup.needed\",\"timestamp\":\"t\",\"sender\":\"server\","
            "\"payload\":{\"communityId\":\"C\",\"channelId\":\"C:channel:2\",\"groupId\":\"C:C:channel:2\"}}");
  uint64_t ep = 9;
  size_t n = 0;
  assert_int_equal(hm_client_mls_info(a.c, "C", "C:channel:2", &ep, &n), HM_OK);
  assert_int_equal(ep, 0);
  assert_int_equal(n, 1);
  hm_json *f = pop(a.c);
  assert_string_equal(type_of(f), "mls.group.setup");
  assert_true(hm_json_string_is(hm_json_object_getc(hm_json_object_getc(f, "payload"), "groupId"), "C:C:channel:2"));
  hm_json_free(f);
  assert_string_equal(a.last_type, "mls.group.setup.needed"); /* still delivered to the app */
  feed(a.c, "{\"id\":\"n2\",\"type\":\"mls.group.setup.needed\",\"timestamp\":\"t\",\"sender\":\"server\","
            "\"payload\":{\"communityId\":\"C\",\"channelId\":\"C:channel:2\",\"groupId\":\"C:C:channel:2\"}}");
  assert_null(pop(a.c));
  peer_clear(&a);
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
      cmocka_unit_test(test_client_auth_ok_uploads_keypackage_first),
      cmocka_unit_test(test_client_dm_seal_open_with_peer),
      cmocka_unit_test(test_client_dm_first_send_waits_for_keyexchange_settle),
      cmocka_unit_test(test_client_dm_announce_survives_disconnect),
      cmocka_unit_test(test_client_mls_update_commit),
      cmocka_unit_test(test_client_mls_setup_needed_creates_group),
      cmocka_unit_test(test_client_dm_keyexchange_mismatch_reported),
      cmocka_unit_test(test_client_mls_add_welcome_commit_and_pending),
      cmocka_unit_test(test_client_channel_send_plain_without_group),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
