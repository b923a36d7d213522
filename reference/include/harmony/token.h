/* harmony/token.h - the server session token (crypto-facts 8.2).
 *
 *   payload = JSON.stringify({"did":<did>,"iat":<ms>,"exp":<iat + ttl ms>})   (that key order)
 *   token   = base64(payload) "." base64(Ed25519_sign(server_key, payload))
 * with standard base64 ('+' '/', '=' padding), not base64url. Upstream's TTL is 7 days
 * (604800000 ms) and its server key is random per process; ours is whatever seed the
 * caller passes (the server persists it, see spec auth.md).
 *
 * Two verification profiles (spec crypto.md R-CRY-TOK-2 / R-CRY-TOK-4):
 *   HM_TOKEN_COMPAT   - upstream: split on '.', first two parts (more are ignored);
 *                       atob() (WHATWG forgiving base64) on both; JSON.parse of the payload
 *                       (duplicate keys allowed, last wins); expired when exp < now (a
 *                       missing exp never expires); Ed25519 in ZIP-215 mode over the UTF-8
 *                       of the atob() text (bytes >= 0x80 become two bytes, as JS does).
 *   HM_TOKEN_HARDENED - ours: exactly one '.'; strict base64 for both parts; a 64-byte
 *                       signature verified in strict mode over the payload bytes, before
 *                       anything is parsed; the payload a JSON object without duplicate
 *                       keys with exactly the keys did (a DID that resolves under
 *                       R-CRY-DID-6), iat, exp (integers); now <= exp;
 *                       iat <= now + HM_TOKEN_MAX_FUTURE_MS; exp - iat <= max lifetime.
 * No secret is compared, so nothing needs a constant-time compare beyond Ed25519 itself.
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
 * (ttl_ms <= 0 selects the 7-day default), signed with the server's Ed25519 secret key
 * (sk64 as from hm_ed25519_seed_keypair).
 * *token is hm_malloc'd and NUL-terminated (free with hm_free); *len (may be NULL)
 * gets its length. Times must be in 0..2^53 (JS-safe integers).
 * Returns HM_OK, HM_ERR_INVAL, HM_ERR_RANGE or HM_ERR_NOMEM. */
int hm_token_issue_sk(char **token, size_t *len, const char *did, int64_t iat_ms, int64_t ttl_ms,
                      const uint8_t server_sk64[64]);
/* As hm_token_issue_sk, with the server's seed (the key is derived for this call and wiped). */
int hm_token_issue(char **token, size_t *len, const char *did, int64_t iat_ms, int64_t ttl_ms,
                   const uint8_t server_seed[32]);

/* Payload JSON alone (what the signature covers), hm_malloc'd. Same errors. */
int hm_token_payload(char **json, size_t *len, const char *did, int64_t iat_ms, int64_t exp_ms);

typedef enum { HM_TOKEN_COMPAT = 0, HM_TOKEN_HARDENED = 1 } hm_token_profile;

/* Verify token[0..len) against the server public key at now_ms under profile (see top).
 * max_lifetime_ms (hardened only; <= 0 = 7 days) bounds exp - iat. On HM_OK, claims (may
 * be NULL) is filled (compat: did is NULL when the payload has no string did; iat/exp 0
 * when not integers). Returns HM_OK; HM_ERR_TOKEN (malformed: dots, base64, JSON, claims,
 * signature length in hardened, DID that does not resolve, lifetime too long);
 * HM_ERR_BADSIG / HM_ERR_WEAK_KEY; HM_ERR_EXPIRED (exp < now); HM_ERR_NOT_YET_VALID
 * (hardened: iat > now + 5 min); HM_ERR_NOMEM; HM_ERR_INVAL. */
HM_WARN_UNUSED int hm_token_verify_ex(hm_token_claims *claims, const char *token, size_t len,
                                      const uint8_t server_pk[32], int64_t now_ms,
                                      int64_t max_lifetime_ms, hm_token_profile profile);

/* Shorthand: mode HM_ED25519_ZIP215 selects HM_TOKEN_COMPAT, HM_ED25519_STRICT selects
 * HM_TOKEN_HARDENED with the default 7-day lifetime bound. */
HM_WARN_UNUSED int hm_token_verify(hm_token_claims *claims, const char *token, size_t len,
                                   const uint8_t server_pk[32], int64_t now_ms,
                                   hm_ed25519_mode mode);

/* Free claims->did and zero the struct. Safe on a zeroed struct. */
void hm_token_claims_clear(hm_token_claims *claims);

#ifdef __cplusplus
}
#endif
#endif
