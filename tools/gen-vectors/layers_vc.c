/* tools/gen-vectors/layers_vc.c - vc, vp and zcap vector layers. */
#include <stdio.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/json.h"
#include "harmony/vc.h"
#include "layers.h"
#include "vfile.h"

#define T0 1748779200000LL
#define ISO_T0 "2025-06-01T12:00:00.000Z"

/* ---------------------------------------------------------------- helpers */

static hm_json *parse(const char *s) {
  hm_json *v = NULL;
  if (hm_json_parse(&v, s, strlen(s), 0, NULL)) vdie("parse: %s", s);
  return v;
}

static char *text(const hm_json *v) {
  char *s = NULL;
  if (hm_json_stringify(&s, NULL, v)) vdie("stringify");
  return s;
}

static void set_doc(json_t *c, const char *key, const hm_json *v) {
  char *s = text(v);
  vset_str(c, key, s);
  hm_free(s);
}

static hm_json *get_doc(json_t *c, const char *key) {
  size_t n;
  const char *s = vget_str(c, key, &n);
  hm_json *v = NULL;
  if (hm_json_parse(&v, s, n, 0, NULL)) vdie("field %s: not JSON", key);
  return v;
}

static void identity(hm_identity *id, const uint8_t seed[32]) {
  memset(id, 0, sizeof *id);
  if (hm_identity_from_seed32(id, seed)) vdie("identity");
}

/* Verify under both profiles with the tool's rules (hardened: duplicate keys refused). */
typedef int (*vfn)(const hm_json *doc, json_t *c, const hm_verify_opts *o);

static void verify_both(json_t *c, const char *key, vfn fn) {
  size_t n;
  const char *s = vget_str(c, key, &n);
  int64_t now = vget_iso(c, "now");
  int rcs[2];
  for (int p = 0; p < 2; p++) {
    hm_json *doc = NULL;
    int rc = hm_json_parse(&doc, s, n, p ? HM_JSON_REJECT_DUPKEYS : 0, NULL);
    if (rc == HM_OK) {
      hm_verify_opts o;
      memset(&o, 0, sizeof o);
      o.profile = p ? HM_PROFILE_HARDENED : HM_PROFILE_COMPAT;
      o.now_ms = now;
      rc = fn(doc, c, &o);
    }
    hm_json_free(doc);
    rcs[p] = rc;
  }
  vset_profiles(c, rcs[0], rcs[1]);
}

static int vc_v(const hm_json *doc, json_t *c, const hm_verify_opts *o) {
  (void)c;
  return hm_vc_verify(doc, o, NULL);
}
static int vp_v(const hm_json *doc, json_t *c, const hm_verify_opts *o) {
  (void)c;
  return hm_vp_verify(doc, o, NULL);
}
static int zc_v(const hm_json *inv, json_t *c, const hm_verify_opts *o) {
  size_t n;
  const char *s = vget_str(c, "chain", &n);
  hm_json *chain = NULL;
  int rc = hm_json_parse(&chain, s, n, o->profile == HM_PROFILE_HARDENED ? HM_JSON_REJECT_DUPKEYS : 0, NULL);
  if (rc) return rc;
  hm_zcap_expect e;
  memset(&e, 0, sizeof e);
  const hm_json *iv = hm_json_object_getc(inv, "invoker");
  e.invoker = iv && hm_json_string(iv, NULL) ? hm_json_string(iv, NULL) : "";
  rc = hm_zcap_verify_invocation(inv, chain, o, &e, NULL);
  hm_json_free(chain);
  return rc;
}

/* re-sign doc (its proof replaced) with seed, vm and purpose at created */
static void resign(hm_json *doc, const uint8_t seed[32], const char *vm, const char *purpose, const char *created) {
  (void)hm_json_object_remove(doc, "proof", 5);
  if (hm_proof_attach(doc, seed, vm, purpose, created)) vdie("attach");
}

static void set_str_at(hm_json *obj, const char *key, const char *val) {
  if (hm_json_object_setc(obj, key, hm_json_new_cstr(val))) vdie("set %s", key);
}

static hm_json *proof_of(hm_json *doc) {
  hm_json *p = hm_json_object_getc(doc, "proof");
  if (!p) vdie("no proof");
  return p;
}

/* the universal forgery: proof with R = identity, S = 0 under a small-order did:key */
static const uint8_t ORDER2[32] = {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};

static void order2_did(char did[HM_DIDKEY_MAX], char vm[256]) {
  if (hm_didkey_encode(did, HM_DIDKEY_MAX, ORDER2) || hm_vc_default_vm(vm, 256, did)) vdie("order2 did");
}

static void forge_proof(hm_json *doc, const char *vm, const char *purpose) {
  uint8_t sig[64] = {1};
  char pv[128];
  if (hm_multibase_encode_b58(pv, sizeof pv, sig, 64)) vdie("b58");
  hm_json *p = hm_json_new_object();
  if (hm_json_object_setc(p, "type", hm_json_new_cstr(HM_PROOF_TYPE)) ||
      hm_json_object_setc(p, "created", hm_json_new_cstr(ISO_T0)) ||
      hm_json_object_setc(p, "verificationMethod", hm_json_new_cstr(vm)) ||
      hm_json_object_setc(p, "proofPurpose", hm_json_new_cstr(purpose)) ||
      hm_json_object_setc(p, "proofValue", hm_json_new_cstr(pv)) || hm_json_object_setc(doc, "proof", p))
    vdie("forge");
}

/* ======================================================================== vc */

static int vc_issue_compute(json_t *c) {
  uint8_t seed[32];
  vget_hex_fixed(c, "issuer_seed32", seed, 32);
  hm_identity id;
  identity(&id, seed);
  hm_json *claims = get_doc(c, "claims");
  hm_vc_issue_params p;
  memset(&p, 0, sizeof p);
  p.issuer_did = id.did;
  p.issuer_seed = seed;
  p.subject_did = vget_str(c, "subject_did", NULL);
  p.type = vget_str(c, "type", NULL);
  p.claims = claims;
  p.expiration_date = vhas(c, "expiration_date") ? vget_str(c, "expiration_date", NULL) : NULL;
  p.id = vget_str(c, "id", NULL);
  p.issuance_date = vget_str(c, "issuance_date", NULL);
  p.created = vget_str(c, "created", NULL);
  p.now_ms = vget_iso(c, "issuance_date");
  hm_json *vc = NULL;
  if (hm_vc_issue(&vc, &p)) vdie("vc issue");
  char *si = NULL;
  if (hm_proof_signing_input(&si, NULL, vc)) vdie("signing input");
  vset_str(c, "issuer_did", id.did);
  vset_str(c, "signing_input", si);
  set_doc(c, "credential", vc);
  vset_result(c, "valid", 0);
  hm_free(si);
  hm_json_free(vc);
  hm_json_free(claims);
  hm_identity_clear(&id);
  return 0;
}

static int vc_verify_compute(json_t *c) {
  verify_both(c, "credential", vc_v);
  return 0;
}

/* upstream-style id of a case: "urn:uuid:" + hex(first 16 bytes of derive(label, "id")) */
static void case_id(vfile *f, const char *label, char id[80]) {
  uint8_t idb[32];
  char idhex[65];
  vseed(f, label, "id", idb);
  hm_hex_encode(idhex, sizeof idhex, idb, 16);
  snprintf(id, 80, "urn:uuid:%s", idhex);
}

/* adds an issue case and returns the issued credential (caller frees) */
static hm_json *vc_issue_case(vfile *f, const char *label, const char *comment, const char *flags,
                              const uint8_t seed[32], const char *subject, const char *type, const char *claims,
                              const char *exp, const char *issuance, const char *created) {
  json_t *c = vcase(f, "issue", label, comment, flags);
  char id[80];
  case_id(f, label, id);
  vset_hex(c, "issuer_seed32", seed, 32);
  vset_str(c, "subject_did", subject);
  vset_str(c, "type", type);
  vset_str(c, "claims", claims);
  if (exp) vset_str(c, "expiration_date", exp);
  vset_str(c, "id", id);
  vset_str(c, "issuance_date", issuance);
  vset_str(c, "created", created);
  vrun(f, c);
  return get_doc(json_array_get(f->tests, json_array_size(f->tests) - 1), "credential");
}

static void vc_verify_case(vfile *f, const char *label, const char *comment, const char *flags, const hm_json *doc,
                           const char *now) {
  json_t *c = vcase(f, "verify", label, comment, flags);
  set_doc(c, "credential", doc);
  vset_str(c, "now", now);
  vrun(f, c);
}

static void vc_generate(vfile *f) {
  uint8_t alice_s[32], comm_s[32], mall_s[32];
  vseed(f, "parties", "alice", alice_s);
  vseed(f, "parties", "community", comm_s);
  vseed(f, "parties", "mallory", mall_s);
  hm_identity alice, comm;
  identity(&alice, alice_s);
  identity(&comm, comm_s);
  char vm_alice[256];
  if (hm_vc_default_vm(vm_alice, sizeof vm_alice, alice.did)) vdie("vm");

  hm_json *self = vc_issue_case(f, "issue-identity-assertion",
                                "the client's self-issued auth credential (issuer = subject = alice)", "Issue",
                                alice_s, alice.did, "IdentityAssertion", "{\"type\":\"IdentityAssertion\"}", NULL,
                                ISO_T0, ISO_T0);
  hm_json *member = vc_issue_case(f, "issue-membership", "membership credential issued by a community key", "Issue",
                                  comm_s, alice.did, "CommunityMembershipCredential",
                                  "{\"community\":\"c1\",\"role\":\"admin\"}", NULL, ISO_T0, "2025-06-01T12:00:00.001Z");
  hm_json *expiring = vc_issue_case(
    f, "issue-expiry-escapes", "expirationDate after credentialSubject; claims with escapes, U+2028 and a '/'",
    "Issue", alice_s, alice.did, "ProfileCredential",
    "{\"name\":\"Al \\\"the\\\" \\\\ice\\u2028\",\"site\":\"https://a.example/x\",\"n\":1.5e-7}",
    "2025-06-02T12:00:00.000Z", ISO_T0, ISO_T0);
  hm_json *intkeys = vc_issue_case(f, "issue-integer-keys",
                                   "claims with integer-like keys: serialised first, ascending (JS order)", "Issue",
                                   alice_s, alice.did, "ListCredential", "{\"b\":1,\"10\":\"x\",\"2\":\"y\"}", NULL,
                                   ISO_T0, ISO_T0);
  hm_json *badexp = vc_issue_case(f, "issue-bad-expiry", "an unparseable expirationDate", "Issue", alice_s, alice.did,
                                  "ProfileCredential", "{}", "not a date", ISO_T0, ISO_T0);
  hm_json *future = vc_issue_case(f, "issue-future", "issuanceDate one day after the verification time", "Issue",
                                  alice_s, alice.did, "IdentityAssertion", "{\"type\":\"IdentityAssertion\"}", NULL,
                                  "2025-06-02T12:00:00.000Z", "2025-06-02T12:00:00.000Z");

  vc_verify_case(f, "verify-self", "self-issued credential, one minute later", "Valid", self, "2025-06-01T12:01:00.000Z");
  vc_verify_case(f, "verify-member", "community-issued credential", "Valid", member, "2025-06-01T12:01:00.000Z");
  vc_verify_case(f, "verify-before-expiry", "before expirationDate", "Valid", expiring, "2025-06-02T11:59:59.999Z");
  vc_verify_case(f, "verify-expired", "after expirationDate", "Expired", expiring, "2025-06-02T12:00:00.001Z");
  vc_verify_case(f, "verify-integer-keys", "integer-like claim keys", "Valid", intkeys, "2025-06-01T12:01:00.000Z");
  vc_verify_case(f, "verify-bad-expiry",
                 "unparseable expirationDate: upstream Date() gives NaN, never expires; hardened refuses",
                 "BadDate", badexp, "2030-01-01T00:00:00.000Z");
  vc_verify_case(f, "verify-future-issuance",
                 "issuanceDate a day ahead of now: upstream does not check it; hardened refuses", "FutureDate", future,
                 ISO_T0);
  {
    /* key order: swap "id" and "type" positions by rebuilding the object */
    hm_json *r = hm_json_new_object();
    static const char *const order[] = {"@context", "type", "id", "issuer", "issuanceDate", "credentialSubject",
                                        "proof"};
    for (size_t i = 0; i < 7; i++)
      if (hm_json_object_setc(r, order[i], hm_json_clone(hm_json_object_getc(self, order[i])))) vdie("reorder");
    vc_verify_case(f, "verify-reordered", "\"type\" moved before \"id\": same content, other bytes, signature fails",
                   "KeyOrder", r, "2025-06-01T12:01:00.000Z");
    hm_json_free(r);
  }
  {
    hm_json *t = hm_json_clone(self);
    set_str_at(hm_json_object_getc(t, "credentialSubject"), "type", "Admin");
    vc_verify_case(f, "verify-tampered-claim", "a claim changed after signing", "BadSignature", t,
                   "2025-06-01T12:01:00.000Z");
    hm_json_free(t);
  }
  {
    hm_json *t = hm_json_clone(self);
    resign(t, alice_s, vm_alice, "capabilityDelegation", ISO_T0);
    vc_verify_case(f, "verify-wrong-purpose",
                   "signed with proofPurpose capabilityDelegation: upstream ignores the purpose; hardened refuses",
                   "WrongPurpose", t, "2025-06-01T12:01:00.000Z");
    hm_json_free(t);
  }
  {
    hm_json *t = hm_json_clone(self);
    hm_json *p = proof_of(t);
    size_t n;
    const char *pv = hm_json_string(hm_json_object_getc(p, "proofValue"), &n);
    char buf[256];
    snprintf(buf, sizeof buf, "x%s", pv + 1);
    set_str_at(p, "proofValue", buf);
    vc_verify_case(f, "verify-proofvalue-prefix",
                   "proofValue starts with 'x' instead of 'z': upstream drops the first character unchecked",
                   "ProofValuePrefix", t, "2025-06-01T12:01:00.000Z");
    hm_json_free(t);
  }
  {
    hm_json *t = hm_json_clone(self);
    set_str_at(proof_of(t), "type", "JsonWebSignature2020");
    vc_verify_case(f, "verify-proof-type", "proof.type changed (it is not signed): upstream ignores it", "ProofType", t,
                   "2025-06-01T12:01:00.000Z");
    hm_json_free(t);
  }
  {
    hm_json *t = hm_json_clone(self);
    char vm[300];
    snprintf(vm, sizeof vm, "%s#key-2", alice.did);
    resign(t, alice_s, vm, "assertionMethod", ISO_T0);
    vc_verify_case(f, "verify-unknown-vm", "verificationMethod not in the issuer's DID document", "UnknownVm", t,
                   "2025-06-01T12:01:00.000Z");
    hm_json_free(t);
  }
  {
    hm_json *t = hm_json_clone(self);
    hm_identity mal;
    identity(&mal, mall_s);
    char vm[256];
    if (hm_vc_default_vm(vm, sizeof vm, mal.did)) vdie("vm");
    resign(t, mall_s, vm, "assertionMethod", ISO_T0);
    vc_verify_case(f, "verify-foreign-vm",
                   "issuer alice, signed by mallory with mallory's VM: the VM is not in alice's document",
                   "UnknownVm", t, "2025-06-01T12:01:00.000Z");
    hm_json_free(t);
    hm_identity_clear(&mal);
  }
  {
    /* the universal forgery under an order-2 did:key */
    char did[HM_DIDKEY_MAX], vm[256];
    order2_did(did, vm);
    hm_json *t = hm_json_clone(self);
    (void)hm_json_object_remove(t, "proof", 5);
    set_str_at(t, "issuer", did);
    set_str_at(hm_json_object_getc(t, "credentialSubject"), "id", did);
    forge_proof(t, vm, "assertionMethod");
    vc_verify_case(f, "verify-small-order-forgery",
                   "issuer is the did:key of an order-2 point and proofValue encodes (R = identity, S = 0): upstream "
                   "(ZIP-215) accepts this forgery, hardened refuses",
                   "SmallOrderKey", t, "2025-06-01T12:01:00.000Z");
    hm_json_free(t);
  }
  {
    hm_json *t = hm_json_clone(self);
    set_str_at(t, "issuer", "did:web:example.com");
    vc_verify_case(f, "verify-unresolvable-issuer", "issuer is not a did:key (re-signing is moot)", "BadDid", t,
                   "2025-06-01T12:01:00.000Z");
    hm_json_free(t);
  }
  {
    /* a signature whose first byte is 0x00: proofValue "z1..." (search over a nonce claim) */
    for (int i = 0; i < 4096; i++) {
      char claims[64];
      snprintf(claims, sizeof claims, "{\"nonce\":%d}", i);
      hm_json *cl = parse(claims);
      hm_vc_issue_params p;
      memset(&p, 0, sizeof p);
      p.issuer_did = alice.did;
      p.issuer_seed = alice_s;
      p.subject_did = alice.did;
      p.type = "NonceCredential";
      p.claims = cl;
      char idv[80];
      case_id(f, "issue-leading-zero-sig", idv);
      p.id = idv;
      p.issuance_date = ISO_T0;
      p.created = ISO_T0;
      p.now_ms = T0;
      hm_json *vc = NULL;
      if (hm_vc_issue(&vc, &p)) vdie("issue");
      const char *pv = hm_json_string(hm_json_object_getc(proof_of(vc), "proofValue"), NULL);
      int lead = pv && pv[1] == '1';
      hm_json_free(vc);
      hm_json_free(cl);
      if (lead) {
        char label[64];
        snprintf(label, sizeof label, "issue-leading-zero-sig");
        hm_json *z = vc_issue_case(f, label,
                                   "claims {nonce: n} with the first n whose signature starts with 0x00 "
                                   "(proofValue \"z1...\")",
                                   "Issue LeadingZero", alice_s, alice.did, "NonceCredential", claims, NULL, ISO_T0,
                                   ISO_T0);
        const char *zpv = hm_json_string(hm_json_object_getc(proof_of(z), "proofValue"), NULL);
        if (zpv[1] == '1')
          vc_verify_case(f, "verify-leading-zero-sig", "a signature starting with 0x00 verifies", "Valid LeadingZero", z,
                         "2025-06-01T12:01:00.000Z");
        hm_json_free(z);
        break;
      }
    }
  }
  hm_json_free(self);
  hm_json_free(member);
  hm_json_free(expiring);
  hm_json_free(intkeys);
  hm_json_free(badexp);
  hm_json_free(future);
  hm_identity_clear(&alice);
  hm_identity_clear(&comm);
}

static const char *const VC_NOTES[] = {
  "Issue", "upstream VCService.issue layout and signing input (crypto-facts 2.1)",
  "Valid", "verifies in both profiles",
  "Expired", "now after expirationDate (EXPIRED)",
  "KeyOrder", "the signature covers the received key order",
  "BadSignature", "content changed after signing",
  "BadDate", "acceptable: an unparseable date never expires upstream; hardened refuses it",
  "FutureDate", "acceptable: upstream never checks issuanceDate; hardened refuses a future one",
  "WrongPurpose", "acceptable: upstream never checks proofPurpose; hardened requires assertionMethod",
  "ProofValuePrefix", "acceptable: upstream drops proofValue's first character unchecked; hardened requires 'z'",
  "ProofType", "acceptable: upstream never checks proof.type; hardened requires Ed25519Signature2020",
  "UnknownVm", "the verification method is not in the issuer's DID document",
  "SmallOrderKey", "acceptable: the ZIP-215 universal forgery with a small-order did:key (crypto-facts 0.2)",
  "BadDid", "the issuer DID does not resolve",
  "LeadingZero", "a signature whose first byte is zero (base58 leading '1')",
  NULL};
static const vkind VC_KINDS[] = {
  {"issue", "issuer_seed32 subject_did type claims expiration_date? id issuance_date created", vc_issue_compute},
  {"verify", "credential now", vc_verify_compute},
  {0}};
const vlayer LAYER_VC = {"vc", "Harmony Verifiable Credential",
                         "upstream packages/vc issue/verify (not W3C Data Integrity): crypto-facts 2.1, 2.3", VC_NOTES,
                         VC_KINDS, vc_generate};

/* ======================================================================== vp */

static int vp_create_compute(json_t *c) {
  uint8_t seed[32];
  vget_hex_fixed(c, "holder_seed32", seed, 32);
  hm_identity id;
  identity(&id, seed);
  hm_json *creds = get_doc(c, "credentials");
  const char *created = vget_str(c, "created", NULL);
  hm_json *vp = NULL;
  if (hm_vp_create(&vp, id.did, seed, creds, created, vget_iso(c, "created"))) vdie("vp create");
  char *si = NULL;
  if (hm_proof_signing_input(&si, NULL, vp)) vdie("signing input");
  vset_str(c, "holder_did", id.did);
  vset_str(c, "signing_input", si);
  set_doc(c, "presentation", vp);
  vset_result(c, "valid", 0);
  hm_free(si);
  hm_json_free(vp);
  hm_json_free(creds);
  hm_identity_clear(&id);
  return 0;
}

static int vp_verify_compute(json_t *c) {
  verify_both(c, "presentation", vp_v);
  return 0;
}

static hm_json *issue_vc(const uint8_t seed[32], const char *subject, const char *claims, const char *exp,
                         const char *id) {
  hm_identity iss;
  identity(&iss, seed);
  hm_json *cl = parse(claims);
  hm_vc_issue_params p;
  memset(&p, 0, sizeof p);
  p.issuer_did = iss.did;
  p.issuer_seed = seed;
  p.subject_did = subject;
  p.type = "IdentityAssertion";
  p.claims = cl;
  p.expiration_date = exp;
  p.id = id;
  p.issuance_date = ISO_T0;
  p.created = ISO_T0;
  p.now_ms = T0;
  hm_json *vc = NULL;
  if (hm_vc_issue(&vc, &p)) vdie("issue");
  hm_json_free(cl);
  hm_identity_clear(&iss);
  return vc;
}

static hm_json *vp_create_case(vfile *f, const char *label, const char *comment, const char *flags,
                               const uint8_t seed[32], const hm_json *creds, const char *created) {
  json_t *c = vcase(f, "create", label, comment, flags);
  vset_hex(c, "holder_seed32", seed, 32);
  set_doc(c, "credentials", creds);
  vset_str(c, "created", created);
  vrun(f, c);
  return get_doc(json_array_get(f->tests, json_array_size(f->tests) - 1), "presentation");
}

static void vp_verify_case(vfile *f, const char *label, const char *comment, const char *flags, const hm_json *vp,
                           const char *now) {
  json_t *c = vcase(f, "verify", label, comment, flags);
  set_doc(c, "presentation", vp);
  vset_str(c, "now", now);
  vrun(f, c);
}

static hm_json *arr1(hm_json *v) {
  hm_json *a = hm_json_new_array();
  if (hm_json_array_append(a, v)) vdie("array");
  return a;
}

static void vp_generate(vfile *f) {
  uint8_t alice_s[32], bob_s[32], comm_s[32];
  vseed(f, "parties", "alice", alice_s);
  vseed(f, "parties", "bob", bob_s);
  vseed(f, "parties", "community", comm_s);
  hm_identity alice, bob;
  identity(&alice, alice_s);
  identity(&bob, bob_s);
  char vm_alice[256];
  if (hm_vc_default_vm(vm_alice, sizeof vm_alice, alice.did)) vdie("vm");
  const char *ia = "{\"type\":\"IdentityAssertion\"}";

  hm_json *creds = arr1(issue_vc(alice_s, alice.did, ia, NULL, "urn:uuid:0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"));
  hm_json *login = vp_create_case(f, "create-login", "the client's login presentation (one self-issued credential)",
                                  "Create", alice_s, creds, ISO_T0);
  hm_json *empty_creds = hm_json_new_array();
  hm_json *empty = vp_create_case(f, "create-empty", "a presentation with no credentials", "Create", alice_s,
                                  empty_creds, ISO_T0);
  hm_json *about_bob = arr1(issue_vc(alice_s, bob.did, ia, NULL, "urn:uuid:0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"));
  hm_json *vp_bob = vp_create_case(f, "create-other-subject", "alice presents a credential whose subject is bob",
                                   "Create", alice_s, about_bob, ISO_T0);
  hm_json *by_comm = arr1(issue_vc(comm_s, alice.did, "{\"community\":\"c1\",\"role\":\"member\"}", NULL,
                                   "urn:uuid:0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c"));
  hm_json *vp_comm = vp_create_case(f, "create-third-party",
                                    "alice presents a credential issued by a community key (not trusted here)",
                                    "Create", alice_s, by_comm, ISO_T0);
  hm_json *exp_creds = arr1(issue_vc(alice_s, alice.did, ia, "2025-06-01T12:00:30.000Z",
                                     "urn:uuid:0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d"));
  hm_json *vp_exp = vp_create_case(f, "create-expiring", "the credential expires 30 s after issue", "Create", alice_s,
                                   exp_creds, ISO_T0);
  hm_json *tampered = hm_json_clone(creds);
  set_str_at(hm_json_object_getc(hm_json_array_get(tampered, 0), "credentialSubject"), "type", "Admin");
  hm_json *vp_tamp = vp_create_case(f, "create-tampered-vc",
                                    "a credential altered after its issue, then presented (the VP signature is good)",
                                    "Create", alice_s, tampered, ISO_T0);

  vp_verify_case(f, "verify-login", "fresh login, 10 s after creation", "Valid", login, "2025-06-01T12:00:10.000Z");
  vp_verify_case(f, "verify-stale", "the same presentation one hour later: upstream has no freshness check", "Stale",
                 login, "2025-06-01T13:00:00.000Z");
  vp_verify_case(f, "verify-empty", "no credentials: upstream's server accepts it", "Empty", empty,
                 "2025-06-01T12:00:10.000Z");
  vp_verify_case(f, "verify-other-subject", "credential subject is not the holder: upstream does not compare",
                 "Holder", vp_bob, "2025-06-01T12:00:10.000Z");
  vp_verify_case(f, "verify-third-party", "credential issued by an untrusted key: upstream does not check trust",
                 "Untrusted", vp_comm, "2025-06-01T12:00:10.000Z");
  vp_verify_case(f, "verify-expired-vc", "the embedded credential expired 30 s after issue", "Expired", vp_exp,
                 "2025-06-01T12:01:00.000Z");
  vp_verify_case(f, "verify-tampered-vc", "an embedded credential fails its own signature", "BadSignature", vp_tamp,
                 "2025-06-01T12:00:10.000Z");
  {
    hm_json *t = hm_json_clone(login);
    set_str_at(t, "holder", bob.did);
    vp_verify_case(f, "verify-holder-swapped", "holder changed to bob after alice signed", "BadSignature", t,
                   "2025-06-01T12:00:10.000Z");
    hm_json_free(t);
  }
  {
    hm_json *t = hm_json_clone(login);
    resign(t, alice_s, vm_alice, "assertionMethod", ISO_T0);
    vp_verify_case(f, "verify-wrong-purpose",
                   "presentation signed with proofPurpose assertionMethod: upstream ignores it; hardened needs "
                   "authentication",
                   "WrongPurpose", t, "2025-06-01T12:00:10.000Z");
    hm_json_free(t);
  }
  {
    char did[HM_DIDKEY_MAX], vm[256];
    order2_did(did, vm);
    hm_json *t = hm_json_clone(empty);
    (void)hm_json_object_remove(t, "proof", 5);
    set_str_at(t, "holder", did);
    forge_proof(t, vm, "authentication");
    vp_verify_case(f, "verify-small-order-forgery",
                   "holder = did:key of an order-2 point, empty credential list, proof (R = identity, S = 0): "
                   "upstream logs this holder in; hardened refuses",
                   "SmallOrderKey Empty", t, "2025-06-01T12:00:10.000Z");
    hm_json_free(t);
  }
  hm_json_free(login);
  hm_json_free(empty);
  hm_json_free(vp_bob);
  hm_json_free(vp_comm);
  hm_json_free(vp_exp);
  hm_json_free(vp_tamp);
  hm_json_free(creds);
  hm_json_free(empty_creds);
  hm_json_free(about_bob);
  hm_json_free(by_comm);
  hm_json_free(exp_creds);
  hm_json_free(tampered);
  hm_identity_clear(&alice);
  hm_identity_clear(&bob);
}

static const char *const VP_NOTES[] = {
  "Create", "upstream VCService.present layout and signing input (crypto-facts 2.2)",
  "Valid", "verifies in both profiles",
  "Stale", "acceptable: proof.created outside the 300 s freshness window (hardened STALE)",
  "Empty", "acceptable: no credentials (hardened EMPTY)",
  "Holder", "acceptable: a credential's subject is not the holder (hardened HOLDER_MISMATCH)",
  "Untrusted", "acceptable: a credential issued by neither the holder nor a trusted issuer (hardened UNTRUSTED_ISSUER)",
  "Expired", "an embedded credential expired (the server's per-credential verify fails in both)",
  "BadSignature", "a signature fails",
  "WrongPurpose", "acceptable: proofPurpose not authentication (hardened BAD_PROOF_PURPOSE)",
  "SmallOrderKey", "acceptable: the ZIP-215 universal forgery (crypto-facts 0.2)",
  NULL};
static const vkind VP_KINDS[] = {{"create", "holder_seed32 credentials created", vp_create_compute},
                                 {"verify", "presentation now", vp_verify_compute},
                                 {0}};
const vlayer LAYER_VP = {"vp", "Harmony Verifiable Presentation (login)",
                         "upstream packages/vc present/verifyPresentation plus the server's per-credential checks: "
                         "crypto-facts 2.2, 2.3",
                         VP_NOTES, VP_KINDS, vp_generate};

/* ======================================================================== zcap */

static int zc_root_compute(json_t *c) {
  uint8_t seed[32];
  vget_hex_fixed(c, "owner_seed32", seed, 32);
  hm_identity id;
  identity(&id, seed);
  hm_json *aa = get_doc(c, "allowed_action"), *scope = get_doc(c, "scope"), *cap = NULL;
  int rc = hm_zcap_create(&cap, NULL, id.did, seed, id.did, aa, scope, NULL, vget_str(c, "id", NULL),
                          vget_str(c, "created", NULL));
  if (rc) vdie("root");
  char *si = NULL;
  if (hm_proof_signing_input(&si, NULL, cap)) vdie("si");
  vset_str(c, "signing_input", si);
  set_doc(c, "capability", cap);
  vset_result(c, "valid", 0);
  hm_free(si);
  hm_json_free(cap);
  hm_json_free(aa);
  hm_json_free(scope);
  hm_identity_clear(&id);
  return 0;
}

static int zc_delegate_compute(json_t *c) {
  uint8_t seed[32];
  vget_hex_fixed(c, "signer_seed32", seed, 32);
  hm_identity id;
  identity(&id, seed);
  hm_json *parent = get_doc(c, "parent"), *aa = get_doc(c, "allowed_action"), *scope = get_doc(c, "scope");
  hm_json *cav = vhas(c, "caveats") ? get_doc(c, "caveats") : NULL, *cap = NULL;
  int rc = hm_zcap_create(&cap, parent, id.did, seed, vget_str(c, "invoker_did", NULL), aa, scope, cav,
                          vget_str(c, "id", NULL), vget_str(c, "created", NULL));
  if (rc) {
    json_object_del(c, "capability");
    json_object_del(c, "signing_input");
    vset_result(c, "invalid", rc);
  } else {
    char *si = NULL;
    if (hm_proof_signing_input(&si, NULL, cap)) vdie("si");
    vset_str(c, "signing_input", si);
    set_doc(c, "capability", cap);
    vset_result(c, "valid", 0);
    hm_free(si);
  }
  hm_json_free(cap);
  hm_json_free(parent);
  hm_json_free(aa);
  hm_json_free(scope);
  hm_json_free(cav);
  hm_identity_clear(&id);
  return 0;
}

static int zc_invoke_compute(json_t *c) {
  uint8_t seed[32];
  vget_hex_fixed(c, "invoker_seed32", seed, 32);
  hm_json *cap = get_doc(c, "capability"), *inv = NULL;
  if (hm_zcap_invoke(&inv, cap, seed, vget_str(c, "action", NULL), vget_str(c, "target", NULL),
                     vget_str(c, "created", NULL)))
    vdie("invoke");
  char *si = NULL;
  if (hm_proof_signing_input(&si, NULL, inv)) vdie("si");
  vset_str(c, "signing_input", si);
  set_doc(c, "invocation", inv);
  vset_result(c, "valid", 0);
  hm_free(si);
  hm_json_free(inv);
  hm_json_free(cap);
  return 0;
}

static int zc_verify_compute(json_t *c) {
  verify_both(c, "invocation", zc_v);
  return 0;
}

static json_t *last(vfile *f) { return json_array_get(f->tests, json_array_size(f->tests) - 1); }

static hm_json *zc_root_case(vfile *f, const char *label, const char *comment, const uint8_t seed[32],
                             const char *actions, const char *scope) {
  json_t *c = vcase(f, "root", label, comment, "Create");
  char id[80];
  uint8_t b[32];
  char hex[65];
  vseed(f, label, "id", b);
  hm_hex_encode(hex, sizeof hex, b, 16);
  snprintf(id, sizeof id, "urn:uuid:%s", hex);
  vset_hex(c, "owner_seed32", seed, 32);
  vset_str(c, "allowed_action", actions);
  vset_str(c, "scope", scope);
  vset_str(c, "id", id);
  vset_str(c, "created", ISO_T0);
  vrun(f, c);
  return get_doc(last(f), "capability");
}

static hm_json *zc_delegate_case(vfile *f, const char *label, const char *comment, const char *flags,
                                 const hm_json *parent, const uint8_t seed[32], const char *invoker,
                                 const char *actions, const char *scope, const char *caveats) {
  json_t *c = vcase(f, "delegate", label, comment, flags);
  char id[80];
  uint8_t b[32];
  char hex[65];
  vseed(f, label, "id", b);
  hm_hex_encode(hex, sizeof hex, b, 16);
  snprintf(id, sizeof id, "urn:uuid:%s", hex);
  set_doc(c, "parent", parent);
  vset_hex(c, "signer_seed32", seed, 32);
  vset_str(c, "invoker_did", invoker);
  vset_str(c, "allowed_action", actions);
  vset_str(c, "scope", scope);
  if (caveats) vset_str(c, "caveats", caveats);
  vset_str(c, "id", id);
  vset_str(c, "created", ISO_T0);
  vrun(f, c);
  return vhas(last(f), "capability") ? get_doc(last(f), "capability") : NULL;
}

static hm_json *zc_invoke_case(vfile *f, const char *label, const char *comment, const hm_json *cap,
                               const uint8_t seed[32], const char *action, const char *target) {
  json_t *c = vcase(f, "invoke", label, comment, "Create");
  set_doc(c, "capability", cap);
  vset_hex(c, "invoker_seed32", seed, 32);
  vset_str(c, "action", action);
  vset_str(c, "target", target);
  vset_str(c, "created", ISO_T0);
  vrun(f, c);
  return get_doc(last(f), "invocation");
}

static void zc_verify_case(vfile *f, const char *label, const char *comment, const char *flags, const hm_json *inv,
                           const hm_json *const *chain, size_t n, const char *now) {
  json_t *c = vcase(f, "verify", label, comment, flags);
  hm_json *arr = hm_json_new_array();
  for (size_t i = 0; i < n; i++)
    if (hm_json_array_append(arr, hm_json_clone(chain[i]))) vdie("chain");
  set_doc(c, "invocation", inv);
  set_doc(c, "chain", arr);
  vset_str(c, "now", now);
  vrun(f, c);
  hm_json_free(arr);
}

#define V "https://harmony.example/vocab#"

static void zcap_generate(vfile *f) {
  uint8_t owner_s[32], bob_s[32], carol_s[32], mall_s[32];
  vseed(f, "parties", "owner", owner_s);
  vseed(f, "parties", "bob", bob_s);
  vseed(f, "parties", "carol", carol_s);
  vseed(f, "parties", "mallory", mall_s);
  hm_identity owner, bob, carol, mal;
  identity(&owner, owner_s);
  identity(&bob, bob_s);
  identity(&carol, carol_s);
  identity(&mal, mall_s);
  const char *acts = "[\"" V "SendMessage\",\"" V "ReadChannel\",\"" V "DeleteMessage\"]";
  const char *scope = "{\"community\":\"c1\"}";
  hm_json *root = zc_root_case(f, "root", "a community root capability (owner = invoker = delegator)", owner_s, acts,
                               scope);
  hm_json *d1 = zc_delegate_case(f, "delegate-bob", "owner delegates send/read to bob with an expiry caveat",
                                 "Create", root, owner_s, bob.did, "[\"" V "SendMessage\",\"" V "ReadChannel\"]",
                                 scope, "[{\"type\":\"harmony:Expiry\",\"value\":\"2025-06-02T00:00:00.000Z\"}]");
  hm_json *d2 = zc_delegate_case(f, "delegate-carol", "bob re-delegates send to carol, keeping the expiry caveat",
                                 "Create", d1, bob_s, carol.did, "[\"" V "SendMessage\"]", scope,
                                 "[{\"type\":\"harmony:Expiry\",\"value\":\"2025-06-02T00:00:00.000Z\"}]");
  hm_json *d2b = zc_delegate_case(f, "delegate-carol-nocaveat",
                                  "bob re-delegates to carol with scope {} and no caveats (key omitted)", "Create", d1,
                                  bob_s, carol.did, "[\"" V "SendMessage\"]", "{}", NULL);
  hm_json *wide = zc_delegate_case(f, "delegate-widen", "bob tries to widen to ManageRoles: refused like upstream",
                                   "Attenuation", d1, bob_s, carol.did, "[\"" V "ManageRoles\"]", scope, NULL);
  hm_json_free(wide);
  hm_json *inv_root = zc_invoke_case(f, "invoke-root", "owner invokes the root", root, owner_s, V "SendMessage",
                                     "c1:channel:0123456789abcdef");
  hm_json *inv_bob = zc_invoke_case(f, "invoke-bob", "bob invokes his delegation", d1, bob_s, V "SendMessage",
                                    "c1:channel:0123456789abcdef");
  hm_json *inv_carol = zc_invoke_case(f, "invoke-carol", "carol invokes the second-level delegation", d2, carol_s,
                                      V "SendMessage", "c1:channel:0123456789abcdef");
  hm_json *inv_carol2 = zc_invoke_case(f, "invoke-carol-nocaveat", "carol invokes the caveat-free delegation", d2b,
                                       carol_s, V "SendMessage", "c1:channel:0123456789abcdef");
  hm_json *inv_bob_del = zc_invoke_case(f, "invoke-bob-delete", "bob invokes an action his capability lacks", d1,
                                        bob_s, V "DeleteMessage", "c1:channel:0123456789abcdef");
  const hm_json *c_root[] = {root};
  const hm_json *c_bob[] = {root, d1};
  const hm_json *c_carol[] = {root, d1, d2};
  const hm_json *c_bob_only[] = {d1};
  const hm_json *c_carol2[] = {root, d1, d2b};
  zc_verify_case(f, "verify-root", "root invocation", "Valid", inv_root, c_root, 1, "2025-06-01T12:01:00.000Z");
  zc_verify_case(f, "verify-bob", "one delegation", "Valid", inv_bob, c_bob, 2, "2025-06-01T12:01:00.000Z");
  zc_verify_case(f, "verify-carol", "two delegations", "Valid", inv_carol, c_carol, 3, "2025-06-01T12:01:00.000Z");
  zc_verify_case(f, "verify-carol-dropped-caveat",
                 "the re-delegation drops bob's expiry caveat: upstream does not compare caveats; hardened requires "
                 "the parent's caveats to be kept",
                 "CaveatDropped", inv_carol2, c_carol2, 3, "2025-06-01T12:01:00.000Z");
  zc_verify_case(f, "verify-bob-expired", "after bob's expiry caveat", "Expired", inv_bob, c_bob, 2,
                 "2025-06-02T00:00:00.001Z");
  zc_verify_case(f, "verify-action-not-allowed", "action outside the capability", "Action", inv_bob_del, c_bob, 2,
                 "2025-06-01T12:01:00.000Z");
  zc_verify_case(f, "verify-missing-parent", "the chain lacks the root that bob's capability names", "Chain", inv_bob,
                 c_bob_only, 1, "2025-06-01T12:01:00.000Z");
  {
    hm_json *t = hm_json_clone(inv_bob);
    set_str_at(t, "target", "c2:channel:ffffffffffffffff");
    zc_verify_case(f, "verify-tampered-target", "target changed after signing", "BadSignature", t, c_bob, 2,
                   "2025-06-01T12:01:00.000Z");
    hm_json_free(t);
  }
  {
    /* mallory forges a "delegation" from the root to herself, signed by herself, naming
     * herself as delegator: upstream verifies each proof against the capability's own
     * delegator and only checks that the parent exists. */
    char text[2048];
    snprintf(text, sizeof text,
             "{\"@context\":[\"https://w3id.org/zcap/v1\"],\"id\":\"urn:uuid:6d616c6c6f7279000000000000000000\","
             "\"parentCapability\":\"%s\",\"invoker\":\"%s\",\"delegator\":\"%s\",\"allowedAction\":[\"" V
             "SendMessage\",\"" V "ManageRoles\"],\"scope\":{\"community\":\"c1\"}}",
             hm_json_string(hm_json_object_getc(root, "id"), NULL), mal.did, mal.did);
    hm_json *forged = parse(text);
    char vm[256];
    if (hm_vc_default_vm(vm, sizeof vm, mal.did)) vdie("vm");
    if (hm_proof_attach(forged, mall_s, vm, "capabilityDelegation", ISO_T0)) vdie("attach");
    hm_json *inv = NULL;
    if (hm_zcap_invoke(&inv, forged, mall_s, V "ManageRoles", "c1", ISO_T0)) vdie("invoke");
    const hm_json *ch[] = {root, forged};
    zc_verify_case(f, "verify-self-delegation",
                   "mallory's self-signed 'delegation' under the real root, with a widened action: upstream accepts "
                   "(delegator never compared with the parent's invoker, no attenuation check); hardened refuses",
                   "ForgedChain", inv, ch, 2, "2025-06-01T12:01:00.000Z");
    hm_json_free(inv);
    hm_json_free(forged);
  }
  {
    /* an unrooted chain: mallory's own root for the same scope */
    hm_json *aa = parse(acts), *sc = parse(scope), *mroot = NULL, *inv = NULL;
    if (hm_zcap_create(&mroot, NULL, mal.did, mall_s, mal.did, aa, sc, NULL, "urn:uuid:6d726f6f740000000000000000000000",
                       ISO_T0) ||
        hm_zcap_invoke(&inv, mroot, mall_s, V "DeleteMessage", "c1:channel:0123456789abcdef", ISO_T0))
      vdie("mroot");
    const hm_json *ch[] = {mroot};
    zc_verify_case(f, "verify-foreign-root",
                   "mallory's own root for community c1: both accept (nothing ties the root owner to the "
                   "community here; the server passes root_owner for that)",
                   "Valid", inv, ch, 1, "2025-06-01T12:01:00.000Z");
    hm_json_free(aa);
    hm_json_free(sc);
    hm_json_free(mroot);
    hm_json_free(inv);
  }
  hm_json_free(root);
  hm_json_free(d1);
  hm_json_free(d2);
  hm_json_free(d2b);
  hm_json_free(inv_carol2);
  hm_json_free(inv_root);
  hm_json_free(inv_bob);
  hm_json_free(inv_carol);
  hm_json_free(inv_bob_del);
  hm_identity_clear(&owner);
  hm_identity_clear(&bob);
  hm_identity_clear(&carol);
  hm_identity_clear(&mal);
}

static const char *const ZC_NOTES[] = {
  "Create", "upstream ZCAPService createRoot / delegate / invoke layout and signing input (crypto-facts 3.1)",
  "Attenuation", "delegation refused: widens actions or scope (ATTENUATION), as upstream throws",
  "Valid", "verifies in both profiles (hardened expects the invoker the invocation names, any action/target)",
  "Expired", "a harmony:Expiry caveat has passed (EXPIRED)",
  "Action", "the invoked action is not allowed",
  "Chain", "the chain is broken (BAD_CHAIN)",
  "BadSignature", "content changed after signing",
  "CaveatDropped", "acceptable: a delegation drops its parent's caveats (hardened ATTENUATION)",
  "ForgedChain", "acceptable: a delegation not made by the parent's invoker and widening it (hardened refuses)",
  NULL};
static const vkind ZC_KINDS[] = {
  {"root", "owner_seed32 allowed_action scope id created", zc_root_compute},
  {"delegate", "parent signer_seed32 invoker_did allowed_action scope caveats? id created", zc_delegate_compute},
  {"invoke", "capability invoker_seed32 action target created", zc_invoke_compute},
  {"verify", "invocation chain now", zc_verify_compute},
  {0}};
const vlayer LAYER_ZCAP = {"zcap", "Harmony authorization capabilities",
                           "upstream packages/zcap (not W3C zcap-ld): crypto-facts 3.1-3.3", ZC_NOTES, ZC_KINDS,
                           zcap_generate};
