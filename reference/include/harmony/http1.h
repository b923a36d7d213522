/* harmony/http1.h - sans-I/O HTTP/1.1 request heads (RFC 9112) and the WebSocket opening
 * handshake (RFC 6455 section 4.2) for harmonyd's two ports.
 *
 * hm_http1_parse_head reads the request line and the header fields of one request from
 * the bytes received so far. It points into the caller's buffer (nothing is copied or
 * allocated), so the buffer must stay unchanged while the request is used. Bodies are
 * framed by Content-Length only: a Transfer-Encoding is refused (411 for chunked, 501 for
 * anything else), since no client of ours sends one.
 *
 * Refusals carry the status to answer with:
 *   400 malformed request line or header field (bare LF, obs-fold, space before the colon,
 *       control characters, bad or conflicting Content-Length), 414 request line longer than
 *       HM_HTTP1_MAX_LINE, 431 head longer than the caller's limit or more than
 *       HM_HTTP1_MAX_HEADERS fields, 505 an HTTP version other than 1.0 / 1.1.
 */
#ifndef HARMONY_HTTP1_H
#define HARMONY_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HM_HTTP1_MAX_HEADERS 64
#define HM_HTTP1_MAX_LINE 8192

typedef struct {
  const char *name;
  size_t name_len;
  const char *value; /* without surrounding whitespace */
  size_t value_len;
} hm_http1_header;

typedef struct {
  char method[16]; /* NUL-terminated token */
  const char *target; /* request-target as received (not NUL-terminated) */
  size_t target_len;
  int minor; /* HTTP/1.<minor>: 0 or 1 */
  hm_http1_header headers[HM_HTTP1_MAX_HEADERS];
  size_t n_headers;
  size_t head_len;          /* bytes of the head, up to and including the empty line */
  uint64_t content_length;  /* 0 when absent */
  int has_content_length;
  int keep_alive;           /* the connection may carry another request afterwards */
} hm_http1_request;

/* Parse the head of one request from buf[0..len), with at most max_head bytes of head.
 * Returns HM_OK with req->head_len > 0 when the head is complete; HM_OK with
 * req->head_len == 0 when more bytes are needed; HM_ERR_DECODE when the request is
 * refused, with *status set to the HTTP status to answer with (see above). */
int hm_http1_parse_head(hm_http1_request *req, const char *buf, size_t len, size_t max_head, int *status);

/* The value of the first header field named name (case-insensitive), or NULL. *len set. */
const char *hm_http1_header_get(const hm_http1_request *req, const char *name, size_t *len);

/* 1 if some header field named name holds token in its comma-separated list
 * (case-insensitive), else 0. */
int hm_http1_header_has_token(const hm_http1_request *req, const char *name, const char *token);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (base64 of SHA-1(key || GUID)); out gets
 * 28 characters and a NUL. Returns HM_OK or HM_ERR_CRYPTO. */
int hm_http1_ws_accept(const char *key, size_t key_len, char out[29]);

/* Result of hm_http1_ws_check. */
typedef struct {
  char accept[29];       /* Sec-WebSocket-Accept */
  const char *protocol;  /* first offered subprotocol (into the request), or NULL */
  size_t protocol_len;
} hm_http1_ws;

/* Is req a WebSocket opening handshake? Returns 1 (valid; *ws filled), 0 (no
 * "Upgrade: websocket": a plain HTTP request), or -1 (an invalid handshake; *status is 400,
 * or 426 for a Sec-WebSocket-Version other than 13: answer with "Sec-WebSocket-Version: 13"). */
int hm_http1_ws_check(const hm_http1_request *req, hm_http1_ws *ws, int *status);

/* Percent-decode in[0..len) into out (cap bytes incl. the NUL). Returns HM_OK, or
 * HM_ERR_DECODE for a malformed escape or an encoded NUL, HM_ERR_BUFSZ if out is short. */
int hm_http1_percent_decode(char *out, size_t cap, const char *in, size_t len);

/* The reason phrase of a status code ("OK", "Not Found", ...; "Unknown" otherwise). */
const char *hm_http1_reason(int status);

#ifdef __cplusplus
}
#endif
#endif
