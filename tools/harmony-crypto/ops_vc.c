/* tools/harmony-crypto/ops_vc.c - signing-input, VC, VP and ZCAP ops.
 *
 * Every document is parsed and re-serialised with harmony/json.h (key order as received).
 * Parsing follows JSON.parse (duplicate keys merged) except for hardened verification,
 * where a duplicate key is a failed verification (reason JSON_DUPLICATE_KEY).
 */
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/json.h"
#include "harmony/vc.h"
#include "ops.h"

/* Parse field key as a JSON document. flags: hm_json_parse flags. */
static int get_doc(hc_ctx *c, const char *key, unsigned flags, hm_json **out) {
  const char *s;
  size_t n;
  int rc = hc_get_str(c, key, &s, &n);
  if (rc) return rc;
  hm_json_parse_info info;
  memset(&info, 0, sizeof info);
  rc = hm_json_parse(out, s, n, flags, &info);
  if (rc) return hc_fail(c, rc, "field \"%s\": %s at byte %zu", key, hm_strerror(rc), info.error_offset);
  return HM_OK;
}

static int set_doc(hc_ctx *c, const char *key, const hm_json *doc) {
  char *s = NULL;
  size_t n = 0;
  int rc = hm_json_stringify(&s, &n, doc);
  if (rc) return hc_fail(c, rc, "stringify failed");
  rc = hc_set_strn(c, key, s, n);
  hm_free(s);
  return rc;
}

int op_signing_input(hc_ctx *c) {
  hm_json *doc = NULL;
  int rc = get_doc(c, "document", 0, &doc);
  if (rc) return rc;
  char *s = NULL;
  size_t n = 0;
  rc = hm_proof_signing_input(&s, &n, doc);
  if (rc) hc_fail(c, rc, "document must be an object with a \"proof\" object");
  else rc = hc_set_strn(c, "signing_input", s, n);
  hm_free(s);
  hm_json_free(doc);
  return rc;
}

/* Sign an unsigned document as upstream's createProof does. The VM is upstream's
 * <did>#<did minus "did:key:"> of the document's did_field (issuer / holder) when it is
 * a string, else of the DID of the seed. */
static int sign_doc(hc_ctx *c, const char *seed_key, const char *doc_key, const char *did_field,
                    const char *purpose) {
  uint8_t seed[32];
  hm_json *doc = NULL;
  const char *created;
  int64_t ms;
  int rc = hc_get_hex_fixed(c, seed_key, seed, 32);
  if (!rc) rc = hc_get_iso_ms(c, "created", &ms, &created);
  if (!rc) rc = get_doc(c, doc_key, 0, &doc);
  if (!rc && hm_json_kind_of(doc) != HM_JSON_OBJECT)
    rc = hc_fail(c, HM_ERR_STRUCTURE, "field \"%s\" must hold a JSON object", doc_key);
  if (!rc) {
    char did[512], vm[1100];
    const hm_json *d = hm_json_object_getc(doc, did_field);
    size_t dl = 0;
    const char *ds = d ? hm_json_string(d, &dl) : NULL;
    if (ds && dl < sizeof did && strlen(ds) == dl) {
      memcpy(did, ds, dl + 1);
    } else {
      hm_identity id;
      memset(&id, 0, sizeof id);
      rc = hm_identity_from_seed32(&id, seed);
      if (!rc) memcpy(did, id.did, sizeof id.did);
      hm_identity_clear(&id);
      if (rc) hc_fail(c, rc, "cannot derive the DID of %s", seed_key);
    }
    if (!rc && (rc = hm_vc_default_vm(vm, sizeof vm, did))) hc_fail(c, rc, "bad %s DID", did_field);
    if (!rc && (rc = hm_proof_attach(doc, seed, vm, purpose, created))) hc_fail(c, rc, "signing failed");
    if (!rc) rc = set_doc(c, doc_key, doc);
  }
  sodium_memzero(seed, sizeof seed);
  hm_json_free(doc);
  return rc;
}

int op_vc_issue(hc_ctx *c) { return sign_doc(c, "issuer_seed32", "credential", "issuer", "assertionMethod"); }
int op_vp_create(hc_ctx *c) { return sign_doc(c, "holder_seed32", "presentation", "holder", "authentication"); }

typedef int (*verify_fn)(hc_ctx *c, const hm_json *doc, const hm_verify_opts *o, hm_verify_result *r);

static int do_verify(hc_ctx *c, const char *doc_key, verify_fn fn) {
  int64_t now;
  int profile;
  int rc = hc_get_iso_ms(c, "now", &now, NULL);
  if (!rc) rc = hc_get_profile(c, "profile", &profile);
  if (rc) return rc;
  hm_json *doc = NULL;
  rc = get_doc(c, doc_key, 0, &doc); /* a text JSON.parse refuses is bad input */
  if (rc) return rc;
  int v = HM_OK;
  if (profile == HM_PROFILE_HARDENED) {
    /* hardened: a duplicate key is a failed verification, not bad input */
    const char *s;
    size_t n;
    hm_json *chk = NULL;
    (void)hc_get_str(c, doc_key, &s, &n);
    v = hm_json_parse(&chk, s, n, HM_JSON_REJECT_DUPKEYS, NULL);
    hm_json_free(chk);
  }
  if (v == HM_OK) {
    hm_verify_opts o;
    memset(&o, 0, sizeof o);
    o.profile = profile ? HM_PROFILE_HARDENED : HM_PROFILE_COMPAT;
    o.now_ms = now;
    hm_verify_result r;
    memset(&r, 0, sizeof r);
    v = fn(c, doc, &o, &r);
  }
  hm_json_free(doc);
  if (v == HM_ERR_NOMEM) return hc_fail(c, v, "out of memory");
  return hc_set_verdict(c, v);
}

static int vc_fn(hc_ctx *c, const hm_json *doc, const hm_verify_opts *o, hm_verify_result *r) {
  (void)c;
  return hm_vc_verify(doc, o, r);
}
static int vp_fn(hc_ctx *c, const hm_json *doc, const hm_verify_opts *o, hm_verify_result *r) {
  (void)c;
  return hm_vp_verify(doc, o, r);
}

int op_vc_verify(hc_ctx *c) { return do_verify(c, "credential", vc_fn); }
int op_vp_verify(hc_ctx *c) { return do_verify(c, "presentation", vp_fn); }

/* The hardened ZCAP check needs the caller's expectations; the tool takes them from the
 * optional fields, and by default expects the invoker the invocation names (i.e. it
 * assumes the connection is authenticated as that DID), any action, any target. */
static int zcap_fn(hc_ctx *c, const hm_json *inv, const hm_verify_opts *o, hm_verify_result *r) {
  hm_json *chain = NULL;
  int rc = get_doc(c, "chain", o->profile == HM_PROFILE_HARDENED ? HM_JSON_REJECT_DUPKEYS : 0, &chain);
  if (rc == HM_ERR_JSON_DUPKEY) return rc;
  if (rc) return rc; /* not reached: op_zcap_verify parsed the chain already */
  hm_zcap_expect e;
  memset(&e, 0, sizeof e);
  const char *s;
  hm_json *iv = hm_json_object_getc(inv, "invoker");
  e.invoker = iv ? hm_json_string(iv, NULL) : NULL;
  if (!hc_get_opt_str(c, "invoker", &s, NULL) && s) e.invoker = s;
  if (!hc_get_opt_str(c, "action", &s, NULL) && s) e.action = s;
  if (!hc_get_opt_str(c, "target", &s, NULL) && s) e.target = s;
  if (!hc_get_opt_str(c, "root_owner", &s, NULL) && s) e.root_owner = s;
  if (!e.invoker) e.invoker = "";
  rc = hm_zcap_verify_invocation(inv, chain, o, &e, r);
  hm_json_free(chain);
  return rc;
}

int op_zcap_verify(hc_ctx *c) {
  /* validate the chain text first so that unparseable input is an exit-1 error */
  hm_json *chain = NULL;
  int rc = get_doc(c, "chain", 0, &chain);
  if (!rc && hm_json_kind_of(chain) != HM_JSON_ARRAY)
    rc = hc_fail(c, HM_ERR_STRUCTURE, "field \"chain\" must hold a JSON array of capabilities");
  hm_json_free(chain);
  if (rc) return rc;
  return do_verify(c, "invocation", zcap_fn);
}
