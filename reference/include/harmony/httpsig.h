/* harmony/httpsig.h - the "Harmony-Ed25519" HTTP request signature (crypto-facts 8.3,
 * spec crypto.md R-CRY-HSIG-1..4, http.md R-HTTP-6..9).
 *
 *   Authorization: Harmony-Ed25519 <did> <ts> <b64(sig)>
 *   sig = Ed25519(seed, UTF-8(<ts> ":" <METHOD> ":" <request-target>))
 * <ts> is the exact text sent (upstream's client: Unix seconds); it is read as seconds
 * when below 10^12 and as milliseconds otherwise, and must be within +-300 s of now.
 * <request-target> is the path and query as in the request line. The body is not covered
 * and there is no nonce: the caller keeps a replay cache of accepted signatures
 * (R-HTTP-7) using hm_httpsig_result.sig and .ts_ms.
 *
 * Profiles:
 *   HM_HTTPSIG_COMPAT   - upstream's server: parseInt timestamp (leading digits, trailing
 *                         junk ignored), Node's lenient base64 (both alphabets, other
 *                         characters skipped, stops at the first '='), ZIP-215 verify.
 *                         DID: must start "did:key:z6Mk", decode with upstream base58 to
 *                         ed 01 || key. (How upstream slices the key is inferred: a key
 *                         that is not 32 bytes fails verification.)
 *   HM_HTTPSIG_HARDENED - ours (R-CRY-HSIG-3 / R-HTTP-8): ts is 1..13 ASCII digits without
 *                         leading zero; signature canonical standard base64 of exactly 64
 *                         bytes; the DID resolves (R-CRY-DID-6); strict Ed25519.
 */
#ifndef HARMONY_HTTPSIG_H
#define HARMONY_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HM_HTTPSIG_WINDOW_MS 300000LL
#define HM_HTTPSIG_DID_MAX 128

typedef enum { HM_HTTPSIG_COMPAT = 0, HM_HTTPSIG_HARDENED = 1 } hm_httpsig_profile;

/* The upstream 401 texts (R-HTTP-9), one per failure class. */
#define HM_HTTPSIG_E_MISSING \
  "Missing or invalid Authorization header. Expected: Harmony-Ed25519 <did> <timestamp> <base64-signature>"
#define HM_HTTPSIG_E_MALFORMED "Malformed Authorization header"
#define HM_HTTPSIG_E_DID "Only did:key (Ed25519) DIDs are supported"
#define HM_HTTPSIG_E_TS "Invalid timestamp"
#define HM_HTTPSIG_E_WINDOW "Timestamp outside acceptable window (\xc2\xb1" "5 minutes)"
#define HM_HTTPSIG_E_DIDKEY "Failed to decode DID public key"
#define HM_HTTPSIG_E_SIGENC "Invalid signature encoding"
#define HM_HTTPSIG_E_SIG "Signature verification failed"

typedef struct {
  char did[HM_HTTPSIG_DID_MAX]; /* the authenticated DID (on success) */
  int64_t ts_ms;                /* the timestamp in ms (on success) */
  uint8_t sig[64];              /* the signature bytes, for a replay cache (on success) */
  const char *reason;           /* on failure: one of the HM_HTTPSIG_E_* texts (static) */
} hm_httpsig_result;

/* The string that is signed: "<ts_text>:<method>:<target>", hm_malloc'd (hm_free). */
int hm_httpsig_signing_input(char **out, size_t *len, const char *ts_text, const char *method,
                             const char *target);

/* Build the full header value "Harmony-Ed25519 <did> <ts> <b64sig>" for a request, where
 * did is the did:key of seed and ts is given in whatever unit the caller wants (upstream
 * clients: seconds). *header is hm_malloc'd. Returns HM_OK, HM_ERR_INVAL, HM_ERR_NOMEM. */
int hm_httpsig_sign(char **header, size_t *len, int64_t ts, const char *method,
                    const char *target, const uint8_t seed[32]);

/* Verify an Authorization header value (NUL-terminated; NULL = missing) for method and
 * target at now_ms. res (may be NULL) receives the DID, timestamp and signature, or the
 * upstream failure text. Returns HM_OK; HM_ERR_STRUCTURE (missing/malformed header or
 * timestamp); HM_ERR_DID (DID not supported or key undecodable); HM_ERR_STALE (window);
 * HM_ERR_DECODE (signature encoding); HM_ERR_BADSIG / HM_ERR_WEAK_KEY; HM_ERR_NOMEM;
 * HM_ERR_INVAL. */
HM_WARN_UNUSED int hm_httpsig_verify(hm_httpsig_result *res, const char *authorization,
                                     const char *method, const char *target, int64_t now_ms,
                                     hm_httpsig_profile profile);

#ifdef __cplusplus
}
#endif
#endif
