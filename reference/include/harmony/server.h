/* harmony/server.h - the sans-I/O Harmony server core (issue #4).
 *
 * The core turns WebSocket messages into WebSocket messages. It never opens a socket or a
 * file and never reads the clock: time, randomness, output and storage come in through
 * hm_server_env. The daemon (reference/server) is a thin libwebsockets shell around it;
 * unit tests drive it directly.
 *
 * Threading: one hm_server is used from one thread. Every callback is called synchronously
 * from inside the hm_server_* call that caused it.
 *
 * Frame order (R-TRN-13): the core processes one frame completely before returning, so
 * every reply it passes to env.send for frame n precedes those of frame n+1.
 */
#ifndef HARMONY_SERVER_H
#define HARMONY_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "harmony/error.h"
#include "harmony/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hm_server hm_server;
typedef struct hm_server_conn hm_server_conn;

enum { HM_LOG_ERROR = 0, HM_LOG_WARN = 1, HM_LOG_INFO = 2, HM_LOG_DEBUG = 3 };

typedef struct {
  void *ctx; /* passed to every callback */
  /* Wall-clock time in ms since the Unix epoch. */
  int64_t (*now_ms)(void *ctx);
  /* Fill buf with len cryptographically secure random bytes. */
  void (*random)(void *ctx, uint8_t *buf, size_t len);
  /* Queue one text message for the connection whose shell handle is `handle`. The bytes
   * are only borrowed: the shell copies them. Returns 0, or non-zero if the connection's
   * queue is full (the core then closes it with 1008 "Send buffer overflow"). */
  int (*send)(void *ctx, void *handle, const char *bytes, size_t len);
  /* Close the connection with a WebSocket close code and reason, after everything queued
   * before has been sent. The core sends nothing more on it; the shell still calls
   * hm_server_conn_closed when the socket is gone. */
  void (*close)(void *ctx, void *handle, int code, const char *reason);
  /* Optional (may be NULL = no keepalive pings): send a WebSocket ping on the connection
   * (R-TRN-11). The shell reports the pong (any frame, really) with hm_server_conn_activity. */
  void (*ping)(void *ctx, void *handle);
  /* Optional (NULL = no SFU calls possible): start an asynchronous HTTP call to the SFU
   * (spec/sfu.md): method "POST"/"PUT", path relative to <api base>/v1/apps/<app id>
   * (the shell adds the base, the app id and the Authorization header), body JSON or NULL.
   * Returns 0 when started; the shell later calls hm_server_sfu_done(req_id, ...) exactly
   * once, also on failure or timeout. */
  int (*sfu_request)(void *ctx, uint64_t req_id, const char *method, const char *path, const char *body);
  /* Optional (may be NULL): one log line without newline. */
  void (*log)(void *ctx, int level, const char *line);
  /* The store; owned by the caller, must outlive the server. */
  hm_store *store;
} hm_server_env;

typedef struct {
  uint32_t auth_timeout_ms;    /* R-AUTH-25; 0 = 30000 */
  uint32_t vp_freshness_s;     /* R-AUTH-9; 0 = 300 */
  uint32_t rate_max_frames;    /* R-RATE-1: at most this many frames per DID per window; 0 = off */
  uint32_t rate_window_ms;
  uint32_t max_connections;    /* R-LIM-4 total; 0 = 1024 */
  uint32_t max_conns_per_did;  /* R-LIM-4 per DID; 0 = 16 */
  uint32_t max_frames_before_auth; /* R-LIM-5; 0 = 16 */
  const char *const *trusted_issuers; /* R-AUTH-13; borrowed for the server's life */
  size_t n_trusted_issuers;
  const char *const *revoked_credentials; /* R-AUTH-12; borrowed */
  size_t n_revoked_credentials;
  int log_level;               /* HM_LOG_*; messages above it are not formatted */
  uint32_t keepalive_ms;       /* R-TRN-11: ping interval; 0 = keepalive off */
  int sfu_configured;          /* SFU app id and secret are set ("cf" mode); 0 = signalling only */
} hm_server_config;

/* A new server. Loads the session-token key from the store (secret "token-key") or
 * creates and stores it on first start (R-TOK-6). cfg and env are copied (the pointers
 * inside them are borrowed). Returns HM_OK and *out, or HM_ERR_INVAL, HM_ERR_NOMEM,
 * HM_ERR_IO (store). */
int hm_server_new(hm_server **out, const hm_server_config *cfg, const hm_server_env *env);

/* Free the server. Connections still open are freed without callbacks; call
 * hm_server_shutdown first for an orderly stop. NULL is a no-op. */
void hm_server_free(hm_server *srv);

/* A WebSocket connection opened. handle is the shell's identifier, echoed in env.send /
 * env.close. Returns the core's connection (owned by the server; valid until
 * hm_server_conn_closed), or NULL on allocation failure (the shell then drops the socket).
 * Over the connection limit the connection is accepted and closed with 1013 at once. */
hm_server_conn *hm_server_conn_open(hm_server *srv, void *handle);

/* One complete WebSocket message (after reassembly) arrived. is_binary: it came as a
 * binary message (read as UTF-8 text, R-TRN-5). A text message that is not UTF-8 closes
 * the connection with 1007 (R-TRN-7). The size limit (R-LIM-1, close 1009) is enforced by
 * the shell while it reassembles; messages longer than HM_SERVER_MAX_FRAME are refused here
 * too. */
void hm_server_conn_frame(hm_server *srv, hm_server_conn *conn, const uint8_t *bytes, size_t len, int is_binary);

/* A control frame (ping, pong) or any other sign of life arrived on the connection: it
 * counts for the keepalive of R-TRN-11 (R-TRN-12). Data frames count by themselves. */
void hm_server_conn_activity(hm_server *srv, hm_server_conn *conn);

/* The socket is gone. The core frees conn and broadcasts what a disconnect causes. */
void hm_server_conn_closed(hm_server *srv, hm_server_conn *conn);

/* Advance timers to now_ms: auth timeouts (R-AUTH-25), keepalive pings and the keepalive
 * close 4005 (R-TRN-11), rate windows. Call at least every 50 ms. Cost: only connections
 * whose deadline has come are visited (a min-heap of deadlines), plus the rate windows. */
void hm_server_tick(hm_server *srv, int64_t now_ms);

/* The earliest connection deadline (ms, the clock of env.now_ms) at which hm_server_tick
 * has work to do, or INT64_MAX when no connection has one. A deadline may be early (a
 * connection that was active meanwhile is only re-filed): ticking then is harmless. An
 * event loop may sleep until min(this, now + 50 ms). */
int64_t hm_server_next_deadline(const hm_server *srv);

/* Close every connection with 1001 "Server shutting down" (R-CLOSE-5). */
void hm_server_shutdown(hm_server *srv);

/* An SFU call finished: status is the HTTP status, 0 for a network error, -1 for a
 * timeout; body[0..len) the answer (may be NULL). Unknown ids are ignored. */
void hm_server_sfu_done(hm_server *srv, uint64_t req_id, int status, const char *body, size_t len);

/* HTTP GET /media/<mediaId>/<filename> (R-HTTP-20): filename already percent-decoded.
 * On HM_OK *mime and *bytes are hm_malloc'd (caller frees) and *len set; HM_ERR_NOT_FOUND
 * when the object does not exist or the filename does not match the stored one. */
int hm_server_media_get(hm_server *srv, const char *media_id, const char *filename, char **mime, uint8_t **bytes,
                        size_t *len);

/* One HTTP request of the API surface (spec/http.md, /api/...). The shell serves /health,
 * /media, /metrics and OPTIONS itself and hands everything else here. */
typedef struct {
  const char *method;        /* "GET", "POST", "DELETE", ... */
  const char *target;        /* path (and query) as the shell has it */
  const char *raw_target;    /* the request-target exactly as received, or NULL if unknown */
  const char *authorization; /* header value or NULL */
  const uint8_t *body;
  size_t body_len;
} hm_http_request;

typedef struct {
  int status;
  char *body;          /* hm_malloc'd JSON text (caller frees) */
  size_t body_len;
  const char *allow;   /* for 405: the Allow header value, else NULL */
} hm_http_response;

/* Route and answer an API request. Always fills resp (status 500 on internal failure). */
void hm_server_http(hm_server *srv, const hm_http_request *req, hm_http_response *resp);

/* Prometheus text (format 0.0.4) of the core's counters (R-HTTP-21), without the uptime
 * line (the shell adds it). *text hm_malloc'd. Returns HM_OK or HM_ERR_NOMEM. */
int hm_server_metrics(hm_server *srv, char **text);

/* Number of open connections (for logs and tests). */
size_t hm_server_conn_count(const hm_server *srv);

/* The connection's DID, or NULL before authentication. Borrowed. */
const char *hm_server_conn_did(const hm_server_conn *conn);

#define HM_SERVER_MAX_FRAME 1048576u /* R-LIM-1 */

/* For the registry test: the c2s types the core has a handler for, NULL-terminated. */
const char *const *hm_server_handled_types(void);

#ifdef __cplusplus
}
#endif
#endif
