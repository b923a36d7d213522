/* fuzz/fuzz_httpsig.c - harmony/httpsig.h: parse and verify the Authorization header
 * "Harmony-Ed25519 <did> <ts> <b64sig>", both profiles, fixed clock.
 *
 * Input: byte 0 selects the mode; the rest is split at '\n' into up to three fields.
 *   sel % 2 == 0: header value, method, target (defaults "GET", "/api/user/data");
 *   sel % 2 == 1: timestamp text, method, target; the harness signs "<ts>:<method>:<target>"
 *                 with a fixed key and builds the header, so the checks behind the
 *                 signature (timestamp parsing, window) are reached.
 * Invariants: only documented codes; failure => reason is one of the upstream texts;
 * HARDENED OK => COMPAT OK; on OK res.did is a did:key that resolves, ts_ms within
 * +-300 s of now; in sign mode with a plain in-window decimal timestamp both profiles
 * accept.
 */
#include <string.h>

#include "fuzz.h"
#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/httpsig.h"

#define NOW 1795337307092LL

static uint8_t seed[32];
static char seed_did[HM_DIDKEY_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  uint8_t pk[32];
  for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(0x33 + 7 * i);
  if (hm_ed25519_seed_keypair(pk, NULL, seed) != HM_OK) abort();
  if (hm_didkey_encode(seed_did, sizeof seed_did, pk) != HM_OK) abort();
  return 0;
}

static int known_reason(const char *r) {
  static const char *const texts[] = {HM_HTTPSIG_E_MISSING, HM_HTTPSIG_E_MALFORMED, HM_HTTPSIG_E_DID,
                                      HM_HTTPSIG_E_TS,      HM_HTTPSIG_E_WINDOW,    HM_HTTPSIG_E_DIDKEY,
                                      HM_HTTPSIG_E_SIGENC,  HM_HTTPSIG_E_SIG};
  for (size_t i = 0; r && i < sizeof texts / sizeof texts[0]; i++)
    if (strcmp(r, texts[i]) == 0) return 1;
  return 0;
}

static int known(int rc) {
  return rc == HM_OK || rc == HM_ERR_STRUCTURE || rc == HM_ERR_DID || rc == HM_ERR_STALE ||
         rc == HM_ERR_DECODE || rc == HM_ERR_BADSIG || rc == HM_ERR_WEAK_KEY;
}

static void check_ok(const hm_httpsig_result *r) {
  uint8_t pk[32];
  FZ_CHECK(strncmp(r->did, "did:key:z", 9) == 0 && memchr(r->did, 0, sizeof r->did) != NULL);
  FZ_CHECK(hm_didkey_decode(pk, NULL, r->did, HM_DID_COMPAT) == HM_OK, "accepted DID does not resolve: %s",
           r->did);
  FZ_CHECK(r->ts_ms >= NOW - HM_HTTPSIG_WINDOW_MS && r->ts_ms <= NOW + HM_HTTPSIG_WINDOW_MS,
           "timestamp %lld outside the window", (long long)r->ts_ms);
}

/* Returns compat rc * 100 + hardened rc encoded; callers look at both. */
static void verify_both(const char *hdr, const char *method, const char *target, int *rc_c, int *rc_h) {
  hm_httpsig_result rc = {0}, rh = {0};
  *rc_c = hm_httpsig_verify(&rc, hdr, method, target, NOW, HM_HTTPSIG_COMPAT);
  *rc_h = hm_httpsig_verify(&rh, hdr, method, target, NOW, HM_HTTPSIG_HARDENED);
  FZ_CHECK(known(*rc_c) && known(*rc_h), "rc compat %d hardened %d", *rc_c, *rc_h);
  if (*rc_c != HM_OK) FZ_CHECK(known_reason(rc.reason), "compat failure without a known reason");
  else check_ok(&rc);
  if (*rc_h != HM_OK) FZ_CHECK(known_reason(rh.reason), "hardened failure without a known reason");
  else {
    check_ok(&rh);
    uint8_t pk[32];
    FZ_CHECK(hm_didkey_decode(pk, NULL, rh.did, HM_DID_HARDENED) == HM_OK);
    FZ_CHECK(*rc_c == HM_OK, "hardened accepts, compat rejects (%d): %s", *rc_c, hdr);
    FZ_CHECK(strcmp(rc.did, rh.did) == 0 && rc.ts_ms == rh.ts_ms && memcmp(rc.sig, rh.sig, 64) == 0,
             "profiles disagree on the result");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char *s = fz_cstr(data + 1, size - 1);
  char *f[3] = {s, NULL, NULL};
  for (int i = 1; i < 3; i++) {
    char *nl = f[i - 1] ? strchr(f[i - 1], '\n') : NULL;
    if (!nl) break;
    *nl = 0;
    f[i] = nl + 1;
  }
  const char *method = f[1] ? f[1] : "GET";
  const char *target = f[2] ? f[2] : "/api/user/data";
  int rc_c, rc_h;
  if (data[0] % 2 == 0) {
    verify_both(f[0], method, target, &rc_c, &rc_h);
    /* A missing header is its own case. */
    if (data[0] == 0) {
      hm_httpsig_result r = {0};
      FZ_CHECK(hm_httpsig_verify(&r, NULL, method, target, NOW, HM_HTTPSIG_HARDENED) == HM_ERR_STRUCTURE &&
               strcmp(r.reason, HM_HTTPSIG_E_MISSING) == 0);
    }
  } else {
    const char *ts = f[0];
    char *input = NULL;
    size_t il = 0;
    FZ_CHECK(hm_httpsig_signing_input(&input, &il, ts, method, target) == HM_OK);
    uint8_t sig[64];
    FZ_CHECK(hm_ed25519_sign(sig, (const uint8_t *)input, il, seed) == HM_OK);
    hm_free(input);
    char b64[89];
    FZ_CHECK(hm_base64_encode(b64, sizeof b64, sig, 64, 0) == HM_OK);
    size_t hl = strlen(seed_did) + strlen(ts) + strlen(b64) + 32;
    char *hdr = malloc(hl);
    if (!hdr) abort();
    snprintf(hdr, hl, "Harmony-Ed25519 %s %s %s", seed_did, ts, b64);
    verify_both(hdr, method, target, &rc_c, &rc_h);
    /* A plain decimal timestamp (1..13 digits, no leading zero) inside the window is
     * accepted by both profiles. */
    size_t tl = strlen(ts);
    int plain = tl >= 1 && tl <= 13 && ts[0] != '0';
    for (size_t i = 0; plain && i < tl; i++) plain = ts[i] >= '0' && ts[i] <= '9';
    if (plain) {
      long long v = strtoll(ts, NULL, 10);
      long long ms = v < 1000000000000LL ? v * 1000 : v;
      if (ms >= NOW - HM_HTTPSIG_WINDOW_MS && ms <= NOW + HM_HTTPSIG_WINDOW_MS && strchr(target, ' ') == NULL)
        FZ_CHECK(rc_c == HM_OK && rc_h == HM_OK, "own signature refused: compat %d hardened %d, ts %s", rc_c, rc_h,
                 ts);
    }
    free(hdr);
  }
  free(s);
  return 0;
}
