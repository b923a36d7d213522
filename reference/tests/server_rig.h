/* server_rig.h - the fake environment shared by the server-core unit tests
 * (test_server_core.c, test_server_import.c): peers that record every frame the core sends,
 * a controllable clock, deterministic randomness, an in-memory store, and frame helpers.
 * Included after cmocka.h and the harmony headers; every function is static, so a test
 * file that uses only some of them still builds with -Werror. */
#ifndef HM_TEST_SERVER_RIG_H
#define HM_TEST_SERVER_RIG_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

/* ---- fake environment --------------------------------------------------------------- */

typedef struct {
  char *frames[256];
  size_t n;
  int close_code;
  char close_reason[128];
} peer;

typedef struct {
  int64_t now;
  uint64_t rnd;
} fake;

static fake F;

static int64_t f_now(void *ctx) {
  (void)ctx;
  return F.now;
}

static void f_random(void *ctx, uint8_t *buf, size_t len) {
  (void)ctx;
  for (size_t i = 0; i < len; i++) {
    F.rnd = F.rnd * 6364136223846793005ULL + 1442695040888963407ULL;
    buf[i] = (uint8_t)(F.rnd >> 56);
  }
}

static int f_send(void *ctx, void *handle, const char *bytes, size_t len) {
  (void)ctx;
  peer *p = handle;
  assert_true(p->n < 256);
  assert_int_equal(p->close_code, 0); /* nothing is sent after a close */
  p->frames[p->n] = malloc(len + 1);
  memcpy(p->frames[p->n], bytes, len);
  p->frames[p->n][len] = 0;
  p->n++;
  return 0;
}

static void f_close(void *ctx, void *handle, int code, const char *reason) {
  (void)ctx;
  peer *p = handle;
  assert_int_equal(p->close_code, 0);
  p->close_code = code;
  snprintf(p->close_reason, sizeof p->close_reason, "%s", reason);
}

static void peer_clear(peer *p) {
  for (size_t i = 0; i < p->n; i++) free(p->frames[i]);
  memset(p, 0, sizeof *p);
}

typedef struct {
  hm_store *st;
  hm_server *srv;
} rig;

/* A server on a fresh store at path with the caller's config; ping may be NULL. */
static void rig_open_with(rig *r, const char *path, const hm_server_config *cfg, void (*ping)(void *, void *)) {
  const char *why = NULL;
  assert_int_equal(hm_store_sqlite_open(&r->st, path, &why), HM_OK);
  hm_server_env env = {0};
  env.now_ms = f_now;
  env.random = f_random;
  env.send = f_send;
  env.close = f_close;
  env.ping = ping;
  env.store = r->st;
  assert_int_equal(hm_server_new(&r->srv, cfg, &env), HM_OK);
}

static void rig_open_at(rig *r, const char *path) {
  hm_server_config cfg = {0};
  cfg.auth_timeout_ms = 500;
  cfg.vp_freshness_s = 5;
  rig_open_with(r, path, &cfg, NULL);
}

static void rig_open(rig *r) {
  F.now = T0;
  F.rnd = 42;
  rig_open_at(r, ":memory:");
}

static void rig_close(rig *r) {
  hm_server_free(r->srv);
  hm_store_close(r->st);
}

/* ---- identities and frames ------------------------------------------------------------ */

typedef struct {
  hm_identity id;
} ident;

static void ident_make(ident *who, uint8_t fill) {
  uint8_t seed[32];
  memset(seed, fill, sizeof seed);
  assert_int_equal(hm_identity_from_seed32(&who->id, seed), HM_OK);
}

static char *envelope(const char *id, const char *type, const char *sender, hm_json *payload) {
  hm_json *o = hm_json_new_object();
  if (id) assert_int_equal(hm_json_object_setc(o, "id", hm_json_new_cstr(id)), HM_OK);
  assert_int_equal(hm_json_object_setc(o, "type", hm_json_new_cstr(type)), HM_OK);
  assert_int_equal(hm_json_object_setc(o, "timestamp", hm_json_new_cstr("2026-01-01T00:00:00.000Z")), HM_OK);
  if (sender) assert_int_equal(hm_json_object_setc(o, "sender", hm_json_new_cstr(sender)), HM_OK);
  if (payload) assert_int_equal(hm_json_object_setc(o, "payload", payload), HM_OK);
  char *text = NULL;
  assert_int_equal(hm_json_stringify(&text, NULL, o), HM_OK);
  hm_json_free(o);
  return text;
}

static hm_json *vp_for(const ident *who, int64_t created_ms) {
  hm_vc_issue_params p = {0};
  p.issuer_did = who->id.did;
  p.issuer_seed = who->id.seed32;
  p.subject_did = who->id.did;
  p.type = "IdentityAssertion";
  p.now_ms = created_ms;
  hm_json *vc = NULL, *creds = hm_json_new_array(), *vp = NULL;
  assert_int_equal(hm_vc_issue(&vc, &p), HM_OK);
  assert_int_equal(hm_json_array_append(creds, vc), HM_OK);
  char created[32];
  assert_int_equal(hm_iso8601_format(created, created_ms), HM_OK);
  assert_int_equal(hm_vp_create(&vp, who->id.did, who->id.seed32, creds, created, created_ms), HM_OK);
  hm_json_free(creds);
  return vp;
}

static void feed(rig *r, hm_server_conn *c, const char *text) {
  hm_server_conn_frame(r->srv, c, (const uint8_t *)text, strlen(text), 0);
}

static void feed_free(rig *r, hm_server_conn *c, char *text) {
  feed(r, c, text);
  hm_free(text);
}

/* The i-th frame of p, parsed (caller frees). */
static hm_json *frame(const peer *p, size_t i) {
  assert_true(i < p->n);
  hm_json *v = NULL;
  assert_int_equal(hm_json_parse(&v, p->frames[i], strlen(p->frames[i]), 0, NULL), HM_OK);
  return v;
}

static int frame_is(const peer *p, size_t i, const char *type) {
  hm_json *v = frame(p, i);
  int ok = hm_json_string_is(hm_json_object_getc(v, "type"), type);
  hm_json_free(v);
  return ok;
}

static size_t count_type(const peer *p, const char *type) {
  size_t n = 0;
  for (size_t i = 0; i < p->n; i++) n += frame_is(p, i, type);
  return n;
}

static const char *pstr(const hm_json *f, const char *key) {
  return hm_json_string(hm_json_object_getc(hm_json_object_getc(f, "payload"), key), NULL);
}

/* A connection authenticated by a fresh VP; returns the session token (caller frees). */
static hm_server_conn *login(rig *r, peer *p, const ident *who, char **token) {
  hm_server_conn *c = hm_server_conn_open(r->srv, p);
  assert_non_null(c);
  F.now += 1; /* a new VP per login (distinct created) */
  feed_free(r, c, envelope("auth-1", "sync.state", who->id.did, vp_for(who, F.now)));
  assert_int_equal(p->close_code, 0);
  assert_true(p->n >= 1);
  hm_json *f = frame(p, 0);
  assert_true(hm_json_string_is(hm_json_object_getc(f, "type"), "sync.response"));
  assert_int_equal(hm_json_kind_of(hm_json_object_getc(hm_json_object_getc(f, "payload"), "authenticated")),
                   HM_JSON_TRUE);
  assert_string_equal(pstr(f, "did"), who->id.did);
  if (token) *token = strdup(pstr(f, "sessionToken"));
  hm_json_free(f);
  assert_string_equal(hm_server_conn_did(c), who->id.did);
  return c;
}

static hm_json *obj(const char *json) {
  hm_json *v = NULL;
  assert_int_equal(hm_json_parse(&v, json, strlen(json), 0, NULL), HM_OK);
  return v;
}

static void join(rig *r, hm_server_conn *c, peer *p, const char *cid) {
  char pl[256];
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\"}", cid);
  size_t before = p->n;
  feed_free(r, c, envelope("join-1", "community.join", NULL, obj(pl)));
  assert_int_equal(p->n, before + 1);
  assert_true(frame_is(p, before, "community.updated"));
}

#pragma GCC diagnostic pop

#endif
