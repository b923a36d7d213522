/* client_dm.c - DM encryption of the client (spec crypto.md §8).
 *
 * The peer key is always the X25519 conversion of the Ed25519 key inside the peer's did:key
 * (hardened resolution, R-CRY-DID-6), which is the key every unmodified upstream client uses
 * (W5). So nothing received from the network can substitute a key (R-CRY-DM-6), and there
 * is no path that sends text in clear (R-CRY-DM-7). */
#include <string.h>

#include <sodium.h>

#include "client_internal.h"
#include "harmony/alloc.h"
#include "harmony/dm.h"

static int peer_key(hm_client *c, const char *peer_did, uint8_t key[32]) {
  uint8_t edpk[32], xpk[32];
  int rc = hm_didkey_decode(edpk, xpk, peer_did, HM_DID_HARDENED);
  if (rc != HM_OK) return rc == HM_ERR_WEAK_KEY ? rc : HM_ERR_DID;
  return hm_dm_key(key, c->id.x_sk, xpk);
}

int hm_client_dm_seal(hm_client *c, const char *peer_did, const char *text, hm_json **content) {
  if (!c || !peer_did || !text || !content) return HM_ERR_INVAL;
  *content = NULL;
  uint8_t key[32], nonce[24];
  int rc = peer_key(c, peer_did, key);
  if (rc != HM_OK) return rc;
  size_t tl = strlen(text);
  uint8_t *ct = hm_malloc(tl + 16);
  if (!ct) {
    sodium_memzero(key, sizeof key);
    return HM_ERR_NOMEM;
  }
  hm_client__rand(c, nonce, sizeof nonce);
  rc = hm_dm_seal(ct, key, nonce, (const uint8_t *)text, tl);
  sodium_memzero(key, sizeof key);
  hm_json *o = NULL;
  if (rc == HM_OK) {
    o = hm_json_new_object();
    if (!o || hm_json_object_setc(o, "ciphertext", hm_client__bytes(ct, tl + 16)) != HM_OK ||
        hm_json_object_setc(o, "epoch", hm_json_new_number(0)) != HM_OK ||
        hm_json_object_setc(o, "senderIndex", hm_json_new_number(0)) != HM_OK ||
        hm_json_object_setc(o, "nonce", hm_client__bytes(nonce, 24)) != HM_OK ||
        hm_json_object_setc(o, "senderPublicKey", hm_client__bytes(c->id.x_pk, 32)) != HM_OK) {
      hm_json_free(o);
      o = NULL;
      rc = HM_ERR_NOMEM;
    }
  }
  hm_free(ct);
  *content = o;
  return rc;
}

int hm_client_dm_open(hm_client *c, const char *peer_did, const hm_json *content, char **text,
                      hm_client_e2e *e2e) {
  if (!c || !peer_did || !text || !e2e) return HM_ERR_INVAL;
  *text = NULL;
  *e2e = HM_CLIENT_E2E_FAILED;
  if (hm_json_kind_of(content) == HM_JSON_STRING) {
    /* A plain string: never produced by an honest client for a DM; shown as unencrypted. */
    size_t l = 0;
    const char *s = hm_json_string(content, &l);
    if (!(*text = hm_strndup(s, l))) return HM_ERR_NOMEM;
    *e2e = HM_CLIENT_E2E_PLAINTEXT;
    return HM_OK;
  }
  if (hm_json_kind_of(content) != HM_JSON_OBJECT) return HM_ERR_STRUCTURE;
  const hm_json *ctv = hm_json_object_getc(content, "ciphertext");
  size_t cap = 0;
  if (hm_json_kind_of(ctv) == HM_JSON_OBJECT) {
    size_t dl = 0;
    (void)hm_json_string(hm_json_object_getc(ctv, "data"), &dl);
    cap = dl; /* base64 text is longer than its bytes */
  } else {
    cap = hm_json_array_size(ctv);
  }
  uint8_t *ct = hm_malloc(cap + 1);
  if (!ct) return HM_ERR_NOMEM;
  size_t n = 0;
  int rc = hm_client__get_bytes(ctv, ct, cap + 1, &n, 0);
  if (rc != HM_OK) {
    hm_free(ct);
    return rc;
  }
  const hm_json *nv = hm_json_object_getc(content, "nonce");
  if (!nv) {
    /* Upstream's fallback after a failed key lookup (R-CRY-DM-5): the bytes are UTF-8 text.
     * Shown marked as unencrypted (R-CRY-DM-7). */
    char *t = hm_malloc(n + 1);
    if (t) {
      memcpy(t, ct, n);
      t[n] = 0;
      *e2e = HM_CLIENT_E2E_PLAINTEXT;
    }
    hm_free(ct);
    *text = t;
    return t ? HM_OK : HM_ERR_NOMEM;
  }
  uint8_t nonce[24], key[32];
  rc = hm_client__get_bytes(nv, nonce, 24, NULL, 24);
  if (rc == HM_OK) rc = peer_key(c, peer_did, key);
  if (rc == HM_OK && n < 16) rc = HM_ERR_DECODE;
  char *pt = NULL;
  if (rc == HM_OK) {
    pt = hm_malloc(n - 16 + 1);
    if (!pt) rc = HM_ERR_NOMEM;
  }
  if (rc == HM_OK) {
    rc = hm_dm_open((uint8_t *)pt, key, nonce, ct, n);
    if (rc == HM_OK) {
      pt[n - 16] = 0;
      *e2e = HM_CLIENT_E2E_DECRYPTED;
      *text = pt;
      pt = NULL;
    }
  }
  sodium_memzero(key, sizeof key);
  if (pt) hm_free_secret(pt, n - 16 + 1);
  hm_free(ct);
  return rc;
}
