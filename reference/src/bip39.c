/* bip39.c - BIP-39 English mnemonics (see harmony/bip39.h). */
#include "harmony/bip39.h"

#include <sodium.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/crypto.h"

/* Generated at build time by reference/gen.cmake (SHA-256 checked). */
extern const char *const hm_bip39_english_words[2048];

const char *hm_bip39_word(unsigned index) {
  return index < 2048 ? hm_bip39_english_words[index] : NULL;
}

/* The English list is sorted (bytewise), so a binary search suffices; the unit
 * test checks the order. */
int hm_bip39_word_index(const char *word, size_t len) {
  if (!word || len == 0 || len > 8) return -1;
  int lo = 0, hi = 2047;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    const char *w = hm_bip39_english_words[mid];
    size_t wl = strlen(w);
    int c = memcmp(word, w, len < wl ? len : wl);
    if (c == 0) c = (len > wl) - (len < wl);
    if (c == 0) return mid;
    if (c < 0)
      hi = mid - 1;
    else
      lo = mid + 1;
  }
  return -1;
}

int hm_bip39_entropy_to_mnemonic(char *out, size_t cap, const uint8_t *entropy, size_t len) {
  if (!out || !entropy || len < 16 || len > 32 || len % 4) return HM_ERR_INVAL;
  uint8_t buf[33], hash[32];
  crypto_hash_sha256(hash, entropy, len);
  memcpy(buf, entropy, len);
  buf[len] = hash[0]; /* checksum: the first len*8/32 bits of SHA-256(entropy) */
  size_t words = (len * 8 + len / 4) / 11, pos = 0;
  int rc = HM_OK;
  for (size_t i = 0; i < words; i++) {
    unsigned idx = 0;
    for (size_t b = 0; b < 11; b++) {
      size_t bit = i * 11 + b;
      idx = (idx << 1) | ((buf[bit / 8] >> (7 - bit % 8)) & 1u);
    }
    const char *w = hm_bip39_english_words[idx];
    size_t wl = strlen(w);
    if (pos + (i ? 1 : 0) + wl + 1 > cap) {
      rc = HM_ERR_BUFSZ;
      break;
    }
    if (i) out[pos++] = ' ';
    memcpy(out + pos, w, wl);
    pos += wl;
  }
  if (rc == HM_OK)
    out[pos] = 0;
  else
    sodium_memzero(out, cap);
  sodium_memzero(buf, sizeof buf);
  sodium_memzero(hash, sizeof hash);
  return rc;
}

int hm_bip39_check_word_count(const char *mnemonic) {
  if (!mnemonic) return HM_ERR_INVAL;
  size_t tokens = 1;
  for (const char *p = mnemonic; *p; p++)
    if (*p == ' ') tokens++;
  return (tokens >= 12 && tokens <= 24 && tokens % 3 == 0) ? HM_OK : HM_ERR_MNEMONIC;
}

int hm_bip39_check(const char *mnemonic, uint8_t *entropy, size_t *entropy_len) {
  if (!mnemonic) return HM_ERR_INVAL;
  if (hm_bip39_check_word_count(mnemonic) != HM_OK) return HM_ERR_MNEMONIC;
  uint8_t bits[33] = {0};
  size_t nwords = 0;
  const char *p = mnemonic;
  for (;;) {
    const char *sp = strchr(p, ' ');
    size_t wl = sp ? (size_t)(sp - p) : strlen(p);
    int idx = hm_bip39_word_index(p, wl);
    if (idx < 0 || nwords >= 24) {
      sodium_memzero(bits, sizeof bits);
      return HM_ERR_MNEMONIC;
    }
    for (size_t b = 0; b < 11; b++) {
      size_t bit = nwords * 11 + b;
      if ((idx >> (10 - b)) & 1) bits[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
    }
    nwords++;
    if (!sp) break;
    p = sp + 1;
  }
  size_t cs_bits = nwords / 3;                /* = entropy bits / 32 */
  size_t ent_len = (nwords * 11 - cs_bits) / 8; /* 16..32 bytes */
  uint8_t hash[32];
  crypto_hash_sha256(hash, bits, ent_len);
  uint8_t want = (uint8_t)(hash[0] & (0xffu << (8 - cs_bits)));
  uint8_t got = (uint8_t)(bits[ent_len] & (0xffu << (8 - cs_bits)));
  int rc = (want == got) ? HM_OK : HM_ERR_CHECKSUM;
  if (rc == HM_OK && entropy) {
    memcpy(entropy, bits, ent_len);
    if (entropy_len) *entropy_len = ent_len;
  }
  sodium_memzero(bits, sizeof bits);
  sodium_memzero(hash, sizeof hash);
  return rc;
}

static int is_ascii(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80) return 0;
  return 1;
}

int hm_bip39_mnemonic_to_seed(uint8_t seed[64], const char *mnemonic, const char *passphrase,
                              hm_bip39_mode mode) {
  if (!seed || !mnemonic) return HM_ERR_INVAL;
  if (mode != HM_BIP39_COMPAT && mode != HM_BIP39_HARDENED) return HM_ERR_INVAL;
  memset(seed, 0, 64);
  if (!passphrase) passphrase = "";
  int rc;
  if (mode == HM_BIP39_HARDENED) {
    if (!is_ascii(mnemonic) || !is_ascii(passphrase)) return HM_ERR_MNEMONIC;
    if ((rc = hm_bip39_check(mnemonic, NULL, NULL)) != HM_OK) return rc;
  } else if ((rc = hm_bip39_check_word_count(mnemonic)) != HM_OK) {
    return rc;
  }
  size_t pl = strlen(passphrase), ml = strlen(mnemonic);
  if (pl > SIZE_MAX - 9) return HM_ERR_RANGE;
  char *salt = hm_malloc(8 + pl + 1);
  if (!salt) return HM_ERR_NOMEM;
  memcpy(salt, "mnemonic", 8);
  memcpy(salt + 8, passphrase, pl + 1);
  rc = hm_pbkdf2_sha512(seed, 64, (const uint8_t *)mnemonic, ml, (const uint8_t *)salt, 8 + pl,
                        2048);
  hm_free_secret(salt, 8 + pl + 1);
  if (rc != HM_OK) sodium_memzero(seed, 64);
  return rc;
}
