/* tools/gen-vectors/layers_token.c - session-token vector layer. */
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/token.h"
#include "layers.h"
#include "vfile.h"

#define T0 1748779200000LL /* 2025-06-01T12:00:00.000Z */
#define WEEK 604800000LL

static int tok_issue_compute(json_t *c) {
  uint8_t seed[32], pk[32];
  vget_hex_fixed(c, "server_seed32", seed, 32);
  const char *did = vget_str(c, "did", NULL);
  int64_t iat = vget_int(c, "issued_at"), exp = vget_int(c, "expires_at");
  if (hm_ed25519_seed_keypair(pk, NULL, seed)) vdie("kp");
  char *payload = NULL, *tok = NULL;
  size_t pl, tl;
  int rc = hm_token_payload(&payload, &pl, did, iat, exp);
  if (!rc) rc = hm_token_issue(&tok, &tl, did, iat, exp - iat, seed);
  vset_hex(c, "server_public_key", pk, 32);
  if (rc) {
    vset_result(c, "invalid", rc);
  } else {
    vset_strn(c, "payload", payload, pl);
    vset_strn(c, "token", tok, tl);
    vset_result(c, "valid", 0);
  }
  hm_free(payload);
  hm_free(tok);
  return 0;
}

static int tok_verify_compute(json_t *c) {
  uint8_t pk[32];
  vget_hex_fixed(c, "server_public_key", pk, 32);
  size_t tl;
  const char *tok = vget_str(c, "token", &tl);
  int64_t now = vget_int(c, "now");
  hm_token_claims cl;
  memset(&cl, 0, sizeof cl);
  int crc = hm_token_verify(&cl, tok, tl, pk, now, HM_ED25519_ZIP215);
  hm_token_claims_clear(&cl);
  int hrc = hm_token_verify(&cl, tok, tl, pk, now, HM_ED25519_STRICT);
  if (hrc == HM_OK) vset_str(c, "did", cl.did);
  else json_object_del(c, "did");
  hm_token_claims_clear(&cl);
  vset_profiles(c, crc, hrc);
  return 0;
}

static char *b64(const uint8_t *p, size_t n) {
  size_t cap = hm_base64_encoded_len(n, 0);
  char *s = hm_malloc(cap);
  if (!s || hm_base64_encode(s, cap, p, n, 0)) vdie("b64");
  return s;
}

static void verify_case(vfile *f, const char *label, const char *comment, const char *flags, const uint8_t pk[32],
                        const char *tok, int64_t now) {
  json_t *c = vcase(f, "verify", label, comment, flags);
  vset_hex(c, "server_public_key", pk, 32);
  vset_str(c, "token", tok);
  vset_int(c, "now", now);
  vrun(f, c);
}

static void token_generate(vfile *f) {
  uint8_t sseed[32], spk[32], useed[32], upk[32];
  char did[HM_DIDKEY_MAX];
  vseed(f, "issue", "server", sseed);
  vseed(f, "issue", "alice", useed);
  if (hm_ed25519_seed_keypair(spk, NULL, sseed) || hm_ed25519_seed_keypair(upk, NULL, useed) ||
      hm_didkey_encode(did, sizeof did, upk))
    vdie("keys");
  json_t *c = vcase(f, "issue", "issue",
                    "upstream token: 7-day expiry; server seed = derive(issue, server), DID of derive(issue, alice)",
                    "Issue");
  vset_hex(c, "server_seed32", sseed, 32);
  vset_str(c, "did", did);
  vset_int(c, "issued_at", T0);
  vset_int(c, "expires_at", T0 + WEEK);
  vrun(f, c);
  char *tok = hm_strdup(vget_str(json_array_get(f->tests, 0), "token", NULL));
  c = vcase(f, "issue", "issue-escaped-did", "a DID text that needs JSON escaping (quote, backslash)", "Issue");
  vset_hex(c, "server_seed32", sseed, 32);
  vset_str(c, "did", "did:key:\"q\\");
  vset_int(c, "issued_at", T0 + 1);
  vset_int(c, "expires_at", T0 + 1 + WEEK);
  vrun(f, c);
  c = vcase(f, "issue", "issue-non-ascii-did",
            "a DID with U+2028: upstream btoa() throws on characters above U+00FF; libharmony refuses any DID "
            "outside printable ASCII",
            "BadDid");
  vset_hex(c, "server_seed32", sseed, 32);
  vset_str(c, "did", "did:key:\xe2\x80\xa8");
  vset_int(c, "issued_at", T0);
  vset_int(c, "expires_at", T0 + WEEK);
  vrun(f, c);

  verify_case(f, "verify-fresh", "the issued token one second later", "Valid", spk, tok, T0 + 1000);
  verify_case(f, "verify-at-exp", "now == exp: still valid (upstream expires only when exp < now)", "Valid", spk,
              tok, T0 + WEEK);
  verify_case(f, "verify-expired", "now == exp + 1 ms: expired", "Expired", spk, tok, T0 + WEEK + 1);
  uint8_t other_seed[32], other_pk[32];
  vseed(f, "verify-wrong-key", NULL, other_seed);
  if (hm_ed25519_seed_keypair(other_pk, NULL, other_seed)) vdie("kp");
  verify_case(f, "verify-wrong-key", "checked against another server key (seed(verify-wrong-key))", "BadSignature",
              other_pk, tok, T0 + 1000);
  /* tampered payload: same signature, did changed */
  const char *dot = strchr(tok, '.');
  {
    char *payload = NULL;
    size_t pl;
    if (hm_token_payload(&payload, &pl, "did:key:z6MkMallory", T0, T0 + WEEK)) vdie("payload");
    char *p64 = b64((const uint8_t *)payload, pl);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s%s", p64, dot);
    verify_case(f, "verify-tampered", "payload replaced (another DID), signature kept", "BadSignature", spk, buf,
                T0 + 1000);
    hm_free(payload);
    hm_free(p64);
  }
  {
    char buf[1024];
    snprintf(buf, sizeof buf, "%.*s", (int)(dot - tok), tok);
    verify_case(f, "verify-no-dot", "no '.' separator", "Malformed", spk, buf, T0 + 1000);
    snprintf(buf, sizeof buf, "%s.", tok);
    verify_case(f, "verify-two-dots", "a trailing second '.': upstream uses the first two parts", "ExtraPart", spk,
                buf, T0 + 1000);
    snprintf(buf, sizeof buf, "%s", tok);
    for (char *p = buf; *p; p++) {
      if (*p == '+') *p = '-';
      if (*p == '/') *p = '_';
    }
    for (size_t n = strlen(buf); n && buf[n - 1] == '='; n--) buf[n - 1] = 0;
    if (strcmp(buf, tok))
      verify_case(f, "verify-base64url", "the same token in base64url without padding: not the upstream format",
                  "Malformed", spk, buf, T0 + 1000);
  }
  {
    /* iat far in the future, correctly signed */
    char *t2 = NULL;
    if (hm_token_issue(&t2, NULL, did, T0 + 3600000, WEEK, sseed)) vdie("issue");
    verify_case(f, "verify-future-iat",
                "iat one hour after now: upstream ignores iat and accepts; hardened refuses (NOT_YET_VALID)",
                "FutureIat", spk, t2, T0);
    hm_free(t2);
  }
  {
    /* the universal signature under a small-order server key */
    static const uint8_t order2[32] = {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    uint8_t sig[64] = {1};
    char *payload = NULL;
    size_t pl;
    if (hm_token_payload(&payload, &pl, did, T0, T0 + WEEK)) vdie("payload");
    char *p64 = b64((const uint8_t *)payload, pl), *s64 = b64(sig, 64);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s.%s", p64, s64);
    verify_case(f, "verify-small-order-key",
                "server key of order 2 with signature (R = identity, S = 0): ZIP-215 accepts, strict refuses",
                "SmallOrderKey", order2, buf, T0 + 1000);
    hm_free(payload);
    hm_free(p64);
    hm_free(s64);
  }
  hm_free(tok);
}

static const char *const TOK_NOTES[] = {
  "Issue", "token = base64(payload) . base64(Ed25519(server seed, payload)), standard base64 with padding",
  "Valid", "verifies",
  "BadDid", "a DID upstream cannot put in a token (INVALID_ARGUMENT)",
  "Expired", "exp < now (EXPIRED)",
  "BadSignature", "signature does not verify (BAD_SIGNATURE)",
  "Malformed", "not two strict standard-base64 halves around one '.' (BAD_TOKEN)",
  "FutureIat", "acceptable: iat more than 5 minutes after now (upstream ignores iat; hardened NOT_YET_VALID)",
  "ExtraPart", "acceptable: more than one '.' (upstream reads the first two parts; hardened BAD_TOKEN)",
  "SmallOrderKey", "acceptable: compat (ZIP-215) accepts the universal signature of a small-order key",
  NULL};
static const vkind TOK_KINDS[] = {{"issue", "server_seed32 did issued_at expires_at", tok_issue_compute},
                                  {"verify", "server_public_key token now", tok_verify_compute},
                                  {0}};
const vlayer LAYER_TOKEN = {"session-token", "Harmony server session token",
                            "upstream server token: payload {did, iat, exp}, btoa(payload).btoa(sig): crypto-facts 8.2",
                            TOK_NOTES, TOK_KINDS, token_generate};
