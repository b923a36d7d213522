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
 * every write is one transaction, or one savepoint inside a batch, see "Group commit"). Records handed to callbacks are borrowed and valid only
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
  const char *category_id; /* NULL when not set */
  int64_t slow_mode;       /* seconds; 0 = off */
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
  int64_t edited_ms;        /* 0 = never edited */
  const char *type;         /* thread messages: "thread.create" or "thread.send"; else NULL */
} hm_store_message;

typedef struct {
  const char *id; /* the envelope id of thread.create */
  const char *community_id;
  const char *channel_id;
  const char *parent_message_id;
  const char *name;
  const char *creator;
  int64_t created_ms;
} hm_store_thread;

typedef int (*hm_store_thread_cb)(void *ctx, const hm_store_thread *t);

typedef struct {
  const char *id;
  const char *did; /* recipient */
  const char *type; /* mention, reply, dm */
  const char *from_did;
  const char *community_id; /* NULL for dm */
  const char *channel_id;   /* NULL for dm */
  const char *message_id;
  const char *content;
  int read;
  int64_t created_ms;
} hm_store_notification;

typedef int (*hm_store_notification_cb)(void *ctx, const hm_store_notification *n);

typedef struct {
  const char *request_id;
  const char *requester;
  const char *guardians_json; /* JSON array of DIDs */
  int64_t threshold;
  int64_t created_ms;
} hm_store_recovery;

typedef int (*hm_store_recovery_cb)(void *ctx, const hm_store_recovery *r);
/* (guardian DID, shard) pairs */
typedef int (*hm_store_pair_cb)(void *ctx, const char *a, const char *b);

typedef struct {
  const char *id;
  const char *community_id;
  const char *name;
  const char *color;            /* NULL when not set */
  const char *permissions_json; /* JSON array of strings */
  int64_t position;
  const char *created_by;
  int64_t created_ms;
} hm_store_role;

typedef struct {
  const char *emoji;
  const char *did;
} hm_store_reaction;

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

/* An imported (Discord) member of a migrated community (R-HTTP-16, R-HTTP-22): never a
 * membership; linked_did is set once the community's creator has linked it to a member. */
typedef struct {
  const char *community_id;
  const char *discord_id; /* the id after "harmony:member:" */
  const char *subject;    /* "harmony:member:<discord_id>" as in the bundle */
  const char *name;       /* display name from the bundle */
  const char *linked_did; /* NULL while not linked */
} hm_store_placeholder;

typedef int (*hm_store_placeholder_cb)(void *ctx, const hm_store_placeholder *p);
typedef int (*hm_store_community_cb)(void *ctx, const hm_store_community *c);
typedef int (*hm_store_channel_cb)(void *ctx, const hm_store_channel *c);
typedef int (*hm_store_member_cb)(void *ctx, const hm_store_member *m);
typedef int (*hm_store_message_cb)(void *ctx, const hm_store_message *m);
typedef int (*hm_store_role_cb)(void *ctx, const hm_store_role *r);
typedef int (*hm_store_reaction_cb)(void *ctx, const hm_store_reaction *r);
typedef int (*hm_store_string_cb)(void *ctx, const char *s);

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

  /* ---- schema 2 ---- */
  /* Ban did (replacing an earlier ban) and remove its membership and role assignments,
   * in one transaction (R-AUTHZ-12). */
  int (*ban_add)(hm_store *st, const char *community_id, const char *did, const char *by, const char *reason,
                 int64_t ms);
  int (*ban_remove)(hm_store *st, const char *community_id, const char *did);
  /* name NULL keeps it; description NULL keeps it, "" clears it. */
  int (*community_update)(hm_store *st, const char *community_id, const char *name, const char *description);
  int (*channel_count)(hm_store *st, const char *community_id, int64_t *n);
  int (*channel_create)(hm_store *st, const hm_store_channel *ch);
  /* name NULL keeps; topic NULL keeps, "" clears; slow_mode < 0 keeps. */
  int (*channel_update)(hm_store *st, const char *channel_id, const char *name, const char *topic, int64_t slow_mode);
  /* Removes the channel with its messages, reactions and pins. */
  int (*channel_delete)(hm_store *st, const char *channel_id);
  /* HM_ERR_NOT_FOUND unless id is a message (live or tombstone) of channel_id. */
  int (*message_get)(hm_store *st, const char *channel_id, const char *id, hm_store_message_cb cb, void *ctx);
  int (*message_edit)(hm_store *st, const char *channel_id, const char *id, const char *payload_json, int has_counter,
                      double counter, int64_t edited_ms);
  /* The message becomes a tombstone with payload_json; its reactions and pin go. */
  int (*message_tombstone)(hm_store *st, const char *channel_id, const char *id, const char *payload_json,
                           const char *by, int64_t ms);
  /* Newest first: messages with seq < before_seq (before_seq < 0: no bound), leaving out
   * those whose counter >= counter_max when has_counter_max (no counter: kept); tombstones
   * included. At most limit rows. */
  int (*message_page_before)(hm_store *st, const char *channel_id, int64_t before_seq, int has_counter_max,
                             double counter_max, size_t limit, hm_store_message_cb cb, void *ctx);
  /* Idempotent. */
  int (*reaction_add)(hm_store *st, const char *channel_id, const char *message_id, const char *emoji,
                      const char *did, int64_t ms);
  int (*reaction_remove)(hm_store *st, const char *channel_id, const char *message_id, const char *emoji,
                         const char *did);
  /* In the order the reactions were added. */
  int (*reaction_list)(hm_store *st, const char *channel_id, const char *message_id, hm_store_reaction_cb cb,
                       void *ctx);
  /* Distinct emoji on the message, and whether emoji is among them. */
  int (*reaction_emoji_count)(hm_store *st, const char *channel_id, const char *message_id, const char *emoji,
                              int64_t *distinct, int *present);
  /* Idempotent; *added = 0 if it was already pinned. */
  int (*pin_add)(hm_store *st, const char *channel_id, const char *message_id, const char *by, int64_t ms,
                 int *added);
  int (*pin_remove)(hm_store *st, const char *channel_id, const char *message_id);
  int (*pin_list)(hm_store *st, const char *channel_id, hm_store_string_cb cb, void *ctx); /* oldest pin first */
  int (*pin_count)(hm_store *st, const char *channel_id, int64_t *n, const char *message_id, int *pinned);
  int (*role_create)(hm_store *st, const hm_store_role *r);
  int (*role_update)(hm_store *st, const hm_store_role *r); /* replaces name, color, permissions, position */
  /* Removes the role and its assignments. */
  int (*role_delete)(hm_store *st, const char *community_id, const char *role_id);
  int (*role_get)(hm_store *st, const char *community_id, const char *role_id, hm_store_role_cb cb, void *ctx);
  int (*role_count)(hm_store *st, const char *community_id, int64_t *n);
  int (*role_assign)(hm_store *st, const char *community_id, const char *did, const char *role_id);
  int (*role_unassign)(hm_store *st, const char *community_id, const char *did, const char *role_id);
  /* The roles assigned to did in community_id (assignment order). */
  int (*roles_of)(hm_store *st, const char *community_id, const char *did, hm_store_role_cb cb, void *ctx);
  /* The DID's display name (one per DID, R-MEMB-1); member records report it. */
  int (*display_name_set)(hm_store *st, const char *did, const char *name);

  /* ---- schema 3 ---- */
  /* HM_OK if did has authenticated here or is a stored member of a community, else
   * HM_ERR_NOT_FOUND (dm.md "known DID"). */
  int (*known_did_get)(hm_store *st, const char *did);
  /* DMs: m->channel_id is the conversation key, m->community_id the recipient DID.
   * Same semantics as message_append / message_get / message_edit / message_tombstone. */
  int (*dm_append)(hm_store *st, const hm_store_message *m, int64_t *seq);
  int (*dm_get)(hm_store *st, const char *conversation, const char *id, hm_store_message_cb cb, void *ctx);
  int (*dm_edit)(hm_store *st, const char *conversation, const char *id, const char *payload_json, int64_t edited_ms);
  int (*dm_tombstone)(hm_store *st, const char *conversation, const char *id, const char *payload_json, int64_t ms);

  /* ---- schema 4: threads ---- */
  /* Creates the thread and, when first is non-NULL, its first message (type
   * "thread.create"), in one transaction. HM_ERR_CONFLICT if the id is already a thread. */
  int (*thread_create)(hm_store *st, const hm_store_thread *t, const hm_store_message *first);
  int (*thread_get)(hm_store *st, const char *id, hm_store_thread_cb cb, void *ctx); /* HM_ERR_NOT_FOUND */
  int (*thread_count)(hm_store *st, const char *channel_id, int64_t *n);
  /* Appends m (m->type, m->id, author, ...) to the thread: *seq its position, *count the
   * thread's message count after it. HM_ERR_CONFLICT for an id used in the thread. */
  int (*thread_message_append)(hm_store *st, const char *thread_id, const hm_store_message *m, int64_t *seq,
                               int64_t *count);
  int (*thread_message_page)(hm_store *st, const char *thread_id, const hm_store_page_query *q,
                             hm_store_message_cb cb, void *ctx);

  /* ---- schema 5: notifications ---- */
  /* Stores n; keeps only the recipient's `keep` newest notifications (R-NOTIF-6). */
  int (*notification_add)(hm_store *st, const hm_store_notification *n, size_t keep);
  /* The DID's notifications oldest first, filtered by unread_only, skipping offset, at most
   * limit; *total = the count after the filter. */
  int (*notification_list)(hm_store *st, const char *did, int unread_only, size_t offset, size_t limit,
                           hm_store_notification_cb cb, void *ctx, int64_t *total);
  /* Marks the listed ids of did read (n_ids == 0: all of them). */
  int (*notification_mark_read)(hm_store *st, const char *did, const char *const *ids, size_t n_ids);

  /* ---- schema 6: moderation ---- */
  /* The community's moderation rules (a JSON array text, slow mode excluded: that lives on
   * the channel) and lockdown end. get: *rules_json hm_malloc'd ("[]" when none set). */
  int (*moderation_get)(hm_store *st, const char *community_id, char **rules_json, int64_t *lockdown_until);
  int (*moderation_set_rules)(hm_store *st, const char *community_id, const char *rules_json);
  int (*moderation_set_lockdown)(hm_store *st, const char *community_id, int64_t until_ms);
  /* When did first authenticated here (R-MODR-10); HM_ERR_NOT_FOUND if never. */
  int (*known_did_first_seen)(hm_store *st, const char *did, int64_t *ms);
  /* Every live (not deleted) channel message of the community, newest first (search). */
  int (*message_scan_community)(hm_store *st, const char *community_id, hm_store_message_cb cb, void *ctx);

  /* ---- schema 7: MLS key packages and group records ---- */
  /* Appends a key package (JSON text) for did unless one with the same fingerprint is
   * stored (*added = 0); keeps the newest `keep`. */
  int (*keypackage_add)(hm_store *st, const char *did, const char *json, const char *fingerprint, size_t keep,
                        int *added);
  int (*keypackage_list)(hm_store *st, const char *did, hm_store_string_cb cb, void *ctx); /* oldest first */
  /* Group records; cb gets (group id, community id, channel id, creator) as a thread-like
   * record: id = group id, parent_message_id unused (NULL), creator = creator DID. */
  int (*mls_group_get)(hm_store *st, const char *group_id, hm_store_thread_cb cb, void *ctx);
  int (*mls_group_put)(hm_store *st, const char *group_id, const char *community_id, const char *channel_id,
                       const char *creator);
  int (*mls_groups_of)(hm_store *st, const char *community_id, hm_store_thread_cb cb, void *ctx);

  /* ---- schema 8: media ---- */
  /* Stores the object unless the uploader would exceed max_files or max_bytes (sum of
   * sizes): HM_ERR_RANGE then, nothing stored. */
  int (*media_put)(hm_store *st, const char *id, const char *uploader, const char *community_id,
                   const char *channel_id, const char *filename, const char *mime, const uint8_t *bytes, size_t len,
                   int64_t ms, int64_t max_files, int64_t max_bytes);
  /* Looks up a media object: *uploader, *filename, *mime hm_malloc'd (any may be NULL to
   * skip); *bytes (may be NULL) hm_malloc'd with *len. HM_ERR_NOT_FOUND if absent. */
  int (*media_get)(hm_store *st, const char *id, char **uploader, char **filename, char **mime, uint8_t **bytes,
                   size_t *len);
  int (*media_delete)(hm_store *st, const char *id);

  /* ---- schema 9: social recovery (requests expire at created_ms + ttl) ---- */
  /* Purges expired requests, then stores r: HM_ERR_CONFLICT if the id is taken,
   * HM_ERR_RANGE if the requester already has max_per_requester requests. */
  int (*recovery_create)(hm_store *st, const hm_store_recovery *r, int64_t now_ms, int64_t ttl_ms,
                         int64_t max_per_requester);
  /* Unexpired requests only (HM_ERR_NOT_FOUND otherwise). */
  int (*recovery_get)(hm_store *st, const char *request_id, int64_t now_ms, int64_t ttl_ms, hm_store_recovery_cb cb,
                      void *ctx);
  int (*recovery_list)(hm_store *st, int64_t now_ms, int64_t ttl_ms, hm_store_recovery_cb cb, void *ctx);
  int (*recovery_delete)(hm_store *st, const char *request_id);
  /* Stores or replaces (keeping its position) the guardian's shard; *collected = distinct
   * guardians with a shard. */
  int (*recovery_shard_put)(hm_store *st, const char *request_id, const char *guardian, const char *shard,
                            int64_t *collected);
  int (*recovery_shards)(hm_store *st, const char *request_id, hm_store_pair_cb cb, void *ctx);
  /* ---- schema 10: per-DID encrypted user data (http.md) ---- */
  int (*user_data_put)(hm_store *st, const char *did, const char *ciphertext_b64, const char *nonce_b64,
                       const char *metadata_json);
  /* *ciphertext_b64, *nonce_b64, *metadata_json hm_malloc'd (metadata NULL when none). */
  int (*user_data_get)(hm_store *st, const char *did, char **ciphertext_b64, char **nonce_b64, char **metadata_json);
  int (*user_data_delete)(hm_store *st, const char *did); /* HM_ERR_NOT_FOUND when none */
  /* ---- schema 11: capabilities the server issued (trust anchors, R-CRY-ZCAP-10) ---- */
  int (*capability_put)(hm_store *st, const char *id, const char *community_id, const char *json);
  /* *json and *community_id hm_malloc'd; HM_ERR_NOT_FOUND if unknown. */
  int (*capability_get)(hm_store *st, const char *id, char **community_id, char **json);
  /* The channel with this id in whatever community owns it (voice rooms). */
  int (*channel_find)(hm_store *st, const char *channel_id, hm_store_channel_cb cb, void *ctx);
  /* ---- group commit (hm_store_batch_begin / _end / _abort below) ---- */
  int (*batch_begin)(hm_store *st);
  int (*batch_end)(hm_store *st);
  int (*batch_abort)(hm_store *st);
  /* The DIDs of community_id's members (join order; *n may be 0, e.g. for an unknown
   * community), for broadcast audiences. Served from a cache the store keeps per community
   * and updates or drops on every write that changes membership (member_add,
   * member_remove, ban_add, community_create) and on every rollback (a failed write, a
   * batch aborted or failing to commit), so it always equals member_list. *dids is
   * borrowed: valid until the next call on st that writes, rolls back or closes.
   * HM_ERR_IO, HM_ERR_NOMEM. */
  int (*member_dids)(hm_store *st, const char *community_id, const char *const **dids, size_t *n);

  /* Migration import (R-HTTP-16): in one transaction, the community, the creator's
   * membership, the channels, the placeholders and the messages (each message's seq is its
   * channel's next one, in the order given; m[i].community_id is ignored, m[i].channel_id
   * must be one of the channels). Nothing is stored on error. HM_ERR_NOT_FOUND for a
   * message in an unknown channel, HM_ERR_IO otherwise. */
  int (*community_import)(hm_store *st, const hm_store_community *c, const hm_store_channel *channels,
                          size_t n_channels, const hm_store_placeholder *placeholders, size_t n_placeholders,
                          const hm_store_message *messages, size_t n_messages);
  /* The community's placeholders in import order. */
  int (*placeholder_list)(hm_store *st, const char *community_id, hm_store_placeholder_cb cb, void *ctx);
  /* Link placeholder discord_id to did (R-HTTP-22): HM_ERR_NOT_FOUND (no such placeholder),
   * HM_ERR_CONFLICT (already linked, or did already linked to another placeholder of the
   * community). */
  int (*placeholder_link)(hm_store *st, const char *community_id, const char *discord_id, const char *did,
                          int64_t now_ms);
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

/* Close a store; NULL is a no-op. A batch still open is rolled back (its writes are lost). */
void hm_store_close(hm_store *st);

/* ---- Group commit ----------------------------------------------------------------------
 * Without a batch every write is its own durable transaction (above). A batch gathers the
 * writes of many calls (e.g. of one event-loop iteration) into one transaction, so they
 * cost one sync together:
 *
 *   hm_store_batch_begin(st);  ... any store calls ...  rc = hm_store_batch_end(st);
 *   if (rc == HM_OK) send the frames that reveal those writes;  else do not.
 *
 * While a batch is open:
 *  - each write still succeeds or fails as a whole and returns the same result as
 *    without a batch: a write of several statements runs as a SAVEPOINT inside the batch's
 *    transaction, so a failed write rolls back only itself; the batch's other writes stay;
 *  - reads see the batch's writes (same connection);
 *  - nothing is durable yet: a crash, hm_store_close or hm_store_batch_abort before
 *    hm_store_batch_end loses all of the batch's writes. The caller must not reveal a write
 *    to any client (frame, HTTP answer) before hm_store_batch_end returned HM_OK (R-PERS-1,
 *    R-DLV-6).
 *  - if SQLite abandons the whole transaction by itself (I/O error, disk full), every later
 *    call of the batch returns HM_ERR_IO and hm_store_batch_end returns HM_ERR_IO: none of
 *    the batch's writes happened.
 * Batches do not nest. */

/* Opens a batch. HM_ERR_INVAL if one is already open (or st is NULL); HM_ERR_IO. */
int hm_store_batch_begin(hm_store *st);

/* Commits the open batch (COMMIT; with synchronous=FULL it has synced when this returns).
 * HM_OK: every successful write of the batch is durable. HM_ERR_IO: none is (the batch is
 * rolled back). HM_ERR_INVAL when no batch is open. Either way the batch is closed. */
int hm_store_batch_end(hm_store *st);

/* Rolls the open batch back: none of its writes happened. HM_ERR_INVAL when none is open. */
int hm_store_batch_abort(hm_store *st);

/* ---- Deferred sync (SQLite store only; harmonyd's pipelined group commit) ---------------
 * hm_store_sqlite_defer_sync(st, 1) switches the store to synchronous=NORMAL: COMMIT then
 * writes the WAL but does not sync it, and hm_store_batch_end returning HM_OK means "committed,
 * NOT yet durable". The caller makes it durable with hm_store_sqlite_wal_sync, which may run
 * on another thread while this one goes on with the next batch (it only syncs the WAL file
 * through the store's own read-only descriptor: fdatasync acts on the file, whoever wrote
 * it). Until that sync returned HM_OK for a batch, nothing that reveals the batch's writes (or
 * those of any earlier batch) may reach a client; a frame built after a later batch that
 * wrote nothing may still reveal them, so the caller gates every output on the newest batch
 * that wrote (see harmonyd's main.c). SQLite still syncs the WAL before each checkpoint and
 * the database after it, so with every commit followed by a successful wal_sync the
 * durability is that of synchronous=FULL. on = 0 goes back to synchronous=FULL.
 * Returns HM_OK, HM_ERR_INVAL (not an SQLite store opened on a file, or a batch is open),
 * HM_ERR_IO. */
int hm_store_sqlite_defer_sync(hm_store *st, int on);

/* 1 when the last hm_store_batch_end committed at least one change, else 0. */
int hm_store_sqlite_batch_wrote(hm_store *st);

/* fdatasync the WAL file. Thread-safe against the thread using the store, but call it from
 * one thread at a time, only after a batch that wrote has ended (the WAL file exists then),
 * and never concurrently with hm_store_close. HM_OK, HM_ERR_IO (the store then stays
 * unsafe: treat every unsynced batch as lost), HM_ERR_INVAL. */
int hm_store_sqlite_wal_sync(hm_store *st);

#ifdef __cplusplus
}
#endif
#endif
