/* harmony/alloc.h - the allocator every libharmony allocation goes through.
 *
 * Tests replace it (hm_set_allocator) to fail the Nth allocation and check that
 * every allocation-failure path returns HM_ERR_NOMEM without leaking.
 * hm_free(NULL) is a no-op. hm_free_secret() wipes len bytes before freeing.
 */
#ifndef HARMONY_ALLOC_H
#define HARMONY_ALLOC_H
#include <stddef.h>

typedef struct {
  void *(*malloc_fn)(size_t n, void *ctx);
  void *(*realloc_fn)(void *p, size_t n, void *ctx);
  void (*free_fn)(void *p, void *ctx);
  void *ctx;
} hm_allocator;

/* Install a (process-wide) allocator; NULL restores the libc one. Not thread-safe:
 * call it before any other libharmony function. */
void hm_set_allocator(const hm_allocator *a);

void *hm_malloc(size_t n);
void *hm_calloc(size_t count, size_t n); /* zeroed; NULL on overflow */
void *hm_realloc(void *p, size_t n);
void hm_free(void *p);
void hm_free_secret(void *p, size_t len); /* sodium_memzero(p, len) then free */
char *hm_strdup(const char *s);
char *hm_strndup(const char *s, size_t n);

#endif
