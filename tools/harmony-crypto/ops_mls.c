/* tools/harmony-crypto/ops_mls.c - simplified-MLS ops. */
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/mls.h"
#include "ops.h"

/* The key package of the identity of seed32 under the DID given (as upstream's
 * createKeyPackage(did, keys) takes it), in wire form (Uint8Array codec objects). */
int op_mls_keypackage(hc_ctx *c) {
  uint8_t seed[32], sig[64];
  const char *did;
  size_t didn;
  int rc = hc_get_hex_fixed(c, "seed32", seed, 32);
  if (!rc) rc = hc_get_str(c, "did", &did, &didn);
  if (!rc && strlen(did) != didn) rc = hc_fail(c, HM_ERR_INVAL, "did contains a NUL character");
  if (rc) {
    sodium_memzero(seed, sizeof seed);
    return rc;
  }
  hm_identity id;
  memset(&id, 0, sizeof id);
  char *kp = NULL, *si = NULL;
  size_t kpn = 0, sin = 0;
  rc = hm_identity_from_seed32(&id, seed);
  if (rc) hc_fail(c, rc, "identity");
  if (!rc && (rc = hm_mls_keypackage_create(&kp, &kpn, id.x_pk, id.ed_pk, seed, did))) hc_fail(c, rc, "key package");
  if (!rc && (rc = hm_mls_keypackage_signing_input(&si, &sin, id.x_pk, did))) hc_fail(c, rc, "signing input");
  if (!rc && (rc = hm_ed25519_sign(sig, (const uint8_t *)si, sin, seed))) hc_fail(c, rc, "signing");
  if (!rc && !(rc = hc_set_strn(c, "keypackage", kp, kpn)) && !(rc = hc_set_strn(c, "signing_input", si, sin)))
    rc = hc_set_hex(c, "signature", sig, 64);
  hm_free(kp);
  hm_free(si);
  hm_identity_clear(&id);
  sodium_memzero(seed, sizeof seed);
  return rc;
}

int op_mls_epoch_keys(hc_ctx *c) {
  uint8_t es[32], mk[32], md[32];
  int64_t epoch;
  int rc = hc_get_hex_fixed(c, "epoch_secret", es, 32);
  if (!rc) rc = hc_get_int(c, "epoch", &epoch);
  if (!rc && (epoch < 0 || epoch > 9007199254740991LL)) rc = hc_fail(c, HM_ERR_RANGE, "epoch must be 0..2^53-1");
  if (!rc && ((rc = hm_mls_epoch_key(mk, es, HM_MLS_MESSAGE, (uint64_t)epoch)) ||
              (rc = hm_mls_epoch_key(md, es, HM_MLS_MEDIA, (uint64_t)epoch))))
    hc_fail(c, rc, "epoch key");
  if (!rc && !(rc = hc_set_hex(c, "message_key", mk, 32))) rc = hc_set_hex(c, "media_key", md, 32);
  sodium_memzero(es, sizeof es);
  sodium_memzero(mk, sizeof mk);
  sodium_memzero(md, sizeof md);
  return rc;
}

int op_mls_advance(hc_ctx *c) {
  uint8_t es[32], cs[32], ns[32];
  int rc = hc_get_hex_fixed(c, "epoch_secret", es, 32);
  if (!rc) rc = hc_get_hex_fixed(c, "commit_secret", cs, 32);
  if (!rc && (rc = hm_mls_advance(ns, es, cs))) hc_fail(c, rc, "advance");
  if (!rc) rc = hc_set_hex(c, "epoch_secret", ns, 32);
  sodium_memzero(es, sizeof es);
  sodium_memzero(cs, sizeof cs);
  sodium_memzero(ns, sizeof ns);
  return rc;
}

int op_mls_welcome_key(hc_ctx *c) {
  uint8_t ik[32], wk[32];
  int rc = hc_get_hex_fixed(c, "init_key", ik, 32);
  if (!rc && (rc = hm_mls_welcome_key(wk, ik))) hc_fail(c, rc, "welcome key");
  if (!rc) rc = hc_set_hex(c, "welcome_key", wk, 32);
  sodium_memzero(wk, sizeof wk);
  return rc;
}
