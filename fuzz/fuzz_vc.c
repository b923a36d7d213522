/* fuzz/fuzz_vc.c - harmony/vc.h: VC verify, VP verify and ZCAP chain verify, in both
 * profiles, with a fixed clock (FZ_NOW_MS), JSON text as input.
 *
 * Input: JSON text, optionally preceded by '!' (re-sign mode). The parsed document is
 *   - if an object with "invocation" and "chain": a ZCAP invocation and its chain;
 *   - otherwise given to hm_vc_verify and hm_vp_verify (each refuses what is not its kind).
 * In re-sign mode the harness first signs every proof whose verificationMethod belongs to
 * one of the fixed identities (fuzz_ids.h) over its current signing input (credentials of
 * a VP and chain entries first), so that mutations of the signed content reach the checks
 * behind the signature. Other inputs: short non-JSON text is fed to the ISO 8601 parser.
 * Invariants:
 *   - only documented return codes; res.err == return value; res.reason set; the
 *     credential index is -1 or a valid index;
 *   - HARDENED OK => COMPAT OK (hardened is compat plus checks; spec crypto.md profiles);
 *   - VP HARDENED OK => the holder resolves under the hardened rules and has at least one
 *     credential;
 *   - hm_iso8601_parse_strict OK => hm_iso8601_format gives a text that parses to the same
 *     time; hm_proof_signing_input is deterministic.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_ids.h"
#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/json.h"
#include "harmony/vc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fz_ids_init();
  return 0;
}

static int revoked(void *ctx, const char *id) {
  (void)ctx;
  return id && strcmp(id, "urn:uuid:revoked") == 0;
}

static int known(int rc) {
  switch (rc) {
  case HM_OK: case HM_ERR_STRUCTURE: case HM_ERR_EXPIRED: case HM_ERR_NOT_YET_VALID: case HM_ERR_DID:
  case HM_ERR_NOT_FOUND: case HM_ERR_PURPOSE: case HM_ERR_UNSUPPORTED: case HM_ERR_BADSIG:
  case HM_ERR_WEAK_KEY: case HM_ERR_REVOKED: case HM_ERR_EMPTY: case HM_ERR_HOLDER: case HM_ERR_UNTRUSTED:
  case HM_ERR_STALE: case HM_ERR_REPLAY: case HM_ERR_CHAIN: case HM_ERR_ATTENUATION: case HM_ERR_ACTION:
  case HM_ERR_SCOPE: case HM_ERR_DECODE:
    return 1;
  default:
    return 0;
  }
}

static void opts_for(hm_verify_opts *o, hm_profile p) {
  static const char *trusted[1];
  trusted[0] = fz_ids[2].did;
  memset(o, 0, sizeof *o);
  o->profile = p;
  o->now_ms = FZ_NOW_MS;
  o->trusted_issuers = trusted;
  o->n_trusted_issuers = 1;
  o->is_revoked = revoked;
}

static void check_result(int rc, const hm_verify_result *r, size_t n_items, const char *what) {
  FZ_CHECK(known(rc), "%s: undocumented rc %d (%s)", what, rc, r->reason ? r->reason : "?");
  FZ_CHECK(r->err == rc, "%s: res.err %d != rc %d", what, r->err, rc);
  FZ_CHECK(r->reason != NULL, "%s: no reason", what);
  FZ_CHECK(r->credential_index >= -1 && (r->credential_index < 0 || (size_t)r->credential_index < n_items || n_items == 0),
           "%s: credential_index %ld of %zu", what, r->credential_index, n_items);
}

/* Sign doc's proof in place if its verificationMethod is one of ours. */
static void resign(hm_json *doc) {
  if (hm_json_kind_of(doc) != HM_JSON_OBJECT) return;
  hm_json *proof = hm_json_object_getc(doc, "proof");
  if (hm_json_kind_of(proof) != HM_JSON_OBJECT) return;
  const hm_json *vmj = hm_json_object_getc(proof, "verificationMethod");
  const char *vm = hm_json_string(vmj, NULL);
  const fz_id *id = fz_id_for(vm);
  if (!id) return;
  char *in = NULL;
  size_t il = 0;
  if (hm_proof_signing_input(&in, &il, doc) != HM_OK) return;
  char *in2 = NULL;
  size_t il2 = 0;
  FZ_CHECK(hm_proof_signing_input(&in2, &il2, doc) == HM_OK && il2 == il && memcmp(in, in2, il) == 0,
           "signing input not deterministic");
  hm_free(in2);
  uint8_t sig[64];
  FZ_CHECK(hm_ed25519_sign(sig, (const uint8_t *)in, il, id->seed) == HM_OK);
  hm_free(in);
  char pv[100];
  FZ_CHECK(hm_multibase_encode_b58(pv, sizeof pv, sig, 64) == HM_OK);
  (void)hm_json_object_setc(proof, "proofValue", hm_json_new_cstr(pv));
}

static void resign_all(hm_json *doc) {
  hm_json *vcs = hm_json_object_getc(doc, "verifiableCredential");
  for (size_t i = 0; i < hm_json_array_size(vcs); i++) resign(hm_json_array_get(vcs, i));
  hm_json *chain = hm_json_object_getc(doc, "chain");
  for (size_t i = 0; i < hm_json_array_size(chain); i++) resign(hm_json_array_get(chain, i));
  hm_json *inv = hm_json_object_getc(doc, "invocation");
  if (inv) resign(inv);
  resign(doc);
}

static void check_vc_vp(const hm_json *doc) {
  hm_verify_opts oc, oh;
  opts_for(&oc, HM_PROFILE_COMPAT);
  opts_for(&oh, HM_PROFILE_HARDENED);
  hm_verify_result rc = {0}, rh = {0};
  int c = hm_vc_verify(doc, &oc, &rc);
  int h = hm_vc_verify(doc, &oh, &rh);
  check_result(c, &rc, 0, "vc compat");
  check_result(h, &rh, 0, "vc hardened");
  if (h == HM_OK) FZ_CHECK(c == HM_OK, "VC: hardened accepts, compat rejects (%d: %s)", c, rc.reason);

  size_t ncred = hm_json_array_size(hm_json_object_getc(doc, "verifiableCredential"));
  memset(&rc, 0, sizeof rc);
  memset(&rh, 0, sizeof rh);
  c = hm_vp_verify(doc, &oc, &rc);
  h = hm_vp_verify(doc, &oh, &rh);
  check_result(c, &rc, ncred, "vp compat");
  check_result(h, &rh, ncred, "vp hardened");
  if (h == HM_OK) {
    FZ_CHECK(c == HM_OK, "VP: hardened accepts, compat rejects (%d: %s)", c, rc.reason);
    const char *holder = hm_json_string(hm_json_object_getc(doc, "holder"), NULL);
    uint8_t pk[32];
    FZ_CHECK(holder && hm_didkey_decode(pk, NULL, holder, HM_DID_HARDENED) == HM_OK, "VP holder does not resolve");
    FZ_CHECK(ncred >= 1, "hardened VP without credentials");
  }
}

static void check_zcap(const hm_json *doc) {
  const hm_json *inv = hm_json_object_getc(doc, "invocation");
  const hm_json *chain = hm_json_object_getc(doc, "chain");
  hm_verify_opts oc, oh;
  opts_for(&oc, HM_PROFILE_COMPAT);
  opts_for(&oh, HM_PROFILE_HARDENED);
  const char *invoker = hm_json_string(hm_json_object_getc(inv, "invoker"), NULL);
  hm_zcap_expect e = {.invoker = invoker ? invoker : fz_ids[1].did};
  /* An optional "expect" object narrows what hardened checks. */
  const hm_json *ex = hm_json_object_getc(doc, "expect");
  e.action = hm_json_string(hm_json_object_getc(ex, "action"), NULL);
  e.target = hm_json_string(hm_json_object_getc(ex, "target"), NULL);
  const hm_json *scope = hm_json_object_getc(ex, "scope");
  e.scope = hm_json_kind_of(scope) == HM_JSON_OBJECT ? scope : NULL;
  e.root_owner = hm_json_string(hm_json_object_getc(ex, "rootOwner"), NULL);
  size_t n = hm_json_array_size(chain);
  hm_verify_result rc = {0}, rh = {0};
  int c = hm_zcap_verify_invocation(inv, chain, &oc, NULL, &rc);
  int h = hm_zcap_verify_invocation(inv, chain, &oh, &e, &rh);
  if (!inv || !chain) {
    FZ_CHECK(c == HM_ERR_INVAL && h == HM_ERR_INVAL);
    return;
  }
  check_result(c, &rc, n, "zcap compat");
  check_result(h, &rh, n, "zcap hardened");
  if (h == HM_OK) FZ_CHECK(c == HM_OK, "ZCAP: hardened accepts, compat rejects (%d: %s)", c, rc.reason);
}

static void check_dates(const char *s, size_t n) {
  int64_t ms = 0;
  if (hm_iso8601_parse_strict(s, n, &ms) != HM_OK) return;
  char buf[32];
  int r = hm_iso8601_format(buf, ms);
  if (r != HM_OK) {
    FZ_CHECK(r == HM_ERR_RANGE);
    return;
  }
  int64_t back = -1;
  FZ_CHECK(hm_iso8601_parse_strict(buf, strlen(buf), &back) == HM_OK && back == ms, "ISO round trip: %.*s -> %s",
           (int)n, s, buf);
  hm_json *sv = hm_json_new_string(buf, strlen(buf));
  int64_t js = -1;
  if (sv) FZ_CHECK(hm_js_date_value(sv, &js) == 1 && js == ms, "JS date of %s", buf);
  hm_json_free(sv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int resign_mode = size > 0 && data[0] == '!';
  const char *text = (const char *)data + resign_mode;
  size_t len = size - (size_t)resign_mode;
  if (len <= 40) check_dates(text, len);
  hm_json *doc = NULL;
  if (hm_json_parse(&doc, text, len, 0, NULL) != HM_OK) return 0;
  if (resign_mode) resign_all(doc);
  if (hm_json_kind_of(doc) == HM_JSON_OBJECT && hm_json_object_getc(doc, "invocation") &&
      hm_json_object_getc(doc, "chain"))
    check_zcap(doc);
  else
    check_vc_vp(doc);
  /* Date fields of any document go through both date parsers. */
  const char *fields[] = {"issuanceDate", "expirationDate", "created"};
  for (size_t i = 0; i < 3; i++) {
    size_t n = 0;
    const char *s = hm_json_string(hm_json_object_getc(doc, fields[i]), &n);
    if (s) check_dates(s, n);
  }
  hm_json_free(doc);
  return 0;
}
