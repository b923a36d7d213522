/* json.c - JSON DOM, strict parser, and a JSON.stringify-exact serialiser (see harmony/json.h).
 *
 * Design notes (the why):
 *  - Objects are member arrays in insertion order. JS serialises integer-like keys first;
 *    we count them (nidx) so the common case (none) needs no sorting at all.
 *  - Lookups are linear for small objects (fastest for the usual < 16 keys) and use an
 *    open-addressing index keyed with SipHash (libsodium crypto_shorthash, random per
 *    process key) from HASH_MIN members on, so hostile inputs with many keys stay linear
 *    time and cannot be flooded with collisions.
 *  - Strings are WTF-8 so that a lone surrogate from a \u escape is kept exactly.
 *  - Number formatting finds the shortest round-trip digits with the C library's correctly
 *    rounded printf/strtod (binary search on the precision), then lays them out with the
 *    ECMAScript Number::toString rules.
 */
#include "harmony/json.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harmony/alloc.h"

#define HASH_MIN 16
#define MAX_DEPTH_CAP 4096 /* recursion bound whatever the caller asks for */

typedef struct {
  char *key;
  size_t klen;
  hm_json *val;
} member;

struct hm_json {
  hm_json_kind kind;
  uint32_t nidx; /* objects: how many keys are integer-like */
  size_t n;      /* arrays/objects: count; strings: byte length */
  size_t cap;
  union {
    double num;
    hm_json **items;
    member *mem;
    char *str; /* strings: points just past the node (one allocation) */
  } u;
  uint32_t *hidx; /* objects with >= HASH_MIN members: slot = member index + 1, 0 = empty */
  size_t hcap;    /* power of two */
};

/* ---- small helpers -------------------------------------------------------- */

static hm_json *node_new(hm_json_kind k) {
  hm_json *v = hm_malloc(sizeof *v);
  if (!v) return NULL;
  memset(v, 0, sizeof *v);
  v->kind = k;
  return v;
}

static hm_json *string_node(const char *s, size_t len) {
  if (len > SIZE_MAX - sizeof(hm_json) - 1) return NULL;
  hm_json *v = hm_malloc(sizeof *v + len + 1);
  if (!v) return NULL;
  memset(v, 0, sizeof *v);
  v->kind = HM_JSON_STRING;
  v->n = len;
  v->u.str = (char *)(v + 1);
  if (len) memcpy(v->u.str, s, len);
  v->u.str[len] = 0;
  return v;
}

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, max U+10FFFF.
 * Returns the length of the sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end) {
  unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t avail = (size_t)(end - p);
  if (c >= 0xc2 && c <= 0xdf) return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (avail < 3 || (p[2] & 0xc0) != 0x80) return 0;
    unsigned lo = 0x80, hi = 0xbf;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
    return p[1] >= lo && p[1] <= hi ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (avail < 4 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) return 0;
    unsigned lo = 0x80, hi = 0xbf;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
    return p[1] >= lo && p[1] <= hi ? 4 : 0;
  }
  return 0;
}

/* Canonical WTF-8: strict UTF-8 plus lone surrogates as 3-byte sequences (ED A0..BF xx),
 * which is what the parser stores for a lone \uD800-\uDFFF escape. A high surrogate
 * directly followed by a low one is refused: that pair must be one 4-byte sequence. */
static int utf8_valid(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  int prev_high = 0;
  while (p < end) {
    if (*p < 0x80) {
      p++;
      prev_high = 0;
      continue;
    }
    size_t n = utf8_seq(p, end);
    if (!n) {
      if (p[0] == 0xed && end - p >= 3 && p[1] >= 0xa0 && p[1] <= 0xbf && (p[2] & 0xc0) == 0x80) {
        int high = p[1] < 0xb0;
        if (!high && prev_high) return 0;
        prev_high = high;
        p += 3;
        continue;
      }
      return 0;
    }
    prev_high = 0;
    p += n;
  }
  return 1;
}

/* "0" .. "4294967294" without leading zeros: an array index, which JS orders first. */
static int index_key(const char *k, size_t n, uint32_t *val) {
  if (n == 0 || n > 10) return 0;
  if (n > 1 && k[0] == '0') return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (k[i] < '0' || k[i] > '9') return 0;
    v = v * 10 + (uint64_t)(k[i] - '0');
  }
  if (v > 4294967294u) return 0;
  if (val) *val = (uint32_t)v;
  return 1;
}

/* ---- object index ------------------------------------------------------- */

static unsigned char hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;

static void hash_init(void) {
  /* If libsodium cannot start, the all-zero key still works, only without flood resistance. */
  if (sodium_init() >= 0) randombytes_buf(hash_key, sizeof hash_key);
}

static size_t key_hash(const char *k, size_t n) {
  unsigned char h[crypto_shorthash_BYTES];
  uint64_t v;
  crypto_shorthash(h, (const unsigned char *)k, n, hash_key);
  memcpy(&v, h, sizeof v);
  return (size_t)v;
}

static void index_insert(uint32_t *tab, size_t cap, const member *m, size_t i) {
  size_t mask = cap - 1, s = key_hash(m[i].key, m[i].klen) & mask;
  while (tab[s]) s = (s + 1) & mask;
  tab[s] = (uint32_t)(i + 1);
}

/* Build a fresh index over members [0, count) with capacity for growth. */
static int index_build(hm_json *o, size_t count) {
  pthread_once(&hash_once, hash_init);
  size_t cap = 32;
  while (cap < count * 2) cap *= 2;
  uint32_t *tab = hm_calloc(cap, sizeof *tab);
  if (!tab) return HM_ERR_NOMEM;
  for (size_t i = 0; i < count; i++) index_insert(tab, cap, o->u.mem, i);
  hm_free(o->hidx);
  o->hidx = tab;
  o->hcap = cap;
  return HM_OK;
}

static size_t obj_find(const hm_json *o, const char *key, size_t klen) {
  if (o->hidx) {
    size_t mask = o->hcap - 1, s = key_hash(key, klen) & mask;
    for (; o->hidx[s]; s = (s + 1) & mask) {
      const member *m = &o->u.mem[o->hidx[s] - 1];
      if (m->klen == klen && memcmp(m->key, key, klen) == 0) return o->hidx[s] - 1;
    }
    return SIZE_MAX;
  }
  for (size_t i = 0; i < o->n; i++) {
    const member *m = &o->u.mem[i];
    if (m->klen == klen && memcmp(m->key, key, klen) == 0) return i;
  }
  return SIZE_MAX;
}

/* Append (key, val) as a new member; takes ownership only on success. */
static int obj_append(hm_json *o, char *key, size_t klen, hm_json *val) {
  if (o->n >= UINT32_MAX - 1) return HM_ERR_RANGE;
  if (o->n == o->cap) {
    size_t nc = o->cap ? o->cap * 2 : 4;
    member *m = hm_realloc(o->u.mem, nc * sizeof *m);
    if (!m) return HM_ERR_NOMEM;
    o->u.mem = m;
    o->cap = nc;
  }
  member *m = &o->u.mem[o->n];
  m->key = key;
  m->klen = klen;
  m->val = val;
  size_t count = o->n + 1;
  if (count >= HASH_MIN) {
    if (!o->hidx || count * 2 > o->hcap) {
      if (index_build(o, count) != HM_OK) return HM_ERR_NOMEM;
    } else {
      index_insert(o->hidx, o->hcap, o->u.mem, o->n);
    }
  }
  o->n = count;
  if (index_key(key, klen, NULL)) o->nidx++;
  return HM_OK;
}

static int arr_append(hm_json *a, hm_json *val) {
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 4;
    if (nc > SIZE_MAX / sizeof(hm_json *)) return HM_ERR_NOMEM;
    hm_json **it = hm_realloc(a->u.items, nc * sizeof *it);
    if (!it) return HM_ERR_NOMEM;
    a->u.items = it;
    a->cap = nc;
  }
  a->u.items[a->n++] = val;
  return HM_OK;
}

/* ---- free / constructors / accessors ------------------------------------ */

void hm_json_free(hm_json *v) {
  if (!v) return;
  if (v->kind == HM_JSON_ARRAY) {
    for (size_t i = 0; i < v->n; i++) hm_json_free(v->u.items[i]);
    hm_free(v->u.items);
  } else if (v->kind == HM_JSON_OBJECT) {
    for (size_t i = 0; i < v->n; i++) {
      hm_free(v->u.mem[i].key);
      hm_json_free(v->u.mem[i].val);
    }
    hm_free(v->u.mem);
    hm_free(v->hidx);
  }
  hm_free(v);
}

hm_json *hm_json_new_null(void) { return node_new(HM_JSON_NULL); }
hm_json *hm_json_new_bool(int b) { return node_new(b ? HM_JSON_TRUE : HM_JSON_FALSE); }
hm_json *hm_json_new_number(double d) {
  hm_json *v = node_new(HM_JSON_NUMBER);
  if (v) v->u.num = d;
  return v;
}
hm_json *hm_json_new_string(const char *s, size_t len) {
  if (!s && len) return NULL;
  if (!utf8_valid(s, len)) return NULL;
  return string_node(s, len);
}
hm_json *hm_json_new_cstr(const char *s) { return s ? hm_json_new_string(s, strlen(s)) : NULL; }
hm_json *hm_json_new_array(void) { return node_new(HM_JSON_ARRAY); }
hm_json *hm_json_new_object(void) { return node_new(HM_JSON_OBJECT); }

hm_json_kind hm_json_kind_of(const hm_json *v) { return v ? v->kind : HM_JSON_NULL; }
double hm_json_number(const hm_json *v) { return v && v->kind == HM_JSON_NUMBER ? v->u.num : 0; }
const char *hm_json_string(const hm_json *v, size_t *len) {
  if (!v || v->kind != HM_JSON_STRING) return NULL;
  if (len) *len = v->n;
  return v->u.str;
}
int hm_json_string_is(const hm_json *v, const char *s) {
  if (!v || v->kind != HM_JSON_STRING || !s) return 0;
  size_t n = strlen(s);
  return v->n == n && memcmp(v->u.str, s, n) == 0;
}

size_t hm_json_array_size(const hm_json *a) { return a && a->kind == HM_JSON_ARRAY ? a->n : 0; }
hm_json *hm_json_array_get(const hm_json *a, size_t i) {
  return a && a->kind == HM_JSON_ARRAY && i < a->n ? a->u.items[i] : NULL;
}
int hm_json_array_append(hm_json *a, hm_json *val) {
  if (!val) return HM_ERR_NOMEM;
  if (a == val) return HM_ERR_INVAL; /* a tree cannot contain itself; nothing is freed */
  if (!a || a->kind != HM_JSON_ARRAY) {
    hm_json_free(val);
    return HM_ERR_INVAL;
  }
  int r = arr_append(a, val);
  if (r != HM_OK) hm_json_free(val);
  return r;
}

size_t hm_json_object_size(const hm_json *o) { return o && o->kind == HM_JSON_OBJECT ? o->n : 0; }
const char *hm_json_object_key_at(const hm_json *o, size_t i, size_t *klen) {
  if (!o || o->kind != HM_JSON_OBJECT || i >= o->n) return NULL;
  if (klen) *klen = o->u.mem[i].klen;
  return o->u.mem[i].key;
}
hm_json *hm_json_object_value_at(const hm_json *o, size_t i) {
  return o && o->kind == HM_JSON_OBJECT && i < o->n ? o->u.mem[i].val : NULL;
}
hm_json *hm_json_object_get(const hm_json *o, const char *key, size_t klen) {
  if (!o || o->kind != HM_JSON_OBJECT || (!key && klen)) return NULL;
  size_t i = obj_find(o, key ? key : "", klen);
  return i == SIZE_MAX ? NULL : o->u.mem[i].val;
}
hm_json *hm_json_object_getc(const hm_json *o, const char *key) {
  return key ? hm_json_object_get(o, key, strlen(key)) : NULL;
}

int hm_json_object_set(hm_json *o, const char *key, size_t klen, hm_json *val) {
  if (!val) return HM_ERR_NOMEM;
  if (o == val) return HM_ERR_INVAL; /* a tree cannot contain itself; nothing is freed */
  if (!o || o->kind != HM_JSON_OBJECT || (!key && klen) || !utf8_valid(key, klen)) {
    hm_json_free(val);
    return HM_ERR_INVAL;
  }
  if (!key) key = "";
  size_t i = obj_find(o, key, klen);
  if (i != SIZE_MAX) {
    hm_json_free(o->u.mem[i].val);
    o->u.mem[i].val = val;
    return HM_OK;
  }
  char *k = hm_malloc(klen + 1);
  if (!k) {
    hm_json_free(val);
    return HM_ERR_NOMEM;
  }
  if (klen) memcpy(k, key, klen);
  k[klen] = 0;
  int r = obj_append(o, k, klen, val);
  if (r != HM_OK) {
    hm_free(k);
    hm_json_free(val);
  }
  return r;
}

int hm_json_object_setc(hm_json *o, const char *key, hm_json *val) {
  if (!key) {
    hm_json_free(val);
    return val ? HM_ERR_INVAL : HM_ERR_NOMEM;
  }
  return hm_json_object_set(o, key, strlen(key), val);
}

int hm_json_object_remove(hm_json *o, const char *key, size_t klen) {
  if (!o || o->kind != HM_JSON_OBJECT || (!key && klen)) return HM_ERR_INVAL;
  size_t i = obj_find(o, key ? key : "", klen);
  if (i == SIZE_MAX) return HM_ERR_NOT_FOUND;
  if (index_key(o->u.mem[i].key, o->u.mem[i].klen, NULL)) o->nidx--;
  hm_free(o->u.mem[i].key);
  hm_json_free(o->u.mem[i].val);
  memmove(&o->u.mem[i], &o->u.mem[i + 1], (o->n - i - 1) * sizeof(member));
  o->n--;
  if (o->hidx) {
    if (o->n < HASH_MIN) {
      hm_free(o->hidx);
      o->hidx = NULL;
      o->hcap = 0;
    } else { /* indices shifted: rebuild in place, no allocation needed */
      memset(o->hidx, 0, o->hcap * sizeof *o->hidx);
      for (size_t j = 0; j < o->n; j++) index_insert(o->hidx, o->hcap, o->u.mem, j);
    }
  }
  return HM_OK;
}

hm_json *hm_json_clone(const hm_json *v) {
  if (!v) return NULL;
  switch (v->kind) {
  case HM_JSON_STRING: return string_node(v->u.str, v->n);
  case HM_JSON_NUMBER: return hm_json_new_number(v->u.num);
  case HM_JSON_ARRAY: {
    hm_json *a = node_new(HM_JSON_ARRAY);
    if (!a) return NULL;
    if (v->n) {
      a->u.items = hm_malloc(v->n * sizeof *a->u.items);
      if (!a->u.items) goto fail_a;
      a->cap = v->n;
      for (size_t i = 0; i < v->n; i++) {
        hm_json *c = hm_json_clone(v->u.items[i]);
        if (!c) goto fail_a;
        a->u.items[a->n++] = c;
      }
    }
    return a;
  fail_a:
    hm_json_free(a);
    return NULL;
  }
  case HM_JSON_OBJECT: {
    hm_json *o = node_new(HM_JSON_OBJECT);
    if (!o) return NULL;
    if (v->n) {
      o->u.mem = hm_malloc(v->n * sizeof *o->u.mem);
      if (!o->u.mem) goto fail_o;
      o->cap = v->n;
      for (size_t i = 0; i < v->n; i++) {
        const member *m = &v->u.mem[i];
        char *k = hm_malloc(m->klen + 1);
        if (!k) goto fail_o;
        memcpy(k, m->key, m->klen + 1);
        hm_json *c = hm_json_clone(m->val);
        if (!c) {
          hm_free(k);
          goto fail_o;
        }
        o->u.mem[o->n++] = (member){k, m->klen, c};
      }
      o->nidx = v->nidx;
      if (o->n >= HASH_MIN && index_build(o, o->n) != HM_OK) goto fail_o;
    }
    return o;
  fail_o:
    hm_json_free(o);
    return NULL;
  }
  default: return node_new(v->kind);
  }
}

int hm_json_equal(const hm_json *a, const hm_json *b) {
  if (!a || !b) return a == b;
  if (a->kind != b->kind) return 0;
  switch (a->kind) {
  case HM_JSON_NUMBER: return a->u.num == b->u.num;
  case HM_JSON_STRING: return a->n == b->n && memcmp(a->u.str, b->u.str, a->n) == 0;
  case HM_JSON_ARRAY:
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
      if (!hm_json_equal(a->u.items[i], b->u.items[i])) return 0;
    return 1;
  case HM_JSON_OBJECT:
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++) {
      size_t j = obj_find(b, a->u.mem[i].key, a->u.mem[i].klen);
      if (j == SIZE_MAX || !hm_json_equal(a->u.mem[i].val, b->u.mem[j].val)) return 0;
    }
    return 1;
  default: return 1;
  }
}

/* ---- parser ------------------------------------------------------------- */

typedef struct {
  const unsigned char *s, *p, *end;
  unsigned depth, max_depth, flags;
  hm_json_parse_info *info;
  size_t err_off;
} parser;

static int fail_at(parser *P, const unsigned char *at, int code) {
  P->err_off = (size_t)(at - P->s);
  return code;
}

static void skip_ws(parser *P) {
  const unsigned char *p = P->p, *end = P->end;
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  P->p = p;
}

static int hex4(const unsigned char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = p[i], d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return 0;
    v = v << 4 | d;
  }
  *out = v;
  return 1;
}

/* 1 for bytes that may be copied as they are inside a string (printable ASCII but " and \). */
static const unsigned char PLAIN[256] = {
#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
    R16(0), R16(0), /* 0x00-0x1f: control characters */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f, '"' at 0x22 */
    R16(1), R16(1),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50-0x5f, '\\' at 0x5c */
    R16(1), R16(1),
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), /* 0x80-0xff: UTF-8 */
#undef R16
};

/* Scan a string whose opening quote is at P->p. Validates the UTF-8 and the escapes,
 * leaves *q at the closing quote, *esc = 1 if it contains escapes. */
static int scan_string(parser *P, const unsigned char **q_out, int *esc) {
  const unsigned char *q = P->p + 1, *end = P->end;
  *esc = 0;
  for (;;) {
    while (q < end && PLAIN[*q]) q++;
    if (q >= end) return fail_at(P, q, HM_ERR_JSON);
    unsigned c = *q;
    if (c == '"') break;
    if (c == '\\') {
      *esc = 1;
      if (q + 1 >= end) return fail_at(P, q, HM_ERR_JSON);
      switch (q[1]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': q += 2; break;
      case 'u': {
        unsigned cu;
        if (end - q < 6 || !hex4(q + 2, &cu)) return fail_at(P, q, HM_ERR_JSON);
        q += 6;
        break;
      }
      default: return fail_at(P, q, HM_ERR_JSON);
      }
    } else if (c < 0x20) {
      return fail_at(P, q, HM_ERR_JSON);
    } else {
      size_t n = utf8_seq(q, end);
      if (!n) return fail_at(P, q, HM_ERR_JSON);
      q += n;
    }
  }
  *q_out = q;
  return HM_OK;
}

int hm_json_text_valid(const char *s, size_t len) { return s && utf8_valid(s, len); }

static size_t put_utf8(unsigned char *d, unsigned cp) {
  if (cp < 0x80) { d[0] = (unsigned char)cp; return 1; }
  if (cp < 0x800) {
    d[0] = (unsigned char)(0xc0 | cp >> 6);
    d[1] = (unsigned char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) { /* includes lone surrogates: WTF-8 */
    d[0] = (unsigned char)(0xe0 | cp >> 12);
    d[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    d[2] = (unsigned char)(0x80 | (cp & 0x3f));
    return 3;
  }
  d[0] = (unsigned char)(0xf0 | cp >> 18);
  d[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
  d[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
  d[3] = (unsigned char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Decode the escapes of an already validated string body [a, b) into d; returns length.
 * Escapes never expand (\uXXXX is 6 bytes for <= 3, a pair 12 for 4), so |d| <= b - a. */
static size_t unescape(unsigned char *d, const unsigned char *a, const unsigned char *b) {
  size_t o = 0;
  while (a < b) {
    if (*a != '\\') {
      d[o++] = *a++;
      continue;
    }
    unsigned char e = a[1];
    a += 2;
    switch (e) {
    case 'b': d[o++] = '\b'; break;
    case 'f': d[o++] = '\f'; break;
    case 'n': d[o++] = '\n'; break;
    case 'r': d[o++] = '\r'; break;
    case 't': d[o++] = '\t'; break;
    case 'u': {
      unsigned cu = 0, lo; /* the lexer already checked the four hex digits */
      hex4(a, &cu);
      a += 4;
      /* A high surrogate directly followed by an escaped low one is a single code point;
       * anything else leaves the surrogate alone (a JS string may hold lone ones). */
      if (cu >= 0xd800 && cu <= 0xdbff && b - a >= 6 && a[0] == '\\' && a[1] == 'u' && hex4(a + 2, &lo) &&
          lo >= 0xdc00 && lo <= 0xdfff) {
        cu = 0x10000 + ((cu - 0xd800) << 10) + (lo - 0xdc00);
        a += 6;
      }
      o += put_utf8(d + o, cu);
      break;
    }
    default: d[o++] = e; break; /* " \ / */
    }
  }
  return o;
}

/* Parse a string at P->p into a new buffer (*s, *n); for keys. */
static int parse_key(parser *P, char **s, size_t *n) {
  const unsigned char *q;
  int esc;
  int r = scan_string(P, &q, &esc);
  if (r != HM_OK) return r;
  const unsigned char *a = P->p + 1;
  size_t raw = (size_t)(q - a);
  char *buf = hm_malloc(raw + 1);
  if (!buf) return HM_ERR_NOMEM;
  size_t len = esc ? unescape((unsigned char *)buf, a, q) : (memcpy(buf, a, raw), raw);
  buf[len] = 0;
  *s = buf;
  *n = len;
  P->p = q + 1;
  return HM_OK;
}

static int parse_string_value(parser *P, hm_json **out) {
  const unsigned char *q;
  int esc;
  int r = scan_string(P, &q, &esc);
  if (r != HM_OK) return r;
  const unsigned char *a = P->p + 1;
  size_t raw = (size_t)(q - a);
  hm_json *v;
  if (!esc) {
    v = string_node((const char *)a, raw);
    if (!v) return HM_ERR_NOMEM;
  } else {
    v = hm_malloc(sizeof *v + raw + 1);
    if (!v) return HM_ERR_NOMEM;
    memset(v, 0, sizeof *v);
    v->kind = HM_JSON_STRING;
    v->u.str = (char *)(v + 1);
    v->n = unescape((unsigned char *)v->u.str, a, q);
    v->u.str[v->n] = 0;
  }
  *out = v;
  P->p = q + 1;
  return HM_OK;
}

static int parse_number(parser *P, hm_json **out) {
  const unsigned char *p = P->p, *end = P->end, *start = p;
  int neg = 0, simple = 1;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (p >= end || *p < '0' || *p > '9') return fail_at(P, p, HM_ERR_JSON);
  const unsigned char *ds = p;
  if (*p == '0') p++;
  else
    while (p < end && *p >= '0' && *p <= '9') p++;
  size_t ndig = (size_t)(p - ds);
  if (p < end && *p == '.') {
    simple = 0;
    p++;
    if (p >= end || *p < '0' || *p > '9') return fail_at(P, p, HM_ERR_JSON);
    while (p < end && *p >= '0' && *p <= '9') p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    simple = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p >= end || *p < '0' || *p > '9') return fail_at(P, p, HM_ERR_JSON);
    while (p < end && *p >= '0' && *p <= '9') p++;
  }
  double d;
  if (simple && ndig <= 15) { /* exact in a double: no strtod needed */
    uint64_t v = 0;
    for (const unsigned char *c = ds; c < ds + ndig; c++) v = v * 10 + (uint64_t)(*c - '0');
    d = (double)v;
    if (neg) d = -d;
  } else {
    size_t len = (size_t)(p - start);
    char small[128], *buf = small;
    if (len >= sizeof small) {
      buf = hm_malloc(len + 1);
      if (!buf) return HM_ERR_NOMEM;
    }
    memcpy(buf, start, len);
    buf[len] = 0;
    d = strtod(buf, NULL); /* +-HUGE_VAL on overflow, as JS gives +-Infinity */
    if (buf != small) hm_free(buf);
  }
  hm_json *v = hm_json_new_number(d);
  if (!v) return HM_ERR_NOMEM;
  *out = v;
  P->p = p;
  return HM_OK;
}

static int parse_value(parser *P, hm_json **out);

static int parse_array(parser *P, hm_json **out) {
  if (++P->depth > P->max_depth) return fail_at(P, P->p, HM_ERR_JSON_DEPTH);
  hm_json *a = node_new(HM_JSON_ARRAY);
  if (!a) return HM_ERR_NOMEM;
  P->p++;
  skip_ws(P);
  int r = HM_OK;
  if (P->p < P->end && *P->p == ']') {
    P->p++;
  } else {
    for (;;) {
      hm_json *v = NULL;
      if ((r = parse_value(P, &v)) != HM_OK) break;
      if ((r = arr_append(a, v)) != HM_OK) {
        hm_json_free(v);
        break;
      }
      skip_ws(P);
      if (P->p < P->end && *P->p == ',') {
        P->p++;
        continue;
      }
      if (P->p < P->end && *P->p == ']') {
        P->p++;
        break;
      }
      r = fail_at(P, P->p, HM_ERR_JSON);
      break;
    }
  }
  if (r != HM_OK) {
    hm_json_free(a);
    return r;
  }
  P->depth--;
  *out = a;
  return HM_OK;
}

static int parse_object(parser *P, hm_json **out) {
  if (++P->depth > P->max_depth) return fail_at(P, P->p, HM_ERR_JSON_DEPTH);
  hm_json *o = node_new(HM_JSON_OBJECT);
  if (!o) return HM_ERR_NOMEM;
  P->p++;
  skip_ws(P);
  int r = HM_OK;
  if (P->p < P->end && *P->p == '}') {
    P->p++;
  } else {
    for (;;) {
      skip_ws(P);
      if (P->p >= P->end || *P->p != '"') {
        r = fail_at(P, P->p, HM_ERR_JSON);
        break;
      }
      const unsigned char *key_at = P->p;
      char *k = NULL;
      size_t kn = 0;
      if ((r = parse_key(P, &k, &kn)) != HM_OK) break;
      skip_ws(P);
      if (P->p >= P->end || *P->p != ':') {
        hm_free(k);
        r = fail_at(P, P->p, HM_ERR_JSON);
        break;
      }
      P->p++;
      hm_json *v = NULL;
      if ((r = parse_value(P, &v)) != HM_OK) {
        hm_free(k);
        break;
      }
      size_t i = obj_find(o, k, kn);
      if (i != SIZE_MAX) {
        hm_free(k);
        if (P->flags & HM_JSON_REJECT_DUPKEYS) {
          hm_json_free(v);
          r = fail_at(P, key_at, HM_ERR_JSON_DUPKEY);
          break;
        }
        /* JSON.parse: the first position stays, the last value wins. */
        hm_json_free(o->u.mem[i].val);
        o->u.mem[i].val = v;
        if (P->info) {
          if (P->info->duplicate_keys++ == 0) P->info->first_duplicate_offset = (size_t)(key_at - P->s);
        }
      } else if ((r = obj_append(o, k, kn, v)) != HM_OK) {
        hm_free(k);
        hm_json_free(v);
        break;
      }
      skip_ws(P);
      if (P->p < P->end && *P->p == ',') {
        P->p++;
        continue;
      }
      if (P->p < P->end && *P->p == '}') {
        P->p++;
        break;
      }
      r = fail_at(P, P->p, HM_ERR_JSON);
      break;
    }
  }
  if (r != HM_OK) {
    hm_json_free(o);
    return r;
  }
  P->depth--;
  *out = o;
  return HM_OK;
}

static int parse_literal(parser *P, const char *lit, size_t n, hm_json_kind k, hm_json **out) {
  if ((size_t)(P->end - P->p) < n || memcmp(P->p, lit, n) != 0) return fail_at(P, P->p, HM_ERR_JSON);
  hm_json *v = node_new(k);
  if (!v) return HM_ERR_NOMEM;
  P->p += n;
  *out = v;
  return HM_OK;
}

static int parse_value(parser *P, hm_json **out) {
  skip_ws(P);
  if (P->p >= P->end) return fail_at(P, P->p, HM_ERR_JSON);
  switch (*P->p) {
  case '{': return parse_object(P, out);
  case '[': return parse_array(P, out);
  case '"': return parse_string_value(P, out);
  case 't': return parse_literal(P, "true", 4, HM_JSON_TRUE, out);
  case 'f': return parse_literal(P, "false", 5, HM_JSON_FALSE, out);
  case 'n': return parse_literal(P, "null", 4, HM_JSON_NULL, out);
  default:
    if (*P->p == '-' || (*P->p >= '0' && *P->p <= '9')) return parse_number(P, out);
    return fail_at(P, P->p, HM_ERR_JSON);
  }
}

int hm_json_parse(hm_json **out, const char *text, size_t len, unsigned flags, hm_json_parse_info *info) {
  if (!out) return HM_ERR_INVAL;
  *out = NULL;
  if (!text && len) return HM_ERR_INVAL;
  if (!text) text = "";
  parser P;
  P.s = P.p = (const unsigned char *)text;
  P.end = P.s + len;
  P.depth = 0;
  P.max_depth = info && info->max_depth ? info->max_depth : HM_JSON_DEFAULT_MAX_DEPTH;
  if (P.max_depth > MAX_DEPTH_CAP) P.max_depth = MAX_DEPTH_CAP;
  P.flags = flags;
  P.info = info;
  P.err_off = 0;
  if (info) {
    info->error_offset = 0;
    info->duplicate_keys = 0;
    info->first_duplicate_offset = 0;
  }
  hm_json *v = NULL;
  int r = parse_value(&P, &v);
  if (r == HM_OK) {
    skip_ws(&P);
    if (P.p != P.end) r = fail_at(&P, P.p, HM_ERR_JSON);
  }
  if (r != HM_OK) {
    hm_json_free(v);
    if (r == HM_ERR_NOMEM) P.err_off = (size_t)(P.p - P.s);
    if (info) info->error_offset = P.err_off;
    return r;
  }
  *out = v;
  return HM_OK;
}

/* ---- number formatting (ECMAScript Number::toString) -------------------- */

/* Nearest p-significant-digit decimal of d > 0: digits into dig (no dot), returns the
 * decimal exponent of the first digit. */
static int decimal_digits(double d, int p, char *dig, int *k) {
  char tmp[48];
  snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
  int n = 0;
  char *c = tmp;
  for (; *c && *c != 'e'; c++)
    if (*c >= '0' && *c <= '9') dig[n++] = *c;
  dig[n] = 0;
  *k = n;
  return atoi(c + 1);
}

static double digits_value(const char *dig, int k, int e) {
  char tmp[48];
  snprintf(tmp, sizeof tmp, "%c.%se%d", dig[0], k > 1 ? dig + 1 : "", e);
  return strtod(tmp, NULL);
}

/* Step a k-digit decimal one unit in its last place (up = +1 / down = -1), keeping k
 * digits; adjusts *e when the digit count would change. */
static void digits_step(char *dig, int k, int *e, int up) {
  int i = k - 1;
  if (up) {
    while (i >= 0 && dig[i] == '9') dig[i--] = '0';
    if (i >= 0) dig[i]++;
    else { /* 99..9 + 1 = 100..0: one more power of ten */
      dig[0] = '1';
      for (int j = 1; j < k; j++) dig[j] = '0';
      (*e)++;
    }
  } else {
    while (i > 0 && dig[i] == '0') dig[i--] = '9';
    dig[i]--; /* dig[0] >= '1', so the loop stops at i >= 0 before running out */
    if (dig[0] == '0') { /* 100..0 - 1 = 99..9 with one digit fewer in front */
      for (int j = 0; j < k; j++) dig[j] = '9';
      (*e)--;
    }
  }
}

/* strtod of the decimal dig[0..k) x 10^(e - k + 1), built without printf. */
static double digits_value_fast(const char *dig, int k, int e) {
  char t[48];
  int n = 0;
  t[n++] = dig[0];
  t[n++] = '.';
  for (int i = 1; i < k; i++) t[n++] = dig[i];
  t[n++] = 'e';
  if (e < 0) {
    t[n++] = '-';
    e = -e;
  }
  char r[8];
  int m = 0;
  do {
    r[m++] = (char)('0' + e % 10);
    e /= 10;
  } while (e);
  while (m) t[n++] = r[--m];
  t[n] = 0;
  return strtod(t, NULL);
}

/* The nearest p-digit decimal of d, derived from its correctly rounded 17-digit form
 * (d17, exponent e17). Rounding twice can only go wrong when the dropped tail is exactly
 * "50..0"; then ask the C library for the exact rounding. */
static int nearest_digits(double d, const char *d17, int e17, int p, char *dig, int *k) {
  memcpy(dig, d17, (size_t)p);
  dig[p] = 0;
  *k = p;
  if (p >= 17) return e17;
  int up;
  if (d17[p] != '5') {
    up = d17[p] > '5';
  } else {
    int rest = 0;
    for (int i = p + 1; i < 17; i++) rest |= d17[i] != '0';
    if (!rest) return decimal_digits(d, p, dig, k);
    up = 1;
  }
  int e = e17;
  if (up) digits_step(dig, p, &e, 1);
  return e;
}

/* Shortest digits s (k of them) with exponent e such that the double nearest
 * s.sss x 10^e is d; among several of the shortest length, the one nearest d. */
static void shortest(double d, char *dig, int *k, int *e) {
  char d17[24];
  int k17;
  int e17 = decimal_digits(d, 17, d17, &k17);
  int lo = 1, hi = 17;
  char tmp[24];
  int tk, te;
  while (lo < hi) { /* round-tripping of the nearest p-digit decimal is monotone in p */
    int mid = (lo + hi) / 2;
    te = nearest_digits(d, d17, e17, mid, tmp, &tk);
    if (digits_value_fast(tmp, tk, te) == d) hi = mid;
    else lo = mid + 1;
  }
  *e = nearest_digits(d, d17, e17, lo, dig, k);
  /* At a power of two the rounding interval is narrower below than above, so a shorter
   * decimal on the far side of d may round-trip while the nearest one does not. */
  int mexp;
  if (frexp(d, &mexp) == 0.5) {
    for (int p = lo - 1; p >= 1; p--) {
      te = decimal_digits(d, p, tmp, &tk);
      double near = digits_value(tmp, tk, te);
      if (near == d) break; /* cannot happen below lo, kept for safety */
      digits_step(tmp, tk, &te, near < d);
      if (digits_value(tmp, tk, te) != d) break;
      memcpy(dig, tmp, (size_t)tk + 1);
      *k = tk;
      *e = te;
    }
  }
  while (*k > 1 && dig[*k - 1] == '0') dig[--(*k)] = 0;
}

size_t hm_json_format_number(char buf[32], double d) {
  char *o = buf;
  if (isnan(d)) return (size_t)snprintf(buf, 32, "NaN");
  if (isinf(d)) return (size_t)snprintf(buf, 32, d < 0 ? "-Infinity" : "Infinity");
  if (d == 0) return (size_t)snprintf(buf, 32, "0"); /* -0 too */
  if (d < 0) {
    *o++ = '-';
    d = -d;
  }
  if (d < 9007199254740992.0 && d == floor(d)) { /* exact integer below 2^53 */
    char t[20];
    int n = 0;
    uint64_t v = (uint64_t)d;
    while (v) {
      t[n++] = (char)('0' + v % 10);
      v /= 10;
    }
    while (n) *o++ = t[--n];
    *o = 0;
    return (size_t)(o - buf);
  }
  char dig[24];
  int k, e;
  shortest(d, dig, &k, &e);
  int n = e + 1; /* value = 0.dig x 10^n */
  if (k <= n && n <= 21) {
    memcpy(o, dig, (size_t)k);
    o += k;
    for (int i = 0; i < n - k; i++) *o++ = '0';
  } else if (0 < n && n <= 21) {
    memcpy(o, dig, (size_t)n);
    o += n;
    *o++ = '.';
    memcpy(o, dig + n, (size_t)(k - n));
    o += k - n;
  } else if (-6 < n && n <= 0) {
    *o++ = '0';
    *o++ = '.';
    for (int i = 0; i < -n; i++) *o++ = '0';
    memcpy(o, dig, (size_t)k);
    o += k;
  } else {
    *o++ = dig[0];
    if (k > 1) {
      *o++ = '.';
      memcpy(o, dig + 1, (size_t)(k - 1));
      o += k - 1;
    }
    o += snprintf(o, 8, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
  }
  *o = 0;
  return (size_t)(o - buf);
}

/* ---- serialiser --------------------------------------------------------- */

typedef struct {
  char *b;
  size_t n, cap;
  int err;
} sbuf;

static int sb_grow(sbuf *sb, size_t extra) {
  if (sb->err) return 0;
  if (sb->cap - sb->n > extra) return 1;
  size_t need = sb->n + extra + 1, nc = sb->cap ? sb->cap : 256;
  if (need < sb->n) {
    sb->err = HM_ERR_NOMEM;
    return 0;
  }
  while (nc < need) {
    if (nc > SIZE_MAX / 2) {
      nc = need;
      break;
    }
    nc *= 2;
  }
  char *nb = hm_realloc(sb->b, nc);
  if (!nb) {
    sb->err = HM_ERR_NOMEM;
    return 0;
  }
  sb->b = nb;
  sb->cap = nc;
  return 1;
}

static void sb_put(sbuf *sb, const char *s, size_t n) {
  if (!sb_grow(sb, n)) return;
  memcpy(sb->b + sb->n, s, n);
  sb->n += n;
}

static void sb_putc(sbuf *sb, char c) {
  if (!sb_grow(sb, 1)) return;
  sb->b[sb->n++] = c;
}

/* 0: copy; 1: escape; 2: 0xED lead byte (maybe a WTF-8 lone surrogate). */
static const unsigned char ESC_CLASS[256] = {
#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
    R16(1), R16(1),
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    R16(0), R16(0),
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), /* 0x60-0xdf */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, /* 0xe0-0xef */
    R16(0),
#undef R16
};

static void write_string(sbuf *sb, const char *str, size_t len) {
  static const char hexd[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)str, *end = s + len;
  /* Worst case 6 output bytes per input byte: reserve once, then write without checks. */
  if (len > (SIZE_MAX - 2) / 6 || !sb_grow(sb, len * 6 + 2)) {
    if (!sb->err) sb->err = HM_ERR_NOMEM;
    return;
  }
  char *o = sb->b + sb->n;
  *o++ = '"';
  while (s < end) {
    const unsigned char *run = s;
    while (s < end && !ESC_CLASS[*s]) s++;
    if (s > run) {
      memcpy(o, run, (size_t)(s - run));
      o += s - run;
    }
    if (s >= end) break;
    unsigned c = *s;
    if (ESC_CLASS[c] == 2) {
      if (end - s >= 3 && s[1] >= 0xa0) { /* WTF-8 surrogate: JS prints \udxxx */
        unsigned cu = 0xd000 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
        *o++ = '\\';
        *o++ = 'u';
        *o++ = hexd[cu >> 12];
        *o++ = hexd[(cu >> 8) & 15];
        *o++ = hexd[(cu >> 4) & 15];
        *o++ = hexd[cu & 15];
        s += 3;
      } else {
        *o++ = (char)*s++;
      }
      continue;
    }
    *o++ = '\\';
    switch (c) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '\b': *o++ = 'b'; break;
    case '\f': *o++ = 'f'; break;
    case '\n': *o++ = 'n'; break;
    case '\r': *o++ = 'r'; break;
    case '\t': *o++ = 't'; break;
    default:
      *o++ = 'u';
      *o++ = '0';
      *o++ = '0';
      *o++ = hexd[c >> 4];
      *o++ = hexd[c & 15];
    }
    s++;
  }
  *o++ = '"';
  sb->n = (size_t)(o - sb->b);
}

static void write_value(sbuf *sb, const hm_json *v);

typedef struct {
  uint32_t key;
  size_t idx;
} idx_entry;

static int idx_cmp(const void *a, const void *b) {
  uint32_t x = ((const idx_entry *)a)->key, y = ((const idx_entry *)b)->key;
  return x < y ? -1 : x > y;
}

static void write_member(sbuf *sb, const member *m, int *first) {
  if (!*first) sb_putc(sb, ',');
  *first = 0;
  write_string(sb, m->key, m->klen);
  sb_putc(sb, ':');
  write_value(sb, m->val);
}

static void write_object(sbuf *sb, const hm_json *o) {
  sb_putc(sb, '{');
  int first = 1;
  if (o->nidx == 0) {
    for (size_t i = 0; i < o->n && !sb->err; i++) write_member(sb, &o->u.mem[i], &first);
  } else {
    /* JS own-property order: array-index keys ascending, then the rest in insertion order. */
    idx_entry small[32], *ix = small;
    if (o->nidx > 32) {
      ix = hm_malloc(o->nidx * sizeof *ix);
      if (!ix) {
        sb->err = HM_ERR_NOMEM;
        return;
      }
    }
    size_t m = 0;
    for (size_t i = 0; i < o->n; i++) {
      uint32_t kv;
      if (index_key(o->u.mem[i].key, o->u.mem[i].klen, &kv)) ix[m++] = (idx_entry){kv, i};
    }
    qsort(ix, m, sizeof *ix, idx_cmp);
    for (size_t i = 0; i < m && !sb->err; i++) write_member(sb, &o->u.mem[ix[i].idx], &first);
    for (size_t i = 0; i < o->n && !sb->err; i++)
      if (!index_key(o->u.mem[i].key, o->u.mem[i].klen, NULL)) write_member(sb, &o->u.mem[i], &first);
    if (ix != small) hm_free(ix);
  }
  sb_putc(sb, '}');
}

static void write_value(sbuf *sb, const hm_json *v) {
  if (sb->err) return;
  switch (v->kind) {
  case HM_JSON_NULL: sb_put(sb, "null", 4); break;
  case HM_JSON_TRUE: sb_put(sb, "true", 4); break;
  case HM_JSON_FALSE: sb_put(sb, "false", 5); break;
  case HM_JSON_NUMBER:
    if (!isfinite(v->u.num)) {
      sb_put(sb, "null", 4);
    } else {
      char t[32];
      size_t n = hm_json_format_number(t, v->u.num);
      sb_put(sb, t, n);
    }
    break;
  case HM_JSON_STRING: write_string(sb, v->u.str, v->n); break;
  case HM_JSON_ARRAY:
    sb_putc(sb, '[');
    for (size_t i = 0; i < v->n && !sb->err; i++) {
      if (i) sb_putc(sb, ',');
      write_value(sb, v->u.items[i]);
    }
    sb_putc(sb, ']');
    break;
  case HM_JSON_OBJECT: write_object(sb, v); break;
  }
}

int hm_json_stringify(char **out, size_t *outlen, const hm_json *v) {
  if (!out || !v) return HM_ERR_INVAL;
  *out = NULL;
  sbuf sb = {NULL, 0, 0, 0};
  write_value(&sb, v);
  if (!sb.err) sb_grow(&sb, 0);
  if (sb.err) {
    hm_free(sb.b);
    return sb.err;
  }
  sb.b[sb.n] = 0;
  *out = sb.b;
  if (outlen) *outlen = sb.n;
  return HM_OK;
}

int hm_json_stringify_spread(char **out, size_t *outlen, const hm_json *obj, const char *omit_key,
                             const char *const keys[], const hm_json *const vals[], size_t n) {
  if (!out || !obj || obj->kind != HM_JSON_OBJECT || (n && (!keys || !vals))) return HM_ERR_INVAL;
  *out = NULL;
  /* A borrowed view: member pointers into obj and into vals; nothing in it is freed. */
  size_t cap = obj->n + n;
  member small[32], *m = small;
  if (cap > 32) {
    m = hm_malloc(cap * sizeof *m);
    if (!m) return HM_ERR_NOMEM;
  }
  size_t cnt = 0, omit_len = omit_key ? strlen(omit_key) : 0;
  for (size_t i = 0; i < obj->n; i++) {
    const member *src = &obj->u.mem[i];
    if (omit_key && src->klen == omit_len && memcmp(src->key, omit_key, omit_len) == 0) continue;
    m[cnt++] = *src;
  }
  for (size_t j = 0; j < n; j++) {
    size_t kl = strlen(keys[j]), at = SIZE_MAX;
    for (size_t i = 0; i < cnt; i++)
      if (m[i].klen == kl && memcmp(m[i].key, keys[j], kl) == 0) {
        at = i;
        break;
      }
    if (at != SIZE_MAX) {
      if (vals[j]) {
        m[at].val = (hm_json *)(uintptr_t)vals[j]; /* read-only use below */
      } else {                                     /* undefined: JSON.stringify drops the key */
        memmove(&m[at], &m[at + 1], (cnt - at - 1) * sizeof *m);
        cnt--;
      }
    } else if (vals[j]) {
      m[cnt++] = (member){(char *)(uintptr_t)keys[j], kl, (hm_json *)(uintptr_t)vals[j]};
    }
  }
  hm_json view;
  memset(&view, 0, sizeof view);
  view.kind = HM_JSON_OBJECT;
  view.n = cnt;
  view.u.mem = m;
  for (size_t i = 0; i < cnt; i++)
    if (index_key(m[i].key, m[i].klen, NULL)) view.nidx++;
  int r = hm_json_stringify(out, outlen, &view);
  if (m != small) hm_free(m);
  return r;
}
