/* tools/harmony-crypto/ops_id.c - identity ops: mnemonic-keys, did-resolve. */
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/did.h"
#include "ops.h"

int op_mnemonic_keys(hc_ctx *c) {
  const char *m;
  size_t n;
  int rc = hc_get_str(c, "mnemonic", &m, &n);
  if (rc) return rc;
  if (strlen(m) != n) return hc_fail(c, HM_ERR_MNEMONIC, "mnemonic contains a NUL character");
  hm_identity id;
  memset(&id, 0, sizeof id);
  /* Upstream's rule: only the word count is checked (no checksum, no word list). */
  rc = hm_identity_from_mnemonic(&id, m, HM_BIP39_COMPAT);
  if (rc) return hc_fail(c, rc, "mnemonic: %s (upstream needs 12, 15, 18, 21 or 24 words split on single spaces)",
                         hm_strerror(rc));
  if (!(rc = hc_set_hex(c, "seed64", id.seed64, 64)) && !(rc = hc_set_hex(c, "seed32", id.seed32, 32)) &&
      !(rc = hc_set_hex(c, "ed25519_public_key", id.ed_pk, 32)) &&
      !(rc = hc_set_hex(c, "x25519_secret_key", id.x_sk, 32)) &&
      !(rc = hc_set_hex(c, "x25519_public_key", id.x_pk, 32)) && !(rc = hc_set_str(c, "did", id.did)))
    rc = hc_set_strn(c, "did_document", id.document, id.document_len);
  hm_identity_clear(&id);
  return rc;
}

int op_did_resolve(hc_ctx *c) {
  const char *did;
  size_t n;
  int rc = hc_get_str(c, "did", &did, &n);
  if (rc) return rc;
  if (strlen(did) != n) return hc_fail(c, HM_ERR_DID, "did contains a NUL character");
  char *doc = NULL;
  size_t len = 0;
  /* upstream DIDKeyProvider.resolve; where it returns null we exit 1 with the reason */
  rc = hm_did_document(&doc, &len, did, HM_DID_COMPAT);
  if (rc) return hc_fail(c, rc, "DID does not resolve (upstream resolve() returns null): %s", hm_strerror(rc));
  rc = hc_set_strn(c, "did_document", doc, len);
  hm_free(doc);
  return rc;
}
