/* fuzz/fuzz_dm.c - harmony/dm.h: DM decryption with a fixed key, seal/open round trips,
 * the peer-key binding check and the key agreement on arbitrary public keys.
 *
 * Input: byte 0 selects the operation on the rest (r):
 *   0: r = nonce(24) || ciphertext||tag, opened with the DM key of identities 0 and 1;
 *   1: r = plaintext: sealed by identity 0 for 1, opened by 1 (the other direction of the
 *      same key), then opened again with one byte changed;
 *   2: r = x25519 public key (32) || did text: hm_dm_peer_key_check;
 *   3: r = a peer X25519 public key (32): hm_dm_key and hm_crypto_provider_key.
 * Invariants: only documented codes; a failed open zeroes its output; round trips give the
 * plaintext back; any changed byte fails with HM_ERR_AUTH_TAG; a bound peer key is the
 * conversion of the DID's key; a WEAK_KEY result leaves the key zeroed.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_ids.h"
#include "harmony/dm.h"

static uint8_t xsk[2][32], xpk[2][32], key01[32], key10[32];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fz_ids_init();
  for (int i = 0; i < 2; i++) {
    if (hm_ed25519_to_x25519_sk(xsk[i], fz_ids[i].seed) != HM_OK || hm_x25519_public(xpk[i], xsk[i]) != HM_OK)
      abort();
  }
  if (hm_dm_key(key01, xsk[0], xpk[1]) != HM_OK || hm_dm_key(key10, xsk[1], xpk[0]) != HM_OK) abort();
  if (memcmp(key01, key10, 32) != 0) abort();
  return 0;
}

static int all_zero(const uint8_t *p, size_t n) {
  uint8_t a = 0;
  for (size_t i = 0; i < n; i++) a |= p[i];
  return a == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const uint8_t *r = data + 1;
  size_t n = size - 1;
  switch (data[0] & 3) {
  case 0: {
    if (n < 24) return 0;
    size_t cl = n - 24;
    uint8_t *ct = malloc(cl ? cl : 1), *pt = malloc(cl ? cl : 1);
    if (!ct || !pt) abort();
    memcpy(ct, r + 24, cl);
    int rc = hm_dm_open(pt, key10, r, ct, cl);
    FZ_CHECK(rc == HM_OK || rc == HM_ERR_DECODE || rc == HM_ERR_AUTH_TAG, "open rc %d", rc);
    if (cl < 16) FZ_CHECK(rc == HM_ERR_DECODE);
    if (rc == HM_ERR_AUTH_TAG) FZ_CHECK(all_zero(pt, cl - 16), "failed open left plaintext");
    free(ct);
    free(pt);
    break;
  }
  case 1: {
    uint8_t nonce[24];
    for (int i = 0; i < 24; i++) nonce[i] = (uint8_t)(n + 31 * i);
    uint8_t *ct = malloc(n + 16), *pt = malloc(n ? n : 1);
    if (!ct || !pt) abort();
    FZ_CHECK(hm_dm_seal(ct, key01, nonce, r, n) == HM_OK);
    FZ_CHECK(hm_dm_open(pt, key10, nonce, ct, n + 16) == HM_OK && memcmp(pt, r, n) == 0, "round trip");
    size_t at = n ? r[0] % (n + 16) : 0;
    ct[at] ^= 0x01;
    FZ_CHECK(hm_dm_open(pt, key10, nonce, ct, n + 16) == HM_ERR_AUTH_TAG, "tampered byte %zu accepted", at);
    FZ_CHECK(all_zero(pt, n));
    free(ct);
    free(pt);
    break;
  }
  case 2: {
    if (n < 32) return 0;
    char *did = fz_cstr(r + 32, n - 32);
    int rc = hm_dm_peer_key_check(did, r);
    FZ_CHECK(rc == HM_OK || rc == HM_ERR_DID || rc == HM_ERR_WEAK_KEY, "peer check rc %d", rc);
    if (rc == HM_OK) {
      uint8_t pk[32], x[32];
      FZ_CHECK(hm_didkey_decode(pk, NULL, did, HM_DID_HARDENED) == HM_OK);
      FZ_CHECK(hm_ed25519_to_x25519_pk(x, pk) == HM_OK && memcmp(x, r, 32) == 0, "bound key is not the DID's");
    }
    free(did);
    /* identity 0's own DID and key always bind */
    FZ_CHECK(hm_dm_peer_key_check(fz_ids[0].did, xpk[0]) == HM_OK);
    break;
  }
  default: {
    if (n < 32) return 0;
    uint8_t k[32], k2[32];
    int rc = hm_dm_key(k, xsk[0], r);
    FZ_CHECK(rc == HM_OK || rc == HM_ERR_WEAK_KEY, "dm key rc %d", rc);
    if (rc == HM_ERR_WEAK_KEY) FZ_CHECK(all_zero(k, 32), "weak key not zeroed");
    int rc2 = hm_crypto_provider_key(k2, xsk[0], r);
    FZ_CHECK(rc2 == rc, "provider key rc %d vs dm key rc %d", rc2, rc);
    if (rc == HM_OK) FZ_CHECK(memcmp(k, k2, 32) != 0, "DM and provider keys coincide");
    break;
  }
  }
  return 0;
}
