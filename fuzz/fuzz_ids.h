/* fuzz/fuzz_ids.h - the fixed identities of the fuzz targets and of their seed generator
 * (fuzz/seedgen.c). Seed i is 32 bytes of (0x11 * (i + 1)); all are public test keys.
 * The targets re-sign documents whose proof names one of these DIDs, so that the checks
 * behind the signature are fuzzed too.
 */
#ifndef HARMONY_FUZZ_IDS_H
#define HARMONY_FUZZ_IDS_H

#include <stdlib.h>
#include <string.h>

#include "harmony/crypto.h"
#include "harmony/did.h"

#define FZ_NIDS 3
#define FZ_NOW_MS 1795337307092LL /* 2026-11-22T08:48:27.092Z, the clock of every target */

typedef struct {
  uint8_t seed[32];
  uint8_t pk[32];
  char did[HM_DIDKEY_MAX];
} fz_id;

static fz_id fz_ids[FZ_NIDS];

static inline void fz_ids_init(void) {
  for (int i = 0; i < FZ_NIDS; i++) {
    memset(fz_ids[i].seed, 0x11 * (i + 1), 32);
    if (hm_ed25519_seed_keypair(fz_ids[i].pk, NULL, fz_ids[i].seed) != HM_OK ||
        hm_didkey_encode(fz_ids[i].did, sizeof fz_ids[i].did, fz_ids[i].pk) != HM_OK)
      abort();
  }
}

/* The identity whose DID starts the string s (a DID or a verification method id). */
static inline const fz_id *fz_id_for(const char *s) {
  if (!s) return NULL;
  for (int i = 0; i < FZ_NIDS; i++) {
    size_t n = strlen(fz_ids[i].did);
    if (strncmp(s, fz_ids[i].did, n) == 0) return &fz_ids[i];
  }
  return NULL;
}

#endif
