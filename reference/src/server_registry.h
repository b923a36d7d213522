/* server_registry.h - the message registry as a C table (private to the server core).
 *
 * The table itself is generated at build time by tools/gen-dispatch from
 * spec/registry.json (one row per (type, direction), sorted by type then direction), so
 * the server's dispatch can never drift from the spec's registry.
 */
#ifndef HARMONY_SERVER_REGISTRY_H
#define HARMONY_SERVER_REGISTRY_H

#include <stddef.h>

/* JSON types a payload field may take (a union ORs them). */
enum {
  HM_FT_STRING = 1 << 0,
  HM_FT_INTEGER = 1 << 1,
  HM_FT_NUMBER = 1 << 2,
  HM_FT_BOOLEAN = 1 << 3,
  HM_FT_OBJECT = 1 << 4,
  HM_FT_ARRAY = 1 << 5,
  HM_FT_BYTES = 1 << 6, /* the {"__type":"Uint8Array","data":...} codec object */
  HM_FT_ANY = 1 << 7
};

/* Registry authz terms (an alternation "a|b" sets both bits). */
enum {
  HM_AZ_NONE = 1 << 0,
  HM_AZ_AUTHENTICATED = 1 << 1,
  HM_AZ_MEMBER = 1 << 2,
  HM_AZ_NOT_BANNED = 1 << 3,
  HM_AZ_ADMIN = 1 << 4,
  HM_AZ_PERMISSION = 1 << 5,
  HM_AZ_AUTHOR = 1 << 6,
  HM_AZ_UPLOADER = 1 << 7,
  HM_AZ_SELF = 1 << 8,
  HM_AZ_PARTICIPANT = 1 << 9,
  HM_AZ_GUARDIAN = 1 << 10,
  HM_AZ_REQUESTER = 1 << 11,
  HM_AZ_RECIPIENT = 1 << 12,
  HM_AZ_SHARED_COMMUNITY = 1 << 13
};

typedef enum { HM_REG_C2S = 0, HM_REG_S2C = 1 } hm_reg_direction;
typedef enum { HM_REG_ACTIVE = 0, HM_REG_DEPRECATED = 1, HM_REG_NOOP = 2 } hm_reg_status;

typedef struct {
  const char *name;
  unsigned types;  /* HM_FT_* mask */
  int required;
  long max;        /* max UTF-16 code units (strings) or items (arrays); -1 = none given */
} hm_reg_field;

typedef struct {
  const char *type;
  hm_reg_direction direction;
  hm_reg_status status;
  int since_auth;
  unsigned authz;          /* HM_AZ_* mask */
  const char *permission;  /* first permission:<name> term, or NULL */
  size_t first_field;      /* index into hm_registry_fields */
  size_t n_fields;
} hm_reg_type;

extern const hm_reg_field hm_registry_fields[];
extern const hm_reg_type hm_registry[];
extern const size_t hm_registry_len;

/* The row for (type[0..len), dir), or NULL. Exact, case-sensitive match (R-MISC-3). */
const hm_reg_type *hm_registry_find(const char *type, size_t len, hm_reg_direction dir);

#endif
