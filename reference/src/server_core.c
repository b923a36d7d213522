/* server_core.c - connections, frame intake, authentication and dispatch of the server core.
 *
 * The pipeline of one frame follows the check order of R-AUTHZ-24: frame rules (UTF-8,
 * JSON, depth) -> authentication state -> rate limit -> envelope -> type -> sender ->
 * payload (generic, from the registry table) -> ban -> membership -> the handler (which
 * does existence, ownership, limits and the effect).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/token.h"
#include "harmony/vc.h"
#include "server_internal.h"

#define IDENTITY_KEY_NAME "identity-key"
#define DEPRECATED_TEXT "mediasoup is no longer supported. Use CF Realtime SFU."

/* ---- small helpers -------------------------------------------------------------------- */

void hm_srv_log(hm_server *srv, int level, const char *fmt, ...) {
  if (!srv->env.log || level > srv->cfg.log_level) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  srv->env.log(srv->env.ctx, level, line);
}

int64_t hm_srv_now(hm_server *srv) { return srv->env.now_ms(srv->env.ctx); }

/* ms since the epoch -> "YYYY-MM-DDTHH:MM:SS.sssZ" (Date.prototype.toISOString). */
int hm_srv_iso(char out[32], int64_t ms) {
  if (ms < 0 || ms > 253402300799999LL) return HM_ERR_RANGE;
  int64_t days = ms / 86400000, rem = ms % 86400000;
  /* civil_from_days (Howard Hinnant) */
  int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)(y % 10000), (int)m, (int)d,
           (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
  memcpy(out, tmp, 25);
  return HM_OK;
}

void hm_srv_now_iso(hm_server *srv, char out[32]) {
  if (hm_srv_iso(out, hm_srv_now(srv)) != HM_OK) strcpy(out, "1970-01-01T00:00:00.000Z");
}

void hm_srv_fresh_id(hm_server *srv, char *out, size_t cap, const char *prefix, size_t hex_bytes) {
  uint8_t r[32];
  char hex[65];
  if (hex_bytes > sizeof r) hex_bytes = sizeof r;
  srv->env.random(srv->env.ctx, r, hex_bytes);
  hm_hex_encode(hex, sizeof hex, r, hex_bytes);
  if (prefix && *prefix)
    snprintf(out, cap, "%s-%s", prefix, hex);
  else
    snprintf(out, cap, "%s", hex);
}

size_t hm_utf16_len(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char b = (unsigned char)s[i];
    if ((b & 0xC0) != 0x80) n += (b >= 0xF0) ? 2 : 1;
  }
  return n;
}

int hm_utf8_prefix(const char *s, size_t max) {
  size_t n = strnlen(s, max + 1);
  if (n <= max) return (int)n;
  n = max;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* s[n] continues a character */
  return (int)n;
}

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, max U+10FFFF). */
static int utf8_valid(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (i + n >= len) return 0;
    for (size_t k = 1; k <= n; k++) {
      if (i + k >= len || (s[i + k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return 0;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += n + 1;
  }
  return 1;
}

/* ---- output ---------------------------------------------------------------------------- */

int hm_srv_frame_text(char **out, size_t *len, const char *id, const char *type, const char *timestamp,
                      const char *sender, hm_json *payload) {
  hm_json *o = hm_json_new_object();
  if (!payload) payload = hm_json_new_object();
  if (!o || !payload) {
    hm_json_free(o);
    hm_json_free(payload);
    return HM_ERR_NOMEM;
  }
  int rc = hm_json_object_setc(o, "id", hm_json_new_cstr(id));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "type", hm_json_new_cstr(type));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "timestamp", hm_json_new_cstr(timestamp));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "sender", hm_json_new_cstr(sender));
  if (rc == HM_OK)
    rc = hm_json_object_setc(o, "payload", payload);
  else
    hm_json_free(payload);
  if (rc == HM_OK) rc = hm_json_stringify(out, len, o);
  hm_json_free(o);
  return rc;
}

void hm_srv_send_text(hm_server *srv, hm_server_conn *c, const char *text, size_t len) {
  if (c->closing) return;
  srv->m_frames_tx++;
  if (srv->env.send(srv->env.ctx, c->handle, text, len) != 0) hm_srv_close(srv, c, 1008, "Send buffer overflow");
}

void hm_srv_send(hm_server *srv, hm_server_conn *c, const char *type, hm_json *payload) {
  char id[96], ts[32], *text = NULL;
  size_t len;
  const char *prefix = strcmp(type, "error") == 0 ? "err" : "srv";
  hm_srv_fresh_id(srv, id, sizeof id, prefix, 16);
  hm_srv_now_iso(srv, ts);
  if (hm_srv_frame_text(&text, &len, id, type, ts, "server", payload) != HM_OK) {
    hm_srv_log(srv, HM_LOG_ERROR, "out of memory building a %s frame", type);
    hm_srv_close(srv, c, 1011, "Internal error");
    return;
  }
  hm_srv_send_text(srv, c, text, len);
  hm_free(text);
}

void hm_srv_error(hm_server *srv, hm_server_conn *c, const char *code, const char *message, const char *request_id) {
  hm_json *p = hm_json_new_object();
  if (p) {
    int rc = hm_json_object_setc(p, "code", hm_json_new_cstr(code));
    if (rc == HM_OK) rc = hm_json_object_setc(p, "message", hm_json_new_cstr(message));
    if (rc == HM_OK && request_id) rc = hm_json_object_setc(p, "requestId", hm_json_new_cstr(request_id));
    if (rc != HM_OK) {
      hm_json_free(p);
      p = NULL;
    }
  }
  if (!p) {
    hm_srv_close(srv, c, 1011, "Internal error");
    return;
  }
  hm_srv_log(srv, HM_LOG_DEBUG, "error %s \"%s\" to %s", code, message, c->did ? c->did : "(unauthenticated)");
  size_t ei = 0;
  while (ei < srv->m_n_errors && strcmp(srv->m_errors[ei].code, code)) ei++;
  if (ei == srv->m_n_errors && ei < sizeof srv->m_errors / sizeof srv->m_errors[0]) {
    snprintf(srv->m_errors[ei].code, sizeof srv->m_errors[ei].code, "%s", code);
    srv->m_n_errors++;
  }
  if (ei < srv->m_n_errors) srv->m_errors[ei].n++;
  if (!strcmp(code, "AUTH_INVALID")) srv->m_auth_failures++;
  hm_srv_send(srv, c, "error", p);
}

void hm_srv_close(hm_server *srv, hm_server_conn *c, int code, const char *reason) {
  if (c->closing) return;
  c->closing = 1;
  hm_srv_log(srv, HM_LOG_DEBUG, "closing connection of %s with %d %s", c->did ? c->did : "(unauthenticated)", code,
             reason);
  srv->env.close(srv->env.ctx, c->handle, code, reason);
}

void hm_frame_error(hm_frame *f, const char *code, const char *message) {
  hm_srv_error(f->srv, f->conn, code, message, f->id);
}

void hm_frame_internal(hm_frame *f, int err) {
  hm_srv_log(f->srv, HM_LOG_ERROR, "%s failed: %s", f->reg->type, hm_strerror(err));
  hm_frame_error(f, "INTERNAL", "Internal error");
}

/* ---- connections by DID ------------------------------------------------------------- */

static size_t did_hash(const char *s) {
  size_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* Rebuild the table with nb buckets from every authenticated connection. */
static int did_index_rehash(hm_server *srv, size_t nb) {
  hm_server_conn **tab = hm_calloc(nb, sizeof *tab);
  if (!tab) return HM_ERR_NOMEM;
  for (hm_server_conn *c = srv->conns; c; c = c->next) {
    if (!c->did) continue;
    size_t b = c->did_h & (nb - 1);
    c->did_next = tab[b];
    tab[b] = c;
  }
  hm_free(srv->did_tab);
  srv->did_tab = tab;
  srv->did_nb = nb;
  return HM_OK;
}

/* c (linked into conns) has just got its DID. */
static void did_index_add(hm_server *srv, hm_server_conn *c) {
  srv->n_authed++;
  if (srv->n_authed > srv->did_nb) {
    size_t nb = srv->did_nb ? srv->did_nb * 2 : 64;
    while (nb < srv->n_authed) nb *= 2;
    if (did_index_rehash(srv, nb) == HM_OK) return; /* c included */
    if (!srv->did_nb) return;                        /* no table: lookups walk conns */
  }
  size_t b = c->did_h & (srv->did_nb - 1);
  c->did_next = srv->did_tab[b];
  srv->did_tab[b] = c;
}

static void did_index_remove(hm_server *srv, hm_server_conn *c) {
  if (!c->did) return;
  srv->n_authed--;
  if (!srv->did_nb) return;
  hm_server_conn **pp = &srv->did_tab[c->did_h & (srv->did_nb - 1)];
  while (*pp && *pp != c) pp = &(*pp)->did_next;
  if (*pp) *pp = c->did_next;
  c->did_next = NULL;
}

/* The first connection to look at for did (whose hash is h): its bucket's chain, or all
 * connections when there is no table. Callers still compare c->did (chains hold other DIDs
 * too); the stored hash is compared first, so the text of another DID is rarely read. */
static hm_server_conn *did_first(hm_server *srv, size_t h, int *chained) {
  *chained = srv->did_nb != 0;
  return *chained ? srv->did_tab[h & (srv->did_nb - 1)] : srv->conns;
}

#define FOR_DID_CONN(srv, did, c, chained)                                                                \
  for (size_t c##_h = did_hash(did), c##_once = 1; c##_once; c##_once = 0)                              \
    for (hm_server_conn *c = did_first(srv, c##_h, &chained); c; c = chained ? c->did_next : c->next) \
      if (c->did && c->did_h == c##_h && strcmp(c->did, did) == 0)

/* The next connection of did (hash h) after `from` (chained: along its bucket), or NULL. */
static hm_server_conn *did_scan(hm_server_conn *from, const char *did, size_t h, int chained) {
  for (hm_server_conn *c = from; c; c = chained ? c->did_next : c->next)
    if (c->did && c->did_h == h && strcmp(c->did, did) == 0) return c;
  return NULL;
}

hm_server_conn *hm_srv_did_first(hm_server *srv, const char *did) {
  int chained;
  size_t h = did_hash(did);
  hm_server_conn *c = did_first(srv, h, &chained);
  return did_scan(c, did, h, chained);
}

/* c is a connection of did (from hm_srv_did_first / _next), so c->did_h is did's hash. */
hm_server_conn *hm_srv_did_next(hm_server *srv, const hm_server_conn *c, const char *did) {
  int chained = srv->did_nb != 0;
  return c ? did_scan(chained ? c->did_next : c->next, did, c->did_h, chained) : NULL;
}

static size_t did_conn_count(hm_server *srv, const char *did) {
  size_t n = 0;
  int chained;
  FOR_DID_CONN(srv, did, c, chained) n++;
  return n;
}

int hm_srv_did_online(hm_server *srv, const char *did) {
  int chained;
  FOR_DID_CONN(srv, did, c, chained) if (!c->closing) return 1;
  return 0;
}

void hm_srv_send_did(hm_server *srv, const char *did, const char *text, size_t len, const hm_server_conn *except) {
  int chained;
  FOR_DID_CONN(srv, did, c, chained) if (c != except) hm_srv_send_text(srv, c, text, len);
}

/* The audience is the store's member list at the time of the broadcast (its member cache
 * follows every membership write), so a DID that left, was kicked or banned receives
 * nothing from then on (R-AUTHZ-10, R-DLV-3). Cost: one hash lookup per member. Sending
 * must not re-enter the store (the DID array is borrowed from it). */
int hm_srv_broadcast(hm_server *srv, const char *community_id, const char *text, size_t len,
                     const hm_server_conn *except) {
  const char *const *dids;
  size_t n;
  int rc = srv->st->vt->member_dids(srv->st, community_id, &dids, &n);
  if (rc != HM_OK) return rc;
  if (srv->n_authed == 0) return HM_OK;
  for (size_t i = 0; i < n; i++) hm_srv_send_did(srv, dids[i], text, len, except);
  return HM_OK;
}

/* ---- construction ---------------------------------------------------------------------- */

int hm_server_new(hm_server **out, const hm_server_config *cfg, const hm_server_env *env) {
  if (!out || !cfg || !env || !env->now_ms || !env->random || !env->send || !env->close || !env->store)
    return HM_ERR_INVAL;
  *out = NULL;
  hm_server *srv = hm_calloc(1, sizeof *srv);
  if (!srv) return HM_ERR_NOMEM;
  srv->cfg = *cfg;
  srv->env = *env;
  srv->st = env->store;
  if (!srv->cfg.auth_timeout_ms) srv->cfg.auth_timeout_ms = 30000;
  if (!srv->cfg.vp_freshness_s) srv->cfg.vp_freshness_s = HM_DEFAULT_FRESHNESS_S;
  if (!srv->cfg.max_connections) srv->cfg.max_connections = 1024;
  if (!srv->cfg.max_conns_per_did) srv->cfg.max_conns_per_did = 16;
  if (!srv->cfg.max_frames_before_auth) srv->cfg.max_frames_before_auth = 16;
  int rc = srv->st->vt->secret_get(srv->st, IDENTITY_KEY_NAME, srv->key_seed);
  if (rc == HM_ERR_NOT_FOUND) {
    env->random(env->ctx, srv->key_seed, sizeof srv->key_seed);
    rc = srv->st->vt->secret_put(srv->st, IDENTITY_KEY_NAME, srv->key_seed);
  }
  if (rc == HM_OK) rc = hm_ed25519_seed_keypair(srv->key_pk, srv->key_sk, srv->key_seed);
  if (rc == HM_OK) rc = hm_didkey_encode(srv->did, sizeof srv->did, srv->key_pk);
  if (rc != HM_OK) {
    hm_server_free(srv);
    return rc;
  }
  *out = srv;
  return HM_OK;
}

static void conn_free(hm_server_conn *c) {
  hm_srv_voice_forget(c);
  hm_free(c->room);
  hm_free(c->room_cid);
  for (size_t i = 0; i < c->n_mls_sent; i++) hm_free(c->mls_sent[i]);
  hm_free(c->mls_sent);
  hm_free(c->did);
  hm_free(c);
}

void hm_server_free(hm_server *srv) {
  if (!srv) return;
  while (srv->conns) {
    hm_server_conn *c = srv->conns;
    srv->conns = c->next;
    conn_free(c);
  }
  hm_srv_rooms_free(srv);
  for (size_t i = 0; i < srv->rate_nb; i++) {
    while (srv->rates[i]) {
      hm_rate_entry *r = srv->rates[i];
      srv->rates[i] = r->next;
      hm_free(r->did);
      hm_free(r);
    }
  }
  hm_free(srv->rates);
  while (srv->calls) {
    struct hm_sfu_call *k = srv->calls;
    srv->calls = k->next;
    hm_free(k->request_id);
    hm_free(k);
  }
  while (srv->mod) {
    hm_mod_entry *e = srv->mod;
    srv->mod = e->next;
    hm_free(e->key);
    hm_free(e->times);
    hm_free(e);
  }
  while (srv->presence) {
    hm_presence_entry *e = srv->presence;
    srv->presence = e->next;
    hm_free(e->did);
    hm_free(e);
  }
  while (srv->slow) {
    hm_slow_entry *e = srv->slow;
    srv->slow = e->next;
    hm_free(e->key);
    hm_free(e);
  }
  hm_free(srv->did_tab);
  hm_free(srv->timers);
  sodium_memzero(srv->key_seed, sizeof srv->key_seed);
  sodium_memzero(srv->key_sk, sizeof srv->key_sk);
  hm_free(srv);
}

size_t hm_server_conn_count(const hm_server *srv) { return srv->n_conns; }
const char *hm_server_conn_did(const hm_server_conn *conn) { return conn->did; }

#define TIMER_NONE ((size_t)-1)
static void timer_file(hm_server *srv, hm_server_conn *c);
static void timer_remove(hm_server *srv, hm_server_conn *c);

hm_server_conn *hm_server_conn_open(hm_server *srv, void *handle) {
  if (srv->cap_timers < srv->n_conns + 1) { /* every connection can be filed: no failure later */
    size_t nc = srv->cap_timers ? srv->cap_timers * 2 : 64;
    hm_server_conn **nt = hm_realloc(srv->timers, nc * sizeof *nt);
    if (!nt) return NULL;
    srv->timers = nt;
    srv->cap_timers = nc;
  }
  hm_server_conn *c = hm_calloc(1, sizeof *c);
  if (!c) return NULL;
  c->handle = handle;
  c->opened_ms = hm_srv_now(srv);
  c->last_rx_ms = c->last_ping_ms = c->opened_ms;
  c->timer_pos = TIMER_NONE;
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
  srv->n_conns++;
  timer_file(srv, c);
  if (srv->n_conns > srv->cfg.max_connections) hm_srv_close(srv, c, 1013, "Too many connections");
  return c;
}

void hm_server_conn_closed(hm_server *srv, hm_server_conn *c) {
  if (!c) return;
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  srv->n_conns--;
  timer_remove(srv, c);
  did_index_remove(srv, c); /* nothing reaches c from here on, by list or by DID */
  if (c->room) hm_srv_voice_leave(srv, c); /* R-VOICE-8 (c is already unlinked) */
  for (struct hm_sfu_call *k = srv->calls; k; k = k->next)
    if (k->conn == c) k->conn = NULL; /* R-SFU-11: the result will be dropped */
  char *did = c->did;
  c->did = NULL;
  conn_free(c);
  if (did) {
    /* R-AUTH-22: offline only when the DID's last authenticated connection is gone. */
    if (!hm_srv_did_online(srv, did)) {
      hm_srv_presence_forget(srv, did);
      hm_srv_presence(srv, did, "offline", NULL);
    }
    hm_free(did);
  }
}

void hm_server_conn_activity(hm_server *srv, hm_server_conn *c) {
  if (c) c->last_rx_ms = hm_srv_now(srv);
}

/* ---- timers ------------------------------------------------------------------------------
 * Only connections with a pending deadline are visited by the tick: a min-heap ordered by
 * the deadline each connection was filed under. */

static int64_t keepalive_of(const hm_server *srv) { return srv->env.ping ? (int64_t)srv->cfg.keepalive_ms : 0; }

/* The connection's next deadline, or INT64_MAX when it has none. */
static int64_t conn_deadline(const hm_server *srv, const hm_server_conn *c) {
  int64_t at = INT64_MAX, ka = keepalive_of(srv);
  if (c->closing) return at;
  if (!c->did) at = c->opened_ms + (int64_t)srv->cfg.auth_timeout_ms;
  if (ka > 0) {
    int64_t ping = c->last_ping_ms + ka, dead = c->last_rx_ms + 2 * ka;
    if (ping < at) at = ping;
    if (dead < at) at = dead;
  }
  return at;
}

static void timer_set(hm_server *srv, size_t i, hm_server_conn *c) {
  srv->timers[i] = c;
  c->timer_pos = i;
}

static void timer_up(hm_server *srv, size_t i) {
  hm_server_conn *c = srv->timers[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (srv->timers[p]->timer_at <= c->timer_at) break;
    timer_set(srv, i, srv->timers[p]);
    i = p;
  }
  timer_set(srv, i, c);
}

static void timer_down(hm_server *srv, size_t i) {
  hm_server_conn *c = srv->timers[i];
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    int64_t best = c->timer_at;
    if (l < srv->n_timers && srv->timers[l]->timer_at < best) m = l, best = srv->timers[l]->timer_at;
    if (l + 1 < srv->n_timers && srv->timers[l + 1]->timer_at < best) m = l + 1;
    if (m == i) break;
    timer_set(srv, i, srv->timers[m]);
    i = m;
  }
  timer_set(srv, i, c);
}

/* File c under its current deadline (capacity was reserved when it opened). */
static void timer_file(hm_server *srv, hm_server_conn *c) {
  int64_t at = conn_deadline(srv, c);
  if (at == INT64_MAX || c->timer_pos != TIMER_NONE) return;
  c->timer_at = at;
  timer_set(srv, srv->n_timers++, c);
  timer_up(srv, c->timer_pos);
}

static void timer_remove(hm_server *srv, hm_server_conn *c) {
  size_t i = c->timer_pos;
  if (i == TIMER_NONE) return;
  c->timer_pos = TIMER_NONE;
  hm_server_conn *last = srv->timers[--srv->n_timers];
  if (last == c) return;
  timer_set(srv, i, last);
  timer_up(srv, i);
  timer_down(srv, last->timer_pos);
}

int64_t hm_server_next_deadline(const hm_server *srv) {
  return srv->n_timers ? srv->timers[0]->timer_at : INT64_MAX;
}

void hm_server_tick(hm_server *srv, int64_t now_ms) {
  int64_t ka = keepalive_of(srv);
  while (srv->n_timers && srv->timers[0]->timer_at <= now_ms) {
    hm_server_conn *c = srv->timers[0];
    timer_remove(srv, c);
    if (c->closing) continue; /* no timers once closing; freed by hm_server_conn_closed */
    if (!c->did && now_ms - c->opened_ms >= (int64_t)srv->cfg.auth_timeout_ms) {
      hm_srv_close(srv, c, 4001, "Authentication timeout");
      continue;
    }
    if (ka > 0) {
      if (now_ms - c->last_rx_ms >= 2 * ka) {
        hm_srv_close(srv, c, 4005, "Keepalive timeout"); /* R-TRN-11, R-CLOSE-6 */
        continue;
      } else if (now_ms - c->last_ping_ms >= ka) {
        c->last_ping_ms = now_ms;
        srv->env.ping(srv->env.ctx, c->handle);
      }
    }
    timer_file(srv, c); /* the next deadline (later than now_ms: the due ones were handled) */
  }
  /* Drop rate windows that ended, once per window length: rate_count resets an ended
   * window by itself, so this only bounds memory (entries live at most two windows). */
  if (srv->rate_nb && now_ms - srv->rate_swept_ms >= (int64_t)srv->cfg.rate_window_ms) {
    srv->rate_swept_ms = now_ms;
    for (size_t i = 0; i < srv->rate_nb; i++) {
      hm_rate_entry **pp = &srv->rates[i];
      while (*pp) {
        hm_rate_entry *r = *pp;
        if (now_ms - r->window_start >= (int64_t)srv->cfg.rate_window_ms) {
          *pp = r->next;
          hm_free(r->did);
          hm_free(r);
          srv->n_rates--;
        } else {
          pp = &r->next;
        }
      }
    }
  }
}

void hm_server_shutdown(hm_server *srv) {
  for (hm_server_conn *c = srv->conns; c; c = c->next) hm_srv_close(srv, c, 1001, "Server shutting down");
}

/* ---- rate limit (R-RATE-1) ---------------------------------------------------------- */

/* Counts one frame against did's window; returns 1 when it is over the budget. */
static void rate_grow(hm_server *srv) {
  size_t nb = srv->rate_nb ? srv->rate_nb * 2 : 64;
  hm_rate_entry **tab = hm_calloc(nb, sizeof *tab);
  if (!tab) return; /* keep the current table: longer chains */
  for (size_t i = 0; i < srv->rate_nb; i++) {
    while (srv->rates[i]) {
      hm_rate_entry *r = srv->rates[i];
      srv->rates[i] = r->next;
      size_t b = did_hash(r->did) & (nb - 1);
      r->next = tab[b];
      tab[b] = r;
    }
  }
  hm_free(srv->rates);
  srv->rates = tab;
  srv->rate_nb = nb;
}

static int rate_count(hm_server *srv, const char *did) {
  if (!srv->cfg.rate_max_frames || !srv->cfg.rate_window_ms) return 0;
  int64_t now = hm_srv_now(srv);
  if (srv->n_rates >= srv->rate_nb) rate_grow(srv);
  if (!srv->rate_nb) return 0; /* out of memory: do not refuse honest traffic for it */
  hm_rate_entry **head = &srv->rates[did_hash(did) & (srv->rate_nb - 1)], *r;
  for (r = *head; r; r = r->next)
    if (strcmp(r->did, did) == 0) break;
  if (!r) {
    r = hm_calloc(1, sizeof *r);
    if (!r || !(r->did = hm_strdup(did))) {
      hm_free(r);
      return 0; /* out of memory: do not refuse honest traffic for it */
    }
    r->window_start = now;
    r->next = *head;
    *head = r;
    srv->n_rates++;
  }
  if (now - r->window_start >= (int64_t)srv->cfg.rate_window_ms) {
    r->window_start = now;
    r->count = 0;
  }
  r->count++;
  return r->count > srv->cfg.rate_max_frames;
}

/* ---- envelope -------------------------------------------------------------------------- */

static const char *str_field(const hm_json *o, const char *key) {
  hm_json *v = hm_json_object_getc(o, key);
  return hm_json_kind_of(v) == HM_JSON_STRING ? hm_json_string(v, NULL) : NULL;
}

/* R-ENV-4: the optional envelope fields. Returns the name of the first bad one, or NULL. */
static const char *envelope_bad_field(const hm_json *env) {
  hm_json *v;
  size_t n;
  const char *s;
  if ((v = hm_json_object_getc(env, "id")) && hm_json_kind_of(v) != HM_JSON_NULL) {
    if (hm_json_kind_of(v) != HM_JSON_STRING) return "id";
    s = hm_json_string(v, &n);
    size_t u = hm_utf16_len(s, n);
    if (u < 1 || u > 128) return "id";
  }
  if ((v = hm_json_object_getc(env, "timestamp")) && hm_json_kind_of(v) != HM_JSON_NULL) {
    if (hm_json_kind_of(v) != HM_JSON_STRING) return "timestamp";
    s = hm_json_string(v, &n);
    if (hm_utf16_len(s, n) > 64) return "timestamp";
  }
  if ((v = hm_json_object_getc(env, "sender")) && hm_json_kind_of(v) != HM_JSON_NULL) {
    if (hm_json_kind_of(v) != HM_JSON_STRING) return "sender";
    s = hm_json_string(v, &n);
    if (hm_utf16_len(s, n) > 256) return "sender";
  }
  if ((v = hm_json_object_getc(env, "proof")) && hm_json_kind_of(v) != HM_JSON_NULL &&
      hm_json_kind_of(v) != HM_JSON_OBJECT)
    return "proof";
  return NULL;
}

/* JavaScript truthiness of a payload (R-AUTH-14). */
static int js_truthy(const hm_json *v) {
  switch (hm_json_kind_of(v)) {
    case HM_JSON_NULL:
    case HM_JSON_FALSE:
      return 0;
    case HM_JSON_NUMBER: {
      double d = hm_json_number(v);
      return d != 0 && !isnan(d);
    }
    case HM_JSON_STRING: {
      size_t n;
      hm_json_string(v, &n);
      return n > 0;
    }
    default:
      return 1;
  }
}

/* ---- payload validation (R-ENV-5, R-ENV-12, R-LIM-2, R-LIM-3, R-BIN-3) -------------- */

static int is_integer(const hm_json *v) {
  if (hm_json_kind_of(v) != HM_JSON_NUMBER) return 0;
  double d = hm_json_number(v);
  return isfinite(d) && floor(d) == d;
}

/* A canonical {"__type":"Uint8Array","data":<std base64>} object. */
static int codec_valid(const hm_json *o) {
  if (hm_json_object_size(o) != 2) return 0;
  hm_json *t = hm_json_object_getc(o, "__type"), *d = hm_json_object_getc(o, "data");
  if (!hm_json_string_is(t, "Uint8Array") || hm_json_kind_of(d) != HM_JSON_STRING) return 0;
  size_t n;
  const char *s = hm_json_string(d, &n);
  if (n % 4) return 0;
  if (n == 0) return 1;
  uint8_t *buf = hm_malloc(hm_base64_decoded_maxlen(n) + 1);
  if (!buf) return 0;
  size_t outlen;
  int rc = hm_base64_decode(buf, hm_base64_decoded_maxlen(n) + 1, &outlen, s, n, 0);
  hm_free(buf);
  return rc == HM_OK;
}

static int is_codec_object(const hm_json *v) {
  return hm_json_kind_of(v) == HM_JSON_OBJECT && hm_json_string_is(hm_json_object_getc(v, "__type"), "Uint8Array");
}

/* Every Uint8Array codec object anywhere under v must be canonical. */
static int codecs_valid(const hm_json *v) {
  hm_json_kind k = hm_json_kind_of(v);
  if (k == HM_JSON_OBJECT) {
    if (is_codec_object(v)) return codec_valid(v);
    for (size_t i = 0; i < hm_json_object_size(v); i++)
      if (!codecs_valid(hm_json_object_value_at(v, i))) return 0;
  } else if (k == HM_JSON_ARRAY) {
    for (size_t i = 0; i < hm_json_array_size(v); i++)
      if (!codecs_valid(hm_json_array_get(v, i))) return 0;
  }
  return 1;
}

static int field_type_ok(const hm_json *v, unsigned types) {
  if (types & HM_FT_ANY) return 1;
  switch (hm_json_kind_of(v)) {
    case HM_JSON_STRING:
      return (types & HM_FT_STRING) != 0;
    case HM_JSON_NUMBER:
      return (types & HM_FT_NUMBER) || ((types & HM_FT_INTEGER) && is_integer(v));
    case HM_JSON_TRUE:
    case HM_JSON_FALSE:
      return (types & HM_FT_BOOLEAN) != 0;
    case HM_JSON_ARRAY:
      return (types & HM_FT_ARRAY) != 0;
    case HM_JSON_OBJECT:
      if ((types & HM_FT_BYTES) && is_codec_object(v)) return 1;
      return (types & HM_FT_OBJECT) != 0;
    default:
      return 0;
  }
}

static int blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strchr(" \t\n\r\v\f", s[i])) return 0;
  return 1;
}

static int is_did_field(const char *name) {
  return !strcmp(name, "targetDID") || !strcmp(name, "memberDID") || !strcmp(name, "recipientDID") ||
         !strcmp(name, "did");
}

/* Returns 1 if the payload passed; otherwise it answered the frame. */
static int validate_payload(hm_frame *f) {
  const hm_reg_type *r = f->reg;
  char msg[160];
  if (r->n_fields == 0) return 1; /* payload ignored (auth.token.request, community.list, ...) */
  /* The recovery types check their fields themselves, with upstream's texts (recovery.md). */
  if (!strncmp(r->type, "recovery.", 9)) {
    if (hm_json_kind_of(f->payload) != HM_JSON_OBJECT) {
      hm_frame_error(f, "INVALID_PAYLOAD", "Missing or invalid payload");
      return 0;
    }
    if (!codecs_valid(f->payload)) {
      hm_frame_error(f, "INVALID_PAYLOAD", "Invalid Uint8Array encoding");
      return 0;
    }
    return 1;
  }
  /* R-MISC-7: a type without required payload fields takes an absent or null payload as {} */
  if (!f->payload || hm_json_kind_of(f->payload) == HM_JSON_NULL) {
    int any_required = 0;
    for (size_t i = 0; i < r->n_fields; i++) any_required |= hm_registry_fields[r->first_field + i].required;
    if (!any_required) return 1;
  }
  if (hm_json_kind_of(f->payload) != HM_JSON_OBJECT) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Missing or invalid payload");
    return 0;
  }
  for (size_t i = 0; i < r->n_fields; i++) {
    const hm_reg_field *fd = &hm_registry_fields[r->first_field + i];
    hm_json *v = hm_json_object_getc(f->payload, fd->name);
    /* moderation.config.update checks `rules` itself, after the authz checks, with
     * upstream's text "rules must be an array" (moderation.md). */
    if (!strcmp(r->type, "moderation.config.update") && !strcmp(fd->name, "rules")) continue;
    /* media.upload.request checks size, data and the sanitised filename itself, after the
     * authz checks, with upstream's texts (media.md steps 5 to 10). */
    if (!strcmp(r->type, "media.upload.request") &&
        (!strcmp(fd->name, "size") || !strcmp(fd->name, "data") ||
         (!strcmp(fd->name, "filename") && hm_json_kind_of(v) == HM_JSON_STRING && !blank(hm_json_string(v, NULL), strlen(hm_json_string(v, NULL))))))
      continue;
    if (!v || hm_json_kind_of(v) == HM_JSON_NULL) {
      if (fd->required) goto bad;
      continue;
    }
    if (!field_type_ok(v, fd->types)) goto bad;
    if (hm_json_kind_of(v) == HM_JSON_STRING) {
      size_t n;
      const char *s = hm_json_string(v, &n);
      if (fd->required && (fd->types & HM_FT_STRING) && blank(s, n)) goto bad;
      if (is_did_field(fd->name) && (n < 4 || memcmp(s, "did:", 4) != 0)) goto bad; /* R-CHAN-2 */
      long max = fd->max >= 0 ? fd->max : (strcmp(fd->name, "data") == 0 ? -1 : 4000);
      if (max >= 0 && hm_utf16_len(s, n) > (size_t)max) {
        snprintf(msg, sizeof msg, "%s exceeds maximum length of %ld", fd->name, max);
        hm_frame_error(f, "INVALID_PAYLOAD", msg);
        return 0;
      }
    } else if (hm_json_kind_of(v) == HM_JSON_ARRAY) {
      long max = fd->max >= 0 ? fd->max : 1000;
      /* mls.keypackage.fetch answers an oversized `dids` with its own text (R-MLS-8) */
      if (!strcmp(r->type, "mls.keypackage.fetch") && hm_json_array_size(v) > (size_t)max) goto bad;
      if (hm_json_array_size(v) > (size_t)max) {
        snprintf(msg, sizeof msg, "%s has too many items (max %ld)", fd->name, max);
        hm_frame_error(f, "INVALID_PAYLOAD", msg);
        return 0;
      }
    }
    continue;
  bad:
    snprintf(msg, sizeof msg, "Missing or invalid field: %s", fd->name);
    hm_frame_error(f, "INVALID_PAYLOAD", msg);
    return 0;
  }
  if (!codecs_valid(f->payload)) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Invalid Uint8Array encoding");
    return 0;
  }
  return 1;
}

/* ---- authentication ---------------------------------------------------------------- */

static int revoked_cb(void *ctx, const char *id) {
  hm_server *srv = ctx;
  for (size_t i = 0; i < srv->cfg.n_revoked_credentials; i++)
    if (strcmp(srv->cfg.revoked_credentials[i], id) == 0) return 1;
  return 0;
}

static int replay_cb(void *ctx, const char *holder, const char *proof_value, int64_t expires_ms) {
  hm_server *srv = ctx;
  (void)holder;
  /* Keyed on the signature (R-AUTH-10); kept for 2W after now at least (R-CRY-VP-7). */
  int64_t now = hm_srv_now(srv), keep = now + 2 * (int64_t)srv->cfg.vp_freshness_s * 1000;
  if (expires_ms < keep) expires_ms = keep;
  char key[160];
  snprintf(key, sizeof key, "vp:%s", proof_value);
  return srv->st->vt->replay_add(srv->st, key, expires_ms, now);
}

/* The shared success path of both authentication paths (R-AUTH-16, R-TOK-2, R-AUTH-18). */
static void auth_success(hm_server *srv, hm_server_conn *c, const char *did) {
  if (did_conn_count(srv, did) >= srv->cfg.max_conns_per_did) {
    hm_srv_error(srv, c, "QUOTA_EXCEEDED", "Too many connections for this identity", NULL);
    hm_srv_close(srv, c, 1013, "Too many connections");
    return;
  }
  int64_t now = hm_srv_now(srv);
  char *token = NULL;
  int rc = hm_token_issue_sk(&token, NULL, did, now, HM_TOKEN_DEFAULT_TTL_MS, srv->key_sk);
  char *d = rc == HM_OK ? hm_strdup(did) : NULL;
  hm_json *p = hm_json_new_object();
  if (rc == HM_OK && d && p) {
    rc = hm_json_object_setc(p, "authenticated", hm_json_new_bool(1));
    if (rc == HM_OK) rc = hm_json_object_setc(p, "did", hm_json_new_cstr(did));
    if (rc == HM_OK) rc = hm_json_object_setc(p, "sessionToken", hm_json_new_cstr(token));
  } else {
    rc = HM_ERR_NOMEM;
  }
  if (rc == HM_OK) rc = srv->st->vt->known_did_add(srv->st, did, now);
  hm_free(token);
  if (rc != HM_OK) {
    hm_free(d);
    hm_json_free(p);
    hm_srv_log(srv, HM_LOG_ERROR, "authentication of %s failed: %s", did, hm_strerror(rc));
    hm_srv_error(srv, c, "AUTH_INVALID", "Authentication error", NULL);
    hm_srv_close(srv, c, 4002, "Authentication failed");
    return;
  }
  int first = !hm_srv_did_online(srv, did);
  c->did = d;
  c->did_h = did_hash(d);
  did_index_add(srv, c);
  hm_srv_log(srv, HM_LOG_INFO, "authenticated %s", did);
  hm_srv_send(srv, c, "sync.response", p);
  if (hm_srv_resync(srv, c) != HM_OK) hm_srv_log(srv, HM_LOG_ERROR, "resync of %s failed", did);
  hm_srv_recovery_login(srv, c);
  if (first) hm_srv_presence(srv, did, "online", c);
}

static void auth_fail(hm_server *srv, hm_server_conn *c, const char *message) {
  hm_srv_error(srv, c, "AUTH_INVALID", message, NULL);
  hm_srv_close(srv, c, 4002, "Authentication failed");
}

static const char *vp_failure_message(const hm_verify_result *res, int rc) {
  switch (rc) {
    case HM_ERR_STALE:
      return "Stale VP";
    case HM_ERR_REPLAY:
      return "Replayed VP";
    case HM_ERR_NOMEM:
    case HM_ERR_IO:
    case HM_ERR_INTERNAL:
      return "Authentication error";
    default:
      break;
  }
  if (res->credential_index < 0) return "Invalid VP";
  if (rc == HM_ERR_EXPIRED) return "Expired VC";
  if (rc == HM_ERR_REVOKED) return "Revoked VC";
  return "Invalid VC";
}

static void auth_vp(hm_server *srv, hm_server_conn *c, const hm_json *env, const hm_json *vp, size_t dups) {
  const char *sender = str_field(env, "sender");
  const char *holder = str_field(vp, "holder");
  size_t ncred = hm_json_array_size(hm_json_object_getc(vp, "verifiableCredential"));
  /* a signed object with a repeated key (R-CRY-JSON-5) and more than 16 credentials
   * (R-AUTH-11) are refused before any signature work */
  if (hm_json_kind_of(vp) != HM_JSON_OBJECT || !holder || dups || ncred > 16) {
    auth_fail(srv, c, "Invalid VP");
    return;
  }
  /* R-AUTH-23 */
  if (sender && *sender && strcmp(sender, holder) != 0) {
    auth_fail(srv, c, "Invalid VP");
    return;
  }
  hm_verify_opts o = {0};
  o.profile = HM_PROFILE_HARDENED;
  o.now_ms = hm_srv_now(srv);
  o.freshness_s = srv->cfg.vp_freshness_s;
  o.trusted_issuers = srv->cfg.trusted_issuers;
  o.n_trusted_issuers = srv->cfg.n_trusted_issuers;
  o.is_revoked = revoked_cb;
  o.revoked_ctx = srv;
  o.replay = replay_cb;
  o.replay_ctx = srv;
  hm_verify_result res = {0, "ok", -1};
  int rc = hm_vp_verify(vp, &o, &res);
  if (rc != HM_OK) {
    const char *m = vp_failure_message(&res, rc);
    hm_srv_log(srv, HM_LOG_INFO, "VP login refused: %s (%s, credential %ld)", m, res.reason ? res.reason : "",
               res.credential_index);
    auth_fail(srv, c, m);
    return;
  }
  auth_success(srv, c, holder);
}

static void token_expired(hm_server *srv, hm_server_conn *c) {
  srv->m_auth_failures++;
  hm_json *p = hm_json_new_object();
  if (p && hm_json_object_setc(p, "message", hm_json_new_cstr("Token invalid or expired")) != HM_OK) {
    hm_json_free(p);
    p = NULL;
  }
  if (!p) {
    hm_srv_close(srv, c, 1011, "Internal error");
    return;
  }
  hm_srv_send(srv, c, "auth.token.expired", p);
}

static void auth_token(hm_server *srv, hm_server_conn *c, const hm_json *env, const hm_json *payload) {
  hm_json *t = hm_json_object_getc(payload, "token");
  size_t n;
  const char *tok = hm_json_kind_of(t) == HM_JSON_STRING ? hm_json_string(t, &n) : NULL;
  if (!tok || n > 4096) {
    token_expired(srv, c);
    return;
  }
  int64_t now = hm_srv_now(srv);
  hm_token_claims cl = {0};
  int rc = hm_token_verify(&cl, tok, n, srv->key_pk, now, HM_ED25519_STRICT);
  int ok = rc == HM_OK;
  /* R-TOK-7 on top of hm_token_verify: now < exp, lifetime bound, a did:key Ed25519 DID. */
  if (ok && !(now < cl.exp_ms && cl.exp_ms - cl.iat_ms <= HM_TOKEN_DEFAULT_TTL_MS)) ok = 0;
  if (ok) {
    uint8_t pk[32], xpk[32];
    if (hm_didkey_decode(pk, xpk, cl.did, HM_DID_HARDENED) != HM_OK) ok = 0;
  }
  const char *sender = str_field(env, "sender");
  if (ok && sender && *sender && strcmp(sender, cl.did) != 0) ok = 0; /* R-TOK-8 */
  if (!ok) {
    hm_token_claims_clear(&cl);
    token_expired(srv, c);
    return;
  }
  auth_success(srv, c, cl.did);
  hm_token_claims_clear(&cl);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

const hm_reg_type *hm_registry_find(const char *type, size_t len, hm_reg_direction dir) {
  size_t lo = 0, hi = hm_registry_len;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const hm_reg_type *r = &hm_registry[mid];
    size_t rl = strlen(r->type);
    int c = memcmp(r->type, type, rl < len ? rl : len);
    if (c == 0) c = rl < len ? -1 : rl > len ? 1 : 0;
    if (c == 0) c = (int)r->direction - (int)dir;
    if (c == 0) return r;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

static hm_handler_fn handler_for(const char *type) {
  for (const hm_handler *h = hm_server_handlers; h->type; h++)
    if (strcmp(h->type, type) == 0) return h->fn;
  return NULL;
}

const char *const *hm_server_handled_types(void) {
  static const char *types[128];
  size_t n = 0;
  for (const hm_handler *h = hm_server_handlers; h->type && n + 1 < sizeof types / sizeof types[0]; h++)
    types[n++] = h->type;
  types[n] = NULL;
  return types;
}

/* "Unknown message type: <type>" with <type> cut to 100 UTF-16 code units (R-ENV-6). */
static void unknown_type(hm_server *srv, hm_server_conn *c, const char *type, size_t len, const char *rid) {
  size_t cut = 0, units = 0;
  while (cut < len) {
    unsigned char b = (unsigned char)type[cut];
    size_t w = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    size_t u = w == 4 ? 2 : 1;
    if (units + u > 100 || cut + w > len) break;
    units += u;
    cut += w;
  }
  char *msg = hm_malloc(cut + 32);
  if (!msg) {
    hm_srv_close(srv, c, 1011, "Internal error");
    return;
  }
  memcpy(msg, "Unknown message type: ", 22);
  memcpy(msg + 22, type, cut);
  msg[22 + cut] = 0;
  hm_srv_error(srv, c, "UNKNOWN_TYPE", msg, rid);
  hm_free(msg);
}

/* The FORBIDDEN text for a missing permission: upstream's where it has one (R-AUTHZ-21). */
static const char *permission_denied_text(const char *type, const char *perm, char *buf, size_t cap) {
  static const struct {
    const char *type, *text;
  } texts[] = {
      {"community.update", "Only admins can update community settings"},
      {"community.ban", "Only admins can ban users"},
      {"community.unban", "Only admins can unban users"},
      {"community.kick", "Only admins can kick users"},
      {"role.create", "Only admins can create roles"},
      {"role.update", "Only admins can update roles"},
      {"role.delete", "Only admins can delete roles"},
      {"role.assign", "Only admins can assign roles"},
      {"role.remove", "Only admins can remove roles"},
      {"channel.create", "You do not have permission to manage channels"},
      {"channel.update", "You do not have permission to manage channels"},
      {"channel.delete.admin", "You do not have permission to manage channels"},
      {"channel.pin", "You do not have permission to pin messages"},
      {"channel.unpin", "You do not have permission to unpin messages"},
      {"moderation.config.update", "Only admins can update moderation config"},
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if (!strcmp(texts[i].type, type)) return texts[i].text;
  snprintf(buf, cap, "Missing permission: %s", perm);
  return buf;
}

/* Frames whose envelope id names a stored object (R-ORD-4). */
static int needs_id(const char *type) {
  return strcmp(type, "channel.send") == 0 || strcmp(type, "dm.send") == 0 || strcmp(type, "thread.create") == 0 ||
         strcmp(type, "thread.send") == 0;
}

static void dispatch(hm_server *srv, hm_server_conn *c, const hm_json *env, int over_rate, size_t dups) {
  const char *rid = NULL;
  hm_json *idv = hm_json_object_getc(env, "id");
  if (hm_json_kind_of(env) == HM_JSON_OBJECT && hm_json_kind_of(idv) == HM_JSON_STRING) rid = hm_json_string(idv, NULL);
  if (over_rate) {
    hm_srv_error(srv, c, "RATE_LIMITED", "Rate limit exceeded", rid);
    return;
  }
  hm_json *tv = hm_json_object_getc(env, "type");
  size_t tlen = 0;
  const char *type = hm_json_kind_of(tv) == HM_JSON_STRING ? hm_json_string(tv, &tlen) : NULL;
  if (hm_json_kind_of(env) != HM_JSON_OBJECT || !type || tlen == 0) {
    hm_srv_error(srv, c, "INVALID_MESSAGE", "Missing or invalid message type", rid);
    return;
  }
  const char *bad = envelope_bad_field(env);
  if (bad) {
    char msg[64];
    snprintf(msg, sizeof msg, "Invalid envelope field: %s", bad);
    hm_srv_error(srv, c, "INVALID_MESSAGE", msg, rid);
    return;
  }
  const hm_reg_type *r = hm_registry_find(type, tlen, HM_REG_C2S);
  if (!r || !r->since_auth) { /* unknown, s2c-only, or a pre-auth type (R-AUTH-17) */
    unknown_type(srv, c, type, tlen, rid);
    return;
  }
  if (r->status == HM_REG_DEPRECATED) {
    hm_srv_error(srv, c, "DEPRECATED", DEPRECATED_TEXT, rid);
    return;
  }
  const char *sender = str_field(env, "sender");
  if (sender && *sender && strcmp(sender, c->did) != 0) { /* R-AUTHZ-4 */
    hm_srv_error(srv, c, "FORBIDDEN", "Sender does not match the authenticated identity", rid);
    return;
  }
  if (r->status == HM_REG_NOOP) return; /* R-MISC-6: accepted and ignored */
  if (needs_id(r->type) && !rid) {
    hm_srv_error(srv, c, "INVALID_MESSAGE", "Invalid envelope field: id", rid);
    return;
  }
  hm_frame f = {0};
  f.srv = srv;
  f.conn = c;
  f.reg = r;
  f.env = env;
  f.payload = hm_json_object_getc(env, "payload");
  f.id = rid;
  f.timestamp = str_field(env, "timestamp");
  f.duplicate_keys = dups;
  if (!validate_payload(&f)) return;
  if (hm_json_kind_of(f.payload) == HM_JSON_OBJECT) f.community_id = str_field(f.payload, "communityId");

  /* Generic authz from the registry terms: ban (R-AUTHZ-15/16) then membership (R-AUTHZ-8). */
  if ((r->authz & HM_AZ_NOT_BANNED) && f.community_id) {
    int b = srv->st->vt->ban_get(srv->st, f.community_id, c->did);
    if (b == HM_OK) {
      hm_frame_error(&f, "BANNED", "You are banned from this community");
      if (strcmp(r->type, "channel.send") == 0 || strcmp(r->type, "community.join") == 0)
        hm_srv_close(srv, c, 4003, "Banned");
      return;
    }
    if (b != HM_ERR_NOT_FOUND) {
      hm_frame_internal(&f, b);
      return;
    }
  }
  if ((r->authz & HM_AZ_MEMBER) && f.community_id) {
    int m = srv->st->vt->member_get(srv->st, f.community_id, c->did, NULL, NULL);
    if (m == HM_ERR_NOT_FOUND) {
      int forbidden = strcmp(r->type, "channel.history") == 0 || strcmp(r->type, "search.query") == 0;
      hm_frame_error(&f, forbidden ? "FORBIDDEN" : "NOT_MEMBER", "Not a member of this community");
      return;
    }
    if (m != HM_OK) {
      hm_frame_internal(&f, m);
      return;
    }
  }
  /* Permission (R-AUTHZ-19 .. R-AUTHZ-21): `admin` or the type's permission:<name> term. */
  if (f.community_id && ((r->authz & HM_AZ_ADMIN) || r->permission)) {
    const char *perm = (r->authz & HM_AZ_ADMIN) ? "admin" : r->permission;
    int held = 0, pr = hm_srv_has_permission(srv, f.community_id, c->did, perm, &held);
    if (pr != HM_OK) {
      hm_frame_internal(&f, pr);
      return;
    }
    if (!held) {
      char msg[96];
      hm_frame_error(&f, "FORBIDDEN", permission_denied_text(r->type, perm, msg, sizeof msg));
      return;
    }
  }
  hm_handler_fn fn = handler_for(r->type);
  if (!fn) {
    /* Honest answer for a registry type this skeleton does not implement yet. */
    hm_frame_error(&f, "INTERNAL", "Not implemented");
    return;
  }
  fn(&f);
}

void hm_server_conn_frame(hm_server *srv, hm_server_conn *c, const uint8_t *bytes, size_t len, int is_binary) {
  if (!c || c->closing) return;
  srv->m_frames_rx++;
  c->last_rx_ms = hm_srv_now(srv);
  if (len > HM_SERVER_MAX_FRAME) {
    hm_srv_close(srv, c, 1009, "Message too big");
    return;
  }
  if (!c->did && ++c->frames_before_auth > srv->cfg.max_frames_before_auth) {
    hm_srv_close(srv, c, 1008, "Too many frames before authentication"); /* R-LIM-5 */
    return;
  }
  int over_rate = c->did ? rate_count(srv, c->did) : 0;
  if (!utf8_valid(bytes, len)) {
    if (!is_binary) {
      hm_srv_close(srv, c, 1007, "Invalid UTF-8"); /* R-TRN-7 */
      return;
    }
    hm_srv_error(srv, c, "INVALID_MESSAGE", "Invalid UTF-8", NULL); /* R-TRN-8 */
    return;
  }
  hm_json *env = NULL;
  hm_json_parse_info info = {0};
  info.max_depth = 64; /* R-LIM-3 */
  int rc = hm_json_parse(&env, (const char *)bytes, len, 0, &info);
  if (rc == HM_ERR_JSON_DEPTH) {
    hm_srv_error(srv, c, "INVALID_MESSAGE", "JSON nesting too deep", NULL);
    return;
  }
  if (rc == HM_ERR_NOMEM) {
    hm_srv_error(srv, c, "INTERNAL", "Internal error", NULL);
    return;
  }
  if (rc != HM_OK) {
    hm_srv_error(srv, c, "INVALID_MESSAGE", "Invalid JSON", NULL); /* R-ENV-3 */
    return;
  }
  if (!c->did) {
    hm_json *tv = hm_json_object_getc(env, "type");
    hm_json *payload = hm_json_object_getc(env, "payload");
    hm_json *idv = hm_json_object_getc(env, "id");
    const char *rid = hm_json_kind_of(idv) == HM_JSON_STRING ? hm_json_string(idv, NULL) : NULL;
    int is_vp = hm_json_kind_of(env) == HM_JSON_OBJECT && hm_json_string_is(tv, "sync.state") && js_truthy(payload);
    int is_tok = hm_json_kind_of(env) == HM_JSON_OBJECT && hm_json_string_is(tv, "auth.token.verify") && payload &&
                 hm_json_kind_of(payload) != HM_JSON_NULL;
    if (!is_vp && !is_tok) {
      hm_srv_error(srv, c, "AUTH_REQUIRED", "Must authenticate first", rid); /* R-AUTH-14 */
    } else {
      const char *bad = envelope_bad_field(env);
      if (bad) {
        char msg[64];
        snprintf(msg, sizeof msg, "Invalid envelope field: %s", bad);
        hm_srv_error(srv, c, "INVALID_MESSAGE", msg, rid);
      } else if (is_vp) {
        auth_vp(srv, c, env, payload, info.duplicate_keys);
      } else {
        auth_token(srv, c, env, payload);
      }
    }
  } else {
    dispatch(srv, c, env, over_rate, info.duplicate_keys);
  }
  hm_json_free(env);
}

int hm_server_metrics(hm_server *srv, char **text) {
  size_t auth = 0, cap = 2048 + srv->m_n_errors * 96;
  for (hm_server_conn *c = srv->conns; c; c = c->next)
    if (c->did) auth++;
  char *out = hm_malloc(cap);
  if (!out) return HM_ERR_NOMEM;
  size_t k = (size_t)snprintf(out, cap,
                              "# TYPE harmony_connections gauge\nharmony_connections %zu\n"
                              "# TYPE harmony_authenticated_connections gauge\nharmony_authenticated_connections %zu\n"
                              "# TYPE harmony_frames_received_total counter\nharmony_frames_received_total %llu\n"
                              "# TYPE harmony_frames_sent_total counter\nharmony_frames_sent_total %llu\n"
                              "# TYPE harmony_auth_failures_total counter\nharmony_auth_failures_total %llu\n"
                              "# TYPE harmony_messages_stored_total counter\nharmony_messages_stored_total %llu\n"
                              "# TYPE harmony_sfu_requests_total counter\n"
                              "harmony_sfu_requests_total{outcome=\"ok\"} %llu\n"
                              "harmony_sfu_requests_total{outcome=\"error\"} %llu\n"
                              "# TYPE harmony_errors_total counter\n",
                              srv->n_conns, auth, (unsigned long long)srv->m_frames_rx,
                              (unsigned long long)srv->m_frames_tx, (unsigned long long)srv->m_auth_failures,
                              (unsigned long long)srv->m_messages_stored, (unsigned long long)srv->m_sfu_ok,
                              (unsigned long long)srv->m_sfu_err);
  for (size_t i = 0; i < srv->m_n_errors && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, "harmony_errors_total{code=\"%s\"} %llu\n", srv->m_errors[i].code,
                          (unsigned long long)srv->m_errors[i].n);
  *text = out;
  return HM_OK;
}
