/* codec.c - hex, base64, base58btc, multibase, varint (see harmony/codec.h).
 *
 * Nothing here allocates: base58 works on the caller's output buffer as its big-number
 * scratch space, growing it one digit at a time, so BUFSZ is only reported when the real
 * result does not fit (not on a pessimistic bound). */
#include "harmony/codec.h"

#include <string.h>

static const char HEX_DIGITS[] = "0123456789abcdef";
static const char B64_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char B58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* ---- hex ---------------------------------------------------------------- */

size_t hm_hex_encoded_len(size_t len) { return len > (SIZE_MAX - 1) / 2 ? 0 : 2 * len + 1; }

int hm_hex_encode(char *out, size_t cap, const uint8_t *in, size_t len) {
  if (!out || (!in && len)) return HM_ERR_INVAL;
  if (len > (SIZE_MAX - 1) / 2 || cap < 2 * len + 1) return HM_ERR_BUFSZ;
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = HEX_DIGITS[in[i] >> 4];
    out[2 * i + 1] = HEX_DIGITS[in[i] & 15];
  }
  out[2 * len] = 0;
  return HM_OK;
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int hm_hex_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len) {
  if (!outlen || (!in && len) || (!out && len)) return HM_ERR_INVAL;
  if (len % 2) return HM_ERR_DECODE;
  if (cap < len / 2) return HM_ERR_BUFSZ;
  for (size_t i = 0; i < len; i += 2) {
    int hi = hexval((unsigned char)in[i]), lo = hexval((unsigned char)in[i + 1]);
    if (hi < 0 || lo < 0) return HM_ERR_DECODE;
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  *outlen = len / 2;
  return HM_OK;
}

/* ---- base64 ------------------------------------------------------------- */

size_t hm_base64_encoded_len(size_t len, int url) {
  if (len / 3 > (SIZE_MAX - 8) / 4) return 0;
  if (!url) return (len + 2) / 3 * 4 + 1;
  return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0) + 1;
}

size_t hm_base64_decoded_maxlen(size_t len) { return (len / 4 + (len % 4 != 0)) * 3; }

int hm_base64_encode(char *out, size_t cap, const uint8_t *in, size_t len, int url) {
  if (!out || (!in && len)) return HM_ERR_INVAL;
  size_t need = hm_base64_encoded_len(len, url);
  if (need == 0 || cap < need) return HM_ERR_BUFSZ;
  const char *a = url ? B64_URL : B64_STD;
  size_t o = 0, i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = a[v >> 18];
    out[o++] = a[(v >> 12) & 63];
    out[o++] = a[(v >> 6) & 63];
    out[o++] = a[v & 63];
  }
  size_t rest = len - i;
  if (rest) {
    uint32_t v = (uint32_t)in[i] << 16 | (rest == 2 ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = a[v >> 18];
    out[o++] = a[(v >> 12) & 63];
    if (rest == 2) out[o++] = a[(v >> 6) & 63];
    if (!url) {
      if (rest == 1) out[o++] = '=';
      out[o++] = '=';
    }
  }
  out[o] = 0;
  return HM_OK;
}

static int b64val(unsigned char c, int url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

int hm_base64_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len, int url) {
  if (!outlen || (!in && len)) return HM_ERR_INVAL;
  size_t body = len;
  if (!url) {
    if (len % 4) return HM_ERR_DECODE;
    if (len && in[len - 1] == '=') body--;
    if (len && in[len - 2] == '=') body--;
  }
  if (body % 4 == 1) return HM_ERR_DECODE;
  size_t n = body / 4 * 3 + (body % 4 ? body % 4 - 1 : 0);
  if (n > cap || (!out && n)) return HM_ERR_BUFSZ;
  size_t o = 0, i = 0;
  for (; i + 4 <= body; i += 4) {
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
      int d = b64val((unsigned char)in[i + k], url);
      if (d < 0) return HM_ERR_DECODE;
      v = v << 6 | (uint32_t)d;
    }
    out[o++] = (uint8_t)(v >> 16);
    out[o++] = (uint8_t)(v >> 8);
    out[o++] = (uint8_t)v;
  }
  size_t rest = body - i;
  if (rest) {
    uint32_t v = 0;
    for (size_t k = 0; k < rest; k++) {
      int d = b64val((unsigned char)in[i + k], url);
      if (d < 0) return HM_ERR_DECODE;
      v = v << 6 | (uint32_t)d;
    }
    /* Non-zero unused bits would let two texts decode to the same bytes. */
    if (rest == 2) {
      if (v & 0xf) return HM_ERR_DECODE;
      out[o++] = (uint8_t)(v >> 4);
    } else {
      if (v & 0x3) return HM_ERR_DECODE;
      out[o++] = (uint8_t)(v >> 10);
      out[o++] = (uint8_t)(v >> 2);
    }
  }
  *outlen = o;
  return HM_OK;
}

/* Arithmetic right shift defined for negative values (C leaves it to the implementation). */
static int32_t asr(int32_t v, unsigned n) { return v < 0 ? ~((~v) >> n) : v >> n; }

/* Walks a UTF-8 text as the UTF-16 units JS would index, skipping '='. Each unit gives its
 * standard-alphabet index, or -1 when it is not in the alphabet (as String.indexOf does).
 * A code point above U+FFFF is two units (a surrogate pair), both -1. */
typedef struct {
  const char *s;
  size_t len, i;
  int pending_low;
} unit_iter;

static size_t utf8_step(unsigned char c) { return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4; }

static int32_t next_unit(unit_iter *it) {
  if (it->pending_low) {
    it->pending_low = 0;
    return -1;
  }
  while (it->i < it->len) {
    unsigned char c = (unsigned char)it->s[it->i];
    size_t step = utf8_step(c);
    it->i += step;
    if (c == '=') continue;
    if (c < 0x80) return b64val(c, 0);
    if (step == 4) it->pending_low = 1;
    return -1;
  }
  return 0; /* not reached: callers ask for at most the counted number of units */
}

int hm_base64_decode_lenient(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len) {
  if (!outlen || (!in && len)) return HM_ERR_INVAL;
  size_t units = 0;
  for (size_t i = 0; i < len;) {
    unsigned char c = (unsigned char)in[i];
    size_t step = utf8_step(c);
    if (c != '=') units += step == 4 ? 2 : 1;
    i += step;
  }
  /* Upstream allocates floor(units*3/4) bytes; writes past that end are dropped by the
   * typed array, which is why a final group of one unit yields nothing. */
  size_t size = units / 4 * 3 + (units % 4 * 3) / 4;
  if (size > cap || (!out && size)) return HM_ERR_BUFSZ;
  unit_iter it = {in, len, 0, 0};
  size_t p = 0;
  for (size_t k = 0; k < units; k += 4) {
    size_t ng = units - k < 4 ? units - k : 4;
    int32_t c0 = next_unit(&it);
    int32_t c1 = ng > 1 ? next_unit(&it) : 0; /* missing units count as 0, as upstream */
    int32_t c2 = ng > 2 ? next_unit(&it) : 0;
    int32_t c3 = ng > 3 ? next_unit(&it) : 0;
    /* JS int32 bit operations then ToUint8: do them on uint32 to keep C defined. */
    uint8_t b[3];
    size_t nb = 0;
    b[nb++] = (uint8_t)(((uint32_t)c0 << 2) | (uint32_t)asr(c1, 4));
    if (ng > 2) b[nb++] = (uint8_t)(((uint32_t)c1 << 4) | (uint32_t)asr(c2, 2));
    if (ng > 3) b[nb++] = (uint8_t)(((uint32_t)c2 << 6) | (uint32_t)c3);
    for (size_t j = 0; j < nb; j++)
      if (p < size) out[p++] = b[j];
  }
  *outlen = p;
  return HM_OK;
}

/* ---- base58btc ---------------------------------------------------------- */

size_t hm_base58_encoded_maxlen(size_t len) {
  if (len > HM_BASE58_MAX_INPUT) return 0;
  return len * 138 / 100 + 3; /* log(256)/log(58) < 1.38, +1 digit, +1 quirk '1', +NUL */
}

static int b58_encode(char *out, size_t cap, const uint8_t *in, size_t len, int upstream) {
  if (!out || (!in && len)) return HM_ERR_INVAL;
  if (len > HM_BASE58_MAX_INPUT) return HM_ERR_RANGE;
  size_t zeros = 0;
  while (zeros < len && in[zeros] == 0) zeros++;
  /* out[zeros .. zeros+n) holds the value as little-endian base-58 digits. Up to 6 input
   * bytes are folded in per pass over the digits (value = value * 256^k + group), which is
   * the byte-at-a-time schoolbook result in a sixth of the passes; the value only grows,
   * so running out of room at a group boundary is running out of room at the end. */
  if (cap < zeros + 1) return HM_ERR_BUFSZ;
  uint8_t *dig = (uint8_t *)out + zeros;
  size_t room = cap - zeros - 1, n = 0;
  for (size_t i = zeros; i < len;) {
    uint64_t group = 0, mult = 1;
    for (int k = 0; k < 6 && i < len; k++, i++) {
      group = (group << 8) | in[i];
      mult <<= 8;
    }
    uint64_t carry = group;
    for (size_t j = 0; j < n; j++) {
      carry += (uint64_t)dig[j] * mult;
      dig[j] = (uint8_t)(carry % 58);
      carry /= 58;
    }
    while (carry) {
      if (n >= room) return HM_ERR_BUFSZ;
      dig[n++] = (uint8_t)(carry % 58);
      carry /= 58;
    }
  }
  /* Upstream starts from the digit list [0], so a zero value keeps one '1' digit. */
  if (n == 0 && upstream) {
    if (n >= room) return HM_ERR_BUFSZ;
    dig[n++] = 0;
  }
  for (size_t j = 0; j < n / 2; j++) {
    uint8_t t = dig[j];
    dig[j] = dig[n - 1 - j];
    dig[n - 1 - j] = t;
  }
  for (size_t j = 0; j < n; j++) out[zeros + j] = B58[dig[j]];
  memset(out, '1', zeros);
  out[zeros + n] = 0;
  return HM_OK;
}

int hm_base58_encode(char *out, size_t cap, const uint8_t *in, size_t len) {
  return b58_encode(out, cap, in, len, 0);
}
int hm_base58_encode_upstream(char *out, size_t cap, const uint8_t *in, size_t len) {
  return b58_encode(out, cap, in, len, 1);
}

/* 1 + the base58 digit value of each byte; 0 for bytes outside the alphabet (NUL included) */
static const unsigned char B58P1[256] = {
    ['1'] = 1, ['2'] = 2, ['3'] = 3, ['4'] = 4, ['5'] = 5, ['6'] = 6, ['7'] = 7, ['8'] = 8, ['9'] = 9, ['A'] = 10,
    ['B'] = 11, ['C'] = 12, ['D'] = 13, ['E'] = 14, ['F'] = 15, ['G'] = 16, ['H'] = 17, ['J'] = 18, ['K'] = 19,
    ['L'] = 20, ['M'] = 21, ['N'] = 22, ['P'] = 23, ['Q'] = 24, ['R'] = 25, ['S'] = 26, ['T'] = 27, ['U'] = 28,
    ['V'] = 29, ['W'] = 30, ['X'] = 31, ['Y'] = 32, ['Z'] = 33, ['a'] = 34, ['b'] = 35, ['c'] = 36, ['d'] = 37,
    ['e'] = 38, ['f'] = 39, ['g'] = 40, ['h'] = 41, ['i'] = 42, ['j'] = 43, ['k'] = 44, ['m'] = 45, ['n'] = 46,
    ['o'] = 47, ['p'] = 48, ['q'] = 49, ['r'] = 50, ['s'] = 51, ['t'] = 52, ['u'] = 53, ['v'] = 54, ['w'] = 55,
    ['x'] = 56, ['y'] = 57, ['z'] = 58};

/* value = value * mult + group on the little-endian base-256 number num[0..*n); 1 when it
 * no longer fits in room bytes. */
static int b58_fold(uint8_t *num, size_t *n, size_t room, uint64_t group, uint64_t mult) {
  uint64_t carry = group;
  for (size_t j = 0; j < *n; j++) {
    carry += (uint64_t)num[j] * mult;
    num[j] = (uint8_t)carry;
    carry >>= 8;
  }
  while (carry) {
    if (*n >= room) return 1;
    num[(*n)++] = (uint8_t)carry;
    carry >>= 8;
  }
  return 0;
}

static int b58_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len, int upstream) {
  if (!outlen || (!in && len)) return HM_ERR_INVAL;
  if (len > HM_BASE58_MAX_INPUT) return HM_ERR_RANGE;
  size_t zeros = 0;
  while (zeros < len && in[zeros] == '1') zeros++;
  if (cap < zeros || (!out && (zeros || len))) return HM_ERR_BUFSZ;
  /* out[zeros .. zeros+n) holds the value little-endian in base 256. Up to 9 digits are
   * folded in per pass (58^9 < 2^53, so digit * 58^9 + carry fits 64 bits): the schoolbook
   * result in a ninth of the passes. The value only grows (the first digit after the '1's
   * is not zero), so an overflow at a group boundary is an overflow at that digit; a bad
   * character ends its group early, so "too long" still wins over a later bad character. */
  uint8_t *num = out ? out + zeros : NULL;
  size_t room = cap - zeros, n = 0;
  for (size_t i = zeros; i < len;) {
    uint64_t group = 0, mult = 1;
    int bad = 0;
    for (int k = 0; k < 9 && i < len; k++) {
      int d = (int)B58P1[(unsigned char)in[i]] - 1;
      if (d < 0) {
        bad = 1;
        break;
      }
      group = group * 58 + (uint64_t)d;
      mult *= 58;
      i++;
    }
    if (mult > 1 && b58_fold(num, &n, room, group, mult)) return HM_ERR_BUFSZ;
    if (bad) return HM_ERR_DECODE;
  }
  if (n == 0 && upstream) { /* upstream starts from the byte list [0] */
    if (n >= room) return HM_ERR_BUFSZ;
    num[n++] = 0;
  }
  for (size_t j = 0; j < n / 2; j++) {
    uint8_t t = num[j];
    num[j] = num[n - 1 - j];
    num[n - 1 - j] = t;
  }
  if (zeros) memset(out, 0, zeros);
  *outlen = zeros + n;
  return HM_OK;
}

int hm_base58_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len) {
  return b58_decode(out, cap, outlen, in, len, 0);
}
int hm_base58_decode_upstream(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len) {
  return b58_decode(out, cap, outlen, in, len, 1);
}

/* ---- multibase ---------------------------------------------------------- */

int hm_multibase_encode_b58(char *out, size_t cap, const uint8_t *in, size_t len) {
  if (!out || (!in && len)) return HM_ERR_INVAL;
  if (cap < 2) return HM_ERR_BUFSZ;
  out[0] = 'z';
  return hm_base58_encode(out + 1, cap - 1, in, len);
}

int hm_multibase_decode_b58(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len) {
  if (!outlen || (!in && len)) return HM_ERR_INVAL;
  if (len == 0) return HM_ERR_DECODE;
  if (in[0] != 'z') return HM_ERR_UNSUPPORTED;
  return hm_base58_decode(out, cap, outlen, in + 1, len - 1);
}

/* ---- varint ------------------------------------------------------------- */

int hm_varint_encode(uint8_t *out, size_t cap, size_t *outlen, uint64_t v) {
  if (!out || !outlen) return HM_ERR_INVAL;
  if (v >> 63) return HM_ERR_RANGE;
  size_t n = 0;
  do {
    if (n >= cap) return HM_ERR_BUFSZ;
    uint8_t b = v & 0x7f;
    v >>= 7;
    out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
  } while (v);
  *outlen = n;
  return HM_OK;
}

int hm_varint_decode(uint64_t *v, size_t *used, const uint8_t *in, size_t len) {
  if (!v || !used || (!in && len)) return HM_ERR_INVAL;
  uint64_t r = 0;
  for (size_t i = 0; i < len && i < HM_VARINT_MAX_BYTES; i++) {
    r |= (uint64_t)(in[i] & 0x7f) << (7 * i);
    if (!(in[i] & 0x80)) {
      if (i > 0 && in[i] == 0) return HM_ERR_DECODE; /* non-minimal */
      *v = r;
      *used = i + 1;
      return HM_OK;
    }
  }
  return HM_ERR_DECODE; /* truncated or longer than 9 bytes */
}
