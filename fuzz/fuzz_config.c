/* fuzz/fuzz_config.c - harmony/server_config.h: harmonyd's configuration file and command line.
 *
 * Input: if it starts with '-', the rest after byte 0 is split at NUL bytes into an argv
 * (inputs naming --config or a prefix of it are skipped: that would read files); otherwise
 * it is the text of a configuration file.
 * Invariants: results are HM_OK, HM_ERR_INVAL with a non-empty message, or HM_ERR_NOMEM;
 * after HM_OK every option is within its documented range (ports 0-65535, timers >= their
 * minimum, rate limit both zero or both positive, repeatable lists hold did:... issuers and
 * non-empty ids, log level one of the four names); options free cleanly (LeakSanitizer).
 */
#include <string.h>

#include "fuzz.h"
#include "harmony/server_config.h"

static void check_ranges(const hm_server_options *o, int finished) {
  FZ_CHECK(o->port >= 0 && o->port <= 65535, "port %ld", o->port);
  FZ_CHECK(o->http_port >= (finished ? 0 : -1) && o->http_port <= 65535, "http port %ld", o->http_port);
  FZ_CHECK(o->auth_timeout_ms >= 100, "auth timeout %ld", o->auth_timeout_ms);
  FZ_CHECK((o->rate_max == 0) == (o->rate_window_ms == 0) && o->rate_max >= 0, "rate %ld/%ld", o->rate_max,
           o->rate_window_ms);
  FZ_CHECK(o->vp_freshness_s >= 1 && o->keepalive_ms >= 0 && o->max_connections >= 1 && o->sfu_timeout_ms >= 1,
           "timers");
  FZ_CHECK(o->host && o->data_dir && *o->data_dir && o->sfu_api_base, "strings");
  FZ_CHECK(!strcmp(o->log_level, "error") || !strcmp(o->log_level, "warn") || !strcmp(o->log_level, "info") ||
               !strcmp(o->log_level, "debug"),
           "log level %s", o->log_level);
  for (size_t i = 0; i < o->n_trusted; i++) FZ_CHECK(!strncmp(o->trusted[i], "did:", 4), "issuer");
  for (size_t i = 0; i < o->n_revoked; i++) FZ_CHECK(o->revoked[i][0], "revoked id");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hm_server_options o;
  if (hm_server_options_init(&o) != HM_OK) abort();
  char err[512] = "";
  if (size > 0 && data[0] == '-') {
    char *text = fz_cstr(data + 1, size - 1);
    char *argv[64];
    int argc = 0;
    argv[argc++] = "harmonyd";
    size_t i = 0, n = size - 1;
    int skip = 0;
    while (i <= n && argc < 64) {
      char *a = text + i;
      size_t l = strlen(a);
      if (l >= 3 && !strncmp(a, "--c", 3)) skip = 1;
      argv[argc++] = a;
      i += l + 1;
    }
    if (!skip) {
      int action;
      int rc = hm_server_options_parse_argv(&o, argc, argv, &action, err, sizeof err);
      FZ_CHECK(rc == HM_OK || rc == HM_ERR_INVAL || rc == HM_ERR_NOMEM, "rc %d", rc);
      if (rc == HM_ERR_INVAL) FZ_CHECK(err[0], "no message");
      if (rc == HM_OK && action == HM_OPTS_RUN) check_ranges(&o, 1);
    }
    free(text);
  } else {
    int rc = hm_server_options_load_json(&o, (const char *)data, size, "fuzz.json", err, sizeof err);
    FZ_CHECK(rc == HM_OK || rc == HM_ERR_INVAL || rc == HM_ERR_NOMEM, "rc %d", rc);
    if (rc == HM_ERR_INVAL) FZ_CHECK(err[0], "no message");
    if (rc == HM_OK) check_ranges(&o, 0);
  }
  hm_server_options_free(&o);
  return 0;
}
