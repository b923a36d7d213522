/* harmony - the reference command-line client.
 *
 * A thin shell: libwebsockets owns the socket (default poll loop, permessage-deflate off),
 * SQLite holds the local state under --home, and everything protocol-related is done by the
 * sans-I/O client core (harmony/client.h). Every subcommand is run as a short list of
 * script commands by the same engine that `harmony script` drives from stdin. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <sodium.h>
#include <sqlite3.h>

#include "harmony/alloc.h"
#include "harmony/bip39.h"
#include "harmony/codec.h"
#include "harmony/client.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/json.h"

#define CMD_MAX 256

/* W_FLUSH: until the command's frame (and any DM held for its peer's key announcement) has
 * been written, then a short window in which an error frame answering it fails it. */
typedef enum { W_NONE, W_READY, W_TYPE_AFTER, W_MESSAGE_ID, W_FLUSH } wait_kind;

typedef struct {
  hm_json *cmds[CMD_MAX]; /* pending script commands (owned) */
  size_t ncmds;
  hm_json *cur;           /* the command being run (owned) */
  wait_kind wk;
  char wait_type[64];
  char wait_id[64];
  char wait_match_key[32];
  char wait_match_val[300];
  int64_t deadline;
} engine_cmds;

typedef struct {
  /* options */
  char home[1024];
  char server[512];
  int json;
  int script;
  int64_t timeout_ms;
  int64_t listen_ms; /* listen: stop after this long (0 = until SIGINT) */
  int listening;
  char passfile[1024]; /* --passphrase-file: the identity is sealed with Argon2id */
  int no_kp;           /* --no-key-package: no automatic key package upload */
  int show_events;     /* print arriving frames (a one-shot voice command's --for) */
  char voice_session[160]; /* last voice.session.created sessionId of this connection */
  /* state */
  sqlite3 *db;
  hm_identity id;
  hm_client *cl;
  struct lws_context *ctx;
  struct lws *wsi;
  int connecting, want_connection, drop, done, exit_code, stdin_eof;
  int64_t reconnect_at, hold_until;
  lws_sorted_usec_list_t sul;
  char *rx;
  size_t rx_len;
  char inbuf[65536];
  size_t inlen;
  engine_cmds e;
} app;

static app A;
static volatile sig_atomic_t g_stop;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static int64_t env_now(void *ctx) {
  (void)ctx;
  return now_ms();
}
static void env_rand(void *ctx, uint8_t *b, size_t n) {
  (void)ctx;
  hm_random_bytes(b, n);
}

static void die(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "harmony: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(code);
}

/* ---- output ----------------------------------------------------------------------- */

static void print_json(hm_json *o) {
  char *s = NULL;
  size_t n = 0;
  if (hm_json_stringify(&s, &n, o) == HM_OK) {
    fwrite(s, 1, n, stdout);
    fputc('\n', stdout);
    fflush(stdout);
  }
  hm_free(s);
  hm_json_free(o);
}

static const char *e2e_name(hm_client_e2e e) {
  switch (e) {
    case HM_CLIENT_E2E_PLAINTEXT: return "plaintext";
    case HM_CLIENT_E2E_DECRYPTED: return "decrypted";
    case HM_CLIENT_E2E_FAILED: return "failed";
    case HM_CLIENT_E2E_PENDING: return "pending";
    case HM_CLIENT_E2E_KEY_MISMATCH: return "key-mismatch";
    case HM_CLIENT_E2E_DOWNGRADE: return "downgrade";
    default: return "none";
  }
}

static void setstr(hm_json *o, const char *k, const char *v) {
  if (v) (void)hm_json_object_setc(o, k, hm_json_new_cstr(v));
}

/* A result line for the current command. */
static hm_json *result_new(int ok) {
  hm_json *o = hm_json_new_object();
  const char *cmd = A.e.cur ? hm_json_string(hm_json_object_getc(A.e.cur, "cmd"), NULL) : NULL;
  setstr(o, "result", cmd ? cmd : "?");
  const hm_json *seq = A.e.cur ? hm_json_object_getc(A.e.cur, "seq") : NULL;
  if (seq) (void)hm_json_object_setc(o, "seq", hm_json_clone(seq));
  (void)hm_json_object_setc(o, "ok", hm_json_new_bool(ok));
  return o;
}

static void finish_cmd(hm_json *res) {
  int ok = hm_json_kind_of(hm_json_object_getc(res, "ok")) == HM_JSON_TRUE;
  if (A.json || A.script) {
    print_json(res);
  } else {
    /* Human output of the one-shot commands. */
    const hm_json *err = hm_json_object_getc(res, "error");
    if (!ok) {
      const char *code = hm_json_string(hm_json_object_getc(err, "code"), NULL) ?: "ERROR";
      const char *msg = hm_json_string(hm_json_object_getc(err, "message"), NULL) ?: "failed";
      fprintf(stderr, "harmony: %s: %s\n", code, msg);
      if (!strncmp(code, "CF_", 3) && strstr(msg, "not configured"))
        fprintf(stderr, "harmony: the server runs signalling-only (no SFU configured): SFU sessions and tracks are "
                        "unavailable there; peer-to-peer signalling works (harmony voice offer)\n");
    } else {
      const hm_json *h = hm_json_object_getc(res, "human");
      if (h) printf("%s\n", hm_json_string(h, NULL));
      fflush(stdout);
    }
    hm_json_free(res);
  }
  if (!ok && !A.script) {
    /* A one-shot command stops at its first failure. */
    A.exit_code = 1;
    for (size_t i = 0; i < A.e.ncmds; i++) hm_json_free(A.e.cmds[i]);
    A.e.ncmds = 0;
    A.done = 1;
  }
  hm_json_free(A.e.cur);
  A.e.cur = NULL;
  A.e.wk = W_NONE;
}

static void fail_cmd(const char *code, const char *msg) {
  hm_json *r = result_new(0);
  hm_json *e = hm_json_new_object();
  setstr(e, "code", code);
  setstr(e, "message", msg);
  (void)hm_json_object_setc(r, "error", e);
  finish_cmd(r);
}

/* ---- local state (SQLite) ------------------------------------------------------------- */

static void migrate_clear_mnemonic(void);

static void db_open(void) {
  if (mkdir(A.home, 0700) != 0 && errno != EEXIST) die(1, "cannot create %s: %s", A.home, strerror(errno));
  char path[1100];
  snprintf(path, sizeof path, "%s/harmony.db", A.home);
  mode_t old = umask(077);
  if (sqlite3_open(path, &A.db) != SQLITE_OK) die(1, "cannot open %s", path);
  umask(old);
  (void)chmod(path, 0600);
  char *err = NULL;
  if (sqlite3_exec(A.db,
                   "PRAGMA secure_delete=ON;"
                   "PRAGMA journal_mode=WAL;"
                   "CREATE TABLE IF NOT EXISTS identity_seed(k INTEGER PRIMARY KEY CHECK(k=1), seed TEXT NOT NULL, did TEXT NOT NULL);"
                   "CREATE TABLE IF NOT EXISTS identity_sealed(k INTEGER PRIMARY KEY CHECK(k=1), sealed TEXT NOT NULL, did TEXT NOT NULL);"
                   "CREATE TABLE IF NOT EXISTS tokens(server TEXT PRIMARY KEY, token TEXT NOT NULL);"
                   "CREATE TABLE IF NOT EXISTS follows(server TEXT PRIMARY KEY, state TEXT NOT NULL);"
                   "CREATE TABLE IF NOT EXISTS mls(k INTEGER PRIMARY KEY CHECK(k=1), state TEXT NOT NULL);",
                   NULL, NULL, &err) != SQLITE_OK)
    die(1, "database %s: %s", path, err ? err : "error");
  migrate_clear_mnemonic();
}

static int db_get(const char *sql, const char *arg, char *out, size_t cap) {
  sqlite3_stmt *st = NULL;
  int found = 0;
  if (sqlite3_prepare_v2(A.db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
  if (arg) sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    if (t && strlen(t) < cap) {
      strcpy(out, t);
      found = 1;
    }
  }
  sqlite3_finalize(st);
  return found;
}

static void db_put(const char *sql, const char *a, const char *b) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(A.db, sql, -1, &st, NULL) != SQLITE_OK) return;
  if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
  (void)sqlite3_step(st);
  sqlite3_finalize(st);
}

/* The identity store (spec crypto.md R-CRY-KEY-13): only seed32 is kept, never the mnemonic
 * or its entropy. Without a passphrase: table identity_seed, hex of seed32. With
 * --passphrase-file: table identity_sealed, hex of salt16 || nonce24 || XChaCha20-Poly1305
 * (key = Argon2id(passphrase, salt16), libsodium crypto_pwhash "interactive" limits: 64 MiB,
 * 2 passes) of seed32. The database file (and its -wal/-shm files, which SQLite creates with
 * the database's mode) is 0600 in a 0700 directory; deletions overwrite the freed content
 * (PRAGMA secure_delete). Older versions stored the mnemonic (table identity, or sealed in
 * identity_sealed): the first load replaces it by seed32 and wipes it (see
 * migrate_clear_mnemonic and load_identity). */
#define SEALED_MAX (16 + 24 + HM_BIP39_MNEMONIC_MAX + 16)

static void read_passphrase(char *out, size_t cap) {
  FILE *f = fopen(A.passfile, "r");
  if (!f || !fgets(out, (int)cap, f)) die(2, "cannot read the passphrase from %s", A.passfile);
  fclose(f);
  out[strcspn(out, "\r\n")] = 0;
  if (!*out) die(2, "the passphrase in %s is empty", A.passfile);
}

static void seal_key(uint8_t key[32], const char *pass, const uint8_t salt[16]) {
  if (crypto_pwhash(key, 32, pass, strlen(pass), salt, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                    crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
    die(1, "Argon2id failed (out of memory?)");
}

static int db_exec(const char *sql) { return sqlite3_exec(A.db, sql, NULL, NULL, NULL) == SQLITE_OK; }

/* Write seed32 for did (replacing any stored identity), sealed when a passphrase file is
 * given, then push the change out of the WAL so no older page survives in it. */
static void store_seed(const uint8_t seed[32], const char *did) {
  char hex[2 * (16 + 24 + 32 + 16) + 1];
  if (A.passfile[0]) {
    char pass[512];
    uint8_t blob[16 + 24 + 32 + 16], key[32];
    read_passphrase(pass, sizeof pass);
    hm_random_bytes(blob, 40);
    seal_key(key, pass, blob);
    sodium_memzero(pass, sizeof pass);
    if (hm_xchacha_seal(blob + 40, key, blob + 16, seed, 32, NULL, 0) != HM_OK) die(1, "sealing failed");
    sodium_memzero(key, sizeof key);
    (void)hm_hex_encode(hex, sizeof hex, blob, sizeof blob);
  } else {
    (void)hm_hex_encode(hex, sizeof hex, seed, 32);
  }
  if (!db_exec("BEGIN IMMEDIATE")) die(1, "cannot write the identity (database busy?)");
  db_put("DELETE FROM identity_seed", NULL, NULL);
  db_put("DELETE FROM identity_sealed", NULL, NULL);
  (void)db_exec("DROP TABLE IF EXISTS identity"); /* a pre-seed32 store's mnemonic table */
  db_put(A.passfile[0] ? "INSERT INTO identity_sealed(k, sealed, did) VALUES(1, ?1, ?2)"
                       : "INSERT INTO identity_seed(k, seed, did) VALUES(1, ?1, ?2)",
         hex, did);
  if (!db_exec("COMMIT")) die(1, "cannot write the identity");
  sodium_memzero(hex, sizeof hex);
  (void)db_exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

/* A store written before seed32-only storage keeps the mnemonic in clear in table identity:
 * replace it by seed32 (same identity, same DID) and wipe it. Needs no passphrase. */
static void migrate_clear_mnemonic(void) {
  char m[HM_BIP39_MNEMONIC_MAX + 8];
  if (!db_get("SELECT mnemonic FROM identity WHERE k=1", NULL, m, sizeof m)) {
    (void)db_exec("DROP TABLE IF EXISTS identity");
    return;
  }
  hm_identity id;
  if (hm_identity_from_mnemonic(&id, m, HM_BIP39_HARDENED) != HM_OK) die(1, "stored identity is damaged");
  sodium_memzero(m, sizeof m);
  char pf[sizeof A.passfile];
  memcpy(pf, A.passfile, sizeof pf);
  A.passfile[0] = 0; /* it was stored in clear: the migration keeps it unsealed */
  store_seed(id.seed32, id.did);
  memcpy(A.passfile, pf, sizeof pf);
  fprintf(stderr, "harmony: the identity in %s was stored as a mnemonic; it now keeps only the key seed "
                  "(the mnemonic is wiped)\n", A.home);
  hm_identity_clear(&id);
}

static void load_identity(void) {
  uint8_t seed[32];
  char did[HM_DIDKEY_MAX + 8];
  char hex[2 * SEALED_MAX + 8];
  if (db_get("SELECT sealed FROM identity_sealed WHERE k=1", NULL, hex, sizeof hex)) {
    if (!A.passfile[0]) die(2, "the identity in %s is sealed: give --passphrase-file FILE", A.home);
    uint8_t blob[SEALED_MAX], key[32], pt[SEALED_MAX];
    size_t n = 0;
    if (hm_hex_decode(blob, sizeof blob, &n, hex, strlen(hex)) != HM_OK || n < 16 + 24 + 16)
      die(1, "stored sealed identity is damaged");
    char pass[512];
    read_passphrase(pass, sizeof pass);
    seal_key(key, pass, blob);
    sodium_memzero(pass, sizeof pass);
    size_t pl = n - 16 - 24 - 16;
    if (hm_xchacha_open(pt, key, blob + 16, blob + 40, n - 40, NULL, 0) != HM_OK)
      die(2, "wrong passphrase for the identity in %s", A.home);
    sodium_memzero(key, sizeof key);
    if (pl == 32) {
      memcpy(seed, pt, 32);
    } else {
      /* An older sealed store holds the mnemonic (never 32 bytes: 12 words are longer). */
      char m[HM_BIP39_MNEMONIC_MAX + 1];
      hm_identity id;
      if (pl > HM_BIP39_MNEMONIC_MAX) die(1, "stored sealed identity is damaged");
      memcpy(m, pt, pl);
      m[pl] = 0;
      if (hm_identity_from_mnemonic(&id, m, HM_BIP39_HARDENED) != HM_OK) die(1, "stored identity is damaged");
      sodium_memzero(m, sizeof m);
      memcpy(seed, id.seed32, 32);
      store_seed(seed, id.did); /* re-sealed with the same passphrase */
      hm_identity_clear(&id);
      fprintf(stderr, "harmony: the sealed identity in %s held a mnemonic; it now keeps only the key seed\n", A.home);
    }
    sodium_memzero(pt, sizeof pt);
    sodium_memzero(blob, sizeof blob);
    if (!db_get("SELECT did FROM identity_sealed WHERE k=1", NULL, did, sizeof did)) did[0] = 0;
  } else if (db_get("SELECT seed FROM identity_seed WHERE k=1", NULL, hex, sizeof hex)) {
    size_t n = 0;
    if (hm_hex_decode(seed, sizeof seed, &n, hex, strlen(hex)) != HM_OK || n != 32)
      die(1, "stored identity is damaged");
    if (!db_get("SELECT did FROM identity_seed WHERE k=1", NULL, did, sizeof did)) did[0] = 0;
  } else {
    die(2, "no identity in %s (run `harmony id new` or `harmony id recover` first)", A.home);
  }
  sodium_memzero(hex, sizeof hex);
  int rc = hm_identity_from_seed32(&A.id, seed);
  sodium_memzero(seed, sizeof seed);
  if (rc != HM_OK || strcmp(A.id.did, did)) die(1, "stored identity is damaged (seed and DID disagree)");
}

static void save_state(void) {
  if (!A.cl) return;
  if (hm_client_token(A.cl))
    db_put("INSERT OR REPLACE INTO tokens(server, token) VALUES(?1, ?2)", A.server, hm_client_token(A.cl));
  char *s = NULL;
  size_t n = 0;
  /* Channel positions advance only in sessions that show what arrives (listen, script), so a
   * one-shot command never hides messages from the next `listen`. */
  if ((A.listening || A.script) && hm_client_follows_export(A.cl, &s, &n) == HM_OK)
    db_put("INSERT OR REPLACE INTO follows(server, state) VALUES(?1, ?2)", A.server, s);
  hm_free(s);
  s = NULL;
  if (hm_client_mls_export(A.cl, &s, &n) == HM_OK) {
    db_put("INSERT OR REPLACE INTO mls(k, state) VALUES(1, ?1)", s, NULL);
    hm_free_secret(s, n + 1);
  }
}

/* ---- the connection --------------------------------------------------------------------- */

static void kick_write(void) {
  const char *f;
  size_t n;
  if (A.wsi && hm_client_next_out(A.cl, &f, &n)) lws_callback_on_writable(A.wsi);
}

static void start_connect(void) {
  char buf[512];
  const char *prot = NULL, *addr = NULL, *path = NULL;
  int port = 0;
  snprintf(buf, sizeof buf, "%s", A.server);
  if (lws_parse_uri(buf, &prot, &addr, &port, &path) || !addr || !*addr)
    die(2, "bad server URL: %s (expected ws://HOST:PORT)", A.server);
  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  char fullpath[512];
  snprintf(fullpath, sizeof fullpath, "/%s", path ? path : "");
  ci.context = A.ctx;
  ci.address = addr;
  ci.port = port;
  ci.path = fullpath;
  ci.host = addr;
  ci.origin = addr;
  ci.ssl_connection = !strcmp(prot, "wss") ? LCCSCF_USE_SSL : 0;
  ci.protocol = NULL;
  ci.local_protocol_name = "harmony";
  A.connecting = 1;
  A.wsi = NULL;
  if (!lws_client_connect_via_info(&ci)) {
    A.connecting = 0;
    hm_client_on_close(A.cl);
    uint32_t r;
    hm_random_bytes((uint8_t *)&r, sizeof r);
    A.reconnect_at = now_ms() + (int64_t)hm_client_backoff_ms(hm_client_attempts(A.cl), 250, 5000, r);
  }
}

static void on_event(void *ctx, hm_client *c, const hm_client_event *ev);

static void check_wait_event(const hm_client_event *ev);

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  (void)user;
  switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      A.wsi = wsi;
      A.connecting = 0;
      if (A.script) {
        hm_json *o = hm_json_new_object();
        setstr(o, "event", "connected");
        print_json(o);
      }
      (void)hm_client_on_open(A.cl);
      kick_write();
      break;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
      char *nb = realloc(A.rx, A.rx_len + len + 1);
      if (!nb) return -1;
      A.rx = nb;
      memcpy(A.rx + A.rx_len, in, len);
      A.rx_len += len;
      if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        (void)hm_client_on_frame(A.cl, A.rx, A.rx_len);
        A.rx_len = 0;
        kick_write();
      }
      break;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
      if (A.drop) {
        A.drop = 0;
        return -1; /* simulated network loss */
      }
      const char *f;
      size_t n;
      /* Never a zero-length write (toolchain.md §2 pitfall 1). */
      if (!hm_client_next_out(A.cl, &f, &n) || n == 0) break;
      unsigned char *b = malloc(LWS_PRE + n);
      if (!b) return -1;
      memcpy(b + LWS_PRE, f, n);
      int w = lws_write(wsi, b + LWS_PRE, n, LWS_WRITE_TEXT);
      free(b);
      if (w < (int)n) return -1;
      hm_client_pop_out(A.cl);
      kick_write();
      break;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED: {
      if (reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR && !A.connecting) break;
      A.wsi = NULL;
      A.connecting = 0;
      A.rx_len = 0;
      hm_client_on_close(A.cl);
      if (A.script) {
        hm_json *o = hm_json_new_object();
        setstr(o, "event", "disconnected");
        if (reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR && in) setstr(o, "reason", (const char *)in);
        print_json(o);
      }
      uint32_t r;
      hm_random_bytes((uint8_t *)&r, sizeof r);
      A.reconnect_at = now_ms() + (int64_t)hm_client_backoff_ms(hm_client_attempts(A.cl), 250, 5000, r);
      break;
    }
    default:
      break;
  }
  return 0;
}

static const struct lws_protocols protocols[] = {{"harmony", ws_cb, 0, 0, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

/* ---- events ------------------------------------------------------------------------ */

static void human_event(const hm_client_event *ev) {
  const hm_json *p = ev->payload;
  if (!strcmp(ev->type, "channel.message")) {
    printf("[%s] %s: %s%s\n", hm_json_string(hm_json_object_getc(p, "channelId"), NULL) ?: "?",
           ev->sender ? ev->sender : "?", ev->text ? ev->text : "[encrypted]",
           ev->e2e == HM_CLIENT_E2E_PLAINTEXT ? "  (unencrypted)"
           : ev->e2e == HM_CLIENT_E2E_DOWNGRADE ? "  (WARNING: unencrypted in an encrypted channel)"
           : ev->e2e == HM_CLIENT_E2E_DECRYPTED ? "  (encrypted in transit; the server can read group keys)" : "");
  } else if (!strcmp(ev->type, "dm.message")) {
    printf("[dm] %s: %s%s\n", ev->sender ? ev->sender : "?", ev->text ? ev->text : "[could not decrypt]",
           ev->e2e == HM_CLIENT_E2E_DECRYPTED ? "  (encrypted, long-term key, no forward secrecy)"
           : ev->e2e == HM_CLIENT_E2E_PLAINTEXT ? "  (UNENCRYPTED)" : "");
  } else if (!strcmp(ev->type, "error")) {
    fprintf(stderr, "harmony: server error %s: %s\n", hm_json_string(hm_json_object_getc(p, "code"), NULL) ?: "?",
            hm_json_string(hm_json_object_getc(p, "message"), NULL) ?: "");
  } else if (!strcmp(ev->type, "sync.response")) {
    if (hm_json_object_getc(p, "authenticated")) printf("connected as %s\n", A.id.did);
  } else {
    printf("[%s]%s%s\n", ev->type, ev->sender ? " from " : "", ev->sender ? ev->sender : "");
  }
  fflush(stdout);
}

static void on_event(void *ctx, hm_client *c, const hm_client_event *ev) {
  (void)ctx;
  (void)c;
  int auth_ok = !strcmp(ev->type, "sync.response") && hm_json_object_getc(ev->payload, "authenticated");
  if (auth_ok) save_state();
  if (auth_ok) A.voice_session[0] = 0; /* sessions are bound to the connection (R-SFU-10) */
  if (!strcmp(ev->type, "voice.session.created")) {
    const char *sid = hm_json_string(hm_json_object_getc(ev->payload, "sessionId"), NULL);
    if (sid && strlen(sid) < sizeof A.voice_session) snprintf(A.voice_session, sizeof A.voice_session, "%s", sid);
  }
  if (!strncmp(ev->type, "mls.", 4)) save_state();
  if (A.script || ((A.listening || A.show_events) && A.json)) {
    hm_json *o = hm_json_new_object();
    setstr(o, "event", ev->type[0] ? ev->type : "invalid");
    setstr(o, "id", ev->id);
    setstr(o, "sender", ev->sender);
    setstr(o, "text", ev->text);
    setstr(o, "e2e", e2e_name(ev->e2e));
    if (auth_ok) setstr(o, "auth", hm_client_auth_by_token(A.cl) ? "token" : "vp");
    if (ev->payload) (void)hm_json_object_setc(o, "payload", hm_json_clone(ev->payload));
    print_json(o);
  } else if (A.listening || A.show_events) {
    human_event(ev);
  } else if (!strcmp(ev->type, "error")) {
    const char *rid = hm_json_string(hm_json_object_getc(ev->payload, "requestId"), NULL);
    if (!A.e.cur || !rid || strcmp(rid, A.e.wait_id)) human_event(ev); /* else it fails the command */
  }
  check_wait_event(ev);
}

/* ---- commands ---------------------------------------------------------------------- */

static const char *arg(const char *k) { return hm_json_string(hm_json_object_getc(A.e.cur, k), NULL); }

static void wait_for(wait_kind wk, const char *type, const char *id) {
  A.e.wk = wk;
  snprintf(A.e.wait_type, sizeof A.e.wait_type, "%s", type ? type : "");
  snprintf(A.e.wait_id, sizeof A.e.wait_id, "%s", id ? id : "");
  A.e.wait_match_key[0] = A.e.wait_match_val[0] = 0;
  const hm_json *t = hm_json_object_getc(A.e.cur, "timeout");
  A.e.deadline = now_ms() + (t ? (int64_t)hm_json_number(t) : A.timeout_ms);
}

static void check_wait_event(const hm_client_event *ev) {
  if (!A.e.cur || A.e.wk == W_NONE || A.e.wk == W_READY) return;
  const hm_json *p = ev->payload;
  if (!strcmp(ev->type, "error")) {
    const char *rid = hm_json_string(hm_json_object_getc(p, "requestId"), NULL);
    if (rid && !strcmp(rid, A.e.wait_id)) {
      fail_cmd(hm_json_string(hm_json_object_getc(p, "code"), NULL) ?: "ERROR",
               hm_json_string(hm_json_object_getc(p, "message"), NULL) ?: "");
    }
    return;
  }
  if (strcmp(ev->type, A.e.wait_type)) return;
  if (A.e.wk == W_MESSAGE_ID && (!ev->id || strcmp(ev->id, A.e.wait_id))) return;
  if (A.e.wait_match_key[0] &&
      !hm_json_string_is(hm_json_object_getc(p, A.e.wait_match_key), A.e.wait_match_val))
    return;
  hm_json *r = result_new(1);
  setstr(r, "id", ev->id);
  static char human[65536];
  human[0] = 0;
  const char *cmd = arg("cmd");
  if (!strcmp(cmd, "community.create") || !strcmp(cmd, "community.join")) {
    const char *cid = hm_json_string(hm_json_object_getc(p, "communityId"), NULL);
    setstr(r, "communityId", cid);
    const hm_json *chs = hm_json_object_getc(p, "channels");
    if (chs) (void)hm_json_object_setc(r, "channels", hm_json_clone(chs));
    const char *ch0 = hm_json_string(hm_json_object_getc(hm_json_array_get(chs, 0), "id"), NULL);
    snprintf(human, sizeof human, "community %s%s%s", cid ? cid : "?", ch0 ? "\nchannel " : "", ch0 ? ch0 : "");
  } else if (!strcmp(cmd, "history")) {
    const hm_json *msgs = hm_json_object_getc(p, "messages");
    hm_json *out = hm_json_new_array();
    size_t hl = 0;
    for (size_t i = 0; i < hm_json_array_size(msgs); i++) {
      const hm_json *m = hm_json_array_get(msgs, i);
      const hm_json *mp = hm_json_object_getc(m, "payload");
      char *text = NULL;
      hm_client_e2e e2e = HM_CLIENT_E2E_NONE;
      if (hm_json_object_getc(mp, "deleted")) continue;
      (void)hm_client_decode(A.cl, arg("communityId"), arg("channelId"), hm_json_object_getc(mp, "content"), &text, &e2e);
      hm_json *o = hm_json_new_object();
      setstr(o, "id", hm_json_string(hm_json_object_getc(m, "id"), NULL));
      setstr(o, "sender", hm_json_string(hm_json_object_getc(m, "sender"), NULL));
      setstr(o, "timestamp", hm_json_string(hm_json_object_getc(m, "timestamp"), NULL));
      setstr(o, "text", text);
      setstr(o, "e2e", e2e_name(e2e));
      (void)hm_json_array_append(out, o);
      if (hl < sizeof human - 1)
        hl += (size_t)snprintf(human + hl, sizeof human - hl, "%s%s %s: %s", hl ? "\n" : "",
                               hm_json_string(hm_json_object_getc(m, "timestamp"), NULL) ?: "",
                               hm_json_string(hm_json_object_getc(m, "sender"), NULL) ?: "", text ? text : "[encrypted]");
      if (hl >= sizeof human) hl = sizeof human - 1;
      hm_free(text);
    }
    (void)hm_json_object_setc(r, "messages", out);
  } else if (!strcmp(cmd, "req") && !strcmp(ev->type, "voice.state")) {
    /* The room: one line per participant with its flags (details objects carry them). */
    if (p) (void)hm_json_object_setc(r, "payload", hm_json_clone(p));
    const hm_json *ps = hm_json_object_getc(p, "participantDetails");
    if (!ps) ps = hm_json_object_getc(p, "participants");
    size_t hl = (size_t)snprintf(human, sizeof human, "voice room %s%s%s:",
                                 hm_json_string(hm_json_object_getc(p, "channelId"), NULL) ?: "",
                                 hm_json_object_getc(p, "action") ? " after " : "",
                                 hm_json_string(hm_json_object_getc(p, "action"), NULL) ?: "");
    for (size_t k = 0; k < hm_json_array_size(ps) && hl < sizeof human - 1; k++) {
      const hm_json *e = hm_json_array_get(ps, k);
      const char *did = hm_json_kind_of(e) == HM_JSON_STRING ? hm_json_string(e, NULL) : hm_json_string(hm_json_object_getc(e, "did"), NULL);
      int muted = hm_json_kind_of(hm_json_object_getc(e, "muted")) == HM_JSON_TRUE;
      hl += (size_t)snprintf(human + hl, sizeof human - hl, "\n  %s%s", did ? did : "?", muted ? " (muted)" : "");
    }
  } else if (!strcmp(cmd, "req")) {
    if (p) (void)hm_json_object_setc(r, "payload", hm_json_clone(p));
    char *pj = NULL;
    if (p && hm_json_stringify(&pj, NULL, p) == HM_OK) snprintf(human, sizeof human, "%s", pj);
    hm_free(pj);
  } else {
    snprintf(human, sizeof human, "sent %s", ev->id ? ev->id : "");
  }
  setstr(r, "human", human);
  finish_cmd(r);
}

static hm_json *obj_kv(const char *k1, const char *v1, const char *k2, const char *v2) {
  hm_json *o = hm_json_new_object();
  if (k1) setstr(o, k1, v1);
  if (k2) setstr(o, k2, v2);
  return o;
}

static int need(const char *k) {
  if (arg(k) && *arg(k)) return 1;
  char m[100];
  snprintf(m, sizeof m, "missing argument: %s", k);
  fail_cmd("BAD_INPUT", m);
  return 0;
}

/* Read an SDP file (UTF-8 text, at most cap-1 bytes: the spec's 65,536 limit). 0 with a
 * reason in why on failure. */
static int read_sdp(const char *path, char *out, size_t cap, char *why, size_t wcap) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(why, wcap, "cannot read the SDP file %.200s: %s", path, strerror(errno));
    return 0;
  }
  size_t n = fread(out, 1, cap - 1, f);
  int more = fgetc(f) != EOF;
  fclose(f);
  if (n == 0) {
    snprintf(why, wcap, "the SDP file %.200s is empty", path);
    return 0;
  }
  if (more) {
    snprintf(why, wcap, "the SDP file %.200s is longer than %zu bytes", path, cap - 1);
    return 0;
  }
  out[n] = 0;
  if (strlen(out) != n || strncmp(out, "v=", 2)) {
    snprintf(why, wcap, "the SDP file %.200s does not hold an SDP (text starting with \"v=\")", path);
    return 0;
  }
  return 1;
}

static void start_cmd(void) {
  const char *cmd = arg("cmd");
  char id[64] = "";
  int rc;
  if (!cmd) {
    fail_cmd("BAD_INPUT", "a command needs a string \"cmd\"");
    return;
  }
  if (!strcmp(cmd, "connect")) {
    if (hm_client_get_state(A.cl) == HM_CLIENT_READY) {
      hm_json *r = result_new(1);
      setstr(r, "did", A.id.did);
      finish_cmd(r);
      return;
    }
    A.want_connection = 1;
    if (!A.wsi && !A.connecting) A.reconnect_at = 0;
    wait_for(W_READY, NULL, NULL);
  } else if (!strcmp(cmd, "quit")) {
    finish_cmd(result_new(1));
    A.done = 1;
  } else if (!strcmp(cmd, "drop")) {
    /* Simulated network loss; optional "hold" ms before reconnecting is allowed. */
    A.drop = 1;
    A.hold_until = now_ms() + (int64_t)hm_json_number(hm_json_object_getc(A.e.cur, "hold"));
    if (A.wsi) lws_callback_on_writable(A.wsi);
    finish_cmd(result_new(1));
  } else if (!strcmp(cmd, "whoami")) {
    hm_json *r = result_new(1);
    setstr(r, "did", A.id.did);
    finish_cmd(r);
  } else if (!strcmp(cmd, "community.create")) {
    if (!need("name")) return;
    rc = hm_client_send(A.cl, "community.create", obj_kv("name", arg("name"), NULL, NULL), id, sizeof id);
    if (rc != HM_OK) return fail_cmd("CLIENT", hm_strerror(rc));
    wait_for(W_TYPE_AFTER, "community.updated", id);
  } else if (!strcmp(cmd, "community.join")) {
    if (!need("communityId")) return;
    rc = hm_client_send(A.cl, "community.join", obj_kv("communityId", arg("communityId"), NULL, NULL), id, sizeof id);
    if (rc != HM_OK) return fail_cmd("CLIENT", hm_strerror(rc));
    wait_for(W_TYPE_AFTER, "community.updated", id);
    snprintf(A.e.wait_match_key, sizeof A.e.wait_match_key, "communityId");
    snprintf(A.e.wait_match_val, sizeof A.e.wait_match_val, "%s", arg("communityId"));
  } else if (!strcmp(cmd, "channel.send")) {
    if (!need("communityId") || !need("channelId") || !need("text")) return;
    rc = hm_client_channel_send(A.cl, arg("communityId"), arg("channelId"), arg("text"), id, sizeof id);
    if (rc != HM_OK) return fail_cmd("CLIENT", hm_strerror(rc));
    wait_for(W_MESSAGE_ID, "channel.message", id);
  } else if (!strcmp(cmd, "dm.send")) {
    if (!need("did") || !need("text")) return;
    rc = hm_client_dm_send(A.cl, arg("did"), arg("text"), id, sizeof id);
    if (rc != HM_OK)
      return fail_cmd(rc == HM_ERR_DID ? "BAD_DID" : "CLIENT",
                      rc == HM_ERR_DID ? "recipient is not a did:key DID whose key can be verified; nothing was sent"
                                       : hm_strerror(rc));
    if (hm_client_get_state(A.cl) != HM_CLIENT_READY) {
      /* Offline: the DM waits in the queue and goes out after the next login. */
      hm_json *r = result_new(1);
      setstr(r, "id", id);
      (void)hm_json_object_setc(r, "queued", hm_json_new_bool(1));
      setstr(r, "human", "queued (encrypted); sent after the next login");
      finish_cmd(r);
      return;
    }
    /* The first DM to a peer is held until its key announcement has settled
     * (hm_client_dm_send): the result comes once the DM has been written. */
    wait_for(W_FLUSH, "\x01never", id);
  } else if (!strcmp(cmd, "history")) {
    if (!need("communityId") || !need("channelId")) return;
    hm_json *p = obj_kv("communityId", arg("communityId"), "channelId", arg("channelId"));
    const hm_json *lim = hm_json_object_getc(A.e.cur, "limit");
    if (lim) (void)hm_json_object_setc(p, "limit", hm_json_clone(lim));
    rc = hm_client_send(A.cl, "channel.history", p, id, sizeof id);
    if (rc != HM_OK) return fail_cmd("CLIENT", hm_strerror(rc));
    wait_for(W_TYPE_AFTER, "channel.history.response", id);
  } else if (!strcmp(cmd, "req")) {
    /* Any request: send {type, payload}; with "wait" the result carries the payload of the
     * first frame of that type after it; without, the result comes after a short window in
     * which an error frame for the request fails it. */
    if (!need("type")) return;
    const hm_json *pl = hm_json_object_getc(A.e.cur, "payload");
    hm_json *payload = pl ? hm_json_clone(pl) : hm_json_new_object();
    if (hm_json_kind_of(payload) != HM_JSON_OBJECT) {
      hm_json_free(payload);
      return fail_cmd("BAD_INPUT", "\"payload\" must be a JSON object");
    }
    if (hm_json_kind_of(hm_json_object_getc(A.e.cur, "useSession")) == HM_JSON_TRUE) {
      /* The SFU session this connection created last (voice.session.created). */
      if (!A.voice_session[0]) {
        hm_json_free(payload);
        return fail_cmd("BAD_INPUT", "no SFU session on this connection yet (voice.session.create first)");
      }
      setstr(payload, "sessionId", A.voice_session);
    }
    if (arg("sdpFile")) {
      /* SDP read from a file: payload[sdpKey] = {type: sdpType, sdp: <file>} (voice.offer /
       * voice.answer use "sdp", the SFU calls "sessionDescription"). */
      char sdp[65537], why[300];
      if (!read_sdp(arg("sdpFile"), sdp, sizeof sdp, why, sizeof why)) {
        hm_json_free(payload);
        return fail_cmd("BAD_INPUT", why);
      }
      hm_json *d = obj_kv("type", arg("sdpType") ? arg("sdpType") : "offer", "sdp", sdp);
      if (!hm_json_object_getc(d, "sdp")) {
        hm_json_free(d);
        hm_json_free(payload);
        return fail_cmd("BAD_INPUT", "the SDP file is not valid UTF-8");
      }
      (void)hm_json_object_setc(payload, arg("sdpKey") ? arg("sdpKey") : "sessionDescription", d);
    }
    rc = hm_client_send(A.cl, arg("type"), payload, id, sizeof id);
    if (rc != HM_OK) return fail_cmd("CLIENT", hm_strerror(rc));
    if (arg("wait")) {
      wait_for(hm_json_kind_of(hm_json_object_getc(A.e.cur, "byId")) == HM_JSON_TRUE ? W_MESSAGE_ID : W_TYPE_AFTER,
               arg("wait"), id);
    } else {
      wait_for(W_TYPE_AFTER, "\x01never", id);
      A.e.deadline = now_ms() + 400;
    }
  } else if (!strcmp(cmd, "channel.edit")) {
    if (!need("communityId") || !need("channelId") || !need("messageId") || !need("text")) return;
    hm_json *content = NULL;
    rc = hm_client_channel_content(A.cl, arg("communityId"), arg("channelId"), arg("text"), &content);
    if (rc != HM_OK) return fail_cmd("CLIENT", hm_strerror(rc));
    hm_json *p = obj_kv("communityId", arg("communityId"), "channelId", arg("channelId"));
    setstr(p, "messageId", arg("messageId"));
    (void)hm_json_object_setc(p, "content", content);
    rc = hm_client_send(A.cl, "channel.edit", p, id, sizeof id);
    if (rc != HM_OK) return fail_cmd("CLIENT", hm_strerror(rc));
    wait_for(W_TYPE_AFTER, "\x01never", id);
    A.e.deadline = now_ms() + 400;
  } else if (!strcmp(cmd, "dm.edit")) {
    /* The new text is encrypted exactly like dm.send (R-CRY-DM-3). */
    if (!need("did") || !need("messageId") || !need("text")) return;
    hm_json *content = NULL;
    rc = hm_client_dm_seal(A.cl, arg("did"), arg("text"), &content);
    if (rc != HM_OK) return fail_cmd(rc == HM_ERR_DID ? "BAD_DID" : "CLIENT", hm_strerror(rc));
    hm_json *p = obj_kv("recipientDID", arg("did"), "messageId", arg("messageId"));
    (void)hm_json_object_setc(p, "content", content);
    rc = hm_client_send(A.cl, "dm.edit", p, id, sizeof id);
    if (rc != HM_OK) return fail_cmd("CLIENT", hm_strerror(rc));
    wait_for(W_TYPE_AFTER, "\x01never", id);
    A.e.deadline = now_ms() + 400;
  } else if (!strcmp(cmd, "raw")) {
    if (!need("type")) return;
    const hm_json *pl = hm_json_object_getc(A.e.cur, "payload");
    rc = hm_client_send(A.cl, arg("type"), pl ? hm_json_clone(pl) : NULL, id, sizeof id);
    if (rc != HM_OK) return fail_cmd("CLIENT", hm_strerror(rc));
    hm_json *r = result_new(1);
    setstr(r, "id", id);
    finish_cmd(r);
  } else if (!strcmp(cmd, "mls.keypackage.upload")) {
    rc = hm_client_mls_upload_keypackage(A.cl);
    if (rc != HM_OK) return fail_cmd("CLIENT", hm_strerror(rc));
    finish_cmd(result_new(1));
  } else if (!strcmp(cmd, "mls.create") || !strcmp(cmd, "mls.add") || !strcmp(cmd, "mls.remove") ||
             !strcmp(cmd, "mls.update")) {
    if (!need("communityId") || !need("channelId")) return;
    if ((!strcmp(cmd, "mls.add") || !strcmp(cmd, "mls.remove")) && !need("did")) return;
    rc = !strcmp(cmd, "mls.create")   ? hm_client_mls_create_group(A.cl, arg("communityId"), arg("channelId"))
         : !strcmp(cmd, "mls.add")    ? hm_client_mls_add(A.cl, arg("communityId"), arg("channelId"), arg("did"))
         : !strcmp(cmd, "mls.update") ? hm_client_mls_update(A.cl, arg("communityId"), arg("channelId"))
                                      : hm_client_mls_remove(A.cl, arg("communityId"), arg("channelId"), arg("did"));
    if (rc != HM_OK)
      return fail_cmd(rc == HM_ERR_NOT_FOUND ? "NOT_FOUND" : "CLIENT",
                      rc == HM_ERR_NOT_FOUND ? "no such group (or member) for this channel" : hm_strerror(rc));
    save_state();
    hm_json *r = result_new(1);
    uint64_t ep = 0;
    size_t nm = 0;
    if (hm_client_mls_info(A.cl, arg("communityId"), arg("channelId"), &ep, &nm) == HM_OK) {
      (void)hm_json_object_setc(r, "epoch", hm_json_new_number((double)ep));
      (void)hm_json_object_setc(r, "members", hm_json_new_number((double)nm));
      char h[160];
      snprintf(h, sizeof h, "group at epoch %llu, %zu member(s)%s", (unsigned long long)ep, nm,
               !strcmp(cmd, "mls.create") ? "; members with a key package are added as the server names them" : "");
      setstr(r, "human", h);
    }
    finish_cmd(r);
  } else if (!strcmp(cmd, "mls.info")) {
    if (!need("communityId") || !need("channelId")) return;
    uint64_t ep = 0;
    size_t n = 0;
    rc = hm_client_mls_info(A.cl, arg("communityId"), arg("channelId"), &ep, &n);
    hm_json *r = result_new(rc == HM_OK);
    (void)hm_json_object_setc(r, "epoch", hm_json_new_number((double)ep));
    (void)hm_json_object_setc(r, "members", hm_json_new_number((double)n));
    (void)hm_json_object_setc(r, "pending", hm_json_new_number((double)hm_client_mls_pending(A.cl)));
    if (rc != HM_OK) (void)hm_json_object_setc(r, "error", obj_kv("code", "NOT_FOUND", "message", "no group for this channel"));
    finish_cmd(r);
  } else if (!strcmp(cmd, "sleep")) {
    if (hm_json_kind_of(hm_json_object_getc(A.e.cur, "show")) == HM_JSON_TRUE) A.show_events = 1;
    wait_for(W_TYPE_AFTER, "\x01never", "");
    A.e.deadline = now_ms() + (int64_t)hm_json_number(hm_json_object_getc(A.e.cur, "ms"));
  } else {
    char m[200];
    snprintf(m, sizeof m, "unknown command: %.100s", cmd);
    fail_cmd("BAD_INPUT", m);
  }
}

static void read_stdin(void) {
  if (A.stdin_eof) return;
  struct pollfd pfd = {0, POLLIN, 0};
  while (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP))) {
    ssize_t n = read(0, A.inbuf + A.inlen, sizeof A.inbuf - A.inlen - 1);
    if (n <= 0) {
      A.stdin_eof = 1;
      break;
    }
    A.inlen += (size_t)n;
    char *nl;
    while ((nl = memchr(A.inbuf, '\n', A.inlen))) {
      size_t l = (size_t)(nl - A.inbuf);
      hm_json *j = NULL;
      if (l > 0) {
        if (hm_json_parse(&j, A.inbuf, l, 0, NULL) != HM_OK || hm_json_kind_of(j) != HM_JSON_OBJECT) {
          hm_json_free(j);
          hm_json *o = hm_json_new_object();
          setstr(o, "result", "?");
          (void)hm_json_object_setc(o, "ok", hm_json_new_bool(0));
          (void)hm_json_object_setc(o, "error", obj_kv("code", "BAD_INPUT", "message", "each line must be one JSON object"));
          print_json(o);
        } else if (A.e.ncmds < CMD_MAX) {
          A.e.cmds[A.e.ncmds++] = j;
        } else {
          hm_json_free(j);
        }
      }
      memmove(A.inbuf, nl + 1, A.inlen - l - 1);
      A.inlen -= l + 1;
    }
    if (A.inlen >= sizeof A.inbuf - 1) A.inlen = 0; /* an over-long line is dropped */
  }
}

static void tick(lws_sorted_usec_list_t *sul) {
  (void)sul;
  int64_t now = now_ms();
  if (g_stop) A.done = 1;
  if (A.script) read_stdin();
  /* (Re)connect when wanted and due. */
  if (A.want_connection && !A.wsi && !A.connecting && now >= A.reconnect_at &&
      now >= A.hold_until)
    start_connect();
  (void)hm_client_tick(A.cl);
  /* Command progress. */
  if (A.e.cur && A.e.wk == W_FLUSH && hm_client_dm_held(A.cl) == 0 && hm_client_queued(A.cl) == 0) {
    /* Written; now a short window for an error answering it (e.g. NOT_FOUND recipient). */
    A.e.wk = W_TYPE_AFTER;
    snprintf(A.e.wait_type, sizeof A.e.wait_type, "\x01never");
    A.e.deadline = now + 400;
  }
  if (A.e.cur && A.e.wk == W_READY && hm_client_get_state(A.cl) == HM_CLIENT_READY) {
    hm_json *r = result_new(1);
    setstr(r, "did", A.id.did);
    finish_cmd(r);
  }
  if (A.e.cur && A.e.wk != W_NONE && now > A.e.deadline) {
    if (!strcmp(A.e.wait_type, "\x01never")) {
      hm_json *r = result_new(1);
      if (A.e.wait_id[0]) setstr(r, "id", A.e.wait_id);
      if (!strcmp(arg("cmd"), "sleep")) A.show_events = 0;
      if (!strcmp(arg("cmd"), "dm.send")) {
        char h[100];
        snprintf(h, sizeof h, "sent %s (encrypted)", A.e.wait_id);
        setstr(r, "human", h);
      } else if (!strcmp(arg("cmd"), "req") && arg("type") && !strcmp(arg("type"), "voice.leave")) {
        setstr(r, "human", "left the voice room");
      } else if (strcmp(arg("cmd"), "sleep")) {
        setstr(r, "human", "ok");
      }
      finish_cmd(r);
    } else if (A.e.wk == W_FLUSH) {
      fail_cmd("TIMEOUT", hm_client_get_state(A.cl) == HM_CLIENT_READY
                              ? "the DM is still held: the server did not answer the key announcement in time"
                              : "disconnected before the DM was written; it stays queued for the next login");
    }
    else if (A.e.wk == W_READY) {
      char m[700];
      snprintf(m, sizeof m, "could not connect and log in to %s in time%s", A.server,
               A.wsi ? " (connected, but no authentication reply)" : " (connection refused or unreachable)");
      fail_cmd("TIMEOUT", m);
    } else
      fail_cmd("TIMEOUT", "no answer in time");
  }
  while (!A.e.cur && A.e.ncmds > 0 && !A.done) {
    A.e.cur = A.e.cmds[0];
    memmove(A.e.cmds, A.e.cmds + 1, (A.e.ncmds - 1) * sizeof A.e.cmds[0]);
    A.e.ncmds--;
    start_cmd();
  }
  if (!A.e.cur && A.e.ncmds == 0) {
    if (A.script && A.stdin_eof) A.done = 1;
    if (!A.script && !A.listening) A.done = 1;
  }
  if (A.listening && A.listen_ms > 0 && now > A.listen_ms) A.done = 1;
  kick_write();
  lws_sul_schedule(A.ctx, 0, &A.sul, tick, 20 * LWS_US_PER_MS);
}

static void on_signal(int s) {
  (void)s;
  g_stop = 1;
}

static void run_engine(void) {
  hm_client_env env = {env_now, env_rand, NULL};
  if (hm_client_new(&A.cl, &env, &A.id) != HM_OK) die(1, "out of memory");
  hm_client_set_default_handler(A.cl, on_event, NULL);
  hm_client_set_auto_keypackage(A.cl, !A.no_kp);
  char tok[8192];
  if (db_get("SELECT token FROM tokens WHERE server=?1", A.server, tok, sizeof tok)) (void)hm_client_set_token(A.cl, tok);
  char *mls = NULL;
  sqlite3_stmt *st = NULL;
  if (A.listening || A.script) {
    if (sqlite3_prepare_v2(A.db, "SELECT state FROM follows WHERE server=?1", -1, &st, NULL) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, A.server, -1, SQLITE_TRANSIENT);
      if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        (void)hm_client_follows_import(A.cl, t, strlen(t));
      }
    }
    sqlite3_finalize(st);
    st = NULL;
  }
  if (sqlite3_prepare_v2(A.db, "SELECT state FROM mls WHERE k=1", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    if (t) mls = strdup(t);
  }
  sqlite3_finalize(st);
  if (mls) {
    (void)hm_client_mls_import(A.cl, mls, strlen(mls));
    sodium_memzero(mls, strlen(mls));
    free(mls);
  }
  lws_set_log_level(0, NULL);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.gid = (gid_t)-1;
  info.uid = (uid_t)-1;
  A.ctx = lws_create_context(&info);
  if (!A.ctx) die(1, "cannot create the WebSocket context");
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  if (A.script) (void)fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  lws_sul_schedule(A.ctx, 0, &A.sul, tick, 1);
  while (!A.done) {
    if (lws_service(A.ctx, 0) < 0) break;
  }
  /* Flush what is still queued for a short moment (e.g. a dm.send right before quit). */
  int64_t until = now_ms() + 500;
  while (A.wsi && hm_client_get_state(A.cl) == HM_CLIENT_READY && now_ms() < until) {
    const char *f;
    size_t n;
    if (!hm_client_next_out(A.cl, &f, &n)) break;
    lws_service(A.ctx, 0);
  }
  save_state();
  lws_context_destroy(A.ctx);
  hm_client_free(A.cl);
  hm_json_free(A.e.cur);
  for (size_t i = 0; i < A.e.ncmds; i++) hm_json_free(A.e.cmds[i]);
  free(A.rx);
}

/* ---- identity commands ---------------------------------------------------------------- */

/* mnemonic -> seed32 stored (the mnemonic itself is never written). */
static void store_identity(const char *mnemonic) {
  hm_identity id;
  if (hm_identity_from_mnemonic(&id, mnemonic, HM_BIP39_HARDENED) != HM_OK)
    die(2, "not a valid BIP-39 English mnemonic (12-24 words, checksum)");
  store_seed(id.seed32, id.did);
  printf("%s\n", id.did);
  hm_identity_clear(&id);
}

static int have_identity(void) {
  char d[128];
  return db_get("SELECT did FROM identity_seed WHERE k=1 UNION SELECT did FROM identity_sealed WHERE k=1", NULL, d, sizeof d);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: harmony [--home DIR] [--server ws://HOST:PORT] [--json] [--timeout MS]\n"
          "               [--passphrase-file FILE] [--no-key-package] COMMAND ...\n"
          "\n"
          "identity (stored in DIR/harmony.db, mode 0600; DIR defaults to ~/.harmony; only the 32-byte\n"
          "key seed is stored, never the mnemonic):\n"
          "  id new [--force]                 make an identity; prints its mnemonic ONCE, then the DID\n"
          "  id recover                       read a mnemonic from stdin, store the key seed derived from it\n"
          "  id show                          print the DID\n"
          "  (with --passphrase-file FILE, id new/recover seal the key seed with Argon2id +\n"
          "   XChaCha20-Poly1305, and every later command needs the same option)\n"
          "server commands (log in with the stored session token, or a fresh VP; after every login the\n"
          "client uploads its MLS key package, so that peers can add it to encrypted groups and encrypt\n"
          "DMs to it; --no-key-package skips that and keeps the identity out of new groups):\n"
          "  community create NAME            prints the community id and its first channel id\n"
          "  community join COMMUNITY_ID\n"
          "  channel send COMMUNITY CHANNEL TEXT\n"
          "                                   MLS-encrypted when the channel has a group of 2+ members,\n"
          "                                   else sent as (and shown as) unencrypted\n"
          "  channel edit COMMUNITY CHANNEL MESSAGE_ID TEXT | channel delete COMMUNITY CHANNEL MESSAGE_ID\n"
          "  channel react COMMUNITY CHANNEL MESSAGE_ID EMOJI | channel pin COMMUNITY CHANNEL MESSAGE_ID\n"
          "  channel pins COMMUNITY CHANNEL | channel create COMMUNITY NAME | channel typing COMMUNITY CHANNEL\n"
          "  community info|leave COMMUNITY | community list | community kick|ban COMMUNITY DID\n"
          "  channel unreact COMMUNITY CHANNEL MESSAGE_ID EMOJI | channel unpin COMMUNITY CHANNEL MESSAGE_ID\n"
          "  thread create COMMUNITY CHANNEL PARENT_MESSAGE_ID NAME | thread send THREAD_ID TEXT (clear text)\n"
          "  dm edit DID MESSAGE_ID TEXT (encrypted) | dm delete DID MESSAGE_ID\n"
          "  role create COMMUNITY NAME | role assign COMMUNITY DID ROLE_ID | moderation get COMMUNITY\n"
          "  search COMMUNITY QUERY\n"
          "  notifications | presence STATUS | profile name DISPLAY_NAME\n"
          "  voice join|mute|unmute COMMUNITY CHANNEL [--for MS]\n"
          "                                   join the voice room (and mute/unmute), print the room, stay MS\n"
          "                                   printing its frames, then leave (a room holds connections:\n"
          "                                   each one-shot command is one connection)\n"
          "  voice offer COMMUNITY CHANNEL TARGET_DID SDP_FILE [--for MS]\n"
          "                                   peer-to-peer offer with the SDP read from SDP_FILE\n"
          "  voice session COMMUNITY CHANNEL [--for MS]   SFU session through the server's proxy\n"
          "  voice push COMMUNITY CHANNEL SDP_FILE TRACK_NAME... [--for MS]\n"
          "                                   SFU session, then tracks.push with the offer from SDP_FILE;\n"
          "                                   prints the SFU's answer (a signalling-only server refuses\n"
          "                                   both with CF_*_FAILED: exit status 1)\n"
          "  voice leave CHANNEL              (script sessions: the connection that joined must leave)\n"
          "  send TYPE PAYLOAD_JSON [REPLY_TYPE]  any registry frame; prints the reply's payload\n"
          "  dm send DID TEXT                 always encrypted to the key of the DID (never in clear)\n"
          "  history COMMUNITY CHANNEL [--limit N]\n"
          "  listen [--json] [--for MS]       print what arrives (JSON lines with --json)\n"
          "  mls upload-keypackage | mls create COMMUNITY CHANNEL | mls add COMMUNITY CHANNEL DID\n"
          "  | mls remove COMMUNITY CHANNEL DID | mls update COMMUNITY CHANNEL (new epoch, same members)\n"
          "  script                           JSON-lines commands on stdin, JSON-lines results and\n"
          "                                   events on stdout (see docs/walkthrough.md)\n"
          "The server URL also comes from $HARMONY_SERVER (default ws://127.0.0.1:4000).\n");
}

/* One-shot commands that map to one request: words, type, argument names, awaited reply
 * type (NULL: none; errors still fail the command) and whether the reply carries our id. */
typedef struct {
  const char *w1, *w2, *type, *args[4], *wait;
  int by_id;
} simple_def;

static const simple_def simple_defs[] = {
    {"channel", "create", "channel.create", {"communityId", "name"}, "channel.created", 0},
    {"channel", "delete", "channel.delete", {"communityId", "channelId", "messageId"}, NULL, 0},
    {"channel", "react", "channel.reaction.add", {"communityId", "channelId", "messageId", "emoji"}, "channel.reaction.added", 1},
    {"channel", "pin", "channel.pin", {"communityId", "channelId", "messageId"}, "channel.message.pinned", 0},
    {"channel", "unreact", "channel.reaction.remove", {"communityId", "channelId", "messageId", "emoji"}, "channel.reaction.removed", 0},
    {"channel", "unpin", "channel.unpin", {"communityId", "channelId", "messageId"}, "channel.message.unpinned", 0},
    {"thread", "create", "thread.create", {"communityId", "channelId", "parentMessageId", "name"}, "thread.created", 0},
    {"thread", "send", "thread.send", {"threadId", "content"}, "thread.message", 0},
    {"role", "assign", "role.assign", {"communityId", "memberDID", "roleId"}, NULL, 0},
    {"dm", "delete", "dm.delete", {"recipientDID", "messageId"}, NULL, 0},
    {"channel", "pins", "channel.pins.list", {"communityId", "channelId"}, "channel.pins.response", 0},
    {"channel", "typing", "channel.typing", {"communityId", "channelId"}, NULL, 0},
    {"community", "info", "community.info", {"communityId"}, "community.info.response", 0},
    {"community", "list", "community.list", {NULL}, "community.list.response", 0},
    {"community", "leave", "community.leave", {"communityId"}, NULL, 0},
    {"community", "kick", "community.kick", {"communityId", "targetDID"}, NULL, 0},
    {"community", "ban", "community.ban", {"communityId", "targetDID"}, "community.ban.applied", 0},
    {"role", "create", "role.create", {"communityId", "name"}, "role.created", 0},
    {"moderation", "get", "moderation.config.get", {"communityId"}, "moderation.config.response", 0},
    {"search", NULL, "search.query", {"communityId", "query"}, "search.results", 0},
    {"notifications", NULL, "notification.list", {NULL}, "notification.list.response", 0},
    {"presence", NULL, "presence.update", {"status"}, NULL, 0},
    {"profile", "name", "member.update", {"displayName"}, NULL, 0},
    {"voice", "leave", "voice.leave", {"channelId"}, NULL, 0},
};

static char *jstr(const char *s);

/* Build the script line for a table command; 1 when argv matched one. */
static int simple_cmd(int n, char **argv, char *buf, size_t cap) {
  for (size_t k = 0; k < sizeof simple_defs / sizeof simple_defs[0]; k++) {
    const simple_def *d = &simple_defs[k];
    int skip = d->w2 ? 2 : 1, nargs = 0;
    while (nargs < 4 && d->args[nargs]) nargs++;
    if (strcmp(argv[0], d->w1) || (d->w2 && (n < 2 || strcmp(argv[1], d->w2)))) continue;
    if (n != skip + nargs) {
      fprintf(stderr, "harmony: usage: harmony %s%s%s", d->w1, d->w2 ? " " : "", d->w2 ? d->w2 : "");
      for (int a = 0; a < nargs; a++) fprintf(stderr, " %s", d->args[a]);
      fprintf(stderr, "\n");
      exit(2);
    }
    size_t l = (size_t)snprintf(buf, cap, "{\"cmd\":\"req\",\"type\":\"%s\",\"payload\":{", d->type);
    for (int a = 0; a < nargs && l < cap; a++) {
      char *v = jstr(argv[skip + a]);
      l += (size_t)snprintf(buf + l, cap - l, "%s\"%s\":%s", a ? "," : "", d->args[a], v);
      hm_free(v);
    }
    if (l < cap && d->wait)
      l += (size_t)snprintf(buf + l, cap - l, "},\"wait\":\"%s\",\"byId\":%s}", d->wait, d->by_id ? "true" : "false");
    else if (l < cap)
      l += (size_t)snprintf(buf + l, cap - l, "}}");
    if (l >= cap) die(2, "arguments too long");
    return 1;
  }
  return 0;
}

static void push_cmd(const char *json) {
  hm_json *j = NULL;
  if (hm_json_parse(&j, json, strlen(json), 0, NULL) != HM_OK) die(1, "internal: bad command");
  A.e.cmds[A.e.ncmds++] = j;
}

/* Push {"cmd":"req","type":type,"payload":payload,...extra keys...}; takes payload. */
static void push_req(const char *type, hm_json *payload, const char *wait, const char *k1, const char *v1,
                     const char *k2, const char *v2) {
  hm_json *o = hm_json_new_object();
  setstr(o, "cmd", "req");
  setstr(o, "type", type);
  (void)hm_json_object_setc(o, "payload", payload);
  if (wait) setstr(o, "wait", wait);
  if (k1) setstr(o, k1, v1);
  if (k2) setstr(o, k2, v2);
  if (A.e.ncmds >= CMD_MAX) die(1, "internal: too many commands");
  A.e.cmds[A.e.ncmds++] = o;
}

/* One-shot voice commands. A voice room holds connections, not DIDs (spec voice.md), so each
 * one runs in its own connection: join the room, do the action, optionally stay --for MS
 * printing the room's frames, and leave (closing the connection would leave too, R-VOICE-8):
 *   voice join COMMUNITY CHANNEL [--for MS]
 *   voice mute|unmute COMMUNITY CHANNEL [--for MS]
 *   voice offer COMMUNITY CHANNEL TARGET_DID SDP_FILE [--for MS]   (peer-to-peer signalling)
 *   voice session COMMUNITY CHANNEL [--for MS]                     (SFU session through the server)
 *   voice push COMMUNITY CHANNEL SDP_FILE TRACK_NAME... [--for MS] (SFU session + tracks.push)
 * A signalling-only server answers the SFU calls with CF_*_FAILED (R-SFU-13): reported as an
 * error, exit status 1. */
static void voice_cmd(int n, char **argv) {
  const char *sub = n > 1 ? argv[1] : "";
  long stay = 0;
  int m = n;
  if (m >= 2 && !strcmp(argv[m - 2], "--for")) {
    stay = atol(argv[m - 1]);
    if (stay <= 0) die(2, "--for needs a positive number of ms");
    m -= 2;
  }
  int nargs = m - 2; /* after "voice SUB" */
  int ok = (!strcmp(sub, "join") || !strcmp(sub, "mute") || !strcmp(sub, "unmute") || !strcmp(sub, "session"))
               ? nargs == 2
           : !strcmp(sub, "offer") ? nargs == 4
           : !strcmp(sub, "push")  ? nargs >= 4
                                   : 0;
  if (!ok)
    die(2, "usage: harmony voice join|mute|unmute|session COMMUNITY CHANNEL [--for MS]\n"
           "       harmony voice offer COMMUNITY CHANNEL TARGET_DID SDP_FILE [--for MS]\n"
           "       harmony voice push COMMUNITY CHANNEL SDP_FILE TRACK_NAME... [--for MS]\n"
           "       harmony voice leave CHANNEL");
  const char *comm = argv[2], *ch = argv[3];
  const char *sdpfile = !strcmp(sub, "offer") ? argv[5] : !strcmp(sub, "push") ? argv[4] : NULL;
  if (sdpfile) {
    /* Checked before connecting, so a bad file costs no login. */
    char sdp[65537], why[300];
    if (!read_sdp(sdpfile, sdp, sizeof sdp, why, sizeof why)) die(2, "%s", why);
  }
  hm_json *p = hm_json_new_object();
  setstr(p, "communityId", comm);
  setstr(p, "channelId", ch);
  push_req("voice.join", p, "voice.state", NULL, NULL, NULL, NULL);
  if (!strcmp(sub, "mute") || !strcmp(sub, "unmute")) {
    /* The room's answer is voice.state with action voice.mute/unmute (R-VOICE-11). */
    push_req(!strcmp(sub, "mute") ? "voice.mute" : "voice.unmute", hm_json_new_object(), "voice.state", NULL, NULL,
             NULL, NULL);
  } else if (!strcmp(sub, "offer")) {
    hm_json *q = hm_json_new_object();
    setstr(q, "targetDID", argv[4]);
    setstr(q, "communityId", comm);
    push_req("voice.offer", q, NULL, "sdpFile", sdpfile, "sdpKey", "sdp");
  } else if (!strcmp(sub, "session") || !strcmp(sub, "push")) {
    hm_json *q = hm_json_new_object();
    setstr(q, "channelId", ch);
    push_req("voice.session.create", q, "voice.session.created", NULL, NULL, NULL, NULL);
    if (!strcmp(sub, "push")) {
      hm_json *t = hm_json_new_object(), *tracks = hm_json_new_array();
      for (int k = 5; k < m; k++) {
        hm_json *e = hm_json_new_object();
        setstr(e, "location", "local");
        setstr(e, "trackName", argv[k]);
        (void)hm_json_array_append(tracks, e);
      }
      (void)hm_json_object_setc(t, "tracks", tracks);
      push_req("voice.tracks.push", t, "voice.tracks.pushed", "sdpFile", sdpfile, "sdpKey", "sessionDescription");
      (void)hm_json_object_setc(A.e.cmds[A.e.ncmds - 1], "useSession", hm_json_new_bool(1));
    }
  }
  if (stay > 0) {
    char b[80];
    snprintf(b, sizeof b, "{\"cmd\":\"sleep\",\"ms\":%ld,\"show\":true}", stay);
    push_cmd(b);
  }
  hm_json *l = hm_json_new_object();
  setstr(l, "channelId", ch);
  push_req("voice.leave", l, NULL, NULL, NULL, NULL, NULL);
}

static char *jstr(const char *s) {
  hm_json *j = hm_json_new_cstr(s);
  char *o = NULL;
  if (!j || hm_json_stringify(&o, NULL, j) != HM_OK) die(2, "argument is not valid UTF-8");
  hm_json_free(j);
  return o;
}

int main(int argc, char **argv) {
  memset(&A, 0, sizeof A);
  const char *h = getenv("HOME");
  snprintf(A.home, sizeof A.home, "%s/.harmony", h ? h : ".");
  snprintf(A.server, sizeof A.server, "%s", getenv("HARMONY_SERVER") ? getenv("HARMONY_SERVER") : "ws://127.0.0.1:4000");
  A.timeout_ms = 10000;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--json")) {
      A.json = 1;
    } else if (i + 1 < argc && !strcmp(argv[i], "--home")) {
      snprintf(A.home, sizeof A.home, "%s", argv[++i]);
    } else if (i + 1 < argc && !strcmp(argv[i], "--server")) {
      snprintf(A.server, sizeof A.server, "%s", argv[++i]);
    } else if (!strcmp(argv[i], "--no-key-package")) {
      A.no_kp = 1;
    } else if (i + 1 < argc && !strcmp(argv[i], "--passphrase-file")) {
      snprintf(A.passfile, sizeof A.passfile, "%s", argv[++i]);
    } else if (i + 1 < argc && !strcmp(argv[i], "--timeout")) {
      A.timeout_ms = atoll(argv[++i]);
      if (A.timeout_ms <= 0) die(2, "--timeout needs a positive number of ms");
    } else {
      fprintf(stderr, "harmony: unknown or incomplete option %s\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (strncmp(A.server, "ws://", 5) && strncmp(A.server, "wss://", 6))
    die(2, "bad server URL: %s (expected ws://HOST:PORT)", A.server);
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  if (sodium_init() < 0) die(1, "libsodium failed to initialise");
  const char *c1 = argv[i], *c2 = i + 1 < argc ? argv[i + 1] : "";
  int rest = argc - i; /* words including c1 */
  static const char *const known[] = {"id",   "script",   "thread",   "community",  "channel",       "dm",       "history",
                                      "listen", "mls",   "send",       "role",          "moderation", "search",
                                      "notifications", "presence", "profile", "voice"};
  int is_known = 0;
  for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) is_known |= !strcmp(c1, known[k]);
  if (!is_known) {
    fprintf(stderr, "harmony: unknown command %s\n", c1);
    usage(stderr);
    return 2;
  }
  db_open();
  if (!strcmp(c1, "id")) {
    if (!strcmp(c2, "new")) {
      int force = rest > 2 && !strcmp(argv[i + 2], "--force");
      if (have_identity() && !force) die(2, "an identity already exists in %s (use --force to replace it)", A.home);
      uint8_t ent[16];
      char m[HM_BIP39_MNEMONIC_MAX];
      hm_random_bytes(ent, sizeof ent);
      if (hm_bip39_entropy_to_mnemonic(m, sizeof m, ent, sizeof ent) != HM_OK) die(1, "mnemonic failed");
      sodium_memzero(ent, sizeof ent);
      fprintf(stderr, "Write down this recovery phrase; it is shown only once:\n");
      printf("%s\n", m);
      store_identity(m);
      sodium_memzero(m, sizeof m);
      return 0;
    } else if (!strcmp(c2, "recover")) {
      char m[512];
      if (!fgets(m, sizeof m, stdin)) die(2, "expected the mnemonic on stdin");
      m[strcspn(m, "\r\n")] = 0;
      store_identity(m);
      sodium_memzero(m, sizeof m);
      return 0;
    } else if (!strcmp(c2, "show")) {
      char d[128];
      if (!have_identity() ||
          !db_get("SELECT did FROM identity_seed WHERE k=1 UNION SELECT did FROM identity_sealed WHERE k=1", NULL, d, sizeof d))
        die(2, "no identity in %s", A.home);
      printf("%s\n", d);
      return 0;
    }
    die(2, "usage: harmony id new|recover|show");
  }
  load_identity();
  if (!strcmp(c1, "script")) {
    A.script = 1;
  } else {
    push_cmd("{\"cmd\":\"connect\"}");
    char buf[8192];
    if (!strcmp(c1, "community") && !strcmp(c2, "create") && rest == 3) {
      char *n = jstr(argv[i + 2]);
      snprintf(buf, sizeof buf, "{\"cmd\":\"community.create\",\"name\":%s}", n);
      hm_free(n);
    } else if (!strcmp(c1, "community") && !strcmp(c2, "join") && rest == 3) {
      char *n = jstr(argv[i + 2]);
      snprintf(buf, sizeof buf, "{\"cmd\":\"community.join\",\"communityId\":%s}", n);
      hm_free(n);
    } else if (!strcmp(c1, "channel") && !strcmp(c2, "send") && rest == 5) {
      char *a = jstr(argv[i + 2]), *b = jstr(argv[i + 3]), *t = jstr(argv[i + 4]);
      snprintf(buf, sizeof buf, "{\"cmd\":\"channel.send\",\"communityId\":%s,\"channelId\":%s,\"text\":%s}", a, b, t);
      hm_free(a), hm_free(b), hm_free(t);
    } else if (!strcmp(c1, "channel") && !strcmp(c2, "edit") && rest == 6) {
      char *a = jstr(argv[i + 2]), *b = jstr(argv[i + 3]), *m = jstr(argv[i + 4]), *t = jstr(argv[i + 5]);
      snprintf(buf, sizeof buf, "{\"cmd\":\"channel.edit\",\"communityId\":%s,\"channelId\":%s,\"messageId\":%s,\"text\":%s}", a, b, m, t);
      hm_free(a), hm_free(b), hm_free(m), hm_free(t);
    } else if (!strcmp(c1, "send") && (rest == 3 || rest == 4)) {
      /* harmony send TYPE PAYLOAD_JSON [REPLY_TYPE]: any frame of the registry. */
      hm_json *pl = NULL;
      if (hm_json_parse(&pl, argv[i + 2], strlen(argv[i + 2]), 0, NULL) != HM_OK || hm_json_kind_of(pl) != HM_JSON_OBJECT)
        die(2, "PAYLOAD must be a JSON object");
      hm_json *o = hm_json_new_object();
      setstr(o, "cmd", "req");
      setstr(o, "type", argv[i + 1]);
      (void)hm_json_object_setc(o, "payload", pl);
      if (rest == 4) setstr(o, "wait", argv[i + 3]);
      char *t = NULL;
      if (hm_json_stringify(&t, NULL, o) != HM_OK || strlen(t) >= sizeof buf) die(2, "payload too long");
      snprintf(buf, sizeof buf, "%s", t);
      hm_free(t);
      hm_json_free(o);
    } else if (!strcmp(c1, "dm") && !strcmp(c2, "edit") && rest == 5) {
      char *a = jstr(argv[i + 2]), *m = jstr(argv[i + 3]), *t = jstr(argv[i + 4]);
      snprintf(buf, sizeof buf, "{\"cmd\":\"dm.edit\",\"did\":%s,\"messageId\":%s,\"text\":%s}", a, m, t);
      hm_free(a), hm_free(m), hm_free(t);
    } else if (!strcmp(c1, "dm") && !strcmp(c2, "send") && rest == 4) {
      char *a = jstr(argv[i + 2]), *t = jstr(argv[i + 3]);
      snprintf(buf, sizeof buf, "{\"cmd\":\"dm.send\",\"did\":%s,\"text\":%s}", a, t);
      hm_free(a), hm_free(t);
    } else if (!strcmp(c1, "history") && (rest == 3 || (rest == 5 && !strcmp(argv[i + 3], "--limit")))) {
      char *a = jstr(argv[i + 1]), *b = jstr(argv[i + 2]);
      long lim = rest == 5 ? atol(argv[i + 4]) : 50;
      if (lim <= 0) die(2, "--limit needs a positive number");
      snprintf(buf, sizeof buf, "{\"cmd\":\"history\",\"communityId\":%s,\"channelId\":%s,\"limit\":%ld}", a, b, lim);
      hm_free(a), hm_free(b);
    } else if (simple_cmd(argc - i, argv + i, buf, sizeof buf)) {
      /* built by the table */
    } else if (!strcmp(c1, "listen")) {
      A.listening = 1;
      for (int k = i + 1; k < argc; k++) {
        if (!strcmp(argv[k], "--json"))
          A.json = 1;
        else if (!strcmp(argv[k], "--for") && k + 1 < argc)
          A.listen_ms = now_ms() + atoll(argv[++k]);
        else
          die(2, "usage: harmony listen [--json] [--for MS]");
      }
      buf[0] = 0;
    } else if (!strcmp(c1, "mls") && !strcmp(c2, "upload-keypackage") && rest == 2) {
      snprintf(buf, sizeof buf, "{\"cmd\":\"mls.keypackage.upload\"}");
    } else if (!strcmp(c1, "mls") && (!strcmp(c2, "create") || !strcmp(c2, "update")) && rest == 4) {
      char *a = jstr(argv[i + 2]), *b = jstr(argv[i + 3]);
      snprintf(buf, sizeof buf, "{\"cmd\":\"mls.%s\",\"communityId\":%s,\"channelId\":%s}", c2, a, b);
      hm_free(a), hm_free(b);
    } else if (!strcmp(c1, "voice") && strcmp(c2, "leave")) {
      voice_cmd(argc - i, argv + i);
      buf[0] = 0;
    } else if (!strcmp(c1, "mls") && (!strcmp(c2, "add") || !strcmp(c2, "remove")) && rest == 5) {
      char *a = jstr(argv[i + 2]), *b = jstr(argv[i + 3]), *d = jstr(argv[i + 4]);
      snprintf(buf, sizeof buf, "{\"cmd\":\"mls.%s\",\"communityId\":%s,\"channelId\":%s,\"did\":%s}", c2, a, b, d);
      hm_free(a), hm_free(b), hm_free(d);
    } else {
      fprintf(stderr, "harmony: unknown command or wrong number of arguments\n");
      usage(stderr);
      return 2;
    }
    if (buf[0]) push_cmd(buf);
    /* mls add needs the key package response: give it time to arrive before exiting. */
    if (!strcmp(c1, "mls") && (!strcmp(c2, "add") || !strcmp(c2, "create"))) push_cmd("{\"cmd\":\"sleep\",\"ms\":1500}");
  }
  run_engine();
  hm_identity_clear(&A.id);
  sqlite3_close(A.db);
  return A.exit_code;
}
