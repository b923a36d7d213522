/* tools/harmony-crypto/ops_pending.c - ops whose libharmony module has not landed yet.
 * Each answers {"error":"UNSUPPORTED"}; they move to their ops_<module>.c when the module exists. */
#include "ops.h"

#define PENDING(fn, name) \
  int fn(hc_ctx *c) { return hc_fail(c, HM_ERR_UNSUPPORTED, "op %s: library module not built yet", name); }

PENDING(op_dm_key, "dm-key")
PENDING(op_dm_encrypt, "dm-encrypt")
PENDING(op_dm_decrypt, "dm-decrypt")
PENDING(op_mls_keypackage, "mls-keypackage")
PENDING(op_mls_epoch_keys, "mls-epoch-keys")
PENDING(op_mls_advance, "mls-advance")
PENDING(op_mls_welcome_key, "mls-welcome-key")
PENDING(op_http_signature, "http-signature")
PENDING(op_signing_input, "signing-input")
PENDING(op_vc_issue, "vc-issue")
PENDING(op_vc_verify, "vc-verify")
PENDING(op_vp_create, "vp-create")
PENDING(op_vp_verify, "vp-verify")
PENDING(op_zcap_verify, "zcap-verify")
