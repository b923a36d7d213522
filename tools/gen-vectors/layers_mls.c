/* tools/gen-vectors/layers_mls.c - simplified-MLS vector layer. */
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/mls.h"
#include "layers.h"
#include "vfile.h"

static int kp_compute(json_t *c) {
  uint8_t seed[32], sig[64];
  vget_hex_fixed(c, "seed32", seed, 32);
  hm_identity id;
  memset(&id, 0, sizeof id);
  if (hm_identity_from_seed32(&id, seed)) vdie("identity");
  char *kp = NULL, *si = NULL;
  size_t kpn, sin;
  if (hm_mls_keypackage_create(&kp, &kpn, id.x_pk, id.ed_pk, seed, id.did) ||
      hm_mls_keypackage_signing_input(&si, &sin, id.x_pk, id.did) || hm_ed25519_sign(sig, (const uint8_t *)si, sin, seed))
    vdie("keypackage");
  vset_str(c, "did", id.did);
  vset_hex(c, "x25519_public_key", id.x_pk, 32);
  vset_hex(c, "ed25519_public_key", id.ed_pk, 32);
  vset_strn(c, "signing_input", si, sin);
  vset_hex(c, "signature", sig, 64);
  vset_strn(c, "keypackage", kp, kpn);
  int crc = hm_mls_keypackage_verify(NULL, kp, kpn, HM_MLS_COMPAT, NULL);
  int hrc = hm_mls_keypackage_verify(NULL, kp, kpn, HM_MLS_HARDENED, id.did);
  if (crc || hrc) vdie("fresh key package does not verify");
  vset_result(c, "valid", 0);
  hm_free(kp);
  hm_free(si);
  hm_identity_clear(&id);
  return 0;
}

static int kp_verify_compute(json_t *c) {
  size_t n;
  const char *kp = vget_str(c, "keypackage", &n);
  const char *exp = vget_str(c, "expected_did", NULL);
  int crc = hm_mls_keypackage_verify(NULL, kp, n, HM_MLS_COMPAT, NULL);
  int hrc = hm_mls_keypackage_verify(NULL, kp, n, HM_MLS_HARDENED, exp);
  vset_profiles(c, crc, hrc);
  return 0;
}

static int ek_compute(json_t *c) {
  uint8_t es[32], mk[32], md[32];
  vget_hex_fixed(c, "epoch_secret", es, 32);
  uint64_t e = (uint64_t)vget_int(c, "epoch");
  if (hm_mls_epoch_key(mk, es, HM_MLS_MESSAGE, e) || hm_mls_epoch_key(md, es, HM_MLS_MEDIA, e)) vdie("epoch key");
  vset_hex(c, "message_key", mk, 32);
  vset_hex(c, "media_key", md, 32);
  vset_result(c, "valid", 0);
  return 0;
}

static int adv_compute(json_t *c) {
  uint8_t es[32], cs[32], ns[32];
  vget_hex_fixed(c, "epoch_secret", es, 32);
  vget_hex_fixed(c, "commit_secret", cs, 32);
  if (hm_mls_advance(ns, es, cs)) vdie("advance");
  vset_hex(c, "new_epoch_secret", ns, 32);
  vset_result(c, "valid", 0);
  return 0;
}

static int wk_compute(json_t *c) {
  uint8_t ik[32], wk[32];
  vget_hex_fixed(c, "init_key", ik, 32);
  if (hm_mls_welcome_key(wk, ik)) vdie("welcome key");
  vset_hex(c, "welcome_key", wk, 32);
  vset_result(c, "valid", 0);
  return 0;
}

static int msg_compute(json_t *c) {
  uint8_t es[32], nonce[24];
  vget_hex_fixed(c, "epoch_secret", es, 32);
  vget_hex_fixed(c, "nonce", nonce, 24);
  uint64_t e = (uint64_t)vget_int(c, "epoch");
  size_t n;
  uint8_t *pt = vget_hex_alloc(c, "plaintext", &n);
  uint8_t *ct = hm_malloc(n + 40), *back = hm_malloc(n + 1);
  if (hm_mls_message_seal(ct, es, e, nonce, pt, n) || hm_mls_message_open(back, es, e, e, ct, n + 40) ||
      memcmp(back, pt, n))
    vdie("message round trip");
  vset_hex(c, "ciphertext", ct, n + 40);
  vset_result(c, "valid", 0);
  hm_free(pt);
  hm_free(ct);
  hm_free(back);
  return 0;
}

static int msg_open_compute(json_t *c) {
  uint8_t es[32];
  vget_hex_fixed(c, "epoch_secret", es, 32);
  uint64_t cur = (uint64_t)vget_int(c, "current_epoch"), me = (uint64_t)vget_int(c, "message_epoch");
  size_t n;
  uint8_t *ct = vget_hex_alloc(c, "ciphertext", &n);
  uint8_t *pt = hm_malloc(n + 1);
  int rc = hm_mls_message_open(pt, es, cur, me, ct, n);
  if (rc) {
    json_object_del(c, "plaintext");
    vset_result(c, "invalid", rc);
  } else {
    vset_hex(c, "plaintext", pt, n - 40);
    vset_result(c, "valid", 0);
  }
  hm_free(ct);
  hm_free(pt);
  return 0;
}

static int welcome_compute(json_t *c) {
  uint8_t ik[32], nonce[24];
  vget_hex_fixed(c, "init_key", ik, 32);
  vget_hex_fixed(c, "nonce", nonce, 24);
  size_t n;
  const char *st = vget_str(c, "group_state", &n);
  uint8_t *enc = hm_malloc(n + 40), *back = hm_malloc(n + 1);
  if (hm_mls_welcome_seal(enc, ik, nonce, (const uint8_t *)st, n) || hm_mls_welcome_open(back, ik, enc, n + 40) ||
      memcmp(back, st, n))
    vdie("welcome round trip");
  char *w = NULL;
  size_t wn;
  if (hm_mls_welcome_build(&w, &wn, vget_str(c, "group_id", NULL), (uint64_t)vget_int(c, "epoch"), enc, n + 40))
    vdie("welcome build");
  vset_hex(c, "encrypted_group_state", enc, n + 40);
  vset_strn(c, "welcome", w, wn);
  vset_result(c, "valid", 0);
  hm_free(enc);
  hm_free(back);
  hm_free(w);
  return 0;
}

static int commit_si_compute(json_t *c) {
  const char *t = vget_str(c, "proposal", NULL);
  hm_mls_proposal p;
  memset(&p, 0, sizeof p);
  if (!strcmp(t, "add")) {
    p.type = HM_MLS_ADD;
    p.did = vget_str(c, "did", NULL);
  } else if (!strcmp(t, "remove")) {
    p.type = HM_MLS_REMOVE;
    p.leaf_index = (uint32_t)vget_int(c, "leaf_index");
  } else if (!strcmp(t, "update")) {
    p.type = HM_MLS_UPDATE;
  } else {
    vdie("proposal %s", t);
  }
  char *si = NULL;
  size_t n;
  if (hm_mls_commit_signing_input(&si, &n, vget_str(c, "group_id", NULL), (uint64_t)vget_int(c, "new_epoch"), &p, 1))
    vdie("commit si");
  vset_strn(c, "signing_input", si, n);
  vset_result(c, "valid", 0);
  hm_free(si);
  return 0;
}

static json_t *lastc(vfile *f) { return json_array_get(f->tests, json_array_size(f->tests) - 1); }

static void mls_generate(vfile *f) {
  uint8_t s[32], es[32], cs[32], nonce[32];
  vseed(f, "keypackage-alice", NULL, s);
  json_t *c = vcase(f, "keypackage", "keypackage-alice",
                    "createKeyPackage of seed(keypackage-alice): initKey = encryptionKey = X25519 pk", "KeyPackage");
  vset_hex(c, "seed32", s, 32);
  vrun(f, c);
  char kp[2048], did[HM_DIDKEY_MAX];
  snprintf(kp, sizeof kp, "%s", vget_str(lastc(f), "keypackage", NULL));
  snprintf(did, sizeof did, "%s", vget_str(lastc(f), "did", NULL));
  c = vcase(f, "keypackage-verify", "kp-verify-ok", "the key package verifies, expected DID = its own", "KeyPackage");
  vset_str(c, "keypackage", kp);
  vset_str(c, "expected_did", did);
  vrun(f, c);
  {
    /* mallory publishes a package naming alice's DID, self-signed with mallory's key */
    uint8_t ms[32];
    vseed(f, "kp-impostor", "mallory", ms);
    hm_identity mal, al;
    memset(&mal, 0, sizeof mal);
    memset(&al, 0, sizeof al);
    if (hm_identity_from_seed32(&mal, ms) || hm_identity_from_seed32(&al, s)) vdie("identity");
    char *fake = NULL;
    if (hm_mls_keypackage_create(&fake, NULL, mal.x_pk, mal.ed_pk, ms, al.did)) vdie("fake kp");
    c = vcase(f, "keypackage-verify", "kp-impostor",
              "mallory's keys under alice's DID, self-signed: upstream would use it (W5/W20); hardened "
              "checks the DID's key",
              "Impostor");
    vset_str(c, "keypackage", fake);
    vset_str(c, "expected_did", al.did);
    vrun(f, c);
    hm_free(fake);
    hm_identity_clear(&mal);
    hm_identity_clear(&al);
  }
  {
    char bad[2048];
    snprintf(bad, sizeof bad, "%s", kp);
    char *p = strstr(bad, "\"cipherSuite\":1");
    if (!p) vdie("kp shape");
    p[14] = '2';
    c = vcase(f, "keypackage-verify", "kp-suite-changed", "cipherSuite changed to 2 after signing", "Tampered");
    vset_str(c, "keypackage", bad);
    vset_str(c, "expected_did", did);
    vrun(f, c);
  }
  vseed(f, "epoch", "secret", es);
  static const int64_t epochs[] = {0, 1, 7, 1000};
  for (int i = 0; i < 4; i++) {
    char label[32];
    snprintf(label, sizeof label, "epoch-keys-%lld", (long long)epochs[i]);
    c = vcase(f, "epoch-keys", label, "message and media keys of epoch n; secret = derive(epoch, secret)", "KeySchedule");
    vset_hex(c, "epoch_secret", es, 32);
    vset_int(c, "epoch", epochs[i]);
    vrun(f, c);
  }
  vseed(f, "advance", "commit", cs);
  c = vcase(f, "advance", "advance", "HKDF(epochSecret || commitSecret): commitSecret travels in clear (W2)",
            "KeySchedule");
  vset_hex(c, "epoch_secret", es, 32);
  vset_hex(c, "commit_secret", cs, 32);
  vrun(f, c);
  hm_identity al;
  memset(&al, 0, sizeof al);
  if (hm_identity_from_seed32(&al, s)) vdie("identity");
  c = vcase(f, "welcome-key", "welcome-key",
            "welcome key from the joiner's PUBLIC initKey: anyone holding the key package derives it (W1)", "Welcome");
  vset_hex(c, "init_key", al.x_pk, 32);
  vrun(f, c);
  vseed(f, "welcome", "nonce", nonce);
  c = vcase(f, "welcome", "welcome", "encrypted group state and the Welcome object", "Welcome");
  vset_hex(c, "init_key", al.x_pk, 32);
  vset_hex(c, "nonce", nonce, 24);
  vset_str(c, "group_id", "c1:c1:channel:0123456789abcdef");
  vset_int(c, "epoch", 1);
  vset_str(c, "group_state",
           "{\"groupId\":\"c1:c1:channel:0123456789abcdef\",\"epoch\":1,\"myLeafIndex\":1,\"members\":[],"
           "\"epochSecret\":[1,2,3],\"mySigningKey\":[],\"myEncryptionKey\":[],\"mySigningPublicKey\":[],"
           "\"myEncryptionPublicKey\":[]}");
  vrun(f, c);
  hm_identity_clear(&al);
  vseed(f, "message", "nonce", nonce);
  c = vcase(f, "message", "message", "application message at epoch 3", "Message");
  vset_hex(c, "epoch_secret", es, 32);
  vset_int(c, "epoch", 3);
  vset_hex(c, "nonce", nonce, 24);
  vset_hex(c, "plaintext", (const uint8_t *)"hello group", 11);
  vrun(f, c);
  size_t cn;
  uint8_t *ct = vget_hex_alloc(lastc(f), "ciphertext", &cn);
  static const struct {
    const char *label, *comment, *flags;
    int64_t cur, me;
    int tamper;
  } opens[] = {{"message-open", "open at the same epoch", "Message", 3, 3, 0},
               {"message-open-old-epoch", "receiver already at epoch 4: upstream throws Epoch mismatch", "Epoch", 4, 3,
                0},
               {"message-open-tampered", "a ciphertext byte changed", "Tampered", 3, 3, 1}};
  for (int i = 0; i < 3; i++) {
    if (opens[i].tamper) ct[30] ^= 1;
    c = vcase(f, "message-open", opens[i].label, opens[i].comment, opens[i].flags);
    vset_hex(c, "epoch_secret", es, 32);
    vset_int(c, "current_epoch", opens[i].cur);
    vset_int(c, "message_epoch", opens[i].me);
    vset_hex(c, "ciphertext", ct, cn);
    vrun(f, c);
  }
  hm_free(ct);
  c = vcase(f, "commit-signing-input", "commit-add", "what the committer signs for an add", "Commit");
  vset_str(c, "group_id", "c1:c1:channel:0123456789abcdef");
  vset_int(c, "new_epoch", 1);
  vset_str(c, "proposal", "add");
  vset_str(c, "did", did);
  vrun(f, c);
  c = vcase(f, "commit-signing-input", "commit-remove", "what the committer signs for a remove", "Commit");
  vset_str(c, "group_id", "c1:c1:channel:0123456789abcdef");
  vset_int(c, "new_epoch", 2);
  vset_str(c, "proposal", "remove");
  vset_int(c, "leaf_index", 1);
  vrun(f, c);
  c = vcase(f, "commit-signing-input", "commit-update", "an update signs neither the new keys nor the DID (W19)",
            "Commit");
  vset_str(c, "group_id", "c1:c1:channel:0123456789abcdef");
  vset_int(c, "new_epoch", 3);
  vset_str(c, "proposal", "update");
  vrun(f, c);
}

static const char *const MLS_NOTES[] = {
  "KeyPackage", "createKeyPackage / verifyKeyPackageSignature (crypto-facts 5.1)",
  "Impostor", "acceptable: self-signed under another DID's name (hardened: key must be the DID's)",
  "Tampered", "changed after signing / encryption",
  "KeySchedule", "HKDF epoch keys and epoch advance (crypto-facts 5.2)",
  "Welcome", "Welcome key and encrypted group state (crypto-facts 5.4)",
  "Message", "application message nonce || XChaCha20-Poly1305(ct || tag) (crypto-facts 5.3)",
  "Epoch", "message epoch differs from the current one (STALE)",
  "Commit", "reduced commit signing input (crypto-facts 5.4)",
  NULL};
static const vkind MLS_KINDS[] = {
  {"keypackage", "seed32", kp_compute},
  {"keypackage-verify", "keypackage expected_did", kp_verify_compute},
  {"epoch-keys", "epoch_secret epoch", ek_compute},
  {"advance", "epoch_secret commit_secret", adv_compute},
  {"welcome-key", "init_key", wk_compute},
  {"welcome", "init_key nonce group_id epoch group_state", welcome_compute},
  {"message", "epoch_secret epoch nonce plaintext", msg_compute},
  {"message-open", "epoch_secret current_epoch message_epoch ciphertext", msg_open_compute},
  {"commit-signing-input", "group_id new_epoch proposal did? leaf_index?", commit_si_compute},
  {0}};
const vlayer LAYER_MLS = {"mls-simplified", "Harmony simplified MLS",
                          "upstream e2ee/mls.ts and keypackage.ts (not RFC 9420): crypto-facts 5", MLS_NOTES,
                          MLS_KINDS, mls_generate};
