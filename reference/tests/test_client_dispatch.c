/* test_client_dispatch.c - the client core has a callback slot for every s2c type of
 * spec/registry.json, and no slot that the registry does not define. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/client.h"
#include "harmony/json.h"

static hm_json *load_registry(void) {
  const char *src = getenv("HARMONY_SOURCE");
  char path[1024];
  snprintf(path, sizeof path, "%s/spec/registry.json", src ? src : "../../..");
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  hm_json *j = NULL;
  assert_int_equal(hm_json_parse(&j, buf, (size_t)n, 0, NULL), HM_OK);
  free(buf);
  return j;
}

static void test_client_dispatch_every_s2c_type_has_a_slot(void **st) {
  (void)st;
  hm_json *reg = load_registry();
  const hm_json *msgs = hm_json_object_getc(reg, "messages");
  size_t n_s2c = 0;
  for (size_t i = 0; i < hm_json_array_size(msgs); i++) {
    const hm_json *m = hm_json_array_get(msgs, i);
    if (!hm_json_string_is(hm_json_object_getc(m, "direction"), "s2c")) continue;
    const char *t = hm_json_string(hm_json_object_getc(m, "type"), NULL);
    if (hm_client_slot_of(t) < 0) fail_msg("registry s2c type %s has no client callback slot", t);
    n_s2c++;
  }
  assert_true(n_s2c > 0);
  /* ... and every slot is a registry s2c type. */
  for (size_t s = 0; s < hm_client_slot_count(); s++) {
    const char *name = hm_client_slot_name(s);
    int found = 0;
    for (size_t i = 0; i < hm_json_array_size(msgs) && !found; i++) {
      const hm_json *m = hm_json_array_get(msgs, i);
      found = hm_json_string_is(hm_json_object_getc(m, "direction"), "s2c") &&
              hm_json_string_is(hm_json_object_getc(m, "type"), name);
    }
    if (!found) fail_msg("client slot %s is not an s2c type of the registry", name);
  }
  hm_json_free(reg);
}

static int hits;
static void count(void *ctx, hm_client *c, const hm_client_event *ev) {
  (void)c;
  (void)ev;
  (*(int *)ctx)++;
  hits++;
}
static int64_t now0(void *ctx) {
  (void)ctx;
  return 1795000000000LL;
}

static void test_client_dispatch_handler_called_for_its_type(void **st) {
  (void)st;
  hm_identity id;
  uint8_t seed[32] = {1};
  assert_int_equal(hm_identity_from_seed32(&id, seed), HM_OK);
  hm_client_env env = {now0, NULL, NULL};
  hm_client *c = NULL;
  assert_int_equal(hm_client_new(&c, &env, &id), HM_OK);
  int presence = 0, other = 0;
  assert_int_equal(hm_client_set_handler(c, "presence.changed", count, &presence), HM_OK);
  assert_int_equal(hm_client_set_handler(c, "no.such.type", count, &presence), HM_ERR_NOT_FOUND);
  hm_client_set_default_handler(c, count, &other);
  const char *f1 = "{\"id\":\"1\",\"type\":\"presence.changed\",\"timestamp\":\"t\",\"sender\":\"d\",\"payload\":{\"status\":\"online\"}}";
  const char *f2 = "{\"id\":\"2\",\"type\":\"voice.speaking\",\"timestamp\":\"t\",\"sender\":\"d\",\"payload\":{}}";
  assert_int_equal(hm_client_on_frame(c, f1, strlen(f1)), HM_OK);
  assert_int_equal(hm_client_on_frame(c, f2, strlen(f2)), HM_OK);
  assert_int_equal(hm_client_on_frame(c, "not json", 8), HM_OK);
  assert_int_equal(presence, 1);
  assert_int_equal(other, 2); /* voice.speaking and the invalid frame */
  hm_client_free(c);
  hm_identity_clear(&id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_dispatch_every_s2c_type_has_a_slot),
      cmocka_unit_test(test_client_dispatch_handler_called_for_its_type),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
