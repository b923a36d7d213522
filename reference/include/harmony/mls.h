/* harmony/mls.h - upstream's "simplified MLS" (crypto-facts 5; spec crypto.md R-CRY-MLS-*).
 * Not RFC 9420: a flat member list, one shared key per epoch, JSON objects.
 *
 * Key schedule (HKDF-SHA256, 32 bytes):
 *   epoch key    ikm epochSecret, salt "harmony-mls-epoch-salt-v1",
 *                info "harmony-mls-<message|media>-<epoch in decimal>"
 *   advance      ikm epochSecret || commitSecret (64 bytes), salt "harmony-mls-advance-salt-v1",
 *                info "harmony-mls-epoch-advance"
 *   Welcome key  ikm the joiner's PUBLIC initKey, no salt, info "harmony-mls-welcome" (W1)
 * Messages:      ciphertext = nonce(24) || XChaCha(message key, nonce, pt) || tag
 * Welcome:       encryptedGroupState = nonce(24) || XChaCha(welcome key, nonce, state JSON)
 * JSON objects (keys in this order; <bytes> = {"__type":"Uint8Array","data":"<b64>"} on the wire):
 *   KeyPackage   {"protocolVersion":1,"cipherSuite":1,"initKey":<bytes>,
 *                 "leafNode":{"encryptionKey":<bytes>,"signatureKey":<bytes>,"did":…},"signature":<bytes>}
 *   KP signing input {"protocolVersion":1,"cipherSuite":1,"initKey":[decimal bytes],"leafNode":{"did":…}}
 *   Commit       {"groupId","epoch","proposals":[…],"commitSecret":<bytes>,"signature":<bytes>}
 *   Commit signing input {"groupId","epoch","proposals":[{"type":"add","did"} | {"type":"remove","leafIndex"}
 *                 | {"type":"update"}]}
 *   Welcome      {"groupId","epoch","encryptedGroupState":<bytes>}
 *   GroupState   {"groupId","epoch","myLeafIndex","members":[{"leafIndex","did","encryptionKey":[…],
 *                 "signatureKey":[…]}],"epochSecret":[…],"mySigningKey":[…],"myEncryptionKey":[…],
 *                 "mySigningPublicKey":[…],"myEncryptionPublicKey":[…]}   (decimal byte arrays)
 * Strings built into JSON are escaped as JSON.stringify does (harmony/json.h). Every
 * function returning JSON allocates it with hm_malloc (caller frees with hm_free).
 */
#ifndef HARMONY_MLS_H
#define HARMONY_MLS_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { HM_MLS_MESSAGE = 0, HM_MLS_MEDIA = 1 } hm_mls_purpose;
typedef enum { HM_MLS_COMPAT = 0, HM_MLS_HARDENED = 1 } hm_mls_profile;

#define HM_MLS_NONCE_LEN 24
#define HM_MLS_OVERHEAD 40 /* nonce 24 + tag 16 */

/* ---- key schedule ---- */
int hm_mls_epoch_key(uint8_t key[32], const uint8_t epoch_secret[32], hm_mls_purpose purpose,
                     uint64_t epoch);
int hm_mls_advance(uint8_t new_secret[32], const uint8_t epoch_secret[32],
                   const uint8_t commit_secret[32]);
int hm_mls_welcome_key(uint8_t key[32], const uint8_t init_key[32]);

/* ---- application messages ---- */

/* out gets len + 40 bytes: nonce || ct || tag, under the message key of (epoch_secret, epoch). */
int hm_mls_message_seal(uint8_t *out, const uint8_t epoch_secret[32], uint64_t epoch,
                        const uint8_t nonce[24], const uint8_t *pt, size_t len);
/* Upstream's rule first: msg_epoch must equal current_epoch (else HM_ERR_STALE, "Epoch
 * mismatch"). Then out gets ct_len - 40 bytes. HM_ERR_DECODE if ct_len < 40,
 * HM_ERR_AUTH_TAG on a bad tag. (The sender-index check needs the member list and is
 * the caller's.) */
HM_WARN_UNUSED int hm_mls_message_open(uint8_t *out, const uint8_t epoch_secret[32],
                                       uint64_t current_epoch, uint64_t msg_epoch,
                                       const uint8_t *ct, size_t ct_len);

/* ---- Welcome payload ---- */
/* out gets len + 40 bytes: nonce || XChaCha(welcome_key(init_key), nonce, state). */
int hm_mls_welcome_seal(uint8_t *out, const uint8_t init_key[32], const uint8_t nonce[24],
                        const uint8_t *state, size_t len);
/* out gets len - 40 bytes. HM_ERR_DECODE / HM_ERR_AUTH_TAG. */
HM_WARN_UNUSED int hm_mls_welcome_open(uint8_t *out, const uint8_t init_key[32],
                                       const uint8_t *enc, size_t len);

/* ---- KeyPackage ---- */

/* Signing input of R-CRY-MLS-2 with protocolVersion = cipherSuite = 1. */
int hm_mls_keypackage_signing_input(char **out, size_t *len, const uint8_t init_key[32],
                                    const char *did);

/* A key package for an identity: initKey = encryptionKey = x_pk, signatureKey = ed_pk,
 * signed with seed32. Wire form (Uint8Array codec, standard base64). */
int hm_mls_keypackage_create(char **json, size_t *len, const uint8_t x_pk[32],
                             const uint8_t ed_pk[32], const uint8_t seed32[32], const char *did);

typedef struct {
  uint8_t init_key[32];
  uint8_t encryption_key[32];
  uint8_t signature_key[32];
  char did[128];
} hm_mls_keypackage_info;

/* Verify a key package given as JSON text (wire form).
 *   HM_MLS_COMPAT (R-CRY-MLS-3): signing input rebuilt from the package's own
 *     protocolVersion, cipherSuite (any JSON values, omitted when absent), initKey and
 *     leafNode.did; ZIP-215 verify with the package's own signatureKey. Byte fields may be
 *     codec objects (lenient base64) or decimal arrays.
 *   HM_MLS_HARDENED (R-CRY-MLS-4): no duplicate keys; versions are the number 1; byte
 *     fields are codec objects with strict base64 of the exact lengths; leafNode.did
 *     resolves (R-CRY-DID-6) and its key equals signatureKey; encryptionKey == initKey;
 *     strict verify; and, when expected_did is non-NULL, leafNode.did == expected_did.
 * info (may be NULL) receives the keys on success. Returns HM_OK, HM_ERR_STRUCTURE (shape),
 * HM_ERR_JSON / HM_ERR_JSON_DUPKEY, HM_ERR_DID, HM_ERR_HOLDER (expected_did mismatch),
 * HM_ERR_WEAK_KEY, HM_ERR_BADSIG, HM_ERR_NOMEM. */
HM_WARN_UNUSED int hm_mls_keypackage_verify(hm_mls_keypackage_info *info, const char *json,
                                            size_t len, hm_mls_profile profile,
                                            const char *expected_did);

/* ---- Commit / Welcome objects ---- */

typedef enum { HM_MLS_ADD = 0, HM_MLS_REMOVE = 1, HM_MLS_UPDATE = 2 } hm_mls_proposal_type;

typedef struct {
  hm_mls_proposal_type type;
  const char *did;          /* ADD: the joiner's DID (KeyPackage leafNode.did); UPDATE: own DID */
  uint32_t leaf_index;      /* REMOVE */
  const char *key_package;  /* ADD: the full key package JSON (wire form) */
  const uint8_t *encryption_key, *signature_key; /* UPDATE: leafNode keys (32 bytes each) */
} hm_mls_proposal;

/* {"groupId":…,"epoch":new_epoch,"proposals":[…reduced…]} (R-CRY-MLS-13 step 6, MLS-14). */
int hm_mls_commit_signing_input(char **out, size_t *len, const char *group_id, uint64_t new_epoch,
                                const hm_mls_proposal *props, size_t n);

/* The full Commit object: proposals in wire form (add: {"type":"add","keyPackage":<KP>};
 * remove: {"type":"remove","leafIndex":n}; update: {"type":"update","leafNode":{…}}),
 * commitSecret, and the committer's signature over hm_mls_commit_signing_input.
 * HM_ERR_JSON if a key package is not valid JSON. */
int hm_mls_commit_build(char **out, size_t *len, const char *group_id, uint64_t new_epoch,
                        const hm_mls_proposal *props, size_t n, const uint8_t commit_secret[32],
                        const uint8_t committer_seed32[32]);

/* Verify a commit signature (hardened: strict; compat: zip215) with the committer's
 * Ed25519 key over the input rebuilt from props. */
HM_WARN_UNUSED int hm_mls_commit_verify(const uint8_t sig[64], const char *group_id,
                                        uint64_t new_epoch, const hm_mls_proposal *props, size_t n,
                                        const uint8_t committer_pk[32], hm_mls_profile profile);

/* {"groupId":…,"epoch":epoch,"encryptedGroupState":<bytes>} */
int hm_mls_welcome_build(char **out, size_t *len, const char *group_id, uint64_t epoch,
                         const uint8_t *enc, size_t enc_len);

/* ---- GroupState text (R-CRY-MLS-12) ---- */

typedef struct {
  uint32_t leaf_index;
  const char *did;
  uint8_t encryption_key[32];
  uint8_t signature_key[32];
} hm_mls_member;

typedef struct {
  const char *group_id;
  uint64_t epoch;
  uint32_t my_leaf_index;
  const hm_mls_member *members;
  size_t n_members;
  uint8_t epoch_secret[32];
  const uint8_t *my_signing_key; size_t my_signing_key_len;       /* 0 in a Welcome */
  const uint8_t *my_encryption_key; size_t my_encryption_key_len; /* 0 in a Welcome */
  uint8_t my_signing_public_key[32];
  uint8_t my_encryption_public_key[32];
} hm_mls_group_state;

/* The state JSON text. It contains secrets: free it with hm_free_secret(json, len + 1). */
int hm_mls_group_state_json(char **out, size_t *len, const hm_mls_group_state *st);

#ifdef __cplusplus
}
#endif
#endif
