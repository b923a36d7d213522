/* client_recovery.c - social-recovery approvals of the client (spec crypto.md R-CRY-REC-1/2).
 *
 * The signed content stays upstream's ({requestId, approverDID} only), so that an upstream
 * guardian's approval verifies here and ours there. What ours adds (W13): request ids from
 * 16 random bytes, and an approval counts only when its signature verifies strictly with
 * the approver's did:key, the approver is trusted, and no approver counts twice. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "client_internal.h"
#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/vc.h"

int hm_client_recovery_request_id(hm_client *c, char *out, size_t cap) {
  if (!c || !out || cap < HM_CLIENT_RECOVERY_ID_LEN + 1) return HM_ERR_INVAL;
  uint8_t r[16];
  char hex[33];
  hm_client__rand(c, r, sizeof r);
  (void)hm_hex_encode(hex, sizeof hex, r, sizeof r);
  snprintf(out, cap, "recovery:%s", hex);
  return HM_OK;
}

/* UTF-8(JSON.stringify({"requestId":rid,"approverDID":did})), hm_malloc'd. */
static int signing_input(char **out, size_t *len, const char *rid, const char *did) {
  hm_json *o = hm_json_new_object();
  int rc = o ? HM_OK : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = hm_json_object_setc(o, "requestId", hm_json_new_cstr(rid));
  if (rc == HM_OK) rc = hm_json_object_setc(o, "approverDID", hm_json_new_cstr(did));
  if (rc == HM_OK) rc = hm_json_stringify(out, len, o);
  hm_json_free(o);
  return rc;
}

int hm_client_recovery_approve(hm_client *c, const char *request_id, hm_json **approval) {
  if (!c || !request_id || !*request_id || !approval) return HM_ERR_INVAL;
  *approval = NULL;
  char *msg = NULL;
  size_t ml = 0;
  int rc = signing_input(&msg, &ml, request_id, c->id.did);
  if (rc != HM_OK) return rc == HM_ERR_NOMEM ? rc : HM_ERR_INVAL;
  uint8_t sig[64];
  rc = hm_ed25519_sign(sig, (const uint8_t *)msg, ml, c->id.seed32);
  hm_free(msg);
  if (rc != HM_OK) return HM_ERR_CRYPTO;
  char pv[100], vm[2 * HM_DIDKEY_MAX + 8], ts[32];
  if (hm_multibase_encode_b58(pv, sizeof pv, sig, sizeof sig) != HM_OK ||
      hm_vc_default_vm(vm, sizeof vm, c->id.did) != HM_OK || hm_iso8601_format(ts, hm_client__now(c)) != HM_OK)
    return HM_ERR_CRYPTO;
  hm_json *a = hm_json_new_object(), *p = hm_json_new_object();
  rc = a && p ? HM_OK : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = hm_json_object_setc(p, "type", hm_json_new_cstr("Ed25519Signature2020"));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "created", hm_json_new_cstr(ts));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "verificationMethod", hm_json_new_cstr(vm));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "proofPurpose", hm_json_new_cstr("authentication"));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "proofValue", hm_json_new_cstr(pv));
  if (rc == HM_OK) rc = hm_json_object_setc(a, "requestId", hm_json_new_cstr(request_id));
  if (rc == HM_OK) rc = hm_json_object_setc(a, "approverDID", hm_json_new_cstr(c->id.did));
  if (rc == HM_OK) rc = hm_json_object_setc(a, "approvedAt", hm_json_new_cstr(ts));
  if (rc == HM_OK) {
    rc = hm_json_object_setc(a, "proof", p);
    p = NULL;
  }
  hm_json_free(p);
  if (rc != HM_OK) {
    hm_json_free(a);
    return HM_ERR_NOMEM;
  }
  *approval = a;
  return HM_OK;
}

int hm_client_recovery_approval_verify(const hm_json *approval, const char *request_id) {
  if (!approval || !request_id) return HM_ERR_INVAL;
  if (hm_json_kind_of(approval) != HM_JSON_OBJECT) return HM_ERR_STRUCTURE;
  const char *rid = hm_client__str(approval, "requestId");
  const char *did = hm_client__str(approval, "approverDID");
  const hm_json *proof = hm_json_object_getc(approval, "proof");
  const char *type = hm_client__str(proof, "type");
  const char *purpose = hm_client__str(proof, "proofPurpose");
  const char *vm = hm_client__str(proof, "verificationMethod");
  const char *pv = hm_client__str(proof, "proofValue");
  if (!rid || !did || !type || !purpose || !vm || !pv) return HM_ERR_STRUCTURE;
  if (strcmp(rid, request_id)) return HM_ERR_STRUCTURE; /* an approval of another request */
  if (strcmp(type, "Ed25519Signature2020")) return HM_ERR_UNSUPPORTED;
  if (strcmp(purpose, "authentication")) return HM_ERR_PURPOSE;
  size_t dl = strlen(did);
  if (strncmp(vm, did, dl) || vm[dl] != '#') return HM_ERR_PURPOSE; /* not the approver's method */
  uint8_t pk[32], xpk[32], sig[64];
  int rc = hm_didkey_decode(pk, xpk, did, HM_DID_HARDENED);
  if (rc != HM_OK) return rc == HM_ERR_WEAK_KEY ? rc : HM_ERR_DID;
  size_t sl = 0;
  if (pv[0] != 'z' || hm_multibase_decode_b58(sig, sizeof sig, &sl, pv, strlen(pv)) != HM_OK || sl != 64)
    return HM_ERR_DECODE;
  char *msg = NULL;
  size_t ml = 0;
  rc = signing_input(&msg, &ml, rid, did);
  if (rc != HM_OK) return rc == HM_ERR_NOMEM ? rc : HM_ERR_STRUCTURE;
  rc = hm_ed25519_verify(sig, (const uint8_t *)msg, ml, pk, HM_ED25519_STRICT);
  hm_free(msg);
  return rc == HM_OK ? HM_OK : HM_ERR_BADSIG;
}

int hm_client_recovery_count(const char *request_id, const char *const *trusted, size_t n,
                             const hm_json *approvals, size_t *count) {
  if (!request_id || (!trusted && n) || !count) return HM_ERR_INVAL;
  *count = 0;
  size_t na = hm_json_array_size(approvals);
  if (!na || !n) return HM_OK;
  /* counted[i]: trusted[i] already counted */
  unsigned char *counted = hm_calloc(n, 1);
  if (!counted) return HM_ERR_NOMEM;
  int rc = HM_OK;
  for (size_t i = 0; i < na; i++) {
    const hm_json *a = hm_json_array_get(approvals, i);
    const char *did = hm_client__str(a, "approverDID");
    if (!did) continue;
    size_t t = 0;
    while (t < n && (!trusted[t] || strcmp(trusted[t], did))) t++;
    if (t == n || counted[t]) continue; /* untrusted, or this approver already counted */
    int v = hm_client_recovery_approval_verify(a, request_id);
    if (v == HM_ERR_NOMEM) {
      rc = v;
      break;
    }
    if (v != HM_OK) continue;
    counted[t] = 1;
    /* the same DID listed twice in trusted counts once */
    for (size_t u = t + 1; u < n; u++)
      if (trusted[u] && !strcmp(trusted[u], did)) counted[u] = 1;
    (*count)++;
  }
  hm_free(counted);
  if (rc != HM_OK) *count = 0;
  return rc;
}
