/* harmony/bip39.h - BIP-39 mnemonics (English word list only), as Harmony uses them.
 *
 * Upstream (@scure/bip39 1.6.0) makes 12-word phrases from 16 random bytes and
 * turns a phrase into a 64-byte seed with PBKDF2-HMAC-SHA512(NFKD(phrase),
 * "mnemonic" || passphrase, 2048). On import it only checks that the phrase,
 * split on single ASCII spaces, has 12, 15, 18, 21 or 24 tokens: no word-list
 * or checksum check, no trimming, no lower-casing (crypto-facts 1.1).
 *
 * Two modes:
 *   HM_BIP39_COMPAT   - exactly upstream's acceptance rule. Limitation: we do not
 *                       implement Unicode NFKD. Valid English phrases are ASCII,
 *                       for which NFKD is the identity, so they derive the same
 *                       seed as upstream. A phrase with non-ASCII bytes is passed
 *                       through unnormalised and may derive a different seed than
 *                       upstream would (only for inputs that are not valid
 *                       mnemonics anyway).
 *   HM_BIP39_HARDENED - additionally requires every word to be in the English
 *                       list and the checksum to match (hm_bip39_check), and
 *                       rejects non-ASCII phrases and passphrases.
 *
 * The word list is generated at build time (reference/gen.cmake) from Debian's
 * python3-mnemonic file after checking its SHA-256.
 */
#ifndef HARMONY_BIP39_H
#define HARMONY_BIP39_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { HM_BIP39_COMPAT = 0, HM_BIP39_HARDENED = 1 } hm_bip39_mode;

/* Longest mnemonic text: 24 words of at most 8 letters, 23 spaces, NUL. */
#define HM_BIP39_MNEMONIC_MAX 216

/* The index-th English word (0..2047), or NULL when out of range. Static storage. */
const char *hm_bip39_word(unsigned index);

/* Index of word[0..len) in the English list, or -1. Exact, case-sensitive match. */
int hm_bip39_word_index(const char *word, size_t len);

/* Entropy (16, 20, 24, 28 or 32 bytes) -> mnemonic of 12..24 words separated by
 * single spaces, NUL-terminated in out[0..cap). Returns HM_OK, HM_ERR_INVAL (bad
 * length / NULL), or HM_ERR_BUFSZ (cap too small; HM_BIP39_MNEMONIC_MAX always fits). */
int hm_bip39_entropy_to_mnemonic(char *out, size_t cap, const uint8_t *entropy, size_t len);

/* Full validation: 12/15/18/21/24 words separated by single spaces, every word in
 * the English list, checksum correct. If entropy is non-NULL (cap >= 32) the
 * entropy is written there and its length to *entropy_len.
 * Returns HM_OK, HM_ERR_MNEMONIC (format, count or unknown word), HM_ERR_CHECKSUM,
 * HM_ERR_INVAL (NULL mnemonic). */
HM_WARN_UNUSED int hm_bip39_check(const char *mnemonic, uint8_t *entropy, size_t *entropy_len);

/* Upstream's word-count rule only: split on single ' ', token count must be
 * 12, 15, 18, 21 or 24. Returns HM_OK or HM_ERR_MNEMONIC. */
HM_WARN_UNUSED int hm_bip39_check_word_count(const char *mnemonic);

/* Mnemonic -> 64-byte BIP-39 seed (passphrase NULL = ""), under mode's rules (see
 * top). Returns HM_OK, HM_ERR_MNEMONIC, HM_ERR_CHECKSUM (hardened), HM_ERR_INVAL,
 * HM_ERR_NOMEM or HM_ERR_CRYPTO. seed is zeroed on error. Allocates a temporary
 * salt buffer (wiped and freed before return). */
HM_WARN_UNUSED int hm_bip39_mnemonic_to_seed(uint8_t seed[64], const char *mnemonic,
                                             const char *passphrase, hm_bip39_mode mode);

#ifdef __cplusplus
}
#endif
#endif
