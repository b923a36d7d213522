/* harmonyd - the Harmony reference server: a libwebsockets shell around the sans-I/O core
 * (harmony/server.h) and the SQLite store (harmony/store.h).
 *
 * The shell owns the sockets, the clock, the signals and the data directory; every
 * protocol decision is the core's. libwebsockets 4.1 runs its default poll loop with
 * permessage-deflate off (no extensions are offered), so the 0-byte-write abort of the
 * toolchain notes cannot happen; still, the WRITEABLE handler never writes when its queue
 * is empty. Each connection has its own outgoing queue, bounded at 8 MiB (R-DLV-7).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libwebsockets.h>

#include "harmony/alloc.h"
#include "harmony/crypto.h"
#include "harmony/server.h"
#include "harmony/store.h"

#define HARMONYD_VERSION "0.1.0"
#define MAX_QUEUE_BYTES (8u * 1024 * 1024)
#define TICK_US (25 * LWS_US_PER_MS)

/* ---- options ------------------------------------------------------------------------ */

typedef struct {
  char *host;
  long port;
  long http_port; /* -1 = default */
  char *data_dir;
  char *log_level;
  long auth_timeout_ms;
  long rate_max, rate_window_ms;
  long vp_freshness_s;
  long keepalive_ms;
  long max_connections;
  char *sfu_api_base, *sfu_app_id, *sfu_app_secret;
  long sfu_timeout_ms;
  char **trusted;
  size_t n_trusted;
  char **revoked;
  size_t n_revoked;
} options;

static int g_log_level = HM_LOG_INFO;

static void logf_(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(int level, const char *fmt, ...) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  if (level > g_log_level) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(stderr, "%s.%03ldZ harmonyd %s: ", when, ts.tv_nsec / 1000000, names[level]);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
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

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("harmonyd: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(2);
}

static long parse_long(const char *flag, const char *v, long lo, long hi) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < lo || n > hi) die_usage("invalid value for --%s: '%s'", flag, v);
  return n;
}

static void push_str(char ***list, size_t *n, const char *v) {
  char **nl = realloc(*list, (*n + 1) * sizeof *nl);
  if (!nl) die_usage("out of memory");
  *list = nl;
  if (!(nl[*n] = strdup(v))) die_usage("out of memory");
  (*n)++;
}

static void set_str(char **dst, const char *v) {
  free(*dst);
  *dst = strdup(v);
  if (!*dst) die_usage("out of memory");
}

/* Apply one option by its long name (shared by the command line and the config file). */
static void apply(options *o, const char *name, const char *v) {
  if (!strcmp(name, "host")) {
    set_str(&o->host, v);
  } else if (!strcmp(name, "port")) {
    o->port = parse_long(name, v, 0, 65535);
  } else if (!strcmp(name, "http-port")) {
    o->http_port = parse_long(name, v, 0, 65535);
  } else if (!strcmp(name, "data-dir")) {
    if (!*v) die_usage("invalid value for --data-dir: ''");
    set_str(&o->data_dir, v);
  } else if (!strcmp(name, "log-level")) {
    if (strcmp(v, "error") && strcmp(v, "warn") && strcmp(v, "info") && strcmp(v, "debug"))
      die_usage("invalid value for --log-level: '%s'", v);
    set_str(&o->log_level, v);
  } else if (!strcmp(name, "auth-timeout-ms")) {
    o->auth_timeout_ms = parse_long(name, v, 100, 86400000L);
  } else if (!strcmp(name, "rate-limit")) {
    if (!strcmp(v, "0")) {
      o->rate_max = o->rate_window_ms = 0;
    } else {
      const char *slash = strchr(v, '/');
      if (!slash) die_usage("invalid value for --rate-limit: '%s' (expected N/WINDOW_MS or 0)", v);
      char n[32];
      size_t k = (size_t)(slash - v);
      if (k == 0 || k >= sizeof n) die_usage("invalid value for --rate-limit: '%s'", v);
      memcpy(n, v, k);
      n[k] = 0;
      o->rate_max = parse_long(name, n, 1, 1000000000L);
      o->rate_window_ms = parse_long(name, slash + 1, 1, 86400000L);
    }
  } else if (!strcmp(name, "vp-freshness-s")) {
    o->vp_freshness_s = parse_long(name, v, 1, 86400L * 365);
  } else if (!strcmp(name, "keepalive-ms")) {
    o->keepalive_ms = parse_long(name, v, 0, 86400000L);
  } else if (!strcmp(name, "max-connections")) {
    o->max_connections = parse_long(name, v, 1, 1000000L);
  } else if (!strcmp(name, "trusted-issuer")) {
    if (strncmp(v, "did:", 4)) die_usage("invalid value for --trusted-issuer: '%s'", v);
    push_str(&o->trusted, &o->n_trusted, v);
  } else if (!strcmp(name, "revoked-credential")) {
    if (!*v) die_usage("invalid value for --revoked-credential: ''");
    push_str(&o->revoked, &o->n_revoked, v);
  } else if (!strcmp(name, "sfu-api-base")) {
    set_str(&o->sfu_api_base, v);
  } else if (!strcmp(name, "sfu-app-id")) {
    set_str(&o->sfu_app_id, v);
  } else if (!strcmp(name, "sfu-app-secret")) {
    set_str(&o->sfu_app_secret, v);
  } else if (!strcmp(name, "sfu-timeout-ms")) {
    o->sfu_timeout_ms = parse_long(name, v, 1, 600000L);
  } else {
    die_usage("unknown option '%s'", name);
  }
}

static void load_config(options *o, const char *path) {
  json_error_t err;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
  if (!root) die_usage("cannot read config %s: %s (line %d)", path, err.text, err.line);
  if (!json_is_object(root)) die_usage("config %s: not a JSON object", path);
  const char *key;
  json_t *val;
  json_object_foreach(root, key, val) {
    if (!strcmp(key, "config")) die_usage("config %s: 'config' cannot be nested", path);
    json_t *items = json_is_array(val) ? val : NULL;
    size_t n = items ? json_array_size(items) : 1;
    for (size_t i = 0; i < n; i++) {
      json_t *v = items ? json_array_get(items, i) : val;
      char buf[64];
      const char *s;
      if (json_is_string(v))
        s = json_string_value(v);
      else if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = buf;
      } else
        die_usage("config %s: bad value for '%s'", path, key);
      apply(o, key, s);
    }
  }
  json_decref(root);
}

/* ---- connections and the queue ----------------------------------------------------- */

typedef struct msg {
  struct msg *next;
  size_t len;
  unsigned char buf[]; /* LWS_PRE + len */
} msg;

typedef struct {
  struct lws *wsi;
  hm_server_conn *conn;
  msg *head, *tail;
  size_t queued;
  int close_code; /* 0 = none pending */
  int ping_pending;
  char close_reason[124];
  unsigned char *rx;
  size_t rx_len, rx_cap;
  int rx_binary, rx_too_big;
} session;

#define HTTP_MAX_BODY (5u * 1024 * 1024) /* R-HTTP-5 */

typedef struct {
  unsigned char *body; /* response: LWS_PRE + len bytes, malloc'd */
  size_t len, sent;
  char method[8];
  char target[1024];
  char *auth;
  unsigned char *req; /* request body */
  size_t req_len;
  int too_big, close_after;
} http_session;

static struct lws_context *g_ctx;
static hm_server *g_srv;
static volatile sig_atomic_t g_stop;
static int64_t g_start_ms;
static lws_sorted_usec_list_t g_tick;

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
  session *s = handle;
  if (s->close_code) return 0;
  if (s->queued + len > MAX_QUEUE_BYTES) return 1;
  msg *m = malloc(sizeof *m + LWS_PRE + len);
  if (!m) return 1;
  m->next = NULL;
  m->len = len;
  memcpy(m->buf + LWS_PRE, bytes, len);
  if (s->tail)
    s->tail->next = m;
  else
    s->head = m;
  s->tail = m;
  s->queued += len;
  lws_callback_on_writable(s->wsi);
  return 0;
}

static void env_close(void *ctx, void *handle, int code, const char *reason) {
  (void)ctx;
  session *s = handle;
  if (s->close_code) return;
  s->close_code = code;
  snprintf(s->close_reason, sizeof s->close_reason, "%s", reason ? reason : "");
  lws_callback_on_writable(s->wsi);
}

static void env_ping(void *ctx, void *handle) {
  (void)ctx;
  session *s = handle;
  if (s->close_code) return;
  s->ping_pending = 1;
  lws_callback_on_writable(s->wsi);
}

static void env_log(void *ctx, int level, const char *line) {
  (void)ctx;
  logf_(level, "%s", line);
}

static void session_free_queue(session *s) {
  while (s->head) {
    msg *m = s->head;
    s->head = m->next;
    free(m);
  }
  s->tail = NULL;
  s->queued = 0;
  free(s->rx);
  s->rx = NULL;
  s->rx_len = s->rx_cap = 0;
}

static void close_now(session *s, int code, const char *reason) {
  lws_close_reason(s->wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
}

/* R-TRN-1: the server selects the first subprotocol the client offers. libwebsockets binds
 * a connection only to a protocol whose name equals an offered one, so the second entry's
 * name is a buffer that LWS_CALLBACK_HTTP_CONFIRM_UPGRADE sets to the first offered value
 * just before lws matches the list (single-threaded, synchronous). */
static char g_offered[128] = "\x01";

static int cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  session *s = user;
  switch (reason) {
    case LWS_CALLBACK_HTTP: {
      /* R-TRN-3: a plain HTTP request on the WebSocket port */
      unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
      const char *body = "Upgrade Required";
      if (lws_add_http_header_status(wsi, 426, &p, end) ||
          lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, (unsigned char *)"text/plain", 10, &p,
                                       end) ||
          lws_add_http_header_content_length(wsi, strlen(body), &p, end) ||
          lws_finalize_http_header(wsi, &p, end))
        return -1;
      if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0) return -1;
      unsigned char b[LWS_PRE + 32];
      memcpy(b + LWS_PRE, body, strlen(body));
      if (lws_write(wsi, b + LWS_PRE, strlen(body), LWS_WRITE_HTTP_FINAL) < 0) return -1;
      return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
      char list[512];
      g_offered[0] = '\x01';
      g_offered[1] = 0;
      int n = lws_hdr_copy(wsi, list, sizeof list, WSI_TOKEN_PROTOCOL);
      if (n > 0) {
        const char *p = list;
        while (*p == ' ' || *p == '\t') p++;
        size_t k = strcspn(p, ", \t");
        if (k > 0 && k < sizeof g_offered) {
          memcpy(g_offered, p, k);
          g_offered[k] = 0;
        }
      }
      return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
      memset(s, 0, sizeof *s);
      s->wsi = wsi;
      s->conn = hm_server_conn_open(g_srv, s);
      if (!s->conn) return -1;
      if (g_stop) env_close(NULL, s, 1001, "Server shutting down");
      break;
    case LWS_CALLBACK_RECEIVE: {
      if (!s->conn || s->close_code) break;
      if (lws_is_first_fragment(wsi)) {
        s->rx_len = 0;
        s->rx_binary = lws_frame_is_binary(wsi);
        s->rx_too_big = 0;
      }
      size_t remaining = lws_remaining_packet_payload(wsi);
      /* R-LIM-1: stop as soon as the declared or accumulated length passes 1 MiB */
      if (s->rx_len + len + remaining > HM_SERVER_MAX_FRAME) {
        close_now(s, 1009, "Message too big");
        return -1;
      }
      if (s->rx_len + len > s->rx_cap) {
        size_t nc = s->rx_cap ? s->rx_cap : 4096;
        while (nc < s->rx_len + len) nc *= 2;
        if (nc > HM_SERVER_MAX_FRAME) nc = HM_SERVER_MAX_FRAME;
        unsigned char *nr = realloc(s->rx, nc);
        if (!nr) {
          close_now(s, 1011, "Internal error");
          return -1;
        }
        s->rx = nr;
        s->rx_cap = nc;
      }
      memcpy(s->rx + s->rx_len, in, len);
      s->rx_len += len;
      if (lws_is_final_fragment(wsi) && remaining == 0) {
        hm_server_conn_frame(g_srv, s->conn, s->rx, s->rx_len, s->rx_binary);
        s->rx_len = 0;
        if (s->rx_cap > 65536) { /* do not keep a 1 MiB buffer per idle connection */
          free(s->rx);
          s->rx = NULL;
          s->rx_cap = 0;
        }
      }
      break;
    }
    case LWS_CALLBACK_RECEIVE_PONG:
      if (s->conn) hm_server_conn_activity(g_srv, s->conn);
      break;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
      if (s->ping_pending && !s->close_code) {
        /* a non-empty ping payload: never a 0-byte write (toolchain notes) */
        unsigned char pb[LWS_PRE + 8];
        memcpy(pb + LWS_PRE, "hm-ka", 5);
        s->ping_pending = 0;
        if (lws_write(wsi, pb + LWS_PRE, 5, LWS_WRITE_PING) < 5) return -1;
        if (s->head || s->close_code) lws_callback_on_writable(wsi);
        break;
      }
      if (s->head) {
        msg *m = s->head;
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        if (n < (int)m->len) return -1;
        s->head = m->next;
        if (!s->head) s->tail = NULL;
        s->queued -= m->len;
        free(m);
        if (s->head || s->close_code) lws_callback_on_writable(wsi);
        break;
      }
      if (s->close_code) {
        close_now(s, s->close_code, s->close_reason);
        return -1;
      }
      break; /* nothing queued: never write 0 bytes */
    }
    case LWS_CALLBACK_CLOSED:
      if (s->conn) {
        hm_server_conn *c = s->conn;
        s->conn = NULL;
        hm_server_conn_closed(g_srv, c);
      }
      session_free_queue(s);
      break;
    default:
      break;
  }
  return 0;
}

static int add_hdr(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end) {
  return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                     (int)strlen(value), p, end);
}

/* R-HTTP-20: /media/<mediaId>/<filename>. Returns 200 and fills body/mime, or 404. */
static int media_route(const char *uri, char **mime, uint8_t **bytes, size_t *len) {
  if (strncmp(uri, "/media/", 7) != 0) return 0;
  const char *id = uri + 7, *slash = strchr(id, '/');
  if (!slash || slash == id || strchr(slash + 1, '/')) return 404;
  char mid[256];
  size_t n = (size_t)(slash - id);
  if (n >= sizeof mid) return 404;
  memcpy(mid, id, n);
  mid[n] = 0;
  return hm_server_media_get(g_srv, mid, slash + 1, mime, bytes, len) == HM_OK ? 200 : 404;
}

static const char *http_method(struct lws *wsi) {
  if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)) return "GET";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)) return "POST";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI)) return "OPTIONS";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI)) return "DELETE";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI)) return "PUT";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI)) return "PATCH";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI)) return "HEAD";
  return "OTHER";
}

/* Queue a response: headers now, body from HTTP_WRITEABLE. ctype NULL = JSON. */
static int http_respond(struct lws *wsi, http_session *h, int status, const char *ctype, const unsigned char *body,
                        size_t n, const char *allow, const char **extra) {
  h->body = malloc(LWS_PRE + n + 1);
  if (!h->body) return -1;
  if (n) memcpy(h->body + LWS_PRE, body, n);
  h->len = n;
  h->sent = 0;
  unsigned char hdr[LWS_PRE + 2048], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
  int is_options = !strcmp(h->method, "OPTIONS");
  if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype ? ctype : "application/json", n, &p, end))
    return -1;
  if (add_hdr(wsi, "access-control-allow-origin:", "*", &p, end)) return -1;
  if (is_options) {
    if (add_hdr(wsi, "access-control-allow-methods:", "GET, POST, DELETE, OPTIONS", &p, end) ||
        add_hdr(wsi, "access-control-allow-headers:", "Content-Type, Authorization", &p, end) ||
        add_hdr(wsi, "access-control-max-age:", "600", &p, end))
      return -1;
  } else if (add_hdr(wsi, "x-content-type-options:", "nosniff", &p, end) ||
             add_hdr(wsi, "x-frame-options:", "DENY", &p, end) ||
             add_hdr(wsi, "x-xss-protection:", "1; mode=block", &p, end)) {
    return -1;
  }
  if (allow && add_hdr(wsi, "allow:", allow, &p, end)) return -1;
  for (size_t i = 0; extra && extra[i]; i += 2)
    if (add_hdr(wsi, extra[i], extra[i + 1], &p, end)) return -1;
  if (h->close_after && add_hdr(wsi, "connection:", "close", &p, end)) return -1;
  if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
  if (n == 0) { /* nothing to write: never a 0-byte write */
    free(h->body);
    h->body = NULL;
    if (h->close_after) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }
  lws_callback_on_writable(wsi);
  return 0;
}

static int http_error(struct lws *wsi, http_session *h, int status, const char *text, const char *allow) {
  char b[256];
  snprintf(b, sizeof b, "{\"error\":\"%s\"}", text);
  return http_respond(wsi, h, status, NULL, (const unsigned char *)b, strlen(b), allow, NULL);
}

/* The request is complete (headers and body): answer it. */
static int http_dispatch(struct lws *wsi, http_session *h) {
  const char *m = h->method, *t = h->target;
  if (h->too_big) {
    h->close_after = 1;
    return http_error(wsi, h, 413, "Request body too large", NULL);
  }
  if (!strcmp(m, "OPTIONS")) return http_respond(wsi, h, 204, NULL, NULL, 0, NULL, NULL); /* R-HTTP-3 */
  if (!strcmp(t, "/health")) {
    if (strcmp(m, "GET")) return http_error(wsi, h, 405, "Method not allowed", "GET, OPTIONS");
    char b[128];
    snprintf(b, sizeof b, "{\"status\":\"healthy\",\"uptime\":%" PRId64 "}", (wall_ms() - g_start_ms) / 1000);
    return http_respond(wsi, h, 200, NULL, (const unsigned char *)b, strlen(b), NULL, NULL);
  }
  if (!strcmp(t, "/metrics")) {
    if (strcmp(m, "GET")) return http_error(wsi, h, 405, "Method not allowed", "GET, OPTIONS");
    char *core = NULL;
    if (hm_server_metrics(g_srv, &core) != HM_OK) return http_error(wsi, h, 500, "Internal error", NULL);
    size_t n = strlen(core) + 128;
    char *b = malloc(n);
    if (!b) {
      hm_free(core);
      return -1;
    }
    snprintf(b, n, "# TYPE harmony_uptime_seconds gauge\nharmony_uptime_seconds %" PRId64 "\n%s",
             (wall_ms() - g_start_ms) / 1000, core);
    hm_free(core);
    int rc = http_respond(wsi, h, 200, "text/plain; version=0.0.4", (const unsigned char *)b, strlen(b), NULL, NULL);
    free(b);
    return rc;
  }
  if (!strncmp(t, "/media/", 7)) {
    if (strcmp(m, "GET")) return http_error(wsi, h, 405, "Method not allowed", "GET, OPTIONS");
    char *mime = NULL;
    uint8_t *bytes = NULL;
    size_t blen = 0;
    if (media_route(t, &mime, &bytes, &blen) != 200) return http_error(wsi, h, 404, "Not found", NULL);
    int svg = !strcmp(mime, "image/svg+xml");
    const char *extra[] = {"content-security-policy:", "sandbox", "cache-control:", "private, max-age=3600",
                           svg ? "content-disposition:" : NULL, "attachment", NULL};
    int rc = http_respond(wsi, h, 200, svg ? "application/octet-stream" : mime, bytes, blen, NULL, extra);
    hm_free(mime);
    hm_free(bytes);
    return rc;
  }
  hm_http_request q = {m, t, NULL, h->auth, h->req, h->req_len};
  hm_http_response r;
  hm_server_http(g_srv, &q, &r);
  int rc = http_respond(wsi, h, r.status, NULL, (const unsigned char *)(r.body ? r.body : ""), r.body_len, r.allow, NULL);
  hm_free(r.body);
  return rc;
}

static void http_session_clear(http_session *h) {
  free(h->body);
  free(h->auth);
  free(h->req);
  h->body = h->req = NULL;
  h->auth = NULL;
}

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  http_session *h = user;
  switch (reason) {
    case LWS_CALLBACK_HTTP: {
      memset(h, 0, sizeof *h);
      snprintf(h->method, sizeof h->method, "%s", http_method(wsi));
      char args[512] = "";
      if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > 0)
        lws_hdr_copy(wsi, args, sizeof args, WSI_TOKEN_HTTP_URI_ARGS);
      snprintf(h->target, sizeof h->target, "%s%s%s", in ? (const char *)in : "/", *args ? "?" : "", args);
      int alen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
      if (alen > 0 && alen < 8192 && (h->auth = malloc((size_t)alen + 1)))
        lws_hdr_copy(wsi, h->auth, alen + 1, WSI_TOKEN_HTTP_AUTHORIZATION);
      int clen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
      if (clen > 0 && (!strcmp(h->method, "POST") || !strcmp(h->method, "PUT") || !strcmp(h->method, "DELETE"))) {
        char cl[32];
        lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH);
        if (strtoull(cl, NULL, 10) > HTTP_MAX_BODY) {
          h->too_big = 1; /* read and discard the body, then answer 413 and close */
          return 0;
        }
        if (strtoull(cl, NULL, 10) > 0) return 0; /* wait for the body */
      }
      return http_dispatch(wsi, h) ? -1 : 0;
    }
    case LWS_CALLBACK_HTTP_BODY: {
      if (h->too_big) return 0;
      if (h->req_len + len > HTTP_MAX_BODY) {
        h->too_big = 1;
        return 0;
      }
      unsigned char *nr = realloc(h->req, h->req_len + len + 1);
      if (!nr) return -1;
      h->req = nr;
      memcpy(h->req + h->req_len, in, len);
      h->req_len += len;
      return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      return http_dispatch(wsi, h) ? -1 : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
      if (!h || !h->body) break;
      size_t chunk = h->len - h->sent;
      if (chunk > 65536) chunk = 65536;
      int final = h->sent + chunk == h->len;
      if (lws_write(wsi, h->body + LWS_PRE + h->sent, chunk, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
          (int)chunk)
        return 1;
      h->sent += chunk;
      if (!final) {
        lws_callback_on_writable(wsi);
        break;
      }
      free(h->body);
      h->body = NULL;
      if (h->close_after) return -1;
      http_session_clear(h);
      if (lws_http_transaction_completed(wsi)) return -1;
      break;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
      if (h) http_session_clear(h);
      break;
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols ws_protocols[] = {
    {"harmony", cb_ws, sizeof(session), 65536, 0, NULL, 0},
    {g_offered, cb_ws, sizeof(session), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const struct lws_protocols http_protocols[] = {
    {"http", cb_http, sizeof(http_session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- SFU calls: libcurl multi, driven from the tick (never blocks the loop, R-SFU-11) ---- */

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
static sfu_req *g_reqs; /* outstanding calls (to drop them at shutdown) */
static int g_curl_running;
static const options *g_opts;

static size_t sfu_write(char *p, size_t sz, size_t n, void *ud) {
  sfu_req *r = ud;
  size_t k = sz * n, room = SFU_MAX_BODY - r->len;
  size_t take = k < room ? k : room; /* an oversized answer is kept at 256 KiB + 1: a failure */
  memcpy(r->buf + r->len, p, take);
  r->len += take;
  return k;
}

static int env_sfu_request(void *ctx, uint64_t id, const char *method, const char *path, const char *body) {
  (void)ctx;
  const options *o = g_opts;
  sfu_req *r = calloc(1, sizeof *r);
  CURL *e = curl_easy_init();
  if (!r || !e || !(r->buf = malloc(SFU_MAX_BODY))) {
    if (r) free(r->buf);
    free(r);
    if (e) curl_easy_cleanup(e);
    return -1;
  }
  r->id = id;
  size_t ulen = strlen(o->sfu_api_base) + strlen(o->sfu_app_id) + strlen(path) + 16;
  char *url = malloc(ulen), *auth = malloc(strlen(o->sfu_app_secret) + 32);
  r->body_out = strdup(body ? body : "");
  if (!url || !auth || !r->body_out) {
    free(url);
    free(auth);
    free(r->body_out);
    free(r->buf);
    free(r);
    curl_easy_cleanup(e);
    return -1;
  }
  snprintf(url, ulen, "%s/v1/apps/%s%s", o->sfu_api_base, o->sfu_app_id, path);
  sprintf(auth, "Authorization: Bearer %s", o->sfu_app_secret);
  r->headers = curl_slist_append(NULL, auth);
  r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
  free(auth);
  curl_easy_setopt(e, CURLOPT_URL, url);
  free(url); /* libcurl copies the URL */
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
    curl_slist_free_all(r->headers);
    free(r->body_out);
    free(r->buf);
    free(r);
    curl_easy_cleanup(e);
    return -1;
  }
  r->easy = e;
  r->next = g_reqs;
  g_reqs = r;
  g_curl_running = 1;
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
  if (r) {
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
    curl_slist_free_all(r->headers);
    free(r->body_out);
    free(r->buf);
    free(r);
  }
}

static void sfu_poll(void) {
  if (!g_curl || !g_curl_running) return;
  int running = 0;
  curl_multi_perform(g_curl, &running);
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(g_curl, &left)))
    if (m->msg == CURLMSG_DONE) sfu_finish(m->easy_handle, m->data.result, 1);
  g_curl_running = running > 0;
}

static void on_tick(lws_sorted_usec_list_t *sul) {
  sfu_poll();
  hm_server_tick(g_srv, wall_ms());
  /* poll faster while SFU calls are outstanding */
  lws_sul_schedule(g_ctx, 0, sul, on_tick, g_curl_running ? 2 * LWS_US_PER_MS : TICK_US);
}

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
  if (g_ctx) lws_cancel_service(g_ctx);
}

static void lws_log_emit(int level, const char *line) {
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
  logf_(level == LLL_ERR ? HM_LOG_ERROR : level == LLL_WARN ? HM_LOG_WARN : HM_LOG_DEBUG, "lws: %.*s", (int)n, line);
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

int main(int argc, char **argv) {
  static options o; /* static: reachable until exit, also on the early-exit paths */
  o.port = 4000;
  o.http_port = -1;
  o.auth_timeout_ms = 30000;
  o.rate_max = 200;
  o.rate_window_ms = 10000;
  o.vp_freshness_s = 300;
  o.keepalive_ms = 30000;
  o.max_connections = 1024;
  o.sfu_timeout_ms = 10000;
  set_str(&o.host, "127.0.0.1");
  set_str(&o.data_dir, "./harmony-data");
  set_str(&o.log_level, "info");
  set_str(&o.sfu_api_base, "https://rtc.live.cloudflare.com");
  const char *env_secret = getenv("HARMONY_SFU_APP_SECRET");
  if (env_secret) set_str(&o.sfu_app_secret, env_secret);

  static const char *const names[] = {"host", "port", "http-port", "data-dir", "config", "log-level",
                                      "auth-timeout-ms", "rate-limit", "vp-freshness-s", "keepalive-ms",
                                      "max-connections", "trusted-issuer", "revoked-credential", "sfu-api-base",
                                      "sfu-app-id", "sfu-app-secret", "sfu-timeout-ms", "version", "help"};
  enum { N_OPTS = sizeof names / sizeof names[0] };
  struct option longopts[N_OPTS + 1];
  for (int i = 0; i < N_OPTS; i++) {
    int flag_only = !strcmp(names[i], "version") || !strcmp(names[i], "help");
    longopts[i] = (struct option){names[i], flag_only ? no_argument : required_argument, NULL, 1000 + i};
  }
  longopts[N_OPTS] = (struct option){NULL, 0, NULL, 0};

  /* pass 1: --help, --version, --config (the file is applied first, flags then win) */
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    if (c == '?' || c == ':') {
      if (optopt >= 1000 || (c == ':'))
        die_usage("option '%s' needs a value", argv[optind - 1]);
      die_usage("unknown option '%s'", argv[optind - 1]);
    }
    const char *name = names[c - 1000];
    if (!strcmp(name, "help")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(name, "version")) {
      printf("harmonyd %s\n", HARMONYD_VERSION);
      return 0;
    }
    if (!strcmp(name, "config")) load_config(&o, optarg);
  }
  if (optind < argc) die_usage("unexpected argument '%s'", argv[optind]);
  optind = 1;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    const char *name = names[c - 1000];
    if (strcmp(name, "config") && strcmp(name, "help") && strcmp(name, "version")) apply(&o, name, optarg);
  }
  g_log_level = !strcmp(o.log_level, "error") ? HM_LOG_ERROR
                : !strcmp(o.log_level, "warn") ? HM_LOG_WARN
                : !strcmp(o.log_level, "debug") ? HM_LOG_DEBUG
                                                 : HM_LOG_INFO;
  if (o.http_port < 0) o.http_port = o.port == 0 ? 0 : o.port + 1;
  if (o.http_port > 65535) die_usage("--http-port default (--port + 1) is out of range; give --http-port");

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
  hm_store *store = NULL;
  const char *why = NULL;
  int rc = hm_store_sqlite_open(&store, path, &why);
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
  if (cfg.sfu_configured) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(g_curl = curl_multi_init())) {
      logf_(HM_LOG_ERROR, "cannot initialise libcurl for the SFU proxy");
      return 1;
    }
    g_opts = &o;
    env.sfu_request = env_sfu_request;
  }
  env.store = store;
  rc = hm_server_new(&g_srv, &cfg, &env);
  if (rc != HM_OK) {
    logf_(HM_LOG_ERROR, "cannot start the server core: %s", hm_strerror(rc));
    hm_store_close(store);
    return 1;
  }

  lws_set_log_level(g_log_level >= HM_LOG_DEBUG ? (LLL_ERR | LLL_WARN | LLL_NOTICE) : LLL_ERR, lws_log_emit);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
  info.port = CONTEXT_PORT_NO_LISTEN;
  g_ctx = lws_create_context(&info);
  if (!g_ctx) {
    logf_(HM_LOG_ERROR, "cannot create the libwebsockets context");
    return 1;
  }
  struct lws_context_creation_info vi;
  memset(&vi, 0, sizeof vi);
  vi.port = (int)o.port;
  vi.iface = o.host;
  vi.protocols = ws_protocols;
  vi.vhost_name = "ws";
  vi.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  struct lws_vhost *vws = lws_create_vhost(g_ctx, &vi);
  if (!vws) {
    logf_(HM_LOG_ERROR, "cannot listen on %s:%ld", o.host, o.port);
    return 1;
  }
  memset(&vi, 0, sizeof vi);
  vi.port = (int)o.http_port;
  vi.iface = o.host;
  vi.protocols = http_protocols;
  vi.vhost_name = "http";
  vi.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  struct lws_vhost *vhttp = lws_create_vhost(g_ctx, &vi);
  if (!vhttp) {
    logf_(HM_LOG_ERROR, "cannot listen on %s:%ld (HTTP)", o.host, o.http_port);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  g_start_ms = wall_ms();
  lws_sul_schedule(g_ctx, 0, &g_tick, on_tick, TICK_US);
  printf("harmonyd ready ws://%s:%d http://%s:%d\n", o.host, lws_get_vhost_listen_port(vws), o.host,
         lws_get_vhost_listen_port(vhttp));
  fflush(stdout);
  logf_(HM_LOG_INFO, "listening (ws %d, http %d), data in %s", lws_get_vhost_listen_port(vws),
        lws_get_vhost_listen_port(vhttp), o.data_dir);

  while (!g_stop)
    if (lws_service(g_ctx, 0) < 0) break;

  /* R-CLOSE-5: close every connection with 1001, let the close frames go out, exit < 1 s */
  logf_(HM_LOG_INFO, "shutting down");
  hm_server_shutdown(g_srv);
  int64_t deadline = wall_ms() + 600;
  while (hm_server_conn_count(g_srv) > 0 && wall_ms() < deadline) lws_service(g_ctx, 0);
  lws_sul_cancel(&g_tick);
  if (g_curl) { /* drop outstanding SFU calls */
    while (g_reqs) sfu_finish(g_reqs->easy, CURLE_OK, 0);
    curl_multi_cleanup(g_curl);
    curl_global_cleanup();
  }
  lws_context_destroy(g_ctx);
  g_ctx = NULL;
  hm_server_free(g_srv);
  hm_store_close(store); /* commits are already durable; this checkpoints the WAL */
  for (size_t i = 0; i < o.n_trusted; i++) free(o.trusted[i]);
  for (size_t i = 0; i < o.n_revoked; i++) free(o.revoked[i]);
  free(o.trusted);
  free(o.revoked);
  free(o.host);
  free(o.data_dir);
  free(o.log_level);
  free(o.sfu_api_base);
  free(o.sfu_app_id);
  free(o.sfu_app_secret);
  close(lockfd);
  return 0;
}
