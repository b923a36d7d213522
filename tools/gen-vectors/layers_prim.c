/* tools/gen-vectors/layers_prim.c - codecs, ed25519, x25519, hkdf, aead vector layers. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "layers.h"
#include "vfile.h"

/* ======================================================================== codecs */

static int codec_compute(json_t *c) {
  const char *codec = vget_str(c, "codec", NULL);
  const char *dir = vget_str(c, "direction", NULL);
  int enc = !strcmp(dir, "encode");
  if (!enc && strcmp(dir, "decode")) vdie("direction %s", dir);
  if (!strcmp(codec, "varint")) {
    if (enc) {
      uint8_t out[16];
      size_t n;
      int rc = hm_varint_encode(out, sizeof out, &n, (uint64_t)vget_int(c, "value"));
      if (rc) vset_result(c, "invalid", rc);
      else {
        vset_hex(c, "bytes", out, n);
        vset_result(c, "valid", 0);
      }
    } else {
      size_t n;
      uint8_t *in = vget_hex_alloc(c, "bytes", &n);
      uint64_t v;
      size_t used;
      int rc = hm_varint_decode(&v, &used, in, n);
      if (!rc && used != n) rc = HM_ERR_DECODE; /* a case holds exactly one varint */
      hm_free(in);
      if (rc) vset_result(c, "invalid", rc);
      else {
        vset_int(c, "value", (int64_t)v);
        vset_result(c, "valid", 0);
      }
    }
    return 0;
  }
  if (enc) {
    size_t n;
    uint8_t *in = vget_hex_alloc(c, "bytes", &n);
    size_t cap = 4 * n + 16;
    char *out = hm_malloc(cap);
    int rc;
    if (!strcmp(codec, "base58btc")) rc = hm_base58_encode(out, cap, in, n);
    else if (!strcmp(codec, "base58btc-upstream")) rc = hm_base58_encode_upstream(out, cap, in, n);
    else if (!strcmp(codec, "base64")) rc = hm_base64_encode(out, cap, in, n, 0);
    else if (!strcmp(codec, "base64url")) rc = hm_base64_encode(out, cap, in, n, 1);
    else if (!strcmp(codec, "multibase")) rc = hm_multibase_encode_b58(out, cap, in, n);
    else if (!strcmp(codec, "hex")) rc = hm_hex_encode(out, cap, in, n);
    else vdie("codec %s cannot encode", codec);
    if (rc) vset_result(c, "invalid", rc);
    else {
      vset_str(c, "text", out);
      vset_result(c, "valid", 0);
    }
    hm_free(out);
    hm_free(in);
  } else {
    size_t n;
    const char *in = vget_str(c, "text", &n);
    size_t cap = n + 8, outn = 0;
    uint8_t *out = hm_malloc(cap);
    int rc;
    if (!strcmp(codec, "base58btc")) rc = hm_base58_decode(out, cap, &outn, in, n);
    else if (!strcmp(codec, "base58btc-upstream")) rc = hm_base58_decode_upstream(out, cap, &outn, in, n);
    else if (!strcmp(codec, "base64")) rc = hm_base64_decode(out, cap, &outn, in, n, 0);
    else if (!strcmp(codec, "base64url")) rc = hm_base64_decode(out, cap, &outn, in, n, 1);
    else if (!strcmp(codec, "base64-lenient")) rc = hm_base64_decode_lenient(out, cap, &outn, in, n);
    else if (!strcmp(codec, "multibase")) rc = hm_multibase_decode_b58(out, cap, &outn, in, n);
    else if (!strcmp(codec, "hex")) rc = hm_hex_decode(out, cap, &outn, in, n);
    else vdie("codec %s cannot decode", codec);
    if (rc) {
      json_object_del(c, "bytes");
      vset_result(c, "invalid", rc);
    } else {
      vset_hex(c, "bytes", out, outn);
      vset_result(c, "valid", 0);
    }
    hm_free(out);
  }
  return 0;
}

static void codec_case(vfile *f, const char *label, const char *codec, const char *dir, const char *hex,
                       const char *text, const char *comment, const char *flags) {
  json_t *c = vcase(f, NULL, label, comment, flags);
  vset_str(c, "codec", codec);
  vset_str(c, "direction", dir);
  if (hex) vset_str(c, "bytes", hex);
  if (text) vset_str(c, "text", text);
  vrun(f, c);
}

static void varint_case(vfile *f, const char *label, const char *dir, int64_t v, const char *hex,
                        const char *comment, const char *flags) {
  json_t *c = vcase(f, NULL, label, comment, flags);
  vset_str(c, "codec", "varint");
  vset_str(c, "direction", dir);
  if (!strcmp(dir, "encode")) vset_int(c, "value", v);
  else vset_str(c, "bytes", hex);
  vrun(f, c);
}

static void codecs_generate(vfile *f) {
  uint8_t s[32];
  char hex[65];
  vseed(f, "random-32", NULL, s);
  hm_hex_encode(hex, sizeof hex, s, 32);
  /* base58btc */
  codec_case(f, "b58-hello", "base58btc", "encode", "68656c6c6f20776f726c64", NULL, "ASCII text", "");
  codec_case(f, "b58-leading-zeros", "base58btc", "encode", "0000287fb4cd", NULL,
             "each leading zero byte is one '1'", "LeadingZeros");
  codec_case(f, "b58-random-32", "base58btc", "encode", hex, NULL, "32 seed-derived bytes", "");
  codec_case(f, "b58-ed-multicodec", "base58btc", "encode",
             "ed01d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", NULL,
             "multicodec ed 01 + RFC 8032 test-1 key: the did:key body z6Mk...", "");
  codec_case(f, "b58-dec-hello", "base58btc", "decode", NULL, "StV1DL6CwTryKyV", "decode ASCII text", "");
  codec_case(f, "b58-dec-leading-ones", "base58btc", "decode", NULL, "11233QC4", "leading '1's are zero bytes",
             "LeadingZeros");
  codec_case(f, "b58-dec-bad-0", "base58btc", "decode", NULL, "0abc", "'0' is not in the alphabet", "BadChar");
  codec_case(f, "b58-dec-bad-O", "base58btc", "decode", NULL, "abOc", "'O' is not in the alphabet", "BadChar");
  codec_case(f, "b58-dec-bad-I", "base58btc", "decode", NULL, "Iabc", "'I' is not in the alphabet", "BadChar");
  codec_case(f, "b58-dec-bad-l", "base58btc", "decode", NULL, "abcl", "'l' is not in the alphabet", "BadChar");
  codec_case(f, "b58-dec-bad-space", "base58btc", "decode", NULL, "ab c", "whitespace is an error", "BadChar");
  codec_case(f, "b58-empty-std", "base58btc", "encode", "", NULL, "standard: no bytes, no text", "");
  codec_case(f, "b58-zero-std", "base58btc", "encode", "00", NULL, "standard: one zero byte is \"1\"", "");
  codec_case(f, "b58-dec-1-std", "base58btc", "decode", NULL, "1", "standard: \"1\" is one zero byte", "");
  codec_case(f, "b58-up-empty", "base58btc-upstream", "encode", "", NULL, "upstream: [] -> \"1\"",
             "Base58ZeroQuirk");
  codec_case(f, "b58-up-zero", "base58btc-upstream", "encode", "00", NULL, "upstream: [00] -> \"11\"",
             "Base58ZeroQuirk");
  codec_case(f, "b58-up-zero2", "base58btc-upstream", "encode", "0000", NULL, "upstream: [00 00] -> \"111\"",
             "Base58ZeroQuirk");
  codec_case(f, "b58-up-dec-1", "base58btc-upstream", "decode", NULL, "1", "upstream: \"1\" -> 00 00",
             "Base58ZeroQuirk");
  codec_case(f, "b58-up-dec-empty", "base58btc-upstream", "decode", NULL, "", "upstream: \"\" -> 00",
             "Base58ZeroQuirk");
  codec_case(f, "b58-up-normal", "base58btc-upstream", "encode", "0000287fb4cd", NULL,
             "upstream equals standard when some byte is non-zero", "LeadingZeros");
  /* multibase */
  codec_case(f, "mb-ed-key", "multibase", "encode",
             "ed01d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", NULL,
             "z + base58btc", "");
  codec_case(f, "mb-dec-ok", "multibase", "decode", NULL, "zStV1DL6CwTryKyV", "z prefix", "");
  codec_case(f, "mb-dec-base16", "multibase", "decode", NULL, "f68656c6c6f", "only base58btc (z) is supported",
             "UnsupportedBase");
  codec_case(f, "mb-dec-empty", "multibase", "decode", NULL, "", "no prefix at all", "BadChar");
  /* base64 */
  codec_case(f, "b64-0", "base64", "encode", "", NULL, "empty", "");
  codec_case(f, "b64-1", "base64", "encode", "66", NULL, "RFC 4648 'f'", "");
  codec_case(f, "b64-2", "base64", "encode", "666f", NULL, "RFC 4648 'fo'", "");
  codec_case(f, "b64-3", "base64", "encode", "666f6f", NULL, "RFC 4648 'foo'", "");
  codec_case(f, "b64-hi", "base64", "encode", "fbff", NULL, "uses + and /", "");
  codec_case(f, "b64-dec-ok", "base64", "decode", NULL, "Zm9vYmE=", "RFC 4648 'fooba'", "");
  codec_case(f, "b64-dec-nopad", "base64", "decode", NULL, "Zm9vYmE", "strict: padding required", "BadPadding");
  codec_case(f, "b64-dec-bits", "base64", "decode", NULL, "Zm9=", "strict: non-zero unused bits", "BadPadding");
  codec_case(f, "b64-dec-url-char", "base64", "decode", NULL, "-_8=", "strict: URL alphabet not allowed",
             "BadChar");
  codec_case(f, "b64-dec-inner-pad", "base64", "decode", NULL, "Zg==Zg==", "strict: '=' only at the end",
             "BadPadding");
  codec_case(f, "b64url-hi", "base64url", "encode", "fbff", NULL, "uses - and _, no padding", "");
  codec_case(f, "b64url-dec-pad", "base64url", "decode", NULL, "Zg==", "strict: no '=' in base64url",
             "BadPadding");
  /* upstream's lenient decoder */
  codec_case(f, "b64l-star", "base64-lenient", "decode", NULL, "AA*A",
             "upstream deserialise: invalid char counts as -1 (all bits set)", "Lenient");
  codec_case(f, "b64l-pad-anywhere", "base64-lenient", "decode", NULL, "Z=g=",
             "upstream deserialise: every '=' is dropped first", "Lenient");
  codec_case(f, "b64l-normal", "base64-lenient", "decode", NULL, "aGVsbG8=", "ordinary text decodes normally",
             "Lenient");
  codec_case(f, "b64l-one-left", "base64-lenient", "decode", NULL, "aGVsbG8gA",
             "a final group of one character yields no byte", "Lenient");
  /* varint */
  varint_case(f, "varint-ed", "encode", 0xed, NULL, "Ed25519 multicodec 0xed", "");
  varint_case(f, "varint-ec", "encode", 0xec, NULL, "X25519 multicodec 0xec", "");
  varint_case(f, "varint-0", "encode", 0, NULL, "zero", "");
  varint_case(f, "varint-300", "encode", 300, NULL, "two bytes", "");
  varint_case(f, "varint-dec-ed", "decode", 0, "ed01", "decode ed 01", "");
  varint_case(f, "varint-dec-nonminimal", "decode", 0, "ed8100", "redundant final zero group",
              "NonMinimal");
  varint_case(f, "varint-dec-truncated", "decode", 0, "ed", "continuation bit set on the last byte",
              "Truncated");
  /* hex */
  codec_case(f, "hex-enc", "hex", "encode", "00ff10ab", NULL, "lowercase", "");
  codec_case(f, "hex-dec-upper", "hex", "decode", NULL, "00FF10AB", "upper case accepted", "");
  codec_case(f, "hex-dec-odd", "hex", "decode", NULL, "abc", "odd length", "BadChar");
  codec_case(f, "hex-dec-bad", "hex", "decode", NULL, "0g", "not a hex digit", "BadChar");
}

static const char *const CODEC_NOTES[] = {
  "LeadingZeros", "leading zero bytes / leading '1' characters",
  "Base58ZeroQuirk", "upstream did/src/index.ts differs from standard base58btc only for all-zero values",
  "BadChar", "a character outside the alphabet (or a malformed text): decoding fails",
  "BadPadding", "strict RFC 4648 padding / unused-bit rules",
  "UnsupportedBase", "a multibase prefix other than z",
  "Lenient", "upstream protocol serialisation.ts base64 decoder (never fails)",
  "NonMinimal", "a varint with a redundant trailing zero group",
  "Truncated", "input ends inside the value",
  NULL};

static const vkind CODEC_KINDS[] = {{NULL, "codec direction bytes? text? value?", codec_compute}, {0}};

const vlayer LAYER_CODECS = {"codecs", "harmony-codecs",
                             "hex, base64 (strict, url, upstream-lenient), base58btc (standard and upstream), "
                             "multibase, varint: crypto-facts 0.4 and 1.2",
                             CODEC_NOTES, CODEC_KINDS, codecs_generate};

/* ======================================================================== ed25519 */

static void ed_verdicts(json_t *c, const uint8_t *pk, size_t pkn, const uint8_t *msg, size_t mn,
                        const uint8_t *sig, size_t sn) {
  int st, zp;
  if (pkn != 32) st = zp = HM_ERR_WEAK_KEY;
  else if (sn != 64) st = zp = HM_ERR_BADSIG;
  else {
    st = hm_ed25519_verify(sig, msg, mn, pk, HM_ED25519_STRICT);
    zp = hm_ed25519_verify(sig, msg, mn, pk, HM_ED25519_ZIP215);
  }
  vset_str(c, "strict", st == HM_OK ? "valid" : "invalid");
  if (st != HM_OK) vset_str(c, "strict_error", hm_err_name(st));
  else json_object_del(c, "strict_error");
  vset_str(c, "zip215", zp == HM_OK ? "valid" : "invalid");
  if (st == HM_OK && zp == HM_OK) vset_result(c, "valid", 0);
  else if (st != HM_OK && zp != HM_OK) vset_result(c, "invalid", st);
  else if (zp == HM_OK) vset_result(c, "acceptable", st);
  else vdie("strict accepts what zip215 refuses");
}

static int ed_sign_compute(json_t *c) {
  uint8_t seed[32], pk[32], sig[64];
  size_t mn;
  vget_hex_fixed(c, "seed32", seed, 32);
  uint8_t *msg = vget_hex_alloc(c, "message", &mn);
  if (hm_ed25519_seed_keypair(pk, NULL, seed) || hm_ed25519_sign(sig, msg, mn, seed)) vdie("sign");
  vset_hex(c, "public_key", pk, 32);
  vset_hex(c, "signature", sig, 64);
  ed_verdicts(c, pk, 32, msg, mn, sig, 64);
  hm_free(msg);
  return 0;
}

static int ed_verify_compute(json_t *c) {
  size_t pkn, mn, sn;
  uint8_t *pk = vget_hex_alloc(c, "public_key", &pkn);
  uint8_t *msg = vget_hex_alloc(c, "message", &mn);
  uint8_t *sig = vget_hex_alloc(c, "signature", &sn);
  ed_verdicts(c, pk, pkn, msg, mn, sig, sn);
  hm_free(pk);
  hm_free(msg);
  hm_free(sig);
  return 0;
}

static void hex_to(const char *h, uint8_t *out, size_t n) {
  size_t got;
  if (hm_hex_decode(out, n, &got, h, strlen(h)) || got != n) vdie("bad constant %s", h);
}

static void ed_verify_case(vfile *f, const char *label, const char *comment, const char *flags, const uint8_t *pk,
                           size_t pkn, const uint8_t *msg, size_t mn, const uint8_t *sig, size_t sn) {
  json_t *c = vcase(f, "verify", label, comment, flags);
  vset_hex(c, "public_key", pk, pkn);
  vset_hex(c, "message", msg, mn);
  vset_hex(c, "signature", sig, sn);
  vrun(f, c);
}

/* Sign msg with seed's secret scalar but under the public key A' = A + T (T of order 8):
 * S = r + k*a with k = H(R || A' || M). ZIP-215's cofactored check accepts it, the
 * cofactorless strict check does not (unless 8 | k). */
static void ed_sign_mixed(uint8_t sig[64], uint8_t apk[32], const uint8_t seed[32], const uint8_t *msg,
                          size_t mn, const uint8_t torsion[32]) {
  uint8_t h[64], a[32], pk[32], r64[64], r[32], R[32], k64[64], k[32], ka[32], S[32];
  crypto_hash_sha512(h, seed, 32);
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  memcpy(a, h, 32);
  if (crypto_scalarmult_ed25519_base_noclamp(pk, a)) vdie("base");
  if (crypto_core_ed25519_add(apk, pk, torsion)) vdie("add torsion");
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, h + 32, 32);
  crypto_hash_sha512_update(&st, msg, mn);
  crypto_hash_sha512_final(&st, r64);
  crypto_core_ed25519_scalar_reduce(r, r64);
  if (crypto_scalarmult_ed25519_base_noclamp(R, r)) vdie("R");
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, R, 32);
  crypto_hash_sha512_update(&st, apk, 32);
  crypto_hash_sha512_update(&st, msg, mn);
  crypto_hash_sha512_final(&st, k64);
  crypto_core_ed25519_scalar_reduce(k, k64);
  /* a is clamped, not reduced: reduce it before the scalar product */
  uint8_t a64[64] = {0}, ared[32];
  memcpy(a64, a, 32);
  crypto_core_ed25519_scalar_reduce(ared, a64);
  crypto_core_ed25519_scalar_mul(ka, k, ared);
  crypto_core_ed25519_scalar_add(S, r, ka);
  memcpy(sig, R, 32);
  memcpy(sig + 32, S, 32);
  sodium_memzero(h, sizeof h);
  sodium_memzero(a, sizeof a);
  sodium_memzero(ared, sizeof ared);
  sodium_memzero(a64, sizeof a64);
}

static const char *const SMALL_ORDER[][3] = {
  {"so-identity", "0100000000000000000000000000000000000000000000000000000000000000", "identity (order 1)"},
  {"so-order2", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "order 2 (y = -1)"},
  {"so-order4", "0000000000000000000000000000000000000000000000000000000000000000", "order 4 (y = 0)"},
  {"so-order4-neg", "0000000000000000000000000000000000000000000000000000000000000080", "order 4 (y = 0, x < 0)"},
  {"so-order8a", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", "order 8"},
  {"so-order8b", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", "order 8"},
  {"so-order8a-neg", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", "order 8 (x < 0)"},
  {"so-order8b-neg", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", "order 8 (x < 0)"},
};
static const char *const NONCANON[][3] = {
  {"nc-identity-p1", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
   "y = p + 1 (non-canonical identity)"},
  {"nc-order4-p", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
   "y = p (non-canonical order-4 point)"},
  {"nc-identity-signbit", "0100000000000000000000000000000000000000000000000000000000000080",
   "identity with the sign bit set (x = 0, 'negative')"},
  {"nc-order4-p-signbit", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
   "y = p with the sign bit set (non-canonical order-4 point, x < 0)"},
  {"nc-identity-p1-signbit", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
   "y = p + 1 with the sign bit set (non-canonical identity, x = 0 'negative')"},
};

static void ed25519_generate(vfile *f) {
  static const char *const msgs[][2] = {
    {"empty", ""}, {"hello", "68656c6c6f"}, {"harmony-json", NULL}, {"long-1000", NULL}};
  uint8_t seed[32], pk[32], sig[64];
  for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
    char label[64];
    snprintf(label, sizeof label, "sign-%s", msgs[i][0]);
    vseed(f, label, NULL, seed);
    json_t *c = vcase(f, "sign", label, "honest signature (RFC 8032, deterministic)", "Valid");
    vset_hex(c, "seed32", seed, 32);
    if (msgs[i][1]) vset_str(c, "message", msgs[i][1]);
    else if (!strcmp(msgs[i][0], "harmony-json")) {
      const char *j = "{\"requestId\":\"r1\",\"approverDID\":\"did:key:z6Mk\"}";
      vset_hex(c, "message", (const uint8_t *)j, strlen(j));
    } else {
      uint8_t m[1000];
      for (size_t k = 0; k < sizeof m; k++) m[k] = (uint8_t)(k * 7 + 3);
      vset_hex(c, "message", m, sizeof m);
    }
    vrun(f, c);
  }
  /* RFC 8032 7.1 test 1 (fixed seed) */
  {
    json_t *c = vcase(f, "sign", "rfc8032-test1", "RFC 8032 section 7.1 TEST 1 (seed given, not derived)",
                      "Valid Rfc8032");
    vset_str(c, "seed32", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    vset_str(c, "message", "");
    vrun(f, c);
  }
  /* tampering with an honest signature */
  const char *m = "harmony";
  size_t mn = strlen(m);
  vseed(f, "honest", NULL, seed);
  if (hm_ed25519_seed_keypair(pk, NULL, seed) || hm_ed25519_sign(sig, (const uint8_t *)m, mn, seed)) vdie("sign");
  ed_verify_case(f, "honest", "honest signature over \"harmony\" (seed = seed(honest))", "Valid", pk, 32,
                 (const uint8_t *)m, mn, sig, 64);
  ed_verify_case(f, "modified-message", "one message byte changed", "ModifiedMessage", pk, 32,
                 (const uint8_t *)"harmonx", mn, sig, 64);
  uint8_t bad[65];
  memcpy(bad, sig, 64);
  bad[0] ^= 1;
  ed_verify_case(f, "modified-r", "bit 0 of R flipped", "ModifiedSignature", pk, 32, (const uint8_t *)m, mn, bad, 64);
  memcpy(bad, sig, 64);
  bad[40] ^= 0x10;
  ed_verify_case(f, "modified-s", "a bit of S flipped", "ModifiedSignature", pk, 32, (const uint8_t *)m, mn, bad, 64);
  ed_verify_case(f, "truncated", "63-byte signature (upstream: verify returns false)", "WrongLength", pk, 32,
                 (const uint8_t *)m, mn, sig, 63);
  memcpy(bad, sig, 64);
  bad[64] = 0;
  ed_verify_case(f, "extended", "65-byte signature (trailing zero byte)", "WrongLength", pk, 32,
                 (const uint8_t *)m, mn, bad, 65);
  {
    /* S + L: the same point equation, but S is not reduced. Both verifiers require S < L. */
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                  0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                  0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
    memcpy(bad, sig, 64);
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
      unsigned v = bad[32 + i] + L[i] + carry;
      bad[32 + i] = (uint8_t)v;
      carry = v >> 8;
    }
    ed_verify_case(f, "s-plus-l", "S replaced by S + L (non-reduced, same equation)", "SNotReduced", pk, 32,
                   (const uint8_t *)m, mn, bad, 64);
  }
  /* small-order public keys with the (R = identity, S = 0) signature: any message */
  uint8_t so[32], ident_sig[64] = {1};
  for (size_t i = 0; i < sizeof SMALL_ORDER / sizeof SMALL_ORDER[0]; i++) {
    hex_to(SMALL_ORDER[i][1], so, 32);
    char comment[200];
    snprintf(comment, sizeof comment,
             "public key of %s, signature R = identity, S = 0: ZIP-215 accepts it for ANY message "
             "(upstream did:key forgery), strict refuses the small-order key",
             SMALL_ORDER[i][2]);
    ed_verify_case(f, SMALL_ORDER[i][0], comment, "SmallOrderKey SmallOrderR", so, 32, (const uint8_t *)m, mn,
                   ident_sig, 64);
  }
  for (size_t i = 0; i < sizeof NONCANON / sizeof NONCANON[0]; i++) {
    hex_to(NONCANON[i][1], so, 32);
    char comment[200];
    snprintf(comment, sizeof comment, "public key %s, signature R = identity, S = 0", NONCANON[i][2]);
    ed_verify_case(f, NONCANON[i][0], comment, "NonCanonicalKey SmallOrderKey SmallOrderR", so, 32,
                   (const uint8_t *)m, mn, ident_sig, 64);
  }
  {
    /* small-order R (order 2) with S = 0 under the order-2 key */
    uint8_t s2[64] = {0};
    hex_to(SMALL_ORDER[1][1], s2, 32);
    hex_to(SMALL_ORDER[1][1], so, 32);
    ed_verify_case(f, "so-order2-r-order2", "order-2 key and R = order-2 point, S = 0", "SmallOrderKey SmallOrderR",
                   so, 32, (const uint8_t *)m, mn, s2, 64);
    /* (R = identity, S = L) under the order-2 key: S must be < L in both modes */
    uint8_t sl[64] = {1};
    static const uint8_t Lc[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                   0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                   0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
    memcpy(sl + 32, Lc, 32);
    ed_verify_case(f, "so-order2-s-eq-l", "order-2 key, R = identity, S = L: refused in both modes",
                   "SmallOrderKey SNotReduced", so, 32, (const uint8_t *)m, mn, sl, 64);
    /* identity R with a real key and S = 0: not valid for a full-order key */
    ed_verify_case(f, "identity-sig-honest-key", "honest key with R = identity, S = 0: invalid in both modes",
                   "SmallOrderR", pk, 32, (const uint8_t *)m, mn, ident_sig, 64);
  }
  /* mixed-order key: honest key plus an order-8 point */
  {
    uint8_t t8[32], apk[32], msig[64];
    hex_to(SMALL_ORDER[4][1], t8, 32);
    vseed(f, "mixed-order", NULL, seed);
    /* pick the first message "harmony-<i>" whose k is not a multiple of 8, so strict refuses */
    for (int i = 0; i < 64; i++) {
      char mm[32];
      snprintf(mm, sizeof mm, "harmony-%d", i);
      ed_sign_mixed(msig, apk, seed, (const uint8_t *)mm, strlen(mm), t8);
      if (hm_ed25519_verify(msig, (const uint8_t *)mm, strlen(mm), apk, HM_ED25519_STRICT) != HM_OK) {
        ed_verify_case(f, "mixed-order",
                       "key A + T (T of order 8), S = r + k*a: the cofactored ZIP-215 equation holds, the "
                       "cofactorless strict one does not (seed = seed(mixed-order), first message harmony-<i> "
                       "with 8 not dividing k)",
                       "MixedOrderKey", apk, 32, (const uint8_t *)mm, strlen(mm), msig, 64);
        break;
      }
    }
  }
}

static const char *const ED_NOTES[] = {
  "Valid", "an honest signature",
  "Rfc8032", "known answer from RFC 8032 section 7.1",
  "ModifiedMessage", "message changed after signing",
  "ModifiedSignature", "signature bit flipped",
  "WrongLength", "signature not 64 bytes: upstream's verify returns false; so does every verifier",
  "SNotReduced", "S >= L: both modes refuse",
  "SmallOrderKey", "public key of small order (upstream/ZIP-215 accepts such keys)",
  "SmallOrderR", "R of small order",
  "NonCanonicalKey", "public key encoding with y >= p or x = 0 with the sign bit (ZIP-215 accepts)",
  "MixedOrderKey", "public key with a torsion component: cofactored and cofactorless equations disagree",
  NULL};

static const vkind ED_KINDS[] = {{"sign", "seed32 message", ed_sign_compute},
                                 {"verify", "public_key message signature", ed_verify_compute},
                                 {0}};

const vlayer LAYER_ED25519 = {
  "ed25519", "Ed25519",
  "RFC 8032 Ed25519 with two verification rules: strict (libsodium 1.0.18 crypto_sign_verify_detached) and "
  "zip215 (upstream noble-curves 1.9.7 default): crypto-facts 0.2",
  ED_NOTES, ED_KINDS, ed25519_generate};

/* ======================================================================== x25519 */

static int x_compute(json_t *c) {
  uint8_t sk[32], pk[32], sh[32];
  vget_hex_fixed(c, "secret_key", sk, 32);
  vget_hex_fixed(c, "public_key", pk, 32);
  int rc = hm_x25519(sh, sk, pk);
  if (rc) {
    json_object_del(c, "shared_secret");
    vset_result(c, "invalid", rc);
  } else {
    vset_hex(c, "shared_secret", sh, 32);
    vset_result(c, "valid", 0);
  }
  return 0;
}

static int x_conv_compute(json_t *c) {
  uint8_t seed[32], edpk[32], xsk[32], xpk[32], xpk2[32];
  vget_hex_fixed(c, "seed32", seed, 32);
  if (hm_ed25519_seed_keypair(edpk, NULL, seed) || hm_ed25519_to_x25519_sk(xsk, seed) ||
      hm_ed25519_to_x25519_pk(xpk, edpk) || hm_x25519_public(xpk2, xsk))
    vdie("conversion");
  if (memcmp(xpk, xpk2, 32)) vdie("birational map disagrees with X25519(xsk, 9)");
  vset_hex(c, "ed25519_public_key", edpk, 32);
  vset_hex(c, "x25519_secret_key", xsk, 32);
  vset_hex(c, "x25519_public_key", xpk, 32);
  vset_result(c, "valid", 0);
  return 0;
}

static void x25519_generate(vfile *f) {
  uint8_t a[32], b[32], apk[32], bpk[32];
  vseed(f, "alice-bob", "alice", a);
  vseed(f, "alice-bob", "bob", b);
  if (hm_x25519_public(apk, a) || hm_x25519_public(bpk, b)) vdie("pub");
  json_t *c = vcase(f, "x25519", "alice-bob", "alice's secret with bob's public key (secrets = derive(alice-bob, alice|bob))", "Normal");
  vset_hex(c, "secret_key", a, 32);
  vset_hex(c, "public_key", bpk, 32);
  vrun(f, c);
  c = vcase(f, "x25519", "bob-alice", "bob's secret with alice's public key: the same shared secret (secrets = derive(alice-bob, ...))", "Normal");
  vset_hex(c, "secret_key", b, 32);
  vset_hex(c, "public_key", apk, 32);
  vrun(f, c);
  uint8_t hb[32];
  memcpy(hb, bpk, 32);
  hb[31] |= 0x80;
  c = vcase(f, "x25519", "high-bit", "bob's public key with the top bit set: masked, same result as alice-bob", "HighBit");
  vset_hex(c, "secret_key", a, 32);
  vset_hex(c, "public_key", hb, 32);
  vrun(f, c);
  static const char *const low[][2] = {
    {"low-zero", "0000000000000000000000000000000000000000000000000000000000000000"},
    {"low-one", "0100000000000000000000000000000000000000000000000000000000000000"},
    {"low-order8", "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"},
    {"low-order8b", "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"},
    {"low-p-minus-1", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
    {"low-p", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
    {"low-p-plus-1", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
  };
  for (size_t i = 0; i < sizeof low / sizeof low[0]; i++) {
    uint8_t pk[32];
    hex_to(low[i][1], pk, 32);
    c = vcase(f, "x25519", low[i][0],
              "low-order public key: all-zero shared secret, refused (noble throws, libsodium returns -1)",
              "LowOrder");
    vset_hex(c, "secret_key", a, 32);
    vset_hex(c, "public_key", pk, 32);
    vrun(f, c);
  }
  static const char *const conv[] = {"conv-1", "conv-2", "conv-3"};
  for (size_t i = 0; i < 3; i++) {
    uint8_t s[32];
    vseed(f, conv[i], NULL, s);
    c = vcase(f, "ed25519-to-x25519", conv[i], "upstream deriveEncryptionKeyPair: seed -> X25519 pair", "Conversion");
    vset_hex(c, "seed32", s, 32);
    vrun(f, c);
  }
}

static const char *const X_NOTES[] = {
  "Normal", "ordinary key agreement",
  "HighBit", "the top bit of u is ignored (RFC 7748)",
  "LowOrder", "low-order u: the shared secret is all zero and the operation fails (WEAK_KEY)",
  "Conversion", "Ed25519 seed -> X25519 secret clamp(SHA-512(seed)[0..32]); Ed25519 pk -> u = (1+y)/(1-y)",
  NULL};
static const vkind X_KINDS[] = {{"x25519", "secret_key public_key", x_compute},
                                {"ed25519-to-x25519", "seed32", x_conv_compute},
                                {0}};
const vlayer LAYER_X25519 = {"x25519", "X25519",
                             "RFC 7748 X25519 and upstream's Ed25519 -> X25519 map: crypto-facts 0.2, 1.1",
                             X_NOTES, X_KINDS, x25519_generate};

/* ======================================================================== hkdf */

static int hkdf_compute(json_t *c) {
  size_t in, sn, fn;
  uint8_t *ikm = vget_hex_alloc(c, "ikm", &in), *salt = vget_hex_alloc(c, "salt", &sn);
  uint8_t *info = vget_hex_alloc(c, "info", &fn);
  int64_t len = vget_int(c, "length");
  if (len == 0) {
    /* noble's hkdf returns an empty output; libharmony refuses a zero length */
    vset_str(c, "okm", "");
    vset_result(c, "acceptable", HM_ERR_RANGE);
  } else if (len < 1 || len > (int64_t)HM_HKDF_SHA256_MAX) {
    json_object_del(c, "okm");
    vset_result(c, "invalid", HM_ERR_RANGE);
  } else {
    uint8_t *okm = hm_malloc((size_t)len);
    if (hm_hkdf_sha256(okm, (size_t)len, ikm, in, sn ? salt : NULL, sn, info, fn)) vdie("hkdf");
    vset_hex(c, "okm", okm, (size_t)len);
    vset_result(c, "valid", 0);
    hm_free(okm);
  }
  hm_free(ikm);
  hm_free(salt);
  hm_free(info);
  return 0;
}

static void hkdf_case(vfile *f, const char *label, const char *comment, const char *flags, const uint8_t *ikm,
                      size_t in, const char *ikm_text, const char *salt_text, const char *info_text, int64_t len) {
  json_t *c = vcase(f, NULL, label, comment, flags);
  if (ikm_text) {
    vset_hex(c, "ikm", (const uint8_t *)ikm_text, strlen(ikm_text));
    vset_str(c, "ikm_text", ikm_text);
  } else {
    vset_hex(c, "ikm", ikm, in);
  }
  vset_hex(c, "salt", (const uint8_t *)(salt_text ? salt_text : ""), salt_text ? strlen(salt_text) : 0);
  if (salt_text) vset_str(c, "salt_text", salt_text);
  vset_hex(c, "info", (const uint8_t *)info_text, strlen(info_text));
  vset_str(c, "info_text", info_text);
  vset_int(c, "length", len);
  vrun(f, c);
}

static void hkdf_generate(vfile *f) {
  static const char *const labels[][4] = {
    /* label, salt, info, comment */
    {"dm", "harmony-dm-salt-v1", "harmony-dm-key", "DM key from an X25519 shared secret (4)"},
    {"mls-message-0", "harmony-mls-epoch-salt-v1", "harmony-mls-message-0", "MLS epoch 0 message key (5.2)"},
    {"mls-message-7", "harmony-mls-epoch-salt-v1", "harmony-mls-message-7", "MLS epoch 7 message key (5.2)"},
    {"mls-media-3", "harmony-mls-epoch-salt-v1", "harmony-mls-media-3", "MLS epoch 3 media key (5.2, 6.1)"},
    {"mls-advance", "harmony-mls-advance-salt-v1", "harmony-mls-epoch-advance", "MLS epoch advance (5.2)"},
    {"mls-welcome", NULL, "harmony-mls-welcome", "MLS welcome key, no salt (5.2)"},
    {"export", "harmony-export-salt-v1", "harmony-export", "community export key (7.1)"},
    {"sync", "harmony-sync-salt-v1", "harmony-sync", "identity sync key (7.2)"},
    {"user-data", "harmony-user-data-v1", "harmony-user-data-encryption", "user-data key (7.3)"},
    {"voice", "harmony-voice-e2ee-salt-v1", "harmony-voice-e2ee", "voice frame key (6.3)"},
    {"encrypt", NULL, "harmony-encrypt", "CryptoProvider.encrypt key, no salt (4)"},
  };
  for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
    uint8_t ikm[64];
    vseed(f, labels[i][0], NULL, ikm);
    size_t in = 32;
    if (!strcmp(labels[i][0], "mls-advance")) {
      vseed(f, labels[i][0], "commit", ikm + 32); /* old epoch secret || commit secret */
      in = 64;
    }
    hkdf_case(f, labels[i][0], labels[i][3], "Harmony", ikm, in, NULL, labels[i][1], labels[i][2], 32);
  }
  hkdf_case(f, "oauth-recovery", "OAuth recovery seed: text IKM (1.5)", "Harmony", NULL, 0,
            "oauth-recovery:google:token-123", "harmony-oauth-recovery", "google-recovery", 32);
  hkdf_case(f, "oauth-hash", "cloud OAuth token hash (1.5)", "Harmony", NULL, 0, "google:1234567890",
            "harmony-oauth-recovery-hash", "oauth-hash", 32);
  hkdf_case(f, "media-fallback", "fallback channel media key: anyone can compute it (6.1)", "Harmony", NULL, 0,
            "harmony-media-fallback-c1:c1:channel:0123456789abcdef", "harmony-media-salt",
            "harmony-media-channel-key", 32);
  uint8_t ikm[32];
  vseed(f, "no-salt", NULL, ikm);
  hkdf_case(f, "no-salt", "empty salt (= 32 zero bytes)", "EmptySalt", ikm, 32, NULL, NULL, "harmony-test", 32);
  {
    json_t *c = vcase(f, NULL, "zero-salt", "32 zero bytes of salt: same okm as no-salt", "EmptySalt");
    uint8_t z[32] = {0};
    vset_hex(c, "ikm", ikm, 32);
    vset_hex(c, "salt", z, 32);
    vset_hex(c, "info", (const uint8_t *)"harmony-test", 12);
    vset_str(c, "info_text", "harmony-test");
    vset_int(c, "length", 32);
    vrun(f, c);
  }
  vseed(f, "lengths", NULL, ikm);
  hkdf_case(f, "length-1", "one byte of output", "Length", ikm, 32, NULL, "salt", "info", 1);
  hkdf_case(f, "length-42", "RFC 5869 size", "Length", ikm, 32, NULL, "salt", "info", 42);
  hkdf_case(f, "length-max", "255 * 32 bytes, the maximum", "Length", ikm, 32, NULL, "salt", "info", 8160);
  hkdf_case(f, "length-too-long", "255 * 32 + 1 bytes: refused", "SizeTooLarge", ikm, 32, NULL, "salt", "info",
            8161);
  hkdf_case(f, "length-zero", "zero bytes: noble returns an empty output, libharmony refuses", "ZeroLength", ikm,
            32, NULL, "salt", "info", 0);
  hkdf_case(f, "empty-ikm", "empty IKM is allowed", "Length", NULL, 0, "", "salt", "info", 32);
}

static const char *const HKDF_NOTES[] = {
  "Harmony", "a derivation Harmony performs (crypto-facts 9.4 label registry); ikm = seed(label) unless ikm_text",
  "EmptySalt", "an empty salt equals 32 zero bytes (RFC 5869)",
  "Length", "output length edge cases",
  "SizeTooLarge", "length above 8160: refused with OUT_OF_RANGE (noble throws too)",
  "ZeroLength", "acceptable: length 0 gives an empty okm in noble; libharmony refuses (OUT_OF_RANGE)",
  NULL};
static const vkind HKDF_KINDS[] = {{NULL, "ikm salt info length ikm_text? salt_text? info_text?", hkdf_compute},
                                   {0}};
const vlayer LAYER_HKDF = {"hkdf", "HKDF-SHA256", "RFC 5869 HKDF-SHA256 with every Harmony label: crypto-facts 0.2, 9.4",
                           HKDF_NOTES, HKDF_KINDS, hkdf_generate};

/* ======================================================================== aead */

static int aead_compute(json_t *c) {
  const char *alg = vget_str(c, "aead", NULL);
  int x = !strcmp(alg, "xchacha20poly1305");
  if (!x && strcmp(alg, "aes256gcm")) vdie("aead %s", alg);
  const char *op = vget_str(c, "op", NULL);
  int seal = !strcmp(op, "seal");
  uint8_t key[32], nonce[64];
  vget_hex_fixed(c, "key", key, 32);
  size_t nn = vget_hex(c, "nonce", nonce, sizeof nonce);
  size_t an, in;
  uint8_t *aad = vget_hex_alloc(c, "aad", &an);
  uint8_t *inb = vget_hex_alloc(c, seal ? "plaintext" : "ciphertext", &in);
  const char *outk = seal ? "ciphertext" : "plaintext";
  int rc;
  if (nn != (x ? 24u : 12u)) {
    rc = HM_ERR_INVAL;
  } else if (seal) {
    uint8_t *out = hm_malloc(in + 16), *back = hm_malloc(in + 1);
    rc = x ? hm_xchacha_seal(out, key, nonce, inb, in, aad, an) : hm_aes256gcm_seal(out, key, nonce, inb, in, aad, an);
    if (!rc) {
      int orc = x ? hm_xchacha_open(back, key, nonce, out, in + 16, aad, an)
                  : hm_aes256gcm_open(back, key, nonce, out, in + 16, aad, an);
      if (orc || memcmp(back, inb, in)) vdie("aead round trip");
      vset_hex(c, outk, out, in + 16);
    }
    hm_free(out);
    hm_free(back);
  } else if (in < 16) {
    rc = HM_ERR_DECODE;
  } else {
    uint8_t *out = hm_malloc(in);
    rc = x ? hm_xchacha_open(out, key, nonce, inb, in, aad, an) : hm_aes256gcm_open(out, key, nonce, inb, in, aad, an);
    if (!rc) vset_hex(c, outk, out, in - 16);
    hm_free(out);
  }
  if (rc) {
    json_object_del(c, outk);
    vset_result(c, "invalid", rc);
  } else {
    vset_result(c, "valid", 0);
  }
  hm_free(aad);
  hm_free(inb);
  return 0;
}

static void aead_generate(vfile *f) {
  static const char *const algs[][2] = {{"xchacha20poly1305", "xchacha"}, {"aes256gcm", "aesgcm"}};
  static const size_t lens[] = {0, 1, 16, 64, 1000};
  for (int a = 0; a < 2; a++) {
    size_t nlen = a == 0 ? 24 : 12;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
      char label[64];
      snprintf(label, sizeof label, "%s-%zu", algs[a][1], lens[i]);
      uint8_t key[32], nonce[32], pt[1000];
      vseed(f, label, "key", key);
      vseed(f, label, "nonce", nonce);
      for (size_t k = 0; k < lens[i]; k++) pt[k] = (uint8_t)(k * 31 + 5);
      json_t *c = vcase(f, "seal", label, "seal with empty AAD; key = derive(label, key), nonce = derive(label, nonce); plaintext[i] = (31 i + 5) mod 256",
                        "Valid");
      vset_str(c, "aead", algs[a][0]);
      vset_hex(c, "key", key, 32);
      vset_hex(c, "nonce", nonce, nlen);
      vset_str(c, "aad", "");
      vset_hex(c, "plaintext", pt, lens[i]);
      vrun(f, c);
      if (lens[i] != 64) continue;
      /* open cases built from this seal */
      size_t cn;
      uint8_t *ct = vget_hex_alloc(json_array_get(f->tests, json_array_size(f->tests) - 1), "ciphertext", &cn);
      static const char *const muts[][3] = {{"open", "open the sealed text", "Valid"},
                                            {"tag", "last tag byte changed", "ModifiedTag"},
                                            {"ct", "first ciphertext byte changed", "ModifiedCiphertext"},
                                            {"trunc", "15 bytes: shorter than the tag", "Truncated"},
                                            {"nonce", "nonce one byte short", "BadNonceLength"}};
      for (int m = 0; m < 5; m++) {
        char l2[80];
        snprintf(l2, sizeof l2, "%s-%s", label, muts[m][0]);
        uint8_t *mc = hm_malloc(cn);
        memcpy(mc, ct, cn);
        size_t mcn = cn, mnl = nlen;
        if (m == 1) mc[cn - 1] ^= 0x01;
        if (m == 2) mc[0] ^= 0x80;
        if (m == 3) mcn = 15;
        if (m == 4) mnl = nlen - 1;
        json_t *c2 = vcase(f, "open", l2, muts[m][1], muts[m][2]);
        vset_str(c2, "aead", algs[a][0]);
        vset_hex(c2, "key", key, 32);
        vset_hex(c2, "nonce", nonce, mnl);
        vset_str(c2, "aad", "");
        vset_hex(c2, "ciphertext", mc, mcn);
        vrun(f, c2);
        hm_free(mc);
      }
      hm_free(ct);
    }
  }
}

static const char *const AEAD_NOTES[] = {
  "Valid", "seal gives ciphertext (ct || tag16) and open gives plaintext back",
  "ModifiedTag", "tag altered: open fails (AUTH_TAG)",
  "ModifiedCiphertext", "ciphertext altered: open fails (AUTH_TAG)",
  "Truncated", "shorter than the 16-byte tag: open fails (DECODE)",
  "BadNonceLength", "nonce not 24 (XChaCha) / 12 (AES-GCM) bytes: refused (INVALID_ARGUMENT)",
  NULL};
static const vkind AEAD_KINDS[] = {{"seal", "aead key nonce aad plaintext", aead_compute},
                                   {"open", "aead key nonce aad ciphertext", aead_compute},
                                   {0}};
const vlayer LAYER_AEAD = {"aead", "XChaCha20-Poly1305 and AES-256-GCM",
                           "Harmony's AEADs with empty AAD, output ct || tag16: crypto-facts 0.2, 6.2, 6.3",
                           AEAD_NOTES, AEAD_KINDS, aead_generate};
