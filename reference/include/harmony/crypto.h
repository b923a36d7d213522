/* harmony/crypto.h - the primitives every Harmony construction is built from.
 *
 * Ed25519 (RFC 8032, pure), X25519 (RFC 7748), the Ed25519 -> X25519 key map,
 * HKDF-SHA256 (RFC 5869), PBKDF2-HMAC-SHA512, XChaCha20-Poly1305 (IETF draft,
 * 24-byte nonce) and AES-256-GCM (12-byte IV). Backed by libsodium 1.0.18 and
 * OpenSSL 3.0, except the ZIP-215 Ed25519 verifier, which is our own
 * (src/ed25519_zip215.c) because neither library has one.
 *
 * Conventions:
 *   - every function returns HM_OK (0) or a negative HM_ERR_* code;
 *   - fixed sizes are written into the parameter types; the caller owns every
 *     buffer; nothing here allocates except where stated;
 *   - AEAD outputs are ciphertext || 16-byte tag (the upstream layout);
 *   - the caller wipes the secrets it passes in; every temporary secret made
 *     inside these functions is wiped before return.
 */
#ifndef HARMONY_CRYPTO_H
#define HARMONY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HM_ED25519_PK_LEN 32
#define HM_ED25519_SEED_LEN 32
#define HM_ED25519_SK_LEN 64
#define HM_ED25519_SIG_LEN 64
#define HM_X25519_LEN 32
#define HM_AEAD_TAG_LEN 16
#define HM_XCHACHA_KEY_LEN 32
#define HM_XCHACHA_NONCE_LEN 24
#define HM_AESGCM_KEY_LEN 32
#define HM_AESGCM_IV_LEN 12
#define HM_HKDF_SHA256_MAX (255u * 32u)

/* Fill buf with len bytes from the OS CSPRNG (libsodium randombytes_buf). Cannot fail. */
void hm_random_bytes(uint8_t *buf, size_t len);

/* ---- Ed25519 ------------------------------------------------------------- */

/* Derive the key pair of a 32-byte RFC 8032 seed. sk64 = seed || pk (libsodium
 * layout). Either output may be NULL when not wanted. Returns HM_OK, or
 * HM_ERR_INVAL if seed is NULL, HM_ERR_CRYPTO if libsodium fails. */
int hm_ed25519_seed_keypair(uint8_t pk[32], uint8_t sk64[64], const uint8_t seed[32]);

/* Deterministic RFC 8032 signature of msg[0..len) with the key of seed.
 * Byte-identical to upstream's noble ed25519.sign. msg may be NULL when len is 0.
 * Returns HM_OK, HM_ERR_INVAL, or HM_ERR_CRYPTO. */
int hm_ed25519_sign(uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t seed[32]);

/* The same signature with the 64-byte secret key sk64 of hm_ed25519_seed_keypair, for a
 * signer that keeps its expanded key (the server: one key derivation fewer per token).
 * Returns HM_OK, HM_ERR_INVAL, or HM_ERR_CRYPTO. */
int hm_ed25519_sign_sk(uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t sk64[64]);

typedef enum {
  /* libsodium crypto_sign_verify_detached rules: canonical S < L, canonical
   * non-small-order R and A, cofactorless equation. Used by the hardened profile. */
  HM_ED25519_STRICT = 0,
  /* What upstream (noble-curves 1.9.7, verify default {zip215:true}) accepts:
   * y coordinates of A and R may be >= p (reduced mod p), x = 0 with the sign bit
   * set is accepted, small-order A and R are accepted, S must be < L, and the
   * cofactored equation [8]([S]B - R - [k]A) = O is checked, where
   * k = SHA-512(enc(R) || enc(A) || M) mod L and enc() is the CANONICAL
   * re-encoding of the decoded point (noble hashes R.toBytes()/A.toBytes(), not
   * the received bytes; this differs from ZIP-215 only for non-canonical input).
   * Only for the compat/auditor profile. */
  HM_ED25519_ZIP215 = 1
} hm_ed25519_mode;

/* Verify sig over msg[0..len) under pk with the rules of mode.
 * Returns HM_OK when valid; HM_ERR_BADSIG when the signature is invalid;
 * HM_ERR_WEAK_KEY (strict mode only) when it failed and pk itself is
 * undecodable, non-canonical or of small order; HM_ERR_INVAL on NULL arguments
 * or an unknown mode. Not constant time (all inputs are public). */
HM_WARN_UNUSED int hm_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                                     const uint8_t pk[32], hm_ed25519_mode mode);

/* The verification memo (off by default; harmonyd turns it on in main()). When enabled,
 * hm_ed25519_verify first looks up a keyed BLAKE2b-256 digest of (mode byte || pk || sig ||
 * 64-bit length || msg): on a hit it removes the entry (one-shot) and returns HM_OK without
 * verifying; on a miss it verifies as usual and, only if the result is HM_OK AND the calling
 * thread has declared itself a producer, stores the digest. Failures are never stored, so
 * the memo can only skip work that was already done and succeeded on the same inputs.
 * The table is bounded (slots entries, direct-mapped: a colliding newer entry evicts the
 * older one); one mutex guards it.
 * hm_ed25519_memo_enable(slots): slots > 0 enables (and clears) it, 0 disables it and wipes
 * the table. Returns HM_OK, HM_ERR_NOMEM, HM_ERR_INVAL (slots > 2^24), HM_ERR_CRYPTO. */
HM_WARN_UNUSED int hm_ed25519_memo_enable(size_t slots);

/* Mark the calling thread as a memo producer (on != 0) or not (the default). Thread-local. */
void hm_ed25519_memo_producer(int on);

/* Counters since the process started: lookups that hit, digests stored (either may be NULL). */
void hm_ed25519_memo_stats(uint64_t *hits, uint64_t *stored);

/* Point decoding as upstream's noble does it for ZIP-215 (y may be >= p).
 * Returns HM_OK if pk decodes to a curve point, HM_ERR_WEAK_KEY otherwise.
 * If canonical is non-NULL it receives 1 when pk is the canonical encoding
 * (y < p and not "x = 0 with sign bit set"), else 0. If small_order is non-NULL
 * it receives 1 when [8]P is the identity. */
HM_WARN_UNUSED int hm_ed25519_point_check(const uint8_t pk[32], int *canonical, int *small_order);

/* hm_ed25519_point_check plus, when the point is canonical and not of small order,
 * the X25519 key hm_ed25519_to_x25519_pk_upstream would give for pk (into xpk; xpk is
 * left untouched otherwise), from one decoding (did:key resolution at every login).
 * Returns HM_OK, HM_ERR_WEAK_KEY (no curve point; or y = 1, which cannot occur for a
 * point that is not of small order), HM_ERR_INVAL on NULL. */
HM_WARN_UNUSED int hm_ed25519_point_check_x25519(const uint8_t pk[32], int *canonical, int *small_order,
                                                 uint8_t xpk[32]);

/* The ZIP-215 (noble) verifier itself, as used by hm_ed25519_verify(...,
 * HM_ED25519_ZIP215). Returns HM_OK or HM_ERR_BADSIG (HM_ERR_INVAL on NULL). */
HM_WARN_UNUSED int hm_ed25519_verify_zip215(const uint8_t sig[64], const uint8_t *msg, size_t len,
                                            const uint8_t pk[32]);

/* ---- X25519 -------------------------------------------------------------- */

/* Public key of an X25519 secret (the scalar is clamped internally). */
int hm_x25519_public(uint8_t pk[32], const uint8_t sk[32]);

/* Shared secret X25519(sk, pk). Returns HM_OK, or HM_ERR_WEAK_KEY when the
 * result is all zeros (small-order pk; upstream noble throws there too); shared
 * is zeroed on error. */
HM_WARN_UNUSED int hm_x25519(uint8_t shared[32], const uint8_t sk[32], const uint8_t pk[32]);

/* Ed25519 seed -> X25519 secret: clamp(SHA-512(seed)[0..32]) (upstream
 * deriveEncryptionKeyPair; equals crypto_sign_ed25519_sk_to_curve25519). */
int hm_ed25519_to_x25519_sk(uint8_t xsk[32], const uint8_t seed[32]);

/* Ed25519 public key -> X25519 public key u = (1+y)/(1-y). Uses libsodium's map,
 * which rejects what upstream's resolution also rejects for honest keys and
 * additionally small-order and non-main-subgroup points.
 * Returns HM_OK or HM_ERR_WEAK_KEY. */
HM_WARN_UNUSED int hm_ed25519_to_x25519_pk(uint8_t xpk[32], const uint8_t edpk[32]);

/* Upstream's conversion (noble ed25519.utils.toMontgomery, used by did:key
 * resolution): edpk must be a canonical encoding of a curve point (RFC 8032
 * decoding, y < p, not "x = 0 with sign bit") with y != 1; then u = (1+y)/(1-y).
 * Unlike hm_ed25519_to_x25519_pk it accepts small-order and torsion points
 * (e.g. ecff..ff7f maps to u = 0). Returns HM_OK or HM_ERR_WEAK_KEY. */
HM_WARN_UNUSED int hm_ed25519_to_x25519_pk_upstream(uint8_t xpk[32], const uint8_t edpk[32]);

/* ---- KDFs ---------------------------------------------------------------- */

/* HKDF-SHA256 (RFC 5869) extract-and-expand. salt may be NULL/0 (= 32 zero
 * bytes, the RFC and noble default); info may be NULL/0; ikm may be empty.
 * okm_len must be 1..8160. Returns HM_OK, HM_ERR_INVAL or HM_ERR_CRYPTO. */
int hm_hkdf_sha256(uint8_t *okm, size_t okm_len, const uint8_t *ikm, size_t ikm_len,
                   const uint8_t *salt, size_t salt_len, const uint8_t *info, size_t info_len);

/* Convenience: 32-byte HKDF-SHA256 with NUL-terminated salt and info strings
 * (salt NULL = no salt). This is the form of every Harmony derivation. */
int hm_hkdf32(uint8_t okm[32], const uint8_t *ikm, size_t ikm_len, const char *salt,
              const char *info);

/* PBKDF2-HMAC-SHA512 (OpenSSL PKCS5_PBKDF2_HMAC). iterations >= 1, out_len >= 1.
 * Returns HM_OK, HM_ERR_INVAL or HM_ERR_CRYPTO. */
int hm_pbkdf2_sha512(uint8_t *out, size_t out_len, const uint8_t *pass, size_t pass_len,
                     const uint8_t *salt, size_t salt_len, uint32_t iterations);

/* ---- AEADs (output = ciphertext || tag16) --------------------------------- */

/* XChaCha20-Poly1305-IETF seal: writes pt_len + 16 bytes to out (out may equal pt).
 * aad may be NULL/0 (upstream always uses empty AAD). */
int hm_xchacha_seal(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24],
                    const uint8_t *pt, size_t pt_len, const uint8_t *aad, size_t aad_len);

/* XChaCha20-Poly1305-IETF open: ct_len >= 16, writes ct_len - 16 bytes to out.
 * Returns HM_OK, HM_ERR_DECODE (ct shorter than the tag) or HM_ERR_AUTH_TAG
 * (out is zeroed then). */
HM_WARN_UNUSED int hm_xchacha_open(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24],
                                   const uint8_t *ct, size_t ct_len, const uint8_t *aad,
                                   size_t aad_len);

/* AES-256-GCM seal with a 12-byte IV (OpenSSL EVP): writes pt_len + 16 bytes. */
int hm_aes256gcm_seal(uint8_t *out, const uint8_t key[32], const uint8_t iv[12],
                      const uint8_t *pt, size_t pt_len, const uint8_t *aad, size_t aad_len);

/* AES-256-GCM open: like hm_xchacha_open. */
HM_WARN_UNUSED int hm_aes256gcm_open(uint8_t *out, const uint8_t key[32], const uint8_t iv[12],
                                     const uint8_t *ct, size_t ct_len, const uint8_t *aad,
                                     size_t aad_len);

/* Constant-time equality of two len-byte buffers: 1 if equal, 0 otherwise. */
int hm_ct_equal(const uint8_t *a, const uint8_t *b, size_t len);

#ifdef __cplusplus
}
#endif
#endif
