/* check-vectors-c - run libharmony over every vectors/<layer>.json case.
 *
 * usage: check-vectors-c VECTORDIR
 * For each case: keep only its input fields, recompute every other field with the library
 * (the same compute functions the generator uses) and compare the whole case. Prints one
 * count line per file; exit 0 when every case matches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vgen.h"

static json_t *strip(json_t *c, const vkind *k) {
  json_t *n = json_object();
  static const char *const meta[] = {"tc_id", "label", "comment", "flags", "op", NULL};
  for (const char *const *m = meta; *m; m++)
    if (json_object_get(c, *m)) json_object_set(n, *m, json_object_get(c, *m));
  const char *p = k->inputs;
  while (*p) {
    size_t w = strcspn(p, " ");
    size_t l = (w && p[w - 1] == '?') ? w - 1 : w;
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)l, p);
    json_t *v = json_object_get(c, key);
    if (v) json_object_set(n, key, v);
    else if (p[w - 1] != '?') {
      json_decref(n);
      return NULL;
    }
    p += w;
    while (*p == ' ') p++;
  }
  return n;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: check-vectors-c VECTORDIR\n");
    return 2;
  }
  if (sodium_init() < 0) return 2;
  int bad_total = 0, files = 0;
  for (size_t i = 0; i < VLAYERS_N; i++) {
    const vlayer *L = VLAYERS[i];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", argv[1], L->name);
    json_error_t e;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!root) {
      printf("%s.json: MISSING or unreadable (%s)\n", L->name, e.text);
      bad_total++;
      continue;
    }
    files++;
    json_t *tests = json_object_get(root, "tests");
    int n = 0, ok = 0, nv = 0, ni = 0, na = 0;
    if (json_integer_value(json_object_get(root, "numberOfTests")) != (json_int_t)json_array_size(tests)) {
      printf("%s.json: numberOfTests does not match\n", L->name);
      bad_total++;
    }
    size_t ti;
    json_t *c;
    json_array_foreach(tests, ti, c) {
      n++;
      const char *res = json_string_value(json_object_get(c, "result"));
      if (res && !strcmp(res, "valid")) nv++;
      else if (res && !strcmp(res, "invalid")) ni++;
      else if (res && !strcmp(res, "acceptable")) na++;
      const vkind *k = vkind_find(L, json_string_value(json_object_get(c, "op")));
      json_t *s = k ? strip(c, k) : NULL;
      int match = 0;
      if (s && json_integer_value(json_object_get(c, "tc_id")) == (json_int_t)(ti + 1) && k->fn(s) == 0) {
        vset_requirements(L, s);
        json_t *cs = vcanon(s);
        match = json_equal(cs, c);
        if (!match) {
          char *want = json_dumps(c, JSON_COMPACT), *got = json_dumps(cs, JSON_COMPACT);
          fprintf(stderr, "MISMATCH %s tc %zu\n  file: %s\n  lib:  %s\n", L->name, ti + 1, want, got);
          free(want);
          free(got);
        }
        json_decref(cs);
      } else {
        fprintf(stderr, "FAIL %s tc %zu: cannot run the case\n", L->name, ti + 1);
      }
      json_decref(s);
      if (match) ok++;
      else bad_total++;
    }
    printf("%s.json: %d cases (%d valid, %d invalid, %d acceptable): %d/%d match\n", L->name, n, nv, ni, na, ok,
           n);
    json_decref(root);
  }
  printf("check-vectors-c: %d files, %s\n", files, bad_total ? "FAIL" : "PASS");
  return bad_total ? 1 : 0;
}
