/* server_http.c - the signed HTTP API of the server core (spec/http.md §2 to §4):
 * per-DID user data, the migration endpoints. The shell owns the socket, the body limit
 * (413) and the routes that need no state (/health, OPTIONS); this file decides everything
 * else, with time and storage from the environment like the WebSocket side.
 */
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include <sodium.h>
#include "harmony/httpsig.h"
#include "harmony/nquads.h"
#include "harmony/vc.h"
#include <stdlib.h>
#include "server_internal.h"

#define WINDOW_MS 300000LL

static void reply(hm_http_response *r, int status, const char *json) {
  r->status = status;
  r->body = hm_strdup(json);
  r->body_len = r->body ? strlen(r->body) : 0;
  if (!r->body) r->status = 500;
}

static void reply_error(hm_http_response *r, int status, const char *text) {
  hm_json *o = hm_json_new_object();
  char *out = NULL;
  if (o && hm_json_object_setc(o, "error", hm_json_new_cstr(text)) == HM_OK && hm_json_stringify(&out, NULL, o) == HM_OK) {
    r->status = status;
    r->body = out;
    r->body_len = strlen(out);
  } else {
    r->status = 500;
    r->body = NULL;
    r->body_len = 0;
  }
  hm_json_free(o);
}

static void reply_json(hm_http_response *r, int status, hm_json *o) {
  char *out = NULL;
  if (o && hm_json_stringify(&out, NULL, o) == HM_OK) {
    r->status = status;
    r->body = out;
    r->body_len = strlen(out);
  } else {
    reply_error(r, 500, "Internal error");
  }
  hm_json_free(o);
}

/* JavaScript encodeURIComponent of s into out. */
static void uri_encode(char *out, size_t cap, const char *s) {
  size_t k = 0;
  for (; *s && k + 4 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-_.!~*'()", c)) {
      out[k++] = (char)c;
    } else {
      static const char hx[] = "0123456789ABCDEF";
      out[k++] = '%';
      out[k++] = hx[c >> 4];
      out[k++] = hx[c & 15];
    }
  }
  out[k] = 0;
}

/* R-HTTP-6 .. R-HTTP-9. On success *who holds the DID. The request-target is the raw one
 * when the shell has it; otherwise the decoded path, and for /api/user-data/<did> also the
 * path with <did> percent-encoded as clients send it (the shell's HTTP library decodes
 * the path before we see it). */
static int signed_ok(hm_server *srv, const hm_http_request *q, hm_http_response *r, hm_httpsig_result *who) {
  int64_t now = hm_srv_now(srv);
  hm_httpsig_result res;
  memset(&res, 0, sizeof res);
  const char *target = q->raw_target ? q->raw_target : q->target;
  int rc = hm_httpsig_verify(&res, q->authorization, q->method, target, now, HM_HTTPSIG_HARDENED);
  if (rc == HM_ERR_BADSIG && !q->raw_target && !strncmp(q->target, "/api/user-data/", 15)) {
    char alt[600], enc[500];
    uri_encode(enc, sizeof enc, q->target + 15);
    snprintf(alt, sizeof alt, "/api/user-data/%s", enc);
    memset(&res, 0, sizeof res);
    rc = hm_httpsig_verify(&res, q->authorization, q->method, alt, now, HM_HTTPSIG_HARDENED);
  }
  if (rc != HM_OK) {
    reply_error(r, rc == HM_ERR_NOMEM ? 500 : 401, res.reason ? res.reason : HM_HTTPSIG_E_SIG);
    return 0;
  }
  if (!strcmp(q->method, "POST") || !strcmp(q->method, "DELETE")) { /* R-HTTP-7 */
    char key[160], hex[129];
    hm_hex_encode(hex, sizeof hex, res.sig, 64);
    snprintf(key, sizeof key, "http:%s", hex);
    int64_t until = res.ts_ms + WINDOW_MS;
    if (until < now + WINDOW_MS) until = now + WINDOW_MS;
    rc = srv->st->vt->replay_add(srv->st, key, until, now);
    if (rc == HM_ERR_REPLAY) {
      reply_error(r, 401, "Replayed request");
      return 0;
    }
    if (rc != HM_OK) {
      reply_error(r, 500, "Internal error");
      return 0;
    }
  }
  *who = res;
  return 1;
}

static hm_json *parse_body(const hm_http_request *q, hm_http_response *r) {
  hm_json *v = NULL;
  if (hm_json_parse(&v, (const char *)q->body, q->body_len, 0, NULL) != HM_OK || hm_json_kind_of(v) != HM_JSON_OBJECT) {
    hm_json_free(v);
    reply_error(r, 400, "Invalid JSON body");
    return NULL;
  }
  return v;
}

static int canonical_b64(const char *s, size_t *decoded) {
  size_t n = strlen(s);
  if (n % 4) return 0;
  uint8_t *buf = hm_malloc(n ? n : 1);
  size_t len = 0;
  int ok = buf && hm_base64_decode(buf, n ? n : 1, &len, s, n, 0) == HM_OK;
  hm_free(buf);
  if (ok && decoded) *decoded = len;
  return ok;
}

static void user_data_upload(hm_server *srv, const hm_http_request *q, hm_http_response *r, const char *who) {
  hm_json *b = parse_body(q, r);
  if (!b) return;
  const char *did = hm_json_string(hm_json_object_getc(b, "did"), NULL);
  const char *ct = hm_json_string(hm_json_object_getc(b, "ciphertext"), NULL);
  const char *nonce = hm_json_string(hm_json_object_getc(b, "nonce"), NULL);
  hm_json *meta = hm_json_object_getc(b, "metadata");
  size_t ctn = 0, nn = 0;
  char *mtext = NULL;
  if (!did || !*did || !ct || !*ct || !nonce || !*nonce) {
    reply_error(r, 400, "Missing required fields: did, ciphertext, nonce");
  } else if (hm_utf16_len(did, strlen(did)) > 256) {
    reply_error(r, 400, "DID exceeds maximum length of 256 characters");
  } else if (strcmp(did, who) != 0) {
    reply_error(r, 403, "DID mismatch: you can only upload data for your own DID");
  } else if (!canonical_b64(ct, &ctn) || !canonical_b64(nonce, &nn)) {
    reply_error(r, 400, "Invalid base64");
  } else if (meta && hm_json_kind_of(meta) != HM_JSON_NULL &&
             (hm_json_kind_of(meta) != HM_JSON_OBJECT || hm_json_stringify(&mtext, NULL, meta) != HM_OK ||
              strlen(mtext) > 65536)) {
    reply_error(r, 400, "Invalid metadata");
  } else if (srv->st->vt->user_data_put(srv->st, did, ct, nonce, mtext) != HM_OK) {
    reply_error(r, 500, "Internal error");
  } else {
    char out[96];
    snprintf(out, sizeof out, "{\"ok\":true,\"size\":%zu}", 4 + nn + ctn);
    reply(r, 200, out);
  }
  hm_free(mtext);
  hm_json_free(b);
}

static void user_data_get(hm_server *srv, hm_http_response *r, const char *did, const char *who) {
  if (strcmp(did, who) != 0) {
    reply_error(r, 403, "DID mismatch: you can only access your own data");
    return;
  }
  char *ct = NULL, *nonce = NULL, *meta = NULL;
  int rc = srv->st->vt->user_data_get(srv->st, did, &ct, &nonce, &meta);
  if (rc == HM_ERR_NOT_FOUND) {
    reply_error(r, 404, "No data found for this DID");
    return;
  }
  hm_json *o = hm_json_new_object(), *m = NULL;
  if (rc == HM_OK && meta && hm_json_parse(&m, meta, strlen(meta), 0, NULL) != HM_OK) rc = HM_ERR_INTERNAL;
  if (rc == HM_OK && o) {
    hm_json_object_setc(o, "ciphertext", hm_json_new_cstr(ct));
    hm_json_object_setc(o, "nonce", hm_json_new_cstr(nonce));
    hm_json_object_setc(o, "metadata", m ? m : hm_json_new_null());
    m = NULL;
    reply_json(r, 200, o);
    o = NULL;
  } else {
    reply_error(r, 500, "Internal error");
  }
  hm_json_free(o);
  hm_json_free(m);
  hm_free(ct);
  hm_free(nonce);
  hm_free(meta);
}

static void user_data_delete(hm_server *srv, hm_http_response *r, const char *did, const char *who) {
  if (strcmp(did, who) != 0) {
    reply_error(r, 403, "DID mismatch: you can only delete your own data");
    return;
  }
  int rc = srv->st->vt->user_data_delete(srv->st, did);
  if (rc == HM_ERR_NOT_FOUND)
    reply_error(r, 404, "No data found for this DID");
  else if (rc != HM_OK)
    reply_error(r, 500, "Internal error");
  else
    reply(r, 200, "{\"ok\":true}");
}

/* Standard base64 string, or an array of integers 0..255 (R-CRY-EXP-2), into a new buffer. */
static uint8_t *bytes_of(const hm_json *v, size_t *len) {
  if (hm_json_kind_of(v) == HM_JSON_STRING) {
    size_t n;
    const char *s = hm_json_string(v, &n);
    uint8_t *buf = hm_malloc(n + 1);
    if (buf && hm_base64_decode(buf, n + 1, len, s, n, 0) == HM_OK) return buf;
    hm_free(buf);
    return NULL;
  }
  if (hm_json_kind_of(v) != HM_JSON_ARRAY) return NULL;
  size_t n = hm_json_array_size(v);
  uint8_t *buf = hm_malloc(n + 1);
  for (size_t i = 0; buf && i < n; i++) {
    hm_json *x = hm_json_array_get(v, i);
    double d = hm_json_number(x);
    if (hm_json_kind_of(x) != HM_JSON_NUMBER || d < 0 || d > 255 || d != (double)(int)d) {
      hm_free(buf);
      return NULL;
    }
    buf[i] = (uint8_t)d;
  }
  *len = n;
  return buf;
}

/* Opens the bundle with the key of R-CRY-EXP-1 derived from adminKeyPair.secretKey (a
 * 32-byte seed, or a 64-byte seed || public key); the key material is wiped. Returns the
 * plaintext (hm_malloc'd, NUL-terminated, *len) or NULL. */
static char *bundle_open(const hm_json *b, size_t *out_len) {
  hm_json *bundle = hm_json_object_getc(b, "bundle"), *kp = hm_json_object_getc(b, "adminKeyPair");
  size_t sklen = 0, ctlen = 0, nlen = 0;
  uint8_t *sk = bytes_of(hm_json_object_getc(kp, "secretKey"), &sklen);
  uint8_t *ct = bytes_of(hm_json_object_getc(bundle, "ciphertext"), &ctlen);
  uint8_t *nonce = bytes_of(hm_json_object_getc(bundle, "nonce"), &nlen);
  char *out = NULL;
  if (sk && ct && nonce && (sklen == 32 || sklen == 64) && nlen == 24 && ctlen >= 16) {
    uint8_t key[32];
    uint8_t *pt = hm_malloc(ctlen);
    int ok = 0;
    if (pt && hm_hkdf32(key, sk, 32, "harmony-export-salt-v1", "harmony-export") == HM_OK)
      ok = hm_xchacha_open(pt, key, nonce, ct, ctlen, NULL, 0) == HM_OK;
    sodium_memzero(key, sizeof key);
    if (ok) {
      pt[ctlen - 16] = 0;
      out = (char *)pt;
      *out_len = ctlen - 16;
    } else if (pt) {
      hm_free_secret(pt, ctlen);
    }
  }
  if (sk) hm_free_secret(sk, sklen);
  hm_free(ct);
  hm_free(nonce);
  return out;
}

/* ---- the N-Quads of an export (R-CRY-EXP-1, R-HTTP-16) --------------------------------- */

#define RDF_TYPE "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
#define HV "https://harmony.example/vocab#"
#define PLACEHOLDER_PREFIX "harmony:member:"

#define IMPORT_MAX_CHANNELS 500     /* R-LIM-6 channels per community */
#define IMPORT_MAX_MEMBERS 10000    /* R-HTTP-16 */
#define IMPORT_MAX_MESSAGES 100000  /* R-HTTP-16 */
#define IMPORT_MAX_CONTENT 4000     /* R-LIM-2 content */

typedef struct {
  const char *subject;
  char id[160];
} imp_channel;

typedef struct {
  const char *subject, *discord_id, *name;
} imp_member;

typedef struct {
  size_t src;     /* source order (quad index of its rdf:type) */
  int64_t ms;     /* timestamp */
  size_t channel; /* index into the channels */
  const char *author, *content;
} imp_message;

/* Is q the first (in subject order) rdf:type quad of its subject with this object? Makes
 * a subject declared twice count once. */
static int first_typing(const hm_nq_doc *d, size_t qi, const char *type) {
  const hm_nq_quad *q = &d->quads[qi];
  /* the index is sorted by (subject, predicate, source order): the first quad of the run
   * with the same object is the earliest one */
  size_t lo = 0, hi = d->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const hm_nq_quad *m = &d->quads[d->by_subject[mid]];
    int c = strcmp(m->s.value, q->s.value);
    if (!c) c = strcmp(m->p.value, RDF_TYPE);
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  for (; lo < d->n; lo++) {
    const hm_nq_quad *m = &d->quads[d->by_subject[lo]];
    if (strcmp(m->s.value, q->s.value) || strcmp(m->p.value, RDF_TYPE)) break;
    if (m->o.kind == HM_NQ_IRI && !strcmp(m->o.value, type)) return d->by_subject[lo] == qi;
  }
  return 0;
}

static int is_typing(const hm_nq_quad *q, const char *type) {
  return !strcmp(q->p.value, RDF_TYPE) && q->o.kind == HM_NQ_IRI && !strcmp(q->o.value, type);
}

static int placeholder_id_ok(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > 64) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.'))
      return 0;
  }
  return 1;
}

/* The single literal value of subject/pred: NULL when absent; *why set when repeated or not
 * a literal. */
static const char *one_literal(const hm_nq_doc *d, const char *s, const char *pred, const char **why,
                               const char *what) {
  size_t n = hm_nq_count(d, s, pred);
  if (n == 0) return NULL;
  const hm_nq_term *t = hm_nq_object(d, s, pred);
  if (n > 1 || t->kind != HM_NQ_LITERAL) {
    if (!*why) *why = what;
    return NULL;
  }
  return t->value;
}

static int msg_order(const void *a, const void *b) {
  const imp_message *x = a, *y = b;
  if (x->ms != y->ms) return x->ms < y->ms ? -1 : 1;
  return x->src < y->src ? -1 : x->src > y->src;
}

typedef struct {
  const hm_nq_doc *d;
  const char *src;
  imp_channel *ch;
  size_t nch;
  imp_member *mem;
  size_t nmem;
  imp_message *msg;
  size_t nmsg;
} import_plan;

static void plan_free(import_plan *p) {
  hm_free(p->ch);
  hm_free(p->mem);
  hm_free(p->msg);
}

static size_t find_channel(const import_plan *p, const char *subject) {
  for (size_t i = 0; i < p->nch; i++)
    if (!strcmp(p->ch[i].subject, subject)) return i;
  return (size_t)-1;
}

static const imp_member *find_member(const import_plan *p, const char *subject) {
  /* members are few compared to messages; the caller sorted them by subject */
  size_t lo = 0, hi = p->nmem;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(p->mem[mid].subject, subject);
    if (!c) return &p->mem[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

static int member_by_subject(const void *a, const void *b) {
  return strcmp(((const imp_member *)a)->subject, ((const imp_member *)b)->subject);
}

/* Read and check everything (R-HTTP-16); returns a static reason on a bad bundle, NULL when
 * the plan is complete. *nomem on allocation failure. */
static const char *plan_build(import_plan *p, int *nomem) {
  const hm_nq_doc *d = p->d;
  size_t communities = 0, nch = 0, nmem = 0, nmsg = 0;
  for (size_t i = 0; i < d->n; i++) {
    const hm_nq_quad *q = &d->quads[i];
    if (is_typing(q, HV "Community") && first_typing(d, i, HV "Community")) {
      communities++;
      p->src = q->s.value;
    } else if (is_typing(q, HV "Channel") && first_typing(d, i, HV "Channel")) {
      nch++;
    } else if (is_typing(q, HV "Member") && first_typing(d, i, HV "Member")) {
      if (!strncmp(q->s.value, "did:", 4)) return "a member is a DID";
      nmem++;
    } else if (is_typing(q, HV "Message") && first_typing(d, i, HV "Message")) {
      nmsg++;
    }
    if ((!strcmp(q->p.value, HV "author") || !strcmp(q->p.value, HV "authorDID")) && !strncmp(q->o.value, "did:", 4))
      return "a message author is a DID";
  }
  if (communities != 1) return "exactly one community expected";
  if (nch > IMPORT_MAX_CHANNELS) return "too many channels";
  if (nmem > IMPORT_MAX_MEMBERS) return "too many members";
  if (nmsg > IMPORT_MAX_MESSAGES) return "too many messages";
  p->ch = hm_calloc(nch ? nch : 1, sizeof *p->ch);
  p->mem = hm_calloc(nmem ? nmem : 1, sizeof *p->mem);
  p->msg = hm_calloc(nmsg ? nmsg : 1, sizeof *p->msg);
  if (!p->ch || !p->mem || !p->msg) {
    *nomem = 1;
    return "out of memory";
  }
  const char *why = NULL;
  for (size_t i = 0; !why && i < d->n; i++) {
    const hm_nq_quad *q = &d->quads[i];
    if (is_typing(q, HV "Channel") && first_typing(d, i, HV "Channel")) {
      const hm_nq_term *owner = hm_nq_object(d, q->s.value, HV "community");
      if (owner && strcmp(owner->value, p->src)) continue; /* another community's channel: not imported */
      p->ch[p->nch++].subject = q->s.value;
    } else if (is_typing(q, HV "Member") && first_typing(d, i, HV "Member")) {
      const char *s = q->s.value;
      if (strncmp(s, PLACEHOLDER_PREFIX, strlen(PLACEHOLDER_PREFIX)) || !placeholder_id_ok(s + strlen(PLACEHOLDER_PREFIX)))
        return "a member is not harmony:member:<id>";
      const char *name = one_literal(d, s, HV "name", &why, "a member name is not one literal");
      if (name && (!*name || hm_utf16_len(name, strlen(name)) > 100)) name = NULL;
      p->mem[p->nmem++] = (imp_member){s, s + strlen(PLACEHOLDER_PREFIX), name ? name : s + strlen(PLACEHOLDER_PREFIX)};
    }
  }
  if (why) return why;
  qsort(p->mem, p->nmem, sizeof *p->mem, member_by_subject);
  for (size_t i = 0; i < d->n; i++) {
    const hm_nq_quad *q = &d->quads[i];
    if (!is_typing(q, HV "Message") || !first_typing(d, i, HV "Message")) continue;
    const char *s = q->s.value;
    if (hm_nq_count(d, s, HV "author") != 1) return "a message needs exactly one author";
    if (hm_nq_count(d, s, HV "inChannel") != 1) return "a message needs exactly one channel";
    if (hm_nq_count(d, s, HV "timestamp") != 1) return "a message needs exactly one timestamp";
    if (hm_nq_count(d, s, HV "content") != 1) return "a message needs exactly one content";
    const hm_nq_term *author = hm_nq_object(d, s, HV "author");
    const hm_nq_term *chan = hm_nq_object(d, s, HV "inChannel");
    const hm_nq_term *ts = hm_nq_object(d, s, HV "timestamp");
    const hm_nq_term *content = hm_nq_object(d, s, HV "content");
    if (author->kind != HM_NQ_IRI || !find_member(p, author->value)) return "a message author is not an imported member";
    size_t ci = chan->kind == HM_NQ_IRI ? find_channel(p, chan->value) : (size_t)-1;
    if (ci == (size_t)-1) return "a message is not in an imported channel";
    int64_t ms = 0;
    if (ts->kind != HM_NQ_LITERAL || hm_iso8601_parse_strict(ts->value, ts->len, &ms) != HM_OK)
      return "a message timestamp is not an ISO 8601 date";
    if (content->kind != HM_NQ_LITERAL) return "a message content is not a literal";
    if (hm_utf16_len(content->value, content->len) > IMPORT_MAX_CONTENT) return "a message content is too long";
    p->msg[p->nmsg++] = (imp_message){i, ms, ci, author->value, content->value};
  }
  qsort(p->msg, p->nmsg, sizeof *p->msg, msg_order);
  return NULL;
}

/* R-HTTP-16: read one community, its channels, imported members and messages from the
 * quads and build our own records (new ids, creator = the signer, only the signer a member,
 * placeholders, messages in timestamp order), stored in one transaction. */
static void import_quads(hm_server *srv, hm_http_response *r, const char *who, const char *name, const char *text,
                         size_t len) {
  hm_nq_doc d;
  hm_nq_error err;
  char msg[200];
  int prc = hm_nq_parse(&d, text, len, NULL, &err);
  if (prc == HM_ERR_NOMEM) {
    reply_error(r, 500, "Internal error");
    return;
  }
  if (prc != HM_OK) {
    snprintf(msg, sizeof msg, "Import failed: invalid bundle: line %zu: %s", err.line,
             err.message ? err.message : "not N-Quads");
    reply_error(r, 400, msg);
    return;
  }
  import_plan p = {&d, NULL, NULL, 0, NULL, 0, NULL, 0};
  int nomem = 0;
  const char *why = plan_build(&p, &nomem);
  if (!why && hm_utf16_len(name, strlen(name)) > 100) why = "communityName too long";
  if (why) {
    plan_free(&p);
    hm_nq_doc_free(&d);
    if (nomem) {
      reply_error(r, 500, "Internal error");
      return;
    }
    snprintf(msg, sizeof msg, "Import failed: invalid bundle: %s", why);
    reply_error(r, 400, msg);
    return;
  }
  int64_t now = hm_srv_now(srv);
  char cid[64];
  hm_srv_fresh_id(srv, cid, sizeof cid, "community", 16);
  cid[9] = ':';
  hm_store_channel *chans = hm_calloc(p.nch ? p.nch : 1, sizeof *chans);
  hm_store_placeholder *ph = hm_calloc(p.nmem ? p.nmem : 1, sizeof *ph);
  hm_store_message *sm = hm_calloc(p.nmsg ? p.nmsg : 1, sizeof *sm);
  char (*mids)[48] = hm_calloc(p.nmsg ? p.nmsg : 1, sizeof *mids);
  char (*mts)[32] = hm_calloc(p.nmsg ? p.nmsg : 1, sizeof *mts);
  char **payloads = hm_calloc(p.nmsg ? p.nmsg : 1, sizeof *payloads);
  hm_json *out = hm_json_new_object(), *jch = hm_json_new_array(), *jm = hm_json_new_array();
  int rc = (chans && ph && sm && mids && mts && payloads && out && jch && jm) ? HM_OK : HM_ERR_NOMEM;
  const char *ign = NULL; /* a repeated channel name or type falls back to the default */
  for (size_t k = 0; rc == HM_OK && k < p.nch; k++) {
    const char *cname = one_literal(&d, p.ch[k].subject, HV "name", &ign, "x");
    if (!cname || !*cname || hm_utf16_len(cname, strlen(cname)) > 100) cname = "imported";
    const char *ctype = one_literal(&d, p.ch[k].subject, HV "channelType", &ign, "x");
    if (!ctype || (strcmp(ctype, "text") && strcmp(ctype, "voice") && strcmp(ctype, "announcement"))) ctype = "text";
    char hex[40];
    hm_srv_fresh_id(srv, hex, sizeof hex, NULL, 8);
    snprintf(p.ch[k].id, sizeof p.ch[k].id, "%s:channel:%s", cid, hex);
    chans[k] = (hm_store_channel){p.ch[k].id, cid, cname, ctype, NULL, now, NULL, 0};
    hm_json *o = hm_json_new_object();
    if (!o) rc = HM_ERR_NOMEM;
    if (rc == HM_OK) {
      hm_json_object_setc(o, "id", hm_json_new_cstr(p.ch[k].id));
      hm_json_object_setc(o, "name", hm_json_new_cstr(cname));
      hm_json_object_setc(o, "type", hm_json_new_cstr(ctype));
      rc = hm_json_array_append(jch, o);
    }
  }
  /* members in bundle order for the answer and the store (p.mem is sorted by subject: walk
   * the quads); community.info lists unlinked placeholders in import order (R-COMM-41) */
  size_t nph = 0;
  for (size_t i = 0; rc == HM_OK && i < d.n; i++) {
    if (!is_typing(&d.quads[i], HV "Member") || !first_typing(&d, i, HV "Member")) continue;
    const imp_member *m = find_member(&p, d.quads[i].s.value);
    if (!m || nph >= p.nmem) continue;
    ph[nph++] = (hm_store_placeholder){cid, m->discord_id, m->subject, m->name, NULL};
    hm_json *o = hm_json_new_object();
    if (!o) rc = HM_ERR_NOMEM;
    if (rc == HM_OK) {
      hm_json_object_setc(o, "id", hm_json_new_cstr(m->subject));
      hm_json_object_setc(o, "displayName", hm_json_new_cstr(m->name));
      hm_json_object_setc(o, "linked", hm_json_new_bool(0));
      rc = hm_json_array_append(jm, o);
    }
  }
  for (size_t k = 0; rc == HM_OK && k < p.nmsg; k++) {
    const imp_message *m = &p.msg[k];
    hm_srv_fresh_id(srv, mids[k], sizeof mids[k], "imported", 16);
    if (hm_iso8601_format(mts[k], m->ms) != HM_OK) hm_srv_iso(mts[k], m->ms);
    hm_json *pl = hm_json_new_object();
    if (!pl || hm_json_object_setc(pl, "content", hm_json_new_cstr(m->content)) != HM_OK ||
        hm_json_stringify(&payloads[k], NULL, pl) != HM_OK)
      rc = HM_ERR_NOMEM;
    hm_json_free(pl);
    sm[k] = (hm_store_message){cid, p.ch[m->channel].id, mids[k], 0, m->author, mts[k], payloads[k], 0, 0, now,
                               0, 0, NULL};
  }
  hm_store_community c = {cid, name, NULL, who, now};
  if (rc == HM_OK) rc = srv->st->vt->community_import(srv->st, &c, chans, p.nch, ph, nph, sm, p.nmsg);
  size_t imported = p.nmsg;
  for (size_t k = 0; payloads && k < p.nmsg; k++) hm_free(payloads[k]);
  hm_free(payloads);
  hm_free(mts);
  hm_free(mids);
  hm_free(sm);
  hm_free(ph);
  hm_free(chans);
  plan_free(&p);
  hm_nq_doc_free(&d);
  if (rc != HM_OK) {
    hm_json_free(out);
    hm_json_free(jch);
    hm_json_free(jm);
    reply_error(r, 500, "Internal error");
    return;
  }
  hm_json_object_setc(out, "communityId", hm_json_new_cstr(cid));
  hm_json_object_setc(out, "channels", jch);
  hm_json_object_setc(out, "members", jm);
  hm_json_object_setc(out, "roles", hm_json_new_array());
  hm_json_object_setc(out, "categories", hm_json_new_array());
  hm_srv_log(srv, HM_LOG_INFO, "community %s imported by %s (%zu messages)", cid, who, imported);
  /* R-HTTP-17: only the importer's connections hear about it */
  HM_FOR_DID_CONN(srv, who, cn) hm_srv_announce_community(srv, cn, cid, 1);
  reply_json(r, 200, out);
}

static void migration_import(hm_server *srv, const hm_http_request *q, hm_http_response *r, const char *who) {
  (void)srv;
  hm_json *b = parse_body(q, r);
  if (!b) return;
  hm_json *bundle = hm_json_object_getc(b, "bundle");
  const char *admin = hm_json_string(hm_json_object_getc(b, "adminDID"), NULL);
  const char *name = hm_json_string(hm_json_object_getc(b, "communityName"), NULL);
  if (!bundle || hm_json_kind_of(bundle) == HM_JSON_NULL || !admin || !*admin || !name || !*name) {
    reply_error(r, 400, "Missing required fields: bundle, adminDID, communityName");
  } else if (strcmp(admin, who) != 0) {
    reply_error(r, 403, "adminDID must match the authenticated DID");
  } else if (hm_json_kind_of(hm_json_object_getc(b, "adminKeyPair")) != HM_JSON_OBJECT) {
    reply_error(r, 400, "adminKeyPair is required");
  } else {
    size_t plen = 0;
    char *plain = bundle_open(b, &plen);
    if (!plain)
      reply_error(r, 400, "Import failed: cannot decrypt bundle"); /* R-HTTP-15 */
    else
      import_quads(srv, r, who, name, plain, plen);
    if (plain) hm_free_secret(plain, plen + 1);
  }
  hm_json_free(b);
}

/* ---- linking an imported member to a DID (R-HTTP-22, R-COMM-38) ---------------------- */

typedef struct {
  const char *discord_id;
  char *name;
} ph_find;

static int ph_find_cb(void *ctx, const hm_store_placeholder *p) {
  ph_find *f = ctx;
  if (strcmp(p->discord_id, f->discord_id)) return 0;
  f->name = hm_strdup(p->name);
  return 1;
}

static void migration_reconcile(hm_server *srv, const hm_http_request *q, hm_http_response *r, const char *who) {
  hm_json *b = parse_body(q, r);
  if (!b) return;
  const char *cid = hm_json_string(hm_json_object_getc(b, "communityId"), NULL);
  const char *discord = hm_json_string(hm_json_object_getc(b, "discordUserId"), NULL);
  const char *did = hm_json_string(hm_json_object_getc(b, "did"), NULL);
  ph_find f = {discord, NULL};
  int rc, creator = 0;
  if (!cid || !*cid || !discord || !*discord || !did || !*did || strlen(cid) > 256 || strlen(discord) > 64 ||
      strlen(did) > 256) {
    reply_error(r, 400, "Missing required fields: communityId, discordUserId, did");
    goto out;
  }
  rc = hm_srv_is_creator(srv, cid, who, &creator);
  if (rc == HM_ERR_NOT_FOUND) {
    reply_error(r, 404, "Community not found");
    goto out;
  }
  if (rc != HM_OK) goto internal;
  if (!creator) {
    reply_error(r, 403, "Only the community creator can link imported members");
    goto out;
  }
  rc = srv->st->vt->member_get(srv->st, cid, did, NULL, NULL);
  if (rc == HM_ERR_NOT_FOUND || (rc == HM_OK && srv->st->vt->ban_get(srv->st, cid, did) == HM_OK)) {
    reply_error(r, 409, "The DID is not a member of this community");
    goto out;
  }
  if (rc != HM_OK) goto internal;
  rc = srv->st->vt->placeholder_list(srv->st, cid, ph_find_cb, &f);
  if (rc != HM_OK) goto internal;
  if (!f.name) {
    reply_error(r, 404, "Imported member not found");
    goto out;
  }
  rc = srv->st->vt->placeholder_link(srv->st, cid, discord, did, hm_srv_now(srv));
  if (rc == HM_ERR_NOT_FOUND) {
    reply_error(r, 404, "Imported member not found");
    goto out;
  }
  if (rc == HM_ERR_CONFLICT) {
    reply_error(r, 409, "Imported member or DID already linked");
    goto out;
  }
  if (rc != HM_OK) goto internal;
  {
    hm_json *pl = hm_json_new_object(), *ans = hm_json_new_object();
    int ok = pl && ans;
    const char *keys[4] = {"communityId", "discordUserId", "newDID", "displayName"};
    const char *vals[4] = {cid, discord, did, f.name};
    for (int i = 0; ok && i < 4; i++)
      ok = hm_json_object_setc(pl, keys[i], hm_json_new_cstr(vals[i])) == HM_OK &&
           hm_json_object_setc(ans, keys[i], hm_json_new_cstr(vals[i])) == HM_OK;
    char *text = NULL, id[48], ts[32];
    size_t len = 0;
    hm_srv_fresh_id(srv, id, sizeof id, "reconciled", 16);
    hm_srv_now_iso(srv, ts);
    /* R-COMM-38: every member's connections hear of the link */
    if (ok) {
      int frc = hm_srv_frame_text(&text, &len, id, "community.member.reconciled", ts, "server", pl);
      pl = NULL; /* owned by the frame builder now */
      if (frc == HM_OK) hm_srv_broadcast(srv, cid, text, len, NULL);
    }
    hm_json_free(pl);
    hm_free(text);
    hm_srv_log(srv, HM_LOG_INFO, "imported member %s of %s linked to %s", discord, cid, did);
    if (ok)
      reply_json(r, 200, ans);
    else {
      hm_json_free(ans);
      reply_error(r, 500, "Internal error");
    }
  }
  goto out;
internal:
  reply_error(r, 500, "Internal error");
out:
  hm_free(f.name);
  hm_json_free(b);
}

/* Copies the next path segment after prefix into out; 1 if target is prefix + one segment. */
static int one_segment(const char *target, const char *prefix, char *out, size_t cap) {
  size_t pl = strlen(prefix);
  if (strncmp(target, prefix, pl)) return 0;
  const char *s = target + pl;
  size_t n = strcspn(s, "/?");
  if (n == 0 || n >= cap || s[n] == '/') return 0;
  memcpy(out, s, n);
  out[n] = 0;
  return 1;
}

void hm_server_http(hm_server *srv, const hm_http_request *q, hm_http_response *r) {
  memset(r, 0, sizeof *r);
  const char *t = q->target, *m = q->method;
  hm_httpsig_result who;
  char seg[512];
  if (!strcmp(t, "/api/user-data/upload")) {
    if (strcmp(m, "POST")) {
      r->allow = "POST, OPTIONS";
      reply_error(r, 405, "Method not allowed");
    } else if (signed_ok(srv, q, r, &who)) {
      user_data_upload(srv, q, r, who.did);
    }
    return;
  }
  if (one_segment(t, "/api/user-data/", seg, sizeof seg)) {
    if (strcmp(m, "GET") && strcmp(m, "DELETE")) {
      r->allow = "GET, DELETE, OPTIONS";
      reply_error(r, 405, "Method not allowed");
    } else if (signed_ok(srv, q, r, &who)) {
      if (!strcmp(m, "GET"))
        user_data_get(srv, r, seg, who.did);
      else
        user_data_delete(srv, r, seg, who.did);
    }
    return;
  }
  if (!strcmp(t, "/api/migration/import")) {
    if (strcmp(m, "POST")) {
      r->allow = "POST, OPTIONS";
      reply_error(r, 405, "Method not allowed");
    } else if (signed_ok(srv, q, r, &who)) {
      migration_import(srv, q, r, who.did);
    }
    return;
  }
  if (!strcmp(t, "/api/migration/reconcile")) { /* R-HTTP-22 */
    if (strcmp(m, "POST")) {
      r->allow = "POST, OPTIONS";
      reply_error(r, 405, "Method not allowed");
    } else if (signed_ok(srv, q, r, &who)) {
      migration_reconcile(srv, q, r, who.did);
    }
    return;
  }
  if (one_segment(t, "/api/migration/export/", seg, sizeof seg)) { /* R-HTTP-19 */
    if (strcmp(m, "GET")) {
      r->allow = "GET, OPTIONS";
      reply_error(r, 405, "Method not allowed");
    } else if (signed_ok(srv, q, r, &who)) {
      reply_error(r, 404, "Export not found");
    }
    return;
  }
  /* R-HTTP-18: the Discord side of migration */
  if (!strncmp(t, "/api/migration/", 15)) {
    const char *rest = t + 15;
    size_t n = strcspn(rest, "/?");
    const char *tail = rest + n;
    int post_route = !strcmp(t, "/api/migration/export") || !strcmp(t, "/api/migration/create") ||
                     (n > 0 && (!strcmp(tail, "/hashes") || !strcmp(tail, "/verify") || !strcmp(tail, "/import")));
    int status_route = n > 0 && !strcmp(tail, "/status");
    int id_route = n > 0 && *tail == 0 && !post_route;
    if (status_route) {
      if (strcmp(m, "GET")) {
        r->allow = "GET, OPTIONS";
        reply_error(r, 405, "Method not allowed");
      } else {
        reply_error(r, 501, "Not supported by this server");
      }
      return;
    }
    if (post_route || id_route) {
      const char *want = post_route ? "POST" : "DELETE";
      if (strcmp(m, want)) {
        r->allow = post_route ? "POST, OPTIONS" : "DELETE, OPTIONS";
        reply_error(r, 405, "Method not allowed");
      } else if (signed_ok(srv, q, r, &who)) {
        reply_error(r, 501, "Not supported by this server");
      }
      return;
    }
  }
  reply_error(r, 404, "Not found");
}
