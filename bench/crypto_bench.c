/* crypto_bench - libharmony crypto throughput beside the raw libsodium / OpenSSL / jansson
 * figure for the same work, measured in the same run.
 *
 *   build/bin/crypto_bench [--samples N] [--quick]
 *
 * Output (stdout), a fixed line format:
 *   line 1:  "# env," followed by key=value pairs (date, cpu, cores, libsodium, openssl,
 *            compiler, build flags) so that runs can be compared;
 *   line 2:  the CSV header
 *     benchmark,impl,bytes_per_op,samples,ops_per_sample,min_us_per_op,p50_us_per_op,
 *     p99_us_per_op,max_us_per_op,p50_ops_per_s,p50_MB_per_s
 *   then one row per (benchmark, implementation). Each sample times ops_per_sample
 *   operations with CLOCK_MONOTONIC; the *_us_per_op columns are the min / median /
 *   99th percentile / max of sample_time / ops_per_sample; p50_ops_per_s = 1e6 / p50;
 *   p50_MB_per_s = bytes_per_op / p50 (MB = 10^6 bytes; 0 when throughput in bytes is
 *   not meaningful).
 * impl "harmony" is libharmony; the other rows are the reference doing the same work:
 *   ed25519_verify       libsodium crypto_sign_verify_detached, OpenSSL EVP_DigestVerify
 *   vp_verify            libsodium: the two bare signature checks a VP login needs
 *                        (presentation + its one credential) over the same signing inputs
 *   json_stringify       jansson json_loads + json_dumps of the same text (not key-order
 *                        faithful in general, shown as the "plain JSON library" figure)
 *   xchacha_seal_256B / _64KiB   libsodium crypto_aead_xchacha20poly1305_ietf_encrypt
 *   aes256gcm_seal_64KiB         OpenSSL EVP aes-256-gcm
 * Not run by the tests: it is a separate command. Build without sanitizers for real
 * numbers (the env line says which flags the binary was built with).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "bench_env.h"
#include "harmony/alloc.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/json.h"
#include "harmony/vc.h"

#ifndef HM_BENCH_FLAGS
#define HM_BENCH_FLAGS "unknown"
#endif

static int g_samples = 200;
static volatile int g_sink;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef int (*op_fn)(void *ctx);

/* Time `ops` calls of fn per sample, g_samples samples (after one warm-up sample). */
static void bench(const char *name, const char *impl, size_t bytes_per_op, int ops, op_fn fn, void *ctx) {
  double *t = malloc(sizeof(double) * (size_t)g_samples);
  if (!t) exit(1);
  for (int i = 0; i < ops; i++) g_sink += fn(ctx); /* warm-up */
  for (int s = 0; s < g_samples; s++) {
    double t0 = now_us();
    for (int i = 0; i < ops; i++) g_sink += fn(ctx);
    t[s] = (now_us() - t0) / ops;
  }
  qsort(t, (size_t)g_samples, sizeof *t, cmp_d);
  double p50 = t[g_samples / 2];
  size_t i99 = (size_t)(0.99 * (g_samples - 1) + 0.5);
  printf("%s,%s,%zu,%d,%d,%.3f,%.3f,%.3f,%.3f,%.1f,%.2f\n", name, impl, bytes_per_op, g_samples, ops, t[0], p50,
         t[i99], t[g_samples - 1], 1e6 / p50, bytes_per_op ? bytes_per_op / p50 : 0.0);
  fflush(stdout);
  free(t);
}

/* ---- Ed25519 verify ---- */
typedef struct {
  uint8_t pk[32], sig[64], msg[256];
  EVP_PKEY *pkey;
  EVP_MD_CTX *md;
} ed_ctx;

static int ed_harmony(void *p) {
  ed_ctx *c = p;
  return hm_ed25519_verify(c->sig, c->msg, sizeof c->msg, c->pk, HM_ED25519_STRICT);
}
static int ed_harmony_zip(void *p) {
  ed_ctx *c = p;
  return hm_ed25519_verify(c->sig, c->msg, sizeof c->msg, c->pk, HM_ED25519_ZIP215);
}
static int ed_sodium(void *p) {
  ed_ctx *c = p;
  return crypto_sign_verify_detached(c->sig, c->msg, sizeof c->msg, c->pk);
}
static int ed_openssl(void *p) {
  ed_ctx *c = p;
  if (EVP_DigestVerifyInit(c->md, NULL, NULL, NULL, c->pkey) != 1) return -1;
  return EVP_DigestVerify(c->md, c->sig, 64, c->msg, sizeof c->msg) == 1 ? 0 : -1;
}

/* ---- VP verify ---- */
typedef struct {
  hm_json *vp;
  hm_verify_opts opts;
  uint8_t pk[32], vp_sig[64], vc_sig[64];
  char *vp_input, *vc_input;
  size_t vp_len, vc_len;
} vp_ctx;

static int vp_harmony(void *p) {
  vp_ctx *c = p;
  return hm_vp_verify(c->vp, &c->opts, NULL);
}
static int vp_sodium(void *p) {
  vp_ctx *c = p;
  return crypto_sign_verify_detached(c->vp_sig, (const uint8_t *)c->vp_input, c->vp_len, c->pk) |
         crypto_sign_verify_detached(c->vc_sig, (const uint8_t *)c->vc_input, c->vc_len, c->pk);
}

/* ---- stringify ---- */
typedef struct {
  char *text;
  size_t len;
} js_ctx;

static int js_harmony(void *p) {
  js_ctx *c = p;
  hm_json *v = NULL;
  char *out = NULL;
  size_t n = 0;
  int rc = hm_json_parse(&v, c->text, c->len, 0, NULL);
  if (!rc) rc = hm_json_stringify(&out, &n, v);
  hm_json_free(v);
  hm_free(out);
  return rc;
}
static int js_jansson(void *p) {
  js_ctx *c = p;
  json_t *v = json_loadb(c->text, c->len, 0, NULL);
  char *out = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  int rc = out ? 0 : -1;
  free(out);
  json_decref(v);
  return rc;
}

/* ---- AEAD ---- */
typedef struct {
  uint8_t key[32], nonce[24];
  uint8_t *pt, *ct;
  size_t len;
  EVP_CIPHER_CTX *ev;
} ae_ctx;

static int xc_harmony(void *p) {
  ae_ctx *c = p;
  return hm_xchacha_seal(c->ct, c->key, c->nonce, c->pt, c->len, NULL, 0);
}
static int xc_sodium(void *p) {
  ae_ctx *c = p;
  unsigned long long cl;
  return crypto_aead_xchacha20poly1305_ietf_encrypt(c->ct, &cl, c->pt, c->len, NULL, 0, NULL, c->nonce, c->key);
}
static int gcm_harmony(void *p) {
  ae_ctx *c = p;
  return hm_aes256gcm_seal(c->ct, c->key, c->nonce, c->pt, c->len, NULL, 0);
}
static int gcm_openssl(void *p) {
  ae_ctx *c = p;
  int l1 = 0, l2 = 0;
  if (EVP_EncryptInit_ex(c->ev, EVP_aes_256_gcm(), NULL, c->key, c->nonce) != 1 ||
      EVP_EncryptUpdate(c->ev, c->ct, &l1, c->pt, (int)c->len) != 1 || EVP_EncryptFinal_ex(c->ev, c->ct + l1, &l2) != 1 ||
      EVP_CIPHER_CTX_ctrl(c->ev, EVP_CTRL_GCM_GET_TAG, 16, c->ct + c->len) != 1)
    return -1;
  return 0;
}

static void env_line(void) {
  char machine[512];
  bench_env_machine(machine, sizeof machine);
  printf("# env,%s,loadavg_note=shared machine,libsodium=%s,"
         "openssl=%s,jansson=%s,compiler=%s,flags=%s,samples=%d\n",
         machine, sodium_version_string(), OpenSSL_version(OPENSSL_VERSION), JANSSON_VERSION, __VERSION__,
         HM_BENCH_FLAGS, g_samples);
}

static char *make_json_doc(size_t *len) {
  /* ~100 KB of chat-like JSON: 300 messages with nested objects, escapes, non-ASCII */
  size_t cap = 256 * 1024, n = 0;
  char *s = malloc(cap);
  if (!s) exit(1);
  n += (size_t)snprintf(s + n, cap - n, "{\"type\":\"channel.history\",\"payload\":{\"messages\":[");
  for (int i = 0; i < 300; i++)
    n += (size_t)snprintf(s + n, cap - n,
                          "%s{\"id\":\"msg-%08d\",\"sender\":\"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK\","
                          "\"timestamp\":\"2025-06-01T12:%02d:%02d.000Z\",\"content\":{\"text\":\"hello \\\"world\\\" "
                          "\\u00e9\\u2028 line\\nnext %d\",\"epoch\":%d,\"ratio\":%d.25},\"reactions\":[\"+1\",\"ok\"],"
                          "\"clock\":{\"counter\":%d,\"authorDID\":\"did:key:z6Mk\"},\"1\":true}",
                          i ? "," : "", i, i / 60 % 60, i % 60, i, i % 7, i, i * 3);
  n += (size_t)snprintf(s + n, cap - n, "],\"hasMore\":false}}");
  *len = n;
  return s;
}

int main(int argc, char **argv) {
  int quick = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--samples") && i + 1 < argc) g_samples = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: crypto_bench [--samples N] [--quick]\n");
      return 2;
    }
  }
  if (quick) g_samples = 20;
  if (g_samples < 5) g_samples = 5;
  if (sodium_init() < 0) return 1;
  env_line();
  printf("benchmark,impl,bytes_per_op,samples,ops_per_sample,min_us_per_op,p50_us_per_op,p99_us_per_op,"
         "max_us_per_op,p50_ops_per_s,p50_MB_per_s\n");

  /* Ed25519 */
  ed_ctx ed;
  uint8_t seed[32];
  memset(&ed, 0, sizeof ed);
  crypto_generichash(seed, 32, (const uint8_t *)"crypto_bench/ed25519", 20, NULL, 0);
  for (size_t i = 0; i < sizeof ed.msg; i++) ed.msg[i] = (uint8_t)i;
  if (hm_ed25519_seed_keypair(ed.pk, NULL, seed) || hm_ed25519_sign(ed.sig, ed.msg, sizeof ed.msg, seed)) return 1;
  ed.pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, ed.pk, 32);
  ed.md = EVP_MD_CTX_new();
  if (!ed.pkey || !ed.md || ed_openssl(&ed) || ed_sodium(&ed) || ed_harmony(&ed) || ed_harmony_zip(&ed)) {
    fprintf(stderr, "ed25519 setup failed\n");
    return 1;
  }
  bench("ed25519_verify_256B", "harmony-strict", 0, 20, ed_harmony, &ed);
  bench("ed25519_verify_256B", "harmony-zip215", 0, 20, ed_harmony_zip, &ed);
  bench("ed25519_verify_256B", "libsodium", 0, 20, ed_sodium, &ed);
  bench("ed25519_verify_256B", "openssl", 0, 20, ed_openssl, &ed);
  EVP_MD_CTX_free(ed.md);
  EVP_PKEY_free(ed.pkey);

  /* VP verify: a login presentation holding one self-issued credential */
  {
    vp_ctx vc;
    memset(&vc, 0, sizeof vc);
    hm_identity id;
    memset(&id, 0, sizeof id);
    if (hm_identity_from_seed32(&id, seed)) return 1;
    const int64_t t0 = 1748779200000LL;
    hm_json *claims = NULL, *cred = NULL, *creds = hm_json_new_array();
    if (hm_json_parse(&claims, "{\"type\":\"IdentityAssertion\"}", 28, 0, NULL)) return 1;
    hm_vc_issue_params ip;
    memset(&ip, 0, sizeof ip);
    ip.issuer_did = id.did;
    ip.issuer_seed = id.seed32;
    ip.subject_did = id.did;
    ip.type = "IdentityAssertion";
    ip.claims = claims;
    ip.id = "urn:uuid:00112233445566778899aabbccddeeff";
    ip.issuance_date = "2025-06-01T12:00:00.000Z";
    ip.now_ms = t0;
    if (hm_vc_issue(&cred, &ip) || !creds || hm_json_array_append(creds, hm_json_clone(cred)) ||
        hm_vp_create(&vc.vp, id.did, id.seed32, creds, "2025-06-01T12:00:00.000Z", t0)) {
      fprintf(stderr, "vp setup failed\n");
      return 1;
    }
    memcpy(vc.pk, id.ed_pk, 32);
    /* the raw figure: the same two signature checks on the same signing inputs */
    if (hm_proof_signing_input(&vc.vp_input, &vc.vp_len, vc.vp) ||
        hm_proof_signing_input(&vc.vc_input, &vc.vc_len, cred) ||
        hm_ed25519_sign(vc.vp_sig, (const uint8_t *)vc.vp_input, vc.vp_len, id.seed32) ||
        hm_ed25519_sign(vc.vc_sig, (const uint8_t *)vc.vc_input, vc.vc_len, id.seed32))
      return 1;
    vc.opts.now_ms = t0 + 1000;
    vc.opts.profile = HM_PROFILE_COMPAT;
    if (vp_harmony(&vc) || vp_sodium(&vc)) {
      fprintf(stderr, "vp does not verify (compat)\n");
      return 1;
    }
    bench("vp_verify_1vc", "harmony-compat", 0, 10, vp_harmony, &vc);
    vc.opts.profile = HM_PROFILE_HARDENED;
    if (vp_harmony(&vc)) {
      fprintf(stderr, "vp does not verify (hardened)\n");
      return 1;
    }
    bench("vp_verify_1vc", "harmony-hardened", 0, 10, vp_harmony, &vc);
    bench("vp_verify_1vc", "libsodium-2sigs", 0, 10, vp_sodium, &vc);
    hm_json_free(vc.vp);
    hm_json_free(cred);
    hm_json_free(creds);
    hm_json_free(claims);
    hm_free(vc.vp_input);
    hm_free(vc.vc_input);
    hm_identity_clear(&id);
  }

  /* JSON stringify(parse(text)) */
  {
    js_ctx js;
    js.text = make_json_doc(&js.len);
    if (js_harmony(&js) || js_jansson(&js)) {
      fprintf(stderr, "json setup failed\n");
      return 1;
    }
    bench("json_parse_stringify", "harmony", js.len, 2, js_harmony, &js);
    bench("json_parse_stringify", "jansson", js.len, 2, js_jansson, &js);
    free(js.text);
  }

  /* AEAD */
  {
    static const size_t sizes[] = {256, 65536};
    for (int k = 0; k < 2; k++) {
      ae_ctx ae;
      memset(&ae, 0, sizeof ae);
      ae.len = sizes[k];
      ae.pt = calloc(1, ae.len);
      ae.ct = calloc(1, ae.len + 16);
      ae.ev = EVP_CIPHER_CTX_new();
      if (!ae.pt || !ae.ct || !ae.ev) return 1;
      randombytes_buf(ae.key, 32);
      randombytes_buf(ae.nonce, 24);
      char name[64];
      int ops = k ? 4 : 200;
      snprintf(name, sizeof name, "xchacha20poly1305_seal_%s", k ? "64KiB" : "256B");
      bench(name, "harmony", ae.len, ops, xc_harmony, &ae);
      bench(name, "libsodium", ae.len, ops, xc_sodium, &ae);
      snprintf(name, sizeof name, "aes256gcm_seal_%s", k ? "64KiB" : "256B");
      bench(name, "harmony", ae.len, ops, gcm_harmony, &ae);
      bench(name, "openssl", ae.len, ops, gcm_openssl, &ae);
      EVP_CIPHER_CTX_free(ae.ev);
      free(ae.pt);
      free(ae.ct);
    }
  }
  return g_sink == 0x7fffffff; /* keep results observable */
}
