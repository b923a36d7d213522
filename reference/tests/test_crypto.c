/* test_crypto.c - primitives: RFC known answers, Wycheproof, ZIP-215 vs strict. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harmony/crypto.h"

/* Wycheproof tcIds where the ZIP-215 (upstream) verdict differs; see the test. */
#define ZIP215_WYCHEPROOF_DISAGREEMENTS ""

/* Test-local hex decoder (keeps this test independent of codec.h). */
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

static json_t *load_wycheproof(const char *name) {
  const char *shared = getenv("HARMONY_SHARED");
  char path[1024];
  snprintf(path, sizeof path, "%s/vectors/wycheproof/%s", shared ? shared : "../shared", name);
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  if (!root) fail_msg("cannot load %s: %s", path, err.text);
  return root;
}

/* ---- RFC 8032 ---- */

static void test_ed25519_sign_rfc8032(void **state) {
  (void)state;
  struct {
    const char *seed, *pk, *msg, *sig;
  } v[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
      {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
       "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
       "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    uint8_t seed[32], pk[32], want_pk[32], sig[64], want_sig[64], msg[8], sk[64];
    unhex(seed, 32, v[i].seed);
    unhex(want_pk, 32, v[i].pk);
    unhex(want_sig, 64, v[i].sig);
    size_t mlen = unhex(msg, sizeof msg, v[i].msg);
    assert_int_equal(hm_ed25519_seed_keypair(pk, sk, seed), HM_OK);
    assert_memory_equal(pk, want_pk, 32);
    assert_memory_equal(sk, seed, 32);
    assert_memory_equal(sk + 32, want_pk, 32);
    assert_int_equal(hm_ed25519_sign(sig, msg, mlen, seed), HM_OK);
    assert_memory_equal(sig, want_sig, 64);
    assert_int_equal(hm_ed25519_verify(sig, msg, mlen, pk, HM_ED25519_STRICT), HM_OK);
    assert_int_equal(hm_ed25519_verify(sig, msg, mlen, pk, HM_ED25519_ZIP215), HM_OK);
  }
}

/* protocol-facts 2.1: seed 0x01..0x20. */
static void test_ed25519_seed_keypair_protocol_vector(void **state) {
  (void)state;
  uint8_t seed[32], pk[32], want[32];
  for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(i + 1);
  unhex(want, 32, "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664");
  assert_int_equal(hm_ed25519_seed_keypair(pk, NULL, seed), HM_OK);
  assert_memory_equal(pk, want, 32);
}

/* Every verify rejects every single-bit flip of sig, msg and pk, in both modes. */
static void test_ed25519_verify_tamper(void **state) {
  (void)state;
  uint8_t seed[32], pk[32], sig[64], msg[5] = {'h', 'e', 'l', 'l', 'o'};
  for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(0xa0 + i);
  assert_int_equal(hm_ed25519_seed_keypair(pk, NULL, seed), HM_OK);
  assert_int_equal(hm_ed25519_sign(sig, msg, sizeof msg, seed), HM_OK);
  for (int mode = 0; mode < 2; mode++) {
    assert_int_equal(hm_ed25519_verify(sig, msg, sizeof msg, pk, (hm_ed25519_mode)mode), HM_OK);
    for (int bit = 0; bit < 64 * 8; bit++) {
      sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      assert_int_not_equal(hm_ed25519_verify(sig, msg, sizeof msg, pk, (hm_ed25519_mode)mode),
                           HM_OK);
      sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (int bit = 0; bit < (int)sizeof msg * 8; bit++) {
      msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      assert_int_equal(hm_ed25519_verify(sig, msg, sizeof msg, pk, (hm_ed25519_mode)mode),
                       HM_ERR_BADSIG);
      msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (int bit = 0; bit < 32 * 8; bit++) {
      pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      assert_int_not_equal(hm_ed25519_verify(sig, msg, sizeof msg, pk, (hm_ed25519_mode)mode),
                           HM_OK);
      pk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
  }
  assert_int_equal(hm_ed25519_verify(sig, msg, sizeof msg, pk, (hm_ed25519_mode)7), HM_ERR_INVAL);
}

/* crypto-facts 0.2: pk ecff..ff7f (order 2) with sig R = identity, S = 0 verifies
 * any message under ZIP-215 and none under strict rules. */
static void test_ed25519_verify_zip215_universal_signature(void **state) {
  (void)state;
  uint8_t pk[32], sig[64] = {0};
  memset(pk, 0xff, 32);
  pk[0] = 0xec;
  pk[31] = 0x7f;
  sig[0] = 0x01; /* y = 1, x = 0: the identity */
  const char *msgs[] = {"", "hello", "any message at all"};
  for (size_t i = 0; i < 3; i++) {
    const uint8_t *m = (const uint8_t *)msgs[i];
    size_t n = strlen(msgs[i]);
    assert_int_equal(hm_ed25519_verify(sig, m, n, pk, HM_ED25519_ZIP215), HM_OK);
    assert_int_equal(hm_ed25519_verify(sig, m, n, pk, HM_ED25519_STRICT), HM_ERR_WEAK_KEY);
  }
  int canonical = -1, small = -1;
  assert_int_equal(hm_ed25519_point_check(pk, &canonical, &small), HM_OK);
  assert_int_equal(canonical, 1);
  assert_int_equal(small, 1);
  /* S = L is rejected even under ZIP-215 (S < L is required). */
  static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
  memcpy(sig + 32, L, 32);
  assert_int_equal(hm_ed25519_verify(sig, (const uint8_t *)"x", 1, pk, HM_ED25519_ZIP215),
                   HM_ERR_BADSIG);
}

/* Non-canonical encodings: y >= p and "x = 0 with the sign bit". */
static void test_ed25519_verify_zip215_noncanonical(void **state) {
  (void)state;
  uint8_t p1[32], canon[32];
  /* y = p + 1 encodes the identity non-canonically (y mod p = 1). */
  memset(p1, 0xff, 32);
  p1[0] = 0xee;
  p1[31] = 0x7f;
  int c = -1, s = -1;
  assert_int_equal(hm_ed25519_point_check(p1, &c, &s), HM_OK);
  assert_int_equal(c, 0);
  assert_int_equal(s, 1);
  /* Identity with sign bit set: x = 0, sign 1. */
  memset(canon, 0, 32);
  canon[0] = 1;
  canon[31] = 0x80;
  assert_int_equal(hm_ed25519_point_check(canon, &c, &s), HM_OK);
  assert_int_equal(c, 0);
  /* A public key that is the non-canonical identity (y = p + 1) with
   * sig = (R = identity, S = 0): [8](0 - O - kO) = O, accepted by ZIP-215 only. */
  uint8_t sig[64] = {0};
  sig[0] = 1;
  assert_int_equal(hm_ed25519_verify(sig, (const uint8_t *)"m", 1, p1, HM_ED25519_ZIP215), HM_OK);
  assert_int_not_equal(hm_ed25519_verify(sig, (const uint8_t *)"m", 1, p1, HM_ED25519_STRICT),
                       HM_OK);
  /* R given non-canonically (y = p + 1) is accepted by ZIP-215 too. */
  memcpy(sig, p1, 32);
  uint8_t pk[32];
  memset(pk, 0xff, 32);
  pk[0] = 0xec;
  pk[31] = 0x7f;
  assert_int_equal(hm_ed25519_verify(sig, (const uint8_t *)"m", 1, pk, HM_ED25519_ZIP215), HM_OK);
  /* A y with no x (not on the curve): y = 2 is not a valid point. */
  uint8_t bad[32] = {2};
  assert_int_equal(hm_ed25519_point_check(bad, &c, &s), HM_ERR_WEAK_KEY);
}

/* Pins the one place where noble 1.9.7 differs from the ZIP-215 text: the
 * challenge hash uses the re-encoded (canonical) R and A, not the received bytes.
 * A = [123456789]B, R = identity encoded non-canonically (y = p + 1), and
 * S = k * a with k hashed over the canonical R (noble: true) or over the raw R
 * (noble: false). Verdicts were produced by running @noble/curves 1.9.7. */
static void test_ed25519_verify_zip215_hash_uses_canonical_encoding(void **state) {
  (void)state;
  uint8_t pk[32], sig_canon[64], sig_raw[64];
  unhex(pk, 32, "17ffad8068dc0de9935d36636f3ad1b5de6de3413b12388e453b05f2a4c1d3db");
  unhex(sig_canon, 64,
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
        "559620218c78af99694835abf6f1181647aa6d9e885683966a6ddf5e4929b802");
  unhex(sig_raw, 64,
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
        "2f00af666459f18abade5eabdccca2a7039e7bf002f00db68346824459a0960a");
  const uint8_t *m = (const uint8_t *)"pin";
  assert_int_equal(hm_ed25519_verify(sig_canon, m, 3, pk, HM_ED25519_ZIP215), HM_OK);
  assert_int_equal(hm_ed25519_verify(sig_raw, m, 3, pk, HM_ED25519_ZIP215), HM_ERR_BADSIG);
  assert_int_equal(hm_ed25519_verify(sig_canon, m, 3, pk, HM_ED25519_STRICT), HM_ERR_BADSIG);
}

/* Differential known answers: verdicts of @noble/curves 1.9.7 ed25519.verify (default
 * zip215) on crafted inputs: small-order and non-canonical A and R (y >= p, x = 0 with
 * the sign bit), S in {0, 1, L-1, L}, honest signatures with 8-torsion added to A or R,
 * and mixed-order keys signed over their own encoding. A selection of a larger run
 * (11,680 cases, all agreeing) made while writing ed25519_zip215.c. The strict verdict
 * must be "reject" for every case except the honest ones and the mixed-order key whose
 * challenge k happens to be a multiple of 8. */
static const struct {
  const char *sig, *msg, *pk;
  int noble;
  const char *what;
} NOBLE_CASES[] = {
    {"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000",
     "",
     "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 1, "small-order or non-canonical A/R"},
    {"01000000000000000000000000000000000000000000000000000000000000800000000000000000000000000000000000000000000000000000000000000000",
     "",
     "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", 1, "small-order or non-canonical A/R"},
    {"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
     "",
     "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 1, "small-order or non-canonical A/R"},
    {"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
     "",
     "0000000000000000000000000000000000000000000000000000000000000000", 1, "small-order or non-canonical A/R"},
    {"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc850000000000000000000000000000000000000000000000000000000000000000",
     "",
     "0100000000000000000000000000000000000000000000000000000000000080", 1, "small-order or non-canonical A/R"},
    {"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
     "",
     "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 1, "small-order or non-canonical A/R"},
    {"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f0000000000000000000000000000000000000000000000000000000000000000",
     "",
     "0100000000000000000000000000000000000000000000000000000000000080", 1, "small-order or non-canonical A/R"},
    {"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f0000000000000000000000000000000000000000000000000000000000000000",
     "",
     "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", 1, "small-order or non-canonical A/R"},
    {"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc850000000000000000000000000000000000000000000000000000000000000000",
     "",
     "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 1, "small-order or non-canonical A/R"},
    {"01000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
     "",
     "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", 1, "small-order or non-canonical A/R"},
    {"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc050000000000000000000000000000000000000000000000000000000000000000",
     "",
     "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", 1, "small-order or non-canonical A/R"},
    {"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f0000000000000000000000000000000000000000000000000000000000000000",
     "",
     "0100000000000000000000000000000000000000000000000000000000000000", 1, "small-order or non-canonical A/R"},
    {"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc050000000000000000000000000000000000000000000000000000000000000000",
     "",
     "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", 1, "small-order or non-canonical A/R"},
    {"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa0000000000000000000000000000000000000000000000000000000000000000",
     "",
     "0100000000000000000000000000000000000000000000000000000000000080", 1, "small-order or non-canonical A/R"},
    {"0100000000000000000000000000000000000000000000000000000000000000d917c0f4931f910e98febc46a678560c0445c71dc03f7aab14ddc7a8e034f103",
     "",
     "0000000000000000000000000000000000000000000000000000000000000000", 0, "small-order or non-canonical A/R"},
    {"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7fd917c0f4931f910e98febc46a678560c0445c71dc03f7aab14ddc7a8e034f103",
     "",
     "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", 0, "small-order or non-canonical A/R"},
    {"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc050100000000000000000000000000000000000000000000000000000000000000",
     "",
     "0000000000000000000000000000000000000000000000000000000000000080", 0, "small-order or non-canonical A/R"},
    {"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f0100000000000000000000000000000000000000000000000000000000000000",
     "",
     "0100000000000000000000000000000000000000000000000000000000000000", 0, "small-order or non-canonical A/R"},
    {"0000000000000000000000000000000000000000000000000000000000000080d917c0f4931f910e98febc46a678560c0445c71dc03f7aab14ddc7a8e034f103",
     "",
     "efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", 0, "small-order or non-canonical A/R"},
    {"0100000000000000000000000000000000000000000000000000000000000080d917c0f4931f910e98febc46a678560c0445c71dc03f7aab14ddc7a8e034f103",
     "",
     "efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", 0, "small-order or non-canonical A/R"},
    {"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f0100000000000000000000000000000000000000000000000000000000000000",
     "",
     "0100000000000000000000000000000000000000000000000000000000000080", 0, "small-order or non-canonical A/R"},
    {"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f0100000000000000000000000000000000000000000000000000000000000000",
     "",
     "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", 0, "small-order or non-canonical A/R"},
    {"aad7a860260bf56849e0a2fbbcab416ebe731826ca902f0d41e38910a038e7800100000000000000000000000000000000000000000000000000000000000000",
     "",
     "efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", 0, "small-order or non-canonical A/R"},
    {"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd917c0f4931f910e98febc46a678560c0445c71dc03f7aab14ddc7a8e034f103",
     "",
     "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", 0, "small-order or non-canonical A/R"},
    {"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05d917c0f4931f910e98febc46a678560c0445c71dc03f7aab14ddc7a8e034f103",
     "",
     "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", 0, "small-order or non-canonical A/R"},
    {"00000000000000000000000000000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000",
     "",
     "0000000000000000000000000000000000000000000000000000000000000080", 0, "small-order or non-canonical A/R"},
    {"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f0100000000000000000000000000000000000000000000000000000000000000",
     "",
     "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 0, "small-order or non-canonical A/R"},
    {"0100000000000000000000000000000000000000000000000000000000000080d917c0f4931f910e98febc46a678560c0445c71dc03f7aab14ddc7a8e034f103",
     "",
     "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", 0, "small-order or non-canonical A/R"},
    {"cdca24755563172a03bdf50342dcdfcca76665b93fa1ac95a0cee5e9237d6482999dc254a3ab5cc5bb8432dfbf0eb9499456c8665808cececb5d5f1ca957a700",
     "68656c6c6f",
     "a4ace2a8ab67029ce8e6c2cffb263ef72a2992dcbbdd5539ac5936d9d5f27eae", 0, "honest sig, A + 8-torsion"},
    {"11129fa19196a0a702f58a44b125986b73d274c5094a432cb2015e073114908d999dc254a3ab5cc5bb8432dfbf0eb9499456c8665808cececb5d5f1ca957a700",
     "68656c6c6f",
     "cd123a3294873d678ba86737aef1a64f56f9142f02c523b89654f7e9cd4b1a1e", 0, "honest sig, R + 8-torsion"},
    {"cdca24755563172a03bdf50342dcdfcca76665b93fa1ac95a0cee5e9237d6482999dc254a3ab5cc5bb8432dfbf0eb9499456c8665808cececb5d5f1ca957a700",
     "68656c6c6f",
     "cd123a3294873d678ba86737aef1a64f56f9142f02c523b89654f7e9cd4b1a1e", 1, "honest"},
    {"cdca24755563172a03bdf50342dcdfcca76665b93fa1ac95a0cee5e9237d6482edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010",
     "68656c6c6f",
     "cd123a3294873d678ba86737aef1a64f56f9142f02c523b89654f7e9cd4b1a1e", 0, "honest R, S = L"},
    {"8e555fa0ab681930b75aef3abaa864611334ee41871b57a62df9d80b5f3220e87ab55b6f2df8880063b0cfdc4bc219dad4ca4011bbe28123d5d127acc7291f0f",
     "ff00",
     "7e9890ff13aebed1740baaef9b570d8b97ceecabac5e95654279c0942c4d16b8", 0, "honest sig, A + 8-torsion"},
    {"7452d75cc96aa695fe0cc0ea44d67b74a485d77b557dee76975e019ff796c2677ab55b6f2df8880063b0cfdc4bc219dad4ca4011bbe28123d5d127acc7291f0f",
     "ff00",
     "2d0afc85bec44f42d7bd6901ffe41d91482099d0e500c7f999eb9ebcb14691d3", 0, "honest sig, R + 8-torsion"},
    {"8e555fa0ab681930b75aef3abaa864611334ee41871b57a62df9d80b5f3220e87ab55b6f2df8880063b0cfdc4bc219dad4ca4011bbe28123d5d127acc7291f0f",
     "ff00",
     "2d0afc85bec44f42d7bd6901ffe41d91482099d0e500c7f999eb9ebcb14691d3", 1, "honest"},
    {"8e555fa0ab681930b75aef3abaa864611334ee41871b57a62df9d80b5f3220e8edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010",
     "ff00",
     "2d0afc85bec44f42d7bd6901ffe41d91482099d0e500c7f999eb9ebcb14691d3", 0, "honest R, S = L"},
    {"fb26662506bc293b06ce8238283e64e2644f81cbfeab9b0cecf6037d490da0e323ecd0c6ae8c6c01d65eecb10d64d25b75e5fffbec7453b814e3e8fff57e7d0d",
     "6d69786564",
     "1f4f580e73ac208f06760190e9edc6f5916775dabd9c1cdca393175c2d6d1083", 1, "mixed-order A, signed over its own encoding (8 | k)"},
    {"bf1ed642eeec1f68440bfb5dfeb2666d94aef7f9dfa9018fcc47a5083952fbefa2b0808f51bb44ab65b296340c4aa245e97f52c610d252a97060d4b22214160e",
     "",
     "d0d31a3cb4bf59a067bce65dbb4e453eb75450b39b1f8a15bd2cce95fa47c958", 1, "mixed-order A, signed over its own encoding (k mod 8 = 6)"},
};

static void test_ed25519_verify_zip215_noble_differential(void **state) {
  (void)state;
  int accepted = 0;
  for (size_t i = 0; i < sizeof NOBLE_CASES / sizeof NOBLE_CASES[0]; i++) {
    uint8_t sig[64], pk[32], msg[16];
    unhex(sig, 64, NOBLE_CASES[i].sig);
    unhex(pk, 32, NOBLE_CASES[i].pk);
    size_t ml = unhex(msg, sizeof msg, NOBLE_CASES[i].msg);
    int z = hm_ed25519_verify(sig, msg, ml, pk, HM_ED25519_ZIP215) == HM_OK;
    if (z != NOBLE_CASES[i].noble)
      fail_msg("case %zu (%s): zip215 %d, noble %d", i, NOBLE_CASES[i].what, z, NOBLE_CASES[i].noble);
    int s = hm_ed25519_verify(sig, msg, ml, pk, HM_ED25519_STRICT) == HM_OK;
    /* libsodium's cofactorless check also passes a mixed-order key when k is a multiple
     * of 8 (then [k]A has no torsion part): strict accepts exactly those and the honest */
    int strict_expected = strcmp(NOBLE_CASES[i].what, "honest") == 0 ||
                          strstr(NOBLE_CASES[i].what, "(8 | k)") != NULL;
    if (s != strict_expected) fail_msg("case %zu (%s): strict %d", i, NOBLE_CASES[i].what, s);
    accepted += z;
  }
  assert_int_equal(accepted, 18); /* 14 crafted + 2 honest + 2 mixed-order */
}

/* Wycheproof ed25519_test.json: strict must agree on every case. ZIP-215 must
 * agree except where Wycheproof's RFC 8032 verdict depends on a rule ZIP-215
 * drops; those tcIds are listed (and printed) so a change shows up. */
static void test_ed25519_verify_wycheproof(void **state) {
  (void)state;
  json_t *root = load_wycheproof("ed25519_test.json");
  size_t gi, ti, total = 0, disagree = 0;
  json_t *group, *tc;
  char list[1024] = "";
  json_array_foreach(json_object_get(root, "testGroups"), gi, group) {
    uint8_t pk[32];
    const char *pkhex = json_string_value(json_object_get(json_object_get(group, "publicKey"), "pk"));
    assert_int_equal(unhex(pk, 32, pkhex), 32);
    json_array_foreach(json_object_get(group, "tests"), ti, tc) {
      const char *mhex = json_string_value(json_object_get(tc, "msg"));
      const char *shex = json_string_value(json_object_get(tc, "sig"));
      const char *res = json_string_value(json_object_get(tc, "result"));
      int id = (int)json_integer_value(json_object_get(tc, "tcId"));
      size_t mlen = strlen(mhex) / 2;
      uint8_t *msg = malloc(mlen + 1);
      assert_non_null(msg);
      unhex(msg, mlen + 1, mhex);
      uint8_t sig[64];
      int want_ok = strcmp(res, "valid") == 0;
      int strict_ok = 0, zip_ok = 0;
      if (strlen(shex) == 128) {
        unhex(sig, 64, shex);
        strict_ok = hm_ed25519_verify(sig, msg, mlen, pk, HM_ED25519_STRICT) == HM_OK;
        zip_ok = hm_ed25519_verify(sig, msg, mlen, pk, HM_ED25519_ZIP215) == HM_OK;
      }
      if (strict_ok != want_ok) fail_msg("strict disagrees with Wycheproof tcId %d", id);
      if (zip_ok != want_ok) {
        disagree++;
        char item[32];
        snprintf(item, sizeof item, "%s%d", disagree > 1 ? "," : "", id);
        strncat(list, item, sizeof list - strlen(list) - 1);
        print_message("zip215 %s Wycheproof tcId %d (%s): %s\n", zip_ok ? "accepts" : "rejects",
                      id, res, json_string_value(json_object_get(tc, "comment")));
      }
      free(msg);
      total++;
    }
  }
  json_decref(root);
  assert_int_equal(total, 151);
  print_message("zip215 disagreements: [%s]\n", list);
  assert_string_equal(list, ZIP215_WYCHEPROOF_DISAGREEMENTS);
}

/* ---- X25519 ---- */

static void test_x25519_rfc7748(void **state) {
  (void)state;
  uint8_t a[32], b[32], apub[32], bpub[32], want[32], s1[32], s2[32], k[32], u[32];
  unhex(k, 32, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  unhex(u, 32, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
  unhex(want, 32, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  assert_int_equal(hm_x25519(s1, k, u), HM_OK);
  assert_memory_equal(s1, want, 32);

  unhex(a, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  unhex(b, 32, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  assert_int_equal(hm_x25519_public(apub, a), HM_OK);
  assert_int_equal(hm_x25519_public(bpub, b), HM_OK);
  unhex(want, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  assert_memory_equal(apub, want, 32);
  unhex(want, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  assert_memory_equal(bpub, want, 32);
  assert_int_equal(hm_x25519(s1, a, bpub), HM_OK);
  assert_int_equal(hm_x25519(s2, b, apub), HM_OK);
  unhex(want, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  assert_memory_equal(s1, want, 32);
  assert_memory_equal(s2, want, 32);
}

static void test_x25519_weak_key(void **state) {
  (void)state;
  uint8_t sk[32], zero[32] = {0}, one[32] = {1}, out[32];
  memset(sk, 0x42, 32);
  memset(out, 0xaa, 32);
  assert_int_equal(hm_x25519(out, sk, zero), HM_ERR_WEAK_KEY);
  assert_true(sodium_is_zero(out, 32));
  assert_int_equal(hm_x25519(out, sk, one), HM_ERR_WEAK_KEY);
}

static void test_x25519_wycheproof(void **state) {
  (void)state;
  json_t *root = load_wycheproof("x25519_test.json");
  size_t gi, ti, n = 0;
  json_t *group, *tc;
  json_array_foreach(json_object_get(root, "testGroups"), gi, group) {
    json_array_foreach(json_object_get(group, "tests"), ti, tc) {
      uint8_t pub[32], priv[32], want[32], got[32];
      unhex(pub, 32, json_string_value(json_object_get(tc, "public")));
      unhex(priv, 32, json_string_value(json_object_get(tc, "private")));
      unhex(want, 32, json_string_value(json_object_get(tc, "shared")));
      const char *res = json_string_value(json_object_get(tc, "result"));
      int rc = hm_x25519(got, priv, pub);
      if (sodium_is_zero(want, 32)) {
        /* all-zero shared secret: we must refuse (upstream throws too) */
        assert_int_equal(rc, HM_ERR_WEAK_KEY);
      } else {
        if (rc != HM_OK) fail_msg("x25519 tcId %d (%s) failed", (int)json_integer_value(json_object_get(tc, "tcId")), res);
        assert_memory_equal(got, want, 32);
      }
      n++;
    }
  }
  json_decref(root);
  assert_true(n > 500);
}

static void test_ed25519_to_x25519(void **state) {
  (void)state;
  for (int t = 0; t < 8; t++) {
    uint8_t seed[32], pk[32], sk64[64], xsk[32], xsk2[32], xpk[32], xpk2[32], xpk3[32], xpub[32];
    hm_random_bytes(seed, 32);
    assert_int_equal(hm_ed25519_seed_keypair(pk, sk64, seed), HM_OK);
    assert_int_equal(hm_ed25519_to_x25519_sk(xsk, seed), HM_OK);
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xsk2, sk64), 0);
    assert_memory_equal(xsk, xsk2, 32);
    assert_int_equal(xsk[0] & 7, 0);
    assert_int_equal(xsk[31] & 0xc0, 0x40);
    assert_int_equal(hm_ed25519_to_x25519_pk(xpk, pk), HM_OK);
    assert_int_equal(hm_ed25519_to_x25519_pk_upstream(xpk2, pk), HM_OK);
    assert_int_equal(hm_x25519_public(xpub, xsk), HM_OK);
    assert_memory_equal(xpk, xpub, 32);
    assert_memory_equal(xpk2, xpub, 32);
    (void)xpk3;
  }
  /* Order-2 key ecff..7f: libsodium refuses, upstream maps it to u = 0. */
  uint8_t pk[32], x[32], zero[32] = {0};
  memset(pk, 0xff, 32);
  pk[0] = 0xec;
  pk[31] = 0x7f;
  assert_int_equal(hm_ed25519_to_x25519_pk(x, pk), HM_ERR_WEAK_KEY);
  assert_int_equal(hm_ed25519_to_x25519_pk_upstream(x, pk), HM_OK);
  assert_memory_equal(x, zero, 32);
  /* Identity (y = 1): both refuse. */
  uint8_t id[32] = {1};
  assert_int_equal(hm_ed25519_to_x25519_pk(x, id), HM_ERR_WEAK_KEY);
  assert_int_equal(hm_ed25519_to_x25519_pk_upstream(x, id), HM_ERR_WEAK_KEY);
  /* Non-canonical y (>= p): upstream's RFC 8032 decoding refuses. */
  uint8_t nc[32];
  memset(nc, 0xff, 32);
  nc[0] = 0xee;
  nc[31] = 0x7f;
  assert_int_equal(hm_ed25519_to_x25519_pk_upstream(x, nc), HM_ERR_WEAK_KEY);
}

/* ---- HKDF ---- */

static void test_hkdf_sha256_rfc5869(void **state) {
  (void)state;
  uint8_t ikm[80], salt[80], info[80], okm[82], want[82];
  /* Case 1 */
  memset(ikm, 0x0b, 22);
  size_t sl = unhex(salt, sizeof salt, "000102030405060708090a0b0c");
  size_t il = unhex(info, sizeof info, "f0f1f2f3f4f5f6f7f8f9");
  unhex(want, sizeof want, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  assert_int_equal(hm_hkdf_sha256(okm, 42, ikm, 22, salt, sl, info, il), HM_OK);
  assert_memory_equal(okm, want, 42);
  /* Case 2: long inputs, 82 bytes out */
  for (int i = 0; i < 80; i++) {
    ikm[i] = (uint8_t)i;
    salt[i] = (uint8_t)(0x60 + i);
    info[i] = (uint8_t)(0xb0 + i);
  }
  unhex(want, sizeof want,
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
  assert_int_equal(hm_hkdf_sha256(okm, 82, ikm, 80, salt, 80, info, 80), HM_OK);
  assert_memory_equal(okm, want, 82);
  /* Case 3: empty salt and info; NULL salt equals empty salt equals 32 zero bytes */
  memset(ikm, 0x0b, 22);
  unhex(want, sizeof want, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  assert_int_equal(hm_hkdf_sha256(okm, 42, ikm, 22, NULL, 0, NULL, 0), HM_OK);
  assert_memory_equal(okm, want, 42);
  uint8_t zeros[32] = {0};
  assert_int_equal(hm_hkdf_sha256(okm, 42, ikm, 22, zeros, 32, NULL, 0), HM_OK);
  assert_memory_equal(okm, want, 42);
  /* length limits */
  assert_int_equal(hm_hkdf_sha256(okm, 0, ikm, 22, NULL, 0, NULL, 0), HM_ERR_INVAL);
  uint8_t *big = malloc(HM_HKDF_SHA256_MAX + 1);
  assert_non_null(big);
  assert_int_equal(hm_hkdf_sha256(big, HM_HKDF_SHA256_MAX, ikm, 22, NULL, 0, NULL, 0), HM_OK);
  assert_int_equal(hm_hkdf_sha256(big, HM_HKDF_SHA256_MAX + 1, ikm, 22, NULL, 0, NULL, 0),
                   HM_ERR_INVAL);
  free(big);
}

static void test_hkdf_sha256_wycheproof(void **state) {
  (void)state;
  json_t *root = load_wycheproof("hkdf_sha256_test.json");
  size_t gi, ti, n = 0;
  json_t *group, *tc;
  json_array_foreach(json_object_get(root, "testGroups"), gi, group) {
    json_array_foreach(json_object_get(group, "tests"), ti, tc) {
      const char *ikmh = json_string_value(json_object_get(tc, "ikm"));
      const char *salth = json_string_value(json_object_get(tc, "salt"));
      const char *infoh = json_string_value(json_object_get(tc, "info"));
      const char *okmh = json_string_value(json_object_get(tc, "okm"));
      size_t size = (size_t)json_integer_value(json_object_get(tc, "size"));
      const char *res = json_string_value(json_object_get(tc, "result"));
      uint8_t *ikm = malloc(strlen(ikmh) / 2 + 1), *salt = malloc(strlen(salth) / 2 + 1),
              *info = malloc(strlen(infoh) / 2 + 1), *want = malloc(strlen(okmh) / 2 + 1),
              *got = malloc(size + 1);
      size_t il = unhex(ikm, strlen(ikmh) / 2 + 1, ikmh);
      size_t sl = unhex(salt, strlen(salth) / 2 + 1, salth);
      size_t fl = unhex(info, strlen(infoh) / 2 + 1, infoh);
      unhex(want, strlen(okmh) / 2 + 1, okmh);
      int rc = hm_hkdf_sha256(got, size, ikm, il, salt, sl, info, fl);
      if (strcmp(res, "valid") == 0) {
        assert_int_equal(rc, HM_OK);
        assert_memory_equal(got, want, size);
      } else {
        assert_int_equal(rc, HM_ERR_INVAL); /* only invalid cases: size > 255*32 */
      }
      free(ikm), free(salt), free(info), free(want), free(got);
      n++;
    }
  }
  json_decref(root);
  assert_true(n > 80);
}

/* ---- PBKDF2 ---- */

static void test_pbkdf2_sha512_known_answer(void **state) {
  (void)state;
  uint8_t out[64], want[64];
  unhex(want, 64,
        "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce");
  assert_int_equal(hm_pbkdf2_sha512(out, 64, (const uint8_t *)"password", 8,
                                    (const uint8_t *)"salt", 4, 1),
                   HM_OK);
  assert_memory_equal(out, want, 64);
  assert_int_equal(hm_pbkdf2_sha512(out, 64, (const uint8_t *)"p", 1, NULL, 0, 0), HM_ERR_INVAL);
}

/* ---- AEADs ---- */

/* draft-irtf-cfrg-xchacha-03 A.3.1 */
static void test_xchacha_seal_draft_vector(void **state) {
  (void)state;
  const char *pt = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
                   "for the future, sunscreen would be it.";
  size_t ptl = strlen(pt);
  uint8_t key[32], nonce[24], aad[12], out[200], want[200], back[200];
  unhex(key, 32, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  unhex(nonce, 24, "404142434445464748494a4b4c4d4e4f5051525354555657");
  unhex(aad, 12, "50515253c0c1c2c3c4c5c6c7");
  size_t wl = unhex(want, sizeof want,
                    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4a"
                    "a6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b9"
                    "82c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
                    "c0875924c1c7987947deafd8780acf49");
  assert_int_equal(wl, ptl + 16);
  assert_int_equal(hm_xchacha_seal(out, key, nonce, (const uint8_t *)pt, ptl, aad, 12), HM_OK);
  assert_memory_equal(out, want, wl);
  assert_int_equal(hm_xchacha_open(back, key, nonce, out, wl, aad, 12), HM_OK);
  assert_memory_equal(back, pt, ptl);
  /* tamper: every bit of ct||tag, and the AAD */
  for (size_t bit = 0; bit < wl * 8; bit++) {
    out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(hm_xchacha_open(back, key, nonce, out, wl, aad, 12), HM_ERR_AUTH_TAG);
    out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  assert_int_equal(hm_xchacha_open(back, key, nonce, out, wl, NULL, 0), HM_ERR_AUTH_TAG);
  assert_true(sodium_is_zero(back, ptl));
  assert_int_equal(hm_xchacha_open(back, key, nonce, out, 15, NULL, 0), HM_ERR_DECODE);
  /* empty AAD by default: seal with NULL AAD equals libsodium with no AD */
  uint8_t a[40], b[40];
  unsigned long long bl;
  assert_int_equal(hm_xchacha_seal(a, key, nonce, (const uint8_t *)"hello", 5, NULL, 0), HM_OK);
  crypto_aead_xchacha20poly1305_ietf_encrypt(b, &bl, (const uint8_t *)"hello", 5, NULL, 0, NULL,
                                             nonce, key);
  assert_int_equal(bl, 21);
  assert_memory_equal(a, b, 21);
}

typedef int (*aead_seal_fn)(uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, size_t,
                            const uint8_t *, size_t);
typedef int (*aead_open_fn)(uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *, size_t,
                            const uint8_t *, size_t);

static size_t run_aead_wycheproof(const char *file, size_t ivlen, aead_seal_fn seal,
                                  aead_open_fn open) {
  json_t *root = load_wycheproof(file);
  size_t gi, ti, n = 0;
  json_t *group, *tc;
  json_array_foreach(json_object_get(root, "testGroups"), gi, group) {
    if (json_integer_value(json_object_get(group, "keySize")) != 256 ||
        json_integer_value(json_object_get(group, "ivSize")) != (json_int_t)(ivlen * 8) ||
        json_integer_value(json_object_get(group, "tagSize")) != 128)
      continue;
    json_array_foreach(json_object_get(group, "tests"), ti, tc) {
      const char *f[5] = {"key", "iv", "aad", "msg", "ct"};
      uint8_t *b[5];
      size_t l[5];
      for (int i = 0; i < 5; i++) {
        const char *h = json_string_value(json_object_get(tc, f[i]));
        b[i] = malloc(strlen(h) / 2 + 17);
        l[i] = unhex(b[i], strlen(h) / 2 + 17, h);
      }
      l[4] += unhex(b[4] + l[4], 16, json_string_value(json_object_get(tc, "tag")));
      const char *res = json_string_value(json_object_get(tc, "result"));
      uint8_t *out = malloc(l[3] + 17), *back = malloc(l[4] + 1);
      if (strcmp(res, "valid") == 0) {
        assert_int_equal(seal(out, b[0], b[1], b[3], l[3], b[2], l[2]), HM_OK);
        assert_memory_equal(out, b[4], l[4]);
        assert_int_equal(open(back, b[0], b[1], b[4], l[4], b[2], l[2]), HM_OK);
        assert_memory_equal(back, b[3], l[3]);
      } else {
        assert_int_not_equal(open(back, b[0], b[1], b[4], l[4], b[2], l[2]), HM_OK);
      }
      for (int i = 0; i < 5; i++) free(b[i]);
      free(out), free(back);
      n++;
    }
  }
  json_decref(root);
  return n;
}

static void test_xchacha_open_wycheproof(void **state) {
  (void)state;
  assert_true(run_aead_wycheproof("xchacha20_poly1305_test.json", 24, hm_xchacha_seal,
                                  hm_xchacha_open) > 100);
}

static void test_aes256gcm_open_wycheproof(void **state) {
  (void)state;
  assert_true(run_aead_wycheproof("aes_gcm_test.json", 12, hm_aes256gcm_seal, hm_aes256gcm_open) >
              20);
}

static void test_aes256gcm_seal_tamper(void **state) {
  (void)state;
  uint8_t key[32], iv[12], ct[21], back[5];
  hm_random_bytes(key, 32);
  hm_random_bytes(iv, 12);
  assert_int_equal(hm_aes256gcm_seal(ct, key, iv, (const uint8_t *)"voice", 5, NULL, 0), HM_OK);
  assert_int_equal(hm_aes256gcm_open(back, key, iv, ct, 21, NULL, 0), HM_OK);
  assert_memory_equal(back, "voice", 5);
  for (int bit = 0; bit < 21 * 8; bit++) {
    ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    assert_int_equal(hm_aes256gcm_open(back, key, iv, ct, 21, NULL, 0), HM_ERR_AUTH_TAG);
    ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
  assert_int_equal(hm_aes256gcm_open(back, key, iv, ct, 3, NULL, 0), HM_ERR_DECODE);
  /* empty plaintext: tag only */
  uint8_t tagonly[16];
  assert_int_equal(hm_aes256gcm_seal(tagonly, key, iv, NULL, 0, NULL, 0), HM_OK);
  assert_int_equal(hm_aes256gcm_open(NULL, key, iv, tagonly, 16, NULL, 0), HM_OK);
}

static void test_ct_equal(void **state) {
  (void)state;
  assert_true(hm_ct_equal((const uint8_t *)"abc", (const uint8_t *)"abc", 3));
  assert_false(hm_ct_equal((const uint8_t *)"abc", (const uint8_t *)"abd", 3));
  assert_true(hm_ct_equal(NULL, NULL, 0));
}

/* hm_ed25519_point_check_x25519 (one decoding, used by did:key resolution) agrees with
 * hm_ed25519_point_check followed by hm_ed25519_to_x25519_pk_upstream on honest keys,
 * random bytes, small-order points, torsion-mixed points and non-canonical encodings; on
 * main-subgroup keys the X25519 key also equals libsodium's map (independent arithmetic). */
static void check_combined(const uint8_t pk[32]) {
  int c1 = -1, s1 = -1, c2 = -1, s2 = -1;
  uint8_t x1[32], x2[32];
  memset(x2, 0xa5, 32);
  int r1 = hm_ed25519_point_check(pk, &c1, &s1);
  int r2 = hm_ed25519_point_check_x25519(pk, &c2, &s2, x2);
  assert_int_equal(r2, r1);
  if (r1 != HM_OK) return;
  assert_int_equal(c2, c1);
  assert_int_equal(s2, s1);
  if (!c1 || s1) {
    for (int i = 0; i < 32; i++) assert_int_equal(x2[i], 0xa5); /* untouched */
    return;
  }
  assert_int_equal(hm_ed25519_to_x25519_pk_upstream(x1, pk), HM_OK);
  assert_memory_equal(x1, x2, 32);
  uint8_t xs[32];
  if (crypto_core_ed25519_is_valid_point(pk)) {
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xs, pk), 0);
    assert_memory_equal(xs, x2, 32);
  }
}

static void test_ed25519_point_check_x25519_matches(void **state) {
  (void)state;
  uint8_t pk[32], sk[64], b[32];
  int sodium_checked = 0;
  for (int i = 0; i < 300; i++) {
    crypto_sign_keypair(pk, sk);
    check_combined(pk);
    sodium_checked += crypto_core_ed25519_is_valid_point(pk);
    randombytes_buf(b, sizeof b);
    check_combined(b);
  }
  assert_int_equal(sodium_checked, 300);
  /* the eight small-order points' encodings and their sign-flipped / y + p variants */
  static const char *const small_hex[] = {
      "0100000000000000000000000000000000000000000000000000000000000000",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0000000000000000000000000000000000000000000000000000000000000080",
      "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
      "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "0100000000000000000000000000000000000000000000000000000000000080",
  };
  for (size_t i = 0; i < sizeof small_hex / sizeof small_hex[0]; i++) {
    assert_int_equal(sodium_hex2bin(b, 32, small_hex[i], 64, NULL, NULL, NULL), 0);
    check_combined(b);
    b[31] ^= 0x80;
    check_combined(b);
  }
  /* honest key + a torsion point (not in the main subgroup: libsodium refuses it) */
  crypto_sign_keypair(pk, sk);
  uint8_t t8[32], mixed[32];
  assert_int_equal(sodium_hex2bin(t8, 32, small_hex[4], 64, NULL, NULL, NULL), 0);
  assert_int_equal(crypto_core_ed25519_add(mixed, pk, t8), 0);
  check_combined(mixed);
  /* every y in [p, 2^255) (non-canonical), both signs */
  for (int k = 0; k < 19; k++) {
    memset(b, 0xff, 32);
    b[31] = 0x7f;
    b[0] = (uint8_t)(0xed + k);
    check_combined(b);
    b[31] |= 0x80;
    check_combined(b);
  }
  assert_int_equal(hm_ed25519_point_check_x25519(NULL, NULL, NULL, NULL), HM_ERR_INVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ed25519_sign_rfc8032),
      cmocka_unit_test(test_ed25519_seed_keypair_protocol_vector),
      cmocka_unit_test(test_ed25519_verify_tamper),
      cmocka_unit_test(test_ed25519_verify_zip215_universal_signature),
      cmocka_unit_test(test_ed25519_verify_zip215_noncanonical),
      cmocka_unit_test(test_ed25519_verify_zip215_hash_uses_canonical_encoding),
      cmocka_unit_test(test_ed25519_verify_zip215_noble_differential),
      cmocka_unit_test(test_ed25519_verify_wycheproof),
      cmocka_unit_test(test_x25519_rfc7748),
      cmocka_unit_test(test_x25519_weak_key),
      cmocka_unit_test(test_x25519_wycheproof),
      cmocka_unit_test(test_ed25519_to_x25519),
      cmocka_unit_test(test_ed25519_point_check_x25519_matches),
      cmocka_unit_test(test_hkdf_sha256_rfc5869),
      cmocka_unit_test(test_hkdf_sha256_wycheproof),
      cmocka_unit_test(test_pbkdf2_sha512_known_answer),
      cmocka_unit_test(test_xchacha_seal_draft_vector),
      cmocka_unit_test(test_xchacha_open_wycheproof),
      cmocka_unit_test(test_aes256gcm_open_wycheproof),
      cmocka_unit_test(test_aes256gcm_seal_tamper),
      cmocka_unit_test(test_ct_equal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
