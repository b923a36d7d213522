/* fuzz/fuzz_http1.c - harmony/http1.h: request heads, the WebSocket handshake check and
 * percent-decoding.
 *
 * Input: byte 0 selects the head limit (bit 0: 256 bytes, else 16 KiB); the rest is the
 * bytes received on a connection.
 * Invariants: the parser returns HM_OK or HM_ERR_DECODE with a status of 400, 411, 414,
 * 431, 501 or 505; a complete head ends with CRLF CRLF within the limit, its method is a
 * token, its target and header fields lie inside the head, without CR/LF; every shorter
 * prefix of a complete head asks for more bytes; the handshake check gives 1 (accept key
 * equal to a recomputation, protocol inside the head), 0, or -1 with 400/426; the
 * percent-decoded target is no longer than the target and has no NUL.
 */
#include <string.h>

#include "fuzz.h"
#include "harmony/http1.h"

static int inside(const char *p, size_t n, const char *buf, size_t len) {
  return p >= buf && p + n <= buf + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t max_head = (data[0] & 1) ? 256 : 16384;
  char *buf = fz_cstr(data + 1, size - 1);
  size_t len = size - 1;
  hm_http1_request q;
  int st = -1;
  int rc = hm_http1_parse_head(&q, buf, len, max_head, &st);
  FZ_CHECK(rc == HM_OK || rc == HM_ERR_DECODE, "rc %d", rc);
  if (rc == HM_ERR_DECODE) {
    FZ_CHECK(st == 400 || st == 411 || st == 414 || st == 431 || st == 501 || st == 505, "status %d", st);
  } else if (q.head_len) {
    FZ_CHECK(q.head_len <= len && q.head_len <= max_head, "head_len %zu", q.head_len);
    FZ_CHECK(q.head_len >= 4 && !memcmp(buf + q.head_len - 4, "\r\n\r\n", 4), "head end");
    FZ_CHECK(q.method[0] && strlen(q.method) < sizeof q.method, "method");
    FZ_CHECK(inside(q.target, q.target_len, buf, q.head_len) && q.target_len > 0, "target");
    FZ_CHECK(!memchr(q.target, ' ', q.target_len) && !memchr(q.target, '\r', q.target_len), "target chars");
    FZ_CHECK(q.minor == 0 || q.minor == 1, "minor");
    FZ_CHECK(q.n_headers <= HM_HTTP1_MAX_HEADERS, "n_headers");
    for (size_t i = 0; i < q.n_headers; i++) {
      const hm_http1_header *h = &q.headers[i];
      FZ_CHECK(inside(h->name, h->name_len, buf, q.head_len) && h->name_len > 0, "header name");
      FZ_CHECK(inside(h->value, h->value_len, buf, q.head_len), "header value");
      FZ_CHECK(!memchr(h->value, '\r', h->value_len) && !memchr(h->value, '\n', h->value_len), "value chars");
    }
    /* prefixes: need more */
    size_t cuts[3] = {q.head_len - 1, q.head_len / 2, q.head_len / 3};
    for (int k = 0; k < 3; k++) {
      hm_http1_request p;
      int s2;
      int r2 = hm_http1_parse_head(&p, buf, cuts[k], max_head, &s2);
      FZ_CHECK(r2 == HM_OK && p.head_len == 0, "prefix of %zu bytes: rc %d head_len %zu status %d", cuts[k], r2,
               p.head_len, s2);
    }
    hm_http1_ws ws;
    int s3 = -1;
    int up = hm_http1_ws_check(&q, &ws, &s3);
    FZ_CHECK(up >= -1 && up <= 1, "ws check %d", up);
    if (up == 1) {
      size_t kl;
      const char *key = hm_http1_header_get(&q, "sec-websocket-key", &kl);
      char again[29];
      FZ_CHECK(key && hm_http1_ws_accept(key, kl, again) == HM_OK && !strcmp(again, ws.accept) &&
                   strlen(ws.accept) == 28,
               "accept key");
      FZ_CHECK(!ws.protocol || (inside(ws.protocol, ws.protocol_len, buf, q.head_len) && ws.protocol_len > 0),
               "protocol");
    } else if (up == -1) {
      FZ_CHECK(s3 == 400 || s3 == 426, "ws status %d", s3);
    }
    char *out = malloc(q.target_len + 1);
    if (!out) abort();
    if (hm_http1_percent_decode(out, q.target_len + 1, q.target, q.target_len) == HM_OK)
      FZ_CHECK(strlen(out) <= q.target_len, "decoded length");
    free(out);
  }
  free(buf);
  return 0;
}
