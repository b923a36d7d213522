/* test_client_media.c - client rules of spec crypto.md that no server can show: channel files
 * (R-CRY-MEDIA-5), recovery approvals and request ids (R-CRY-REC-1/2), and how DMs are
 * described (R-CRY-DM-9). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/client.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/json.h"
#include "harmony/mediakeys.h"
#include "harmony/mls.h"
#include "harmony/vc.h"

static int64_t fake_now = 1795000000000LL;
static int64_t env_now(void *ctx) {
  (void)ctx;
  return fake_now;
}
/* A counter as "random" source, so that two calls never repeat and tests can see the draws. */
static uint8_t rand_ctr;
static void env_rand(void *ctx, uint8_t *b, size_t n) {
  (void)ctx;
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(rand_ctr + i * 7);
  rand_ctr++;
}

typedef struct {
  hm_identity id;
  hm_client *c;
} peer;

static void peer_init(peer *p, uint8_t seedbyte, int real_random) {
  memset(p, 0, sizeof *p);
  uint8_t seed[32];
  memset(seed, seedbyte, sizeof seed);
  assert_int_equal(hm_identity_from_seed32(&p->id, seed), HM_OK);
  hm_client_env env = {env_now, real_random ? NULL : env_rand, NULL};
  assert_int_equal(hm_client_new(&p->c, &env, &p->id), HM_OK);
}

static void peer_clear(peer *p) {
  hm_client_free(p->c);
  hm_identity_clear(&p->id);
}

static void b64(char *out, size_t cap, const uint8_t *p, size_t n) {
  assert_int_equal(hm_base64_encode(out, cap, p, n, 0), HM_OK);
}

/* Give c two groups by import: community "C", channel "enc" with 2 members (epoch 3, secret
 * 0x42...) and channel "solo" with only c (epoch 0). */
static const uint8_t SECRET_BYTE = 0x42;
static void import_groups(peer *p, const peer *other) {
  uint8_t secret[32];
  memset(secret, SECRET_BYTE, sizeof secret);
  char s64[64], e1[64], s1[64], e2[64], s2[64];
  b64(s64, sizeof s64, secret, 32);
  b64(e1, sizeof e1, p->id.x_pk, 32);
  b64(s1, sizeof s1, p->id.ed_pk, 32);
  b64(e2, sizeof e2, other->id.x_pk, 32);
  b64(s2, sizeof s2, other->id.ed_pk, 32);
  char buf[4096];
  snprintf(buf, sizeof buf,
           "[{\"communityId\":\"C\",\"channelId\":\"enc\",\"epoch\":3,\"myLeafIndex\":0,\"creator\":true,"
           "\"epochSecret\":{\"__type\":\"Uint8Array\",\"data\":\"%s\"},\"members\":["
           "{\"leafIndex\":0,\"did\":\"%s\",\"encryptionKey\":{\"__type\":\"Uint8Array\",\"data\":\"%s\"},"
           "\"signatureKey\":{\"__type\":\"Uint8Array\",\"data\":\"%s\"}},"
           "{\"leafIndex\":1,\"did\":\"%s\",\"encryptionKey\":{\"__type\":\"Uint8Array\",\"data\":\"%s\"},"
           "\"signatureKey\":{\"__type\":\"Uint8Array\",\"data\":\"%s\"}}]},"
           "{\"communityId\":\"C\",\"channelId\":\"solo\",\"epoch\":0,\"myLeafIndex\":0,\"creator\":true,"
           "\"epochSecret\":{\"__type\":\"Uint8Array\",\"data\":\"%s\"},\"members\":["
           "{\"leafIndex\":0,\"did\":\"%s\",\"encryptionKey\":{\"__type\":\"Uint8Array\",\"data\":\"%s\"},"
           "\"signatureKey\":{\"__type\":\"Uint8Array\",\"data\":\"%s\"}}]}]",
           s64, p->id.did, e1, s1, other->id.did, e2, s2, s64, p->id.did, e1, s1);
  assert_int_equal(hm_client_mls_import(p->c, buf, strlen(buf)), HM_OK);
  uint64_t ep = 0;
  size_t n = 0;
  assert_int_equal(hm_client_mls_info(p->c, "C", "enc", &ep, &n), HM_OK);
  assert_int_equal(n, 2);
  assert_int_equal(hm_client_mls_info(p->c, "C", "solo", &ep, &n), HM_OK);
  assert_int_equal(n, 1);
}

static const uint8_t FILE_BYTES[] = "the file's bytes: not for the server";
#define FILE_LEN (sizeof FILE_BYTES - 1)

/* ---- R-CRY-MEDIA-5 ---------------------------------------------------------------------- */

static void test_client_media_seal_uses_group_media_key(void **st) {
  (void)st;
  peer a, b;
  peer_init(&a, 31, 0);
  peer_init(&b, 32, 0);
  import_groups(&a, &b);
  uint8_t *blob = NULL;
  size_t bl = 0;
  hm_json *ref = NULL;
  hm_client_media_protection prot = 0;
  assert_int_equal(hm_client_media_seal(a.c, "C", "enc", "a.txt", "text/plain", FILE_BYTES, FILE_LEN, 0, &blob,
                                        &bl, &ref, &prot),
                   HM_OK);
  assert_int_equal(prot, HM_CLIENT_MEDIA_E2EE);
  assert_int_equal(bl, FILE_LEN + HM_MEDIA_BLOB_OVERHEAD);
  /* It opens under the epoch's MLS media key, and under no other key. */
  uint8_t secret[32], key[32], out[FILE_LEN];
  memset(secret, SECRET_BYTE, sizeof secret);
  assert_int_equal(hm_mls_epoch_key(key, secret, HM_MLS_MEDIA, 3), HM_OK);
  assert_int_equal(hm_media_file_open(out, key, blob, bl), HM_OK);
  assert_memory_equal(out, FILE_BYTES, FILE_LEN);
  assert_int_equal(hm_media_fallback_key(key, "C:enc"), HM_OK);
  assert_int_equal(hm_media_file_open(out, key, blob, bl), HM_ERR_AUTH_TAG);
  memset(key, 0, sizeof key);
  assert_int_equal(hm_media_file_open(out, key, blob, bl), HM_ERR_AUTH_TAG);
  /* The reference: upstream's keys in order, without the plaintext checksum. */
  const char *want[] = {"id", "filename", "contentType", "size", "originalSize", "encryptedChecksum",
                        "uploadedBy", "uploadedAt", "url"};
  assert_int_equal(hm_json_object_size(ref), sizeof want / sizeof want[0]);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    size_t kl = 0;
    const char *k = hm_json_object_key_at(ref, i, &kl);
    assert_int_equal(kl, strlen(want[i]));
    assert_memory_equal(k, want[i], kl);
  }
  assert_null(hm_json_object_getc(ref, "checksum"));
  uint8_t h[32];
  char hex[65], sum[80], url[80];
  crypto_hash_sha256(h, blob, bl);
  (void)hm_hex_encode(hex, sizeof hex, h, 32);
  snprintf(sum, sizeof sum, "sha256:%s", hex);
  assert_true(hm_json_string_is(hm_json_object_getc(ref, "encryptedChecksum"), sum));
  /* The plaintext hash appears nowhere in the reference. */
  crypto_hash_sha256(h, FILE_BYTES, FILE_LEN);
  (void)hm_hex_encode(hex, sizeof hex, h, 32);
  char *rt = NULL;
  assert_int_equal(hm_json_stringify(&rt, NULL, ref), HM_OK);
  assert_null(strstr(rt, hex));
  hm_free(rt);
  assert_int_equal((size_t)hm_json_number(hm_json_object_getc(ref, "size")), bl);
  assert_int_equal((size_t)hm_json_number(hm_json_object_getc(ref, "originalSize")), FILE_LEN);
  assert_true(hm_json_string_is(hm_json_object_getc(ref, "uploadedBy"), a.id.did));
  snprintf(url, sizeof url, "/files/%s", hm_json_string(hm_json_object_getc(ref, "id"), NULL));
  assert_true(hm_json_string_is(hm_json_object_getc(ref, "url"), url));
  assert_int_equal(strlen(hm_json_string(hm_json_object_getc(ref, "id"), NULL)), 32);
  /* The other member opens it as end-to-end encrypted. */
  peer b2;
  peer_init(&b2, 32, 0);
  import_groups(&b2, &a);
  uint8_t *file = NULL;
  size_t fl = 0;
  prot = 0;
  assert_int_equal(hm_client_media_open(b2.c, "C", "enc", ref, blob, bl, &file, &fl, &prot), HM_OK);
  assert_int_equal(prot, HM_CLIENT_MEDIA_E2EE);
  assert_int_equal(fl, FILE_LEN);
  assert_memory_equal(file, FILE_BYTES, FILE_LEN);
  hm_free(file);
  /* A changed blob fails the encrypted checksum before any decryption. */
  blob[bl - 1] ^= 1;
  assert_int_equal(hm_client_media_open(b2.c, "C", "enc", ref, blob, bl, &file, &fl, &prot), HM_ERR_CHECKSUM);
  assert_null(file);
  /* Without a reference it fails authentication. */
  assert_int_equal(hm_client_media_open(b2.c, "C", "enc", NULL, blob, bl, &file, &fl, &prot), HM_ERR_AUTH_TAG);
  hm_free(blob);
  hm_json_free(ref);
  peer_clear(&a);
  peer_clear(&b);
  peer_clear(&b2);
}

static void test_client_media_seal_without_group_refuses_or_labels_fallback(void **st) {
  (void)st;
  peer a, b;
  peer_init(&a, 33, 0);
  peer_init(&b, 34, 0);
  import_groups(&a, &b);
  uint8_t *blob = (uint8_t *)"untouched";
  size_t bl = 7;
  hm_json *ref = NULL;
  hm_client_media_protection prot = 0;
  /* A channel without a group, and a group of one: refused unless the user allows the
   * fallback; nothing is produced. */
  const char *chans[] = {"none", "solo"};
  for (int i = 0; i < 2; i++) {
    blob = (uint8_t *)"untouched";
    assert_int_equal(hm_client_media_seal(a.c, "C", chans[i], "a.txt", "text/plain", FILE_BYTES, FILE_LEN, 0,
                                          &blob, &bl, &ref, &prot),
                     HM_ERR_NOT_FOUND);
    assert_null(blob);
    assert_int_equal(bl, 0);
    assert_null(ref);
    /* Allowed: the fallback key, reported as not end-to-end encrypted. */
    assert_int_equal(hm_client_media_seal(a.c, "C", chans[i], "a.txt", "text/plain", FILE_BYTES, FILE_LEN, 1,
                                          &blob, &bl, &ref, &prot),
                     HM_OK);
    assert_int_equal(prot, HM_CLIENT_MEDIA_FALLBACK);
    assert_null(hm_json_object_getc(ref, "checksum"));
    uint8_t key[32], out[FILE_LEN];
    char gid[32];
    snprintf(gid, sizeof gid, "C:%s", chans[i]);
    assert_int_equal(hm_media_fallback_key(key, gid), HM_OK);
    assert_int_equal(hm_media_file_open(out, key, blob, bl), HM_OK);
    assert_memory_equal(out, FILE_BYTES, FILE_LEN);
    /* Never the all-zero key. */
    memset(key, 0, sizeof key);
    assert_int_equal(hm_media_file_open(out, key, blob, bl), HM_ERR_AUTH_TAG);
    /* Opened by anyone with the channel's ids, marked as not end-to-end encrypted. */
    uint8_t *file = NULL;
    size_t fl = 0;
    prot = 0;
    assert_int_equal(hm_client_media_open(b.c, "C", chans[i], ref, blob, bl, &file, &fl, &prot), HM_OK);
    assert_int_equal(prot, HM_CLIENT_MEDIA_FALLBACK);
    assert_memory_equal(file, FILE_BYTES, FILE_LEN);
    hm_free(file);
    hm_free(blob);
    hm_json_free(ref);
    ref = NULL;
  }
  peer_clear(&a);
  peer_clear(&b);
}

/* Upstream files: under the all-zero key (a download without community context) and with
 * upstream's plaintext checksum; both open, marked unencrypted, and the checksum is checked. */
static void test_client_media_open_upstream_zero_key_marked(void **st) {
  (void)st;
  peer a, b;
  peer_init(&a, 35, 0);
  peer_init(&b, 36, 0);
  import_groups(&a, &b);
  uint8_t key[32] = {0}, nonce[24], blob[FILE_LEN + HM_MEDIA_BLOB_OVERHEAD];
  memset(nonce, 9, sizeof nonce);
  assert_int_equal(hm_media_file_seal(blob, key, nonce, FILE_BYTES, FILE_LEN), HM_OK);
  uint8_t h[32];
  char hex[65], sum[80], esum[80], buf[400];
  crypto_hash_sha256(h, FILE_BYTES, FILE_LEN);
  (void)hm_hex_encode(hex, sizeof hex, h, 32);
  snprintf(sum, sizeof sum, "sha256:%s", hex);
  crypto_hash_sha256(h, blob, sizeof blob);
  (void)hm_hex_encode(hex, sizeof hex, h, 32);
  snprintf(esum, sizeof esum, "sha256:%s", hex);
  snprintf(buf, sizeof buf, "{\"id\":\"f\",\"checksum\":\"%s\",\"encryptedChecksum\":\"%s\"}", sum, esum);
  hm_json *ref = NULL;
  assert_int_equal(hm_json_parse(&ref, buf, strlen(buf), 0, NULL), HM_OK);
  uint8_t *file = NULL;
  size_t fl = 0;
  hm_client_media_protection prot = 0;
  /* Even in a channel with an encrypted group: the group key fails, the zero key opens it. */
  assert_int_equal(hm_client_media_open(a.c, "C", "enc", ref, blob, sizeof blob, &file, &fl, &prot), HM_OK);
  assert_int_equal(prot, HM_CLIENT_MEDIA_ZERO_KEY);
  assert_int_equal(fl, FILE_LEN);
  assert_memory_equal(file, FILE_BYTES, FILE_LEN);
  hm_free(file);
  hm_json_free(ref);
  /* A wrong plaintext checksum fails the download. */
  sum[10] = sum[10] == '0' ? '1' : '0';
  snprintf(buf, sizeof buf, "{\"id\":\"f\",\"checksum\":\"%s\",\"encryptedChecksum\":\"%s\"}", sum, esum);
  assert_int_equal(hm_json_parse(&ref, buf, strlen(buf), 0, NULL), HM_OK);
  file = NULL;
  assert_int_equal(hm_client_media_open(a.c, "C", "enc", ref, blob, sizeof blob, &file, &fl, &prot), HM_ERR_CHECKSUM);
  assert_null(file);
  hm_json_free(ref);
  /* Under a key nobody knows: refused. */
  memset(key, 7, sizeof key);
  assert_int_equal(hm_media_file_seal(blob, key, nonce, FILE_BYTES, FILE_LEN), HM_OK);
  assert_int_equal(hm_client_media_open(a.c, "C", "enc", NULL, blob, sizeof blob, &file, &fl, &prot), HM_ERR_AUTH_TAG);
  assert_int_equal(hm_client_media_open(a.c, "C", "enc", NULL, blob, 39, &file, &fl, &prot), HM_ERR_DECODE);
  peer_clear(&a);
  peer_clear(&b);
}

/* ---- R-CRY-REC-1 / R-CRY-REC-2 ------------------------------------------------------------ */

static void test_client_recovery_request_id_from_csprng(void **st) {
  (void)st;
  peer a;
  peer_init(&a, 41, 1); /* the default random source (libsodium) */
  char id1[HM_CLIENT_RECOVERY_ID_LEN + 1], id2[HM_CLIENT_RECOVERY_ID_LEN + 1];
  assert_int_equal(hm_client_recovery_request_id(a.c, id1, sizeof id1), HM_OK);
  assert_int_equal(hm_client_recovery_request_id(a.c, id2, sizeof id2), HM_OK);
  assert_int_equal(strlen(id1), 9 + 32);
  assert_memory_equal(id1, "recovery:", 9);
  for (size_t i = 9; i < strlen(id1); i++) assert_non_null(strchr("0123456789abcdef", id1[i]));
  assert_string_not_equal(id1, id2);
  assert_int_equal(hm_client_recovery_request_id(a.c, id1, HM_CLIENT_RECOVERY_ID_LEN), HM_ERR_INVAL);
  peer_clear(&a);
  /* With a shell's source: exactly 16 bytes drawn, hex-encoded. */
  peer b;
  peer_init(&b, 42, 0);
  rand_ctr = 5;
  assert_int_equal(hm_client_recovery_request_id(b.c, id1, sizeof id1), HM_OK);
  uint8_t r[16];
  char hex[33];
  rand_ctr = 5;
  env_rand(NULL, r, sizeof r);
  (void)hm_hex_encode(hex, sizeof hex, r, sizeof r);
  assert_string_equal(id1 + 9, hex);
  peer_clear(&b);
}

static void test_client_recovery_approval_signs_request_and_approver(void **st) {
  (void)st;
  peer g;
  peer_init(&g, 43, 1);
  hm_json *a = NULL;
  assert_int_equal(hm_client_recovery_approve(g.c, "recovery:abc", &a), HM_OK);
  /* Shape of R-CRY-REC-1, keys in order. */
  const char *want[] = {"requestId", "approverDID", "approvedAt", "proof"};
  assert_int_equal(hm_json_object_size(a), 4);
  for (size_t i = 0; i < 4; i++) {
    size_t kl = 0;
    const char *k = hm_json_object_key_at(a, i, &kl);
    assert_int_equal(kl, strlen(want[i]));
    assert_memory_equal(k, want[i], kl);
  }
  const hm_json *proof = hm_json_object_getc(a, "proof");
  assert_true(hm_json_string_is(hm_json_object_getc(proof, "type"), "Ed25519Signature2020"));
  assert_true(hm_json_string_is(hm_json_object_getc(proof, "proofPurpose"), "authentication"));
  char vm[200];
  assert_int_equal(hm_vc_default_vm(vm, sizeof vm, g.id.did), HM_OK);
  assert_true(hm_json_string_is(hm_json_object_getc(proof, "verificationMethod"), vm));
  /* The signature is over exactly JSON.stringify({requestId, approverDID}). */
  const char *pv = hm_json_string(hm_json_object_getc(proof, "proofValue"), NULL);
  uint8_t sig[64];
  size_t sl = 0;
  assert_int_equal(hm_multibase_decode_b58(sig, sizeof sig, &sl, pv, strlen(pv)), HM_OK);
  assert_int_equal(sl, 64);
  char msg[300];
  snprintf(msg, sizeof msg, "{\"requestId\":\"recovery:abc\",\"approverDID\":\"%s\"}", g.id.did);
  assert_int_equal(hm_ed25519_verify(sig, (const uint8_t *)msg, strlen(msg), g.id.ed_pk, HM_ED25519_STRICT), HM_OK);
  assert_int_equal(hm_client_recovery_approval_verify(a, "recovery:abc"), HM_OK);
  /* Not valid for another request. */
  assert_int_equal(hm_client_recovery_approval_verify(a, "recovery:abd"), HM_ERR_STRUCTURE);
  /* approvedAt and proof.created are not signed (upstream's format): changing them keeps it
   * valid; changing the approver breaks it. */
  assert_int_equal(hm_json_object_setc(a, "approvedAt", hm_json_new_cstr("2000-01-01T00:00:00.000Z")), HM_OK);
  assert_int_equal(hm_client_recovery_approval_verify(a, "recovery:abc"), HM_OK);
  peer other;
  peer_init(&other, 44, 1);
  hm_json *forged = hm_json_clone(a);
  assert_int_equal(hm_json_object_setc(forged, "approverDID", hm_json_new_cstr(other.id.did)), HM_OK);
  /* With its own method id it is a bad signature; with g's method id not its method. */
  assert_int_equal(hm_client_recovery_approval_verify(forged, "recovery:abc"), HM_ERR_PURPOSE);
  char vm2[200];
  assert_int_equal(hm_vc_default_vm(vm2, sizeof vm2, other.id.did), HM_OK);
  assert_int_equal(hm_json_object_setc(hm_json_object_getc(forged, "proof"), "verificationMethod", hm_json_new_cstr(vm2)),
                   HM_OK);
  assert_int_equal(hm_client_recovery_approval_verify(forged, "recovery:abc"), HM_ERR_BADSIG);
  hm_json_free(forged);
  /* Wrong purpose / type. */
  forged = hm_json_clone(a);
  assert_int_equal(hm_json_object_setc(hm_json_object_getc(forged, "proof"), "proofPurpose", hm_json_new_cstr("assertionMethod")),
                   HM_OK);
  assert_int_equal(hm_client_recovery_approval_verify(forged, "recovery:abc"), HM_ERR_PURPOSE);
  hm_json_free(forged);
  forged = hm_json_clone(a);
  assert_int_equal(hm_json_object_setc(hm_json_object_getc(forged, "proof"), "type", hm_json_new_cstr("Other")), HM_OK);
  assert_int_equal(hm_client_recovery_approval_verify(forged, "recovery:abc"), HM_ERR_UNSUPPORTED);
  hm_json_free(forged);
  hm_json_free(a);
  peer_clear(&g);
  peer_clear(&other);
}

static void test_client_recovery_count_only_valid_trusted_distinct(void **st) {
  (void)st;
  peer g1, g2, g3, outsider;
  peer_init(&g1, 51, 1);
  peer_init(&g2, 52, 1);
  peer_init(&g3, 53, 1);
  peer_init(&outsider, 54, 1);
  const char *rid = "recovery:00112233445566778899aabbccddeeff";
  const char *trusted[] = {g1.id.did, g2.id.did, g3.id.did};
  hm_json *arr = hm_json_new_array(), *ap = NULL;
  assert_non_null(arr);
  /* g1 approves twice (counted once). */
  for (int i = 0; i < 2; i++) {
    assert_int_equal(hm_client_recovery_approve(g1.c, rid, &ap), HM_OK);
    assert_int_equal(hm_json_array_append(arr, ap), HM_OK);
  }
  /* An outsider's valid approval (not trusted). */
  assert_int_equal(hm_client_recovery_approve(outsider.c, rid, &ap), HM_OK);
  assert_int_equal(hm_json_array_append(arr, ap), HM_OK);
  /* g2's approval of another request. */
  assert_int_equal(hm_client_recovery_approve(g2.c, "recovery:other", &ap), HM_OK);
  assert_int_equal(hm_json_array_append(arr, ap), HM_OK);
  /* g3 named, but signed by the outsider (upstream would count it: it checks no signature). */
  assert_int_equal(hm_client_recovery_approve(outsider.c, rid, &ap), HM_OK);
  char vm[200];
  assert_int_equal(hm_vc_default_vm(vm, sizeof vm, g3.id.did), HM_OK);
  assert_int_equal(hm_json_object_setc(ap, "approverDID", hm_json_new_cstr(g3.id.did)), HM_OK);
  assert_int_equal(hm_json_object_setc(hm_json_object_getc(ap, "proof"), "verificationMethod", hm_json_new_cstr(vm)), HM_OK);
  assert_int_equal(hm_json_array_append(arr, ap), HM_OK);
  /* g3 with no proof at all. */
  char buf[300];
  snprintf(buf, sizeof buf, "{\"requestId\":\"%s\",\"approverDID\":\"%s\",\"approvedAt\":\"x\"}", rid, g3.id.did);
  hm_json *np = NULL;
  assert_int_equal(hm_json_parse(&np, buf, strlen(buf), 0, NULL), HM_OK);
  assert_int_equal(hm_json_array_append(arr, np), HM_OK);
  size_t n = 99;
  assert_int_equal(hm_client_recovery_count(rid, trusted, 3, arr, &n), HM_OK);
  assert_int_equal(n, 1); /* only g1, once */
  /* g2's approval of this request makes two; g3's own makes three. */
  assert_int_equal(hm_client_recovery_approve(g2.c, rid, &ap), HM_OK);
  assert_int_equal(hm_json_array_append(arr, ap), HM_OK);
  assert_int_equal(hm_client_recovery_count(rid, trusted, 3, arr, &n), HM_OK);
  assert_int_equal(n, 2);
  assert_int_equal(hm_client_recovery_approve(g3.c, rid, &ap), HM_OK);
  assert_int_equal(hm_json_array_append(arr, ap), HM_OK);
  assert_int_equal(hm_client_recovery_count(rid, trusted, 3, arr, &n), HM_OK);
  assert_int_equal(n, 3);
  /* With a trusted list naming g1 twice, g1 still counts once. */
  const char *dup[] = {g1.id.did, g1.id.did};
  assert_int_equal(hm_client_recovery_count(rid, dup, 2, arr, &n), HM_OK);
  assert_int_equal(n, 1);
  assert_int_equal(hm_client_recovery_count(rid, trusted, 0, arr, &n), HM_OK);
  assert_int_equal(n, 0);
  hm_json_free(arr);
  peer_clear(&g1);
  peer_clear(&g2);
  peer_clear(&g3);
  peer_clear(&outsider);
}

/* ---- R-CRY-DM-9 ---------------------------------------------------------------------------- */

/* The description says what the DM key is (long-term, shared by both, no forward secrecy),
 * and there is no weaker mode: every DM content the client builds is sealed under that key,
 * and a peer whose key cannot be verified gets nothing. */
static void test_client_dm_protection_described_no_weaker_mode(void **st) {
  (void)st;
  const char *d = hm_client_dm_protection();
  assert_non_null(strstr(d, "long-term key"));
  assert_non_null(strstr(d, "shared by the two"));
  assert_non_null(strstr(d, "no forward secrecy"));
  peer a, b;
  peer_init(&a, 61, 1);
  peer_init(&b, 62, 1);
  hm_json *content = NULL;
  assert_int_equal(hm_client_dm_seal(a.c, b.id.did, "hi b", &content), HM_OK);
  assert_non_null(hm_json_object_getc(content, "nonce"));
  char *text = NULL;
  assert_int_equal(hm_json_stringify(&text, NULL, content), HM_OK);
  assert_null(strstr(text, "hi b"));
  hm_free(text);
  /* The same long-term key both ways: b opens it with a's DID and nothing else. */
  hm_client_e2e e2e = HM_CLIENT_E2E_NONE;
  assert_int_equal(hm_client_dm_open(b.c, a.id.did, content, &text, &e2e), HM_OK);
  assert_int_equal(e2e, HM_CLIENT_E2E_DECRYPTED);
  assert_string_equal(text, "hi b");
  hm_free(text);
  hm_json_free(content);
  content = NULL;
  assert_int_equal(hm_client_dm_seal(a.c, "did:web:example.com", "x", &content), HM_ERR_DID);
  assert_null(content);
  peer_clear(&a);
  peer_clear(&b);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_media_seal_uses_group_media_key),
      cmocka_unit_test(test_client_media_seal_without_group_refuses_or_labels_fallback),
      cmocka_unit_test(test_client_media_open_upstream_zero_key_marked),
      cmocka_unit_test(test_client_recovery_request_id_from_csprng),
      cmocka_unit_test(test_client_recovery_approval_signs_request_and_approver),
      cmocka_unit_test(test_client_recovery_count_only_valid_trusted_distinct),
      cmocka_unit_test(test_client_dm_protection_described_no_weaker_mode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
