/* ws_frame.c - sans-I/O RFC 6455 frame decoder (server side) and encoder. See harmony/ws_frame.h. */
#include "harmony/ws_frame.h"

#include <string.h>

#include "harmony/alloc.h"

/* ---- UTF-8 ------------------------------------------------------------------------ */

/* Incremental state: bits 0-7 continuation bytes still expected, bits 8-15 / 16-23 the
 * allowed range of the next byte (narrower than 80..BF right after E0, ED, F0, F4). */
#define U8_ST(need, lo, hi) ((uint32_t)(need) | ((uint32_t)(lo) << 8) | ((uint32_t)(hi) << 16))

static int utf8_feed(uint32_t *state, const uint8_t *p, size_t n) {
  uint32_t st = *state;
  size_t i = 0;
  while (i < n) {
    if ((st & 0xff) == 0) {
      /* fast path: runs of ASCII, 8 bytes at a time */
      while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull) break;
        i += 8;
      }
      if (i >= n) break;
      uint8_t c = p[i++];
      if (c < 0x80) continue;
      if (c >= 0xC2 && c <= 0xDF)
        st = U8_ST(1, 0x80, 0xBF);
      else if (c == 0xE0)
        st = U8_ST(2, 0xA0, 0xBF);
      else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        st = U8_ST(2, 0x80, 0xBF);
      else if (c == 0xED)
        st = U8_ST(2, 0x80, 0x9F);
      else if (c == 0xF0)
        st = U8_ST(3, 0x90, 0xBF);
      else if (c >= 0xF1 && c <= 0xF3)
        st = U8_ST(3, 0x80, 0xBF);
      else if (c == 0xF4)
        st = U8_ST(3, 0x80, 0x8F);
      else
        return 0;
    } else {
      uint8_t c = p[i++];
      uint8_t lo = (uint8_t)(st >> 8), hi = (uint8_t)(st >> 16);
      if (c < lo || c > hi) return 0;
      st = U8_ST((st & 0xff) - 1, 0x80, 0xBF);
      if ((st & 0xff) == 0) st = 0;
    }
  }
  *state = st;
  return 1;
}

int hm_ws_utf8_valid(const uint8_t *p, size_t n) {
  uint32_t st = 0;
  return utf8_feed(&st, p, n) && st == 0;
}

/* ---- decoder ---------------------------------------------------------------------- */

void hm_ws_decoder_init(hm_ws_decoder *d, size_t max_message) {
  memset(d, 0, sizeof *d);
  d->max_message = max_message;
}

void hm_ws_decoder_clear(hm_ws_decoder *d) {
  if (!d) return;
  hm_free(d->msg);
  size_t max = d->max_message;
  memset(d, 0, sizeof *d);
  d->max_message = max;
}

int hm_ws_close_code_valid(int code) {
  if (code >= 1000 && code <= 1003) return 1;
  if (code >= 1007 && code <= 1014) return 1;
  return code >= 3000 && code <= 4999;
}

static void fail(hm_ws_event *ev, size_t *used, int code, const char *reason) {
  ev->kind = HM_WS_EV_FAIL;
  ev->code = code;
  ev->reason = reason;
  ev->data = NULL;
  ev->len = 0;
  *used = 0;
}

static void unmask(uint8_t *p, size_t n, const uint8_t key[4]) {
  size_t i = 0;
  if (n >= 16) {
    uint32_t k32;
    memcpy(&k32, key, 4);
    uint64_t k64 = ((uint64_t)k32 << 32) | k32;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      w ^= k64;
      memcpy(p + i, &w, 8);
    }
  }
  for (; i < n; i++) p[i] ^= key[i & 3];
}

void hm_ws_decode(hm_ws_decoder *d, uint8_t *buf, size_t len, size_t *used, hm_ws_event *ev) {
  memset(ev, 0, sizeof *ev);
  *used = 0;
  if (!d->in_message && d->msg_cap > 65536) { /* a large reassembly buffer is not kept between messages */
    hm_free(d->msg);
    d->msg = NULL;
    d->msg_cap = 0;
  }
  if (len < 2) return;
  uint8_t b0 = buf[0], b1 = buf[1];
  int fin = b0 >> 7, op = b0 & 0x0f;
  if (b0 & 0x70) return fail(ev, used, 1002, "Reserved bits set");
  if (!(b1 & 0x80)) return fail(ev, used, 1002, "Unmasked client frame");
  int control = op >= 0x8;
  if (op != HM_WS_OP_CONT && op != HM_WS_OP_TEXT && op != HM_WS_OP_BINARY && op != HM_WS_OP_CLOSE &&
      op != HM_WS_OP_PING && op != HM_WS_OP_PONG)
    return fail(ev, used, 1002, "Reserved opcode");
  uint64_t plen = b1 & 0x7f;
  size_t hl = 2;
  if (control && (!fin || plen > 125)) return fail(ev, used, 1002, "Invalid control frame");
  if (plen == 126) {
    if (len < 4) return;
    plen = ((uint64_t)buf[2] << 8) | buf[3];
    hl = 4;
  } else if (plen == 127) {
    if (len < 10) return;
    if (buf[2] & 0x80) return fail(ev, used, 1002, "Invalid frame length");
    plen = 0;
    for (int i = 0; i < 8; i++) plen = (plen << 8) | buf[2 + i];
    hl = 10;
  }
  /* sequence rules and the size limit, on the header alone (R-LIM-1) */
  if (op == HM_WS_OP_CONT && !d->in_message) return fail(ev, used, 1002, "Unexpected continuation frame");
  if ((op == HM_WS_OP_TEXT || op == HM_WS_OP_BINARY) && d->in_message)
    return fail(ev, used, 1002, "Expected a continuation frame");
  if (!control) {
    size_t have = op == HM_WS_OP_CONT ? d->msg_len : 0;
    if (plen > d->max_message || have + plen > d->max_message) return fail(ev, used, 1009, "Message too big");
  }
  if (len - hl < 4) return;
  const uint8_t *key = buf + hl;
  hl += 4;
  if ((uint64_t)(len - hl) < plen) return; /* incomplete payload */
  size_t n = (size_t)plen;
  uint8_t *p = buf + hl;
  unmask(p, n, key);
  size_t total = hl + n;

  if (control) {
    if (op == HM_WS_OP_PING || op == HM_WS_OP_PONG) {
      ev->kind = op == HM_WS_OP_PING ? HM_WS_EV_PING : HM_WS_EV_PONG;
      ev->data = p;
      ev->len = n;
      *used = total;
      return;
    }
    /* close */
    if (n == 1) return fail(ev, used, 1002, "Invalid close frame");
    int code = 1005;
    if (n >= 2) {
      code = (p[0] << 8) | p[1];
      if (!hm_ws_close_code_valid(code)) return fail(ev, used, 1002, "Invalid close code");
      if (!hm_ws_utf8_valid(p + 2, n - 2)) return fail(ev, used, 1007, "Invalid UTF-8 in close reason");
    }
    ev->kind = HM_WS_EV_CLOSE;
    ev->code = code;
    ev->data = n >= 2 ? p + 2 : p;
    ev->len = n >= 2 ? n - 2 : 0;
    *used = total;
    return;
  }

  if (op != HM_WS_OP_CONT && fin) {
    /* the common case: a whole message in one frame, handed back without a copy */
    if (op == HM_WS_OP_TEXT && !hm_ws_utf8_valid(p, n)) return fail(ev, used, 1007, "Invalid UTF-8");
    ev->kind = HM_WS_EV_MESSAGE;
    ev->is_binary = op == HM_WS_OP_BINARY;
    ev->data = p;
    ev->len = n;
    *used = total;
    return;
  }
  if (op != HM_WS_OP_CONT) { /* first fragment */
    d->in_message = 1;
    d->msg_binary = op == HM_WS_OP_BINARY;
    d->msg_len = 0;
    d->utf8 = 0;
  }
  if (!d->msg_binary && !utf8_feed(&d->utf8, p, n)) return fail(ev, used, 1007, "Invalid UTF-8");
  if (d->msg_len + n > d->msg_cap) {
    size_t cap = d->msg_cap ? d->msg_cap : 4096;
    while (cap < d->msg_len + n) cap *= 2;
    if (cap > d->max_message) cap = d->max_message;
    uint8_t *nb = hm_realloc(d->msg, cap ? cap : 1);
    if (!nb) return fail(ev, used, 1011, "Internal error");
    d->msg = nb;
    d->msg_cap = cap;
  }
  if (n) memcpy(d->msg + d->msg_len, p, n);
  d->msg_len += n;
  *used = total;
  if (!fin) return; /* HM_WS_EV_NONE: fragment taken in */
  if (!d->msg_binary && d->utf8 != 0) return fail(ev, used, 1007, "Invalid UTF-8");
  d->in_message = 0;
  ev->kind = HM_WS_EV_MESSAGE;
  ev->is_binary = d->msg_binary;
  ev->data = d->msg;
  ev->len = d->msg_len;
}

/* ---- encoder ---------------------------------------------------------------------- */

size_t hm_ws_header_len(size_t len) { return len < 126 ? 2 : len <= 0xffff ? 4 : 10; }

size_t hm_ws_encode_header(uint8_t *out, int opcode, size_t len) {
  out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
  if (len < 126) {
    out[1] = (uint8_t)len;
    return 2;
  }
  if (len <= 0xffff) {
    out[1] = 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
  }
  out[1] = 127;
  uint64_t v = (uint64_t)len;
  for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(v >> (56 - 8 * i));
  return 10;
}

size_t hm_ws_encode_close(uint8_t *out, int code, const char *reason) {
  if (code <= 0) return hm_ws_encode_header(out, HM_WS_OP_CLOSE, 0);
  size_t rl = reason ? strlen(reason) : 0;
  if (rl > 123) {
    rl = 123;
    while (rl > 0 && ((uint8_t)reason[rl] & 0xC0) == 0x80) rl--; /* cut before a continuation byte */
  }
  size_t h = hm_ws_encode_header(out, HM_WS_OP_CLOSE, rl + 2);
  out[h] = (uint8_t)(code >> 8);
  out[h + 1] = (uint8_t)code;
  if (rl) memcpy(out + h + 2, reason, rl);
  return h + 2 + rl;
}
