/* server_internal.h - shared between the server core's files (not installed). */
#ifndef HARMONY_SERVER_INTERNAL_H
#define HARMONY_SERVER_INTERNAL_H

#include <stdint.h>

#include "harmony/json.h"
#include "harmony/server.h"
#include "server_registry.h"

struct hm_server_conn {
  hm_server_conn *next, *prev;
  void *handle;
  char *did;         /* NULL until authenticated; fixed afterwards (R-AUTHZ-1) */
  hm_server_conn *did_next; /* next connection in the same bucket of hm_server.did_tab */
  size_t did_h;              /* did_hash(did) once authenticated: chains compare it before the text */
  /* Timer heap (hm_server.timers): position, or (size_t)-1 when not in it, and the deadline
   * it is filed under. The filed deadline is never later than the real one (last_rx_ms only
   * grows), so the tick recomputes it when it comes due and files the connection again. */
  size_t timer_pos;
  int64_t timer_at;
  int closing;       /* env.close was called: nothing more is sent or processed */
  int64_t opened_ms; /* for the auth timer (R-AUTH-25) */
  uint32_t frames_before_auth;
  int64_t last_rx_ms;   /* last frame of any kind from the peer (R-TRN-11) */
  int64_t last_ping_ms; /* last keepalive ping sent */
  char **mls_sent;      /* "groupId\nmemberDID" pairs announced on this connection (R-MLS-6) */
  size_t n_mls_sent;
  /* voice room (voice.md): the channel id and its community, or NULL; while in one, c is
   * linked into its hm_room's participant list */
  char *room, *room_cid;
  struct hm_room *room_of;
  hm_server_conn *room_next, *room_prev;
  uint64_t room_seq; /* join order within the room */
  int muted, video, screen;
  char *sessions[2];   /* SFU sessions bound to this connection and its room (R-SFU-10) */
  size_t n_sessions;
  int sfu_inflight;    /* outstanding SFU calls (R-SFU-11) */
  struct hm_track *tracks; /* published tracks (voice.track.published) */
  size_t n_tracks;
};

typedef struct hm_track {
  char *name, *session, *kind, *media;
} hm_track;

/* A voice room with at least one participant (hm_server.rooms); freed when the last leaves.
 * Room audiences walk `first` .. room_next: the participants only. */
typedef struct hm_room {
  struct hm_room *next;
  char *id;
  hm_server_conn *first;
  size_t n;
} hm_room;

typedef struct hm_sfu_call {
  struct hm_sfu_call *next;
  uint64_t id;
  hm_server_conn *conn; /* NULL once the connection closed (result dropped) */
  char type[32];
  char *request_id;     /* the c2s frame id, for requestId on errors */
} hm_sfu_call;

typedef struct hm_rate_entry {
  struct hm_rate_entry *next;
  char *did;
  int64_t window_start;
  uint32_t count;
} hm_rate_entry;

/* Last accepted message time per (channel, DID), for slow mode (R-MODR-1). In memory only
 * (R-PERS-18). */
typedef struct hm_slow_entry {
  struct hm_slow_entry *next;
  char *key; /* channel id "\n" DID */
  int64_t last_ms;
} hm_slow_entry;

/* The status a DID set with presence.update while connected (R-PRES-4). Memory only. */
typedef struct hm_presence_entry {
  struct hm_presence_entry *next;
  char *did;
  char status[16];
} hm_presence_entry;

/* In-memory moderation state (R-PERS-18): per (rule, DID) rate windows and per-rule raid
 * join times. */
typedef struct hm_mod_entry {
  struct hm_mod_entry *next;
  char *key;
  int64_t window_start;
  int64_t count;
  int64_t *times; /* raid detection: recorded join times */
  size_t n_times, cap_times;
} hm_mod_entry;

struct hm_server {
  hm_server_config cfg;
  hm_server_env env;
  hm_store *st;
  uint8_t key_seed[32]; /* the server's identity key (R-CRY-TOK-3): tokens, capabilities */
  uint8_t key_pk[32];
  uint8_t key_sk[64]; /* expanded secret key of key_seed (tokens are signed with it); wiped at free */
  char did[64];         /* the server's did:key */
  hm_server_conn *conns;
  size_t n_conns;
  /* Authenticated connections by DID (hash of the DID -> chain through did_next); a DID's
   * connections share a bucket. did_nb == 0: no table (allocation failed), lookups then
   * walk conns. */
  hm_server_conn **did_tab;
  size_t did_nb, n_authed;
  /* Connections with a pending timer (auth timeout, keepalive), a min-heap on timer_at;
   * capacity >= n_conns, reserved when a connection opens. */
  hm_server_conn **timers;
  size_t n_timers, cap_timers;
  /* Rate windows by DID: a hash table (chains through next) of rate_nb buckets (0: none
   * yet), swept for ended windows once per window length (rate_swept_ms). */
  hm_rate_entry **rates;
  size_t rate_nb, n_rates;
  int64_t rate_swept_ms;
  hm_slow_entry *slow;
  hm_presence_entry *presence;
  hm_mod_entry *mod;
  uint64_t room_seq;
  hm_room *rooms;
  struct hm_sfu_call *calls;
  uint64_t next_call;
  /* metrics (R-HTTP-21): counters only, no identities */
  uint64_t m_frames_rx, m_frames_tx, m_auth_failures, m_messages_stored, m_sfu_ok, m_sfu_err;
  struct {
    char code[32];
    uint64_t n;
  } m_errors[48];
  size_t m_n_errors;
};

/* What a handler gets: the frame, already checked against the envelope rules, the
 * registry row (fields, types, limits), the sender rule and the generic authz terms. */
typedef struct {
  hm_server *srv;
  hm_server_conn *conn;
  const hm_reg_type *reg;
  const hm_json *env;
  const hm_json *payload; /* may be NULL or a non-object for types without fields */
  const char *id;         /* envelope id, or NULL */
  const char *timestamp;  /* envelope timestamp, or NULL */
  const char *community_id; /* payload.communityId when a string, else NULL */
  size_t duplicate_keys;    /* repeated keys anywhere in the frame (merged JS-style) */
} hm_frame;

typedef void (*hm_handler_fn)(hm_frame *f);

typedef struct {
  const char *type;
  hm_handler_fn fn;
} hm_handler;

/* server_core.c */
void hm_srv_log(hm_server *srv, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int64_t hm_srv_now(hm_server *srv);
void hm_srv_now_iso(hm_server *srv, char out[32]);
int hm_srv_iso(char out[32], int64_t ms);
/* "<prefix>-<32 hex>" into out (cap >= strlen(prefix) + 34). */
void hm_srv_fresh_id(hm_server *srv, char *out, size_t cap, const char *prefix, size_t hex_bytes);
/* Build {"id","type","timestamp","sender","payload"} (payload ownership passes in; NULL
 * becomes {}) and stringify it. *out hm_malloc'd. */
int hm_srv_frame_text(char **out, size_t *len, const char *id, const char *type, const char *timestamp,
                      const char *sender, hm_json *payload);
void hm_srv_send_text(hm_server *srv, hm_server_conn *c, const char *text, size_t len);
/* A server-originated frame (fresh id, now, sender "server") to one connection. */
void hm_srv_send(hm_server *srv, hm_server_conn *c, const char *type, hm_json *payload);
void hm_srv_error(hm_server *srv, hm_server_conn *c, const char *code, const char *message, const char *request_id);
void hm_srv_close(hm_server *srv, hm_server_conn *c, int code, const char *reason);
/* Error for frame f (requestId = f->id). */
void hm_frame_error(hm_frame *f, const char *code, const char *message);
void hm_frame_internal(hm_frame *f, int err);
/* Send text to every authenticated connection of every member of community_id, except
 * `except` (may be NULL). Returns HM_OK or a store error. */
int hm_srv_broadcast(hm_server *srv, const char *community_id, const char *text, size_t len,
                     const hm_server_conn *except);
/* Send text to every authenticated connection of did, except `except`. */
void hm_srv_send_did(hm_server *srv, const char *did, const char *text, size_t len, const hm_server_conn *except);
/* The authenticated connections of did through the DID index (O(connections of did), not
 * O(all connections)): the first, or NULL; the one after c, or NULL. A connection that is
 * closing is still listed (callers that must skip it check c->closing). */
hm_server_conn *hm_srv_did_first(hm_server *srv, const char *did);
hm_server_conn *hm_srv_did_next(hm_server *srv, const hm_server_conn *c, const char *did);
/* Every authenticated connection of did; the next one is fetched before the body runs, so
 * the body may act on c (send, close) freely. did must stay valid through the loop. */
#define HM_FOR_DID_CONN(srv, did, c)                                                              \
  for (hm_server_conn *c = hm_srv_did_first(srv, did), *c##_nx = hm_srv_did_next(srv, c, did); c; \
       c = c##_nx, c##_nx = hm_srv_did_next(srv, c, did))
/* Is did online (has an authenticated connection)? */
int hm_srv_did_online(hm_server *srv, const char *did);

/* server_community.c */
extern const hm_handler hm_server_handlers[];
/* community.auto-joined (resync shape) followed by community.info.response for the
 * login resync; community.auto-joined alone (with_info = 0) for R-COMM-6. */
int hm_srv_announce_community(hm_server *srv, hm_server_conn *c, const char *community_id, int with_info);
/* Post-authentication resync (R-AUTH-18 .. R-AUTH-20). */
int hm_srv_resync(hm_server *srv, hm_server_conn *c);
/* The DID's current presence status: offline, the status it set, or online. */
const char *hm_srv_presence_status(hm_server *srv, const char *did);
/* Forget the status a DID set (its last connection closed). */
void hm_srv_presence_forget(hm_server *srv, const char *did);
/* Drop c's SFU sessions and tracks (leaving its room or closing, R-SFU-15). */
void hm_srv_voice_forget(hm_server_conn *c);
/* Remove c from its voice room, telling the remaining participants (R-VOICE-7/8). */
void hm_srv_voice_leave(hm_server *srv, hm_server_conn *c);
/* Free the room list (server teardown; the connections are freed separately). */
void hm_srv_rooms_free(hm_server *srv);
/* Remove every connection of did from the rooms of community_id (R-VOICE-10). */
void hm_srv_voice_drop_did(hm_server *srv, const char *community_id, const char *did);
/* Recovery notices owed to a guardian that just authenticated (R-RECOV-6). */
void hm_srv_recovery_login(hm_server *srv, hm_server_conn *c);
/* presence.changed {status} from did to members of its communities (R-AUTH-22). */
void hm_srv_presence(hm_server *srv, const char *did, const char *status, const hm_server_conn *except);

/* *held = 1 when did holds perm ("admin" or a permission name) in community_id. */
int hm_srv_has_permission(hm_server *srv, const char *community_id, const char *did, const char *perm, int *held);

/* *yes = 1 when did created community_id. HM_ERR_NOT_FOUND for an unknown community. */
int hm_srv_is_creator(hm_server *srv, const char *community_id, const char *did, int *yes);

/* UTF-16 length of WTF-8 text (a 4-byte sequence counts 2). */
size_t hm_utf16_len(const char *s, size_t len);

/* Length of the longest prefix of s (NUL-terminated, WTF-8) of at most max bytes that does
 * not end inside a character: quote client text with "%.*s" and this, never "%.Ns", which
 * can cut a multi-byte character and make the frame unbuildable (wire fuzzer: 1011). */
int hm_utf8_prefix(const char *s, size_t max);

#endif
