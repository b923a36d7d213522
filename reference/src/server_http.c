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

/* ---- N-Quads of an export (R-CRY-EXP-1) ------------------------------------------------ */

#define RDF_TYPE "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
#define HV "https://harmony.example/vocab#"

typedef struct {
  char *s, *p, *o, *g;
  int literal;
} quad;

/* One term at *pp: <iri>, _:blank or "literal" (with @lang / ^^<dt> skipped). */
static char *nq_term(const char **pp, int *literal) {
  const char *p = *pp;
  while (*p == ' ' || *p == '\t') p++;
  char *out = NULL;
  if (*p == '<') {
    const char *e = strchr(p + 1, '>');
    if (!e) return NULL;
    out = hm_strndup(p + 1, (size_t)(e - p - 1));
    p = e + 1;
  } else if (p[0] == '_' && p[1] == ':') {
    size_t n = strcspn(p, " \t");
    out = hm_strndup(p, n);
    p += n;
  } else if (*p == '"') {
    size_t cap = strlen(p), k = 0;
    out = hm_malloc(cap + 1);
    if (!out) return NULL;
    p++;
    while (*p && *p != '"') {
      if (*p == '\\') {
        p++;
        char c = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 't' ? '\t' : *p;
        if (!*p) break;
        out[k++] = c;
        p++;
      } else {
        out[k++] = *p++;
      }
    }
    if (*p != '"') {
      hm_free(out);
      return NULL;
    }
    p++;
    out[k] = 0;
    if (*p == '@') p += strcspn(p, " \t");
    else if (p[0] == '^' && p[1] == '^') {
      const char *e = strchr(p, '>');
      if (!e) {
        hm_free(out);
        return NULL;
      }
      p = e + 1;
    }
    if (literal) *literal = 1;
  } else {
    return NULL;
  }
  *pp = p;
  return out;
}

static void quads_free(quad *q, size_t n) {
  for (size_t i = 0; i < n; i++) {
    hm_free(q[i].s);
    hm_free(q[i].p);
    hm_free(q[i].o);
    hm_free(q[i].g);
  }
  hm_free(q);
}

/* Parse the whole text; NULL (and *why) on a syntax error. */
static quad *nq_parse(const char *text, size_t *n_out, const char **why) {
  size_t cap = 16, n = 0;
  quad *q = hm_calloc(cap, sizeof *q);
  if (!q) {
    *why = "out of memory";
    return NULL;
  }
  const char *p = text;
  while (*p) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    char *line = hm_strndup(p, len);
    p += len + (eol ? 1 : 0);
    if (!line) break;
    const char *lp = line;
    while (*lp == ' ' || *lp == '\t' || *lp == '\r') lp++;
    if (!*lp) {
      hm_free(line);
      continue;
    }
    if (n == cap) {
      quad *nq = hm_realloc(q, cap * 2 * sizeof *nq);
      if (!nq) {
        hm_free(line);
        break;
      }
      memset(nq + cap, 0, cap * sizeof *nq);
      q = nq;
      cap *= 2;
    }
    quad *x = &q[n];
    x->s = nq_term(&lp, NULL);
    x->p = x->s ? nq_term(&lp, NULL) : NULL;
    x->o = x->p ? nq_term(&lp, &x->literal) : NULL;
    x->g = x->o ? nq_term(&lp, NULL) : NULL;
    while (*lp == ' ' || *lp == '\t') lp++;
    int ok = x->g && *lp == '.';
    hm_free(line);
    n++;
    if (!ok) {
      quads_free(q, n);
      *why = "not N-Quads";
      return NULL;
    }
  }
  *n_out = n;
  return q;
}

static const char *nq_value(const quad *q, size_t n, const char *s, const char *pred) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(q[i].s, s) && !strcmp(q[i].p, pred)) return q[i].o;
  return NULL;
}

static int nq_is(const quad *q, size_t n, const char *s, const char *type) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(q[i].s, s) && !strcmp(q[i].p, RDF_TYPE) && !strcmp(q[i].o, type)) return 1;
  return 0;
}

/* R-HTTP-16: read one community, its channels and imported members from the quads and
 * build our own records (new ids, creator = the signer, only the signer a member). */
static void import_quads(hm_server *srv, hm_http_response *r, const char *who, const char *name, const char *text) {
  const char *why = NULL;
  size_t n = 0;
  quad *q = nq_parse(text, &n, &why);
  char msg[200];
  if (!q) {
    snprintf(msg, sizeof msg, "Import failed: invalid bundle: %s", why ? why : "not N-Quads");
    reply_error(r, 400, msg);
    return;
  }
  const char *src = NULL;
  int communities = 0;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(q[i].p, RDF_TYPE) && !strcmp(q[i].o, HV "Community")) {
      communities++;
      src = q[i].s;
    }
  if (communities != 1) why = "exactly one community expected";
  if (!why && hm_utf16_len(name, strlen(name)) > 100) why = "communityName too long";
  /* every member and message author must be a placeholder, never a DID */
  for (size_t i = 0; !why && i < n; i++) {
    if (!strcmp(q[i].p, RDF_TYPE) && !strcmp(q[i].o, HV "Member") && !strncmp(q[i].s, "did:", 4))
      why = "a member is a DID";
    if ((!strcmp(q[i].p, HV "author") || !strcmp(q[i].p, HV "authorDID")) && !strncmp(q[i].o, "did:", 4))
      why = "a message author is a DID";
  }
  if (why) {
    quads_free(q, n);
    snprintf(msg, sizeof msg, "Import failed: invalid bundle: %s", why);
    reply_error(r, 400, msg);
    return;
  }
  int64_t now = hm_srv_now(srv);
  char cid[64];
  hm_srv_fresh_id(srv, cid, sizeof cid, "community", 16);
  cid[9] = ':';
  size_t nch = 0;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(q[i].p, RDF_TYPE) && !strcmp(q[i].o, HV "Channel")) nch++;
  hm_store_channel *chans = hm_calloc(nch ? nch : 1, sizeof *chans);
  char (*ids)[128] = hm_calloc(nch ? nch : 1, sizeof *ids);
  hm_json *out = hm_json_new_object(), *jch = hm_json_new_array(), *jm = hm_json_new_array();
  int rc = (chans && ids && out && jch && jm) ? HM_OK : HM_ERR_NOMEM;
  size_t k = 0;
  for (size_t i = 0; rc == HM_OK && i < n; i++) {
    if (strcmp(q[i].p, RDF_TYPE) || strcmp(q[i].o, HV "Channel")) continue;
    const char *owner = nq_value(q, n, q[i].s, HV "community");
    if (owner && strcmp(owner, src)) continue; /* another community's channel: not imported */
    const char *cname = nq_value(q, n, q[i].s, HV "name");
    if (!cname || !*cname || hm_utf16_len(cname, strlen(cname)) > 100) cname = "imported";
    char hex[40];
    hm_srv_fresh_id(srv, hex, sizeof hex, NULL, 8);
    snprintf(ids[k], sizeof ids[k], "%s:channel:%s", cid, hex);
    chans[k] = (hm_store_channel){ids[k], cid, cname, "text", NULL, now, NULL, 0};
    hm_json *o = hm_json_new_object();
    if (!o) rc = HM_ERR_NOMEM;
    if (rc == HM_OK) {
      hm_json_object_setc(o, "id", hm_json_new_cstr(ids[k]));
      hm_json_object_setc(o, "name", hm_json_new_cstr(cname));
      hm_json_object_setc(o, "type", hm_json_new_cstr("text"));
      rc = hm_json_array_append(jch, o);
    }
    k++;
  }
  for (size_t i = 0; rc == HM_OK && i < n; i++) {
    if (strcmp(q[i].p, RDF_TYPE) || strcmp(q[i].o, HV "Member") || !nq_is(q, n, q[i].s, HV "Member")) continue;
    const char *mname = nq_value(q, n, q[i].s, HV "name");
    hm_json *o = hm_json_new_object();
    if (!o) rc = HM_ERR_NOMEM;
    if (rc == HM_OK) {
      hm_json_object_setc(o, "id", hm_json_new_cstr(q[i].s));
      hm_json_object_setc(o, "displayName", hm_json_new_cstr(mname ? mname : q[i].s));
      hm_json_object_setc(o, "linked", hm_json_new_bool(0));
      rc = hm_json_array_append(jm, o);
    }
  }
  hm_store_community c = {cid, name, NULL, who, now};
  if (rc == HM_OK) rc = srv->st->vt->community_create(srv->st, &c, chans, k);
  quads_free(q, n);
  hm_free(chans);
  hm_free(ids);
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
  hm_srv_log(srv, HM_LOG_INFO, "community %s imported by %s", cid, who);
  /* R-HTTP-17: only the importer's connections hear about it */
  for (hm_server_conn *cn = srv->conns; cn; cn = cn->next)
    if (cn->did && !strcmp(cn->did, who)) hm_srv_announce_community(srv, cn, cid, 1);
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
      import_quads(srv, r, who, name, plain);
    if (plain) hm_free_secret(plain, plen + 1);
  }
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
