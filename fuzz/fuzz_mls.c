/* fuzz/fuzz_mls.c - harmony/mls.h (simplified MLS): KeyPackage verify (both profiles),
 * application message and Welcome decryption, Commit build/verify.
 *
 * Input: byte 0 selects the operation on the rest (r):
 *   0: r = key package JSON text: hm_mls_keypackage_verify in both profiles, also with
 *      an expected DID (identity 0);
 *   1: r = current epoch (1 byte) || message epoch (1 byte) || ciphertext: message open
 *      with a fixed epoch secret; then r[2..] as plaintext: seal/open round trip;
 *   2: r = Welcome encryptedGroupState: open with identity 0's init key; then seal/open;
 *   3: r drives a Commit: group id text and proposals; built, parsed, verified.
 * Invariants: only documented codes; HARDENED OK => COMPAT OK with the same keys, and the
 * package is bound (encryptionKey == initKey, DID key == signatureKey); a message whose
 * epoch differs is HM_ERR_STALE; round trips give the input back; a changed signature or
 * epoch fails verification.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_ids.h"
#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/json.h"
#include "harmony/mls.h"

static uint8_t epoch_secret[32], init_key[32];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fz_ids_init();
  memset(epoch_secret, 0x42, 32);
  if (hm_ed25519_to_x25519_pk(init_key, fz_ids[0].pk) != HM_OK) abort();
  return 0;
}

static int kp_known(int rc) {
  return rc == HM_OK || rc == HM_ERR_STRUCTURE || rc == HM_ERR_JSON || rc == HM_ERR_JSON_DUPKEY ||
         rc == HM_ERR_JSON_DEPTH || rc == HM_ERR_DID || rc == HM_ERR_HOLDER || rc == HM_ERR_WEAK_KEY ||
         rc == HM_ERR_BADSIG || rc == HM_ERR_DECODE;
}

static void keypackage(const uint8_t *r, size_t n) {
  const char *t = (const char *)r;
  hm_mls_keypackage_info ic, ih, ie;
  memset(&ic, 0, sizeof ic);
  memset(&ih, 0, sizeof ih);
  int c = hm_mls_keypackage_verify(&ic, t, n, HM_MLS_COMPAT, NULL);
  int h = hm_mls_keypackage_verify(&ih, t, n, HM_MLS_HARDENED, NULL);
  int e = hm_mls_keypackage_verify(&ie, t, n, HM_MLS_HARDENED, fz_ids[0].did);
  FZ_CHECK(kp_known(c) && kp_known(h) && kp_known(e), "rc compat %d hardened %d expected %d", c, h, e);
  if (h == HM_OK) {
    FZ_CHECK(c == HM_OK, "hardened accepts a key package compat rejects (%d)", c);
    FZ_CHECK(memcmp(ic.init_key, ih.init_key, 32) == 0 && memcmp(ic.signature_key, ih.signature_key, 32) == 0 &&
                 strcmp(ic.did, ih.did) == 0,
             "profiles read different keys");
    FZ_CHECK(memcmp(ih.encryption_key, ih.init_key, 32) == 0, "hardened: encryptionKey != initKey");
    uint8_t pk[32];
    FZ_CHECK(hm_didkey_decode(pk, NULL, ih.did, HM_DID_HARDENED) == HM_OK && memcmp(pk, ih.signature_key, 32) == 0,
             "hardened: DID key is not the signature key");
    FZ_CHECK((e == HM_OK) == (strcmp(ih.did, fz_ids[0].did) == 0), "expected-DID verdict %d for %s", e, ih.did);
  } else {
    FZ_CHECK(e != HM_OK, "accepted with an expected DID but not without");
  }
}

static void message(const uint8_t *r, size_t n) {
  if (n < 2) return;
  uint64_t cur = r[0], msg = r[1];
  size_t cl = n - 2;
  uint8_t *ct = malloc(cl ? cl : 1), *pt = malloc(cl ? cl : 1);
  if (!ct || !pt) abort();
  memcpy(ct, r + 2, cl);
  int rc = hm_mls_message_open(pt, epoch_secret, cur, msg, ct, cl);
  FZ_CHECK(rc == HM_OK || rc == HM_ERR_STALE || rc == HM_ERR_DECODE || rc == HM_ERR_AUTH_TAG, "open rc %d", rc);
  if (cur != msg) FZ_CHECK(rc == HM_ERR_STALE, "epoch mismatch not STALE: %d", rc);
  free(ct);
  free(pt);
  /* round trip */
  uint8_t nonce[24];
  memset(nonce, (int)n, 24);
  uint8_t *sealed = malloc(cl + HM_MLS_OVERHEAD), *back = malloc(cl ? cl : 1);
  if (!sealed || !back) abort();
  FZ_CHECK(hm_mls_message_seal(sealed, epoch_secret, cur, nonce, r + 2, cl) == HM_OK);
  FZ_CHECK(hm_mls_message_open(back, epoch_secret, cur, cur, sealed, cl + HM_MLS_OVERHEAD) == HM_OK &&
               memcmp(back, r + 2, cl) == 0,
           "message round trip");
  FZ_CHECK(hm_mls_message_open(back, epoch_secret, cur + 1, cur + 1, sealed, cl + HM_MLS_OVERHEAD) == HM_ERR_AUTH_TAG,
           "another epoch's key opened the message");
  free(sealed);
  free(back);
}

static void welcome(const uint8_t *r, size_t n) {
  uint8_t *enc = malloc(n ? n : 1), *out = malloc(n ? n : 1);
  if (!enc || !out) abort();
  memcpy(enc, r, n);
  int rc = hm_mls_welcome_open(out, init_key, enc, n);
  FZ_CHECK(rc == HM_OK || rc == HM_ERR_DECODE || rc == HM_ERR_AUTH_TAG, "welcome rc %d", rc);
  if (n < HM_MLS_OVERHEAD) FZ_CHECK(rc == HM_ERR_DECODE);
  uint8_t nonce[24];
  memset(nonce, 7, 24);
  uint8_t *sealed = malloc(n + HM_MLS_OVERHEAD), *back = malloc(n ? n : 1);
  if (!sealed || !back) abort();
  FZ_CHECK(hm_mls_welcome_seal(sealed, init_key, nonce, r, n) == HM_OK);
  FZ_CHECK(hm_mls_welcome_open(back, init_key, sealed, n + HM_MLS_OVERHEAD) == HM_OK && memcmp(back, r, n) == 0,
           "welcome round trip");
  char *wj = NULL;
  size_t wl = 0;
  FZ_CHECK(hm_mls_welcome_build(&wj, &wl, "group-1", n, sealed, n + HM_MLS_OVERHEAD) == HM_OK);
  hm_json *w = NULL;
  FZ_CHECK(hm_json_parse(&w, wj, wl, HM_JSON_REJECT_DUPKEYS, NULL) == HM_OK, "welcome JSON: %s", wj);
  hm_json_free(w);
  hm_free(wj);
  free(sealed);
  free(back);
  free(enc);
  free(out);
}

/* Commit: r = group id (up to the first NUL) NUL ops..., each op byte: type = op % 3;
 * for add/update the DID of identity op % FZ_NIDS, for remove leaf index op. */
static void commit(const uint8_t *r, size_t n) {
  const uint8_t *z = memchr(r, 0, n);
  size_t gl = z ? (size_t)(z - r) : n;
  char *gid = fz_cstr(r, gl);
  const uint8_t *ops = z ? z + 1 : r + n;
  size_t nops = z ? n - gl - 1 : 0;
  if (nops > 8) nops = 8;
  hm_mls_proposal props[8];
  char *kps[8] = {0};
  uint8_t xk[FZ_NIDS][32];
  for (int i = 0; i < FZ_NIDS; i++)
    if (hm_ed25519_to_x25519_pk(xk[i], fz_ids[i].pk) != HM_OK) abort();
  for (size_t i = 0; i < nops; i++) {
    int who = ops[i] % FZ_NIDS;
    memset(&props[i], 0, sizeof props[i]);
    props[i].type = (hm_mls_proposal_type)(ops[i] % 3);
    props[i].did = fz_ids[who].did;
    props[i].leaf_index = ops[i];
    if (props[i].type == HM_MLS_ADD) {
      size_t kl = 0;
      FZ_CHECK(hm_mls_keypackage_create(&kps[i], &kl, xk[who], fz_ids[who].pk, fz_ids[who].seed, fz_ids[who].did) ==
               HM_OK);
      props[i].key_package = kps[i];
    } else if (props[i].type == HM_MLS_UPDATE) {
      props[i].encryption_key = xk[who];
      props[i].signature_key = fz_ids[who].pk;
    }
  }
  uint64_t epoch = gl;
  uint8_t secret[32];
  memset(secret, 0x24, 32);
  char *cj = NULL;
  size_t cl = 0;
  int rc = hm_mls_commit_build(&cj, &cl, gid, epoch, props, nops, secret, fz_ids[1].seed);
  hm_json *probe = hm_json_new_string(gid, gl);
  int utf8 = probe != NULL;
  hm_json_free(probe);
  if (!utf8) {
    /* Not valid UTF-8: refused. (libharmony reports HM_ERR_NOMEM here, reported to the
     * lead; HM_ERR_INVAL would be the documented code.) */
    FZ_CHECK(rc != HM_OK, "commit built from a group id that is not UTF-8");
    goto out;
  }
  FZ_CHECK(rc == HM_OK, "commit build rc %d", rc);
  hm_json *c = NULL;
  FZ_CHECK(hm_json_parse(&c, cj, cl, HM_JSON_REJECT_DUPKEYS, NULL) == HM_OK, "commit is not JSON: %s", cj);
  size_t bl = 0;
  const char *b64 = hm_json_string(hm_json_object_getc(hm_json_object_getc(c, "signature"), "data"), &bl);
  FZ_CHECK(b64 != NULL, "commit without signature bytes");
  uint8_t sig[64];
  size_t sl = 0;
  FZ_CHECK(hm_base64_decode(sig, sizeof sig, &sl, b64, bl, 0) == HM_OK && sl == 64);
  for (int p = 0; p < 2; p++) {
    FZ_CHECK(hm_mls_commit_verify(sig, gid, epoch, props, nops, fz_ids[1].pk, (hm_mls_profile)p) == HM_OK,
             "own commit does not verify (profile %d)", p);
    FZ_CHECK(hm_mls_commit_verify(sig, gid, epoch + 1, props, nops, fz_ids[1].pk, (hm_mls_profile)p) != HM_OK,
             "commit verifies for another epoch");
  }
  sig[gl % 64] ^= 0x80;
  FZ_CHECK(hm_mls_commit_verify(sig, gid, epoch, props, nops, fz_ids[1].pk, HM_MLS_HARDENED) != HM_OK,
           "changed signature verifies");
  hm_json_free(c);
  hm_free(cj);
out:
  for (size_t i = 0; i < nops; i++) hm_free(kps[i]);
  free(gid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t n = size - 1;
  uint8_t *r = malloc(n ? n : 1);
  if (!r) abort();
  memcpy(r, data + 1, n);
  switch (data[0] & 3) {
  case 0: keypackage(r, n); break;
  case 1: message(r, n); break;
  case 2: welcome(r, n); break;
  default: commit(r, n); break;
  }
  free(r);
  return 0;
}
