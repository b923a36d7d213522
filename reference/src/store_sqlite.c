/* store_sqlite.c - the SQLite implementation of harmony/store.h.
 *
 * Durability: WAL with synchronous=FULL, so a COMMIT has synced the WAL before the call
 * returns; the server sends a frame revealing a change only after that (R-PERS-1,
 * R-DLV-6). Each write is one transaction, so a crash leaves all of a frame's effect or
 * none of it. Group commit: between hm_store_batch_begin and hm_store_batch_end all writes
 * share one transaction (one sync at the end), each multi-statement write a SAVEPOINT in
 * it (see tx_begin). Checkpoints: SQLite's automatic checkpoint (1000 pages) plus a TRUNCATE
 * checkpoint on close.
 *
 * Schema versions live in the table meta (key 'schema_version'); migrations[] holds the
 * statements that bring version i to i+1. A database of a newer version is refused
 * (R-PERS-21).
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harmony/alloc.h"
#include "harmony/store.h"

#define HM_STORE_SCHEMA_VERSION 12

static const char *const migrations[HM_STORE_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE secrets(name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE replay(key TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL);"
    "CREATE INDEX replay_expiry ON replay(expires_ms);"
    "CREATE TABLE known_dids(did TEXT PRIMARY KEY, first_ms INTEGER NOT NULL);"
    "CREATE TABLE communities(id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT,"
    " creator TEXT NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE INDEX communities_creator ON communities(creator);"
    "CREATE TABLE channels(id TEXT PRIMARY KEY, community_id TEXT NOT NULL, name TEXT NOT NULL,"
    " type TEXT NOT NULL, topic TEXT, created_ms INTEGER NOT NULL, next_seq INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX channels_community ON channels(community_id);"
    "CREATE TABLE members(community_id TEXT NOT NULL, did TEXT NOT NULL, joined_ms INTEGER NOT NULL,"
    " display_name TEXT, PRIMARY KEY(community_id, did));"
    "CREATE INDEX members_did ON members(did);"
    "CREATE TABLE bans(community_id TEXT NOT NULL, did TEXT NOT NULL, by_did TEXT, reason TEXT,"
    " created_ms INTEGER NOT NULL, PRIMARY KEY(community_id, did));"
    "CREATE TABLE messages(channel_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,"
    " community_id TEXT NOT NULL, author TEXT NOT NULL, timestamp TEXT NOT NULL, payload TEXT NOT NULL,"
    " counter REAL, received_ms INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(channel_id, seq), UNIQUE(channel_id, id));",
    /* 1 -> 2: edits, tombstones, reactions, pins, roles, display names, channel settings */
    "ALTER TABLE channels ADD COLUMN category_id TEXT;"
    "ALTER TABLE channels ADD COLUMN slow_mode INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN edited_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN deleted_by TEXT;"
    "ALTER TABLE messages ADD COLUMN deleted_ms INTEGER;"
    "CREATE TABLE reactions(channel_id TEXT NOT NULL, message_id TEXT NOT NULL, emoji TEXT NOT NULL,"
    " did TEXT NOT NULL, added_ms INTEGER NOT NULL, UNIQUE(channel_id, message_id, emoji, did));"
    "CREATE TABLE pins(channel_id TEXT NOT NULL, message_id TEXT NOT NULL, by_did TEXT NOT NULL,"
    " pinned_ms INTEGER NOT NULL, UNIQUE(channel_id, message_id));"
    "CREATE TABLE roles(id TEXT PRIMARY KEY, community_id TEXT NOT NULL, name TEXT NOT NULL, color TEXT,"
    " permissions TEXT NOT NULL, position INTEGER NOT NULL, created_by TEXT NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE INDEX roles_community ON roles(community_id);"
    "CREATE TABLE role_assignments(community_id TEXT NOT NULL, did TEXT NOT NULL, role_id TEXT NOT NULL,"
    " UNIQUE(community_id, did, role_id));"
    "CREATE TABLE profiles(did TEXT PRIMARY KEY, display_name TEXT NOT NULL);",
    /* 2 -> 3: direct messages */
    "CREATE TABLE dms(conversation TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, recipient TEXT NOT NULL,"
    " author TEXT NOT NULL, timestamp TEXT NOT NULL, payload TEXT NOT NULL, received_ms INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL DEFAULT 0, edited_ms INTEGER NOT NULL DEFAULT 0, deleted_ms INTEGER,"
    " PRIMARY KEY(conversation, seq), UNIQUE(conversation, id));",
    /* 3 -> 4: threads */
    "CREATE TABLE threads(id TEXT PRIMARY KEY, community_id TEXT NOT NULL, channel_id TEXT NOT NULL,"
    " parent_id TEXT NOT NULL, name TEXT NOT NULL, creator TEXT NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE INDEX threads_channel ON threads(channel_id);"
    "CREATE TABLE thread_messages(thread_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,"
    " community_id TEXT NOT NULL, channel_id TEXT NOT NULL, author TEXT NOT NULL, timestamp TEXT NOT NULL,"
    " payload TEXT NOT NULL, counter REAL, received_ms INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,"
    " edited_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(thread_id, seq), UNIQUE(thread_id, id));",
    /* 4 -> 5: notifications */
    "CREATE TABLE notifications(id TEXT PRIMARY KEY, did TEXT NOT NULL, type TEXT NOT NULL, from_did TEXT NOT NULL,"
    " community_id TEXT, channel_id TEXT, message_id TEXT NOT NULL, content TEXT NOT NULL,"
    " read INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);"
    "CREATE INDEX notifications_did ON notifications(did);",
    /* 5 -> 6: moderation */
    "CREATE TABLE moderation(community_id TEXT PRIMARY KEY, rules TEXT NOT NULL DEFAULT '[]',"
    " lockdown_until INTEGER NOT NULL DEFAULT 0);",
    /* 6 -> 7: MLS */
    "CREATE TABLE key_packages(did TEXT NOT NULL, json TEXT NOT NULL, fingerprint TEXT NOT NULL,"
    " UNIQUE(did, fingerprint));"
    "CREATE TABLE mls_groups(group_id TEXT PRIMARY KEY, community_id TEXT NOT NULL, channel_id TEXT NOT NULL,"
    " creator TEXT NOT NULL);"
    "CREATE INDEX mls_groups_community ON mls_groups(community_id);",
    /* 7 -> 8: media */
    "CREATE TABLE media(id TEXT PRIMARY KEY, uploader TEXT NOT NULL, community_id TEXT NOT NULL,"
    " channel_id TEXT NOT NULL, filename TEXT NOT NULL, mime TEXT NOT NULL, size INTEGER NOT NULL,"
    " bytes BLOB NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE INDEX media_uploader ON media(uploader);",
    /* 8 -> 9: social recovery */
    "CREATE TABLE recovery_requests(request_id TEXT PRIMARY KEY, requester TEXT NOT NULL, guardians TEXT NOT NULL,"
    " threshold INTEGER NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE TABLE recovery_shards(request_id TEXT NOT NULL, guardian TEXT NOT NULL, shard TEXT NOT NULL,"
    " UNIQUE(request_id, guardian));",
    /* 9 -> 10: user data */
    "CREATE TABLE user_data(did TEXT PRIMARY KEY, ciphertext TEXT NOT NULL, nonce TEXT NOT NULL, metadata TEXT);",
    /* 10 -> 11: issued capabilities */
    "CREATE TABLE capabilities(id TEXT PRIMARY KEY, community_id TEXT NOT NULL, json TEXT NOT NULL);",
    /* 11 -> 12: imported (placeholder) members of migrated communities */
    "CREATE TABLE placeholders(community_id TEXT NOT NULL, discord_id TEXT NOT NULL, subject TEXT NOT NULL,"
    " name TEXT NOT NULL, linked_did TEXT, linked_ms INTEGER, PRIMARY KEY(community_id, discord_id));"
    "CREATE UNIQUE INDEX placeholders_linked ON placeholders(community_id, linked_did) WHERE linked_did IS NOT NULL;",
};

/* Prepared-statement cache: every statement text is a string literal of this file, so its
 * address is its key. A statement is prepared once (SQLITE_PREPARE_PERSISTENT) on first
 * use, handed out by prep() and given back by done(), which resets it and clears its
 * bindings; all are finalized at close. A statement still in use when the same text is
 * asked for again (a callback calling back into the store) is not shared: prep() then
 * prepares a private one that done() finalizes. */
#define SQ_CACHE_SLOTS 512 /* power of two, well above this file's ~130 statements */
#define SQ_INUSE_MAX 16

/* Member cache (hm_store_vtable.member_dids): the DIDs of a community's members, built from
 * the table on first use. A write that adds members appends to a cached list; one that
 * removes members drops the community's list; any rollback drops them all. */
#define SQ_MEMBER_BUCKETS 1024

typedef struct sq_members {
  struct sq_members *next;
  char *cid;
  char **dids;
  size_t n, cap;
} sq_members;

typedef struct {
  const char *sql; /* NULL: free slot */
  sqlite3_stmt *stmt;
  int busy;
} sq_cached;

typedef struct {
  hm_store base;
  sqlite3 *db;
  int batch;      /* hm_store_batch_begin ran and its batch is not ended yet */
  int batch_lost; /* SQLite rolled the batch's transaction back on its own (I/O error, disk full) */
  int deferred;      /* hm_store_sqlite_defer_sync: synchronous=NORMAL, the caller syncs the WAL */
  int wal_fd;        /* read-only descriptor of the -wal file for hm_store_sqlite_wal_sync, or -1 */
  int batch_wrote;   /* the last batch_end committed changes */
  sqlite3_int64 changes0; /* sqlite3_total_changes64 at batch_begin */
  struct sq_members *members[SQ_MEMBER_BUCKETS]; /* member cache, see member_dids */
  size_t ncached;
  sq_cached *inuse[SQ_INUSE_MAX]; /* cached statements handed out and not yet done() */
  size_t ninuse;
  sq_cached cache[SQ_CACHE_SLOTS];
} sq_store;

static const hm_store_vtable sq_vtable; /* defined at the end */

static sqlite3 *db_of(hm_store *st) { return ((sq_store *)st)->db; }

/* Inside a batch, SQLite may have rolled the outer transaction back by itself after an
 * I/O, disk-full or out-of-memory error (the connection is back in autocommit mode). Every
 * later statement of the batch then fails with HM_ERR_IO, so nothing runs outside it. */
static void members_invalidate_all(sq_store *q);

static int batch_broken(sq_store *q) {
  if (q->batch && !q->batch_lost && sqlite3_get_autocommit(q->db)) {
    q->batch_lost = 1;
    members_invalidate_all(q);
  }
  return q->batch_lost;
}

static size_t str_hash(const char *s) {
  size_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void members_free(sq_members *m) {
  for (size_t i = 0; i < m->n; i++) hm_free(m->dids[i]);
  hm_free(m->dids);
  hm_free(m->cid);
  hm_free(m);
}

static sq_members **members_slot(sq_store *q, const char *cid) {
  sq_members **pp = &q->members[str_hash(cid) & (SQ_MEMBER_BUCKETS - 1)];
  while (*pp && strcmp((*pp)->cid, cid) != 0) pp = &(*pp)->next;
  return pp;
}

/* Forget the cached member list of cid. */
static void members_invalidate(hm_store *st, const char *cid) {
  sq_members **pp = members_slot((sq_store *)st, cid), *m = *pp;
  if (!m) return;
  *pp = m->next;
  members_free(m);
}

/* Forget every cached member list (after any rollback: the cache may be ahead of the data). */
static void members_invalidate_all(sq_store *q) {
  for (size_t i = 0; i < SQ_MEMBER_BUCKETS; i++) {
    while (q->members[i]) {
      sq_members *m = q->members[i];
      q->members[i] = m->next;
      members_free(m);
    }
  }
}

static int members_push(sq_members *m, const char *did) {
  if (m->n == m->cap) {
    size_t nc = m->cap ? m->cap * 2 : 8;
    char **nd = hm_realloc(m->dids, nc * sizeof *nd);
    if (!nd) return HM_ERR_NOMEM;
    m->dids = nd;
    m->cap = nc;
  }
  if (!(m->dids[m->n] = hm_strdup(did))) return HM_ERR_NOMEM;
  m->n++;
  return HM_OK;
}

static sq_cached *cache_slot(sq_store *q, const char *sql) {
  size_t h = ((uintptr_t)sql >> 3) * (size_t)0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < SQ_CACHE_SLOTS; i++) {
    sq_cached *c = &q->cache[(h + i) & (SQ_CACHE_SLOTS - 1)];
    if (!c->sql || c->sql == sql) return c;
  }
  return NULL;
}

/* Hands out the statement for sql (a literal of this file); give it back with done(). */
static int prep(hm_store *st, sqlite3_stmt **s, const char *sql) {
  sq_store *q = (sq_store *)st;
  *s = NULL;
  if (batch_broken(q)) return HM_ERR_IO;
  sq_cached *c = cache_slot(q, sql);
  if (c && !c->busy && q->ninuse < SQ_INUSE_MAX) {
    if (!c->sql) {
      if (q->ncached >= SQ_CACHE_SLOTS / 2) goto transient;
      if (sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmt, NULL) != SQLITE_OK) {
        c->stmt = NULL;
        return HM_ERR_IO;
      }
      c->sql = sql;
      q->ncached++;
    }
    c->busy = 1;
    q->inuse[q->ninuse++] = c;
    *s = c->stmt;
    return HM_OK;
  }
transient:
  return sqlite3_prepare_v2(q->db, sql, -1, s, NULL) == SQLITE_OK ? HM_OK : HM_ERR_IO;
}

/* Gives back a statement from prep(): a cached one is reset for its next use, a private
 * one finalized. Column values read from s are invalid afterwards. */
static void done(hm_store *st, sqlite3_stmt *s) {
  sq_store *q = (sq_store *)st;
  if (!s) return;
  for (size_t i = q->ninuse; i-- > 0;) {
    if (q->inuse[i]->stmt == s) {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
      q->inuse[i]->busy = 0;
      q->inuse[i] = q->inuse[--q->ninuse];
      return;
    }
  }
  sqlite3_finalize(s);
}

static void cache_clear(sq_store *q) {
  for (size_t i = 0; i < SQ_CACHE_SLOTS; i++) {
    if (q->cache[i].stmt) sqlite3_finalize(q->cache[i].stmt);
    q->cache[i].stmt = NULL;
    q->cache[i].sql = NULL;
    q->cache[i].busy = 0;
  }
  q->ncached = 0;
  q->ninuse = 0;
}

static int exec(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? HM_OK : HM_ERR_IO;
}

/* Runs a statement without parameters or rows through the cache (transaction control). */
static int sexec(hm_store *st, const char *sql) {
  sqlite3_stmt *s;
  if (prep(st, &s, sql) != HM_OK) return HM_ERR_IO;
  int rc = sqlite3_step(s);
  done(st, s);
  return rc == SQLITE_DONE ? HM_OK : HM_ERR_IO;
}

/* ---- transactions --------------------------------------------------------------------
 * Every write made of several statements runs between tx_begin and tx_commit (tx_rollback
 * on any failure). With no batch open that is its own durable transaction (BEGIN
 * IMMEDIATE ... COMMIT); inside a batch it is a SAVEPOINT of the batch's transaction, so a
 * failed write undoes only itself. A single-statement write needs neither: SQLite undoes
 * a failed statement by itself and leaves an enclosing transaction open. */

static int tx_begin(hm_store *st) {
  sq_store *q = (sq_store *)st;
  if (!q->batch) return sexec(st, "BEGIN IMMEDIATE");
  if (batch_broken(q)) return HM_ERR_IO;
  return sexec(st, "SAVEPOINT hm_write");
}

static int tx_commit(hm_store *st) {
  sq_store *q = (sq_store *)st;
  return q->batch ? sexec(st, "RELEASE hm_write") : sexec(st, "COMMIT");
}

static void tx_rollback(hm_store *st) {
  sq_store *q = (sq_store *)st;
  members_invalidate_all(q);
  if (!q->batch) {
    sexec(st, "ROLLBACK");
    return;
  }
  if (batch_broken(q)) return;
  /* ROLLBACK TO undoes the savepoint's changes but keeps it open; RELEASE pops it. */
  if (sexec(st, "ROLLBACK TO hm_write") != HM_OK || sexec(st, "RELEASE hm_write") != HM_OK) batch_broken(q);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
  if (v)
    sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(s, i);
}

static const char *col_text(sqlite3_stmt *s, int i) { return (const char *)sqlite3_column_text(s, i); }

/* Row iteration shared by the typed lookups: each_row steps s (NULL: HM_ERR_IO), hands
 * every row to row() (which builds the record and calls the caller's callback, kept in a),
 * stops when that returns non-zero, gives s back. HM_ERR_NOT_FOUND when want_one and there
 * was no row. */
typedef struct {
  union {
    hm_store_community_cb community;
    hm_store_channel_cb channel;
    hm_store_member_cb member;
    hm_store_message_cb message;
    hm_store_role_cb role;
    hm_store_thread_cb group;
    hm_store_recovery_cb recovery;
  } cb;
  void *ctx;
} row_arg;

static int each_row(hm_store *st, sqlite3_stmt *s, int want_one, int (*row)(sqlite3_stmt *, row_arg *), row_arg *a) {
  if (!s) return HM_ERR_IO;
  int rc, found = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    found = 1;
    if (row(s, a)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  done(st, s);
  if (rc != SQLITE_DONE) return HM_ERR_IO;
  return (want_one && !found) ? HM_ERR_NOT_FOUND : HM_OK;
}

/* Run a statement that returns no rows. */
static int step_done(hm_store *st, sqlite3_stmt *s) {
  int rc = sqlite3_step(s);
  done(st, s);
  return rc == SQLITE_DONE ? HM_OK : HM_ERR_IO;
}

/* Binds args by the letters of types (s = text or NULL, i = int64, d = double). */
static void bind_args(sqlite3_stmt *s, const char *types, va_list ap) {
  for (int i = 0; types[i]; i++) {
    if (types[i] == 's')
      bind_text(s, i + 1, va_arg(ap, const char *));
    else if (types[i] == 'i')
      sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
    else
      sqlite3_bind_double(s, i + 1, va_arg(ap, double));
  }
}

/* Prepare sql, bind args as bind_args does, run it to completion; *changes (may be NULL)
 * gets the number of changed rows. */
static int run(hm_store *st, int64_t *changes, const char *sql, const char *types, ...) {
  sqlite3_stmt *s;
  if (prep(st, &s, sql) != HM_OK) return HM_ERR_IO;
  va_list ap;
  va_start(ap, types);
  bind_args(s, types, ap);
  va_end(ap);
  int rc = sqlite3_step(s);
  done(st, s);
  if (rc != SQLITE_DONE) return HM_ERR_IO;
  if (changes) *changes = sqlite3_changes(db_of(st));
  return HM_OK;
}

/* Prepare sql and bind args as bind_args does, for the *_rows readers; NULL when it cannot
 * be prepared (the readers then return HM_ERR_IO). */
static sqlite3_stmt *query(hm_store *st, const char *sql, const char *types, ...) {
  sqlite3_stmt *s;
  if (prep(st, &s, sql) != HM_OK) return NULL;
  va_list ap;
  va_start(ap, types);
  bind_args(s, types, ap);
  va_end(ap);
  return s;
}

/* ---- secrets, replay, known DIDs ---------------------------------------------------- */

static int sq_secret_get(hm_store *st, const char *name, uint8_t out[32]) {
  sqlite3_stmt *s;
  if (prep(st, &s, "SELECT value FROM secrets WHERE name=?1") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, name);
  int rc = sqlite3_step(s), ret;
  if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32) {
    memcpy(out, sqlite3_column_blob(s, 0), 32);
    ret = HM_OK;
  } else {
    ret = rc == SQLITE_DONE ? HM_ERR_NOT_FOUND : HM_ERR_IO;
  }
  done(st, s);
  return ret;
}

static int sq_secret_put(hm_store *st, const char *name, const uint8_t value[32]) {
  sqlite3_stmt *s;
  if (prep(st, &s, "INSERT OR REPLACE INTO secrets(name, value) VALUES(?1, ?2)") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, name);
  sqlite3_bind_blob(s, 2, value, 32, SQLITE_TRANSIENT);
  return step_done(st, s);
}

static int sq_replay_add(hm_store *st, const char *key, int64_t expires_ms, int64_t now_ms) {
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  sqlite3_stmt *s;
  int ret = HM_ERR_IO;
  if (prep(st, &s, "DELETE FROM replay WHERE expires_ms < ?1") != HM_OK) goto fail;
  sqlite3_bind_int64(s, 1, now_ms);
  if (step_done(st, s) != HM_OK) goto fail;
  if (prep(st, &s, "INSERT INTO replay(key, expires_ms) VALUES(?1, ?2)") != HM_OK) goto fail;
  bind_text(s, 1, key);
  sqlite3_bind_int64(s, 2, expires_ms);
  int rc = sqlite3_step(s);
  done(st, s);
  if (rc == SQLITE_CONSTRAINT) {
    ret = HM_ERR_REPLAY;
    goto fail;
  }
  if (rc != SQLITE_DONE) goto fail;
  if (tx_commit(st) != HM_OK) goto fail;
  return HM_OK;
fail:
  tx_rollback(st);
  return ret;
}

static int sq_known_did_add(hm_store *st, const char *did, int64_t now_ms) {
  return run(st, NULL, "INSERT OR IGNORE INTO known_dids(did, first_ms) VALUES(?1, ?2)", "si", did, now_ms);
}

/* ---- communities and channels ------------------------------------------------------- */

static int sq_community_create(hm_store *st, const hm_store_community *c, const hm_store_channel *ch, size_t n) {
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  if (run(st, NULL, "INSERT INTO communities(id, name, description, creator, created_ms) VALUES(?1,?2,?3,?4,?5)",
          "ssssi", c->id, c->name, c->description, c->creator, c->created_ms) != HM_OK ||
      run(st, NULL, "INSERT INTO members(community_id, did, joined_ms) VALUES(?1,?2,?3)", "ssi", c->id, c->creator,
          c->created_ms) != HM_OK)
    goto fail;
  for (size_t i = 0; i < n; i++) {
    if (run(st, NULL, "INSERT INTO channels(id, community_id, name, type, topic, created_ms) VALUES(?1,?2,?3,?4,?5,?6)",
            "sssssi", ch[i].id, c->id, ch[i].name, ch[i].type, ch[i].topic, ch[i].created_ms) != HM_OK)
      goto fail;
  }
  if (tx_commit(st) != HM_OK) goto fail;
  members_invalidate(st, c->id); /* a list cached while it did not exist */
  return HM_OK;
fail:
  tx_rollback(st);
  return HM_ERR_IO;
}

static int community_row(sqlite3_stmt *s, row_arg *a) {
  hm_store_community c = {col_text(s, 0), col_text(s, 1), col_text(s, 2), col_text(s, 3),
                          sqlite3_column_int64(s, 4)};
  return a->cb.community ? a->cb.community(a->ctx, &c) : 0;
}

static int community_rows(hm_store *st, sqlite3_stmt *s, hm_store_community_cb cb, void *ctx, int want_one) {
  row_arg a = {.ctx = ctx};
  a.cb.community = cb;
  return each_row(st, s, want_one, community_row, &a);
}

#define COMMUNITY_COLS "SELECT id, name, description, creator, created_ms FROM communities"

static int sq_community_get(hm_store *st, const char *id, hm_store_community_cb cb, void *ctx) {
  return community_rows(st, query(st, COMMUNITY_COLS " WHERE id=?1", "s", id), cb, ctx, 1);
}

static int sq_community_list(hm_store *st, hm_store_community_cb cb, void *ctx) {
  return community_rows(st, query(st, COMMUNITY_COLS " ORDER BY rowid", ""), cb, ctx, 0);
}

static int count_query(hm_store *st, const char *sql, const char *a, int64_t *n) {
  sqlite3_stmt *s;
  if (prep(st, &s, sql) != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, a);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *n = sqlite3_column_int64(s, 0);
  done(st, s);
  return rc == SQLITE_ROW ? HM_OK : HM_ERR_IO;
}

static int sq_community_count_by_creator(hm_store *st, const char *did, int64_t *n) {
  return count_query(st, "SELECT count(*) FROM communities WHERE creator=?1", did, n);
}

static int channel_row(sqlite3_stmt *s, row_arg *a) {
  hm_store_channel c = {col_text(s, 0), col_text(s, 1), col_text(s, 2), col_text(s, 3), col_text(s, 4),
                        sqlite3_column_int64(s, 5), col_text(s, 6), sqlite3_column_int64(s, 7)};
  return a->cb.channel ? a->cb.channel(a->ctx, &c) : 0;
}

static int channel_rows(hm_store *st, sqlite3_stmt *s, hm_store_channel_cb cb, void *ctx, int want_one) {
  row_arg a = {.ctx = ctx};
  a.cb.channel = cb;
  return each_row(st, s, want_one, channel_row, &a);
}

#define CHANNEL_COLS "SELECT id, community_id, name, type, topic, created_ms, category_id, slow_mode FROM channels"

static int sq_channel_list(hm_store *st, const char *cid, hm_store_channel_cb cb, void *ctx) {
  return channel_rows(st, query(st, CHANNEL_COLS " WHERE community_id=?1 ORDER BY rowid", "s", cid), cb, ctx, 0);
}

static int sq_channel_get(hm_store *st, const char *cid, const char *chid, hm_store_channel_cb cb, void *ctx) {
  return channel_rows(st, query(st, CHANNEL_COLS " WHERE id=?1 AND community_id=?2", "ss", chid, cid), cb, ctx, 1);
}

/* ---- members and bans --------------------------------------------------------------- */

static int member_row(sqlite3_stmt *s, row_arg *a) {
  hm_store_member m = {col_text(s, 0), col_text(s, 1), sqlite3_column_int64(s, 2), col_text(s, 3)};
  return a->cb.member ? a->cb.member(a->ctx, &m) : 0;
}

static int member_rows(hm_store *st, sqlite3_stmt *s, hm_store_member_cb cb, void *ctx, int want_one) {
  row_arg a = {.ctx = ctx};
  a.cb.member = cb;
  return each_row(st, s, want_one, member_row, &a);
}

#define MEMBER_COLS \
  "SELECT m.community_id, m.did, m.joined_ms, p.display_name FROM members m LEFT JOIN profiles p ON p.did = m.did"

static int sq_member_get(hm_store *st, const char *cid, const char *did, hm_store_member_cb cb, void *ctx) {
  return member_rows(st, query(st, MEMBER_COLS " WHERE m.community_id=?1 AND m.did=?2", "ss", cid, did), cb, ctx, 1);
}

static int sq_member_add(hm_store *st, const char *cid, const char *did, int64_t joined_ms, int *added) {
  int64_t n = 0;
  int rc = run(st, &n, "INSERT OR IGNORE INTO members(community_id, did, joined_ms) VALUES(?1,?2,?3)", "ssi", cid, did,
               joined_ms);
  if (rc == HM_OK && n > 0) {
    sq_members *m = *members_slot((sq_store *)st, cid);
    if (m && members_push(m, did) != HM_OK) members_invalidate(st, cid);
  }
  if (rc == HM_OK && added) *added = n > 0;
  return rc;
}

static int sq_member_remove(hm_store *st, const char *cid, const char *did) {
  int64_t changed = 0;
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  if (run(st, &changed, "DELETE FROM members WHERE community_id=?1 AND did=?2", "ss", cid, did) != HM_OK ||
      run(st, NULL, "DELETE FROM role_assignments WHERE community_id=?1 AND did=?2", "ss", cid, did) != HM_OK ||
      tx_commit(st) != HM_OK) {
    tx_rollback(st);
    return HM_ERR_IO;
  }
  if (changed > 0) members_invalidate(st, cid);
  return changed > 0 ? HM_OK : HM_ERR_NOT_FOUND;
}

static int sq_member_list(hm_store *st, const char *cid, hm_store_member_cb cb, void *ctx) {
  return member_rows(st, query(st, MEMBER_COLS " WHERE m.community_id=?1 ORDER BY m.rowid", "s", cid), cb, ctx, 0);
}

static int sq_member_dids(hm_store *st, const char *cid, const char *const **dids, size_t *n) {
  sq_store *q = (sq_store *)st;
  *dids = NULL;
  *n = 0;
  sq_members **pp = members_slot(q, cid), *m = *pp;
  if (!m) {
    sqlite3_stmt *s;
    if (prep(st, &s, "SELECT did FROM members WHERE community_id=?1 ORDER BY rowid") != HM_OK) return HM_ERR_IO;
    bind_text(s, 1, cid);
    int rc = HM_OK, r;
    m = hm_calloc(1, sizeof *m);
    if (!m || !(m->cid = hm_strdup(cid))) rc = HM_ERR_NOMEM;
    while (rc == HM_OK && (r = sqlite3_step(s)) == SQLITE_ROW) rc = members_push(m, col_text(s, 0));
    if (rc == HM_OK && r != SQLITE_DONE) rc = HM_ERR_IO;
    done(st, s);
    if (rc != HM_OK) {
      if (m) members_free(m);
      return rc;
    }
    *pp = m;
  }
  *dids = (const char *const *)m->dids;
  *n = m->n;
  return HM_OK;
}

static int sq_member_count(hm_store *st, const char *cid, int64_t *n) {
  return count_query(st, "SELECT count(*) FROM members WHERE community_id=?1", cid, n);
}

static int sq_memberships_of(hm_store *st, const char *did, hm_store_member_cb cb, void *ctx) {
  sqlite3_stmt *s;
  /* rowid grows with every insert, so rowid order is join order (a re-join is a new row). */
  if (prep(st, &s, MEMBER_COLS " WHERE m.did=?1 ORDER BY m.rowid") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, did);
  return member_rows(st, s, cb, ctx, 0);
}

static int sq_ban_get(hm_store *st, const char *cid, const char *did) {
  int64_t n = 0;
  sqlite3_stmt *s;
  if (prep(st, &s, "SELECT count(*) FROM bans WHERE community_id=?1 AND did=?2") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, cid);
  bind_text(s, 2, did);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
  done(st, s);
  if (rc != SQLITE_ROW) return HM_ERR_IO;
  return n > 0 ? HM_OK : HM_ERR_NOT_FOUND;
}

/* ---- messages ------------------------------------------------------------------------ */

static int sq_message_append(hm_store *st, const hm_store_message *m, int64_t *seq_out) {
  sqlite3_stmt *s;
  int ret = HM_ERR_IO;
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  if (prep(st, &s, "SELECT next_seq FROM channels WHERE id=?1") != HM_OK) goto fail;
  bind_text(s, 1, m->channel_id);
  int rc = sqlite3_step(s);
  int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  done(st, s);
  if (rc == SQLITE_DONE) {
    ret = HM_ERR_NOT_FOUND;
    goto fail;
  }
  if (rc != SQLITE_ROW) goto fail;
  if (prep(st, &s,
           "INSERT INTO messages(channel_id, seq, id, community_id, author, timestamp, payload, counter,"
           " received_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)") != HM_OK)
    goto fail;
  bind_text(s, 1, m->channel_id);
  sqlite3_bind_int64(s, 2, seq);
  bind_text(s, 3, m->id);
  bind_text(s, 4, m->community_id);
  bind_text(s, 5, m->author);
  bind_text(s, 6, m->timestamp);
  bind_text(s, 7, m->payload_json);
  if (m->has_counter)
    sqlite3_bind_double(s, 8, m->counter);
  else
    sqlite3_bind_null(s, 8);
  sqlite3_bind_int64(s, 9, m->received_ms);
  rc = sqlite3_step(s);
  done(st, s);
  if (rc == SQLITE_CONSTRAINT) {
    ret = HM_ERR_CONFLICT;
    goto fail;
  }
  if (rc != SQLITE_DONE) goto fail;
  if (prep(st, &s, "UPDATE channels SET next_seq=?2 WHERE id=?1") != HM_OK) goto fail;
  bind_text(s, 1, m->channel_id);
  sqlite3_bind_int64(s, 2, seq + 1);
  if (step_done(st, s) != HM_OK) goto fail;
  if (tx_commit(st) != HM_OK) goto fail;
  if (seq_out) *seq_out = seq;
  return HM_OK;
fail:
  tx_rollback(st);
  return ret;
}

#define MESSAGE_COLS \
  "SELECT community_id, channel_id, id, seq, author, timestamp, payload, counter, received_ms, deleted, edited_ms"

static int message_row(sqlite3_stmt *s, row_arg *a) {
  hm_store_message m = {0};
  m.community_id = col_text(s, 0);
  m.channel_id = col_text(s, 1);
  m.id = col_text(s, 2);
  m.seq = sqlite3_column_int64(s, 3);
  m.author = col_text(s, 4);
  m.timestamp = col_text(s, 5);
  m.payload_json = col_text(s, 6);
  m.has_counter = sqlite3_column_type(s, 7) != SQLITE_NULL;
  m.counter = sqlite3_column_double(s, 7);
  m.received_ms = sqlite3_column_int64(s, 8);
  m.deleted = sqlite3_column_int(s, 9);
  m.edited_ms = sqlite3_column_int64(s, 10);
  if (sqlite3_column_count(s) > 11) m.type = col_text(s, 11);
  return a->cb.message ? a->cb.message(a->ctx, &m) : 0;
}

static int message_rows(hm_store *st, sqlite3_stmt *s, hm_store_message_cb cb, void *ctx, int want_one) {
  row_arg a = {.ctx = ctx};
  a.cb.message = cb;
  return each_row(st, s, want_one, message_row, &a);
}

static int sq_message_page(hm_store *st, const char *chid, const hm_store_page_query *q, hm_store_message_cb cb,
                           void *ctx) {
  return message_rows(
      st,
      query(st,
            MESSAGE_COLS " FROM messages WHERE channel_id=?1 AND seq>?2 AND (?3 OR deleted=0)"
                         " AND (?4=0 OR counter IS NULL OR counter>?5) ORDER BY seq LIMIT ?6",
            "siiidi", chid, q->after_seq < 0 ? 0 : q->after_seq,
            (int64_t)(q->include_deleted ? 1 : 0), (int64_t)(q->has_counter_min ? 1 : 0),
            q->counter_min, (int64_t)q->limit),
      cb, ctx, 0);
}

/* ---- schema 2: bans, settings, edits, tombstones, reactions, pins, roles ------------- */

/* Run several statements as one transaction; each step is a run() call made by fn. */
#define TX_BEGIN(st)                                \
  do {                                              \
    if (tx_begin(st) != HM_OK) return HM_ERR_IO; \
  } while (0)
#define TX_END(st, ok)                              \
  do {                                              \
    if (!(ok) || tx_commit(st) != HM_OK) {     \
      tx_rollback(st);                         \
      return HM_ERR_IO;                             \
    }                                               \
    return HM_OK;                                   \
  } while (0)

static int sq_ban_add(hm_store *st, const char *cid, const char *did, const char *by, const char *reason, int64_t ms) {
  TX_BEGIN(st);
  int ok = run(st, NULL, "INSERT OR REPLACE INTO bans(community_id, did, by_did, reason, created_ms) VALUES(?1,?2,?3,?4,?5)",
               "ssssi", cid, did, by, reason, ms) == HM_OK &&
           run(st, NULL, "DELETE FROM members WHERE community_id=?1 AND did=?2", "ss", cid, did) == HM_OK &&
           run(st, NULL, "DELETE FROM role_assignments WHERE community_id=?1 AND did=?2", "ss", cid, did) == HM_OK;
  members_invalidate(st, cid);
  TX_END(st, ok);
}

static int sq_ban_remove(hm_store *st, const char *cid, const char *did) {
  return run(st, NULL, "DELETE FROM bans WHERE community_id=?1 AND did=?2", "ss", cid, did);
}

static int sq_community_update(hm_store *st, const char *cid, const char *name, const char *description) {
  TX_BEGIN(st);
  int ok = 1;
  if (name) ok = run(st, NULL, "UPDATE communities SET name=?2 WHERE id=?1", "ss", cid, name) == HM_OK;
  if (ok && description)
    ok = run(st, NULL, "UPDATE communities SET description=?2 WHERE id=?1", "ss", cid,
             *description ? description : NULL) == HM_OK;
  TX_END(st, ok);
}

static int sq_channel_count(hm_store *st, const char *cid, int64_t *n) {
  return count_query(st, "SELECT count(*) FROM channels WHERE community_id=?1", cid, n);
}

static int sq_channel_create(hm_store *st, const hm_store_channel *ch) {
  return run(st, NULL,
             "INSERT INTO channels(id, community_id, name, type, topic, created_ms, category_id, slow_mode)"
             " VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
             "sssssisi", ch->id, ch->community_id, ch->name, ch->type, ch->topic, ch->created_ms, ch->category_id,
             ch->slow_mode);
}

static int sq_channel_update(hm_store *st, const char *chid, const char *name, const char *topic, int64_t slow_mode) {
  TX_BEGIN(st);
  int ok = 1;
  if (name) ok = run(st, NULL, "UPDATE channels SET name=?2 WHERE id=?1", "ss", chid, name) == HM_OK;
  if (ok && topic)
    ok = run(st, NULL, "UPDATE channels SET topic=?2 WHERE id=?1", "ss", chid, *topic ? topic : NULL) == HM_OK;
  if (ok && slow_mode >= 0)
    ok = run(st, NULL, "UPDATE channels SET slow_mode=?2 WHERE id=?1", "si", chid, slow_mode) == HM_OK;
  TX_END(st, ok);
}

static int sq_channel_delete(hm_store *st, const char *chid) {
  TX_BEGIN(st);
  int ok = run(st, NULL, "DELETE FROM channels WHERE id=?1", "s", chid) == HM_OK &&
           run(st, NULL, "DELETE FROM messages WHERE channel_id=?1", "s", chid) == HM_OK &&
           run(st, NULL, "DELETE FROM reactions WHERE channel_id=?1", "s", chid) == HM_OK &&
           run(st, NULL, "DELETE FROM pins WHERE channel_id=?1", "s", chid) == HM_OK &&
           run(st, NULL, "DELETE FROM thread_messages WHERE channel_id=?1", "s", chid) == HM_OK &&
           run(st, NULL, "DELETE FROM threads WHERE channel_id=?1", "s", chid) == HM_OK;
  TX_END(st, ok);
}

static int sq_message_get(hm_store *st, const char *chid, const char *id, hm_store_message_cb cb, void *ctx) {
  return message_rows(
      st, query(st, MESSAGE_COLS " FROM messages WHERE channel_id=?1 AND id=?2", "ss", chid, id),
      cb, ctx, 1);
}

static int sq_message_edit(hm_store *st, const char *chid, const char *id, const char *payload_json, int has_counter,
                           double counter, int64_t edited_ms) {
  int64_t n = 0;
  int rc = has_counter ? run(st, &n, "UPDATE messages SET payload=?3, counter=?4, edited_ms=?5 WHERE channel_id=?1 AND id=?2",
                             "sssdi", chid, id, payload_json, counter, edited_ms)
                       : run(st, &n, "UPDATE messages SET payload=?3, edited_ms=?4 WHERE channel_id=?1 AND id=?2",
                             "sssi", chid, id, payload_json, edited_ms);
  if (rc != HM_OK) return rc;
  return n ? HM_OK : HM_ERR_NOT_FOUND;
}

static int sq_message_tombstone(hm_store *st, const char *chid, const char *id, const char *payload_json,
                                const char *by, int64_t ms) {
  TX_BEGIN(st);
  int ok = run(st, NULL,
               "UPDATE messages SET payload=?3, deleted=1, deleted_by=?4, deleted_ms=?5, edited_ms=0"
               " WHERE channel_id=?1 AND id=?2",
               "ssssi", chid, id, payload_json, by, ms) == HM_OK &&
           run(st, NULL, "DELETE FROM reactions WHERE channel_id=?1 AND message_id=?2", "ss", chid, id) == HM_OK &&
           run(st, NULL, "DELETE FROM pins WHERE channel_id=?1 AND message_id=?2", "ss", chid, id) == HM_OK;
  TX_END(st, ok);
}

static int sq_message_page_before(hm_store *st, const char *chid, int64_t before_seq, int has_counter_max,
                                  double counter_max, size_t limit, hm_store_message_cb cb, void *ctx) {
  return message_rows(
      st,
      query(st,
            MESSAGE_COLS
            " FROM messages WHERE channel_id=?1 AND (?2 < 0 OR seq < ?2)"
            " AND (?3 = 0 OR counter IS NULL OR counter < ?4) ORDER BY seq DESC LIMIT ?5",
            "siidi", chid, before_seq, (int64_t)(has_counter_max ? 1 : 0), counter_max,
            (int64_t)limit),
      cb, ctx, 0);
}

static int sq_reaction_add(hm_store *st, const char *chid, const char *mid, const char *emoji, const char *did,
                           int64_t ms) {
  return run(st, NULL,
             "INSERT OR IGNORE INTO reactions(channel_id, message_id, emoji, did, added_ms) VALUES(?1,?2,?3,?4,?5)",
             "ssssi", chid, mid, emoji, did, ms);
}

static int sq_reaction_remove(hm_store *st, const char *chid, const char *mid, const char *emoji, const char *did) {
  return run(st, NULL, "DELETE FROM reactions WHERE channel_id=?1 AND message_id=?2 AND emoji=?3 AND did=?4", "ssss",
             chid, mid, emoji, did);
}

static int sq_reaction_list(hm_store *st, const char *chid, const char *mid, hm_store_reaction_cb cb, void *ctx) {
  sqlite3_stmt *s;
  if (prep(st, &s, "SELECT emoji, did FROM reactions WHERE channel_id=?1 AND message_id=?2 ORDER BY rowid") != HM_OK)
    return HM_ERR_IO;
  bind_text(s, 1, chid);
  bind_text(s, 2, mid);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    hm_store_reaction r = {col_text(s, 0), col_text(s, 1)};
    if (cb(ctx, &r)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  done(st, s);
  return rc == SQLITE_DONE ? HM_OK : HM_ERR_IO;
}

static int sq_reaction_emoji_count(hm_store *st, const char *chid, const char *mid, const char *emoji,
                                   int64_t *distinct, int *present) {
  sqlite3_stmt *s;
  if (prep(st, &s,
           "SELECT count(DISTINCT emoji), coalesce(sum(emoji=?3), 0) FROM reactions WHERE channel_id=?1 AND"
           " message_id=?2") != HM_OK)
    return HM_ERR_IO;
  bind_text(s, 1, chid);
  bind_text(s, 2, mid);
  bind_text(s, 3, emoji);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *distinct = sqlite3_column_int64(s, 0);
    *present = sqlite3_column_int64(s, 1) > 0;
  }
  done(st, s);
  return rc == SQLITE_ROW ? HM_OK : HM_ERR_IO;
}

static int sq_pin_add(hm_store *st, const char *chid, const char *mid, const char *by, int64_t ms, int *added) {
  int64_t n = 0;
  int rc = run(st, &n, "INSERT OR IGNORE INTO pins(channel_id, message_id, by_did, pinned_ms) VALUES(?1,?2,?3,?4)",
               "sssi", chid, mid, by, ms);
  if (added) *added = n > 0;
  return rc;
}

static int sq_pin_remove(hm_store *st, const char *chid, const char *mid) {
  return run(st, NULL, "DELETE FROM pins WHERE channel_id=?1 AND message_id=?2", "ss", chid, mid);
}

static int sq_pin_list(hm_store *st, const char *chid, hm_store_string_cb cb, void *ctx) {
  sqlite3_stmt *s;
  if (prep(st, &s, "SELECT message_id FROM pins WHERE channel_id=?1 ORDER BY rowid") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, chid);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (cb(ctx, col_text(s, 0))) {
      rc = SQLITE_DONE;
      break;
    }
  }
  done(st, s);
  return rc == SQLITE_DONE ? HM_OK : HM_ERR_IO;
}

static int sq_pin_count(hm_store *st, const char *chid, int64_t *n, const char *mid, int *pinned) {
  sqlite3_stmt *s;
  if (prep(st, &s, "SELECT count(*), coalesce(sum(message_id=?2), 0) FROM pins WHERE channel_id=?1") != HM_OK)
    return HM_ERR_IO;
  bind_text(s, 1, chid);
  bind_text(s, 2, mid);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *n = sqlite3_column_int64(s, 0);
    if (pinned) *pinned = sqlite3_column_int64(s, 1) > 0;
  }
  done(st, s);
  return rc == SQLITE_ROW ? HM_OK : HM_ERR_IO;
}

static int sq_role_create(hm_store *st, const hm_store_role *r) {
  return run(st, NULL,
             "INSERT INTO roles(id, community_id, name, color, permissions, position, created_by, created_ms)"
             " VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
             "sssssisi", r->id, r->community_id, r->name, r->color, r->permissions_json, r->position, r->created_by,
             r->created_ms);
}

static int sq_role_update(hm_store *st, const hm_store_role *r) {
  return run(st, NULL, "UPDATE roles SET name=?3, color=?4, permissions=?5, position=?6 WHERE id=?1 AND community_id=?2",
             "sssssi", r->id, r->community_id, r->name, r->color, r->permissions_json, r->position);
}

static int sq_role_delete(hm_store *st, const char *cid, const char *rid) {
  TX_BEGIN(st);
  int ok = run(st, NULL, "DELETE FROM roles WHERE id=?1 AND community_id=?2", "ss", rid, cid) == HM_OK &&
           run(st, NULL, "DELETE FROM role_assignments WHERE role_id=?1 AND community_id=?2", "ss", rid, cid) == HM_OK;
  TX_END(st, ok);
}

#define ROLE_COLS "SELECT r.id, r.community_id, r.name, r.color, r.permissions, r.position, r.created_by, r.created_ms"

static int role_row(sqlite3_stmt *s, row_arg *a) {
  hm_store_role r = {col_text(s, 0), col_text(s, 1), col_text(s, 2), col_text(s, 3), col_text(s, 4),
                     sqlite3_column_int64(s, 5), col_text(s, 6), sqlite3_column_int64(s, 7)};
  return a->cb.role ? a->cb.role(a->ctx, &r) : 0;
}

static int role_rows(hm_store *st, sqlite3_stmt *s, hm_store_role_cb cb, void *ctx, int want_one) {
  row_arg a = {.ctx = ctx};
  a.cb.role = cb;
  return each_row(st, s, want_one, role_row, &a);
}

static int sq_role_get(hm_store *st, const char *cid, const char *rid, hm_store_role_cb cb, void *ctx) {
  return role_rows(
      st, query(st, ROLE_COLS " FROM roles r WHERE r.id=?1 AND r.community_id=?2", "ss", rid, cid),
      cb, ctx, 1);
}

static int sq_role_count(hm_store *st, const char *cid, int64_t *n) {
  return count_query(st, "SELECT count(*) FROM roles WHERE community_id=?1", cid, n);
}

static int sq_role_assign(hm_store *st, const char *cid, const char *did, const char *rid) {
  return run(st, NULL, "INSERT OR IGNORE INTO role_assignments(community_id, did, role_id) VALUES(?1,?2,?3)", "sss",
             cid, did, rid);
}

static int sq_role_unassign(hm_store *st, const char *cid, const char *did, const char *rid) {
  return run(st, NULL, "DELETE FROM role_assignments WHERE community_id=?1 AND did=?2 AND role_id=?3", "sss", cid, did,
             rid);
}

static int sq_roles_of(hm_store *st, const char *cid, const char *did, hm_store_role_cb cb, void *ctx) {
  return role_rows(st,
                   query(st,
                         ROLE_COLS " FROM role_assignments a JOIN roles r ON r.id = a.role_id AND "
                                   "r.community_id = a.community_id"
                                   " WHERE a.community_id=?1 AND a.did=?2 ORDER BY a.rowid",
                         "ss", cid, did),
                   cb, ctx, 0);
}

static int sq_display_name_set(hm_store *st, const char *did, const char *name) {
  return run(st, NULL, "INSERT OR REPLACE INTO profiles(did, display_name) VALUES(?1,?2)", "ss", did, name);
}

/* ---- schema 3: known DIDs, direct messages ----------------------------------------- */

static int sq_known_did_get(hm_store *st, const char *did) {
  int64_t n = 0;
  int rc = count_query(st,
                       "SELECT (SELECT count(*) FROM known_dids WHERE did=?1) + (SELECT count(*) FROM members WHERE did=?1)",
                       did, &n);
  if (rc != HM_OK) return rc;
  return n > 0 ? HM_OK : HM_ERR_NOT_FOUND;
}

static int sq_dm_append(hm_store *st, const hm_store_message *m, int64_t *seq_out) {
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  int64_t seq = 0;
  int rc = count_query(st, "SELECT coalesce(max(seq), 0) + 1 FROM dms WHERE conversation=?1", m->channel_id, &seq);
  if (rc == HM_OK) {
    sqlite3_stmt *s;
    rc = prep(st, &s,
              "INSERT INTO dms(conversation, seq, id, recipient, author, timestamp, payload, received_ms)"
              " VALUES(?1,?2,?3,?4,?5,?6,?7,?8)");
    if (rc == HM_OK) {
      bind_text(s, 1, m->channel_id);
      sqlite3_bind_int64(s, 2, seq);
      bind_text(s, 3, m->id);
      bind_text(s, 4, m->community_id);
      bind_text(s, 5, m->author);
      bind_text(s, 6, m->timestamp);
      bind_text(s, 7, m->payload_json);
      sqlite3_bind_int64(s, 8, m->received_ms);
      int r = sqlite3_step(s);
      done(st, s);
      rc = r == SQLITE_DONE ? HM_OK : r == SQLITE_CONSTRAINT ? HM_ERR_CONFLICT : HM_ERR_IO;
    }
  }
  if (rc != HM_OK || tx_commit(st) != HM_OK) {
    tx_rollback(st);
    return rc != HM_OK ? rc : HM_ERR_IO;
  }
  if (seq_out) *seq_out = seq;
  return HM_OK;
}

static int sq_dm_get(hm_store *st, const char *conv, const char *id, hm_store_message_cb cb, void *ctx) {
  return message_rows(st,
                      query(st,
                            "SELECT recipient, conversation, id, seq, author, timestamp, payload, "
                            "NULL, received_ms, deleted, edited_ms"
                            " FROM dms WHERE conversation=?1 AND id=?2",
                            "ss", conv, id),
                      cb, ctx, 1);
}

static int sq_dm_edit(hm_store *st, const char *conv, const char *id, const char *payload_json, int64_t ms) {
  int64_t n = 0;
  int rc = run(st, &n, "UPDATE dms SET payload=?3, edited_ms=?4 WHERE conversation=?1 AND id=?2", "sssi", conv, id,
               payload_json, ms);
  if (rc != HM_OK) return rc;
  return n ? HM_OK : HM_ERR_NOT_FOUND;
}

static int sq_dm_tombstone(hm_store *st, const char *conv, const char *id, const char *payload_json, int64_t ms) {
  int64_t n = 0;
  int rc = run(st, &n, "UPDATE dms SET payload=?3, deleted=1, deleted_ms=?4 WHERE conversation=?1 AND id=?2", "sssi",
               conv, id, payload_json, ms);
  if (rc != HM_OK) return rc;
  return n ? HM_OK : HM_ERR_NOT_FOUND;
}

/* ---- schema 4: threads ------------------------------------------------------------------ */

static int thread_msg_insert(hm_store *st, const char *tid, const hm_store_message *m, int64_t *seq_out,
                             int64_t *count_out) {
  int64_t seq = 0, count = 0;
  int rc = count_query(st, "SELECT coalesce(max(seq), 0) + 1 FROM thread_messages WHERE thread_id=?1", tid, &seq);
  if (rc != HM_OK) return rc;
  sqlite3_stmt *s;
  if (prep(st, &s,
           "INSERT INTO thread_messages(thread_id, seq, id, type, community_id, channel_id, author, timestamp, payload,"
           " counter, received_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)") != HM_OK)
    return HM_ERR_IO;
  bind_text(s, 1, tid);
  sqlite3_bind_int64(s, 2, seq);
  bind_text(s, 3, m->id);
  bind_text(s, 4, m->type ? m->type : "thread.send");
  bind_text(s, 5, m->community_id);
  bind_text(s, 6, m->channel_id);
  bind_text(s, 7, m->author);
  bind_text(s, 8, m->timestamp);
  bind_text(s, 9, m->payload_json);
  if (m->has_counter)
    sqlite3_bind_double(s, 10, m->counter);
  else
    sqlite3_bind_null(s, 10);
  sqlite3_bind_int64(s, 11, m->received_ms);
  int r = sqlite3_step(s);
  done(st, s);
  if (r == SQLITE_CONSTRAINT) return HM_ERR_CONFLICT;
  if (r != SQLITE_DONE) return HM_ERR_IO;
  rc = count_query(st, "SELECT count(*) FROM thread_messages WHERE thread_id=?1", tid, &count);
  if (seq_out) *seq_out = seq;
  if (count_out) *count_out = count;
  return rc;
}

static int sq_thread_create(hm_store *st, const hm_store_thread *t, const hm_store_message *first) {
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  sqlite3_stmt *s;
  int rc = prep(st, &s,
                "INSERT INTO threads(id, community_id, channel_id, parent_id, name, creator, created_ms)"
                " VALUES(?1,?2,?3,?4,?5,?6,?7)");
  if (rc == HM_OK) {
    bind_text(s, 1, t->id);
    bind_text(s, 2, t->community_id);
    bind_text(s, 3, t->channel_id);
    bind_text(s, 4, t->parent_message_id);
    bind_text(s, 5, t->name);
    bind_text(s, 6, t->creator);
    sqlite3_bind_int64(s, 7, t->created_ms);
    int r = sqlite3_step(s);
    done(st, s);
    rc = r == SQLITE_DONE ? HM_OK : r == SQLITE_CONSTRAINT ? HM_ERR_CONFLICT : HM_ERR_IO;
  }
  if (rc == HM_OK && first) rc = thread_msg_insert(st, t->id, first, NULL, NULL);
  if (rc != HM_OK || tx_commit(st) != HM_OK) {
    tx_rollback(st);
    return rc != HM_OK ? rc : HM_ERR_IO;
  }
  return HM_OK;
}

static int sq_thread_get(hm_store *st, const char *id, hm_store_thread_cb cb, void *ctx) {
  sqlite3_stmt *s;
  if (prep(st, &s,
           "SELECT id, community_id, channel_id, parent_id, name, creator, created_ms FROM threads WHERE id=?1") != HM_OK)
    return HM_ERR_IO;
  bind_text(s, 1, id);
  int rc = sqlite3_step(s), ret;
  if (rc == SQLITE_ROW) {
    hm_store_thread t = {col_text(s, 0), col_text(s, 1), col_text(s, 2), col_text(s, 3), col_text(s, 4),
                         col_text(s, 5), sqlite3_column_int64(s, 6)};
    if (cb) cb(ctx, &t);
    ret = HM_OK;
  } else {
    ret = rc == SQLITE_DONE ? HM_ERR_NOT_FOUND : HM_ERR_IO;
  }
  done(st, s);
  return ret;
}

static int sq_thread_count(hm_store *st, const char *chid, int64_t *n) {
  return count_query(st, "SELECT count(*) FROM threads WHERE channel_id=?1", chid, n);
}

static int sq_thread_message_append(hm_store *st, const char *tid, const hm_store_message *m, int64_t *seq,
                                    int64_t *count) {
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  int rc = thread_msg_insert(st, tid, m, seq, count);
  if (rc != HM_OK || tx_commit(st) != HM_OK) {
    tx_rollback(st);
    return rc != HM_OK ? rc : HM_ERR_IO;
  }
  return HM_OK;
}

static int sq_thread_message_page(hm_store *st, const char *tid, const hm_store_page_query *q, hm_store_message_cb cb,
                                  void *ctx) {
  return message_rows(
      st,
      query(st,
            "SELECT community_id, channel_id, id, seq, author, timestamp, payload, counter, "
            "received_ms, deleted,"
            " edited_ms, type FROM thread_messages WHERE thread_id=?1 AND seq>?2 AND (?3 OR "
            "deleted=0)"
            " AND (?4=0 OR counter IS NULL OR counter>?5) ORDER BY seq LIMIT ?6",
            "siiidi", tid, q->after_seq < 0 ? 0 : q->after_seq,
            (int64_t)(q->include_deleted ? 1 : 0), (int64_t)(q->has_counter_min ? 1 : 0),
            q->counter_min, (int64_t)q->limit),
      cb, ctx, 0);
}

/* ---- schema 5: notifications ----------------------------------------------------------- */

static int sq_notification_add(hm_store *st, const hm_store_notification *n, size_t keep) {
  TX_BEGIN(st);
  int ok = run(st, NULL,
               "INSERT INTO notifications(id, did, type, from_did, community_id, channel_id, message_id, content, read,"
               " created_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,0,?9)",
               "ssssssssi", n->id, n->did, n->type, n->from_did, n->community_id, n->channel_id, n->message_id,
               n->content, n->created_ms) == HM_OK &&
           run(st, NULL,
               "DELETE FROM notifications WHERE did=?1 AND rowid NOT IN"
               " (SELECT rowid FROM notifications WHERE did=?1 ORDER BY rowid DESC LIMIT ?2)",
               "si", n->did, (int64_t)keep) == HM_OK;
  TX_END(st, ok);
}

static int sq_notification_list(hm_store *st, const char *did, int unread_only, size_t offset, size_t limit,
                                hm_store_notification_cb cb, void *ctx, int64_t *total) {
  sqlite3_stmt *s;
  int64_t t = 0;
  if (prep(st, &s, "SELECT count(*) FROM notifications WHERE did=?1 AND (?2=0 OR read=0)") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, did);
  sqlite3_bind_int(s, 2, unread_only ? 1 : 0);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) t = sqlite3_column_int64(s, 0);
  done(st, s);
  if (rc != SQLITE_ROW) return HM_ERR_IO;
  if (total) *total = t;
  if (prep(st, &s,
           "SELECT id, did, type, from_did, community_id, channel_id, message_id, content, read, created_ms"
           " FROM notifications WHERE did=?1 AND (?2=0 OR read=0) ORDER BY rowid LIMIT ?3 OFFSET ?4") != HM_OK)
    return HM_ERR_IO;
  bind_text(s, 1, did);
  sqlite3_bind_int(s, 2, unread_only ? 1 : 0);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)limit);
  sqlite3_bind_int64(s, 4, (sqlite3_int64)offset);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    hm_store_notification n = {col_text(s, 0), col_text(s, 1), col_text(s, 2), col_text(s, 3), col_text(s, 4),
                               col_text(s, 5), col_text(s, 6), col_text(s, 7), sqlite3_column_int(s, 8),
                               sqlite3_column_int64(s, 9)};
    if (cb(ctx, &n)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  done(st, s);
  return rc == SQLITE_DONE ? HM_OK : HM_ERR_IO;
}

static int sq_notification_mark_read(hm_store *st, const char *did, const char *const *ids, size_t n) {
  if (n == 0) return run(st, NULL, "UPDATE notifications SET read=1 WHERE did=?1", "s", did);
  TX_BEGIN(st);
  int ok = 1;
  for (size_t i = 0; ok && i < n; i++)
    ok = run(st, NULL, "UPDATE notifications SET read=1 WHERE did=?1 AND id=?2", "ss", did, ids[i]) == HM_OK;
  TX_END(st, ok);
}

/* ---- schema 6: moderation ------------------------------------------------------------- */

static int sq_moderation_get(hm_store *st, const char *cid, char **rules, int64_t *until) {
  sqlite3_stmt *s;
  if (prep(st, &s, "SELECT rules, lockdown_until FROM moderation WHERE community_id=?1") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, cid);
  int rc = sqlite3_step(s);
  const char *r = rc == SQLITE_ROW ? col_text(s, 0) : "[]";
  if (until) *until = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
  if (rules) *rules = hm_strdup(r ? r : "[]");
  done(st, s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    if (rules) {
      hm_free(*rules);
      *rules = NULL;
    }
    return HM_ERR_IO;
  }
  return (rules && !*rules) ? HM_ERR_NOMEM : HM_OK;
}

static int sq_moderation_set_rules(hm_store *st, const char *cid, const char *rules) {
  return run(st, NULL,
             "INSERT INTO moderation(community_id, rules) VALUES(?1,?2)"
             " ON CONFLICT(community_id) DO UPDATE SET rules=excluded.rules",
             "ss", cid, rules);
}

static int sq_moderation_set_lockdown(hm_store *st, const char *cid, int64_t until) {
  return run(st, NULL,
             "INSERT INTO moderation(community_id, lockdown_until) VALUES(?1,?2)"
             " ON CONFLICT(community_id) DO UPDATE SET lockdown_until=excluded.lockdown_until",
             "si", cid, until);
}

static int sq_known_did_first_seen(hm_store *st, const char *did, int64_t *ms) {
  sqlite3_stmt *s;
  if (prep(st, &s, "SELECT first_ms FROM known_dids WHERE did=?1") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, did);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *ms = sqlite3_column_int64(s, 0);
  done(st, s);
  return rc == SQLITE_ROW ? HM_OK : rc == SQLITE_DONE ? HM_ERR_NOT_FOUND : HM_ERR_IO;
}

static int sq_message_scan_community(hm_store *st, const char *cid, hm_store_message_cb cb, void *ctx) {
  return message_rows(
      st,
      query(st,
            MESSAGE_COLS " FROM messages WHERE community_id=?1 AND deleted=0 ORDER BY rowid DESC",
            "s", cid),
      cb, ctx, 0);
}

/* ---- schema 7: MLS ------------------------------------------------------------------------ */

static int sq_keypackage_add(hm_store *st, const char *did, const char *json, const char *fp, size_t keep,
                             int *added) {
  int64_t n = 0;
  TX_BEGIN(st);
  int ok = run(st, &n, "INSERT OR IGNORE INTO key_packages(did, json, fingerprint) VALUES(?1,?2,?3)", "sss", did, json,
               fp) == HM_OK &&
           run(st, NULL,
               "DELETE FROM key_packages WHERE did=?1 AND rowid NOT IN"
               " (SELECT rowid FROM key_packages WHERE did=?1 ORDER BY rowid DESC LIMIT ?2)",
               "si", did, (int64_t)keep) == HM_OK;
  if (added) *added = n > 0;
  TX_END(st, ok);
}

static int sq_keypackage_list(hm_store *st, const char *did, hm_store_string_cb cb, void *ctx) {
  sqlite3_stmt *s;
  if (prep(st, &s, "SELECT json FROM key_packages WHERE did=?1 ORDER BY rowid") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, did);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    if (cb(ctx, col_text(s, 0))) {
      rc = SQLITE_DONE;
      break;
    }
  done(st, s);
  return rc == SQLITE_DONE ? HM_OK : HM_ERR_IO;
}

static int group_row(sqlite3_stmt *s, row_arg *a) {
  hm_store_thread t = {col_text(s, 0), col_text(s, 1), col_text(s, 2), NULL, NULL, col_text(s, 3), 0};
  return a->cb.group ? a->cb.group(a->ctx, &t) : 0;
}

static int group_rows(hm_store *st, sqlite3_stmt *s, hm_store_thread_cb cb, void *ctx, int want_one) {
  row_arg a = {.ctx = ctx};
  a.cb.group = cb;
  return each_row(st, s, want_one, group_row, &a);
}

static int sq_mls_group_get(hm_store *st, const char *gid, hm_store_thread_cb cb, void *ctx) {
  return group_rows(
      st,
      query(st,
            "SELECT group_id, community_id, channel_id, creator FROM mls_groups WHERE group_id=?1",
            "s", gid),
      cb, ctx, 1);
}

static int sq_mls_group_put(hm_store *st, const char *gid, const char *cid, const char *chid, const char *creator) {
  return run(st, NULL,
             "INSERT OR REPLACE INTO mls_groups(group_id, community_id, channel_id, creator) VALUES(?1,?2,?3,?4)",
             "ssss", gid, cid, chid, creator);
}

static int sq_mls_groups_of(hm_store *st, const char *cid, hm_store_thread_cb cb, void *ctx) {
  sqlite3_stmt *s;
  if (prep(st, &s,
           "SELECT group_id, community_id, channel_id, creator FROM mls_groups WHERE community_id=?1 ORDER BY rowid") !=
      HM_OK)
    return HM_ERR_IO;
  bind_text(s, 1, cid);
  return group_rows(st, s, cb, ctx, 0);
}

/* ---- schema 8: media ------------------------------------------------------------------------ */

static int sq_media_put(hm_store *st, const char *id, const char *uploader, const char *cid, const char *chid,
                        const char *filename, const char *mime, const uint8_t *bytes, size_t len, int64_t ms,
                        int64_t max_files, int64_t max_bytes) {
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  sqlite3_stmt *s;
  int rc = prep(st, &s, "SELECT count(*), coalesce(sum(size), 0) FROM media WHERE uploader=?1");
  if (rc == HM_OK) {
    bind_text(s, 1, uploader);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW &&
        (sqlite3_column_int64(s, 0) + 1 > max_files || sqlite3_column_int64(s, 1) + (int64_t)len > max_bytes))
      rc = HM_ERR_RANGE;
    else if (r != SQLITE_ROW)
      rc = HM_ERR_IO;
    done(st, s);
  }
  if (rc == HM_OK) rc = prep(st, &s,
                             "INSERT INTO media(id, uploader, community_id, channel_id, filename, mime, size, bytes,"
                             " created_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)");
  if (rc == HM_OK) {
    bind_text(s, 1, id);
    bind_text(s, 2, uploader);
    bind_text(s, 3, cid);
    bind_text(s, 4, chid);
    bind_text(s, 5, filename);
    bind_text(s, 6, mime);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)len);
    sqlite3_bind_blob(s, 8, len ? bytes : (const void *)"", (int)len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 9, ms);
    rc = sqlite3_step(s) == SQLITE_DONE ? HM_OK : HM_ERR_IO;
    done(st, s);
  }
  if (rc != HM_OK || tx_commit(st) != HM_OK) {
    tx_rollback(st);
    return rc != HM_OK ? rc : HM_ERR_IO;
  }
  return HM_OK;
}

static int sq_media_get(hm_store *st, const char *id, char **uploader, char **filename, char **mime, uint8_t **bytes,
                        size_t *len) {
  sqlite3_stmt *s;
  if (prep(st, &s, "SELECT uploader, filename, mime, bytes FROM media WHERE id=?1") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, id);
  int rc = sqlite3_step(s), ret = HM_OK;
  if (rc == SQLITE_ROW) {
    if (uploader && !(*uploader = hm_strdup(col_text(s, 0)))) ret = HM_ERR_NOMEM;
    if (filename && !(*filename = hm_strdup(col_text(s, 1)))) ret = HM_ERR_NOMEM;
    if (mime && !(*mime = hm_strdup(col_text(s, 2)))) ret = HM_ERR_NOMEM;
    if (bytes) {
      size_t n = (size_t)sqlite3_column_bytes(s, 3);
      *bytes = hm_malloc(n ? n : 1);
      if (!*bytes)
        ret = HM_ERR_NOMEM;
      else if (n)
        memcpy(*bytes, sqlite3_column_blob(s, 3), n);
      if (len) *len = n;
    }
  } else {
    ret = rc == SQLITE_DONE ? HM_ERR_NOT_FOUND : HM_ERR_IO;
  }
  done(st, s);
  return ret;
}

static int sq_media_delete(hm_store *st, const char *id) {
  return run(st, NULL, "DELETE FROM media WHERE id=?1", "s", id);
}

/* ---- schema 9: social recovery -------------------------------------------------------------- */

static int recovery_purge(hm_store *st, int64_t now, int64_t ttl) {
  return run(st, NULL,
             "DELETE FROM recovery_shards WHERE request_id IN (SELECT request_id FROM recovery_requests"
             " WHERE created_ms + ?1 <= ?2)",
             "ii", ttl, now) == HM_OK &&
                 run(st, NULL, "DELETE FROM recovery_requests WHERE created_ms + ?1 <= ?2", "ii", ttl, now) == HM_OK
             ? HM_OK
             : HM_ERR_IO;
}

static int sq_recovery_create(hm_store *st, const hm_store_recovery *r, int64_t now, int64_t ttl, int64_t max) {
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  int64_t n = 0;
  int rc = recovery_purge(st, now, ttl);
  if (rc == HM_OK)
    rc = count_query(st, "SELECT count(*) FROM recovery_requests WHERE request_id=?1",
                     r->request_id, &n);
  if (rc == HM_OK && n) rc = HM_ERR_CONFLICT;
  if (rc == HM_OK) rc = count_query(st, "SELECT count(*) FROM recovery_requests WHERE requester=?1", r->requester, &n);
  if (rc == HM_OK && n >= max) rc = HM_ERR_RANGE;
  if (rc == HM_OK)
    rc = run(st, NULL,
             "INSERT INTO recovery_requests(request_id, requester, guardians, threshold, created_ms) VALUES(?1,?2,?3,?4,?5)",
             "sssii", r->request_id, r->requester, r->guardians_json, r->threshold, r->created_ms);
  if (rc != HM_OK || tx_commit(st) != HM_OK) {
    tx_rollback(st);
    return rc != HM_OK ? rc : HM_ERR_IO;
  }
  return HM_OK;
}

static int recovery_row(sqlite3_stmt *s, row_arg *a) {
  hm_store_recovery r = {col_text(s, 0), col_text(s, 1), col_text(s, 2), sqlite3_column_int64(s, 3),
                         sqlite3_column_int64(s, 4)};
  return a->cb.recovery ? a->cb.recovery(a->ctx, &r) : 0;
}

static int recovery_rows(hm_store *st, sqlite3_stmt *s, hm_store_recovery_cb cb, void *ctx, int want_one) {
  row_arg a = {.ctx = ctx};
  a.cb.recovery = cb;
  return each_row(st, s, want_one, recovery_row, &a);
}

static int sq_recovery_get(hm_store *st, const char *id, int64_t now, int64_t ttl, hm_store_recovery_cb cb, void *ctx) {
  return recovery_rows(
      st,
      query(st,
            "SELECT request_id, requester, guardians, threshold, created_ms FROM recovery_requests"
            " WHERE request_id=?1 AND created_ms + ?2 > ?3",
            "sii", id, ttl, now),
      cb, ctx, 1);
}

static int sq_recovery_list(hm_store *st, int64_t now, int64_t ttl, hm_store_recovery_cb cb, void *ctx) {
  return recovery_rows(
      st,
      query(st,
            "SELECT request_id, requester, guardians, threshold, created_ms FROM recovery_requests"
            " WHERE created_ms + ?1 > ?2 ORDER BY rowid",
            "ii", ttl, now),
      cb, ctx, 0);
}

static int sq_recovery_delete(hm_store *st, const char *id) {
  TX_BEGIN(st);
  int ok = run(st, NULL, "DELETE FROM recovery_shards WHERE request_id=?1", "s", id) == HM_OK &&
           run(st, NULL, "DELETE FROM recovery_requests WHERE request_id=?1", "s", id) == HM_OK;
  TX_END(st, ok);
}

static int sq_recovery_shard_put(hm_store *st, const char *id, const char *guardian, const char *shard,
                                 int64_t *collected) {
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  int64_t n = 0;
  int rc = run(st, &n, "UPDATE recovery_shards SET shard=?3 WHERE request_id=?1 AND guardian=?2", "sss", id, guardian,
               shard);
  if (rc == HM_OK && n == 0)
    rc = run(st, NULL, "INSERT INTO recovery_shards(request_id, guardian, shard) VALUES(?1,?2,?3)", "sss", id, guardian,
             shard);
  if (rc == HM_OK) rc = count_query(st, "SELECT count(*) FROM recovery_shards WHERE request_id=?1", id, collected);
  if (rc != HM_OK || tx_commit(st) != HM_OK) {
    tx_rollback(st);
    return HM_ERR_IO;
  }
  return HM_OK;
}

static int sq_recovery_shards(hm_store *st, const char *id, hm_store_pair_cb cb, void *ctx) {
  sqlite3_stmt *s;
  if (prep(st, &s, "SELECT guardian, shard FROM recovery_shards WHERE request_id=?1 ORDER BY rowid") != HM_OK)
    return HM_ERR_IO;
  bind_text(s, 1, id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    if (cb(ctx, col_text(s, 0), col_text(s, 1))) {
      rc = SQLITE_DONE;
      break;
    }
  done(st, s);
  return rc == SQLITE_DONE ? HM_OK : HM_ERR_IO;
}

static int sq_user_data_put(hm_store *st, const char *did, const char *ct, const char *nonce, const char *meta) {
  return run(st, NULL, "INSERT OR REPLACE INTO user_data(did, ciphertext, nonce, metadata) VALUES(?1,?2,?3,?4)",
             "ssss", did, ct, nonce, meta);
}

static int sq_user_data_get(hm_store *st, const char *did, char **ct, char **nonce, char **meta) {
  sqlite3_stmt *s;
  *ct = *nonce = *meta = NULL;
  if (prep(st, &s, "SELECT ciphertext, nonce, metadata FROM user_data WHERE did=?1") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, did);
  int rc = sqlite3_step(s), ret = HM_OK;
  if (rc == SQLITE_ROW) {
    *ct = hm_strdup(col_text(s, 0));
    *nonce = hm_strdup(col_text(s, 1));
    if (col_text(s, 2)) *meta = hm_strdup(col_text(s, 2));
    if (!*ct || !*nonce || (col_text(s, 2) && !*meta)) ret = HM_ERR_NOMEM;
  } else {
    ret = rc == SQLITE_DONE ? HM_ERR_NOT_FOUND : HM_ERR_IO;
  }
  done(st, s);
  if (ret != HM_OK) {
    hm_free(*ct);
    hm_free(*nonce);
    hm_free(*meta);
    *ct = *nonce = *meta = NULL;
  }
  return ret;
}

static int sq_user_data_delete(hm_store *st, const char *did) {
  int64_t n = 0;
  int rc = run(st, &n, "DELETE FROM user_data WHERE did=?1", "s", did);
  return rc != HM_OK ? rc : n ? HM_OK : HM_ERR_NOT_FOUND;
}

static int sq_capability_put(hm_store *st, const char *id, const char *cid, const char *json) {
  return run(st, NULL, "INSERT OR REPLACE INTO capabilities(id, community_id, json) VALUES(?1,?2,?3)", "sss", id, cid,
             json);
}

static int sq_capability_get(hm_store *st, const char *id, char **cid, char **json) {
  sqlite3_stmt *s;
  *cid = *json = NULL;
  if (prep(st, &s, "SELECT community_id, json FROM capabilities WHERE id=?1") != HM_OK) return HM_ERR_IO;
  bind_text(s, 1, id);
  int rc = sqlite3_step(s), ret = HM_OK;
  if (rc == SQLITE_ROW) {
    *cid = hm_strdup(col_text(s, 0));
    *json = hm_strdup(col_text(s, 1));
    if (!*cid || !*json) ret = HM_ERR_NOMEM;
  } else {
    ret = rc == SQLITE_DONE ? HM_ERR_NOT_FOUND : HM_ERR_IO;
  }
  done(st, s);
  if (ret != HM_OK) {
    hm_free(*cid);
    hm_free(*json);
    *cid = *json = NULL;
  }
  return ret;
}

static int sq_channel_find(hm_store *st, const char *chid, hm_store_channel_cb cb, void *ctx) {
  return channel_rows(st, query(st, CHANNEL_COLS " WHERE id=?1", "s", chid), cb, ctx, 1);
}

/* ---- batches (group commit) ------------------------------------------------------- */

static int sq_batch_begin(hm_store *st) {
  sq_store *q = (sq_store *)st;
  if (q->batch) return HM_ERR_INVAL;
  /* Deferred: an iteration that writes nothing takes no write lock and syncs nothing. */
  if (sexec(st, "BEGIN") != HM_OK) return HM_ERR_IO;
  q->batch = 1;
  q->batch_lost = 0;
  q->changes0 = sqlite3_total_changes64(q->db);
  return HM_OK;
}

static int sq_batch_end(hm_store *st) {
  sq_store *q = (sq_store *)st;
  if (!q->batch) return HM_ERR_INVAL;
  int rc = HM_OK;
  if (batch_broken(q)) {
    rc = HM_ERR_IO;
  } else if (sexec(st, "COMMIT") != HM_OK) {
    rc = HM_ERR_IO;
    if (!sqlite3_get_autocommit(q->db)) sexec(st, "ROLLBACK");
  }
  if (rc != HM_OK) members_invalidate_all(q);
  q->batch_wrote = rc == HM_OK && sqlite3_total_changes64(q->db) != q->changes0;
  if (q->batch_wrote && q->deferred && q->wal_fd < 0) { /* the WAL file exists after a write */
    const char *f = sqlite3_db_filename(q->db, "main");
    char path[4096];
    if (!f || snprintf(path, sizeof path, "%s-wal", f) >= (int)sizeof path ||
        (q->wal_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
      rc = HM_ERR_IO; /* committed but cannot be made durable: the caller must not reveal it */
  }
  q->batch = 0;
  q->batch_lost = 0;
  return rc;
}

int hm_store_sqlite_defer_sync(hm_store *st, int on) {
  if (!st || st->vt != &sq_vtable) return HM_ERR_INVAL;
  sq_store *q = (sq_store *)st;
  const char *f = sqlite3_db_filename(q->db, "main");
  if (q->batch || !f || !*f) return HM_ERR_INVAL; /* :memory: has no file to sync */
  if (exec(q->db, on ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL") != HM_OK) return HM_ERR_IO;
  q->deferred = on ? 1 : 0;
  return HM_OK;
}

int hm_store_sqlite_batch_wrote(hm_store *st) {
  return st && st->vt == &sq_vtable ? ((sq_store *)st)->batch_wrote : 0;
}

int hm_store_sqlite_wal_sync(hm_store *st) {
  if (!st || st->vt != &sq_vtable) return HM_ERR_INVAL;
  int fd = ((sq_store *)st)->wal_fd;
  if (fd < 0) return HM_ERR_INVAL;
  while (fdatasync(fd) != 0)
    if (errno != EINTR) return HM_ERR_IO;
  return HM_OK;
}

static int sq_batch_abort(hm_store *st) {
  sq_store *q = (sq_store *)st;
  if (!q->batch) return HM_ERR_INVAL;
  q->batch = 0; /* first, so that prep() does not refuse the ROLLBACK */
  members_invalidate_all(q);
  if (!sqlite3_get_autocommit(q->db)) sexec(st, "ROLLBACK");
  q->batch_lost = 0;
  return HM_OK;
}

/* ---- migration import: placeholders and imported messages (R-HTTP-16, R-HTTP-22) ---- */

static int sq_community_import(hm_store *st, const hm_store_community *c, const hm_store_channel *ch, size_t n_ch,
                               const hm_store_placeholder *ph, size_t n_ph, const hm_store_message *m, size_t n_m) {
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  int rc = run(st, NULL, "INSERT INTO communities(id, name, description, creator, created_ms) VALUES(?1,?2,?3,?4,?5)",
               "ssssi", c->id, c->name, c->description, c->creator, c->created_ms);
  if (rc == HM_OK)
    rc = run(st, NULL, "INSERT INTO members(community_id, did, joined_ms) VALUES(?1,?2,?3)", "ssi", c->id, c->creator,
             c->created_ms);
  for (size_t i = 0; rc == HM_OK && i < n_ch; i++)
    rc = run(st, NULL, "INSERT INTO channels(id, community_id, name, type, topic, created_ms) VALUES(?1,?2,?3,?4,?5,?6)",
             "sssssi", ch[i].id, c->id, ch[i].name, ch[i].type, ch[i].topic, ch[i].created_ms);
  for (size_t i = 0; rc == HM_OK && i < n_ph; i++)
    rc = run(st, NULL, "INSERT INTO placeholders(community_id, discord_id, subject, name) VALUES(?1,?2,?3,?4)", "ssss",
             c->id, ph[i].discord_id, ph[i].subject, ph[i].name);
  /* messages get seq 1, 2, ... per channel in the order given */
  for (size_t i = 0; rc == HM_OK && i < n_m; i++) {
    sqlite3_stmt *s;
    int64_t seq = 0;
    if (prep(st, &s, "SELECT next_seq FROM channels WHERE id=?1 AND community_id=?2") != HM_OK) {
      rc = HM_ERR_IO;
      break;
    }
    bind_text(s, 1, m[i].channel_id);
    bind_text(s, 2, c->id);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) seq = sqlite3_column_int64(s, 0);
    done(st, s);
    if (r != SQLITE_ROW) {
      rc = r == SQLITE_DONE ? HM_ERR_NOT_FOUND : HM_ERR_IO;
      break;
    }
    if (m[i].has_counter)
      rc = run(st, NULL,
               "INSERT INTO messages(channel_id, seq, id, community_id, author, timestamp, payload, counter,"
               " received_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
               "sisssssdi", m[i].channel_id, seq, m[i].id, c->id, m[i].author, m[i].timestamp, m[i].payload_json,
               m[i].counter, m[i].received_ms);
    else
      rc = run(st, NULL,
               "INSERT INTO messages(channel_id, seq, id, community_id, author, timestamp, payload, counter,"
               " received_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,NULL,?8)",
               "sisssssi", m[i].channel_id, seq, m[i].id, c->id, m[i].author, m[i].timestamp, m[i].payload_json,
               m[i].received_ms);
    if (rc == HM_OK) rc = run(st, NULL, "UPDATE channels SET next_seq=?2 WHERE id=?1", "si", m[i].channel_id, seq + 1);
  }
  if (rc != HM_OK || tx_commit(st) != HM_OK) {
    tx_rollback(st);
    return rc != HM_OK ? rc : HM_ERR_IO;
  }
  members_invalidate(st, c->id); /* a list cached while it did not exist */
  return HM_OK;
}

static int sq_placeholder_list(hm_store *st, const char *cid, hm_store_placeholder_cb cb, void *ctx) {
  sqlite3_stmt *s;
  if (prep(st, &s,
           "SELECT community_id, discord_id, subject, name, linked_did FROM placeholders WHERE community_id=?1"
           " ORDER BY rowid") != HM_OK)
    return HM_ERR_IO;
  bind_text(s, 1, cid);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    hm_store_placeholder p = {col_text(s, 0), col_text(s, 1), col_text(s, 2), col_text(s, 3), col_text(s, 4)};
    if (cb && cb(ctx, &p)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  done(st, s);
  return rc == SQLITE_DONE ? HM_OK : HM_ERR_IO;
}

static int sq_placeholder_link(hm_store *st, const char *cid, const char *discord_id, const char *did, int64_t now_ms) {
  sqlite3_stmt *s;
  if (tx_begin(st) != HM_OK) return HM_ERR_IO;
  int rc = HM_ERR_IO;
  if (prep(st, &s, "SELECT linked_did FROM placeholders WHERE community_id=?1 AND discord_id=?2") != HM_OK) goto done;
  bind_text(s, 1, cid);
  bind_text(s, 2, discord_id);
  int r = sqlite3_step(s);
  int linked = r == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL;
  done(st, s);
  if (r == SQLITE_DONE) {
    rc = HM_ERR_NOT_FOUND;
    goto done;
  }
  if (r != SQLITE_ROW) goto done;
  if (linked) {
    rc = HM_ERR_CONFLICT;
    goto done;
  }
  int64_t other = 0;
  if (prep(st, &s, "SELECT count(*) FROM placeholders WHERE community_id=?1 AND linked_did=?2") != HM_OK) goto done;
  bind_text(s, 1, cid);
  bind_text(s, 2, did);
  r = sqlite3_step(s);
  if (r == SQLITE_ROW) other = sqlite3_column_int64(s, 0);
  done(st, s);
  if (r != SQLITE_ROW) goto done;
  if (other) {
    rc = HM_ERR_CONFLICT;
    goto done;
  }
  rc = run(st, NULL, "UPDATE placeholders SET linked_did=?3, linked_ms=?4 WHERE community_id=?1 AND discord_id=?2",
           "sssi", cid, discord_id, did, now_ms);
done:
  if (rc != HM_OK || tx_commit(st) != HM_OK) {
    tx_rollback(st);
    return rc != HM_OK ? rc : HM_ERR_IO;
  }
  return HM_OK;
}

/* ---- open / close ------------------------------------------------------------------- */

static void sq_close(hm_store *st) {
  sq_store *q = (sq_store *)st;
  if (q->db) {
    /* An open batch is lost, never committed. */
    cache_clear(q);
    members_invalidate_all(q);
    if (!sqlite3_get_autocommit(q->db)) exec(q->db, "ROLLBACK");
    if (q->deferred) exec(q->db, "PRAGMA synchronous=FULL"); /* the final checkpoint syncs as before */
    sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sqlite3_close(q->db);
  }
  if (q->wal_fd >= 0) close(q->wal_fd);
  hm_free(q);
}

static const hm_store_vtable sq_vtable = {
    sq_close,          sq_secret_get,      sq_secret_put,   sq_replay_add,       sq_known_did_add,
    sq_community_create, sq_community_get, sq_community_list, sq_community_count_by_creator,
    sq_channel_list,   sq_channel_get,     sq_member_get,   sq_member_add,       sq_member_remove,
    sq_member_list,    sq_member_count,    sq_memberships_of, sq_ban_get,        sq_message_append,
    sq_message_page,
    sq_ban_add,        sq_ban_remove,      sq_community_update, sq_channel_count,  sq_channel_create,
    sq_channel_update, sq_channel_delete,  sq_message_get,  sq_message_edit,     sq_message_tombstone,
    sq_message_page_before, sq_reaction_add, sq_reaction_remove, sq_reaction_list, sq_reaction_emoji_count,
    sq_pin_add,        sq_pin_remove,      sq_pin_list,     sq_pin_count,        sq_role_create,
    sq_role_update,    sq_role_delete,     sq_role_get,     sq_role_count,       sq_role_assign,
    sq_role_unassign,  sq_roles_of,        sq_display_name_set,
    sq_known_did_get,  sq_dm_append,       sq_dm_get,       sq_dm_edit,          sq_dm_tombstone,
    sq_thread_create,  sq_thread_get,      sq_thread_count, sq_thread_message_append, sq_thread_message_page,
    sq_notification_add, sq_notification_list, sq_notification_mark_read,
    sq_moderation_get, sq_moderation_set_rules, sq_moderation_set_lockdown, sq_known_did_first_seen,
    sq_message_scan_community,
    sq_keypackage_add, sq_keypackage_list, sq_mls_group_get, sq_mls_group_put, sq_mls_groups_of,
    sq_media_put,      sq_media_get,       sq_media_delete,
    sq_recovery_create, sq_recovery_get,   sq_recovery_list, sq_recovery_delete, sq_recovery_shard_put,
    sq_recovery_shards, sq_user_data_put, sq_user_data_get, sq_user_data_delete, sq_capability_put,
    sq_capability_get, sq_channel_find, sq_batch_begin, sq_batch_end, sq_batch_abort, sq_member_dids,
    sq_community_import, sq_placeholder_list, sq_placeholder_link,
};

int hm_store_sqlite_schema_version(void) { return HM_STORE_SCHEMA_VERSION; }

static int migrate(sqlite3 *db, const char **why) {
  if (exec(db, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)") != HM_OK) {
    *why = "cannot create the meta table";
    return HM_ERR_IO;
  }
  int version = 0;
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema_version'", -1, &s, NULL) != SQLITE_OK) {
    *why = "cannot read the schema version";
    return HM_ERR_IO;
  }
  if (sqlite3_step(s) == SQLITE_ROW) version = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  if (version > HM_STORE_SCHEMA_VERSION) {
    *why = "the data directory was written by a newer harmonyd (storage schema version too new)";
    return HM_ERR_UNSUPPORTED;
  }
  for (int v = version; v < HM_STORE_SCHEMA_VERSION; v++) {
    if (exec(db, "BEGIN IMMEDIATE") != HM_OK) return HM_ERR_IO;
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', %d)", v + 1);
    if (exec(db, migrations[v]) != HM_OK || exec(db, sql) != HM_OK || exec(db, "COMMIT") != HM_OK) {
      exec(db, "ROLLBACK");
      *why = "schema migration failed";
      return HM_ERR_IO;
    }
  }
  return HM_OK;
}

int hm_store_sqlite_open(hm_store **out, const char *path, const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  *why = NULL;
  if (!out || !path) return HM_ERR_INVAL;
  *out = NULL;
  sq_store *q = hm_calloc(1, sizeof *q);
  if (!q) return HM_ERR_NOMEM;
  q->base.vt = &sq_vtable;
  q->wal_fd = -1;
  if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK) {
    *why = "cannot open the database";
    sq_close(&q->base);
    return HM_ERR_IO;
  }
  sqlite3_busy_timeout(q->db, 2000);
  int rc;
  /* EXCLUSIVE before WAL: the WAL index then lives in this process's memory (no -shm file,
   * no fcntl lock per transaction), and a second process on the same database fails here
   * instead of sharing it. */
  if (exec(q->db, "PRAGMA locking_mode=EXCLUSIVE") != HM_OK || exec(q->db, "PRAGMA journal_mode=WAL") != HM_OK ||
      exec(q->db, "PRAGMA synchronous=FULL") != HM_OK || exec(q->db, "PRAGMA foreign_keys=ON") != HM_OK) {
    *why = sqlite3_errcode(q->db) == SQLITE_BUSY ? "the database is in use by another process"
                                                 : "cannot configure the database";
    sq_close(&q->base);
    return HM_ERR_IO;
  }
  if ((rc = migrate(q->db, why)) != HM_OK) {
    if (sqlite3_errcode(q->db) == SQLITE_BUSY) *why = "the database is in use by another process";
    sq_close(&q->base);
    return rc;
  }
  *out = &q->base;
  return HM_OK;
}

void hm_store_close(hm_store *st) {
  if (st) st->vt->close(st);
}

int hm_store_batch_begin(hm_store *st) { return st ? st->vt->batch_begin(st) : HM_ERR_INVAL; }

int hm_store_batch_end(hm_store *st) { return st ? st->vt->batch_end(st) : HM_ERR_INVAL; }

int hm_store_batch_abort(hm_store *st) { return st ? st->vt->batch_abort(st) : HM_ERR_INVAL; }
