/* harmony/error.h - the one error table of libharmony.
 *
 * Every fallible function returns HM_OK (0) or a negative HM_ERR_* code from this
 * table. The same table gives:
 *   - hm_strerror(): a human sentence (never NULL),
 *   - hm_err_name(): a stable upper-case CODE (used by harmony-crypto's
 *     {"error": CODE} output and in logs),
 *   - hm_err_wire(): the wire error code the server sends for it (spec/errors.md).
 * To add an error: add one HM_ERR_ROW line below (keep values unique and stable).
 */
#ifndef HARMONY_ERROR_H
#define HARMONY_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define HM_WARN_UNUSED __attribute__((warn_unused_result))

/*            enum name           value  CODE                 wire code          message */
#define HM_ERR_TABLE(HM_ERR_ROW) \
  HM_ERR_ROW(HM_OK,                  0, "OK",                "",                "success") \
  HM_ERR_ROW(HM_ERR_NOMEM,          -1, "NOMEM",             "INTERNAL",        "out of memory") \
  HM_ERR_ROW(HM_ERR_INVAL,          -2, "INVALID_ARGUMENT",  "INVALID_PAYLOAD", "invalid argument") \
  HM_ERR_ROW(HM_ERR_DECODE,         -3, "DECODE",            "INVALID_PAYLOAD", "malformed encoding") \
  HM_ERR_ROW(HM_ERR_JSON,           -4, "JSON_SYNTAX",       "INVALID_MESSAGE", "invalid JSON") \
  HM_ERR_ROW(HM_ERR_JSON_DUPKEY,    -5, "JSON_DUPLICATE_KEY","INVALID_MESSAGE", "duplicate key in JSON object") \
  HM_ERR_ROW(HM_ERR_JSON_DEPTH,     -6, "JSON_TOO_DEEP",     "INVALID_MESSAGE", "JSON nesting too deep") \
  HM_ERR_ROW(HM_ERR_RANGE,          -7, "OUT_OF_RANGE",      "INVALID_PAYLOAD", "value out of range") \
  HM_ERR_ROW(HM_ERR_BUFSZ,          -8, "BUFFER_TOO_SMALL",  "INTERNAL",        "output buffer too small") \
  HM_ERR_ROW(HM_ERR_CRYPTO,         -9, "CRYPTO",            "INTERNAL",        "cryptographic primitive failed") \
  HM_ERR_ROW(HM_ERR_BADSIG,        -10, "BAD_SIGNATURE",     "AUTH_INVALID",    "signature does not verify") \
  HM_ERR_ROW(HM_ERR_WEAK_KEY,      -11, "WEAK_KEY",          "AUTH_INVALID",    "weak, small-order or invalid public key") \
  HM_ERR_ROW(HM_ERR_AUTH_TAG,      -12, "AUTH_TAG",          "INVALID_PAYLOAD", "authentication tag mismatch") \
  HM_ERR_ROW(HM_ERR_MNEMONIC,      -13, "BAD_MNEMONIC",      "INVALID_PAYLOAD", "invalid mnemonic") \
  HM_ERR_ROW(HM_ERR_CHECKSUM,      -14, "BAD_CHECKSUM",      "INVALID_PAYLOAD", "checksum mismatch") \
  HM_ERR_ROW(HM_ERR_DID,           -15, "BAD_DID",           "AUTH_INVALID",    "invalid or unsupported DID") \
  HM_ERR_ROW(HM_ERR_UNSUPPORTED,   -16, "UNSUPPORTED",       "INVALID_PAYLOAD", "unsupported value") \
  HM_ERR_ROW(HM_ERR_EXPIRED,       -17, "EXPIRED",           "AUTH_INVALID",    "expired") \
  HM_ERR_ROW(HM_ERR_NOT_YET_VALID, -18, "NOT_YET_VALID",     "AUTH_INVALID",    "not yet valid") \
  HM_ERR_ROW(HM_ERR_REVOKED,       -19, "REVOKED",           "AUTH_INVALID",    "revoked") \
  HM_ERR_ROW(HM_ERR_REPLAY,        -20, "REPLAY",            "AUTH_INVALID",    "replayed") \
  HM_ERR_ROW(HM_ERR_UNTRUSTED,     -21, "UNTRUSTED_ISSUER",  "AUTH_INVALID",    "issuer not trusted") \
  HM_ERR_ROW(HM_ERR_PURPOSE,       -22, "BAD_PROOF_PURPOSE", "AUTH_INVALID",    "wrong proof purpose or verification relationship") \
  HM_ERR_ROW(HM_ERR_HOLDER,        -23, "HOLDER_MISMATCH",   "AUTH_INVALID",    "credential subject or invoker is not the holder") \
  HM_ERR_ROW(HM_ERR_EMPTY,         -24, "EMPTY",             "AUTH_INVALID",    "required list is empty") \
  HM_ERR_ROW(HM_ERR_ATTENUATION,   -25, "ATTENUATION",       "ZCAP_INVALID",    "capability exceeds its parent") \
  HM_ERR_ROW(HM_ERR_CHAIN,         -26, "BAD_CHAIN",         "ZCAP_INVALID",    "capability chain broken") \
  HM_ERR_ROW(HM_ERR_TOKEN,         -27, "BAD_TOKEN",         "AUTH_INVALID",    "invalid session token") \
  HM_ERR_ROW(HM_ERR_STALE,         -28, "STALE",             "AUTH_INVALID",    "outside the freshness window") \
  HM_ERR_ROW(HM_ERR_STRUCTURE,     -29, "BAD_STRUCTURE",     "INVALID_PAYLOAD", "missing or wrongly typed field") \
  HM_ERR_ROW(HM_ERR_NOT_FOUND,     -30, "NOT_FOUND",         "NOT_FOUND",       "not found") \
  HM_ERR_ROW(HM_ERR_IO,            -31, "IO",                "INTERNAL",        "I/O error") \
  HM_ERR_ROW(HM_ERR_INTERNAL,      -32, "INTERNAL",          "INTERNAL",        "internal error") \
  HM_ERR_ROW(HM_ERR_ACTION,        -33, "ACTION_NOT_ALLOWED","ZCAP_INVALID",    "action not allowed by the capability") \
  HM_ERR_ROW(HM_ERR_SCOPE,         -34, "SCOPE_MISMATCH",    "ZCAP_INVALID",    "target or scope outside the capability") \
  HM_ERR_ROW(HM_ERR_CONFLICT,      -35, "CONFLICT",          "CONFLICT",        "identifier already in use")

typedef enum {
#define HM_ERR_ENUM_(name, value, code, wire, msg) name = (value),
  HM_ERR_TABLE(HM_ERR_ENUM_)
#undef HM_ERR_ENUM_
} hm_err;

/* Human-readable sentence for err; unknown values give "unknown error". Never NULL. */
const char *hm_strerror(int err);
/* Stable CODE string for err ("BAD_SIGNATURE"); unknown values give "UNKNOWN". */
const char *hm_err_name(int err);
/* Wire error code the server sends for err (spec/errors.md); "INTERNAL" when unknown. */
const char *hm_err_wire(int err);

#ifdef __cplusplus
}
#endif
#endif
