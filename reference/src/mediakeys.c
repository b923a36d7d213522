/* mediakeys.c - HKDF-derived media, voice, export, sync, user-data and recovery keys,
 * and the file / voice-frame formats (see harmony/mediakeys.h). */
#include "harmony/mediakeys.h"

#include <sodium.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/crypto.h"
#include "harmony/mls.h"

/* HKDF over the concatenation a || b || c (NUL-terminated strings) as IKM. */
static int hkdf_concat(uint8_t out[32], const char *a, const char *b, const char *c,
                       const char *salt, const char *info) {
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
  char *ikm = hm_malloc(la + lb + lc + 1);
  if (!ikm) return HM_ERR_NOMEM;
  memcpy(ikm, a, la);
  memcpy(ikm + la, b, lb);
  memcpy(ikm + la + lb, c, lc);
  int rc = hm_hkdf32(out, (const uint8_t *)ikm, la + lb + lc, salt, info);
  hm_free_secret(ikm, la + lb + lc + 1);
  return rc;
}

int hm_media_fallback_key(uint8_t key[32], const char *group_id) {
  if (!key || !group_id) return HM_ERR_INVAL;
  return hkdf_concat(key, "harmony-media-fallback-", group_id, "", "harmony-media-salt",
                     "harmony-media-channel-key");
}

int hm_media_channel_key(uint8_t key[32], const uint8_t *epoch_secret, uint64_t epoch,
                         const char *group_id) {
  if (epoch_secret) return hm_mls_epoch_key(key, epoch_secret, HM_MLS_MEDIA, epoch);
  return hm_media_fallback_key(key, group_id);
}

int hm_voice_frame_key(uint8_t key[32], const uint8_t media_key[32]) {
  if (!key || !media_key) return HM_ERR_INVAL;
  return hm_hkdf32(key, media_key, 32, "harmony-voice-e2ee-salt-v1", "harmony-voice-e2ee");
}

int hm_export_key(uint8_t key[32], const uint8_t admin_seed32[32]) {
  if (!key || !admin_seed32) return HM_ERR_INVAL;
  return hm_hkdf32(key, admin_seed32, 32, "harmony-export-salt-v1", "harmony-export");
}

int hm_identity_sync_key(uint8_t key[32], const uint8_t seed32[32]) {
  if (!key || !seed32) return HM_ERR_INVAL;
  return hm_hkdf32(key, seed32, 32, "harmony-sync-salt-v1", "harmony-sync");
}

int hm_user_data_key(uint8_t key[32], const uint8_t seed32[32]) {
  if (!key || !seed32) return HM_ERR_INVAL;
  return hm_hkdf32(key, seed32, 32, "harmony-user-data-v1", "harmony-user-data-encryption");
}

int hm_oauth_recovery_seed(uint8_t seed32[32], const char *provider, const char *token) {
  if (!seed32 || !provider || !token) return HM_ERR_INVAL;
  size_t lp = strlen(provider);
  char *info = hm_malloc(lp + sizeof "-recovery");
  if (!info) return HM_ERR_NOMEM;
  memcpy(info, provider, lp);
  memcpy(info + lp, "-recovery", sizeof "-recovery");
  /* ikm = "oauth-recovery:" + provider + ":" + token */
  char *mid = hm_malloc(lp + 2);
  int rc = HM_ERR_NOMEM;
  if (mid) {
    memcpy(mid, provider, lp);
    mid[lp] = ':';
    mid[lp + 1] = 0;
    rc = hkdf_concat(seed32, "oauth-recovery:", mid, token, "harmony-oauth-recovery", info);
  }
  hm_free(mid);
  hm_free(info);
  return rc;
}

int hm_oauth_recovery_hash(uint8_t out[32], const char *provider, const char *provider_user_id) {
  if (!out || !provider || !provider_user_id) return HM_ERR_INVAL;
  return hkdf_concat(out, provider, ":", provider_user_id, "harmony-oauth-recovery-hash",
                     "oauth-hash");
}

int hm_media_file_seal(uint8_t *blob, const uint8_t key[32], const uint8_t nonce[24],
                       const uint8_t *file, size_t len) {
  if (!blob || !nonce) return HM_ERR_INVAL;
  int rc = hm_xchacha_seal(blob + 24, key, nonce, file, len, NULL, 0);
  if (rc == HM_OK) memcpy(blob, nonce, 24);
  return rc;
}

int hm_media_file_open(uint8_t *file, const uint8_t key[32], const uint8_t *blob,
                       size_t blob_len) {
  if (!blob || !key) return HM_ERR_INVAL;
  if (blob_len < HM_MEDIA_BLOB_OVERHEAD) return HM_ERR_DECODE;
  return hm_xchacha_open(file, key, blob, blob + 24, blob_len - 24, NULL, 0);
}

int hm_media_thumbnail_plaintext(uint8_t *out, size_t cap, size_t *outlen, const uint8_t *file,
                                 size_t len) {
  if (!out || !outlen || (!file && len)) return HM_ERR_INVAL;
  const size_t pl = sizeof HM_MEDIA_THUMB_PREFIX - 1;
  size_t take = len < HM_MEDIA_THUMB_MAX ? len : HM_MEDIA_THUMB_MAX;
  if (cap < pl + take) return HM_ERR_BUFSZ;
  memcpy(out, HM_MEDIA_THUMB_PREFIX, pl);
  if (take) memcpy(out + pl, file, take);
  *outlen = pl + take;
  return HM_OK;
}

int hm_voice_frame_encrypt(uint8_t *out, size_t cap, size_t *outlen, const uint8_t key[32],
                           const uint8_t iv[12], const uint8_t *frame, size_t len, size_t h) {
  if (!out || !outlen || !key || !iv || (!frame && len)) return HM_ERR_INVAL;
  if (len <= h) {
    if (cap < len) return HM_ERR_BUFSZ;
    if (len) memmove(out, frame, len);
    *outlen = len;
    return HM_OK;
  }
  if (cap < len + 28) return HM_ERR_BUFSZ;
  /* frame may not overlap out beyond the header: seal reads frame+h, writes out+h+12 */
  int rc = hm_aes256gcm_seal(out + h + 12, key, iv, frame + h, len - h, NULL, 0);
  if (rc != HM_OK) return rc;
  memmove(out, frame, h);
  memcpy(out + h, iv, 12);
  *outlen = len + 28;
  return HM_OK;
}

int hm_voice_frame_decrypt(uint8_t *out, size_t cap, size_t *outlen, const uint8_t key[32],
                           const uint8_t *frame, size_t len, size_t h) {
  if (!out || !outlen || !key || (!frame && len)) return HM_ERR_INVAL;
  if (cap < len) return HM_ERR_BUFSZ;
  if (len <= h + 12) {
    if (len) memmove(out, frame, len);
    *outlen = len;
    return HM_OK;
  }
  if (len < h + 12 + 16) return HM_ERR_DECODE;
  int rc = hm_aes256gcm_open(out + h, key, frame + h, frame + h + 12, len - h - 12, NULL, 0);
  if (rc != HM_OK) return rc;
  memmove(out, frame, h);
  *outlen = len - 28;
  return HM_OK;
}
