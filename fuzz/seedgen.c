/* fuzz/seedgen.c - writes the signed seed inputs of the fuzz corpora (VCs, VPs, ZCAP
 * chains, login frames, key packages) made by libharmony with the fixed identities of
 * fuzz_ids.h and the fixed clock FZ_NOW_MS. Deterministic: every id and date is given.
 *
 *   seedgen OUTDIR      writes OUTDIR/<target>/seed-<name> (run by fuzz/make-seeds)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_ids.h"
#include "harmony/alloc.h"
#include "harmony/json.h"
#include "harmony/mls.h"
#include "harmony/vc.h"

static const char *outdir;

/* prefix: NULL, or one selector byte given as a string of length 1 ("\x00" counts as one). */
static void put(const char *target, const char *name, const char *prefix, const char *text, size_t len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", outdir, target);
  if (mkdir(path, 0755) != 0 && errno != EEXIST) abort();
  snprintf(path, sizeof path, "%s/%s/seed-%s", outdir, target, name);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (prefix) fputc(prefix[0], f);
  fwrite(text, 1, len, f);
  fclose(f);
}

static char *str(const hm_json *v) {
  char *s = NULL;
  if (hm_json_stringify(&s, NULL, v) != HM_OK) abort();
  return s;
}

static void put_json(const char *target, const char *name, const hm_json *v, int both) {
  char *s = str(v);
  put(target, name, NULL, s, strlen(s));
  if (both) {
    char n2[256];
    snprintf(n2, sizeof n2, "%s-resign", name);
    put(target, n2, "!", s, strlen(s));
  }
  hm_free(s);
}

static hm_json *parse(const char *t) {
  hm_json *v = NULL;
  if (hm_json_parse(&v, t, strlen(t), 0, NULL) != HM_OK) abort();
  return v;
}

#define CHECK(x) do { if ((x) != HM_OK) { fprintf(stderr, "seedgen: %s failed\n", #x); abort(); } } while (0)

static hm_json *issue(int issuer, int subject, const char *id, const char *exp) {
  hm_vc_issue_params p = {0};
  p.issuer_did = fz_ids[issuer].did;
  p.issuer_seed = fz_ids[issuer].seed;
  p.subject_did = fz_ids[subject].did;
  p.type = "IdentityAssertion";
  hm_json *claims = parse("{\"type\":\"IdentityAssertion\"}");
  p.claims = claims;
  p.expiration_date = exp;
  p.id = id;
  p.issuance_date = "2026-11-22T08:40:00.000Z";
  p.now_ms = FZ_NOW_MS;
  hm_json *vc = NULL;
  CHECK(hm_vc_issue(&vc, &p));
  hm_json_free(claims);
  return vc;
}

static hm_json *present(int holder, hm_json *creds, const char *created) {
  hm_json *vp = NULL;
  CHECK(hm_vp_create(&vp, fz_ids[holder].did, fz_ids[holder].seed, creds, created, FZ_NOW_MS));
  return vp;
}

static void frame(const char *name, const char *type, const hm_json *payload, int sender) {
  hm_json *f = hm_json_new_object();
  CHECK(hm_json_object_setc(f, "id", hm_json_new_cstr("msg-seed-1")));
  CHECK(hm_json_object_setc(f, "type", hm_json_new_cstr(type)));
  CHECK(hm_json_object_setc(f, "timestamp", hm_json_new_cstr("2026-11-22T08:48:27.087Z")));
  CHECK(hm_json_object_setc(f, "sender", hm_json_new_cstr(fz_ids[sender].did)));
  CHECK(hm_json_object_setc(f, "payload", payload ? hm_json_clone(payload) : hm_json_new_object()));
  put_json("envelope", name, f, 0);
  hm_json_free(f);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: seedgen OUTDIR\n");
    return 2;
  }
  outdir = argv[1];
  fz_ids_init();

  /* ---- VC / VP ---- */
  hm_json *vc_self = issue(0, 0, "urn:uuid:00000000000000000000000000000001", NULL);
  hm_json *vc_exp = issue(0, 0, "urn:uuid:00000000000000000000000000000002", "2026-11-22T08:00:00.000Z");
  hm_json *vc_trusted = issue(2, 0, "urn:uuid:00000000000000000000000000000003", "2027-01-01T00:00:00.000Z");
  hm_json *vc_revoked = issue(0, 0, "urn:uuid:revoked", NULL);
  put_json("vc", "vc-self", vc_self, 1);
  put_json("vc", "vc-expired", vc_exp, 1);
  put_json("vc", "vc-trusted", vc_trusted, 1);
  put_json("vc", "vc-revoked", vc_revoked, 1);
  hm_json *creds = hm_json_new_array();
  CHECK(hm_json_array_append(creds, hm_json_clone(vc_self)));
  hm_json *vp = present(0, creds, "2026-11-22T08:48:20.000Z");
  put_json("vc", "vp-login", vp, 1);
  CHECK(hm_json_array_append(creds, hm_json_clone(vc_trusted)));
  hm_json *vp2 = present(0, creds, "2026-11-22T08:48:20.000Z");
  put_json("vc", "vp-two-credentials", vp2, 1);
  hm_json *vp_stale = present(0, creds, "2026-11-22T07:00:00.000Z");
  put_json("vc", "vp-stale", vp_stale, 1);
  hm_json *empty = hm_json_new_array();
  hm_json *vp_empty = present(1, empty, "2026-11-22T08:48:20.000Z");
  put_json("vc", "vp-empty", vp_empty, 1);

  /* ---- ZCAP: root by id0, delegated to id1 (with an expiry caveat), invoked by id1 ---- */
  hm_json *actions = parse("[\"https://harmony.example/vocab#SendMessage\",\"https://harmony.example/vocab#ReadChannel\"]");
  hm_json *scope = parse("{\"community\":\"c1\"}");
  hm_json *root = NULL, *deleg = NULL, *inv = NULL;
  CHECK(hm_zcap_create(&root, NULL, fz_ids[0].did, fz_ids[0].seed, fz_ids[0].did, actions, scope, NULL,
                       "urn:uuid:0000000000000000000000000000000a", "2026-11-22T08:00:00.000Z"));
  hm_json *act1 = parse("[\"https://harmony.example/vocab#SendMessage\"]");
  hm_json *cav = parse("[{\"type\":\"harmony:Expiry\",\"value\":\"2027-01-01T00:00:00.000Z\"}]");
  CHECK(hm_zcap_create(&deleg, root, fz_ids[0].did, fz_ids[0].seed, fz_ids[1].did, act1, scope, cav,
                       "urn:uuid:0000000000000000000000000000000b", "2026-11-22T08:10:00.000Z"));
  CHECK(hm_zcap_invoke(&inv, deleg, fz_ids[1].seed, "https://harmony.example/vocab#SendMessage",
                       "channel:c1/general", "2026-11-22T08:48:00.000Z"));
  hm_json *z = hm_json_new_object();
  CHECK(hm_json_object_setc(z, "invocation", hm_json_clone(inv)));
  hm_json *chain = hm_json_new_array();
  CHECK(hm_json_array_append(chain, hm_json_clone(root)));
  CHECK(hm_json_array_append(chain, hm_json_clone(deleg)));
  CHECK(hm_json_object_setc(z, "chain", chain));
  put_json("vc", "zcap-delegated", z, 1);
  CHECK(hm_json_object_setc(z, "expect", parse("{\"action\":\"https://harmony.example/vocab#SendMessage\","
                                               "\"target\":\"channel:c1/general\",\"scope\":{\"community\":\"c1\"}}")));
  put_json("vc", "zcap-expect", z, 1);
  hm_json *inv0 = NULL;
  CHECK(hm_zcap_invoke(&inv0, root, fz_ids[0].seed, "https://harmony.example/vocab#ReadChannel", "channel:c1/x",
                       "2026-11-22T08:48:00.000Z"));
  hm_json *z0 = hm_json_new_object();
  CHECK(hm_json_object_setc(z0, "invocation", inv0));
  hm_json *chain0 = hm_json_new_array();
  CHECK(hm_json_array_append(chain0, hm_json_clone(root)));
  CHECK(hm_json_object_setc(z0, "chain", chain0));
  put_json("vc", "zcap-root", z0, 1);

  /* ---- json: the same signed documents as plain JSON ---- */
  put_json("json", "vp-login", vp, 0);
  put_json("json", "zcap-delegated", z, 0);

  /* ---- envelope: login frames and a few authenticated frames ---- */
  frame("sync-state-vp", "sync.state", vp, 0);
  frame("sync-state-vp2", "sync.state", vp2, 0);
  hm_json *tokp = parse("{\"token\":\"eyJkaWQiOiJ4In0=.AAAA\"}");
  frame("auth-token-verify", "auth.token.verify", tokp, 0);

  /* ---- mls: key packages of the identities ---- */
  for (int i = 0; i < FZ_NIDS; i++) {
    uint8_t xpk[32];
    CHECK(hm_ed25519_to_x25519_pk(xpk, fz_ids[i].pk));
    char *kp = NULL;
    size_t kl = 0;
    CHECK(hm_mls_keypackage_create(&kp, &kl, xpk, fz_ids[i].pk, fz_ids[i].seed, fz_ids[i].did));
    char name[32];
    snprintf(name, sizeof name, "keypackage-%d", i);
    put("mls", name, "\x00", kp, kl); /* selector byte 0: key package text */
    hm_json *kpj = parse(kp);
    hm_json *pl = hm_json_new_object();
    CHECK(hm_json_object_setc(pl, "keyPackage", kpj));
    snprintf(name, sizeof name, "mls-keypackage-upload-%d", i);
    frame(name, "mls.keypackage.upload", pl, i);
    hm_json_free(pl);
    hm_free(kp);
  }

  hm_json_free(tokp);
  hm_json_free(z0);
  hm_json_free(z);
  hm_json_free(inv);
  hm_json_free(deleg);
  hm_json_free(root);
  hm_json_free(cav);
  hm_json_free(act1);
  hm_json_free(scope);
  hm_json_free(actions);
  hm_json_free(vp_empty);
  hm_json_free(empty);
  hm_json_free(vp_stale);
  hm_json_free(vp2);
  hm_json_free(vp);
  hm_json_free(creds);
  hm_json_free(vc_revoked);
  hm_json_free(vc_trusted);
  hm_json_free(vc_exp);
  hm_json_free(vc_self);
  printf("seedgen: wrote seeds under %s\n", outdir);
  return 0;
}
