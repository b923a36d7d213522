/* harmony/vc.h - Harmony's Verifiable Credentials, Presentations and ZCAPs
 * (crypto-facts §2, §3; protocol-facts §2.1).
 *
 * Harmony's proofs are not W3C Data Integrity: an Ed25519 signature over
 *   UTF-8(JSON.stringify({...docWithoutProof, proofPurpose, created, verificationMethod}))
 * where the three proof fields are appended in that order (an existing key of the same
 * name keeps its position and takes the new value), and
 *   proof = {"type":"Ed25519Signature2020","created","verificationMethod","proofPurpose",
 *            "proofValue":"z"+base58btc(sig64)}.
 * The verifier re-serialises the document as parsed, so key order matters (harmony/json.h).
 *
 * Two verification profiles:
 *  HM_PROFILE_COMPAT   accepts exactly what upstream accepts: ZIP-215 Ed25519; the first
 *                      character of proofValue dropped unchecked; upstream base58 (all-zero
 *                      quirks); the key is whatever follows the varint in the VM's
 *                      publicKeyMultibase (no codec check); proofPurpose, proof.type, created
 *                      and the VM's relationship are not checked; an unparseable
 *                      expirationDate never expires; a VP needs no credentials and its
 *                      credentials need not be about the holder; ZCAP chains are not rooted
 *                      and attenuation is not re-checked. Checks run in upstream's order and
 *                      the first failing one is reported, so the server can map
 *                      HM_ERR_EXPIRED / HM_ERR_REVOKED / other errors to upstream's
 *                      "Expired VC" / "Revoked VC" / "Invalid VC" messages.
 *  HM_PROFILE_HARDENED strict RFC 8032 (libsodium) Ed25519; proofValue "z" + standard base58 of
 *                      exactly 64 bytes; proof.type "Ed25519Signature2020"; the VM key must
 *                      be multicodec ed25519 (ed 01) with 32 bytes; proofPurpose must fit
 *                      (assertionMethod for a VC, authentication for a VP,
 *                      capabilityDelegation for a capability, capabilityInvocation for an
 *                      invocation) and the VM must be listed in that relationship of the
 *                      signer's DID document (did:key documents list no capability*
 *                      relationships; there, as in the did:key method spec, only the DID's
 *                      own Ed25519 VM qualifies); dates must be strict ISO 8601 UTC
 *                      ("2025-01-01T00:00:00.000Z"; milliseconds and offset optional);
 *                      issuanceDate not in the future (beyond the freshness window); VP
 *                      proof.created within the freshness window of now; optional replay
 *                      callback; at least one credential; every credential's subject id is
 *                      the holder and its issuer is the holder or a trusted issuer; ZCAP
 *                      invoker / action / target / scope checked against the caller's
 *                      expectations, the chain rooted at a self-delegated root, linked by
 *                      delegator == parent invoker, attenuated (actions subset, scope
 *                      narrower-or-equal, parent caveats kept), expiry caveats parsed
 *                      strictly, unknown caveat types refused.
 *
 * Time: everything takes "now" from the options (ms since the Unix epoch); nothing reads
 * the clock. DID resolution goes through an optional callback; by default did:key only
 * (hm_did_document of harmony/did.h, compat or hardened conversion rules).
 *
 * Dates in compat mode: upstream uses JavaScript's Date parser. We implement the ECMAScript
 * date-time string format (YYYY[-MM[-DD]][THH:mm[:ss[.sss]]][Z|+-HH:mm], date-time forms
 * without offset read as UTC, which is what a server running in UTC does), numbers as epoch
 * ms and true as 1 ms. Other strings V8 happens to parse (e.g. "Jan 1 2025") are treated as
 * unparseable here, i.e. never expiring: a documented deviation that only ever makes compat
 * accept a credential upstream would reject as expired.
 */
#ifndef HARMONY_VC_H
#define HARMONY_VC_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"
#include "harmony/json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { HM_PROFILE_COMPAT = 0, HM_PROFILE_HARDENED = 1 } hm_profile;

#define HM_VC_CONTEXT "https://www.w3.org/2018/credentials/v1"
#define HM_ZCAP_CONTEXT "https://w3id.org/zcap/v1"
#define HM_PROOF_TYPE "Ed25519Signature2020"
#define HM_DEFAULT_FRESHNESS_S 300

/* ---- time helpers ---------------------------------------------------------- */

/* ms since epoch -> "YYYY-MM-DDTHH:MM:SS.sssZ" (JS toISOString; years 0..9999).
 * Returns HM_OK or HM_ERR_RANGE. */
int hm_iso8601_format(char buf[32], int64_t ms);
/* Strict parse of "YYYY-MM-DDTHH:MM:SS[.fff]Z" or with "+HH:MM"/"-HH:MM" instead of Z
 * (1 to 3 fraction digits). Returns HM_OK and *ms, or HM_ERR_DECODE. */
int hm_iso8601_parse_strict(const char *s, size_t len, int64_t *ms);
/* What compat mode takes from JS `new Date(value)` (see the top of this file).
 * Returns 1 and *ms when it gives a valid time, 0 when it gives NaN (Invalid Date). */
int hm_js_date_value(const hm_json *value, int64_t *ms);

/* ---- signing ---------------------------------------------------------------- */

/* The signing input of a document that carries its proof: doc must be an object with a
 * "proof" object; the result is JSON.stringify of doc minus "proof", plus proof's
 * proofPurpose, created, verificationMethod (a field missing from proof removes that key,
 * as an undefined value would in JS). *out is hm_malloc'd, NUL-terminated; *len its length.
 * Returns HM_OK, HM_ERR_STRUCTURE (no proof object), HM_ERR_INVAL, HM_ERR_NOMEM. */
int hm_proof_signing_input(char **out, size_t *len, const hm_json *doc);

/* Same for an unsigned document and explicit proof fields (doc's own "proof", if any, is
 * left out). */
int hm_proof_signing_input_for(char **out, size_t *len, const hm_json *doc, const char *purpose,
                               const char *created, const char *verification_method);

/* Sign doc as upstream's createProof does and set doc.proof (JS semantics) to
 * {"type","created","verificationMethod","proofPurpose","proofValue"}.
 * Returns HM_OK, HM_ERR_INVAL, HM_ERR_NOMEM, HM_ERR_CRYPTO; on error doc is unchanged. */
int hm_proof_attach(hm_json *doc, const uint8_t seed[32], const char *verification_method,
                    const char *purpose, const char *created);

/* Upstream's VM id for a DID: did + "#" + did with its first "did:key:" removed.
 * Returns HM_OK or HM_ERR_BUFSZ / HM_ERR_INVAL. */
int hm_vc_default_vm(char *out, size_t cap, const char *did);

/* ---- issuing ---------------------------------------------------------------- */

typedef struct {
  const char *issuer_did;
  const uint8_t *issuer_seed;     /* 32-byte Ed25519 seed of issuer_did */
  const char *subject_did;
  const char *type;               /* second entry of "type" */
  const hm_json *claims;          /* object or NULL; appended to credentialSubject after "id"
                                   * (a claim "id" overwrites the value in place) */
  const char *expiration_date;    /* NULL or "" = none (appended after credentialSubject) */
  const char *id;                 /* NULL = "urn:uuid:" + 32 random lowercase hex */
  const char *issuance_date;      /* NULL = now_ms as ISO */
  const char *created;            /* NULL = issuance_date */
  int64_t now_ms;
} hm_vc_issue_params;

/* A new credential in upstream's exact key order (crypto-facts §2.1). *out owned by the
 * caller. Returns HM_OK, HM_ERR_INVAL, HM_ERR_NOMEM, HM_ERR_CRYPTO, HM_ERR_RANGE. */
int hm_vc_issue(hm_json **out, const hm_vc_issue_params *p);

/* A new presentation {"@context","type","holder","verifiableCredential","proof"}
 * (crypto-facts §2.2). credentials: array of VCs (cloned) or NULL for []. created NULL =
 * now_ms. Returns HM_OK, HM_ERR_INVAL, HM_ERR_NOMEM, HM_ERR_CRYPTO. */
int hm_vp_create(hm_json **out, const char *holder_did, const uint8_t holder_seed[32],
                 const hm_json *credentials, const char *created, int64_t now_ms);

/* A capability. parent NULL: a root {"@context","id","invoker","delegator","allowedAction",
 * "scope","proof"} with invoker = delegator = owner (signer_did). parent non-NULL: a
 * delegation {"@context","id","parentCapability","invoker","delegator","allowedAction","scope",
 * ["caveats"],"proof"} with delegator = parent.invoker, signed by signer_seed, which must
 * be parent.invoker's key; like upstream it refuses to widen actions or scope
 * (HM_ERR_ATTENUATION). allowed_action: array of strings; scope: object; caveats: array or
 * NULL (omitted). id NULL = random. */
int hm_zcap_create(hm_json **out, const hm_json *parent, const char *signer_did,
                   const uint8_t signer_seed[32], const char *invoker_did, const hm_json *allowed_action,
                   const hm_json *scope, const hm_json *caveats, const char *id, const char *created);

/* An invocation {"capability","invoker","action","target","proof"} of cap by its invoker. */
int hm_zcap_invoke(hm_json **out, const hm_json *cap, const uint8_t invoker_seed[32], const char *action,
                   const char *target, const char *created);

/* ---- verifying -------------------------------------------------------------- */

/* DID resolution: on success *doc is a new DID document (caller frees). Return HM_OK or an
 * error (the DID does not resolve). */
typedef int (*hm_did_resolve_fn)(void *ctx, const char *did, hm_profile profile, hm_json **doc);
/* Revocation: 1 if id is revoked, 0 if not, negative on failure (treated as revoked). */
typedef int (*hm_revoked_fn)(void *ctx, const char *id);
/* Replay cache for VP logins (hardened): called once the VP verified otherwise; returns
 * HM_OK if this proof is new (and records it until expires_ms), HM_ERR_REPLAY if seen. */
typedef int (*hm_replay_fn)(void *ctx, const char *holder, const char *proof_value, int64_t expires_ms);

typedef struct {
  hm_profile profile;
  int64_t now_ms;
  uint32_t freshness_s;                /* 0 = HM_DEFAULT_FRESHNESS_S */
  const char *const *trusted_issuers;  /* hardened VP: issuers other than the holder */
  size_t n_trusted_issuers;
  hm_revoked_fn is_revoked;            /* may be NULL */
  void *revoked_ctx;
  hm_replay_fn replay;                 /* may be NULL */
  void *replay_ctx;
  hm_did_resolve_fn resolve;           /* NULL = built-in did:key */
  void *resolve_ctx;
} hm_verify_opts;

/* Detail of a verification. reason is a static string naming the failed check ("ok" on
 * success); credential_index is -1 when the failure is in the presentation / invocation
 * itself and the index of the failing credential / chain entry otherwise. */
typedef struct {
  int err;
  const char *reason;
  long credential_index;
} hm_verify_result;

/* Verify one credential. Returns HM_OK or: HM_ERR_STRUCTURE, HM_ERR_EXPIRED,
 * HM_ERR_NOT_YET_VALID, HM_ERR_DID (issuer does not resolve), HM_ERR_NOT_FOUND (VM not in
 * the issuer's document), HM_ERR_PURPOSE, HM_ERR_UNSUPPORTED (key codec / proof type),
 * HM_ERR_BADSIG, HM_ERR_WEAK_KEY, HM_ERR_REVOKED, HM_ERR_NOMEM, HM_ERR_INVAL.
 * res may be NULL. */
HM_WARN_UNUSED int hm_vc_verify(const hm_json *vc, const hm_verify_opts *opts, hm_verify_result *res);

/* Verify a presentation and every credential in it, as the server's login does.
 * Additional errors: HM_ERR_EMPTY, HM_ERR_HOLDER, HM_ERR_UNTRUSTED, HM_ERR_STALE,
 * HM_ERR_REPLAY. */
HM_WARN_UNUSED int hm_vp_verify(const hm_json *vp, const hm_verify_opts *opts, hm_verify_result *res);

/* What the caller expects an invocation to do (hardened; ignored by compat). */
typedef struct {
  const char *invoker;     /* required: the authenticated DID of the connection */
  const char *action;      /* NULL = any action the capability allows */
  const char *target;      /* NULL = not checked */
  const hm_json *scope;    /* object or NULL: every key must be present with an equal value
                            * in the root's scope and, where set, in every delegation */
  const char *root_owner;  /* NULL = any root whose signature verifies; else the root's delegator
                            * (the trust anchor: our server delegates its roots to the creator) */
} hm_zcap_expect;

/* Verify an invocation against a capability chain (a JSON array of capabilities).
 * Additional errors: HM_ERR_CHAIN, HM_ERR_ATTENUATION, HM_ERR_ACTION, HM_ERR_SCOPE,
 * HM_ERR_HOLDER (invoker), HM_ERR_UNTRUSTED (root owner). */
HM_WARN_UNUSED int hm_zcap_verify_invocation(const hm_json *invocation, const hm_json *chain,
                                             const hm_verify_opts *opts, const hm_zcap_expect *expect,
                                             hm_verify_result *res);

#ifdef __cplusplus
}
#endif
#endif
