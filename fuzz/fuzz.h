/* fuzz/fuzz.h - shared bits of the libFuzzer targets (fuzz/fuzz_<target>.c).
 *
 * Every target defines LLVMFuzzerTestOneInput and may define LLVMFuzzerInitialize. The same
 * source links either with libFuzzer (clang, -fsanitize=fuzzer) or with fuzz/replay_main.c
 * (any compiler), which runs each corpus file once: that is the ctest label fuzz-replay.
 *
 * FZ_CHECK is the invariant check: a violated invariant prints the condition and aborts,
 * so libFuzzer records the input as a crash.
 */
#ifndef HARMONY_FUZZ_H
#define HARMONY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FZ_CHECK(cond, ...)                                                        \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "\nFUZZ INVARIANT VIOLATED at %s:%d: %s\n", __FILE__,        \
              __LINE__, #cond);                                                    \
      fprintf(stderr, "  " __VA_ARGS__);                                           \
      fprintf(stderr, "\n");                                                       \
      abort();                                                                     \
    }                                                                              \
  } while (0)

/* A heap copy of data[0..size) with a NUL after it (for APIs that take C strings), so that
 * ASan catches a read past the end. Caller frees with free(). */
static inline char *fz_cstr(const uint8_t *data, size_t size) {
  char *s = (char *)malloc(size + 1);
  if (!s) abort();
  for (size_t i = 0; i < size; i++) s[i] = (char)data[i];
  s[size] = 0;
  return s;
}

#endif
