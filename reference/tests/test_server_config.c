/* test_server_config.c - harmonyd's options: command line and configuration file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harmony/server.h"
#include "harmony/server_config.h"
#include "hm_test_alloc.h"

static int run_argv(hm_server_options *o, int *action, char *err, size_t cap, int argc, ...) {
  char *argv[32];
  va_list ap;
  va_start(ap, argc);
  argv[0] = "harmonyd";
  for (int i = 1; i < argc; i++) argv[i] = va_arg(ap, char *);
  va_end(ap);
  return hm_server_options_parse_argv(o, argc, argv, action, err, cap);
}

static void test_server_options_defaults(void **state) {
  (void)state;
  hm_server_options o;
  assert_int_equal(hm_server_options_init(&o), HM_OK);
  char err[256];
  int action;
  assert_int_equal(run_argv(&o, &action, err, sizeof err, 1), HM_OK);
  assert_int_equal(action, HM_OPTS_RUN);
  assert_string_equal(o.host, "127.0.0.1");
  assert_int_equal(o.port, 4000);
  assert_int_equal(o.http_port, 4001);
  assert_string_equal(o.data_dir, "./harmony-data");
  assert_int_equal(o.auth_timeout_ms, 30000);
  assert_int_equal(o.rate_max, 200);
  assert_int_equal(o.rate_window_ms, 10000);
  assert_int_equal(o.keepalive_ms, 30000);
  assert_int_equal(o.max_connections, 1024);
  assert_string_equal(o.sfu_api_base, "https://rtc.live.cloudflare.com");
  assert_null(o.sfu_app_id);
  assert_int_equal(hm_server_options_log_level(&o), HM_LOG_INFO);
  hm_server_options_free(&o);
}

static void test_server_options_argv_template(void **state) {
  (void)state;
  hm_server_options o;
  assert_int_equal(hm_server_options_init(&o), HM_OK);
  char err[256];
  int action;
  int rc = run_argv(&o, &action, err, sizeof err, 24, "--host", "127.0.0.1", "--port", "0", "--http-port=0",
                    "--data-dir", "/tmp/x", "--rate-limit", "20/1000", "--keepalive-ms", "300", "--sfu-app-id", "",
                    "--trusted-issuer", "did:key:z1", "--trusted-issuer", "did:key:z2", "--revoked-credential", "vc1",
                    "--log-level", "debug", "--max-conn", "7");
  assert_int_equal(rc, HM_OK);
  assert_int_equal(o.port, 0);
  assert_int_equal(o.http_port, 0);
  assert_string_equal(o.data_dir, "/tmp/x");
  assert_int_equal(o.rate_max, 20);
  assert_int_equal(o.rate_window_ms, 1000);
  assert_int_equal(o.keepalive_ms, 300);
  assert_string_equal(o.sfu_app_id, "");
  assert_int_equal(o.n_trusted, 2);
  assert_string_equal(o.trusted[1], "did:key:z2");
  assert_int_equal(o.n_revoked, 1);
  assert_int_equal(o.max_connections, 7); /* unique prefix, as getopt_long */
  assert_int_equal(hm_server_options_log_level(&o), HM_LOG_DEBUG);
  hm_server_options_free(&o);
}

static void expect_argv_error(const char *msg_part, int argc, char *a1, char *a2) {
  hm_server_options o;
  assert_int_equal(hm_server_options_init(&o), HM_OK);
  char err[256] = "";
  int action;
  assert_int_equal(run_argv(&o, &action, err, sizeof err, argc, a1, a2), HM_ERR_INVAL);
  assert_non_null(strstr(err, msg_part));
  hm_server_options_free(&o);
}

static void test_server_options_argv_errors(void **state) {
  (void)state;
  expect_argv_error("unknown option '--nope'", 2, "--nope", NULL);
  expect_argv_error("needs a value", 2, "--port", NULL);
  expect_argv_error("invalid value for --port: '70000'", 3, "--port", "70000");
  expect_argv_error("invalid value for --auth-timeout-ms: '99'", 3, "--auth-timeout-ms", "99");
  expect_argv_error("invalid value for --rate-limit", 3, "--rate-limit", "5");
  expect_argv_error("invalid value for --log-level", 3, "--log-level", "loud");
  expect_argv_error("invalid value for --trusted-issuer", 3, "--trusted-issuer", "bob");
  expect_argv_error("unexpected argument 'extra'", 2, "extra", NULL);
  expect_argv_error("unknown option '-p'", 2, "-p", NULL);
  expect_argv_error("unknown option '--s'", 2, "--s", NULL); /* ambiguous prefix */
  expect_argv_error("out of range", 3, "--port", "65535");    /* default HTTP port 65536 */
}

static void test_server_options_help_version(void **state) {
  (void)state;
  hm_server_options o;
  assert_int_equal(hm_server_options_init(&o), HM_OK);
  char err[256];
  int action;
  assert_int_equal(run_argv(&o, &action, err, sizeof err, 3, "--version", "--nope"), HM_OK);
  assert_int_equal(action, HM_OPTS_VERSION);
  assert_int_equal(run_argv(&o, &action, err, sizeof err, 2, "--help"), HM_OK);
  assert_int_equal(action, HM_OPTS_HELP);
  hm_server_options_free(&o);
}

static void test_server_options_config_json(void **state) {
  (void)state;
  hm_server_options o;
  assert_int_equal(hm_server_options_init(&o), HM_OK);
  char err[256];
  const char *j = "{\"host\":\"0.0.0.0\",\"port\":4100,\"rate-limit\":\"0\",\"trusted-issuer\":[\"did:key:za\"],"
                  "\"auth-timeout-ms\":\"500\"}";
  assert_int_equal(hm_server_options_load_json(&o, j, strlen(j), "t.json", err, sizeof err), HM_OK);
  assert_string_equal(o.host, "0.0.0.0");
  assert_int_equal(o.port, 4100);
  assert_int_equal(o.rate_max, 0);
  assert_int_equal(o.auth_timeout_ms, 500);
  assert_int_equal(o.n_trusted, 1);
  const char *bad[] = {"[1]", "{\"port\":1.5}", "{\"config\":\"x\"}", "{\"nope\":1}", "{\"port\":1,\"port\":2}",
                       "{\"host\":\"a\\u0000b\"}", "{"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(hm_server_options_load_json(&o, bad[i], strlen(bad[i]), "t.json", err, sizeof err),
                     HM_ERR_INVAL);
  hm_server_options_free(&o);
}

static void test_server_options_config_file_flags_win(void **state) {
  (void)state;
  char path[] = "/tmp/hm-test-config-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *j = "{\"port\": 5000, \"keepalive-ms\": 100, \"data-dir\": \"/from/file\"}";
  assert_int_equal(write(fd, j, strlen(j)), (ssize_t)strlen(j));
  close(fd);
  hm_server_options o;
  assert_int_equal(hm_server_options_init(&o), HM_OK);
  char err[256];
  int action;
  assert_int_equal(run_argv(&o, &action, err, sizeof err, 5, "--port", "6000", "--config", path), HM_OK);
  assert_int_equal(o.port, 6000); /* the flag wins, whatever its position */
  assert_int_equal(o.http_port, 6001);
  assert_int_equal(o.keepalive_ms, 100);
  assert_string_equal(o.data_dir, "/from/file");
  hm_server_options_free(&o);
  unlink(path);
  assert_int_equal(hm_server_options_init(&o), HM_OK);
  assert_int_equal(run_argv(&o, &action, err, sizeof err, 3, "--config", "/nonexistent/x.json"), HM_ERR_INVAL);
  assert_non_null(strstr(err, "cannot read config /nonexistent/x.json"));
  hm_server_options_free(&o);
}

static void test_server_options_alloc_failure(void **state) {
  (void)state;
  hm_test_alloc_install();
  const char *j = "{\"host\":\"h\",\"trusted-issuer\":[\"did:a\",\"did:b\"],\"sfu-app-secret\":\"s\"}";
  for (long k = 1;; k++) {
    hm_server_options o;
    hm_test_alloc_fail_at(k);
    int rc = hm_server_options_init(&o);
    char err[128];
    if (rc == HM_OK) rc = hm_server_options_load_json(&o, j, strlen(j), "t", err, sizeof err);
    hm_test_alloc_fail_at(0);
    hm_server_options_free(&o);
    assert_int_equal(hm_test_alloc_outstanding(), 0);
    if (rc == HM_OK) break;
    assert_int_equal(rc, HM_ERR_NOMEM);
    assert_true(k < 100);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_options_defaults),
      cmocka_unit_test(test_server_options_argv_template),
      cmocka_unit_test(test_server_options_argv_errors),
      cmocka_unit_test(test_server_options_help_version),
      cmocka_unit_test(test_server_options_config_json),
      cmocka_unit_test(test_server_options_config_file_flags_win),
      cmocka_unit_test(test_server_options_alloc_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
