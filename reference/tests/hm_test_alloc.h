/* hm_test_alloc.h - allocation-failure testing for unit tests.
 *
 * hm_test_alloc_fail_at(n): the n-th allocation from now on (1-based) fails, and
 * every later one succeeds; 0 disables. hm_test_alloc_outstanding() counts live
 * blocks, so a test can assert that a failure path freed what it took.
 *
 * Typical loop (HM_TEST_ALLOC_SWEEP): run the operation with fail_at = 1, 2, ...
 * until it succeeds; every failing run must return HM_ERR_NOMEM and leave no block.
 */
#ifndef HM_TEST_ALLOC_H
#define HM_TEST_ALLOC_H
#include <stddef.h>

void hm_test_alloc_install(void);
void hm_test_alloc_fail_at(long n);
long hm_test_alloc_outstanding(void);
long hm_test_alloc_count(void); /* allocations made since install */

#endif
