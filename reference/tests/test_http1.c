/* test_http1.c - HTTP/1.1 request heads and the WebSocket handshake (harmony/http1.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "harmony/http1.h"

static int parse(hm_http1_request *q, const char *text, int *status) {
  return hm_http1_parse_head(q, text, strlen(text), 16384, status);
}

static void test_http1_parse_get(void **state) {
  (void)state;
  const char *r = "GET /api/x?y=1 HTTP/1.1\r\nHost: a\r\nAuthorization:  Harmony-Ed25519 d t s \r\n\r\nBODY";
  hm_http1_request q;
  int st;
  assert_int_equal(parse(&q, r, &st), HM_OK);
  assert_int_equal(q.head_len, strlen(r) - 4);
  assert_string_equal(q.method, "GET");
  assert_int_equal(q.target_len, 10);
  assert_memory_equal(q.target, "/api/x?y=1", 10);
  assert_int_equal(q.minor, 1);
  assert_int_equal(q.keep_alive, 1);
  assert_int_equal(q.has_content_length, 0);
  size_t n;
  const char *v = hm_http1_header_get(&q, "AUTHORIZATION", &n);
  assert_non_null(v);
  assert_int_equal(n, strlen("Harmony-Ed25519 d t s"));
  assert_memory_equal(v, "Harmony-Ed25519 d t s", n);
  assert_null(hm_http1_header_get(&q, "cookie", &n));
}

static void test_http1_parse_incremental(void **state) {
  (void)state;
  const char *r = "POST /a HTTP/1.1\r\nContent-Length: 12\r\n\r\n";
  size_t len = strlen(r);
  hm_http1_request q;
  int st;
  for (size_t k = 0; k < len; k++) {
    assert_int_equal(hm_http1_parse_head(&q, r, k, 16384, &st), HM_OK);
    assert_int_equal(q.head_len, 0);
  }
  assert_int_equal(hm_http1_parse_head(&q, r, len, 16384, &st), HM_OK);
  assert_int_equal(q.head_len, len);
  assert_int_equal(q.has_content_length, 1);
  assert_int_equal(q.content_length, 12);
}

static void test_http1_parse_keep_alive_rules(void **state) {
  (void)state;
  hm_http1_request q;
  int st;
  assert_int_equal(parse(&q, "GET / HTTP/1.0\r\n\r\n", &st), HM_OK);
  assert_int_equal(q.keep_alive, 0);
  assert_int_equal(parse(&q, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &st), HM_OK);
  assert_int_equal(q.keep_alive, 1);
  assert_int_equal(parse(&q, "GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n", &st), HM_OK);
  assert_int_equal(q.keep_alive, 0);
}

static void expect_refused(const char *text, int status) {
  hm_http1_request q;
  int st = 0;
  assert_int_equal(hm_http1_parse_head(&q, text, strlen(text), 16384, &st), HM_ERR_DECODE);
  assert_int_equal(st, status);
}

static void test_http1_parse_refusals(void **state) {
  (void)state;
  expect_refused("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);            /* bare LF */
  expect_refused("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);         /* space before colon */
  expect_refused("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400);    /* obs-fold */
  expect_refused("GET  / HTTP/1.1\r\n\r\n", 400);
  expect_refused("GET / HTTP/2.0\r\n\r\n", 505);
  expect_refused("GET / FTP/1.1\r\n\r\n", 400);
  expect_refused("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400);
  expect_refused("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400);
  expect_refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411);
  expect_refused("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
  expect_refused("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", 400);
  /* too many fields */
  char many[4096] = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < HM_HTTP1_MAX_HEADERS + 1; i++) strcat(many, "X-A: b\r\n");
  strcat(many, "\r\n");
  expect_refused(many, 431);
  /* head over the limit */
  hm_http1_request q;
  int st;
  const char *r = "GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  assert_int_equal(hm_http1_parse_head(&q, r, strlen(r), 40, &st), HM_ERR_DECODE);
  assert_int_equal(st, 431);
  /* equal duplicate Content-Length is fine */
  assert_int_equal(parse(&q, "POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n", &st), HM_OK);
  assert_int_equal(q.content_length, 3);
}

static void test_http1_ws_accept_rfc_example(void **state) {
  (void)state;
  char acc[29];
  assert_int_equal(hm_http1_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, acc), HM_OK);
  assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); /* RFC 6455 section 1.3 */
}

static void test_http1_ws_check(void **state) {
  (void)state;
  hm_http1_request q;
  hm_http1_ws ws;
  int st;
  const char *ok = "GET /any/path?x HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: harmony-x, other\r\n"
                   "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
  assert_int_equal(parse(&q, ok, &st), HM_OK);
  assert_int_equal(hm_http1_ws_check(&q, &ws, &st), 1);
  assert_string_equal(ws.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert_int_equal(ws.protocol_len, 9);
  assert_memory_equal(ws.protocol, "harmony-x", 9);

  assert_int_equal(parse(&q, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &st), HM_OK);
  assert_int_equal(hm_http1_ws_check(&q, &ws, &st), 0); /* plain request: 426 on the WS port */

  const char *v8 = "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
  assert_int_equal(parse(&q, v8, &st), HM_OK);
  assert_int_equal(hm_http1_ws_check(&q, &ws, &st), -1);
  assert_int_equal(st, 426);

  const char *badkey = "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: short==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  assert_int_equal(parse(&q, badkey, &st), HM_OK);
  assert_int_equal(hm_http1_ws_check(&q, &ws, &st), -1);
  assert_int_equal(st, 400);

  const char *noconn = "GET / HTTP/1.1\r\nUpgrade: websocket\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  assert_int_equal(parse(&q, noconn, &st), HM_OK);
  assert_int_equal(hm_http1_ws_check(&q, &ws, &st), -1);
  assert_int_equal(st, 400);

  const char *post = "POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  assert_int_equal(parse(&q, post, &st), HM_OK);
  assert_int_equal(hm_http1_ws_check(&q, &ws, &st), -1);
}

static void test_http1_percent_decode(void **state) {
  (void)state;
  char out[64];
  assert_int_equal(hm_http1_percent_decode(out, sizeof out, "/a%3Ab%2f%41", 12), HM_OK);
  assert_string_equal(out, "/a:b/A");
  assert_int_equal(hm_http1_percent_decode(out, sizeof out, "%00", 3), HM_ERR_DECODE);
  assert_int_equal(hm_http1_percent_decode(out, sizeof out, "%4", 2), HM_ERR_DECODE);
  assert_int_equal(hm_http1_percent_decode(out, sizeof out, "%zz", 3), HM_ERR_DECODE);
  assert_int_equal(hm_http1_percent_decode(out, 3, "abc", 3), HM_ERR_BUFSZ);
  assert_int_equal(hm_http1_percent_decode(out, 4, "abc", 3), HM_OK);
  assert_string_equal(hm_http1_reason(413), "Content Too Large");
  assert_string_equal(hm_http1_reason(999), "Unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_http1_parse_get),
      cmocka_unit_test(test_http1_parse_incremental),
      cmocka_unit_test(test_http1_parse_keep_alive_rules),
      cmocka_unit_test(test_http1_parse_refusals),
      cmocka_unit_test(test_http1_ws_accept_rfc_example),
      cmocka_unit_test(test_http1_ws_check),
      cmocka_unit_test(test_http1_percent_decode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
