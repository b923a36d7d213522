/* hm_test_alloc.c - a counting allocator that can fail the N-th allocation. */
#include "hm_test_alloc.h"

#include <stdlib.h>

#include "harmony/alloc.h"

static long fail_at, counter, outstanding, total;

static void *t_malloc(size_t n, void *ctx) {
  (void)ctx;
  total++;
  if (fail_at && ++counter == fail_at) return NULL;
  void *p = malloc(n ? n : 1);
  if (p) outstanding++;
  return p;
}

static void *t_realloc(void *p, size_t n, void *ctx) {
  (void)ctx;
  total++;
  if (fail_at && ++counter == fail_at) return NULL;
  void *q = realloc(p, n ? n : 1);
  if (q && !p) outstanding++;
  return q;
}

static void t_free(void *p, void *ctx) {
  (void)ctx;
  if (p) outstanding--;
  free(p);
}

void hm_test_alloc_install(void) {
  static const hm_allocator a = {t_malloc, t_realloc, t_free, NULL};
  hm_set_allocator(&a);
  fail_at = counter = outstanding = total = 0;
}

void hm_test_alloc_fail_at(long n) {
  fail_at = n;
  counter = 0;
}

long hm_test_alloc_outstanding(void) { return outstanding; }
long hm_test_alloc_count(void) { return total; }
