/* fuzz/fuzz_didkey.c - harmony/did.h: did:key decode (compat and hardened), DID document,
 * and the encoders.
 *
 * Input: the whole input is a candidate DID text (up to its first NUL). Besides, the first
 * 32 bytes (when present) are used as a raw Ed25519 public key for the encode direction.
 * Invariants:
 *   - decode returns only its documented codes; HARDENED OK => COMPAT OK with the same key
 *     and the same X25519 key; HARDENED OK => the text is the canonical did:key of the key;
 *   - hm_did_document returns what hm_didkey_decode returns; on OK the document is strict
 *     JSON (no duplicate keys) whose "id" is the DID;
 *   - encode(pk) always decodes under COMPAT when pk is a canonical point with y != 1,
 *     and under HARDENED exactly when pk is canonical and not of small order.
 */
#include <string.h>

#include "fuzz.h"
#include "harmony/alloc.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/json.h"

static int known_rc(int rc) {
  return rc == HM_OK || rc == HM_ERR_DID || rc == HM_ERR_WEAK_KEY;
}

static void check_document(const char *did, hm_did_mode mode, int decode_rc) {
  char *doc = NULL;
  size_t dl = 0;
  int rc = hm_did_document(&doc, &dl, did, mode);
  FZ_CHECK(rc == decode_rc, "document rc %d != decode rc %d (mode %d)", rc, decode_rc, (int)mode);
  if (rc != HM_OK) {
    FZ_CHECK(doc == NULL);
    return;
  }
  FZ_CHECK(doc && strlen(doc) == dl);
  hm_json *v = NULL;
  FZ_CHECK(hm_json_parse(&v, doc, dl, HM_JSON_REJECT_DUPKEYS, NULL) == HM_OK, "document is not JSON: %s", doc);
  FZ_CHECK(hm_json_string_is(hm_json_object_getc(v, "id"), did), "document id differs");
  FZ_CHECK(hm_json_array_size(hm_json_object_getc(v, "verificationMethod")) == 2);
  hm_json_free(v);
  hm_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *did = fz_cstr(data, size);
  uint8_t pkc[32], xc[32], pkh[32], xh[32];
  int rc_c = hm_didkey_decode(pkc, xc, did, HM_DID_COMPAT);
  int rc_h = hm_didkey_decode(pkh, xh, did, HM_DID_HARDENED);
  FZ_CHECK(known_rc(rc_c) && known_rc(rc_h), "rc compat %d hardened %d", rc_c, rc_h);
  if (rc_h == HM_OK) {
    FZ_CHECK(rc_c == HM_OK, "hardened accepts what compat rejects (%d): %s", rc_c, did);
    FZ_CHECK(memcmp(pkc, pkh, 32) == 0 && memcmp(xc, xh, 32) == 0, "modes decode different keys");
    char enc[HM_DIDKEY_MAX];
    FZ_CHECK(hm_didkey_encode(enc, sizeof enc, pkh) == HM_OK);
    FZ_CHECK(strcmp(enc, did) == 0, "hardened accepted a non-canonical DID: %s", did);
  }
  /* pk may be NULL-free, xpk optional: decoding without xpk gives the same verdict */
  uint8_t pk2[32];
  FZ_CHECK(hm_didkey_decode(pk2, NULL, did, HM_DID_COMPAT) == rc_c);
  check_document(did, HM_DID_COMPAT, rc_c);
  check_document(did, HM_DID_HARDENED, rc_h);
  free(did);

  if (size >= 32) {
    const uint8_t *pk = data;
    char enc[HM_DIDKEY_MAX], mb[HM_MULTIBASE_KEY_MAX];
    FZ_CHECK(hm_didkey_encode(enc, sizeof enc, pk) == HM_OK);
    FZ_CHECK(hm_didkey_encode(enc, 10, pk) == HM_ERR_BUFSZ);
    FZ_CHECK(hm_ed25519_multibase_encode(mb, sizeof mb, pk) == HM_OK);
    FZ_CHECK(strcmp(enc + 8, mb) == 0, "did and multibase disagree");
    FZ_CHECK(hm_x25519_multibase_encode(mb, sizeof mb, pk) == HM_OK && strncmp(mb, "z6LS", 4) == 0);
    int canonical = 0, small = 0;
    int pc = hm_ed25519_point_check(pk, &canonical, &small);
    uint8_t back[32], x[32];
    int h = hm_didkey_decode(back, x, enc, HM_DID_HARDENED);
    int want_h = pc == HM_OK && canonical && !small;
    FZ_CHECK((h == HM_OK) == want_h, "hardened decode %d of own encoding (point %d canonical %d small %d)", h, pc,
             canonical, small);
    if (h == HM_OK) FZ_CHECK(memcmp(back, pk, 32) == 0);
    int c = hm_didkey_decode(back, x, enc, HM_DID_COMPAT);
    uint8_t xu[32];
    int up = hm_ed25519_to_x25519_pk_upstream(xu, pk);
    FZ_CHECK((c == HM_OK) == (up == HM_OK), "compat decode %d vs upstream conversion %d", c, up);
    if (c == HM_OK) FZ_CHECK(memcmp(back, pk, 32) == 0 && memcmp(x, xu, 32) == 0);
  }
  return 0;
}
