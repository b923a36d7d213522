/* harmony/client.h - the sans-I/O Harmony client core (issue #6).
 *
 * The core never opens a socket, reads a clock or draws randomness by itself: the shell
 * (reference/client, libwebsockets) gives it time and randomness through hm_client_env,
 * tells it when a WebSocket opened or closed (hm_client_on_open / hm_client_on_close),
 * feeds it every received text frame (hm_client_on_frame), and writes the frames the core
 * hands out (hm_client_next_out) from its WRITEABLE callback, one frame per call.
 *
 * Connection life cycle:
 *   on_open   -> the core queues the first frame: auth.token.verify {token} when it holds a
 *                session token, else sync.state with a NEW Verifiable Presentation (one VP
 *                per connection attempt, R-AUTH-24);
 *   auth.token.expired -> the core forgets the token and sends a fresh VP on the same
 *                connection (R-SESS-2);
 *   sync.response (auth-ok) -> authenticated: the token is kept (read it back with
 *                hm_client_token to persist it); our key package is uploaded
 *                (hm_client_set_auto_keypackage); for every channel the client follows,
 *                sync.request is sent from the last position seen (latestClock of the
 *                previous sync.response; see resync); then the outgoing queue is released,
 *                and pending DM announcements are sent again (hm_client_dm_send);
 *   on_close  -> unauthenticated; frames built by hm_client_send stay queued (the queue
 *                survives a disconnect); frames of the dead connection (auth) are dropped.
 *                The shell waits hm_client_backoff_ms(...) before reconnecting.
 *
 * Inbound dispatch: every s2c type of spec/registry.json has a slot (hm_client_slot_of);
 * hm_client_set_handler installs a callback for one slot, hm_client_set_default_handler one
 * for every slot without its own. The slot table is checked against the registry by
 * test_client_dispatch (a registry s2c type without a slot fails the build's tests).
 *
 * E2EE:
 *   DMs (spec crypto.md §8): the DM key of a peer is derived from the peer's did:key (the
 *   X25519 conversion of its Ed25519 key, R-CRY-DM-6), so no key is ever taken from the
 *   network unchecked; a dm.keyexchange key that is not the DID's key is reported
 *   (HM_CLIENT_E2E_KEY_MISMATCH) and never used. hm_client_dm_send always encrypts and fails
 *   when the peer DID does not resolve: there is no plaintext fallback (R-CRY-DM-7).
 *   Channels: upstream's simplified MLS (crypto.md §9) via harmony/mls.h; see the
 *   hm_client_mls_* functions. Group state is exported/imported as JSON for persistence.
 *
 * Memory: all allocations through harmony/alloc.h; the client owns its copies of every
 * string passed in. Not thread-safe.
 */
#ifndef HARMONY_CLIENT_H
#define HARMONY_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/did.h"
#include "harmony/error.h"
#include "harmony/json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hm_client hm_client;

/* What the shell provides. now_ms: wall clock in ms since the epoch. random: fill buf. */
typedef struct {
  int64_t (*now_ms)(void *ctx);
  void (*random)(void *ctx, uint8_t *buf, size_t len);
  void *ctx;
} hm_client_env;

typedef enum {
  HM_CLIENT_DISCONNECTED = 0,
  HM_CLIENT_AUTHENTICATING = 1, /* socket open, auth frame sent or queued */
  HM_CLIENT_READY = 2           /* authenticated */
} hm_client_state;

/* E2EE status of a decoded message (hm_client_event.e2e). */
typedef enum {
  HM_CLIENT_E2E_NONE = 0,          /* not a message with content */
  HM_CLIENT_E2E_PLAINTEXT = 1,     /* sent in clear (epoch 0 / no nonce): shown as unencrypted */
  HM_CLIENT_E2E_DECRYPTED = 2,     /* decrypted and authenticated */
  HM_CLIENT_E2E_FAILED = 3,        /* could not decrypt (text is NULL) */
  HM_CLIENT_E2E_PENDING = 4,       /* MLS message queued until its Welcome arrives */
  HM_CLIENT_E2E_KEY_MISMATCH = 5,  /* dm.keyexchange key not bound to the sender's DID */
  HM_CLIENT_E2E_DOWNGRADE = 6      /* clear text in a channel whose group has 2+ members: text is
                                    * shown, with a warning (R-CRY-MLS-18) */
} hm_client_e2e;

/* One inbound frame as handed to a callback. Everything is borrowed for the duration of
 * the call. frame is the whole parsed envelope; payload its "payload" (or NULL). text is
 * the decoded message text (channel.message, channel.message.updated, dm.message,
 * dm.edited, and messages replayed by a resync) or NULL. */
typedef struct {
  const char *type;
  const char *id;
  const char *sender;
  const hm_json *frame;
  const hm_json *payload;
  const char *text;
  hm_client_e2e e2e;
} hm_client_event;

typedef void (*hm_client_handler)(void *ctx, hm_client *c, const hm_client_event *ev);

/* ---- life cycle ----------------------------------------------------------- */

/* A new client for identity id (copied; the copy is wiped by hm_client_free).
 * Returns HM_OK, HM_ERR_INVAL or HM_ERR_NOMEM. */
int hm_client_new(hm_client **out, const hm_client_env *env, const hm_identity *id);
/* Free everything (NULL is a no-op); secrets are wiped. */
void hm_client_free(hm_client *c);

/* Session token to try first on the next connection (NULL clears). HM_OK / HM_ERR_NOMEM. */
int hm_client_set_token(hm_client *c, const char *token);
/* The current session token (borrowed; NULL when none). Changes on every auth-ok. */
const char *hm_client_token(const hm_client *c);
hm_client_state hm_client_get_state(const hm_client *c);
const char *hm_client_did(const hm_client *c);
/* 1 when the last authentication frame sent was auth.token.verify, 0 when it was a VP. */
int hm_client_auth_by_token(const hm_client *c);

/* Upload our key package automatically after every authentication (default on): the
 * upstream client does the same on every connect, and an upstream peer that finds no key
 * package for us sends its DMs to us in clear (R-CRY-DM-5). The server never consumes a
 * package on fetch (R-MLS-7) and de-duplicates a re-upload of the same package (R-MLS-1),
 * so one upload per authentication keeps one available, also after a server that keeps
 * packages in memory (upstream) restarted. Off: upload only with
 * hm_client_mls_upload_keypackage (a member that wants to stay outside groups). */
void hm_client_set_auto_keypackage(hm_client *c, int on);

/* Minimum time between the answer confirming that the server relayed our dm.keyexchange to
 * a peer and our first dm.send to that peer (default HM_CLIENT_DM_SETTLE_MS). See
 * hm_client_dm_send. */
#define HM_CLIENT_DM_SETTLE_MS 200
void hm_client_set_dm_settle_ms(hm_client *c, uint32_t ms);

/* Timers: releases DMs whose settle time has passed (see hm_client_dm_send). The shell calls
 * it from its loop (every few tens of ms) and then writes what hm_client_next_out offers.
 * Returns HM_OK, or HM_ERR_NOMEM when a release failed (it is retried on the next call). */
int hm_client_tick(hm_client *c);

/* ---- transport events (from the shell) ------------------------------------ */

/* The WebSocket opened: queues the auth frame. Returns HM_OK or HM_ERR_NOMEM/CRYPTO. */
int hm_client_on_open(hm_client *c);
/* One received text frame. Frames that are not JSON objects with a string type are
 * reported to the default handler with type "" and otherwise ignored. Returns HM_OK or
 * HM_ERR_NOMEM (the frame could not be processed). */
int hm_client_on_frame(hm_client *c, const char *data, size_t len);
/* The WebSocket closed (or failed to open). Increments the reconnect attempt counter
 * unless the connection had authenticated. */
void hm_client_on_close(hm_client *c);
/* Reconnect attempts since the last successful authentication. */
unsigned hm_client_attempts(const hm_client *c);

/* Next frame to write on the open connection: *out is borrowed until the next call into the
 * client; returns 1 when a frame is available, 0 otherwise. Call hm_client_pop_out after
 * writing it. While unauthenticated only the auth frame is handed out. */
int hm_client_next_out(hm_client *c, const char **out, size_t *len);
void hm_client_pop_out(hm_client *c);
/* Frames waiting in the outgoing queue (including those held until authentication). */
size_t hm_client_queued(const hm_client *c);

/* Reconnect delay, a pure function: exponential backoff with "equal jitter":
 * d = min(max_ms, base_ms * 2^attempt); result = d/2 + (rnd mod (d/2 + 1)).
 * attempt 0 is the first retry. Always within [d/2, d]. */
uint64_t hm_client_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms, uint32_t rnd);

/* ---- dispatch ------------------------------------------------------------- */

/* Number of slots (= s2c types of the registry this core was built against). */
size_t hm_client_slot_count(void);
/* Slot of an s2c type, or -1 when the type has none. */
int hm_client_slot_of(const char *type);
/* Type name of slot i (NULL when out of range). */
const char *hm_client_slot_name(size_t i);
/* Install cb for type (NULL removes). HM_OK or HM_ERR_NOT_FOUND (no such s2c type). */
int hm_client_set_handler(hm_client *c, const char *type, hm_client_handler cb, void *ctx);
void hm_client_set_default_handler(hm_client *c, hm_client_handler cb, void *ctx);

/* ---- sending -------------------------------------------------------------- */

/* Queue an envelope {id,type,timestamp,sender,payload}; payload ownership passes to the
 * callee (NULL = no payload key). id_out (may be NULL, cap >= 40) receives the envelope id.
 * Returns HM_OK, HM_ERR_INVAL, HM_ERR_NOMEM. Frames wait in the queue until authenticated. */
int hm_client_send(hm_client *c, const char *type, hm_json *payload, char *id_out, size_t cap);

/* Follow a channel: its position is tracked and it is resynced (sync.request from the last
 * seen clock) after every (re)authentication. Idempotent. */
int hm_client_follow(hm_client *c, const char *community_id, const char *channel_id);
/* Followed channels and their positions as JSON text [{communityId, channelId, clock}]
 * (hm_malloc'd), and back: a shell persists them so that a later session resumes where the
 * last one stopped instead of reading every channel from its start. Import adds to the
 * current list (existing entries get the imported clock). */
int hm_client_follows_export(const hm_client *c, char **text, size_t *len);
int hm_client_follows_import(hm_client *c, const char *text, size_t len);
/* Number of followed channels. */
size_t hm_client_following(const hm_client *c);

/* channel.send of text: encrypted with the channel's MLS group when it has one with more than
 * one member, else epoch-0 plaintext (R-CRY-MLS-18). */
int hm_client_channel_send(hm_client *c, const char *community_id, const char *channel_id,
                           const char *text, char *id_out, size_t cap);

/* The content object hm_client_channel_send would send for text (also what channel.edit
 * carries): MLS ciphertext or epoch-0 plaintext. *content owned by the caller. */
int hm_client_channel_content(hm_client *c, const char *community_id, const char *channel_id,
                              const char *text, hm_json **content);

/* dm.send of text, always encrypted (spec crypto.md R-CRY-DM-1..3) to the key bound to
 * recipient_did. Returns HM_ERR_DID when the DID does not resolve (nothing is sent),
 * HM_ERR_WEAK_KEY for an unusable key, else as hm_client_send.
 *
 * The first DM to a peer from this client is announced, and held back until the
 * announcement has settled:
 *   1. once authenticated, the core queues dm.keyexchange with our X25519 key (R-CRY-DM-4;
 *      an upstream recipient opens its DM channel from it) and right after it
 *      mls.keypackage.fetch {dids:[peer]} (the fetch upstream's client sends too);
 *   2. the server handles a connection's frames in order, so its answer to the fetch
 *      (mls.keypackage.response naming the peer, or an error for that request) proves that
 *      the key exchange was relayed to the peer before;
 *   3. the held DMs are released in order by hm_client_tick once the answer has arrived
 *      and HM_CLIENT_DM_SETTLE_MS (hm_client_set_dm_settle_ms) have passed since.
 * Why: upstream's client opens the channel asynchronously; a dm.message that reaches it in
 * the same network read as the dm.keyexchange is shown as "[encrypted]". Later DMs to the
 * peer go straight to the queue. A disconnect before the answer re-announces after the next
 * authentication; held DMs survive it like every queued frame. */
int hm_client_dm_send(hm_client *c, const char *recipient_did, const char *text, char *id_out,
                      size_t cap);
/* DMs held until their peer's key announcement has settled (see hm_client_dm_send). */
size_t hm_client_dm_held(const hm_client *c);

/* The DM content object for text under the key for peer_did (exposed for tests and tools):
 * {"ciphertext":<bytes>,"epoch":0,"senderIndex":0,"nonce":<bytes24>,"senderPublicKey":<bytes32>}. */
int hm_client_dm_seal(hm_client *c, const char *peer_did, const char *text, hm_json **content);
/* Decrypt a DM content object from peer_did. On HM_OK *text is hm_malloc'd (caller frees)
 * and *e2e says whether it was encrypted (DECRYPTED) or plain (PLAINTEXT, R-CRY-DM-7).
 * HM_ERR_AUTH_TAG / HM_ERR_STRUCTURE / HM_ERR_DID on failure. */
int hm_client_dm_open(hm_client *c, const char *peer_did, const hm_json *content, char **text,
                      hm_client_e2e *e2e);

/* Decode the content of a channel message (live or a StoredMessage of channel.history):
 * a string or epoch-0 object is PLAINTEXT, an MLS ciphertext is DECRYPTED with the channel's
 * group (FAILED when it does not open, PENDING-like HM_ERR_NOT_FOUND when there is no group).
 * *text is hm_malloc'd or NULL. Returns HM_OK, HM_ERR_NOT_FOUND or HM_ERR_NOMEM. */
int hm_client_decode(hm_client *c, const char *community_id, const char *channel_id,
                     const hm_json *content, char **text, hm_client_e2e *e2e);

/* ---- simplified MLS (spec crypto.md §9) -------------------------------------- */

/* Upload our key package (mls.keypackage.upload; signed, R-CRY-MLS-1/2). */
int hm_client_mls_upload_keypackage(hm_client *c);
/* Create the group of a channel (we are leaf 0, epoch 0) and send mls.group.setup. The
 * server answers with mls.member.joined for members with key packages; the core then
 * fetches their key packages and adds them (Welcome + Commit) automatically. The core also
 * calls it by itself on mls.group.setup.needed (sent after our channel.create when some
 * member has a key package, R-MLS-18), as upstream's client does. */
int hm_client_mls_create_group(hm_client *c, const char *community_id, const char *channel_id);
/* Add member_did: fetches its key packages; on the response the package is verified
 * (R-CRY-MLS-4 with the expected DID) and the Welcome and Commit are sent. */
int hm_client_mls_add(hm_client *c, const char *community_id, const char *channel_id,
                      const char *member_did);
/* Remove member_did from the group (a removal commit, R-CRY-MLS-14). HM_ERR_NOT_FOUND when
 * there is no such group or member. */
int hm_client_mls_remove(hm_client *c, const char *community_id, const char *channel_id,
                         const char *member_did);
/* Update commit: move the channel's group to the next epoch with a fresh commit secret and
 * no change of membership (key rotation by any member, not only the creator). The commit is
 * upstream's update format (R-CRY-MLS-14): proposal {"type":"update","leafNode":{our
 * encryptionKey, signatureKey, did}} signed over {"groupId","epoch","proposals":[{"type":
 * "update"}]}. The leaf keys stay the ones bound to our did:key (a leaf key that is not
 * bound would fail R-CRY-MLS-4 everywhere), so the update rotates the epoch secret only.
 * Upstream's client applies it (it replaces the member's keys by the same values and
 * advances). Like every simplified-MLS commit its commitSecret travels in clear (W2): the
 * rotation protects against nobody who can read the relayed commit. Returns HM_OK,
 * HM_ERR_NOT_FOUND (no group), HM_ERR_NOMEM or a crypto error. */
int hm_client_mls_update(hm_client *c, const char *community_id, const char *channel_id);
/* Group info: epoch and member count (HM_ERR_NOT_FOUND when no group). */
int hm_client_mls_info(const hm_client *c, const char *community_id, const char *channel_id,
                       uint64_t *epoch, size_t *members);
/* The media key of the channel's current epoch (R-CRY-MLS-6, purpose "media"), for voice and
 * video frame encryption. key receives 32 bytes (wipe it after use). HM_ERR_NOT_FOUND when
 * there is no group. */
int hm_client_mls_media_key(const hm_client *c, const char *community_id, const char *channel_id,
                            uint8_t key[32], uint64_t *epoch);
/* Export every group as a JSON text (hm_malloc'd; contains secrets: free with
 * hm_free_secret(text, len + 1)); import replaces the groups. */
int hm_client_mls_export(const hm_client *c, char **text, size_t *len);
int hm_client_mls_import(hm_client *c, const char *text, size_t len);
/* Messages waiting for a Welcome. */
size_t hm_client_mls_pending(const hm_client *c);

#ifdef __cplusplus
}
#endif
#endif
