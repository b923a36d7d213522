/* client_internal.h - shared between the client_*.c files of libharmony. Not installed. */
#ifndef HARMONY_CLIENT_INTERNAL_H
#define HARMONY_CLIENT_INTERNAL_H

#include "harmony/client.h"

#define HM_CLIENT_SEEN_MAX 256

typedef struct hm_client_out {
  char *text;
  size_t len;
  int user; /* 1: built by hm_client_send (survives a disconnect); 0: connection-bound */
  struct hm_client_out *next;
} hm_client_out;

typedef struct hm_client_fol {
  char *community;
  char *channel;
  hm_json *clock; /* latestClock of the last sync.response, or NULL */
  char *seen[HM_CLIENT_SEEN_MAX]; /* ring of message ids already delivered */
  size_t seen_next;
  struct hm_client_fol *next;
} hm_client_fol;

typedef struct {
  uint32_t leaf;
  char *did;
  uint8_t enc[32];
  uint8_t sig[32];
} hm_client_member;

typedef struct hm_client_group {
  char *group_id; /* community ":" channel */
  char *community;
  char *channel;
  uint64_t epoch;
  uint8_t secret[32];
  uint32_t my_leaf;
  int creator;
  hm_client_member *members;
  size_t n_members;
  struct hm_client_group *next;
} hm_client_group;

typedef struct hm_client_pending {
  char *frame; /* a channel.message frame waiting for its group's Welcome */
  size_t len;
  struct hm_client_pending *next;
} hm_client_pending;

typedef struct hm_client_addreq {
  char *community, *channel, *did;
  struct hm_client_addreq *next;
} hm_client_addreq;

/* A DM peer of this client (hm_client_dm_send): announced with dm.keyexchange once, DMs
 * held until the announcement has settled. */
typedef struct hm_client_dmpeer {
  char *did;
  int ready;        /* announcement settled: DMs go straight to the outgoing queue */
  char barrier[48]; /* id of the mls.keypackage.fetch sent after dm.keyexchange on this
                     * connection ("" = not sent yet) */
  int written;      /* the barrier frame has been handed to the shell (answers before that
                     * belong to earlier requests) */
  int answered;     /* the server answered the barrier */
  int64_t release_at;
  hm_client_out *held_head, *held_tail;
  struct hm_client_dmpeer *next;
} hm_client_dmpeer;

typedef struct {
  hm_client_handler cb;
  void *ctx;
} hm_client_slot;

struct hm_client {
  hm_client_env env;
  hm_identity id;
  char *token;
  hm_client_state state;
  unsigned attempts;
  int by_token;
  hm_client_dmpeer *dmpeers;
  int auto_kp;       /* upload our key package after every authentication */
  uint32_t dm_settle_ms;
  uint64_t lamport; /* Lamport clock of channel.send / dm.send (upstream orders by it) */
  uint64_t counter;
  hm_client_out *out_head, *out_tail;
  hm_client_fol *follows;
  hm_client_slot *slots;
  hm_client_handler def_cb;
  void *def_ctx;
  hm_client_group *groups;
  hm_client_pending *pending;
  hm_client_addreq *adds;
};

/* client_core.c */
int64_t hm_client__now(hm_client *c);
void hm_client__rand(hm_client *c, uint8_t *buf, size_t len);
hm_json *hm_client__bytes(const uint8_t *p, size_t len);          /* codec object */
hm_json *hm_client__byte_array(const uint8_t *p, size_t len);     /* [n, ...] */
/* codec object or number array -> bytes; HM_ERR_STRUCTURE on anything else or wrong size
 * (want = exact size, or 0 = any size up to cap). */
int hm_client__get_bytes(const hm_json *v, uint8_t *out, size_t cap, size_t *len, size_t want);
const char *hm_client__str(const hm_json *o, const char *key);
void hm_client__emit(hm_client *c, const char *type, const hm_json *frame, const char *text,
                     hm_client_e2e e2e);
hm_client_fol *hm_client__find_follow(hm_client *c, const char *community, const char *channel);

/* The mls.keypackage.upload envelope text of our key package (hm_malloc'd). */
int hm_client__keypackage_frame(hm_client *c, char **text, size_t *len);
int hm_client__envelope(hm_client *c, char **text, size_t *len, const char *type, hm_json *payload,
                        char *id_out, size_t cap);

/* client_dispatch.c */
extern const char *const hm_client__s2c_types[];
extern const size_t hm_client__n_s2c_types;

/* client_mls.c */
hm_client_group *hm_client__group(const hm_client *c, const char *community, const char *channel);
/* Decode channel content (string, epoch-0 plaintext or MLS ciphertext). *text hm_malloc'd or
 * NULL. Returns HM_OK; HM_ERR_NOT_FOUND when no group yet (the caller queues it). */
int hm_client__channel_decode(hm_client *c, const char *community, const char *channel,
                              const char *sender, const hm_json *content, char **text,
                              hm_client_e2e *e2e);
/* React to mls.* frames (welcome, commit, member.joined, keypackage.response). */
void hm_client__mls_frame(hm_client *c, const char *type, const char *sender, const hm_json *payload);
void hm_client__mls_free(hm_client *c);

#endif
