/* harmony/did.h - did:key (Ed25519 only), the X25519 multibase, the DID document
 * and the identity derived from a mnemonic (crypto-facts 1.1-1.4).
 *
 *   did            = "did:key:z" + base58btc(ed 01 || ed25519_pk)        ("did:key:z6Mk...")
 *   X25519 mb      = "z" + base58btc(ec 01 || x25519_pk)                 ("z6LS...")
 *   VM ids         = <did> "#" <full multibase string>
 *   DID document   = fixed JSON, key order of upstream's DIDKeyProvider (see hm_did_document).
 *
 * Resolution (hm_didkey_decode / hm_did_document):
 *   HM_DID_COMPAT   - upstream's rules (spec R-CRY-DID-5): "did:key:z" prefix, upstream
 *                     base58 decoder, upstream's lenient varint (ed 81 00 accepted) equal
 *                     to 0xed, a 32-byte key that noble's toMontgomery accepts (canonical
 *                     curve point, y != 1): small-order keys such as ecff..ff7f resolve;
 *   HM_DID_HARDENED - spec R-CRY-DID-6: strict base58 to exactly ed 01 || 32 bytes, key
 *                     canonical and not of small order, and the DID must be the canonical
 *                     text of the key. (Mixed-order keys pass, as libsodium's verifier
 *                     accepts them too.)
 */
#ifndef HARMONY_DID_H
#define HARMONY_DID_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/bip39.h"
#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { HM_DID_COMPAT = 0, HM_DID_HARDENED = 1 } hm_did_mode;

/* Buffer sizes including the NUL: "did:key:z" + up to 47 base58 chars; "z" + 47. */
#define HM_DIDKEY_MAX 64
#define HM_MULTIBASE_KEY_MAX 56

/* did:key of an Ed25519 public key into out[0..cap). Returns HM_OK, HM_ERR_INVAL
 * or HM_ERR_BUFSZ. */
int hm_didkey_encode(char *out, size_t cap, const uint8_t pk[32]);

/* "z" + base58btc(ed 01 || pk): the Ed25519 publicKeyMultibase (the did without "did:key:"). */
int hm_ed25519_multibase_encode(char *out, size_t cap, const uint8_t pk[32]);

/* "z" + base58btc(ec 01 || xpk): the X25519 publicKeyMultibase. */
int hm_x25519_multibase_encode(char *out, size_t cap, const uint8_t xpk[32]);

/* Parse a did:key (NUL-terminated) into its Ed25519 key and check that it resolves
 * under mode (see top). xpk (may be NULL) receives the X25519 key it converts to.
 * Returns HM_OK; HM_ERR_DID (not "did:key:z", bad base58, wrong multicodec, key not
 * 32 bytes, or (hardened) not the canonical text of its key); HM_ERR_WEAK_KEY (key not
 * a usable point: undecodable, y = 1, or (hardened) non-canonical / small order);
 * HM_ERR_INVAL (NULL). */
HM_WARN_UNUSED int hm_didkey_decode(uint8_t pk[32], uint8_t xpk[32], const char *did,
                                    hm_did_mode mode);

/* The DID document JSON for did, ed25519 pk and X25519 key, exactly as upstream
 * builds it (no whitespace):
 * {"@context":[did/v1, ed25519-2020/v1, x25519-2020/v1],"id":did,
 *  "verificationMethod":[{"id":did#edMB,"type":"Ed25519VerificationKey2020","controller":did,
 *  "publicKeyMultibase":edMB},{"id":did#xMB,"type":"X25519KeyAgreementKey2020","controller":did,
 *  "publicKeyMultibase":xMB}],"authentication":[did#edMB],"assertionMethod":[did#edMB],
 *  "keyAgreement":[did#xMB]}
 * *json is allocated with hm_malloc (caller frees with hm_free), NUL-terminated, its
 * length in *len (may be NULL). Returns HM_OK, HM_ERR_INVAL or HM_ERR_NOMEM. */
int hm_did_document_build(char **json, size_t *len, const char *did, const uint8_t edpk[32],
                          const uint8_t xpk[32]);

/* Resolve did (hm_didkey_decode under mode) and build its document (byte-identical to
 * what upstream's resolve() returns). Returns hm_didkey_decode's errors, or HM_OK /
 * HM_ERR_NOMEM. *json is owned by the caller (hm_free). */
HM_WARN_UNUSED int hm_did_document(char **json, size_t *len, const char *did, hm_did_mode mode);

/* The resolution memo (off by default; harmonyd turns it on). did:key resolution is a pure
 * function of (mode, DID text), and a login resolves the same DID more than once (the VP's
 * holder, its credential's issuer, a verifier thread ahead of the core, a token resume), each
 * time paying a base58 decode, a point decompression, the X25519 conversion and the canonical
 * re-encoding. When enabled, hm_didkey_decode (and so hm_did_document) first looks up
 * (mode, DID); a hit returns the stored keys, a miss resolves as usual and stores only a
 * SUCCESS (failures are never memoised, so a bad DID is always re-checked in full).
 * Direct-mapped: slots entries, keyed by a keyed SipHash of (mode || DID); a colliding newer
 * DID evicts the older one; each entry compares the full DID text, so a hit is exact. One
 * mutex guards the table (thread-safe). hm_did_memo_enable(slots): slots > 0 enables (and
 * clears) it, 0 disables it and frees it. Returns HM_OK, HM_ERR_NOMEM, HM_ERR_INVAL
 * (slots > 2^20), HM_ERR_CRYPTO. */
HM_WARN_UNUSED int hm_did_memo_enable(size_t slots);

/* Counters since the process started: lookups that hit, entries stored (either may be NULL). */
void hm_did_memo_stats(uint64_t *hits, uint64_t *stored);

/* Everything a Harmony identity derives from its mnemonic. Contains secrets: clear
 * it with hm_identity_clear. */
typedef struct {
  uint8_t seed64[64];   /* BIP-39 seed (zero when made from a 32-byte seed) */
  uint8_t seed32[32];   /* Ed25519 seed = seed64[0..32) */
  uint8_t ed_pk[32];
  uint8_t ed_sk64[64];  /* libsodium layout: seed32 || ed_pk */
  uint8_t x_sk[32];     /* clamp(SHA-512(seed32)[0..32)) */
  uint8_t x_pk[32];
  char did[HM_DIDKEY_MAX];
  char ed_multibase[HM_MULTIBASE_KEY_MAX];
  char x_multibase[HM_MULTIBASE_KEY_MAX];
  char *document;       /* DID document JSON, hm_malloc'd, owned by the struct */
  size_t document_len;
} hm_identity;

/* mnemonic -> identity (hm_bip39_mnemonic_to_seed under bip39_mode, empty passphrase).
 * On error *id is cleared. Returns HM_OK or the errors of the steps (HM_ERR_MNEMONIC,
 * HM_ERR_CHECKSUM, HM_ERR_NOMEM, ...). */
HM_WARN_UNUSED int hm_identity_from_mnemonic(hm_identity *id, const char *mnemonic,
                                             hm_bip39_mode bip39_mode);

/* 32-byte Ed25519 seed -> identity (seed64 left zero). Used by OAuth recovery. */
HM_WARN_UNUSED int hm_identity_from_seed32(hm_identity *id, const uint8_t seed32[32]);

/* Wipe every secret and free the document. Safe on a zeroed or cleared struct. */
void hm_identity_clear(hm_identity *id);

#ifdef __cplusplus
}
#endif
#endif
