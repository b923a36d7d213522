/* floor - the send() floor: how fast can one process write WebSocket frames of a given
 * size to N loopback WebSocket connections whose readers drain them, with no protocol
 * work at all? A fanout figure of a server is read against this limit.
 *
 *   floor [--conns N] [--bytes B] [--duration SEC] [--rate R] [--pin]
 *   floor --fsync DIR [--count N] [--bytes B]
 *
 * The process listens on 127.0.0.1:0 and forks a reader child that opens N connections
 * (HTTP/1.1 upgrade, answered with 101), then drains them through epoll, parsing every
 * frame header and counting frames. The parent (the "server") writes one unmasked text
 * frame of B payload bytes to each connection in turn, one send() per frame on a
 * blocking socket (the per-recipient write a broadcasting server does), for SEC seconds.
 * Output: one "# env" line, a CSV header and one row:
 *   workload,conns,frame_payload_bytes,duration_s,frames_written,frames_read,frames_per_s,
 *   MB_per_s,writer_cpu_pct,reader_cpu_pct,frames_per_writer_cpu_s
 * frames_per_s counts frames the reader parsed (= written, checked) over the writer's
 * time; MB = 10^6 bytes of payload; *_cpu_pct are getrusage of each process as % of one
 * core over the same interval; frames_per_writer_cpu_s = frames / writer CPU seconds, the
 * floor per core of sending CPU (the figure to hold a server's deliveries per server CPU
 * second against when the box is shared and the writer did not get a whole core).
 *
 * --rate R (the latency floor): instead of writing as fast as it can, the writer starts one
 * broadcast every 1/R s (the frame to all N connections, in order) and stamps its start time
 * (CLOCK_MONOTONIC, 8 bytes at the head of the payload); the reader takes the time as it
 * parses each frame's header + stamp. Extra columns: rate_per_s and lat_min/p50/p99/max_ms
 * over every (broadcast, connection) pair: the end-to-end latency a server that does nothing
 * but one send() per recipient would show at that offered rate on this machine, measured the
 * way hmload measures a server's (from the send time to the receiver's parse).
 * --writers W: W writer threads, each sending to its own share of the connections in every
 * broadcast (as harmonyd's main and writer threads split a large broadcast); default 1.
 * --pin: writer k runs on CPU k and the reader on CPU W mod CPUs (sched_setaffinity), to show
 * what the scheduler's placement costs; without it all float like a server and hmload do.
 *
 * --fsync DIR (the durability floor): N times (default 200), append B bytes (default 4096)
 * to a fresh file in DIR and fdatasync it, as a SQLite WAL commit does; prints
 * workload=fsync with us_min/p50/p99/max per write+fdatasync. A server that makes every
 * message durable before relaying it (R-DLV-6) cannot deliver faster than this.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef HM_BENCH_FLAGS
#define HM_BENCH_FLAGS "unknown"
#endif

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void fail(const char *what) {
  perror(what);
  exit(1);
}

static void pin_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set)) perror("sched_setaffinity (ignored)");
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* latency samples of the reader (paced mode): bounded, the rest are counted but dropped */
#define MAX_LAT 2000000
static double *g_lat;
static size_t g_nlat;

typedef struct {
  int fd;
  uint8_t hdr[14];
  size_t hlen;   /* header bytes collected */
  uint64_t skip; /* payload bytes still to skip */
  uint8_t stamp[8];
  size_t slen; /* stamp bytes collected at the head of the current payload (paced mode) */
} rconn;

/* header length once the first two bytes are known */
static size_t need_hdr(const uint8_t *h) {
  size_t n = 2, l = h[1] & 127;
  if (l == 126) n += 2;
  if (l == 127) n += 8;
  if (h[1] & 128) n += 4;
  return n;
}

static uint64_t hdr_len(const uint8_t *h) {
  uint64_t l = h[1] & 127;
  if (l == 126) return ((uint64_t)h[2] << 8) | h[3];
  if (l == 127) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | h[2 + i];
    return v;
  }
  return l;
}

/* reader child: connect, upgrade, drain; writes "frames cpu_us" to the pipe at EOF of all
 * (paced: "frames cpu_us nlat min p50 p99 max" with the latencies in microseconds) */
static void reader(int port, int n, int out, int paced) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  rconn *cs = calloc((size_t)n, sizeof *cs);
  int ep = epoll_create1(0);
  if (!cs || ep < 0) fail("reader setup");
  static const char req[] =
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: Zmxvb3ItYmVuY2gta2V5IQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  for (int i = 0; i < n; i++) {
    cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
    if (cs[i].fd < 0 || connect(cs[i].fd, (struct sockaddr *)&a, sizeof a)) fail("reader connect");
    if (write(cs[i].fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) fail("reader write");
    /* read the 101 response up to the blank line, byte-exact so no frame byte is eaten */
    char last4[4] = {0};
    for (;;) {
      char ch;
      if (read(cs[i].fd, &ch, 1) != 1) fail("reader handshake");
      memmove(last4, last4 + 1, 3);
      last4[3] = ch;
      if (!memcmp(last4, "\r\n\r\n", 4)) break;
    }
    int fl = 1;
    setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &fl, sizeof fl);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev)) fail("epoll_ctl");
  }
  double c0 = cpu_us();
  uint64_t frames = 0;
  int open = n;
  static uint8_t buf[1 << 16];
  while (open > 0) {
    struct epoll_event evs[128];
    int k = epoll_wait(ep, evs, 128, 10000);
    if (k <= 0) break; /* bounded: 10 s of silence ends the reader */
    for (int e = 0; e < k; e++) {
      rconn *c = evs[e].data.ptr;
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        open--;
        continue;
      }
      size_t off = 0;
      while (off < (size_t)r) {
        if (c->skip) {
          if (paced && c->slen < 8) { /* the writer's stamp: first 8 payload bytes */
            c->stamp[c->slen++] = buf[off++];
            c->skip--;
            if (c->slen == 8) {
              double t0;
              memcpy(&t0, c->stamp, 8);
              if (g_nlat < MAX_LAT) g_lat[g_nlat++] = now_us() - t0;
            }
            continue;
          }
          size_t t = (size_t)r - off < c->skip ? (size_t)r - off : (size_t)c->skip;
          c->skip -= t;
          off += t;
          continue;
        }
        c->hdr[c->hlen++] = buf[off++];
        if (c->hlen >= 2 && c->hlen == need_hdr(c->hdr)) {
          c->skip = hdr_len(c->hdr);
          c->hlen = 0;
          c->slen = 0;
          frames++;
        }
      }
    }
  }
  double cpu = cpu_us() - c0;
  char msg[256];
  int m;
  if (paced && g_nlat) {
    qsort(g_lat, g_nlat, sizeof *g_lat, cmp_double);
    m = snprintf(msg, sizeof msg, "%llu %.0f %zu %.1f %.1f %.1f %.1f\n", (unsigned long long)frames, cpu, g_nlat,
                 g_lat[0], g_lat[g_nlat / 2], g_lat[g_nlat * 99 / 100], g_lat[g_nlat - 1]);
  } else {
    m = snprintf(msg, sizeof msg, "%llu %.0f\n", (unsigned long long)frames, cpu);
  }
  if (write(out, msg, (size_t)m) != m) fail("pipe");
  _exit(0);
}

/* One writer: connections [lo, hi) of every broadcast. Paced: broadcast k starts at
 * t0 + k/rate in every writer (the same schedule), stamped with the writer's start time. */
typedef struct {
  int *fds;
  long lo, hi;
  uint8_t *frame; /* own copy: the stamp is written into it */
  size_t hl, flen;
  double t0, tend, rate;
  int cpu; /* pin to this CPU, or -1 */
  uint64_t written;
} wjob;

static void *writer_run(void *arg) {
  wjob *j = arg;
  if (j->cpu >= 0) pin_cpu(j->cpu);
  double next = j->t0;
  while (now_us() < j->tend) {
    if (j->rate > 0) { /* paced: sleep to the next start, then stamp it */
      for (double t = now_us(); t < next; t = now_us()) {
        double d = next - t;
        if (d > 200) usleep((useconds_t)(d - 100));
      }
      next += 1e6 / j->rate;
      double stamp = now_us();
      memcpy(j->frame + j->hl, &stamp, 8);
    }
    for (long i = j->lo; i < j->hi; i++) { /* this writer's part of one broadcast */
      size_t off = 0;
      while (off < j->flen) {
        ssize_t w = send(j->fds[i], j->frame + off, j->flen - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail("send");
        off += (size_t)w;
      }
      j->written++;
    }
  }
  return NULL;
}

static void env_line(const char *workload) {
  char date[64];
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  struct utsname u;
  uname(&u);
  printf("# env,date=%s,host=%s,kernel=%s,cores=%ld,workload=%s,gen_build=%s\n", date, u.nodename, u.release,
         sysconf(_SC_NPROCESSORS_ONLN), workload, HM_BENCH_FLAGS);
}

/* --fsync: count x (append bytes, fdatasync) to a fresh file in dir; removed afterwards */
static int fsync_floor(const char *dir, long count, long bytes) {
  if (count < 1 || count > 100000 || bytes < 1 || bytes > (1 << 24)) {
    fprintf(stderr, "floor: --fsync needs --count 1..100000 and --bytes 1..16777216\n");
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/floor-fsync-%ld.tmp", dir, (long)getpid());
  int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    fprintf(stderr, "floor: cannot create %s: %s\n", path, strerror(errno));
    return 1;
  }
  char *page = calloc(1, (size_t)bytes);
  double *us = calloc((size_t)count, sizeof *us);
  if (!page || !us) fail("calloc");
  int rc = 0;
  for (long i = 0; i < count && !rc; i++) {
    memset(page, (int)(i & 0xff), (size_t)bytes);
    double t = now_us();
    if (write(fd, page, (size_t)bytes) != (ssize_t)bytes || fdatasync(fd)) {
      fprintf(stderr, "floor: write/fdatasync on %s: %s\n", path, strerror(errno));
      rc = 1;
    }
    us[i] = now_us() - t;
  }
  close(fd);
  unlink(path);
  if (!rc) {
    qsort(us, (size_t)count, sizeof *us, cmp_double);
    env_line("fsync");
    printf("workload,dir,bytes_per_write,count,us_min,us_p50,us_p99,us_max\n");
    printf("fsync,%s,%ld,%ld,%.1f,%.1f,%.1f,%.1f\n", dir, bytes, count, us[0], us[count / 2], us[count * 99 / 100],
           us[count - 1]);
  }
  free(page);
  free(us);
  return rc;
}

int main(int argc, char **argv) {
  long n = 1000, bytes = -1, count = 200;
  double dur = 5, rate = 0;
  int pin = 0, writers = 1;
  const char *fsync_dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--conns") && i + 1 < argc) n = strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--bytes") && i + 1 < argc) bytes = strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--duration") && i + 1 < argc) dur = strtod(argv[++i], NULL);
    else if (!strcmp(argv[i], "--rate") && i + 1 < argc) rate = strtod(argv[++i], NULL);
    else if (!strcmp(argv[i], "--pin")) pin = 1;
    else if (!strcmp(argv[i], "--writers") && i + 1 < argc) writers = (int)strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--fsync") && i + 1 < argc) fsync_dir = argv[++i];
    else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = strtol(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "usage: floor [--conns N] [--bytes B] [--duration SEC] [--rate R] [--writers W] [--pin]\n"
                      "       floor --fsync DIR [--count N] [--bytes B]\n");
      return 2;
    }
  }
  if (fsync_dir) return fsync_floor(fsync_dir, count, bytes < 0 ? 4096 : bytes);
  if (bytes < 0) bytes = 715;
  if (n < 1 || n > 15000 || bytes < 1 || bytes > 1000000 || dur <= 0 || dur > 600 || rate < 0 || rate > 100000 ||
      writers < 1 || writers > 8 || writers > n) {
    fprintf(stderr, "floor: conns 1..15000, bytes 1..1000000, duration 0..600, rate 0..100000, writers 1..8 (<= conns)\n");
    return 2;
  }
  if (rate > 0 && bytes < 8) {
    fprintf(stderr, "floor: --rate needs --bytes >= 8 (the payload carries the send time)\n");
    return 2;
  }
  if (rate > 0 && !(g_lat = malloc(MAX_LAT * sizeof *g_lat))) fail("malloc");
  struct rlimit rl;
  if (!getrlimit(RLIMIT_NOFILE, &rl)) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  socklen_t al = sizeof a;
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096) ||
      getsockname(ls, (struct sockaddr *)&a, &al))
    fail("listen");
  int pfd[2];
  if (pipe(pfd)) fail("pipe");
  pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    close(pfd[0]);
    close(ls);
    if (pin) pin_cpu(writers % (int)sysconf(_SC_NPROCESSORS_ONLN));
    reader(ntohs(a.sin_port), (int)n, pfd[1], rate > 0);
  }
  close(pfd[1]);
  int *fds = calloc((size_t)n, sizeof *fds);
  if (!fds) fail("calloc");
  static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: x\r\n\r\n";
  for (long i = 0; i < n; i++) {
    fds[i] = accept(ls, NULL, NULL);
    if (fds[i] < 0) fail("accept");
    char hb[1024];
    size_t got = 0;
    while (got < 4 || memcmp(hb + got - 4, "\r\n\r\n", 4)) {
      ssize_t r = read(fds[i], hb + got, 1);
      if (r != 1 || ++got >= sizeof hb) fail("handshake");
    }
    if (write(fds[i], resp, sizeof resp - 1) != (ssize_t)(sizeof resp - 1)) fail("write 101");
    int one = 1;
    setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  /* one frame: FIN|text, 16-bit or 64-bit length, unmasked payload of 'x' */
  size_t hl = bytes < 126 ? 2 : bytes < 65536 ? 4 : 10;
  uint8_t *frame = malloc(hl + (size_t)bytes);
  if (!frame) fail("malloc");
  frame[0] = 0x81;
  if (hl == 2) frame[1] = (uint8_t)bytes;
  else if (hl == 4) {
    frame[1] = 126;
    frame[2] = (uint8_t)(bytes >> 8);
    frame[3] = (uint8_t)bytes;
  } else {
    frame[1] = 127;
    for (int i = 0; i < 8; i++) frame[2 + i] = (uint8_t)((uint64_t)bytes >> (8 * (7 - i)));
  }
  memset(frame + hl, 'x', (size_t)bytes);
  size_t flen = hl + (size_t)bytes;
  double c0 = cpu_us(), t0 = now_us();
  wjob jobs[8];
  pthread_t thr[8];
  for (int w = 0; w < writers; w++) {
    jobs[w] = (wjob){.fds = fds, .lo = n * w / writers, .hi = n * (w + 1) / writers, .hl = hl, .flen = flen,
                     .t0 = t0, .tend = t0 + dur * 1e6, .rate = rate, .cpu = pin ? w : -1};
    if (!(jobs[w].frame = malloc(flen))) fail("malloc");
    memcpy(jobs[w].frame, frame, flen);
    if (w > 0 && pthread_create(&thr[w], NULL, writer_run, &jobs[w])) fail("pthread_create");
  }
  writer_run(&jobs[0]);
  uint64_t written = jobs[0].written;
  for (int w = 1; w < writers; w++) {
    pthread_join(thr[w], NULL);
    written += jobs[w].written;
  }
  for (int w = 0; w < writers; w++) free(jobs[w].frame);
  double wall = now_us() - t0, wcpu = cpu_us() - c0;
  for (long i = 0; i < n; i++) close(fds[i]);
  char msg[256] = {0};
  ssize_t r = read(pfd[0], msg, sizeof msg - 1);
  int st;
  waitpid(child, &st, 0);
  unsigned long long rframes = 0, nlat = 0;
  double rcpu = 0, lmin = 0, l50 = 0, l99 = 0, lmax = 0;
  if (r <= 0 || sscanf(msg, "%llu %lf %llu %lf %lf %lf %lf", &rframes, &rcpu, &nlat, &lmin, &l50, &l99, &lmax) <
                    (rate > 0 ? 7 : 2)) {
    fprintf(stderr, "floor: reader gave no result\n");
    return 1;
  }
  env_line(rate > 0 ? "floor-latency" : "floor");
  if (rate > 0) {
    printf("workload,conns,frame_payload_bytes,duration_s,rate_per_s,writers,pinned,frames_written,frames_read,writer_cpu_pct,"
           "reader_cpu_pct,lat_min_ms,lat_p50_ms,lat_p99_ms,lat_max_ms\n");
    printf("floor-latency,%ld,%ld,%.2f,%.1f,%d,%d,%llu,%llu,%.1f,%.1f,%.3f,%.3f,%.3f,%.3f\n", n, bytes, wall / 1e6, rate,
           writers, pin,
           (unsigned long long)written, rframes, 100 * wcpu / wall, 100 * rcpu / wall, lmin / 1e3, l50 / 1e3, l99 / 1e3,
           lmax / 1e3);
  } else {
    printf("workload,conns,frame_payload_bytes,duration_s,frames_written,frames_read,frames_per_s,MB_per_s,"
           "writer_cpu_pct,reader_cpu_pct,frames_per_writer_cpu_s\n");
    printf("floor,%ld,%ld,%.2f,%llu,%llu,%.0f,%.1f,%.1f,%.1f,%.0f\n", n, bytes, wall / 1e6, (unsigned long long)written,
           rframes, (double)rframes / (wall / 1e6), (double)rframes * (double)bytes / wall, 100 * wcpu / wall,
           100 * rcpu / wall, wcpu > 0 ? (double)rframes / (wcpu / 1e6) : 0.0);
  }
  free(g_lat);
  free(fds);
  free(frame);
  return rframes == written ? 0 : 3;
}
