/* startup_fill - builds a harmonyd data directory with a given amount of stored state, through
 * libharmony's store API only (harmony/store.h), for bench/startup.
 *
 *   build/bin/startup_fill DATA_DIR [--communities C] [--members M] [--messages N]
 *
 * Creates DATA_DIR/harmony.db (DATA_DIR must exist and hold no database) with C communities
 * (one text channel each, creator a did:key-shaped id), M members spread evenly over them
 * (each its own DID, plus the creators) and N messages spread evenly over the channels
 * (payload {"content":"message <i> ..."} of about 100 bytes, timestamps one second apart).
 * Messages go in with the import call (one transaction per community); members with
 * member_add. Prints one line: "# fill,communities=C,members=M,messages=N,seconds=S" on
 * stdout. Exit 0 on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harmony/alloc.h"
#include "harmony/error.h"
#include "harmony/store.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fake_did(char *out, size_t cap, const char *kind, long i) {
  /* did:key-shaped, 56 characters like a real Ed25519 did:key */
  snprintf(out, cap, "did:key:z6Mk%s%040ld", kind, i);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: startup_fill DATA_DIR [--communities C] [--members M] [--messages N]\n");
    return 2;
  }
  long nc = 100, nm = 10000, nmsg = 100000;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--communities")) nc = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--members")) nm = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--messages")) nmsg = atol(argv[i + 1]);
    else {
      fprintf(stderr, "startup_fill: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (nc < 1 || nm < 0 || nmsg < 0) return 2;
  char path[4096];
  snprintf(path, sizeof path, "%s/harmony.db", argv[1]);
  struct stat sb;
  if (stat(path, &sb) == 0) {
    fprintf(stderr, "startup_fill: %s exists\n", path);
    return 1;
  }
  hm_store *st = NULL;
  const char *why = NULL;
  double t0 = now_s();
  int rc = hm_store_sqlite_open(&st, path, &why);
  if (rc != HM_OK) {
    fprintf(stderr, "startup_fill: open %s: %d %s\n", path, rc, why ? why : "");
    return 1;
  }
  int64_t base_ms = 1767225600000LL; /* 2026-01-01 */
  long per_c = nmsg / nc, extra = nmsg % nc, msg_no = 0;
  hm_store_message *msgs = calloc((size_t)(per_c + 1), sizeof *msgs);
  char (*ids)[48] = calloc((size_t)(per_c + 1), sizeof *ids);
  char (*ts)[32] = calloc((size_t)(per_c + 1), sizeof *ts);
  char (*payloads)[128] = calloc((size_t)(per_c + 1), sizeof *payloads);
  if (!msgs || !ids || !ts || !payloads) return 1;
  for (long c = 0; c < nc && rc == HM_OK; c++) {
    char cid[64], chid[128], creator[80];
    snprintf(cid, sizeof cid, "community:%032lx", c + 1);
    snprintf(chid, sizeof chid, "%s:channel:%016lx", cid, c + 1);
    fake_did(creator, sizeof creator, "Creator", c);
    hm_store_community com = {cid, "bench community", NULL, creator, base_ms};
    hm_store_channel ch = {chid, cid, "general", "text", NULL, base_ms, NULL, 0};
    long n = per_c + (c < extra ? 1 : 0);
    for (long k = 0; k < n; k++, msg_no++) {
      int64_t ms = base_ms + msg_no * 1000;
      time_t secs = (time_t)(ms / 1000);
      struct tm tmv;
      gmtime_r(&secs, &tmv);
      strftime(ts[k], sizeof ts[k], "%Y-%m-%dT%H:%M:%S.000Z", &tmv);
      snprintf(ids[k], sizeof ids[k], "msg-%08lx", msg_no);
      snprintf(payloads[k], sizeof payloads[k],
               "{\"content\":\"message %ld of the startup benchmark, some ordinary text\",\"nonce\":\"n%ld\"}",
               msg_no, msg_no);
      msgs[k] = (hm_store_message){cid, chid, ids[k], 0, creator, ts[k], payloads[k], 0, 0, ms, 0, 0, NULL};
    }
    rc = st->vt->community_import(st, &com, &ch, 1, NULL, 0, msgs, (size_t)n);
  }
  for (long m = 0; m < nm && rc == HM_OK; m++) {
    char cid[64], did[80];
    snprintf(cid, sizeof cid, "community:%032lx", m % nc + 1);
    fake_did(did, sizeof did, "Member", m);
    rc = st->vt->member_add(st, cid, did, base_ms + m, NULL);
  }
  hm_store_close(st);
  free(msgs);
  free(ids);
  free(ts);
  free(payloads);
  if (rc != HM_OK) {
    fprintf(stderr, "startup_fill: store error %d\n", rc);
    return 1;
  }
  printf("# fill,communities=%ld,members=%ld,messages=%ld,seconds=%.2f\n", nc, nm, nmsg, now_s() - t0);
  return 0;
}
