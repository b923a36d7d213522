/* fuzz/fuzz_token.c - harmony/token.h: session token verification, both profiles, with a
 * fixed server key and a fixed clock.
 *
 * Input: byte 0 selects how the rest is used.
 *   sel % 3 == 0: the rest is a token text.
 *   sel % 3 == 1: the rest is a payload; the harness signs it with the server key and
 *                 verifies base64(payload) "." base64(sig), so the claim checks behind the
 *                 signature are reached.
 *   sel % 3 == 2: the rest gives (seed for a subject DID, iat offset, ttl); the harness
 *                 issues a token with hm_token_issue and verifies it.
 * Invariants: only documented return codes; HARDENED OK => COMPAT OK; on HARDENED OK the
 * claims are a resolvable did, now <= exp, iat <= now + 5 min, exp - iat <= 7 days; an
 * issued token within those bounds verifies under both profiles.
 */
#include <string.h>

#include "fuzz.h"
#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/token.h"

#define NOW 1795337307092LL

static uint8_t server_seed[32], server_pk[32];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  for (int i = 0; i < 32; i++) server_seed[i] = (uint8_t)(0x5a ^ i);
  if (hm_ed25519_seed_keypair(server_pk, NULL, server_seed) != HM_OK) abort();
  return 0;
}

static int known(int rc) {
  return rc == HM_OK || rc == HM_ERR_TOKEN || rc == HM_ERR_BADSIG || rc == HM_ERR_WEAK_KEY ||
         rc == HM_ERR_EXPIRED || rc == HM_ERR_NOT_YET_VALID;
}

/* Returns the hardened verdict. */
static int verify_both(const char *tok, size_t len) {
  hm_token_claims cc = {0}, ch = {0};
  int rc = hm_token_verify_ex(&cc, tok, len, server_pk, NOW, 0, HM_TOKEN_COMPAT);
  int rh = hm_token_verify_ex(&ch, tok, len, server_pk, NOW, 0, HM_TOKEN_HARDENED);
  FZ_CHECK(known(rc) && known(rh), "rc compat %d hardened %d", rc, rh);
  if (rc != HM_OK) FZ_CHECK(cc.did == NULL, "claims left filled on failure");
  if (rh != HM_OK) FZ_CHECK(ch.did == NULL, "claims left filled on failure");
  if (rh == HM_OK) {
    FZ_CHECK(rc == HM_OK, "hardened accepts, compat rejects (%d): %.*s", rc, (int)len, tok);
    FZ_CHECK(ch.did != NULL);
    uint8_t pk[32];
    FZ_CHECK(hm_didkey_decode(pk, NULL, ch.did, HM_DID_HARDENED) == HM_OK, "unresolvable did %s", ch.did);
    FZ_CHECK(NOW <= ch.exp_ms && ch.iat_ms <= NOW + HM_TOKEN_MAX_FUTURE_MS &&
                 ch.exp_ms - ch.iat_ms <= HM_TOKEN_DEFAULT_TTL_MS,
             "claims out of bounds: iat %lld exp %lld", (long long)ch.iat_ms, (long long)ch.exp_ms);
    FZ_CHECK(cc.did && strcmp(cc.did, ch.did) == 0 && cc.exp_ms == ch.exp_ms && cc.iat_ms == ch.iat_ms,
             "profiles read different claims");
  }
  hm_token_claims_clear(&cc);
  hm_token_claims_clear(&ch);
  FZ_CHECK(cc.did == NULL && ch.did == NULL);
  return rh;
}

static void sign_payload(const uint8_t *p, size_t n) {
  uint8_t sig[64];
  FZ_CHECK(hm_ed25519_sign(sig, p, n, server_seed) == HM_OK);
  size_t l1 = hm_base64_encoded_len(n, 0);
  char *tok = malloc(l1 + 90);
  if (!tok) abort();
  FZ_CHECK(hm_base64_encode(tok, l1, p, n, 0) == HM_OK);
  size_t off = strlen(tok);
  tok[off++] = '.';
  FZ_CHECK(hm_base64_encode(tok + off, 90, sig, 64, 0) == HM_OK);
  (void)verify_both(tok, strlen(tok));
  free(tok);
}

static void issue(const uint8_t *p, size_t n) {
  if (n < 32 + 8 + 8) return;
  uint8_t pk[32];
  char did[HM_DIDKEY_MAX];
  FZ_CHECK(hm_ed25519_seed_keypair(pk, NULL, p) == HM_OK && hm_didkey_encode(did, sizeof did, pk) == HM_OK);
  int64_t off = 0, ttl = 0;
  for (int i = 0; i < 8; i++) off = (int64_t)((uint64_t)off << 8 | p[32 + i]);
  for (int i = 0; i < 8; i++) ttl = (int64_t)((uint64_t)ttl << 8 | p[40 + i]);
  off %= 2 * HM_TOKEN_DEFAULT_TTL_MS; /* iat within +-14 days of now */
  ttl %= 2 * HM_TOKEN_DEFAULT_TTL_MS;
  int64_t iat = NOW + off;
  char *tok = NULL;
  size_t tl = 0;
  int rc = hm_token_issue(&tok, &tl, did, iat, ttl, server_seed);
  FZ_CHECK(rc == HM_OK, "issue rc %d", rc);
  int64_t exp = iat + (ttl <= 0 ? HM_TOKEN_DEFAULT_TTL_MS : ttl);
  int rh = verify_both(tok, tl);
  int ok = NOW <= exp && iat <= NOW + HM_TOKEN_MAX_FUTURE_MS && exp - iat <= HM_TOKEN_DEFAULT_TTL_MS;
  FZ_CHECK((rh == HM_OK) == ok, "issued token (iat %lld exp %lld) hardened verdict %d", (long long)iat,
           (long long)exp, rh);
  hm_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t n = size - 1;
  uint8_t *p = malloc(n ? n : 1);
  if (!p) abort();
  memcpy(p, data + 1, n);
  switch (data[0] % 3) {
  case 0: (void)verify_both((const char *)p, n); break;
  case 1: sign_payload(p, n); break;
  default: issue(p, n); break;
  }
  free(p);
  return 0;
}
