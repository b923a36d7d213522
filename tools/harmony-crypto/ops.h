/* tools/harmony-crypto/ops.h - every op of harmony-crypto (see main.c for the table). */
#ifndef HARMONY_CRYPTO_TOOL_OPS_H
#define HARMONY_CRYPTO_TOOL_OPS_H
#include "common.h"

int op_mnemonic_keys(hc_ctx *c);
int op_entropy_mnemonic(hc_ctx *c);
int op_base58_encode(hc_ctx *c);
int op_base58_decode(hc_ctx *c);
int op_did_resolve(hc_ctx *c);
int op_stringify(hc_ctx *c);
int op_ed25519_sign(hc_ctx *c);
int op_ed25519_verify(hc_ctx *c);
int op_x25519(hc_ctx *c);
int op_hkdf(hc_ctx *c);
int op_xchacha_seal(hc_ctx *c);
int op_xchacha_open(hc_ctx *c);
int op_aes256gcm_seal(hc_ctx *c);
int op_aes256gcm_open(hc_ctx *c);
int op_signing_input(hc_ctx *c);
int op_vc_issue(hc_ctx *c);
int op_vc_verify(hc_ctx *c);
int op_vp_create(hc_ctx *c);
int op_vp_verify(hc_ctx *c);
int op_zcap_verify(hc_ctx *c);
int op_dm_key(hc_ctx *c);
int op_dm_encrypt(hc_ctx *c);
int op_dm_decrypt(hc_ctx *c);
int op_mls_keypackage(hc_ctx *c);
int op_mls_epoch_keys(hc_ctx *c);
int op_mls_advance(hc_ctx *c);
int op_mls_welcome_key(hc_ctx *c);
int op_session_token(hc_ctx *c);
int op_http_signature(hc_ctx *c);

#endif
