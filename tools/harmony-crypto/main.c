/* harmony-crypto - the auditor tool: one Harmony crypto operation per run.
 *
 *   harmony-crypto OP  < input.json  > output.json
 *
 * Reads ONE JSON object on stdin, writes ONE JSON object (one line) on stdout.
 *   - byte fields are lowercase hex (input accepts either case);
 *   - a JSON document, in or out, is a JSON string holding its exact text
 *     (handled by libharmony's own harmony/json.h so key order and JS serialisation
 *     are kept; jansson only carries this outer object);
 *   - exit 0 with the result (a failed verification is {"valid":false,"reason":CODE}),
 *     exit 1 with {"error":CODE,"message":...} on bad input (CODE = hm_err_name()),
 *     exit 2 with usage on stderr for an unknown op or bad usage.
 * Every result reproduces upstream (HexaField/harmony) byte for byte; verify ops take a
 * `profile` (compat = upstream's verdict, hardened = our strict rules).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common.h"
#include "harmony/alloc.h"
#include "ops.h"

static const hc_op OPS[] = {
  /* identity */
  {"mnemonic-keys", "mnemonic",
   "seed64 seed32 ed25519_public_key x25519_secret_key x25519_public_key did did_document",
   "BIP-39 mnemonic -> upstream identity (seed32 = first 32 bytes of the BIP-39 seed)", op_mnemonic_keys},
  {"entropy-mnemonic", "entropy", "mnemonic", "BIP-39 entropy (16..32 bytes) -> English mnemonic",
   op_entropy_mnemonic},
  {"base58-encode", "bytes", "encoded", "base58btc as upstream encodes it ([] -> \"1\")", op_base58_encode},
  {"base58-decode", "encoded", "bytes", "base58btc as upstream decodes it (\"1\" -> 0000)", op_base58_decode},
  {"did-resolve", "did", "did_document",
   "did:key -> exact DID document JSON (where upstream resolves to null: error BAD_DID or WEAK_KEY)",
   op_did_resolve},
  {"stringify", "json", "json", "JSON.stringify(JSON.parse(json)) exactly as JavaScript (nesting > 128: error JSON_TOO_DEEP)",
   op_stringify},
  /* primitives */
  {"ed25519-sign", "seed32 message", "signature", "RFC 8032 signature", op_ed25519_sign},
  {"ed25519-verify", "public_key message signature mode", "valid reason",
   "mode \"strict\" (libsodium rules) or \"zip215\" (upstream noble default)", op_ed25519_verify},
  {"x25519", "secret_key public_key", "shared_secret", "RFC 7748; all-zero result is error WEAK_KEY",
   op_x25519},
  {"hkdf", "ikm salt info length", "okm", "HKDF-SHA256; empty salt = 32 zero bytes; length 1..8160", op_hkdf},
  {"xchacha-seal", "key nonce plaintext", "ciphertext", "XChaCha20-Poly1305, empty AAD, ct||tag",
   op_xchacha_seal},
  {"xchacha-open", "key nonce ciphertext", "plaintext", "XChaCha20-Poly1305 open; bad tag = error AUTH_TAG",
   op_xchacha_open},
  {"aes256gcm-seal", "key nonce plaintext", "ciphertext", "AES-256-GCM, 12-byte nonce, empty AAD, ct||tag",
   op_aes256gcm_seal},
  {"aes256gcm-open", "key nonce ciphertext", "plaintext", "AES-256-GCM open; bad tag = error AUTH_TAG",
   op_aes256gcm_open},
  /* VC / VP / ZCAP */
  {"signing-input", "document", "signing_input",
   "JSON.stringify(document minus proof + proofPurpose, created, verificationMethod)", op_signing_input},
  {"vc-issue", "issuer_seed32 credential created", "credential",
   "sign an unsigned credential (proofPurpose assertionMethod, VM <issuer>#<issuer minus did:key:>)",
   op_vc_issue},
  {"vc-verify", "credential now profile", "valid reason", "verify a credential at time now", op_vc_verify},
  {"vp-create", "holder_seed32 presentation created", "presentation",
   "sign an unsigned presentation (proofPurpose authentication, VM of holder)", op_vp_create},
  {"vp-verify", "presentation now profile", "valid reason",
   "verify a presentation and its credentials (as the server's auth does)", op_vp_verify},
  {"zcap-verify", "invocation chain now profile invoker? action? target? root_owner?", "valid reason",
   "verify an invocation against a chain (JSON array text); hardened expects by default the invoker the\n"
   "                      invocation names, any action/target, any self-delegated root (optional fields override)",
   op_zcap_verify},
  /* DM / MLS */
  {"dm-key", "my_x25519_secret_key their_x25519_public_key", "key",
   "HKDF(X25519, \"harmony-dm-salt-v1\", \"harmony-dm-key\")", op_dm_key},
  {"dm-encrypt", "key nonce plaintext", "ciphertext", "XChaCha20-Poly1305 with the DM key", op_dm_encrypt},
  {"dm-decrypt", "key nonce ciphertext", "plaintext", "inverse of dm-encrypt", op_dm_decrypt},
  {"mls-keypackage", "seed32 did", "keypackage signing_input signature",
   "simplified-MLS key package of the identity of seed32 under did, wire form ({\"__type\":\"Uint8Array\",...})",
   op_mls_keypackage},
  {"mls-epoch-keys", "epoch_secret epoch", "message_key media_key", "epoch message and media keys",
   op_mls_epoch_keys},
  {"mls-advance", "epoch_secret commit_secret", "epoch_secret", "next epoch secret", op_mls_advance},
  {"mls-welcome-key", "init_key", "welcome_key", "HKDF(init_key, no salt, \"harmony-mls-welcome\")",
   op_mls_welcome_key},
  /* tokens / HTTP */
  {"session-token", "server_seed32 did issued_at expires_at", "token",
   "server session token btoa(payload).btoa(sig)", op_session_token},
  {"http-signature", "seed32 did timestamp method url", "authorization",
   "Harmony-Ed25519 Authorization header value", op_http_signature},
};
#define N_OPS (sizeof OPS / sizeof OPS[0])

static void usage(FILE *f) {
  fprintf(f,
          "usage: harmony-crypto OP < input.json > output.json\n"
          "       harmony-crypto --help\n\n"
          "Reads one JSON object on stdin and writes one JSON object on stdout.\n"
          "Byte fields are lowercase hex; JSON documents are strings holding the exact text;\n"
          "now/created are ISO 8601 (2025-06-01T12:00:00.000Z); issued_at/expires_at are ms;\n"
          "profile is \"compat\" (upstream verdict) or \"hardened\" (strict).\n"
          "Exit 0: result (failed verification = {\"valid\":false,\"reason\":CODE}).\n"
          "Exit 1: {\"error\":CODE,\"message\":...} on bad input. Exit 2: usage.\n\n"
          "ops (input fields -> output fields):\n");
  for (size_t i = 0; i < N_OPS; i++)
    fprintf(f, "  %-17s {%s} -> {%s}\n  %-17s   %s\n", OPS[i].name, OPS[i].in_fields, OPS[i].out_fields, "",
            OPS[i].desc);
}

static char *read_all(FILE *f, size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = hm_malloc(cap);
  if (!buf) return NULL;
  for (;;) {
    if (n == cap) {
      if (cap > ((size_t)256 << 20)) {
        hm_free(buf);
        return NULL;
      }
      char *nb = hm_realloc(buf, cap * 2);
      if (!nb) {
        hm_free(buf);
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  if (ferror(f)) {
    hm_free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

/* Every key of the input object must be a declared field; declared non-optional
 * fields are checked by the op itself (it reports which one is missing). */
static int check_fields(hc_ctx *c, const hc_op *op) {
  const char *key;
  json_t *v;
  json_object_foreach(c->in, key, v) {
    const char *p = op->in_fields;
    size_t kl = strlen(key);
    int found = 0;
    while (*p) {
      size_t wl = strcspn(p, " ");
      size_t nl = (wl && p[wl - 1] == '?') ? wl - 1 : wl;
      if (nl == kl && !strncmp(p, key, kl)) found = 1;
      p += wl;
      while (*p == ' ') p++;
    }
    if (!found) return hc_fail(c, HM_ERR_INVAL, "unknown field \"%s\" for op %s (fields: %s)", key, op->name,
                               op->in_fields);
  }
  return HM_OK;
}

static int emit(json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT);
  if (!s) return -1;
  int ok = fputs(s, stdout) >= 0 && fputc('\n', stdout) != EOF && fflush(stdout) == 0;
  free(s);
  return ok ? 0 : -1;
}

static int fail_exit(int rc, const char *msg) {
  json_t *o = json_pack("{s:s,s:s}", "error", hm_err_name(rc), "message", msg);
  if (!o || emit(o)) fprintf(stderr, "harmony-crypto: %s: %s\n", hm_err_name(rc), msg);
  json_decref(o);
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    usage(stdout);
    return 0;
  }
  if (argc != 2) {
    usage(stderr);
    return 2;
  }
  const hc_op *op = NULL;
  for (size_t i = 0; i < N_OPS; i++)
    if (!strcmp(argv[1], OPS[i].name)) op = &OPS[i];
  if (!op) {
    fprintf(stderr, "harmony-crypto: unknown op \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
  }
  if (sodium_init() < 0) return fail_exit(HM_ERR_CRYPTO, "libsodium initialisation failed");

  size_t len = 0;
  char *text = read_all(stdin, &len);
  if (!text) return fail_exit(HM_ERR_IO, "cannot read stdin");
  json_error_t jerr;
  json_t *in = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
  hm_free(text);
  if (!in) {
    char m[300];
    int dup = strstr(jerr.text, "duplicate") != NULL;
    snprintf(m, sizeof m, "stdin: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
    return fail_exit(dup ? HM_ERR_JSON_DUPKEY : HM_ERR_JSON, m);
  }
  if (!json_is_object(in)) {
    json_decref(in);
    return fail_exit(HM_ERR_STRUCTURE, "stdin must hold one JSON object");
  }

  hc_ctx c;
  memset(&c, 0, sizeof c);
  c.in = in;
  c.out = json_object();
  int rc = c.out ? check_fields(&c, op) : hc_fail(&c, HM_ERR_NOMEM, "out of memory");
  if (!rc) rc = op->fn(&c);
  int status;
  if (rc) {
    if (!c.msg[0]) snprintf(c.msg, sizeof c.msg, "%s", hm_strerror(rc));
    status = fail_exit(rc, c.msg);
  } else {
    status = emit(c.out) ? fail_exit(HM_ERR_IO, "cannot write stdout") : 0;
  }
  json_decref(c.out);
  json_decref(in);
  return status;
}
