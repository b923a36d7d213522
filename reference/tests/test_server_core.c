/* test_server_core.c - the sans-I/O server core driven with a fake environment and an
 * in-memory (SQLite ":memory:") store: authentication paths, envelope errors, broadcast
 * audiences, history paging, restart behaviour and the registry/handler agreement. */
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
#include "harmony/did.h"
#include "harmony/httpsig.h"
#include "harmony/json.h"
#include "harmony/server.h"
#include "harmony/store.h"
#include "harmony/vc.h"
#include "server_registry.h"

#include "server_rig.h"

/* Assert the last frame is error <code>; returns its message in buf. */
static void expect_error(const peer *p, const char *code, const char *request_id, char *msg, size_t cap) {
  assert_true(p->n > 0);
  hm_json *f = frame(p, p->n - 1);
  assert_true(hm_json_string_is(hm_json_object_getc(f, "type"), "error"));
  assert_string_equal(pstr(f, "code"), code);
  if (request_id)
    assert_string_equal(pstr(f, "requestId"), request_id);
  else
    assert_null(pstr(f, "requestId"));
  assert_string_equal(hm_json_string(hm_json_object_getc(f, "sender"), NULL), "server");
  if (msg) snprintf(msg, cap, "%s", pstr(f, "message"));
  hm_json_free(f);
}



/* community.create by c; returns community id and first channel id (caller frees). */
static void create_community(rig *r, hm_server_conn *c, peer *p, char **cid, char **chid) {
  size_t before = p->n;
  feed_free(r, c, envelope("cc-1", "community.create", NULL, obj("{\"name\":\"test\"}")));
  assert_int_equal(p->n, before + 1);
  hm_json *f = frame(p, before);
  assert_true(hm_json_string_is(hm_json_object_getc(f, "type"), "community.updated"));
  hm_json *pl = hm_json_object_getc(f, "payload");
  *cid = strdup(pstr(f, "communityId"));
  assert_int_equal(strncmp(*cid, "community:", 10), 0);
  assert_int_equal(strlen(*cid), 10 + 32);
  hm_json *ch = hm_json_array_get(hm_json_object_getc(pl, "channels"), 0);
  *chid = strdup(hm_json_string(hm_json_object_getc(ch, "id"), NULL));
  assert_string_equal(hm_json_string(hm_json_object_getc(ch, "name"), NULL), "general");
  /* the root capability and membership credential verify (R-COMM-2) */
  hm_verify_opts o = {0};
  o.profile = HM_PROFILE_HARDENED;
  o.now_ms = F.now;
  hm_json *vc = hm_json_object_getc(pl, "membershipVC");
  assert_int_equal(hm_vc_verify(vc, &o, NULL), HM_OK);
  hm_json *cap = hm_json_object_getc(pl, "rootCapability");
  assert_true(hm_json_string_is(hm_json_object_getc(cap, "invoker"), hm_server_conn_did(c)));
  hm_json_free(f);
}


static char *msg_payload(const char *cid, const char *chid, const char *text, int counter) {
  char *s = malloc(1024);
  snprintf(s, 1024, "{\"communityId\":\"%s\",\"channelId\":\"%s\",\"content\":\"%s\",\"clock\":{\"counter\":%d}}", cid,
           chid, text, counter);
  return s;
}

static void send_msg(rig *r, hm_server_conn *c, const char *id, const char *cid, const char *chid, const char *text,
                     int counter) {
  char *pl = msg_payload(cid, chid, text, counter);
  feed_free(r, c, envelope(id, "channel.send", NULL, obj(pl)));
  free(pl);
}

/* ---- authentication ------------------------------------------------------------------- */

static void test_server_auth_vp_ok(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
  peer p = {0};
  char *token = NULL;
  login(&r, &p, &a, &token);
  assert_int_equal(p.n, 1); /* member of nothing: no resync frames (R-AUTH-18) */
  assert_non_null(strchr(token, '.'));
  free(token);
  peer_clear(&p);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

static void test_server_auth_vp_bad_signature_closes_4002(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
  peer p = {0};
  hm_server_conn *c = hm_server_conn_open(r.srv, &p);
  hm_json *vp = vp_for(&a, F.now);
  hm_json *proof = hm_json_object_getc(vp, "proof");
  char pv[200];
  snprintf(pv, sizeof pv, "%s", hm_json_string(hm_json_object_getc(proof, "proofValue"), NULL));
  pv[20] = pv[20] == '2' ? '3' : '2';
  assert_int_equal(hm_json_object_setc(proof, "proofValue", hm_json_new_cstr(pv)), HM_OK);
  feed_free(&r, c, envelope("a", "sync.state", a.id.did, vp));
  char msg[128];
  expect_error(&p, "AUTH_INVALID", NULL, msg, sizeof msg);
  assert_string_equal(msg, "Invalid VP");
  assert_int_equal(p.close_code, 4002);
  assert_string_equal(p.close_reason, "Authentication failed");
  assert_null(hm_server_conn_did(c));
  hm_server_conn_closed(r.srv, c);
  peer_clear(&p);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

static void test_server_auth_vp_replay_refused(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
  peer p1 = {0}, p2 = {0};
  hm_json *vp = vp_for(&a, F.now);
  char *text = envelope("a", "sync.state", a.id.did, vp);
  hm_server_conn *c1 = hm_server_conn_open(r.srv, &p1), *c2 = hm_server_conn_open(r.srv, &p2);
  feed(&r, c1, text);
  assert_true(frame_is(&p1, 0, "sync.response"));
  feed(&r, c2, text);
  char msg[128];
  expect_error(&p2, "AUTH_INVALID", NULL, msg, sizeof msg);
  assert_string_equal(msg, "Replayed VP");
  assert_int_equal(p2.close_code, 4002);
  hm_free(text);
  peer_clear(&p1);
  peer_clear(&p2);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

static void test_server_auth_vp_stale_refused(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
  peer p = {0};
  hm_server_conn *c = hm_server_conn_open(r.srv, &p);
  feed_free(&r, c, envelope("a", "sync.state", a.id.did, vp_for(&a, F.now - 60000))); /* W = 5 s */
  char msg[128];
  expect_error(&p, "AUTH_INVALID", NULL, msg, sizeof msg);
  assert_string_equal(msg, "Stale VP");
  assert_int_equal(p.close_code, 4002);
  peer_clear(&p);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

static void test_server_auth_vp_sender_mismatch_refused(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a, b;
  ident_make(&a, 1);
  ident_make(&b, 2);
  peer p = {0};
  hm_server_conn *c = hm_server_conn_open(r.srv, &p);
  feed_free(&r, c, envelope("a", "sync.state", b.id.did, vp_for(&a, F.now))); /* R-AUTH-23 */
  expect_error(&p, "AUTH_INVALID", NULL, NULL, 0);
  assert_int_equal(p.close_code, 4002);
  peer_clear(&p);
  hm_identity_clear(&a.id);
  hm_identity_clear(&b.id);
  rig_close(&r);
}

static void test_server_auth_required_before_login(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
  peer p = {0};
  hm_server_conn *c = hm_server_conn_open(r.srv, &p);
  feed_free(&r, c, envelope("x-1", "channel.send", NULL, obj("{\"communityId\":\"c\",\"channelId\":\"d\",\"content\":\"hi\"}")));
  expect_error(&p, "AUTH_REQUIRED", "x-1", NULL, 0);
  feed(&r, c, "42");
  expect_error(&p, "AUTH_REQUIRED", NULL, NULL, 0);
  feed_free(&r, c, envelope("x-2", "sync.state", NULL, hm_json_new_null())); /* no payload */
  expect_error(&p, "AUTH_REQUIRED", "x-2", NULL, 0);
  feed(&r, c, "{\"type\":");
  expect_error(&p, "INVALID_MESSAGE", NULL, NULL, 0);
  assert_int_equal(p.close_code, 0);
  assert_int_equal(p.n, 4);
  /* still able to log in */
  feed_free(&r, c, envelope("a", "sync.state", a.id.did, vp_for(&a, F.now)));
  assert_true(frame_is(&p, 4, "sync.response"));
  peer_clear(&p);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

static void test_server_auth_timeout_closes_4001(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  peer p = {0};
  hm_server_conn_open(r.srv, &p);
  F.now += 499;
  hm_server_tick(r.srv, F.now);
  assert_int_equal(p.close_code, 0);
  F.now += 1;
  hm_server_tick(r.srv, F.now);
  assert_int_equal(p.close_code, 4001);
  assert_string_equal(p.close_reason, "Authentication timeout");
  assert_int_equal(p.n, 0); /* no error frame first (R-CLOSE-1) */
  peer_clear(&p);
  rig_close(&r);
}

static void test_server_frames_before_auth_limited(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  peer p = {0};
  hm_server_conn *c = hm_server_conn_open(r.srv, &p);
  for (int i = 0; i < 16; i++) feed(&r, c, "{}");
  assert_int_equal(p.close_code, 0);
  feed(&r, c, "{}");
  assert_int_equal(p.close_code, 1008); /* R-LIM-5 */
  peer_clear(&p);
  rig_close(&r);
}

static void test_server_token_login_and_tamper(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
  peer p1 = {0}, p2 = {0}, p3 = {0};
  char *token = NULL;
  login(&r, &p1, &a, &token);
  hm_server_conn *c2 = hm_server_conn_open(r.srv, &p2);
  char pl[1200];
  snprintf(pl, sizeof pl, "{\"token\":\"%s\"}", token);
  feed_free(&r, c2, envelope("t", "auth.token.verify", a.id.did, obj(pl)));
  assert_true(frame_is(&p2, 0, "sync.response"));
  assert_string_equal(hm_server_conn_did(c2), a.id.did);
  /* a changed payload character: refused with auth.token.expired, connection open */
  hm_server_conn *c3 = hm_server_conn_open(r.srv, &p3);
  token[5] = token[5] == 'A' ? 'B' : 'A';
  snprintf(pl, sizeof pl, "{\"token\":\"%s\"}", token);
  feed_free(&r, c3, envelope("t", "auth.token.verify", a.id.did, obj(pl)));
  assert_int_equal(p3.n, 1);
  assert_true(frame_is(&p3, 0, "auth.token.expired"));
  assert_int_equal(p3.close_code, 0);
  assert_null(hm_server_conn_did(c3));
  /* a non-string token too */
  feed_free(&r, c3, envelope("t", "auth.token.verify", NULL, obj("{\"token\":7}")));
  assert_true(frame_is(&p3, 1, "auth.token.expired"));
  free(token);
  peer_clear(&p1);
  peer_clear(&p2);
  peer_clear(&p3);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

static void test_server_token_request_reply_id(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
  peer p = {0};
  hm_server_conn *c = login(&r, &p, &a, NULL);
  feed_free(&r, c, envelope("msg-abc-1", "auth.token.request", NULL, NULL));
  hm_json *f = frame(&p, 1);
  assert_true(hm_json_string_is(hm_json_object_getc(f, "type"), "auth.token.response"));
  assert_true(hm_json_string_is(hm_json_object_getc(f, "id"), "msg-abc-1-response"));
  assert_non_null(pstr(f, "token"));
  hm_json_free(f);
  peer_clear(&p);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

static void test_server_token_survives_restart(void **state) {
  (void)state;
  char path[] = "/tmp/hm-test-server-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  F.now = T0;
  F.rnd = 7;
  rig r;
  rig_open_at(&r, path);
  ident a;
  ident_make(&a, 1);
  peer p1 = {0}, p2 = {0};
  char *token = NULL, *cid, *chid;
  hm_server_conn *c = login(&r, &p1, &a, &token);
  create_community(&r, c, &p1, &cid, &chid);
  rig_close(&r);
  rig_open_at(&r, path);
  hm_server_conn *c2 = hm_server_conn_open(r.srv, &p2);
  char pl[1200];
  snprintf(pl, sizeof pl, "{\"token\":\"%s\"}", token);
  feed_free(&r, c2, envelope("t", "auth.token.verify", NULL, obj(pl)));
  assert_true(frame_is(&p2, 0, "sync.response")); /* R-TOK-6 */
  assert_int_equal(p2.n, 3);
  assert_true(frame_is(&p2, 1, "community.auto-joined")); /* R-AUTH-18 after restart */
  assert_true(frame_is(&p2, 2, "community.info.response"));
  free(token);
  free(cid);
  free(chid);
  peer_clear(&p1);
  peer_clear(&p2);
  hm_identity_clear(&a.id);
  rig_close(&r);
  unlink(path);
  char aux[sizeof path + 8];
  snprintf(aux, sizeof aux, "%s-wal", path);
  unlink(aux);
  snprintf(aux, sizeof aux, "%s-shm", path);
  unlink(aux);
}

/* ---- envelope errors ------------------------------------------------------------------ */

static void test_server_envelope_errors(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
  peer p = {0};
  hm_server_conn *c = login(&r, &p, &a, NULL);
  char msg[160];
  feed(&r, c, "{\"type\":");
  expect_error(&p, "INVALID_MESSAGE", NULL, msg, sizeof msg);
  assert_string_equal(msg, "Invalid JSON");
  const char *nonobj[] = {"[]", "42", "\"x\"", "{}", "null", "{\"type\":\"\"}", "{\"type\":5}"};
  for (size_t i = 0; i < sizeof nonobj / sizeof nonobj[0]; i++) {
    feed(&r, c, nonobj[i]);
    expect_error(&p, "INVALID_MESSAGE", NULL, msg, sizeof msg);
    assert_string_equal(msg, "Missing or invalid message type");
  }
  feed_free(&r, c, envelope("req-7", "conformance.bogus", NULL, obj("{}")));
  expect_error(&p, "UNKNOWN_TYPE", "req-7", msg, sizeof msg);
  assert_string_equal(msg, "Unknown message type: conformance.bogus");
  feed_free(&r, c, envelope("req-8", "sync.state", NULL, obj("{}"))); /* R-AUTH-17 */
  expect_error(&p, "UNKNOWN_TYPE", "req-8", NULL, 0);
  feed_free(&r, c, envelope("req-9", "channel.message", NULL, obj("{}"))); /* s2c type */
  expect_error(&p, "UNKNOWN_TYPE", "req-9", NULL, 0);
  feed_free(&r, c, envelope("req-10", "voice.produce", NULL, obj("{}")));
  expect_error(&p, "DEPRECATED", "req-10", NULL, 0);
  feed(&r, c, "{\"type\":\"community.list\",\"id\":5}");
  expect_error(&p, "INVALID_MESSAGE", NULL, msg, sizeof msg);
  assert_string_equal(msg, "Invalid envelope field: id");
  /* nesting: 64 levels pass the parser, 65 do not (R-LIM-3) */
  char deep[400];
  size_t k = 0;
  k += (size_t)sprintf(deep + k, "{\"type\":\"community.list\",\"payload\":");
  for (int i = 0; i < 64; i++) deep[k++] = '[';
  for (int i = 0; i < 64; i++) deep[k++] = ']';
  deep[k++] = '}';
  deep[k] = 0;
  feed(&r, c, deep);
  expect_error(&p, "INVALID_MESSAGE", NULL, msg, sizeof msg);
  assert_string_equal(msg, "JSON nesting too deep");
  /* invalid UTF-8: binary -> error, text -> close 1007 */
  const uint8_t bad[] = {'"', 0xff, '"'};
  hm_server_conn_frame(r.srv, c, bad, sizeof bad, 1);
  expect_error(&p, "INVALID_MESSAGE", NULL, msg, sizeof msg);
  assert_string_equal(msg, "Invalid UTF-8");
  assert_int_equal(p.close_code, 0);
  hm_server_conn_frame(r.srv, c, bad, sizeof bad, 0);
  assert_int_equal(p.close_code, 1007);
  peer_clear(&p);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

static void test_server_payload_validation(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
  peer p = {0};
  hm_server_conn *c = login(&r, &p, &a, NULL);
  char *cid, *chid, msg[160], pl[9000];
  create_community(&r, c, &p, &cid, &chid);
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"content\":\"x\"}", cid);
  feed_free(&r, c, envelope("m1", "channel.send", NULL, obj(pl)));
  expect_error(&p, "INVALID_PAYLOAD", "m1", msg, sizeof msg);
  assert_string_equal(msg, "Missing or invalid field: channelId");
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"channelId\":7,\"content\":\"x\"}", cid);
  feed_free(&r, c, envelope("m2", "channel.send", NULL, obj(pl)));
  expect_error(&p, "INVALID_PAYLOAD", "m2", NULL, 0);
  char big[4002];
  memset(big, 'x', 4001);
  big[4001] = 0;
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"channelId\":\"%s\",\"content\":\"%s\"}", cid, chid, big);
  feed_free(&r, c, envelope("m3", "channel.send", NULL, obj(pl)));
  expect_error(&p, "INVALID_PAYLOAD", "m3", msg, sizeof msg);
  assert_string_equal(msg, "content exceeds maximum length of 4000");
  feed_free(&r, c, envelope("m4", "channel.send", NULL, hm_json_new_null()));
  expect_error(&p, "INVALID_PAYLOAD", "m4", msg, sizeof msg);
  assert_string_equal(msg, "Missing or invalid payload");
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"channelId\":\"%s\",\"content\":{\"ciphertext\":{\"__type\":\"Uint8Array\",\"data\":\"AB=\"}}}",
           cid, chid);
  feed_free(&r, c, envelope("m5", "channel.send", NULL, obj(pl)));
  expect_error(&p, "INVALID_PAYLOAD", "m5", msg, sizeof msg);
  assert_string_equal(msg, "Invalid Uint8Array encoding");
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"channelId\":\"%s\",\"content\":\"hi\"}", cid, chid);
  feed_free(&r, c, envelope(NULL, "channel.send", NULL, obj(pl))); /* R-ORD-4 */
  expect_error(&p, "INVALID_MESSAGE", NULL, msg, sizeof msg);
  assert_string_equal(msg, "Invalid envelope field: id");
  assert_int_equal(count_type(&p, "channel.message"), 0);
  free(cid);
  free(chid);
  peer_clear(&p);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

/* ---- communities, broadcasts and audiences -------------------------------------------- */

static void test_server_channel_send_audience(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident o, b, e;
  ident_make(&o, 1);
  ident_make(&b, 2);
  ident_make(&e, 3);
  peer po = {0}, pb = {0}, pb2 = {0}, pe = {0};
  hm_server_conn *co = login(&r, &po, &o, NULL), *cb = login(&r, &pb, &b, NULL), *ce = login(&r, &pe, &e, NULL);
  char *cid, *chid;
  create_community(&r, co, &po, &cid, &chid);
  join(&r, cb, &pb, cid);
  assert_int_equal(count_type(&po, "community.member.joined"), 1);
  hm_server_conn *cb2 = login(&r, &pb2, &b, NULL); /* bob's second connection: resync */
  assert_int_equal(count_type(&pb2, "community.auto-joined"), 1);
  assert_int_equal(count_type(&pb2, "community.info.response"), 1);
  (void)cb2;
  size_t o0 = po.n, b0 = pb.n, b20 = pb2.n, e0 = pe.n;
  send_msg(&r, co, "msg-1", cid, chid, "hello", 1);
  /* every member connection including the sender's, with request id, sender = DID */
  peer *members[] = {&po, &pb, &pb2};
  size_t starts[] = {o0, b0, b20};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(members[i]->n, starts[i] + 1);
    hm_json *f = frame(members[i], starts[i]);
    assert_true(hm_json_string_is(hm_json_object_getc(f, "type"), "channel.message"));
    assert_true(hm_json_string_is(hm_json_object_getc(f, "id"), "msg-1"));
    assert_true(hm_json_string_is(hm_json_object_getc(f, "sender"), o.id.did));
    assert_true(hm_json_string_is(hm_json_object_getc(f, "timestamp"), "2026-01-01T00:00:00.000Z"));
    assert_string_equal(pstr(f, "content"), "hello");
    hm_json_free(f);
  }
  assert_int_equal(pe.n, e0); /* a connected non-member receives nothing (R-AUTHZ-10) */
  /* the non-member is refused and nothing reaches the members */
  send_msg(&r, ce, "msg-2", cid, chid, "intrusion", 1);
  expect_error(&pe, "NOT_MEMBER", "msg-2", NULL, 0);
  assert_int_equal(po.n, o0 + 1);
  /* forged sender (R-AUTHZ-4) */
  char *pl = msg_payload(cid, chid, "forged", 2);
  feed_free(&r, co, envelope("msg-3", "channel.send", b.id.did, obj(pl)));
  free(pl);
  expect_error(&po, "FORBIDDEN", "msg-3", NULL, 0);
  assert_int_equal(pb.n, b0 + 1);
  /* duplicate id (R-ORD-5) */
  send_msg(&r, co, "msg-1", cid, chid, "again", 3);
  expect_error(&po, "CONFLICT", "msg-1", NULL, 0);
  assert_int_equal(pb.n, b0 + 1);
  /* typing: other members' connections, not the sending connection */
  char tp[300];
  snprintf(tp, sizeof tp, "{\"communityId\":\"%s\",\"channelId\":\"%s\"}", cid, chid);
  size_t o1 = po.n;
  feed_free(&r, cb, envelope("ty-1", "channel.typing", NULL, obj(tp)));
  assert_int_equal(pb.n, b0 + 1);
  assert_true(frame_is(&pb2, pb2.n - 1, "channel.typing.indicator"));
  assert_int_equal(po.n, o1 + 1);
  assert_true(frame_is(&po, o1, "channel.typing.indicator"));
  assert_int_equal(count_type(&pe, "channel.typing.indicator"), 0);
  /* unknown channel (R-CHAN-12) */
  send_msg(&r, co, "msg-4", cid, "nope", "x", 4);
  expect_error(&po, "NOT_FOUND", "msg-4", NULL, 0);
  /* leave: the leaver's other connection is told, the leaver stops receiving */
  char lp[200];
  snprintf(lp, sizeof lp, "{\"communityId\":\"%s\"}", cid);
  size_t bb = pb.n, b2b = pb2.n;
  feed_free(&r, cb, envelope("lv", "community.leave", NULL, obj(lp)));
  assert_int_equal(pb.n, bb);
  assert_true(frame_is(&pb2, b2b, "community.member.left"));
  assert_true(frame_is(&po, po.n - 1, "community.member.left"));
  send_msg(&r, co, "msg-5", cid, chid, "after leave", 5);
  assert_int_equal(pb.n, bb);
  assert_int_equal(pb2.n, b2b + 1);
  feed_free(&r, cb, envelope("lv2", "community.leave", NULL, obj(lp)));
  expect_error(&pb, "NOT_MEMBER", "lv2", NULL, 0);
  free(cid);
  free(chid);
  peer_clear(&po);
  peer_clear(&pb);
  peer_clear(&pb2);
  peer_clear(&pe);
  hm_identity_clear(&o.id);
  hm_identity_clear(&b.id);
  hm_identity_clear(&e.id);
  rig_close(&r);
}

static void test_server_join_unknown_and_repeat(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident o, b;
  ident_make(&o, 1);
  ident_make(&b, 2);
  peer po = {0}, pb = {0};
  hm_server_conn *co = login(&r, &po, &o, NULL), *cb = login(&r, &pb, &b, NULL);
  char *cid, *chid;
  create_community(&r, co, &po, &cid, &chid);
  feed_free(&r, cb, envelope("j0", "community.join", NULL, obj("{\"communityId\":\"community:00\"}")));
  char msg[100];
  expect_error(&pb, "NOT_FOUND", "j0", msg, sizeof msg);
  assert_string_equal(msg, "Community not found");
  join(&r, cb, &pb, cid);
  size_t o0 = po.n;
  join(&r, cb, &pb, cid); /* R-COMM-10: answered again, nothing broadcast */
  assert_int_equal(po.n, o0);
  free(cid);
  free(chid);
  peer_clear(&po);
  peer_clear(&pb);
  hm_identity_clear(&o.id);
  hm_identity_clear(&b.id);
  rig_close(&r);
}

static void test_server_sync_request_pages_exactly(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident o, e;
  ident_make(&o, 1);
  ident_make(&e, 3);
  peer po = {0}, pe = {0};
  hm_server_conn *co = login(&r, &po, &o, NULL), *ce = login(&r, &pe, &e, NULL);
  char *cid, *chid;
  create_community(&r, co, &po, &cid, &chid);
  /* counters out of order: server order wins (R-ORD-6) */
  send_msg(&r, co, "a", cid, chid, "one", 9);
  send_msg(&r, co, "b", cid, chid, "two", 1);
  send_msg(&r, co, "c", cid, chid, "three", 5);
  char pl[400];
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"channelId\":\"%s\",\"limit\":2}", cid, chid);
  size_t n0 = po.n;
  feed_free(&r, co, envelope("s1", "sync.request", NULL, obj(pl)));
  hm_json *f = frame(&po, n0);
  hm_json *pay = hm_json_object_getc(f, "payload");
  assert_true(hm_json_string_is(hm_json_object_getc(f, "type"), "sync.response"));
  hm_json *msgs = hm_json_object_getc(pay, "messages");
  assert_int_equal(hm_json_array_size(msgs), 2);
  assert_true(hm_json_string_is(hm_json_object_getc(hm_json_array_get(msgs, 0), "id"), "a"));
  assert_true(hm_json_string_is(hm_json_object_getc(hm_json_array_get(msgs, 1), "id"), "b"));
  assert_true(hm_json_string_is(hm_json_object_getc(hm_json_array_get(msgs, 1), "sender"), o.id.did));
  assert_int_equal(hm_json_kind_of(hm_json_object_getc(pay, "hasMore")), HM_JSON_TRUE);
  hm_json *lc = hm_json_object_getc(pay, "latestClock");
  assert_true(hm_json_number(hm_json_object_getc(lc, "seq")) == 2);
  char *lct = NULL;
  assert_int_equal(hm_json_stringify(&lct, NULL, lc), HM_OK);
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"channelId\":\"%s\",\"limit\":2,\"clock\":%s}", cid, chid, lct);
  hm_free(lct);
  hm_json_free(f);
  feed_free(&r, co, envelope("s2", "sync.request", NULL, obj(pl)));
  f = frame(&po, n0 + 1);
  pay = hm_json_object_getc(f, "payload");
  msgs = hm_json_object_getc(pay, "messages");
  assert_int_equal(hm_json_array_size(msgs), 1);
  assert_true(hm_json_string_is(hm_json_object_getc(hm_json_array_get(msgs, 0), "id"), "c"));
  assert_int_equal(hm_json_kind_of(hm_json_object_getc(pay, "hasMore")), HM_JSON_FALSE); /* exact (R-HIST-5) */
  hm_json_free(f);
  /* a non-member reads nothing; "dm" is refused the same way (R-SYNC-2, R-SYNC-3) */
  feed_free(&r, ce, envelope("s3", "sync.request", NULL, obj(pl)));
  expect_error(&pe, "NOT_MEMBER", "s3", NULL, 0);
  feed_free(&r, ce, envelope("s4", "sync.request", NULL, obj("{\"communityId\":\"dm\",\"channelId\":\"x\"}")));
  expect_error(&pe, "NOT_MEMBER", "s4", NULL, 0);
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"channelId\":\"%s\",\"limit\":\"2\"}", cid, chid);
  feed_free(&r, co, envelope("s5", "sync.request", NULL, obj(pl)));
  expect_error(&po, "INVALID_PAYLOAD", "s5", NULL, 0);
  free(cid);
  free(chid);
  peer_clear(&po);
  peer_clear(&pe);
  hm_identity_clear(&o.id);
  hm_identity_clear(&e.id);
  rig_close(&r);
}

static uint64_t sfu_id;
static char sfu_path[256];
static int f_sfu(void *ctx, uint64_t id, const char *method, const char *path, const char *body) {
  (void)ctx;
  (void)method;
  (void)body;
  sfu_id = id;
  snprintf(sfu_path, sizeof sfu_path, "%s", path);
  return 0;
}

static void test_server_sfu_proxy_and_noop(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a;
  ident_make(&a, 1);
  peer p = {0};
  hm_server_conn *c = login(&r, &p, &a, NULL);
  /* SFU proxy: a participant's voice.session.create becomes one asynchronous call; its
   * answer binds the session (R-SFU-3, R-SFU-10) */
  hm_server_free(r.srv);
  hm_server_config cfg = {0};
  cfg.sfu_configured = 1;
  hm_server_env env = {.now_ms = f_now, .random = f_random, .send = f_send, .close = f_close,
                       .sfu_request = f_sfu, .store = r.st};
  assert_int_equal(hm_server_new(&r.srv, &cfg, &env), HM_OK);
  peer_clear(&p);
  c = login(&r, &p, &a, NULL);
  char *cid, *chid, pl[400];
  create_community(&r, c, &p, &cid, &chid);
  snprintf(pl, sizeof pl, "{\"channelId\":\"%s\"}", chid);
  feed_free(&r, c, envelope("j1", "voice.join", NULL, obj(pl)));
  assert_true(frame_is(&p, p.n - 2, "voice.participant.joined"));
  assert_true(frame_is(&p, p.n - 1, "voice.state"));
  size_t before = p.n;
  feed_free(&r, c, envelope("n1", "voice.session.create", NULL, obj("{}")));
  assert_int_equal(p.n, before); /* nothing yet: the call is outstanding (R-TRN-14) */
  assert_string_equal(sfu_path, "/sessions/new");
  const char *ans = "{\"sessionId\":\"sess_1\"}";
  hm_server_sfu_done(r.srv, sfu_id, 201, ans, strlen(ans));
  hm_json *sf = frame(&p, p.n - 1);
  assert_true(hm_json_string_is(hm_json_object_getc(sf, "type"), "voice.session.created"));
  assert_string_equal(pstr(sf, "sessionId"), "sess_1");
  hm_json_free(sf);
  /* a session id that is not bound to this connection never reaches the SFU */
  feed_free(&r, c, envelope("n2", "voice.tracks.push", NULL, obj("{\"sessionId\":\"other\",\"tracks\":[]}")));
  expect_error(&p, "FORBIDDEN", "n2", NULL, 0);
  /* a failing call answers the type's CF_*_FAILED */
  feed_free(&r, c, envelope("n3", "voice.tracks.push", NULL, obj("{\"sessionId\":\"sess_1\",\"tracks\":[]}")));
  assert_string_equal(sfu_path, "/sessions/sess_1/tracks/new");
  hm_server_sfu_done(r.srv, sfu_id, 500, "boom", 4);
  char msg[96];
  expect_error(&p, "CF_TRACKS_PUSH_FAILED", "n3", msg, sizeof msg);
  assert_string_equal(msg, "Error: CF API error 500: boom");
  free(cid);
  free(chid);
  size_t n = p.n;
  feed_free(&r, c, envelope("n2", "mls.member.joined", NULL, obj("{}"))); /* noop (R-MLS-17) */
  assert_int_equal(p.n, n);
  peer_clear(&p);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

static void test_server_rate_limit(void **state) {
  (void)state;
  F.now = T0;
  F.rnd = 9;
  hm_server_config cfg = {0};
  cfg.rate_max_frames = 3;
  cfg.rate_window_ms = 1000;
  rig r;
  rig_open_with(&r, ":memory:", &cfg, NULL);
  ident a;
  ident_make(&a, 1);
  peer p = {0};
  hm_server_conn *c = login(&r, &p, &a, NULL);
  for (int i = 0; i < 3; i++) feed_free(&r, c, envelope("l", "community.list", NULL, obj("{}")));
  assert_int_equal(count_type(&p, "community.list.response"), 3);
  feed_free(&r, c, envelope("l4", "community.list", NULL, obj("{}")));
  expect_error(&p, "RATE_LIMITED", "l4", NULL, 0);
  F.now += 1000;
  feed_free(&r, c, envelope("l5", "community.list", NULL, obj("{}")));
  assert_true(frame_is(&p, p.n - 1, "community.list.response"));
  peer_clear(&p);
  hm_identity_clear(&a.id);
  rig_close(&r);
}

/* Rate windows of many DIDs (the table grows past its first size; the sweep drops ended
 * windows): each DID has its own budget, before and after a sweep. */
static void test_server_rate_limit_many_dids(void **state) {
  (void)state;
  F.now = T0;
  F.rnd = 13;
  hm_server_config cfg = {0};
  cfg.rate_max_frames = 3;
  cfg.rate_window_ms = 1000;
  cfg.vp_freshness_s = 5;
  rig r;
  rig_open_with(&r, ":memory:", &cfg, NULL);
  enum { N = 80 };
  static ident who[N];
  static peer p[N];
  static hm_server_conn *c[N];
  memset(p, 0, sizeof p);
  for (int i = 0; i < N; i++) {
    ident_make(&who[i], (uint8_t)(100 + i));
    c[i] = login(&r, &p[i], &who[i], NULL);
  }
  int64_t t0 = F.now;
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < N; i++) {
      size_t before = count_type(&p[i], "community.list.response");
      for (int k = 0; k < 3; k++) feed_free(&r, c[i], envelope("l", "community.list", NULL, obj("{}")));
      assert_int_equal(count_type(&p[i], "community.list.response"), before + 3);
      feed_free(&r, c[i], envelope("l4", "community.list", NULL, obj("{}")));
      expect_error(&p[i], "RATE_LIMITED", "l4", NULL, 0);
    }
    F.now = t0 + 1000 * (round + 1);
    hm_server_tick(r.srv, F.now); /* sweeps the ended windows */
  }
  for (int i = 0; i < N; i++) {
    peer_clear(&p[i]);
    hm_identity_clear(&who[i].id);
  }
  rig_close(&r);
}

static void test_server_shutdown_closes_1001(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  peer p1 = {0}, p2 = {0};
  hm_server_conn_open(r.srv, &p1);
  hm_server_conn_open(r.srv, &p2);
  hm_server_shutdown(r.srv);
  assert_int_equal(p1.close_code, 1001);
  assert_int_equal(p2.close_code, 1001);
  assert_string_equal(p1.close_reason, "Server shutting down");
  rig_close(&r);
}

static int pings;
static void f_ping(void *ctx, void *handle) {
  (void)ctx;
  (void)handle;
  pings++;
}

static void test_server_keepalive_ping_and_timeout(void **state) {
  (void)state;
  F.now = T0;
  F.rnd = 11;
  hm_server_config cfg = {0};
  cfg.keepalive_ms = 300;
  cfg.auth_timeout_ms = 100000;
  rig r;
  rig_open_with(&r, ":memory:", &cfg, f_ping);
  peer p1 = {0}, p2 = {0};
  hm_server_conn *c1 = hm_server_conn_open(r.srv, &p1);
  hm_server_conn_open(r.srv, &p2);
  pings = 0;
  F.now += 300;
  hm_server_tick(r.srv, F.now);
  assert_int_equal(pings, 2); /* one ping per connection per interval */
  hm_server_conn_activity(r.srv, c1); /* c1 answers (a pong) */
  F.now += 300;
  hm_server_tick(r.srv, F.now);
  assert_int_equal(p2.close_code, 4005); /* silent for two intervals (R-TRN-11) */
  assert_string_equal(p2.close_reason, "Keepalive timeout");
  assert_int_equal(p1.close_code, 0);
  peer_clear(&p1);
  peer_clear(&p2);
  rig_close(&r);
}

/* The broadcast audience follows membership at once (R-AUTHZ-10, R-DLV-3): kick, leave,
 * rejoin, ban, and many connections per DID (the DID index grows past its first size and
 * forgets closed connections). */
static size_t count_msg(const peer *p, size_t from, const char *id) {
  size_t n = 0;
  for (size_t i = from; i < p->n; i++) {
    hm_json *f = frame(p, i);
    if (hm_json_string_is(hm_json_object_getc(f, "type"), "channel.message") &&
        hm_json_string_is(hm_json_object_getc(f, "id"), id))
      n++;
    hm_json_free(f);
  }
  return n;
}

static void test_server_broadcast_audience_follows_membership(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  enum { NB = 5, PER = 14 }; /* 70 authenticated connections of b-DIDs + 2 */
  ident o, c, b[NB];
  ident_make(&o, 1);
  ident_make(&c, 2);
  for (int i = 0; i < NB; i++) ident_make(&b[i], (uint8_t)(10 + i));
  static peer po, pc, pb[NB][PER];
  memset(&po, 0, sizeof po);
  memset(&pc, 0, sizeof pc);
  memset(pb, 0, sizeof pb);
  hm_server_conn *co = login(&r, &po, &o, NULL), *cc = login(&r, &pc, &c, NULL), *cb[NB][PER];
  char *cid, *chid, pl[600];
  create_community(&r, co, &po, &cid, &chid);
  join(&r, cc, &pc, cid);
  for (int i = 0; i < NB; i++) {
    cb[i][0] = login(&r, &pb[i][0], &b[i], NULL);
    join(&r, cb[i][0], &pb[i][0], cid);
    for (int k = 1; k < PER; k++) cb[i][k] = login(&r, &pb[i][k], &b[i], NULL);
  }
  size_t c0 = pc.n;
  send_msg(&r, co, "m-1", cid, chid, "one", 1);
  assert_int_equal(count_msg(&po, 0, "m-1"), 1);
  assert_int_equal(count_msg(&pc, c0, "m-1"), 1);
  for (int i = 0; i < NB; i++)
    for (int k = 0; k < PER; k++) assert_int_equal(count_msg(&pb[i][k], 0, "m-1"), 1);
  /* kick c: nothing reaches c from then on */
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"targetDID\":\"%s\"}", cid, c.id.did);
  feed_free(&r, co, envelope("k1", "community.kick", NULL, obj(pl)));
  size_t c1 = pc.n;
  send_msg(&r, co, "m-2", cid, chid, "two", 2);
  assert_int_equal(count_msg(&pc, c1, "m-2"), 0);
  assert_int_equal(count_msg(&pb[0][3], 0, "m-2"), 1);
  /* c rejoins and receives again */
  join(&r, cc, &pc, cid);
  size_t c2 = pc.n;
  send_msg(&r, co, "m-3", cid, chid, "three", 3);
  assert_int_equal(count_msg(&pc, c2, "m-3"), 1);
  /* half of b[1]'s connections close: the others still receive, closed ones are gone */
  for (int k = 0; k < PER / 2; k++) hm_server_conn_closed(r.srv, cb[1][k]);
  send_msg(&r, co, "m-4", cid, chid, "four", 4);
  for (int k = PER / 2; k < PER; k++) assert_int_equal(count_msg(&pb[1][k], 0, "m-4"), 1);
  for (int k = 0; k < PER / 2; k++) assert_int_equal(count_msg(&pb[1][k], 0, "m-4"), 0);
  /* b[2] leaves: none of its connections receives; it rejoins: all do */
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\"}", cid);
  feed_free(&r, cb[2][0], envelope("lv", "community.leave", NULL, obj(pl)));
  send_msg(&r, co, "m-5", cid, chid, "five", 5);
  for (int k = 0; k < PER; k++) assert_int_equal(count_msg(&pb[2][k], 0, "m-5"), 0);
  join(&r, cb[2][5], &pb[2][5], cid);
  send_msg(&r, co, "m-6", cid, chid, "six", 6);
  for (int k = 0; k < PER; k++) assert_int_equal(count_msg(&pb[2][k], 0, "m-6"), 1);
  /* ban b[3]: its connections are closed and receive nothing more */
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"targetDID\":\"%s\"}", cid, b[3].id.did);
  feed_free(&r, co, envelope("bn", "community.ban", NULL, obj(pl)));
  for (int k = 0; k < PER; k++) assert_int_equal(pb[3][k].close_code, 4003);
  size_t b3n[PER];
  for (int k = 0; k < PER; k++) b3n[k] = pb[3][k].n;
  send_msg(&r, co, "m-7", cid, chid, "seven", 7); /* before the transport reports the closes */
  for (int k = 0; k < PER; k++) assert_int_equal(pb[3][k].n, b3n[k]);
  assert_int_equal(count_msg(&pb[4][13], 0, "m-7"), 1);
  free(cid);
  free(chid);
  peer_clear(&po);
  peer_clear(&pc);
  for (int i = 0; i < NB; i++) {
    for (int k = 0; k < PER; k++) peer_clear(&pb[i][k]);
    hm_identity_clear(&b[i].id);
  }
  hm_identity_clear(&o.id);
  hm_identity_clear(&c.id);
  rig_close(&r);
}

/* The timer heap behaves exactly like visiting every connection on every tick: a model of
 * that rule runs beside the server over 300 connections with staggered opens, logins,
 * activity and transport closes, and every close code and ping count must agree. */
enum { TM_N = 300 };
static peer tm_peer[TM_N];
static int tm_pings[TM_N];
static void f_ping_count(void *ctx, void *handle) {
  (void)ctx;
  tm_pings[(peer *)handle - tm_peer]++;
}

typedef struct {
  int open, authed, closed_code, pings, gone;
  int64_t opened, last_rx, last_ping;
} tm_model;

static void test_server_tick_matches_full_scan(void **state) {
  (void)state;
  F.now = T0;
  F.rnd = 5;
  hm_server_config cfg = {0};
  cfg.keepalive_ms = 300;
  cfg.auth_timeout_ms = 1000;
  cfg.vp_freshness_s = 5;
  rig r;
  rig_open_with(&r, ":memory:", &cfg, f_ping_count);
  assert_int_equal(hm_server_next_deadline(r.srv), INT64_MAX);
  memset(tm_peer, 0, sizeof tm_peer);
  memset(tm_pings, 0, sizeof tm_pings);
  static tm_model m[TM_N];
  static hm_server_conn *conn[TM_N];
  memset(m, 0, sizeof m);
  ident who;
  ident_make(&who, 7);
  uint64_t rnd = 99;
  const int64_t ka = 300, at = 1000;
  size_t opened = 0;
  for (int step = 0; step < 400; step++) { /* 10 s of 25 ms ticks */
    /* open a few connections, log some in, show activity on some, drop some */
    for (int k = 0; k < 2 && opened < TM_N; k++, opened++) {
      conn[opened] = hm_server_conn_open(r.srv, &tm_peer[opened]);
      assert_non_null(conn[opened]);
      m[opened] = (tm_model){.open = 1, .opened = F.now, .last_rx = F.now, .last_ping = F.now};
    }
    rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
    size_t i = (size_t)(rnd >> 33) % (opened ? opened : 1);
    if (opened && m[i].open && !m[i].gone && !m[i].closed_code) {
      int what = (int)((rnd >> 20) % 4);
      if (what == 0 && !m[i].authed && step % 7 == 0 && who.id.did[0]) {
        feed_free(&r, conn[i], envelope("a", "sync.state", who.id.did, vp_for(&who, F.now)));
        m[i].last_rx = F.now;
        if (tm_peer[i].close_code == 0)
          m[i].authed = 1;
        else
          m[i].closed_code = tm_peer[i].close_code; /* e.g. 1013: too many connections of the DID */
      } else if (what == 1) {
        hm_server_conn_activity(r.srv, conn[i]);
        m[i].last_rx = F.now;
      } else if (what == 2 && step % 5 == 0) {
        hm_server_conn_closed(r.srv, conn[i]);
        m[i].gone = 1;
      }
    }
    F.now += 25;
    int64_t nd = hm_server_next_deadline(r.srv);
    /* the model: every live connection, every tick */
    int64_t earliest = INT64_MAX;
    for (size_t j = 0; j < opened; j++) {
      tm_model *x = &m[j];
      if (x->gone || x->closed_code) continue;
      int64_t d = x->authed ? INT64_MAX : x->opened + at;
      if (x->last_ping + ka < d) d = x->last_ping + ka;
      if (x->last_rx + 2 * ka < d) d = x->last_rx + 2 * ka;
      if (d < earliest) earliest = d;
      if (!x->authed && F.now - x->opened >= at) {
        x->closed_code = 4001;
        continue;
      }
      if (F.now - x->last_rx >= 2 * ka) {
        x->closed_code = 4005;
      } else if (F.now - x->last_ping >= ka) {
        x->last_ping = F.now;
        x->pings++;
      }
    }
    assert_true(nd <= earliest); /* never later than the true next deadline */
    hm_server_tick(r.srv, F.now);
    for (size_t j = 0; j < opened; j++) {
      if (m[j].gone) continue;
      assert_int_equal(tm_peer[j].close_code, m[j].closed_code);
      assert_int_equal(tm_pings[j], m[j].pings);
    }
  }
  size_t closed4001 = 0, closed4005 = 0;
  for (size_t j = 0; j < opened; j++) {
    closed4001 += m[j].closed_code == 4001;
    closed4005 += m[j].closed_code == 4005;
  }
  size_t authed = 0;
  for (size_t j = 0; j < opened; j++) authed += m[j].authed;
  assert_true(closed4001 > 0 && closed4005 > 0 && authed > 0); /* both timers fired, logins happened */
  for (size_t j = 0; j < opened; j++) {
    if (!m[j].gone) hm_server_conn_closed(r.srv, conn[j]);
    peer_clear(&tm_peer[j]);
  }
  assert_int_equal(hm_server_next_deadline(r.srv), INT64_MAX);
  hm_identity_clear(&who.id);
  rig_close(&r);
}

static void test_server_ban_closes_and_blocks(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident o, b;
  ident_make(&o, 1);
  ident_make(&b, 2);
  peer po = {0}, pb = {0}, pb2 = {0};
  hm_server_conn *co = login(&r, &po, &o, NULL), *cb = login(&r, &pb, &b, NULL);
  char *cid, *chid, pl[600];
  create_community(&r, co, &po, &cid, &chid);
  join(&r, cb, &pb, cid);
  hm_server_conn *cb2 = login(&r, &pb2, &b, NULL);
  /* a member without admin cannot ban (R-COMM-20) */
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"targetDID\":\"%s\"}", cid, o.id.did);
  feed_free(&r, cb, envelope("b0", "community.ban", NULL, obj(pl)));
  char msg[100];
  expect_error(&pb, "FORBIDDEN", "b0", msg, sizeof msg);
  assert_string_equal(msg, "Only admins can ban users");
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"targetDID\":\"%s\"}", cid, b.id.did);
  feed_free(&r, co, envelope("b1", "community.ban", NULL, obj(pl)));
  assert_true(frame_is(&po, po.n - 2, "community.ban.applied"));
  assert_true(frame_is(&po, po.n - 1, "community.member.left")); /* R-COMM-22 */
  /* every connection of the target: BANNED then 4003 (R-AUTHZ-13, R-AUTHZ-14) */
  expect_error(&pb, "BANNED", NULL, NULL, 0);
  assert_int_equal(pb.close_code, 4003);
  expect_error(&pb2, "BANNED", NULL, NULL, 0);
  assert_int_equal(pb2.close_code, 4003);
  hm_server_conn_closed(r.srv, cb);
  hm_server_conn_closed(r.srv, cb2);
  peer_clear(&pb);
  /* the banned DID cannot rejoin, and its resync skips the community (R-COMM-21) */
  hm_server_conn *cb3 = login(&r, &pb, &b, NULL);
  assert_int_equal(pb.n, 1);
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\"}", cid);
  feed_free(&r, cb3, envelope("j", "community.join", NULL, obj(pl)));
  expect_error(&pb, "BANNED", "j", NULL, 0);
  assert_int_equal(pb.close_code, 4003);
  free(cid);
  free(chid);
  peer_clear(&po);
  peer_clear(&pb);
  peer_clear(&pb2);
  hm_identity_clear(&o.id);
  hm_identity_clear(&b.id);
  rig_close(&r);
}

/* Frames of `type` that p received from index `from` on. */
static size_t count_since(const peer *p, size_t from, const char *type) {
  size_t n = 0;
  for (size_t i = from; i < p->n; i++) n += frame_is(p, i, type);
  return n;
}

/* Presence, leave, kick and ban notices (and the R-COMM-6 announcements) reach exactly their
 * audience: every authenticated connection of every DID the spec names, once each, and no
 * one else (R-AUTH-22, R-AUTHZ-10, R-DLV-3, R-COMM-6, R-COMM-22, R-COMM-30). The core finds
 * them through its DID index and the store's member cache. */
static void test_server_notices_reach_exact_audience(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  enum { O1, O2, M1, M2, K1, K2, X1, X2, Y1, Z1, U, NP };
  static peer p[NP];
  memset(p, 0, sizeof p);
  ident o, m, k, x, y, z;
  ident_make(&o, 1);
  ident_make(&m, 2);
  ident_make(&k, 3);
  ident_make(&x, 4);
  ident_make(&y, 5);
  ident_make(&z, 6);
  hm_server_conn *c[NP];
  char *a, *ach, *b, *bch, *cz, *czh, pl[600];
  c[O1] = login(&r, &p[O1], &o, NULL);
  c[O2] = login(&r, &p[O2], &o, NULL);
  create_community(&r, c[O1], &p[O1], &a, &ach); /* A: o */
  assert_int_equal(count_type(&p[O2], "community.auto-joined"), 1); /* R-COMM-6 */
  c[X1] = login(&r, &p[X1], &x, NULL);
  c[X2] = login(&r, &p[X2], &x, NULL);
  create_community(&r, c[X1], &p[X1], &b, &bch); /* B: x */
  assert_int_equal(count_type(&p[O1], "community.auto-joined") + count_type(&p[O2], "community.auto-joined"), 1);
  join(&r, c[O1], &p[O1], b); /* o is in A and B */
  c[M1] = login(&r, &p[M1], &m, NULL);
  c[M2] = login(&r, &p[M2], &m, NULL);
  join(&r, c[M1], &p[M1], a);
  assert_int_equal(count_type(&p[M2], "community.auto-joined"), 1); /* R-COMM-6 */
  assert_int_equal(count_type(&p[M1], "community.auto-joined"), 0);
  c[K1] = login(&r, &p[K1], &k, NULL);
  join(&r, c[K1], &p[K1], a);
  c[K2] = login(&r, &p[K2], &k, NULL);
  c[Y1] = login(&r, &p[Y1], &y, NULL);
  join(&r, c[Y1], &p[Y1], a);
  join(&r, c[Y1], &p[Y1], b);
  c[Z1] = login(&r, &p[Z1], &z, NULL);
  create_community(&r, c[Z1], &p[Z1], &cz, &czh); /* C: z only */
  c[U] = hm_server_conn_open(r.srv, &p[U]);       /* never authenticates */
  size_t mark[NP];

  /* presence: y's last connection closes (offline) and it comes back (online): each
   * connection sharing A or B with y gets each frame once (o shares both), z and u none */
#define MARK()                                 \
  do {                                         \
    for (int i = 0; i < NP; i++) mark[i] = p[i].n; \
  } while (0)
  MARK();
  hm_server_conn_closed(r.srv, c[Y1]);
  peer_clear(&p[Y1]);
  c[Y1] = login(&r, &p[Y1], &y, NULL);
  size_t want_presence[NP] = {[O1] = 2, [O2] = 2, [M1] = 2, [M2] = 2, [K1] = 2, [K2] = 2, [X1] = 2, [X2] = 2};
  for (int i = 0; i < NP; i++)
    if (i != Y1) assert_int_equal(count_since(&p[i], mark[i], "presence.changed"), want_presence[i]);
  assert_int_equal(count_type(&p[Y1], "presence.changed"), 0);

  /* leave: the remaining members of A and the leaver's other connection, not the leaver's
   * own connection, not B's x, not z, not u */
  MARK();
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\"}", a);
  feed_free(&r, c[M1], envelope("lv", "community.leave", NULL, obj(pl)));
  size_t want_left[NP] = {[O1] = 1, [O2] = 1, [M2] = 1, [K1] = 1, [K2] = 1, [Y1] = 1};
  for (int i = 0; i < NP; i++)
    assert_int_equal(count_since(&p[i], mark[i], "community.member.left"), want_left[i]);

  /* kick: every connection of every member of A before the removal (the target included),
   * once; then KICKED on each of the target's connections and nowhere else */
  MARK();
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"targetDID\":\"%s\"}", a, k.id.did);
  feed_free(&r, c[O1], envelope("kk", "community.kick", NULL, obj(pl)));
  size_t want_kick[NP] = {[O1] = 1, [O2] = 1, [K1] = 1, [K2] = 1, [Y1] = 1};
  for (int i = 0; i < NP; i++) {
    assert_int_equal(count_since(&p[i], mark[i], "member.kicked"), want_kick[i]);
    assert_int_equal(count_since(&p[i], mark[i], "error"), (i == K1 || i == K2) ? 1 : 0);
  }
  expect_error(&p[K2], "KICKED", NULL, NULL, 0);

  /* ban: the remaining members of A (o) hear member.left; every connection of y gets
   * BANNED and 4003; x, which shares B with y, hears nothing */
  MARK();
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"targetDID\":\"%s\"}", a, y.id.did);
  feed_free(&r, c[O2], envelope("bn", "community.ban", NULL, obj(pl)));
  size_t want_ban_left[NP] = {[O1] = 1, [O2] = 1};
  for (int i = 0; i < NP; i++) {
    assert_int_equal(count_since(&p[i], mark[i], "community.member.left"), want_ban_left[i]);
    assert_int_equal(p[i].close_code, i == Y1 ? 4003 : 0);
  }
  expect_error(&p[Y1], "BANNED", NULL, NULL, 0);
  assert_int_equal(p[U].n, 0); /* nothing ever reaches an unauthenticated connection */
#undef MARK
  free(a);
  free(ach);
  free(b);
  free(bch);
  free(cz);
  free(czh);
  for (int i = 0; i < NP; i++) peer_clear(&p[i]);
  hm_identity_clear(&o.id);
  hm_identity_clear(&m.id);
  hm_identity_clear(&k.id);
  hm_identity_clear(&x.id);
  hm_identity_clear(&y.id);
  hm_identity_clear(&z.id);
  rig_close(&r);
}

static void voice_frame(rig *r, hm_server_conn *c, const char *type, const char *chid) {
  char pl[300];
  if (chid)
    snprintf(pl, sizeof pl, "{\"channelId\":\"%s\"}", chid);
  else
    snprintf(pl, sizeof pl, "{\"speaking\":true}");
  feed_free(r, c, envelope("v", type, NULL, obj(pl)));
}

/* Voice room frames reach the room's participants only (the core keeps a participant list
 * per occupied room): joins, moves between rooms, speaking, closes, and a room that emptied
 * and is used again (messages/voice.md, R-VOICE-5, R-VOICE-7, R-VOICE-8). */
static void test_server_voice_room_audiences(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  enum { O, M, X, Y1, Y2, NP };
  static peer p[NP];
  memset(p, 0, sizeof p);
  ident o, m, x, y;
  ident_make(&o, 1);
  ident_make(&m, 2);
  ident_make(&x, 3);
  ident_make(&y, 4);
  hm_server_conn *c[NP];
  char *a, *ach, *b, *bch;
  c[O] = login(&r, &p[O], &o, NULL);
  c[M] = login(&r, &p[M], &m, NULL);
  c[X] = login(&r, &p[X], &x, NULL);
  c[Y1] = login(&r, &p[Y1], &y, NULL);
  c[Y2] = login(&r, &p[Y2], &y, NULL);
  create_community(&r, c[O], &p[O], &a, &ach);
  create_community(&r, c[X], &p[X], &b, &bch);
  join(&r, c[M], &p[M], a);
  join(&r, c[Y1], &p[Y1], a);
  join(&r, c[Y1], &p[Y1], b);
  size_t mark[NP];
#define MARK()                                     \
  do {                                             \
    for (int i = 0; i < NP; i++) mark[i] = p[i].n; \
  } while (0)
#define EXPECT(type, ...)                                                           \
  do {                                                                              \
    size_t want_[NP] = {__VA_ARGS__};                                               \
    for (int i = 0; i < NP; i++) assert_int_equal(count_since(&p[i], mark[i], type), want_[i]); \
  } while (0)
  voice_frame(&r, c[O], "voice.join", ach);
  voice_frame(&r, c[X], "voice.join", bch);
  MARK();
  voice_frame(&r, c[M], "voice.join", ach); /* room A: o, m */
  EXPECT("voice.participant.joined", [O] = 1, [M] = 1);
  MARK();
  voice_frame(&r, c[Y1], "voice.join", bch); /* room B: x, y1 */
  EXPECT("voice.participant.joined", [X] = 1, [Y1] = 1);
  MARK();
  voice_frame(&r, c[M], "voice.speaking", NULL);
  EXPECT("voice.speaking", [O] = 1);
  /* y1 moves from B to A: B's x hears it leave, A hears it join; y2 (no room) nothing */
  MARK();
  voice_frame(&r, c[Y1], "voice.join", ach);
  EXPECT("voice.participant.left", [X] = 1);
  EXPECT("voice.participant.joined", [O] = 1, [M] = 1, [Y1] = 1);
  hm_json *f = frame(&p[Y1], p[Y1].n - 1);
  assert_true(hm_json_string_is(hm_json_object_getc(f, "type"), "voice.state"));
  assert_int_equal(hm_json_array_size(hm_json_object_getc(hm_json_object_getc(f, "payload"), "participants")), 3);
  hm_json_free(f);
  /* y1's connection closes: A's o and m hear it leave */
  MARK();
  hm_server_conn_closed(r.srv, c[Y1]);
  EXPECT("voice.participant.left", [O] = 1, [M] = 1);
  /* x leaves B (it empties) and comes back: alone in it */
  voice_frame(&r, c[X], "voice.leave", bch);
  MARK();
  voice_frame(&r, c[X], "voice.join", bch);
  EXPECT("voice.participant.joined", [X] = 1);
  f = frame(&p[X], p[X].n - 1);
  assert_int_equal(hm_json_array_size(hm_json_object_getc(hm_json_object_getc(f, "payload"), "participants")), 1);
  hm_json_free(f);
  /* y's other connection never joined a room: no voice frame ever reached it */
  static const char *const vt[] = {"voice.participant.joined", "voice.participant.left", "voice.speaking",
                                   "voice.state"};
  for (size_t i = 0; i < sizeof vt / sizeof *vt; i++) assert_int_equal(count_type(&p[Y2], vt[i]), 0);
#undef EXPECT
#undef MARK
  free(a);
  free(ach);
  free(b);
  free(bch);
  for (int i = 0; i < NP; i++) peer_clear(&p[i]);
  hm_identity_clear(&o.id);
  hm_identity_clear(&m.id);
  hm_identity_clear(&x.id);
  hm_identity_clear(&y.id);
  rig_close(&r);
}

static void test_server_edit_delete_history(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident o, b;
  ident_make(&o, 1);
  ident_make(&b, 2);
  peer po = {0}, pb = {0};
  hm_server_conn *co = login(&r, &po, &o, NULL), *cb = login(&r, &pb, &b, NULL);
  char *cid, *chid, pl[800];
  create_community(&r, co, &po, &cid, &chid);
  join(&r, cb, &pb, cid);
  send_msg(&r, co, "m1", cid, chid, "one", 1);
  send_msg(&r, co, "m2", cid, chid, "two", 2);
  /* bob may not edit the owner's message (R-AUTHZ-23) */
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"channelId\":\"%s\",\"messageId\":\"m1\",\"content\":\"x\"}",
           cid, chid);
  feed_free(&r, cb, envelope("e0", "channel.edit", NULL, obj(pl)));
  expect_error(&pb, "FORBIDDEN", "e0", NULL, 0);
  size_t b0 = pb.n, o0 = po.n;
  feed_free(&r, co, envelope("e1", "channel.edit", NULL, obj(pl)));
  assert_int_equal(po.n, o0); /* not to the editing connection */
  assert_true(frame_is(&pb, b0, "channel.message.updated"));
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"channelId\":\"%s\",\"messageId\":\"m2\"}", cid, chid);
  feed_free(&r, co, envelope("d1", "channel.delete", NULL, obj(pl)));
  assert_true(frame_is(&pb, pb.n - 1, "channel.message.deleted"));
  /* history: oldest first, edit marked, tombstone kept (R-HIST-2, R-HIST-7) */
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"channelId\":\"%s\"}", cid, chid);
  feed_free(&r, cb, envelope("h1", "channel.history", NULL, obj(pl)));
  hm_json *f = frame(&pb, pb.n - 1);
  assert_true(hm_json_string_is(hm_json_object_getc(f, "type"), "channel.history.response"));
  hm_json *msgs = hm_json_object_getc(hm_json_object_getc(f, "payload"), "messages");
  assert_int_equal(hm_json_array_size(msgs), 2);
  hm_json *m1 = hm_json_array_get(msgs, 0), *m2 = hm_json_array_get(msgs, 1);
  assert_true(hm_json_string_is(hm_json_object_getc(hm_json_object_getc(m1, "payload"), "content"), "x"));
  assert_int_equal(hm_json_kind_of(hm_json_object_getc(m1, "edited")), HM_JSON_TRUE);
  assert_int_equal(hm_json_kind_of(hm_json_object_getc(m2, "deleted")), HM_JSON_TRUE);
  assert_null(hm_json_object_getc(hm_json_object_getc(m2, "payload"), "content"));
  hm_json_free(f);
  /* a second delete of the tombstone is NOT_FOUND */
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"channelId\":\"%s\",\"messageId\":\"m2\"}", cid, chid);
  feed_free(&r, co, envelope("d2", "channel.delete", NULL, obj(pl)));
  expect_error(&po, "NOT_FOUND", "d2", NULL, 0);
  free(cid);
  free(chid);
  peer_clear(&po);
  peer_clear(&pb);
  hm_identity_clear(&o.id);
  hm_identity_clear(&b.id);
  rig_close(&r);
}

static void test_server_role_grants_permission(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident o, b;
  ident_make(&o, 1);
  ident_make(&b, 2);
  peer po = {0}, pb = {0};
  hm_server_conn *co = login(&r, &po, &o, NULL), *cb = login(&r, &pb, &b, NULL);
  char *cid, *chid, pl[800];
  create_community(&r, co, &po, &cid, &chid);
  join(&r, cb, &pb, cid);
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"name\":\"mods\"}", cid);
  feed_free(&r, cb, envelope("c0", "channel.create", NULL, obj(pl)));
  expect_error(&pb, "FORBIDDEN", "c0", NULL, 0);
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"name\":\"mod\",\"permissions\":[\"manage_channels\"]}", cid);
  feed_free(&r, co, envelope("r1", "role.create", NULL, obj(pl)));
  hm_json *f = frame(&po, po.n - 1);
  assert_true(hm_json_string_is(hm_json_object_getc(f, "type"), "role.created"));
  char rid[64];
  snprintf(rid, sizeof rid, "%s", pstr(f, "id"));
  assert_int_equal(strncmp(rid, "role:", 5), 0);
  hm_json_free(f);
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"memberDID\":\"%s\",\"roleId\":\"%s\"}", cid, b.id.did,
           rid);
  feed_free(&r, co, envelope("r2", "role.assign", NULL, obj(pl)));
  assert_true(frame_is(&pb, pb.n - 1, "community.member.updated"));
  snprintf(pl, sizeof pl, "{\"communityId\":\"%s\",\"name\":\"mods\"}", cid);
  feed_free(&r, cb, envelope("c1", "channel.create", NULL, obj(pl))); /* the alias grants channel.manage */
  assert_true(frame_is(&pb, pb.n - 1, "channel.created"));
  assert_true(frame_is(&po, po.n - 1, "channel.created"));
  free(cid);
  free(chid);
  peer_clear(&po);
  peer_clear(&pb);
  hm_identity_clear(&o.id);
  hm_identity_clear(&b.id);
  rig_close(&r);
}

static void test_server_recovery_relay(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a, b, e;
  ident_make(&a, 1);
  ident_make(&b, 2);
  ident_make(&e, 3);
  peer pa = {0}, pb = {0}, pe = {0};
  hm_server_conn *ca = login(&r, &pa, &a, NULL), *cb = login(&r, &pb, &b, NULL), *ce = login(&r, &pe, &e, NULL);
  char pl[800];
  snprintf(pl, sizeof pl,
           "{\"requestId\":\"rq1\",\"requesterDID\":\"%s\",\"guardianDIDs\":[\"%s\"],\"threshold\":1}", b.id.did,
           b.id.did);
  feed_free(&r, ca, envelope("c0", "recovery.request.create", NULL, obj(pl))); /* not the requester */
  expect_error(&pa, "INVALID_PAYLOAD", "c0", NULL, 0); /* requester listed as its own guardian */
  snprintf(pl, sizeof pl,
           "{\"requestId\":\"rq1\",\"requesterDID\":\"%s\",\"guardianDIDs\":[\"%s\"],\"threshold\":1}", e.id.did,
           b.id.did);
  feed_free(&r, ca, envelope("c1", "recovery.request.create", NULL, obj(pl)));
  expect_error(&pa, "FORBIDDEN", "c1", NULL, 0); /* R-RECOV-3 */
  snprintf(pl, sizeof pl,
           "{\"requestId\":\"rq1\",\"requesterDID\":\"%s\",\"guardianDIDs\":[\"%s\"],\"threshold\":1}", a.id.did,
           b.id.did);
  feed_free(&r, ca, envelope("c2", "recovery.request.create", NULL, obj(pl)));
  assert_true(frame_is(&pa, pa.n - 1, "recovery.request.created"));
  assert_true(frame_is(&pb, pb.n - 1, "recovery.request.notify"));
  feed_free(&r, ce, envelope("c3", "recovery.request.create", NULL, obj(pl)));
  expect_error(&pe, "FORBIDDEN", "c3", NULL, 0);
  /* eve cannot submit as bob, nor as herself */
  snprintf(pl, sizeof pl, "{\"requestId\":\"rq1\",\"guardianDID\":\"%s\",\"encryptedShard\":\"s\"}", b.id.did);
  feed_free(&r, ce, envelope("s0", "recovery.shard.submit", NULL, obj(pl)));
  expect_error(&pe, "FORBIDDEN", "s0", NULL, 0);
  snprintf(pl, sizeof pl, "{\"requestId\":\"rq1\",\"guardianDID\":\"%s\",\"encryptedShard\":\"s\"}", e.id.did);
  feed_free(&r, ce, envelope("s1", "recovery.shard.submit", NULL, obj(pl)));
  expect_error(&pe, "UNAUTHORIZED", "s1", NULL, 0);
  snprintf(pl, sizeof pl, "{\"requestId\":\"rq1\",\"guardianDID\":\"%s\",\"encryptedShard\":\"SHARD\"}", b.id.did);
  feed_free(&r, cb, envelope("s2", "recovery.shard.submit", NULL, obj(pl)));
  assert_true(frame_is(&pb, pb.n - 1, "recovery.shard.submitted"));
  hm_json *f = frame(&pa, pa.n - 1);
  assert_true(hm_json_string_is(hm_json_object_getc(f, "type"), "recovery.shard.submitted"));
  assert_null(pstr(f, "encryptedShard")); /* R-RECOV-13 */
  hm_json_free(f);
  feed_free(&r, ce, envelope("f0", "recovery.shards.fetch", NULL, obj("{\"requestId\":\"rq1\"}")));
  expect_error(&pe, "NOT_FOUND", "f0", NULL, 0);
  feed_free(&r, ca, envelope("f1", "recovery.shards.fetch", NULL, obj("{\"requestId\":\"rq1\"}")));
  f = frame(&pa, pa.n - 1);
  hm_json *sh = hm_json_array_get(hm_json_object_getc(hm_json_object_getc(f, "payload"), "shards"), 0);
  assert_true(hm_json_string_is(hm_json_object_getc(sh, "encryptedShard"), "SHARD"));
  hm_json_free(f);
  /* expiry after 24 h (R-RECOV-7) */
  F.now += 24LL * 3600 * 1000;
  feed_free(&r, ca, envelope("f2", "recovery.shards.fetch", NULL, obj("{\"requestId\":\"rq1\"}")));
  expect_error(&pa, "NOT_FOUND", "f2", NULL, 0);
  peer_clear(&pa);
  peer_clear(&pb);
  peer_clear(&pe);
  hm_identity_clear(&a.id);
  hm_identity_clear(&b.id);
  hm_identity_clear(&e.id);
  rig_close(&r);
}

static void http_call(rig *r, const ident *who, const char *method, const char *target, const char *body,
                      hm_http_response *resp) {
  char *auth = NULL;
  if (who) assert_int_equal(hm_httpsig_sign(&auth, NULL, F.now / 1000, method, target, who->id.seed32), HM_OK);
  hm_http_request q = {method, target, NULL, auth, (const uint8_t *)body, body ? strlen(body) : 0};
  hm_server_http(r->srv, &q, resp);
  hm_free(auth);
}

static void test_server_http_user_data(void **state) {
  (void)state;
  rig r;
  rig_open(&r);
  ident a, b;
  ident_make(&a, 1);
  ident_make(&b, 2);
  char body[600], target[300];
  hm_http_response resp;
  snprintf(body, sizeof body, "{\"did\":\"%s\",\"ciphertext\":\"AAAA\",\"nonce\":\"AAAAAAAA\",\"metadata\":{\"v\":1}}",
           a.id.did);
  http_call(&r, NULL, "POST", "/api/user-data/upload", body, &resp); /* unsigned (R-HTTP-9) */
  assert_int_equal(resp.status, 401);
  hm_free(resp.body);
  http_call(&r, &b, "POST", "/api/user-data/upload", body, &resp); /* another DID's data */
  assert_int_equal(resp.status, 403);
  hm_free(resp.body);
  F.now += 1000;
  http_call(&r, &a, "POST", "/api/user-data/upload", body, &resp);
  assert_int_equal(resp.status, 200);
  assert_string_equal(resp.body, "{\"ok\":true,\"size\":13}"); /* 4 + 6 + 3 */
  hm_free(resp.body);
  http_call(&r, &a, "POST", "/api/user-data/upload", body, &resp); /* same signature again (R-HTTP-7) */
  assert_int_equal(resp.status, 401);
  assert_non_null(strstr(resp.body, "Replayed request"));
  hm_free(resp.body);
  snprintf(target, sizeof target, "/api/user-data/%s", a.id.did);
  http_call(&r, &a, "GET", target, NULL, &resp);
  assert_int_equal(resp.status, 200);
  assert_non_null(strstr(resp.body, "\"metadata\":{\"v\":1}"));
  hm_free(resp.body);
  http_call(&r, &b, "GET", target, NULL, &resp);
  assert_int_equal(resp.status, 403);
  hm_free(resp.body);
  F.now += 1000;
  http_call(&r, &a, "DELETE", target, NULL, &resp);
  assert_int_equal(resp.status, 200);
  hm_free(resp.body);
  http_call(&r, &a, "GET", target, NULL, &resp);
  assert_int_equal(resp.status, 404);
  hm_free(resp.body);
  http_call(&r, &a, "PUT", "/api/user-data/upload", NULL, &resp);
  assert_int_equal(resp.status, 405);
  assert_string_equal(resp.allow, "POST, OPTIONS");
  hm_free(resp.body);
  http_call(&r, NULL, "GET", "/nowhere", NULL, &resp);
  assert_int_equal(resp.status, 404);
  hm_free(resp.body);
  hm_identity_clear(&a.id);
  hm_identity_clear(&b.id);
  rig_close(&r);
}

/* ---- registry ---------------------------------------------------------------------------- */

static void test_server_handlers_all_in_registry(void **state) {
  (void)state;
  const char *const *types = hm_server_handled_types();
  size_t n = 0;
  for (; types[n]; n++) {
    const hm_reg_type *r = hm_registry_find(types[n], strlen(types[n]), HM_REG_C2S);
    if (!r) fail_msg("handler for %s, which is not a c2s type of spec/registry.json", types[n]);
    assert_int_equal(r->status, HM_REG_ACTIVE);
  }
  assert_true(n >= 9);
  /* and every active c2s type of the registry that is valid after authentication has one */
  for (size_t i = 0; i < hm_registry_len; i++) {
    const hm_reg_type *r = &hm_registry[i];
    if (r->direction != HM_REG_C2S || r->status != HM_REG_ACTIVE || !r->since_auth) continue;
    int found = 0;
    for (size_t k = 0; k < n && !found; k++) found = !strcmp(types[k], r->type);
    if (!found) fail_msg("registry type %s has no handler", r->type);
  }
  /* the table is sorted, so lookups by binary search see every row */
  for (size_t i = 1; i < hm_registry_len; i++) {
    int c = strcmp(hm_registry[i - 1].type, hm_registry[i].type);
    assert_true(c < 0 || (c == 0 && hm_registry[i - 1].direction < hm_registry[i].direction));
  }
  assert_null(hm_registry_find("Channel.send", 12, HM_REG_C2S)); /* R-MISC-3 */
  assert_non_null(hm_registry_find("channel.message", 15, HM_REG_S2C));
  assert_null(hm_registry_find("channel.message", 15, HM_REG_C2S));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_auth_vp_ok),
      cmocka_unit_test(test_server_auth_vp_bad_signature_closes_4002),
      cmocka_unit_test(test_server_auth_vp_replay_refused),
      cmocka_unit_test(test_server_auth_vp_stale_refused),
      cmocka_unit_test(test_server_auth_vp_sender_mismatch_refused),
      cmocka_unit_test(test_server_auth_required_before_login),
      cmocka_unit_test(test_server_auth_timeout_closes_4001),
      cmocka_unit_test(test_server_frames_before_auth_limited),
      cmocka_unit_test(test_server_token_login_and_tamper),
      cmocka_unit_test(test_server_token_request_reply_id),
      cmocka_unit_test(test_server_token_survives_restart),
      cmocka_unit_test(test_server_envelope_errors),
      cmocka_unit_test(test_server_payload_validation),
      cmocka_unit_test(test_server_channel_send_audience),
      cmocka_unit_test(test_server_join_unknown_and_repeat),
      cmocka_unit_test(test_server_sync_request_pages_exactly),
      cmocka_unit_test(test_server_sfu_proxy_and_noop),
      cmocka_unit_test(test_server_rate_limit),
      cmocka_unit_test(test_server_rate_limit_many_dids),
      cmocka_unit_test(test_server_shutdown_closes_1001),
      cmocka_unit_test(test_server_keepalive_ping_and_timeout),
      cmocka_unit_test(test_server_ban_closes_and_blocks),
      cmocka_unit_test(test_server_tick_matches_full_scan),
      cmocka_unit_test(test_server_broadcast_audience_follows_membership),
      cmocka_unit_test(test_server_notices_reach_exact_audience),
      cmocka_unit_test(test_server_voice_room_audiences),
      cmocka_unit_test(test_server_edit_delete_history),
      cmocka_unit_test(test_server_role_grants_permission),
      cmocka_unit_test(test_server_recovery_relay),
      cmocka_unit_test(test_server_http_user_data),
      cmocka_unit_test(test_server_handlers_all_in_registry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
