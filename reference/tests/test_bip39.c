/* test_bip39.c - BIP-39 English: standard (Trezor) vectors, upstream rules, modes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/bip39.h"
#include "hm_test_alloc.h"

static size_t unhex(uint8_t *out, size_t cap, const char *hex) {
  size_t n = strlen(hex) / 2;
  assert_true(n <= cap);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
  return n;
}

/* The standard BIP-39 test vectors (passphrase "TREZOR"), from the BIP-39 repository. */
static const struct {
  const char *entropy, *mnemonic, *seed;
} VEC[] = {
    {"00000000000000000000000000000000",
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
     "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04"},
    {"7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
     "legal winner thank year wave sausage worth useful legal winner thank yellow",
     "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607"},
    {"80808080808080808080808080808080",
     "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
     "d71de856f81a8acc65e6fc851a38d4d7ec216fd0796d0a6827a3ad6ed5511a30fa280f12eb2e47ed2ac03b5c462a0358d18d69fe4f985ec81778c1b370b652a8"},
    {"ffffffffffffffffffffffffffffffff", "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
     "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c6f15b11c61dee327651a14c34e18231052e48c069"},
    {"000000000000000000000000000000000000000000000000",
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
     "abandon abandon abandon abandon abandon abandon agent",
     "035895f2f481b1b0f01fcf8c289c794660b289981a78f8106447707fdd9666ca06da5a9a565181599b79f53b844d8a71dd9f439c52a3d7b3e8a79c906ac845fa"},
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
     "abandon art",
     "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8"},
    {"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
     "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote",
     "dd48c104698c30cfe2b6142103248622fb7bb0ff692eebb00089b32d22484e1613912f0a5b694407be899ffd31ed3992c456cdf60f5d4564b8ba3f05a69890ad"},
    {"9e885d952ad362caeb4efe34a8e91bd2",
     "ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic",
     "274ddc525802f7c828d8ef7ddbcdc5304e87ac3535913611fbbfa986d0c9e5476c91689f9c8a54fd55bd38606aa6a8595ad213d4c9c9f9aca3fb217069a41028"},
    {"f585c11aec520db57dd353c69554b21a89b20fb0650966fa0a9d6f74fd989d8f",
     "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing "
     "screen patrol group space point ten exist slush involve unfold",
     "01f5bced59dec48e362f2c45b5de68b9fd6c92c6634f44d6d40aab69056506f0e35524a518034ddc1192e1dacd32c1ed3eaa3c3b131c88ed8e7e54c49a5d0998"},
};

static void test_bip39_wordlist_generated(void **state) {
  (void)state;
  assert_string_equal(hm_bip39_word(0), "abandon");
  assert_string_equal(hm_bip39_word(3), "about");
  assert_string_equal(hm_bip39_word(2047), "zoo");
  assert_null(hm_bip39_word(2048));
  for (unsigned i = 1; i < 2048; i++) assert_true(strcmp(hm_bip39_word(i - 1), hm_bip39_word(i)) < 0);
  for (unsigned i = 0; i < 2048; i++)
    assert_int_equal(hm_bip39_word_index(hm_bip39_word(i), strlen(hm_bip39_word(i))), (int)i);
  assert_int_equal(hm_bip39_word_index("Abandon", 7), -1);
  assert_int_equal(hm_bip39_word_index("abando", 6), -1);
  assert_int_equal(hm_bip39_word_index("", 0), -1);
}

static void test_bip39_entropy_to_mnemonic_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof VEC / sizeof VEC[0]; i++) {
    uint8_t ent[32], back[32];
    size_t el = unhex(ent, 32, VEC[i].entropy), bl = 0;
    char out[HM_BIP39_MNEMONIC_MAX];
    assert_int_equal(hm_bip39_entropy_to_mnemonic(out, sizeof out, ent, el), HM_OK);
    assert_string_equal(out, VEC[i].mnemonic);
    assert_int_equal(hm_bip39_check(out, back, &bl), HM_OK);
    assert_int_equal(bl, el);
    assert_memory_equal(back, ent, el);
  }
}

static void test_bip39_entropy_to_mnemonic_errors(void **state) {
  (void)state;
  uint8_t ent[33] = {0};
  char out[HM_BIP39_MNEMONIC_MAX];
  assert_int_equal(hm_bip39_entropy_to_mnemonic(out, sizeof out, ent, 15), HM_ERR_INVAL);
  assert_int_equal(hm_bip39_entropy_to_mnemonic(out, sizeof out, ent, 17), HM_ERR_INVAL);
  assert_int_equal(hm_bip39_entropy_to_mnemonic(out, sizeof out, ent, 36), HM_ERR_INVAL);
  /* 12 x "abandon"/"about": 11*8 + 5 + 1 = 94 bytes needed incl. NUL */
  assert_int_equal(hm_bip39_entropy_to_mnemonic(out, 93, ent, 16), HM_ERR_BUFSZ);
  assert_int_equal(hm_bip39_entropy_to_mnemonic(out, 94, ent, 16), HM_OK);
  uint8_t ff[32];
  memset(ff, 0xff, 32);
  /* the longest words fit HM_BIP39_MNEMONIC_MAX */
  assert_int_equal(hm_bip39_entropy_to_mnemonic(out, sizeof out, ff, 32), HM_OK);
}

static void test_bip39_mnemonic_to_seed_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof VEC / sizeof VEC[0]; i++) {
    uint8_t seed[64], want[64];
    unhex(want, 64, VEC[i].seed);
    for (int mode = 0; mode < 2; mode++) {
      assert_int_equal(hm_bip39_mnemonic_to_seed(seed, VEC[i].mnemonic, "TREZOR", (hm_bip39_mode)mode),
                       HM_OK);
      assert_memory_equal(seed, want, 64);
    }
  }
  /* Harmony uses the empty passphrase. */
  uint8_t seed[64], want[64];
  unhex(want, 64,
        "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc19a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4");
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, VEC[0].mnemonic, NULL, HM_BIP39_COMPAT), HM_OK);
  assert_memory_equal(seed, want, 64);
}

/* Upstream accepts a bad checksum / unknown words (crypto-facts 1.1); hardened refuses. */
static void test_bip39_mnemonic_to_seed_compat_vs_hardened(void **state) {
  (void)state;
  uint8_t seed[64];
  const char *badsum =
      "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon";
  assert_int_equal(hm_bip39_check(badsum, NULL, NULL), HM_ERR_CHECKSUM);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, badsum, NULL, HM_BIP39_COMPAT), HM_OK);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, badsum, NULL, HM_BIP39_HARDENED), HM_ERR_CHECKSUM);
  uint8_t zero[64] = {0};
  assert_memory_equal(seed, zero, 64);

  const char *unknown = "hello world this is not a real bip thirty nine phrase ok";
  assert_int_equal(hm_bip39_check(unknown, NULL, NULL), HM_ERR_MNEMONIC);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, unknown, NULL, HM_BIP39_COMPAT), HM_OK);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, unknown, NULL, HM_BIP39_HARDENED), HM_ERR_MNEMONIC);

  /* Upper case: upstream derives a different key (no lower-casing); hardened refuses. */
  const char *upper =
      "Abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
  uint8_t a[64], b[64];
  assert_int_equal(hm_bip39_mnemonic_to_seed(a, upper, NULL, HM_BIP39_COMPAT), HM_OK);
  assert_int_equal(hm_bip39_mnemonic_to_seed(b, VEC[0].mnemonic, NULL, HM_BIP39_COMPAT), HM_OK);
  assert_memory_not_equal(a, b, 64);
  assert_int_equal(hm_bip39_mnemonic_to_seed(a, upper, NULL, HM_BIP39_HARDENED), HM_ERR_MNEMONIC);

  /* Non-ASCII: compat passes bytes through, hardened refuses. */
  const char *nonascii =
      "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \xc3\xa1";
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, nonascii, NULL, HM_BIP39_COMPAT), HM_OK);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, nonascii, NULL, HM_BIP39_HARDENED), HM_ERR_MNEMONIC);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, VEC[0].mnemonic, "p\xc3\xa1ss", HM_BIP39_HARDENED),
                   HM_ERR_MNEMONIC);
}

/* Word count: split on single spaces, 12/15/18/21/24 tokens, no trimming. */
static void test_bip39_check_word_count_rules(void **state) {
  (void)state;
  uint8_t seed[64];
  const char *eleven = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
  assert_int_equal(hm_bip39_check_word_count(eleven), HM_ERR_MNEMONIC);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, eleven, NULL, HM_BIP39_COMPAT), HM_ERR_MNEMONIC);
  /* a double space makes an empty 12th token: upstream counts 12 and accepts */
  const char *dbl = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon  about";
  assert_int_equal(hm_bip39_check_word_count(dbl), HM_OK);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, dbl, NULL, HM_BIP39_COMPAT), HM_OK);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, dbl, NULL, HM_BIP39_HARDENED), HM_ERR_MNEMONIC);
  /* trailing space: 13 tokens */
  char trail[128];
  snprintf(trail, sizeof trail, "%s ", VEC[0].mnemonic);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, trail, NULL, HM_BIP39_COMPAT), HM_ERR_MNEMONIC);
  assert_int_equal(hm_bip39_check_word_count(""), HM_ERR_MNEMONIC);
  /* 13 real words */
  char thirteen[256];
  snprintf(thirteen, sizeof thirteen, "%s abandon", VEC[0].mnemonic);
  assert_int_equal(hm_bip39_check(thirteen, NULL, NULL), HM_ERR_MNEMONIC);
  /* 27 words */
  char many[400] = "";
  for (int i = 0; i < 27; i++) strcat(many, i ? " zoo" : "zoo");
  assert_int_equal(hm_bip39_check(many, NULL, NULL), HM_ERR_MNEMONIC);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, many, NULL, HM_BIP39_COMPAT), HM_ERR_MNEMONIC);
  assert_int_equal(hm_bip39_mnemonic_to_seed(seed, NULL, NULL, HM_BIP39_COMPAT), HM_ERR_INVAL);
}

/* Tamper: changing any one word of a valid phrase to another list word breaks the
 * checksum (or stays valid only by the 1/16 chance for 12 words, which we count). */
static void test_bip39_check_tamper(void **state) {
  (void)state;
  char phrase[HM_BIP39_MNEMONIC_MAX];
  strcpy(phrase, VEC[7].mnemonic); /* ozone drill ... picnic */
  assert_int_equal(hm_bip39_check(phrase, NULL, NULL), HM_OK);
  /* last word picnic -> every other word with the same first 7 bits passes only if
   * its 4 checksum bits match; check the last word: exactly one of its 16 variants is valid */
  char *last = strrchr(phrase, ' ') + 1;
  int idx = hm_bip39_word_index(last, strlen(last)), valid = 0;
  for (int low = 0; low < 16; low++) {
    int cand = (idx & ~15) | low;
    char p2[HM_BIP39_MNEMONIC_MAX];
    snprintf(p2, sizeof p2, "%.*s%s", (int)(last - phrase), phrase, hm_bip39_word((unsigned)cand));
    if (hm_bip39_check(p2, NULL, NULL) == HM_OK) valid++;
  }
  assert_int_equal(valid, 1);
}

static void test_bip39_mnemonic_to_seed_alloc_failure(void **state) {
  (void)state;
  hm_test_alloc_install();
  uint8_t seed[64];
  int rc;
  long n = 1;
  for (;; n++) {
    hm_test_alloc_fail_at(n);
    rc = hm_bip39_mnemonic_to_seed(seed, VEC[0].mnemonic, "TREZOR", HM_BIP39_HARDENED);
    assert_int_equal(hm_test_alloc_outstanding(), 0);
    if (rc == HM_OK) break;
    assert_int_equal(rc, HM_ERR_NOMEM);
  }
  assert_true(n >= 2); /* at least one allocation was failed */
  hm_test_alloc_fail_at(0);
  hm_set_allocator(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bip39_wordlist_generated),
      cmocka_unit_test(test_bip39_entropy_to_mnemonic_vectors),
      cmocka_unit_test(test_bip39_entropy_to_mnemonic_errors),
      cmocka_unit_test(test_bip39_mnemonic_to_seed_vectors),
      cmocka_unit_test(test_bip39_mnemonic_to_seed_compat_vs_hardened),
      cmocka_unit_test(test_bip39_check_word_count_rules),
      cmocka_unit_test(test_bip39_check_tamper),
      cmocka_unit_test(test_bip39_mnemonic_to_seed_alloc_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
