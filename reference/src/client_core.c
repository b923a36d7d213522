/* client_core.c - life cycle, outgoing queue, authentication, resync and dispatch of the
 * sans-I/O client (harmony/client.h). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "client_internal.h"
#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/dm.h"
#include "harmony/mls.h"
#include "harmony/vc.h"

int64_t hm_client__now(hm_client *c) { return c->env.now_ms(c->env.ctx); }

void hm_client__rand(hm_client *c, uint8_t *buf, size_t len) {
  if (c->env.random)
    c->env.random(c->env.ctx, buf, len);
  else
    hm_random_bytes(buf, len);
}

hm_json *hm_client__bytes(const uint8_t *p, size_t len) {
  size_t cap = hm_base64_encoded_len(len, 0);
  char *b64 = hm_malloc(cap ? cap : 1);
  if (!b64) return NULL;
  if (hm_base64_encode(b64, cap, p, len, 0) != HM_OK) {
    hm_free(b64);
    return NULL;
  }
  hm_json *o = hm_json_new_object();
  if (o && (hm_json_object_setc(o, "__type", hm_json_new_cstr("Uint8Array")) != HM_OK ||
            hm_json_object_setc(o, "data", hm_json_new_cstr(b64)) != HM_OK)) {
    hm_json_free(o);
    o = NULL;
  }
  hm_free(b64);
  return o;
}

hm_json *hm_client__byte_array(const uint8_t *p, size_t len) {
  hm_json *a = hm_json_new_array();
  for (size_t i = 0; a && i < len; i++)
    if (hm_json_array_append(a, hm_json_new_number(p[i])) != HM_OK) {
      hm_json_free(a);
      return NULL;
    }
  return a;
}

int hm_client__get_bytes(const hm_json *v, uint8_t *out, size_t cap, size_t *len, size_t want) {
  size_t n = 0;
  if (hm_json_kind_of(v) == HM_JSON_OBJECT) {
    const hm_json *t = hm_json_object_getc(v, "__type");
    size_t dl = 0;
    const char *d = hm_json_string(hm_json_object_getc(v, "data"), &dl);
    if (!hm_json_string_is(t, "Uint8Array") || !d) return HM_ERR_STRUCTURE;
    if (hm_base64_decoded_maxlen(dl) > cap && want == 0) return HM_ERR_STRUCTURE;
    uint8_t *tmp = hm_malloc(hm_base64_decoded_maxlen(dl) + 1);
    if (!tmp) return HM_ERR_NOMEM;
    int rc = hm_base64_decode(tmp, hm_base64_decoded_maxlen(dl) + 1, &n, d, dl, 0);
    if (rc == HM_OK && n <= cap) memcpy(out, tmp, n);
    hm_free_secret(tmp, hm_base64_decoded_maxlen(dl) + 1);
    if (rc != HM_OK || n > cap) return HM_ERR_STRUCTURE;
  } else if (hm_json_kind_of(v) == HM_JSON_ARRAY) {
    n = hm_json_array_size(v);
    if (n > cap) return HM_ERR_STRUCTURE;
    for (size_t i = 0; i < n; i++) {
      const hm_json *e = hm_json_array_get(v, i);
      double d = hm_json_number(e);
      if (hm_json_kind_of(e) != HM_JSON_NUMBER || d < 0 || d > 255 || d != (double)(int)d)
        return HM_ERR_STRUCTURE;
      out[i] = (uint8_t)d;
    }
  } else {
    return HM_ERR_STRUCTURE;
  }
  if (want && n != want) return HM_ERR_STRUCTURE;
  if (len) *len = n;
  return HM_OK;
}

const char *hm_client__str(const hm_json *o, const char *key) {
  return hm_json_string(hm_json_object_getc(o, key), NULL);
}

/* ---- life cycle ------------------------------------------------------------------ */

int hm_client_new(hm_client **out, const hm_client_env *env, const hm_identity *id) {
  if (!out || !env || !env->now_ms || !id || !id->did[0]) return HM_ERR_INVAL;
  *out = NULL;
  hm_client *c = hm_calloc(1, sizeof *c);
  if (!c) return HM_ERR_NOMEM;
  c->slots = hm_calloc(hm_client__n_s2c_types, sizeof *c->slots);
  if (!c->slots) {
    hm_free(c);
    return HM_ERR_NOMEM;
  }
  c->env = *env;
  c->auto_kp = 1;
  c->dm_settle_ms = HM_CLIENT_DM_SETTLE_MS;
  /* Copy the key material only; the document is not needed by the client. */
  memcpy(&c->id, id, sizeof c->id);
  c->id.document = NULL;
  c->id.document_len = 0;
  *out = c;
  return HM_OK;
}

static void out_clear(hm_client *c, int keep_user) {
  hm_client_out **pp = &c->out_head;
  c->out_tail = NULL;
  while (*pp) {
    hm_client_out *o = *pp;
    if (keep_user && o->user) {
      c->out_tail = o;
      pp = &o->next;
      continue;
    }
    *pp = o->next;
    hm_free(o->text);
    hm_free(o);
  }
}

static void follow_free(hm_client_fol *f) {
  hm_free(f->community);
  hm_free(f->channel);
  hm_json_free(f->clock);
  for (size_t i = 0; i < HM_CLIENT_SEEN_MAX; i++) hm_free(f->seen[i]);
  hm_free(f);
}

void hm_client_free(hm_client *c) {
  if (!c) return;
  out_clear(c, 0);
  while (c->follows) {
    hm_client_fol *f = c->follows;
    c->follows = f->next;
    follow_free(f);
  }
  hm_client__mls_free(c);
  while (c->dmpeers) {
    hm_client_dmpeer *d = c->dmpeers;
    c->dmpeers = d->next;
    while (d->held_head) {
      hm_client_out *o = d->held_head;
      d->held_head = o->next;
      hm_free(o->text);
      hm_free(o);
    }
    hm_free(d->did);
    hm_free(d);
  }
  if (c->token) hm_free_secret(c->token, strlen(c->token));
  hm_free(c->slots);
  sodium_memzero(&c->id, sizeof c->id);
  hm_free(c);
}

int hm_client_set_token(hm_client *c, const char *token) {
  if (!c) return HM_ERR_INVAL;
  char *t = NULL;
  if (token && *token && !(t = hm_strdup(token))) return HM_ERR_NOMEM;
  if (c->token) hm_free_secret(c->token, strlen(c->token));
  c->token = t;
  return HM_OK;
}

const char *hm_client_token(const hm_client *c) { return c ? c->token : NULL; }
hm_client_state hm_client_get_state(const hm_client *c) { return c ? c->state : HM_CLIENT_DISCONNECTED; }
const char *hm_client_did(const hm_client *c) { return c ? c->id.did : NULL; }
unsigned hm_client_attempts(const hm_client *c) { return c ? c->attempts : 0; }
int hm_client_auth_by_token(const hm_client *c) { return c ? c->by_token : 0; }

uint64_t hm_client_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms, uint32_t rnd) {
  if (base_ms == 0) base_ms = 1;
  if (max_ms < base_ms) max_ms = base_ms;
  uint64_t d = base_ms;
  for (unsigned i = 0; i < attempt && d < max_ms; i++) d = (d > max_ms / 2) ? max_ms : d * 2;
  if (d > max_ms) d = max_ms;
  uint64_t half = d / 2;
  return half + (uint64_t)rnd % (d - half + 1);
}

/* ---- outgoing ------------------------------------------------------------------ */

static int out_push(hm_client *c, char *text, size_t len, int user, int front) {
  hm_client_out *o = hm_calloc(1, sizeof *o);
  if (!o) {
    hm_free(text);
    return HM_ERR_NOMEM;
  }
  o->text = text;
  o->len = len;
  o->user = user;
  if (front) {
    o->next = c->out_head;
    c->out_head = o;
    if (!c->out_tail) c->out_tail = o;
  } else {
    if (c->out_tail)
      c->out_tail->next = o;
    else
      c->out_head = o;
    c->out_tail = o;
  }
  return HM_OK;
}

static void make_id(hm_client *c, char *buf, size_t cap) {
  uint8_t r[8];
  char hex[17];
  hm_client__rand(c, r, sizeof r);
  (void)hm_hex_encode(hex, sizeof hex, r, sizeof r);
  snprintf(buf, cap, "msg-%s-%llu", hex, (unsigned long long)++c->counter);
}

/* Build an envelope; payload ownership passes in. */
static int envelope_id(hm_client *c, char **text, size_t *len, const char *type, hm_json *payload,
                       const char *preset_id, char *id_out, size_t cap) {
  char id[48], ts[32];
  if (preset_id)
    snprintf(id, sizeof id, "%s", preset_id);
  else
    make_id(c, id, sizeof id);
  if (hm_iso8601_format(ts, hm_client__now(c)) != HM_OK) strcpy(ts, "1970-01-01T00:00:00.000Z");
  hm_json *env = hm_json_new_object();
  int rc = env ? HM_OK : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = hm_json_object_setc(env, "id", hm_json_new_cstr(id));
  if (rc == HM_OK) rc = hm_json_object_setc(env, "type", hm_json_new_cstr(type));
  if (rc == HM_OK) rc = hm_json_object_setc(env, "timestamp", hm_json_new_cstr(ts));
  if (rc == HM_OK) rc = hm_json_object_setc(env, "sender", hm_json_new_cstr(c->id.did));
  if (payload) {
    if (rc == HM_OK)
      rc = hm_json_object_setc(env, "payload", payload);
    else
      hm_json_free(payload);
  }
  if (rc == HM_OK) rc = hm_json_stringify(text, len, env);
  hm_json_free(env);
  if (rc == HM_OK && id_out && cap) snprintf(id_out, cap, "%s", id);
  return rc;
}

static int envelope(hm_client *c, char **text, size_t *len, const char *type, hm_json *payload,
                    char *id_out, size_t cap) {
  return envelope_id(c, text, len, type, payload, NULL, id_out, cap);
}

int hm_client__envelope(hm_client *c, char **text, size_t *len, const char *type, hm_json *payload,
                        char *id_out, size_t cap) {
  return envelope_id(c, text, len, type, payload, NULL, id_out, cap);
}

/* Build a message frame (channel.send / dm.send) with upstream's extra keys: "nonce" = the
 * envelope id and "clock" = {counter, authorDID} from our Lamport clock. Takes p. */
static int build_message(hm_client *c, const char *type, hm_json *p, char **text, size_t *len,
                         char *id_out, size_t cap) {
  char id[48];
  make_id(c, id, sizeof id);
  hm_json *clock = hm_json_new_object();
  int rc = clock ? HM_OK : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = hm_json_object_setc(clock, "counter", hm_json_new_number((double)++c->lamport));
  if (rc == HM_OK) rc = hm_json_object_setc(clock, "authorDID", hm_json_new_cstr(c->id.did));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "nonce", hm_json_new_cstr(id));
  if (rc == HM_OK) {
    rc = hm_json_object_setc(p, "clock", clock);
    clock = NULL;
  }
  hm_json_free(clock);
  if (rc == HM_OK)
    rc = envelope_id(c, text, len, type, p, id, id_out, cap);
  else
    hm_json_free(p);
  return rc;
}

static int send_message(hm_client *c, const char *type, hm_json *p, char *id_out, size_t cap) {
  char *text = NULL;
  size_t len = 0;
  int rc = build_message(c, type, p, &text, &len, id_out, cap);
  if (rc != HM_OK) return rc;
  return out_push(c, text, len, 1, 0);
}

int hm_client_send(hm_client *c, const char *type, hm_json *payload, char *id_out, size_t cap) {
  if (!c || !type || !*type) {
    hm_json_free(payload);
    return HM_ERR_INVAL;
  }
  char *text = NULL;
  size_t len = 0;
  int rc = envelope(c, &text, &len, type, payload, id_out, cap);
  if (rc != HM_OK) return rc;
  return out_push(c, text, len, 1, 0);
}

int hm_client_next_out(hm_client *c, const char **out, size_t *len) {
  if (!c || c->state == HM_CLIENT_DISCONNECTED || !c->out_head) return 0;
  /* Before auth-ok only connection-bound frames (the auth frame) go out. */
  if (c->state != HM_CLIENT_READY && c->out_head->user) return 0;
  *out = c->out_head->text;
  *len = c->out_head->len;
  return 1;
}

void hm_client_pop_out(hm_client *c) {
  if (!c || !c->out_head) return;
  hm_client_out *o = c->out_head;
  /* A DM announcement's barrier request is written now: only answers from here on count.
   * Our envelopes start with the id (envelope_id). */
  for (hm_client_dmpeer *d = c->dmpeers; !o->user && d; d = d->next) {
    size_t bl = strlen(d->barrier);
    if (!d->ready && bl && o->len > 8 + bl && !memcmp(o->text, "{\"id\":\"", 7) &&
        !memcmp(o->text + 7, d->barrier, bl) && o->text[7 + bl] == '"')
      d->written = 1;
  }
  c->out_head = o->next;
  if (!c->out_head) c->out_tail = NULL;
  hm_free(o->text);
  hm_free(o);
}

size_t hm_client_queued(const hm_client *c) {
  size_t n = 0;
  for (const hm_client_out *o = c ? c->out_head : NULL; o; o = o->next) n++;
  return n;
}

/* ---- authentication --------------------------------------------------------------- */

static int queue_vp(hm_client *c) {
  int64_t now = hm_client__now(c);
  hm_vc_issue_params p = {0};
  p.issuer_did = c->id.did;
  p.issuer_seed = c->id.seed32;
  p.subject_did = c->id.did;
  p.type = "IdentityAssertion";
  p.now_ms = now;
  hm_json *vc = NULL, *creds = NULL, *vp = NULL;
  int rc = hm_vc_issue(&vc, &p);
  if (rc == HM_OK) {
    creds = hm_json_new_array();
    if (!creds) {
      hm_json_free(vc);
      rc = HM_ERR_NOMEM;
    } else {
      rc = hm_json_array_append(creds, vc);
    }
  }
  char created[32];
  if (rc == HM_OK) rc = hm_iso8601_format(created, now);
  if (rc == HM_OK) rc = hm_vp_create(&vp, c->id.did, c->id.seed32, creds, created, now);
  hm_json_free(creds);
  if (rc != HM_OK) return rc;
  char *text = NULL;
  size_t len = 0;
  rc = envelope(c, &text, &len, "sync.state", vp, NULL, 0);
  if (rc != HM_OK) return rc;
  c->by_token = 0;
  return out_push(c, text, len, 0, 1);
}

static int queue_token(hm_client *c) {
  hm_json *p = hm_json_new_object();
  if (!p || hm_json_object_setc(p, "token", hm_json_new_cstr(c->token)) != HM_OK) {
    hm_json_free(p);
    return HM_ERR_NOMEM;
  }
  char *text = NULL;
  size_t len = 0;
  int rc = envelope(c, &text, &len, "auth.token.verify", p, NULL, 0);
  if (rc != HM_OK) return rc;
  c->by_token = 1;
  return out_push(c, text, len, 0, 1);
}

int hm_client_on_open(hm_client *c) {
  if (!c) return HM_ERR_INVAL;
  out_clear(c, 1);
  c->state = HM_CLIENT_AUTHENTICATING;
  return c->token ? queue_token(c) : queue_vp(c);
}

void hm_client_on_close(hm_client *c) {
  if (!c) return;
  if (c->state != HM_CLIENT_READY) c->attempts++;
  c->state = HM_CLIENT_DISCONNECTED;
  out_clear(c, 1);
  /* An announcement not yet confirmed may not have reached the server: it is sent again
   * after the next authentication (its frames were connection-bound and are gone). */
  for (hm_client_dmpeer *d = c->dmpeers; d; d = d->next)
    if (!d->ready) {
      d->barrier[0] = 0;
      d->written = 0;
      d->answered = 0;
    }
}

void hm_client_set_auto_keypackage(hm_client *c, int on) {
  if (c) c->auto_kp = on != 0;
}

void hm_client_set_dm_settle_ms(hm_client *c, uint32_t ms) {
  if (c) c->dm_settle_ms = ms;
}

/* ---- follows and resync --------------------------------------------------------------- */

hm_client_fol *hm_client__find_follow(hm_client *c, const char *community, const char *channel) {
  for (hm_client_fol *f = c->follows; f; f = f->next)
    if (!strcmp(f->community, community) && !strcmp(f->channel, channel)) return f;
  return NULL;
}

static int send_sync(hm_client *c, hm_client_fol *f, int front) {
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = hm_json_object_setc(p, "communityId", hm_json_new_cstr(f->community));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "channelId", hm_json_new_cstr(f->channel));
  if (rc == HM_OK && f->clock) rc = hm_json_object_setc(p, "clock", hm_json_clone(f->clock));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "limit", hm_json_new_number(200));
  if (rc != HM_OK) {
    hm_json_free(p);
    return rc;
  }
  char *text = NULL;
  size_t len = 0;
  rc = envelope(c, &text, &len, "sync.request", p, NULL, 0);
  if (rc != HM_OK) return rc;
  return out_push(c, text, len, 0, front);
}

int hm_client_follow(hm_client *c, const char *community_id, const char *channel_id) {
  if (!c || !community_id || !channel_id || !*community_id || !*channel_id) return HM_ERR_INVAL;
  if (hm_client__find_follow(c, community_id, channel_id)) return HM_OK;
  hm_client_fol *f = hm_calloc(1, sizeof *f);
  if (!f) return HM_ERR_NOMEM;
  f->community = hm_strdup(community_id);
  f->channel = hm_strdup(channel_id);
  if (!f->community || !f->channel) {
    follow_free(f);
    return HM_ERR_NOMEM;
  }
  f->next = c->follows;
  c->follows = f;
  /* A newly followed channel is read from its start once (when connected). */
  if (c->state == HM_CLIENT_READY) return send_sync(c, f, 0);
  return HM_OK;
}

size_t hm_client_following(const hm_client *c) {
  size_t n = 0;
  for (const hm_client_fol *f = c ? c->follows : NULL; f; f = f->next) n++;
  return n;
}

/* 1 if id was already delivered for f; otherwise records it and returns 0. */
static int seen_check(hm_client_fol *f, const char *id) {
  if (!f || !id) return 0;
  for (size_t i = 0; i < HM_CLIENT_SEEN_MAX; i++)
    if (f->seen[i] && !strcmp(f->seen[i], id)) return 1;
  char *d = hm_strdup(id);
  if (!d) return 0;
  hm_free(f->seen[f->seen_next]);
  f->seen[f->seen_next] = d;
  f->seen_next = (f->seen_next + 1) % HM_CLIENT_SEEN_MAX;
  return 0;
}

static void follow_channels(hm_client *c, const char *community, const hm_json *channels) {
  for (size_t i = 0; community && i < hm_json_array_size(channels); i++) {
    const char *ch = hm_client__str(hm_json_array_get(channels, i), "id");
    if (ch) (void)hm_client_follow(c, community, ch);
  }
}

/* ---- dispatch ------------------------------------------------------------------ */

int hm_client_set_handler(hm_client *c, const char *type, hm_client_handler cb, void *ctx) {
  int s = hm_client_slot_of(type);
  if (!c || s < 0) return c ? HM_ERR_NOT_FOUND : HM_ERR_INVAL;
  c->slots[s].cb = cb;
  c->slots[s].ctx = ctx;
  return HM_OK;
}

void hm_client_set_default_handler(hm_client *c, hm_client_handler cb, void *ctx) {
  if (!c) return;
  c->def_cb = cb;
  c->def_ctx = ctx;
}

void hm_client__emit(hm_client *c, const char *type, const hm_json *frame, const char *text,
                     hm_client_e2e e2e) {
  hm_client_event ev;
  ev.type = type;
  ev.id = hm_client__str(frame, "id");
  ev.sender = hm_client__str(frame, "sender");
  ev.frame = frame;
  ev.payload = hm_json_object_getc(frame, "payload");
  ev.text = text;
  ev.e2e = e2e;
  int s = hm_client_slot_of(type);
  if (s >= 0 && c->slots[s].cb)
    c->slots[s].cb(c->slots[s].ctx, c, &ev);
  else if (c->def_cb)
    c->def_cb(c->def_ctx, c, &ev);
}

/* Decode and deliver one channel message (live frame or StoredMessage). */
static void clock_seen(hm_client *c, const hm_json *p) {
  double n = hm_json_number(hm_json_object_getc(hm_json_object_getc(p, "clock"), "counter"));
  if (n > (double)c->lamport && n < 9007199254740992.0) c->lamport = (uint64_t)n;
}

static void deliver_channel(hm_client *c, const hm_json *frame, const char *raw, size_t rawlen) {
  const hm_json *p = hm_json_object_getc(frame, "payload");
  clock_seen(c, p);
  const char *community = hm_client__str(p, "communityId");
  const char *channel = hm_client__str(p, "channelId");
  hm_client_fol *f = (community && channel) ? hm_client__find_follow(c, community, channel) : NULL;
  if (seen_check(f, hm_client__str(frame, "id"))) return;
  char *text = NULL;
  hm_client_e2e e2e = HM_CLIENT_E2E_NONE;
  int rc = hm_client__channel_decode(c, community ? community : "", channel ? channel : "",
                                     hm_client__str(frame, "sender"),
                                     hm_json_object_getc(p, "content"), &text, &e2e);
  if (rc == HM_ERR_NOT_FOUND && raw) {
    /* Encrypted for a group we have not joined yet: keep it until the Welcome. */
    hm_client_pending *q = hm_calloc(1, sizeof *q);
    if (q && (q->frame = hm_strndup(raw, rawlen))) {
      q->len = rawlen;
      hm_client_pending **pp = &c->pending;
      while (*pp) pp = &(*pp)->next;
      *pp = q;
      e2e = HM_CLIENT_E2E_PENDING;
    } else {
      hm_free(q);
      e2e = HM_CLIENT_E2E_FAILED;
    }
  }
  hm_client__emit(c, "channel.message", frame, text, e2e);
  if (text) hm_free_secret(text, strlen(text));
}

static void on_sync_result(hm_client *c, const hm_json *frame, const hm_json *p) {
  const char *community = hm_client__str(p, "communityId");
  const char *channel = hm_client__str(p, "channelId");
  hm_client_fol *f = (community && channel) ? hm_client__find_follow(c, community, channel) : NULL;
  const hm_json *msgs = hm_json_object_getc(p, "messages");
  for (size_t i = 0; i < hm_json_array_size(msgs); i++) {
    const hm_json *m = hm_json_array_get(msgs, i);
    if (hm_json_object_getc(hm_json_object_getc(m, "payload"), "deleted")) continue;
    char *raw = NULL;
    size_t rawlen = 0;
    /* A StoredMessage has the envelope shape: deliver it like a live channel.message. */
    if (hm_json_stringify(&raw, &rawlen, m) == HM_OK) deliver_channel(c, m, raw, rawlen);
    hm_free(raw);
  }
  const hm_json *lc = hm_json_object_getc(p, "latestClock");
  if (f && hm_json_kind_of(lc) == HM_JSON_OBJECT && hm_json_array_size(msgs) > 0) {
    hm_json *cl = hm_json_clone(lc);
    if (cl) {
      hm_json_free(f->clock);
      f->clock = cl;
    }
  }
  hm_client__emit(c, "sync.response", frame, NULL, HM_CLIENT_E2E_NONE);
  if (f && hm_json_kind_of(hm_json_object_getc(p, "hasMore")) == HM_JSON_TRUE)
    (void)send_sync(c, f, 0);
}

static int queue_announce(hm_client *c, hm_client_dmpeer *d);
static void dm_barrier_answer(hm_client *c, const char *type, const hm_json *frame, const hm_json *p);

static void on_auth_ok(hm_client *c, const hm_json *frame, const hm_json *p) {
  const char *tok = hm_client__str(p, "sessionToken");
  if (tok) (void)hm_client_set_token(c, tok);
  c->state = HM_CLIENT_READY;
  c->attempts = 0;
  /* First our key package (so that an upstream peer finds it before it encrypts a DM to us),
   * then the resync of every followed channel from where we stopped, all before the queued
   * user frames (each is pushed to the front: the last pushed goes first). */
  for (hm_client_fol *f = c->follows; f; f = f->next) (void)send_sync(c, f, 1);
  if (c->auto_kp) {
    char *text = NULL;
    size_t len = 0;
    if (hm_client__keypackage_frame(c, &text, &len) == HM_OK) (void)out_push(c, text, len, 0, 1);
  }
  /* Peers whose announcement was cut by a disconnect (or made while offline). */
  for (hm_client_dmpeer *d = c->dmpeers; d; d = d->next)
    if (!d->ready && !d->barrier[0]) (void)queue_announce(c, d);
  hm_client__emit(c, "sync.response", frame, NULL, HM_CLIENT_E2E_NONE);
}

static void on_dm(hm_client *c, const hm_json *frame, const hm_json *p, const char *type) {
  char *text = NULL;
  hm_client_e2e e2e = HM_CLIENT_E2E_FAILED;
  const char *sender = hm_client__str(frame, "sender");
  clock_seen(c, p);
  if (!sender || hm_client_dm_open(c, sender, hm_json_object_getc(p, "content"), &text, &e2e) != HM_OK)
    e2e = HM_CLIENT_E2E_FAILED;
  hm_client__emit(c, type, frame, text, e2e);
  if (text) hm_free_secret(text, strlen(text));
}

static void on_keyexchange(hm_client *c, const hm_json *frame, const hm_json *p) {
  uint8_t k[32];
  const char *sender = hm_client__str(frame, "sender");
  hm_client_e2e e2e = HM_CLIENT_E2E_KEY_MISMATCH;
  if (sender && hm_client__get_bytes(hm_json_object_getc(p, "senderPublicKey"), k, 32, NULL, 32) == HM_OK &&
      hm_dm_peer_key_check(sender, k) == HM_OK)
    e2e = HM_CLIENT_E2E_NONE; /* bound to the DID: nothing to do, we derive it anyway */
  hm_client__emit(c, "dm.keyexchange", frame, NULL, e2e);
}

int hm_client_on_frame(hm_client *c, const char *data, size_t len) {
  if (!c || !data) return HM_ERR_INVAL;
  hm_json *frame = NULL;
  int rc = hm_json_parse(&frame, data, len, 0, NULL);
  if (rc == HM_ERR_NOMEM) return rc;
  const char *type = hm_client__str(frame, "type");
  if (rc != HM_OK || hm_json_kind_of(frame) != HM_JSON_OBJECT || !type) {
    if (c->def_cb) {
      hm_client_event ev = {"", NULL, NULL, frame, NULL, NULL, HM_CLIENT_E2E_NONE};
      c->def_cb(c->def_ctx, c, &ev);
    }
    hm_json_free(frame);
    return HM_OK;
  }
  const hm_json *p = hm_json_object_getc(frame, "payload");
  if (!strcmp(type, "sync.response")) {
    if (hm_json_object_getc(p, "authenticated"))
      on_auth_ok(c, frame, p);
    else
      on_sync_result(c, frame, p);
  } else if (!strcmp(type, "auth.token.expired")) {
    (void)hm_client_set_token(c, NULL);
    hm_client__emit(c, type, frame, NULL, HM_CLIENT_E2E_NONE);
    if (c->state == HM_CLIENT_AUTHENTICATING) rc = queue_vp(c);
  } else if (!strcmp(type, "channel.message")) {
    deliver_channel(c, frame, data, len);
  } else if (!strcmp(type, "dm.message") || !strcmp(type, "dm.edited")) {
    on_dm(c, frame, p, type);
  } else if (!strcmp(type, "channel.message.updated")) {
    /* An edit carries content encoded like a message (MLS or epoch-0 plaintext). */
    char *text = NULL;
    hm_client_e2e e2e = HM_CLIENT_E2E_NONE;
    const char *comm = hm_client__str(p, "communityId"), *ch = hm_client__str(p, "channelId");
    if (comm && ch &&
        hm_client__channel_decode(c, comm, ch, hm_client__str(frame, "sender"), hm_json_object_getc(p, "content"),
                                  &text, &e2e) == HM_ERR_NOT_FOUND)
      e2e = HM_CLIENT_E2E_FAILED;
    hm_client__emit(c, type, frame, text, e2e);
    if (text) hm_free_secret(text, strlen(text));
  } else if (!strcmp(type, "dm.keyexchange")) {
    on_keyexchange(c, frame, p);
  } else {
    if (!strcmp(type, "mls.keypackage.response") || !strcmp(type, "error"))
      dm_barrier_answer(c, type, frame, p);
    if (!strcmp(type, "community.updated") || !strcmp(type, "community.auto-joined"))
      follow_channels(c, hm_client__str(p, "communityId"), hm_json_object_getc(p, "channels"));
    else if (!strcmp(type, "channel.created")) {
      const char *comm = hm_client__str(p, "communityId");
      const char *ch = hm_client__str(p, "channelId");
      if (!ch) ch = hm_client__str(hm_json_object_getc(p, "channel"), "id");
      if (comm && ch) (void)hm_client_follow(c, comm, ch);
    }
    if (!strncmp(type, "mls.", 4)) hm_client__mls_frame(c, type, hm_client__str(frame, "sender"), p);
    hm_client__emit(c, type, frame, NULL, HM_CLIENT_E2E_NONE);
  }
  hm_json_free(frame);
  int trc = hm_client_tick(c); /* a barrier answer with no settle time releases at once */
  if (trc == HM_ERR_NOMEM) rc = trc;
  return rc == HM_ERR_NOMEM ? rc : HM_OK;
}

/* ---- convenience senders ------------------------------------------------------------ */

int hm_client_channel_content(hm_client *c, const char *community_id, const char *channel_id,
                              const char *text, hm_json **out) {
  if (!c || !community_id || !channel_id || !text || !out) return HM_ERR_INVAL;
  *out = NULL;
  hm_json *content = NULL;
  hm_client_group *g = hm_client__group(c, community_id, channel_id);
  size_t tl = strlen(text);
  if (g && g->n_members > 1) {
    uint8_t *ct = hm_malloc(tl + HM_MLS_OVERHEAD);
    uint8_t nonce[24];
    if (!ct) return HM_ERR_NOMEM;
    hm_client__rand(c, nonce, sizeof nonce);
    int rc = hm_mls_message_seal(ct, g->secret, g->epoch, nonce, (const uint8_t *)text, tl);
    if (rc != HM_OK) {
      hm_free(ct);
      return rc; /* R-CRY-MLS-18: report, never fall back to clear text */
    }
    content = hm_json_new_object();
    if (content) {
      if (hm_json_object_setc(content, "ciphertext", hm_client__bytes(ct, tl + HM_MLS_OVERHEAD)) != HM_OK ||
          hm_json_object_setc(content, "epoch", hm_json_new_number((double)g->epoch)) != HM_OK ||
          hm_json_object_setc(content, "senderIndex", hm_json_new_number(g->my_leaf)) != HM_OK) {
        hm_json_free(content);
        content = NULL;
      }
    }
    hm_free(ct);
  } else {
    content = hm_json_new_object();
    if (content) {
      if (hm_json_object_setc(content, "ciphertext", hm_client__bytes((const uint8_t *)text, tl)) != HM_OK ||
          hm_json_object_setc(content, "epoch", hm_json_new_number(0)) != HM_OK ||
          hm_json_object_setc(content, "senderIndex", hm_json_new_number(0)) != HM_OK) {
        hm_json_free(content);
        content = NULL;
      }
    }
  }
  if (!content) return HM_ERR_NOMEM;
  *out = content;
  return HM_OK;
}

int hm_client_channel_send(hm_client *c, const char *community_id, const char *channel_id,
                           const char *text, char *id_out, size_t cap) {
  if (!c || !community_id || !channel_id || !text) return HM_ERR_INVAL;
  hm_json *content = NULL;
  int rc0 = hm_client_channel_content(c, community_id, channel_id, text, &content);
  if (rc0 != HM_OK) return rc0;
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = hm_json_object_setc(p, "communityId", hm_json_new_cstr(community_id));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "channelId", hm_json_new_cstr(channel_id));
  if (rc == HM_OK) {
    rc = hm_json_object_setc(p, "content", content);
    content = NULL;
  }
  hm_json_free(content);
  if (rc != HM_OK) {
    hm_json_free(p);
    return rc;
  }
  return send_message(c, "channel.send", p, id_out, cap);
}

/* ---- DMs: announcement and settling (see hm_client_dm_send in client.h) ---------------- */

static hm_client_dmpeer *dmpeer_find(hm_client *c, const char *did) {
  for (hm_client_dmpeer *d = c->dmpeers; d; d = d->next)
    if (!strcmp(d->did, did)) return d;
  return NULL;
}

/* Queue dm.keyexchange with our X25519 key (R-CRY-DM-4: a plain array of 32 integers; it is
 * our did:key's own key, so it adds no trust) and the barrier mls.keypackage.fetch after it.
 * Both are connection-bound: a disconnect drops them and on_auth_ok queues them again. */
static int queue_announce(hm_client *c, hm_client_dmpeer *d) {
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = hm_json_object_setc(p, "recipientDID", hm_json_new_cstr(d->did));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "senderPublicKey", hm_client__byte_array(c->id.x_pk, 32));
  if (rc != HM_OK) {
    hm_json_free(p);
    return rc;
  }
  char *kx = NULL, *fe = NULL;
  size_t kxl = 0, fel = 0;
  char id[48];
  rc = envelope(c, &kx, &kxl, "dm.keyexchange", p, NULL, 0);
  hm_json *q = rc == HM_OK ? hm_json_new_object() : NULL;
  hm_json *dids = rc == HM_OK ? hm_json_new_array() : NULL;
  if (rc == HM_OK && (!q || !dids || hm_json_array_append(dids, hm_json_new_cstr(d->did)) != HM_OK)) rc = HM_ERR_NOMEM;
  if (rc == HM_OK) {
    rc = hm_json_object_setc(q, "dids", dids);
    dids = NULL;
  }
  hm_json_free(dids);
  if (rc == HM_OK) {
    rc = envelope(c, &fe, &fel, "mls.keypackage.fetch", q, id, sizeof id);
    q = NULL;
  }
  hm_json_free(q);
  if (rc != HM_OK) {
    hm_free(kx);
    hm_free(fe);
    return rc;
  }
  /* out_push frees the text on failure; a half-queued pair is harmless (the barrier is
   * recorded only when both are queued, else the next authentication retries). */
  rc = out_push(c, kx, kxl, 0, 0);
  if (rc != HM_OK) {
    hm_free(fe);
    return rc;
  }
  rc = out_push(c, fe, fel, 0, 0);
  if (rc != HM_OK) return rc;
  snprintf(d->barrier, sizeof d->barrier, "%s", id);
  d->written = 0;
  d->answered = 0;
  return HM_OK;
}

/* An mls.keypackage.response naming the peer, or an error answering the barrier request,
 * means the server has handled (and relayed) the dm.keyexchange sent before it. Answers
 * come in request order, so the oldest outstanding barrier for that DID is the one. */
static void dm_barrier_answer(hm_client *c, const char *type, const hm_json *frame, const hm_json *p) {
  (void)frame;
  const char *rid = !strcmp(type, "error") ? hm_client__str(p, "requestId") : NULL;
  const hm_json *kps = !strcmp(type, "mls.keypackage.response") ? hm_json_object_getc(p, "keyPackages") : NULL;
  for (hm_client_dmpeer *d = c->dmpeers; d; d = d->next) {
    if (d->ready || !d->barrier[0] || !d->written || d->answered) continue;
    if ((rid && !strcmp(rid, d->barrier)) || (kps && hm_json_object_getc(kps, d->did))) {
      d->answered = 1;
      d->release_at = hm_client__now(c) + (int64_t)c->dm_settle_ms;
      if (rid) return;
    }
  }
}

int hm_client_tick(hm_client *c) {
  if (!c || c->state != HM_CLIENT_READY) return HM_OK;
  int64_t now = hm_client__now(c);
  for (hm_client_dmpeer *d = c->dmpeers; d; d = d->next) {
    if (d->ready || !d->answered || now < d->release_at) continue;
    /* Release the held DMs, in order, at the end of the queue. */
    if (d->held_head) {
      if (c->out_tail)
        c->out_tail->next = d->held_head;
      else
        c->out_head = d->held_head;
      c->out_tail = d->held_tail;
      d->held_head = d->held_tail = NULL;
    }
    d->ready = 1;
  }
  return HM_OK;
}

size_t hm_client_dm_held(const hm_client *c) {
  size_t n = 0;
  for (const hm_client_dmpeer *d = c ? c->dmpeers : NULL; d; d = d->next)
    for (const hm_client_out *o = d->held_head; o; o = o->next) n++;
  return n;
}

int hm_client_dm_send(hm_client *c, const char *recipient_did, const char *text, char *id_out,
                      size_t cap) {
  if (!c || !recipient_did || !text) return HM_ERR_INVAL;
  hm_json *content = NULL;
  int rc = hm_client_dm_seal(c, recipient_did, text, &content);
  if (rc != HM_OK) return rc;
  hm_client_dmpeer *d = dmpeer_find(c, recipient_did);
  if (!d) {
    d = hm_calloc(1, sizeof *d);
    if (!d || !(d->did = hm_strdup(recipient_did))) {
      hm_free(d);
      hm_json_free(content);
      return HM_ERR_NOMEM;
    }
    d->next = c->dmpeers;
    c->dmpeers = d;
  }
  hm_json *p = hm_json_new_object();
  rc = p ? HM_OK : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = hm_json_object_setc(p, "recipientDID", hm_json_new_cstr(recipient_did));
  if (rc == HM_OK) {
    rc = hm_json_object_setc(p, "content", content);
    content = NULL;
  }
  hm_json_free(content);
  char *frame = NULL;
  size_t len = 0;
  if (rc == HM_OK)
    rc = build_message(c, "dm.send", p, &frame, &len, id_out, cap); /* takes p */
  else
    hm_json_free(p);
  if (rc != HM_OK) return rc;
  if (d->ready) return out_push(c, frame, len, 1, 0);
  hm_client_out *o = hm_calloc(1, sizeof *o);
  if (!o) {
    hm_free(frame);
    return HM_ERR_NOMEM;
  }
  o->text = frame;
  o->len = len;
  o->user = 1;
  if (d->held_tail)
    d->held_tail->next = o;
  else
    d->held_head = o;
  d->held_tail = o;
  /* Announce now when connected; otherwise on_auth_ok does it. A failure here is retried
   * after the next authentication, and the DM stays held. */
  if (c->state == HM_CLIENT_READY && !d->barrier[0]) (void)queue_announce(c, d);
  return HM_OK;
}

int hm_client_decode(hm_client *c, const char *community_id, const char *channel_id,
                     const hm_json *content, char **text, hm_client_e2e *e2e) {
  if (!c || !community_id || !channel_id || !text || !e2e) return HM_ERR_INVAL;
  return hm_client__channel_decode(c, community_id, channel_id, NULL, content, text, e2e);
}

int hm_client_follows_export(const hm_client *c, char **text, size_t *len) {
  if (!c || !text) return HM_ERR_INVAL;
  hm_json *arr = hm_json_new_array();
  int rc = arr ? HM_OK : HM_ERR_NOMEM;
  for (const hm_client_fol *f = c->follows; rc == HM_OK && f; f = f->next) {
    hm_json *o = hm_json_new_object();
    rc = o ? HM_OK : HM_ERR_NOMEM;
    if (rc == HM_OK) rc = hm_json_object_setc(o, "communityId", hm_json_new_cstr(f->community));
    if (rc == HM_OK) rc = hm_json_object_setc(o, "channelId", hm_json_new_cstr(f->channel));
    if (rc == HM_OK && f->clock) rc = hm_json_object_setc(o, "clock", hm_json_clone(f->clock));
    /* Ids delivered live after the last sync.response: a later resync from the stored clock
     * returns them again, and these keep them from being shown twice. Oldest first. */
    hm_json *seen = rc == HM_OK ? hm_json_new_array() : NULL;
    if (rc == HM_OK && !seen) rc = HM_ERR_NOMEM;
    for (size_t k = 0; rc == HM_OK && k < HM_CLIENT_SEEN_MAX; k++) {
      const char *id = f->seen[(f->seen_next + k) % HM_CLIENT_SEEN_MAX];
      if (id) rc = hm_json_array_append(seen, hm_json_new_cstr(id));
    }
    if (rc == HM_OK) {
      rc = hm_json_object_setc(o, "seen", seen);
      seen = NULL;
    }
    hm_json_free(seen);
    if (rc == HM_OK)
      rc = hm_json_array_append(arr, o);
    else
      hm_json_free(o);
  }
  if (rc == HM_OK) rc = hm_json_stringify(text, len, arr);
  hm_json_free(arr);
  return rc;
}

int hm_client_follows_import(hm_client *c, const char *text, size_t len) {
  if (!c || !text) return HM_ERR_INVAL;
  hm_json *arr = NULL;
  int rc = hm_json_parse(&arr, text, len, 0, NULL);
  if (rc != HM_OK) return rc == HM_ERR_NOMEM ? rc : HM_ERR_STRUCTURE;
  if (hm_json_kind_of(arr) != HM_JSON_ARRAY) rc = HM_ERR_STRUCTURE;
  for (size_t i = 0; rc == HM_OK && i < hm_json_array_size(arr); i++) {
    const hm_json *o = hm_json_array_get(arr, i);
    const char *comm = hm_client__str(o, "communityId"), *ch = hm_client__str(o, "channelId");
    if (!comm || !ch) continue;
    rc = hm_client_follow(c, comm, ch);
    hm_client_fol *f = rc == HM_OK ? hm_client__find_follow(c, comm, ch) : NULL;
    const hm_json *seen = hm_json_object_getc(o, "seen");
    for (size_t k = 0; f && k < hm_json_array_size(seen); k++) {
      const char *id = hm_json_string(hm_json_array_get(seen, k), NULL);
      if (id) (void)seen_check(f, id);
    }
    const hm_json *clock = hm_json_object_getc(o, "clock");
    if (f && hm_json_kind_of(clock) == HM_JSON_OBJECT) {
      hm_json *cl = hm_json_clone(clock);
      if (!cl) {
        rc = HM_ERR_NOMEM;
      } else {
        hm_json_free(f->clock);
        f->clock = cl;
      }
    }
  }
  hm_json_free(arr);
  return rc;
}
