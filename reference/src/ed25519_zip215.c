/* ed25519_zip215.c - the Ed25519 verifier that upstream (noble-curves 1.9.7,
 * zip215:true) effectively runs, plus upstream's Edwards -> Montgomery map.
 *
 * libsodium 1.0.18 has neither, so this file carries a small, deliberately plain
 * implementation of arithmetic mod p = 2^255 - 19 (five 51-bit limbs) and of
 * extended twisted-Edwards points. Clarity beats speed, except where every login
 * pays: the did:key check (point decoding, small-order test, Montgomery map) uses
 * addition chains for its two exponentiations and a dedicated squaring. Every
 * input is public, so nothing in it is constant time.
 */
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "harmony/crypto.h"

typedef unsigned __int128 u128;
typedef struct {
  uint64_t v[5];
} fe;

#define MASK51 ((((uint64_t)1) << 51) - 1)

/* ---- field ---------------------------------------------------------------- */

static void fe_set_small(fe *h, uint64_t x) {
  memset(h, 0, sizeof *h);
  h->v[0] = x;
}

/* Loads the low 255 bits; the result may be >= p, which the arithmetic tolerates
 * (that is exactly the ZIP-215 "y is reduced mod p" behaviour). */
static void fe_frombytes(fe *h, const uint8_t s[32]) {
  uint64_t w[4];
  for (int i = 0; i < 4; i++) {
    w[i] = 0;
    for (int j = 7; j >= 0; j--) w[i] = (w[i] << 8) | s[8 * i + j];
  }
  h->v[0] = w[0] & MASK51;
  h->v[1] = ((w[0] >> 51) | (w[1] << 13)) & MASK51;
  h->v[2] = ((w[1] >> 38) | (w[2] << 26)) & MASK51;
  h->v[3] = ((w[2] >> 25) | (w[3] << 39)) & MASK51;
  h->v[4] = (w[3] >> 12) & MASK51;
}

static void fe_carry(fe *h) {
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 4; i++) {
      h->v[i + 1] += h->v[i] >> 51;
      h->v[i] &= MASK51;
    }
    h->v[0] += 19 * (h->v[4] >> 51);
    h->v[4] &= MASK51;
  }
}

static void fe_add(fe *h, const fe *a, const fe *b) {
  for (int i = 0; i < 5; i++) h->v[i] = a->v[i] + b->v[i];
  fe_carry(h);
}

/* a - b computed as a + 4p - b so no limb underflows (limbs are < 2^52). */
static void fe_sub(fe *h, const fe *a, const fe *b) {
  static const uint64_t four_p[5] = {4 * (MASK51 - 18), 4 * MASK51, 4 * MASK51, 4 * MASK51,
                                     4 * MASK51};
  for (int i = 0; i < 5; i++) h->v[i] = a->v[i] + four_p[i] - b->v[i];
  fe_carry(h);
}

static void fe_neg(fe *h, const fe *a) {
  fe z;
  fe_set_small(&z, 0);
  fe_sub(h, &z, a);
}

/* Carries the wide products of fe_mul / fe_sq into h. */
static void fe_reduce_wide(fe *h, u128 r[5]) {
  for (int i = 0; i < 4; i++) {
    r[i + 1] += r[i] >> 51;
    r[i] &= MASK51;
  }
  r[0] += (r[4] >> 51) * 19;
  r[4] &= MASK51;
  for (int i = 0; i < 5; i++) h->v[i] = (uint64_t)r[i];
  fe_carry(h);
}

static void fe_mul(fe *h, const fe *a, const fe *b) {
  const uint64_t *x = a->v, *y = b->v;
  u128 r[5];
  uint64_t y19[5];
  for (int i = 0; i < 5; i++) y19[i] = 19 * y[i];
  r[0] = (u128)x[0] * y[0] + (u128)x[1] * y19[4] + (u128)x[2] * y19[3] + (u128)x[3] * y19[2] +
         (u128)x[4] * y19[1];
  r[1] = (u128)x[0] * y[1] + (u128)x[1] * y[0] + (u128)x[2] * y19[4] + (u128)x[3] * y19[3] +
         (u128)x[4] * y19[2];
  r[2] = (u128)x[0] * y[2] + (u128)x[1] * y[1] + (u128)x[2] * y[0] + (u128)x[3] * y19[4] +
         (u128)x[4] * y19[3];
  r[3] = (u128)x[0] * y[3] + (u128)x[1] * y[2] + (u128)x[2] * y[1] + (u128)x[3] * y[0] +
         (u128)x[4] * y19[4];
  r[4] = (u128)x[0] * y[4] + (u128)x[1] * y[3] + (u128)x[2] * y[2] + (u128)x[3] * y[1] +
         (u128)x[4] * y[0];
  fe_reduce_wide(h, r);
}

/* a^2: the products of fe_mul with the symmetric pairs counted once and doubled
 * (r_k = sum over i+j=k of x_i x_j + 19 * sum over i+j=k+5). Same value as fe_mul(a, a). */
static void fe_sq(fe *h, const fe *a) {
  const uint64_t *x = a->v;
  uint64_t d0 = 2 * x[0], d1 = 2 * x[1], x3_19 = 19 * x[3], x4_19 = 19 * x[4];
  u128 r[5];
  r[0] = (u128)x[0] * x[0] + (u128)d1 * x4_19 + (u128)(2 * x[2]) * x3_19;
  r[1] = (u128)d0 * x[1] + (u128)(2 * x[2]) * x4_19 + (u128)x[3] * x3_19;
  r[2] = (u128)d0 * x[2] + (u128)x[1] * x[1] + (u128)(2 * x[3]) * x4_19;
  r[3] = (u128)d0 * x[3] + (u128)d1 * x[2] + (u128)x[4] * x4_19;
  r[4] = (u128)d0 * x[4] + (u128)d1 * x[3] + (u128)x[2] * x[2];
  fe_reduce_wide(h, r);
}

/* h = a^(2^k): k squarings. */
static void fe_sq_n(fe *h, const fe *a, int k) {
  fe_sq(h, a);
  while (--k > 0) fe_sq(h, h);
}

/* The common start of the two fixed exponentiations below (the usual curve25519 addition
 * chain): *z11 = a^11 and *z250 = a^(2^250 - 1). 250 squarings and 11 multiplications
 * instead of square-and-multiply's ~500 operations. */
static void fe_chain_250(fe *z250, fe *z11, const fe *a) {
  fe z2, z9, t, z5_0, z10_0, z20_0, z50_0, z100_0;
  fe_sq(&z2, a);                  /* a^2 */
  fe_sq_n(&t, &z2, 2);            /* a^8 */
  fe_mul(&z9, &t, a);             /* a^9 */
  fe_mul(z11, &z9, &z2);          /* a^11 */
  fe_sq(&t, z11);                 /* a^22 */
  fe_mul(&z5_0, &t, &z9);         /* a^(2^5 - 1) */
  fe_sq_n(&t, &z5_0, 5);
  fe_mul(&z10_0, &t, &z5_0);      /* a^(2^10 - 1) */
  fe_sq_n(&t, &z10_0, 10);
  fe_mul(&z20_0, &t, &z10_0);     /* a^(2^20 - 1) */
  fe_sq_n(&t, &z20_0, 20);
  fe_mul(&t, &t, &z20_0);         /* a^(2^40 - 1) */
  fe_sq_n(&t, &t, 10);
  fe_mul(&z50_0, &t, &z10_0);     /* a^(2^50 - 1) */
  fe_sq_n(&t, &z50_0, 50);
  fe_mul(&z100_0, &t, &z50_0);    /* a^(2^100 - 1) */
  fe_sq_n(&t, &z100_0, 100);
  fe_mul(&t, &t, &z100_0);        /* a^(2^200 - 1) */
  fe_sq_n(&t, &t, 50);
  fe_mul(z250, &t, &z50_0);       /* a^(2^250 - 1) */
}

/* h = a^e, e given as 32 little-endian bytes (square-and-multiply, MSB first). */
static void fe_pow(fe *h, const fe *a, const uint8_t e[32]) {
  fe r;
  fe_set_small(&r, 1);
  for (int bit = 255; bit >= 0; bit--) {
    fe_sq(&r, &r);
    if ((e[bit >> 3] >> (bit & 7)) & 1) fe_mul(&r, &r, a);
  }
  *h = r;
}

/* Canonical (fully reduced) little-endian encoding. */
static void fe_tobytes(uint8_t s[32], const fe *a) {
  fe h = *a, t;
  /* Two passes: the first may leave limb 0 just above 2^51 after the wrap-around,
   * the second settles it, so every limb is < 2^51 and h < 2p. */
  fe_carry(&h);
  fe_carry(&h);
  /* t = h + 19; if t >= 2^255 then h >= p and the reduced value is t - 2^255. */
  t = h;
  t.v[0] += 19;
  for (int i = 0; i < 4; i++) {
    t.v[i + 1] += t.v[i] >> 51;
    t.v[i] &= MASK51;
  }
  if (t.v[4] >> 51) {
    t.v[4] &= MASK51;
    h = t;
  }
  uint64_t w[4];
  w[0] = h.v[0] | (h.v[1] << 51);
  w[1] = (h.v[1] >> 13) | (h.v[2] << 38);
  w[2] = (h.v[2] >> 26) | (h.v[3] << 25);
  w[3] = (h.v[3] >> 39) | (h.v[4] << 12);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 8; j++) s[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

static int fe_iszero(const fe *a) {
  uint8_t s[32];
  fe_tobytes(s, a);
  return sodium_is_zero(s, 32);
}

static int fe_eq(const fe *a, const fe *b) {
  fe d;
  fe_sub(&d, a, b);
  return fe_iszero(&d);
}

static int fe_isodd(const fe *a) {
  uint8_t s[32];
  fe_tobytes(s, a);
  return s[0] & 1;
}

/* Exponent as little-endian bytes (the other two exponents use addition chains). */
/* (p - 1) / 4 = 2^253 - 5 */
static const uint8_t EXP_P14[32] = {0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f};

/* a^(p-2) = a^(2^255 - 21) = (a^(2^250 - 1))^(2^5) * a^11: the inverse (0 for 0). */
static void fe_invert(fe *h, const fe *a) {
  fe z250, z11;
  fe_chain_250(&z250, &z11, a);
  fe_sq_n(&z250, &z250, 5);
  fe_mul(h, &z250, &z11);
}

/* a^((p-5)/8) = a^(2^252 - 3) = (a^(2^250 - 1))^4 * a. */
static void fe_pow22523(fe *h, const fe *a) {
  fe z250, z11;
  fe_chain_250(&z250, &z11, a);
  fe_sq_n(&z250, &z250, 2);
  fe_mul(h, &z250, a);
}

/* Curve constants, derived rather than typed in so that no constant can be mistyped:
 * d = -121665 / 121666, sqrt(-1) = 2^((p-1)/4). */
typedef struct {
  fe d, d2, sqrtm1;
} curve_consts;

static void consts_init(curve_consts *c) {
  fe num, den, two;
  fe_set_small(&num, 121665);
  fe_neg(&num, &num);
  fe_set_small(&den, 121666);
  fe_invert(&den, &den);
  fe_mul(&c->d, &num, &den);
  fe_add(&c->d2, &c->d, &c->d);
  fe_set_small(&two, 2);
  fe_pow(&c->sqrtm1, &two, EXP_P14);
}

/* Derived once per process: each derivation costs two field exponentiations, which
 * dominated a did:key check (every login resolves one). */
static curve_consts g_consts;
static pthread_once_t g_consts_once = PTHREAD_ONCE_INIT;
static void consts_init_global(void) { consts_init(&g_consts); }
static const curve_consts *consts(void) {
  pthread_once(&g_consts_once, consts_init_global);
  return &g_consts;
}

/* ---- points (extended coordinates, a = -1) -------------------------------- */

typedef struct {
  fe X, Y, Z, T;
} ge;

static void ge_identity(ge *p) {
  fe_set_small(&p->X, 0);
  fe_set_small(&p->Y, 1);
  fe_set_small(&p->Z, 1);
  fe_set_small(&p->T, 0);
}

/* Unified addition (Hisil-Wong-Carter-Dawson 2008, "add-2008-hwcd-3"). With a = -1
 * a square and d a non-square it is complete: it also doubles and handles the
 * identity and small-order points, which ZIP-215 needs. */
static void ge_add(ge *r, const ge *p, const ge *q, const curve_consts *c) {
  fe a, b, cc, d, e, f, g, h, t1, t2;
  fe_sub(&t1, &p->Y, &p->X);
  fe_sub(&t2, &q->Y, &q->X);
  fe_mul(&a, &t1, &t2);
  fe_add(&t1, &p->Y, &p->X);
  fe_add(&t2, &q->Y, &q->X);
  fe_mul(&b, &t1, &t2);
  fe_mul(&cc, &p->T, &q->T);
  fe_mul(&cc, &cc, &c->d2);
  fe_mul(&d, &p->Z, &q->Z);
  fe_add(&d, &d, &d);
  fe_sub(&e, &b, &a);
  fe_sub(&f, &d, &cc);
  fe_add(&g, &d, &cc);
  fe_add(&h, &b, &a);
  fe_mul(&r->X, &e, &f);
  fe_mul(&r->Y, &g, &h);
  fe_mul(&r->T, &e, &h);
  fe_mul(&r->Z, &f, &g);
}

static void ge_neg(ge *r, const ge *p) {
  fe_neg(&r->X, &p->X);
  r->Y = p->Y;
  r->Z = p->Z;
  fe_neg(&r->T, &p->T);
}

/* r = [n]p, n 32 little-endian bytes. Variable time (public inputs only). */
static void ge_scalarmult(ge *r, const ge *p, const uint8_t n[32], const curve_consts *c) {
  ge acc;
  ge_identity(&acc);
  for (int bit = 255; bit >= 0; bit--) {
    ge_add(&acc, &acc, &acc, c);
    if ((n[bit >> 3] >> (bit & 7)) & 1) ge_add(&acc, &acc, p, c);
  }
  *r = acc;
}

static int ge_is_identity(const ge *p) { return fe_iszero(&p->X) && fe_eq(&p->Y, &p->Z); }

static int ge_is_small_order(const ge *p, const curve_consts *c) {
  ge q = *p;
  for (int i = 0; i < 3; i++) ge_add(&q, &q, &q, c);
  return ge_is_identity(&q);
}

/* Canonical encoding: y reduced, sign bit = parity of x. */
static void ge_tobytes(uint8_t s[32], const ge *p) {
  fe zi, x, y;
  fe_invert(&zi, &p->Z);
  fe_mul(&x, &p->X, &zi);
  fe_mul(&y, &p->Y, &zi);
  fe_tobytes(s, &y);
  s[31] |= (uint8_t)(fe_isodd(&x) << 7);
}

/* RFC 8032 5.1.3 decoding with noble's switches. zip215: accept y >= p and
 * "x = 0 with sign bit 1"; otherwise reject both. *canonical reports whether the
 * input was the canonical encoding. Returns 0 on success, -1 if no point. */
static int ge_frombytes(ge *p, int *canonical, const uint8_t s[32], int zip215,
                        const curve_consts *c) {
  fe y, u, v, v3, v7, x, vx2, t, one;
  uint8_t ybytes[32], ycanon[32];
  int sign = s[31] >> 7;

  memcpy(ybytes, s, 32);
  ybytes[31] &= 0x7f;
  fe_frombytes(&y, ybytes);
  fe_tobytes(ycanon, &y);
  int y_canonical = memcmp(ycanon, ybytes, 32) == 0;
  if (!zip215 && !y_canonical) return -1;

  fe_set_small(&one, 1);
  fe_sq(&u, &y);
  fe_mul(&v, &u, &c->d);
  fe_sub(&u, &u, &one); /* u = y^2 - 1 */
  fe_add(&v, &v, &one); /* v = d y^2 + 1, never 0 since -1/d is not a square */

  /* x = u v^3 (u v^7)^((p-5)/8) */
  fe_sq(&v3, &v);
  fe_mul(&v3, &v3, &v);
  fe_sq(&v7, &v3);
  fe_mul(&v7, &v7, &v);
  fe_mul(&t, &u, &v7);
  fe_pow22523(&t, &t);
  fe_mul(&x, &u, &v3);
  fe_mul(&x, &x, &t);

  fe_sq(&vx2, &x);
  fe_mul(&vx2, &vx2, &v);
  fe neg_u;
  fe_neg(&neg_u, &u);
  if (fe_eq(&vx2, &u)) {
    /* x is a root */
  } else if (fe_eq(&vx2, &neg_u)) {
    fe_mul(&x, &x, &c->sqrtm1);
  } else {
    return -1; /* (y^2-1)/(dy^2+1) is not a square: not a curve point */
  }

  int x_zero = fe_iszero(&x);
  if (x_zero && sign && !zip215) return -1;
  if (fe_isodd(&x) != sign) fe_neg(&x, &x); /* -0 = 0 keeps x = 0 */

  if (canonical) *canonical = y_canonical && !(x_zero && sign);
  p->X = x;
  p->Y = y;
  fe_set_small(&p->Z, 1);
  fe_mul(&p->T, &x, &y);
  return 0;
}

/* ---- scalars -------------------------------------------------------------- */

/* L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
static const uint8_t ORDER_L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                    0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

static int scalar_lt_l(const uint8_t s[32]) {
  for (int i = 31; i >= 0; i--) {
    if (s[i] < ORDER_L[i]) return 1;
    if (s[i] > ORDER_L[i]) return 0;
  }
  return 0; /* equal */
}

/* The base point encoding: y = 4/5, x even. */
static const uint8_t BASE_ENC[32] = {0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                     0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                     0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                     0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};

/* ---- public entry points -------------------------------------------------- */

int hm_ed25519_point_check(const uint8_t pk[32], int *canonical, int *small_order) {
  if (!pk) return HM_ERR_INVAL;
  const curve_consts *c = consts();
  ge p;
  int canon = 0;
  if (ge_frombytes(&p, &canon, pk, 1, c) != 0) return HM_ERR_WEAK_KEY;
  if (canonical) *canonical = canon;
  if (small_order) *small_order = ge_is_small_order(&p, c);
  return HM_OK;
}

/* u = (1 + y) / (1 - y) of a decoded point (Z = 1). */
static int ge_to_montgomery(uint8_t xpk[32], const ge *A) {
  fe one, num, den, u;
  fe_set_small(&one, 1);
  fe_add(&num, &one, &A->Y);
  fe_sub(&den, &one, &A->Y);
  if (fe_iszero(&den)) return HM_ERR_WEAK_KEY; /* y = 1: noble's Fp.div throws */
  fe_invert(&den, &den);
  fe_mul(&u, &num, &den);
  fe_tobytes(xpk, &u);
  return HM_OK;
}

int hm_ed25519_point_check_x25519(const uint8_t pk[32], int *canonical, int *small_order, uint8_t xpk[32]) {
  if (!pk || !canonical || !small_order || !xpk) return HM_ERR_INVAL;
  const curve_consts *c = consts();
  ge p;
  int canon = 0;
  if (ge_frombytes(&p, &canon, pk, 1, c) != 0) return HM_ERR_WEAK_KEY;
  *canonical = canon;
  *small_order = ge_is_small_order(&p, c);
  if (!canon || *small_order) return HM_OK;
  /* A canonical encoding decodes to the same point with or without the ZIP-215 switches,
   * so this is what hm_ed25519_to_x25519_pk_upstream computes from pk. */
  return ge_to_montgomery(xpk, &p);
}

int hm_ed25519_verify_zip215(const uint8_t sig[64], const uint8_t *msg, size_t len,
                             const uint8_t pk[32]) {
  if (!sig || !pk || (!msg && len)) return HM_ERR_INVAL;
  const curve_consts *c = consts();

  const uint8_t *s = sig + 32;
  if (!scalar_lt_l(s)) return HM_ERR_BADSIG;

  ge A, R, B;
  if (ge_frombytes(&A, NULL, pk, 1, c) != 0) return HM_ERR_BADSIG;
  if (ge_frombytes(&R, NULL, sig, 1, c) != 0) return HM_ERR_BADSIG;
  if (ge_frombytes(&B, NULL, BASE_ENC, 0, c) != 0) return HM_ERR_INTERNAL;

  /* noble hashes the re-encoded points (R.toBytes(), A.toBytes()). */
  uint8_t renc[32], aenc[32], h[64], k[32];
  ge_tobytes(renc, &R);
  ge_tobytes(aenc, &A);
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, renc, 32);
  crypto_hash_sha512_update(&st, aenc, 32);
  if (len) crypto_hash_sha512_update(&st, msg, len);
  crypto_hash_sha512_final(&st, h);
  crypto_core_ed25519_scalar_reduce(k, h);

  /* [8]([S]B - R - [k]A) == O */
  ge sb, ka, acc, negr, negka;
  ge_scalarmult(&sb, &B, s, c);
  ge_scalarmult(&ka, &A, k, c);
  ge_neg(&negr, &R);
  ge_neg(&negka, &ka);
  ge_add(&acc, &sb, &negr, c);
  ge_add(&acc, &acc, &negka, c);
  return ge_is_small_order(&acc, c) ? HM_OK : HM_ERR_BADSIG;
}

int hm_ed25519_to_x25519_pk_upstream(uint8_t xpk[32], const uint8_t edpk[32]) {
  if (!xpk || !edpk) return HM_ERR_INVAL;
  const curve_consts *c = consts();
  ge A;
  if (ge_frombytes(&A, NULL, edpk, 0, c) != 0) return HM_ERR_WEAK_KEY;
  return ge_to_montgomery(xpk, &A);
}
