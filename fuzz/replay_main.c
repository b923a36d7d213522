/* fuzz/replay_main.c - a main() for the fuzz targets without libFuzzer.
 *
 * replay_<target> PATH...  runs LLVMFuzzerTestOneInput once on every regular file named on
 * the command line or found (non-recursively) in a directory named on it. It is built with
 * whatever compiler and sanitizers the build uses (gcc ASan/UBSan in CI), so the corpora
 * are replayed on every test run (ctest -L fuzz-replay). Exit 0 when every input ran (an
 * invariant violation aborts), 2 on a usage or I/O error, or when no input was found.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Targets that need setup define LLVMFuzzerInitialize; others leave it undefined. */
#pragma weak LLVMFuzzerInitialize

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  if (!buf) abort();
  size_t n;
  while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) abort();
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    fprintf(stderr, "replay: %s: read error\n", path);
    free(buf);
    return -1;
  }
  /* Give the target an exact-size copy so ASan sees reads past the end. */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) abort();
  memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  size_t ran = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      return 2;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i]) != 0) return 2;
      ran++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      return 2;
    }
    /* Sorted, so a failure names the same file on every run. */
    char **names = NULL;
    size_t nn = 0, cn = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') continue;
      if (nn == cn) {
        cn = cn ? 2 * cn : 64;
        names = realloc(names, cn * sizeof *names);
        if (!names) abort();
      }
      names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    if (nn) qsort(names, nn, sizeof *names, cmp_str);
    for (size_t k = 0; k < nn; k++) {
      size_t pl = strlen(argv[i]) + strlen(names[k]) + 2;
      char *p = malloc(pl);
      if (!p) abort();
      snprintf(p, pl, "%s/%s", argv[i], names[k]);
      if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
        if (run_file(p) != 0) return 2;
        ran++;
      }
      free(p);
      free(names[k]);
    }
    free(names);
  }
  printf("replayed %zu input(s), no invariant violated\n", ran);
  return ran ? 0 : 2;
}
