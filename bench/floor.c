/* floor - the send() floor: how fast can one process write WebSocket frames of a given
 * size to N loopback WebSocket connections whose readers drain them, with no protocol
 * work at all? A fanout figure of a server is read against this limit.
 *
 *   floor [--conns N] [--bytes B] [--duration SEC]
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

typedef struct {
  int fd;
  uint8_t hdr[14];
  size_t hlen;   /* header bytes collected */
  uint64_t skip; /* payload bytes still to skip */
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

/* reader child: connect, upgrade, drain; writes "frames cpu_us" to the pipe at EOF of all */
static void reader(int port, int n, int out) {
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
          size_t t = (size_t)r - off < c->skip ? (size_t)r - off : (size_t)c->skip;
          c->skip -= t;
          off += t;
          continue;
        }
        c->hdr[c->hlen++] = buf[off++];
        if (c->hlen >= 2 && c->hlen == need_hdr(c->hdr)) {
          c->skip = hdr_len(c->hdr);
          c->hlen = 0;
          frames++;
        }
      }
    }
  }
  double cpu = cpu_us() - c0;
  char msg[64];
  int m = snprintf(msg, sizeof msg, "%llu %.0f\n", (unsigned long long)frames, cpu);
  if (write(out, msg, (size_t)m) != m) fail("pipe");
  _exit(0);
}

int main(int argc, char **argv) {
  long n = 1000, bytes = 715;
  double dur = 5;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--conns") && i + 1 < argc) n = strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--bytes") && i + 1 < argc) bytes = strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--duration") && i + 1 < argc) dur = strtod(argv[++i], NULL);
    else {
      fprintf(stderr, "usage: floor [--conns N] [--bytes B] [--duration SEC]\n");
      return 2;
    }
  }
  if (n < 1 || n > 15000 || bytes < 1 || bytes > 1000000 || dur <= 0 || dur > 600) {
    fprintf(stderr, "floor: conns 1..15000, bytes 1..1000000, duration 0..600\n");
    return 2;
  }
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
    reader(ntohs(a.sin_port), (int)n, pfd[1]);
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
  double c0 = cpu_us(), t0 = now_us(), tend = t0 + dur * 1e6;
  uint64_t written = 0;
  while (now_us() < tend) {
    for (long i = 0; i < n; i++) { /* one "broadcast": the frame to every connection */
      size_t off = 0;
      while (off < flen) {
        ssize_t w = send(fds[i], frame + off, flen - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail("send");
        off += (size_t)w;
      }
      written++;
    }
  }
  double wall = now_us() - t0, wcpu = cpu_us() - c0;
  for (long i = 0; i < n; i++) close(fds[i]);
  char msg[128] = {0};
  ssize_t r = read(pfd[0], msg, sizeof msg - 1);
  int st;
  waitpid(child, &st, 0);
  unsigned long long rframes = 0;
  double rcpu = 0;
  if (r <= 0 || sscanf(msg, "%llu %lf", &rframes, &rcpu) != 2) {
    fprintf(stderr, "floor: reader gave no result\n");
    return 1;
  }
  char date[64];
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  struct utsname u;
  uname(&u);
  printf("# env,date=%s,host=%s,kernel=%s,cores=%ld,workload=floor,gen_build=%s\n", date, u.nodename, u.release,
         sysconf(_SC_NPROCESSORS_ONLN), HM_BENCH_FLAGS);
  printf("workload,conns,frame_payload_bytes,duration_s,frames_written,frames_read,frames_per_s,MB_per_s,"
         "writer_cpu_pct,reader_cpu_pct,frames_per_writer_cpu_s\n");
  printf("floor,%ld,%ld,%.2f,%llu,%llu,%.0f,%.1f,%.1f,%.1f,%.0f\n", n, bytes, wall / 1e6, (unsigned long long)written,
         rframes, (double)rframes / (wall / 1e6), (double)rframes * (double)bytes / wall, 100 * wcpu / wall,
         100 * rcpu / wall, wcpu > 0 ? (double)rframes / (wcpu / 1e6) : 0.0);
  free(fds);
  free(frame);
  return rframes == written ? 0 : 3;
}
