/* hmload - a C load generator for Harmony servers (any ws:// URL: harmonyd, upstream).
 *
 * One process, one thread, one epoll loop, and a minimal WebSocket client of its own
 * (RFC 6455 client side: HTTP/1.1 upgrade, masked frames with an all-zero mask key,
 * fragmented and control frames from the server). It reports its own CPU use
 * (getrusage) beside every result so that a run in which the generator is the limit is
 * visible. Logins use VPs made with libharmony just before the run (fresh proof.created,
 * one new did:key identity per VP), each presented once, so a server with a freshness
 * window and a replay cache accepts them.
 *
 *   hmload --url ws://127.0.0.1:PORT [--server-pid PID] [--info TEXT] [--no-header] WORKLOAD [options]
 *
 * Workloads (each prints one "# env" line, a CSV header and result rows; see bench/README.md):
 *   login   --conc C --count N [--warmup W]
 *   fanout  --members N --senders S (--rate MSGS_PER_S | --window W) --duration SEC [--join-conc J]
 *   history --messages M --fetch K --fetches F [--api history|sync] [--store-window W] [--store-rate R]
 *   mem     --conns N [--settle SEC]              (needs --server-pid)
 *   ceiling [--iters N]                           (login crypto ceiling, libsodium, no server)
 *
 * All loops are bounded (counts, durations and a hard deadline per phase). Loopback only:
 * the URL host must be a numeric IPv4 address.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "harmony/alloc.h"
#include "harmony/did.h"
#include "harmony/json.h"
#include "harmony/vc.h"

#ifndef HM_BENCH_FLAGS
#define HM_BENCH_FLAGS "unknown"
#endif

/* ---- small utilities ---------------------------------------------------------------- */

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "hmload: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) die("out of memory");
  return q;
}

static void *xcalloc(size_t n, size_t sz) {
  void *q = calloc(n ? n : 1, sz ? sz : 1);
  if (!q) die("out of memory");
  return q;
}

static void iso_now(char buf[32]) {
  if (hm_iso8601_format(buf, wall_ms())) snprintf(buf, 32, "1970-01-01T00:00:00.000Z");
}

/* CPU of this process (user+sys) in µs */
static double self_cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static long g_server_pid = 0;

/* CPU of the server process (utime+stime from /proc/PID/stat) in µs, or -1 */
static double server_cpu_us(void) {
  if (g_server_pid <= 0) return -1;
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", g_server_pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  /* fields after ')' start at field 3 (state); utime is field 14, stime 15 */
  unsigned long long ut = 0, st = 0;
  int field = 2;
  for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
    field++;
    if (field == 14) ut = strtoull(tok, NULL, 10);
    if (field == 15) {
      st = strtoull(tok, NULL, 10);
      break;
    }
  }
  return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS / VmHWM of the server in kB, or -1 */
static long server_status_kb(const char *key) {
  if (g_server_pid <= 0) return -1;
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", g_server_pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long v = -1;
  size_t kl = strlen(key);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, key, kl) && line[kl] == ':') {
      v = strtol(line + kl + 1, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

/* whole machine: busy and total jiffies from the first line of /proc/stat */
static void box_jiffies(double *busy, double *total) {
  *busy = *total = 0;
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return;
  unsigned long long v[10] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                 &v[5], &v[6], &v[7], &v[8], &v[9]);
  fclose(f);
  if (n < 5) return;
  for (int i = 0; i < 8; i++) *total += (double)v[i]; /* guest time is already in user */
  *busy = *total - (double)v[3] - (double)v[4];         /* minus idle and iowait */
}

typedef struct {
  double wall0, cpu0, srv0, box_busy0, box_total0;
} usage_mark;

static double g_box_busy_pct = -1; /* of all cores, over the last usage_end interval */
static double g_srv_cpu_s = -1;    /* server CPU seconds over the last usage_end interval */

static usage_mark usage_start(void) {
  usage_mark m = {now_us(), self_cpu_us(), server_cpu_us(), 0, 0};
  box_jiffies(&m.box_busy0, &m.box_total0);
  return m;
}

/* percent of one core over the interval, or -1 for the server when unknown */
static void usage_end(const usage_mark *m, double *gen_pct, double *srv_pct) {
  double wall = now_us() - m->wall0;
  if (wall <= 0) wall = 1;
  *gen_pct = 100.0 * (self_cpu_us() - m->cpu0) / wall;
  double s = server_cpu_us();
  *srv_pct = (s < 0 || m->srv0 < 0) ? -1 : 100.0 * (s - m->srv0) / wall;
  g_srv_cpu_s = (s < 0 || m->srv0 < 0) ? -1 : (s - m->srv0) / 1e6;
  double b, t;
  box_jiffies(&b, &t);
  g_box_busy_pct = t > m->box_total0 ? 100.0 * (b - m->box_busy0) / (t - m->box_total0) : -1;
}

/* count per server CPU second, or -1 when the server's CPU is unknown */
static double per_srv_cpu_s(double count) { return g_srv_cpu_s > 0 ? count / g_srv_cpu_s : -1; }

/* ---- latency histogram: 0.5 % log buckets, exact min/max ------------------------------ */

#define HIST_N 4096
typedef struct {
  uint64_t b[HIST_N];
  uint64_t n;
  double min, max;
} hist;

static void hist_init(hist *h) {
  memset(h, 0, sizeof *h);
  h->min = 1e300;
}

static void hist_add(hist *h, double us) {
  if (us < 0) us = 0;
  int i = (int)(log1p(us) / log(1.005));
  if (i >= HIST_N) i = HIST_N - 1;
  h->b[i]++;
  h->n++;
  if (us < h->min) h->min = us;
  if (us > h->max) h->max = us;
}

/* value (µs) at quantile q: the upper edge of the bucket, clamped to [min,max] */
static double hist_q(const hist *h, double q) {
  if (!h->n) return 0;
  uint64_t want = (uint64_t)ceil(q * (double)h->n);
  if (want < 1) want = 1;
  uint64_t acc = 0;
  for (int i = 0; i < HIST_N; i++) {
    acc += h->b[i];
    if (acc >= want) {
      double v = expm1((double)(i + 1) * log(1.005));
      if (v > h->max) v = h->max;
      if (v < h->min) v = h->min;
      return v;
    }
  }
  return h->max;
}

#define MS(h, q) (hist_q((h), (q)) / 1000.0)

/* ---- minimal WebSocket client over epoll -------------------------------------------- */

enum { C_FREE, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSED };

typedef struct conn conn;
typedef void (*msg_fn)(conn *c, const char *data, size_t len);
typedef void (*state_fn)(conn *c);

struct conn {
  int fd, state, out_armed;
  uint8_t *rb;
  size_t rlen, rcap;
  uint8_t *wb;
  size_t wlen, woff, wcap;
  uint8_t *fb; /* fragmented message being assembled */
  size_t flen, fcap;
  int in_frag;
  double t_connect, t_open;
  msg_fn on_msg;
  state_fn on_open, on_close;
  /* workload state */
  unsigned gen; /* bumped by close and start: a callback may recycle the conn */
  int idx, role, phase;
  int inflight;
  uint64_t n_sent;
  void *user;
};

static int g_ep = -1;
static struct sockaddr_in g_addr;
static char g_host[64], g_hostport[96], g_path[256] = "/";
static const char *g_url = NULL;
static uint64_t g_conn_failures = 0;

static void url_parse(const char *url) {
  const char *p = url;
  if (strncmp(p, "ws://", 5)) die("URL must start with ws:// (got %s)", url);
  p += 5;
  const char *colon = strchr(p, ':');
  const char *slash = strchr(p, '/');
  if (!colon || (slash && slash < colon)) die("URL needs an explicit port: %s", url);
  size_t hl = (size_t)(colon - p);
  if (hl >= sizeof g_host) die("host too long");
  memcpy(g_host, p, hl);
  g_host[hl] = 0;
  long port = strtol(colon + 1, NULL, 10);
  if (port <= 0 || port > 65535) die("bad port in %s", url);
  if (slash) snprintf(g_path, sizeof g_path, "%s", slash);
  memset(&g_addr, 0, sizeof g_addr);
  g_addr.sin_family = AF_INET;
  g_addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, g_host, &g_addr.sin_addr) != 1) die("host must be a numeric IPv4 address: %s", g_host);
  snprintf(g_hostport, sizeof g_hostport, "%s:%ld", g_host, port);
}

static void ep_mod(conn *c, int want_out) {
  if (c->fd < 0 || c->out_armed == want_out) return;
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->out_armed = want_out;
}

static void conn_close(conn *c) {
  if (c->fd >= 0) {
    close(c->fd); /* also leaves the epoll set: the descriptor is not shared */
    c->fd = -1;
  }
  int was = c->state;
  c->gen++;
  c->state = C_CLOSED;
  c->rlen = c->wlen = c->woff = c->flen = 0;
  c->in_frag = 0;
  c->out_armed = 0;
  if (was != C_CLOSED && c->on_close) c->on_close(c);
}

static void conn_flush(conn *c) {
  if (c->state == C_CONNECTING || c->fd < 0) return;
  while (c->woff < c->wlen) {
    ssize_t n = send(c->fd, c->wb + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
    if (n > 0) {
      c->woff += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      ep_mod(c, 1);
      return;
    }
    g_conn_failures++;
    conn_close(c);
    return;
  }
  c->woff = c->wlen = 0;
  ep_mod(c, 0);
}

static void wbuf_reserve(conn *c, size_t extra) {
  if (c->woff && c->woff == c->wlen) c->woff = c->wlen = 0;
  if (c->wlen + extra > c->wcap) {
    size_t cap = c->wcap ? c->wcap : 4096;
    while (cap < c->wlen + extra) cap *= 2;
    c->wb = xrealloc(c->wb, cap);
    c->wcap = cap;
  }
}

/* queue one client frame (FIN, masked with the all-zero key, so payload bytes are unchanged) */
static void ws_queue(conn *c, int opcode, const void *data, size_t len) {
  wbuf_reserve(c, len + 14);
  uint8_t *h = c->wb + c->wlen;
  size_t hl = 0;
  h[hl++] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    h[hl++] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    h[hl++] = 0x80 | 126;
    h[hl++] = (uint8_t)(len >> 8);
    h[hl++] = (uint8_t)len;
  } else {
    h[hl++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--) h[hl++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  memset(h + hl, 0, 4);
  hl += 4;
  memcpy(h + hl, data, len);
  c->wlen += hl + len;
}

static void ws_send_text(conn *c, const char *s, size_t len) {
  if (c->state != C_OPEN) return;
  ws_queue(c, 1, s, len);
  conn_flush(c);
}

/* send a close frame (1000) and drop the socket without waiting for the reply */
static void ws_close_now(conn *c) {
  if (c->state == C_OPEN) {
    const uint8_t code[2] = {0x03, 0xe8};
    ws_queue(c, 8, code, 2);
    conn_flush(c);
  }
  conn_close(c);
}

static void conn_start_now(conn *c) {
  c->rlen = c->wlen = c->woff = c->flen = 0;
  c->in_frag = 0;
  c->out_armed = 0;
  c->gen++;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket: %s", strerror(errno));
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->t_connect = now_us();
  int r = connect(c->fd, (struct sockaddr *)&g_addr, sizeof g_addr);
  if (r < 0 && errno != EINPROGRESS) {
    g_conn_failures++;
    close(c->fd);
    c->fd = -1;
    c->state = C_CLOSED;
    if (c->on_close) c->on_close(c);
    return;
  }
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: aG1sb2FkLWJlbmNoLWtleQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   g_path, g_hostport);
  wbuf_reserve(c, (size_t)n);
  memcpy(c->wb + c->wlen, req, (size_t)n);
  c->wlen += (size_t)n;
  if (r == 0) { /* connected at once (usual on loopback): send the upgrade now, no EPOLLOUT round */
    c->state = C_HANDSHAKE;
    ssize_t w = send(c->fd, c->wb, c->wlen, MSG_NOSIGNAL);
    if (w > 0) c->woff = (size_t)w;
    if (c->woff == c->wlen) c->woff = c->wlen = 0;
  } else {
    c->state = C_CONNECTING;
  }
  int want_out = c->state == C_CONNECTING || c->wlen > 0;
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &ev)) die("epoll_ctl: %s", strerror(errno));
  c->out_armed = want_out;
}

/* Starting is deferred to the next pump(): a callback may recycle its conn while an
 * older event for the same conn is still pending in the current epoll batch. */
static conn **g_startq;
static size_t g_startq_n, g_startq_cap;

static void conn_start(conn *c) {
  c->gen++;
  c->fd = -1;
  c->state = C_FREE;
  if (g_startq_n == g_startq_cap) {
    g_startq_cap = g_startq_cap ? g_startq_cap * 2 : 256;
    g_startq = xrealloc(g_startq, g_startq_cap * sizeof *g_startq);
  }
  g_startq[g_startq_n++] = c;
}

static void deliver(conn *c, int opcode, const uint8_t *p, size_t len, int fin) {
  if (opcode >= 8) {
    if (opcode == 9) { /* ping -> pong */
      ws_queue(c, 10, p, len);
      conn_flush(c);
    } else if (opcode == 8) {
      conn_close(c);
    }
    return;
  }
  if (opcode != 0 && fin && !c->in_frag) {
    if (c->on_msg) c->on_msg(c, (const char *)p, len);
    return;
  }
  if (opcode != 0) c->flen = 0;
  if (c->flen + len > c->fcap) {
    size_t cap = c->fcap ? c->fcap : 8192;
    while (cap < c->flen + len) cap *= 2;
    c->fb = xrealloc(c->fb, cap);
    c->fcap = cap;
  }
  memcpy(c->fb + c->flen, p, len);
  c->flen += len;
  c->in_frag = !fin;
  if (fin) {
    if (c->on_msg) c->on_msg(c, (const char *)c->fb, c->flen);
    c->flen = 0;
  }
}

static void conn_parse(conn *c) {
  size_t off = 0;
  unsigned gen = c->gen;
  if (c->state == C_HANDSHAKE) {
    uint8_t *end = memmem(c->rb, c->rlen, "\r\n\r\n", 4);
    if (!end) return;
    if (c->rlen < 12 || memcmp(c->rb, "HTTP/1.1 101", 12)) {
      g_conn_failures++;
      conn_close(c);
      return;
    }
    off = (size_t)(end - c->rb) + 4;
    c->state = C_OPEN;
    c->t_open = now_us();
    if (c->on_open) c->on_open(c);
    if (c->gen != gen || c->state != C_OPEN) return;
  }
  while (c->state == C_OPEN) {
    size_t avail = c->rlen - off;
    if (avail < 2) break;
    const uint8_t *h = c->rb + off;
    int fin = h[0] >> 7, opcode = h[0] & 15, masked = h[1] >> 7;
    uint64_t len = h[1] & 127;
    size_t hl = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = ((uint64_t)h[2] << 8) | h[3];
      hl = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i];
      hl = 10;
    }
    if (masked) hl += 4;
    if (len > (1u << 30)) {
      conn_close(c);
      return;
    }
    if (avail < hl + len) break;
    uint8_t *pl = c->rb + off + hl;
    if (masked)
      for (uint64_t i = 0; i < len; i++) pl[i] ^= h[hl - 4 + (i & 3)];
    off += hl + (size_t)len;
    deliver(c, opcode, pl, (size_t)len, fin);
    if (c->gen != gen) return;
  }
  if (c->state == C_CLOSED) return;
  if (off) {
    memmove(c->rb, c->rb + off, c->rlen - off);
    c->rlen -= off;
  }
}

static void conn_readable(conn *c) {
  unsigned gen = c->gen;
  for (int rounds = 0; rounds < 16 && c->fd >= 0 && c->gen == gen; rounds++) {
    if (c->rcap - c->rlen < 16384) {
      size_t cap = c->rcap ? c->rcap * 2 : 65536;
      while (cap - c->rlen < 16384) cap *= 2;
      c->rb = xrealloc(c->rb, cap);
      c->rcap = cap;
    }
    ssize_t n = recv(c->fd, c->rb + c->rlen, c->rcap - c->rlen, 0);
    if (n > 0) {
      c->rlen += (size_t)n;
      conn_parse(c);
      if ((size_t)n < 16384 || c->gen != gen) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    conn_close(c); /* EOF or error */
    return;
  }
}

/* one epoll round, waiting at most timeout_ms */
static void pump(int timeout_ms) {
  struct epoll_event evs[256];
  for (size_t i = 0; i < g_startq_n; i++) conn_start_now(g_startq[i]);
  if (g_startq_n) timeout_ms = 0;
  g_startq_n = 0;
  int n = epoll_wait(g_ep, evs, 256, timeout_ms);
  for (int i = 0; i < n; i++) {
    conn *c = evs[i].data.ptr;
    if (c->fd < 0) continue;
    if (c->state == C_CONNECTING && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      int err = 0;
      socklen_t el = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
      if (err) {
        g_conn_failures++;
        conn_close(c);
        continue;
      }
      c->state = C_HANDSHAKE;
      conn_flush(c);
      if (c->fd < 0) continue;
    }
    unsigned gen = c->gen;
    if (evs[i].events & EPOLLOUT) conn_flush(c);
    if (c->gen == gen && c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) conn_readable(c);
  }
}

/* ---- identities and login frames ----------------------------------------------------- */

typedef struct {
  char did[HM_DIDKEY_MAX];
  char *login; /* the sync.state envelope carrying a fresh VP */
  size_t login_len;
} ident;

/* A new did:key identity and a login frame: a VP (fresh created) holding one
 * self-issued IdentityAssertion VC, inside a sync.state envelope with sender = holder. */
static void ident_make(ident *out, int serial) {
  uint8_t seed[32];
  randombytes_buf(seed, sizeof seed);
  hm_identity id;
  memset(&id, 0, sizeof id);
  if (hm_identity_from_seed32(&id, seed)) die("identity");
  sodium_memzero(seed, sizeof seed);
  int64_t t = wall_ms();
  hm_json *claims = NULL, *cred = NULL, *vp = NULL, *creds = hm_json_new_array();
  if (!creds || hm_json_parse(&claims, "{\"type\":\"IdentityAssertion\"}", 28, 0, NULL)) die("claims");
  hm_vc_issue_params ip;
  memset(&ip, 0, sizeof ip);
  ip.issuer_did = id.did;
  ip.issuer_seed = id.seed32;
  ip.subject_did = id.did;
  ip.type = "IdentityAssertion";
  ip.claims = claims;
  ip.now_ms = t;
  if (hm_vc_issue(&cred, &ip) || hm_json_array_append(creds, cred)) die("vc issue");
  if (hm_vp_create(&vp, id.did, id.seed32, creds, NULL, t)) die("vp create");
  char *vps = NULL;
  size_t vpl = 0;
  if (hm_json_stringify(&vps, &vpl, vp)) die("vp stringify");
  char ts[32];
  iso_now(ts);
  size_t cap = vpl + strlen(id.did) + 160;
  out->login = xcalloc(1, cap);
  int n = snprintf(out->login, cap, "{\"id\":\"bench-login-%d-%08x\",\"type\":\"sync.state\",\"timestamp\":\"%s\",\"sender\":\"%s\",\"payload\":%s}",
                   serial, randombytes_random(), ts, id.did, vps);
  if (n < 0 || (size_t)n >= cap) die("login frame");
  out->login_len = (size_t)n;
  snprintf(out->did, sizeof out->did, "%s", id.did);
  hm_free(vps);
  hm_json_free(vp);
  hm_json_free(creds);
  hm_json_free(claims);
  hm_identity_clear(&id);
}

static ident *idents_make(size_t n, double *us_each) {
  ident *v = xcalloc(n, sizeof *v);
  double t0 = now_us();
  for (size_t i = 0; i < n; i++) ident_make(&v[i], (int)i);
  if (us_each) *us_each = n ? (now_us() - t0) / (double)n : 0;
  return v;
}

static void idents_free(ident *v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i].login);
  free(v);
}

static int is_auth_ok(const char *d, size_t n) {
  return memmem(d, n, "\"sync.response\"", 15) && memmem(d, n, "\"authenticated\":true", 20);
}

static int is_error(const char *d, size_t n) {
  return memmem(d, n, "\"type\":\"error\"", 14) || memmem(d, n, "\"auth.token.expired\"", 20);
}

/* ---- output --------------------------------------------------------------------------- */

static const char *g_info = "";
static int g_header = 1;

static void print_env(const char *workload) {
  char date[32];
  iso_now(date);
  struct utsname u;
  uname(&u);
  printf("# env,date=%s,host=%s,kernel=%s,cores=%ld,workload=%s,server=%s,server_pid=%ld,%s,gen_build=%s\n", date,
         u.nodename, u.release, sysconf(_SC_NPROCESSORS_ONLN), workload, g_url ? g_url : "-", g_server_pid,
         g_info[0] ? g_info : "server_info=unknown", HM_BENCH_FLAGS);
}

static void header(const char *h) {
  if (g_header) printf("%s\n", h);
}

/* ---- options ---------------------------------------------------------------------------- */

typedef struct {
  long conc, count, warmup;
  long members, senders, window, join_conc;
  double rate, duration;
  long messages, fetch, fetches, store_window;
  double store_rate;
  const char *api;
  long conns;
  double settle;
  long iters;
} opts;

static long arg_long(const char *v, const char *name, long lo, long hi) {
  char *e;
  long x = strtol(v, &e, 10);
  if (*e || x < lo || x > hi) die("%s must be an integer in %ld..%ld", name, lo, hi);
  return x;
}

static double arg_double(const char *v, const char *name, double lo, double hi) {
  char *e;
  double x = strtod(v, &e);
  if (*e || x < lo || x > hi) die("%s must be a number in %g..%g", name, lo, hi);
  return x;
}

/* ---- login workload ----------------------------------------------------------------------- */

static struct {
  ident *ids;
  long next, total, done, ok, failed, warm;
  hist lat, open;
} L;

static void login_next(conn *c);

static void login_msg(conn *c, const char *d, size_t n) {
  if (c->phase != 1) return;
  if (is_auth_ok(d, n)) {
    long k = L.done++;
    if (k >= L.warm) {
      hist_add(&L.lat, now_us() - c->t_connect);
      hist_add(&L.open, c->t_open - c->t_connect);
      L.ok++;
    }
    c->phase = 2;
    ws_close_now(c);
  } else if (is_error(d, n)) {
    long k = L.done++;
    if (k >= L.warm) L.failed++;
    if (L.failed <= 3) fprintf(stderr, "hmload: login refused: %.*s\n", (int)(n > 300 ? 300 : n), d);
    c->phase = 2;
    ws_close_now(c);
  }
}

static void login_open(conn *c) {
  ident *id = &L.ids[c->idx];
  c->phase = 1;
  ws_send_text(c, id->login, id->login_len);
}

static void login_closed(conn *c) {
  if (c->phase == 1) { /* closed before an answer */
    long k = L.done++;
    if (k >= L.warm) L.failed++;
  }
  c->phase = 0;
  login_next(c);
}

static void login_next(conn *c) {
  if (L.next >= L.total) return;
  c->idx = (int)L.next++;
  c->phase = 0;
  conn_start(c);
}

static int run_login(const opts *o) {
  long total = o->count + o->warmup;
  double gen_us = 0;
  fprintf(stderr, "hmload: generating %ld fresh VPs...\n", total);
  memset(&L, 0, sizeof L);
  L.ids = idents_make((size_t)total, &gen_us);
  L.total = total;
  L.warm = o->warmup;
  hist_init(&L.lat);
  hist_init(&L.open);
  conn *cs = xcalloc((size_t)o->conc, sizeof *cs);
  print_env("login");
  header("workload,server,concurrency,logins,ok,failed,duration_s,logins_per_s,lat_min_ms,lat_p50_ms,lat_p99_ms,"
         "lat_max_ms,open_p50_ms,vp_gen_us_each,gen_cpu_pct,server_cpu_pct,box_busy_pct,logins_per_server_cpu_s");
  usage_mark um = {0};
  double t_meas = 0;
  for (long i = 0; i < o->conc; i++) {
    cs[i].fd = -1;
    cs[i].on_msg = login_msg;
    cs[i].on_open = login_open;
    cs[i].on_close = login_closed;
    login_next(&cs[i]);
  }
  int measuring = 0;
  double deadline = now_us() + 600e6;
  while (L.done < total && now_us() < deadline) {
    if (!measuring && L.done >= L.warm) {
      measuring = 1;
      um = usage_start();
      t_meas = now_us();
    }
    pump(50);
  }
  double dur = (now_us() - t_meas) / 1e6, gp, sp;
  usage_end(&um, &gp, &sp);
  for (long i = 0; i < o->conc; i++)
    if (cs[i].fd >= 0) {
      cs[i].on_close = NULL;
      conn_close(&cs[i]);
    }
  printf("login,%s,%ld,%ld,%ld,%ld,%.3f,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f,%.0f,%.1f,%.1f,%.1f,%.0f\n", g_url, o->conc, o->count, L.ok,
         L.failed + (o->count - (L.ok + L.failed)), dur, (double)L.ok / dur, L.lat.min / 1000, MS(&L.lat, 0.5),
         MS(&L.lat, 0.99), L.lat.max / 1000, MS(&L.open, 0.5), gen_us, gp, sp, g_box_busy_pct,
         per_srv_cpu_s((double)L.ok));
  for (long i = 0; i < o->conc; i++) {
    free(cs[i].rb);
    free(cs[i].wb);
    free(cs[i].fb);
  }
  free(cs);
  idents_free(L.ids, (size_t)total);
  return L.failed ? 3 : 0;
}

/* ---- community setup shared by fanout and history ---------------------------------- */

static struct {
  char cid[300], chid[300];
  int got;
  long members_joined, members_failed;
  long join_next, join_total;
  ident *ids;
  long n_idents;
  conn *cs;
} S;

static int json_get_str(json_t *o, const char *k, char *out, size_t cap) {
  json_t *v = json_object_get(o, k);
  if (!json_is_string(v) || strlen(json_string_value(v)) >= cap) return -1;
  snprintf(out, cap, "%s", json_string_value(v));
  return 0;
}

static void owner_msg(conn *c, const char *d, size_t n) {
  if (c->phase == 1 && is_auth_ok(d, n)) {
    char ts[32], buf[512];
    iso_now(ts);
    int k = snprintf(buf, sizeof buf,
                     "{\"id\":\"bench-create-%08x\",\"type\":\"community.create\",\"timestamp\":\"%s\",\"sender\":\"%s\","
                     "\"payload\":{\"name\":\"bench-%08x\"}}",
                     randombytes_random(), ts, S.ids[c->idx].did, randombytes_random());
    c->phase = 2;
    ws_send_text(c, buf, (size_t)k);
  } else if (c->phase == 1 && is_error(d, n)) {
    die("owner login refused: %.*s", (int)(n > 300 ? 300 : n), d);
  } else if (c->phase == 2 && memmem(d, n, "\"community.updated\"", 19)) {
    json_t *j = json_loadb(d, n, 0, NULL);
    json_t *p = j ? json_object_get(j, "payload") : NULL;
    json_t *ch = p ? json_object_get(p, "channels") : NULL;
    json_t *c0 = json_is_array(ch) ? json_array_get(ch, 0) : NULL;
    if (!p || json_get_str(p, "communityId", S.cid, sizeof S.cid) || !c0 ||
        json_get_str(c0, "id", S.chid, sizeof S.chid))
      die("community.updated without communityId/channel: %.*s", (int)(n > 300 ? 300 : n), d);
    json_decref(j);
    S.got = 1;
    c->phase = 3;
  } else if (c->phase == 2 && is_error(d, n)) {
    die("community.create refused: %.*s", (int)(n > 300 ? 300 : n), d);
  }
}

static void owner_open(conn *c) {
  c->phase = 1;
  ws_send_text(c, S.ids[c->idx].login, S.ids[c->idx].login_len);
}

/* member: login, then community.join, then phase 3 (joined) */
static void member_join_next(void);

static void member_msg_setup(conn *c, const char *d, size_t n) {
  if (c->phase == 1 && is_auth_ok(d, n)) {
    char ts[32], buf[700];
    iso_now(ts);
    int k = snprintf(buf, sizeof buf,
                     "{\"id\":\"bench-join-%d-%08x\",\"type\":\"community.join\",\"timestamp\":\"%s\",\"sender\":\"%s\","
                     "\"payload\":{\"communityId\":\"%s\",\"membershipVC\":{}}}",
                     c->idx, randombytes_random(), ts, S.ids[c->idx].did, S.cid);
    c->phase = 2;
    ws_send_text(c, buf, (size_t)k);
  } else if ((c->phase == 1 || c->phase == 2) && is_error(d, n)) {
    if (S.members_failed++ < 3) fprintf(stderr, "hmload: member setup refused: %.*s\n", (int)(n > 300 ? 300 : n), d);
    c->phase = 9;
    member_join_next();
  } else if (c->phase == 2 && memmem(d, n, "\"community.updated\"", 19) && memmem(d, n, S.cid, strlen(S.cid))) {
    c->phase = 3;
    S.members_joined++;
    member_join_next();
  }
}

static void member_open(conn *c) {
  c->phase = 1;
  ws_send_text(c, S.ids[c->idx].login, S.ids[c->idx].login_len);
}

static void member_closed(conn *c) {
  if (c->phase < 3) {
    S.members_failed++;
    c->phase = 9;
    member_join_next();
  }
}

static void member_join_next(void) {
  if (S.join_next >= S.join_total) return;
  conn *c = &S.cs[S.join_next];
  c->idx = (int)(S.join_next + 1); /* ids[0] is the owner */
  S.join_next++;
  c->phase = 0;
  conn_start(c);
}

/* Owner creates a community (and leaves); n members log in and join, jc at a time.
 * members use S.ids[1..n]; S.cs[0..n) are their connections. Returns setup seconds. */
static double community_setup(long n, long jc, msg_fn steady_msg) {
  double t0 = now_us();
  memset(&S, 0, sizeof S);
  fprintf(stderr, "hmload: generating %ld fresh VPs...\n", n + 1);
  S.n_idents = n + 1;
  S.ids = idents_make((size_t)(n + 1), NULL);
  conn owner;
  memset(&owner, 0, sizeof owner);
  owner.fd = -1;
  owner.idx = 0;
  owner.on_msg = owner_msg;
  owner.on_open = owner_open;
  conn_start(&owner);
  double dl = now_us() + 30e6;
  while (!S.got && now_us() < dl && owner.state != C_CLOSED) pump(50);
  if (!S.got) die("community.create: no reply");
  ws_close_now(&owner);
  free(owner.rb);
  free(owner.wb);
  free(owner.fb);
  S.cs = xcalloc((size_t)n, sizeof *S.cs);
  S.join_total = n;
  for (long i = 0; i < n; i++) {
    S.cs[i].fd = -1;
    S.cs[i].on_msg = member_msg_setup;
    S.cs[i].on_open = member_open;
    S.cs[i].on_close = member_closed;
  }
  for (long i = 0; i < jc && i < n; i++) member_join_next();
  dl = now_us() + 900e6;
  double last = now_us();
  long last_n = 0;
  while (S.members_joined + S.members_failed < n && now_us() < dl) {
    pump(50);
    if (S.members_joined != last_n) {
      last_n = S.members_joined;
      last = now_us();
    } else if (now_us() - last > 30e6) {
      break;
    }
  }
  if (S.members_joined < n) die("only %ld of %ld members joined (%ld failed)", S.members_joined, n, S.members_failed);
  for (long i = 0; i < n; i++) {
    S.cs[i].on_msg = steady_msg;
    S.cs[i].on_close = NULL;
  }
  /* let join broadcasts drain: wait for 300 ms of quiet (bounded by 60 s) */
  double q0 = now_us();
  for (;;) {
    struct epoll_event ev[1];
    (void)ev;
    double before = now_us();
    pump(300);
    if (now_us() - before >= 290e3 || now_us() - q0 > 60e6) break;
  }
  return (now_us() - t0) / 1e6;
}

/* ---- fanout workload ------------------------------------------------------------------ */

static struct {
  long n_recv, n_send, window;
  uint64_t max_msgs, sent, delivered, lost, dup, errors, echoes;
  uint8_t *bits; /* n_recv x max_msgs */
  uint16_t *owner; /* gid -> sender index */
  hist lat;
  double t_first_send, t_last_deliv, run_tag;
  int sending;
  char b64[256];
  unsigned run;
  size_t frame_bytes;
  uint64_t n_sent_paced;
} F;

static int64_t scan_int(const char *d, size_t n, const char *key) {
  size_t kl = strlen(key);
  const char *p = memmem(d, n, key, kl);
  if (!p) return -1;
  p += kl;
  const char *e = d + n;
  int64_t v = 0;
  int any = 0;
  while (p < e && *p >= '0' && *p <= '9') {
    v = v * 10 + (*p - '0');
    p++;
    any = 1;
  }
  return any ? v : -1;
}

static void fanout_send(conn *c);

static void fanout_msg(conn *c, const char *d, size_t n) {
  if (!memmem(d, n, "\"channel.message\"", 17)) {
    if (is_error(d, n)) {
      if (F.errors++ < 3) fprintf(stderr, "hmload: error frame: %.*s\n", (int)(n > 300 ? 300 : n), d);
      /* a refused send (e.g. RATE_LIMITED) frees its window slot, so a closed loop cannot stall */
      if (c->role == 1 && c->inflight > 0) {
        c->inflight--;
        if (F.window > 0 && F.sending) fanout_send(c);
      }
    }
    return;
  }
  int64_t gid = scan_int(d, n, "\"bseq\":");
  int64_t sent = scan_int(d, n, "\"sentUs\":");
  if (gid < 0 || (uint64_t)gid >= F.sent) return; /* not ours */
  double t = now_us();
  if (c->role == 0) { /* receiver */
    uint64_t bit = (uint64_t)c->idx * F.max_msgs + (uint64_t)gid;
    if (F.bits[bit >> 3] & (1u << (bit & 7))) {
      F.dup++;
      return;
    }
    F.bits[bit >> 3] |= (uint8_t)(1u << (bit & 7));
    F.delivered++;
    if (!F.frame_bytes) F.frame_bytes = n;
    F.t_last_deliv = t;
    if (sent >= 0) hist_add(&F.lat, t - (double)sent);
  } else if (F.owner[gid] == (uint16_t)c->idx) { /* own echo */
    F.echoes++;
    if (c->inflight > 0) c->inflight--;
    if (F.window > 0 && F.sending) fanout_send(c);
  }
}

static void fanout_send(conn *c) {
  if (F.sent >= F.max_msgs || c->state != C_OPEN) return;
  uint64_t gid = F.sent++;
  F.owner[gid] = (uint16_t)c->idx;
  char ts[32], buf[1400];
  iso_now(ts);
  const char *did = S.ids[1 + F.n_recv + c->idx].did;
  uint64_t su = (uint64_t)now_us();
  if (!F.t_first_send) F.t_first_send = (double)su;
  int k = snprintf(buf, sizeof buf,
                   "{\"id\":\"b%08x-%" PRIu64 "\",\"type\":\"channel.send\",\"timestamp\":\"%s\",\"sender\":\"%s\","
                   "\"payload\":{\"communityId\":\"%s\",\"channelId\":\"%s\",\"content\":{\"ciphertext\":"
                   "{\"__type\":\"Uint8Array\",\"data\":\"%s\"},\"epoch\":0,\"senderIndex\":%d,\"run\":%u,"
                   "\"bseq\":%" PRIu64 ",\"sentUs\":%" PRIu64 "},\"nonce\":\"b%08x-%" PRIu64 "\","
                   "\"clock\":{\"counter\":%" PRIu64 ",\"authorDID\":\"%s\"}}}",
                   F.run, gid, ts, did, S.cid, S.chid, F.b64, c->idx, F.run, gid, su, F.run, gid, gid + 1, did);
  c->inflight++;
  c->n_sent++;
  ws_send_text(c, buf, (size_t)k);
}

static int run_fanout(const opts *o) {
  memset(&F, 0, sizeof F);
  F.n_recv = o->members;
  F.n_send = o->senders;
  F.window = o->rate > 0 ? 0 : o->window;
  F.run = randombytes_random();
  hist_init(&F.lat);
  uint8_t ct[128];
  randombytes_buf(ct, sizeof ct);
  sodium_bin2base64(F.b64, sizeof F.b64, ct, sizeof ct, sodium_base64_VARIANT_ORIGINAL);
  /* bound the run: expected messages, capped so the bitmap stays <= 256 MiB */
  double expect = o->rate > 0 ? o->rate * o->duration * 1.2 + 100 : 400000.0;
  uint64_t cap = (uint64_t)(256.0 * 8 * 1024 * 1024 / (double)(o->members ? o->members : 1));
  F.max_msgs = (uint64_t)expect < cap ? (uint64_t)expect : cap;
  if (F.max_msgs > 2000000) F.max_msgs = 2000000;
  F.bits = xcalloc((size_t)((F.max_msgs * (uint64_t)o->members + 7) / 8), 1);
  F.owner = xcalloc((size_t)F.max_msgs, sizeof *F.owner);
  double setup = community_setup(o->members + o->senders, o->join_conc, fanout_msg);
  for (long i = 0; i < o->members + o->senders; i++) {
    conn *c = &S.cs[i];
    c->role = i < o->members ? 0 : 1;
    c->idx = (int)(i < o->members ? i : i - o->members);
    c->inflight = 0;
  }
  conn *snd = S.cs + o->members;
  print_env("fanout");
  header("workload,server,members,senders,mode,offered_msgs_per_s,duration_s,sent_msgs,accepted_msgs_per_s,"
         "delivered_frames,delivered_frames_per_s,lat_min_ms,lat_p50_ms,lat_p99_ms,lat_max_ms,lost,duplicated,"
         "errors,frame_bytes,setup_s,gen_cpu_pct,server_cpu_pct,box_busy_pct,deliveries_per_server_cpu_s");
  usage_mark um = usage_start();
  double t0 = now_us(), tend = t0 + o->duration * 1e6;
  F.sending = 1;
  if (F.window > 0) {
    for (long s = 0; s < o->senders; s++)
      for (long w = 0; w < F.window; w++) fanout_send(&snd[s]);
    while (now_us() < tend && F.sent < F.max_msgs) pump(20);
  } else {
    uint64_t k = 0;
    while (now_us() < tend && F.sent < F.max_msgs) {
      double t = now_us();
      uint64_t due = (uint64_t)((t - t0) / 1e6 * o->rate) + 1;
      while (k < due && F.sent < F.max_msgs) {
        fanout_send(&snd[k % (uint64_t)o->senders]);
        k++;
      }
      double next = t0 + (double)k / o->rate * 1e6;
      int wait = (int)((next - now_us()) / 1000);
      pump(wait < 0 ? 0 : wait > 20 ? 20 : wait);
    }
  }
  F.sending = 0;
  double t_stop = now_us();
  /* drain: until every receiver has every message, or 3 s without progress (max 60 s) */
  uint64_t want = F.sent * (uint64_t)o->members, lastd = F.delivered;
  double lastp = now_us();
  while (F.delivered < want && now_us() - lastp < 3e6 && now_us() - t_stop < 60e6) {
    pump(50);
    if (F.delivered != lastd) {
      lastd = F.delivered;
      lastp = now_us();
    }
  }
  double gp, sp;
  usage_end(&um, &gp, &sp);
  F.lost = want - F.delivered;
  double span = (F.t_last_deliv - F.t_first_send) / 1e6;
  if (span <= 0) span = 1e-9;
  double send_span = (t_stop - t0) / 1e6;
  char mode[64];
  if (o->rate > 0)
    snprintf(mode, sizeof mode, "fixed-rate");
  else
    snprintf(mode, sizeof mode, "closed-loop-w%ld", F.window);
  printf("fanout,%s,%ld,%ld,%s,%.1f,%.2f,%" PRIu64 ",%.1f,%" PRIu64 ",%.0f,%.3f,%.3f,%.3f,%.3f,%" PRIu64 ",%" PRIu64
         ",%" PRIu64 ",%zu,%.1f,%.1f,%.1f,%.1f,%.0f\n",
         g_url, o->members, o->senders, mode, o->rate > 0 ? o->rate : 0.0, send_span, F.sent,
         (double)F.sent / send_span, F.delivered, (double)F.delivered / span, F.lat.min / 1000, MS(&F.lat, 0.5),
         MS(&F.lat, 0.99), F.lat.max / 1000, F.lost, F.dup, F.errors, F.frame_bytes, setup, gp, sp, g_box_busy_pct,
         per_srv_cpu_s((double)F.delivered));
  for (long i = 0; i < o->members + o->senders; i++) {
    if (S.cs[i].fd >= 0) conn_close(&S.cs[i]);
    free(S.cs[i].rb);
    free(S.cs[i].wb);
    free(S.cs[i].fb);
  }
  free(S.cs);
  idents_free(S.ids, (size_t)S.n_idents);
  free(F.bits);
  free(F.owner);
  return (F.lost || F.dup) ? 3 : 0;
}

/* ---- history workload ---------------------------------------------------------------- */

static struct {
  long stored, want_store, window;
  int waiting;
  double t_req;
  char *resp;
  size_t resp_len;
  char last_id[128];
  int is_sync;
  int64_t last_gid;
  double rate; /* store pacing in msgs/s, 0 = closed loop only */
} Hh;

static void hist_store_send(conn *c) {
  if (F.sent >= (uint64_t)Hh.want_store || Hh.rate > 0) return; /* paced stores are sent by run_history */
  fanout_send(c);
}

static void history_msg(conn *c, const char *d, size_t n) {
  if (memmem(d, n, "\"channel.message\"", 17)) {
    int64_t gid = scan_int(d, n, "\"bseq\":");
    if (gid >= 0 && (uint64_t)gid < F.sent) {
      Hh.stored++;
      Hh.last_gid = gid;
      if (c->inflight > 0) c->inflight--;
      if (Hh.window) hist_store_send(c);
    }
    return;
  }
  if (Hh.waiting &&
      (memmem(d, n, Hh.is_sync ? "\"sync.response\"" : "\"channel.history.response\"", Hh.is_sync ? 15 : 26) ||
       is_error(d, n))) {
    free(Hh.resp);
    Hh.resp = xrealloc(NULL, n + 1);
    memcpy(Hh.resp, d, n);
    Hh.resp[n] = 0;
    Hh.resp_len = n;
    Hh.waiting = 0;
  } else if (is_error(d, n)) {
    if (F.errors++ < 3) fprintf(stderr, "hmload: error frame: %.*s\n", (int)(n > 300 ? 300 : n), d);
    if (Hh.window && c->inflight > 0) c->inflight--; /* a refused store (e.g. RATE_LIMITED) frees its slot */
  }
}

/* one request; returns the parsed reply (caller decrefs) or NULL on timeout */
static json_t *history_request(conn *c, const char *type, json_t *payload, size_t *bytes) {
  char ts[32];
  iso_now(ts);
  json_t *env = json_pack("{s:s,s:s,s:s,s:s,s:O}", "id", "", "type", type, "timestamp", ts, "sender",
                          S.ids[1].did, "payload", payload);
  char idb[64];
  snprintf(idb, sizeof idb, "bench-hist-%08x", randombytes_random());
  json_object_set_new(env, "id", json_string(idb));
  char *s = json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(env);
  Hh.waiting = 1;
  ws_send_text(c, s, strlen(s));
  free(s);
  double dl = now_us() + 60e6;
  while (Hh.waiting && now_us() < dl && c->state == C_OPEN) pump(50);
  if (Hh.waiting) return NULL;
  *bytes += Hh.resp_len;
  return json_loadb(Hh.resp, Hh.resp_len, 0, NULL);
}

static int run_history(const opts *o) {
  memset(&F, 0, sizeof F);
  memset(&Hh, 0, sizeof Hh);
  F.n_recv = 0;
  F.n_send = 1;
  F.window = 0;
  F.run = randombytes_random();
  F.max_msgs = (uint64_t)o->messages;
  F.bits = xcalloc(1, 1);
  F.owner = xcalloc((size_t)o->messages + 1, sizeof *F.owner);
  uint8_t ct[128];
  randombytes_buf(ct, sizeof ct);
  sodium_bin2base64(F.b64, sizeof F.b64, ct, sizeof ct, sodium_base64_VARIANT_ORIGINAL);
  Hh.is_sync = !strcmp(o->api, "sync");
  double setup = community_setup(1, 1, history_msg);
  conn *c = &S.cs[0];
  c->role = 1;
  c->idx = 0;
  /* store: closed loop with a window, each message acked by its echo */
  Hh.want_store = o->messages;
  Hh.window = o->store_window;
  Hh.rate = o->store_rate;
  double ts0 = now_us();
  for (long w = 0; w < o->store_window; w++) hist_store_send(c);
  double dl = now_us() + 1800e6, lastp = now_us();
  long lasts = 0;
  while (Hh.stored < o->messages && now_us() < dl && c->state == C_OPEN) {
    if (Hh.rate > 0) { /* paced: at most rate msgs/s and window in flight; refused ones are re-sent */
      uint64_t due = (uint64_t)((now_us() - ts0) / 1e6 * Hh.rate) + 1;
      while ((uint64_t)Hh.stored + (uint64_t)c->inflight < (uint64_t)o->messages && c->inflight < Hh.window &&
             F.n_sent_paced < due) {
        if (F.sent >= F.max_msgs) { /* a refused message keeps its id slot; grow the id space */
          F.max_msgs *= 2;
          F.owner = xrealloc(F.owner, (size_t)F.max_msgs * sizeof *F.owner);
        }
        fanout_send(c);
        F.n_sent_paced++;
      }
      pump(5);
    } else {
      pump(50);
    }
    if (Hh.stored != lasts) {
      lasts = Hh.stored;
      lastp = now_us();
    } else if (now_us() - lastp > 10e6) {
      break;
    }
  }
  double store_rate = (double)Hh.stored / ((now_us() - ts0) / 1e6);
  if (Hh.stored < o->messages) die("stored only %ld of %ld messages", Hh.stored, o->messages);
  Hh.window = 0;
  char newest_id[96];
  snprintf(newest_id, sizeof newest_id, "b%08x-%" PRId64, F.run, Hh.last_gid);
  print_env("history");
  header("workload,server,api,stored_msgs,store_msgs_per_s,fetch_msgs,fetches,pages_per_fetch,bytes_per_fetch,"
         "returned_per_fetch,newest_ok,ms_min,ms_p50,ms_p99,ms_max,setup_s,gen_cpu_pct,server_cpu_pct,box_busy_pct");
  hist h;
  hist_init(&h);
  long pages = 0, returned = 0, newest_ok = 1;
  size_t bytes = 0;
  usage_mark um = usage_start();
  for (long rep = 0; rep < o->fetches + 1; rep++) { /* first fetch is a warm-up */
    double t0 = now_us();
    long got = 0, pg = 0;
    size_t by = 0;
    char before[128] = "";
    json_t *clock = NULL;
    int first_page = 1;
    while (got < o->fetch && pg < 10000) {
      json_t *p = json_pack("{s:s,s:s,s:I}", "communityId", S.cid, "channelId", S.chid, "limit",
                            (json_int_t)(o->fetch - got));
      if (Hh.is_sync && clock) json_object_set(p, "clock", clock);
      if (!Hh.is_sync && before[0]) json_object_set_new(p, "before", json_string(before));
      json_t *r = history_request(c, Hh.is_sync ? "sync.request" : "channel.history", p, &by);
      json_decref(p);
      pg++;
      if (!r) die("history request timed out");
      json_t *pl = json_object_get(r, "payload");
      json_t *msgs = pl ? json_object_get(pl, "messages") : NULL;
      if (!json_is_array(msgs)) die("history reply without messages: %.300s", Hh.resp);
      size_t k = json_array_size(msgs);
      got += (long)k;
      if (first_page && !Hh.is_sync && k) { /* the newest page must end with the newest message */
        json_t *last = json_array_get(msgs, k - 1);
        const char *lid = json_string_value(json_object_get(last, "id"));
        if (!lid || strcmp(lid, newest_id)) newest_ok = 0;
      }
      first_page = 0;
      json_t *hm = json_object_get(pl, "hasMore");
      int more = hm ? json_is_true(hm) : (k > 0);
      if (k && !Hh.is_sync) {
        const char *fid = json_string_value(json_object_get(json_array_get(msgs, 0), "id"));
        snprintf(before, sizeof before, "%s", fid ? fid : "");
      }
      if (Hh.is_sync) {
        json_decref(clock);
        clock = json_incref(json_object_get(pl, "latestClock"));
      }
      json_decref(r);
      if (!k || !more) break;
    }
    json_decref(clock);
    double ms = (now_us() - t0) / 1000;
    if (rep > 0) {
      hist_add(&h, ms * 1000);
      pages += pg;
      bytes += by;
      returned += got;
    }
    for (int i = 0; i < 4; i++) pump(50); /* 200 ms apart, as upstream's baseline */
  }
  double gp, sp;
  usage_end(&um, &gp, &sp);
  long f = o->fetches ? o->fetches : 1;
  printf("history,%s,%s,%ld,%.0f,%ld,%ld,%.1f,%zu,%ld,%s,%.3f,%.3f,%.3f,%.3f,%.1f,%.1f,%.1f,%.1f\n", g_url, o->api, Hh.stored,
         store_rate, o->fetch, o->fetches, (double)pages / (double)f, bytes / (size_t)f, returned / f,
         Hh.is_sync ? "n/a" : (newest_ok ? "1" : "0"), h.min / 1000, MS(&h, 0.5), MS(&h, 0.99), h.max / 1000, setup, gp,
         sp, g_box_busy_pct);
  if (c->fd >= 0) conn_close(c);
  free(c->rb);
  free(c->wb);
  free(c->fb);
  free(S.cs);
  idents_free(S.ids, (size_t)S.n_idents);
  free(F.bits);
  free(F.owner);
  free(Hh.resp);
  return 0;
}

/* ---- memory workload -------------------------------------------------------------------- */

static struct {
  ident *ids;
  long next, total, ok, failed;
  conn *cs;
  long conc_cap;
  long active;
} M;

static void mem_next(void);

static void mem_msg(conn *c, const char *d, size_t n) {
  if (c->phase != 1) return;
  if (is_auth_ok(d, n)) {
    c->phase = 2;
    M.ok++;
    M.active--;
    mem_next();
  } else if (is_error(d, n)) {
    c->phase = 9;
    if (M.failed++ < 3) fprintf(stderr, "hmload: login refused: %.*s\n", (int)(n > 300 ? 300 : n), d);
    M.active--;
    ws_close_now(c);
    mem_next();
  }
}

static void mem_open(conn *c) {
  c->phase = 1;
  ws_send_text(c, M.ids[c->idx].login, M.ids[c->idx].login_len);
}

static void mem_closed(conn *c) {
  if (c->phase < 2) {
    M.failed++;
    M.active--;
    c->phase = 9;
    mem_next();
  }
}

static void mem_next(void) {
  while (M.active < M.conc_cap && M.next < M.total) {
    conn *c = &M.cs[M.next];
    c->idx = (int)M.next++;
    c->fd = -1;
    c->on_msg = mem_msg;
    c->on_open = mem_open;
    c->on_close = mem_closed;
    M.active++;
    conn_start(c);
  }
}

static void sleep_pumping(double sec) {
  double end = now_us() + sec * 1e6;
  while (now_us() < end) pump(50);
}

static int run_mem(const opts *o) {
  if (g_server_pid <= 0) die("mem needs --server-pid");
  memset(&M, 0, sizeof M);
  M.total = o->conns;
  M.conc_cap = 64;
  fprintf(stderr, "hmload: generating %ld fresh VPs...\n", o->conns);
  M.ids = idents_make((size_t)o->conns, NULL);
  M.cs = xcalloc((size_t)o->conns, sizeof *M.cs);
  print_env("mem");
  header("workload,server,conns,ok,failed,rss_idle_kb,rss_conns_kb,per_conn_kb,rss_after_close_kb,hwm_kb,setup_s,"
         "gen_cpu_pct,server_cpu_pct");
  long idle = server_status_kb("VmRSS");
  usage_mark um = usage_start();
  double t0 = now_us();
  mem_next();
  double dl = now_us() + 900e6;
  while (M.ok + M.failed < M.total && now_us() < dl) pump(50);
  double setup = (now_us() - t0) / 1e6;
  double gp, sp;
  usage_end(&um, &gp, &sp);
  sleep_pumping(o->settle);
  long with = server_status_kb("VmRSS");
  long hwm = server_status_kb("VmHWM");
  for (long i = 0; i < M.total; i++) {
    M.cs[i].on_close = NULL;
    if (M.cs[i].fd >= 0) ws_close_now(&M.cs[i]);
  }
  sleep_pumping(o->settle);
  long after = server_status_kb("VmRSS");
  printf("mem,%s,%ld,%ld,%ld,%ld,%ld,%.2f,%ld,%ld,%.1f,%.1f,%.1f\n", g_url, o->conns, M.ok, M.failed, idle, with,
         M.ok ? (double)(with - idle) / (double)M.ok : 0.0, after, hwm, setup, gp, sp);
  for (long i = 0; i < M.total; i++) {
    free(M.cs[i].rb);
    free(M.cs[i].wb);
    free(M.cs[i].fb);
  }
  free(M.cs);
  idents_free(M.ids, (size_t)M.total);
  return M.failed ? 3 : 0;
}

/* ---- login crypto ceiling ---------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The signature work one VP login needs on the server: verify the VP's and the VC's
 * Ed25519 signatures over their real signing inputs, and sign one session token
 * (R-TOK-1: ~100-byte JSON). Timed with libsodium directly, no JSON or protocol work. */
static int run_ceiling(const opts *o) {
  uint8_t seed[32];
  randombytes_buf(seed, sizeof seed);
  hm_identity id;
  memset(&id, 0, sizeof id);
  if (hm_identity_from_seed32(&id, seed)) die("identity");
  int64_t t = wall_ms();
  hm_json *claims = NULL, *cred = NULL, *vp = NULL, *creds = hm_json_new_array();
  if (!creds || hm_json_parse(&claims, "{\"type\":\"IdentityAssertion\"}", 28, 0, NULL)) die("claims");
  hm_vc_issue_params ip;
  memset(&ip, 0, sizeof ip);
  ip.issuer_did = id.did;
  ip.issuer_seed = id.seed32;
  ip.subject_did = id.did;
  ip.type = "IdentityAssertion";
  ip.claims = claims;
  ip.now_ms = t;
  if (hm_vc_issue(&cred, &ip) || hm_json_array_append(creds, hm_json_clone(cred))) die("vc");
  if (hm_vp_create(&vp, id.did, id.seed32, creds, NULL, t)) die("vp");
  char *vin = NULL, *cin = NULL;
  size_t vl = 0, cl = 0;
  if (hm_proof_signing_input(&vin, &vl, vp) || hm_proof_signing_input(&cin, &cl, cred)) die("signing input");
  uint8_t vsig[64], csig[64], tsig[64];
  crypto_sign_detached(vsig, NULL, (const uint8_t *)vin, vl, id.ed_sk64);
  crypto_sign_detached(csig, NULL, (const uint8_t *)cin, cl, id.ed_sk64);
  char tok[200];
  int tl = snprintf(tok, sizeof tok, "{\"did\":\"%s\",\"iat\":%lld,\"exp\":%lld}", id.did, (long long)t,
                    (long long)t + 604800000LL);
  long iters = o->iters, per = 20;
  double *s = xcalloc((size_t)iters, sizeof *s);
  int bad = 0;
  for (long i = 0; i < iters; i++) {
    double t0 = now_us();
    for (long k = 0; k < per; k++) {
      bad |= crypto_sign_verify_detached(vsig, (const uint8_t *)vin, vl, id.ed_pk);
      bad |= crypto_sign_verify_detached(csig, (const uint8_t *)cin, cl, id.ed_pk);
      crypto_sign_detached(tsig, NULL, (const uint8_t *)tok, (size_t)tl, id.ed_sk64);
    }
    s[i] = (now_us() - t0) / (double)per;
  }
  if (bad) die("signature did not verify");
  qsort(s, (size_t)iters, sizeof *s, cmp_d);
  print_env("ceiling");
  header("workload,impl,verifies_per_login,signs_per_login,vp_input_bytes,vc_input_bytes,us_min,us_p50,us_p99,us_max,"
         "logins_per_s_per_core");
  double p50 = s[iters / 2];
  printf("ceiling,libsodium-%s,2,1,%zu,%zu,%.2f,%.2f,%.2f,%.2f,%.0f\n", sodium_version_string(), vl, cl, s[0], p50,
         s[(size_t)((double)iters * 0.99)], s[iters - 1], 1e6 / p50);
  free(s);
  hm_free(vin);
  hm_free(cin);
  hm_json_free(vp);
  hm_json_free(cred);
  hm_json_free(creds);
  hm_json_free(claims);
  hm_identity_clear(&id);
  return 0;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void usage(void) {
  fprintf(stderr,
          "usage: hmload --url ws://HOST:PORT [--server-pid PID] [--info TEXT] [--no-header] WORKLOAD [options]\n"
          "  login   --conc C --count N [--warmup W]\n"
          "  fanout  --members N --senders S (--rate MSGS_PER_S | --window W) --duration SEC [--join-conc J]\n"
          "  history --messages M --fetch K --fetches F [--api history|sync] [--store-window W] [--store-rate R]\n"
          "  mem     --conns N [--settle SEC]\n"
          "  ceiling [--iters N]\n");
  exit(2);
}

int main(int argc, char **argv) {
  opts o = {.conc = 1, .count = 300, .warmup = 50, .members = 100, .senders = 1, .window = 4, .join_conc = 16,
            .rate = 0, .duration = 8, .messages = 1000, .fetch = 1000, .fetches = 10, .store_window = 8,
            .api = "history", .conns = 1000, .settle = 3, .iters = 500};
  const char *workload = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV                                \
  do {                                       \
    if (!v) die("%s needs a value", a);      \
    i++;                                     \
  } while (0)
    if (!strcmp(a, "--url")) { NEEDV; g_url = v; }
    else if (!strcmp(a, "--server-pid")) { NEEDV; g_server_pid = arg_long(v, a, 0, 1L << 30); }
    else if (!strcmp(a, "--info")) { NEEDV; g_info = v; }
    else if (!strcmp(a, "--no-header")) g_header = 0;
    else if (!strcmp(a, "--conc")) { NEEDV; o.conc = arg_long(v, a, 1, 4096); }
    else if (!strcmp(a, "--count")) { NEEDV; o.count = arg_long(v, a, 1, 1000000); }
    else if (!strcmp(a, "--warmup")) { NEEDV; o.warmup = arg_long(v, a, 0, 100000); }
    else if (!strcmp(a, "--members")) { NEEDV; o.members = arg_long(v, a, 1, 20000); }
    else if (!strcmp(a, "--senders")) { NEEDV; o.senders = arg_long(v, a, 1, 1000); }
    else if (!strcmp(a, "--window")) { NEEDV; o.window = arg_long(v, a, 1, 1000); }
    else if (!strcmp(a, "--join-conc")) { NEEDV; o.join_conc = arg_long(v, a, 1, 1024); }
    else if (!strcmp(a, "--rate")) { NEEDV; o.rate = arg_double(v, a, 0.01, 1e7); }
    else if (!strcmp(a, "--duration")) { NEEDV; o.duration = arg_double(v, a, 0.1, 600); }
    else if (!strcmp(a, "--messages")) { NEEDV; o.messages = arg_long(v, a, 1, 1000000); }
    else if (!strcmp(a, "--fetch")) { NEEDV; o.fetch = arg_long(v, a, 1, 1000000); }
    else if (!strcmp(a, "--fetches")) { NEEDV; o.fetches = arg_long(v, a, 1, 10000); }
    else if (!strcmp(a, "--store-window")) { NEEDV; o.store_window = arg_long(v, a, 1, 1000); }
    else if (!strcmp(a, "--api")) { NEEDV; o.api = v; }
    else if (!strcmp(a, "--store-rate")) { NEEDV; o.store_rate = arg_double(v, a, 1, 1e6); }
    else if (!strcmp(a, "--conns")) { NEEDV; o.conns = arg_long(v, a, 1, 60000); }
    else if (!strcmp(a, "--settle")) { NEEDV; o.settle = arg_double(v, a, 0, 600); }
    else if (!strcmp(a, "--iters")) { NEEDV; o.iters = arg_long(v, a, 10, 10000000); }
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage();
    else if (a[0] != '-' && !workload) workload = a;
    else die("unknown argument %s", a);
#undef NEEDV
  }
  if (!workload) usage();
  if (sodium_init() < 0) die("sodium_init");
  if (strcmp(o.api, "history") && strcmp(o.api, "sync")) die("--api is history or sync");
  if (!strcmp(workload, "ceiling")) return run_ceiling(&o);
  if (!g_url) die("--url is required");
  url_parse(g_url);
  struct rlimit rl;
  if (!getrlimit(RLIMIT_NOFILE, &rl)) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  if (g_ep < 0) die("epoll_create1");
  int rc = 2;
  if (!strcmp(workload, "login")) rc = run_login(&o);
  else if (!strcmp(workload, "fanout")) rc = run_fanout(&o);
  else if (!strcmp(workload, "history")) rc = run_history(&o);
  else if (!strcmp(workload, "mem")) rc = run_mem(&o);
  else usage();
  fflush(stdout);
  if (g_conn_failures) fprintf(stderr, "hmload: %" PRIu64 " connection failures\n", g_conn_failures);
  return rc;
}
