/* harmony/codec.h - text encodings of bytes: hex, base64, base58btc, multibase, varint.
 *
 * Conventions (all functions):
 *   - Inputs are (pointer, length) pairs; text inputs need not be NUL-terminated.
 *   - Encoders write into (out, cap) and always NUL-terminate on success. They return
 *     HM_OK, or HM_ERR_BUFSZ when cap is too small (out is then unspecified).
 *   - Decoders write bytes into (out, cap), store the byte count in *outlen and return
 *     HM_OK, HM_ERR_DECODE (malformed text), HM_ERR_BUFSZ (cap too small) or
 *     HM_ERR_RANGE (input longer than the documented bound).
 *   - Nothing here allocates; all functions are safe to call with any length.
 *   - NULL out/in with a non-zero length gives HM_ERR_INVAL.
 *
 * Which base58 mode is used where:
 *   - Signing and encoding (did:key, proofValue) use hm_base58_encode (standard). It differs
 *     from upstream only for inputs made entirely of zero bytes (see below), which no key
 *     or signature Harmony produces is; so the wire bytes are identical.
 *   - Verification in HM_PROFILE_COMPAT (harmony/vc.h) decodes with
 *     hm_base58_decode_upstream, so that it accepts exactly what upstream accepts.
 *   - Verification in HM_PROFILE_HARDENED and did:key parsing use hm_base58_decode
 *     (standard), and then check exact lengths.
 */
#ifndef HARMONY_CODEC_H
#define HARMONY_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hex ---------------------------------------------------------------- */

/* Bytes needed for the hex text of len bytes, including the NUL: 2*len+1. */
size_t hm_hex_encoded_len(size_t len);
/* Lowercase hex of in[0..len) into out, NUL-terminated; needs cap >= 2*len+1. */
int hm_hex_encode(char *out, size_t cap, const uint8_t *in, size_t len);
/* Strict: even length, only [0-9a-fA-F]. Needs cap >= len/2. */
int hm_hex_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len);

/* ---- base64 (RFC 4648) -------------------------------------------------- */

/* Bytes needed for the base64 text of len bytes, including the NUL.
 * url = 0: standard alphabet A-Za-z0-9+/ with '=' padding (4*ceil(len/3)+1);
 * url = 1: URL alphabet A-Za-z0-9-_ without padding. Returns 0 on size overflow. */
size_t hm_base64_encoded_len(size_t len, int url);
/* Upper bound on decoded bytes for a text of len characters (3*ceil(len/4)). */
size_t hm_base64_decoded_maxlen(size_t len);
int hm_base64_encode(char *out, size_t cap, const uint8_t *in, size_t len, int url);
/* Strict decoding.
 * url = 0: length a multiple of 4, '=' only as 1 or 2 final padding characters,
 *          only the standard alphabet.
 * url = 1: no '=' at all, length mod 4 != 1, only the URL alphabet.
 * Both: unused trailing bits must be zero (one text per byte string). Whitespace is an error. */
int hm_base64_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len, int url);
/* Upstream-compatible lenient decoder (protocol serialisation.ts, crypto-facts §0.4):
 * every '=' anywhere is removed first; the remaining text is taken in groups of four
 * UTF-16 code units; a unit outside the standard alphabet counts as index -1, which
 * sets garbage bits instead of failing ("AA*A" gives 00 ff c0); a final group of one unit
 * yields no byte. The input is UTF-8 (a code point above U+FFFF counts as two units).
 * Never returns HM_ERR_DECODE; only HM_ERR_BUFSZ / HM_ERR_INVAL. Needs cap >= 3*len/4.
 * For interoperability testing only: never use it where strictness matters. */
int hm_base64_decode_lenient(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len);

/* ---- base58btc (Bitcoin alphabet) --------------------------------------- */

/* Inputs longer than this (bytes to encode, characters to decode) give HM_ERR_RANGE:
 * base58 is quadratic, and Harmony never carries more than ~70 bytes in it. */
#define HM_BASE58_MAX_INPUT 4096

/* Upper bound on the encoded size of len bytes, including the NUL (upstream mode too). */
size_t hm_base58_encoded_maxlen(size_t len);
/* Standard base58btc: each leading zero byte gives '1', then the big-endian number.
 * [] -> "", [00] -> "1". cap needs to cover the actual text plus NUL. */
int hm_base58_encode(char *out, size_t cap, const uint8_t *in, size_t len);
/* Standard decode: each leading '1' gives a zero byte. "" -> [], "1" -> [00].
 * Characters outside the alphabet (including '0', 'O', 'I', 'l', non-ASCII) give HM_ERR_DECODE. */
int hm_base58_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len);
/* Upstream did/src/index.ts behaviour. Identical to the standard functions except when the
 * value is zero (input all zero bytes, or text all '1'):
 *   encode: one extra '1' ([] -> "1", [00] -> "11", [00 00] -> "111");
 *   decode: one extra 00 byte ("" -> [00], "1" -> [00 00]). */
int hm_base58_encode_upstream(char *out, size_t cap, const uint8_t *in, size_t len);
int hm_base58_decode_upstream(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len);

/* ---- multibase (base58btc only, prefix 'z') ----------------------------- */

/* "z" + hm_base58_encode(in). */
int hm_multibase_encode_b58(char *out, size_t cap, const uint8_t *in, size_t len);
/* Requires in[0] == 'z' (otherwise HM_ERR_UNSUPPORTED; empty text HM_ERR_DECODE), then
 * hm_base58_decode of the rest. */
int hm_multibase_decode_b58(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t len);

/* ---- unsigned varint (multiformats / multicodec) ------------------------ */

#define HM_VARINT_MAX_BYTES 9 /* multiformats: at most 9 bytes, values < 2^63 */

/* LEB128 of v (v < 2^63, else HM_ERR_RANGE) into out; *outlen = bytes written. */
int hm_varint_encode(uint8_t *out, size_t cap, size_t *outlen, uint64_t v);
/* Strict decode of a varint at the start of in: minimal encoding (no redundant final 0x00
 * group), at most 9 bytes; truncated or non-minimal gives HM_ERR_DECODE.
 * *v = value, *used = bytes consumed. */
int hm_varint_decode(uint64_t *v, size_t *used, const uint8_t *in, size_t len);

#ifdef __cplusplus
}
#endif
#endif
