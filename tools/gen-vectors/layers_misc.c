/* tools/gen-vectors/layers_misc.c - dm and http-signature vector layers. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/dm.h"
#include "harmony/httpsig.h"
#include "layers.h"
#include "vfile.h"

#define T0 1748779200000LL

/* ======================================================================== dm */

static int dm_compute(json_t *c) {
  uint8_t as[32], bs[32], nonce[24];
  vget_hex_fixed(c, "alice_seed32", as, 32);
  vget_hex_fixed(c, "bob_seed32", bs, 32);
  vget_hex_fixed(c, "nonce", nonce, 24);
  size_t pn;
  uint8_t *pt = vget_hex_alloc(c, "plaintext", &pn);
  hm_identity a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  if (hm_identity_from_seed32(&a, as) || hm_identity_from_seed32(&b, bs)) vdie("identity");
  uint8_t shared[32], k1[32], k2[32];
  if (hm_x25519(shared, a.x_sk, b.x_pk) || hm_dm_key(k1, a.x_sk, b.x_pk) || hm_dm_key(k2, b.x_sk, a.x_pk)) vdie("dm key");
  if (memcmp(k1, k2, 32)) vdie("DM key differs by direction");
  uint8_t *ct = hm_malloc(pn + 16), *back = hm_malloc(pn + 1);
  if (hm_dm_seal(ct, k1, nonce, pt, pn) || hm_dm_open(back, k2, nonce, ct, pn + 16) || memcmp(back, pt, pn))
    vdie("dm round trip");
  vset_hex(c, "alice_x25519_secret_key", a.x_sk, 32);
  vset_hex(c, "alice_x25519_public_key", a.x_pk, 32);
  vset_hex(c, "bob_x25519_public_key", b.x_pk, 32);
  vset_hex(c, "shared_secret", shared, 32);
  vset_hex(c, "key", k1, 32);
  vset_hex(c, "ciphertext", ct, pn + 16);
  vset_result(c, "valid", 0);
  hm_free(ct);
  hm_free(back);
  hm_free(pt);
  hm_identity_clear(&a);
  hm_identity_clear(&b);
  return 0;
}

static int dm_open_compute(json_t *c) {
  uint8_t key[32], nonce[24];
  vget_hex_fixed(c, "key", key, 32);
  vget_hex_fixed(c, "nonce", nonce, 24);
  size_t n;
  uint8_t *ct = vget_hex_alloc(c, "ciphertext", &n);
  uint8_t *pt = hm_malloc(n + 1);
  int rc = n < 16 ? HM_ERR_DECODE : hm_dm_open(pt, key, nonce, ct, n);
  if (rc) {
    json_object_del(c, "plaintext");
    vset_result(c, "invalid", rc);
  } else {
    vset_hex(c, "plaintext", pt, n - 16);
    vset_result(c, "valid", 0);
  }
  hm_free(pt);
  hm_free(ct);
  return 0;
}

static int dm_peer_compute(json_t *c) {
  uint8_t xpk[32];
  vget_hex_fixed(c, "x25519_public_key", xpk, 32);
  int rc = hm_dm_peer_key_check(vget_str(c, "peer_did", NULL), xpk);
  /* upstream never checks the binding: every key is used (compat accepts) */
  if (rc) vset_result(c, "acceptable", rc);
  else vset_result(c, "valid", 0);
  return 0;
}

static int dm_provider_compute(json_t *c) {
  uint8_t sk[32], pk[32], key[32];
  vget_hex_fixed(c, "my_x25519_secret_key", sk, 32);
  vget_hex_fixed(c, "their_x25519_public_key", pk, 32);
  int rc = hm_crypto_provider_key(key, sk, pk);
  if (rc) {
    json_object_del(c, "key");
    vset_result(c, "invalid", rc);
  } else {
    vset_hex(c, "key", key, 32);
    vset_result(c, "valid", 0);
  }
  return 0;
}

static void dm_generate(vfile *f) {
  static const char *const msgs[][3] = {
    {"dm-hello", "hello bob", "a short text"},
    {"dm-unicode", "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8 end", "UTF-8 text with an emoji and U+2028"},
    {"dm-empty", "", "an empty message"},
  };
  uint8_t as[32], bs[32], nonce[32];
  vseed(f, "parties", "alice", as);
  vseed(f, "parties", "bob", bs);
  for (size_t i = 0; i < 3; i++) {
    vseed(f, msgs[i][0], "nonce", nonce);
    json_t *c = vcase(f, "dm", msgs[i][0], msgs[i][2], "Valid");
    vset_hex(c, "alice_seed32", as, 32);
    vset_hex(c, "bob_seed32", bs, 32);
    vset_hex(c, "nonce", nonce, 24);
    vset_hex(c, "plaintext", (const uint8_t *)msgs[i][1], strlen(msgs[i][1]));
    vrun(f, c);
  }
  json_t *first = json_array_get(f->tests, 0);
  uint8_t key[32], n24[24], ct[64];
  vget_hex_fixed(first, "key", key, 32);
  vget_hex_fixed(first, "nonce", n24, 24);
  size_t cn = vget_hex(first, "ciphertext", ct, sizeof ct);
  static const char *const muts[][3] = {{"open-ok", "bob opens alice's message with the shared key", "Valid"},
                                        {"open-bad-tag", "tag byte changed", "ModifiedTag"},
                                        {"open-bad-nonce", "another nonce", "ModifiedTag"},
                                        {"open-truncated", "shorter than the tag", "Truncated"}};
  for (int m = 0; m < 4; m++) {
    uint8_t mc[64], mn[24];
    memcpy(mc, ct, cn);
    memcpy(mn, n24, 24);
    size_t l = cn;
    if (m == 1) mc[cn - 1] ^= 1;
    if (m == 2) mn[0] ^= 1;
    if (m == 3) l = 10;
    json_t *c = vcase(f, "open", muts[m][0], muts[m][1], muts[m][2]);
    vset_hex(c, "key", key, 32);
    vset_hex(c, "nonce", mn, 24);
    vset_hex(c, "ciphertext", mc, l);
    vrun(f, c);
  }
  /* key binding (hardened) */
  hm_identity a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  if (hm_identity_from_seed32(&a, as) || hm_identity_from_seed32(&b, bs)) vdie("identity");
  json_t *c = vcase(f, "peer-check", "peer-bound", "bob's X25519 key is the conversion of bob's did:key", "Binding");
  vset_str(c, "peer_did", b.did);
  vset_hex(c, "x25519_public_key", b.x_pk, 32);
  vrun(f, c);
  c = vcase(f, "peer-check", "peer-swapped",
            "a key-exchange claiming bob's DID but carrying alice's X25519 key: upstream uses it (server MITM, W5); "
            "hardened refuses",
            "Binding");
  vset_str(c, "peer_did", b.did);
  vset_hex(c, "x25519_public_key", a.x_pk, 32);
  vrun(f, c);
  c = vcase(f, "provider-key", "provider-key", "CryptoProvider.encrypt key: HKDF(X25519, no salt, harmony-encrypt)",
            "Provider");
  vset_hex(c, "my_x25519_secret_key", a.x_sk, 32);
  vset_hex(c, "their_x25519_public_key", b.x_pk, 32);
  vrun(f, c);
  hm_identity_clear(&a);
  hm_identity_clear(&b);
}

static const char *const DM_NOTES[] = {
  "Valid", "a DM between alice and bob: both directions derive the same key",
  "ModifiedTag", "opening fails (AUTH_TAG)",
  "Truncated", "shorter than the 16-byte tag (DECODE)",
  "Binding", "is the X25519 key the one of the peer's did:key? (acceptable = upstream uses it anyway)",
  "Provider", "the unused CryptoProvider.encrypt key derivation",
  NULL};
static const vkind DM_KINDS[] = {
  {"dm", "alice_seed32 bob_seed32 nonce plaintext", dm_compute},
  {"open", "key nonce ciphertext", dm_open_compute},
  {"peer-check", "peer_did x25519_public_key", dm_peer_compute},
  {"provider-key", "my_x25519_secret_key their_x25519_public_key", dm_provider_compute},
  {0}};
const vlayer LAYER_DM = {"dm", "Harmony direct-message encryption",
                         "upstream e2ee/dm.ts: static X25519 + HKDF key, XChaCha20-Poly1305: crypto-facts 4",
                         DM_NOTES, DM_KINDS, dm_generate};

/* ======================================================================== http-signature */

static int hs_sign_compute(json_t *c) {
  uint8_t seed[32];
  vget_hex_fixed(c, "seed32", seed, 32);
  int64_t ts = vget_int(c, "timestamp");
  const char *method = vget_str(c, "method", NULL), *url = vget_str(c, "url", NULL);
  char tstext[32];
  snprintf(tstext, sizeof tstext, "%" PRId64, ts);
  char *header = NULL, *input = NULL;
  if (hm_httpsig_sign(&header, NULL, ts, method, url, seed) ||
      hm_httpsig_signing_input(&input, NULL, tstext, method, url))
    vdie("httpsig sign");
  hm_identity id;
  memset(&id, 0, sizeof id);
  if (hm_identity_from_seed32(&id, seed)) vdie("identity");
  vset_str(c, "did", id.did);
  vset_str(c, "signing_input", input);
  vset_str(c, "authorization", header);
  vset_result(c, "valid", 0);
  hm_identity_clear(&id);
  hm_free(header);
  hm_free(input);
  return 0;
}

static int hs_verify_compute(json_t *c) {
  const char *h = vget_str(c, "authorization", NULL);
  const char *method = vget_str(c, "method", NULL), *url = vget_str(c, "url", NULL);
  int64_t now = vget_int(c, "now");
  hm_httpsig_result r;
  int crc = hm_httpsig_verify(&r, h, method, url, now, HM_HTTPSIG_COMPAT);
  int hrc = hm_httpsig_verify(&r, h, method, url, now, HM_HTTPSIG_HARDENED);
  vset_profiles(c, crc, hrc);
  return 0;
}

static void hs_verify_case(vfile *f, const char *label, const char *comment, const char *flags, const char *h,
                           const char *method, const char *url, int64_t now) {
  json_t *c = vcase(f, "verify", label, comment, flags);
  vset_str(c, "authorization", h);
  vset_str(c, "method", method);
  vset_str(c, "url", url);
  vset_int(c, "now", now);
  vrun(f, c);
}

static void hs_generate(vfile *f) {
  uint8_t seed[32];
  vseed(f, "parties", "client", seed);
  static const struct {
    const char *label, *comment;
    int64_t ts;
    const char *method, *url;
  } signs[] = {
    {"sign-seconds", "upstream client: Unix seconds, path without host", T0 / 1000, "POST", "/api/user-data/upload"},
    {"sign-ms", "a millisecond timestamp (the server reads >= 1e12 as ms)", T0, "GET", "/api/migration/export/1"},
    {"sign-query", "the server signs req.url, which includes the query", T0 / 1000, "DELETE",
     "/api/user-data?did=did%3Akey%3Az6Mk&x=1"},
  };
  for (size_t i = 0; i < 3; i++) {
    json_t *c = vcase(f, "sign", signs[i].label, signs[i].comment, "Sign");
    vset_hex(c, "seed32", seed, 32);
    vset_int(c, "timestamp", signs[i].ts);
    vset_str(c, "method", signs[i].method);
    vset_str(c, "url", signs[i].url);
    vrun(f, c);
  }
  char h0[512], h1[512], h2[512];
  snprintf(h0, sizeof h0, "%s", vget_str(json_array_get(f->tests, 0), "authorization", NULL));
  snprintf(h1, sizeof h1, "%s", vget_str(json_array_get(f->tests, 1), "authorization", NULL));
  snprintf(h2, sizeof h2, "%s", vget_str(json_array_get(f->tests, 2), "authorization", NULL));
  const char *u0 = "/api/user-data/upload";
  hs_verify_case(f, "verify-fresh", "10 s later", "Valid", h0, "POST", u0, T0 + 10000);
  hs_verify_case(f, "verify-edge", "exactly 300 s later: inside the window", "Valid", h0, "POST", u0, T0 + 300000);
  hs_verify_case(f, "verify-late", "301 s later", "Stale", h0, "POST", u0, T0 + 301000);
  hs_verify_case(f, "verify-early", "301 s before the timestamp", "Stale", h0, "POST", u0, T0 - 301000);
  hs_verify_case(f, "verify-ms", "millisecond timestamp", "Valid", h1, "GET", "/api/migration/export/1", T0 + 1);
  hs_verify_case(f, "verify-query", "path with query", "Valid", h2, "DELETE", "/api/user-data?did=did%3Akey%3Az6Mk&x=1",
                 T0);
  hs_verify_case(f, "verify-query-dropped", "the same signature checked against the path without its query",
                 "BadSignature", h2, "DELETE", "/api/user-data", T0);
  hs_verify_case(f, "verify-method", "signed POST, checked as PUT", "BadSignature", h0, "PUT", u0, T0);
  {
    /* parts of header h0: "Harmony-Ed25519 <did> <ts> <sig>" */
    char did[200], ts[32], sig[200], buf[600];
    if (sscanf(h0, "Harmony-Ed25519 %199s %31s %199s", did, ts, sig) != 3) vdie("split");
    {
      /* the client signs the junk text too: parseInt reads the digits, the signature covers the text */
      char tsj[48], *in = NULL, b64[100];
      uint8_t sg[64];
      snprintf(tsj, sizeof tsj, "%sx", ts);
      if (hm_httpsig_signing_input(&in, NULL, tsj, "POST", u0) ||
          hm_ed25519_sign(sg, (const uint8_t *)in, strlen(in), seed) || hm_base64_encode(b64, sizeof b64, sg, 64, 0))
        vdie("junk");
      hm_free(in);
      snprintf(buf, sizeof buf, "Harmony-Ed25519 %s %s %s", did, tsj, b64);
      hs_verify_case(f, "verify-ts-junk",
                     "timestamp text \"<ts>x\" signed as is: upstream parseInt() reads the digits and accepts; "
                     "hardened wants digits only",
                     "TimestampText", buf, "POST", u0, T0);
    }
    char url64[200];
    snprintf(url64, sizeof url64, "%s", sig);
    for (char *p = url64; *p; p++) {
      if (*p == '+') *p = '-';
      if (*p == '/') *p = '_';
    }
    if (strcmp(url64, sig)) {
      snprintf(buf, sizeof buf, "Harmony-Ed25519 %s %s %s", did, ts, url64);
      hs_verify_case(f, "verify-sig-base64url",
                     "signature in the URL alphabet: Node's decoder takes it, hardened wants standard base64",
                     "Encoding", buf, "POST", u0, T0);
    }
    snprintf(buf, sizeof buf, "Harmony-Ed25519 did:web:example.com %s %s", ts, sig);
    hs_verify_case(f, "verify-did-web", "a DID that is not did:key", "BadDid", buf, "POST", u0, T0);
    snprintf(buf, sizeof buf, "Bearer %s", did);
    hs_verify_case(f, "verify-bearer", "another scheme", "Malformed", buf, "POST", u0, T0);
    snprintf(buf, sizeof buf, "Harmony-Ed25519 %s %s", did, ts);
    hs_verify_case(f, "verify-missing-part", "three parts instead of four", "Malformed", buf, "POST", u0, T0);
    /* universal forgery with the order-2 did:key */
    static const uint8_t order2[32] = {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    char odid[HM_DIDKEY_MAX], fsig[100];
    uint8_t forged[64] = {1};
    if (hm_didkey_encode(odid, sizeof odid, order2) || hm_base64_encode(fsig, sizeof fsig, forged, 64, 0)) vdie("forge");
    snprintf(buf, sizeof buf, "Harmony-Ed25519 %s %s %s", odid, ts, fsig);
    hs_verify_case(f, "verify-small-order-forgery",
                   "order-2 did:key with signature (R = identity, S = 0): upstream's ZIP-215 check accepts it",
                   "SmallOrderKey", buf, "POST", u0, T0);
  }
}

static const char *const HS_NOTES[] = {
  "Sign", "upstream client header: Harmony-Ed25519 <did> <ts> <base64(Ed25519(ts:METHOD:url))>",
  "Valid", "verifies in both profiles",
  "Stale", "outside +-300 s of now (STALE)",
  "BadSignature", "the signed string differs",
  "Encoding", "acceptable: Node's lenient base64 accepts it, hardened requires canonical standard base64",
  "BadDid", "not a did:key (BAD_DID)",
  "TimestampText", "acceptable: upstream parseInt() ignores trailing junk in the timestamp; hardened refuses",
  "Malformed", "not a Harmony-Ed25519 header of four parts",
  "SmallOrderKey", "acceptable: the ZIP-215 universal forgery",
  NULL};
static const vkind HS_KINDS[] = {{"sign", "seed32 timestamp method url", hs_sign_compute},
                                 {"verify", "authorization method url now", hs_verify_compute},
                                 {0}};
const vlayer LAYER_HTTPSIG = {"http-signature", "Harmony-Ed25519 HTTP request signature",
                              "upstream ui-app migration-client.ts / server-runtime migration-endpoint.ts: "
                              "crypto-facts 8.3",
                              HS_NOTES, HS_KINDS, hs_generate};
