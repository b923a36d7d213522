/* harmony/mediakeys.h - the remaining HKDF-derived keys and the media/voice formats
 * (crypto-facts 1.5, 6, 7; spec crypto.md R-CRY-MEDIA-*, R-CRY-EXP-*, R-CRY-KEY-14/15).
 * Every key is HKDF-SHA256, 32 bytes, with the exact labels of crypto-facts 9.4:
 *
 *   media fallback key   ikm "harmony-media-fallback-" + groupId, salt "harmony-media-salt",
 *                        info "harmony-media-channel-key"
 *   MLS media key        hm_mls_epoch_key(HM_MLS_MEDIA) (harmony/mls.h)
 *   voice frame key      ikm media key, salt "harmony-voice-e2ee-salt-v1", info "harmony-voice-e2ee"
 *   export key           ikm admin seed32, salt "harmony-export-salt-v1", info "harmony-export"
 *   identity-sync key    ikm seed32, salt "harmony-sync-salt-v1", info "harmony-sync"
 *   user-data key        ikm seed32, salt "harmony-user-data-v1", info "harmony-user-data-encryption"
 *   OAuth-recovery seed  ikm "oauth-recovery:" + provider + ":" + token,
 *                        salt "harmony-oauth-recovery", info provider + "-recovery"
 *   cloud OAuth hash     ikm provider + ":" + providerUserId, salt "harmony-oauth-recovery-hash",
 *                        info "oauth-hash"
 * Strings are taken as UTF-8 bytes (JS TextEncoder); NUL-terminated C strings here.
 * Every function returns HM_OK, HM_ERR_INVAL (NULL arguments) or HM_ERR_NOMEM (only those
 * that build a label on the heap), and wipes its temporaries.
 */
#ifndef HARMONY_MEDIAKEYS_H
#define HARMONY_MEDIAKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

int hm_media_fallback_key(uint8_t key[32], const char *group_id);

/* The channel file key as upstream's client picks it (R-CRY-MEDIA-1/2): the MLS media
 * key of (epoch_secret, epoch) when epoch_secret is non-NULL (a group with more than one
 * member), otherwise the fallback key of group_id. */
int hm_media_channel_key(uint8_t key[32], const uint8_t *epoch_secret, uint64_t epoch,
                         const char *group_id);

int hm_voice_frame_key(uint8_t key[32], const uint8_t media_key[32]);
int hm_export_key(uint8_t key[32], const uint8_t admin_seed32[32]);
int hm_identity_sync_key(uint8_t key[32], const uint8_t seed32[32]);
int hm_user_data_key(uint8_t key[32], const uint8_t seed32[32]);
int hm_oauth_recovery_seed(uint8_t seed32[32], const char *provider, const char *token);
int hm_oauth_recovery_hash(uint8_t out[32], const char *provider, const char *provider_user_id);

/* ---- encrypted files (R-CRY-MEDIA-3): blob = nonce(24) || XChaCha(ct || tag16) ---- */

#define HM_MEDIA_BLOB_OVERHEAD 40 /* 24 + 16 */
#define HM_MEDIA_THUMB_PREFIX "HMYTHUMB:"
#define HM_MEDIA_THUMB_MAX 1024

/* blob gets nonce || ct || tag, len + 40 bytes (blob and file must not overlap). */
int hm_media_file_seal(uint8_t *blob, const uint8_t key[32], const uint8_t nonce[24],
                       const uint8_t *file, size_t len);
/* file gets blob_len - 40 bytes. HM_ERR_DECODE if blob_len < 40, HM_ERR_AUTH_TAG. */
HM_WARN_UNUSED int hm_media_file_open(uint8_t *file, const uint8_t key[32], const uint8_t *blob,
                                      size_t blob_len);
/* The thumbnail plaintext "HMYTHUMB:" || file[0..min(len,1024)) into out (cap >= 1033);
 * *outlen its length. HM_ERR_BUFSZ if cap is too small. */
int hm_media_thumbnail_plaintext(uint8_t *out, size_t cap, size_t *outlen, const uint8_t *file,
                                 size_t len);

/* ---- voice frames (R-CRY-MEDIA-7) -------------------------------------------------- */

#define HM_VOICE_HEADER_AUDIO 1
#define HM_VOICE_HEADER_VIDEO 10

/* Encrypt a frame: out = frame[0..h) || iv(12) || AES-256-GCM(key, iv, frame[h..len)) ||
 * tag16, i.e. len + 28 bytes; a frame of at most h bytes is copied unchanged (len bytes).
 * *outlen gets the length written; cap must be >= len + 28; out must not overlap frame. */
int hm_voice_frame_encrypt(uint8_t *out, size_t cap, size_t *outlen, const uint8_t key[32],
                           const uint8_t iv[12], const uint8_t *frame, size_t len, size_t h);
/* Decrypt a frame: a frame of at most h + 12 bytes is copied unchanged (HM_OK);
 * otherwise out = header || plaintext (len - 28 bytes) or HM_ERR_AUTH_TAG / HM_ERR_DECODE
 * (upstream drops such frames). cap must be >= len; out must not overlap frame. */
HM_WARN_UNUSED int hm_voice_frame_decrypt(uint8_t *out, size_t cap, size_t *outlen,
                                          const uint8_t key[32], const uint8_t *frame,
                                          size_t len, size_t h);

#ifdef __cplusplus
}
#endif
#endif
