/* server_config.c - harmonyd's command line and configuration file. See harmony/server_config.h. */
#include "harmony/server_config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/server.h"

static int errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t cap, const char *fmt, ...) {
  if (err && cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return HM_ERR_INVAL;
}

static int set_str(char **dst, const char *v) {
  char *s = hm_strdup(v);
  if (!s) return HM_ERR_NOMEM;
  hm_free(*dst);
  *dst = s;
  return HM_OK;
}

static int push_str(char ***list, size_t *n, const char *v) {
  char **nl = hm_realloc(*list, (*n + 1) * sizeof *nl);
  if (!nl) return HM_ERR_NOMEM;
  *list = nl;
  if (!(nl[*n] = hm_strdup(v))) return HM_ERR_NOMEM;
  (*n)++;
  return HM_OK;
}

int hm_server_options_init(hm_server_options *o) {
  memset(o, 0, sizeof *o);
  o->port = 4000;
  o->http_port = -1;
  o->auth_timeout_ms = 30000;
  o->rate_max = 200;
  o->rate_window_ms = 10000;
  o->vp_freshness_s = 300;
  o->keepalive_ms = 30000;
  o->max_connections = 1024;
  o->sfu_timeout_ms = 10000;
  if (set_str(&o->host, "127.0.0.1") || set_str(&o->data_dir, "./harmony-data") || set_str(&o->log_level, "info") ||
      set_str(&o->sfu_api_base, "https://rtc.live.cloudflare.com"))
    return HM_ERR_NOMEM;
  return HM_OK;
}

void hm_server_options_free(hm_server_options *o) {
  if (!o) return;
  for (size_t i = 0; i < o->n_trusted; i++) hm_free(o->trusted[i]);
  for (size_t i = 0; i < o->n_revoked; i++) hm_free(o->revoked[i]);
  hm_free(o->trusted);
  hm_free(o->revoked);
  hm_free(o->host);
  hm_free(o->data_dir);
  hm_free(o->log_level);
  hm_free(o->sfu_api_base);
  hm_free(o->sfu_app_id);
  if (o->sfu_app_secret) hm_free_secret(o->sfu_app_secret, strlen(o->sfu_app_secret));
  memset(o, 0, sizeof *o);
}

static int parse_long(long *out, const char *flag, const char *v, long lo, long hi, char *err, size_t cap) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < lo || n > hi) return errf(err, cap, "invalid value for --%s: '%s'", flag, v);
  *out = n;
  return HM_OK;
}

int hm_server_options_apply(hm_server_options *o, const char *name, const char *v, char *err, size_t cap) {
  if (!strcmp(name, "host")) return set_str(&o->host, v);
  if (!strcmp(name, "port")) return parse_long(&o->port, name, v, 0, 65535, err, cap);
  if (!strcmp(name, "http-port")) return parse_long(&o->http_port, name, v, 0, 65535, err, cap);
  if (!strcmp(name, "data-dir")) {
    if (!*v) return errf(err, cap, "invalid value for --data-dir: ''");
    return set_str(&o->data_dir, v);
  }
  if (!strcmp(name, "log-level")) {
    if (strcmp(v, "error") && strcmp(v, "warn") && strcmp(v, "info") && strcmp(v, "debug"))
      return errf(err, cap, "invalid value for --log-level: '%s'", v);
    return set_str(&o->log_level, v);
  }
  if (!strcmp(name, "auth-timeout-ms")) return parse_long(&o->auth_timeout_ms, name, v, 100, 86400000L, err, cap);
  if (!strcmp(name, "rate-limit")) {
    if (!strcmp(v, "0")) {
      o->rate_max = o->rate_window_ms = 0;
      return HM_OK;
    }
    const char *slash = strchr(v, '/');
    if (!slash) return errf(err, cap, "invalid value for --rate-limit: '%s' (expected N/WINDOW_MS or 0)", v);
    char n[32];
    size_t k = (size_t)(slash - v);
    if (k == 0 || k >= sizeof n) return errf(err, cap, "invalid value for --rate-limit: '%s'", v);
    memcpy(n, v, k);
    n[k] = 0;
    long mx = 0, win = 0;
    int rc = parse_long(&mx, name, n, 1, 1000000000L, err, cap);
    if (!rc) rc = parse_long(&win, name, slash + 1, 1, 86400000L, err, cap);
    if (rc) return rc;
    o->rate_max = mx;
    o->rate_window_ms = win;
    return HM_OK;
  }
  if (!strcmp(name, "vp-freshness-s")) return parse_long(&o->vp_freshness_s, name, v, 1, 86400L * 365, err, cap);
  if (!strcmp(name, "keepalive-ms")) return parse_long(&o->keepalive_ms, name, v, 0, 86400000L, err, cap);
  if (!strcmp(name, "max-connections")) return parse_long(&o->max_connections, name, v, 1, 1000000L, err, cap);
  if (!strcmp(name, "trusted-issuer")) {
    if (strncmp(v, "did:", 4)) return errf(err, cap, "invalid value for --trusted-issuer: '%s'", v);
    return push_str(&o->trusted, &o->n_trusted, v);
  }
  if (!strcmp(name, "revoked-credential")) {
    if (!*v) return errf(err, cap, "invalid value for --revoked-credential: ''");
    return push_str(&o->revoked, &o->n_revoked, v);
  }
  if (!strcmp(name, "sfu-api-base")) return set_str(&o->sfu_api_base, v);
  if (!strcmp(name, "sfu-app-id")) return set_str(&o->sfu_app_id, v);
  if (!strcmp(name, "sfu-app-secret")) {
    char *s = hm_strdup(v);
    if (!s) return HM_ERR_NOMEM;
    if (o->sfu_app_secret) hm_free_secret(o->sfu_app_secret, strlen(o->sfu_app_secret));
    o->sfu_app_secret = s;
    return HM_OK;
  }
  if (!strcmp(name, "sfu-timeout-ms")) return parse_long(&o->sfu_timeout_ms, name, v, 1, 600000L, err, cap);
  return errf(err, cap, "unknown option '%s'", name);
}

int hm_server_options_load_json(hm_server_options *o, const char *text, size_t len, const char *label, char *err,
                                size_t cap) {
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) return errf(err, cap, "cannot read config %s: %s (line %d)", label, je.text, je.line);
  int rc = HM_OK;
  if (!json_is_object(root)) {
    rc = errf(err, cap, "config %s: not a JSON object", label);
    goto out;
  }
  const char *key;
  json_t *val;
  json_object_foreach(root, key, val) {
    if (!strcmp(key, "config")) {
      rc = errf(err, cap, "config %s: 'config' cannot be nested", label);
      goto out;
    }
    json_t *items = json_is_array(val) ? val : NULL;
    size_t n = items ? json_array_size(items) : 1;
    for (size_t i = 0; i < n; i++) {
      json_t *v = items ? json_array_get(items, i) : val;
      char buf[64];
      const char *s;
      if (json_is_string(v)) {
        s = json_string_value(v);
        if (strlen(s) != json_string_length(v)) { /* an embedded NUL */
          rc = errf(err, cap, "config %s: bad value for '%s'", label, key);
          goto out;
        }
      } else if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = buf;
      } else {
        rc = errf(err, cap, "config %s: bad value for '%s'", label, key);
        goto out;
      }
      if ((rc = hm_server_options_apply(o, key, s, err, cap))) goto out;
    }
  }
out:
  json_decref(root);
  return rc;
}

int hm_server_options_load_file(hm_server_options *o, const char *path, char *err, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) return errf(err, cap, "cannot read config %s: %s (line %d)", path, strerror(errno), -1);
  size_t n = 0, c = 4096;
  char *buf = hm_malloc(c);
  int rc = HM_OK;
  if (!buf) rc = HM_ERR_NOMEM;
  while (!rc) {
    if (n == c) {
      if (c >= (64u << 20)) {
        rc = errf(err, cap, "cannot read config %s: file too large (line %d)", path, -1);
        break;
      }
      char *nb = hm_realloc(buf, c * 2);
      if (!nb) {
        rc = HM_ERR_NOMEM;
        break;
      }
      buf = nb;
      c *= 2;
    }
    size_t k = fread(buf + n, 1, c - n, f);
    n += k;
    if (k == 0) {
      if (ferror(f)) rc = errf(err, cap, "cannot read config %s: read error (line %d)", path, -1);
      break;
    }
  }
  fclose(f);
  if (!rc) rc = hm_server_options_load_json(o, buf, n, path, err, cap);
  hm_free(buf);
  return rc;
}

static const char *const k_names[] = {"host",           "port",           "http-port",       "data-dir",
                                      "config",         "log-level",      "auth-timeout-ms", "rate-limit",
                                      "vp-freshness-s", "keepalive-ms",   "max-connections", "trusted-issuer",
                                      "revoked-credential", "sfu-api-base", "sfu-app-id",    "sfu-app-secret",
                                      "sfu-timeout-ms", "version",        "help"};
enum { N_NAMES = sizeof k_names / sizeof k_names[0] };

/* The option named by arg ("--name" or "--name=value"): exact name, else a unique prefix.
 * Returns its index, -1 unknown, -2 ambiguous. *value points after '=' or is NULL. */
static int lookup(const char *arg, const char **value) {
  const char *name = arg + 2, *eq = strchr(name, '=');
  size_t n = eq ? (size_t)(eq - name) : strlen(name);
  *value = eq ? eq + 1 : NULL;
  int found = -1, count = 0;
  for (int i = 0; i < N_NAMES; i++) {
    if (strncmp(k_names[i], name, n)) continue;
    if (strlen(k_names[i]) == n) return i;
    found = i;
    count++;
  }
  if (n == 0) return -1;
  return count == 1 ? found : count > 1 ? -2 : -1;
}

static int flag_only(int i) { return !strcmp(k_names[i], "version") || !strcmp(k_names[i], "help"); }

int hm_server_options_parse_argv(hm_server_options *o, int argc, char *const *argv, int *action, char *err,
                                 size_t cap) {
  *action = HM_OPTS_RUN;
  /* pass 1: syntax, --help / --version, --config (applied first so that flags win) */
  for (int pass = 1; pass <= 2; pass++) {
    for (int i = 1; i < argc; i++) {
      const char *a = argv[i];
      if (!strcmp(a, "--")) {
        if (i + 1 < argc) return errf(err, cap, "unexpected argument '%s'", argv[i + 1]);
        break;
      }
      if (strncmp(a, "--", 2)) {
        if (a[0] == '-' && a[1]) return errf(err, cap, "unknown option '%s'", a);
        return errf(err, cap, "unexpected argument '%s'", a);
      }
      const char *v;
      int k = lookup(a, &v);
      if (k < 0) return errf(err, cap, "unknown option '%s'", a);
      if (flag_only(k)) {
        if (v) return errf(err, cap, "option '%s' takes no value", a);
        if (pass == 1) {
          *action = !strcmp(k_names[k], "help") ? HM_OPTS_HELP : HM_OPTS_VERSION;
          return HM_OK;
        }
        continue;
      }
      if (!v) {
        if (i + 1 >= argc) return errf(err, cap, "option '%s' needs a value", a);
        v = argv[++i];
      }
      int rc = HM_OK;
      int is_config = !strcmp(k_names[k], "config");
      if (pass == 1 && is_config)
        rc = hm_server_options_load_file(o, v, err, cap);
      else if (pass == 2 && !is_config)
        rc = hm_server_options_apply(o, k_names[k], v, err, cap);
      if (rc) return rc;
    }
  }
  return hm_server_options_finish(o, err, cap);
}

int hm_server_options_finish(hm_server_options *o, char *err, size_t cap) {
  if (o->http_port < 0) o->http_port = o->port == 0 ? 0 : o->port + 1;
  if (o->http_port > 65535)
    return errf(err, cap, "--http-port default (--port + 1) is out of range; give --http-port");
  return HM_OK;
}

int hm_server_options_log_level(const hm_server_options *o) {
  const char *l = o->log_level ? o->log_level : "info";
  return !strcmp(l, "error") ? HM_LOG_ERROR : !strcmp(l, "warn") ? HM_LOG_WARN : !strcmp(l, "debug") ? HM_LOG_DEBUG
                                                                                                      : HM_LOG_INFO;
}
