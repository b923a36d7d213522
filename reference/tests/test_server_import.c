/* test_server_import.c - the migration import (R-HTTP-14 .. R-HTTP-17) with messages and
 * imported members, and linking an imported member to a DID (R-HTTP-22, R-COMM-38): the
 * sans-I/O core with a fake environment and an in-memory store, no sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/httpsig.h"
#include "harmony/json.h"
#include "harmony/server.h"
#include "harmony/store.h"
#include "harmony/vc.h"

#include "server_rig.h"







static void http_call(rig *r, const ident *who, const char *method, const char *target, const char *body,
                      hm_http_response *resp) {
  char *auth = NULL;
  F.now += 1000; /* a fresh signature per call (replay cache) */
  if (who) assert_int_equal(hm_httpsig_sign(&auth, NULL, F.now / 1000, method, target, who->id.seed32), HM_OK);
  hm_http_request q = {method, target, NULL, auth, (const uint8_t *)body, body ? strlen(body) : 0};
  hm_server_http(r->srv, &q, resp);
  hm_free(auth);
}

#define HV "https://harmony.example/vocab#"
#define TYPE "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

/* The signed import body for quads (encrypted under who's export key, R-CRY-EXP-1). */
static char *import_body(const ident *who, const char *quads, const char *name) {
  uint8_t key[32], nonce[24];
  memset(nonce, 7, sizeof nonce);
  assert_int_equal(hm_hkdf32(key, who->id.seed32, 32, "harmony-export-salt-v1", "harmony-export"), HM_OK);
  size_t n = strlen(quads);
  uint8_t *ct = malloc(n + 16);
  assert_int_equal(hm_xchacha_seal(ct, key, nonce, (const uint8_t *)quads, n, NULL, 0), HM_OK);
  char *ct64 = malloc(hm_base64_encoded_len(n + 16, 0)), n64[64], sk64[64];
  assert_int_equal(hm_base64_encode(ct64, hm_base64_encoded_len(n + 16, 0), ct, n + 16, 0), HM_OK);
  assert_int_equal(hm_base64_encode(n64, sizeof n64, nonce, 24, 0), HM_OK);
  assert_int_equal(hm_base64_encode(sk64, sizeof sk64, who->id.seed32, 32, 0), HM_OK);
  size_t cap = strlen(ct64) + 1024;
  char *body = malloc(cap);
  snprintf(body, cap,
           "{\"bundle\":{\"ciphertext\":\"%s\",\"nonce\":\"%s\",\"metadata\":{}},\"adminDID\":\"%s\","
           "\"communityName\":\"%s\",\"adminKeyPair\":{\"publicKey\":\"\",\"secretKey\":\"%s\"}}",
           ct64, n64, who->id.did, name, sk64);
  free(ct);
  free(ct64);
  return body;
}

static void import(rig *r, const ident *who, const char *quads, hm_http_response *resp) {
  char *body = import_body(who, quads, "Imported");
  memset(resp, 0, sizeof *resp);
  http_call(r, who, "POST", "/api/migration/import", body, resp);
  free(body);
}

#define C "<community:src>"
#define G " <community:src> .\n"
static const char BUNDLE[] =
    C " <" TYPE "> <" HV "Community>" G
    C " <" HV "name> \"Old server\"" G
    "<community:src:channel:a> <" TYPE "> <" HV "Channel>" G
    "<community:src:channel:a> <" HV "name> \"general\"" G
    "<community:src:channel:a> <" HV "community> " C G
    "<community:src:channel:b> <" TYPE "> <" HV "Channel>" G
    "<community:src:channel:b> <" HV "name> \"voice-ish\"" G
    "<community:src:channel:b> <" HV "channelType> \"voice\"" G
    "<harmony:member:1001> <" TYPE "> <" HV "Member>" G
    "<harmony:member:1001> <" HV "name> \"alice \\\"a\\\"\"" G
    "<harmony:member:1002> <" TYPE "> <" HV "Member>" G
    "<m:2> <" TYPE "> <" HV "Message>" G
    "<m:2> <" HV "author> <harmony:member:1002>" G
    "<m:2> <" HV "inChannel> <community:src:channel:a>" G
    "<m:2> <" HV "timestamp> \"2020-01-02T00:00:00.000Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime>" G
    "<m:2> <" HV "content> \"second\"" G
    "<m:1> <" TYPE "> <" HV "Message>" G
    "<m:1> <" HV "author> <harmony:member:1001>" G
    "<m:1> <" HV "inChannel> <community:src:channel:a>" G
    "<m:1> <" HV "timestamp> \"2020-01-01T00:00:00.000Z\"" G
    "<m:1> <" HV "content> \"first\\nline\"" G
    "<m:1> <" HV "unknownPredicate> \"ignored\"" G
    "<m:3> <" TYPE "> <" HV "Message>" G
    "<m:3> <" HV "author> <harmony:member:1001>" G
    "<m:3> <" HV "inChannel> <community:src:channel:b>" G
    "<m:3> <" HV "timestamp> \"2020-01-03T00:00:00.000Z\"" G
    "<m:3> <" HV "content> \"third\"" G;

typedef struct {
  char author[64][64], content[64][64], ts[64][32];
  int64_t seq[64];
  size_t n;
} page;

static int page_cb(void *ctx, const hm_store_message *m) {
  page *p = ctx;
  assert_true(p->n < 64);
  snprintf(p->author[p->n], 64, "%s", m->author);
  snprintf(p->ts[p->n], 32, "%s", m->timestamp);
  hm_json *pl = obj(m->payload_json);
  snprintf(p->content[p->n], 64, "%s", hm_json_string(hm_json_object_getc(pl, "content"), NULL));
  hm_json_free(pl);
  p->seq[p->n] = m->seq;
  p->n++;
  return 0;
}

static void read_page(rig *r, const char *chid, page *p) {
  memset(p, 0, sizeof *p);
  hm_store_page_query q = {-1, 0, 0, 0, 100};
  assert_int_equal(r->st->vt->message_page(r->st, chid, &q, page_cb, p), HM_OK);
}

typedef struct {
  char subject[8][64], name[8][64], linked[8][128];
  size_t n;
} phs;

static int ph_cb(void *ctx, const hm_store_placeholder *p) {
  phs *x = ctx;
  snprintf(x->subject[x->n], 64, "%s", p->subject);
  snprintf(x->name[x->n], 64, "%s", p->name);
  snprintf(x->linked[x->n], 128, "%s", p->linked_did ? p->linked_did : "");
  x->n++;
  return 0;
}

static int count_cb(void *ctx, const hm_store_community *c) {
  (void)c;
  (*(int *)ctx)++;
  return 0;
}

static int communities(rig *r) {
  int n = 0;
  assert_int_equal(r->st->vt->community_list(r->st, count_cb, &n), HM_OK);
  return n;
}

static void test_server_import_messages_and_members(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
  hm_http_response resp;
  import(&r, &a, BUNDLE, &resp);
  if (resp.status != 200) fail_msg("import: %d %s", resp.status, resp.body);
  hm_json *ans = obj(resp.body);
  hm_free(resp.body);
  const char *cid = hm_json_string(hm_json_object_getc(ans, "communityId"), NULL);
  assert_non_null(cid);
  assert_int_equal(strncmp(cid, "community:", 10), 0);
  hm_json *chs = hm_json_object_getc(ans, "channels"), *mem = hm_json_object_getc(ans, "members");
  assert_int_equal(hm_json_array_size(chs), 2);
  assert_string_equal(hm_json_string(hm_json_object_getc(hm_json_array_get(chs, 1), "type"), NULL), "voice");
  assert_int_equal(hm_json_array_size(mem), 2);
  hm_json *m0 = hm_json_array_get(mem, 0);
  assert_string_equal(hm_json_string(hm_json_object_getc(m0, "id"), NULL), "harmony:member:1001");
  assert_string_equal(hm_json_string(hm_json_object_getc(m0, "displayName"), NULL), "alice \"a\"");
  assert_int_equal(hm_json_kind_of(hm_json_object_getc(m0, "linked")), HM_JSON_FALSE);
  /* the unnamed member is shown by its Discord id */
  assert_string_equal(hm_json_string(hm_json_object_getc(hm_json_array_get(mem, 1), "displayName"), NULL), "1002");
  /* messages: in the right channels, in timestamp order, authors are the placeholders */
  page p;
  read_page(&r, hm_json_string(hm_json_object_getc(hm_json_array_get(chs, 0), "id"), NULL), &p);
  assert_int_equal(p.n, 2);
  assert_string_equal(p.content[0], "first\nline");
  assert_string_equal(p.author[0], "harmony:member:1001");
  assert_string_equal(p.ts[0], "2020-01-01T00:00:00.000Z");
  assert_string_equal(p.content[1], "second");
  assert_string_equal(p.author[1], "harmony:member:1002");
  assert_true(p.seq[0] < p.seq[1]);
  read_page(&r, hm_json_string(hm_json_object_getc(hm_json_array_get(chs, 1), "id"), NULL), &p);
  assert_int_equal(p.n, 1);
  assert_string_equal(p.content[0], "third");
  /* placeholders stored, never memberships: the importer is the only member */
  phs x = {0};
  assert_int_equal(r.st->vt->placeholder_list(r.st, cid, ph_cb, &x), HM_OK);
  assert_int_equal(x.n, 2);
  assert_string_equal(x.linked[0], "");
  int64_t n = 0;
  assert_int_equal(r.st->vt->member_count(r.st, cid, &n), HM_OK);
  assert_int_equal(n, 1);
  assert_int_equal(r.st->vt->member_get(r.st, cid, "harmony:member:1001", NULL, NULL), HM_ERR_NOT_FOUND);
  /* the broadcast audience (the store's member cache) is the importer alone */
  const char *const *dids = NULL;
  size_t nd = 0;
  assert_int_equal(r.st->vt->member_dids(r.st, cid, &dids, &nd), HM_OK);
  assert_int_equal(nd, 1);
  assert_string_equal(dids[0], a.id.did);
  hm_json_free(ans);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

static void test_server_import_invalid_bundles(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
#define HEAD C " <" TYPE "> <" HV "Community>" G "<ch> <" TYPE "> <" HV "Channel>" G \
  "<harmony:member:1> <" TYPE "> <" HV "Member>" G "<m> <" TYPE "> <" HV "Message>" G
#define OKMSG(skip) \
  (strcmp(skip, "author") ? "<m> <" HV "author> <harmony:member:1>" G : ""), \
  (strcmp(skip, "chan") ? "<m> <" HV "inChannel> <ch>" G : ""), \
  (strcmp(skip, "ts") ? "<m> <" HV "timestamp> \"2020-01-01T00:00:00Z\"" G : ""), \
  (strcmp(skip, "content") ? "<m> <" HV "content> \"x\"" G : "")
  static const struct {
    const char *skip, *extra, *reason;
  } cases[] = {
      {"author", "<m> <" HV "author> <harmony:member:2>" G, "a message author is not an imported member"},
      {"author", "<m> <" HV "author> <did:key:z6Mkvictim>" G, "a message author is a DID"},
      {"author", "", "a message needs exactly one author"},
      {"chan", "<m> <" HV "inChannel> <elsewhere>" G, "a message is not in an imported channel"},
      {"ts", "<m> <" HV "timestamp> \"yesterday\"" G, "a message timestamp is not an ISO 8601 date"},
      {"content", "<m> <" HV "content> <iri:x>" G, "a message content is not a literal"},
      {"content", "<m> <" HV "content> \"a\"" G "<m> <" HV "content> \"b\"" G, "a message needs exactly one content"},
      {"", "<did:key:z6Mkx> <" TYPE "> <" HV "Member>" G, "a member is a DID"},
      {"", "<someone> <" TYPE "> <" HV "Member>" G, "a member is not harmony:member:<id>"},
      {"", "<community:two> <" TYPE "> <" HV "Community>" G, "exactly one community expected"},
  };
  char text[4096], want[256];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *parts[4] = {OKMSG(cases[i].skip)};
    snprintf(text, sizeof text, "%s%s%s%s%s%s", HEAD, parts[0], parts[1], parts[2], parts[3], cases[i].extra);
    hm_http_response resp;
    import(&r, &a, text, &resp);
    snprintf(want, sizeof want, "{\"error\":\"Import failed: invalid bundle: %s\"}", cases[i].reason);
    if (resp.status != 400 || strcmp(resp.body, want)) fail_msg("case %zu: %d %s", i, resp.status, resp.body);
    hm_free(resp.body);
  }
  /* too long content (4001 UTF-16 code units) */
  static char big[8192];
  char *longtext = malloc(4002);
  memset(longtext, 'x', 4001);
  longtext[4001] = 0;
  snprintf(big, sizeof big, "%s<m> <" HV "author> <harmony:member:1>" G "<m> <" HV "inChannel> <ch>" G
           "<m> <" HV "timestamp> \"2020-01-01T00:00:00Z\"" G "<m> <" HV "content> \"%s\"" G, HEAD, longtext);
  free(longtext);
  hm_http_response resp;
  import(&r, &a, big, &resp);
  assert_int_equal(resp.status, 400);
  assert_string_equal(resp.body, "{\"error\":\"Import failed: invalid bundle: a message content is too long\"}");
  hm_free(resp.body);
  /* a syntax error names its line */
  import(&r, &a, C " <" TYPE "> <" HV "Community>" G "<a> <b> \"open" G, &resp);
  assert_int_equal(resp.status, 400);
  assert_string_equal(resp.body, "{\"error\":\"Import failed: invalid bundle: line 2: unterminated literal\"}");
  hm_free(resp.body);
  /* nothing was stored by any of them */
  assert_int_equal(communities(&r), 0);
  /* the same bundle with the valid message imports */
  const char *parts[4] = {OKMSG("")};
  snprintf(text, sizeof text, "%s%s%s%s%s", HEAD, parts[0], parts[1], parts[2], parts[3]);
  import(&r, &a, text, &resp);
  assert_int_equal(resp.status, 200);
  hm_free(resp.body);
  assert_int_equal(communities(&r), 1);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

static void test_server_reconcile_links_and_broadcasts(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a, b, e;
  ident_make(&a, 1);
  ident_make(&b, 2);
  ident_make(&e, 3);
  peer pa = {0}, pb = {0}, pe = {0};
  hm_server_conn *ca = login(&r, &pa, &a, NULL);
  hm_server_conn *cb = login(&r, &pb, &b, NULL);
  hm_server_conn *ce = login(&r, &pe, &e, NULL);
  (void)ca;
  (void)ce;
  hm_http_response resp;
  import(&r, &a, BUNDLE, &resp);
  assert_int_equal(resp.status, 200);
  hm_json *ans = obj(resp.body);
  hm_free(resp.body);
  char cid[128], body[600];
  snprintf(cid, sizeof cid, "%s", hm_json_string(hm_json_object_getc(ans, "communityId"), NULL));
  hm_json_free(ans);
  join(&r, cb, &pb, cid);
  peer_clear(&pa);
  peer_clear(&pb);
  peer_clear(&pe);
  static const char *const keys[] = {"communityId", "discordUserId", "did"};
  /* bad fields, wrong method, no signature */
  snprintf(body, sizeof body, "{\"communityId\":\"%s\",\"did\":\"%s\"}", cid, b.id.did);
  http_call(&r, &a, "POST", "/api/migration/reconcile", body, &resp);
  assert_int_equal(resp.status, 400);
  hm_free(resp.body);
  http_call(&r, &a, "GET", "/api/migration/reconcile", NULL, &resp);
  assert_int_equal(resp.status, 405);
  hm_free(resp.body);
  snprintf(body, sizeof body, "{\"%s\":\"%s\",\"%s\":\"1001\",\"%s\":\"%s\"}", keys[0], cid, keys[1], keys[2], b.id.did);
  http_call(&r, NULL, "POST", "/api/migration/reconcile", body, &resp);
  assert_int_equal(resp.status, 401);
  hm_free(resp.body);
  /* only the creator links */
  http_call(&r, &b, "POST", "/api/migration/reconcile", body, &resp);
  assert_int_equal(resp.status, 403);
  hm_free(resp.body);
  /* only to a DID that is a member (e never joined) */
  char body_e[600];
  snprintf(body_e, sizeof body_e, "{\"communityId\":\"%s\",\"discordUserId\":\"1001\",\"did\":\"%s\"}", cid, e.id.did);
  http_call(&r, &a, "POST", "/api/migration/reconcile", body_e, &resp);
  assert_int_equal(resp.status, 409);
  hm_free(resp.body);
  /* unknown imported member, unknown community */
  char body_x[600];
  snprintf(body_x, sizeof body_x, "{\"communityId\":\"%s\",\"discordUserId\":\"999\",\"did\":\"%s\"}", cid, b.id.did);
  http_call(&r, &a, "POST", "/api/migration/reconcile", body_x, &resp);
  assert_int_equal(resp.status, 404);
  hm_free(resp.body);
  snprintf(body_x, sizeof body_x, "{\"communityId\":\"community:none\",\"discordUserId\":\"1001\",\"did\":\"%s\"}",
           b.id.did);
  http_call(&r, &a, "POST", "/api/migration/reconcile", body_x, &resp);
  assert_int_equal(resp.status, 404);
  hm_free(resp.body);
  assert_int_equal(pa.n + pb.n + pe.n, 0); /* none of the refusals sent anything */
  /* the link */
  http_call(&r, &a, "POST", "/api/migration/reconcile", body, &resp);
  if (resp.status != 200) fail_msg("reconcile: %d %s", resp.status, resp.body);
  hm_json *ok = obj(resp.body);
  hm_free(resp.body);
  assert_string_equal(hm_json_string(hm_json_object_getc(ok, "newDID"), NULL), b.id.did);
  assert_string_equal(hm_json_string(hm_json_object_getc(ok, "displayName"), NULL), "alice \"a\"");
  hm_json_free(ok);
  /* both members hear it, the outsider does not */
  assert_int_equal(count_type(&pa, "community.member.reconciled"), 1);
  assert_int_equal(count_type(&pb, "community.member.reconciled"), 1);
  assert_int_equal(pe.n, 0);
  hm_json *f = frame(&pb, pb.n - 1);
  assert_string_equal(pstr(f, "communityId"), cid);
  assert_string_equal(pstr(f, "discordUserId"), "1001");
  assert_string_equal(pstr(f, "newDID"), b.id.did);
  assert_string_equal(hm_json_string(hm_json_object_getc(f, "sender"), NULL), "server");
  hm_json_free(f);
  phs x = {0};
  assert_int_equal(r.st->vt->placeholder_list(r.st, cid, ph_cb, &x), HM_OK);
  assert_string_equal(x.linked[0], b.id.did);
  assert_string_equal(x.linked[1], "");
  /* a second link of the same member, or of the same DID to another member, is refused */
  http_call(&r, &a, "POST", "/api/migration/reconcile", body, &resp);
  assert_int_equal(resp.status, 409);
  hm_free(resp.body);
  snprintf(body_x, sizeof body_x, "{\"communityId\":\"%s\",\"discordUserId\":\"1002\",\"did\":\"%s\"}", cid, b.id.did);
  http_call(&r, &a, "POST", "/api/migration/reconcile", body_x, &resp);
  assert_int_equal(resp.status, 409);
  hm_free(resp.body);
  peer_clear(&pa);
  peer_clear(&pb);
  peer_clear(&pe);
  hm_identity_clear(&a.id);
  hm_identity_clear(&b.id);
  hm_identity_clear(&e.id);
  rig_close(&r);
}

/* The member view at index i of a community.info.response frame's `members`. */
static const char *view_str(const hm_json *f, size_t i, const char *key) {
  hm_json *mem = hm_json_object_getc(hm_json_object_getc(f, "payload"), "members");
  return hm_json_string(hm_json_object_getc(hm_json_array_get(mem, i), key), NULL);
}

static hm_json_kind view_linked(const hm_json *f, size_t i) {
  hm_json *mem = hm_json_object_getc(hm_json_object_getc(f, "payload"), "members");
  return hm_json_kind_of(hm_json_object_getc(hm_json_array_get(mem, i), "linked"));
}

static size_t payload_array_size(const hm_json *f, const char *key) {
  return hm_json_array_size(hm_json_object_getc(hm_json_object_getc(f, "payload"), key));
}

/* community.info.response lists the stored members, then the unlinked imported members as
 * offline `linked: false` views under their placeholder subject; a linked one drops out
 * (its DID is listed as a member); memberCount and onlineMembers count stored members only
 * (R-COMM-41, R-COMM-33, R-HTTP-16). */
static void test_server_info_lists_unlinked_placeholders(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a, b;
  ident_make(&a, 1);
  ident_make(&b, 2);
  peer pa = {0}, pb = {0};
  hm_server_conn *ca = login(&r, &pa, &a, NULL), *cb = login(&r, &pb, &b, NULL);
  (void)ca; /* a is reached through the import's announcement */
  hm_http_response resp;
  import(&r, &a, BUNDLE, &resp);
  assert_int_equal(resp.status, 200);
  hm_json *ans = obj(resp.body);
  hm_free(resp.body);
  char cid[128], pl[400];
  snprintf(cid, sizeof cid, "%s", hm_json_string(hm_json_object_getc(ans, "communityId"), NULL));
  hm_json_free(ans);
  /* the import's announcement (R-HTTP-17) already carries the placeholders */
  assert_true(frame_is(&pa, pa.n - 1, "community.info.response"));
  hm_json *f = frame(&pa, pa.n - 1);
  assert_int_equal(payload_array_size(f, "members"), 3);
  assert_string_equal(view_str(f, 0, "did"), a.id.did);
  assert_int_equal(view_linked(f, 0), HM_JSON_TRUE);
  assert_string_equal(view_str(f, 0, "status"), "online");
  assert_string_equal(view_str(f, 1, "did"), "harmony:member:1001");
  assert_string_equal(view_str(f, 1, "displayName"), "alice \"a\"");
  assert_string_equal(view_str(f, 1, "status"), "offline");
  assert_int_equal(view_linked(f, 1), HM_JSON_FALSE);
  assert_string_equal(view_str(f, 2, "did"), "harmony:member:1002");
  assert_string_equal(view_str(f, 2, "displayName"), "1002");
  assert_int_equal(view_linked(f, 2), HM_JSON_FALSE);
  assert_int_equal(payload_array_size(f, "onlineMembers"), 1);
  hm_json *info = hm_json_object_getc(hm_json_object_getc(f, "payload"), "info");
  assert_int_equal((int)hm_json_number(hm_json_object_getc(info, "memberCount")), 1);
  hm_json_free(f);
  /* b joins and is linked to 1001: the list is a, b, then 1002 alone */
  join(&r, cb, &pb, cid);
  char body[600];
  snprintf(body, sizeof body, "{\"communityId\":\"%s\",\"discordUserId\":\"1001\",\"did\":\"%s\"}", cid, b.id.did);
  http_call(&r, &a, "POST", "/api/migration/reconcile", body, &resp);
  assert_int_equal(resp.status, 200);
  hm_free(resp.body);
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\"}", cid);
  feed_free(&r, cb, envelope("ci", "community.info", NULL, obj(pl)));
  assert_true(frame_is(&pb, pb.n - 1, "community.info.response"));
  f = frame(&pb, pb.n - 1);
  assert_int_equal(payload_array_size(f, "members"), 3);
  assert_string_equal(view_str(f, 0, "did"), a.id.did);
  assert_string_equal(view_str(f, 1, "did"), b.id.did);
  assert_int_equal(view_linked(f, 1), HM_JSON_TRUE);
  assert_string_equal(view_str(f, 2, "did"), "harmony:member:1002");
  assert_int_equal(view_linked(f, 2), HM_JSON_FALSE);
  assert_int_equal(payload_array_size(f, "onlineMembers"), 2);
  info = hm_json_object_getc(hm_json_object_getc(f, "payload"), "info");
  assert_int_equal((int)hm_json_number(hm_json_object_getc(info, "memberCount")), 2);
  hm_json_free(f);
  peer_clear(&pa);
  peer_clear(&pb);
  hm_identity_clear(&a.id);
  hm_identity_clear(&b.id);
  rig_close(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_import_messages_and_members),
      cmocka_unit_test(test_server_import_invalid_bundles),
      cmocka_unit_test(test_server_reconcile_links_and_broadcasts),
      cmocka_unit_test(test_server_info_lists_unlinked_placeholders),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
