/* harmony/dm.h - direct-message encryption (crypto-facts 4, spec crypto.md R-CRY-DM-1..9).
 *
 *   dm_key = HKDF-SHA256(ikm = X25519(my_x_sk, peer_x_pk), salt "harmony-dm-salt-v1",
 *                        info "harmony-dm-key", 32)
 *   content: ciphertext = XChaCha20-Poly1305(dm_key, nonce24, UTF-8 text, AAD empty) || tag,
 *            nonce = 24 random bytes, senderPublicKey = the sender's X25519 public key.
 * The same key serves both directions forever (no ratchet, no forward secrecy: W21).
 * Nonces are inputs (the core is sans-I/O); draw them with hm_random_bytes.
 */
#ifndef HARMONY_DM_H
#define HARMONY_DM_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The DM key. Returns HM_OK, HM_ERR_WEAK_KEY (all-zero shared secret; key is zeroed) or
 * HM_ERR_INVAL. The shared secret is wiped. */
HM_WARN_UNUSED int hm_dm_key(uint8_t key[32], const uint8_t my_x_sk[32], const uint8_t peer_x_pk[32]);

/* Encrypt pt[0..len) under key with the given 24-byte nonce: writes len + 16 bytes
 * (ciphertext || tag) to ct. Returns HM_OK, HM_ERR_INVAL or HM_ERR_CRYPTO. */
int hm_dm_seal(uint8_t *ct, const uint8_t key[32], const uint8_t nonce[24], const uint8_t *pt,
               size_t len);

/* Decrypt ct[0..len) (len >= 16): writes len - 16 bytes to pt. Returns HM_OK,
 * HM_ERR_DECODE (too short) or HM_ERR_AUTH_TAG (pt zeroed). */
HM_WARN_UNUSED int hm_dm_open(uint8_t *pt, const uint8_t key[32], const uint8_t nonce[24],
                              const uint8_t *ct, size_t len);

/* R-CRY-DM-6 first test: is peer_x_pk the X25519 conversion of the Ed25519 key in
 * peer_did (which must resolve under R-CRY-DID-6)? Returns HM_OK if bound, HM_ERR_DID if
 * the DID does not resolve, HM_ERR_WEAK_KEY if the key is not the DID's. */
HM_WARN_UNUSED int hm_dm_peer_key_check(const char *peer_did, const uint8_t peer_x_pk[32]);

/* Upstream's CryptoProvider.encrypt key (R-CRY-DM-8, no production use):
 * HKDF(X25519(sk, pk), no salt, info "harmony-encrypt"). Same returns as hm_dm_key. */
HM_WARN_UNUSED int hm_crypto_provider_key(uint8_t key[32], const uint8_t x_sk[32],
                                          const uint8_t x_pk[32]);

#ifdef __cplusplus
}
#endif
#endif
