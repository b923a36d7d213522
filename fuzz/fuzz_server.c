/* fuzz/fuzz_server.c - the stateful sans-I/O server core (harmony/server.h) with an
 * in-memory store: sequences of frames from several simulated connections.
 *
 * Every input starts from the same state (fresh ":memory:" store, clock FZ_NOW_MS,
 * deterministic randomness): connections 0, 1, 2 logged in with VPs of identities 0, 1, 2
 * (fuzz_ids.h); 0 created a community, 1 joined it, 2 is not a member; connection 3 is
 * open and not authenticated.
 * The input is a list of lines; the first byte of a line is the operation:
 *   '0'..'3'  the rest of the line is a text frame from that connection; before it is fed,
 *             "$C" becomes the community id, "$H" its first channel id, "$0".."$2" the
 *             DIDs of the identities, "$T" connection 0's session token;
 *   '4'       the clock advances by 997 ms times the length of the rest (hm_server_tick);
 *   '5'       connection rest[0] % 4 closes (hm_server_conn_closed) and reopens unauthenticated;
 *   '6'       connection rest[0] % 4 logs in again with a second, fresh VP of its identity;
 *   '7'       the rest of the line is a binary frame on connection 0.
 * Invariants (checked on every env.send / env.close and at the end):
 *   - every frame sent is a JSON object with exactly the keys id, type, timestamp, sender,
 *     payload in that order (R-ENV-9), its type a registered s2c type, timestamp 24 chars;
 *   - an unauthenticated connection receives only error, auth.token.expired or the
 *     sync.response that authenticates it (R-AUTH-14, registry since_auth);
 *   - a frame naming payload.communityId goes only to a DID that is a member of it or
 *     that the frame itself concerns (its own join/leave/kick/ban) (binding decision 3);
 *   - nothing is sent on a connection after the core closed it, and it closes it once;
 *   - no crash, no leak (LeakSanitizer), hm_server_conn_count matches the open connections.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_ids.h"
#include "harmony/alloc.h"
#include "harmony/json.h"
#include "harmony/server.h"
#include "harmony/store.h"
#include "harmony/vc.h"
#include "server_registry.h"

#define NCONN 4

typedef struct {
  hm_server_conn *conn;
  int open;    /* the core has not closed it and the harness has not dropped it */
  int closed;  /* env.close was called */
  int idx;
} fz_conn;

static struct {
  int64_t now;
  uint64_t rnd;
  hm_store *st;
  hm_server *srv;
  fz_conn c[NCONN];
  char cid[128], chid[128], token[1024];
  int capture; /* copy community/channel ids from the next community.updated to conn 0 */
  size_t sent;
} S;

static char *vp_text[FZ_NIDS][2];
static int trace; /* FZ_SERVER_TRACE=1: print every frame sent (for reading a reproducer) */

static int64_t e_now(void *ctx) {
  (void)ctx;
  return S.now;
}

static void e_random(void *ctx, uint8_t *buf, size_t len) {
  (void)ctx;
  for (size_t i = 0; i < len; i++) {
    S.rnd = S.rnd * 6364136223846793005ULL + 1442695040888963407ULL;
    buf[i] = (uint8_t)(S.rnd >> 56);
  }
}

static int is_member(const char *community, const char *did) {
  return S.st->vt->member_get(S.st, community, did, NULL, NULL) == HM_OK;
}

static int e_send(void *ctx, void *handle, const char *bytes, size_t len) {
  (void)ctx;
  fz_conn *fc = handle;
  FZ_CHECK(!fc->closed, "frame sent on connection %d after the core closed it: %.200s", fc->idx, bytes);
  S.sent++;
  if (trace) fprintf(stderr, "  -> conn %d: %.*s\n", fc->idx, (int)(len > 400 ? 400 : len), bytes);
  hm_json *f = NULL;
  FZ_CHECK(hm_json_parse(&f, bytes, len, HM_JSON_REJECT_DUPKEYS, NULL) == HM_OK, "server sent invalid JSON: %.200s",
           bytes);
  static const char *const keys[] = {"id", "type", "timestamp", "sender", "payload"};
  FZ_CHECK(hm_json_kind_of(f) == HM_JSON_OBJECT && hm_json_object_size(f) == 5, "frame keys: %.200s", bytes);
  for (size_t i = 0; i < 5; i++) {
    size_t kl = 0;
    const char *k = hm_json_object_key_at(f, i, &kl);
    FZ_CHECK(strcmp(k, keys[i]) == 0, "frame key %zu is %s, not %s: %.200s", i, k, keys[i], bytes);
  }
  size_t tl = 0, tsl = 0;
  const char *type = hm_json_string(hm_json_object_getc(f, "type"), &tl);
  const char *ts = hm_json_string(hm_json_object_getc(f, "timestamp"), &tsl);
  FZ_CHECK(type && hm_registry_find(type, tl, HM_REG_S2C) != NULL, "unregistered s2c type: %.200s", bytes);
  FZ_CHECK(ts && hm_json_string(hm_json_object_getc(f, "id"), NULL) && hm_json_string(hm_json_object_getc(f, "sender"), NULL),
           "id/timestamp/sender not strings: %.200s", bytes);
  (void)tsl;
  const hm_json *payload = hm_json_object_getc(f, "payload");
  const char *did = hm_server_conn_did(fc->conn);
  if (!did) {
    int ok = strcmp(type, "error") == 0 || strcmp(type, "auth.token.expired") == 0 ||
             (strcmp(type, "sync.response") == 0 &&
              hm_json_kind_of(hm_json_object_getc(payload, "authenticated")) == HM_JSON_TRUE);
    FZ_CHECK(ok, "unauthenticated connection %d got %.200s", fc->idx, bytes);
  }
  const char *community = hm_json_string(hm_json_object_getc(payload, "communityId"), NULL);
  if (did && community && strcmp(type, "error") != 0 && !is_member(community, did)) {
    /* Frames about the recipient itself may reach it as it stops being a member. */
    static const char *const subj_keys[] = {"memberDid", "memberDID", "did", "targetDid", "targetDID", "userDid"};
    const char *subject = NULL;
    for (size_t k = 0; !subject && k < sizeof subj_keys / sizeof subj_keys[0]; k++)
      subject = hm_json_string(hm_json_object_getc(payload, subj_keys[k]), NULL);
    const char *sender = hm_json_string(hm_json_object_getc(f, "sender"), NULL);
    int self = (subject && strcmp(subject, did) == 0) || (sender && strcmp(sender, "server") == 0);
    FZ_CHECK(self, "connection %d (%s) is not a member of %s but got %.300s", fc->idx, did, community, bytes);
  }
  if (S.capture && fc->idx == 0 && strcmp(type, "community.updated") == 0) {
    const char *c = hm_json_string(hm_json_object_getc(payload, "communityId"), NULL);
    const hm_json *ch = hm_json_array_get(hm_json_object_getc(payload, "channels"), 0);
    const char *h = hm_json_string(hm_json_object_getc(ch, "id"), NULL);
    if (c && h) {
      snprintf(S.cid, sizeof S.cid, "%s", c);
      snprintf(S.chid, sizeof S.chid, "%s", h);
      S.capture = 0;
    }
  }
  if (fc->idx == 0 && strcmp(type, "sync.response") == 0 && !S.token[0]) {
    const char *t = hm_json_string(hm_json_object_getc(payload, "sessionToken"), NULL);
    if (t) snprintf(S.token, sizeof S.token, "%s", t);
  }
  hm_json_free(f);
  return 0;
}

static void e_close(void *ctx, void *handle, int code, const char *reason) {
  (void)ctx;
  fz_conn *fc = handle;
  FZ_CHECK(!fc->closed, "connection %d closed twice (code %d %s)", fc->idx, code, reason);
  FZ_CHECK((code >= 1000 && code <= 1015) || (code >= 4000 && code <= 4999), "close code %d", code);
  FZ_CHECK(reason != NULL);
  fc->closed = 1;
}

static void feed(fz_conn *fc, const char *text, size_t len, int binary) {
  if (!fc->open) return;
  hm_server_conn_frame(S.srv, fc->conn, (const uint8_t *)text, len, binary);
}

/* The shell drops every connection the core closed. */
static void reap(void) {
  for (int i = 0; i < NCONN; i++)
    if (S.c[i].open && S.c[i].closed) {
      hm_server_conn_closed(S.srv, S.c[i].conn);
      S.c[i].open = 0;
      S.c[i].conn = NULL;
    }
}

static void open_conn(int i) {
  S.c[i].idx = i;
  S.c[i].closed = 0;
  S.c[i].conn = hm_server_conn_open(S.srv, &S.c[i]);
  FZ_CHECK(S.c[i].conn != NULL);
  S.c[i].open = !S.c[i].closed;
  if (!S.c[i].open) {
    hm_server_conn_closed(S.srv, S.c[i].conn);
    S.c[i].conn = NULL;
  }
}

static char *login_frame(int who, int which) {
  const char *vp = vp_text[who][which];
  size_t n = strlen(vp) + 256;
  char *s = malloc(n);
  if (!s) abort();
  snprintf(s, n, "{\"id\":\"auth-%d\",\"type\":\"sync.state\",\"timestamp\":\"2026-11-22T08:48:27.087Z\",\"sender\":\"%s\","
           "\"payload\":%s}", which, fz_ids[who].did, vp);
  return s;
}

static void login(int i, int which) {
  char *s = login_frame(i < FZ_NIDS ? i : 0, which);
  feed(&S.c[i], s, strlen(s), 0);
  free(s);
}

static void text_frame(int i, const char *t) {
  size_t n = strlen(t);
  char *s = malloc(n + 1);
  if (!s) abort();
  memcpy(s, t, n + 1);
  feed(&S.c[i], s, n, 0);
  free(s);
}

static void setup(void) {
  memset(&S, 0, sizeof S);
  S.now = FZ_NOW_MS;
  S.rnd = 7;
  S.capture = 1;
  const char *why = NULL;
  FZ_CHECK(hm_store_sqlite_open(&S.st, ":memory:", &why) == HM_OK, "store: %s", why ? why : "?");
  hm_server_config cfg = {0};
  cfg.rate_max_frames = 40;
  cfg.rate_window_ms = 10000;
  cfg.max_frames_before_auth = 8;
  static const char *revoked[] = {"urn:uuid:revoked"};
  cfg.revoked_credentials = revoked;
  cfg.n_revoked_credentials = 1;
  hm_server_env env = {0};
  env.now_ms = e_now;
  env.random = e_random;
  env.send = e_send;
  env.close = e_close;
  env.store = S.st;
  FZ_CHECK(hm_server_new(&S.srv, &cfg, &env) == HM_OK);
  for (int i = 0; i < NCONN; i++) open_conn(i);
  for (int i = 0; i < 3; i++) login(i, 0);
  for (int i = 0; i < 3; i++) FZ_CHECK(hm_server_conn_did(S.c[i].conn) != NULL, "setup login %d failed", i);
  text_frame(0, "{\"id\":\"cc\",\"type\":\"community.create\",\"timestamp\":\"2026-11-22T08:48:27.087Z\",\"payload\":{\"name\":\"fz\"}}");
  FZ_CHECK(S.cid[0] && S.chid[0], "setup: community not created");
  char j[512];
  snprintf(j, sizeof j, "{\"id\":\"j\",\"type\":\"community.join\",\"timestamp\":\"2026-11-22T08:48:27.087Z\","
           "\"payload\":{\"communityId\":\"%s\"}}", S.cid);
  text_frame(1, j);
  FZ_CHECK(is_member(S.cid, fz_ids[1].did), "setup: join failed");
}

static void teardown(void) {
  reap();
  size_t open = 0;
  for (int i = 0; i < NCONN; i++) open += S.c[i].open;
  FZ_CHECK(hm_server_conn_count(S.srv) == open, "conn_count %zu, harness has %zu open", hm_server_conn_count(S.srv),
           open);
  hm_server_shutdown(S.srv);
  for (int i = 0; i < NCONN; i++)
    if (S.c[i].open) FZ_CHECK(S.c[i].closed, "shutdown left connection %d open", i);
  reap();
  FZ_CHECK(hm_server_conn_count(S.srv) == 0);
  hm_server_free(S.srv);
  hm_store_close(S.st);
}

/* Substitute the placeholders of one line. */
static char *expand(const char *in, size_t n) {
  size_t cap = n * 8 + 1024, o = 0;
  char *out = malloc(cap);
  if (!out) abort();
  for (size_t i = 0; i < n; i++) {
    const char *rep = NULL;
    if (in[i] == '$' && i + 1 < n) {
      char k = in[i + 1];
      if (k == 'C') rep = S.cid;
      else if (k == 'H') rep = S.chid;
      else if (k == 'T') rep = S.token;
      else if (k >= '0' && k <= '2') rep = fz_ids[k - '0'].did;
    }
    if (rep) {
      size_t rl = strlen(rep);
      if (o + rl + 1 >= cap) break;
      memcpy(out + o, rep, rl);
      o += rl;
      i++;
    } else {
      if (o + 2 >= cap) break;
      out[o++] = in[i];
    }
  }
  out[o] = 0;
  return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fz_ids_init();
  trace = getenv("FZ_SERVER_TRACE") != NULL;
  for (int i = 0; i < FZ_NIDS; i++)
    for (int w = 0; w < 2; w++) {
      hm_vc_issue_params p = {0};
      p.issuer_did = fz_ids[i].did;
      p.issuer_seed = fz_ids[i].seed;
      p.subject_did = fz_ids[i].did;
      p.type = "IdentityAssertion";
      p.id = w ? "urn:uuid:00000000000000000000000000000f02" : "urn:uuid:00000000000000000000000000000f01";
      p.issuance_date = "2026-11-22T08:40:00.000Z";
      p.now_ms = FZ_NOW_MS;
      hm_json *vc = NULL, *creds = hm_json_new_array(), *vp = NULL;
      if (hm_vc_issue(&vc, &p) != HM_OK || hm_json_array_append(creds, vc) != HM_OK) abort();
      if (hm_vp_create(&vp, fz_ids[i].did, fz_ids[i].seed, creds, w ? "2026-11-22T08:48:26.000Z" : "2026-11-22T08:48:25.000Z",
                       FZ_NOW_MS) != HM_OK)
        abort();
      if (hm_json_stringify(&vp_text[i][w], NULL, vp) != HM_OK) abort();
      hm_json_free(vp);
      hm_json_free(creds);
    }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  setup();
  size_t pos = 0, ops = 0;
  while (pos < size && ops < 64) {
    const uint8_t *nl = memchr(data + pos, '\n', size - pos);
    size_t end = nl ? (size_t)(nl - data) : size;
    const char *line = (const char *)data + pos;
    size_t ll = end - pos;
    pos = end + 1;
    ops++;
    if (ll == 0) continue;
    uint8_t op = (uint8_t)line[0] & 7;
    if (trace) fprintf(stderr, "op %u: %.*s\n", op, (int)(ll > 300 ? 300 : ll), line);
    const char *rest = line + 1;
    size_t rl = ll - 1;
    switch (op) {
    case 0: case 1: case 2: case 3: {
      char *t = expand(rest, rl);
      feed(&S.c[op], t, strlen(t), 0);
      free(t);
      break;
    }
    case 4:
      S.now += 997 * (int64_t)(rl + 1);
      hm_server_tick(S.srv, S.now);
      break;
    case 5: {
      int i = rl ? (uint8_t)rest[0] % NCONN : 3;
      if (S.c[i].open) {
        hm_server_conn_closed(S.srv, S.c[i].conn);
        S.c[i].open = 0;
      }
      open_conn(i);
      break;
    }
    case 6: {
      int i = rl ? (uint8_t)rest[0] % NCONN : 3;
      login(i, 1);
      break;
    }
    default: {
      char *t = expand(rest, rl);
      feed(&S.c[0], t, strlen(t), 1);
      free(t);
      break;
    }
    }
    reap();
  }
  teardown();
  return 0;
}
