/* mls.c - upstream's simplified MLS: key schedule, sealing, and its JSON objects
 * (see harmony/mls.h). JSON is built with harmony/json.h so that strings are escaped
 * exactly as JSON.stringify escapes them and key order is insertion order. */
#include "harmony/mls.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/json.h"

#define JS_SAFE_MAX 9007199254740991ULL

/* ---- key schedule ---- */

int hm_mls_epoch_key(uint8_t key[32], const uint8_t epoch_secret[32], hm_mls_purpose purpose,
                     uint64_t epoch) {
  if (!key || !epoch_secret) return HM_ERR_INVAL;
  if (purpose != HM_MLS_MESSAGE && purpose != HM_MLS_MEDIA) return HM_ERR_INVAL;
  char info[64];
  snprintf(info, sizeof info, "harmony-mls-%s-%llu", purpose == HM_MLS_MESSAGE ? "message" : "media",
           (unsigned long long)epoch);
  return hm_hkdf32(key, epoch_secret, 32, "harmony-mls-epoch-salt-v1", info);
}

int hm_mls_advance(uint8_t new_secret[32], const uint8_t epoch_secret[32],
                   const uint8_t commit_secret[32]) {
  if (!new_secret || !epoch_secret || !commit_secret) return HM_ERR_INVAL;
  uint8_t ikm[64];
  memcpy(ikm, epoch_secret, 32);
  memcpy(ikm + 32, commit_secret, 32);
  int rc = hm_hkdf32(new_secret, ikm, 64, "harmony-mls-advance-salt-v1", "harmony-mls-epoch-advance");
  sodium_memzero(ikm, sizeof ikm);
  return rc;
}

int hm_mls_welcome_key(uint8_t key[32], const uint8_t init_key[32]) {
  if (!key || !init_key) return HM_ERR_INVAL;
  return hm_hkdf32(key, init_key, 32, NULL, "harmony-mls-welcome");
}

/* nonce || XChaCha(key, nonce, pt) */
static int seal_with(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24],
                     const uint8_t *pt, size_t len) {
  if (!out || !nonce) return HM_ERR_INVAL;
  int rc = hm_xchacha_seal(out + 24, key, nonce, pt, len, NULL, 0);
  if (rc == HM_OK) memcpy(out, nonce, 24);
  return rc;
}

static int open_with(uint8_t *out, const uint8_t key[32], const uint8_t *in, size_t len) {
  if (!in) return HM_ERR_INVAL;
  if (len < HM_MLS_OVERHEAD) return HM_ERR_DECODE;
  return hm_xchacha_open(out, key, in, in + 24, len - 24, NULL, 0);
}

int hm_mls_message_seal(uint8_t *out, const uint8_t epoch_secret[32], uint64_t epoch,
                        const uint8_t nonce[24], const uint8_t *pt, size_t len) {
  uint8_t key[32];
  int rc = hm_mls_epoch_key(key, epoch_secret, HM_MLS_MESSAGE, epoch);
  if (rc == HM_OK) rc = seal_with(out, key, nonce, pt, len);
  sodium_memzero(key, sizeof key);
  return rc;
}

int hm_mls_message_open(uint8_t *out, const uint8_t epoch_secret[32], uint64_t current_epoch,
                        uint64_t msg_epoch, const uint8_t *ct, size_t ct_len) {
  if (msg_epoch != current_epoch) return HM_ERR_STALE;
  uint8_t key[32];
  int rc = hm_mls_epoch_key(key, epoch_secret, HM_MLS_MESSAGE, current_epoch);
  if (rc == HM_OK) rc = open_with(out, key, ct, ct_len);
  sodium_memzero(key, sizeof key);
  return rc;
}

int hm_mls_welcome_seal(uint8_t *out, const uint8_t init_key[32], const uint8_t nonce[24],
                        const uint8_t *state, size_t len) {
  uint8_t key[32];
  int rc = hm_mls_welcome_key(key, init_key);
  if (rc == HM_OK) rc = seal_with(out, key, nonce, state, len);
  sodium_memzero(key, sizeof key);
  return rc;
}

int hm_mls_welcome_open(uint8_t *out, const uint8_t init_key[32], const uint8_t *enc, size_t len) {
  uint8_t key[32];
  int rc = hm_mls_welcome_key(key, init_key);
  if (rc == HM_OK) rc = open_with(out, key, enc, len);
  sodium_memzero(key, sizeof key);
  return rc;
}

/* ---- JSON helpers ---- */

/* JSON array of decimal byte values. NULL on NOMEM. */
static hm_json *dec_array(const uint8_t *b, size_t n) {
  hm_json *a = hm_json_new_array();
  for (size_t i = 0; a && i < n; i++)
    if (hm_json_array_append(a, hm_json_new_number(b[i])) != HM_OK) {
      hm_json_free(a);
      return NULL;
    }
  return a;
}

/* The Uint8Array codec object {"__type":"Uint8Array","data":"<std base64>"}. */
static hm_json *u8_envelope(const uint8_t *b, size_t n) {
  size_t cap = hm_base64_encoded_len(n, 0);
  char *txt = cap ? hm_malloc(cap) : NULL;
  if (!txt) return NULL;
  hm_json *o = NULL;
  if (hm_base64_encode(txt, cap, b, n, 0) == HM_OK && (o = hm_json_new_object()) != NULL) {
    if (hm_json_object_setc(o, "__type", hm_json_new_cstr("Uint8Array")) != HM_OK ||
        hm_json_object_setc(o, "data", hm_json_new_cstr(txt)) != HM_OK) {
      hm_json_free(o);
      o = NULL;
    }
  }
  hm_free(txt);
  return o;
}

static int set(hm_json *o, const char *k, hm_json *v, int rc) {
  if (rc != HM_OK) {
    hm_json_free(v);
    return rc;
  }
  return hm_json_object_setc(o, k, v);
}

/* A string value; distinguishes invalid UTF-8 (HM_ERR_INVAL) from NOMEM via a pre-check. */
static hm_json *str_value(const char *s) { return hm_json_new_cstr(s); }

static int finish(hm_json *o, int rc, char **out, size_t *len) {
  if (rc == HM_OK) rc = hm_json_stringify(out, len, o);
  hm_json_free(o);
  return rc;
}

static int epoch_ok(uint64_t e) { return e <= JS_SAFE_MAX; }

/* ---- KeyPackage ---- */

/* Signing input with the given protocolVersion/cipherSuite JSON values (cloned; a NULL
 * value omits the key, as JSON.stringify omits undefined). */
static int kp_signing_input(char **out, size_t *len, const hm_json *pv, const hm_json *cs,
                            const uint8_t *init_key, size_t init_len, const hm_json *didv) {
  hm_json *o = hm_json_new_object();
  if (!o) return HM_ERR_NOMEM;
  int rc = HM_OK;
  if (pv) rc = set(o, "protocolVersion", hm_json_clone(pv), rc);
  if (cs) rc = set(o, "cipherSuite", hm_json_clone(cs), rc);
  rc = set(o, "initKey", dec_array(init_key, init_len), rc);
  hm_json *leaf = rc == HM_OK ? hm_json_new_object() : NULL;
  if (rc == HM_OK && !leaf) rc = HM_ERR_NOMEM;
  if (rc == HM_OK && didv) rc = hm_json_object_setc(leaf, "did", hm_json_clone(didv));
  rc = set(o, "leafNode", leaf, rc);
  return finish(o, rc, out, len);
}

int hm_mls_keypackage_signing_input(char **out, size_t *len, const uint8_t init_key[32],
                                    const char *did) {
  if (!out || !init_key || !did) return HM_ERR_INVAL;
  *out = NULL;
  hm_json *one = hm_json_new_number(1);
  hm_json *d = hm_json_new_cstr(did);
  int rc = (one && d) ? kp_signing_input(out, len, one, one, init_key, 32, d) : HM_ERR_NOMEM;
  hm_json_free(one);
  hm_json_free(d);
  return rc;
}

int hm_mls_keypackage_create(char **json, size_t *len, const uint8_t x_pk[32],
                             const uint8_t ed_pk[32], const uint8_t seed32[32], const char *did) {
  if (!json || !x_pk || !ed_pk || !seed32 || !did) return HM_ERR_INVAL;
  *json = NULL;
  char *input = NULL;
  size_t ilen = 0;
  uint8_t sig[64];
  int rc = hm_mls_keypackage_signing_input(&input, &ilen, x_pk, did);
  if (rc != HM_OK) return rc;
  rc = hm_ed25519_sign(sig, (const uint8_t *)input, ilen, seed32);
  hm_free(input);
  if (rc != HM_OK) return rc;
  hm_json *o = hm_json_new_object();
  if (!o) return HM_ERR_NOMEM;
  rc = set(o, "protocolVersion", hm_json_new_number(1), HM_OK);
  rc = set(o, "cipherSuite", hm_json_new_number(1), rc);
  rc = set(o, "initKey", u8_envelope(x_pk, 32), rc);
  hm_json *leaf = rc == HM_OK ? hm_json_new_object() : NULL;
  if (rc == HM_OK && !leaf) rc = HM_ERR_NOMEM;
  rc = set(leaf, "encryptionKey", u8_envelope(x_pk, 32), rc);
  rc = set(leaf, "signatureKey", u8_envelope(ed_pk, 32), rc);
  rc = set(leaf, "did", str_value(did), rc);
  if (rc != HM_OK) {
    hm_json_free(leaf);
    leaf = NULL;
  }
  rc = set(o, "leafNode", leaf, rc);
  rc = set(o, "signature", u8_envelope(sig, 64), rc);
  return finish(o, rc, json, len);
}

/* Bytes of a wire field. strict: exactly {"__type":"Uint8Array","data":<canonical b64>}
 * of exactly want bytes. compat: the codec object with upstream's lenient base64, or an
 * array of numbers (Array.from), any length up to cap. Returns the length or -1. */
static long get_bytes(const hm_json *v, uint8_t *out, size_t cap, size_t want, int strict) {
  if (!v) return -1;
  if (hm_json_kind_of(v) == HM_JSON_OBJECT) {
    const hm_json *t = hm_json_object_getc(v, "__type");
    const hm_json *d = hm_json_object_getc(v, "data");
    size_t dl = 0, n = 0;
    const char *txt = d ? hm_json_string(d, &dl) : NULL;
    if (!hm_json_string_is(t, "Uint8Array") || !txt) return -1;
    if (strict) {
      if (hm_json_object_size(v) != 2) return -1;
      if (hm_base64_decode(out, cap, &n, txt, dl, 0) != HM_OK || n != want) return -1;
    } else {
      uint8_t *tmp = hm_malloc(dl + 3);
      if (!tmp) return -2;
      int rc = hm_base64_decode_lenient(tmp, dl + 3, &n, txt, dl);
      if (rc == HM_OK && n <= cap) memcpy(out, tmp, n);
      hm_free(tmp);
      if (rc != HM_OK || n > cap) return -1;
    }
    return (long)n;
  }
  if (!strict && hm_json_kind_of(v) == HM_JSON_ARRAY) {
    size_t n = hm_json_array_size(v);
    if (n > cap) return -1;
    for (size_t i = 0; i < n; i++) {
      const hm_json *e = hm_json_array_get(v, i);
      double x = hm_json_number(e);
      if (hm_json_kind_of(e) != HM_JSON_NUMBER || x < 0 || x > 255 || x != (double)(int)x)
        return -1;
      out[i] = (uint8_t)x;
    }
    return (long)n;
  }
  return -1;
}

int hm_mls_keypackage_verify(hm_mls_keypackage_info *info, const char *json, size_t len,
                             hm_mls_profile profile, const char *expected_did) {
  if (info) memset(info, 0, sizeof *info);
  if (!json) return HM_ERR_INVAL;
  if (profile != HM_MLS_COMPAT && profile != HM_MLS_HARDENED) return HM_ERR_INVAL;
  int strict = profile == HM_MLS_HARDENED;
  hm_json *kp = NULL;
  int rc = hm_json_parse(&kp, json, len, strict ? HM_JSON_REJECT_DUPKEYS : 0, NULL);
  if (rc != HM_OK) return rc;
  uint8_t init[64], enc[64], sigkey[64], sig[80];
  long il = -1, el = -1, kl = -1, sl = -1;
  const hm_json *pv = hm_json_object_getc(kp, "protocolVersion");
  const hm_json *cs = hm_json_object_getc(kp, "cipherSuite");
  const hm_json *leaf = hm_json_object_getc(kp, "leafNode");
  const hm_json *didv = leaf ? hm_json_object_getc(leaf, "did") : NULL;
  size_t dlen = 0;
  const char *did = didv ? hm_json_string(didv, &dlen) : NULL;
  char *input = NULL;
  size_t ilen = 0;

  if (hm_json_kind_of(kp) != HM_JSON_OBJECT || !leaf || hm_json_kind_of(leaf) != HM_JSON_OBJECT) {
    rc = HM_ERR_STRUCTURE;
    goto out;
  }
  il = get_bytes(hm_json_object_getc(kp, "initKey"), init, sizeof init, 32, strict);
  el = get_bytes(hm_json_object_getc(leaf, "encryptionKey"), enc, sizeof enc, 32, strict);
  kl = get_bytes(hm_json_object_getc(leaf, "signatureKey"), sigkey, sizeof sigkey, 32, strict);
  sl = get_bytes(hm_json_object_getc(kp, "signature"), sig, sizeof sig, 64, strict);
  if (il == -2 || el == -2 || kl == -2 || sl == -2) {
    rc = HM_ERR_NOMEM;
    goto out;
  }
  if (strict) {
    if (!pv || hm_json_kind_of(pv) != HM_JSON_NUMBER || hm_json_number(pv) != 1 || !cs ||
        hm_json_kind_of(cs) != HM_JSON_NUMBER || hm_json_number(cs) != 1 || il != 32 ||
        el != 32 || kl != 32 || sl != 64 || !did || dlen == 0 || memchr(did, 0, dlen) ||
        dlen >= sizeof info->did) {
      rc = HM_ERR_STRUCTURE;
      goto out;
    }
    uint8_t didpk[32];
    if (hm_didkey_decode(didpk, NULL, did, HM_DID_HARDENED) != HM_OK) {
      rc = HM_ERR_DID;
      goto out;
    }
    if (!hm_ct_equal(didpk, sigkey, 32) || !hm_ct_equal(enc, init, 32)) {
      rc = HM_ERR_WEAK_KEY;
      goto out;
    }
    if (expected_did && strcmp(expected_did, did) != 0) {
      rc = HM_ERR_HOLDER;
      goto out;
    }
  } else if (il < 0) {
    /* Array.from(undefined) throws: upstream's verify returns false */
    rc = HM_ERR_BADSIG;
    goto out;
  }
  /* compat: the package's own did value, whatever its type (JSON.stringify of it; an
   * absent did is omitted, as undefined is) */
  rc = kp_signing_input(&input, &ilen, pv, cs, init, (size_t)il, didv);
  if (rc != HM_OK) goto out;
  if (kl != 32 || sl != 64)
    rc = HM_ERR_BADSIG; /* noble throws on wrong lengths; upstream returns false */
  else
    rc = hm_ed25519_verify(sig, (const uint8_t *)input, ilen, sigkey,
                           strict ? HM_ED25519_STRICT : HM_ED25519_ZIP215);
  if (rc == HM_OK && info) {
    memcpy(info->init_key, init, il == 32 ? 32 : 0);
    if (el == 32) memcpy(info->encryption_key, enc, 32);
    memcpy(info->signature_key, sigkey, 32);
    if (did && dlen < sizeof info->did) memcpy(info->did, did, dlen);
  }
out:
  hm_free(input);
  hm_json_free(kp);
  return rc;
}

/* ---- Commit / Welcome ---- */

static int proposals_signing(hm_json *arr, const hm_mls_proposal *p, size_t n) {
  int rc = HM_OK;
  for (size_t i = 0; rc == HM_OK && i < n; i++) {
    hm_json *o = hm_json_new_object();
    if (!o) return HM_ERR_NOMEM;
    switch (p[i].type) {
      case HM_MLS_ADD:
        if (!p[i].did) rc = HM_ERR_INVAL;
        rc = set(o, "type", hm_json_new_cstr("add"), rc);
        if (rc == HM_OK) rc = set(o, "did", str_value(p[i].did), rc);
        break;
      case HM_MLS_REMOVE:
        rc = set(o, "type", hm_json_new_cstr("remove"), rc);
        rc = set(o, "leafIndex", hm_json_new_number(p[i].leaf_index), rc);
        break;
      case HM_MLS_UPDATE: rc = set(o, "type", hm_json_new_cstr("update"), rc); break;
      default: rc = HM_ERR_INVAL;
    }
    if (rc != HM_OK) {
      hm_json_free(o);
      return rc;
    }
    rc = hm_json_array_append(arr, o);
  }
  return rc;
}

static int commit_signing_obj(hm_json **out, const char *group_id, uint64_t new_epoch,
                              const hm_mls_proposal *props, size_t n) {
  *out = NULL;
  if (!group_id || (!props && n)) return HM_ERR_INVAL;
  if (!epoch_ok(new_epoch)) return HM_ERR_RANGE;
  hm_json *o = hm_json_new_object();
  if (!o) return HM_ERR_NOMEM;
  int rc = set(o, "groupId", str_value(group_id), HM_OK);
  rc = set(o, "epoch", hm_json_new_number((double)new_epoch), rc);
  hm_json *arr = rc == HM_OK ? hm_json_new_array() : NULL;
  if (rc == HM_OK && !arr) rc = HM_ERR_NOMEM;
  if (rc == HM_OK) rc = proposals_signing(arr, props, n);
  rc = set(o, "proposals", arr, rc);
  if (rc != HM_OK) {
    hm_json_free(o);
    return rc;
  }
  *out = o;
  return HM_OK;
}

int hm_mls_commit_signing_input(char **out, size_t *len, const char *group_id, uint64_t new_epoch,
                                const hm_mls_proposal *props, size_t n) {
  if (!out) return HM_ERR_INVAL;
  *out = NULL;
  hm_json *o = NULL;
  int rc = commit_signing_obj(&o, group_id, new_epoch, props, n);
  if (rc != HM_OK) return rc;
  return finish(o, HM_OK, out, len);
}

int hm_mls_commit_verify(const uint8_t sig[64], const char *group_id, uint64_t new_epoch,
                         const hm_mls_proposal *props, size_t n, const uint8_t committer_pk[32],
                         hm_mls_profile profile) {
  if (!sig || !committer_pk) return HM_ERR_INVAL;
  char *input = NULL;
  size_t ilen = 0;
  int rc = hm_mls_commit_signing_input(&input, &ilen, group_id, new_epoch, props, n);
  if (rc != HM_OK) return rc;
  rc = hm_ed25519_verify(sig, (const uint8_t *)input, ilen, committer_pk,
                         profile == HM_MLS_HARDENED ? HM_ED25519_STRICT : HM_ED25519_ZIP215);
  hm_free(input);
  return rc;
}

int hm_mls_commit_build(char **out, size_t *len, const char *group_id, uint64_t new_epoch,
                        const hm_mls_proposal *props, size_t n, const uint8_t commit_secret[32],
                        const uint8_t committer_seed32[32]) {
  if (!out || !group_id || (!props && n) || !commit_secret || !committer_seed32) return HM_ERR_INVAL;
  *out = NULL;
  if (!hm_json_text_valid(group_id, strlen(group_id))) return HM_ERR_INVAL; /* not NOMEM later */
  if (!epoch_ok(new_epoch)) return HM_ERR_RANGE;
  char *input = NULL;
  size_t ilen = 0;
  uint8_t sig[64];
  int rc = hm_mls_commit_signing_input(&input, &ilen, group_id, new_epoch, props, n);
  if (rc != HM_OK) return rc;
  rc = hm_ed25519_sign(sig, (const uint8_t *)input, ilen, committer_seed32);
  hm_free(input);
  if (rc != HM_OK) return rc;

  hm_json *o = hm_json_new_object();
  if (!o) return HM_ERR_NOMEM;
  rc = set(o, "groupId", str_value(group_id), HM_OK);
  rc = set(o, "epoch", hm_json_new_number((double)new_epoch), rc);
  hm_json *arr = rc == HM_OK ? hm_json_new_array() : NULL;
  if (rc == HM_OK && !arr) rc = HM_ERR_NOMEM;
  for (size_t i = 0; rc == HM_OK && i < n; i++) {
    hm_json *p = hm_json_new_object();
    if (!p) {
      rc = HM_ERR_NOMEM;
      break;
    }
    if (props[i].type == HM_MLS_ADD) {
      hm_json *kp = NULL;
      if (!props[i].key_package) {
        rc = HM_ERR_INVAL;
      } else {
        rc = hm_json_parse(&kp, props[i].key_package, strlen(props[i].key_package), 0, NULL);
      }
      rc = set(p, "type", hm_json_new_cstr("add"), rc);
      rc = set(p, "keyPackage", kp, rc);
    } else if (props[i].type == HM_MLS_REMOVE) {
      rc = set(p, "type", hm_json_new_cstr("remove"), rc);
      rc = set(p, "leafIndex", hm_json_new_number(props[i].leaf_index), rc);
    } else if (props[i].type == HM_MLS_UPDATE) {
      if (!props[i].encryption_key || !props[i].signature_key || !props[i].did) rc = HM_ERR_INVAL;
      rc = set(p, "type", hm_json_new_cstr("update"), rc);
      hm_json *leaf = rc == HM_OK ? hm_json_new_object() : NULL;
      if (rc == HM_OK && !leaf) rc = HM_ERR_NOMEM;
      rc = set(leaf, "encryptionKey", rc == HM_OK ? u8_envelope(props[i].encryption_key, 32) : NULL, rc);
      rc = set(leaf, "signatureKey", rc == HM_OK ? u8_envelope(props[i].signature_key, 32) : NULL, rc);
      rc = set(leaf, "did", rc == HM_OK ? str_value(props[i].did) : NULL, rc);
      if (rc != HM_OK) {
        hm_json_free(leaf);
        leaf = NULL;
      }
      rc = set(p, "leafNode", leaf, rc);
    } else {
      rc = HM_ERR_INVAL;
    }
    if (rc != HM_OK) {
      hm_json_free(p);
      break;
    }
    rc = hm_json_array_append(arr, p);
  }
  if (rc != HM_OK) {
    hm_json_free(arr);
    arr = NULL;
  }
  rc = set(o, "proposals", arr, rc);
  rc = set(o, "commitSecret", rc == HM_OK ? u8_envelope(commit_secret, 32) : NULL, rc);
  rc = set(o, "signature", rc == HM_OK ? u8_envelope(sig, 64) : NULL, rc);
  return finish(o, rc, out, len);
}

int hm_mls_welcome_build(char **out, size_t *len, const char *group_id, uint64_t epoch,
                         const uint8_t *enc, size_t enc_len) {
  if (!out || !group_id || (!enc && enc_len)) return HM_ERR_INVAL;
  *out = NULL;
  if (!epoch_ok(epoch)) return HM_ERR_RANGE;
  hm_json *o = hm_json_new_object();
  if (!o) return HM_ERR_NOMEM;
  int rc = set(o, "groupId", str_value(group_id), HM_OK);
  rc = set(o, "epoch", hm_json_new_number((double)epoch), rc);
  rc = set(o, "encryptedGroupState", rc == HM_OK ? u8_envelope(enc, enc_len) : NULL, rc);
  return finish(o, rc, out, len);
}

int hm_mls_group_state_json(char **out, size_t *len, const hm_mls_group_state *st) {
  if (!out || !st || !st->group_id || (!st->members && st->n_members) ||
      (!st->my_signing_key && st->my_signing_key_len) ||
      (!st->my_encryption_key && st->my_encryption_key_len))
    return HM_ERR_INVAL;
  *out = NULL;
  if (!epoch_ok(st->epoch)) return HM_ERR_RANGE;
  hm_json *o = hm_json_new_object();
  if (!o) return HM_ERR_NOMEM;
  int rc = set(o, "groupId", str_value(st->group_id), HM_OK);
  rc = set(o, "epoch", hm_json_new_number((double)st->epoch), rc);
  rc = set(o, "myLeafIndex", hm_json_new_number(st->my_leaf_index), rc);
  hm_json *arr = rc == HM_OK ? hm_json_new_array() : NULL;
  if (rc == HM_OK && !arr) rc = HM_ERR_NOMEM;
  for (size_t i = 0; rc == HM_OK && i < st->n_members; i++) {
    const hm_mls_member *m = &st->members[i];
    hm_json *mo = m->did ? hm_json_new_object() : NULL;
    if (!m->did) rc = HM_ERR_INVAL;
    else if (!mo) rc = HM_ERR_NOMEM;
    rc = set(mo, "leafIndex", rc == HM_OK ? hm_json_new_number(m->leaf_index) : NULL, rc);
    rc = set(mo, "did", rc == HM_OK ? str_value(m->did) : NULL, rc);
    rc = set(mo, "encryptionKey", rc == HM_OK ? dec_array(m->encryption_key, 32) : NULL, rc);
    rc = set(mo, "signatureKey", rc == HM_OK ? dec_array(m->signature_key, 32) : NULL, rc);
    if (rc != HM_OK) {
      hm_json_free(mo);
      break;
    }
    rc = hm_json_array_append(arr, mo);
  }
  if (rc != HM_OK) {
    hm_json_free(arr);
    arr = NULL;
  }
  rc = set(o, "members", arr, rc);
  rc = set(o, "epochSecret", rc == HM_OK ? dec_array(st->epoch_secret, 32) : NULL, rc);
  rc = set(o, "mySigningKey",
           rc == HM_OK ? dec_array(st->my_signing_key, st->my_signing_key_len) : NULL, rc);
  rc = set(o, "myEncryptionKey",
           rc == HM_OK ? dec_array(st->my_encryption_key, st->my_encryption_key_len) : NULL, rc);
  rc = set(o, "mySigningPublicKey", rc == HM_OK ? dec_array(st->my_signing_public_key, 32) : NULL, rc);
  rc = set(o, "myEncryptionPublicKey",
           rc == HM_OK ? dec_array(st->my_encryption_public_key, 32) : NULL, rc);
  /* The tree holds secrets as numbers; hm_json_free cannot wipe them (json.h has no secure
   * free), so the output text is the caller's to wipe; the DOM lives only briefly. */
  return finish(o, rc, out, len);
}
