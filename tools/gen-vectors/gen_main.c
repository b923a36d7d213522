/* gen-vectors - write vectors/<layer>.json from labelled fixed seeds (vectors/README.md).
 *
 * usage: gen-vectors OUTDIR [LAYER...]   (default: every layer)
 * Output is deterministic: same library, same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vfile.h"

static int write_layer(const char *dir, const vlayer *L) {
  vfile f = {L, json_array()};
  L->generate(&f);
  size_t ncases = json_array_size(f.tests);
  json_t *root = json_object();
  json_object_set_new(root, "algorithm", json_string(L->algorithm));
  json_object_set_new(root, "source", json_string(L->source));
  json_object_set_new(root, "generator", json_string("tools/gen-vectors (libharmony)"));
  json_object_set_new(root, "numberOfTests", json_integer((json_int_t)json_array_size(f.tests)));
  json_t *notes = json_object();
  for (const char *const *n = L->notes; n && *n; n += 2) json_object_set_new(notes, n[0], json_string(n[1]));
  json_object_set_new(root, "notes", notes);
  json_object_set_new(root, "tests", f.tests);
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.json", dir, L->name);
  char *text = json_dumps(root, JSON_INDENT(2));
  json_decref(root);
  FILE *fp = fopen(path, "wb");
  if (!text || !fp || fputs(text, fp) < 0 || fputc('\n', fp) == EOF || fclose(fp)) {
    fprintf(stderr, "gen-vectors: cannot write %s\n", path);
    free(text);
    return 1;
  }
  free(text);
  printf("%s.json: %zu cases\n", L->name, ncases);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: gen-vectors OUTDIR [LAYER...]\nlayers:");
    for (size_t i = 0; i < VLAYERS_N; i++) fprintf(stderr, " %s", VLAYERS[i]->name);
    fprintf(stderr, "\n");
    return 2;
  }
  if (sodium_init() < 0) return 2;
  int rc = 0;
  for (size_t i = 0; i < VLAYERS_N; i++) {
    int want = argc == 2;
    for (int a = 2; a < argc; a++)
      if (!strcmp(argv[a], VLAYERS[i]->name)) want = 1;
    if (want) rc |= write_layer(argv[1], VLAYERS[i]);
  }
  return rc;
}
