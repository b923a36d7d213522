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

/* Does the bundle open with the key of R-CRY-EXP-1 derived from adminKeyPair.secretKey
 * (a 32-byte seed, or a 64-byte seed || public key)? The key material is wiped. */
static int bundle_opens(const hm_json *b) {
  hm_json *bundle = hm_json_object_getc(b, "bundle"), *kp = hm_json_object_getc(b, "adminKeyPair");
  size_t sklen = 0, ctlen = 0, nlen = 0;
  uint8_t *sk = bytes_of(hm_json_object_getc(kp, "secretKey"), &sklen);
  uint8_t *ct = bytes_of(hm_json_object_getc(bundle, "ciphertext"), &ctlen);
  uint8_t *nonce = bytes_of(hm_json_object_getc(bundle, "nonce"), &nlen);
  int ok = 0;
  if (sk && ct && nonce && (sklen == 32 || sklen == 64) && nlen == 24 && ctlen >= 16) {
    uint8_t key[32];
    uint8_t *pt = hm_malloc(ctlen);
    if (pt && hm_hkdf32(key, sk, 32, "harmony-export-salt-v1", "harmony-export") == HM_OK)
      ok = hm_xchacha_open(pt, key, nonce, ct, ctlen, NULL, 0) == HM_OK;
    sodium_memzero(key, sizeof key);
    if (pt) hm_free_secret(pt, ctlen);
  }
  if (sk) hm_free_secret(sk, sklen);
  hm_free(ct);
  hm_free(nonce);
  return ok;
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
  } else if (!bundle_opens(b)) {
    reply_error(r, 400, "Import failed: cannot decrypt bundle"); /* R-HTTP-15 */
  } else {
    /* Rebuilding the community from the decrypted N-Quads (R-HTTP-14, R-HTTP-16) is not
     * implemented in this build: an honest 501, nothing stored. */
    reply_error(r, 501, "Not implemented");
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
