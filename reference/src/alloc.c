/* alloc.c - the replaceable allocator (see harmony/alloc.h). */
#include "harmony/alloc.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *libc_malloc(size_t n, void *ctx) { (void)ctx; return malloc(n ? n : 1); }
static void *libc_realloc(void *p, size_t n, void *ctx) { (void)ctx; return realloc(p, n ? n : 1); }
static void libc_free(void *p, void *ctx) { (void)ctx; free(p); }

static hm_allocator current = {libc_malloc, libc_realloc, libc_free, NULL};

void hm_set_allocator(const hm_allocator *a) {
  if (a)
    current = *a;
  else
    current = (hm_allocator){libc_malloc, libc_realloc, libc_free, NULL};
}

void *hm_malloc(size_t n) { return current.malloc_fn(n, current.ctx); }

void *hm_calloc(size_t count, size_t n) {
  if (n && count > SIZE_MAX / n) return NULL;
  void *p = hm_malloc(count * n);
  if (p) memset(p, 0, count * n);
  return p;
}

void *hm_realloc(void *p, size_t n) { return current.realloc_fn(p, n, current.ctx); }

void hm_free(void *p) {
  if (p) current.free_fn(p, current.ctx);
}

void hm_free_secret(void *p, size_t len) {
  if (!p) return;
  sodium_memzero(p, len);
  current.free_fn(p, current.ctx);
}

char *hm_strndup(const char *s, size_t n) {
  char *d = hm_malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

char *hm_strdup(const char *s) { return hm_strndup(s, strlen(s)); }
