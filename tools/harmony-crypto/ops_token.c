/* tools/harmony-crypto/ops_token.c - session-token op. */
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/token.h"
#include "ops.h"

int op_session_token(hc_ctx *c) {
  uint8_t seed[32];
  const char *did;
  size_t didn;
  int64_t iat, exp;
  int rc = hc_get_hex_fixed(c, "server_seed32", seed, 32);
  if (!rc) rc = hc_get_str(c, "did", &did, &didn);
  if (!rc) rc = hc_get_int(c, "issued_at", &iat);
  if (!rc) rc = hc_get_int(c, "expires_at", &exp);
  if (!rc && strlen(did) != didn) rc = hc_fail(c, HM_ERR_INVAL, "did contains a NUL character");
  if (!rc && exp <= iat) rc = hc_fail(c, HM_ERR_RANGE, "expires_at must be after issued_at (upstream: iat + 604800000)");
  if (!rc) {
    char *tok = NULL;
    size_t len = 0;
    rc = hm_token_issue(&tok, &len, did, iat, exp - iat, seed);
    if (rc) hc_fail(c, rc, "token: %s", hm_strerror(rc));
    else rc = hc_set_strn(c, "token", tok, len);
    hm_free(tok);
  }
  sodium_memzero(seed, sizeof seed);
  return rc;
}
