/* crypto.c - primitives on top of libsodium 1.0.18 and OpenSSL 3.0 (see harmony/crypto.h). */
#include "harmony/crypto.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "harmony/alloc.h"

/* libsodium must be initialised once before use; sodium_init is idempotent and
 * thread-safe, so every entry point that needs it simply calls this. */
static int ensure_sodium(void) { return sodium_init() < 0 ? HM_ERR_CRYPTO : HM_OK; }

void hm_random_bytes(uint8_t *buf, size_t len) {
  if (!buf || !len) return;
  (void)ensure_sodium();
  randombytes_buf(buf, len);
}

int hm_ct_equal(const uint8_t *a, const uint8_t *b, size_t len) {
  if (len == 0) return 1;
  return sodium_memcmp(a, b, len) == 0;
}

/* ---- Ed25519 ---- */

int hm_ed25519_seed_keypair(uint8_t pk[32], uint8_t sk64[64], const uint8_t seed[32]) {
  if (!seed) return HM_ERR_INVAL;
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  uint8_t p[32], s[64];
  int rc = crypto_sign_seed_keypair(p, s, seed) == 0 ? HM_OK : HM_ERR_CRYPTO;
  if (rc == HM_OK) {
    if (pk) memcpy(pk, p, 32);
    if (sk64) memcpy(sk64, s, 64);
  }
  sodium_memzero(s, sizeof s);
  return rc;
}

int hm_ed25519_sign(uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t seed[32]) {
  if (!sig || !seed || (!msg && len)) return HM_ERR_INVAL;
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  uint8_t pk[32], sk[64];
  static const uint8_t empty[1] = {0};
  int rc = HM_ERR_CRYPTO;
  if (crypto_sign_seed_keypair(pk, sk, seed) == 0 &&
      crypto_sign_detached(sig, NULL, msg ? msg : empty, len, sk) == 0)
    rc = HM_OK;
  sodium_memzero(sk, sizeof sk);
  return rc;
}

int hm_ed25519_sign_sk(uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t sk64[64]) {
  if (!sig || !sk64 || (!msg && len)) return HM_ERR_INVAL;
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  static const uint8_t empty[1] = {0};
  return crypto_sign_detached(sig, NULL, msg ? msg : empty, len, sk64) == 0 ? HM_OK : HM_ERR_CRYPTO;
}

/* ---- the verification memo (see crypto.h) ----
 * A direct-mapped table of keyed BLAKE2b-256 digests of (mode || pk || sig || len || msg)
 * for signatures that verified OK on a producer thread. Only successes are stored; a hit
 * removes the entry. A collision in the table evicts the older entry (which then simply
 * misses and is verified again). */
static pthread_mutex_t memo_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t (*memo_tab)[32]; /* memo_n digests; all-zero = empty */
static size_t memo_n;
static uint64_t memo_epoch; /* bumped at every enable / disable: a digest is only valid in its epoch */
static uint8_t memo_key[crypto_generichash_KEYBYTES];
static _Thread_local int memo_producer;
static uint64_t memo_hits, memo_stored;

int hm_ed25519_memo_enable(size_t slots) {
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  uint8_t(*tab)[32] = NULL;
  if (slots) {
    if (slots > ((size_t)1 << 24)) return HM_ERR_INVAL;
    tab = hm_calloc(slots, sizeof *tab);
    if (!tab) return HM_ERR_NOMEM;
  }
  pthread_mutex_lock(&memo_mu);
  uint8_t(*old)[32] = memo_tab;
  size_t oldn = memo_n;
  memo_tab = tab;
  memo_n = slots;
  memo_epoch++;
  if (slots) randombytes_buf(memo_key, sizeof memo_key);
  else sodium_memzero(memo_key, sizeof memo_key);
  pthread_mutex_unlock(&memo_mu);
  if (old) {
    sodium_memzero(old, oldn * sizeof *old);
    hm_free(old);
  }
  return HM_OK;
}

void hm_ed25519_memo_producer(int on) { memo_producer = on ? 1 : 0; }

void hm_ed25519_memo_stats(uint64_t *hits, uint64_t *stored) {
  pthread_mutex_lock(&memo_mu);
  if (hits) *hits = memo_hits;
  if (stored) *stored = memo_stored;
  pthread_mutex_unlock(&memo_mu);
}

static void memo_digest(uint8_t d[32], const uint8_t key[crypto_generichash_KEYBYTES], hm_ed25519_mode mode,
                        const uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t pk[32]) {
  crypto_generichash_state st;
  uint8_t m = (uint8_t)mode, l[8];
  for (int i = 0; i < 8; i++) l[i] = (uint8_t)((uint64_t)len >> (8 * i));
  crypto_generichash_init(&st, key, crypto_generichash_KEYBYTES, 32);
  crypto_generichash_update(&st, &m, 1);
  crypto_generichash_update(&st, pk, 32);
  crypto_generichash_update(&st, sig, 64);
  crypto_generichash_update(&st, l, sizeof l);
  if (len) crypto_generichash_update(&st, msg, len);
  crypto_generichash_final(&st, d, 32);
  if (sodium_is_zero(d, 32)) d[0] = 1; /* all-zero marks an empty slot */
}

static size_t memo_slot(const uint8_t d[32], size_t n) {
  uint64_t x = 0;
  for (int i = 0; i < 8; i++) x |= (uint64_t)d[i] << (8 * i);
  return (size_t)(x % n);
}

static int ed25519_verify_raw(const uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t pk[32],
                              hm_ed25519_mode mode);

int hm_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t pk[32],
                      hm_ed25519_mode mode) {
  if (!sig || !pk || (!msg && len)) return HM_ERR_INVAL;
  if (mode != HM_ED25519_ZIP215 && mode != HM_ED25519_STRICT) return HM_ERR_INVAL;
  uint8_t d[32];
  int have = 0;
  uint64_t epoch = 0;
  pthread_mutex_lock(&memo_mu);
  if (memo_n) {
    uint8_t key[crypto_generichash_KEYBYTES];
    memcpy(key, memo_key, sizeof key);
    epoch = memo_epoch;
    pthread_mutex_unlock(&memo_mu);
    memo_digest(d, key, mode, sig, msg, len, pk); /* hashed outside the lock */
    sodium_memzero(key, sizeof key);
    have = 1;
    pthread_mutex_lock(&memo_mu);
    if (memo_n && memo_epoch == epoch) {
      uint8_t *e = memo_tab[memo_slot(d, memo_n)];
      if (sodium_memcmp(e, d, 32) == 0) {
        sodium_memzero(e, 32); /* one-shot */
        memo_hits++;
        pthread_mutex_unlock(&memo_mu);
        return HM_OK;
      }
    }
  }
  pthread_mutex_unlock(&memo_mu);
  int rc = ed25519_verify_raw(sig, msg, len, pk, mode);
  if (rc == HM_OK && have && memo_producer) {
    pthread_mutex_lock(&memo_mu);
    /* a disable / re-enable since d was computed changed the key: then d is useless */
    if (memo_n && memo_epoch == epoch) {
      memcpy(memo_tab[memo_slot(d, memo_n)], d, 32);
      memo_stored++;
    }
    pthread_mutex_unlock(&memo_mu);
  }
  return rc;
}

static int ed25519_verify_raw(const uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t pk[32],
                              hm_ed25519_mode mode) {
  if (mode == HM_ED25519_ZIP215) return hm_ed25519_verify_zip215(sig, msg, len, pk);
  if (mode != HM_ED25519_STRICT) return HM_ERR_INVAL;
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  static const uint8_t empty[1] = {0};
  if (crypto_sign_verify_detached(sig, msg ? msg : empty, len, pk) == 0) return HM_OK;
  /* Tell a bad key from a bad signature, for diagnostics only: the verdict is the same. */
  int canonical = 0, small = 0;
  if (hm_ed25519_point_check(pk, &canonical, &small) != HM_OK || !canonical || small)
    return HM_ERR_WEAK_KEY;
  return HM_ERR_BADSIG;
}

/* ---- X25519 ---- */

int hm_x25519_public(uint8_t pk[32], const uint8_t sk[32]) {
  if (!pk || !sk) return HM_ERR_INVAL;
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  return crypto_scalarmult_base(pk, sk) == 0 ? HM_OK : HM_ERR_CRYPTO;
}

int hm_x25519(uint8_t shared[32], const uint8_t sk[32], const uint8_t pk[32]) {
  if (!shared || !sk || !pk) return HM_ERR_INVAL;
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  /* libsodium returns -1 exactly when the output is all zeros. */
  if (crypto_scalarmult(shared, sk, pk) != 0 || sodium_is_zero(shared, 32)) {
    sodium_memzero(shared, 32);
    return HM_ERR_WEAK_KEY;
  }
  return HM_OK;
}

int hm_ed25519_to_x25519_sk(uint8_t xsk[32], const uint8_t seed[32]) {
  if (!xsk || !seed) return HM_ERR_INVAL;
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  uint8_t h[64];
  crypto_hash_sha512(h, seed, 32);
  h[0] &= 0xf8;
  h[31] &= 0x7f;
  h[31] |= 0x40;
  memcpy(xsk, h, 32);
  sodium_memzero(h, sizeof h);
  return HM_OK;
}

int hm_ed25519_to_x25519_pk(uint8_t xpk[32], const uint8_t edpk[32]) {
  if (!xpk || !edpk) return HM_ERR_INVAL;
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  return crypto_sign_ed25519_pk_to_curve25519(xpk, edpk) == 0 ? HM_OK : HM_ERR_WEAK_KEY;
}

/* ---- KDFs ---- */

/* HKDF by hand over libsodium's HMAC-SHA256 (1.0.18 has no HKDF API). An HMAC key
 * shorter than the block is zero-padded, so an empty salt equals 32 zero bytes. */
int hm_hkdf_sha256(uint8_t *okm, size_t okm_len, const uint8_t *ikm, size_t ikm_len,
                   const uint8_t *salt, size_t salt_len, const uint8_t *info, size_t info_len) {
  if (!okm || okm_len == 0 || okm_len > HM_HKDF_SHA256_MAX) return HM_ERR_INVAL;
  if ((!ikm && ikm_len) || (!salt && salt_len) || (!info && info_len)) return HM_ERR_INVAL;
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  static const uint8_t zero[32] = {0};
  uint8_t prk[32], t[32];
  crypto_auth_hmacsha256_state st;

  crypto_auth_hmacsha256_init(&st, salt_len ? salt : zero, salt_len ? salt_len : 32);
  if (ikm_len) crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
  crypto_auth_hmacsha256_final(&st, prk);

  size_t done = 0;
  uint8_t counter = 1;
  while (done < okm_len) {
    crypto_auth_hmacsha256_init(&st, prk, sizeof prk);
    if (counter > 1) crypto_auth_hmacsha256_update(&st, t, sizeof t);
    if (info_len) crypto_auth_hmacsha256_update(&st, info, info_len);
    crypto_auth_hmacsha256_update(&st, &counter, 1);
    crypto_auth_hmacsha256_final(&st, t);
    size_t n = okm_len - done < 32 ? okm_len - done : 32;
    memcpy(okm + done, t, n);
    done += n;
    counter++;
  }
  sodium_memzero(prk, sizeof prk);
  sodium_memzero(t, sizeof t);
  sodium_memzero(&st, sizeof st);
  return HM_OK;
}

int hm_hkdf32(uint8_t okm[32], const uint8_t *ikm, size_t ikm_len, const char *salt,
              const char *info) {
  return hm_hkdf_sha256(okm, 32, ikm, ikm_len, (const uint8_t *)salt, salt ? strlen(salt) : 0,
                        (const uint8_t *)info, info ? strlen(info) : 0);
}

int hm_pbkdf2_sha512(uint8_t *out, size_t out_len, const uint8_t *pass, size_t pass_len,
                     const uint8_t *salt, size_t salt_len, uint32_t iterations) {
  if (!out || out_len == 0 || out_len > INT32_MAX || iterations == 0 || iterations > INT32_MAX)
    return HM_ERR_INVAL;
  if ((!pass && pass_len) || (!salt && salt_len) || pass_len > INT32_MAX || salt_len > INT32_MAX)
    return HM_ERR_INVAL;
  static const uint8_t empty[1] = {0};
  if (PKCS5_PBKDF2_HMAC((const char *)(pass ? pass : empty), (int)pass_len, salt ? salt : empty,
                        (int)salt_len, (int)iterations, EVP_sha512(), (int)out_len, out) != 1)
    return HM_ERR_CRYPTO;
  return HM_OK;
}

/* ---- AEADs ---- */

int hm_xchacha_seal(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24],
                    const uint8_t *pt, size_t pt_len, const uint8_t *aad, size_t aad_len) {
  if (!out || !key || !nonce || (!pt && pt_len) || (!aad && aad_len)) return HM_ERR_INVAL;
  if (pt_len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX) return HM_ERR_RANGE;
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  static const uint8_t empty[1] = {0};
  unsigned long long clen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(out, &clen, pt ? pt : empty, pt_len,
                                                 aad_len ? aad : NULL, aad_len, NULL, nonce,
                                                 key) != 0)
    return HM_ERR_CRYPTO;
  return HM_OK;
}

int hm_xchacha_open(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24],
                    const uint8_t *ct, size_t ct_len, const uint8_t *aad, size_t aad_len) {
  if (!key || !nonce || !ct || (!aad && aad_len)) return HM_ERR_INVAL;
  if (ct_len < HM_AEAD_TAG_LEN) return HM_ERR_DECODE;
  if (!out && ct_len > HM_AEAD_TAG_LEN) return HM_ERR_INVAL;
  if (ensure_sodium()) return HM_ERR_CRYPTO;
  uint8_t dummy[1];
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out ? out : dummy, &mlen, NULL, ct, ct_len,
                                                 aad_len ? aad : NULL, aad_len, nonce,
                                                 key) != 0) {
    if (out && ct_len > HM_AEAD_TAG_LEN) sodium_memzero(out, ct_len - HM_AEAD_TAG_LEN);
    return HM_ERR_AUTH_TAG;
  }
  return HM_OK;
}

/* One EVP AES-256-GCM pass. enc: writes ct and the tag at out+len. dec: checks
 * the tag at in+len. Returns HM_OK, HM_ERR_AUTH_TAG or HM_ERR_CRYPTO. */
static int gcm_run(int enc, uint8_t *out, const uint8_t key[32], const uint8_t iv[12],
                   const uint8_t *in, size_t len, const uint8_t *aad, size_t aad_len) {
  if (len > INT32_MAX || aad_len > INT32_MAX) return HM_ERR_RANGE;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return HM_ERR_NOMEM;
  int rc = HM_ERR_CRYPTO, n = 0;
  uint8_t tag[16];
  if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1) goto out;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1) goto out;
  if (EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) != 1) goto out;
  if (aad_len && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) goto out;
  if (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1) goto out;
  if (!enc) {
    memcpy(tag, in + len, 16);
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1) goto out;
  }
  uint8_t fin[16];
  if (EVP_CipherFinal_ex(ctx, fin, &n) != 1) {
    rc = enc ? HM_ERR_CRYPTO : HM_ERR_AUTH_TAG;
    goto out;
  }
  if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + len) != 1) goto out;
  rc = HM_OK;
out:
  EVP_CIPHER_CTX_free(ctx);
  if (rc != HM_OK && !enc && len) sodium_memzero(out, len);
  return rc;
}

int hm_aes256gcm_seal(uint8_t *out, const uint8_t key[32], const uint8_t iv[12],
                      const uint8_t *pt, size_t pt_len, const uint8_t *aad, size_t aad_len) {
  if (!out || !key || !iv || (!pt && pt_len) || (!aad && aad_len)) return HM_ERR_INVAL;
  return gcm_run(1, out, key, iv, pt, pt_len, aad, aad_len);
}

int hm_aes256gcm_open(uint8_t *out, const uint8_t key[32], const uint8_t iv[12],
                      const uint8_t *ct, size_t ct_len, const uint8_t *aad, size_t aad_len) {
  if (!key || !iv || !ct || (!aad && aad_len)) return HM_ERR_INVAL;
  if (ct_len < HM_AEAD_TAG_LEN) return HM_ERR_DECODE;
  if (!out && ct_len > HM_AEAD_TAG_LEN) return HM_ERR_INVAL;
  return gcm_run(0, out, key, iv, ct, ct_len - HM_AEAD_TAG_LEN, aad, aad_len);
}
