/* harmonyd - the Harmony reference server: a single-threaded epoll shell around the sans-I/O
 * core (harmony/server.h) and the SQLite store (harmony/store.h).
 *
 * The shell owns the sockets, the clock, the signals and the data directory; every protocol
 * decision is the core's. Frames are decoded by harmony/ws_frame.h, request heads and the
 * WebSocket handshake by harmony/http1.h, options by harmony/server_config.h.
 *
 * One loop iteration (see README.md, "The I/O loop"):
 *
 *   n = epoll_wait(...)               level-triggered; the timeout is the next timer
 *   store batch begin                 every store write of the iteration joins one transaction
 *   report connections lost while flushing the previous iteration to the core
 *   handle the ready events           accept; read -> decode -> hm_server_conn_frame; SFU (curl)
 *   run due timers                    hm_server_tick every 25 ms, curl timeouts, shell deadlines
 *   store batch end                   ONE commit (one fsync)
 *   flush                             one write() per connection with pending output
 *                                     (half of them on a writer thread when there are many)
 *
 * Nothing produced during an iteration reaches a socket before that iteration's commit has
 * returned OK (R-PERS-1, R-DLV-6: acknowledged or broadcast implies durable). If the commit
 * fails, harmonyd logs it and exits with status 1 without writing: nothing unsaved was
 * acknowledged. Output is appended to one buffer per connection (no allocation per frame)
 * and written with one write(); EPOLLOUT is only armed after a partial write. A connection's
 * pending output is bounded at 8 MiB (R-DLV-7): beyond it the core closes it with 1008.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harmony/alloc.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/http1.h"
#include "harmony/json.h"
#include "harmony/server.h"
#include "harmony/server_config.h"
#include "harmony/store.h"
#include "harmony/vc.h"
#include "harmony/ws_frame.h"

#define HARMONYD_VERSION "0.1.0"
#define MAX_QUEUE_BYTES (8u * 1024 * 1024) /* R-DLV-7 */
#define TICK_MS 50 /* hm_server_tick at least this often (rate windows), and at each core deadline */
#define SWEEP_MS 250
#define HEAD_MAX 16384                       /* request head limit, both ports */
#define HEAD_TIMEOUT_MS 10000                /* R-HTTP-5: headers within 10 s (also the WS handshake) */
#define LINGER_MS 1000                       /* after our close: wait this long for the peer's FIN */
#define CLOSE_TIMEOUT_MS 5000                /* a WebSocket close frame must be written within this */
#define STALL_MS 30000                       /* HTTP output or body without progress for this long: close */
#define HTTP_MAX_BODY (5u * 1024 * 1024)     /* R-HTTP-5 */
#define HTTP_OUT_HIGH (1u << 20)             /* HTTP: stop reading requests while this much output waits */
#define READ_CHUNK 65536
#define READS_PER_EVENT 4                    /* fairness: at most this many reads per socket per iteration */
#define SHUTDOWN_MS 600

/* ---- logging ------------------------------------------------------------------------ */

static int g_log_level = HM_LOG_INFO;

static void logf_(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(int level, const char *fmt, ...) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  if (level > g_log_level) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[32], line[2048];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  int k = snprintf(line, sizeof line, "%s.%03ldZ harmonyd %s: ", when, ts.tv_nsec / 1000000, names[level]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + k, sizeof line - (size_t)k - 1, fmt, ap);
  va_end(ap);
  size_t n = (size_t)k + (m < 0 ? 0 : (size_t)m);
  if (n > sizeof line - 2) n = sizeof line - 2; /* a longer line is cut */
  line[n++] = '\n';
  /* one write per line: whole lines from every thread, one system call each */
  for (size_t off = 0; off < n;) {
    ssize_t w = write(STDERR_FILENO, line + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: harmonyd [options]\n"
          "\n"
          "The Harmony reference server. Prints one line `harmonyd ready ws://HOST:PORT http://HOST:HTTPPORT`\n"
          "on stdout once it listens; logs go to stderr. SIGTERM/SIGINT close every connection with 1001\n"
          "and exit 0.\n"
          "\n"
          "  --host ADDR               listen address for both ports (default 127.0.0.1)\n"
          "  --port N                  WebSocket port (default 4000; 0 = chosen by the OS)\n"
          "  --http-port N             HTTP port (default --port + 1; OS-chosen when --port is 0)\n"
          "  --data-dir PATH           state directory, created if missing (default ./harmony-data)\n"
          "  --config FILE             JSON configuration file (see below); flags win over it\n"
          "  --log-level L             error, warn, info or debug (default info)\n"
          "  --auth-timeout-ms N       authentication timer, >= 100 (default 30000)\n"
          "  --rate-limit N/WINDOW_MS  per-DID frame budget (default 200/10000; 0 = off)\n"
          "  --vp-freshness-s N        VP freshness window, >= 1 (default 300)\n"
          "  --keepalive-ms N          keepalive ping interval (default 30000; 0 = off)\n"
          "  --max-connections N       total connection limit (default 1024)\n"
          "  --trusted-issuer DID      a VC issuer trusted besides the holder (repeatable)\n"
          "  --revoked-credential ID   a VC id refused as revoked (repeatable)\n"
          "  --sfu-api-base URL        Cloudflare Realtime API base (default https://rtc.live.cloudflare.com)\n"
          "  --sfu-app-id ID           SFU (Cloudflare Realtime) app id\n"
          "  --sfu-app-secret S        SFU app secret (or env HARMONY_SFU_APP_SECRET)\n"
          "  --sfu-timeout-ms N        SFU request timeout (default 10000)\n"
          "  --version                 print the version and exit\n"
          "  --help                    print this help and exit\n"
          "\n"
          "Configuration file: one JSON object whose keys are the long flag names without the leading\n"
          "dashes, e.g. {\"host\": \"0.0.0.0\", \"port\": 4000, \"data-dir\": \"/var/lib/harmony\",\n"
          "\"rate-limit\": \"200/10000\", \"trusted-issuer\": [\"did:key:z6Mk...\"]}. Numbers may be\n"
          "given as JSON numbers or strings; repeatable flags take an array. Unknown keys are an error.\n");
}

/* ---- clocks ------------------------------------------------------------------------- */

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connections -------------------------------------------------------------------- */

enum { K_LISTEN_WS = 1, K_LISTEN_HTTP, K_SIGNAL, K_CURL, K_CONN, K_VERIFY, K_SYNC };

typedef struct {
  int kind;
  int fd;
} io_tag;

enum {
  ST_HANDSHAKE, /* WebSocket port, before the upgrade */
  ST_WS,        /* WebSocket frames */
  ST_HTTP,      /* HTTP port: requests */
  ST_LINGER,    /* our side is done (FIN sent); reading and discarding until the peer's FIN */
};

typedef struct conn conn;
struct conn {
  io_tag tag; /* first: epoll's data.ptr points here */
  int state;
  conn *prev, *next; /* every connection */
  conn *dirty_next;  /* output to flush at the end of the iteration */
  conn *reap_next;   /* to report to the core / to free */
  unsigned dirty : 1, on_reap : 1, dead : 1, epollout : 1, closing : 1, in_paused : 1, on_resume : 1;
  conn *resume_next; /* HTTP input left to process once the output drained */
  int wr_err; /* errno of the last write, 0 = none */
  int vp_slot1; /* 1 + index of the login job holding this connection's input; 0 = none */
  uint8_t *in;
  size_t in_len, in_cap;
  uint8_t *out;
  size_t out_off, out_len, out_cap;
  /* Output gated on durability (pipelined group commit, see "sync thread"): bytes before
   * rel_len may be written; bytes up to pend_len wait for the sync of batch pend_need.
   * out_off <= rel_len <= pend_len <= out_len. Without the sync thread rel = pend = out_len. */
  size_t rel_len, pend_len;
  uint64_t pend_need;
  conn *wait_prev, *wait_next; /* on g_wait: output held until a sync completes */
  int on_wait;
  int64_t deadline; /* monotonic ms; for ST_HANDSHAKE, ST_HTTP (idle), ST_LINGER */
  hm_server_conn *core;
  hm_ws_decoder dec;
};

static int g_ep = -1;
static hm_server *g_srv;
static hm_store *g_store;
static const hm_server_options *g_opts;
static conn *g_conns;      /* list of all connections */
static size_t g_nconns;
static conn *g_dirty;      /* connections with output to flush */
static conn *g_reap;       /* dead or lingering connections whose core connection is still open */
static conn *g_free;       /* dead connections to free after the flush */
static conn *g_resume;     /* HTTP connections whose reading resumed with requests still buffered */
static int g_stop;
static int64_t g_start_ms;
static io_tag g_lws = {K_LISTEN_WS, -1}, g_lhttp = {K_LISTEN_HTTP, -1}, g_sig = {K_SIGNAL, -1};
static int g_spare_fd = -1; /* kept open to accept-and-close when out of descriptors */

static void set_events(conn *c, int out, int paused);

static void mark_dirty(conn *c) {
  if (c->dirty || c->dead) return;
  c->dirty = 1;
  c->dirty_next = g_dirty;
  g_dirty = c;
}

static void push_reap(conn *c) {
  if (c->on_reap) return;
  c->on_reap = 1;
  c->reap_next = g_reap;
  g_reap = c;
}

/* The socket is gone (or must go): close it now; the core hears of it at the start of the next
 * iteration (inside a store batch) or right away when we are inside one; the memory is freed
 * after the flush. */
static void conn_kill(conn *c) {
  if (c->dead) return;
  c->dead = 1;
  if (c->tag.fd >= 0) {
    close(c->tag.fd); /* also removes it from the epoll set */
    c->tag.fd = -1;
  }
  push_reap(c);
}

static int out_reserve(conn *c, size_t add) {
  size_t used = c->out_len - c->out_off;
  if (c->out_off && c->out_len + add > c->out_cap) { /* compact first */
    memmove(c->out, c->out + c->out_off, used);
    c->rel_len -= c->out_off;
    c->pend_len -= c->out_off;
    c->out_off = 0;
    c->out_len = used;
  }
  if (c->out_len + add <= c->out_cap) return 0;
  size_t cap = c->out_cap ? c->out_cap : 4096;
  while (cap < c->out_len + add) cap *= 2;
  uint8_t *nb = hm_realloc(c->out, cap);
  if (!nb) return -1;
  c->out = nb;
  c->out_cap = cap;
  return 0;
}

/* Append one frame (header + payload) to the connection's output. */
static int out_frame(conn *c, int opcode, const void *payload, size_t len) {
  if (out_reserve(c, 10 + len)) return -1;
  c->out_len += hm_ws_encode_header(c->out + c->out_len, opcode, len);
  if (len) memcpy(c->out + c->out_len, payload, len);
  c->out_len += len;
  mark_dirty(c);
  return 0;
}

static int out_bytes(conn *c, const void *p, size_t len) {
  if (out_reserve(c, len)) return -1;
  memcpy(c->out + c->out_len, p, len);
  c->out_len += len;
  mark_dirty(c);
  return 0;
}

/* ---- the core's environment ---------------------------------------------------------- */

static int64_t env_now(void *ctx) {
  (void)ctx;
  return wall_ms();
}

static void env_random(void *ctx, uint8_t *buf, size_t len) {
  (void)ctx;
  hm_random_bytes(buf, len);
}

static int env_send(void *ctx, void *handle, const char *bytes, size_t len) {
  (void)ctx;
  conn *c = handle;
  if (c->dead || c->closing) return 0;
  if (c->out_len - c->out_off + len > MAX_QUEUE_BYTES) return 1;
  return out_frame(c, HM_WS_OP_TEXT, bytes, len) ? 1 : 0;
}

/* Queue a close frame after everything queued so far; nothing is sent after it. */
static void env_close(void *ctx, void *handle, int code, const char *reason) {
  (void)ctx;
  conn *c = handle;
  if (c->dead || c->closing) return;
  c->closing = 1;
  c->deadline = mono_ms() + CLOSE_TIMEOUT_MS; /* a peer that reads nothing cannot hold it open */
  uint8_t f[130];
  size_t n = hm_ws_encode_close(f, code, reason);
  if (out_bytes(c, f, n)) conn_kill(c);
}

static void env_ping(void *ctx, void *handle) {
  (void)ctx;
  conn *c = handle;
  if (c->dead || c->closing) return;
  if (out_frame(c, HM_WS_OP_PING, "hm-ka", 5)) conn_kill(c);
}

static void env_log(void *ctx, int level, const char *line) {
  (void)ctx;
  logf_(level, "%s", line);
}

/* ---- store batches (one commit per iteration) ---------------------------------------- */

static void batch_begin(void) {
  int rc = hm_store_batch_begin(g_store);
  if (rc != HM_OK) {
    logf_(HM_LOG_ERROR, "cannot begin a store batch: %s; exiting", hm_strerror(rc));
    exit(1);
  }
}

/* Commit the iteration's writes. On failure nothing of the iteration may reach a client:
 * exit at once without flushing (the unsaved changes were never acknowledged). */
static void sync_request(void);
static int g_sync_on;
static int g_sync_delay_ms; /* HARMONYD_SYNC_DELAY_MS (tests, benchmarks): a slower disk */

static void batch_end(void) {
  int rc = hm_store_batch_end(g_store);
  if (rc != HM_OK) {
    logf_(HM_LOG_ERROR, "COMMIT of the store batch failed: %s; exiting without sending the iteration's frames",
          hm_strerror(rc));
    _exit(1);
  }
  /* without the sync thread the COMMIT itself synced: a simulated slow disk waits here */
  if (!g_sync_on && g_sync_delay_ms > 0 && hm_store_sqlite_batch_wrote(g_store))
    usleep((useconds_t)g_sync_delay_ms * 1000);
  sync_request();
}

/* ---- HTTP responses ----------------------------------------------------------------- */

typedef struct {
  const char *ctype; /* NULL = application/json */
  const char *allow;
  const char **extra; /* name, value pairs, NULL-terminated */
  int is_options, head_only, close_after;
} http_resp_opts;

static void http_respond(conn *c, int status, const void *body, size_t n, const http_resp_opts *o) {
  char h[2048];
  int k = snprintf(h, sizeof h, "HTTP/1.1 %d %s\r\n", status, hm_http1_reason(status));
  if (status != 204)
    k += snprintf(h + k, sizeof h - (size_t)k, "content-type: %s\r\ncontent-length: %zu\r\n",
                  o->ctype ? o->ctype : "application/json", n);
  k += snprintf(h + k, sizeof h - (size_t)k, "access-control-allow-origin: *\r\n");
  if (o->is_options)
    k += snprintf(h + k, sizeof h - (size_t)k,
                  "access-control-allow-methods: GET, POST, DELETE, OPTIONS\r\n"
                  "access-control-allow-headers: Content-Type, Authorization\r\n"
                  "access-control-max-age: 600\r\n");
  else
    k += snprintf(h + k, sizeof h - (size_t)k,
                  "x-content-type-options: nosniff\r\nx-frame-options: DENY\r\nx-xss-protection: 1; mode=block\r\n");
  if (o->allow) k += snprintf(h + k, sizeof h - (size_t)k, "allow: %s\r\n", o->allow);
  for (size_t i = 0; o->extra && o->extra[i]; i += 2)
    k += snprintf(h + k, sizeof h - (size_t)k, "%s: %s\r\n", o->extra[i], o->extra[i + 1]);
  if (o->close_after) k += snprintf(h + k, sizeof h - (size_t)k, "connection: close\r\n");
  k += snprintf(h + k, sizeof h - (size_t)k, "\r\n");
  if (k >= (int)sizeof h || out_reserve(c, (size_t)k + n)) {
    conn_kill(c);
    return;
  }
  memcpy(c->out + c->out_len, h, (size_t)k);
  c->out_len += (size_t)k;
  if (n && status != 204 && !o->head_only) {
    memcpy(c->out + c->out_len, body, n);
    c->out_len += n;
  }
  mark_dirty(c);
  if (o->close_after) c->closing = 1;
}

static void http_error(conn *c, int status, const char *text, const char *allow, int close_after) {
  char b[256];
  snprintf(b, sizeof b, "{\"error\":\"%s\"}", text);
  http_resp_opts o = {0};
  o.allow = allow;
  o.close_after = close_after;
  http_respond(c, status, b, strlen(b), &o);
}

/* R-HTTP-20: /media/<mediaId>/<filename> (filename percent-decoded). 200 or 404. */
static int media_route(const char *path, char **mime, uint8_t **bytes, size_t *len) {
  const char *id = path + 7, *slash = strchr(id, '/');
  if (!slash || slash == id || strchr(slash + 1, '/')) return 404;
  char mid[256];
  size_t n = (size_t)(slash - id);
  if (n >= sizeof mid) return 404;
  memcpy(mid, id, n);
  mid[n] = 0;
  return hm_server_media_get(g_srv, mid, slash + 1, mime, bytes, len) == HM_OK ? 200 : 404;
}

/* One complete request (head and body) on the HTTP port. */
static void http_dispatch(conn *c, const hm_http1_request *q, const uint8_t *body, size_t blen) {
  const char *m = q->method;
  http_resp_opts o = {0};
  o.close_after = !q->keep_alive || g_stop;
  o.head_only = !strcmp(m, "HEAD");
  /* the path, percent-decoded; the query (after '?') as received */
  const char *raw = q->target;
  size_t rl = q->target_len;
  if (rl >= 7 && !strncmp(raw, "http://", 7)) { /* absolute-form: keep the path */
    const char *p = memchr(raw + 7, '/', rl - 7);
    if (!p) p = raw + rl;
    rl -= (size_t)(p - raw);
    raw = p;
  }
  const char *qm = memchr(raw, '?', rl);
  size_t pl = qm ? (size_t)(qm - raw) : rl;
  char t[4200];
  if (!strcmp(m, "OPTIONS")) { /* R-HTTP-3: any target */
    o.is_options = 1;
    http_respond(c, 204, NULL, 0, &o);
    return;
  }
  if (pl == 0 || raw[0] != '/' || hm_http1_percent_decode(t, 4096, raw, pl) != HM_OK) {
    http_error(c, 400, "Bad request", NULL, o.close_after);
    return;
  }
  if (qm) {
    size_t tl = strlen(t), ql = rl - pl;
    if (tl + ql + 1 > sizeof t) {
      http_error(c, 414, "URI too long", NULL, o.close_after);
      return;
    }
    memcpy(t + tl, qm, ql);
    t[tl + ql] = 0;
  }
  if (!strcmp(t, "/health")) {
    if (strcmp(m, "GET")) return http_error(c, 405, "Method not allowed", "GET, OPTIONS", o.close_after);
    char b[128];
    snprintf(b, sizeof b, "{\"status\":\"healthy\",\"uptime\":%" PRId64 "}", (wall_ms() - g_start_ms) / 1000);
    http_respond(c, 200, b, strlen(b), &o);
    return;
  }
  if (!strcmp(t, "/metrics")) {
    if (strcmp(m, "GET")) return http_error(c, 405, "Method not allowed", "GET, OPTIONS", o.close_after);
    char *core = NULL;
    if (hm_server_metrics(g_srv, &core) != HM_OK) return http_error(c, 500, "Internal error", NULL, o.close_after);
    size_t n = strlen(core) + 128;
    char *b = hm_malloc(n);
    if (!b) {
      hm_free(core);
      return http_error(c, 500, "Internal error", NULL, o.close_after);
    }
    snprintf(b, n, "# TYPE harmony_uptime_seconds gauge\nharmony_uptime_seconds %" PRId64 "\n%s",
             (wall_ms() - g_start_ms) / 1000, core);
    hm_free(core);
    o.ctype = "text/plain; version=0.0.4";
    http_respond(c, 200, b, strlen(b), &o);
    hm_free(b);
    return;
  }
  if (!strncmp(t, "/media/", 7)) {
    if (strcmp(m, "GET")) return http_error(c, 405, "Method not allowed", "GET, OPTIONS", o.close_after);
    char *mime = NULL;
    uint8_t *bytes = NULL;
    size_t n = 0;
    char path[4200];
    snprintf(path, sizeof path, "%.*s", (int)strcspn(t, "?"), t);
    if (media_route(path, &mime, &bytes, &n) != 200) return http_error(c, 404, "Not found", NULL, o.close_after);
    int svg = !strcmp(mime, "image/svg+xml");
    const char *extra[] = {"content-security-policy", "sandbox", "cache-control", "private, max-age=3600",
                           svg ? "content-disposition" : NULL, "attachment", NULL};
    o.ctype = svg ? "application/octet-stream" : mime;
    o.extra = extra;
    http_respond(c, 200, bytes, n, &o);
    hm_free(mime);
    hm_free(bytes);
    return;
  }
  char *auth = NULL;
  size_t al;
  const char *av = hm_http1_header_get(q, "authorization", &al);
  if (av && al < 8192) auth = hm_strndup(av, al);
  hm_http_request hq = {m, t, NULL, auth, body, blen};
  hm_http_response r;
  hm_server_http(g_srv, &hq, &r);
  o.allow = r.allow;
  http_respond(c, r.status, r.body ? r.body : "", r.body_len, &o);
  hm_free(r.body);
  hm_free(auth);
}

/* ---- login signatures on a second core ----------------------------------------------
 * A VP login costs two Ed25519 verifications (the presentation's proof and the credential's),
 * about half of the main thread's work per login. When a text frame containing "sync.state"
 * arrives on a connection the core has not authenticated yet, the shell holds it: later
 * bytes of that connection are read into its input buffer but not decoded (in order; reading
 * pauses only if the buffer fills) and it gives a copy
 * of the frame to the verifier thread, which parses it and runs the same hm_vp_verify as the
 * core (hardened profile, same freshness and trusted issuers; no replay or revocation
 * callbacks, those are the core's state) as an Ed25519 memo producer. Its verdict is thrown
 * away: its only effect is that the successful verifications are in the memo (crypto.h).
 * When the job is done (eventfd), the main thread, inside the iteration's store batch, hands
 * the held frame to hm_server_conn_frame, whose unchanged login finds the two signatures in
 * the memo, then resumes decoding the connection's input. The core decides exactly as before;
 * only successful verifications of identical bytes are ever skipped. At most VP_JOBS logins
 * are in flight; beyond that a login is verified inline. HARMONYD_VERIFY_THREAD=0 turns the
 * thread (and the memo) off. The worker touches only its copy of the frame and pure library
 * functions (json, did, vc, crypto; the allocator hooks are set only by unit tests). */
#define VP_JOBS 256
typedef struct {
  uint8_t *text; /* the held frame (owned; the worker only reads it while the job is queued) */
  size_t len;
  conn *c;       /* main thread only; NULL once the connection was freed */
} vp_job;
static vp_job g_vj[VP_JOBS];
static int g_vfree[VP_JOBS];            /* free slots (main thread only) */
static size_t g_vfree_n;
static int g_vq[VP_JOBS], g_vd[VP_JOBS]; /* queued for the worker / done: guarded by g_vm */
static size_t g_vq_head, g_vq_n, g_vd_n;
static int g_v_on, g_v_quit;
static pthread_t g_vthr[4];
static int g_vthr_n;
static pthread_mutex_t g_vm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_vc = PTHREAD_COND_INITIALIZER;
static io_tag g_vtag = {K_VERIFY, -1}; /* the eventfd */
static const hm_server_config *g_vcfg;

static void ws_input(conn *c);

static void vp_verify_copy(const uint8_t *text, size_t len) {
  hm_json *env = NULL;
  hm_json_parse_info info = {0};
  info.max_depth = 64;
  if (hm_json_parse(&env, (const char *)text, len, 0, &info) != HM_OK) return;
  hm_json *vp = hm_json_object_getc(env, "payload");
  if (hm_json_string_is(hm_json_object_getc(env, "type"), "sync.state") && hm_json_kind_of(vp) == HM_JSON_OBJECT) {
    hm_verify_opts o = {0};
    o.profile = HM_PROFILE_HARDENED;
    o.now_ms = wall_ms();
    o.freshness_s = g_vcfg->vp_freshness_s;
    o.trusted_issuers = g_vcfg->trusted_issuers;
    o.n_trusted_issuers = g_vcfg->n_trusted_issuers;
    hm_verify_result res = {0, "ok", -1};
    int rc = hm_vp_verify(vp, &o, &res);
    (void)rc; /* the verdict is the core's; this run only fills the memo */
  }
  hm_json_free(env);
}

static void *verifier_main(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "hm-verify"); /* shows in top -H, perf --comm */
  hm_ed25519_memo_producer(1);
  pthread_mutex_lock(&g_vm);
  for (;;) {
    while (!g_vq_n && !g_v_quit) pthread_cond_wait(&g_vc, &g_vm);
    if (g_v_quit) break;
    int i = g_vq[g_vq_head];
    g_vq_head = (g_vq_head + 1) % VP_JOBS;
    g_vq_n--;
    const uint8_t *text = g_vj[i].text;
    size_t len = g_vj[i].len;
    pthread_mutex_unlock(&g_vm);
    vp_verify_copy(text, len);
    pthread_mutex_lock(&g_vm);
    if (g_vd_n++ == 0) { /* the main thread drains the whole list on one wake-up */
      g_vd[0] = i;
      uint64_t one = 1;
      ssize_t w = write(g_vtag.fd, &one, sizeof one);
      (void)w;
    } else {
      g_vd[g_vd_n - 1] = i;
    }
  }
  pthread_mutex_unlock(&g_vm);
  return NULL;
}

static void verifier_start(const hm_server_config *cfg) {
  const char *e = getenv("HARMONYD_VERIFY_THREAD");
  if ((e && strcmp(e, "0") == 0) || sysconf(_SC_NPROCESSORS_ONLN) < 2) return;
  int want = e && atoi(e) >= 1 ? atoi(e) : 1;
  if (want > 4) want = 4;
  g_vcfg = cfg;
  for (int i = 0; i < VP_JOBS; i++) g_vfree[i] = VP_JOBS - 1 - i;
  g_vfree_n = VP_JOBS;
  g_vtag.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g_vtag};
  if (g_vtag.fd >= 0 && epoll_ctl(g_ep, EPOLL_CTL_ADD, g_vtag.fd, &ev) == 0 && hm_ed25519_memo_enable(4096) == HM_OK)
    while (g_vthr_n < want && pthread_create(&g_vthr[g_vthr_n], NULL, verifier_main, NULL) == 0) g_vthr_n++;
  if (g_vthr_n == 0) {
    logf_(HM_LOG_WARN, "no login verifier thread (%s); logins are verified inline", strerror(errno));
    if (g_vtag.fd >= 0) close(g_vtag.fd);
    g_vtag.fd = -1;
    if (hm_ed25519_memo_enable(0) != HM_OK) logf_(HM_LOG_WARN, "cannot disable the verification memo");
    return;
  }
  g_v_on = 1;
}

static void verifier_stop(void) {
  if (!g_v_on) return;
  pthread_mutex_lock(&g_vm);
  g_v_quit = 1;
  pthread_cond_broadcast(&g_vc);
  pthread_mutex_unlock(&g_vm);
  for (int i = 0; i < g_vthr_n; i++) pthread_join(g_vthr[i], NULL);
  g_vthr_n = 0;
  g_v_on = 0;
  uint64_t hits, stored;
  hm_ed25519_memo_stats(&hits, &stored);
  logf_(HM_LOG_INFO, "login verifier: %" PRIu64 " signatures verified ahead, %" PRIu64 " used by the core", stored,
        hits);
  for (int i = 0; i < VP_JOBS; i++) {
    hm_free(g_vj[i].text);
    g_vj[i].text = NULL;
  }
  close(g_vtag.fd);
  g_vtag.fd = -1;
  if (hm_ed25519_memo_enable(0) != HM_OK) logf_(HM_LOG_WARN, "cannot disable the verification memo");
}

/* Hold a login frame of an unauthenticated connection for the verifier. Returns 1 when held. */
static int vp_hold(conn *c, const uint8_t *data, size_t len) {
  if (!g_v_on || !g_vfree_n || hm_server_conn_did(c->core) || !memmem(data, len, "\"sync.state\"", 12)) return 0;
  uint8_t *copy = hm_malloc(len);
  if (!copy) return 0;
  memcpy(copy, data, len);
  int i = g_vfree[--g_vfree_n];
  g_vj[i].c = c;
  pthread_mutex_lock(&g_vm);
  g_vj[i].text = copy;
  g_vj[i].len = len;
  g_vq[(g_vq_head + g_vq_n) % VP_JOBS] = i;
  g_vq_n++;
  pthread_cond_signal(&g_vc);
  pthread_mutex_unlock(&g_vm);
  c->vp_slot1 = i + 1; /* input is still read into c->in but not decoded (conn_readable) */
  return 1;
}

/* A connection is freed: its job, if any, finishes without it. */
static void vp_forget(conn *c) {
  if (c->vp_slot1) g_vj[c->vp_slot1 - 1].c = NULL;
  c->vp_slot1 = 0;
}

/* The eventfd fired (inside the store batch): dispatch the held frames of finished jobs, then
 * the input queued behind them. */
static void vp_done(void) {
  uint64_t v;
  ssize_t r = read(g_vtag.fd, &v, sizeof v);
  (void)r;
  int done[VP_JOBS];
  pthread_mutex_lock(&g_vm);
  size_t n = g_vd_n;
  memcpy(done, g_vd, n * sizeof done[0]);
  g_vd_n = 0;
  pthread_mutex_unlock(&g_vm);
  for (size_t k = 0; k < n; k++) {
    vp_job *j = &g_vj[done[k]];
    conn *c = j->c;
    uint8_t *text = j->text;
    size_t len = j->len;
    j->c = NULL;
    j->text = NULL;
    g_vfree[g_vfree_n++] = done[k];
    if (c && !c->dead) {
      c->vp_slot1 = 0;
      if (!c->closing) hm_server_conn_frame(g_srv, c->core, text, len, 0);
      set_events(c, c->epollout, 0);
      if (!c->dead && !c->closing && c->state == ST_WS) ws_input(c);
    } else if (c) {
      c->vp_slot1 = 0;
    }
    hm_free(text);
  }
}

/* ---- input -------------------------------------------------------------------------- */

static void consume(conn *c, size_t n) {
  if (n >= c->in_len) {
    c->in_len = 0;
  } else if (n) {
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
  }
}

static void ws_input(conn *c) {
  size_t off = 0;
  while (!c->dead && !c->closing && !c->vp_slot1 && off < c->in_len) {
    size_t used;
    hm_ws_event ev;
    hm_ws_decode(&c->dec, c->in + off, c->in_len - off, &used, &ev);
    if (ev.kind == HM_WS_EV_FAIL) {
      env_close(NULL, c, ev.code, ev.reason);
      break;
    }
    if (!used) break;
    off += used;
    switch (ev.kind) {
      case HM_WS_EV_MESSAGE: /* a login is held (and later input left in c->in) or dispatched now */
        if (ev.is_binary || !vp_hold(c, ev.data, ev.len))
          hm_server_conn_frame(g_srv, c->core, ev.data, ev.len, ev.is_binary);
        break;
      case HM_WS_EV_PING: /* R-TRN-9, R-TRN-16: every ping gets its pong, in order */
        if (c->out_len - c->out_off + ev.len > MAX_QUEUE_BYTES) /* pings sent, pongs never read */
          env_close(NULL, c, 1008, "Send buffer overflow");
        else if (out_frame(c, HM_WS_OP_PONG, ev.data, ev.len))
          conn_kill(c);
        hm_server_conn_activity(g_srv, c->core);
        break;
      case HM_WS_EV_PONG:
      case HM_WS_EV_NONE:
        hm_server_conn_activity(g_srv, c->core);
        break;
      case HM_WS_EV_CLOSE: /* answer with the same code (none when the client gave none) */
        env_close(NULL, c, ev.code == 1005 ? 0 : ev.code, NULL);
        break;
      default:
        break;
    }
  }
  if (c->closing) off = c->in_len; /* nothing after a close is read */
  consume(c, off);
}

static void handshake_input(conn *c) {
  hm_http1_request q;
  int status;
  int rc = hm_http1_parse_head(&q, (const char *)c->in, c->in_len, HEAD_MAX, &status);
  if (rc != HM_OK) {
    http_error(c, status, hm_http1_reason(status), NULL, 1);
    return;
  }
  if (!q.head_len) return; /* more to come */
  hm_http1_ws ws;
  int up = hm_http1_ws_check(&q, &ws, &status);
  if (up == 0) { /* R-TRN-3 */
    http_resp_opts o = {0};
    o.ctype = "text/plain";
    o.close_after = 1;
    http_respond(c, 426, "Upgrade Required", 16, &o);
    return;
  }
  if (up < 0) {
    const char *extra[] = {"sec-websocket-version", "13", NULL};
    http_resp_opts o = {0};
    o.ctype = "text/plain";
    o.close_after = 1;
    o.extra = status == 426 ? extra : NULL;
    const char *text = hm_http1_reason(status);
    http_respond(c, status, text, strlen(text), &o);
    return;
  }
  char h[512];
  int k = snprintf(h, sizeof h,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n",
                   ws.accept);
  if (ws.protocol && ws.protocol_len < 200) /* R-TRN-1: the first protocol offered */
    k += snprintf(h + k, sizeof h - (size_t)k, "Sec-WebSocket-Protocol: %.*s\r\n", (int)ws.protocol_len, ws.protocol);
  k += snprintf(h + k, sizeof h - (size_t)k, "\r\n");
  consume(c, q.head_len);
  if (out_bytes(c, h, (size_t)k)) {
    conn_kill(c);
    return;
  }
  c->state = ST_WS;
  hm_ws_decoder_init(&c->dec, HM_SERVER_MAX_FRAME);
  c->core = hm_server_conn_open(g_srv, c);
  if (!c->core) {
    conn_kill(c);
    return;
  }
  if (g_stop) env_close(NULL, c, 1001, "Server shutting down");
  if (c->in_len) ws_input(c);
}

static void http_input(conn *c) {
  while (!c->dead && !c->closing && c->in_len) {
    if (c->out_len - c->out_off > HTTP_OUT_HIGH) { /* a client that sends but does not read */
      set_events(c, c->epollout, 1);
      return;
    }
    hm_http1_request q;
    int status;
    int rc = hm_http1_parse_head(&q, (const char *)c->in, c->in_len, HEAD_MAX, &status);
    if (rc != HM_OK) {
      http_error(c, status, hm_http1_reason(status), NULL, 1);
      return;
    }
    if (!q.head_len) return;
    if (q.content_length > HTTP_MAX_BODY) { /* R-HTTP-5: answer, then close */
      http_error(c, 413, "Request body too large", NULL, 1);
      return;
    }
    size_t need = q.head_len + (size_t)q.content_length;
    if (c->in_len < need) {
      c->deadline = mono_ms() + STALL_MS; /* the head is in: the body may take longer, while it progresses */
      if (c->in_cap < need) { /* make room for the whole body now */
        uint8_t *nb = hm_realloc(c->in, need);
        if (!nb) {
          http_error(c, 500, "Internal error", NULL, 1);
          return;
        }
        c->in = nb;
        c->in_cap = need;
      }
      return;
    }
    http_dispatch(c, &q, c->in + q.head_len, (size_t)q.content_length);
    consume(c, need);
    c->deadline = mono_ms() + HEAD_TIMEOUT_MS;
  }
}

static void conn_readable(conn *c) {
  for (int r = 0; r < READS_PER_EVENT && !c->dead; r++) {
    if (c->state == ST_LINGER || c->closing) { /* discard */
      uint8_t sink[16384];
      ssize_t n = read(c->tag.fd, sink, sizeof sink);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) conn_kill(c);
      if (n < (ssize_t)sizeof sink) return;
      continue;
    }
    size_t want = READ_CHUNK;
    if (c->in_cap - c->in_len < want) {
      size_t max = c->state == ST_WS ? HM_SERVER_MAX_FRAME + 14 + READ_CHUNK
                   : c->state == ST_HTTP ? HEAD_MAX + HTTP_MAX_BODY + READ_CHUNK
                                         : HEAD_MAX + READ_CHUNK;
      size_t cap = c->in_cap ? c->in_cap : 16384;
      while (cap - c->in_len < want && cap < max) cap *= 2;
      if (cap > max) cap = max;
      if (cap > c->in_cap) {
        uint8_t *nb = hm_realloc(c->in, cap);
        if (!nb) {
          conn_kill(c);
          return;
        }
        c->in = nb;
        c->in_cap = cap;
      }
      want = c->in_cap - c->in_len;
      if (want == 0 && c->vp_slot1) { /* a held login and a full buffer: stop reading until it is dispatched */
        set_events(c, c->epollout, 1);
        return;
      }
      if (want == 0) { /* cannot happen: every other state consumes before the buffer is full */
        conn_kill(c);
        return;
      }
    }
    ssize_t n = read(c->tag.fd, c->in + c->in_len, want);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      conn_kill(c);
      return;
    }
    if (n == 0) {
      conn_kill(c);
      return;
    }
    c->in_len += (size_t)n;
    if (c->state == ST_WS) {
      ws_input(c);
      if (c->vp_slot1) return; /* a login is held: what follows it stays in c->in, undecoded */
    }
    else if (c->state == ST_HANDSHAKE)
      handshake_input(c);
    else
      http_input(c);
    if ((size_t)n < want) return; /* drained for now (level-triggered: more will be reported) */
  }
}

static void listen_readable(io_tag *l) {
  for (int i = 0; i < 64; i++) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) { /* out of descriptors: accept and drop one */
        if (g_spare_fd >= 0) {
          close(g_spare_fd);
          int x = accept(l->fd, NULL, NULL);
          if (x >= 0) close(x);
          g_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        logf_(HM_LOG_WARN, "out of file descriptors: a connection was refused");
      }
      return;
    }
    /* the core refuses WebSocket connections beyond the limit with 1013 (R-LIM-4); the shell
     * bounds the sockets it holds at all (handshakes, HTTP) */
    if (g_nconns >= (size_t)g_opts->max_connections * 2 + 64) {
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn *c = hm_calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->tag.kind = K_CONN;
    c->tag.fd = fd;
    c->state = l->kind == K_LISTEN_WS ? ST_HANDSHAKE : ST_HTTP;
    c->deadline = mono_ms() + HEAD_TIMEOUT_MS;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev)) {
      close(fd);
      hm_free(c);
      continue;
    }
    c->next = g_conns;
    if (g_conns) g_conns->prev = c;
    g_conns = c;
    g_nconns++;
  }
}

/* ---- output ------------------------------------------------------------------------- */

static void set_events(conn *c, int out, int paused) {
  if (c->dead || ((int)c->epollout == out && (int)c->in_paused == paused)) return;
  struct epoll_event ev = {.events = (paused ? 0u : EPOLLIN) | (out ? EPOLLOUT : 0u), .data.ptr = c};
  if (epoll_ctl(g_ep, EPOLL_CTL_MOD, c->tag.fd, &ev) == 0) {
    c->epollout = (unsigned)out;
    c->in_paused = (unsigned)paused;
  }
}

static void set_epollout(conn *c, int on) { set_events(c, on, c->in_paused); }

static void start_linger(conn *c) {
  shutdown(c->tag.fd, SHUT_WR);
  c->state = ST_LINGER;
  c->deadline = mono_ms() + LINGER_MS;
  if (c->core) push_reap(c); /* the core hears of it at the start of the next iteration */
}

/* ---- the sync thread (pipelined group commit) ------------------------------------------
 * With it, COMMIT only writes the WAL (hm_store_sqlite_defer_sync) and this thread
 * fdatasyncs it while the main thread goes on with the next iterations. Every batch that
 * wrote gets a sequence number (g_wseq); output queued by the end of an iteration may only
 * be written once the newest batch that wrote by then is synced (gate()), whatever the
 * iteration itself did: a frame of a read-only iteration can still reveal earlier unsynced
 * writes. Held connections wait on g_wait; the thread's eventfd (K_SYNC) releases them. So
 * R-PERS-1 / R-DLV-6 hold as with a sync inside COMMIT, but the main thread no longer
 * sleeps in fdatasync: the next iteration's parsing, verifying and queueing overlap it.
 * A failed sync exits at once without releasing anything (as a failed COMMIT does).
 * Off by default; HARMONYD_ASYNC_SYNC=1 turns it on. Measured on the 2-core box (bench/
 * README.md): with this VM's fast sync (~0.2 ms) logins at concurrency 64 are 2-7 % slower
 * (an answer then waits for a thread hand-off and one more loop iteration) and fanout is
 * within noise; with a sync 5 ms slower (HARMONYD_SYNC_DELAY_MS=5, a slow disk) logins are
 * +49 % (2,700 vs 1,800/s): the loop no longer stops for each sync. Use it on slow disks.
 * HARMONYD_SYNC_DELAY_MS=N (tests and benchmarks) simulates a disk whose sync takes N ms
 * longer: the sync thread sleeps before each fdatasync (e2e_sync_gate shows nothing is
 * released before it), and without the thread the loop sleeps after each COMMIT that wrote. */
static uint64_t g_wseq;   /* newest batch that wrote (main thread) */
static uint64_t g_synced; /* newest batch known durable (main thread's copy) */
static conn *g_wait;
static pthread_t g_sthr;
static pthread_mutex_t g_sm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_sc = PTHREAD_COND_INITIALIZER;
static uint64_t g_s_req, g_s_done; /* guarded by g_sm */
static int g_s_fail, g_s_quit;     /* guarded by g_sm */
static io_tag g_stag = {K_SYNC, -1};

static void wait_add(conn *c) {
  if (c->on_wait) return;
  c->on_wait = 1;
  c->wait_prev = NULL;
  c->wait_next = g_wait;
  if (g_wait) g_wait->wait_prev = c;
  g_wait = c;
}

static void wait_del(conn *c) {
  if (!c->on_wait) return;
  c->on_wait = 0;
  if (c->wait_prev) c->wait_prev->wait_next = c->wait_next;
  else g_wait = c->wait_next;
  if (c->wait_next) c->wait_next->wait_prev = c->wait_prev;
  c->wait_prev = c->wait_next = NULL;
}

/* Called for every connection with output at the end of an iteration (after the COMMIT):
 * bytes queued since the last call wait for the newest batch that wrote. */
static void gate(conn *c) {
  if (c->out_len > c->pend_len) {
    c->pend_len = c->out_len;
    c->pend_need = g_wseq;
  }
  if (c->pend_need <= g_synced) c->rel_len = c->pend_len;
  if (c->rel_len < c->pend_len) wait_add(c);
  else wait_del(c);
}

static void *sync_main(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "hm-sync");
  pthread_mutex_lock(&g_sm);
  for (;;) {
    while (g_s_req <= g_s_done && !g_s_quit) pthread_cond_wait(&g_sc, &g_sm);
    if (g_s_req <= g_s_done) break; /* quit, nothing left to sync */
    uint64_t want = g_s_req;
    pthread_mutex_unlock(&g_sm);
    if (g_sync_delay_ms > 0) usleep((useconds_t)g_sync_delay_ms * 1000);
    int rc = hm_store_sqlite_wal_sync(g_store); /* covers every commit up to want (and later ones) */
    pthread_mutex_lock(&g_sm);
    if (rc != HM_OK) g_s_fail = 1;
    g_s_done = want;
    uint64_t one = 1;
    ssize_t w = write(g_stag.fd, &one, sizeof one);
    (void)w; /* fails only when the counter would overflow: it is non-zero then anyway */
  }
  pthread_mutex_unlock(&g_sm);
  return NULL;
}

/* after every COMMIT (main thread): a batch that wrote needs a sync */
static void sync_request(void) {
  if (!g_sync_on || !hm_store_sqlite_batch_wrote(g_store)) return;
  g_wseq++;
  pthread_mutex_lock(&g_sm);
  g_s_req = g_wseq;
  pthread_cond_signal(&g_sc);
  pthread_mutex_unlock(&g_sm);
}

/* K_SYNC: a sync finished; release the output that waited for it */
static void sync_done(void) {
  uint64_t v;
  ssize_t r = read(g_stag.fd, &v, sizeof v);
  (void)r;
  pthread_mutex_lock(&g_sm);
  uint64_t done = g_s_done;
  int fail = g_s_fail;
  pthread_mutex_unlock(&g_sm);
  if (fail) {
    logf_(HM_LOG_ERROR, "fdatasync of the store's WAL failed; exiting without sending the unsynced frames");
    _exit(1);
  }
  g_synced = done;
  for (conn *c = g_wait, *nx; c; c = nx) {
    nx = c->wait_next;
    if (c->pend_need <= g_synced) {
      wait_del(c);
      mark_dirty(c);
    }
  }
}

static void sync_start(void) {
  const char *d = getenv("HARMONYD_SYNC_DELAY_MS");
  if (d) g_sync_delay_ms = atoi(d);
  const char *e = getenv("HARMONYD_ASYNC_SYNC");
  if (!e || strcmp(e, "1") != 0) return;
  g_stag.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g_stag};
  if (g_stag.fd < 0 || epoll_ctl(g_ep, EPOLL_CTL_ADD, g_stag.fd, &ev) != 0) {
    logf_(HM_LOG_WARN, "no sync thread (%s); COMMIT syncs", strerror(errno));
    if (g_stag.fd >= 0) close(g_stag.fd);
    g_stag.fd = -1;
    return;
  }
  if (hm_store_sqlite_defer_sync(g_store, 1) != HM_OK) {
    logf_(HM_LOG_WARN, "the store cannot defer its syncs; COMMIT syncs");
    close(g_stag.fd);
    g_stag.fd = -1;
    return;
  }
  if (pthread_create(&g_sthr, NULL, sync_main, NULL) != 0) {
    logf_(HM_LOG_WARN, "no sync thread; COMMIT syncs");
    if (hm_store_sqlite_defer_sync(g_store, 0) != HM_OK) {
      logf_(HM_LOG_ERROR, "cannot restore synchronous commits; exiting");
      exit(1);
    }
    close(g_stag.fd);
    g_stag.fd = -1;
    return;
  }
  g_sync_on = 1;
}

/* after run(): every requested sync is done when this returns */
static void sync_stop(void) {
  if (!g_sync_on) return;
  pthread_mutex_lock(&g_sm);
  g_s_quit = 1;
  pthread_cond_signal(&g_sc);
  pthread_mutex_unlock(&g_sm);
  pthread_join(g_sthr, NULL);
  g_sync_on = 0;
  if (g_s_fail) logf_(HM_LOG_ERROR, "the last fdatasync of the store's WAL failed");
  close(g_stag.fd);
  g_stag.fd = -1;
}

/* The write itself: no epoll, list or allocator calls, so the writer thread may run it for
 * connections the main thread does not touch meanwhile. One write() per connection; a short
 * count means the socket buffer is full. */
static void write_out(conn *c) {
  c->wr_err = 0;
  while (c->rel_len > c->out_off) {
    ssize_t n = write(c->tag.fd, c->out + c->out_off, c->rel_len - c->out_off);
    if (n < 0) {
      if (errno == EINTR) continue;
      c->wr_err = errno;
      return;
    }
    c->out_off += (size_t)n;
    return;
  }
}

/* After write_out (main thread): errors, EPOLLOUT, buffer reuse, the close handshake. */
static void after_write(conn *c) {
  if (c->wr_err && c->wr_err != EAGAIN) {
    conn_kill(c);
    return;
  }
  if (c->out_off < c->rel_len) {
    if (c->state != ST_WS && c->wr_err == 0) c->deadline = mono_ms() + STALL_MS; /* it progressed */
    set_epollout(c, 1);
    return;
  }
  if (c->out_off < c->out_len) { /* the rest waits for a sync (g_wait): not for the socket */
    if (c->epollout) set_epollout(c, 0);
    return;
  }
  c->out_off = c->out_len = c->rel_len = c->pend_len = 0;
  if (c->out_cap > 262144) { /* do not keep a large buffer per idle connection */
    hm_free(c->out);
    c->out = NULL;
    c->out_cap = 0;
  }
  set_events(c, 0, c->vp_slot1 ? c->in_paused : 0); /* a held login keeps its pause state */
  if (c->in_len && c->state == ST_HTTP && !c->on_resume) { /* buffered requests: next iteration */
    c->on_resume = 1;
    c->resume_next = g_resume;
    g_resume = c;
  }
  if (c->closing && c->state != ST_LINGER) start_linger(c);
}

/* The writer thread: when one iteration has output for at least PAR_MIN connections (a
 * large broadcast) and the machine has two or more cores, the writer thread writes the
 * first half of them while the main thread writes the second half; the main thread waits
 * for it before doing anything else. HARMONYD_WRITER_THREAD=0 in the environment turns it
 * off; HARMONYD_WRITER_MIN=N changes the threshold (tests use 1: every flush goes through
 * the thread). */
static size_t g_par_min = 128;
static conn **g_fl;
static size_t g_fl_cap;
static int g_writer_on;
static pthread_t g_writer;
static pthread_mutex_t g_wm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_wc = PTHREAD_COND_INITIALIZER;
static conn **g_job;
static size_t g_job_n;
static int g_job_state; /* 0 idle, 1 posted, 2 done, 3 quit */

static void *writer_main(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "hm-writer");
  pthread_mutex_lock(&g_wm);
  for (;;) {
    while (g_job_state == 0 || g_job_state == 2) pthread_cond_wait(&g_wc, &g_wm);
    if (g_job_state == 3) break;
    conn **job = g_job;
    size_t n = g_job_n;
    pthread_mutex_unlock(&g_wm);
    for (size_t i = 0; i < n; i++) write_out(job[i]);
    pthread_mutex_lock(&g_wm);
    g_job_state = 2;
    pthread_cond_broadcast(&g_wc);
  }
  pthread_mutex_unlock(&g_wm);
  return NULL;
}

static void writer_start(void) {
  const char *e = getenv("HARMONYD_WRITER_THREAD");
  if ((e && !strcmp(e, "0")) || sysconf(_SC_NPROCESSORS_ONLN) < 2) return;
  const char *m = getenv("HARMONYD_WRITER_MIN");
  if (m && atol(m) >= 1) g_par_min = (size_t)atol(m);
  /* the thread takes no signals: SIGTERM/SIGINT stay blocked (signalfd) */
  if (pthread_create(&g_writer, NULL, writer_main, NULL) == 0) g_writer_on = 1;
}

static void writer_stop(void) {
  if (!g_writer_on) return;
  pthread_mutex_lock(&g_wm);
  g_job_state = 3;
  pthread_cond_broadcast(&g_wc);
  pthread_mutex_unlock(&g_wm);
  pthread_join(g_writer, NULL);
  g_writer_on = 0;
}

static void flush_all(void) {
  size_t n = 0;
  while (g_dirty) {
    conn *c = g_dirty;
    g_dirty = c->dirty_next;
    c->dirty = 0;
    if (c->dead) continue;
    gate(c);
    if (n == g_fl_cap) {
      size_t cap = g_fl_cap ? 2 * g_fl_cap : 256;
      conn **nf = hm_realloc(g_fl, cap * sizeof *nf);
      if (!nf) { /* no room for the list: write this one now */
        write_out(c);
        after_write(c);
        continue;
      }
      g_fl = nf;
      g_fl_cap = cap;
    }
    g_fl[n++] = c;
  }
  size_t mine = 0;
  if (g_writer_on && n >= g_par_min) {
    mine = n - n / 2; /* the writer's share: the first ceil(n/2) */
    pthread_mutex_lock(&g_wm);
    g_job = g_fl;
    g_job_n = mine;
    g_job_state = 1;
    pthread_cond_broadcast(&g_wc);
    pthread_mutex_unlock(&g_wm);
  }
  for (size_t i = mine; i < n; i++) write_out(g_fl[i]);
  if (mine) {
    pthread_mutex_lock(&g_wm);
    while (g_job_state != 2) pthread_cond_wait(&g_wc, &g_wm);
    g_job_state = 0;
    pthread_mutex_unlock(&g_wm);
  }
  for (size_t i = 0; i < n; i++) after_write(g_fl[i]);
}

/* Report lost connections to the core (inside a batch). Connections with nothing left to do
 * move to the free list. */
static void reap(void) {
  while (g_reap) {
    conn *c = g_reap;
    g_reap = c->reap_next;
    c->on_reap = 0;
    if (c->core) {
      hm_server_conn *core = c->core;
      c->core = NULL;
      hm_server_conn_closed(g_srv, core);
    }
    if (c->dead) {
      c->reap_next = g_free;
      g_free = c;
    }
  }
}

static void free_dead(void) {
  while (g_free) {
    conn *c = g_free;
    g_free = c->reap_next;
    if (c->prev)
      c->prev->next = c->next;
    else
      g_conns = c->next;
    if (c->next) c->next->prev = c->prev;
    g_nconns--;
    wait_del(c);
    vp_forget(c);
    hm_ws_decoder_clear(&c->dec);
    hm_free(c->in);
    hm_free(c->out);
    hm_free(c);
  }
}

/* Deadlines of handshakes, idle HTTP connections and lingering closes. */
static void sweep(int64_t now) {
  for (conn *c = g_conns; c; c = c->next) {
    if (c->dead || now < c->deadline) continue;
    if (c->state == ST_WS && !c->closing) continue; /* the core's keepalive watches these */
    /* lingering, a close that could not be written in CLOSE_TIMEOUT_MS, output without
     * progress, an idle keep-alive connection: just close */
    if (c->state == ST_LINGER || c->closing || c->out_len > c->out_off || c->in_len == 0)
      conn_kill(c);
    else
      http_error(c, 408, "Request timeout", NULL, 1);
  }
}

/* ---- SFU calls: libcurl multi on the same epoll set (never blocks the loop, R-SFU-11) ---- */

#define SFU_MAX_BODY (256u * 1024 + 1)

typedef struct sfu_req {
  struct sfu_req *next;
  CURL *easy;
  uint64_t id;
  struct curl_slist *headers;
  char *body_out;
  char *buf;
  size_t len;
} sfu_req;

static CURLM *g_curl;
static sfu_req *g_reqs;          /* outstanding calls (to drop them at shutdown) */
static int64_t g_curl_due = -1;  /* monotonic ms of curl's timer, -1 = none */
typedef struct curl_tag {
  io_tag tag; /* first: epoll's data.ptr points here */
  struct curl_tag *next_free;
} curl_tag;
static curl_tag *g_curl_tags_free; /* curl socket tags released this iteration (freed after it) */

static size_t sfu_write(char *p, size_t sz, size_t n, void *ud) {
  sfu_req *r = ud;
  size_t k = sz * n, room = SFU_MAX_BODY - r->len;
  size_t take = k < room ? k : room; /* an oversized answer is kept at 256 KiB + 1: a failure */
  memcpy(r->buf + r->len, p, take);
  r->len += take;
  return k;
}

static void sfu_req_free(sfu_req *r) {
  curl_slist_free_all(r->headers);
  hm_free(r->body_out);
  hm_free(r->buf);
  hm_free(r);
}

static int env_sfu_request(void *ctx, uint64_t id, const char *method, const char *path, const char *body) {
  (void)ctx;
  const hm_server_options *o = g_opts;
  sfu_req *r = hm_calloc(1, sizeof *r);
  CURL *e = curl_easy_init();
  if (!r || !e || !(r->buf = hm_malloc(SFU_MAX_BODY)) || !(r->body_out = hm_strdup(body ? body : ""))) {
    if (r) sfu_req_free(r);
    if (e) curl_easy_cleanup(e);
    return -1;
  }
  r->id = id;
  size_t ulen = strlen(o->sfu_api_base) + strlen(o->sfu_app_id) + strlen(path) + 16;
  size_t alen = strlen(o->sfu_app_secret) + 32;
  char *url = hm_malloc(ulen), *auth = hm_malloc(alen);
  if (!url || !auth) {
    hm_free(url);
    hm_free(auth);
    sfu_req_free(r);
    curl_easy_cleanup(e);
    return -1;
  }
  snprintf(url, ulen, "%s/v1/apps/%s%s", o->sfu_api_base, o->sfu_app_id, path);
  snprintf(auth, alen, "Authorization: Bearer %s", o->sfu_app_secret);
  r->headers = curl_slist_append(NULL, auth);
  r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
  hm_free_secret(auth, alen);
  curl_easy_setopt(e, CURLOPT_URL, url);
  hm_free(url); /* libcurl copies the URL */
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body_out);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body_out));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sfu_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->sfu_timeout_ms);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (curl_multi_add_handle(g_curl, e) != CURLM_OK) {
    sfu_req_free(r);
    curl_easy_cleanup(e);
    return -1;
  }
  r->easy = e;
  r->next = g_reqs;
  g_reqs = r;
  logf_(HM_LOG_DEBUG, "SFU call %" PRIu64 ": %s %s", id, method, path);
  return 0;
}

static void sfu_finish(CURL *e, CURLcode res, int report) {
  sfu_req *r = NULL;
  curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
  long code = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  int status = res == CURLE_OK ? (int)code : res == CURLE_OPERATION_TIMEDOUT ? -1 : 0;
  curl_multi_remove_handle(g_curl, e);
  curl_easy_cleanup(e);
  if (!r) return;
  for (sfu_req **pp = &g_reqs; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  /* R-SFU-12: the answer may quote the request; the app secret never reaches a client */
  size_t sl = g_opts && g_opts->sfu_app_secret ? strlen(g_opts->sfu_app_secret) : 0;
  for (size_t i = 0; sl && i + sl <= r->len; i++)
    if (!memcmp(r->buf + i, g_opts->sfu_app_secret, sl)) memset(r->buf + i, '*', sl);
  if (report) hm_server_sfu_done(g_srv, r->id, status, r->buf, r->len);
  sfu_req_free(r);
}

static void curl_done_check(void) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(g_curl, &left)))
    if (m->msg == CURLMSG_DONE) sfu_finish(m->easy_handle, m->data.result, 1);
}

static int curl_sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  (void)e;
  (void)userp;
  curl_tag *t = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (t) {
      epoll_ctl(g_ep, EPOLL_CTL_DEL, s, NULL);
      curl_multi_assign(g_curl, s, NULL);
      t->tag.kind = 0; /* freed after the iteration: an event for it may still be pending */
      t->next_free = g_curl_tags_free;
      g_curl_tags_free = t;
    }
    return 0;
  }
  struct epoll_event ev = {
      .events = (uint32_t)((what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0))};
  if (!t) {
    t = hm_calloc(1, sizeof *t);
    if (!t) return -1;
    t->tag.kind = K_CURL;
    t->tag.fd = (int)s;
    ev.data.ptr = t;
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, s, &ev) && (errno != EEXIST || epoll_ctl(g_ep, EPOLL_CTL_MOD, s, &ev))) {
      hm_free(t);
      return -1;
    }
    curl_multi_assign(g_curl, s, t);
  } else {
    ev.data.ptr = t;
    epoll_ctl(g_ep, EPOLL_CTL_MOD, s, &ev);
  }
  return 0;
}

static int curl_timer_cb(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  (void)userp;
  g_curl_due = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
  return 0;
}

static void curl_event(io_tag *t, uint32_t events) {
  int flags = (events & EPOLLIN ? CURL_CSELECT_IN : 0) | (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
              (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
  int running;
  curl_multi_socket_action(g_curl, t->fd, flags, &running);
  curl_done_check();
}

static void curl_tags_release(void) {
  while (g_curl_tags_free) {
    curl_tag *t = g_curl_tags_free;
    g_curl_tags_free = t->next_free;
    hm_free(t);
  }
}

/* ---- listening ---------------------------------------------------------------------- */

static int listen_on(const char *host, long port, int *actual) {
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char ps[16];
  snprintf(ps, sizeof ps, "%ld", port);
  if (getaddrinfo(host, ps, &hints, &res) || !res) return -1;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
      bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 1024)) {
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return -1;
  }
  freeaddrinfo(res);
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &sl)) {
    close(fd);
    return -1;
  }
  *actual = ntohs(sa.sin_port);
  return fd;
}

static int make_dirs(const char *path) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
  for (char *p = tmp + 1; *p; p++) {
    if (*p == '/') {
      *p = 0;
      if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
      *p = '/';
    }
  }
  if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
  struct stat st;
  return (stat(tmp, &st) == 0 && S_ISDIR(st.st_mode)) ? 0 : -1;
}

/* ---- the loop ----------------------------------------------------------------------- */

static void begin_shutdown(void) {
  logf_(HM_LOG_INFO, "shutting down");
  g_stop = 1;
  hm_server_shutdown(g_srv); /* R-CLOSE-5: 1001 to every WebSocket connection */
  close(g_lws.fd); /* no new connections */
  close(g_lhttp.fd);
  g_lws.fd = g_lhttp.fd = -1;
  for (conn *c = g_conns; c; c = c->next) /* idle HTTP connections and handshakes: close */
    if (!c->dead && c->state != ST_WS && c->state != ST_LINGER && c->out_len == c->out_off) conn_kill(c);
}

static void run(void) {
  struct epoll_event evs[256];
  int64_t last_tick = mono_ms(), next_sweep = mono_ms() + SWEEP_MS, stop_deadline = 0;
  for (;;) {
    int64_t now = mono_ms();
    /* the next tick: the core's earliest deadline (wall clock, converted), at most TICK_MS away */
    int64_t next_tick = last_tick + TICK_MS, cd = hm_server_next_deadline(g_srv);
    if (cd != INT64_MAX) {
      int64_t in = cd - wall_ms();
      if (now + (in > 0 ? in : 0) < next_tick) next_tick = now + (in > 0 ? in : 0);
    }
    if (g_stop) {
      if ((hm_server_conn_count(g_srv) == 0 && !g_dirty && !g_reap && !g_wait) || now >= stop_deadline) break;
    }
    int timeout;
    if (g_reap || g_dirty || g_resume) {
      timeout = 0;
    } else {
      int64_t due = next_tick < next_sweep ? next_tick : next_sweep;
      if (g_curl_due >= 0 && g_curl_due < due) due = g_curl_due;
      if (g_stop && stop_deadline < due) due = stop_deadline;
      timeout = due <= now ? 0 : (int)(due - now);
    }
    int n = epoll_wait(g_ep, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      logf_(HM_LOG_ERROR, "epoll_wait: %s", strerror(errno));
      break;
    }
    batch_begin();
    reap();
    while (g_resume) { /* HTTP requests held back while their connection's output drained */
      conn *c = g_resume;
      g_resume = c->resume_next;
      c->on_resume = 0;
      if (!c->dead && !c->closing && !c->in_paused) http_input(c);
    }
    for (int i = 0; i < n; i++) {
      io_tag *t = evs[i].data.ptr;
      uint32_t e = evs[i].events;
      switch (t->kind) {
        case K_CONN: {
          conn *c = (conn *)t;
          if (c->dead) break;
          if (e & EPOLLOUT) mark_dirty(c);
          if (c->in_paused) { /* not reading: only a dead socket matters */
            if (e & (EPOLLHUP | EPOLLERR)) conn_kill(c);
          } else if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            conn_readable(c);
          }
          break;
        }
        case K_LISTEN_WS:
        case K_LISTEN_HTTP:
          if (t->fd >= 0) listen_readable(t);
          break;
        case K_SIGNAL: {
          struct signalfd_siginfo si;
          while (read(g_sig.fd, &si, sizeof si) == (ssize_t)sizeof si)
            if (!g_stop) {
              begin_shutdown();
              stop_deadline = mono_ms() + SHUTDOWN_MS;
            }
          break;
        }
        case K_CURL:
          curl_event(t, e);
          break;
        case K_VERIFY:
          vp_done();
          break;
        case K_SYNC:
          sync_done();
          break;
        default: /* a curl socket released earlier in this iteration */
          break;
      }
    }
    now = mono_ms();
    if (g_curl && g_curl_due >= 0 && now >= g_curl_due) {
      int running;
      g_curl_due = -1;
      curl_multi_socket_action(g_curl, CURL_SOCKET_TIMEOUT, 0, &running);
      curl_done_check();
    }
    if (now >= next_tick) {
      hm_server_tick(g_srv, wall_ms());
      last_tick = now;
    }
    if (now >= next_sweep) {
      sweep(now);
      next_sweep = now + SWEEP_MS;
    }
    reap(); /* connections lost during the events: the core hears of them in this batch */
    batch_end();
    flush_all();
    free_dead();
    curl_tags_release();
  }
}

int main(int argc, char **argv) {
  static hm_server_options o; /* static: reachable until exit, also on the early-exit paths */
  char err[512];
  if (hm_server_options_init(&o) != HM_OK) {
    fputs("harmonyd: out of memory\n", stderr);
    return 2;
  }
  const char *env_secret = getenv("HARMONY_SFU_APP_SECRET");
  if (env_secret && hm_server_options_apply(&o, "sfu-app-secret", env_secret, err, sizeof err) != HM_OK) {
    fputs("harmonyd: out of memory\n", stderr);
    return 2;
  }
  int action;
  int rc = hm_server_options_parse_argv(&o, argc, argv, &action, err, sizeof err);
  if (rc != HM_OK) {
    fprintf(stderr, "harmonyd: %s\n", rc == HM_ERR_NOMEM ? "out of memory" : err);
    return 2;
  }
  if (action == HM_OPTS_HELP) {
    usage(stdout);
    return 0;
  }
  if (action == HM_OPTS_VERSION) {
    printf("harmonyd %s\n", HARMONYD_VERSION);
    return 0;
  }
  g_opts = &o;
  g_log_level = hm_server_options_log_level(&o);

  /* data directory, its lock, the store */
  umask(077);
  if (make_dirs(o.data_dir)) {
    logf_(HM_LOG_ERROR, "cannot create data directory %s: %s", o.data_dir, strerror(errno));
    return 1;
  }
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/lock", o.data_dir);
  int lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB)) {
    logf_(HM_LOG_ERROR, "data directory %s is in use by another process", o.data_dir);
    return 1;
  }
  snprintf(path, sizeof path, "%s/harmony.db", o.data_dir);
  const char *why = NULL;
  rc = hm_store_sqlite_open(&g_store, path, &why);
  if (rc != HM_OK) {
    logf_(HM_LOG_ERROR, "cannot open the store %s: %s (%s)", path, why ? why : hm_strerror(rc), hm_strerror(rc));
    return 1;
  }

  hm_server_config cfg = {0};
  cfg.auth_timeout_ms = (uint32_t)o.auth_timeout_ms;
  cfg.vp_freshness_s = (uint32_t)o.vp_freshness_s;
  cfg.rate_max_frames = (uint32_t)o.rate_max;
  cfg.rate_window_ms = (uint32_t)o.rate_window_ms;
  cfg.max_connections = (uint32_t)o.max_connections;
  cfg.trusted_issuers = (const char *const *)o.trusted;
  cfg.n_trusted_issuers = o.n_trusted;
  cfg.revoked_credentials = (const char *const *)o.revoked;
  cfg.n_revoked_credentials = o.n_revoked;
  cfg.log_level = g_log_level;
  cfg.keepalive_ms = (uint32_t)o.keepalive_ms;
  cfg.sfu_configured = o.sfu_app_id && *o.sfu_app_id && o.sfu_app_secret && *o.sfu_app_secret;
  hm_server_env env = {0};
  env.now_ms = env_now;
  env.random = env_random;
  env.send = env_send;
  env.close = env_close;
  env.log = env_log;
  env.ping = env_ping;
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  if (g_ep < 0) {
    logf_(HM_LOG_ERROR, "epoll_create1: %s", strerror(errno));
    return 1;
  }
  if (cfg.sfu_configured) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(g_curl = curl_multi_init())) {
      logf_(HM_LOG_ERROR, "cannot initialise libcurl for the SFU proxy");
      return 1;
    }
    curl_multi_setopt(g_curl, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
    curl_multi_setopt(g_curl, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    env.sfu_request = env_sfu_request;
  }
  env.store = g_store;
  rc = hm_server_new(&g_srv, &cfg, &env);
  if (rc != HM_OK) {
    logf_(HM_LOG_ERROR, "cannot start the server core: %s", hm_strerror(rc));
    hm_store_close(g_store);
    return 1;
  }

  /* descriptors: as many as the hard limit allows (one per connection) */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  g_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

  int ws_port = 0, http_port = 0;
  g_lws.fd = listen_on(o.host, o.port, &ws_port);
  if (g_lws.fd < 0) {
    logf_(HM_LOG_ERROR, "cannot listen on %s:%ld: %s", o.host, o.port, strerror(errno));
    return 1;
  }
  g_lhttp.fd = listen_on(o.host, o.http_port, &http_port);
  if (g_lhttp.fd < 0) {
    logf_(HM_LOG_ERROR, "cannot listen on %s:%ld (HTTP): %s", o.host, o.http_port, strerror(errno));
    return 1;
  }
  /* signals through a descriptor: SIGTERM / SIGINT start the shutdown inside the loop */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  g_sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.ptr = &g_lws;
  int bad = epoll_ctl(g_ep, EPOLL_CTL_ADD, g_lws.fd, &ev);
  ev.data.ptr = &g_lhttp;
  bad |= epoll_ctl(g_ep, EPOLL_CTL_ADD, g_lhttp.fd, &ev);
  ev.data.ptr = &g_sig;
  bad |= g_sig.fd < 0 || epoll_ctl(g_ep, EPOLL_CTL_ADD, g_sig.fd, &ev);
  if (bad) {
    logf_(HM_LOG_ERROR, "cannot set up the event loop: %s", strerror(errno));
    return 1;
  }

  g_start_ms = wall_ms();
  printf("harmonyd ready ws://%s:%d http://%s:%d\n", o.host, ws_port, o.host, http_port);
  fflush(stdout);
  logf_(HM_LOG_INFO, "listening (ws %d, http %d), data in %s", ws_port, http_port, o.data_dir);

  writer_start();
  /* did:key resolution memo (did.h): a login resolves its DID on the verifier thread and
   * again in the core; clients reconnect with the same DID. Bounded: 256 entries of ~140 bytes. */
  if (hm_did_memo_enable(256) != HM_OK) logf_(HM_LOG_WARN, "no did:key resolution memo");
  verifier_start(&cfg);
  sync_start();
  run();
  sync_stop();
  verifier_stop();
  writer_stop();
  {
    uint64_t hits = 0, stored = 0;
    hm_did_memo_stats(&hits, &stored);
    logf_(HM_LOG_INFO, "did:key memo: %" PRIu64 " resolutions stored, %" PRIu64 " hits", stored, hits);
    if (hm_did_memo_enable(0) != HM_OK) logf_(HM_LOG_WARN, "cannot free the did:key memo");
  }

  if (g_curl) { /* drop outstanding SFU calls */
    while (g_reqs) sfu_finish(g_reqs->easy, CURLE_OK, 0);
    curl_multi_cleanup(g_curl);
    curl_global_cleanup();
    curl_tags_release();
  }
  hm_server_free(g_srv); /* connections still open are freed without callbacks */
  while (g_conns) {
    conn *c = g_conns;
    g_conns = c->next;
    if (c->tag.fd >= 0) close(c->tag.fd);
    hm_ws_decoder_clear(&c->dec);
    hm_free(c->in);
    hm_free(c->out);
    hm_free(c);
  }
  hm_store_close(g_store); /* every batch is committed; this checkpoints the WAL */
  if (g_sig.fd >= 0) close(g_sig.fd);
  close(g_ep);
  if (g_spare_fd >= 0) close(g_spare_fd);
  hm_free(g_fl);
  hm_server_options_free(&o);
  close(lockfd);
  return 0;
}
