/* fuzz/fuzz_ws_frame.c - harmony/ws_frame.h: the server-side RFC 6455 frame decoder.
 *
 * Input: byte 0 selects the message limit (bit 0: 64 bytes, to reach 1009 often, or 1 MiB)
 * and the chunk size of the second pass (bits 1-7); the rest is the byte stream a client
 * sent on the connection (frames are usually masked by the seeds; mutations break that).
 * Pass 1 decodes the whole stream from one buffer; pass 2 feeds the same bytes in chunks,
 * appending to a buffer and decoding what is complete, as the daemon does.
 * Invariants: *used never exceeds the bytes given; a FAIL carries 1002, 1007, 1009 or 1011
 * and a reason; messages are at most the limit, text messages are valid UTF-8; ping/pong
 * data at most 125 bytes; a close code is 1005 or valid on the wire and its reason UTF-8;
 * both passes give the same events (kind, code, length, bytes); encoding a message's
 * header and decoding it again (masked by the harness) gives the message back.
 */
#include <string.h>

#include "fuzz.h"
#include "harmony/alloc.h"
#include "harmony/ws_frame.h"

typedef struct {
  int kind, code, is_binary;
  size_t len;
  uint32_t sum;
} rec;

#define MAX_EV 4096

static uint32_t digest(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void check_event(const hm_ws_event *ev, size_t used, size_t avail, size_t limit) {
  FZ_CHECK(used <= avail, "used %zu of %zu", used, avail);
  switch (ev->kind) {
    case HM_WS_EV_FAIL:
      FZ_CHECK(ev->code == 1002 || ev->code == 1007 || ev->code == 1009 || ev->code == 1011, "fail code %d", ev->code);
      FZ_CHECK(ev->reason && *ev->reason, "fail without reason");
      FZ_CHECK(used == 0, "fail consumed bytes");
      break;
    case HM_WS_EV_MESSAGE:
      FZ_CHECK(ev->len <= limit, "message of %zu over %zu", ev->len, limit);
      FZ_CHECK(ev->is_binary || hm_ws_utf8_valid(ev->data, ev->len), "text message not UTF-8");
      FZ_CHECK(used > 0, "event without bytes");
      break;
    case HM_WS_EV_PING:
    case HM_WS_EV_PONG:
      FZ_CHECK(ev->len <= 125, "control data %zu", ev->len);
      FZ_CHECK(used > 0, "event without bytes");
      break;
    case HM_WS_EV_CLOSE:
      FZ_CHECK(ev->code == 1005 || hm_ws_close_code_valid(ev->code), "close code %d", ev->code);
      FZ_CHECK(ev->len <= 123 && hm_ws_utf8_valid(ev->data, ev->len), "close reason");
      break;
    default:
      break;
  }
}

static void roundtrip(const hm_ws_event *ev) {
  if (ev->kind != HM_WS_EV_MESSAGE) return;
  size_t n = ev->len;
  uint8_t *f = malloc(n + 14);
  if (!f) abort();
  size_t h = hm_ws_encode_header(f, ev->is_binary ? HM_WS_OP_BINARY : HM_WS_OP_TEXT, n);
  FZ_CHECK(h == hm_ws_header_len(n), "header length");
  f[1] |= 0x80; /* masked, as a client would send it */
  static const uint8_t key[4] = {1, 2, 3, 4};
  memcpy(f + h, key, 4);
  for (size_t i = 0; i < n; i++) f[h + 4 + i] = ev->data[i] ^ key[i & 3];
  hm_ws_decoder d;
  hm_ws_decoder_init(&d, n);
  size_t used;
  hm_ws_event back;
  hm_ws_decode(&d, f, h + 4 + n, &used, &back);
  FZ_CHECK(back.kind == HM_WS_EV_MESSAGE && used == h + 4 + n && back.len == n &&
               back.is_binary == ev->is_binary && (n == 0 || !memcmp(back.data, ev->data, n)),
           "encode/decode round trip");
  hm_ws_decoder_clear(&d);
  free(f);
}

static size_t pass(const uint8_t *data, size_t size, size_t limit, size_t chunk, rec *out, int check) {
  hm_ws_decoder d;
  hm_ws_decoder_init(&d, limit);
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) abort();
  size_t fed = 0, have = 0, nev = 0;
  int failed = 0;
  while (!failed && nev < MAX_EV) {
    size_t add = chunk ? chunk : size;
    if (add > size - fed) add = size - fed;
    memcpy(buf + have, data + fed, add);
    have += add;
    fed += add;
    size_t off = 0;
    for (;;) {
      size_t used;
      hm_ws_event ev;
      hm_ws_decode(&d, buf + off, have - off, &used, &ev);
      if (check) check_event(&ev, used, have - off, limit);
      if (ev.kind != HM_WS_EV_NONE && nev < MAX_EV) {
        rec r = {(int)ev.kind, ev.code, ev.is_binary, ev.len, ev.data ? digest(ev.data, ev.len) : 0};
        out[nev++] = r;
        if (check) roundtrip(&ev);
      }
      if (ev.kind == HM_WS_EV_FAIL) {
        failed = 1;
        break;
      }
      if (!used) break;
      off += used;
    }
    memmove(buf, buf + off, have - off);
    have -= off;
    if (fed == size) break;
  }
  hm_ws_decoder_clear(&d);
  free(buf);
  return nev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t limit = (data[0] & 1) ? 64 : (1u << 20);
  size_t chunk = (size_t)(data[0] >> 1) + 1;
  data++;
  size--;
  static rec a[MAX_EV], b[MAX_EV];
  size_t na = pass(data, size, limit, 0, a, 1);
  size_t nb = pass(data, size, limit, chunk, b, 0);
  FZ_CHECK(na == nb, "whole %zu events, chunked %zu", na, nb);
  for (size_t i = 0; i < na; i++)
    FZ_CHECK(a[i].kind == b[i].kind && a[i].code == b[i].code && a[i].len == b[i].len && a[i].sum == b[i].sum &&
                 a[i].is_binary == b[i].is_binary,
             "event %zu differs between whole and chunked decoding", i);
  return 0;
}
