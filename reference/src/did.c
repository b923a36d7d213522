/* did.c - did:key, multibase keys, DID documents, identities (see harmony/did.h). */
#include "harmony/did.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"

static const char DID_PREFIX[] = "did:key:";

static int key_multibase(char *out, size_t cap, uint8_t codec, const uint8_t key[32]) {
  if (!out || !key) return HM_ERR_INVAL;
  uint8_t buf[34];
  buf[0] = codec; /* 0xed / 0xec: both are the 2-byte varints <codec> 01 */
  buf[1] = 0x01;
  memcpy(buf + 2, key, 32);
  return hm_multibase_encode_b58(out, cap, buf, sizeof buf);
}

int hm_ed25519_multibase_encode(char *out, size_t cap, const uint8_t pk[32]) {
  return key_multibase(out, cap, 0xed, pk);
}

int hm_x25519_multibase_encode(char *out, size_t cap, const uint8_t xpk[32]) {
  return key_multibase(out, cap, 0xec, xpk);
}

int hm_didkey_encode(char *out, size_t cap, const uint8_t pk[32]) {
  if (!out || !pk) return HM_ERR_INVAL;
  if (cap < sizeof DID_PREFIX) return HM_ERR_BUFSZ;
  memcpy(out, DID_PREFIX, sizeof DID_PREFIX - 1);
  return hm_ed25519_multibase_encode(out + sizeof DID_PREFIX - 1, cap - (sizeof DID_PREFIX - 1), pk);
}

/* ---- the resolution memo (see did.h) ---- */
typedef struct {
  uint8_t used, mode;
  char did[HM_DIDKEY_MAX];
  uint8_t pk[32], xpk[32];
} memo_ent;
static pthread_mutex_t memo_mu = PTHREAD_MUTEX_INITIALIZER;
static memo_ent *memo_tab;
static size_t memo_n;
static uint8_t memo_key[crypto_shorthash_KEYBYTES];
static uint64_t memo_hits, memo_stored;

int hm_did_memo_enable(size_t slots) {
  if (sodium_init() < 0) return HM_ERR_CRYPTO;
  if (slots > ((size_t)1 << 20)) return HM_ERR_INVAL;
  memo_ent *tab = NULL;
  if (slots && !(tab = hm_calloc(slots, sizeof *tab))) return HM_ERR_NOMEM;
  pthread_mutex_lock(&memo_mu);
  memo_ent *old = memo_tab;
  memo_tab = tab;
  memo_n = slots;
  randombytes_buf(memo_key, sizeof memo_key);
  pthread_mutex_unlock(&memo_mu);
  hm_free(old);
  return HM_OK;
}

void hm_did_memo_stats(uint64_t *hits, uint64_t *stored) {
  pthread_mutex_lock(&memo_mu);
  if (hits) *hits = memo_hits;
  if (stored) *stored = memo_stored;
  pthread_mutex_unlock(&memo_mu);
}

/* The slot of (mode, did); call with memo_mu held and memo_n > 0. NULL when did is too long
 * to be stored (never a valid did:key anyway). */
static memo_ent *memo_slot(hm_did_mode mode, const char *did) {
  size_t dl = strlen(did);
  if (dl >= HM_DIDKEY_MAX) return NULL;
  uint8_t in[1 + HM_DIDKEY_MAX], h[crypto_shorthash_BYTES];
  in[0] = (uint8_t)mode;
  memcpy(in + 1, did, dl);
  crypto_shorthash(h, in, 1 + dl, memo_key);
  uint64_t x = 0;
  for (int i = 0; i < 8; i++) x |= (uint64_t)h[i] << (8 * i);
  return &memo_tab[x % memo_n];
}

/* a hit copies the keys (xpk may be NULL) and returns 1; a miss returns 0 */
static int memo_get(hm_did_mode mode, const char *did, uint8_t pk[32], uint8_t xpk[32]) {
  int hit = 0;
  pthread_mutex_lock(&memo_mu);
  memo_ent *e = memo_n ? memo_slot(mode, did) : NULL;
  if (e && e->used && e->mode == (uint8_t)mode && strcmp(e->did, did) == 0) {
    memcpy(pk, e->pk, 32);
    if (xpk) memcpy(xpk, e->xpk, 32);
    memo_hits++;
    hit = 1;
  }
  pthread_mutex_unlock(&memo_mu);
  return hit;
}

/* store a success (a colliding entry is replaced) */
static void memo_put(hm_did_mode mode, const char *did, const uint8_t pk[32], const uint8_t xpk[32]) {
  pthread_mutex_lock(&memo_mu);
  memo_ent *e = memo_n ? memo_slot(mode, did) : NULL;
  if (e) {
    e->used = 1;
    e->mode = (uint8_t)mode;
    snprintf(e->did, sizeof e->did, "%s", did);
    memcpy(e->pk, pk, 32);
    memcpy(e->xpk, xpk, 32);
    memo_stored++;
  }
  pthread_mutex_unlock(&memo_mu);
}

/* Upstream's varint reader (R-CRY-B58-6): consume bytes while the high bit is set,
 * then one more; non-minimal forms such as ed 81 00 are accepted. */
static int varint_upstream(uint64_t *v, size_t *used, const uint8_t *in, size_t len) {
  uint64_t val = 0;
  size_t i = 0;
  for (;; i++) {
    if (i >= len || i >= 9) return -1;
    val |= (uint64_t)(in[i] & 0x7f) << (7 * i);
    if (!(in[i] & 0x80)) break;
  }
  *v = val;
  *used = i + 1;
  return 0;
}

static int didkey_decode(uint8_t pk[32], uint8_t xpk[32], const char *did, hm_did_mode mode) {
  const size_t plen = sizeof DID_PREFIX - 1;
  if (strncmp(did, DID_PREFIX, plen) != 0 || did[plen] != 'z') return HM_ERR_DID;
  const char *mb = did + plen + 1;
  size_t mblen = strlen(mb);
  uint8_t raw[64];
  size_t rawlen = 0, used = 0;
  uint64_t codec = 0;
  uint8_t x[32];
  if (mode == HM_DID_COMPAT) {
    /* R-CRY-DID-5: upstream base58 and varint readers; the key must be 32 bytes
     * (noble's point decoder throws otherwise) and must convert to X25519. */
    if (hm_base58_decode_upstream(raw, sizeof raw, &rawlen, mb, mblen) != HM_OK) return HM_ERR_DID;
    if (varint_upstream(&codec, &used, raw, rawlen) != 0 || codec != 0xed) return HM_ERR_DID;
    if (rawlen - used != 32) return HM_ERR_DID;
    if (hm_ed25519_to_x25519_pk_upstream(x, raw + used) != HM_OK) return HM_ERR_WEAK_KEY;
  } else {
    /* R-CRY-DID-6: strict base58 to exactly ed 01 || 32 bytes, a canonical key that is
     * not of small order, and the DID must be the canonical text of that key. */
    if (hm_base58_decode(raw, sizeof raw, &rawlen, mb, mblen) != HM_OK) return HM_ERR_DID;
    if (rawlen != 34 || raw[0] != 0xed || raw[1] != 0x01) return HM_ERR_DID;
    used = 2;
    int canonical = 0, small = 1;
    if (hm_ed25519_point_check_x25519(raw + 2, &canonical, &small, x) != HM_OK || !canonical || small)
      return HM_ERR_WEAK_KEY;
    char canon[HM_DIDKEY_MAX];
    if (hm_didkey_encode(canon, sizeof canon, raw + 2) != HM_OK || strcmp(canon, did) != 0)
      return HM_ERR_DID;
  }
  memcpy(pk, raw + used, 32);
  memcpy(xpk, x, 32);
  return HM_OK;
}

int hm_didkey_decode(uint8_t pk[32], uint8_t xpk[32], const char *did, hm_did_mode mode) {
  if (!pk || !did) return HM_ERR_INVAL;
  if (mode != HM_DID_COMPAT && mode != HM_DID_HARDENED) return HM_ERR_INVAL;
  if (memo_get(mode, did, pk, xpk)) return HM_OK;
  uint8_t x[32];
  int rc = didkey_decode(pk, x, did, mode);
  if (rc != HM_OK) return rc;
  memo_put(mode, did, pk, x);
  if (xpk) memcpy(xpk, x, 32);
  sodium_memzero(x, sizeof x);
  return HM_OK;
}

int hm_did_document_build(char **json, size_t *len, const char *did, const uint8_t edpk[32],
                          const uint8_t xpk[32]) {
  if (!json || !did || !edpk || !xpk) return HM_ERR_INVAL;
  *json = NULL;
  /* did and the multibase strings are base58/ASCII letters, colons: nothing to escape.
   * Refuse anything that would need escaping rather than emit wrong JSON. */
  for (const char *p = did; *p; p++)
    if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) return HM_ERR_INVAL;
  char ed[HM_MULTIBASE_KEY_MAX], x[HM_MULTIBASE_KEY_MAX];
  int rc;
  if ((rc = hm_ed25519_multibase_encode(ed, sizeof ed, edpk)) != HM_OK) return rc;
  if ((rc = hm_x25519_multibase_encode(x, sizeof x, xpk)) != HM_OK) return rc;
  static const char fmt[] =
      "{\"@context\":[\"https://www.w3.org/ns/did/v1\","
      "\"https://w3id.org/security/suites/ed25519-2020/v1\","
      "\"https://w3id.org/security/suites/x25519-2020/v1\"],"
      "\"id\":\"%1$s\","
      "\"verificationMethod\":["
      "{\"id\":\"%1$s#%2$s\",\"type\":\"Ed25519VerificationKey2020\",\"controller\":\"%1$s\","
      "\"publicKeyMultibase\":\"%2$s\"},"
      "{\"id\":\"%1$s#%3$s\",\"type\":\"X25519KeyAgreementKey2020\",\"controller\":\"%1$s\","
      "\"publicKeyMultibase\":\"%3$s\"}],"
      "\"authentication\":[\"%1$s#%2$s\"],"
      "\"assertionMethod\":[\"%1$s#%2$s\"],"
      "\"keyAgreement\":[\"%1$s#%3$s\"]}";
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  int n = snprintf(NULL, 0, fmt, did, ed, x);
  if (n < 0) return HM_ERR_INTERNAL;
  char *buf = hm_malloc((size_t)n + 1);
  if (!buf) return HM_ERR_NOMEM;
  snprintf(buf, (size_t)n + 1, fmt, did, ed, x);
#pragma GCC diagnostic pop
  *json = buf;
  if (len) *len = (size_t)n;
  return HM_OK;
}

int hm_did_document(char **json, size_t *len, const char *did, hm_did_mode mode) {
  if (!json || !did) return HM_ERR_INVAL;
  *json = NULL;
  uint8_t pk[32], xpk[32];
  int rc = hm_didkey_decode(pk, xpk, did, mode);
  if (rc != HM_OK) return rc;
  return hm_did_document_build(json, len, did, pk, xpk);
}

void hm_identity_clear(hm_identity *id) {
  if (!id) return;
  hm_free(id->document);
  sodium_memzero(id, sizeof *id);
}

int hm_identity_from_seed32(hm_identity *id, const uint8_t seed32[32]) {
  if (!id || !seed32) return HM_ERR_INVAL;
  uint8_t s[32];
  memcpy(s, seed32, 32); /* seed32 may alias id->seed32 */
  memset(id, 0, sizeof *id);
  memcpy(id->seed32, s, 32);
  sodium_memzero(s, sizeof s);
  int rc;
  if ((rc = hm_ed25519_seed_keypair(id->ed_pk, id->ed_sk64, id->seed32)) != HM_OK) goto fail;
  if ((rc = hm_ed25519_to_x25519_sk(id->x_sk, id->seed32)) != HM_OK) goto fail;
  if ((rc = hm_x25519_public(id->x_pk, id->x_sk)) != HM_OK) goto fail;
  if ((rc = hm_didkey_encode(id->did, sizeof id->did, id->ed_pk)) != HM_OK) goto fail;
  if ((rc = hm_ed25519_multibase_encode(id->ed_multibase, sizeof id->ed_multibase, id->ed_pk)) !=
      HM_OK)
    goto fail;
  if ((rc = hm_x25519_multibase_encode(id->x_multibase, sizeof id->x_multibase, id->x_pk)) != HM_OK)
    goto fail;
  if ((rc = hm_did_document_build(&id->document, &id->document_len, id->did, id->ed_pk,
                                  id->x_pk)) != HM_OK)
    goto fail;
  return HM_OK;
fail:
  hm_identity_clear(id);
  return rc;
}

int hm_identity_from_mnemonic(hm_identity *id, const char *mnemonic, hm_bip39_mode bip39_mode) {
  if (!id || !mnemonic) return HM_ERR_INVAL;
  uint8_t seed64[64];
  int rc = hm_bip39_mnemonic_to_seed(seed64, mnemonic, NULL, bip39_mode);
  if (rc == HM_OK) rc = hm_identity_from_seed32(id, seed64);
  if (rc == HM_OK)
    memcpy(id->seed64, seed64, 64);
  else
    sodium_memzero(id, sizeof *id);
  sodium_memzero(seed64, sizeof seed64);
  return rc;
}
