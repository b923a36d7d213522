/* mls_bench - client-side cost of upstream's simplified MLS in libharmony (harmony/mls.h),
 * issue #7 "Workloads", MLS bullet. Everything runs in this process; no server.
 *
 *   build/bin/mls_bench [--samples N] [--max-group N] [--quick]
 *
 * Output (stdout), a fixed line format:
 *   line 1:  "# env," key=value pairs (date, host, cpu, cores, libsodium, compiler, flags);
 *   line 2:  the CSV header
 *     benchmark,impl,group_size,bytes_per_op,samples,ops_per_sample,min_us_per_op,
 *     p50_us_per_op,p99_us_per_op,max_us_per_op,p50_ops_per_s,p50_x_raw
 *   then one row per (benchmark, impl, group size). Each sample times ops_per_sample
 *   operations with CLOCK_MONOTONIC; *_us_per_op are the min / median / 99th percentile /
 *   max of sample_time / ops_per_sample; p50_ops_per_s = 1e6 / p50. p50_x_raw is the
 *   harmony row's p50 divided by the raw libsodium row's p50 for the same work (1.00 on the
 *   raw rows; empty where there is no raw counterpart).
 * Rows:
 *   msg_seal_<S>B   harmony: hm_mls_message_seal (epoch key HKDF + XChaCha20-Poly1305) with a
 *                   fresh random nonce; raw: randombytes nonce + crypto_aead_xchacha20poly1305_
 *                   ietf_encrypt under a fixed key. S = 256 and 4096; group_size 0 (n/a).
 *   msg_open_<S>B   hm_mls_message_open vs crypto_aead_xchacha20poly1305_ietf_decrypt.
 *   For each group size N = 2, 4, ..., --max-group (default 1024):
 *   add_commit_build    the committer adds one member to a group of N-1 (the group becomes
 *                   N): verify the joiner's KeyPackage (hardened) and build the Commit (one
 *                   add). bytes_per_op = the Commit's size.
 *   welcome_build   the committer's Welcome for that joiner: the GroupState JSON of N members,
 *                   sealed to the joiner's initKey, wrapped in the Welcome object.
 *                   bytes_per_op = the Welcome's size (it grows with N).
 *   add_commit_verify   one existing member processes that Commit: hm_mls_commit_verify
 *                   (hardened) over the rebuilt signing input, then the epoch advance and the
 *                   new message key. Per member; N-2 members do this.
 *   welcome_open    the joiner: parse the Welcome JSON, decode encryptedGroupState, open it,
 *                   parse the GroupState JSON of N members. Per joiner.
 *   create_commit_build   the creator makes a group of N at once: N-1 KeyPackages verified
 *                   and one Commit with N-1 add proposals. The whole creation also needs N-1
 *                   Welcomes of about welcome_build each (so it grows as N^2).
 *   create_commit_verify   a member checks the signature of that N-1-proposal Commit.
 * Small group sizes use many samples, large ones fewer: the sample count is chosen so a row
 * takes about 0.3 s (at least 3 samples, at most --samples).
 * Not run by the tests. Build without sanitizers for real numbers (the env line says).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bench_env.h"
#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/json.h"
#include "harmony/mls.h"

#ifndef HM_BENCH_FLAGS
#define HM_BENCH_FLAGS "unknown"
#endif

static int g_samples = 200;
static double g_budget_us = 300000.0;
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

static void die(const char *what, int rc) {
  fprintf(stderr, "mls_bench: %s failed (%d)\n", what, rc);
  exit(1);
}

typedef int (*op_fn)(void *ctx);

/* Runs the row and prints it; returns its p50 (us per op). raw_p50 > 0 fills p50_x_raw. */
static double bench(const char *name, const char *impl, int group, size_t bytes, op_fn fn, void *ctx,
                    double raw_p50) {
  /* warm-up, and a first estimate of the cost of one op */
  double t0 = now_us();
  int rc = fn(ctx);
  if (rc) die(name, rc);
  double one = now_us() - t0;
  int ops = one < 50 ? (int)(200 / (one + 0.01)) + 1 : 1; /* samples of >= ~200 us */
  if (ops > 1000) ops = 1000;
  int samples = (int)(g_budget_us / (one * ops + 1));
  if (samples > g_samples) samples = g_samples;
  if (samples < 3) samples = 3;
  double *t = malloc(sizeof(double) * (size_t)samples);
  if (!t) exit(1);
  for (int s = 0; s < samples; s++) {
    double a = now_us();
    for (int i = 0; i < ops; i++) g_sink += fn(ctx);
    t[s] = (now_us() - a) / ops;
  }
  qsort(t, (size_t)samples, sizeof *t, cmp_d);
  double p50 = t[samples / 2];
  size_t i99 = (size_t)(0.99 * (samples - 1) + 0.5);
  char ratio[32] = "";
  if (raw_p50 > 0) snprintf(ratio, sizeof ratio, "%.2f", p50 / raw_p50);
  if (!strcmp(impl, "raw")) snprintf(ratio, sizeof ratio, "1.00");
  printf("%s,%s,%d,%zu,%d,%d,%.3f,%.3f,%.3f,%.3f,%.1f,%s\n", name, impl, group, bytes, samples, ops, t[0], p50,
         t[i99], t[samples - 1], 1e6 / p50, ratio);
  fflush(stdout);
  free(t);
  return p50;
}

/* ---- application messages ---- */

typedef struct {
  size_t len;
  uint8_t secret[32], key[32], nonce[24];
  uint8_t *pt, *ct, *out, *sealed, *raw_sealed;
} msg_ctx;

static int seal_harmony(void *p) {
  msg_ctx *c = p;
  randombytes_buf(c->nonce, sizeof c->nonce);
  return hm_mls_message_seal(c->ct, c->secret, 7, c->nonce, c->pt, c->len);
}
static int seal_raw(void *p) {
  msg_ctx *c = p;
  unsigned long long n = 0;
  randombytes_buf(c->nonce, sizeof c->nonce);
  return crypto_aead_xchacha20poly1305_ietf_encrypt(c->ct + 24, &n, c->pt, c->len, NULL, 0, NULL, c->nonce, c->key);
}
static int open_harmony(void *p) {
  msg_ctx *c = p;
  return hm_mls_message_open(c->out, c->secret, 7, 7, c->sealed, c->len + HM_MLS_OVERHEAD);
}
static int open_raw(void *p) {
  msg_ctx *c = p;
  unsigned long long n = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(c->out, &n, NULL, c->raw_sealed + 24, c->len + 16, NULL, 0,
                                                    c->raw_sealed, c->key);
}

static void message_rows(size_t len) {
  msg_ctx c = {0};
  c.len = len;
  randombytes_buf(c.secret, 32);
  randombytes_buf(c.key, 32);
  c.pt = malloc(len);
  c.ct = malloc(len + HM_MLS_OVERHEAD);
  c.out = malloc(len + 1);
  c.sealed = malloc(len + HM_MLS_OVERHEAD);
  c.raw_sealed = malloc(len + HM_MLS_OVERHEAD);
  randombytes_buf(c.pt, len);
  uint8_t nonce[24];
  randombytes_buf(nonce, 24);
  int rc = hm_mls_message_seal(c.sealed, c.secret, 7, nonce, c.pt, len);
  if (rc) die("seal", rc);
  memcpy(c.raw_sealed, nonce, 24);
  unsigned long long n = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(c.raw_sealed + 24, &n, c.pt, len, NULL, 0, NULL, nonce, c.key);
  char name[32];
  snprintf(name, sizeof name, "msg_seal_%zuB", len);
  double raw = bench(name, "raw", 0, len, seal_raw, &c, 0);
  bench(name, "harmony", 0, len, seal_harmony, &c, raw);
  snprintf(name, sizeof name, "msg_open_%zuB", len);
  raw = bench(name, "raw", 0, len, open_raw, &c, 0);
  bench(name, "harmony", 0, len, open_harmony, &c, raw);
  free(c.pt);
  free(c.ct);
  free(c.out);
  free(c.sealed);
  free(c.raw_sealed);
}

/* ---- groups ---- */

typedef struct {
  hm_identity id;
  char *kp; /* key package JSON */
  size_t kp_len;
} member;

static member *g_members;
static int g_max;

static void members_make(int n) {
  g_members = calloc((size_t)n, sizeof *g_members);
  if (!g_members) exit(1);
  for (int i = 0; i < n; i++) {
    uint8_t seed[32];
    randombytes_buf(seed, 32);
    int rc = hm_identity_from_seed32(&g_members[i].id, seed);
    if (rc) die("identity", rc);
    rc = hm_mls_keypackage_create(&g_members[i].kp, &g_members[i].kp_len, g_members[i].id.x_pk,
                                  g_members[i].id.ed_pk, g_members[i].id.seed32, g_members[i].id.did);
    if (rc) die("keypackage", rc);
  }
}

typedef struct {
  int n; /* group size after the operation */
  hm_mls_member *mem;
  uint8_t epoch_secret[32], commit_secret[32];
  /* add_* */
  hm_mls_proposal add;
  char *commit;
  size_t commit_len;
  uint8_t commit_sig[64];
  char *welcome;
  size_t welcome_len;
  uint8_t *state_buf;
  /* create_* */
  hm_mls_proposal *adds;
  uint8_t create_sig[64];
} grp_ctx;

static int state_for(grp_ctx *g, int joiner, char **json, size_t *len) {
  hm_mls_group_state st = {0};
  st.group_id = "bench-group";
  st.epoch = 1;
  st.my_leaf_index = (uint32_t)joiner;
  st.members = g->mem;
  st.n_members = (size_t)g->n;
  memcpy(st.epoch_secret, g->epoch_secret, 32);
  memcpy(st.my_signing_public_key, g_members[joiner].id.ed_pk, 32);
  memcpy(st.my_encryption_public_key, g_members[joiner].id.x_pk, 32);
  return hm_mls_group_state_json(json, len, &st);
}

/* The Welcome for member `joiner`, sealed to its initKey (= x_pk). */
static int welcome_for(grp_ctx *g, int joiner, char **out, size_t *out_len) {
  char *state = NULL;
  size_t slen = 0;
  int rc = state_for(g, joiner, &state, &slen);
  if (rc) return rc;
  uint8_t *enc = hm_malloc(slen + HM_MLS_OVERHEAD), nonce[24];
  if (!enc) rc = HM_ERR_NOMEM;
  randombytes_buf(nonce, 24);
  if (!rc) rc = hm_mls_welcome_seal(enc, g_members[joiner].id.x_pk, nonce, (const uint8_t *)state, slen);
  if (!rc) rc = hm_mls_welcome_build(out, out_len, "bench-group", 1, enc, slen + HM_MLS_OVERHEAD);
  hm_free(enc);
  hm_free_secret(state, slen + 1);
  return rc;
}

static int add_commit_build(void *p) {
  grp_ctx *g = p;
  int j = g->n - 1;
  hm_mls_keypackage_info info;
  int rc = hm_mls_keypackage_verify(&info, g_members[j].kp, g_members[j].kp_len, HM_MLS_HARDENED, NULL);
  char *commit = NULL;
  size_t cl = 0;
  if (!rc) rc = hm_mls_commit_build(&commit, &cl, "bench-group", 1, &g->add, 1, g->commit_secret, g_members[0].id.seed32);
  hm_free(commit);
  return rc;
}

static int welcome_build(void *p) {
  grp_ctx *g = p;
  char *welcome = NULL;
  size_t wl = 0;
  int rc = welcome_for(g, g->n - 1, &welcome, &wl);
  hm_free(welcome);
  return rc;
}

static int add_commit_verify(void *p) {
  grp_ctx *g = p;
  int rc = hm_mls_commit_verify(g->commit_sig, "bench-group", 1, &g->add, 1, g_members[0].id.ed_pk, HM_MLS_HARDENED);
  uint8_t next[32], key[32];
  if (!rc) rc = hm_mls_advance(next, g->epoch_secret, g->commit_secret);
  if (!rc) rc = hm_mls_epoch_key(key, next, HM_MLS_MESSAGE, 1);
  sodium_memzero(next, 32);
  sodium_memzero(key, 32);
  return rc;
}

static int welcome_open(void *p) {
  grp_ctx *g = p;
  hm_json *w = NULL, *st = NULL;
  int rc = hm_json_parse(&w, g->welcome, g->welcome_len, 0, NULL);
  const char *b64 = NULL;
  size_t b64len = 0;
  if (!rc) {
    b64 = hm_json_string(hm_json_object_getc(hm_json_object_getc(w, "encryptedGroupState"), "data"), &b64len);
    if (!b64) rc = HM_ERR_STRUCTURE;
  }
  size_t enc_len = 0;
  uint8_t *enc = NULL;
  if (!rc) {
    enc = hm_malloc(hm_base64_decoded_maxlen(b64len) + 1);
    rc = enc ? hm_base64_decode(enc, hm_base64_decoded_maxlen(b64len) + 1, &enc_len, b64, b64len, 0) : HM_ERR_NOMEM;
  }
  if (!rc && enc_len < HM_MLS_OVERHEAD) rc = HM_ERR_DECODE;
  if (!rc) rc = hm_mls_welcome_open(g->state_buf, g_members[g->n - 1].id.x_pk, enc, enc_len);
  if (!rc) rc = hm_json_parse(&st, (const char *)g->state_buf, enc_len - HM_MLS_OVERHEAD, 0, NULL);
  if (!rc && hm_json_array_size(hm_json_object_getc(st, "members")) != (size_t)g->n) rc = HM_ERR_STRUCTURE;
  hm_json_free(st);
  hm_json_free(w);
  hm_free(enc);
  return rc;
}

static int create_commit_build(void *p) {
  grp_ctx *g = p;
  int rc = HM_OK;
  for (int j = 1; !rc && j < g->n; j++) {
    hm_mls_keypackage_info info;
    rc = hm_mls_keypackage_verify(&info, g_members[j].kp, g_members[j].kp_len, HM_MLS_HARDENED, NULL);
  }
  char *commit = NULL;
  size_t cl = 0;
  if (!rc)
    rc = hm_mls_commit_build(&commit, &cl, "bench-group", 1, g->adds, (size_t)(g->n - 1), g->commit_secret,
                             g_members[0].id.seed32);
  hm_free(commit);
  return rc;
}

static int create_commit_verify(void *p) {
  grp_ctx *g = p;
  return hm_mls_commit_verify(g->create_sig, "bench-group", 1, g->adds, (size_t)(g->n - 1), g_members[0].id.ed_pk,
                              HM_MLS_HARDENED);
}

/* The signature of a Commit: its "signature" codec object. */
static void commit_sig(const char *commit, size_t len, uint8_t sig[64]) {
  hm_json *c = NULL;
  int rc = hm_json_parse(&c, commit, len, 0, NULL);
  if (rc) die("commit parse", rc);
  size_t bl = 0, out = 0;
  const char *b64 = hm_json_string(hm_json_object_getc(hm_json_object_getc(c, "signature"), "data"), &bl);
  if (!b64) die("commit signature", HM_ERR_STRUCTURE);
  uint8_t buf[96];
  rc = hm_base64_decode(buf, sizeof buf, &out, b64, bl, 0);
  if (rc || out != 64) die("commit signature decode", rc ? rc : HM_ERR_DECODE);
  memcpy(sig, buf, 64);
  hm_json_free(c);
}

static void group_rows(int n) {
  grp_ctx g = {0};
  g.n = n;
  g.mem = calloc((size_t)n, sizeof *g.mem);
  g.adds = calloc((size_t)n, sizeof *g.adds);
  if (!g.mem || !g.adds) exit(1);
  for (int i = 0; i < n; i++) {
    g.mem[i].leaf_index = (uint32_t)i;
    g.mem[i].did = g_members[i].id.did;
    memcpy(g.mem[i].encryption_key, g_members[i].id.x_pk, 32);
    memcpy(g.mem[i].signature_key, g_members[i].id.ed_pk, 32);
  }
  for (int j = 1; j < n; j++)
    g.adds[j - 1] = (hm_mls_proposal){HM_MLS_ADD, g_members[j].id.did, 0, g_members[j].kp, NULL, NULL};
  randombytes_buf(g.epoch_secret, 32);
  randombytes_buf(g.commit_secret, 32);
  g.add = (hm_mls_proposal){HM_MLS_ADD, g_members[n - 1].id.did, 0, g_members[n - 1].kp, NULL, NULL};
  int rc = hm_mls_commit_build(&g.commit, &g.commit_len, "bench-group", 1, &g.add, 1, g.commit_secret,
                               g_members[0].id.seed32);
  if (rc) die("commit build", rc);
  commit_sig(g.commit, g.commit_len, g.commit_sig);
  rc = welcome_for(&g, n - 1, &g.welcome, &g.welcome_len);
  if (rc) die("welcome build", rc);
  g.state_buf = malloc(g.welcome_len); /* the state is shorter than its base64 Welcome */
  char *cc = NULL;
  size_t ccl = 0;
  rc = hm_mls_commit_build(&cc, &ccl, "bench-group", 1, g.adds, (size_t)(n - 1), g.commit_secret,
                           g_members[0].id.seed32);
  if (rc) die("create commit build", rc);
  commit_sig(cc, ccl, g.create_sig);
  hm_free(cc);
  bench("add_commit_build", "harmony", n, g.commit_len, add_commit_build, &g, 0);
  bench("welcome_build", "harmony", n, g.welcome_len, welcome_build, &g, 0);
  bench("add_commit_verify", "harmony", n, g.commit_len, add_commit_verify, &g, 0);
  bench("welcome_open", "harmony", n, g.welcome_len, welcome_open, &g, 0);
  bench("create_commit_build", "harmony", n, ccl, create_commit_build, &g, 0);
  bench("create_commit_verify", "harmony", n, ccl, create_commit_verify, &g, 0);
  hm_free(g.commit);
  hm_free(g.welcome);
  free(g.state_buf);
  free(g.mem);
  free(g.adds);
}

static void env_line(void) {
  char machine[512];
  bench_env_machine(machine, sizeof machine);
  printf("# env,%s,loadavg_note=shared machine,libsodium=%s,compiler=%s,flags=%s,max_samples=%d,max_group=%d\n",
         machine, sodium_version_string(), __VERSION__, HM_BENCH_FLAGS, g_samples, g_max);
}

int main(int argc, char **argv) {
  g_max = 1024;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--samples") && i + 1 < argc) g_samples = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--max-group") && i + 1 < argc) g_max = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) {
      g_samples = 20;
      g_budget_us = 50000;
      g_max = 64;
    } else {
      fprintf(stderr, "usage: mls_bench [--samples N] [--max-group N] [--quick]\n");
      return 2;
    }
  }
  if (g_samples < 3) g_samples = 3;
  if (g_max < 2) g_max = 2;
  if (sodium_init() < 0) return 1;
  env_line();
  printf("benchmark,impl,group_size,bytes_per_op,samples,ops_per_sample,min_us_per_op,p50_us_per_op,"
         "p99_us_per_op,max_us_per_op,p50_ops_per_s,p50_x_raw\n");
  message_rows(256);
  message_rows(4096);
  members_make(g_max);
  for (int n = 2; n <= g_max; n *= 2) group_rows(n);
  for (int i = 0; i < g_max; i++) {
    hm_identity_clear(&g_members[i].id);
    hm_free(g_members[i].kp);
  }
  free(g_members);
  return 0;
}
