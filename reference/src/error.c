/* error.c - the error table (see harmony/error.h). */
#include "harmony/error.h"

#include <stddef.h>

typedef struct {
  int value;
  const char *code;
  const char *wire;
  const char *msg;
} hm_err_row;

static const hm_err_row rows[] = {
#define HM_ERR_ROW_(name, value, code, wire, msg) {value, code, wire, msg},
    HM_ERR_TABLE(HM_ERR_ROW_)
#undef HM_ERR_ROW_
};

static const hm_err_row *find(int err) {
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (rows[i].value == err) return &rows[i];
  return 0;
}

const char *hm_strerror(int err) {
  const hm_err_row *r = find(err);
  return r ? r->msg : "unknown error";
}

const char *hm_err_name(int err) {
  const hm_err_row *r = find(err);
  return r ? r->code : "UNKNOWN";
}

const char *hm_err_wire(int err) {
  const hm_err_row *r = find(err);
  return (r && r->wire[0]) ? r->wire : "INTERNAL";
}
