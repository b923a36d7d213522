/* test_ws_frame.c - the RFC 6455 server-side frame decoder and encoder (harmony/ws_frame.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "harmony/ws_frame.h"
#include "hm_test_alloc.h"

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A masked client frame: first byte b0 (FIN/RSV/opcode), payload p[0..n). Returns its length. */
static size_t client_frame(uint8_t *out, uint8_t b0, const void *p, size_t n) {
  size_t h = 0;
  out[h++] = b0;
  if (n < 126) {
    out[h++] = (uint8_t)(0x80 | n);
  } else if (n <= 0xffff) {
    out[h++] = 0x80 | 126;
    out[h++] = (uint8_t)(n >> 8);
    out[h++] = (uint8_t)n;
  } else {
    out[h++] = 0x80 | 127;
    for (int i = 0; i < 8; i++) out[h++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
  }
  memcpy(out + h, KEY, 4);
  h += 4;
  for (size_t i = 0; i < n; i++) out[h + i] = ((const uint8_t *)p)[i] ^ KEY[i & 3];
  return h + n;
}

static void decode_one(hm_ws_decoder *d, uint8_t *buf, size_t len, size_t *used, hm_ws_event *ev) {
  hm_ws_decode(d, buf, len, used, ev);
}

static void test_ws_decode_text_message(void **state) {
  (void)state;
  hm_ws_decoder d;
  hm_ws_decoder_init(&d, 1 << 20);
  uint8_t f[64];
  size_t n = client_frame(f, 0x81, "hello", 5);
  size_t used;
  hm_ws_event ev;
  /* every prefix is incomplete */
  for (size_t k = 0; k < n; k++) {
    decode_one(&d, f, k, &used, &ev);
    assert_int_equal(used, 0);
    assert_int_equal(ev.kind, HM_WS_EV_NONE);
  }
  decode_one(&d, f, n, &used, &ev);
  assert_int_equal(used, n);
  assert_int_equal(ev.kind, HM_WS_EV_MESSAGE);
  assert_int_equal(ev.is_binary, 0);
  assert_int_equal(ev.len, 5);
  assert_memory_equal(ev.data, "hello", 5);
  hm_ws_decoder_clear(&d);
}

static void test_ws_decode_lengths_16_and_64(void **state) {
  (void)state;
  hm_ws_decoder d;
  hm_ws_decoder_init(&d, 1 << 20);
  size_t sizes[] = {125, 126, 65535, 65536, 200000};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    uint8_t *p = malloc(n), *f = malloc(n + 14);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)('a' + i % 26);
    size_t fl = client_frame(f, 0x82, p, n);
    size_t used;
    hm_ws_event ev;
    decode_one(&d, f, fl - 1, &used, &ev);
    assert_int_equal(used, 0);
    decode_one(&d, f, fl, &used, &ev);
    assert_int_equal(used, fl);
    assert_int_equal(ev.kind, HM_WS_EV_MESSAGE);
    assert_int_equal(ev.is_binary, 1);
    assert_int_equal(ev.len, n);
    assert_memory_equal(ev.data, p, n);
    free(p);
    free(f);
  }
  hm_ws_decoder_clear(&d);
}

static void test_ws_decode_fragments_with_ping_between(void **state) {
  (void)state;
  hm_ws_decoder d;
  hm_ws_decoder_init(&d, 1 << 20);
  uint8_t buf[256];
  size_t n = 0;
  n += client_frame(buf + n, 0x01, "{\"a\":", 5);  /* text, not final */
  n += client_frame(buf + n, 0x89, "p1", 2);       /* ping in between */
  n += client_frame(buf + n, 0x00, "\xc3", 1);     /* continuation: a UTF-8 sequence split */
  n += client_frame(buf + n, 0x80, "\xa9\"}", 3);  /* final continuation */
  size_t off = 0, used;
  hm_ws_event ev;
  decode_one(&d, buf + off, n - off, &used, &ev);
  assert_int_equal(ev.kind, HM_WS_EV_NONE);
  assert_true(used > 0);
  off += used;
  decode_one(&d, buf + off, n - off, &used, &ev);
  assert_int_equal(ev.kind, HM_WS_EV_PING);
  assert_int_equal(ev.len, 2);
  assert_memory_equal(ev.data, "p1", 2);
  off += used;
  decode_one(&d, buf + off, n - off, &used, &ev);
  assert_int_equal(ev.kind, HM_WS_EV_NONE);
  off += used;
  decode_one(&d, buf + off, n - off, &used, &ev);
  assert_int_equal(ev.kind, HM_WS_EV_MESSAGE);
  assert_int_equal(ev.len, 9);
  assert_memory_equal(ev.data, "{\"a\":\xc3\xa9\"}", 9);
  off += used;
  assert_int_equal(off, n);
  hm_ws_decoder_clear(&d);
}

static void expect_fail(const uint8_t *frames, size_t n, int code) {
  hm_ws_decoder d;
  hm_ws_decoder_init(&d, 1000);
  uint8_t *buf = malloc(n ? n : 1);
  memcpy(buf, frames, n);
  size_t off = 0, used;
  hm_ws_event ev;
  for (;;) {
    hm_ws_decode(&d, buf + off, n - off, &used, &ev);
    if (ev.kind == HM_WS_EV_FAIL || used == 0) break;
    off += used;
  }
  assert_int_equal(ev.kind, HM_WS_EV_FAIL);
  assert_int_equal(ev.code, code);
  assert_non_null(ev.reason);
  free(buf);
  hm_ws_decoder_clear(&d);
}

static void test_ws_decode_protocol_errors_1002(void **state) {
  (void)state;
  uint8_t f[300];
  size_t n;
  /* unmasked */
  const uint8_t unmasked[] = {0x81, 0x02, 'h', 'i'};
  expect_fail(unmasked, sizeof unmasked, 1002);
  /* RSV1..3 */
  for (uint8_t rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
    n = client_frame(f, (uint8_t)(0x81 | rsv), "hi", 2);
    expect_fail(f, n, 1002);
  }
  /* reserved opcodes */
  uint8_t ops[] = {0x3, 0x7, 0xB, 0xF};
  for (size_t i = 0; i < sizeof ops; i++) {
    n = client_frame(f, (uint8_t)(0x80 | ops[i]), "x", 1);
    expect_fail(f, n, 1002);
  }
  /* continuation without a message */
  n = client_frame(f, 0x80, "x", 1);
  expect_fail(f, n, 1002);
  /* a new text frame inside a fragmented message */
  n = client_frame(f, 0x01, "a", 1);
  n += client_frame(f + n, 0x81, "b", 1);
  expect_fail(f, n, 1002);
  /* control frames: fragmented, too long */
  n = client_frame(f, 0x09, "p", 1);
  expect_fail(f, n, 1002);
  uint8_t big[126];
  memset(big, 'p', sizeof big);
  n = client_frame(f, 0x89, big, 126);
  expect_fail(f, n, 1002);
  /* 64-bit length with the top bit set */
  const uint8_t huge[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
  expect_fail(huge, sizeof huge, 1002);
  /* close: 1 byte payload; invalid codes */
  n = client_frame(f, 0x88, "\x03", 1);
  expect_fail(f, n, 1002);
  int bad_codes[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000};
  for (size_t i = 0; i < sizeof bad_codes / sizeof bad_codes[0]; i++) {
    uint8_t cp[2] = {(uint8_t)(bad_codes[i] >> 8), (uint8_t)bad_codes[i]};
    n = client_frame(f, 0x88, cp, 2);
    expect_fail(f, n, 1002);
  }
}

static void test_ws_decode_utf8_1007(void **state) {
  (void)state;
  uint8_t f[64];
  size_t n;
  const char *bad[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    n = client_frame(f, 0x81, bad[i], strlen(bad[i]));
    expect_fail(f, n, 1007);
  }
  /* a sequence left open at the end of a fragmented message */
  n = client_frame(f, 0x01, "ok", 2);
  n += client_frame(f + n, 0x80, "\xe2\x82", 2);
  expect_fail(f, n, 1007);
  /* invalid in the middle fragment is caught at once */
  n = client_frame(f, 0x01, "ok", 2);
  n += client_frame(f + n, 0x00, "\xfe", 1);
  expect_fail(f, n, 1007);
  /* close reason not UTF-8 */
  n = client_frame(f, 0x88, "\x03\xe8\xff", 3);
  expect_fail(f, n, 1007);
  /* binary messages are not checked */
  hm_ws_decoder d;
  hm_ws_decoder_init(&d, 1000);
  n = client_frame(f, 0x82, "\xff", 1);
  size_t used;
  hm_ws_event ev;
  hm_ws_decode(&d, f, n, &used, &ev);
  assert_int_equal(ev.kind, HM_WS_EV_MESSAGE);
  assert_int_equal(ev.is_binary, 1);
  hm_ws_decoder_clear(&d);
}

static void test_ws_decode_size_limit_1009_on_header(void **state) {
  (void)state;
  /* declared length over the limit fails on the header alone (no payload present) */
  const uint8_t hdr[] = {0x81, 0x80 | 126, 0x03, 0xe9 /* 1001 */};
  expect_fail(hdr, sizeof hdr, 1009);
  /* accumulated over fragments */
  uint8_t *f = malloc(3000);
  uint8_t p[600];
  memset(p, 'a', sizeof p);
  size_t n = client_frame(f, 0x01, p, 600);
  n += client_frame(f + n, 0x80, p, 401);
  expect_fail(f, n, 1009);
  /* exactly the limit passes */
  hm_ws_decoder d;
  hm_ws_decoder_init(&d, 1000);
  n = client_frame(f, 0x01, p, 600);
  n += client_frame(f + n, 0x80, p, 400);
  size_t used, off = 0;
  hm_ws_event ev;
  hm_ws_decode(&d, f, n, &used, &ev);
  off += used;
  hm_ws_decode(&d, f + off, n - off, &used, &ev);
  assert_int_equal(ev.kind, HM_WS_EV_MESSAGE);
  assert_int_equal(ev.len, 1000);
  hm_ws_decoder_clear(&d);
  free(f);
}

static void test_ws_decode_close_and_pong(void **state) {
  (void)state;
  hm_ws_decoder d;
  hm_ws_decoder_init(&d, 1000);
  uint8_t f[64];
  size_t used;
  hm_ws_event ev;
  size_t n = client_frame(f, 0x88, "\x03\xe8" "bye", 5);
  hm_ws_decode(&d, f, n, &used, &ev);
  assert_int_equal(ev.kind, HM_WS_EV_CLOSE);
  assert_int_equal(ev.code, 1000);
  assert_int_equal(ev.len, 3);
  assert_memory_equal(ev.data, "bye", 3);
  n = client_frame(f, 0x88, "", 0);
  hm_ws_decode(&d, f, n, &used, &ev);
  assert_int_equal(ev.kind, HM_WS_EV_CLOSE);
  assert_int_equal(ev.code, 1005);
  n = client_frame(f, 0x8A, "pp", 2);
  hm_ws_decode(&d, f, n, &used, &ev);
  assert_int_equal(ev.kind, HM_WS_EV_PONG);
  assert_int_equal(used, n);
  hm_ws_decoder_clear(&d);
}

static void test_ws_decode_alloc_failure_1011(void **state) {
  (void)state;
  hm_test_alloc_install();
  hm_ws_decoder d;
  hm_ws_decoder_init(&d, 1000);
  uint8_t f[64];
  size_t n = client_frame(f, 0x01, "abc", 3), used;
  hm_ws_event ev;
  hm_test_alloc_fail_at(1);
  hm_ws_decode(&d, f, n, &used, &ev);
  hm_test_alloc_fail_at(0);
  assert_int_equal(ev.kind, HM_WS_EV_FAIL);
  assert_int_equal(ev.code, 1011);
  hm_ws_decoder_clear(&d);
  assert_int_equal(hm_test_alloc_outstanding(), 0);
}

static void test_ws_encode_header_and_close(void **state) {
  (void)state;
  uint8_t h[16];
  assert_int_equal(hm_ws_encode_header(h, HM_WS_OP_TEXT, 5), 2);
  assert_int_equal(h[0], 0x81);
  assert_int_equal(h[1], 5);
  assert_int_equal(hm_ws_encode_header(h, HM_WS_OP_TEXT, 126), 4);
  assert_int_equal(h[1], 126);
  assert_int_equal(h[2], 0);
  assert_int_equal(h[3], 126);
  assert_int_equal(hm_ws_encode_header(h, HM_WS_OP_PONG, 70000), 10);
  assert_int_equal(h[0], 0x8A);
  assert_int_equal(h[1], 127);
  assert_int_equal(h[7], 0x01);
  assert_int_equal(h[8], 0x11);
  assert_int_equal(h[9], 0x70);
  assert_int_equal(hm_ws_header_len(125), 2);
  assert_int_equal(hm_ws_header_len(65535), 4);
  assert_int_equal(hm_ws_header_len(65536), 10);
  uint8_t c[130];
  size_t n = hm_ws_encode_close(c, 1009, "Message too big");
  assert_int_equal(n, 2 + 2 + 15);
  assert_int_equal(c[0], 0x88);
  assert_int_equal(c[1], 17);
  assert_int_equal(c[2], 0x03);
  assert_int_equal(c[3], 0xf1);
  assert_memory_equal(c + 4, "Message too big", 15);
  assert_int_equal(hm_ws_encode_close(c, 0, NULL), 2);
  assert_int_equal(c[1], 0);
  /* a long reason is cut at a UTF-8 boundary, payload <= 125 */
  char longr[300];
  for (int i = 0; i < 149; i++) memcpy(longr + 2 * i, "\xc3\xa9", 2);
  longr[298] = 0;
  n = hm_ws_encode_close(c, 1000, longr);
  assert_true(c[1] <= 125);
  assert_int_equal(n, 2u + c[1]);
  assert_true(hm_ws_utf8_valid(c + 4, c[1] - 2u));
}

static void test_ws_utf8_valid_boundaries(void **state) {
  (void)state;
  assert_true(hm_ws_utf8_valid((const uint8_t *)"", 0));
  assert_true(hm_ws_utf8_valid((const uint8_t *)"plain ascii text, longer than 8", 31));
  assert_true(hm_ws_utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80", 4));      /* U+1F600 */
  assert_true(hm_ws_utf8_valid((const uint8_t *)"\xf4\x8f\xbf\xbf", 4));      /* U+10FFFF */
  assert_true(hm_ws_utf8_valid((const uint8_t *)"\xed\x9f\xbf", 3));          /* U+D7FF */
  assert_false(hm_ws_utf8_valid((const uint8_t *)"\xe0\x80\x80", 3));         /* overlong */
  assert_false(hm_ws_utf8_valid((const uint8_t *)"\xf8\x88\x80\x80\x80", 5));
  assert_false(hm_ws_utf8_valid((const uint8_t *)"abcdefgh\xc3", 9));         /* truncated */
  assert_true(hm_ws_close_code_valid(1000));
  assert_true(hm_ws_close_code_valid(4999));
  assert_false(hm_ws_close_code_valid(1005));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ws_decode_text_message),
      cmocka_unit_test(test_ws_decode_lengths_16_and_64),
      cmocka_unit_test(test_ws_decode_fragments_with_ping_between),
      cmocka_unit_test(test_ws_decode_protocol_errors_1002),
      cmocka_unit_test(test_ws_decode_utf8_1007),
      cmocka_unit_test(test_ws_decode_size_limit_1009_on_header),
      cmocka_unit_test(test_ws_decode_close_and_pong),
      cmocka_unit_test(test_ws_decode_alloc_failure_1011),
      cmocka_unit_test(test_ws_encode_header_and_close),
      cmocka_unit_test(test_ws_utf8_valid_boundaries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
