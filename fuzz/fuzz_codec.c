/* fuzz/fuzz_codec.c - harmony/codec.h: hex, base64 (strict std/url, lenient), base58
 * (standard and upstream), multibase, varint.
 *
 * Input: byte 0 chooses the output capacity (odd: cap = byte>>1, 0..127, to drive the
 * HM_ERR_BUFSZ paths; even: the documented bound); the rest is both the text handed to
 * every decoder and the bytes handed to every encoder.
 * Invariants:
 *   - no decoder writes more than cap bytes (outputs are exact-size heap buffers) and
 *     *outlen <= cap on success; the lenient base64 decoder never reports HM_ERR_DECODE;
 *   - the strict decoders are canonical: decode OK => encode gives back the same text
 *     (hex modulo case);
 *   - every encoder round-trips through its decoder; strict base64 OK => lenient agrees;
 *   - base58 standard and upstream agree except on all-zero values (codec.h);
 *   - varint decode OK => minimal re-encoding equals the consumed bytes.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "harmony/codec.h"

static uint8_t *xmalloc(size_t n) {
  uint8_t *p = malloc(n ? n : 1);
  if (!p) abort();
  return p;
}

static size_t pick_cap(uint8_t sel, size_t bound) {
  return (sel & 1) ? (size_t)(sel >> 1) : bound;
}

static void check_hex(uint8_t sel, const uint8_t *d, size_t n) {
  const char *t = (const char *)d;
  size_t cap = pick_cap(sel, n / 2);
  uint8_t *out = xmalloc(cap);
  size_t ol = 0;
  int rc = hm_hex_decode(out, cap, &ol, t, n);
  FZ_CHECK(rc == HM_OK || rc == HM_ERR_DECODE || rc == HM_ERR_BUFSZ, "rc=%d", rc);
  if (rc == HM_OK) {
    FZ_CHECK(ol <= cap && ol * 2 == n);
    char *txt = (char *)xmalloc(2 * ol + 1);
    FZ_CHECK(hm_hex_encode(txt, 2 * ol + 1, out, ol) == HM_OK);
    for (size_t i = 0; i < n; i++) FZ_CHECK(tolower(d[i]) == txt[i], "hex not canonical at %zu", i);
    free(txt);
  }
  free(out);
  /* encode -> decode */
  size_t el = hm_hex_encoded_len(n);
  char *txt = (char *)xmalloc(el);
  FZ_CHECK(hm_hex_encode(txt, el, d, n) == HM_OK);
  FZ_CHECK(strlen(txt) == 2 * n);
  uint8_t *back = xmalloc(n);
  FZ_CHECK(hm_hex_decode(back, n, &ol, txt, 2 * n) == HM_OK && ol == n && memcmp(back, d, n) == 0);
  if (n) FZ_CHECK(hm_hex_encode(txt, el - 1, d, n) == HM_ERR_BUFSZ);
  free(back);
  free(txt);
}

static void check_b64(uint8_t sel, const uint8_t *d, size_t n, int url) {
  const char *t = (const char *)d;
  size_t cap = pick_cap(sel, hm_base64_decoded_maxlen(n));
  uint8_t *out = xmalloc(cap);
  size_t ol = 0;
  int rc = hm_base64_decode(out, cap, &ol, t, n, url);
  FZ_CHECK(rc == HM_OK || rc == HM_ERR_DECODE || rc == HM_ERR_BUFSZ, "rc=%d", rc);
  if (rc == HM_OK) {
    FZ_CHECK(ol <= cap);
    size_t el = hm_base64_encoded_len(ol, url);
    char *txt = (char *)xmalloc(el);
    FZ_CHECK(hm_base64_encode(txt, el, out, ol, url) == HM_OK);
    FZ_CHECK(strlen(txt) == n && memcmp(txt, t, n) == 0, "base64(url=%d) decode not canonical", url);
    free(txt);
    if (!url) {
      /* What strict accepts, lenient reads identically. */
      size_t lcap = hm_base64_decoded_maxlen(n);
      uint8_t *lo = xmalloc(lcap);
      size_t ll = 0;
      FZ_CHECK(hm_base64_decode_lenient(lo, lcap, &ll, t, n) == HM_OK);
      FZ_CHECK(ll == ol && memcmp(lo, out, ol) == 0, "lenient disagrees with strict");
      free(lo);
    }
  }
  free(out);
  /* encode -> decode */
  size_t el = hm_base64_encoded_len(n, url);
  FZ_CHECK(el > 0);
  char *txt = (char *)xmalloc(el);
  FZ_CHECK(hm_base64_encode(txt, el, d, n, url) == HM_OK);
  size_t tl = strlen(txt);
  FZ_CHECK(tl + 1 <= el);
  uint8_t *back = xmalloc(n);
  FZ_CHECK(hm_base64_decode(back, n, &ol, txt, tl, url) == HM_OK && ol == n && memcmp(back, d, n) == 0,
           "base64(url=%d) round trip", url);
  if (tl) FZ_CHECK(hm_base64_encode(txt, tl, d, n, url) == HM_ERR_BUFSZ);
  free(back);
  free(txt);
}

static void check_b64_lenient(uint8_t sel, const uint8_t *d, size_t n) {
  /* 3 bytes per 4 UTF-16 units at most; every input byte is at most one unit... except that
   * a 4-byte UTF-8 sequence is two units, still fewer than its 4 bytes. */
  size_t bound = 3 * (n / 4) + 3;
  size_t cap = pick_cap(sel, bound);
  uint8_t *out = xmalloc(cap);
  size_t ol = 0;
  int rc = hm_base64_decode_lenient(out, cap, &ol, (const char *)d, n);
  FZ_CHECK(rc == HM_OK || rc == HM_ERR_BUFSZ, "lenient rc=%d", rc);
  if (rc == HM_OK) FZ_CHECK(ol <= cap);
  if (!(sel & 1)) FZ_CHECK(rc == HM_OK, "lenient failed with cap %zu for %zu bytes", cap, n);
  free(out);
}

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

static void check_b58(uint8_t sel, const uint8_t *d, size_t n) {
  const char *t = (const char *)d;
  size_t cap = pick_cap(sel, n + 1);
  uint8_t *out = xmalloc(cap), *out_up = xmalloc(cap);
  size_t ol = 0, oul = 0;
  int rc = hm_base58_decode(out, cap, &ol, t, n);
  int rcu = hm_base58_decode_upstream(out_up, cap, &oul, t, n);
  FZ_CHECK(rc == HM_OK || rc == HM_ERR_DECODE || rc == HM_ERR_BUFSZ || rc == HM_ERR_RANGE, "rc=%d", rc);
  if (n > HM_BASE58_MAX_INPUT) FZ_CHECK(rc == HM_ERR_RANGE && rcu == HM_ERR_RANGE);
  if (rc == HM_OK) {
    FZ_CHECK(ol <= cap);
    size_t el = hm_base58_encoded_maxlen(ol);
    char *txt = (char *)xmalloc(el);
    FZ_CHECK(hm_base58_encode(txt, el, out, ol) == HM_OK);
    FZ_CHECK(strlen(txt) == n && memcmp(txt, t, n) == 0, "base58 decode not canonical");
    free(txt);
    if (!all_zero(out, ol) && rcu == HM_OK)
      FZ_CHECK(oul == ol && memcmp(out_up, out, ol) == 0, "base58 modes disagree on a non-zero value");
    if (!all_zero(out, ol) && (sel & 1) == 0) FZ_CHECK(rcu == HM_OK, "upstream decode rc=%d", rcu);
  } else if (rc == HM_ERR_DECODE) {
    FZ_CHECK(rcu == HM_ERR_DECODE, "upstream accepts what standard rejects: rc=%d", rcu);
  }
  free(out);
  free(out_up);
  /* multibase decode of the same text */
  uint8_t *mb = xmalloc(cap);
  rc = hm_multibase_decode_b58(mb, cap, &ol, t, n);
  if (n == 0) FZ_CHECK(rc == HM_ERR_DECODE);
  else if (d[0] != 'z') FZ_CHECK(rc == HM_ERR_UNSUPPORTED, "multibase rc=%d", rc);
  if (rc == HM_OK) {
    char *txt = (char *)xmalloc(hm_base58_encoded_maxlen(ol) + 1);
    FZ_CHECK(hm_multibase_encode_b58(txt, hm_base58_encoded_maxlen(ol) + 1, mb, ol) == HM_OK);
    FZ_CHECK(strlen(txt) == n && memcmp(txt, t, n) == 0, "multibase not canonical");
    free(txt);
  }
  free(mb);
  /* encode -> decode, both modes (inputs bounded so the quadratic encoder stays fast) */
  if (n > 256) return;
  size_t el = hm_base58_encoded_maxlen(n);
  char *txt = (char *)xmalloc(el);
  uint8_t *back = xmalloc(n + 2);
  FZ_CHECK(hm_base58_encode(txt, el, d, n) == HM_OK);
  size_t tl = strlen(txt);
  FZ_CHECK(hm_base58_decode(back, n + 2, &ol, txt, tl) == HM_OK && ol == n && memcmp(back, d, n) == 0,
           "base58 round trip");
  if (tl) FZ_CHECK(hm_base58_encode(txt, tl, d, n) == HM_ERR_BUFSZ);
  FZ_CHECK(hm_base58_encode_upstream(txt, el, d, n) == HM_OK);
  tl = strlen(txt);
  FZ_CHECK(hm_base58_decode_upstream(back, n + 2, &ol, txt, tl) == HM_OK, "upstream decode of own encoding");
  if (n && !all_zero(d, n)) FZ_CHECK(ol == n && memcmp(back, d, n) == 0, "upstream base58 round trip");
  free(back);
  free(txt);
}

static void check_varint(const uint8_t *d, size_t n) {
  uint64_t v = 0;
  size_t used = 0;
  int rc = hm_varint_decode(&v, &used, d, n);
  FZ_CHECK(rc == HM_OK || rc == HM_ERR_DECODE, "varint rc=%d", rc);
  if (rc == HM_OK) {
    FZ_CHECK(used >= 1 && used <= n && used <= HM_VARINT_MAX_BYTES);
    uint8_t enc[HM_VARINT_MAX_BYTES];
    size_t el = 0;
    FZ_CHECK(hm_varint_encode(enc, sizeof enc, &el, v) == HM_OK);
    FZ_CHECK(el == used && memcmp(enc, d, used) == 0, "varint not minimal/canonical");
  }
  if (n >= 8) {
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x = (x << 8) | d[i];
    uint8_t enc[HM_VARINT_MAX_BYTES + 1];
    size_t el = 0;
    rc = hm_varint_encode(enc, sizeof enc, &el, x);
    if (x >> 63) FZ_CHECK(rc == HM_ERR_RANGE);
    else {
      FZ_CHECK(rc == HM_OK && el <= HM_VARINT_MAX_BYTES);
      FZ_CHECK(hm_varint_decode(&v, &used, enc, el) == HM_OK && v == x && used == el, "varint round trip");
      if (el > 1) FZ_CHECK(hm_varint_decode(&v, &used, enc, el - 1) == HM_ERR_DECODE, "truncated varint accepted");
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t sel = data[0];
  /* An exact-size copy of the rest, so reads past the end are caught. */
  size_t n = size - 1;
  uint8_t *d = xmalloc(n);
  memcpy(d, data + 1, n);
  check_hex(sel, d, n);
  check_b64(sel, d, n, 0);
  check_b64(sel, d, n, 1);
  check_b64_lenient(sel, d, n);
  check_b58(sel, d, n);
  check_varint(d, n);
  free(d);
  return 0;
}
