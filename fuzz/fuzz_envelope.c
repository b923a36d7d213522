/* fuzz/fuzz_envelope.c - one WebSocket frame as the server reads it, with libharmony's
 * parts: JSON parse (JS semantics: duplicate keys merged, R-ENV-8), every `Uint8Array`
 * codec object decoded strictly and leniently (R-BIN-*), and the payloads that carry
 * signed data handed to their verifiers: sync.state (VP login, both profiles),
 * auth.token.verify (session token), mls.keypackage.upload (key package).
 * (libharmony has no envelope API of its own yet: when the server core lands, a stateful
 * fuzz_server target plays sequences of frames against it.)
 *
 * Input: the frame text.
 * Invariants:
 *   - stringify(parse(frame)) is a fixpoint (the server relays what it parsed);
 *   - for every {"__type":"Uint8Array","data":s}: strict decode OK => the lenient decode
 *     gives the same bytes and re-encoding gives s back (canonical, R-BIN-1);
 *   - the verifiers return only documented codes and HARDENED OK => COMPAT OK.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_ids.h"
#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/json.h"
#include "harmony/mls.h"
#include "harmony/token.h"
#include "harmony/vc.h"

static uint8_t server_pk[32];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fz_ids_init();
  memcpy(server_pk, fz_ids[2].pk, 32);
  return 0;
}

static void check_bytes_object(const hm_json *o) {
  if (!hm_json_string_is(hm_json_object_getc(o, "__type"), "Uint8Array")) return;
  size_t n = 0;
  const char *s = hm_json_string(hm_json_object_getc(o, "data"), &n);
  if (!s) return;
  size_t cap = hm_base64_decoded_maxlen(n) + 3;
  uint8_t *a = malloc(cap), *b = malloc(cap);
  if (!a || !b) abort();
  size_t al = 0, bl = 0;
  int rs = hm_base64_decode(a, cap, &al, s, n, 0);
  int rl = hm_base64_decode_lenient(b, cap, &bl, s, n);
  FZ_CHECK(rl == HM_OK, "lenient decode rc %d", rl);
  FZ_CHECK(rs == HM_OK || rs == HM_ERR_DECODE, "strict decode rc %d", rs);
  if (rs == HM_OK) {
    FZ_CHECK(al == bl && memcmp(a, b, al) == 0, "strict and lenient decodes differ");
    size_t el = hm_base64_encoded_len(al, 0);
    char *t = malloc(el);
    if (!t) abort();
    FZ_CHECK(hm_base64_encode(t, el, a, al, 0) == HM_OK && strlen(t) == n && memcmp(t, s, n) == 0,
             "strict decode not canonical");
    free(t);
  }
  free(a);
  free(b);
}

static void walk(const hm_json *v, unsigned depth) {
  if (depth > 64) return;
  if (hm_json_kind_of(v) == HM_JSON_OBJECT) {
    check_bytes_object(v);
    for (size_t i = 0; i < hm_json_object_size(v); i++) walk(hm_json_object_value_at(v, i), depth + 1);
  } else if (hm_json_kind_of(v) == HM_JSON_ARRAY) {
    for (size_t i = 0; i < hm_json_array_size(v); i++) walk(hm_json_array_get(v, i), depth + 1);
  }
}

static void login(const hm_json *vp) {
  int rc[2];
  for (int p = 0; p < 2; p++) {
    hm_verify_opts o = {0};
    o.profile = (hm_profile)p;
    o.now_ms = FZ_NOW_MS;
    hm_verify_result r = {0};
    rc[p] = hm_vp_verify(vp, &o, &r);
    FZ_CHECK(rc[p] <= 0 && rc[p] != HM_ERR_NOMEM && rc[p] != HM_ERR_INVAL && rc[p] != HM_ERR_INTERNAL &&
                 r.err == rc[p] && r.reason,
             "vp verify rc %d", rc[p]);
  }
  if (rc[1] == HM_OK) FZ_CHECK(rc[0] == HM_OK, "login: hardened accepts, compat rejects (%d)", rc[0]);
}

static void token(const hm_json *payload) {
  size_t n = 0;
  const char *t = hm_json_string(hm_json_object_getc(payload, "token"), &n);
  if (!t) return;
  int rc[2];
  for (int p = 0; p < 2; p++) {
    hm_token_claims c = {0};
    rc[p] = hm_token_verify_ex(&c, t, n, server_pk, FZ_NOW_MS, 0, (hm_token_profile)p);
    FZ_CHECK(rc[p] == HM_OK || rc[p] == HM_ERR_TOKEN || rc[p] == HM_ERR_BADSIG || rc[p] == HM_ERR_WEAK_KEY ||
                 rc[p] == HM_ERR_EXPIRED || rc[p] == HM_ERR_NOT_YET_VALID,
             "token rc %d", rc[p]);
    hm_token_claims_clear(&c);
  }
  if (rc[1] == HM_OK) FZ_CHECK(rc[0] == HM_OK);
}

static void keypackage(const hm_json *payload, const char *sender) {
  const hm_json *kp = hm_json_object_getc(payload, "keyPackage");
  if (!kp) return;
  char *s = NULL;
  size_t n = 0;
  FZ_CHECK(hm_json_stringify(&s, &n, kp) == HM_OK);
  int c = hm_mls_keypackage_verify(NULL, s, n, HM_MLS_COMPAT, NULL);
  int h = hm_mls_keypackage_verify(NULL, s, n, HM_MLS_HARDENED, sender);
  FZ_CHECK(c <= 0 && h <= 0 && c != HM_ERR_NOMEM && h != HM_ERR_NOMEM, "keypackage rc %d %d", c, h);
  if (h == HM_OK) FZ_CHECK(c == HM_OK, "key package: hardened accepts, compat rejects (%d)", c);
  hm_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hm_json *f = NULL;
  if (hm_json_parse(&f, (const char *)data, size, 0, NULL) != HM_OK) return 0;
  char *s1 = NULL, *s2 = NULL;
  size_t l1 = 0, l2 = 0;
  FZ_CHECK(hm_json_stringify(&s1, &l1, f) == HM_OK);
  hm_json *g = NULL;
  FZ_CHECK(hm_json_parse(&g, s1, l1, HM_JSON_REJECT_DUPKEYS, NULL) == HM_OK, "relayed text does not reparse");
  FZ_CHECK(hm_json_stringify(&s2, &l2, g) == HM_OK && l1 == l2 && memcmp(s1, s2, l1) == 0, "not a fixpoint");
  hm_json_free(g);
  hm_free(s1);
  hm_free(s2);

  walk(f, 0);
  const hm_json *type = hm_json_object_getc(f, "type");
  const hm_json *payload = hm_json_object_getc(f, "payload");
  const char *sender = hm_json_string(hm_json_object_getc(f, "sender"), NULL);
  if (hm_json_string_is(type, "sync.state") && payload) login(payload);
  else if (hm_json_string_is(type, "auth.token.verify")) token(payload);
  else if (hm_json_string_is(type, "mls.keypackage.upload")) keypackage(payload, sender);
  hm_json_free(f);
  return 0;
}
