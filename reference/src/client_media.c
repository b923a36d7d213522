/* client_media.c - channel files of the client (spec crypto.md R-CRY-MEDIA-1..5) and the DM
 * protection text (R-CRY-DM-9).
 *
 * Sealing uses only the MLS media key of a group with more than one member, or, when the
 * user allows it, upstream's fallback key (labelled: it is computable from public ids);
 * never the all-zero key. References omit the plaintext checksum, which would identify the
 * file to anyone who sees the reference (W22). Opening also accepts upstream files under
 * the fallback and all-zero keys, reported so that the shell marks them unencrypted. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "client_internal.h"
#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/mediakeys.h"
#include "harmony/mls.h"
#include "harmony/vc.h"

const char *hm_client_dm_protection(void) {
  return "encrypted with a long-term key shared by the two of you (the same key for every message, "
         "both ways): no forward secrecy";
}

/* "sha256:" + hex(SHA-256(p)) into out (cap >= 72). */
static void checksum_text(char *out, size_t cap, const uint8_t *p, size_t len) {
  uint8_t h[crypto_hash_sha256_BYTES];
  char hex[2 * sizeof h + 1];
  crypto_hash_sha256(h, p, len);
  (void)hm_hex_encode(hex, sizeof hex, h, sizeof h);
  snprintf(out, cap, "sha256:%s", hex);
}

/* groupId of a channel as upstream names it: community ":" channel. */
static char *group_id(const char *community, const char *channel) {
  size_t n = strlen(community) + 1 + strlen(channel) + 1;
  char *g = hm_malloc(n);
  if (g) snprintf(g, n, "%s:%s", community, channel);
  return g;
}

static hm_json *media_ref(hm_client *c, const char *id, const char *filename, const char *content_type,
                          size_t blob_len, size_t len, const char *enc_sum) {
  char ts[32], url[64];
  if (hm_iso8601_format(ts, hm_client__now(c)) != HM_OK) snprintf(ts, sizeof ts, "1970-01-01T00:00:00.000Z");
  snprintf(url, sizeof url, "/files/%s", id);
  hm_json *o = hm_json_new_object();
  int rc = o ? HM_OK : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = hm_json_object_setc(o, "id", hm_json_new_cstr(id));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "filename", hm_json_new_cstr(filename));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "contentType", hm_json_new_cstr(content_type));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "size", hm_json_new_number((double)blob_len));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "originalSize", hm_json_new_number((double)len));
  /* No "checksum": the plaintext hash would identify the file (R-CRY-MEDIA-5). */
  if (rc == HM_OK) rc = hm_json_object_setc(o, "encryptedChecksum", hm_json_new_cstr(enc_sum));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "uploadedBy", hm_json_new_cstr(c->id.did));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "uploadedAt", hm_json_new_cstr(ts));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "url", hm_json_new_cstr(url));
  if (rc != HM_OK) {
    hm_json_free(o);
    return NULL;
  }
  return o;
}

int hm_client_media_seal(hm_client *c, const char *community_id, const char *channel_id,
                         const char *filename, const char *content_type, const uint8_t *file,
                         size_t len, int allow_fallback, uint8_t **blob, size_t *blob_len,
                         hm_json **ref, hm_client_media_protection *prot) {
  if (!c || !community_id || !channel_id || !filename || !content_type || (!file && len) || !blob ||
      !blob_len || !ref || !prot || len > SIZE_MAX - HM_MEDIA_BLOB_OVERHEAD)
    return HM_ERR_INVAL;
  *blob = NULL;
  *blob_len = 0;
  *ref = NULL;
  uint8_t key[32];
  int rc;
  hm_client_group *g = hm_client__group(c, community_id, channel_id);
  if (g && g->n_members > 1) {
    rc = hm_mls_epoch_key(key, g->secret, HM_MLS_MEDIA, g->epoch);
    *prot = HM_CLIENT_MEDIA_E2EE;
  } else if (allow_fallback) {
    char *gid = group_id(community_id, channel_id);
    if (!gid) return HM_ERR_NOMEM;
    rc = hm_media_fallback_key(key, gid);
    hm_free(gid);
    *prot = HM_CLIENT_MEDIA_FALLBACK;
  } else {
    return HM_ERR_NOT_FOUND; /* refused: no group of 2+ members and no fallback allowed */
  }
  if (rc != HM_OK) {
    sodium_memzero(key, sizeof key);
    return rc;
  }
  /* upstream's draw order: upload id (unused here), nonce, file id */
  uint8_t upload_id[16], nonce[24], fid[16];
  char idhex[33], sum[80];
  hm_client__rand(c, upload_id, sizeof upload_id);
  hm_client__rand(c, nonce, sizeof nonce);
  hm_client__rand(c, fid, sizeof fid);
  (void)hm_hex_encode(idhex, sizeof idhex, fid, sizeof fid);
  size_t bl = len + HM_MEDIA_BLOB_OVERHEAD;
  uint8_t *b = hm_malloc(bl);
  if (!b) {
    sodium_memzero(key, sizeof key);
    return HM_ERR_NOMEM;
  }
  rc = hm_media_file_seal(b, key, nonce, file, len);
  sodium_memzero(key, sizeof key);
  if (rc != HM_OK) {
    hm_free(b);
    return rc;
  }
  checksum_text(sum, sizeof sum, b, bl);
  hm_json *r = media_ref(c, idhex, filename, content_type, bl, len, sum);
  if (!r) {
    hm_free(b);
    return HM_ERR_NOMEM;
  }
  *blob = b;
  *blob_len = bl;
  *ref = r;
  return HM_OK;
}

int hm_client_media_open(hm_client *c, const char *community_id, const char *channel_id,
                         const hm_json *ref, const uint8_t *blob, size_t blob_len, uint8_t **file,
                         size_t *len, hm_client_media_protection *prot) {
  if (!c || !community_id || !channel_id || !blob || !file || !len || !prot) return HM_ERR_INVAL;
  *file = NULL;
  *len = 0;
  if (blob_len < HM_MEDIA_BLOB_OVERHEAD) return HM_ERR_DECODE;
  char sum[80];
  const char *want = hm_client__str(ref, "encryptedChecksum");
  if (want) {
    checksum_text(sum, sizeof sum, blob, blob_len);
    if (strlen(want) != strlen(sum) || sodium_memcmp(want, sum, strlen(sum)) != 0) return HM_ERR_CHECKSUM;
  }
  size_t n = blob_len - HM_MEDIA_BLOB_OVERHEAD;
  uint8_t *out = hm_malloc(n ? n : 1);
  if (!out) return HM_ERR_NOMEM;
  uint8_t key[32];
  int rc = HM_ERR_AUTH_TAG;
  hm_client_group *g = hm_client__group(c, community_id, channel_id);
  if (g) {
    rc = hm_mls_epoch_key(key, g->secret, HM_MLS_MEDIA, g->epoch);
    if (rc == HM_OK) rc = hm_media_file_open(out, key, blob, blob_len);
    if (rc == HM_OK) *prot = HM_CLIENT_MEDIA_E2EE;
  }
  if (rc != HM_OK && rc != HM_ERR_NOMEM) {
    char *gid = group_id(community_id, channel_id);
    rc = gid ? hm_media_fallback_key(key, gid) : HM_ERR_NOMEM;
    if (rc == HM_OK) rc = hm_media_file_open(out, key, blob, blob_len);
    if (rc == HM_OK) *prot = HM_CLIENT_MEDIA_FALLBACK;
    hm_free(gid);
  }
  if (rc != HM_OK && rc != HM_ERR_NOMEM) {
    memset(key, 0, sizeof key); /* upstream's download key without a community context */
    rc = hm_media_file_open(out, key, blob, blob_len);
    if (rc == HM_OK) *prot = HM_CLIENT_MEDIA_ZERO_KEY;
  }
  sodium_memzero(key, sizeof key);
  if (rc == HM_OK && (want = hm_client__str(ref, "checksum"))) {
    checksum_text(sum, sizeof sum, out, n);
    if (strlen(want) != strlen(sum) || sodium_memcmp(want, sum, strlen(sum)) != 0) rc = HM_ERR_CHECKSUM;
  }
  if (rc != HM_OK) {
    hm_free_secret(out, n ? n : 1);
    return rc == HM_ERR_NOMEM || rc == HM_ERR_CHECKSUM ? rc : HM_ERR_AUTH_TAG;
  }
  *file = out;
  *len = n;
  return HM_OK;
}
