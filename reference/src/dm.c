/* dm.c - direct-message keys and encryption (see harmony/dm.h). */
#include "harmony/dm.h"

#include <sodium.h>
#include <string.h>

#include "harmony/crypto.h"
#include "harmony/did.h"

/* X25519 then HKDF with the given labels; the shared secret never leaves this frame. */
static int dh_hkdf(uint8_t key[32], const uint8_t sk[32], const uint8_t pk[32], const char *salt,
                   const char *info) {
  if (!key || !sk || !pk) return HM_ERR_INVAL;
  uint8_t shared[32];
  int rc = hm_x25519(shared, sk, pk);
  if (rc == HM_OK) rc = hm_hkdf32(key, shared, 32, salt, info);
  if (rc != HM_OK) sodium_memzero(key, 32);
  sodium_memzero(shared, sizeof shared);
  return rc;
}

int hm_dm_key(uint8_t key[32], const uint8_t my_x_sk[32], const uint8_t peer_x_pk[32]) {
  return dh_hkdf(key, my_x_sk, peer_x_pk, "harmony-dm-salt-v1", "harmony-dm-key");
}

int hm_crypto_provider_key(uint8_t key[32], const uint8_t x_sk[32], const uint8_t x_pk[32]) {
  return dh_hkdf(key, x_sk, x_pk, NULL, "harmony-encrypt");
}

int hm_dm_seal(uint8_t *ct, const uint8_t key[32], const uint8_t nonce[24], const uint8_t *pt,
               size_t len) {
  return hm_xchacha_seal(ct, key, nonce, pt, len, NULL, 0);
}

int hm_dm_open(uint8_t *pt, const uint8_t key[32], const uint8_t nonce[24], const uint8_t *ct,
               size_t len) {
  return hm_xchacha_open(pt, key, nonce, ct, len, NULL, 0);
}

int hm_dm_peer_key_check(const char *peer_did, const uint8_t peer_x_pk[32]) {
  if (!peer_did || !peer_x_pk) return HM_ERR_INVAL;
  uint8_t edpk[32], xpk[32];
  if (hm_didkey_decode(edpk, xpk, peer_did, HM_DID_HARDENED) != HM_OK) return HM_ERR_DID;
  return hm_ct_equal(xpk, peer_x_pk, 32) ? HM_OK : HM_ERR_WEAK_KEY;
}
