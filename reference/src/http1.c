/* http1.c - sans-I/O HTTP/1.1 request heads and the WebSocket handshake. See harmony/http1.h. */
#include "harmony/http1.h"

#include <openssl/evp.h>
#include <string.h>

#include "harmony/codec.h"

static int refuse(int *status, int code) {
  *status = code;
  return HM_ERR_DECODE;
}

static int is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return 1;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return 1;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int ieq(const char *a, size_t an, const char *b) {
  size_t bn = strlen(b);
  if (an != bn) return 0;
  for (size_t i = 0; i < an; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z') x |= 0x20;
    if (y >= 'A' && y <= 'Z') y |= 0x20;
    if (x != y) return 0;
  }
  return 1;
}

/* The request line: METHOD SP request-target SP HTTP/1.x */
static int parse_request_line(hm_http1_request *req, const char *p, size_t n, int *status) {
  size_t i = 0;
  while (i < n && is_tchar((unsigned char)p[i])) i++;
  if (i == 0 || i >= sizeof req->method || i >= n || p[i] != ' ') return refuse(status, i >= sizeof req->method ? 501 : 400);
  memcpy(req->method, p, i);
  req->method[i] = 0;
  size_t t0 = ++i;
  while (i < n && p[i] != ' ') {
    unsigned char c = (unsigned char)p[i];
    if (c <= 0x20 || c == 0x7f) return refuse(status, 400);
    i++;
  }
  if (i == t0 || i >= n) return refuse(status, 400);
  req->target = p + t0;
  req->target_len = i - t0;
  i++;
  if (n - i != 8 || memcmp(p + i, "HTTP/", 5) || p[i + 5] < '0' || p[i + 5] > '9' || p[i + 6] != '.' ||
      p[i + 7] < '0' || p[i + 7] > '9')
    return refuse(status, 400);
  if (p[i + 5] != '1' || (p[i + 7] != '0' && p[i + 7] != '1')) return refuse(status, 505);
  req->minor = p[i + 7] - '0';
  return HM_OK;
}

static int parse_field(hm_http1_request *req, const char *p, size_t n, int *status) {
  size_t i = 0;
  if (n && (p[0] == ' ' || p[0] == '\t')) return refuse(status, 400); /* obs-fold */
  while (i < n && is_tchar((unsigned char)p[i])) i++;
  if (i == 0 || i >= n || p[i] != ':') return refuse(status, 400);
  if (req->n_headers >= HM_HTTP1_MAX_HEADERS) return refuse(status, 431);
  hm_http1_header *h = &req->headers[req->n_headers++];
  h->name = p;
  h->name_len = i;
  size_t v = i + 1, e = n;
  while (v < e && (p[v] == ' ' || p[v] == '\t')) v++;
  while (e > v && (p[e - 1] == ' ' || p[e - 1] == '\t')) e--;
  for (size_t k = v; k < e; k++) {
    unsigned char c = (unsigned char)p[k];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return refuse(status, 400);
  }
  h->value = p + v;
  h->value_len = e - v;
  return HM_OK;
}

int hm_http1_parse_head(hm_http1_request *req, const char *buf, size_t len, size_t max_head, int *status) {
  req->n_headers = 0;
  req->head_len = 0;
  req->content_length = 0;
  req->has_content_length = 0;
  req->keep_alive = 0;
  req->target = NULL;
  req->target_len = 0;
  req->method[0] = 0;
  *status = 0;
  size_t lim = len < max_head ? len : max_head;
  size_t pos = 0;
  int first = 1;
  for (;;) {
    const char *nl = memchr(buf + pos, '\n', lim - pos);
    if (!nl) {
      if (first && lim - pos > HM_HTTP1_MAX_LINE + 1) return refuse(status, 414);
      if (len >= max_head) return refuse(status, first ? 414 : 431);
      return HM_OK; /* need more */
    }
    size_t end = (size_t)(nl - buf);
    if (end == pos || buf[end - 1] != '\r') return refuse(status, 400); /* bare LF */
    size_t n = end - 1 - pos;
    if (first) {
      if (n > HM_HTTP1_MAX_LINE) return refuse(status, 414);
      int rc = parse_request_line(req, buf + pos, n, status);
      if (rc) return rc;
      first = 0;
    } else if (n == 0) {
      pos = end + 1;
      break; /* the empty line: end of the head */
    } else {
      int rc = parse_field(req, buf + pos, n, status);
      if (rc) return rc;
    }
    pos = end + 1;
  }

  /* framing and persistence */
  int close = 0, keep = 0;
  for (size_t i = 0; i < req->n_headers; i++) {
    const hm_http1_header *h = &req->headers[i];
    if (ieq(h->name, h->name_len, "transfer-encoding")) {
      return refuse(status, hm_http1_header_has_token(req, "transfer-encoding", "chunked") ? 411 : 501);
    } else if (ieq(h->name, h->name_len, "content-length")) {
      if (h->value_len == 0 || h->value_len > 18) return refuse(status, 400);
      uint64_t v = 0;
      for (size_t k = 0; k < h->value_len; k++) {
        if (h->value[k] < '0' || h->value[k] > '9') return refuse(status, 400);
        v = v * 10 + (uint64_t)(h->value[k] - '0');
      }
      if (req->has_content_length && v != req->content_length) return refuse(status, 400);
      req->content_length = v;
      req->has_content_length = 1;
    }
  }
  if (hm_http1_header_has_token(req, "connection", "close")) close = 1;
  if (hm_http1_header_has_token(req, "connection", "keep-alive")) keep = 1;
  req->keep_alive = !close && (req->minor == 1 || keep);
  req->head_len = pos;
  return HM_OK;
}

const char *hm_http1_header_get(const hm_http1_request *req, const char *name, size_t *len) {
  for (size_t i = 0; i < req->n_headers; i++)
    if (ieq(req->headers[i].name, req->headers[i].name_len, name)) {
      if (len) *len = req->headers[i].value_len;
      return req->headers[i].value;
    }
  if (len) *len = 0;
  return NULL;
}

int hm_http1_header_has_token(const hm_http1_request *req, const char *name, const char *token) {
  for (size_t i = 0; i < req->n_headers; i++) {
    const hm_http1_header *h = &req->headers[i];
    if (!ieq(h->name, h->name_len, name)) continue;
    size_t k = 0;
    while (k < h->value_len) {
      while (k < h->value_len && (h->value[k] == ' ' || h->value[k] == '\t' || h->value[k] == ',')) k++;
      size_t s = k;
      while (k < h->value_len && h->value[k] != ',') k++;
      size_t e = k;
      while (e > s && (h->value[e - 1] == ' ' || h->value[e - 1] == '\t')) e--;
      if (e > s && ieq(h->value + s, e - s, token)) return 1;
    }
  }
  return 0;
}

int hm_http1_ws_accept(const char *key, size_t key_len, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdn = 0;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  int ok = c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) && EVP_DigestUpdate(c, key, key_len) &&
           EVP_DigestUpdate(c, guid, sizeof guid - 1) && EVP_DigestFinal_ex(c, md, &mdn) && mdn == 20;
  EVP_MD_CTX_free(c);
  if (!ok) return HM_ERR_CRYPTO;
  return hm_base64_encode(out, 29, md, 20, 0) == HM_OK ? HM_OK : HM_ERR_CRYPTO;
}

int hm_http1_ws_check(const hm_http1_request *req, hm_http1_ws *ws, int *status) {
  memset(ws, 0, sizeof *ws);
  *status = 0;
  if (!hm_http1_header_has_token(req, "upgrade", "websocket")) return 0;
  if (strcmp(req->method, "GET") || req->minor != 1 || !hm_http1_header_has_token(req, "connection", "upgrade")) {
    *status = 400;
    return -1;
  }
  size_t vl, kl;
  const char *v = hm_http1_header_get(req, "sec-websocket-version", &vl);
  if (!v || vl != 2 || memcmp(v, "13", 2)) {
    *status = 426;
    return -1;
  }
  const char *k = hm_http1_header_get(req, "sec-websocket-key", &kl);
  uint8_t raw[24];
  size_t rawn = 0;
  if (!k || kl != 24 || hm_base64_decode(raw, sizeof raw, &rawn, k, kl, 0) != HM_OK || rawn != 16) {
    *status = 400;
    return -1;
  }
  if (hm_http1_ws_accept(k, kl, ws->accept) != HM_OK) {
    *status = 500;
    return -1;
  }
  /* R-TRN-1: the first subprotocol offered */
  size_t pl;
  const char *p = hm_http1_header_get(req, "sec-websocket-protocol", &pl);
  if (p) {
    size_t s = 0;
    while (s < pl && (p[s] == ' ' || p[s] == '\t' || p[s] == ',')) s++;
    size_t e = s;
    while (e < pl && p[e] != ',' && p[e] != ' ' && p[e] != '\t') e++;
    int ok = e > s;
    for (size_t i = s; i < e; i++)
      if (!is_tchar((unsigned char)p[i])) ok = 0;
    if (ok) {
      ws->protocol = p + s;
      ws->protocol_len = e - s;
    }
  }
  return 1;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int hm_http1_percent_decode(char *out, size_t cap, const char *in, size_t len) {
  size_t k = 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c == '%') {
      int hi, lo;
      if (i + 2 >= len) return HM_ERR_DECODE;
      hi = hexval(in[i + 1]);
      lo = hexval(in[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return HM_ERR_DECODE;
      c = (char)(hi * 16 + lo);
      i += 2;
    } else if (c == 0) {
      return HM_ERR_DECODE;
    }
    if (k + 1 >= cap) return HM_ERR_BUFSZ;
    out[k++] = c;
  }
  if (k >= cap) return HM_ERR_BUFSZ;
  out[k] = 0;
  return HM_OK;
}

const char *hm_http1_reason(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}
