/* harmony/ws_frame.h - sans-I/O WebSocket (RFC 6455) frames for the server side.
 *
 * The decoder reads frames a client sent (every client frame must be masked), enforces
 * the protocol rules and hands back whole messages and control frames. It never reads a
 * socket: the caller passes the bytes it has, the decoder consumes whole frames only.
 *
 *   hm_ws_decoder d;
 *   hm_ws_decoder_init(&d, HM_SERVER_MAX_FRAME);
 *   for (;;) {
 *     size_t used; hm_ws_event ev;
 *     hm_ws_decode(&d, buf, len, &used, &ev);   // unmasks buf in place
 *     if (ev.kind == HM_WS_EV_FAIL) { close with ev.code / ev.reason; break; }
 *     if (used == 0) break;                      // need more bytes
 *     ... handle ev (ev.data is valid until the next call) ...
 *     buf += used; len -= used;
 *   }
 *   hm_ws_decoder_clear(&d);
 *
 * Failures (ev.kind HM_WS_EV_FAIL, ev.code):
 *   1002 protocol error: unmasked client frame, RSV bits set (no extension is negotiated),
 *        reserved opcode, continuation without a message, a new data frame inside a
 *        fragmented message, a control frame longer than 125 bytes or fragmented, a 64-bit
 *        length with its top bit set, a close payload of 1 byte or with an invalid code;
 *   1007 a text message (checked across fragments) or a close reason that is not UTF-8;
 *   1009 a message whose declared or accumulated length exceeds max_message (checked on
 *        the frame header, before the payload is read: R-LIM-1);
 *   1011 out of memory while reassembling fragments.
 *
 * The encoder writes server frames (never masked, always final).
 */
#ifndef HARMONY_WS_FRAME_H
#define HARMONY_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  HM_WS_OP_CONT = 0x0,
  HM_WS_OP_TEXT = 0x1,
  HM_WS_OP_BINARY = 0x2,
  HM_WS_OP_CLOSE = 0x8,
  HM_WS_OP_PING = 0x9,
  HM_WS_OP_PONG = 0xA,
};

typedef enum {
  HM_WS_EV_NONE = 0, /* nothing to report (need more bytes, or a non-final fragment consumed) */
  HM_WS_EV_MESSAGE,  /* a complete data message: data/len, is_binary */
  HM_WS_EV_PING,     /* data/len = application data (<= 125 bytes) */
  HM_WS_EV_PONG,     /* data/len = application data */
  HM_WS_EV_CLOSE,    /* code (1005 when the frame had no payload), data/len = reason (UTF-8) */
  HM_WS_EV_FAIL,     /* fail the connection: code, reason (static text) */
} hm_ws_event_kind;

typedef struct {
  hm_ws_event_kind kind;
  int is_binary;
  const uint8_t *data; /* borrowed: into the caller's buffer or the decoder's; valid until the next call */
  size_t len;
  int code;
  const char *reason;
} hm_ws_event;

typedef struct {
  size_t max_message; /* largest message accepted (after reassembly) */
  /* fragmented message in progress */
  int in_message;
  int msg_binary;
  uint8_t *msg; /* hm_malloc'd reassembly buffer */
  size_t msg_len, msg_cap;
  uint32_t utf8; /* incremental UTF-8 state of the text message in progress */
} hm_ws_decoder;

/* A decoder for messages of at most max_message bytes. Never fails. */
void hm_ws_decoder_init(hm_ws_decoder *d, size_t max_message);

/* Free the reassembly buffer. The decoder may be initialised again. NULL is a no-op. */
void hm_ws_decoder_clear(hm_ws_decoder *d);

/* Decode at most one frame from buf[0..len). The payload is unmasked in place.
 * *used: bytes consumed (0 = the frame is incomplete, or failure). ev is always filled;
 * ev->kind HM_WS_EV_NONE with *used > 0 means a non-final fragment was taken in. After
 * HM_WS_EV_FAIL the decoder must not be used again except for hm_ws_decoder_clear. */
void hm_ws_decode(hm_ws_decoder *d, uint8_t *buf, size_t len, size_t *used, hm_ws_event *ev);

/* 1 if p[0..n) is valid UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
int hm_ws_utf8_valid(const uint8_t *p, size_t n);

/* Bytes of the header of an unmasked server frame carrying len payload bytes (2, 4 or 10). */
size_t hm_ws_header_len(size_t len);

/* Write the header of a final, unmasked frame (opcode HM_WS_OP_*, payload length len) to
 * out (at least hm_ws_header_len(len) bytes). Returns the header length. */
size_t hm_ws_encode_header(uint8_t *out, int opcode, size_t len);

/* Write a whole close frame: code (0 = no payload) and reason (NULL or text, cut at a
 * UTF-8 boundary so the payload stays <= 125 bytes) to out (>= 127 bytes). Returns the
 * frame length. */
size_t hm_ws_encode_close(uint8_t *out, int code, const char *reason);

/* 1 if code may appear in a close frame on the wire (RFC 6455 7.4: 1000-1003, 1007-1014,
 * 3000-4999). */
int hm_ws_close_code_valid(int code);

#ifdef __cplusplus
}
#endif
#endif
