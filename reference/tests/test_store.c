/* test_store.c - the SQLite store on its own: group commit (hm_store_batch_*), with a
 * file-backed database in a temporary directory so durability can be checked by reopening. */
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
#include "harmony/store.h"
#include "hm_test_alloc.h"

#define T0 1767225600000LL

typedef struct {
  char dir[64];
  char path[96];
  hm_store *st;
} tdb;

static void tdb_open(tdb *t) {
  const char *why = NULL;
  assert_int_equal(hm_store_sqlite_open(&t->st, t->path, &why), HM_OK);
}

static int setup(void **state) {
  tdb *t = calloc(1, sizeof *t);
  if (!t) return -1;
  snprintf(t->dir, sizeof t->dir, "/tmp/hm_store_XXXXXX");
  if (!mkdtemp(t->dir)) {
    free(t);
    return -1;
  }
  snprintf(t->path, sizeof t->path, "%s/harmony.db", t->dir);
  tdb_open(t);
  *state = t;
  return 0;
}

static int teardown(void **state) {
  tdb *t = *state;
  hm_store_close(t->st);
  char p[128];
  static const char *const suffix[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", t->path, suffix[i]);
    unlink(p);
  }
  rmdir(t->dir);
  free(t);
  return 0;
}

static void tdb_reopen(tdb *t) {
  hm_store_close(t->st);
  t->st = NULL;
  tdb_open(t);
}

static int count_cb(void *ctx, const hm_store_member *m) {
  (void)m;
  (*(int *)ctx)++;
  return 0;
}

static int members(hm_store *st, const char *cid) {
  int n = 0;
  assert_int_equal(st->vt->member_list(st, cid, count_cb, &n), HM_OK);
  return n;
}

static void make_community(hm_store *st, const char *cid, const char *creator) {
  hm_store_community c = {cid, "name", NULL, creator, T0};
  hm_store_channel ch = {"ch-1", cid, "general", "text", NULL, T0, NULL, 0};
  char chid[64];
  snprintf(chid, sizeof chid, "%s-general", cid);
  ch.id = chid;
  assert_int_equal(st->vt->community_create(st, &c, &ch, 1), HM_OK);
}

static hm_store_message msg(const char *cid, const char *chid, const char *id) {
  hm_store_message m;
  memset(&m, 0, sizeof m);
  m.community_id = cid;
  m.channel_id = chid;
  m.id = id;
  m.author = "did:key:a";
  m.timestamp = "2026-01-01T00:00:00Z";
  m.payload_json = "{}";
  m.received_ms = T0;
  return m;
}

static void test_store_batch_begin_twice_inval(void **state) {
  tdb *t = *state;
  assert_int_equal(hm_store_batch_end(t->st), HM_ERR_INVAL);
  assert_int_equal(hm_store_batch_abort(t->st), HM_ERR_INVAL);
  assert_int_equal(hm_store_batch_begin(t->st), HM_OK);
  assert_int_equal(hm_store_batch_begin(t->st), HM_ERR_INVAL);
  assert_int_equal(hm_store_batch_end(t->st), HM_OK);
  assert_int_equal(hm_store_batch_end(t->st), HM_ERR_INVAL);
  assert_int_equal(hm_store_batch_begin(NULL), HM_ERR_INVAL);
  /* An empty batch commits. */
  assert_int_equal(hm_store_batch_begin(t->st), HM_OK);
  assert_int_equal(hm_store_batch_end(t->st), HM_OK);
}

static void test_store_batch_writes_visible_inside(void **state) {
  tdb *t = *state;
  hm_store *st = t->st;
  assert_int_equal(hm_store_batch_begin(st), HM_OK);
  make_community(st, "c1", "did:key:a");
  int added = 0;
  assert_int_equal(st->vt->member_add(st, "c1", "did:key:b", T0, &added), HM_OK);
  assert_true(added);
  assert_int_equal(members(st, "c1"), 2);
  assert_int_equal(st->vt->member_get(st, "c1", "did:key:b", NULL, NULL), HM_OK);
  hm_store_message m = msg("c1", "c1-general", "m1");
  int64_t seq = 0;
  assert_int_equal(st->vt->message_append(st, &m, &seq), HM_OK);
  assert_int_equal(seq, 1);
  m.id = "m2";
  assert_int_equal(st->vt->message_append(st, &m, &seq), HM_OK);
  assert_int_equal(seq, 2);
  assert_int_equal(st->vt->message_get(st, "c1-general", "m2", NULL, NULL), HM_OK);
  assert_int_equal(hm_store_batch_end(st), HM_OK);
  assert_int_equal(members(st, "c1"), 2);
}

static void test_store_batch_failed_write_keeps_others(void **state) {
  tdb *t = *state;
  hm_store *st = t->st;
  assert_int_equal(hm_store_batch_begin(st), HM_OK);
  make_community(st, "c1", "did:key:a");
  hm_store_message m = msg("c1", "c1-general", "m1");
  int64_t seq = 0;
  assert_int_equal(st->vt->message_append(st, &m, &seq), HM_OK);
  /* Same id again: the multi-statement append fails with its usual code and undoes itself
   * (next_seq must not move). */
  assert_int_equal(st->vt->message_append(st, &m, &seq), HM_ERR_CONFLICT);
  /* A replayed key: HM_ERR_REPLAY as without a batch. */
  assert_int_equal(st->vt->replay_add(st, "k1", T0 + 1000, T0), HM_OK);
  assert_int_equal(st->vt->replay_add(st, "k1", T0 + 1000, T0), HM_ERR_REPLAY);
  /* A community with an existing id: the whole multi-statement create fails. */
  hm_store_community c = {"c1", "again", NULL, "did:key:z", T0};
  assert_int_equal(st->vt->community_create(st, &c, NULL, 0), HM_ERR_IO);
  /* Unknown channel. */
  m.channel_id = "nope";
  assert_int_equal(st->vt->message_append(st, &m, &seq), HM_ERR_NOT_FOUND);
  /* The next writes still work and continue the sequence. */
  m.channel_id = "c1-general";
  m.id = "m2";
  assert_int_equal(st->vt->message_append(st, &m, &seq), HM_OK);
  assert_int_equal(seq, 2);
  assert_int_equal(hm_store_batch_end(st), HM_OK);
  tdb_reopen(t);
  st = t->st;
  assert_int_equal(members(st, "c1"), 1); /* the creator only: the failed create left nothing */
  assert_int_equal(st->vt->member_get(st, "c1", "did:key:z", NULL, NULL), HM_ERR_NOT_FOUND);
  assert_int_equal(st->vt->message_get(st, "c1-general", "m1", NULL, NULL), HM_OK);
  assert_int_equal(st->vt->message_get(st, "c1-general", "m2", NULL, NULL), HM_OK);
  assert_int_equal(st->vt->replay_add(st, "k1", T0 + 1000, T0), HM_ERR_REPLAY);
  m.id = "m3";
  assert_int_equal(st->vt->message_append(st, &m, &seq), HM_OK);
  assert_int_equal(seq, 3);
}

static void test_store_batch_end_durable(void **state) {
  tdb *t = *state;
  hm_store *st = t->st;
  assert_int_equal(hm_store_batch_begin(st), HM_OK);
  make_community(st, "c1", "did:key:a");
  assert_int_equal(st->vt->member_add(st, "c1", "did:key:b", T0, NULL), HM_OK);
  assert_int_equal(st->vt->ban_add(st, "c1", "did:key:b", "did:key:a", NULL, T0), HM_OK);
  assert_int_equal(st->vt->known_did_add(st, "did:key:b", T0), HM_OK);
  assert_int_equal(hm_store_batch_end(st), HM_OK);
  tdb_reopen(t);
  st = t->st;
  assert_int_equal(members(st, "c1"), 1);
  assert_int_equal(st->vt->ban_get(st, "c1", "did:key:b"), HM_OK);
  assert_int_equal(st->vt->known_did_get(st, "did:key:b"), HM_OK);
}

static void test_store_batch_close_without_end_loses(void **state) {
  tdb *t = *state;
  hm_store *st = t->st;
  make_community(st, "c0", "did:key:a"); /* durable: no batch */
  assert_int_equal(hm_store_batch_begin(st), HM_OK);
  make_community(st, "c1", "did:key:a");
  assert_int_equal(st->vt->member_add(st, "c0", "did:key:b", T0, NULL), HM_OK);
  assert_int_equal(members(st, "c0"), 2);
  tdb_reopen(t); /* close with the batch open */
  st = t->st;
  assert_int_equal(st->vt->community_get(st, "c1", NULL, NULL), HM_ERR_NOT_FOUND);
  assert_int_equal(st->vt->community_get(st, "c0", NULL, NULL), HM_OK);
  assert_int_equal(members(st, "c0"), 1);
}

static void test_store_batch_abort_discards(void **state) {
  tdb *t = *state;
  hm_store *st = t->st;
  assert_int_equal(hm_store_batch_begin(st), HM_OK);
  make_community(st, "c1", "did:key:a");
  assert_int_equal(hm_store_batch_abort(st), HM_OK);
  assert_int_equal(st->vt->community_get(st, "c1", NULL, NULL), HM_ERR_NOT_FOUND);
  /* Back to one transaction per write. */
  make_community(st, "c2", "did:key:a");
  tdb_reopen(t);
  assert_int_equal(t->st->vt->community_get(t->st, "c2", NULL, NULL), HM_OK);
}

static void test_store_batch_rollback_then_more_writes(void **state) {
  tdb *t = *state;
  hm_store *st = t->st;
  make_community(st, "c1", "did:key:a");
  for (int round = 0; round < 3; round++) {
    assert_int_equal(hm_store_batch_begin(st), HM_OK);
    char id[16];
    for (int i = 0; i < 5; i++) {
      snprintf(id, sizeof id, "r%d-%d", round, i);
      hm_store_message m = msg("c1", "c1-general", id);
      assert_int_equal(st->vt->message_append(st, &m, NULL), HM_OK);
      assert_int_equal(st->vt->message_append(st, &m, NULL), HM_ERR_CONFLICT);
      assert_int_equal(st->vt->member_remove(st, "c1", "did:key:nobody"), HM_ERR_NOT_FOUND);
    }
    assert_int_equal(hm_store_batch_end(st), HM_OK);
  }
  tdb_reopen(t);
  st = t->st;
  hm_store_message m = msg("c1", "c1-general", "last");
  int64_t seq = 0;
  assert_int_equal(st->vt->message_append(st, &m, &seq), HM_OK);
  assert_int_equal(seq, 16);
}

static int has_did(hm_store *st, const char *cid, const char *did, size_t *n_out) {
  const char *const *dids;
  size_t n;
  assert_int_equal(st->vt->member_dids(st, cid, &dids, &n), HM_OK);
  if (n_out) *n_out = n;
  int found = 0;
  for (size_t i = 0; i < n; i++) found += strcmp(dids[i], did) == 0;
  assert_true(found <= 1);
  return found;
}

/* The member cache always equals the members table: adds, removes, bans, rejoins, an
 * unknown community that is created later, failed writes and aborted batches. */
static void test_store_member_dids_follow_writes(void **state) {
  tdb *t = *state;
  hm_store *st = t->st;
  size_t n = 99;
  assert_int_equal(has_did(st, "c1", "did:key:a", &n), 0); /* unknown: empty, and cached */
  assert_int_equal(n, 0);
  make_community(st, "c1", "did:key:a");
  assert_int_equal(has_did(st, "c1", "did:key:a", &n), 1);
  assert_int_equal(n, 1);
  assert_int_equal(st->vt->member_add(st, "c1", "did:key:b", T0, NULL), HM_OK);
  assert_int_equal(st->vt->member_add(st, "c1", "did:key:b", T0, NULL), HM_OK); /* already a member */
  assert_int_equal(has_did(st, "c1", "did:key:b", &n), 1);
  assert_int_equal(n, 2);
  assert_int_equal(st->vt->member_remove(st, "c1", "did:key:b"), HM_OK);
  assert_int_equal(has_did(st, "c1", "did:key:b", &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(st->vt->member_add(st, "c1", "did:key:b", T0, NULL), HM_OK); /* rejoin */
  assert_int_equal(has_did(st, "c1", "did:key:b", NULL), 1);
  assert_int_equal(st->vt->ban_add(st, "c1", "did:key:b", "did:key:a", NULL, T0), HM_OK);
  assert_int_equal(has_did(st, "c1", "did:key:b", NULL), 0);
  /* a batch: an add the batch aborts disappears from the cache too */
  assert_int_equal(hm_store_batch_begin(st), HM_OK);
  assert_int_equal(st->vt->member_add(st, "c1", "did:key:c", T0, NULL), HM_OK);
  assert_int_equal(has_did(st, "c1", "did:key:c", NULL), 1);
  assert_int_equal(hm_store_batch_abort(st), HM_OK);
  assert_int_equal(has_did(st, "c1", "did:key:c", &n), 0);
  assert_int_equal(n, 1);
  /* a failed write inside a batch rolls back its savepoint; the batch's adds stay */
  assert_int_equal(hm_store_batch_begin(st), HM_OK);
  assert_int_equal(st->vt->member_add(st, "c1", "did:key:d", T0, NULL), HM_OK);
  hm_store_message m = msg("c1", "nope", "m1");
  assert_int_equal(st->vt->message_append(st, &m, NULL), HM_ERR_NOT_FOUND);
  assert_int_equal(has_did(st, "c1", "did:key:d", &n), 1);
  assert_int_equal(n, 2);
  assert_int_equal(hm_store_batch_end(st), HM_OK);
  tdb_reopen(t);
  st = t->st;
  assert_int_equal(has_did(st, "c1", "did:key:d", &n), 1);
  assert_int_equal(n, 2);
  assert_int_equal(has_did(st, "c1", "did:key:b", NULL), 0);
}

static void test_store_nobatch_each_write_durable(void **state) {
  tdb *t = *state;
  make_community(t->st, "c1", "did:key:a");
  assert_int_equal(t->st->vt->member_add(t->st, "c1", "did:key:b", T0, NULL), HM_OK);
  tdb_reopen(t);
  assert_int_equal(members(t->st, "c1"), 2);
}

/* The database is held exclusively: a second open of the same file fails clearly. */
static void test_store_open_second_refused(void **state) {
  tdb *t = *state;
  hm_store *st2 = NULL;
  const char *why = NULL;
  assert_int_equal(hm_store_sqlite_open(&st2, t->path, &why), HM_ERR_IO);
  assert_null(st2);
  assert_non_null(why);
  assert_non_null(strstr(why, "in use"));
}

static void test_store_open_nomem(void **state) {
  tdb *t = *state;
  hm_store_close(t->st); /* the file is held exclusively while open */
  t->st = NULL;
  hm_test_alloc_install();
  for (long n = 1;; n++) {
    hm_store *st = NULL;
    long before = hm_test_alloc_outstanding();
    hm_test_alloc_fail_at(n);
    int rc = hm_store_sqlite_open(&st, t->path, NULL);
    hm_test_alloc_fail_at(0);
    if (rc == HM_OK) {
      assert_int_equal(hm_store_batch_begin(st), HM_OK);
      assert_int_equal(hm_store_batch_end(st), HM_OK);
      hm_store_close(st);
      assert_int_equal(hm_test_alloc_outstanding(), before);
      break;
    }
    assert_int_equal(rc, HM_ERR_NOMEM);
    assert_null(st);
    assert_int_equal(hm_test_alloc_outstanding(), before);
    assert_true(n < 100);
  }
}

/* Deferred sync (harmonyd's pipelined group commit): batch_wrote tells a writing batch from
 * a read-only one, wal_sync needs the WAL descriptor that the first writing batch opens, the
 * deferred writes are there after a reopen, and :memory: / non-SQLite stores are refused. */
static void test_store_deferred_sync(void **state) {
  tdb *t = *state;
  assert_int_equal(hm_store_sqlite_defer_sync(NULL, 1), HM_ERR_INVAL);
  assert_int_equal(hm_store_sqlite_wal_sync(t->st), HM_ERR_INVAL); /* not deferred, no fd yet */
  assert_int_equal(hm_store_batch_begin(t->st), HM_OK);
  assert_int_equal(hm_store_sqlite_defer_sync(t->st, 1), HM_ERR_INVAL); /* not inside a batch */
  assert_int_equal(hm_store_batch_end(t->st), HM_OK);
  assert_int_equal(hm_store_sqlite_batch_wrote(t->st), 0);
  assert_int_equal(hm_store_sqlite_defer_sync(t->st, 1), HM_OK);
  /* a read-only batch: nothing written, nothing to sync */
  assert_int_equal(hm_store_batch_begin(t->st), HM_OK);
  assert_int_equal(members(t->st, "c-none"), 0);
  assert_int_equal(hm_store_batch_end(t->st), HM_OK);
  assert_int_equal(hm_store_sqlite_batch_wrote(t->st), 0);
  assert_int_equal(hm_store_sqlite_wal_sync(t->st), HM_ERR_INVAL);
  /* a writing batch opens the WAL descriptor; the sync then succeeds */
  assert_int_equal(hm_store_batch_begin(t->st), HM_OK);
  make_community(t->st, "c-1", "did:key:alice");
  assert_int_equal(t->st->vt->replay_add(t->st, "k-deferred", T0 + 1000, T0), HM_OK);
  assert_int_equal(hm_store_batch_end(t->st), HM_OK);
  assert_int_equal(hm_store_sqlite_batch_wrote(t->st), 1);
  assert_int_equal(hm_store_sqlite_wal_sync(t->st), HM_OK);
  /* a refused write (duplicate replay key) changes nothing */
  assert_int_equal(hm_store_batch_begin(t->st), HM_OK);
  assert_int_equal(t->st->vt->replay_add(t->st, "k-deferred", T0 + 1000, T0), HM_ERR_REPLAY);
  assert_int_equal(hm_store_batch_end(t->st), HM_OK);
  assert_int_equal(hm_store_sqlite_batch_wrote(t->st), 0);
  tdb_reopen(t);
  assert_int_equal(members(t->st, "c-1"), 1);
  assert_int_equal(t->st->vt->replay_add(t->st, "k-deferred", T0 + 1000, T0), HM_ERR_REPLAY);
  /* an in-memory store has no file to sync */
  hm_store *mem = NULL;
  assert_int_equal(hm_store_sqlite_open(&mem, ":memory:", NULL), HM_OK);
  assert_int_equal(hm_store_sqlite_defer_sync(mem, 1), HM_ERR_INVAL);
  assert_int_equal(hm_store_sqlite_batch_wrote(NULL), 0);
  hm_store_close(mem);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_store_deferred_sync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_batch_begin_twice_inval, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_batch_writes_visible_inside, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_batch_failed_write_keeps_others, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_batch_end_durable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_batch_close_without_end_loses, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_batch_abort_discards, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_batch_rollback_then_more_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_nobatch_each_write_durable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_member_dids_follow_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_open_second_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_open_nomem, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
