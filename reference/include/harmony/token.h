/* harmony/token.h - the server session token (crypto-facts 8.2).
 *
 *   payload = JSON.stringify({"did":<did>,"iat":<ms>,"exp":<iat + ttl ms>})   (that key order)
 *   token   = base64(payload) "." base64(Ed25519_sign(server_key, payload))
 * with standard base64 ('+' '/', '=' padding), not base64url. Upstream's TTL is 7 days
 * (604800000 ms) and its server key is random per process; ours is whatever seed the
 * caller passes (the server persists it, see spec auth.md).
 *
 * Verification: split on the one '.', strict base64 of both halves, the payload must be
 * a JSON object with a string "did" and numbers "iat" and "exp" (duplicate keys
 * rejected), the signature must verify under the server key, and exp >= now (upstream
 * expires a token when exp < now). We add: iat must not be more than
 * HM_TOKEN_MAX_FUTURE_MS ahead of now. No secret is compared, so there is nothing to
 * do in constant time beyond Ed25519 verification itself.
 */
#ifndef HARMONY_TOKEN_H
#define HARMONY_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/crypto.h"
#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HM_TOKEN_DEFAULT_TTL_MS 604800000LL /* 7 days, as upstream */
#define HM_TOKEN_MAX_FUTURE_MS 300000LL     /* iat may be at most 5 min in the future */

/* Claims of a verified token. did is hm_malloc'd (free with hm_token_claims_clear). */
typedef struct {
  char *did;
  int64_t iat_ms;
  int64_t exp_ms;
} hm_token_claims;

/* Issue a token for did (non-empty printable ASCII, no spaces) at iat_ms, expiring at iat_ms + ttl_ms
 * (ttl_ms <= 0 selects the 7-day default), signed with the server's Ed25519 seed.
 * *token is hm_malloc'd and NUL-terminated (free with hm_free); *len (may be NULL)
 * gets its length. Times must be in 0..2^53 (JS-safe integers).
 * Returns HM_OK, HM_ERR_INVAL, HM_ERR_RANGE or HM_ERR_NOMEM. */
int hm_token_issue(char **token, size_t *len, const char *did, int64_t iat_ms, int64_t ttl_ms,
                   const uint8_t server_seed[32]);

/* Payload JSON alone (what the signature covers), hm_malloc'd. Same errors. */
int hm_token_payload(char **json, size_t *len, const char *did, int64_t iat_ms, int64_t exp_ms);

/* Verify token[0..len) against the server public key at now_ms with the Ed25519 rules of
 * mode (hardened: HM_ED25519_STRICT). On HM_OK, claims (may be NULL) is filled.
 * Returns HM_OK; HM_ERR_TOKEN (malformed: no/extra '.', bad base64, bad JSON, missing or
 * wrongly typed claims, signature not 64 bytes); HM_ERR_BADSIG / HM_ERR_WEAK_KEY;
 * HM_ERR_EXPIRED (exp < now); HM_ERR_NOT_YET_VALID (iat > now + 5 min); HM_ERR_NOMEM. */
HM_WARN_UNUSED int hm_token_verify(hm_token_claims *claims, const char *token, size_t len,
                                   const uint8_t server_pk[32], int64_t now_ms,
                                   hm_ed25519_mode mode);

/* Free claims->did and zero the struct. Safe on a zeroed struct. */
void hm_token_claims_clear(hm_token_claims *claims);

#ifdef __cplusplus
}
#endif
#endif
