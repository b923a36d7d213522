/* tools/gen-vectors/layers_media.c - media / export / recovery key vector layer. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/did.h"
#include "harmony/mediakeys.h"
#include "layers.h"
#include "vfile.h"

static int md_fallback(json_t *c) {
  uint8_t k[32];
  if (hm_media_fallback_key(k, vget_str(c, "group_id", NULL))) vdie("fallback");
  vset_hex(c, "key", k, 32);
  vset_result(c, "valid", 0);
  return 0;
}

static int md_voice_key(json_t *c) {
  uint8_t mk[32], k[32];
  vget_hex_fixed(c, "media_key", mk, 32);
  if (hm_voice_frame_key(k, mk)) vdie("voice key");
  vset_hex(c, "key", k, 32);
  vset_result(c, "valid", 0);
  return 0;
}

static int md_seed_key(json_t *c) {
  uint8_t s[32], k[32];
  vget_hex_fixed(c, "seed32", s, 32);
  const char *p = vget_str(c, "purpose", NULL);
  int rc;
  if (!strcmp(p, "export")) rc = hm_export_key(k, s);
  else if (!strcmp(p, "identity-sync")) rc = hm_identity_sync_key(k, s);
  else if (!strcmp(p, "user-data")) rc = hm_user_data_key(k, s);
  else vdie("purpose %s", p);
  if (rc) vdie("seed key");
  vset_hex(c, "key", k, 32);
  vset_result(c, "valid", 0);
  return 0;
}

static int md_oauth_seed(json_t *c) {
  uint8_t s[32];
  if (hm_oauth_recovery_seed(s, vget_str(c, "provider", NULL), vget_str(c, "token", NULL))) vdie("oauth");
  hm_identity id;
  memset(&id, 0, sizeof id);
  if (hm_identity_from_seed32(&id, s)) vdie("identity");
  vset_hex(c, "seed32", s, 32);
  vset_str(c, "did", id.did);
  vset_result(c, "valid", 0);
  hm_identity_clear(&id);
  return 0;
}

static int md_oauth_hash(json_t *c) {
  uint8_t h[32];
  if (hm_oauth_recovery_hash(h, vget_str(c, "provider", NULL), vget_str(c, "provider_user_id", NULL))) vdie("hash");
  vset_hex(c, "hash", h, 32);
  vset_result(c, "valid", 0);
  return 0;
}

static void sha_tag(json_t *c, const char *key, const uint8_t *p, size_t n) {
  uint8_t d[32];
  char hex[65], buf[80];
  crypto_hash_sha256(d, p, n);
  hm_hex_encode(hex, sizeof hex, d, 32);
  snprintf(buf, sizeof buf, "sha256:%s", hex);
  vset_str(c, key, buf);
}

static int md_file(json_t *c) {
  uint8_t key[32], nonce[24];
  vget_hex_fixed(c, "key", key, 32);
  vget_hex_fixed(c, "nonce", nonce, 24);
  size_t n;
  uint8_t *pt = vget_hex_alloc(c, "plaintext", &n);
  uint8_t *blob = hm_malloc(n + HM_MEDIA_BLOB_OVERHEAD), *back = hm_malloc(n + 1);
  if (hm_media_file_seal(blob, key, nonce, pt, n) || hm_media_file_open(back, key, blob, n + 40) ||
      memcmp(back, pt, n))
    vdie("file round trip");
  vset_hex(c, "blob", blob, n + 40);
  vset_int(c, "size", (int64_t)(n + 40));
  vset_int(c, "original_size", (int64_t)n);
  sha_tag(c, "checksum", pt, n);
  sha_tag(c, "encrypted_checksum", blob, n + 40);
  uint8_t th[HM_MEDIA_THUMB_MAX + 16];
  size_t tn;
  if (hm_media_thumbnail_plaintext(th, sizeof th, &tn, pt, n)) vdie("thumb");
  vset_hex(c, "thumbnail_plaintext", th, tn);
  vset_result(c, "valid", 0);
  hm_free(pt);
  hm_free(blob);
  hm_free(back);
  return 0;
}

static int md_file_open(json_t *c) {
  uint8_t key[32];
  vget_hex_fixed(c, "key", key, 32);
  size_t n;
  uint8_t *blob = vget_hex_alloc(c, "blob", &n);
  uint8_t *out = hm_malloc(n + 1);
  int rc = hm_media_file_open(out, key, blob, n);
  if (rc) {
    json_object_del(c, "plaintext");
    vset_result(c, "invalid", rc);
  } else {
    vset_hex(c, "plaintext", out, n - 40);
    vset_result(c, "valid", 0);
  }
  hm_free(out);
  hm_free(blob);
  return 0;
}

static int md_frame(json_t *c) {
  uint8_t key[32], iv[12];
  vget_hex_fixed(c, "key", key, 32);
  vget_hex_fixed(c, "iv", iv, 12);
  size_t n;
  uint8_t *fr = vget_hex_alloc(c, "frame", &n);
  size_t h = (size_t)vget_int(c, "header_len");
  uint8_t *out = hm_malloc(n + 28), *back = hm_malloc(n + 28);
  size_t on, bn;
  if (hm_voice_frame_encrypt(out, n + 28, &on, key, iv, fr, n, h)) vdie("frame");
  if (hm_voice_frame_decrypt(back, n + 28, &bn, key, out, on, h) || bn != n || memcmp(back, fr, n))
    vdie("frame round trip");
  vset_hex(c, "output", out, on);
  vset_result(c, "valid", 0);
  hm_free(fr);
  hm_free(out);
  hm_free(back);
  return 0;
}

static int md_frame_open(json_t *c) {
  uint8_t key[32];
  vget_hex_fixed(c, "key", key, 32);
  size_t n;
  uint8_t *fr = vget_hex_alloc(c, "frame", &n);
  size_t h = (size_t)vget_int(c, "header_len");
  uint8_t *out = hm_malloc(n + 1);
  size_t on;
  int rc = hm_voice_frame_decrypt(out, n + 1, &on, key, fr, n, h);
  if (rc) {
    json_object_del(c, "output");
    vset_result(c, "invalid", rc);
  } else {
    vset_hex(c, "output", out, on);
    vset_result(c, "valid", 0);
  }
  hm_free(out);
  hm_free(fr);
  return 0;
}

static json_t *lastc(vfile *f) { return json_array_get(f->tests, json_array_size(f->tests) - 1); }

static void media_generate(vfile *f) {
  json_t *c = vcase(f, "fallback-channel-key", "fallback-key",
                    "fallback channel file key: public inputs only, anyone can compute it (W22)", "Fallback");
  vset_str(c, "group_id", "c1:c1:channel:0123456789abcdef");
  vrun(f, c);
  uint8_t mk[32], s[32];
  vseed(f, "voice-key", NULL, mk);
  c = vcase(f, "voice-frame-key", "voice-key", "AES-256-GCM frame key from a media key = seed(voice-key)", "Voice");
  vset_hex(c, "media_key", mk, 32);
  vrun(f, c);
  static const char *const purposes[] = {"export", "identity-sync", "user-data"};
  for (int i = 0; i < 3; i++) {
    char label[40];
    snprintf(label, sizeof label, "%s-key", purposes[i]);
    vseed(f, label, NULL, s);
    c = vcase(f, "seed-key", label, "HKDF of an Ed25519 seed (= seed(label)) with the purpose's labels", "SeedKey");
    vset_hex(c, "seed32", s, 32);
    vset_str(c, "purpose", purposes[i]);
    vrun(f, c);
  }
  c = vcase(f, "oauth-recovery-seed", "oauth-seed", "OAuth recovery identity seed and its DID", "Recovery");
  vset_str(c, "provider", "google");
  vset_str(c, "token", "token-123");
  vrun(f, c);
  c = vcase(f, "oauth-hash", "oauth-hash", "cloud OAuth token hash", "Recovery");
  vset_str(c, "provider", "github");
  vset_str(c, "provider_user_id", "1234567890");
  vrun(f, c);
  /* files */
  uint8_t key[32], nonce[32], file[2000];
  vseed(f, "file", "key", key);
  for (size_t i = 0; i < sizeof file; i++) file[i] = (uint8_t)(i * 13 + 7);
  static const size_t sizes[] = {0, 100, 2000};
  for (int i = 0; i < 3; i++) {
    char label[32];
    snprintf(label, sizeof label, "file-%zu", sizes[i]);
    vseed(f, label, "nonce", nonce);
    c = vcase(f, "file-blob", label,
              "encrypted file blob, MediaRef checksums, thumbnail plaintext; key = derive(file, key), "
              "file[i] = (13 i + 7) mod 256",
              "File");
    vset_hex(c, "key", key, 32);
    vset_hex(c, "nonce", nonce, 24);
    vset_hex(c, "plaintext", file, sizes[i]);
    vrun(f, c);
  }
  {
    size_t bn;
    uint8_t *blob = vget_hex_alloc(lastc(f), "blob", &bn);
    c = vcase(f, "file-open", "file-open", "open the 2000-byte blob", "File");
    vset_hex(c, "key", key, 32);
    vset_hex(c, "blob", blob, bn);
    vrun(f, c);
    blob[30] ^= 1;
    c = vcase(f, "file-open", "file-open-tampered", "a ciphertext byte changed", "Tampered");
    vset_hex(c, "key", key, 32);
    vset_hex(c, "blob", blob, bn);
    vrun(f, c);
    c = vcase(f, "file-open", "file-open-short", "39 bytes: shorter than nonce + tag", "Tampered");
    vset_hex(c, "key", key, 32);
    vset_hex(c, "blob", blob, 39);
    vrun(f, c);
    hm_free(blob);
  }
  /* voice frames */
  uint8_t vk[32], iv[32], frame[200];
  vseed(f, "frames", "key", vk);
  for (size_t i = 0; i < sizeof frame; i++) frame[i] = (uint8_t)(255 - i);
  static const struct {
    const char *label, *comment;
    size_t len, h;
  } fr[] = {{"frame-audio", "audio frame: 1 clear header byte", 160, 1},
            {"frame-video", "video frame: 10 clear header bytes", 200, 10},
            {"frame-tiny", "a frame no longer than its header passes through unchanged", 10, 10}};
  for (int i = 0; i < 3; i++) {
    vseed(f, fr[i].label, "iv", iv);
    c = vcase(f, "voice-frame", fr[i].label, fr[i].comment, "Voice");
    vset_hex(c, "key", vk, 32);
    vset_hex(c, "iv", iv, 12);
    vset_hex(c, "frame", frame, fr[i].len);
    vset_int(c, "header_len", (int64_t)fr[i].h);
    vrun(f, c);
  }
  {
    size_t on;
    uint8_t *out = vget_hex_alloc(json_array_get(f->tests, json_array_size(f->tests) - 3), "output", &on);
    c = vcase(f, "voice-frame-open", "frame-open", "decrypt the audio frame", "Voice");
    vset_hex(c, "key", vk, 32);
    vset_hex(c, "frame", out, on);
    vset_int(c, "header_len", 1);
    vrun(f, c);
    out[on - 1] ^= 1;
    c = vcase(f, "voice-frame-open", "frame-open-tampered", "tag changed: the frame is dropped", "Tampered");
    vset_hex(c, "key", vk, 32);
    vset_hex(c, "frame", out, on);
    vset_int(c, "header_len", 1);
    vrun(f, c);
    hm_free(out);
  }
}

static const char *const MD_NOTES[] = {
  "Fallback", "HKDF(\"harmony-media-fallback-\" + groupId, \"harmony-media-salt\", \"harmony-media-channel-key\")",
  "Voice", "voice frame key / AES-256-GCM frame layout header || iv12 || ct || tag16",
  "SeedKey", "export / identity-sync / user-data keys from the Ed25519 seed (crypto-facts 7)",
  "Recovery", "OAuth recovery seed and cloud hash (crypto-facts 1.5)",
  "File", "encrypted file blob nonce24 || XChaCha20-Poly1305(ct || tag) and MediaRef checksums (crypto-facts 6.2)",
  "Tampered", "opening fails (AUTH_TAG / DECODE)",
  NULL};
static const vkind MD_KINDS[] = {
  {"fallback-channel-key", "group_id", md_fallback},
  {"voice-frame-key", "media_key", md_voice_key},
  {"seed-key", "seed32 purpose", md_seed_key},
  {"oauth-recovery-seed", "provider token", md_oauth_seed},
  {"oauth-hash", "provider provider_user_id", md_oauth_hash},
  {"file-blob", "key nonce plaintext", md_file},
  {"file-open", "key blob", md_file_open},
  {"voice-frame", "key iv frame header_len", md_frame},
  {"voice-frame-open", "key frame header_len", md_frame_open},
  {0}};
const vlayer LAYER_MEDIA = {"media", "Harmony media, voice, export and recovery keys",
                            "upstream client/media/voice/migration/identity key derivations and formats: "
                            "crypto-facts 1.5, 6, 7",
                            MD_NOTES, MD_KINDS, media_generate};
