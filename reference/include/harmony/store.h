/* harmony/store.h - the server's durable state behind a small vtable.
 *
 * The server core (harmony/server.h) never touches files: it reads and writes its state
 * through an hm_store. One implementation ships in libharmony:
 *   hm_store_sqlite_open(path)  SQLite, WAL, synchronous=FULL (every commit is durable
 *                               before the call returns, R-PERS-1), versioned migrations.
 *                               path ":memory:" gives a private in-memory database, which
 *                               the unit tests use as their in-memory store.
 *
 * Conventions: every function returns HM_OK or a negative HM_ERR_* code; HM_ERR_NOT_FOUND
 * where a lookup finds nothing; HM_ERR_IO for a storage failure (nothing is changed then:
 * every write is one transaction). Records handed to callbacks are borrowed and valid only
 * during the call. A callback returns 0 to continue, non-zero to stop the iteration (the
 * function then still returns HM_OK). Strings are UTF-8 (WTF-8 for client data).
 * An hm_store is used from one thread.
 */
#ifndef HARMONY_STORE_H
#define HARMONY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hm_store hm_store;

typedef struct {
  const char *id;
  const char *name;
  const char *description; /* NULL when not set */
  const char *creator;
  int64_t created_ms;
} hm_store_community;

typedef struct {
  const char *id;
  const char *community_id;
  const char *name;
  const char *type;  /* text, voice, announcement, thread */
  const char *topic; /* NULL when not set */
  int64_t created_ms;
} hm_store_channel;

typedef struct {
  const char *community_id;
  const char *did;
  int64_t joined_ms;
  const char *display_name; /* NULL when not set */
} hm_store_member;

/* A channel message as stored. */
typedef struct {
  const char *community_id;
  const char *channel_id;
  const char *id;           /* the client's message id (envelope id) */
  int64_t seq;              /* server order within the channel (R-ORD-6); out for append */
  const char *author;       /* connection DID (R-AUTHZ-3) */
  const char *timestamp;    /* the client's envelope timestamp (or the server's time) */
  const char *payload_json; /* JSON.stringify of the payload as received */
  int has_counter;          /* payload.clock.counter present (a number) */
  double counter;
  int64_t received_ms;
  int deleted;              /* tombstone */
} hm_store_message;

/* Page of a channel: messages with seq > after_seq (after_seq < 0: from the start), and,
 * when has_counter_min, leaving out messages whose counter is <= counter_min (messages
 * without a counter always stay). Tombstones only with include_deleted. Oldest first, at
 * most limit rows. */
typedef struct {
  int64_t after_seq;
  int has_counter_min;
  double counter_min;
  int include_deleted;
  size_t limit;
} hm_store_page_query;

typedef int (*hm_store_community_cb)(void *ctx, const hm_store_community *c);
typedef int (*hm_store_channel_cb)(void *ctx, const hm_store_channel *c);
typedef int (*hm_store_member_cb)(void *ctx, const hm_store_member *m);
typedef int (*hm_store_message_cb)(void *ctx, const hm_store_message *m);

typedef struct {
  /* Close and free the store (NULL-safe through hm_store_close). */
  void (*close)(hm_store *st);

  /* Named 32-byte secrets (the session-token key, R-TOK-6). get: HM_ERR_NOT_FOUND if unset. */
  int (*secret_get)(hm_store *st, const char *name, uint8_t out[32]);
  int (*secret_put)(hm_store *st, const char *name, const uint8_t value[32]);

  /* Replay cache (R-AUTH-10, R-PERS-12): records key until expires_ms and returns HM_OK, or
   * HM_ERR_REPLAY if key is already recorded and not expired at now_ms. Expired entries are
   * purged on the way. */
  int (*replay_add)(hm_store *st, const char *key, int64_t expires_ms, int64_t now_ms);

  /* Known DIDs (R-PERS-23): idempotent. */
  int (*known_did_add)(hm_store *st, const char *did, int64_t now_ms);

  /* Creates the community, the creator's membership (joined at c->created_ms) and the
   * channels, in one transaction. */
  int (*community_create)(hm_store *st, const hm_store_community *c, const hm_store_channel *channels,
                          size_t n_channels);
  int (*community_get)(hm_store *st, const char *id, hm_store_community_cb cb, void *ctx);
  int (*community_list)(hm_store *st, hm_store_community_cb cb, void *ctx); /* creation order */
  int (*community_count_by_creator)(hm_store *st, const char *did, int64_t *n);

  int (*channel_list)(hm_store *st, const char *community_id, hm_store_channel_cb cb, void *ctx);
  /* HM_ERR_NOT_FOUND unless channel_id is a channel of community_id. cb may be NULL. */
  int (*channel_get)(hm_store *st, const char *community_id, const char *channel_id, hm_store_channel_cb cb,
                     void *ctx);

  /* HM_ERR_NOT_FOUND unless did is a member. cb may be NULL. */
  int (*member_get)(hm_store *st, const char *community_id, const char *did, hm_store_member_cb cb, void *ctx);
  /* Adds the membership; *added = 0 (and nothing changes) if it already exists. */
  int (*member_add)(hm_store *st, const char *community_id, const char *did, int64_t joined_ms, int *added);
  /* Removes the membership; HM_ERR_NOT_FOUND if there was none. */
  int (*member_remove)(hm_store *st, const char *community_id, const char *did);
  int (*member_list)(hm_store *st, const char *community_id, hm_store_member_cb cb, void *ctx); /* join order */
  int (*member_count)(hm_store *st, const char *community_id, int64_t *n);
  /* The memberships of did, in the order it joined (R-AUTH-19). */
  int (*memberships_of)(hm_store *st, const char *did, hm_store_member_cb cb, void *ctx);

  /* HM_OK if did is banned from community_id, HM_ERR_NOT_FOUND if not. */
  int (*ban_get)(hm_store *st, const char *community_id, const char *did);

  /* Appends m (seq ignored) to its channel with the next sequence number (*seq). Returns
   * HM_ERR_CONFLICT if m->id is already used in that channel (R-ORD-5), HM_ERR_NOT_FOUND if
   * the channel does not exist. */
  int (*message_append)(hm_store *st, const hm_store_message *m, int64_t *seq);
  int (*message_page)(hm_store *st, const char *channel_id, const hm_store_page_query *q, hm_store_message_cb cb,
                      void *ctx);
} hm_store_vtable;

struct hm_store {
  const hm_store_vtable *vt;
};

/* Open (creating if needed) the SQLite store at path (":memory:" for a private in-memory
 * one). Migrates an older schema; refuses a newer one with HM_ERR_UNSUPPORTED (R-PERS-21).
 * On HM_OK *out is owned by the caller (hm_store_close). Errors: HM_ERR_IO, HM_ERR_NOMEM,
 * HM_ERR_UNSUPPORTED, HM_ERR_INVAL. A failure message (static or NULL) goes to *why when
 * why is non-NULL. */
int hm_store_sqlite_open(hm_store **out, const char *path, const char **why);

/* The schema version this build writes. */
int hm_store_sqlite_schema_version(void);

/* Close a store; NULL is a no-op. */
void hm_store_close(hm_store *st);

#ifdef __cplusplus
}
#endif
#endif
