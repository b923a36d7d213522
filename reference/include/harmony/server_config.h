/* harmony/server_config.h - harmonyd's options: command line and JSON configuration file
 * (spec/server-under-test.md section 2, reference/server/README.md).
 *
 * Every option has a long name ("port", "data-dir", ...). On the command line it is given
 * as `--name VALUE` or `--name=VALUE` (a unique prefix of the name is accepted, as
 * getopt_long does); in the configuration file as a key of one JSON object, with a string
 * or integer value, or an array of them for the repeatable options (trusted-issuer,
 * revoked-credential). `--config FILE` is applied first, whatever its position, and the
 * other flags then win over it. Errors carry one line of text naming the problem (the
 * daemon prints it after "harmonyd: " and exits 2).
 */
#ifndef HARMONY_SERVER_CONFIG_H
#define HARMONY_SERVER_CONFIG_H

#include <stddef.h>

#include "harmony/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  char *host;           /* default "127.0.0.1" */
  long port;            /* default 4000 */
  long http_port;       /* -1 = default (port + 1, or 0 when port is 0): see hm_server_options_finish */
  char *data_dir;       /* default "./harmony-data" */
  char *log_level;      /* "error" | "warn" | "info" | "debug"; default "info" */
  long auth_timeout_ms; /* default 30000, >= 100 */
  long rate_max, rate_window_ms; /* default 200 / 10000; 0 / 0 = off */
  long vp_freshness_s;  /* default 300 */
  long keepalive_ms;    /* default 30000; 0 = off */
  long max_connections; /* default 1024 */
  char *sfu_api_base;   /* default "https://rtc.live.cloudflare.com" */
  char *sfu_app_id;     /* NULL = unset */
  char *sfu_app_secret; /* NULL = unset */
  long sfu_timeout_ms;  /* default 10000 */
  char **trusted;       /* repeatable --trusted-issuer */
  size_t n_trusted;
  char **revoked;       /* repeatable --revoked-credential */
  size_t n_revoked;
} hm_server_options;

/* What the command line asks for. */
enum { HM_OPTS_RUN = 0, HM_OPTS_HELP = 1, HM_OPTS_VERSION = 2 };

/* Fill o with the defaults. Returns HM_OK or HM_ERR_NOMEM (o is then still safe to free). */
int hm_server_options_init(hm_server_options *o);

/* Free every string and list of o (hm_free). NULL is a no-op. */
void hm_server_options_free(hm_server_options *o);

/* Apply one option by its long name. Returns HM_OK, HM_ERR_INVAL (unknown name or a
 * value out of range; err gets the message) or HM_ERR_NOMEM. err may be NULL. */
int hm_server_options_apply(hm_server_options *o, const char *name, const char *value, char *err, size_t errcap);

/* Apply a configuration file's text (one JSON object, duplicate keys refused). label names
 * the file in messages. Returns HM_OK, HM_ERR_INVAL (message in err) or HM_ERR_NOMEM. */
int hm_server_options_load_json(hm_server_options *o, const char *text, size_t len, const char *label, char *err,
                                size_t errcap);

/* hm_server_options_load_json on the contents of the file at path. */
int hm_server_options_load_file(hm_server_options *o, const char *path, char *err, size_t errcap);

/* Parse argv[1..argc) into o (already initialised): *action gets HM_OPTS_RUN, or
 * HM_OPTS_HELP / HM_OPTS_VERSION when --help / --version comes first (nothing else is
 * then applied). Returns HM_OK, HM_ERR_INVAL (message in err) or HM_ERR_NOMEM. On success
 * with HM_OPTS_RUN, hm_server_options_finish has been applied. */
int hm_server_options_parse_argv(hm_server_options *o, int argc, char *const *argv, int *action, char *err,
                                 size_t errcap);

/* Resolve the defaults that depend on other options (the HTTP port). Returns HM_OK or
 * HM_ERR_INVAL when --port + 1 is out of range and no --http-port was given. */
int hm_server_options_finish(hm_server_options *o, char *err, size_t errcap);

/* The HM_LOG_* level of o->log_level. */
int hm_server_options_log_level(const hm_server_options *o);

#ifdef __cplusplus
}
#endif
#endif
