/* tools/gen-vectors/reqs.c - the R-CRY-* requirement ids (spec/crypto.md) each vector case
 * exercises.
 *
 * A case's "requirements" list is the union, in table order without repeats, of the `reqs` of
 * every row whose conditions all hold for the case. Conditions are space-separated tokens:
 *   op:NAME        the case's "op" is NAME
 *   flag:NAME      the case's "flags" contain NAME
 *   result:R       the case's "result" is R (valid, invalid, acceptable)
 *   has:KEY        the case has the field KEY
 *   !TOKEN         the condition TOKEN does not hold
 *   KEY=VALUE      the string field KEY equals VALUE
 *   KEY^PREFIX     the string field KEY starts with PREFIX
 * The list is computed from the finished case by both the generator (vrun) and the checker
 * (check-vectors-c), so a regenerated file and a re-checked case agree. The conformance
 * runner reads these lists to report which requirement ids the vectors cover. */
#include <string.h>

#include "vgen.h"

typedef struct {
  const char *layer;
  const char *cond; /* "" = every case of the layer */
  const char *reqs; /* space-separated ids */
} vreqrow;

static const vreqrow ROWS[] = {
  /* verdict profiles: every case that states both verdicts */
  {"*", "has:compat", "R-CRY-PROF-1 R-CRY-PROF-2"},
  {"*", "result:acceptable", "R-CRY-PROF-4"},

  {"aead", "aead=xchacha20poly1305", "R-CRY-KEY-10"},
  {"aead", "aead=aes256gcm", "R-CRY-KEY-11"},

  {"bip39", "op:entropy-mnemonic", "R-CRY-KEY-1"},
  {"bip39", "op:mnemonic-keys", "R-CRY-KEY-2 R-CRY-KEY-3 R-CRY-KEY-6 R-CRY-KEY-8 R-CRY-DID-1"},
  {"bip39", "op:mnemonic-keys result:acceptable", "R-CRY-KEY-4 R-CRY-KEY-5"},
  {"bip39", "op:mnemonic-keys result:invalid", "R-CRY-KEY-4"},

  {"codecs", "codec=base58btc", "R-CRY-B58-1"},
  {"codecs", "codec=base58btc result:invalid", "R-CRY-B58-4"},
  {"codecs", "codec=base58btc-upstream direction=encode", "R-CRY-B58-2"},
  {"codecs", "codec=base58btc-upstream direction=decode", "R-CRY-B58-3"},
  {"codecs", "flag:Base58ZeroQuirk", "R-CRY-B58-2 R-CRY-B58-3"},
  {"codecs", "codec=base64", "R-CRY-B64-1"},
  {"codecs", "codec=base64 direction=decode", "R-CRY-B64-3"},
  {"codecs", "codec=base64-lenient", "R-CRY-B64-2"},
  {"codecs", "codec=base64url", "R-CRY-B64-2 R-CRY-B64-3"},
  {"codecs", "codec=multibase", "R-CRY-B58-5"},
  {"codecs", "codec=varint", "R-CRY-B58-5"},
  {"codecs", "codec=varint flag:NonMinimal", "R-CRY-B58-6"},
  {"codecs", "codec=hex", "R-CRY-VC-4 R-CRY-MEDIA-4"},

  {"did-document", "", "R-CRY-DID-2 R-CRY-DID-3 R-CRY-DID-4"},
  {"did-document", "result:acceptable", "R-CRY-DID-5 R-CRY-DID-6"},
  {"did-document", "result:invalid", "R-CRY-DID-5 R-CRY-DID-6"},

  {"didkey", "op:encode", "R-CRY-DID-1 R-CRY-B58-5"},
  {"didkey", "op:decode", "R-CRY-DID-1 R-CRY-DID-5 R-CRY-DID-6"},
  {"didkey", "op:decode flag:SmallOrder", "R-CRY-ED-3"},

  {"dm", "op:dm", "R-CRY-DM-1 R-CRY-DM-2 R-CRY-KEY-7 R-CRY-KEY-8 R-CRY-KEY-9 R-CRY-KEY-10"},
  {"dm", "op:open", "R-CRY-DM-2 R-CRY-KEY-10"},
  {"dm", "op:peer-check", "R-CRY-DM-5 R-CRY-DM-6 R-CRY-KEY-8"},
  {"dm", "op:provider-key", "R-CRY-DM-8 R-CRY-KEY-7 R-CRY-KEY-9"},

  {"ed25519", "op:sign", "R-CRY-ED-1"},
  {"ed25519", "op:verify", "R-CRY-ED-3 R-CRY-ED-4 R-CRY-ED-6"},
  {"ed25519", "op:verify flag:WrongLength", "R-CRY-ED-2"},
  {"ed25519", "op:verify result:acceptable", "R-CRY-ED-5"},

  {"hkdf", "", "R-CRY-KEY-9"},
  {"hkdf", "info_text=harmony-dm-key", "R-CRY-DM-1"},
  {"hkdf", "info_text^harmony-mls-message-", "R-CRY-MLS-6"},
  {"hkdf", "info_text^harmony-mls-media-", "R-CRY-MLS-6 R-CRY-MEDIA-1"},
  {"hkdf", "info_text=harmony-mls-epoch-advance", "R-CRY-MLS-7"},
  {"hkdf", "info_text=harmony-mls-welcome", "R-CRY-MLS-8"},
  {"hkdf", "info_text=harmony-export", "R-CRY-EXP-1"},
  {"hkdf", "info_text=harmony-sync", "R-CRY-EXP-4"},
  {"hkdf", "info_text=harmony-user-data-encryption", "R-CRY-EXP-5"},
  {"hkdf", "info_text=harmony-voice-e2ee", "R-CRY-MEDIA-6"},
  {"hkdf", "info_text=harmony-encrypt", "R-CRY-DM-8"},
  {"hkdf", "info_text=google-recovery", "R-CRY-KEY-14"},
  {"hkdf", "info_text=oauth-hash", "R-CRY-KEY-15"},
  {"hkdf", "info_text=harmony-media-channel-key", "R-CRY-MEDIA-2"},

  {"http-signature", "op:sign", "R-CRY-HSIG-1 R-CRY-B64-1"},
  {"http-signature", "op:verify", "R-CRY-HSIG-1 R-CRY-HSIG-2 R-CRY-HSIG-3"},
  {"http-signature", "op:verify flag:Encoding", "R-CRY-B64-2 R-CRY-B64-3"},
  {"http-signature", "op:verify flag:SmallOrderKey", "R-CRY-ED-5 R-CRY-DID-6"},
  {"http-signature", "op:verify flag:BadDid", "R-CRY-DID-6"},

  {"json-stringify", "", "R-CRY-JSON-1 R-CRY-JSON-2 R-CRY-JSON-6"},
  {"json-stringify", "flag:KeyOrder", "R-CRY-JSON-3"},
  {"json-stringify", "flag:IntegerKeys", "R-CRY-JSON-3"},
  {"json-stringify", "flag:Numbers", "R-CRY-JSON-9 R-CRY-JSON-10"},
  {"json-stringify", "flag:Strings", "R-CRY-JSON-8"},
  {"json-stringify", "flag:LoneSurrogate", "R-CRY-JSON-8 R-CRY-JSON-13"},
  {"json-stringify", "flag:DuplicateKey", "R-CRY-JSON-4 R-CRY-JSON-5"},

  {"media", "op:fallback-channel-key", "R-CRY-MEDIA-2 R-CRY-KEY-9"},
  {"media", "op:voice-frame-key", "R-CRY-MEDIA-6 R-CRY-KEY-9"},
  {"media", "op:seed-key purpose=export", "R-CRY-EXP-1 R-CRY-KEY-9"},
  {"media", "op:seed-key purpose=identity-sync", "R-CRY-EXP-4 R-CRY-KEY-9"},
  {"media", "op:seed-key purpose=user-data", "R-CRY-EXP-5 R-CRY-KEY-9"},
  {"media", "op:oauth-recovery-seed", "R-CRY-KEY-14 R-CRY-DID-1"},
  {"media", "op:oauth-hash", "R-CRY-KEY-15"},
  {"media", "op:file-blob", "R-CRY-MEDIA-3 R-CRY-MEDIA-4 R-CRY-KEY-10"},
  {"media", "op:file-open", "R-CRY-MEDIA-3 R-CRY-KEY-10"},
  {"media", "op:voice-frame", "R-CRY-MEDIA-7 R-CRY-KEY-11"},
  {"media", "op:voice-frame-open", "R-CRY-MEDIA-7 R-CRY-KEY-11"},

  {"mls-simplified", "op:keypackage", "R-CRY-MLS-1 R-CRY-MLS-2"},
  {"mls-simplified", "op:keypackage-verify", "R-CRY-MLS-2 R-CRY-MLS-3 R-CRY-MLS-4"},
  {"mls-simplified", "op:epoch-keys", "R-CRY-MLS-6"},
  {"mls-simplified", "op:advance", "R-CRY-MLS-7"},
  {"mls-simplified", "op:welcome-key", "R-CRY-MLS-8"},
  {"mls-simplified", "op:welcome", "R-CRY-MLS-8 R-CRY-MLS-12 R-CRY-MLS-15"},
  {"mls-simplified", "op:message", "R-CRY-MLS-9"},
  {"mls-simplified", "op:message-open", "R-CRY-MLS-9 R-CRY-MLS-10"},
  {"mls-simplified", "op:commit-signing-input proposal=add", "R-CRY-MLS-13"},
  {"mls-simplified", "op:commit-signing-input proposal=remove", "R-CRY-MLS-14"},
  {"mls-simplified", "op:commit-signing-input proposal=update", "R-CRY-MLS-14"},

  {"session-token", "op:issue", "R-CRY-TOK-1 R-CRY-B64-1"},
  {"session-token", "op:issue result:invalid", "R-CRY-DID-6"},
  {"session-token", "op:verify", "R-CRY-TOK-2 R-CRY-TOK-4"},
  {"session-token", "op:verify flag:SmallOrderKey", "R-CRY-ED-5"},

  {"vc", "op:issue", "R-CRY-VC-1 R-CRY-VC-2 R-CRY-VC-3 R-CRY-VC-4 R-CRY-VC-5 R-CRY-JSON-1 R-CRY-ED-7"},
  {"vc", "op:issue type=IdentityAssertion", "R-CRY-VC-6"},
  {"vc", "op:issue !has:expiration_date", "R-CRY-JSON-7"},
  {"vc", "op:verify", "R-CRY-VC-2 R-CRY-VC-7 R-CRY-VC-8"},
  {"vc", "op:verify flag:BadDate", "R-CRY-VC-9"},
  {"vc", "op:verify flag:FutureDate", "R-CRY-VC-9"},
  {"vc", "op:verify flag:KeyOrder", "R-CRY-JSON-3"},
  {"vc", "op:verify flag:WrongPurpose", "R-CRY-DID-8"},
  {"vc", "op:verify flag:ProofValuePrefix", "R-CRY-ED-7 R-CRY-ED-8"},
  {"vc", "op:verify flag:UnknownVm", "R-CRY-DID-7 R-CRY-DID-8"},
  {"vc", "op:verify flag:SmallOrderKey", "R-CRY-ED-5 R-CRY-DID-6"},
  {"vc", "op:verify flag:BadDid", "R-CRY-DID-5 R-CRY-DID-6"},
  {"vc", "op:verify flag:LeadingZero", "R-CRY-B58-1 R-CRY-ED-7"},

  {"vp", "op:create", "R-CRY-VP-1 R-CRY-VP-2 R-CRY-VC-1 R-CRY-VC-2"},
  {"vp", "op:verify", "R-CRY-VP-2 R-CRY-VP-4 R-CRY-VP-5"},
  {"vp", "op:verify flag:Stale", "R-CRY-VP-6"},
  {"vp", "op:verify flag:Empty", "R-CRY-VP-8"},
  {"vp", "op:verify flag:Holder", "R-CRY-VP-8"},
  {"vp", "op:verify flag:Untrusted", "R-CRY-VP-8"},
  {"vp", "op:verify flag:Expired", "R-CRY-VC-7 R-CRY-VC-8"},
  {"vp", "op:verify flag:WrongPurpose", "R-CRY-DID-8"},
  {"vp", "op:verify flag:SmallOrderKey", "R-CRY-ED-5"},

  {"x25519", "op:x25519", "R-CRY-KEY-7"},
  {"x25519", "op:ed25519-to-x25519", "R-CRY-KEY-8"},

  {"zcap", "op:root", "R-CRY-ZCAP-1"},
  {"zcap", "op:delegate", "R-CRY-ZCAP-3"},
  {"zcap", "op:delegate has:caveats", "R-CRY-ZCAP-4"},
  {"zcap", "op:delegate !has:caveats", "R-CRY-JSON-7"},
  {"zcap", "op:delegate flag:Attenuation", "R-CRY-ZCAP-7"},
  {"zcap", "op:invoke", "R-CRY-ZCAP-5"},
  {"zcap", "op:verify", "R-CRY-ZCAP-8 R-CRY-ZCAP-10 R-CRY-ZCAP-11 R-CRY-ZCAP-13"},
  {"zcap", "op:verify flag:CaveatDropped", "R-CRY-ZCAP-12"},
  {"zcap", "op:verify flag:Expired", "R-CRY-ZCAP-4 R-CRY-ZCAP-12"},
  {"zcap", "op:verify flag:Chain", "R-CRY-ZCAP-10"},
  {"zcap", "op:verify flag:ForgedChain", "R-CRY-ZCAP-10"},
  {NULL, NULL, NULL},
};

static int field_is(json_t *c, const char *key, size_t kl, const char *val, size_t vl, int prefix) {
  char k[128];
  if (kl >= sizeof k) return 0;
  memcpy(k, key, kl);
  k[kl] = 0;
  json_t *v = json_object_get(c, k);
  if (!json_is_string(v)) return 0;
  size_t n = json_string_length(v);
  if (prefix) return n >= vl && !memcmp(json_string_value(v), val, vl);
  return n == vl && !memcmp(json_string_value(v), val, vl);
}

static int has_flag(json_t *c, const char *f, size_t n) {
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(c, "flags"), i, v) {
    if (json_is_string(v) && json_string_length(v) == n && !memcmp(json_string_value(v), f, n)) return 1;
  }
  return 0;
}

static int token_holds(json_t *c, const char *t, size_t n) {
  if (n > 1 && t[0] == '!') return !token_holds(c, t + 1, n - 1);
  if (n > 3 && !strncmp(t, "op:", 3)) return field_is(c, "op", 2, t + 3, n - 3, 0);
  if (n > 7 && !strncmp(t, "result:", 7)) return field_is(c, "result", 6, t + 7, n - 7, 0);
  if (n > 5 && !strncmp(t, "flag:", 5)) return has_flag(c, t + 5, n - 5);
  if (n > 4 && !strncmp(t, "has:", 4)) {
    char k[128];
    if (n - 4 >= sizeof k) return 0;
    memcpy(k, t + 4, n - 4);
    k[n - 4] = 0;
    return json_object_get(c, k) != NULL;
  }
  size_t eq = strcspn(t, "=^");
  if (eq < n) return field_is(c, t, eq, t + eq + 1, n - eq - 1, t[eq] == '^');
  vdie("requirements table: bad condition %.*s", (int)n, t);
}

static int row_holds(json_t *c, const char *cond) {
  const char *p = cond;
  while (*p) {
    size_t n = strcspn(p, " ");
    if (n && !token_holds(c, p, n)) return 0;
    p += n;
    while (*p == ' ') p++;
  }
  return 1;
}

static void add_ids(json_t *arr, const char *ids) {
  const char *p = ids;
  while (*p) {
    size_t n = strcspn(p, " ");
    if (n) {
      int dup = 0;
      size_t i;
      json_t *v;
      json_array_foreach(arr, i, v) {
        if (json_string_length(v) == n && !memcmp(json_string_value(v), p, n)) dup = 1;
      }
      if (!dup) json_array_append_new(arr, json_stringn(p, n));
    }
    p += n;
    while (*p == ' ') p++;
  }
}

void vset_requirements(const vlayer *L, json_t *c) {
  json_t *arr = json_array();
  for (const vreqrow *r = ROWS; r->layer; r++) {
    if (strcmp(r->layer, "*") && strcmp(r->layer, L->name)) continue;
    if (row_holds(c, r->cond)) add_ids(arr, r->reqs);
  }
  if (json_array_size(arr) == 0)
    vdie("%s case %s: no requirement id applies (add a row to tools/gen-vectors/reqs.c)", L->name,
         json_string_value(json_object_get(c, "label")));
  vset_json(c, "requirements", arr);
}
