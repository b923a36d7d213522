/* server_community.c - the handlers of the server core: communities, channel messages,
 * typing, history sync, token renewal, and the login resync.
 *
 * A handler runs after the generic checks of server_core.c (envelope, type, sender,
 * payload types and limits from the registry, ban, membership), so it does only its
 * type's own checks (existence, type-specific shapes, quotas) and its effect. Every
 * stored change is committed before the first frame that reveals it is queued (R-PERS-1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/crypto.h"
#include "harmony/did.h"
#include "harmony/vc.h"
#include "server_internal.h"

#define MAX_COMMUNITIES_PER_DID 100 /* R-LIM-6 */
#define ACTION_PREFIX "https://harmony.example/vocab#"

/* ---- JSON building helpers ------------------------------------------------------------ */

/* Each setter takes ownership and reports failure through *rc (first error sticks). */
static void set(hm_json *o, const char *k, hm_json *v, int *rc) {
  if (*rc != HM_OK) {
    hm_json_free(v);
    return;
  }
  *rc = hm_json_object_setc(o, k, v);
}

static void set_str(hm_json *o, const char *k, const char *s, int *rc) { set(o, k, hm_json_new_cstr(s), rc); }

static void set_iso(hm_json *o, const char *k, int64_t ms, int *rc) {
  char ts[32];
  if (hm_srv_iso(ts, ms) != HM_OK) strcpy(ts, "1970-01-01T00:00:00.000Z");
  set_str(o, k, ts, rc);
}

static void push(hm_json *a, hm_json *v, int *rc) {
  if (*rc != HM_OK) {
    hm_json_free(v);
    return;
  }
  *rc = hm_json_array_append(a, v);
}

typedef struct {
  hm_server *srv;
  hm_json *arr;
  int rc;
  int summary; /* ChannelSummary {id, name, type} instead of ChannelInfo */
} build_ctx;

static int channel_info_cb(void *ctx, const hm_store_channel *ch) {
  build_ctx *b = ctx;
  hm_json *o = hm_json_new_object();
  int rc = o ? HM_OK : HM_ERR_NOMEM;
  set_str(o, "id", ch->id, &rc);
  if (!b->summary) set_str(o, "communityId", ch->community_id, &rc);
  set_str(o, "name", ch->name, &rc);
  set_str(o, "type", ch->type, &rc);
  if (!b->summary) {
    if (ch->topic) set_str(o, "topic", ch->topic, &rc);
    set_iso(o, "createdAt", ch->created_ms, &rc);
  }
  push(b->arr, rc == HM_OK ? o : NULL, &b->rc);
  if (rc != HM_OK) {
    hm_json_free(o);
    b->rc = rc;
  }
  return b->rc != HM_OK;
}

/* ChannelInfo[] (or ChannelSummary[]) of a community, in creation order. NULL on failure. */
static hm_json *channels_json(hm_server *srv, const char *cid, int summary) {
  build_ctx b = {srv, hm_json_new_array(), HM_OK, summary};
  if (!b.arr) return NULL;
  int rc = srv->st->vt->channel_list(srv->st, cid, channel_info_cb, &b);
  if (rc != HM_OK || b.rc != HM_OK) {
    hm_json_free(b.arr);
    return NULL;
  }
  return b.arr;
}

const char *hm_srv_presence_status(hm_server *srv, const char *did) {
  if (!hm_srv_did_online(srv, did)) return "offline";
  for (hm_presence_entry *e = srv->presence; e; e = e->next)
    if (!strcmp(e->did, did)) return e->status;
  return "online";
}

void hm_srv_presence_forget(hm_server *srv, const char *did) {
  for (hm_presence_entry **pp = &srv->presence; *pp; pp = &(*pp)->next) {
    if (!strcmp((*pp)->did, did)) {
      hm_presence_entry *e = *pp;
      *pp = e->next;
      hm_free(e->did);
      hm_free(e);
      return;
    }
  }
}

static const char *presence_of(hm_server *srv, const char *did) { return hm_srv_presence_status(srv, did); }

static int role_id_cb(void *ctx, const hm_store_role *r) {
  return hm_json_array_append(ctx, hm_json_new_cstr(r->id)) != HM_OK;
}

/* MemberInfo {did, roles, joinedAt, presence:{status}} */
static int member_info_cb(void *ctx, const hm_store_member *m) {
  build_ctx *b = ctx;
  hm_json *o = hm_json_new_object(), *pr = hm_json_new_object();
  int rc = (o && pr) ? HM_OK : HM_ERR_NOMEM;
  set_str(o, "did", m->did, &rc);
  hm_json *roles = hm_json_new_array();
  if (roles && b->srv->st->vt->roles_of(b->srv->st, m->community_id, m->did, role_id_cb, roles) != HM_OK) {
    hm_json_free(roles);
    roles = NULL;
  }
  set(o, "roles", roles, &rc);
  set_iso(o, "joinedAt", m->joined_ms, &rc);
  set_str(pr, "status", presence_of(b->srv, m->did), &rc);
  set(o, "presence", pr, &rc);
  if (rc != HM_OK) {
    hm_json_free(o);
    b->rc = rc;
    return 1;
  }
  push(b->arr, o, &b->rc);
  return b->rc != HM_OK;
}

/* MemberView {did, displayName, status, linked} */
static int member_view_cb(void *ctx, const hm_store_member *m) {
  build_ctx *b = ctx;
  hm_json *o = hm_json_new_object();
  int rc = o ? HM_OK : HM_ERR_NOMEM;
  set_str(o, "did", m->did, &rc);
  set_str(o, "displayName", m->display_name ? m->display_name : m->did, &rc);
  set_str(o, "status", presence_of(b->srv, m->did), &rc);
  set(o, "linked", hm_json_new_bool(1), &rc);
  if (rc != HM_OK) {
    hm_json_free(o);
    b->rc = rc;
    return 1;
  }
  push(b->arr, o, &b->rc);
  return b->rc != HM_OK;
}

/* MemberView of an imported member not yet linked to a DID (R-COMM-41): its placeholder
 * subject as `did`, its imported name, always offline, `linked: false`. A linked one is
 * skipped: its DID is a stored member and has its own view. */
static int placeholder_view_cb(void *ctx, const hm_store_placeholder *ph) {
  build_ctx *b = ctx;
  if (ph->linked_did) return 0;
  hm_json *o = hm_json_new_object();
  int rc = o ? HM_OK : HM_ERR_NOMEM;
  set_str(o, "did", ph->subject, &rc);
  set_str(o, "displayName", ph->name, &rc);
  set_str(o, "status", "offline", &rc);
  set(o, "linked", hm_json_new_bool(0), &rc);
  if (rc != HM_OK) {
    hm_json_free(o);
    b->rc = rc;
    return 1;
  }
  push(b->arr, o, &b->rc);
  return b->rc != HM_OK;
}

/* Append the unlinked placeholders of cid to the MemberView array arr. */
static int placeholder_views(hm_server *srv, const char *cid, hm_json *arr) {
  build_ctx b = {srv, arr, HM_OK, 0};
  int rc = srv->st->vt->placeholder_list(srv->st, cid, placeholder_view_cb, &b);
  return rc != HM_OK ? rc : b.rc;
}

static hm_json *members_json(hm_server *srv, const char *cid, hm_store_member_cb cb) {
  build_ctx b = {srv, hm_json_new_array(), HM_OK, 0};
  if (!b.arr) return NULL;
  int rc = srv->st->vt->member_list(srv->st, cid, cb, &b);
  if (rc != HM_OK || b.rc != HM_OK) {
    hm_json_free(b.arr);
    return NULL;
  }
  return b.arr;
}

/* Answer f with (type, p) when rc is HM_OK; otherwise free p and answer INTERNAL. p's
 * ownership passes in either way (NULL is fine on error). */
static void reply(hm_frame *f, int rc, const char *type, hm_json *p) {
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  hm_srv_send(f->srv, f->conn, type, p);
}

typedef struct {
  char *id, *name, *description, *creator;
  int64_t created_ms;
  int found;
} community_copy;

static int copy_community_cb(void *ctx, const hm_store_community *c) {
  community_copy *cc = ctx;
  cc->id = hm_strdup(c->id);
  cc->name = hm_strdup(c->name);
  cc->description = c->description ? hm_strdup(c->description) : NULL;
  cc->creator = hm_strdup(c->creator);
  cc->created_ms = c->created_ms;
  cc->found = 1;
  return 1;
}

static void community_copy_clear(community_copy *cc) {
  hm_free(cc->id);
  hm_free(cc->name);
  hm_free(cc->description);
  hm_free(cc->creator);
  memset(cc, 0, sizeof *cc);
}

static int community_load(hm_server *srv, const char *cid, community_copy *cc) {
  memset(cc, 0, sizeof *cc);
  int rc = srv->st->vt->community_get(srv->st, cid, copy_community_cb, cc);
  if (rc == HM_OK && (!cc->id || !cc->name || !cc->creator)) rc = HM_ERR_NOMEM;
  if (rc != HM_OK) community_copy_clear(cc);
  return rc;
}

/* community.info.response payload {communityId, info, members, onlineMembers}. */
static int info_response(hm_server *srv, const char *cid, hm_json **out) {
  community_copy cc;
  int rc = community_load(srv, cid, &cc);
  if (rc != HM_OK) return rc;
  int64_t count = 0;
  rc = srv->st->vt->member_count(srv->st, cid, &count);
  hm_json *p = hm_json_new_object(), *info = hm_json_new_object(), *online = hm_json_new_array();
  hm_json *members = rc == HM_OK ? members_json(srv, cid, member_view_cb) : NULL;
  if (rc == HM_OK && (!p || !info || !online || !members)) rc = HM_ERR_NOMEM;
  if (rc == HM_OK) rc = placeholder_views(srv, cid, members); /* after the stored members */
  set_str(info, "id", cc.id, &rc);
  set_str(info, "name", cc.name, &rc);
  if (cc.description) set_str(info, "description", cc.description, &rc);
  set_str(info, "creatorDID", cc.creator, &rc);
  set_iso(info, "createdAt", cc.created_ms, &rc);
  set(info, "memberCount", hm_json_new_number((double)count), &rc);
  for (size_t i = 0; rc == HM_OK && i < hm_json_array_size(members); i++) {
    hm_json *m = hm_json_array_get(members, i);
    if (!hm_json_string_is(hm_json_object_getc(m, "status"), "offline")) push(online, hm_json_clone(m), &rc);
  }
  set_str(p, "communityId", cid, &rc);
  set(p, "info", info, &rc);
  info = NULL;
  set(p, "members", members, &rc);
  members = NULL;
  set(p, "onlineMembers", online, &rc);
  online = NULL;
  community_copy_clear(&cc);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_json_free(info);
    hm_json_free(members);
    hm_json_free(online);
    return rc;
  }
  *out = p;
  return HM_OK;
}

int hm_srv_announce_community(hm_server *srv, hm_server_conn *c, const char *cid, int with_info) {
  community_copy cc;
  int rc = community_load(srv, cid, &cc);
  if (rc != HM_OK) return rc;
  hm_json *p = hm_json_new_object();
  hm_json *channels = channels_json(srv, cid, 0), *members = members_json(srv, cid, member_info_cb);
  rc = (p && channels && members) ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "communityId", cid, &rc);
  set_str(p, "communityName", cc.name, &rc);
  set(p, "channels", channels, &rc);
  channels = NULL;
  set(p, "members", members, &rc);
  members = NULL;
  community_copy_clear(&cc);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_json_free(channels);
    hm_json_free(members);
    return rc;
  }
  hm_srv_send(srv, c, "community.auto-joined", p);
  if (!with_info) return HM_OK;
  hm_json *info = NULL;
  rc = info_response(srv, cid, &info);
  if (rc != HM_OK) return rc;
  hm_srv_send(srv, c, "community.info.response", info);
  return HM_OK;
}

typedef struct {
  char **ids;
  size_t n, cap;
  int nomem;
} str_list;

static int collect_community_of(void *ctx, const hm_store_member *m) {
  str_list *l = ctx;
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 8;
    char **ni = hm_realloc(l->ids, nc * sizeof *ni);
    if (!ni) {
      l->nomem = 1;
      return 1;
    }
    l->ids = ni;
    l->cap = nc;
  }
  if (!(l->ids[l->n] = hm_strdup(m->community_id))) {
    l->nomem = 1;
    return 1;
  }
  l->n++;
  return 0;
}

static void str_list_clear(str_list *l) {
  for (size_t i = 0; i < l->n; i++) hm_free(l->ids[i]);
  hm_free(l->ids);
  memset(l, 0, sizeof *l);
}

int hm_srv_resync(hm_server *srv, hm_server_conn *c) {
  str_list l = {0};
  int rc = srv->st->vt->memberships_of(srv->st, c->did, collect_community_of, &l);
  if (rc == HM_OK && l.nomem) rc = HM_ERR_NOMEM;
  for (size_t i = 0; rc == HM_OK && i < l.n; i++) {
    /* A ban removes the membership; the check is kept so that a store that still holds
     * both never re-announces a banned community (R-AUTH-20). */
    if (srv->st->vt->ban_get(srv->st, l.ids[i], c->did) == HM_OK) continue;
    rc = hm_srv_announce_community(srv, c, l.ids[i], 1);
  }
  str_list_clear(&l);
  return rc;
}

static int collect_member_did(void *ctx, const hm_store_member *m) {
  str_list *l = ctx;
  hm_store_member x = *m;
  x.community_id = m->did;
  return collect_community_of(ctx, &x) || l->nomem;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void presence_send(hm_server *srv, const char *did, hm_json *p, const hm_server_conn *except);

void hm_srv_presence(hm_server *srv, const char *did, const char *status, const hm_server_conn *except) {
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "status", status, &rc);
  if (rc != HM_OK) {
    hm_json_free(p);
    return;
  }
  presence_send(srv, did, p, except);
}

/* To every connection sharing a community with did (once each), except `except`: the
 * member DIDs of did's communities (the store's member cache; the pointers are borrowed,
 * valid as nothing here writes), sorted to drop repeats, each looked up in the DID index.
 * Cost: the members of those communities, never all connections (R-AUTH-22, R-DLV-3). */
static void presence_send(hm_server *srv, const char *did, hm_json *p, const hm_server_conn *except) {
  str_list comms = {0};
  const char **peers = NULL;
  size_t n = 0, cap = 0;
  int rc = srv->st->vt->memberships_of(srv->st, did, collect_community_of, &comms);
  if (rc == HM_OK && comms.nomem) rc = HM_ERR_NOMEM;
  for (size_t i = 0; rc == HM_OK && i < comms.n; i++) {
    const char *const *dids;
    size_t k;
    rc = srv->st->vt->member_dids(srv->st, comms.ids[i], &dids, &k);
    if (rc == HM_OK && n + k > cap) {
      size_t nc = (n + k) * 2;
      const char **np = hm_realloc(peers, nc * sizeof *np);
      if (np) {
        peers = np;
        cap = nc;
      } else {
        rc = HM_ERR_NOMEM;
      }
    }
    for (size_t j = 0; rc == HM_OK && j < k; j++) peers[n++] = dids[j];
  }
  char id[64], ts[32], *text = NULL;
  size_t len;
  if (rc == HM_OK && n && srv->n_authed) {
    qsort(peers, n, sizeof *peers, cmp_str);
    hm_srv_fresh_id(srv, id, sizeof id, "presence", 16);
    hm_srv_now_iso(srv, ts);
    rc = hm_srv_frame_text(&text, &len, id, "presence.changed", ts, did, p);
    p = NULL; /* hm_srv_frame_text took it */
    for (size_t i = 0; rc == HM_OK && i < n; i++)
      if (i == 0 || strcmp(peers[i], peers[i - 1])) hm_srv_send_did(srv, peers[i], text, len, except);
    hm_free(text);
  }
  hm_json_free(p);
  hm_free(peers);
  str_list_clear(&comms);
}

/* Send a frame built from (id, type, timestamp, sender, payload) to a community's members. */
static int broadcast_frame(hm_server *srv, const char *cid, const char *id, const char *type, const char *ts,
                           const char *sender, hm_json *payload, const hm_server_conn *except) {
  char *text = NULL;
  size_t len;
  int rc = hm_srv_frame_text(&text, &len, id, type, ts, sender, payload);
  if (rc == HM_OK) rc = hm_srv_broadcast(srv, cid, text, len, except);
  hm_free(text);
  return rc;
}

/* ---- auth.token.request (R-TOK-5, R-SESS-3) ----------------------------------------- */

#include "harmony/token.h"

static void h_token_request(hm_frame *f) {
  hm_server *srv = f->srv;
  char *token = NULL, *text = NULL, id[200], ts[32];
  size_t len;
  int rc = hm_token_issue_sk(&token, NULL, f->conn->did, hm_srv_now(srv), HM_TOKEN_DEFAULT_TTL_MS, srv->key_sk);
  hm_json *p = rc == HM_OK ? hm_json_new_object() : NULL;
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  set_str(p, "token", token, &rc);
  hm_free(token);
  if (f->id)
    snprintf(id, sizeof id, "%s-response", f->id);
  else
    hm_srv_fresh_id(srv, id, sizeof id, "token", 16);
  hm_srv_now_iso(srv, ts);
  if (rc == HM_OK) {
    rc = hm_srv_frame_text(&text, &len, id, "auth.token.response", ts, "server", p);
    p = NULL;
  }
  hm_json_free(p);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  hm_srv_send_text(srv, f->conn, text, len);
  hm_free(text);
}

/* ---- community.create (R-COMM-1 .. R-COMM-6) ---------------------------------------- */

static const char *const actions[] = {
    "SendMessage",   "DeleteMessage",     "AddReaction",   "ManageChannel",  "ManageRoles",     "MuteUser",
    "BanUser",       "InviteMember",      "RelayMessage",  "VerifyMembership", "ReadChannel",   "CreateThread",
    "SendDM",        "ManageMembers",     "FederateRelay", "FederateVerify", "ModerateContent", "JoinVoice",
    "ManageVoice",   "UploadMedia",       "DeleteMedia",   "InstallBot",     "ManageWebhooks",  "ProposeGovernance",
    "VoteGovernance", "DelegateUser",     "AuthorizeAgent", "IssueCustomCredential"};

/* The community's root capability, issued by the server (R-CRY-ZCAP-15): delegator = the
 * server's DID, invoker = the creator, signed with the server's identity key. */
static int root_capability(hm_server *srv, const char *creator, const char *cid, hm_json **out) {
  char uuid[64], vm[160], ts[32];
  hm_srv_fresh_id(srv, uuid + 9, sizeof uuid - 9, NULL, 16);
  memcpy(uuid, "urn:uuid:", 9);
  hm_srv_now_iso(srv, ts);
  int rc = hm_vc_default_vm(vm, sizeof vm, srv->did);
  hm_json *cap = hm_json_new_object(), *ctxa = hm_json_new_array(), *acts = hm_json_new_array(),
          *scope = hm_json_new_object();
  if (rc == HM_OK && (!cap || !ctxa || !acts || !scope)) rc = HM_ERR_NOMEM;
  push(ctxa, hm_json_new_cstr(HM_ZCAP_CONTEXT), &rc);
  for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
    char a[96];
    snprintf(a, sizeof a, ACTION_PREFIX "%s", actions[i]);
    push(acts, hm_json_new_cstr(a), &rc);
  }
  set_str(scope, "community", cid, &rc);
  set(cap, "@context", ctxa, &rc);
  ctxa = NULL;
  set_str(cap, "id", uuid, &rc);
  set_str(cap, "invoker", creator, &rc);
  set_str(cap, "delegator", srv->did, &rc);
  set(cap, "allowedAction", acts, &rc);
  acts = NULL;
  set(cap, "scope", scope, &rc);
  scope = NULL;
  if (rc == HM_OK) rc = hm_proof_attach(cap, srv->key_seed, vm, "capabilityDelegation", ts);
  hm_json_free(ctxa);
  hm_json_free(acts);
  hm_json_free(scope);
  if (rc != HM_OK) {
    hm_json_free(cap);
    return rc;
  }
  *out = cap;
  return HM_OK;
}

static int membership_vc(hm_server *srv, const char *creator, const char *cid, hm_json **out) {
  hm_json *claims = hm_json_new_object();
  int rc = claims ? HM_OK : HM_ERR_NOMEM;
  set_str(claims, "community", cid, &rc);
  set_str(claims, "role", "admin", &rc);
  if (rc == HM_OK) {
    hm_vc_issue_params p = {0};
    p.issuer_did = srv->did;
    p.issuer_seed = srv->key_seed;
    p.subject_did = creator;
    p.type = "CommunityMembershipCredential";
    p.claims = claims;
    p.now_ms = hm_srv_now(srv);
    rc = hm_vc_issue(out, &p);
  }
  hm_json_free(claims);
  return rc;
}

static int valid_channel_name(const hm_json *v) {
  size_t n;
  const char *s = hm_json_kind_of(v) == HM_JSON_STRING ? hm_json_string(v, &n) : NULL;
  if (!s || hm_utf16_len(s, n) > 100) return 0;
  for (size_t i = 0; i < n; i++)
    if (!strchr(" \t\n\r\v\f", s[i])) return 1;
  return 0;
}

static void h_community_create(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *did = f->conn->did;
  const char *name = hm_json_string(hm_json_object_getc(f->payload, "name"), NULL);
  hm_json *dv = hm_json_object_getc(f->payload, "description");
  const char *description = hm_json_kind_of(dv) == HM_JSON_STRING ? hm_json_string(dv, NULL) : NULL;
  hm_json *defs = hm_json_object_getc(f->payload, "defaultChannels");
  if (hm_json_kind_of(defs) == HM_JSON_NULL) defs = NULL;
  size_t nch = defs ? hm_json_array_size(defs) : 1;
  for (size_t i = 0; defs && i < nch; i++) {
    if (!valid_channel_name(hm_json_array_get(defs, i))) { /* R-COMM-3 */
      hm_frame_error(f, "INVALID_PAYLOAD", "Missing or invalid field: defaultChannels");
      return;
    }
  }
  /* creatorKeyPair is never read (R-COMM-4, R-AUTHZ-25). */
  int64_t count = 0;
  int rc = srv->st->vt->community_count_by_creator(srv->st, did, &count);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  if (count >= MAX_COMMUNITIES_PER_DID) {
    hm_frame_error(f, "QUOTA_EXCEEDED", "Community limit reached (100)");
    return;
  }
  int64_t now = hm_srv_now(srv);
  char cid[64];
  hm_srv_fresh_id(srv, cid, sizeof cid, "community", 16);
  cid[9] = ':'; /* "community:<32 hex>" (R-ORD-1) */
  hm_store_channel *chans = hm_calloc(nch ? nch : 1, sizeof *chans);
  char (*chids)[128] = hm_calloc(nch ? nch : 1, sizeof *chids);
  hm_json *cap = NULL, *vc = NULL, *p = NULL, *infos = NULL;
  if (!chans || !chids) {
    rc = HM_ERR_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < nch; i++) {
    char hex[40];
    hm_srv_fresh_id(srv, hex, sizeof hex, NULL, 8);
    snprintf(chids[i], sizeof chids[i], "%s:channel:%s", cid, hex);
    chans[i].id = chids[i];
    chans[i].community_id = cid;
    chans[i].name = defs ? hm_json_string(hm_json_array_get(defs, i), NULL) : "general";
    chans[i].type = "text";
    chans[i].created_ms = now;
  }
  rc = root_capability(srv, did, cid, &cap);
  if (rc == HM_OK) rc = membership_vc(srv, did, cid, &vc);
  if (rc == HM_OK) { /* the root is a trust anchor for later invocations (R-CRY-ZCAP-10) */
    char *ctext = NULL;
    rc = hm_json_stringify(&ctext, NULL, cap);
    if (rc == HM_OK)
      rc = srv->st->vt->capability_put(srv->st, hm_json_string(hm_json_object_getc(cap, "id"), NULL), cid, ctext);
    hm_free(ctext);
  }
  if (rc != HM_OK) goto out;
  hm_store_community c = {cid, name, description, did, now};
  rc = srv->st->vt->community_create(srv->st, &c, chans, nch);
  if (rc != HM_OK) goto out;
  hm_srv_log(srv, HM_LOG_INFO, "community %s created by %s", cid, did);
  infos = channels_json(srv, cid, 0);
  p = hm_json_new_object();
  if (!infos || !p) {
    rc = HM_ERR_NOMEM;
    goto out;
  }
  set_str(p, "communityId", cid, &rc);
  set(p, "rootCapability", cap, &rc);
  cap = NULL;
  set(p, "membershipVC", vc, &rc);
  vc = NULL;
  set(p, "channels", infos, &rc);
  infos = NULL;
  if (rc != HM_OK) goto out;
  hm_srv_send(srv, f->conn, "community.updated", p);
  p = NULL;
  /* R-COMM-6: the creator's other connections learn about the new community. */
  HM_FOR_DID_CONN(srv, did, o) {
    if (o != f->conn) hm_srv_announce_community(srv, o, cid, 0);
  }
out:
  if (rc != HM_OK) hm_frame_internal(f, rc);
  hm_json_free(cap);
  hm_json_free(vc);
  hm_json_free(p);
  hm_json_free(infos);
  hm_free(chans);
  hm_free(chids);
}

/* ---- community.join / leave ----------------------------------------------------------- */

static void member_event(hm_server *srv, const char *type, const char *cid, const char *did, const char *sender,
                         const hm_server_conn *except, int also_own_other) {
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "communityId", cid, &rc);
  set_str(p, "memberDID", did, &rc);
  char id[64], ts[32], *text = NULL;
  size_t len;
  hm_srv_fresh_id(srv, id, sizeof id, "member", 16);
  hm_srv_now_iso(srv, ts);
  if (rc != HM_OK) {
    hm_json_free(p);
    return;
  }
  if (hm_srv_frame_text(&text, &len, id, type, ts, sender, p) != HM_OK) return;
  hm_srv_broadcast(srv, cid, text, len, except);
  if (also_own_other) hm_srv_send_did(srv, did, text, len, except);
  hm_free(text);
}

static int mod_join(hm_frame *f);
static void mls_announce_member(hm_server *srv, const char *member, const char *only_cid);
static int community_has_key_package(hm_server *srv, const char *cid);

static void h_community_join(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *did = f->conn->did, *cid = f->community_id;
  community_copy cc;
  int rc = community_load(srv, cid, &cc);
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_FOUND", "Community not found"); /* R-COMM-9 */
    return;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  community_copy_clear(&cc);
  /* join rules apply to a DID that is not yet a member (moderation.md, R-MODR-5) */
  rc = srv->st->vt->member_get(srv->st, cid, did, NULL, NULL);
  if (rc == HM_ERR_NOT_FOUND && !mod_join(f)) return;
  if (rc != HM_OK && rc != HM_ERR_NOT_FOUND) {
    hm_frame_internal(f, rc);
    return;
  }
  int added = 0;
  rc = srv->st->vt->member_add(srv->st, cid, did, hm_srv_now(srv), &added);
  hm_json *p = hm_json_new_object();
  hm_json *chans = rc == HM_OK ? channels_json(srv, cid, 0) : NULL;
  hm_json *members = rc == HM_OK ? members_json(srv, cid, member_info_cb) : NULL;
  if (rc == HM_OK && (!p || !chans || !members)) rc = HM_ERR_NOMEM;
  set_str(p, "communityId", cid, &rc);
  set(p, "channels", chans, &rc);
  chans = NULL;
  set(p, "members", members, &rc);
  members = NULL;
  reply(f, rc, "community.updated", p);
  if (!added) return; /* R-COMM-10: a repeated join broadcasts nothing */
  hm_srv_log(srv, HM_LOG_INFO, "%s joined %s", did, cid);
  member_event(srv, "community.member.joined", cid, did, did, f->conn, 0);
  mls_announce_member(srv, did, cid); /* R-MLS-5 */
  HM_FOR_DID_CONN(srv, did, o) {
    if (o != f->conn) hm_srv_announce_community(srv, o, cid, 0);
  }
}

static void h_community_leave(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *did = f->conn->did, *cid = f->community_id;
  int rc = srv->st->vt->member_remove(srv->st, cid, did);
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_MEMBER", "Not a member of this community");
    return;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  hm_srv_log(srv, HM_LOG_INFO, "%s left %s", did, cid);
  hm_srv_voice_drop_did(srv, cid, did); /* R-VOICE-10 */
  /* remaining members (the store no longer lists the leaver) and the leaver's other connections */
  member_event(srv, "community.member.left", cid, did, did, f->conn, 1);
}

/* ---- community.list / community.info ------------------------------------------------ */

typedef struct {
  hm_server *srv;
  hm_json *arr;
  int rc;
} list_ctx;

static int list_cb(void *ctx, const hm_store_community *c) {
  list_ctx *l = ctx;
  int64_t count = 0;
  int rc = l->srv->st->vt->member_count(l->srv->st, c->id, &count);
  hm_json *o = hm_json_new_object(), *chans = rc == HM_OK ? channels_json(l->srv, c->id, 1) : NULL;
  if (rc == HM_OK && (!o || !chans)) rc = HM_ERR_NOMEM;
  set_str(o, "id", c->id, &rc);
  set_str(o, "name", c->name, &rc);
  if (c->description) set_str(o, "description", c->description, &rc);
  set_str(o, "creatorDID", c->creator, &rc);
  set_iso(o, "createdAt", c->created_ms, &rc);
  set(o, "memberCount", hm_json_new_number((double)count), &rc);
  set(o, "channels", chans, &rc);
  chans = NULL;
  if (rc != HM_OK) {
    hm_json_free(o);
    hm_json_free(chans);
    l->rc = rc;
    return 1;
  }
  push(l->arr, o, &l->rc);
  return l->rc != HM_OK;
}

static void h_community_list(hm_frame *f) {
  list_ctx l = {f->srv, hm_json_new_array(), HM_OK};
  int rc = l.arr ? f->srv->st->vt->community_list(f->srv->st, list_cb, &l) : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = l.rc;
  hm_json *p = hm_json_new_object();
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  set(p, "communities", l.arr, &rc);
  reply(f, rc, "community.list.response", p);
}

static void h_community_info(hm_frame *f) {
  hm_json *p = NULL;
  int rc = info_response(f->srv, f->community_id, &p);
  reply(f, rc, "community.info.response", p);
}


/* ---- moderation (moderation.md) ------------------------------------------------------------ */

static hm_mod_entry *mod_entry(hm_server *srv, const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *key = hm_malloc(n);
  if (!key) return NULL;
  snprintf(key, n, "%s\n%s", a, b);
  for (hm_mod_entry *e = srv->mod; e; e = e->next)
    if (!strcmp(e->key, key)) {
      hm_free(key);
      return e;
    }
  hm_mod_entry *e = hm_calloc(1, sizeof *e);
  if (!e) {
    hm_free(key);
    return NULL;
  }
  e->key = key;
  e->next = srv->mod;
  srv->mod = e;
  return e;
}

static int64_t rule_int(const hm_json *rule, const char *k) { return (int64_t)hm_json_number(hm_json_object_getc(rule, k)); }

/* slowMode rules (from the channels) followed by the stored rules: the wire list. */
typedef struct {
  hm_json *arr;
  int rc;
} slow_rules_ctx;

static int slow_rule_cb(void *ctx, const hm_store_channel *c) {
  slow_rules_ctx *sc = ctx;
  if (c->slow_mode <= 0) return 0;
  char id[400];
  snprintf(id, sizeof id, "slowmode:%s", c->id);
  hm_json *o = hm_json_new_object();
  int rc = o ? HM_OK : HM_ERR_NOMEM;
  set_str(o, "id", id, &rc);
  set_str(o, "type", "slowMode", &rc);
  set_str(o, "channelId", c->id, &rc);
  set(o, "intervalSeconds", hm_json_new_number((double)c->slow_mode), &rc);
  push(sc->arr, rc == HM_OK ? o : NULL, &sc->rc);
  if (rc != HM_OK) {
    hm_json_free(o);
    sc->rc = rc;
  }
  return sc->rc != HM_OK;
}

/* *rules = the stored (non-slow-mode) rules; *lockdown = lockdown end. */
static int mod_load(hm_server *srv, const char *cid, hm_json **rules, int64_t *lockdown) {
  char *text = NULL;
  int rc = srv->st->vt->moderation_get(srv->st, cid, &text, lockdown);
  if (rc == HM_OK) rc = hm_json_parse(rules, text, strlen(text), 0, NULL);
  hm_free(text);
  return rc;
}

static void mod_response(hm_frame *f, const hm_json *stored) {
  slow_rules_ctx sc = {hm_json_new_array(), HM_OK};
  int rc = sc.arr ? f->srv->st->vt->channel_list(f->srv->st, f->community_id, slow_rule_cb, &sc) : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = sc.rc;
  for (size_t i = 0; rc == HM_OK && i < hm_json_array_size(stored); i++)
    push(sc.arr, hm_json_clone(hm_json_array_get(stored, i)), &rc);
  hm_json *p = hm_json_new_object();
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  set_str(p, "communityId", f->community_id, &rc);
  set(p, "rules", sc.arr, &rc);
  sc.arr = NULL;
  reply(f, rc, "moderation.config.response", p);
}

static void h_moderation_get(hm_frame *f) {
  hm_json *rules = NULL;
  int rc = mod_load(f->srv, f->community_id, &rules, NULL);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  mod_response(f, rules);
  hm_json_free(rules);
}

/* One config field: absent/null takes the default; else must be an integer in [lo, hi]. */
static int cfg_int(const hm_json *cfg, hm_json *out, const char *k, int64_t def, int64_t lo, int64_t hi) {
  hm_json *v = cfg ? hm_json_object_getc(cfg, k) : NULL;
  int64_t x = def;
  if (v && hm_json_kind_of(v) != HM_JSON_NULL) {
    if (hm_json_kind_of(v) != HM_JSON_NUMBER) return 0;
    double d = hm_json_number(v);
    if (!isfinite(d) || floor(d) != d || d < (double)lo || d > (double)hi) return 0;
    x = (int64_t)d;
  }
  return hm_json_object_setc(out, k, hm_json_new_number((double)x)) == HM_OK;
}

static int cfg_enum(const hm_json *cfg, hm_json *out, const char *k, const char *def, const char *a, const char *b) {
  hm_json *v = cfg ? hm_json_object_getc(cfg, k) : NULL;
  const char *x = def;
  if (v && hm_json_kind_of(v) != HM_JSON_NULL) {
    x = hm_json_string(v, NULL);
    if (!x || (strcmp(x, a) && strcmp(x, b))) return 0;
  }
  return hm_json_object_setc(out, k, hm_json_new_cstr(x)) == HM_OK;
}

/* A validated rule with its fields in table order and defaults, or NULL. */
static hm_json *mod_rule(hm_frame *f, const hm_json *entry) {
  if (hm_json_kind_of(entry) != HM_JSON_OBJECT) return NULL;
  const char *type = hm_json_string(hm_json_object_getc(entry, "type"), NULL);
  hm_json *cfg = hm_json_object_getc(entry, "config");
  if (hm_json_kind_of(cfg) == HM_JSON_NULL) cfg = NULL;
  if (!type || (cfg && hm_json_kind_of(cfg) != HM_JSON_OBJECT)) return NULL;
  hm_json *o = hm_json_new_object();
  if (!o) return NULL;
  char id[64];
  int ok = 1;
  if (!strcmp(type, "rateLimit")) {
    hm_srv_fresh_id(f->srv, id, sizeof id, "rateLimit", 8);
    id[9] = ':';
    ok = hm_json_object_setc(o, "id", hm_json_new_cstr(id)) == HM_OK &&
         hm_json_object_setc(o, "type", hm_json_new_cstr(type)) == HM_OK &&
         cfg_enum(cfg, o, "scope", "community", "community", "channel");
    if (ok) {
      hm_json *sid = cfg ? hm_json_object_getc(cfg, "scopeId") : NULL;
      const char *scope = hm_json_string(hm_json_object_getc(o, "scope"), NULL);
      const char *sv = f->community_id;
      if (sid && hm_json_kind_of(sid) != HM_JSON_NULL) {
        sv = hm_json_string(sid, NULL);
        if (!sv || hm_utf16_len(sv, strlen(sv)) > 256) ok = 0;
      }
      if (ok && !strcmp(scope, "channel") &&
          f->srv->st->vt->channel_get(f->srv->st, f->community_id, sv, NULL, NULL) != HM_OK)
        ok = 0;
      ok = ok && hm_json_object_setc(o, "scopeId", hm_json_new_cstr(sv)) == HM_OK &&
           cfg_int(cfg, o, "maxMessages", 10, 1, 10000) && cfg_int(cfg, o, "windowSeconds", 60, 1, 86400);
    }
  } else if (!strcmp(type, "accountAge")) {
    hm_srv_fresh_id(f->srv, id, sizeof id, "accountAge", 8);
    id[10] = ':';
    ok = hm_json_object_setc(o, "id", hm_json_new_cstr(id)) == HM_OK &&
         hm_json_object_setc(o, "type", hm_json_new_cstr(type)) == HM_OK &&
         cfg_int(cfg, o, "minAgeSeconds", 86400, 0, 31536000) && cfg_enum(cfg, o, "action", "block", "block", "flag");
  } else if (!strcmp(type, "raidDetection")) {
    hm_srv_fresh_id(f->srv, id, sizeof id, "raidDetection", 8);
    id[13] = ':';
    ok = hm_json_object_setc(o, "id", hm_json_new_cstr(id)) == HM_OK &&
         hm_json_object_setc(o, "type", hm_json_new_cstr(type)) == HM_OK &&
         cfg_int(cfg, o, "joinThreshold", 10, 2, 10000) && cfg_int(cfg, o, "windowSeconds", 60, 1, 86400) &&
         cfg_enum(cfg, o, "action", "lockdown", "lockdown", "alert") &&
         cfg_int(cfg, o, "lockdownDurationSeconds", 300, 1, 604800);
  } else if (!strcmp(type, "vcRequirement")) {
    hm_srv_fresh_id(f->srv, id, sizeof id, "vcRequirement", 8);
    id[13] = ':';
    hm_json *types = cfg ? hm_json_object_getc(cfg, "requiredVCTypes") : NULL;
    if (types && hm_json_kind_of(types) == HM_JSON_NULL) types = NULL;
    if (types && (hm_json_kind_of(types) != HM_JSON_ARRAY || hm_json_array_size(types) > 16)) ok = 0;
    for (size_t i = 0; ok && types && i < hm_json_array_size(types); i++) {
      size_t n;
      const char *t = hm_json_string(hm_json_array_get(types, i), &n);
      if (!t || hm_utf16_len(t, n) > 100) ok = 0;
    }
    ok = ok && hm_json_object_setc(o, "id", hm_json_new_cstr(id)) == HM_OK &&
         hm_json_object_setc(o, "type", hm_json_new_cstr(type)) == HM_OK &&
         hm_json_object_setc(o, "requiredVCTypes", types ? hm_json_clone(types) : hm_json_new_array()) == HM_OK &&
         cfg_enum(cfg, o, "action", "block", "block", "flag");
  } else {
    ok = 0; /* unknown, including slowMode (only channel.update sets it) */
  }
  if (!ok) {
    hm_json_free(o);
    return NULL;
  }
  return o;
}

static void h_moderation_update(hm_frame *f) {
  hm_json *rules = hm_json_object_getc(f->payload, "rules");
  if (hm_json_kind_of(rules) != HM_JSON_ARRAY) {
    hm_frame_error(f, "INVALID_PAYLOAD", "rules must be an array");
    return;
  }
  if (hm_json_array_size(rules) > 32) {
    hm_frame_error(f, "INVALID_PAYLOAD", "rules has too many items (max 32)");
    return;
  }
  hm_json *out = hm_json_new_array();
  if (!out) {
    hm_frame_internal(f, HM_ERR_NOMEM);
    return;
  }
  for (size_t i = 0; i < hm_json_array_size(rules); i++) {
    hm_json *r = mod_rule(f, hm_json_array_get(rules, i));
    if (!r) {
      char msg[64];
      snprintf(msg, sizeof msg, "Invalid moderation rule: %zu", i);
      hm_json_free(out);
      hm_frame_error(f, "INVALID_PAYLOAD", msg);
      return;
    }
    int rc = hm_json_array_append(out, r);
    if (rc != HM_OK) {
      hm_json_free(out);
      hm_frame_internal(f, rc);
      return;
    }
  }
  char *text = NULL;
  int rc = hm_json_stringify(&text, NULL, out);
  if (rc == HM_OK) rc = f->srv->st->vt->moderation_set_rules(f->srv->st, f->community_id, text);
  hm_free(text);
  if (rc != HM_OK) {
    hm_json_free(out);
    hm_frame_internal(f, rc);
    return;
  }
  /* the rule set changed: forget windows and join records of the old rules */
  mod_response(f, out);
  hm_json_free(out);
}

static int account_age_s(hm_server *srv, const char *did, int64_t *age) {
  int64_t first = 0;
  int rc = srv->st->vt->known_did_first_seen(srv->st, did, &first);
  if (rc == HM_ERR_NOT_FOUND) {
    first = hm_srv_now(srv);
    rc = HM_OK;
  }
  *age = (hm_srv_now(srv) - first) / 1000;
  return rc;
}

/* channel.send / thread.send rules after slow mode's place in the order: lockdown
 * comes first, so the caller runs mod_send_lockdown before slow mode and mod_send_rest
 * after it. Returns 1 to proceed; otherwise the frame was answered. */
static int mod_send_lockdown(hm_frame *f) {
  int64_t until = 0;
  hm_json *rules = NULL;
  int rc = mod_load(f->srv, f->community_id, &rules, &until);
  hm_json_free(rules);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return 0;
  }
  if (until > hm_srv_now(f->srv)) {
    hm_frame_error(f, "RATE_LIMITED", "Community is in lockdown"); /* R-MODR-6 */
    return 0;
  }
  return 1;
}

/* The accountAge "block" rules of a community (R-MODR-10): answers the first one the
 * sender's DID is too new for with `code` (messages and joins use different codes and
 * texts, as upstream does) and returns 1; 0 when none applies. */
static int account_age_denied(hm_frame *f, const hm_json *rules, const char *code, const char *suffix) {
  for (size_t i = 0; i < hm_json_array_size(rules); i++) {
    const hm_json *r = hm_json_array_get(rules, i);
    if (!hm_json_string_is(hm_json_object_getc(r, "type"), "accountAge") ||
        !hm_json_string_is(hm_json_object_getc(r, "action"), "block"))
      continue;
    int64_t age = 0, min = rule_int(r, "minAgeSeconds");
    if (account_age_s(f->srv, f->conn->did, &age) == HM_OK && age < min) {
      char msg[128];
      snprintf(msg, sizeof msg, "Account too new: %llds < %llds%s", (long long)age, (long long)min, suffix);
      hm_frame_error(f, code, msg);
      return 1;
    }
  }
  return 0;
}

static int mod_send_rest(hm_frame *f, const char *chid) {
  hm_server *srv = f->srv;
  hm_json *rules = NULL;
  int rc = mod_load(srv, f->community_id, &rules, NULL);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return 0;
  }
  int64_t now = hm_srv_now(srv);
  int ok = 1;
  char msg[128];
  for (size_t i = 0; ok && i < hm_json_array_size(rules); i++) { /* R-MODR-3, R-MODR-4 */
    hm_json *r = hm_json_array_get(rules, i);
    if (!hm_json_string_is(hm_json_object_getc(r, "type"), "rateLimit")) continue;
    if (hm_json_string_is(hm_json_object_getc(r, "scope"), "channel") &&
        !hm_json_string_is(hm_json_object_getc(r, "scopeId"), chid))
      continue;
    int64_t max = rule_int(r, "maxMessages"), win = rule_int(r, "windowSeconds");
    hm_mod_entry *e = mod_entry(srv, hm_json_string(hm_json_object_getc(r, "id"), NULL), f->conn->did);
    if (!e) continue;
    if (e->count == 0 || now - e->window_start >= win * 1000) {
      e->window_start = now;
      e->count = 0;
    }
    if (++e->count > max) {
      snprintf(msg, sizeof msg, "Rate limited: max %lld messages per %llds", (long long)max, (long long)win);
      hm_frame_error(f, "RATE_LIMITED", msg);
      ok = 0;
    }
  }
  if (ok && account_age_denied(f, rules, "RATE_LIMITED", " required")) ok = 0;
  hm_json_free(rules);
  return ok;
}

/* Is the VC requirement met by membershipVC (moderation.md join step 2, R-MODR-9)? */
static int vc_requirement_met(hm_frame *f, const hm_json *types) {
  hm_server *srv = f->srv;
  hm_json *vc = hm_json_object_getc(f->payload, "membershipVC");
  if (hm_json_kind_of(vc) != HM_JSON_OBJECT || hm_json_object_size(vc) == 0) return 0;
  hm_verify_opts o = {0};
  o.profile = HM_PROFILE_HARDENED;
  o.now_ms = hm_srv_now(srv);
  o.freshness_s = srv->cfg.vp_freshness_s;
  if (hm_vc_verify(vc, &o, NULL) != HM_OK) return 0;
  hm_json *subj = hm_json_object_getc(vc, "credentialSubject");
  if (!hm_json_string_is(hm_json_object_getc(subj, "id"), f->conn->did)) return 0;
  const char *issuer = hm_json_string(hm_json_object_getc(vc, "issuer"), NULL);
  int trusted = 0;
  if (issuer) {
    int held = 0;
    if (hm_srv_has_permission(srv, f->community_id, issuer, "admin", &held) == HM_OK && held &&
        srv->st->vt->member_get(srv->st, f->community_id, issuer, NULL, NULL) == HM_OK)
      trusted = 1;
    int creator = 0;
    if (hm_srv_is_creator(srv, f->community_id, issuer, &creator) == HM_OK && creator) trusted = 1;
    for (size_t i = 0; i < srv->cfg.n_trusted_issuers; i++)
      if (!strcmp(srv->cfg.trusted_issuers[i], issuer)) trusted = 1;
  }
  if (!trusted) return 0;
  hm_json *vt = hm_json_object_getc(vc, "type");
  for (size_t i = 0; i < hm_json_array_size(types); i++) {
    const char *want = hm_json_string(hm_json_array_get(types, i), NULL);
    int found = 0;
    for (size_t k = 0; k < hm_json_array_size(vt) && !found; k++) found = hm_json_string_is(hm_json_array_get(vt, k), want);
    if (!found) return 0;
  }
  return 1;
}

typedef struct {
  hm_server *srv;
  const char *cid;
  const char *text;
  size_t len;
} raid_ctx;

static int raid_alert_cb(void *ctx, const hm_store_member *m) {
  raid_ctx *rc = ctx;
  int held = 0;
  if (hm_srv_has_permission(rc->srv, rc->cid, m->did, "moderation.manage", &held) == HM_OK && held)
    hm_srv_send_did(rc->srv, m->did, rc->text, rc->len, NULL);
  return 0;
}

/* community.join rules for a non-member (moderation.md). Returns 1 to proceed. */
static int mod_join(hm_frame *f) {
  hm_server *srv = f->srv;
  int64_t until = 0, now = hm_srv_now(srv);
  hm_json *rules = NULL;
  int rc = mod_load(srv, f->community_id, &rules, &until);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return 0;
  }
  int ok = 1;
  char msg[300];
  if (until > now) {
    hm_frame_error(f, "FORBIDDEN", "Community is in lockdown");
    ok = 0;
  }
  for (size_t i = 0; ok && i < hm_json_array_size(rules); i++) {
    hm_json *r = hm_json_array_get(rules, i);
    hm_json *types = hm_json_object_getc(r, "requiredVCTypes");
    if (!hm_json_string_is(hm_json_object_getc(r, "type"), "vcRequirement") ||
        !hm_json_string_is(hm_json_object_getc(r, "action"), "block") || hm_json_array_size(types) == 0)
      continue;
    if (!vc_requirement_met(f, types)) {
      size_t k = (size_t)snprintf(msg, sizeof msg, "Missing required VC types: ");
      for (size_t j = 0; j < hm_json_array_size(types) && k < sizeof msg; j++)
        k += (size_t)snprintf(msg + k, sizeof msg - k, "%s%s", j ? ", " : "",
                              hm_json_string(hm_json_array_get(types, j), NULL));
      hm_frame_error(f, "FORBIDDEN", msg);
      ok = 0;
    }
  }
  if (ok && account_age_denied(f, rules, "FORBIDDEN", "")) ok = 0;
  for (size_t i = 0; ok && i < hm_json_array_size(rules); i++) {
    hm_json *r = hm_json_array_get(rules, i);
    if (!hm_json_string_is(hm_json_object_getc(r, "type"), "raidDetection")) continue;
    int64_t thr = rule_int(r, "joinThreshold"), win = rule_int(r, "windowSeconds");
    hm_mod_entry *e = mod_entry(srv, hm_json_string(hm_json_object_getc(r, "id"), NULL), "raid");
    if (!e) continue;
    size_t k = 0; /* keep the joins inside the window */
    for (size_t j = 0; j < e->n_times; j++)
      if (now - e->times[j] < win * 1000) e->times[k++] = e->times[j];
    e->n_times = k;
    if (e->n_times == e->cap_times) {
      size_t nc = e->cap_times ? e->cap_times * 2 : 16;
      int64_t *nt = hm_realloc(e->times, nc * sizeof *nt);
      if (!nt) continue;
      e->times = nt;
      e->cap_times = nc;
    }
    e->times[e->n_times++] = now;
    if ((int64_t)e->n_times < thr) continue;
    int64_t n = (int64_t)e->n_times;
    e->n_times = 0;
    hm_json *p = hm_json_new_object();
    int r2 = p ? HM_OK : HM_ERR_NOMEM;
    set_str(p, "communityId", f->community_id, &r2);
    set(p, "rule", hm_json_clone(r), &r2);
    char id[64], ts[32], *text = NULL;
    size_t len;
    hm_srv_fresh_id(srv, id, sizeof id, "raid", 16);
    hm_srv_now_iso(srv, ts);
    int lock = hm_json_string_is(hm_json_object_getc(r, "action"), "lockdown");
    if (lock) srv->st->vt->moderation_set_lockdown(srv->st, f->community_id,
                                                   now + rule_int(r, "lockdownDurationSeconds") * 1000);
    if (r2 == HM_OK && hm_srv_frame_text(&text, &len, id, "moderation.raid-detected", ts, "server", p) == HM_OK) {
      raid_ctx rcx = {srv, f->community_id, text, len};
      srv->st->vt->member_list(srv->st, f->community_id, raid_alert_cb, &rcx); /* R-MODR-7 */
      hm_free(text);
    } else if (r2 != HM_OK) {
      hm_json_free(p);
    }
    if (lock) {
      snprintf(msg, sizeof msg, "Raid detected: %lld joins in %llds", (long long)n, (long long)win);
      hm_frame_error(f, "FORBIDDEN", msg);
      ok = 0;
    }
  }
  hm_json_free(rules);
  return ok;
}

static void channel_send_notifications(hm_frame *f, const char *chid);
static void notify(hm_server *srv, const char *to, const char *type, const char *from, const char *cid,
                   const char *chid, const char *mid, const char *content);

/* ---- channel.send (R-CHAN-10 .. R-CHAN-18) ------------------------------------------- */

static int safe_uint(const hm_json *v) {
  if (hm_json_kind_of(v) != HM_JSON_NUMBER) return 0;
  double d = hm_json_number(v);
  return isfinite(d) && floor(d) == d && d >= 0 && d <= 9007199254740991.0;
}

static int bytes_value(const hm_json *v) {
  return hm_json_kind_of(v) == HM_JSON_OBJECT && hm_json_string_is(hm_json_object_getc(v, "__type"), "Uint8Array");
}

/* R-CHAN-3: EncryptedContent object rules (string content was length-checked generically). */
static int content_ok(const hm_json *c) {
  if (hm_json_kind_of(c) == HM_JSON_STRING) return 1;
  if (hm_json_kind_of(c) != HM_JSON_OBJECT) return 0;
  hm_json *v;
  if ((v = hm_json_object_getc(c, "ciphertext")) && !bytes_value(v)) return 0;
  if ((v = hm_json_object_getc(c, "epoch")) && !safe_uint(v)) return 0;
  if ((v = hm_json_object_getc(c, "senderIndex")) && !safe_uint(v)) return 0;
  if ((v = hm_json_object_getc(c, "nonce")) && !bytes_value(v)) return 0;
  if ((v = hm_json_object_getc(c, "senderPublicKey")) && !bytes_value(v)) return 0;
  if ((v = hm_json_object_getc(c, "mentions"))) {
    if (hm_json_kind_of(v) != HM_JSON_ARRAY || hm_json_array_size(v) > 100) return 0;
    for (size_t i = 0; i < hm_json_array_size(v); i++) {
      hm_json *d = hm_json_array_get(v, i);
      size_t n;
      const char *s = hm_json_kind_of(d) == HM_JSON_STRING ? hm_json_string(d, &n) : NULL;
      if (!s || hm_utf16_len(s, n) > 256) return 0;
    }
  }
  return 1;
}

/* R-CHAN-4 */
static int clock_ok(const hm_json *c) {
  if (!c || hm_json_kind_of(c) == HM_JSON_NULL) return 1;
  if (hm_json_kind_of(c) != HM_JSON_OBJECT) return 0;
  if (!safe_uint(hm_json_object_getc(c, "counter"))) return 0;
  hm_json *a = hm_json_object_getc(c, "authorDID");
  if (a && hm_json_kind_of(a) != HM_JSON_NULL) {
    size_t n;
    const char *s = hm_json_kind_of(a) == HM_JSON_STRING ? hm_json_string(a, &n) : NULL;
    if (!s || hm_utf16_len(s, n) > 256) return 0;
  }
  return 1;
}

static int bad_field(hm_frame *f, const char *name);

/* content (R-CHAN-3) then clock (R-CHAN-4) of a message-bearing frame: 1 when both are
 * valid, else INVALID_PAYLOAD naming the first bad field has been sent and 0. */
static int content_clock_ok(hm_frame *f, const hm_json *content, const hm_json *clock) {
  if (!content_ok(content)) return bad_field(f, "content");
  if (!clock_ok(clock)) return bad_field(f, "clock");
  return 1;
}

static int slow_mode_cb(void *ctx, const hm_store_channel *c) {
  *(int64_t *)ctx = c->slow_mode;
  return 1;
}

/* Answers NOT_FOUND "Channel not found" unless chid is a channel of the frame's community;
 * *slow_mode (may be NULL) gets the channel's slow-mode interval. */
static int channel_exists_sm(hm_frame *f, const char *chid, int64_t *slow_mode) {
  int64_t sm = 0;
  int rc = f->srv->st->vt->channel_get(f->srv->st, f->community_id, chid, slow_mode_cb, &sm);
  if (slow_mode) *slow_mode = sm;
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_FOUND", "Channel not found"); /* R-AUTHZ-11 */
    return 0;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return 0;
  }
  return 1;
}

static hm_slow_entry *slow_entry(hm_server *srv, const char *chid, const char *did, int create) {
  size_t n = strlen(chid) + strlen(did) + 2;
  char *key = hm_malloc(n);
  if (!key) return NULL;
  snprintf(key, n, "%s\n%s", chid, did);
  for (hm_slow_entry *e = srv->slow; e; e = e->next)
    if (!strcmp(e->key, key)) {
      hm_free(key);
      return e;
    }
  if (!create) {
    hm_free(key);
    return NULL;
  }
  hm_slow_entry *e = hm_calloc(1, sizeof *e);
  if (!e) {
    hm_free(key);
    return NULL;
  }
  e->key = key;
  e->next = srv->slow;
  srv->slow = e;
  return e;
}

static int channel_exists(hm_frame *f, const char *chid) {
  int rc = f->srv->st->vt->channel_get(f->srv->st, f->community_id, chid, NULL, NULL);
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_FOUND", "Channel not found"); /* R-AUTHZ-11 */
    return 0;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return 0;
  }
  return 1;
}

static const char *pstr_of(const hm_json *p, const char *key);

/* A ZCAP invocation on channel.send (R-AUTHZ-26, R-CRY-ZCAP-10 .. R-CRY-ZCAP-14): the
 * envelope proof is {capabilityId, invocation}; the chain is the community's root
 * capability that this server issued (its only trust anchors); the invocation must be by
 * the connection DID, for SendMessage on this channel, fresh, and not seen before. */
static int zcap_ok(hm_frame *f, const hm_json *proof, const char *chid) {
  hm_server *srv = f->srv;
  const char *cap_id = pstr_of(proof, "capabilityId");
  hm_json *inv = hm_json_object_getc(proof, "invocation");
  if (f->duplicate_keys || !cap_id || hm_json_kind_of(inv) != HM_JSON_OBJECT ||
      !hm_json_string_is(hm_json_object_getc(inv, "capability"), cap_id))
    return 0;
  char *cap_cid = NULL, *cap_text = NULL;
  if (srv->st->vt->capability_get(srv->st, cap_id, &cap_cid, &cap_text) != HM_OK) return 0;
  int ok = !strcmp(cap_cid, f->community_id);
  hm_json *cap = NULL, *chain = hm_json_new_array(), *scope = hm_json_new_object();
  if (ok) ok = hm_json_parse(&cap, cap_text, strlen(cap_text), 0, NULL) == HM_OK;
  hm_free(cap_cid);
  hm_free(cap_text);
  if (ok) ok = chain && scope && hm_json_array_append(chain, cap) == HM_OK;
  else hm_json_free(cap);
  if (ok) ok = hm_json_object_setc(scope, "community", hm_json_new_cstr(f->community_id)) == HM_OK;
  int64_t now = hm_srv_now(srv), w = (int64_t)srv->cfg.vp_freshness_s * 1000, created = 0;
  const char *cr = hm_json_string(hm_json_object_getc(hm_json_object_getc(inv, "proof"), "created"), NULL);
  const char *pv = hm_json_string(hm_json_object_getc(hm_json_object_getc(inv, "proof"), "proofValue"), NULL);
  if (ok) ok = cr && pv && hm_iso8601_parse_strict(cr, strlen(cr), &created) == HM_OK && created >= now - w &&
               created <= now + w; /* R-CRY-ZCAP-14 */
  if (ok) {
    hm_verify_opts o = {0};
    o.profile = HM_PROFILE_HARDENED;
    o.now_ms = now;
    o.freshness_s = srv->cfg.vp_freshness_s;
    hm_zcap_expect e = {f->conn->did, ACTION_PREFIX "SendMessage", chid, scope, srv->did};
    ok = hm_zcap_verify_invocation(inv, chain, &o, &e, NULL) == HM_OK;
  }
  if (ok) { /* one frame per invocation: remember its signature for 2W */
    char key[200];
    snprintf(key, sizeof key, "zcap:%.*s", hm_utf8_prefix(pv, 180), pv);
    ok = srv->st->vt->replay_add(srv->st, key, now + 2 * w, now) == HM_OK;
  }
  hm_json_free(chain);
  hm_json_free(scope);
  return ok;
}

static void h_channel_send(hm_frame *f) {
  hm_server *srv = f->srv;
  const hm_json *p = f->payload;
  const char *chid = hm_json_string(hm_json_object_getc(p, "channelId"), NULL);
  hm_json *clock = hm_json_object_getc(p, "clock");
  if (!content_clock_ok(f, hm_json_object_getc(p, "content"), clock)) return;
  hm_json *att = hm_json_object_getc(p, "attachments");
  for (size_t i = 0; att && i < hm_json_array_size(att); i++) {
    if (hm_json_kind_of(hm_json_array_get(att, i)) != HM_JSON_OBJECT) {
      hm_frame_error(f, "INVALID_PAYLOAD", "Missing or invalid field: attachments");
      return;
    }
  }
  int64_t slow_mode = 0;
  if (!channel_exists_sm(f, chid, &slow_mode)) return;
  hm_json *proof = hm_json_object_getc(f->env, "proof");
  if (proof && hm_json_kind_of(proof) != HM_JSON_NULL && !zcap_ok(f, proof, chid)) {
    hm_frame_error(f, "ZCAP_INVALID", "Invalid ZCAP proof"); /* R-CHAN-15, R-AUTHZ-26 */
    return;
  }
  int rc = srv->st->vt->message_get(srv->st, chid, f->id, NULL, NULL);
  if (rc == HM_OK) {
    hm_frame_error(f, "CONFLICT", "Duplicate message id"); /* R-ORD-5 */
    return;
  }
  if (rc != HM_ERR_NOT_FOUND) {
    hm_frame_internal(f, rc);
    return;
  }
  int64_t now = hm_srv_now(srv);
  if (!mod_send_lockdown(f)) return;
  if (slow_mode > 0) { /* R-MODR-1 */
    hm_slow_entry *e = slow_entry(srv, chid, f->conn->did, 0);
    if (e && now - e->last_ms < slow_mode * 1000) {
      char msg[96];
      snprintf(msg, sizeof msg, "Slow mode: wait %llds between messages", (long long)slow_mode);
      hm_frame_error(f, "SLOW_MODE", msg);
      return;
    }
  }
  if (!mod_send_rest(f, chid)) return;
  char now_ts[32], *payload_text = NULL;
  hm_srv_now_iso(srv, now_ts);
  const char *ts = f->timestamp ? f->timestamp : now_ts;
  rc = hm_json_stringify(&payload_text, NULL, p);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  hm_store_message m = {0};
  m.community_id = f->community_id;
  m.channel_id = chid;
  m.id = f->id;
  m.author = f->conn->did;
  m.timestamp = ts;
  m.payload_json = payload_text;
  hm_json *counter = clock ? hm_json_object_getc(clock, "counter") : NULL;
  m.has_counter = hm_json_kind_of(counter) == HM_JSON_NUMBER;
  m.counter = hm_json_number(counter);
  m.received_ms = hm_srv_now(srv);
  int64_t seq = 0;
  rc = srv->st->vt->message_append(srv->st, &m, &seq);
  hm_free(payload_text);
  if (rc == HM_ERR_CONFLICT) {
    hm_frame_error(f, "CONFLICT", "Duplicate message id"); /* R-ORD-5 */
    return;
  }
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_FOUND", "Channel not found");
    return;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  if (slow_mode > 0) {
    hm_slow_entry *e = slow_entry(srv, chid, f->conn->did, 1);
    if (e) e->last_ms = now;
  }
  srv->m_messages_stored++;
  /* committed: now it may be revealed (R-CHAN-13, R-DLV-6) */
  rc = broadcast_frame(srv, f->community_id, f->id, "channel.message", ts, f->conn->did, hm_json_clone(p), NULL);
  if (rc != HM_OK) hm_srv_log(srv, HM_LOG_ERROR, "broadcast of %s failed: %s", f->id, hm_strerror(rc));
  channel_send_notifications(f, chid);
}

/* ---- channel.typing (R-CHAN-27) ----------------------------------------------------- */

static void h_channel_typing(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *chid = hm_json_string(hm_json_object_getc(f->payload, "channelId"), NULL);
  if (!channel_exists(f, chid)) return;
  char now_ts[32], id[64];
  hm_srv_now_iso(srv, now_ts);
  if (!f->id) hm_srv_fresh_id(srv, id, sizeof id, "typing", 16);
  int rc = broadcast_frame(srv, f->community_id, f->id ? f->id : id, "channel.typing.indicator",
                           f->timestamp ? f->timestamp : now_ts, f->conn->did, hm_json_clone(f->payload), f->conn);
  if (rc != HM_OK) hm_frame_internal(f, rc);
}

/* ---- sync.request (R-HIST-3 .. R-HIST-6, R-SYNC-1 .. R-SYNC-5) ------------------------ */

/* Collect reactions as [{emoji, dids[]}] in first-added order (R-HIST-2). */
static int reaction_cb(void *ctx, const hm_store_reaction *r) {
  hm_json *arr = ctx;
  hm_json *entry = NULL;
  for (size_t i = 0; i < hm_json_array_size(arr); i++) {
    hm_json *e = hm_json_array_get(arr, i);
    if (hm_json_string_is(hm_json_object_getc(e, "emoji"), r->emoji)) entry = e;
  }
  int rc = HM_OK;
  if (!entry) {
    entry = hm_json_new_object();
    if (!entry) return 1;
    set_str(entry, "emoji", r->emoji, &rc);
    set(entry, "dids", hm_json_new_array(), &rc);
    if (rc != HM_OK) {
      hm_json_free(entry);
      return 1;
    }
    push(arr, entry, &rc);
    if (rc != HM_OK) return 1;
  }
  push(hm_json_object_getc(entry, "dids"), hm_json_new_cstr(r->did), &rc);
  return rc != HM_OK;
}

/* The StoredMessage of m (R-HIST-1, R-HIST-2); NULL on failure. */
static hm_json *stored_message(hm_server *srv, const hm_store_message *m) {
  hm_json *payload = NULL;
  int rc = hm_json_parse(&payload, m->payload_json, strlen(m->payload_json), 0, NULL);
  hm_json *o = hm_json_new_object();
  if (rc == HM_OK && !o) rc = HM_ERR_NOMEM;
  set_str(o, "id", m->id, &rc);
  set_str(o, "type", m->type ? m->type : "channel.send", &rc);
  set_str(o, "timestamp", m->timestamp, &rc);
  set_str(o, "sender", m->author, &rc);
  set(o, "payload", payload, &rc);
  payload = NULL;
  set(o, "seq", hm_json_new_number((double)m->seq), &rc);
  if (m->edited_ms && !m->deleted) {
    set(o, "edited", hm_json_new_bool(1), &rc);
    set_iso(o, "editedAt", m->edited_ms, &rc);
  }
  if (m->deleted) set(o, "deleted", hm_json_new_bool(1), &rc);
  if (rc == HM_OK && !m->deleted && !m->type) {
    hm_json *reactions = hm_json_new_array();
    if (!reactions) rc = HM_ERR_NOMEM;
    if (rc == HM_OK) rc = srv->st->vt->reaction_list(srv->st, m->channel_id, m->id, reaction_cb, reactions);
    if (rc == HM_OK && hm_json_array_size(reactions))
      set(o, "reactions", reactions, &rc);
    else
      hm_json_free(reactions);
  }
  if (rc != HM_OK) {
    hm_json_free(payload);
    hm_json_free(o);
    return NULL;
  }
  return o;
}

typedef struct {
  hm_server *srv;
  hm_json *arr;
  size_t want, got;
  int more;
  int rc;
  int64_t last_seq;
  hm_json *last_clock; /* borrowed from the last element of arr */
} page_ctx;

static int page_cb(void *ctx, const hm_store_message *m) {
  page_ctx *pc = ctx;
  if (pc->got == pc->want) {
    pc->more = 1;
    return 1;
  }
  hm_json *o = stored_message(pc->srv, m);
  if (!o) {
    pc->rc = HM_ERR_NOMEM;
    return 1;
  }
  push(pc->arr, o, &pc->rc);
  if (pc->rc != HM_OK) return 1;
  pc->got++;
  pc->last_seq = m->seq;
  pc->last_clock = hm_json_object_getc(hm_json_object_getc(o, "payload"), "clock");
  return 0;
}

static const char *pstr_of(const hm_json *p, const char *key) {
  hm_json *v = hm_json_object_getc(p, key);
  return hm_json_kind_of(v) == HM_JSON_STRING ? hm_json_string(v, NULL) : NULL;
}

typedef struct {
  char *community_id, *channel_id;
  int found;
} thread_copy;

static int copy_thread_cb(void *ctx, const hm_store_thread *t) {
  thread_copy *tc = ctx;
  tc->community_id = hm_strdup(t->community_id);
  tc->channel_id = hm_strdup(t->channel_id);
  tc->found = 1;
  return 1;
}

static void thread_copy_clear(thread_copy *tc) {
  hm_free(tc->community_id);
  hm_free(tc->channel_id);
  memset(tc, 0, sizeof *tc);
}

static void h_sync_request(hm_frame *f) {
  hm_server *srv = f->srv;
  const hm_json *p = f->payload;
  const char *chid = hm_json_string(hm_json_object_getc(p, "channelId"), NULL);
  hm_json *clock = hm_json_object_getc(p, "clock");
  if (hm_json_kind_of(clock) == HM_JSON_NULL) clock = NULL;
  hm_json *seqv = clock ? hm_json_object_getc(clock, "seq") : NULL;
  hm_json *counter = clock ? hm_json_object_getc(clock, "counter") : NULL;
  if ((seqv && hm_json_kind_of(seqv) != HM_JSON_NULL && !safe_uint(seqv)) ||
      (counter && hm_json_kind_of(counter) != HM_JSON_NULL && hm_json_kind_of(counter) != HM_JSON_NUMBER)) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Missing or invalid field: clock");
    return;
  }
  size_t limit = 50;
  hm_json *lv = hm_json_object_getc(p, "limit");
  if (lv && hm_json_kind_of(lv) != HM_JSON_NULL) {
    double d = floor(hm_json_number(lv));
    if (!isfinite(d)) {
      hm_frame_error(f, "INVALID_PAYLOAD", "Missing or invalid field: limit");
      return;
    }
    limit = d < 1 ? 1 : d > 200 ? 200 : (size_t)d;
  }
  if (!channel_exists(f, chid)) return;
  const char *tid = pstr_of(p, "threadId");
  if (tid) { /* R-SYNC-5: the thread must be one of this channel */
    thread_copy tc = {0};
    int trc = srv->st->vt->thread_get(srv->st, tid, copy_thread_cb, &tc);
    int ok = trc == HM_OK && tc.channel_id && tc.community_id && !strcmp(tc.channel_id, chid) &&
             !strcmp(tc.community_id, f->community_id);
    thread_copy_clear(&tc);
    if (trc != HM_OK && trc != HM_ERR_NOT_FOUND) {
      hm_frame_internal(f, trc);
      return;
    }
    if (!ok) {
      hm_frame_error(f, "THREAD_NOT_FOUND", "Thread not found");
      return;
    }
  }
  hm_store_page_query q = {0};
  q.after_seq = -1;
  if (seqv && hm_json_kind_of(seqv) == HM_JSON_NUMBER) {
    q.after_seq = (int64_t)hm_json_number(seqv); /* R-HIST-4: exact paging */
  } else if (hm_json_kind_of(counter) == HM_JSON_NUMBER) {
    q.has_counter_min = 1; /* R-HIST-3: upstream's counter filter */
    q.counter_min = hm_json_number(counter);
  }
  q.include_deleted = hm_json_kind_of(hm_json_object_getc(p, "includeDeleted")) == HM_JSON_TRUE;
  q.limit = limit + 1; /* one more tells whether more follow (R-HIST-5) */
  page_ctx pc = {srv, hm_json_new_array(), limit, 0, 0, HM_OK, 0, NULL};
  int rc = !pc.arr ? HM_ERR_NOMEM
           : tid   ? srv->st->vt->thread_message_page(srv->st, tid, &q, page_cb, &pc)
                   : srv->st->vt->message_page(srv->st, chid, &q, page_cb, &pc);
  if (rc == HM_OK) rc = pc.rc;
  hm_json *latest = NULL;
  if (rc == HM_OK) {
    if (pc.got) {
      latest = hm_json_kind_of(pc.last_clock) == HM_JSON_OBJECT ? hm_json_clone(pc.last_clock) : NULL;
      if (!latest) {
        latest = hm_json_new_object();
        set(latest, "counter", hm_json_new_number(0), &rc);
        set_str(latest, "authorDID", "", &rc);
      }
      set(latest, "seq", hm_json_new_number((double)pc.last_seq), &rc);
    } else if (clock) {
      latest = hm_json_clone(clock);
    } else {
      latest = hm_json_new_object();
      set(latest, "counter", hm_json_new_number(0), &rc);
      set_str(latest, "authorDID", "", &rc);
      set(latest, "seq", hm_json_new_number(0), &rc);
    }
    if (!latest && rc == HM_OK) rc = HM_ERR_NOMEM;
  }
  hm_json *out = hm_json_new_object();
  if (rc == HM_OK && !out) rc = HM_ERR_NOMEM;
  set_str(out, "communityId", f->community_id, &rc);
  set_str(out, "channelId", chid, &rc);
  set(out, "messages", pc.arr, &rc);
  pc.arr = NULL;
  set(out, "hasMore", hm_json_new_bool(pc.more), &rc);
  set(out, "latestClock", latest, &rc);
  latest = NULL;
  if (tid) set_str(out, "threadId", tid, &rc);
  reply(f, rc, "sync.response", out);
}

/* ---- permissions (R-AUTHZ-19 .. R-AUTHZ-21) --------------------------------------------- */

typedef struct {
  const char *perm;
  int held;
} perm_ctx;

static int perm_cb(void *ctx, const hm_store_role *r) {
  perm_ctx *pc = ctx;
  hm_json *perms = NULL;
  if (hm_json_parse(&perms, r->permissions_json, strlen(r->permissions_json), 0, NULL) != HM_OK) return 0;
  for (size_t i = 0; i < hm_json_array_size(perms); i++) {
    hm_json *p = hm_json_array_get(perms, i);
    if (hm_json_string_is(p, "admin") || hm_json_string_is(p, pc->perm) ||
        (!strcmp(pc->perm, "channel.manage") && hm_json_string_is(p, "manage_channels")))
      pc->held = 1;
  }
  hm_json_free(perms);
  return pc->held;
}

int hm_srv_has_permission(hm_server *srv, const char *cid, const char *did, const char *perm, int *held) {
  community_copy cc;
  *held = 0;
  int rc = community_load(srv, cid, &cc);
  if (rc != HM_OK) return rc;
  int creator = strcmp(cc.creator, did) == 0;
  community_copy_clear(&cc);
  if (creator) { /* R-AUTHZ-20 */
    *held = 1;
    return HM_OK;
  }
  perm_ctx pc = {perm, 0};
  rc = srv->st->vt->roles_of(srv->st, cid, did, perm_cb, &pc);
  *held = pc.held;
  return rc;
}

int hm_srv_is_creator(hm_server *srv, const char *cid, const char *did, int *yes) {
  community_copy cc;
  int rc = community_load(srv, cid, &cc);
  if (rc != HM_OK) return rc;
  *yes = strcmp(cc.creator, did) == 0;
  community_copy_clear(&cc);
  return HM_OK;
}


static void frame_ts(hm_frame *f, char ts[32]) {
  if (f->timestamp)
    snprintf(ts, 32, "%.*s", hm_utf8_prefix(f->timestamp, 31), f->timestamp);
  else
    hm_srv_now_iso(f->srv, ts);
}

/* A relay keeping the request id and timestamp (R-ORD-3), payload as received. */
static void relay(hm_frame *f, const char *type, const hm_server_conn *except) {
  char ts[32], id[64];
  frame_ts(f, ts);
  if (!f->id) hm_srv_fresh_id(f->srv, id, sizeof id, "relay", 16);
  int rc = broadcast_frame(f->srv, f->community_id, f->id ? f->id : id, type, f->timestamp ? f->timestamp : ts,
                           f->conn->did, hm_json_clone(f->payload), except);
  if (rc != HM_OK) hm_srv_log(f->srv, HM_LOG_ERROR, "%s broadcast failed: %s", type, hm_strerror(rc));
}

/* A fresh-id broadcast with sender = the acting DID. */
static void announce(hm_frame *f, const char *type, hm_json *payload, const hm_server_conn *except) {
  char id[64], ts[32];
  hm_srv_fresh_id(f->srv, id, sizeof id, "evt", 16);
  hm_srv_now_iso(f->srv, ts);
  int rc = broadcast_frame(f->srv, f->community_id, id, type, ts, f->conn->did, payload, except);
  if (rc != HM_OK) hm_srv_log(f->srv, HM_LOG_ERROR, "%s broadcast failed: %s", type, hm_strerror(rc));
}

static int is_blank_str(const hm_json *v) {
  size_t n;
  const char *s = hm_json_string(v, &n);
  if (!s) return 0;
  for (size_t i = 0; i < n; i++)
    if (!strchr(" \t\n\r\v\f", s[i])) return 0;
  return 1;
}

static int bad_field(hm_frame *f, const char *name) {
  char msg[96];
  snprintf(msg, sizeof msg, "Missing or invalid field: %s", name);
  hm_frame_error(f, "INVALID_PAYLOAD", msg);
  return 0;
}

/* ---- community.update / ban / unban / kick ---------------------------------------------- */

static void h_community_update(hm_frame *f) {
  hm_json *name = hm_json_object_getc(f->payload, "name"), *desc = hm_json_object_getc(f->payload, "description");
  if (hm_json_kind_of(name) == HM_JSON_NULL) name = NULL;
  if (hm_json_kind_of(desc) == HM_JSON_NULL) desc = NULL;
  if (name && is_blank_str(name)) {
    bad_field(f, "name");
    return;
  }
  int rc = f->srv->st->vt->community_update(f->srv->st, f->community_id, name ? hm_json_string(name, NULL) : NULL,
                                            desc ? hm_json_string(desc, NULL) : NULL);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  hm_json *p = hm_json_new_object();
  rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "communityId", f->community_id, &rc);
  if (name) set(p, "name", hm_json_clone(name), &rc);
  if (desc) set(p, "description", hm_json_clone(desc), &rc);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  announce(f, "community.updated", p, NULL);
}

/* Common target checks of ban and kick (R-AUTHZ-18, R-AUTHZ-22). Returns 1 when the
 * target is a member, 2 when it is not but may be acted on (a ban: *allow_stranger), 0
 * when an error was sent. */
static int target_ok(hm_frame *f, const char *target, const char *self_msg, int allow_stranger) {
  hm_server *srv = f->srv;
  if (strcmp(target, f->conn->did) == 0) {
    hm_frame_error(f, "INVALID", self_msg);
    return 0;
  }
  int creator = 0, rc = hm_srv_is_creator(srv, f->community_id, target, &creator);
  if (rc == HM_OK && creator) {
    hm_frame_error(f, "FORBIDDEN", "Cannot act against the community owner");
    return 0;
  }
  if (rc == HM_OK) rc = srv->st->vt->member_get(srv->st, f->community_id, target, NULL, NULL);
  if (rc == HM_ERR_NOT_FOUND && allow_stranger) return 2;
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_FOUND", "Not a member of this community");
    return 0;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return 0;
  }
  return 1;
}

static hm_json *cid_target(const char *cid, const char *target) {
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "communityId", cid, &rc);
  set_str(p, "targetDID", target, &rc);
  if (rc != HM_OK) {
    hm_json_free(p);
    return NULL;
  }
  return p;
}

static void h_community_ban(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *target = pstr_of(f->payload, "targetDID");
  int member = target_ok(f, target, "Cannot ban yourself", 1);
  if (!member) return;
  int rc = srv->st->vt->ban_add(srv->st, f->community_id, target, f->conn->did, pstr_of(f->payload, "reason"),
                                hm_srv_now(srv));
  hm_json *p = rc == HM_OK ? cid_target(f->community_id, target) : NULL;
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  hm_srv_log(srv, HM_LOG_INFO, "%s banned %s from %s", f->conn->did, target, f->community_id);
  hm_srv_voice_drop_did(srv, f->community_id, target); /* R-VOICE-10 */
  hm_srv_send(srv, f->conn, "community.ban.applied", p);
  if (member != 1) return; /* a pre-emptive ban of a non-member announces nothing */
  /* R-COMM-22: the remaining members drop the target */
  member_event(srv, "community.member.left", f->community_id, target, f->conn->did, NULL, 0);
  /* R-AUTHZ-13/14: every connection of the target */
  HM_FOR_DID_CONN(srv, target, c) {
    if (c == f->conn) continue;
    hm_srv_error(srv, c, "BANNED", "You are banned from this community", NULL);
    hm_srv_close(srv, c, 4003, "Banned");
  }
}

static void h_community_unban(hm_frame *f) {
  const char *target = pstr_of(f->payload, "targetDID");
  int rc = f->srv->st->vt->ban_remove(f->srv->st, f->community_id, target);
  hm_json *p = rc == HM_OK ? cid_target(f->community_id, target) : NULL;
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  reply(f, rc, "community.unban.applied", p);
}

static void h_community_kick(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *target = pstr_of(f->payload, "targetDID"), *reason = pstr_of(f->payload, "reason");
  if (!target_ok(f, target, "Cannot kick yourself", 0)) return;
  hm_json *p = cid_target(f->community_id, target);
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  if (reason) set_str(p, "reason", reason, &rc);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  /* R-COMM-30: the broadcast reaches the target before its membership ends; the removal
   * is committed first so that nothing is revealed before it is durable (R-PERS-1). */
  char id[64], ts[32], *text = NULL;
  size_t len;
  hm_srv_fresh_id(srv, id, sizeof id, "evt", 16);
  hm_srv_now_iso(srv, ts);
  rc = hm_srv_frame_text(&text, &len, id, "member.kicked", ts, f->conn->did, p);
  str_list before = {0};
  if (rc == HM_OK) rc = srv->st->vt->member_list(srv->st, f->community_id, collect_member_did, &before);
  if (rc == HM_OK && before.nomem) rc = HM_ERR_NOMEM;
  if (rc == HM_OK) rc = srv->st->vt->member_remove(srv->st, f->community_id, target);
  if (rc != HM_OK) {
    hm_free(text);
    str_list_clear(&before);
    hm_frame_internal(f, rc);
    return;
  }
  /* the members before the removal (the target included), each through the DID index */
  for (size_t i = 0; i < before.n; i++) hm_srv_send_did(srv, before.ids[i], text, len, NULL);
  hm_free(text);
  str_list_clear(&before);
  hm_srv_voice_drop_did(srv, f->community_id, target); /* R-VOICE-10 */
  HM_FOR_DID_CONN(srv, target, c) {
    hm_srv_error(srv, c, "KICKED", reason ? reason : "You have been kicked from this community", NULL);
  }
}

/* ---- channel administration (channel-admin.md) ---------------------------------------- */

static int channel_type_ok(const char *t) {
  return !strcmp(t, "text") || !strcmp(t, "voice") || !strcmp(t, "announcement") || !strcmp(t, "thread");
}

static void h_channel_create(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *name = pstr_of(f->payload, "name"), *type = pstr_of(f->payload, "type");
  if (!type) type = "text";
  if (!channel_type_ok(type)) {
    bad_field(f, "type");
    return;
  }
  int64_t n = 0;
  int rc = srv->st->vt->channel_count(srv->st, f->community_id, &n);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  if (n >= 500) {
    hm_frame_error(f, "QUOTA_EXCEEDED", "Channel limit reached (500)");
    return;
  }
  char hex[40], chid[400];
  hm_srv_fresh_id(srv, hex, sizeof hex, NULL, 8);
  snprintf(chid, sizeof chid, "%s:channel:%s", f->community_id, hex);
  hm_store_channel ch = {chid, f->community_id, name, type, pstr_of(f->payload, "topic"), hm_srv_now(srv),
                         pstr_of(f->payload, "categoryId"), 0};
  rc = srv->st->vt->channel_create(srv->st, &ch);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  build_ctx b = {srv, hm_json_new_array(), HM_OK, 0};
  if (b.arr) channel_info_cb(&b, &ch);
  hm_json *info = b.rc == HM_OK ? hm_json_clone(hm_json_array_get(b.arr, 0)) : NULL;
  hm_json_free(b.arr);
  if (info && ch.category_id) {
    int r2 = HM_OK;
    set_str(info, "categoryId", ch.category_id, &r2);
  }
  if (!info) {
    hm_frame_internal(f, HM_ERR_NOMEM);
    return;
  }
  if (community_has_key_package(srv, f->community_id)) { /* R-CADM-5 */
    char gid[800];
    snprintf(gid, sizeof gid, "%s:%s", f->community_id, chid);
    hm_json *p = hm_json_new_object();
    int r3 = p ? HM_OK : HM_ERR_NOMEM;
    set_str(p, "communityId", f->community_id, &r3);
    set_str(p, "channelId", chid, &r3);
    set_str(p, "groupId", gid, &r3);
    if (r3 == HM_OK)
      hm_srv_send(srv, f->conn, "mls.group.setup.needed", p);
    else
      hm_json_free(p);
  }
  announce(f, "channel.created", info, NULL);
}

static void h_channel_update(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *chid = pstr_of(f->payload, "channelId");
  hm_json *name = hm_json_object_getc(f->payload, "name"), *topic = hm_json_object_getc(f->payload, "topic"),
          *slow = hm_json_object_getc(f->payload, "slowMode");
  if (hm_json_kind_of(name) == HM_JSON_NULL) name = NULL;
  if (hm_json_kind_of(topic) == HM_JSON_NULL) topic = NULL;
  if (hm_json_kind_of(slow) == HM_JSON_NULL) slow = NULL;
  if (name && is_blank_str(name)) {
    bad_field(f, "name");
    return;
  }
  if (slow && (hm_json_number(slow) < 0 || hm_json_number(slow) > 21600)) {
    bad_field(f, "slowMode");
    return;
  }
  if (!channel_exists(f, chid)) return;
  int rc = srv->st->vt->channel_update(srv->st, chid, name ? hm_json_string(name, NULL) : NULL,
                                       topic ? hm_json_string(topic, NULL) : NULL,
                                       slow ? (int64_t)hm_json_number(slow) : -1);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  hm_json *p = hm_json_new_object();
  rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "communityId", f->community_id, &rc);
  set_str(p, "channelId", chid, &rc);
  if (name) set(p, "name", hm_json_clone(name), &rc);
  if (topic) set(p, "topic", hm_json_clone(topic), &rc);
  if (slow) set(p, "slowMode", hm_json_clone(slow), &rc);
  char ts[32], id[64];
  frame_ts(f, ts);
  if (!f->id) hm_srv_fresh_id(srv, id, sizeof id, "evt", 16);
  if (rc == HM_OK) rc = broadcast_frame(srv, f->community_id, f->id ? f->id : id, "channel.updated", ts, f->conn->did, p, NULL);
  else hm_json_free(p);
  if (rc != HM_OK) hm_srv_log(srv, HM_LOG_ERROR, "channel.updated broadcast failed: %s", hm_strerror(rc));
}

static void h_channel_delete_admin(hm_frame *f) {
  const char *chid = pstr_of(f->payload, "channelId");
  if (!channel_exists(f, chid)) return;
  int rc = f->srv->st->vt->channel_delete(f->srv->st, chid);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  hm_json *p = hm_json_new_object();
  rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "communityId", f->community_id, &rc);
  set_str(p, "channelId", chid, &rc);
  char ts[32], id[64];
  frame_ts(f, ts);
  if (!f->id) hm_srv_fresh_id(f->srv, id, sizeof id, "evt", 16);
  if (rc == HM_OK) rc = broadcast_frame(f->srv, f->community_id, f->id ? f->id : id, "channel.deleted", ts, f->conn->did, p, NULL);
  else hm_json_free(p);
  if (rc != HM_OK) hm_srv_log(f->srv, HM_LOG_ERROR, "channel.deleted broadcast failed: %s", hm_strerror(rc));
}

/* ---- edits, deletes, reactions, pins (channel.md) ------------------------------------- */

typedef struct {
  char *author;
  char *payload_json;
  int deleted;
  int64_t seq;
  int found;
} msg_copy;

static int copy_msg_cb(void *ctx, const hm_store_message *m) {
  msg_copy *mc = ctx;
  mc->author = hm_strdup(m->author);
  mc->payload_json = hm_strdup(m->payload_json);
  mc->deleted = m->deleted;
  mc->seq = m->seq;
  mc->found = 1;
  return 1;
}

static void msg_copy_clear(msg_copy *mc) {
  hm_free(mc->author);
  hm_free(mc->payload_json);
  memset(mc, 0, sizeof *mc);
}

/* Loads the addressed message; answers NOT_FOUND when absent (or deleted unless
 * allow_deleted). Returns 1 when found. */
static int message_load(hm_frame *f, const char *chid, const char *mid, int allow_deleted, msg_copy *mc) {
  memset(mc, 0, sizeof *mc);
  int rc = f->srv->st->vt->message_get(f->srv->st, chid, mid, copy_msg_cb, mc);
  if (rc == HM_OK && (!mc->author || !mc->payload_json)) rc = HM_ERR_NOMEM;
  if (rc == HM_ERR_NOT_FOUND || (rc == HM_OK && mc->deleted && !allow_deleted)) {
    msg_copy_clear(mc);
    hm_frame_error(f, "NOT_FOUND", "Message not found");
    return 0;
  }
  if (rc != HM_OK) {
    msg_copy_clear(mc);
    hm_frame_internal(f, rc);
    return 0;
  }
  return 1;
}

static void h_channel_edit(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *chid = pstr_of(f->payload, "channelId"), *mid = pstr_of(f->payload, "messageId");
  hm_json *content = hm_json_object_getc(f->payload, "content"), *clock = hm_json_object_getc(f->payload, "clock");
  if (!content_clock_ok(f, content, clock)) return;
  if (!channel_exists(f, chid)) return;
  msg_copy mc;
  if (!message_load(f, chid, mid, 0, &mc)) return;
  if (strcmp(mc.author, f->conn->did) != 0) {
    msg_copy_clear(&mc);
    hm_frame_error(f, "FORBIDDEN", "Only the author can edit this message");
    return;
  }
  hm_json *stored = NULL;
  int rc = hm_json_parse(&stored, mc.payload_json, strlen(mc.payload_json), 0, NULL);
  msg_copy_clear(&mc);
  if (rc == HM_OK) rc = hm_json_object_setc(stored, "content", hm_json_clone(content));
  int has_clock = clock && hm_json_kind_of(clock) == HM_JSON_OBJECT;
  if (rc == HM_OK && has_clock) rc = hm_json_object_setc(stored, "clock", hm_json_clone(clock));
  char *text = NULL;
  if (rc == HM_OK) rc = hm_json_stringify(&text, NULL, stored);
  hm_json_free(stored);
  if (rc == HM_OK)
    rc = srv->st->vt->message_edit(srv->st, chid, mid, text, has_clock,
                                   has_clock ? hm_json_number(hm_json_object_getc(clock, "counter")) : 0,
                                   hm_srv_now(srv));
  hm_free(text);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  relay(f, "channel.message.updated", f->conn);
}

static void h_channel_delete(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *chid = pstr_of(f->payload, "channelId"), *mid = pstr_of(f->payload, "messageId");
  if (!clock_ok(hm_json_object_getc(f->payload, "clock"))) {
    bad_field(f, "clock");
    return;
  }
  if (!channel_exists(f, chid)) return;
  msg_copy mc;
  if (!message_load(f, chid, mid, 0, &mc)) return;
  int allowed = strcmp(mc.author, f->conn->did) == 0, rc = HM_OK;
  if (!allowed) rc = hm_srv_has_permission(srv, f->community_id, f->conn->did, "message.manage", &allowed);
  if (rc == HM_OK && !allowed) {
    msg_copy_clear(&mc);
    hm_frame_error(f, "FORBIDDEN", "Only the author can delete this message");
    return;
  }
  /* the tombstone keeps communityId, channelId and clock only (R-HIST-2) */
  hm_json *stored = NULL, *tomb = hm_json_new_object();
  if (rc == HM_OK) rc = hm_json_parse(&stored, mc.payload_json, strlen(mc.payload_json), 0, NULL);
  msg_copy_clear(&mc);
  if (rc == HM_OK && !tomb) rc = HM_ERR_NOMEM;
  set_str(tomb, "communityId", f->community_id, &rc);
  set_str(tomb, "channelId", chid, &rc);
  hm_json *oc = stored ? hm_json_object_getc(stored, "clock") : NULL;
  if (oc) set(tomb, "clock", hm_json_clone(oc), &rc);
  char *text = NULL;
  if (rc == HM_OK) rc = hm_json_stringify(&text, NULL, tomb);
  hm_json_free(stored);
  hm_json_free(tomb);
  if (rc == HM_OK) rc = srv->st->vt->message_tombstone(srv->st, chid, mid, text, f->conn->did, hm_srv_now(srv));
  hm_free(text);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  relay(f, "channel.message.deleted", f->conn);
}

static void h_reaction_add(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *chid = pstr_of(f->payload, "channelId"), *mid = pstr_of(f->payload, "messageId"),
             *emoji = pstr_of(f->payload, "emoji");
  if (!channel_exists(f, chid)) return;
  msg_copy mc;
  if (!message_load(f, chid, mid, 0, &mc)) return;
  msg_copy_clear(&mc);
  int64_t distinct = 0;
  int present = 0;
  int rc = srv->st->vt->reaction_emoji_count(srv->st, chid, mid, emoji, &distinct, &present);
  if (rc == HM_OK && !present && distinct >= 50) {
    hm_frame_error(f, "QUOTA_EXCEEDED", "Reaction limit reached (50)");
    return;
  }
  if (rc == HM_OK) rc = srv->st->vt->reaction_add(srv->st, chid, mid, emoji, f->conn->did, hm_srv_now(srv));
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  relay(f, "channel.reaction.added", NULL);
}

static void h_reaction_remove(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *chid = pstr_of(f->payload, "channelId"), *mid = pstr_of(f->payload, "messageId"),
             *emoji = pstr_of(f->payload, "emoji");
  if (!channel_exists(f, chid)) return;
  msg_copy mc;
  if (!message_load(f, chid, mid, 0, &mc)) return;
  msg_copy_clear(&mc);
  int rc = srv->st->vt->reaction_remove(srv->st, chid, mid, emoji, f->conn->did);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  relay(f, "channel.reaction.removed", NULL);
}

static void pin_event(hm_frame *f, const char *type, const char *by_key) {
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "communityId", f->community_id, &rc);
  set_str(p, "channelId", pstr_of(f->payload, "channelId"), &rc);
  set_str(p, "messageId", pstr_of(f->payload, "messageId"), &rc);
  set_str(p, by_key, f->conn->did, &rc);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  announce(f, type, p, NULL);
}

static void h_channel_pin(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *chid = pstr_of(f->payload, "channelId"), *mid = pstr_of(f->payload, "messageId");
  if (!channel_exists(f, chid)) return;
  msg_copy mc;
  if (!message_load(f, chid, mid, 0, &mc)) return;
  msg_copy_clear(&mc);
  int64_t n = 0;
  int pinned = 0;
  int rc = srv->st->vt->pin_count(srv->st, chid, &n, mid, &pinned);
  if (rc == HM_OK && !pinned && n >= 50) {
    hm_frame_error(f, "PIN_LIMIT", "Maximum of 50 pinned messages per channel");
    return;
  }
  if (rc == HM_OK) rc = srv->st->vt->pin_add(srv->st, chid, mid, f->conn->did, hm_srv_now(srv), NULL);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  pin_event(f, "channel.message.pinned", "pinnedBy");
}

static void h_channel_unpin(hm_frame *f) {
  const char *chid = pstr_of(f->payload, "channelId"), *mid = pstr_of(f->payload, "messageId");
  if (!channel_exists(f, chid)) return;
  msg_copy mc;
  if (!message_load(f, chid, mid, 1, &mc)) return;
  msg_copy_clear(&mc);
  int rc = f->srv->st->vt->pin_remove(f->srv->st, chid, mid);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  pin_event(f, "channel.message.unpinned", "unpinnedBy");
}

static int pin_id_cb(void *ctx, const char *id) {
  hm_json *arr = ctx;
  return hm_json_array_append(arr, hm_json_new_cstr(id)) != HM_OK;
}

static void h_channel_pins_list(hm_frame *f) {
  const char *chid = pstr_of(f->payload, "channelId");
  if (!channel_exists(f, chid)) return;
  hm_json *ids = hm_json_new_array(), *p = hm_json_new_object();
  int rc = (ids && p) ? f->srv->st->vt->pin_list(f->srv->st, chid, pin_id_cb, ids) : HM_ERR_NOMEM;
  set_str(p, "communityId", f->community_id, &rc);
  set_str(p, "channelId", chid, &rc);
  set(p, "messageIds", ids, &rc);
  ids = NULL;
  reply(f, rc, "channel.pins.response", p);
}

/* ---- channel.history (R-HIST-7, R-CHAN-47 .. R-CHAN-50) ---------------------------------- */

static void h_channel_history(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *chid = pstr_of(f->payload, "channelId");
  hm_json *before = hm_json_object_getc(f->payload, "before"), *lv = hm_json_object_getc(f->payload, "limit");
  if (hm_json_kind_of(before) == HM_JSON_NULL) before = NULL;
  int64_t before_seq = -1;
  int has_counter = 0;
  double counter = 0;
  if (before && hm_json_kind_of(before) == HM_JSON_OBJECT) {
    hm_json *sq = hm_json_object_getc(before, "seq"), *ct = hm_json_object_getc(before, "counter");
    if (sq && hm_json_kind_of(sq) != HM_JSON_NULL) {
      if (!safe_uint(sq)) {
        bad_field(f, "before");
        return;
      }
      before_seq = (int64_t)hm_json_number(sq);
    } else if (hm_json_kind_of(ct) == HM_JSON_NUMBER) {
      has_counter = 1;
      counter = hm_json_number(ct);
    } else {
      bad_field(f, "before");
      return;
    }
  }
  size_t limit = 50;
  if (lv && hm_json_kind_of(lv) != HM_JSON_NULL) {
    double d = floor(hm_json_number(lv));
    if (!isfinite(d)) {
      bad_field(f, "limit");
      return;
    }
    limit = d < 1 ? 1 : d > 200 ? 200 : (size_t)d;
  }
  if (!channel_exists(f, chid)) return;
  if (before && hm_json_kind_of(before) == HM_JSON_STRING) {
    msg_copy mc;
    if (!message_load(f, chid, hm_json_string(before, NULL), 1, &mc)) return;
    before_seq = mc.seq;
    msg_copy_clear(&mc);
  }
  page_ctx pc = {srv, hm_json_new_array(), limit, 0, 0, HM_OK, 0, NULL};
  int rc = pc.arr ? srv->st->vt->message_page_before(srv->st, chid, before_seq, has_counter, counter, limit + 1,
                                                     page_cb, &pc)
                  : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = pc.rc;
  /* newest first from the store -> oldest first on the wire */
  hm_json *msgs = hm_json_new_array();
  if (rc == HM_OK && !msgs) rc = HM_ERR_NOMEM;
  for (size_t i = hm_json_array_size(pc.arr); rc == HM_OK && i > 0; i--)
    push(msgs, hm_json_clone(hm_json_array_get(pc.arr, i - 1)), &rc);
  hm_json_free(pc.arr);
  hm_json *p = hm_json_new_object();
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  set_str(p, "communityId", f->community_id, &rc);
  set_str(p, "channelId", chid, &rc);
  set(p, "messages", msgs, &rc);
  msgs = NULL;
  set(p, "hasMore", hm_json_new_bool(pc.more), &rc);
  reply(f, rc, "channel.history.response", p);
}

/* ---- roles (members.md) ---------------------------------------------------------------- */

typedef struct {
  char *id, *community_id, *name, *color, *perms, *created_by;
  int64_t position, created_ms;
  int found;
} role_copy;

static int copy_role_cb(void *ctx, const hm_store_role *r) {
  role_copy *rc = ctx;
  rc->id = hm_strdup(r->id);
  rc->community_id = hm_strdup(r->community_id);
  rc->name = hm_strdup(r->name);
  rc->color = r->color ? hm_strdup(r->color) : NULL;
  rc->perms = hm_strdup(r->permissions_json);
  rc->created_by = hm_strdup(r->created_by);
  rc->position = r->position;
  rc->created_ms = r->created_ms;
  rc->found = 1;
  return 1;
}

static void role_copy_clear(role_copy *r) {
  hm_free(r->id);
  hm_free(r->community_id);
  hm_free(r->name);
  hm_free(r->color);
  hm_free(r->perms);
  hm_free(r->created_by);
  memset(r, 0, sizeof *r);
}

static hm_json *role_json(const hm_store_role *r) {
  hm_json *o = hm_json_new_object(), *perms = NULL;
  int rc = o ? hm_json_parse(&perms, r->permissions_json, strlen(r->permissions_json), 0, NULL) : HM_ERR_NOMEM;
  set_str(o, "id", r->id, &rc);
  set_str(o, "communityId", r->community_id, &rc);
  set_str(o, "name", r->name, &rc);
  if (r->color) set_str(o, "color", r->color, &rc);
  set(o, "permissions", perms, &rc);
  perms = NULL;
  set(o, "position", hm_json_new_number((double)r->position), &rc);
  set_str(o, "createdBy", r->created_by, &rc);
  if (rc != HM_OK) {
    hm_json_free(o);
    hm_json_free(perms);
    return NULL;
  }
  return o;
}

/* permissions: array of 1..64-long strings (count checked by the registry); position 0..1000 */
static int role_fields_ok(hm_frame *f) {
  hm_json *perms = hm_json_object_getc(f->payload, "permissions"), *pos = hm_json_object_getc(f->payload, "position"),
          *name = hm_json_object_getc(f->payload, "name");
  if (name && hm_json_kind_of(name) == HM_JSON_STRING && is_blank_str(name)) return bad_field(f, "name");
  for (size_t i = 0; perms && i < hm_json_array_size(perms); i++) {
    hm_json *p = hm_json_array_get(perms, i);
    size_t n;
    const char *s = hm_json_kind_of(p) == HM_JSON_STRING ? hm_json_string(p, &n) : NULL;
    if (!s || n == 0 || hm_utf16_len(s, n) > 64) return bad_field(f, "permissions");
  }
  if (pos && hm_json_kind_of(pos) != HM_JSON_NULL &&
      (!safe_uint(pos) || hm_json_number(pos) > 1000))
    return bad_field(f, "position");
  return 1;
}

static void h_role_create(hm_frame *f) {
  hm_server *srv = f->srv;
  if (!role_fields_ok(f)) return;
  int64_t n = 0;
  int rc = srv->st->vt->role_count(srv->st, f->community_id, &n);
  if (rc == HM_OK && n >= 250) {
    hm_frame_error(f, "QUOTA_EXCEEDED", "Role limit reached (250)");
    return;
  }
  char rid[48];
  hm_srv_fresh_id(srv, rid, sizeof rid, "role", 8);
  rid[4] = ':'; /* role:<16 hex> */
  hm_json *perms = hm_json_object_getc(f->payload, "permissions"), *pos = hm_json_object_getc(f->payload, "position");
  char *ptext = NULL;
  if (rc == HM_OK) {
    if (perms && hm_json_kind_of(perms) == HM_JSON_ARRAY)
      rc = hm_json_stringify(&ptext, NULL, perms);
    else
      ptext = hm_strdup("[]"), rc = ptext ? HM_OK : HM_ERR_NOMEM;
  }
  hm_store_role r = {rid, f->community_id, pstr_of(f->payload, "name"), pstr_of(f->payload, "color"), ptext,
                     hm_json_kind_of(pos) == HM_JSON_NUMBER ? (int64_t)hm_json_number(pos) : 0, f->conn->did,
                     hm_srv_now(srv)};
  if (rc == HM_OK) rc = srv->st->vt->role_create(srv->st, &r);
  hm_json *p = rc == HM_OK ? role_json(&r) : NULL;
  hm_free(ptext);
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  announce(f, "role.created", p, NULL);
}

/* Loads payload.roleId of the community or answers NOT_FOUND "Role not found". */
static int role_load(hm_frame *f, role_copy *out) {
  memset(out, 0, sizeof *out);
  int rc = f->srv->st->vt->role_get(f->srv->st, f->community_id, pstr_of(f->payload, "roleId"), copy_role_cb, out);
  if (rc == HM_OK && (!out->id || !out->name || !out->perms || !out->created_by)) rc = HM_ERR_NOMEM;
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_FOUND", "Role not found");
    return 0;
  }
  if (rc != HM_OK) {
    role_copy_clear(out);
    hm_frame_internal(f, rc);
    return 0;
  }
  return 1;
}

static void h_role_update(hm_frame *f) {
  if (!role_fields_ok(f)) return;
  role_copy rcp;
  if (!role_load(f, &rcp)) return;
  hm_json *perms = hm_json_object_getc(f->payload, "permissions"), *pos = hm_json_object_getc(f->payload, "position");
  char *ptext = NULL;
  int rc = HM_OK;
  if (perms && hm_json_kind_of(perms) == HM_JSON_ARRAY) rc = hm_json_stringify(&ptext, NULL, perms);
  const char *name = pstr_of(f->payload, "name"), *color = pstr_of(f->payload, "color");
  hm_store_role r = {rcp.id, rcp.community_id, name ? name : rcp.name, color ? color : rcp.color,
                     ptext ? ptext : rcp.perms,
                     hm_json_kind_of(pos) == HM_JSON_NUMBER ? (int64_t)hm_json_number(pos) : rcp.position,
                     rcp.created_by, rcp.created_ms};
  if (rc == HM_OK) rc = f->srv->st->vt->role_update(f->srv->st, &r);
  hm_json *p = rc == HM_OK ? role_json(&r) : NULL;
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  hm_free(ptext);
  role_copy_clear(&rcp);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  announce(f, "role.updated", p, NULL);
}

static void h_role_delete(hm_frame *f) {
  role_copy rcp;
  if (!role_load(f, &rcp)) return;
  int rc = f->srv->st->vt->role_delete(f->srv->st, f->community_id, rcp.id);
  hm_json *p = hm_json_new_object();
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  set_str(p, "communityId", f->community_id, &rc);
  set_str(p, "roleId", rcp.id, &rc);
  role_copy_clear(&rcp);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  announce(f, "role.deleted", p, NULL);
}

static void role_assignment(hm_frame *f, int assign) {
  hm_server *srv = f->srv;
  const char *target = pstr_of(f->payload, "memberDID");
  if (!assign) {
    int creator = 0, rc = hm_srv_is_creator(srv, f->community_id, target, &creator);
    if (rc == HM_OK && creator && strcmp(target, f->conn->did) != 0) {
      hm_frame_error(f, "FORBIDDEN", "Cannot act against the community owner");
      return;
    }
  }
  role_copy rcp;
  if (!role_load(f, &rcp)) return;
  int rc = srv->st->vt->member_get(srv->st, f->community_id, target, NULL, NULL);
  if (rc == HM_ERR_NOT_FOUND) {
    role_copy_clear(&rcp);
    hm_frame_error(f, "NOT_FOUND", "Not a member of this community");
    return;
  }
  if (rc == HM_OK)
    rc = assign ? srv->st->vt->role_assign(srv->st, f->community_id, target, rcp.id)
                : srv->st->vt->role_unassign(srv->st, f->community_id, target, rcp.id);
  hm_json *p = hm_json_new_object();
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  set_str(p, "communityId", f->community_id, &rc);
  set_str(p, "did", target, &rc);
  set_str(p, "roleId", rcp.id, &rc);
  set_str(p, "action", assign ? "role.assigned" : "role.removed", &rc);
  role_copy_clear(&rcp);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  announce(f, "community.member.updated", p, NULL);
}

static void h_role_assign(hm_frame *f) { role_assignment(f, 1); }
static void h_role_remove(hm_frame *f) { role_assignment(f, 0); }

/* ---- member.update (R-MEMB-1 .. R-MEMB-3) ------------------------------------------------ */

static void h_member_update(hm_frame *f) {
  hm_server *srv = f->srv;
  hm_json *dn = hm_json_object_getc(f->payload, "displayName");
  if (is_blank_str(dn)) {
    bad_field(f, "displayName");
    return;
  }
  const char *name = hm_json_string(dn, NULL);
  int rc = srv->st->vt->display_name_set(srv->st, f->conn->did, name);
  str_list comms = {0};
  if (rc == HM_OK) rc = srv->st->vt->memberships_of(srv->st, f->conn->did, collect_community_of, &comms);
  if (rc == HM_OK && comms.nomem) rc = HM_ERR_NOMEM;
  if (rc != HM_OK) {
    str_list_clear(&comms);
    hm_frame_internal(f, rc);
    return;
  }
  for (size_t i = 0; i < comms.n; i++) {
    hm_json *p = hm_json_new_object();
    int r2 = p ? HM_OK : HM_ERR_NOMEM;
    set_str(p, "communityId", comms.ids[i], &r2);
    set_str(p, "did", f->conn->did, &r2);
    set_str(p, "displayName", name, &r2);
    if (r2 != HM_OK) {
      hm_json_free(p);
      continue;
    }
    char id[64], ts[32];
    hm_srv_fresh_id(srv, id, sizeof id, "evt", 16);
    hm_srv_now_iso(srv, ts);
    broadcast_frame(srv, comms.ids[i], id, "community.member.updated", ts, f->conn->did, p, f->conn);
  }
  str_list_clear(&comms);
}

/* ---- community.member.reconciled (R-COMM-36, R-COMM-37) ---------------------------------- */

static void h_member_reconciled(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *did = pstr_of(f->payload, "did");
  if (strcmp(did, f->conn->did) != 0) { /* R-AUTHZ-5 */
    hm_frame_error(f, "FORBIDDEN", "Sender does not match the authenticated identity");
    return;
  }
  hm_json *list = hm_json_object_getc(f->payload, "reconciledCommunities");
  size_t n = hm_json_array_size(list);
  for (size_t i = 0; i < n; i++) {
    const char *cid = hm_json_string(hm_json_array_get(list, i), NULL);
    if (!cid) {
      bad_field(f, "reconciledCommunities");
      return;
    }
  }
  for (size_t i = 0; i < n; i++) { /* every check before anything is sent */
    const char *cid = hm_json_string(hm_json_array_get(list, i), NULL);
    int rc = srv->st->vt->ban_get(srv->st, cid, did);
    if (rc == HM_OK) {
      hm_frame_error(f, "BANNED", "You are banned from this community");
      return;
    }
    rc = srv->st->vt->member_get(srv->st, cid, did, NULL, NULL);
    if (rc == HM_ERR_NOT_FOUND) {
      hm_frame_error(f, "NOT_MEMBER", "Not a member of this community");
      return;
    }
    if (rc != HM_OK) {
      hm_frame_internal(f, rc);
      return;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const char *cid = hm_json_string(hm_json_array_get(list, i), NULL);
    community_copy cc;
    if (community_load(srv, cid, &cc) != HM_OK) continue;
    hm_json *p = hm_json_new_object(), *chans = channels_json(srv, cid, 1);
    int rc = (p && chans) ? HM_OK : HM_ERR_NOMEM;
    set_str(p, "communityId", cid, &rc);
    set_str(p, "communityName", cc.name, &rc);
    if (cc.description) set_str(p, "description", cc.description, &rc);
    set(p, "channels", chans, &rc);
    chans = NULL;
    community_copy_clear(&cc);
    if (rc != HM_OK) {
      hm_json_free(p);
      hm_json_free(chans);
      continue;
    }
    char id[64], ts[32], *text = NULL;
    size_t len;
    hm_srv_fresh_id(srv, id, sizeof id, "srv", 16);
    hm_srv_now_iso(srv, ts);
    if (hm_srv_frame_text(&text, &len, id, "community.auto-joined", ts, "server", p) == HM_OK)
      hm_srv_send_did(srv, did, text, len, NULL);
    hm_free(text);
  }
}

/* ---- direct messages (dm.md) ------------------------------------------------------------ */

/* The conversation key of two DIDs (order-independent). */
static char *conversation_key(const char *a, const char *b) {
  if (strcmp(a, b) > 0) {
    const char *t = a;
    a = b;
    b = t;
  }
  size_t n = strlen(a) + strlen(b) + 2;
  char *k = hm_malloc(n);
  if (k) snprintf(k, n, "%s\n%s", a, b);
  return k;
}

static int recipient_known(hm_frame *f, const char *did) {
  int rc = f->srv->st->vt->known_did_get(f->srv->st, did);
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_FOUND", "Recipient not found"); /* R-DM-3 */
    return 0;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return 0;
  }
  return 1;
}

/* Peer delivery: every connection of the recipient, never the sending connection. */
static void peer_relay(hm_frame *f, const char *type, const char *recipient) {
  char ts[32], id[64], *text = NULL;
  size_t len;
  frame_ts(f, ts);
  if (!f->id) hm_srv_fresh_id(f->srv, id, sizeof id, "relay", 16);
  int rc = hm_srv_frame_text(&text, &len, f->id ? f->id : id, type, ts, f->conn->did, hm_json_clone(f->payload));
  if (rc != HM_OK) {
    hm_srv_log(f->srv, HM_LOG_ERROR, "%s relay failed: %s", type, hm_strerror(rc));
    return;
  }
  hm_srv_send_did(f->srv, recipient, text, len, f->conn);
  hm_free(text);
}

static void h_dm_send(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *to = pstr_of(f->payload, "recipientDID");
  hm_json *clock = hm_json_object_getc(f->payload, "clock");
  if (!content_clock_ok(f, hm_json_object_getc(f->payload, "content"), clock)) return;
  if (!recipient_known(f, to)) return;
  char *conv = conversation_key(f->conn->did, to), *text = NULL, now_ts[32];
  int rc = conv ? hm_json_stringify(&text, NULL, f->payload) : HM_ERR_NOMEM;
  hm_srv_now_iso(srv, now_ts);
  hm_store_message m = {0};
  m.community_id = to;
  m.channel_id = conv;
  m.id = f->id;
  m.author = f->conn->did;
  m.timestamp = f->timestamp ? f->timestamp : now_ts;
  m.payload_json = text;
  m.received_ms = hm_srv_now(srv);
  if (rc == HM_OK) rc = srv->st->vt->dm_append(srv->st, &m, NULL);
  hm_free(conv);
  hm_free(text);
  if (rc == HM_ERR_CONFLICT) {
    hm_frame_error(f, "CONFLICT", "Duplicate message id"); /* R-DM-5 */
    return;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  srv->m_messages_stored++;
  peer_relay(f, "dm.message", to);
  if (strcmp(to, f->conn->did) != 0) notify(srv, to, "dm", f->conn->did, NULL, NULL, f->id, "New direct message");
}

/* Loads a DM of the conversation with `to`; answers NOT_FOUND / FORBIDDEN. *stored gets
 * its payload (caller frees). */
static int dm_load_own(hm_frame *f, const char *to, const char *mid, const char *forbidden, char **conv_out,
                       hm_json **stored) {
  char *conv = conversation_key(f->conn->did, to);
  msg_copy mc;
  memset(&mc, 0, sizeof mc);
  int rc = conv ? f->srv->st->vt->dm_get(f->srv->st, conv, mid, copy_msg_cb, &mc) : HM_ERR_NOMEM;
  if (rc == HM_OK && (!mc.author || !mc.payload_json)) rc = HM_ERR_NOMEM;
  if (rc == HM_ERR_NOT_FOUND || (rc == HM_OK && mc.deleted)) {
    hm_frame_error(f, "NOT_FOUND", "Message not found");
    rc = -1000;
  } else if (rc == HM_OK && strcmp(mc.author, f->conn->did) != 0) {
    hm_frame_error(f, "FORBIDDEN", forbidden);
    rc = -1000;
  } else if (rc == HM_OK) {
    rc = hm_json_parse(stored, mc.payload_json, strlen(mc.payload_json), 0, NULL);
    if (rc != HM_OK) hm_frame_internal(f, rc);
  } else {
    hm_frame_internal(f, rc);
  }
  msg_copy_clear(&mc);
  if (rc != HM_OK) {
    hm_free(conv);
    return 0;
  }
  *conv_out = conv;
  return 1;
}

static void h_dm_edit(hm_frame *f) {
  const char *to = pstr_of(f->payload, "recipientDID"), *mid = pstr_of(f->payload, "messageId");
  hm_json *content = hm_json_object_getc(f->payload, "content"), *clock = hm_json_object_getc(f->payload, "clock");
  if (!content_clock_ok(f, content, clock)) return;
  char *conv = NULL, *text = NULL;
  hm_json *stored = NULL;
  if (!dm_load_own(f, to, mid, "Only the author can edit this message", &conv, &stored)) return;
  int rc = hm_json_object_setc(stored, "content", hm_json_clone(content));
  if (rc == HM_OK && clock && hm_json_kind_of(clock) == HM_JSON_OBJECT)
    rc = hm_json_object_setc(stored, "clock", hm_json_clone(clock));
  if (rc == HM_OK) rc = hm_json_stringify(&text, NULL, stored);
  if (rc == HM_OK) rc = f->srv->st->vt->dm_edit(f->srv->st, conv, mid, text, hm_srv_now(f->srv));
  hm_json_free(stored);
  hm_free(conv);
  hm_free(text);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  peer_relay(f, "dm.edited", to);
}

static void h_dm_delete(hm_frame *f) {
  const char *to = pstr_of(f->payload, "recipientDID"), *mid = pstr_of(f->payload, "messageId");
  if (!clock_ok(hm_json_object_getc(f->payload, "clock"))) {
    bad_field(f, "clock");
    return;
  }
  char *conv = NULL, *text = NULL;
  hm_json *stored = NULL, *tomb = hm_json_new_object();
  if (!dm_load_own(f, to, mid, "Only the author can delete this message", &conv, &stored)) {
    hm_json_free(tomb);
    return;
  }
  int rc = tomb ? HM_OK : HM_ERR_NOMEM;
  set_str(tomb, "recipientDID", to, &rc);
  hm_json *oc = hm_json_object_getc(stored, "clock");
  if (oc) set(tomb, "clock", hm_json_clone(oc), &rc);
  if (rc == HM_OK) rc = hm_json_stringify(&text, NULL, tomb);
  if (rc == HM_OK) rc = f->srv->st->vt->dm_tombstone(f->srv->st, conv, mid, text, hm_srv_now(f->srv));
  hm_json_free(stored);
  hm_json_free(tomb);
  hm_free(conv);
  hm_free(text);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  peer_relay(f, "dm.deleted", to);
}

static void h_dm_typing(hm_frame *f) {
  const char *to = pstr_of(f->payload, "recipientDID");
  if (!recipient_known(f, to)) return;
  peer_relay(f, "dm.typing.indicator", to);
}

/* 32 bytes as an integer array or a codec object (R-DM-17). */
static int key32_ok(const hm_json *v) {
  if (hm_json_kind_of(v) == HM_JSON_ARRAY) {
    if (hm_json_array_size(v) != 32) return 0;
    for (size_t i = 0; i < 32; i++) {
      hm_json *b = hm_json_array_get(v, i);
      if (!safe_uint(b) || hm_json_number(b) > 255) return 0;
    }
    return 1;
  }
  if (!bytes_value(v)) return 0;
  size_t n;
  const char *s = hm_json_string(hm_json_object_getc(v, "data"), &n);
  uint8_t buf[64];
  size_t outlen = 0;
  return s && n <= 88 && hm_base64_decode(buf, sizeof buf, &outlen, s, n, 0) == HM_OK && outlen == 32;
}

static void h_dm_keyexchange(hm_frame *f) {
  const char *to = pstr_of(f->payload, "recipientDID");
  if (!key32_ok(hm_json_object_getc(f->payload, "senderPublicKey"))) {
    bad_field(f, "senderPublicKey");
    return;
  }
  if (!recipient_known(f, to)) return;
  peer_relay(f, "dm.keyexchange", to);
}

/* ---- presence.update (R-PRES-1 .. R-PRES-4) ------------------------------------------- */

static void h_presence_update(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *status = pstr_of(f->payload, "status");
  if (!status || (strcmp(status, "online") && strcmp(status, "idle") && strcmp(status, "dnd") &&
                  strcmp(status, "offline"))) {
    bad_field(f, "status");
    return;
  }
  hm_presence_entry *e;
  for (e = srv->presence; e; e = e->next)
    if (!strcmp(e->did, f->conn->did)) break;
  if (!e) {
    e = hm_calloc(1, sizeof *e);
    if (!e || !(e->did = hm_strdup(f->conn->did))) {
      hm_free(e);
      hm_frame_internal(f, HM_ERR_NOMEM);
      return;
    }
    e->next = srv->presence;
    srv->presence = e;
  }
  snprintf(e->status, sizeof e->status, "%s", status);
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "status", status, &rc);
  const char *cs = pstr_of(f->payload, "customStatus"), *ac = pstr_of(f->payload, "activeChannelId");
  if (cs) set_str(p, "customStatus", cs, &rc);
  if (ac) set_str(p, "activeChannelId", ac, &rc);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  presence_send(srv, f->conn->did, p, f->conn);
}

/* ---- threads (threads.md) ---------------------------------------------------------------- */

static void h_thread_create(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *chid = pstr_of(f->payload, "channelId"), *parent = pstr_of(f->payload, "parentMessageId");
  hm_json *content = hm_json_object_getc(f->payload, "content"), *clock = hm_json_object_getc(f->payload, "clock");
  if (hm_json_kind_of(content) == HM_JSON_NULL) content = NULL;
  if (content && !content_ok(content)) {
    bad_field(f, "content");
    return;
  }
  if (!clock_ok(clock)) {
    bad_field(f, "clock");
    return;
  }
  if (!channel_exists(f, chid)) return;
  msg_copy mc;
  if (!message_load(f, chid, parent, 0, &mc)) return;
  msg_copy_clear(&mc);
  int rc = srv->st->vt->thread_get(srv->st, f->id, NULL, NULL);
  if (rc == HM_OK) {
    hm_frame_error(f, "CONFLICT", "Duplicate message id"); /* R-THR-3 */
    return;
  }
  int64_t n = 0;
  if (rc == HM_ERR_NOT_FOUND) rc = srv->st->vt->thread_count(srv->st, chid, &n);
  if (rc == HM_OK && n >= 1000) {
    hm_frame_error(f, "QUOTA_EXCEEDED", "Thread limit reached (1000)");
    return;
  }
  /* the relayed payload (R-THR-1) */
  hm_json *p = hm_json_new_object();
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  set_str(p, "threadId", f->id, &rc);
  set_str(p, "parentMessageId", parent, &rc);
  set_str(p, "channelId", chid, &rc);
  set_str(p, "communityId", f->community_id, &rc);
  set(p, "name", hm_json_clone(hm_json_object_getc(f->payload, "name")), &rc);
  set_str(p, "creatorDID", f->conn->did, &rc);
  if (content) set(p, "content", hm_json_clone(content), &rc);
  if (clock && hm_json_kind_of(clock) != HM_JSON_NULL) set(p, "clock", hm_json_clone(clock), &rc);
  char ts[32], *text = NULL;
  frame_ts(f, ts);
  int64_t now = hm_srv_now(srv);
  hm_store_thread t = {f->id, f->community_id, chid, parent, pstr_of(f->payload, "name"), f->conn->did, now};
  hm_store_message first = {0};
  if (rc == HM_OK && content) {
    rc = hm_json_stringify(&text, NULL, f->payload);
    first.community_id = f->community_id;
    first.channel_id = chid;
    first.id = f->id;
    first.author = f->conn->did;
    first.timestamp = ts;
    first.payload_json = text;
    first.received_ms = now;
    first.type = "thread.create";
    hm_json *ct = clock ? hm_json_object_getc(clock, "counter") : NULL;
    first.has_counter = hm_json_kind_of(ct) == HM_JSON_NUMBER;
    first.counter = hm_json_number(ct);
  }
  if (rc == HM_OK) rc = srv->st->vt->thread_create(srv->st, &t, content ? &first : NULL);
  hm_free(text);
  if (rc == HM_ERR_CONFLICT) {
    hm_json_free(p);
    hm_frame_error(f, "CONFLICT", "Duplicate message id");
    return;
  }
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  rc = broadcast_frame(srv, f->community_id, f->id, "thread.created", ts, f->conn->did, p, NULL);
  if (rc != HM_OK) hm_srv_log(srv, HM_LOG_ERROR, "thread.created broadcast failed: %s", hm_strerror(rc));
}

static void h_thread_send(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *tid = pstr_of(f->payload, "threadId");
  hm_json *content = hm_json_object_getc(f->payload, "content"), *clock = hm_json_object_getc(f->payload, "clock");
  if (!content_clock_ok(f, content, clock)) return;
  thread_copy tc = {0};
  int rc = srv->st->vt->thread_get(srv->st, tid, copy_thread_cb, &tc);
  if (rc == HM_OK && (!tc.community_id || !tc.channel_id)) rc = HM_ERR_NOMEM;
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "THREAD_NOT_FOUND", "Thread not found"); /* R-THR-7 */
    return;
  }
  if (rc != HM_OK) {
    thread_copy_clear(&tc);
    hm_frame_internal(f, rc);
    return;
  }
  /* the thread names the community: ban, then membership (R-THR-8) */
  f->community_id = tc.community_id;
  rc = srv->st->vt->ban_get(srv->st, tc.community_id, f->conn->did);
  if (rc == HM_OK) {
    hm_frame_error(f, "BANNED", "You are banned from this community");
    goto out;
  }
  rc = srv->st->vt->member_get(srv->st, tc.community_id, f->conn->did, NULL, NULL);
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_MEMBER", "Not a member of this community");
    goto out;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    goto out;
  }
  int64_t slow_mode = 0, now = hm_srv_now(srv);
  srv->st->vt->channel_get(srv->st, tc.community_id, tc.channel_id, slow_mode_cb, &slow_mode);
  if (!mod_send_lockdown(f)) goto out;
  if (slow_mode > 0) {
    hm_slow_entry *e = slow_entry(srv, tc.channel_id, f->conn->did, 0);
    if (e && now - e->last_ms < slow_mode * 1000) {
      char msg[96];
      snprintf(msg, sizeof msg, "Slow mode: wait %llds between messages", (long long)slow_mode);
      hm_frame_error(f, "SLOW_MODE", msg);
      goto out;
    }
  }
  if (!mod_send_rest(f, tc.channel_id)) goto out;
  char ts[32], *text = NULL;
  frame_ts(f, ts);
  rc = hm_json_stringify(&text, NULL, f->payload);
  hm_store_message m = {0};
  m.community_id = tc.community_id;
  m.channel_id = tc.channel_id;
  m.id = f->id;
  m.author = f->conn->did;
  m.timestamp = ts;
  m.payload_json = text;
  m.received_ms = now;
  m.type = "thread.send";
  hm_json *ct = clock ? hm_json_object_getc(clock, "counter") : NULL;
  m.has_counter = hm_json_kind_of(ct) == HM_JSON_NUMBER;
  m.counter = hm_json_number(ct);
  int64_t count = 0;
  if (rc == HM_OK) rc = srv->st->vt->thread_message_append(srv->st, tid, &m, NULL, &count);
  hm_free(text);
  if (rc == HM_ERR_CONFLICT) {
    hm_frame_error(f, "CONFLICT", "Duplicate message id");
    goto out;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    goto out;
  }
  if (slow_mode > 0) {
    hm_slow_entry *e = slow_entry(srv, tc.channel_id, f->conn->did, 1);
    if (e) e->last_ms = now;
  }
  hm_json *p = hm_json_new_object();
  rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "threadId", tid, &rc);
  set(p, "content", hm_json_clone(content), &rc);
  static const char *const opt[] = {"nonce", "replyTo", "clock"};
  for (size_t i = 0; i < 3; i++) {
    hm_json *v = hm_json_object_getc(f->payload, opt[i]);
    if (v && hm_json_kind_of(v) != HM_JSON_NULL) set(p, opt[i], hm_json_clone(v), &rc);
  }
  set(p, "messageCount", hm_json_new_number((double)count), &rc);
  set_str(p, "communityId", tc.community_id, &rc);
  set_str(p, "channelId", tc.channel_id, &rc);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_srv_log(srv, HM_LOG_ERROR, "thread.message build failed");
    goto out;
  }
  rc = broadcast_frame(srv, tc.community_id, f->id, "thread.message", ts, f->conn->did, p, NULL);
  if (rc != HM_OK) hm_srv_log(srv, HM_LOG_ERROR, "thread.message broadcast failed: %s", hm_strerror(rc));
out:
  f->community_id = NULL;
  thread_copy_clear(&tc);
}

/* ---- notifications (notifications.md) ------------------------------------------------------ */

#define MAX_NOTIFICATIONS_PER_DID 1000

static hm_json *notification_json(const hm_store_notification *n) {
  hm_json *o = hm_json_new_object();
  int rc = o ? HM_OK : HM_ERR_NOMEM;
  set_str(o, "id", n->id, &rc);
  set_str(o, "type", n->type, &rc);
  set_str(o, "fromDID", n->from_did, &rc);
  if (n->community_id) set_str(o, "communityId", n->community_id, &rc);
  if (n->channel_id) set_str(o, "channelId", n->channel_id, &rc);
  set_str(o, "messageId", n->message_id, &rc);
  set_str(o, "content", n->content, &rc);
  set(o, "read", hm_json_new_bool(n->read), &rc);
  set_iso(o, "createdAt", n->created_ms, &rc);
  if (rc != HM_OK) {
    hm_json_free(o);
    return NULL;
  }
  return o;
}

/* Store a notification for `to` and push it to its connections (R-NOTIF-1 .. 3). */
static void notify(hm_server *srv, const char *to, const char *type, const char *from, const char *cid,
                   const char *chid, const char *mid, const char *content) {
  char id[64], ts[32], *text = NULL;
  size_t len;
  hm_srv_fresh_id(srv, id, sizeof id, "notif", 16);
  hm_store_notification n = {id, to, type, from, cid, chid, mid, content, 0, hm_srv_now(srv)};
  int rc = srv->st->vt->notification_add(srv->st, &n, MAX_NOTIFICATIONS_PER_DID);
  hm_json *p = rc == HM_OK ? notification_json(&n) : NULL;
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  hm_srv_iso(ts, n.created_ms);
  if (rc == HM_OK) rc = hm_srv_frame_text(&text, &len, id, "notification.new", ts, "server", p);
  if (rc != HM_OK) {
    hm_srv_log(srv, HM_LOG_ERROR, "notification for %s failed: %s", to, hm_strerror(rc));
    return;
  }
  hm_srv_send_did(srv, to, text, len, NULL);
  hm_free(text);
}

/* After an accepted channel.send (R-AUTHZ-27, R-CHAN-16). */
static void channel_send_notifications(hm_frame *f, const char *chid) {
  hm_server *srv = f->srv;
  const char *me = f->conn->did;
  hm_json *content = hm_json_object_getc(f->payload, "content");
  hm_json *mentions = hm_json_kind_of(content) == HM_JSON_OBJECT ? hm_json_object_getc(content, "mentions") : NULL;
  size_t distinct = 0;
  for (size_t i = 0; i < hm_json_array_size(mentions) && distinct < 20; i++) {
    const char *d = hm_json_string(hm_json_array_get(mentions, i), NULL);
    if (!d) continue;
    int seen = 0;
    for (size_t k = 0; k < i && !seen; k++) seen = hm_json_string_is(hm_json_array_get(mentions, k), d);
    if (seen) continue;
    distinct++;
    if (!strcmp(d, me) || srv->st->vt->member_get(srv->st, f->community_id, d, NULL, NULL) != HM_OK) continue;
    notify(srv, d, "mention", me, f->community_id, chid, f->id, "You were mentioned");
  }
  const char *reply_to = pstr_of(f->payload, "replyTo");
  if (reply_to) {
    msg_copy mc;
    memset(&mc, 0, sizeof mc);
    if (srv->st->vt->message_get(srv->st, chid, reply_to, copy_msg_cb, &mc) == HM_OK && mc.author && !mc.deleted &&
        strcmp(mc.author, me) != 0 && srv->st->vt->member_get(srv->st, f->community_id, mc.author, NULL, NULL) == HM_OK)
      notify(srv, mc.author, "reply", me, f->community_id, chid, f->id, "Replied to your message");
    msg_copy_clear(&mc);
  }
}

static int notif_list_cb(void *ctx, const hm_store_notification *n) {
  hm_json *o = notification_json(n);
  return !o || hm_json_array_append(ctx, o) != HM_OK;
}

static void h_notification_list(hm_frame *f) {
  const hm_json *p = hm_json_kind_of(f->payload) == HM_JSON_OBJECT ? f->payload : NULL;
  hm_json *lv = p ? hm_json_object_getc(p, "limit") : NULL, *ov = p ? hm_json_object_getc(p, "offset") : NULL;
  size_t limit = 50, offset = 0;
  if (lv && hm_json_kind_of(lv) != HM_JSON_NULL) {
    if (!safe_uint(lv) || hm_json_number(lv) < 1) {
      bad_field(f, "limit");
      return;
    }
    limit = hm_json_number(lv) > 200 ? 200 : (size_t)hm_json_number(lv);
  }
  if (ov && hm_json_kind_of(ov) != HM_JSON_NULL) {
    if (!safe_uint(ov)) {
      bad_field(f, "offset");
      return;
    }
    offset = (size_t)hm_json_number(ov);
  }
  int unread = p && hm_json_kind_of(hm_json_object_getc(p, "unreadOnly")) == HM_JSON_TRUE;
  hm_json *arr = hm_json_new_array(), *out = hm_json_new_object();
  int64_t total = 0;
  int rc = (arr && out) ? f->srv->st->vt->notification_list(f->srv->st, f->conn->did, unread, offset, limit,
                                                           notif_list_cb, arr, &total)
                        : HM_ERR_NOMEM;
  set(out, "notifications", arr, &rc);
  arr = NULL;
  set(out, "total", hm_json_new_number((double)total), &rc);
  reply(f, rc, "notification.list.response", out);
}

static void h_notification_mark_read(hm_frame *f) {
  hm_json *ids = hm_json_kind_of(f->payload) == HM_JSON_OBJECT ? hm_json_object_getc(f->payload, "notificationIds")
                                                                : NULL;
  size_t n = hm_json_array_size(ids);
  const char **list = hm_calloc(n ? n : 1, sizeof *list);
  if (!list) {
    hm_frame_internal(f, HM_ERR_NOMEM);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    list[i] = hm_json_string(hm_json_array_get(ids, i), NULL);
    if (!list[i]) {
      hm_free(list);
      bad_field(f, "notificationIds");
      return;
    }
  }
  int rc = f->srv->st->vt->notification_mark_read(f->srv->st, f->conn->did, list, n);
  hm_free(list);
  if (rc != HM_OK) hm_frame_internal(f, rc);
}

static int notif_count_cb(void *ctx, const hm_store_notification *n) {
  hm_json *by = ctx;
  if (!n->channel_id) return 0;
  hm_json *v = hm_json_object_getc(by, n->channel_id);
  return hm_json_object_setc(by, n->channel_id, hm_json_new_number(v ? hm_json_number(v) + 1 : 1)) != HM_OK;
}

static void h_notification_count(hm_frame *f) {
  hm_json *by = hm_json_new_object(), *out = hm_json_new_object();
  int64_t unread = 0;
  int rc = (by && out) ? f->srv->st->vt->notification_list(f->srv->st, f->conn->did, 1, 0, MAX_NOTIFICATIONS_PER_DID,
                                                          notif_count_cb, by, &unread)
                       : HM_ERR_NOMEM;
  set(out, "unread", hm_json_new_number((double)unread), &rc);
  set(out, "byChannel", by, &rc);
  by = NULL;
  reply(f, rc, "notification.count.response", out);
}

/* ---- search.query (search.md) ------------------------------------------------------------ */

typedef struct {
  hm_server *srv;
  const hm_json *req;
  const char *query;
  hm_json *results, *metadata;
  size_t limit, n;
  int rc;
} search_ctx;

/* ASCII case-folded substring test (search.md). */
static int folded_contains(const char *hay, size_t hn, const char *needle, size_t nn) {
  if (nn == 0) return 1;
  for (size_t i = 0; i + nn <= hn; i++) {
    size_t k = 0;
    while (k < nn) {
      unsigned char a = (unsigned char)hay[i + k], b = (unsigned char)needle[k];
      if (a >= 'A' && a <= 'Z') a = (unsigned char)(a + 32);
      if (b >= 'A' && b <= 'Z') b = (unsigned char)(b + 32);
      if (a != b) break;
      k++;
    }
    if (k == nn) return 1;
  }
  return 0;
}

static int valid_utf8(const uint8_t *s, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    size_t w = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!w || i + w > n) return 0;
    for (size_t k = 1; k < w; k++)
      if ((s[i + k] & 0xC0) != 0x80) return 0;
    i += w;
  }
  return 1;
}

/* Does the message's searchable text contain the query? */
static int search_match(const hm_json *payload, const char *q) {
  size_t qn = strlen(q), n;
  hm_json *content = hm_json_object_getc(payload, "content");
  const char *t = NULL;
  if (hm_json_kind_of(content) == HM_JSON_STRING) {
    t = hm_json_string(content, &n);
  } else if (hm_json_kind_of(content) == HM_JSON_OBJECT &&
             hm_json_kind_of(hm_json_object_getc(content, "text")) == HM_JSON_STRING) {
    t = hm_json_string(hm_json_object_getc(content, "text"), &n);
  } else if (hm_json_kind_of(hm_json_object_getc(payload, "text")) == HM_JSON_STRING) {
    t = hm_json_string(hm_json_object_getc(payload, "text"), &n);
  }
  if (t) return folded_contains(t, n, q, qn);
  hm_json *ep = hm_json_kind_of(content) == HM_JSON_OBJECT ? hm_json_object_getc(content, "epoch") : NULL;
  hm_json *ct = ep ? hm_json_object_getc(content, "ciphertext") : NULL;
  if (hm_json_kind_of(ep) != HM_JSON_NUMBER || hm_json_number(ep) != 0 || !bytes_value(ct)) return 0;
  const char *b64 = hm_json_string(hm_json_object_getc(ct, "data"), &n);
  if (!b64) return 0;
  uint8_t *buf = hm_malloc(n + 1);
  size_t len = 0;
  int ok = buf && hm_base64_decode(buf, n + 1, &len, b64, n, 0) == HM_OK && valid_utf8(buf, len) &&
           folded_contains((const char *)buf, len, q, qn);
  hm_free(buf);
  return ok;
}

static int search_cb(void *ctx, const hm_store_message *m) {
  search_ctx *sc = ctx;
  if (sc->n >= sc->limit) return 1;
  const char *chid = pstr_of(sc->req, "channelId"), *author = pstr_of(sc->req, "authorDID"),
             *before = pstr_of(sc->req, "before"), *after = pstr_of(sc->req, "after");
  if (chid && strcmp(chid, m->channel_id)) return 0;
  if (author && strcmp(author, m->author)) return 0;
  if (before && !(strcmp(m->timestamp, before) < 0)) return 0;
  if (after && !(strcmp(m->timestamp, after) > 0)) return 0;
  hm_json *payload = NULL;
  if (hm_json_parse(&payload, m->payload_json, strlen(m->payload_json), 0, NULL) != HM_OK) return 0;
  hm_json *att = hm_json_object_getc(payload, "attachments");
  int has_att = hm_json_kind_of(att) == HM_JSON_ARRAY && hm_json_array_size(att) > 0;
  hm_json *ha = hm_json_object_getc(sc->req, "hasAttachment");
  int keep = search_match(payload, sc->query);
  if (keep && hm_json_kind_of(ha) == HM_JSON_TRUE && !has_att) keep = 0;
  if (keep && hm_json_kind_of(ha) == HM_JSON_FALSE && has_att) keep = 0;
  hm_json_free(payload);
  if (!keep) return 0;
  hm_json *sm = stored_message(sc->srv, m), *md = hm_json_new_object();
  int rc = (sm && md) ? HM_OK : HM_ERR_NOMEM;
  set_str(md, "messageId", m->id, &rc);
  set_str(md, "channelId", m->channel_id, &rc);
  set_str(md, "authorDID", m->author, &rc);
  set_str(md, "timestamp", m->timestamp, &rc);
  set(md, "hasAttachment", hm_json_new_bool(has_att), &rc);
  push(sc->results, sm, &rc);
  sm = NULL;
  push(sc->metadata, md, &rc);
  md = NULL;
  hm_json_free(sm);
  hm_json_free(md);
  if (rc != HM_OK) {
    sc->rc = rc;
    return 1;
  }
  sc->n++;
  return sc->n >= sc->limit;
}

static void h_search_query(hm_frame *f) {
  hm_json *lv = hm_json_object_getc(f->payload, "limit");
  size_t limit = 50;
  if (lv && hm_json_kind_of(lv) != HM_JSON_NULL) {
    if (!safe_uint(lv) || hm_json_number(lv) < 1) {
      bad_field(f, "limit");
      return;
    }
    limit = hm_json_number(lv) > 100 ? 100 : (size_t)hm_json_number(lv);
  }
  search_ctx sc = {f->srv, f->payload, pstr_of(f->payload, "query"), hm_json_new_array(), hm_json_new_array(),
                   limit, 0, HM_OK};
  int rc = (sc.results && sc.metadata)
               ? f->srv->st->vt->message_scan_community(f->srv->st, f->community_id, search_cb, &sc)
               : HM_ERR_NOMEM;
  if (rc == HM_OK) rc = sc.rc;
  hm_json *p = hm_json_new_object();
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  set_str(p, "communityId", f->community_id, &rc);
  set_str(p, "query", sc.query, &rc);
  set(p, "results", sc.results, &rc);
  sc.results = NULL;
  set(p, "metadata", sc.metadata, &rc);
  sc.metadata = NULL;
  reply(f, rc, "search.results", p);
}

/* ---- MLS relay (mls.md) -------------------------------------------------------------------- */

#define MAX_KEY_PACKAGES_PER_DID 10

/* Decoded codec bytes of exactly `want` bytes into out; 1 on success. */
static int bytes_exact(const hm_json *v, uint8_t *out, size_t want) {
  if (!bytes_value(v) || hm_json_object_size(v) != 2) return 0;
  size_t n;
  const char *s = hm_json_string(hm_json_object_getc(v, "data"), &n);
  uint8_t buf[128];
  size_t len = 0;
  if (!s || n > 172 || hm_base64_decode(buf, sizeof buf, &len, s, n, 0) != HM_OK || len != want) return 0;
  memcpy(out, buf, want);
  return 1;
}

/* Send mls.member.joined {communityId, channelId, groupId, memberDID} to conn once (R-MLS-6). */
static void mls_member_joined_to(hm_server *srv, hm_server_conn *c, const char *gid, const char *cid,
                                 const char *chid, const char *member) {
  size_t n = strlen(gid) + strlen(member) + 2;
  char *key = hm_malloc(n);
  if (!key) return;
  snprintf(key, n, "%s\n%s", gid, member);
  for (size_t i = 0; i < c->n_mls_sent; i++)
    if (!strcmp(c->mls_sent[i], key)) {
      hm_free(key);
      return;
    }
  char **ns = hm_realloc(c->mls_sent, (c->n_mls_sent + 1) * sizeof *ns);
  if (!ns) {
    hm_free(key);
    return;
  }
  c->mls_sent = ns;
  c->mls_sent[c->n_mls_sent++] = key;
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "communityId", cid, &rc);
  set_str(p, "channelId", chid, &rc);
  set_str(p, "groupId", gid, &rc);
  set_str(p, "memberDID", member, &rc);
  if (rc != HM_OK) {
    hm_json_free(p);
    return;
  }
  hm_srv_send(srv, c, "mls.member.joined", p);
}

static int has_key_package_cb(void *ctx, const char *json) {
  (void)json;
  *(int *)ctx = 1;
  return 1;
}

static int has_key_package(hm_server *srv, const char *did) {
  int has = 0;
  srv->st->vt->keypackage_list(srv->st, did, has_key_package_cb, &has);
  return has;
}

typedef struct {
  hm_server *srv;
  const char *member;
} mls_notify_ctx;

/* For a group of the member's community whose creator is another member: tell the
 * creator's connections (R-MLS-5). */
static int mls_notify_group_cb(void *ctx, const hm_store_thread *g) {
  mls_notify_ctx *m = ctx;
  hm_server *srv = m->srv;
  if (!strcmp(g->creator, m->member)) return 0;
  if (srv->st->vt->member_get(srv->st, g->community_id, g->creator, NULL, NULL) != HM_OK) return 0;
  HM_FOR_DID_CONN(srv, g->creator, c) {
    mls_member_joined_to(srv, c, g->id, g->community_id, g->channel_id, m->member);
  }
  return 0;
}

/* After `member` uploaded a key package or joined `only_cid` (NULL: all its communities). */
static void mls_announce_member(hm_server *srv, const char *member, const char *only_cid) {
  if (!has_key_package(srv, member)) return;
  str_list comms = {0};
  if (only_cid) {
    mls_notify_ctx m = {srv, member};
    srv->st->vt->mls_groups_of(srv->st, only_cid, mls_notify_group_cb, &m);
    return;
  }
  if (srv->st->vt->memberships_of(srv->st, member, collect_community_of, &comms) == HM_OK && !comms.nomem) {
    mls_notify_ctx m = {srv, member};
    for (size_t i = 0; i < comms.n; i++) srv->st->vt->mls_groups_of(srv->st, comms.ids[i], mls_notify_group_cb, &m);
  }
  str_list_clear(&comms);
}

static void h_mls_keypackage_upload(hm_frame *f) {
  hm_server *srv = f->srv;
  hm_json *kp = hm_json_object_getc(f->payload, "keyPackage");
  hm_json *leaf = hm_json_object_getc(kp, "leafNode");
  hm_json *pv = hm_json_object_getc(kp, "protocolVersion"), *cs = hm_json_object_getc(kp, "cipherSuite");
  uint8_t init[32], enc[32], sigkey[32], sig[64];
  size_t dn = 0;
  const char *did = hm_json_string(hm_json_object_getc(leaf, "did"), &dn);
  /* a repeated key anywhere in the frame counts as a repeated key in the package (R-CRY-MLS-4) */
  if (f->duplicate_keys || hm_json_kind_of(kp) != HM_JSON_OBJECT || hm_json_kind_of(leaf) != HM_JSON_OBJECT ||
      !safe_uint(pv) || !safe_uint(cs) || !bytes_exact(hm_json_object_getc(kp, "initKey"), init, 32) ||
      !bytes_exact(hm_json_object_getc(leaf, "encryptionKey"), enc, 32) ||
      !bytes_exact(hm_json_object_getc(leaf, "signatureKey"), sigkey, 32) ||
      !bytes_exact(hm_json_object_getc(kp, "signature"), sig, 64) || !did || hm_utf16_len(did, dn) > 256 ||
      memcmp(init, enc, 32) != 0) {
    bad_field(f, "keyPackage");
    return;
  }
  if (hm_json_number(pv) != 1 || hm_json_number(cs) != 1) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Unsupported key package version");
    return;
  }
  if (strcmp(did, f->conn->did) != 0) {
    hm_frame_error(f, "FORBIDDEN", "Key package DID does not match the authenticated identity");
    return;
  }
  uint8_t pk[32], xpk[32];
  if (hm_didkey_decode(pk, xpk, did, HM_DID_HARDENED) != HM_OK || memcmp(pk, sigkey, 32) != 0) {
    hm_frame_error(f, "FORBIDDEN", "Key package signing key does not match the DID");
    return;
  }
  /* signing input (R-CRY-MLS-2): {"protocolVersion":1,"cipherSuite":1,"initKey":[..],"leafNode":{"did":..}} */
  hm_json *in = hm_json_new_object(), *arr = hm_json_new_array(), *ln = hm_json_new_object();
  int rc = (in && arr && ln) ? HM_OK : HM_ERR_NOMEM;
  for (size_t i = 0; i < 32; i++) push(arr, hm_json_new_number(init[i]), &rc);
  set(in, "protocolVersion", hm_json_new_number(1), &rc);
  set(in, "cipherSuite", hm_json_new_number(1), &rc);
  set(in, "initKey", arr, &rc);
  arr = NULL;
  set_str(ln, "did", did, &rc);
  set(in, "leafNode", ln, &rc);
  ln = NULL;
  char *text = NULL;
  size_t len = 0;
  if (rc == HM_OK) rc = hm_json_stringify(&text, &len, in);
  hm_json_free(in);
  hm_json_free(arr);
  hm_json_free(ln);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  int ok = hm_ed25519_verify(sig, (const uint8_t *)text, len, sigkey, HM_ED25519_STRICT) == HM_OK;
  hm_free(text);
  if (!ok) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Invalid key package signature");
    return;
  }
  /* fingerprint: initKey, leafNode and signature as received */
  char *kptext = NULL, fp[300];
  char ih[65], sh[129];
  hm_hex_encode(ih, sizeof ih, init, 32);
  hm_hex_encode(sh, sizeof sh, sig, 64);
  snprintf(fp, sizeof fp, "%s:%s", ih, sh);
  rc = hm_json_stringify(&kptext, NULL, kp);
  int added = 0;
  if (rc == HM_OK) rc = srv->st->vt->keypackage_add(srv->st, f->conn->did, kptext, fp, MAX_KEY_PACKAGES_PER_DID, &added);
  hm_free(kptext);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  mls_announce_member(srv, f->conn->did, NULL);
}

static int kp_collect_cb(void *ctx, const char *json) {
  hm_json *arr = ctx, *v = NULL;
  if (hm_json_parse(&v, json, strlen(json), 0, NULL) != HM_OK) return 0;
  return hm_json_array_append(arr, v) != HM_OK;
}

static void h_mls_keypackage_fetch(hm_frame *f) {
  hm_json *dids = hm_json_object_getc(f->payload, "dids");
  size_t n = hm_json_array_size(dids);
  if (n < 1 || n > 100) {
    bad_field(f, "dids");
    return;
  }
  for (size_t i = 0; i < n; i++) {
    size_t len;
    const char *d = hm_json_string(hm_json_array_get(dids, i), &len);
    if (!d || len == 0 || hm_utf16_len(d, len) > 256) {
      bad_field(f, "dids");
      return;
    }
  }
  hm_json *kps = hm_json_new_object(), *p = hm_json_new_object();
  int rc = (kps && p) ? HM_OK : HM_ERR_NOMEM;
  for (size_t i = 0; rc == HM_OK && i < n; i++) {
    const char *d = hm_json_string(hm_json_array_get(dids, i), NULL);
    if (hm_json_object_getc(kps, d)) continue;
    hm_json *arr = hm_json_new_array();
    if (!arr) rc = HM_ERR_NOMEM;
    if (rc == HM_OK) rc = f->srv->st->vt->keypackage_list(f->srv->st, d, kp_collect_cb, arr);
    set(kps, d, arr, &rc);
  }
  set(p, "keyPackages", kps, &rc);
  kps = NULL;
  reply(f, rc, "mls.keypackage.response", p);
}

/* channelId / groupId consistency shared by welcome, commit and group.setup (R-MLS-16). */
static int mls_group_fields_ok(hm_frame *f, int require_channel) {
  const char *chid = pstr_of(f->payload, "channelId"), *gid = pstr_of(f->payload, "groupId");
  if (require_channel && !chid) return bad_field(f, "channelId");
  if (chid && !channel_exists(f, chid)) return 0;
  if (gid) {
    size_t cl = strlen(f->community_id);
    int ok;
    if (chid) {
      ok = strlen(gid) == cl + 1 + strlen(chid) && !strncmp(gid, f->community_id, cl) && gid[cl] == ':' &&
           !strcmp(gid + cl + 1, chid);
    } else {
      ok = !strncmp(gid, f->community_id, cl) && gid[cl] == ':';
    }
    if (!ok) return bad_field(f, "groupId");
  } else if (require_channel) {
    return bad_field(f, "groupId");
  }
  return 1;
}

static void h_mls_welcome(hm_frame *f) {
  if (!mls_group_fields_ok(f, 0)) return;
  const char *to = pstr_of(f->payload, "recipientDID");
  int rc = f->srv->st->vt->member_get(f->srv->st, f->community_id, to, NULL, NULL);
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_FOUND", "Recipient not found");
    return;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  char ts[32], id[64], *text = NULL;
  size_t len;
  frame_ts(f, ts);
  if (!f->id) hm_srv_fresh_id(f->srv, id, sizeof id, "relay", 16);
  if (hm_srv_frame_text(&text, &len, f->id ? f->id : id, "mls.welcome", ts, f->conn->did,
                        hm_json_clone(f->payload)) != HM_OK) {
    hm_frame_internal(f, HM_ERR_NOMEM);
    return;
  }
  hm_srv_send_did(f->srv, to, text, len, f->conn);
  hm_free(text);
}

static void h_mls_commit(hm_frame *f) {
  if (!mls_group_fields_ok(f, 0)) return;
  relay(f, "mls.commit", f->conn);
}

typedef struct {
  char *creator;
  int found;
} group_copy;

static int copy_group_cb(void *ctx, const hm_store_thread *g) {
  group_copy *gc = ctx;
  gc->creator = hm_strdup(g->creator);
  gc->found = 1;
  return 1;
}

typedef struct {
  hm_server *srv;
  hm_server_conn *conn;
  const char *gid, *cid, *chid;
} setup_ctx;

static int setup_member_cb(void *ctx, const hm_store_member *m) {
  setup_ctx *sc = ctx;
  if (!strcmp(m->did, sc->conn->did) || !hm_srv_did_online(sc->srv, m->did) || !has_key_package(sc->srv, m->did))
    return 0;
  mls_member_joined_to(sc->srv, sc->conn, sc->gid, sc->cid, sc->chid, m->did);
  return 0;
}

static void h_mls_group_setup(hm_frame *f) {
  hm_server *srv = f->srv;
  if (!mls_group_fields_ok(f, 1)) return;
  const char *gid = pstr_of(f->payload, "groupId"), *chid = pstr_of(f->payload, "channelId");
  group_copy gc = {0};
  int rc = srv->st->vt->mls_group_get(srv->st, gid, copy_group_cb, &gc);
  if (rc == HM_OK && !gc.creator) rc = HM_ERR_NOMEM;
  if (rc == HM_OK && strcmp(gc.creator, f->conn->did) != 0 &&
      srv->st->vt->member_get(srv->st, f->community_id, gc.creator, NULL, NULL) == HM_OK) {
    hm_free(gc.creator);
    hm_frame_error(f, "FORBIDDEN", "Group already set up by another member"); /* R-MLS-14 */
    return;
  }
  hm_free(gc.creator);
  if (rc != HM_OK && rc != HM_ERR_NOT_FOUND) {
    hm_frame_internal(f, rc);
    return;
  }
  rc = srv->st->vt->mls_group_put(srv->st, gid, f->community_id, chid, f->conn->did);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  setup_ctx sc = {srv, f->conn, gid, f->community_id, chid};
  srv->st->vt->member_list(srv->st, f->community_id, setup_member_cb, &sc);
  relay(f, "mls.group.setup", f->conn);
}

/* R-CADM-5: does any member of the community have a stored key package? */
typedef struct {
  hm_server *srv;
  int any;
} any_kp_ctx;

static int any_kp_cb(void *ctx, const hm_store_member *m) {
  any_kp_ctx *a = ctx;
  if (has_key_package(a->srv, m->did)) a->any = 1;
  return a->any;
}

static int community_has_key_package(hm_server *srv, const char *cid) {
  any_kp_ctx a = {srv, 0};
  srv->st->vt->member_list(srv->st, cid, any_kp_cb, &a);
  return a.any;
}

/* ---- media (media.md) ------------------------------------------------------------------------ */

#define MEDIA_MAX_SIZE 10485760
#define MEDIA_MAX_FILES 100
#define MEDIA_MAX_BYTES (100LL * 1024 * 1024)

static const char *const media_mimes[] = {"image/png",       "image/jpeg", "image/gif",     "image/webp",
                                          "image/svg+xml",   "application/pdf", "text/plain", "text/markdown",
                                          "application/zip", "audio/mpeg", "audio/ogg",     "audio/wav"};

/* media.md: '/' and '\\' -> '_', then ".." -> '_', then controls (< U+0020, U+007F) -> '_'. */
static char *sanitize_filename(const char *in) {
  size_t n = strlen(in);
  char *a = hm_malloc(n + 1), *b = hm_malloc(n + 1);
  if (!a || !b) {
    hm_free(a);
    hm_free(b);
    return NULL;
  }
  for (size_t i = 0; i <= n; i++) a[i] = (in[i] == '/' || in[i] == '\\') ? '_' : in[i];
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    if (a[i] == '.' && a[i + 1] == '.') {
      b[k++] = '_';
      i += 2;
    } else {
      unsigned char c = (unsigned char)a[i++];
      b[k++] = (c < 0x20 || c == 0x7f) ? '_' : (char)c;
    }
  }
  b[k] = 0;
  hm_free(a);
  return b;
}

/* JavaScript encodeURIComponent. */
static char *uri_component(const char *s) {
  size_t n = strlen(s);
  char *out = hm_malloc(n * 3 + 1);
  if (!out) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-_.!~*'()", c)) {
      out[k++] = (char)c;
    } else {
      static const char hx[] = "0123456789ABCDEF";
      out[k++] = '%';
      out[k++] = hx[c >> 4];
      out[k++] = hx[c & 15];
    }
  }
  out[k] = 0;
  return out;
}

static void h_media_upload(hm_frame *f) {
  hm_server *srv = f->srv;
  const char *chid = pstr_of(f->payload, "channelId"), *mime = pstr_of(f->payload, "mimeType");
  char *fname = sanitize_filename(pstr_of(f->payload, "filename"));
  char *url_name = NULL, url[1200], mid[80];
  uint8_t *bytes = NULL;
  hm_json *p = NULL;
  if (!fname) {
    hm_frame_internal(f, HM_ERR_NOMEM);
    return;
  }
  if (hm_utf16_len(fname, strlen(fname)) > 255) {
    hm_frame_error(f, "INVALID_PAYLOAD", "filename exceeds maximum length of 255");
    goto out;
  }
  hm_json *sv = hm_json_object_getc(f->payload, "size");
  double size = hm_json_number(sv);
  if (hm_json_kind_of(sv) != HM_JSON_NUMBER || !(size > 0) || floor(size) != size) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Invalid file size");
    goto out;
  }
  int allowed = 0;
  for (size_t i = 0; i < sizeof media_mimes / sizeof media_mimes[0]; i++) allowed |= !strcmp(mime, media_mimes[i]);
  if (!allowed) {
    char msg[200];
    snprintf(msg, sizeof msg, "MIME type not allowed: %.*s", hm_utf8_prefix(mime, 150), mime);
    hm_frame_error(f, "INVALID_MIME_TYPE", msg);
    goto out;
  }
  if (size > MEDIA_MAX_SIZE) {
    hm_frame_error(f, "FILE_TOO_LARGE", "File exceeds 10MB limit");
    goto out;
  }
  size_t dn = 0;
  const char *data = pstr_of(f->payload, "data");
  if (data) hm_json_string(hm_json_object_getc(f->payload, "data"), &dn);
  if (!data || dn == 0) {
    hm_frame_error(f, "MISSING_DATA", "No file data provided");
    goto out;
  }
  size_t len = 0;
  bytes = hm_malloc(dn);
  if (!bytes) {
    hm_frame_internal(f, HM_ERR_NOMEM);
    goto out;
  }
  if (hm_base64_decode(bytes, dn, &len, data, dn, 0) != HM_OK || (double)len != size) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Invalid file data");
    goto out;
  }
  if (!channel_exists(f, chid)) goto out;
  int64_t now = hm_srv_now(srv);
  char hex[40];
  hm_srv_fresh_id(srv, hex, sizeof hex, NULL, 16);
  snprintf(mid, sizeof mid, "media-%lld-%s", (long long)now, hex);
  int rc = srv->st->vt->media_put(srv->st, mid, f->conn->did, f->community_id, chid, fname, mime, bytes, len, now,
                                  MEDIA_MAX_FILES, MEDIA_MAX_BYTES);
  if (rc == HM_ERR_RANGE) {
    hm_frame_error(f, "QUOTA_EXCEEDED", "Media quota reached");
    goto out;
  }
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    goto out;
  }
  url_name = uri_component(fname);
  p = hm_json_new_object();
  rc = (url_name && p) ? HM_OK : HM_ERR_NOMEM;
  snprintf(url, sizeof url, "/media/%s/%s", mid, url_name ? url_name : "");
  set_str(p, "mediaId", mid, &rc);
  set_str(p, "filename", fname, &rc);
  set_str(p, "mimeType", mime, &rc);
  set(p, "size", hm_json_new_number(size), &rc);
  set_str(p, "url", url, &rc);
  set_str(p, "communityId", f->community_id, &rc);
  set_str(p, "channelId", chid, &rc);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    goto out;
  }
  hm_srv_send(srv, f->conn, "media.upload.complete", hm_json_clone(p));
  announce(f, "media.upload.complete", p, f->conn);
  p = NULL;
out:
  hm_json_free(p);
  hm_free(bytes);
  hm_free(fname);
  hm_free(url_name);
}

static void h_media_delete(hm_frame *f) {
  const char *mid = pstr_of(f->payload, "mediaId");
  char *uploader = NULL;
  int rc = f->srv->st->vt->media_get(f->srv->st, mid, &uploader, NULL, NULL, NULL, NULL);
  if (rc == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_FOUND", "Media not found");
    return;
  }
  if (rc == HM_OK && strcmp(uploader, f->conn->did) != 0) {
    hm_free(uploader);
    hm_frame_error(f, "FORBIDDEN", "Only the uploader can delete this file");
    return;
  }
  hm_free(uploader);
  if (rc == HM_OK) rc = f->srv->st->vt->media_delete(f->srv->st, mid);
  hm_json *p = hm_json_new_object();
  if (rc == HM_OK && !p) rc = HM_ERR_NOMEM;
  set_str(p, "mediaId", mid, &rc);
  set(p, "deleted", hm_json_new_bool(1), &rc);
  reply(f, rc, "media.delete", p);
}

int hm_server_media_get(hm_server *srv, const char *media_id, const char *filename, char **mime, uint8_t **bytes,
                        size_t *len) {
  char *stored = NULL;
  *mime = NULL;
  *bytes = NULL;
  int rc = srv->st->vt->media_get(srv->st, media_id, NULL, &stored, mime, bytes, len);
  if (rc == HM_OK && strcmp(stored, filename) != 0) rc = HM_ERR_NOT_FOUND;
  hm_free(stored);
  if (rc != HM_OK) {
    hm_free(*mime);
    hm_free(*bytes);
    *mime = NULL;
    *bytes = NULL;
  }
  return rc;
}

/* ---- social recovery (recovery.md) ------------------------------------------------------------ */

#define RECOVERY_TTL_MS (24LL * 3600 * 1000)
#define RECOVERY_MAX_PER_REQUESTER 4

static int nonempty_str(const hm_json *p, const char *k) {
  hm_json *v = hm_json_object_getc(p, k);
  size_t n;
  return hm_json_kind_of(v) == HM_JSON_STRING && (hm_json_string(v, &n), n > 0);
}

static void recovery_notify(hm_server *srv, const char *guardian, const char *rid, const char *requester,
                            hm_server_conn *only) {
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  char ts[32];
  hm_srv_now_iso(srv, ts);
  set_str(p, "requestId", rid, &rc);
  set_str(p, "requesterDID", requester, &rc);
  set_str(p, "timestamp", ts, &rc);
  char id[64], *text = NULL;
  size_t len;
  hm_srv_fresh_id(srv, id, sizeof id, "recov", 16);
  if (rc != HM_OK) {
    hm_json_free(p);
    return;
  }
  if (hm_srv_frame_text(&text, &len, id, "recovery.request.notify", ts, "server", p) != HM_OK) return;
  if (only)
    hm_srv_send_text(srv, only, text, len);
  else
    hm_srv_send_did(srv, guardian, text, len, NULL);
  hm_free(text);
}

static void h_recovery_create(hm_frame *f) {
  hm_server *srv = f->srv;
  const hm_json *p = f->payload;
  hm_json *g = hm_json_object_getc(p, "guardianDIDs"), *th = hm_json_object_getc(p, "threshold");
  const char *bad = "Missing required fields for recovery request";
  if (!nonempty_str(p, "requestId") || !nonempty_str(p, "requesterDID") || hm_json_kind_of(g) != HM_JSON_ARRAY ||
      !th || hm_json_kind_of(th) == HM_JSON_NULL || (hm_json_kind_of(th) == HM_JSON_NUMBER && hm_json_number(th) == 0)) {
    hm_frame_error(f, "INVALID_PAYLOAD", bad);
    return;
  }
  const char *rid = pstr_of(p, "requestId"), *requester = pstr_of(p, "requesterDID");
  size_t n = hm_json_array_size(g);
  if (n > 32) {
    hm_frame_error(f, "INVALID_PAYLOAD", "guardianDIDs has too many items (max 32)");
    return;
  }
  int ok = n >= 1 && hm_utf16_len(rid, strlen(rid)) <= 256 && hm_utf16_len(requester, strlen(requester)) <= 256;
  for (size_t i = 0; ok && i < n; i++) {
    size_t len;
    const char *d = hm_json_string(hm_json_array_get(g, i), &len);
    if (!d || len == 0 || hm_utf16_len(d, len) > 256 || !strcmp(d, requester)) ok = 0;
    for (size_t k = 0; ok && k < i; k++)
      if (hm_json_string_is(hm_json_array_get(g, k), d)) ok = 0;
  }
  if (ok && (!safe_uint(th) || hm_json_number(th) < 1 || hm_json_number(th) > (double)n)) ok = 0;
  if (!ok) {
    hm_frame_error(f, "INVALID_PAYLOAD", bad);
    return;
  }
  if (strcmp(requester, f->conn->did) != 0) {
    hm_frame_error(f, "FORBIDDEN", "requesterDID does not match the authenticated identity");
    return;
  }
  char *gtext = NULL;
  int rc = hm_json_stringify(&gtext, NULL, g);
  int64_t now = hm_srv_now(srv);
  hm_store_recovery r = {rid, requester, gtext, (int64_t)hm_json_number(th), now};
  if (rc == HM_OK) rc = srv->st->vt->recovery_create(srv->st, &r, now, RECOVERY_TTL_MS, RECOVERY_MAX_PER_REQUESTER);
  hm_free(gtext);
  if (rc == HM_ERR_CONFLICT) {
    hm_frame_error(f, "CONFLICT", "Recovery request already exists");
    return;
  }
  if (rc == HM_ERR_RANGE) {
    hm_frame_error(f, "QUOTA_EXCEEDED", "Recovery request limit reached (4)");
    return;
  }
  hm_json *out = rc == HM_OK ? hm_json_new_object() : NULL;
  if (rc == HM_OK && !out) rc = HM_ERR_NOMEM;
  set_str(out, "requestId", rid, &rc);
  reply(f, rc, "recovery.request.created", out);
  for (size_t i = 0; i < n; i++)
    recovery_notify(srv, hm_json_string(hm_json_array_get(g, i), NULL), rid, requester, NULL);
}

typedef struct {
  char *requester, *guardians;
  int64_t threshold;
} rec_copy;

static int copy_rec_cb(void *ctx, const hm_store_recovery *r) {
  rec_copy *rc = ctx;
  rc->requester = hm_strdup(r->requester);
  rc->guardians = hm_strdup(r->guardians_json);
  rc->threshold = r->threshold;
  return 1;
}

static void rec_copy_clear(rec_copy *r) {
  hm_free(r->requester);
  hm_free(r->guardians);
  memset(r, 0, sizeof *r);
}

/* The unexpired request of the requester; answers NOT_FOUND otherwise. */
static int own_request(hm_frame *f, const char *rid, rec_copy *rc) {
  memset(rc, 0, sizeof *rc);
  int r = f->srv->st->vt->recovery_get(f->srv->st, rid, hm_srv_now(f->srv), RECOVERY_TTL_MS, copy_rec_cb, rc);
  if (r == HM_OK && (!rc->requester || !rc->guardians)) r = HM_ERR_NOMEM;
  if (r == HM_ERR_NOT_FOUND || (r == HM_OK && strcmp(rc->requester, f->conn->did) != 0)) {
    rec_copy_clear(rc);
    hm_frame_error(f, "NOT_FOUND", "Recovery request not found or not authorized");
    return 0;
  }
  if (r != HM_OK) {
    rec_copy_clear(rc);
    hm_frame_internal(f, r);
    return 0;
  }
  return 1;
}

static void h_recovery_cancel(hm_frame *f) {
  if (!nonempty_str(f->payload, "requestId")) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Missing requestId");
    return;
  }
  const char *rid = pstr_of(f->payload, "requestId");
  rec_copy rc;
  if (!own_request(f, rid, &rc)) return;
  rec_copy_clear(&rc);
  int r = f->srv->st->vt->recovery_delete(f->srv->st, rid);
  hm_json *out = hm_json_new_object();
  if (r == HM_OK && !out) r = HM_ERR_NOMEM;
  set_str(out, "requestId", rid, &r);
  if (r != HM_OK) {
    hm_json_free(out);
    hm_frame_internal(f, r);
    return;
  }
  hm_srv_send(f->srv, f->conn, "recovery.request.cancelled", out);
}

static void h_recovery_shard_submit(hm_frame *f) {
  hm_server *srv = f->srv;
  const hm_json *p = f->payload;
  if (!nonempty_str(p, "requestId") || !nonempty_str(p, "guardianDID") || !nonempty_str(p, "encryptedShard")) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Missing required fields for shard submission");
    return;
  }
  const char *rid = pstr_of(p, "requestId"), *guardian = pstr_of(p, "guardianDID"),
             *shard = pstr_of(p, "encryptedShard");
  if (hm_utf16_len(shard, strlen(shard)) > 16384) {
    hm_frame_error(f, "INVALID_PAYLOAD", "encryptedShard exceeds maximum length of 16384");
    return;
  }
  if (strcmp(guardian, f->conn->did) != 0) {
    hm_frame_error(f, "FORBIDDEN", "guardianDID does not match the authenticated identity");
    return;
  }
  rec_copy rc = {0};
  int r = srv->st->vt->recovery_get(srv->st, rid, hm_srv_now(srv), RECOVERY_TTL_MS, copy_rec_cb, &rc);
  if (r == HM_OK && (!rc.requester || !rc.guardians)) r = HM_ERR_NOMEM;
  if (r == HM_ERR_NOT_FOUND) {
    hm_frame_error(f, "NOT_FOUND", "Recovery request not found");
    return;
  }
  hm_json *gl = NULL;
  if (r == HM_OK) r = hm_json_parse(&gl, rc.guardians, strlen(rc.guardians), 0, NULL);
  int is_guardian = 0;
  for (size_t i = 0; r == HM_OK && i < hm_json_array_size(gl); i++)
    is_guardian |= hm_json_string_is(hm_json_array_get(gl, i), guardian);
  hm_json_free(gl);
  if (r == HM_OK && !is_guardian) {
    rec_copy_clear(&rc);
    hm_frame_error(f, "UNAUTHORIZED", "Not a guardian for this recovery request");
    return;
  }
  int64_t collected = 0;
  if (r == HM_OK) r = srv->st->vt->recovery_shard_put(srv->st, rid, guardian, shard, &collected);
  hm_json *receipt = hm_json_new_object(), *notice = hm_json_new_object();
  if (r == HM_OK && (!receipt || !notice)) r = HM_ERR_NOMEM;
  set_str(receipt, "requestId", rid, &r);
  set_str(receipt, "guardianDID", guardian, &r);
  set_str(notice, "requestId", rid, &r);
  set_str(notice, "guardianDID", guardian, &r);
  set(notice, "shardsCollected", hm_json_new_number((double)collected), &r);
  set(notice, "threshold", hm_json_new_number((double)rc.threshold), &r);
  char *requester = rc.requester;
  rc.requester = NULL;
  rec_copy_clear(&rc);
  if (r != HM_OK) {
    hm_free(requester);
    hm_json_free(receipt);
    hm_json_free(notice);
    hm_frame_internal(f, r);
    return;
  }
  hm_srv_send(srv, f->conn, "recovery.shard.submitted", receipt);
  char id[64], ts[32], *text = NULL;
  size_t len;
  hm_srv_fresh_id(srv, id, sizeof id, "recov", 16);
  hm_srv_now_iso(srv, ts);
  if (hm_srv_frame_text(&text, &len, id, "recovery.shard.submitted", ts, "server", notice) == HM_OK)
    hm_srv_send_did(srv, requester, text, len, NULL);
  hm_free(text);
  hm_free(requester);
}

static int shard_pair_cb(void *ctx, const char *guardian, const char *shard) {
  hm_json *arr = ctx, *o = hm_json_new_object();
  int rc = o ? HM_OK : HM_ERR_NOMEM;
  set_str(o, "guardianDID", guardian, &rc);
  set_str(o, "encryptedShard", shard, &rc);
  push(arr, rc == HM_OK ? o : NULL, &rc);
  if (rc != HM_OK) hm_json_free(o);
  return rc != HM_OK;
}

static void h_recovery_shards_fetch(hm_frame *f) {
  if (!nonempty_str(f->payload, "requestId")) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Missing requestId");
    return;
  }
  const char *rid = pstr_of(f->payload, "requestId");
  rec_copy rc;
  if (!own_request(f, rid, &rc)) return;
  hm_json *gl = NULL, *arr = hm_json_new_array(), *out = hm_json_new_object();
  int r = hm_json_parse(&gl, rc.guardians, strlen(rc.guardians), 0, NULL);
  if (r == HM_OK && (!arr || !out)) r = HM_ERR_NOMEM;
  if (r == HM_OK) r = f->srv->st->vt->recovery_shards(f->srv->st, rid, shard_pair_cb, arr);
  set_str(out, "requestId", rid, &r);
  set(out, "shards", arr, &r);
  arr = NULL;
  set(out, "threshold", hm_json_new_number((double)rc.threshold), &r);
  set(out, "total", hm_json_new_number((double)hm_json_array_size(gl)), &r);
  hm_json_free(gl);
  rec_copy_clear(&rc);
  if (r != HM_OK) {
    hm_json_free(out);
    hm_json_free(arr);
    hm_frame_internal(f, r);
    return;
  }
  hm_srv_send(f->srv, f->conn, "recovery.shards.response", out);
}

/* R-RECOV-6: at login, notices for unexpired requests naming the DID without its shard. */
typedef struct {
  hm_server *srv;
  hm_server_conn *conn;
} rec_login_ctx;

static int has_shard_cb(void *ctx, const char *guardian, const char *shard) {
  (void)shard;
  const char **g = ctx;
  if (!strcmp(*g, guardian)) {
    *g = NULL;
    return 1;
  }
  return 0;
}

static int rec_login_cb(void *ctx, const hm_store_recovery *r) {
  rec_login_ctx *lc = ctx;
  hm_json *gl = NULL;
  if (hm_json_parse(&gl, r->guardians_json, strlen(r->guardians_json), 0, NULL) != HM_OK) return 0;
  int named = 0;
  for (size_t i = 0; i < hm_json_array_size(gl); i++) named |= hm_json_string_is(hm_json_array_get(gl, i), lc->conn->did);
  hm_json_free(gl);
  if (!named) return 0;
  const char *g = lc->conn->did;
  lc->srv->st->vt->recovery_shards(lc->srv->st, r->request_id, has_shard_cb, &g);
  if (g) recovery_notify(lc->srv, lc->conn->did, r->request_id, r->requester, lc->conn);
  return 0;
}

void hm_srv_recovery_login(hm_server *srv, hm_server_conn *c) {
  rec_login_ctx lc = {srv, c};
  srv->st->vt->recovery_list(srv->st, hm_srv_now(srv), RECOVERY_TTL_MS, rec_login_cb, &lc);
}

/* ---- voice rooms and signalling (voice.md); SFU proxy answers (sfu.md) ------------------------ */

#define VOICE_ROOM_MAX 50
#define SFU_NOT_CONFIGURED "Error: CF Realtime SFU not configured \xe2\x80\x94 set CALLS_APP_ID and CALLS_APP_SECRET"

static int cmp_conn_seq(const void *a, const void *b) {
  const hm_server_conn *x = *(hm_server_conn *const *)a, *y = *(hm_server_conn *const *)b;
  return x->room_seq < y->room_seq ? -1 : x->room_seq > y->room_seq;
}

/* The room named id, or NULL when nobody is in it. Linear in the number of occupied rooms. */
static hm_room *room_find(hm_server *srv, const char *id) {
  for (hm_room *r = srv->rooms; r; r = r->next)
    if (!strcmp(r->id, id)) return r;
  return NULL;
}

/* The participants of room id (each connection whose c->room is id). */
#define FOR_ROOM_CONN(srv, id, c) for (hm_server_conn *c = room_first(srv, id); c; c = c->room_next)

static hm_server_conn *room_first(hm_server *srv, const char *id) {
  hm_room *r = room_find(srv, id);
  return r ? r->first : NULL;
}

/* c->room has just been set: add c to that room's participants. */
static int room_link(hm_server *srv, hm_server_conn *c) {
  hm_room *r = room_find(srv, c->room);
  if (!r) {
    r = hm_calloc(1, sizeof *r);
    if (!r || !(r->id = hm_strdup(c->room))) {
      hm_free(r);
      return HM_ERR_NOMEM;
    }
    r->next = srv->rooms;
    srv->rooms = r;
  }
  c->room_of = r;
  c->room_prev = NULL;
  c->room_next = r->first;
  if (r->first) r->first->room_prev = c;
  r->first = c;
  r->n++;
  return HM_OK;
}

/* Take c out of its room's participants (freeing the room when it empties). */
static void room_unlink(hm_server *srv, hm_server_conn *c) {
  hm_room *r = c->room_of;
  if (!r) return;
  if (c->room_prev)
    c->room_prev->room_next = c->room_next;
  else
    r->first = c->room_next;
  if (c->room_next) c->room_next->room_prev = c->room_prev;
  c->room_of = NULL;
  c->room_next = c->room_prev = NULL;
  if (--r->n) return;
  for (hm_room **pp = &srv->rooms; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  hm_free(r->id);
  hm_free(r);
}

void hm_srv_rooms_free(hm_server *srv) {
  while (srv->rooms) {
    hm_room *r = srv->rooms;
    srv->rooms = r->next;
    hm_free(r->id);
    hm_free(r);
  }
}

/* Participants of a room in join order (caller frees the array). */
static hm_server_conn **room_members(hm_server *srv, const char *room, size_t *n) {
  hm_room *r = room_find(srv, room);
  size_t k = r ? r->n : 0;
  hm_server_conn **v = hm_calloc(k ? k : 1, sizeof *v);
  if (!v) {
    *n = 0;
    return NULL;
  }
  k = 0;
  FOR_ROOM_CONN(srv, room, c) v[k++] = c;
  qsort(v, k, sizeof *v, cmp_conn_seq);
  *n = k;
  return v;
}

static hm_json *room_dids(hm_server_conn **v, size_t n) {
  hm_json *a = hm_json_new_array();
  int rc = a ? HM_OK : HM_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) push(a, hm_json_new_cstr(v[i]->did), &rc);
  if (rc != HM_OK) {
    hm_json_free(a);
    return NULL;
  }
  return a;
}

static hm_json *room_details(hm_server_conn **v, size_t n) {
  hm_json *a = hm_json_new_array();
  int rc = a ? HM_OK : HM_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    hm_json *o = hm_json_new_object();
    int r2 = o ? HM_OK : HM_ERR_NOMEM;
    set_str(o, "did", v[i]->did, &r2);
    set(o, "muted", hm_json_new_bool(v[i]->muted), &r2);
    set(o, "deafened", hm_json_new_bool(0), &r2);
    set(o, "videoEnabled", hm_json_new_bool(v[i]->video), &r2);
    set(o, "screenSharing", hm_json_new_bool(v[i]->screen), &r2);
    if (r2 != HM_OK) {
      hm_json_free(o);
      rc = r2;
      break;
    }
    push(a, o, &rc);
  }
  if (rc != HM_OK) {
    hm_json_free(a);
    return NULL;
  }
  return a;
}

/* Send (type, payload) with sender to the room's participants (except `except`). */
static void room_send(hm_server *srv, const char *room, const char *id, const char *ts, const char *type,
                      const char *sender, hm_json *p, const hm_server_conn *except) {
  char idb[64], tsb[32], *text = NULL;
  size_t len;
  if (!id) {
    hm_srv_fresh_id(srv, idb, sizeof idb, "voice", 16);
    id = idb;
  }
  if (!ts) {
    hm_srv_now_iso(srv, tsb);
    ts = tsb;
  }
  if (hm_srv_frame_text(&text, &len, id, type, ts, sender, p) != HM_OK) return;
  FOR_ROOM_CONN(srv, room, c) {
    if (c != except) hm_srv_send_text(srv, c, text, len);
  }
  hm_free(text);
}

void hm_srv_voice_leave(hm_server *srv, hm_server_conn *c) {
  hm_srv_voice_forget(c); /* R-SFU-15 */
  room_unlink(srv, c);
  char *room = c->room;
  hm_free(c->room_cid);
  c->room = c->room_cid = NULL;
  if (!room) return;
  size_t n = 0;
  hm_server_conn **v = room_members(srv, room, &n);
  hm_json *p = hm_json_new_object(), *dids = v ? room_dids(v, n) : NULL;
  int rc = (p && dids) ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "channelId", room, &rc);
  set_str(p, "did", c->did, &rc);
  set(p, "participants", dids, &rc);
  dids = NULL;
  if (rc == HM_OK)
    room_send(srv, room, NULL, NULL, "voice.participant.left", c->did, p, c);
  else
    hm_json_free(p);
  hm_json_free(dids);
  hm_free(v);
  hm_free(room);
}

void hm_srv_voice_drop_did(hm_server *srv, const char *cid, const char *did) {
  HM_FOR_DID_CONN(srv, did, c) {
    if (c->room && c->room_cid && !strcmp(c->room_cid, cid)) hm_srv_voice_leave(srv, c);
  }
}

typedef struct {
  char *cid;
} room_owner;

static int room_owner_cb(void *ctx, const hm_store_channel *ch) {
  ((room_owner *)ctx)->cid = hm_strdup(ch->community_id);
  return 1;
}

/* "Room access" (voice.md): returns the owning community id (caller frees) or NULL after
 * answering BANNED / NOT_MEMBER. */
static char *room_access(hm_frame *f, const char *chid) {
  hm_server *srv = f->srv;
  room_owner ro = {NULL};
  int rc = srv->st->vt->channel_find(srv->st, chid, room_owner_cb, &ro);
  if (rc == HM_OK && !ro.cid) rc = HM_ERR_NOMEM;
  if (rc != HM_OK && rc != HM_ERR_NOT_FOUND) {
    hm_frame_internal(f, rc);
    return NULL;
  }
  if (ro.cid && srv->st->vt->ban_get(srv->st, ro.cid, f->conn->did) == HM_OK) {
    hm_free(ro.cid);
    hm_frame_error(f, "BANNED", "You are banned from this community");
    return NULL;
  }
  if (!ro.cid || srv->st->vt->member_get(srv->st, ro.cid, f->conn->did, NULL, NULL) != HM_OK) {
    hm_free(ro.cid);
    hm_frame_error(f, "NOT_MEMBER", "Not a member of this community");
    return NULL;
  }
  return ro.cid;
}

static int in_room(hm_frame *f) {
  if (f->conn->room) return 1;
  hm_frame_error(f, "FORBIDDEN", "Not a participant of a voice room");
  return 0;
}

static void h_voice_token(hm_frame *f) {
  const char *chid = pstr_of(f->payload, "channelId");
  char *cid = room_access(f, chid);
  if (!cid) return;
  hm_free(cid);
  hm_json *t = hm_json_new_object(), *p = hm_json_new_object();
  int rc = (t && p) ? HM_OK : HM_ERR_NOMEM;
  set_str(t, "room", chid, &rc);
  set_str(t, "participant", f->conn->did, &rc);
  set(t, "iat", hm_json_new_number((double)hm_srv_now(f->srv)), &rc);
  char *text = NULL, *b64 = NULL;
  size_t len = 0;
  if (rc == HM_OK) rc = hm_json_stringify(&text, &len, t);
  if (rc == HM_OK) {
    b64 = hm_malloc(hm_base64_encoded_len(len, 0) + 1);
    rc = b64 ? hm_base64_encode(b64, hm_base64_encoded_len(len, 0) + 1, (const uint8_t *)text, len, 0) : HM_ERR_NOMEM;
  }
  set_str(p, "channelId", chid, &rc);
  set_str(p, "token", b64 ? b64 : "", &rc);
  set_str(p, "mode", f->srv->cfg.sfu_configured ? "cf" : "signaling", &rc);
  hm_json_free(t);
  hm_free(text);
  hm_free(b64);
  reply(f, rc, "voice.token.response", p);
}

static void h_voice_join(hm_frame *f) {
  hm_server *srv = f->srv;
  hm_server_conn *c = f->conn;
  const char *chid = pstr_of(f->payload, "channelId");
  char *cid = room_access(f, chid);
  if (!cid) return;
  size_t n = 0;
  hm_server_conn **v = room_members(srv, chid, &n);
  int already = c->room && !strcmp(c->room, chid);
  hm_free(v);
  if (!already && n >= VOICE_ROOM_MAX) {
    hm_free(cid);
    hm_frame_error(f, "QUOTA_EXCEEDED", "Voice room is full (50)");
    return;
  }
  if (c->room && !already) hm_srv_voice_leave(srv, c); /* R-VOICE-5 */
  if (!already) {
    c->room = hm_strdup(chid);
    c->room_cid = cid;
    cid = NULL;
    c->room_seq = ++srv->room_seq;
    if (!c->room || room_link(srv, c) != HM_OK) {
      hm_free(c->room);
      hm_free(c->room_cid);
      c->room = c->room_cid = NULL;
      hm_frame_internal(f, HM_ERR_NOMEM);
      return;
    }
  }
  hm_free(cid);
  c->muted = c->video = c->screen = 0;
  v = room_members(srv, chid, &n);
  hm_json *p = hm_json_new_object(), *dids = v ? room_dids(v, n) : NULL;
  int rc = (p && dids) ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "channelId", chid, &rc);
  set_str(p, "did", c->did, &rc);
  set(p, "participants", dids, &rc);
  if (rc == HM_OK)
    room_send(srv, chid, NULL, NULL, "voice.participant.joined", c->did, p, NULL);
  else
    hm_json_free(p);
  hm_json *st = hm_json_new_object(), *d2 = v ? room_dids(v, n) : NULL, *det = v ? room_details(v, n) : NULL;
  rc = (st && d2 && det) ? HM_OK : HM_ERR_NOMEM;
  set_str(st, "channelId", chid, &rc);
  set(st, "participants", d2, &rc);
  d2 = NULL;
  set(st, "participantDetails", det, &rc);
  det = NULL;
  hm_free(v);
  hm_json_free(d2);
  hm_json_free(det);
  if (rc != HM_OK) {
    hm_json_free(st);
    hm_frame_internal(f, rc);
    return;
  }
  hm_srv_send(srv, c, "voice.state", st);
}

static void h_voice_leave(hm_frame *f) {
  const char *chid = pstr_of(f->payload, "channelId");
  if (f->conn->room && !strcmp(f->conn->room, chid)) hm_srv_voice_leave(f->srv, f->conn); /* else R-VOICE-9 */
}

/* voice.state {channelId, action, did, [flag], participants: details} to the room. */
static void voice_flag(hm_frame *f, const char *action, const char *flag_key, int flag) {
  hm_server *srv = f->srv;
  size_t n = 0;
  hm_server_conn **v = room_members(srv, f->conn->room, &n);
  hm_json *p = hm_json_new_object(), *det = v ? room_details(v, n) : NULL;
  hm_free(v);
  int rc = (p && det) ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "channelId", f->conn->room, &rc);
  set_str(p, "action", action, &rc);
  set_str(p, "did", f->conn->did, &rc);
  if (flag_key) set(p, flag_key, hm_json_new_bool(flag), &rc);
  set(p, "participants", det, &rc);
  det = NULL;
  hm_json_free(det);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  room_send(srv, f->conn->room, NULL, NULL, "voice.state", f->conn->did, p, NULL);
}

static void h_voice_mute(hm_frame *f) {
  if (!in_room(f)) return;
  f->conn->muted = 1;
  voice_flag(f, "voice.mute", NULL, 0);
}

static void h_voice_unmute(hm_frame *f) {
  if (!in_room(f)) return;
  f->conn->muted = 0;
  voice_flag(f, "voice.unmute", NULL, 0);
}

static int bool_field(hm_frame *f, const char *k, int *out) {
  hm_json *v = hm_json_object_getc(f->payload, k);
  if (hm_json_kind_of(v) != HM_JSON_TRUE && hm_json_kind_of(v) != HM_JSON_FALSE) return bad_field(f, k);
  *out = hm_json_kind_of(v) == HM_JSON_TRUE;
  return 1;
}

static void h_voice_video(hm_frame *f) {
  int b;
  if (!bool_field(f, "enabled", &b) || !in_room(f)) return;
  f->conn->video = b;
  voice_flag(f, "voice.video", "videoEnabled", b);
}

static void h_voice_screen(hm_frame *f) {
  int b;
  if (!bool_field(f, "sharing", &b) || !in_room(f)) return;
  f->conn->screen = b;
  voice_flag(f, "voice.screen", "screenSharing", b);
}

static void h_voice_speaking(hm_frame *f) {
  int b;
  if (!bool_field(f, "speaking", &b) || !in_room(f)) return;
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "channelId", f->conn->room, &rc);
  set_str(p, "did", f->conn->did, &rc);
  set(p, "speaking", hm_json_new_bool(b), &rc);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  room_send(f->srv, f->conn->room, NULL, NULL, "voice.speaking", f->conn->did, p, f->conn);
}

/* voice.offer / voice.answer / voice.ice (R-VOICE-16, R-VOICE-17) */
static void voice_signal(hm_frame *f, const char *obj_key, const char *inner, size_t max) {
  const char *target = pstr_of(f->payload, "targetDID");
  hm_json *o = hm_json_object_getc(f->payload, obj_key);
  if (hm_json_kind_of(o) != HM_JSON_OBJECT) {
    bad_field(f, obj_key);
    return;
  }
  hm_json *in = hm_json_object_getc(o, inner);
  if (in && hm_json_kind_of(in) != HM_JSON_NULL) {
    size_t n;
    const char *s = hm_json_kind_of(in) == HM_JSON_STRING ? hm_json_string(in, &n) : NULL;
    if (!s || hm_utf16_len(s, n) > max) {
      bad_field(f, obj_key);
      return;
    }
  }
  if (!in_room(f)) return;
  int found = 0;
  HM_FOR_DID_CONN(f->srv, target, c) {
    if (c->room && !strcmp(c->room, f->conn->room) && c != f->conn) found = 1;
  }
  if (!found) {
    hm_frame_error(f, "NOT_FOUND", "Recipient not found");
    return;
  }
  char ts[32], id[64], *text = NULL;
  size_t len;
  frame_ts(f, ts);
  if (!f->id) hm_srv_fresh_id(f->srv, id, sizeof id, "relay", 16);
  if (hm_srv_frame_text(&text, &len, f->id ? f->id : id, f->reg->type, ts, f->conn->did,
                        hm_json_clone(f->payload)) != HM_OK) {
    hm_frame_internal(f, HM_ERR_NOMEM);
    return;
  }
  HM_FOR_DID_CONN(f->srv, target, c) {
    if (c != f->conn && c->room && !strcmp(c->room, f->conn->room)) hm_srv_send_text(f->srv, c, text, len);
  }
  hm_free(text);
}

static void h_voice_offer(hm_frame *f) { voice_signal(f, "sdp", "sdp", 65536); }
static void h_voice_answer(hm_frame *f) { voice_signal(f, "sdp", "sdp", 65536); }
static void h_voice_ice(hm_frame *f) { voice_signal(f, "candidate", "candidate", 2048); }

static int session_id_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n < 1 || n > 128) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
          s[i] == '_' || s[i] == '-'))
      return 0;
  return 1;
}

static void h_voice_producer_closed(hm_frame *f) {
  const char *mt = pstr_of(f->payload, "mediaType");
  if (mt && strcmp(mt, "audio") && strcmp(mt, "video") && strcmp(mt, "screen")) {
    bad_field(f, "mediaType");
    return;
  }
  if (!in_room(f)) return;
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "producerId", pstr_of(f->payload, "producerId"), &rc);
  set_str(p, "participantId", f->conn->did, &rc);
  if (mt) set_str(p, "mediaType", mt, &rc);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  room_send(f->srv, f->conn->room, NULL, NULL, "voice.producer-closed", f->conn->did, p, f->conn);
}

/* ---- SFU sessions, tracks and the proxy calls (sfu.md) ------------------------------------- */

void hm_srv_voice_forget(hm_server_conn *c) {
  for (size_t i = 0; i < c->n_sessions; i++) hm_free(c->sessions[i]);
  c->n_sessions = 0;
  for (size_t i = 0; i < c->n_tracks; i++) {
    hm_free(c->tracks[i].name);
    hm_free(c->tracks[i].session);
    hm_free(c->tracks[i].kind);
    hm_free(c->tracks[i].media);
  }
  hm_free(c->tracks);
  c->tracks = NULL;
  c->n_tracks = 0;
}

static int session_bound_to(const hm_server_conn *c, const char *sid) {
  for (size_t i = 0; i < c->n_sessions; i++)
    if (!strcmp(c->sessions[i], sid)) return 1;
  return 0;
}

/* Is sid bound to some participant of room (R-SFU-14)? */
static int session_in_room(hm_server *srv, const char *room, const char *sid) {
  FOR_ROOM_CONN(srv, room, c) {
    if (session_bound_to(c, sid)) return 1;
  }
  return 0;
}

static void voice_track(hm_frame *f, int published) {
  hm_server *srv = f->srv;
  hm_server_conn *c = f->conn;
  const char *kind = pstr_of(f->payload, "kind"), *mt = pstr_of(f->payload, "mediaType");
  const char *sid = pstr_of(f->payload, "sessionId"), *name = pstr_of(f->payload, "trackName");
  if (published && (!kind || (strcmp(kind, "audio") && strcmp(kind, "video")))) {
    bad_field(f, "kind");
    return;
  }
  if (published && (!mt || (strcmp(mt, "audio") && strcmp(mt, "video") && strcmp(mt, "screen")))) {
    bad_field(f, "mediaType");
    return;
  }
  if (!session_id_ok(sid)) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Invalid sessionId");
    return;
  }
  if (!in_room(f)) return;
  const char *room = pstr_of(f->payload, "roomId");
  if (room && strcmp(room, c->room) != 0) {
    hm_frame_error(f, "FORBIDDEN", "Not a participant of this voice room");
    return;
  }
  if (!session_bound_to(c, sid)) {
    hm_frame_error(f, "FORBIDDEN", "Unknown SFU session"); /* R-VOICE-25 */
    return;
  }
  size_t at = c->n_tracks;
  for (size_t i = 0; i < c->n_tracks; i++)
    if (!strcmp(c->tracks[i].name, name)) at = i;
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  set_str(p, "roomId", c->room, &rc);
  set_str(p, "sessionId", sid, &rc);
  set_str(p, "trackName", name, &rc);
  if (published) {
    if (at == c->n_tracks && c->n_tracks >= 16) {
      hm_json_free(p);
      hm_frame_error(f, "QUOTA_EXCEEDED", "Track limit reached (16)");
      return;
    }
    if (at == c->n_tracks) {
      hm_track *nt = hm_realloc(c->tracks, (c->n_tracks + 1) * sizeof *nt);
      if (!nt) {
        hm_json_free(p);
        hm_frame_internal(f, HM_ERR_NOMEM);
        return;
      }
      c->tracks = nt;
      memset(&c->tracks[at], 0, sizeof *nt);
      c->n_tracks++;
    }
    hm_track *t = &c->tracks[at];
    hm_free(t->name);
    hm_free(t->session);
    hm_free(t->kind);
    hm_free(t->media);
    t->name = hm_strdup(name);
    t->session = hm_strdup(sid);
    t->kind = hm_strdup(kind);
    t->media = hm_strdup(mt);
    set_str(p, "kind", kind, &rc);
    set_str(p, "mediaType", mt, &rc);
  } else {
    if (at == c->n_tracks) { /* not published: nothing happens */
      hm_json_free(p);
      return;
    }
    hm_track *t = &c->tracks[at];
    hm_free(t->name);
    hm_free(t->session);
    hm_free(t->kind);
    hm_free(t->media);
    c->tracks[at] = c->tracks[--c->n_tracks];
  }
  set_str(p, "participantId", c->did, &rc);
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  room_send(srv, c->room, NULL, NULL, published ? "voice.track.published" : "voice.track.removed", c->did, p, c);
}

static void h_voice_track_published(hm_frame *f) { voice_track(f, 1); }
static void h_voice_track_removed(hm_frame *f) { voice_track(f, 0); }

static void h_voice_get_producers(hm_frame *f) {
  hm_json *p = hm_json_new_object(), *arr = hm_json_new_array();
  int rc = (p && arr) ? HM_OK : HM_ERR_NOMEM;
  for (hm_server_conn *c = f->conn->room ? room_first(f->srv, f->conn->room) : NULL; rc == HM_OK && c;
       c = c->room_next) {
    if (c == f->conn) continue;
    for (size_t i = 0; i < c->n_tracks; i++) {
      hm_json *o = hm_json_new_object();
      int r2 = o ? HM_OK : HM_ERR_NOMEM;
      set_str(o, "trackName", c->tracks[i].name, &r2);
      set_str(o, "sessionId", c->tracks[i].session, &r2);
      set_str(o, "kind", c->tracks[i].kind, &r2);
      set_str(o, "mediaType", c->tracks[i].media, &r2);
      set_str(o, "participantId", c->did, &r2);
      if (r2 != HM_OK) {
        hm_json_free(o);
        rc = r2;
        break;
      }
      push(arr, o, &rc);
    }
  }
  set(p, "producers", arr, &rc);
  arr = NULL;
  reply(f, rc, "voice.get-producers.response", p);
}

static const char *sfu_code(const char *type) {
  if (!strcmp(type, "voice.session.create")) return "CF_SESSION_CREATE_FAILED";
  if (!strcmp(type, "voice.tracks.push")) return "CF_TRACKS_PUSH_FAILED";
  if (!strcmp(type, "voice.tracks.pull")) return "CF_TRACKS_PULL_FAILED";
  if (!strcmp(type, "voice.tracks.close")) return "CF_TRACKS_CLOSE_FAILED";
  return "CF_RENEGOTIATE_FAILED";
}

/* The five proxy types: R-SFU-6, R-SFU-9, signalling-only (R-SFU-13), R-SFU-10/14, the
 * session limit, the in-flight limit, then the asynchronous call (R-TRN-14). */
static void h_voice_sfu(hm_frame *f) {
  hm_server *srv = f->srv;
  hm_server_conn *c = f->conn;
  const char *type = f->reg->type;
  int create = !strcmp(type, "voice.session.create");
  if (!in_room(f)) return;
  const hm_json *p = hm_json_kind_of(f->payload) == HM_JSON_OBJECT ? f->payload : NULL;
  const char *sid = p ? pstr_of(p, "sessionId") : NULL;
  hm_json *tracks = p ? hm_json_object_getc(p, "tracks") : NULL, *sd = p ? hm_json_object_getc(p, "sessionDescription") : NULL;
  if (hm_json_kind_of(tracks) == HM_JSON_NULL) tracks = NULL;
  if (hm_json_kind_of(sd) == HM_JSON_NULL) sd = NULL;
  if (!create) {
    if (!session_id_ok(sid)) {
      hm_frame_error(f, "INVALID_PAYLOAD", "Invalid sessionId");
      return;
    }
    if (tracks) {
      if (hm_json_kind_of(tracks) != HM_JSON_ARRAY || hm_json_array_size(tracks) > 64) {
        bad_field(f, "tracks");
        return;
      }
      for (size_t i = 0; i < hm_json_array_size(tracks); i++) {
        hm_json *t = hm_json_array_get(tracks, i);
        if (hm_json_kind_of(t) != HM_JSON_OBJECT) {
          bad_field(f, "tracks");
          return;
        }
        hm_json *ts = hm_json_object_getc(t, "sessionId");
        if (ts && !session_id_ok(hm_json_string(ts, NULL))) {
          hm_frame_error(f, "INVALID_PAYLOAD", "Invalid sessionId");
          return;
        }
      }
    }
    if (sd) {
      hm_json *ty = hm_json_object_getc(sd, "type"), *sdp = hm_json_object_getc(sd, "sdp");
      size_t n = 0;
      const char *sv = hm_json_kind_of(sdp) == HM_JSON_STRING ? hm_json_string(sdp, &n) : NULL;
      if (hm_json_kind_of(sd) != HM_JSON_OBJECT || !(hm_json_string_is(ty, "offer") || hm_json_string_is(ty, "answer")) ||
          !sv || hm_utf16_len(sv, n) > 65536) {
        bad_field(f, "sessionDescription");
        return;
      }
    }
  }
  if (!srv->cfg.sfu_configured || !srv->env.sfu_request) {
    hm_frame_error(f, sfu_code(type), SFU_NOT_CONFIGURED); /* R-SFU-13 */
    return;
  }
  if (!create) {
    if (!session_bound_to(c, sid)) {
      hm_frame_error(f, "FORBIDDEN", "Unknown SFU session"); /* R-SFU-10 */
      return;
    }
    for (size_t i = 0; tracks && i < hm_json_array_size(tracks); i++) { /* R-SFU-14 */
      hm_json *t = hm_json_array_get(tracks, i);
      if (!hm_json_string_is(hm_json_object_getc(t, "location"), "remote")) continue;
      const char *ts = hm_json_string(hm_json_object_getc(t, "sessionId"), NULL);
      if (!ts || !session_in_room(srv, c->room, ts)) {
        hm_frame_error(f, "FORBIDDEN", "Unknown SFU session");
        return;
      }
    }
  } else if (c->n_sessions >= 2) {
    hm_frame_error(f, "QUOTA_EXCEEDED", "Voice session limit reached (2)");
    return;
  }
  if (c->sfu_inflight >= 4) {
    hm_frame_error(f, "RATE_LIMITED", "Too many SFU requests in flight");
    return;
  }
  /* the request body (R-SFU-2): absent keys left out */
  char path[300], *body = NULL;
  const char *method = "POST";
  hm_json *b = NULL;
  int rc = HM_OK;
  if (create) {
    snprintf(path, sizeof path, "/sessions/new");
  } else {
    b = hm_json_new_object();
    if (!b) rc = HM_ERR_NOMEM;
    if (!strcmp(type, "voice.tracks.push") || !strcmp(type, "voice.tracks.pull")) {
      snprintf(path, sizeof path, "/sessions/%s/tracks/new", sid);
      if (tracks) set(b, "tracks", hm_json_clone(tracks), &rc);
      if (sd) set(b, "sessionDescription", hm_json_clone(sd), &rc);
    } else if (!strcmp(type, "voice.tracks.close")) {
      method = "PUT";
      snprintf(path, sizeof path, "/sessions/%s/tracks/close", sid);
      if (tracks) set(b, "tracks", hm_json_clone(tracks), &rc);
      hm_json *force = hm_json_object_getc(p, "force");
      set(b, "force", hm_json_new_bool(hm_json_kind_of(force) == HM_JSON_TRUE), &rc);
    } else {
      method = "PUT";
      snprintf(path, sizeof path, "/sessions/%s/renegotiate", sid);
      if (sd) set(b, "sessionDescription", hm_json_clone(sd), &rc);
    }
    if (rc == HM_OK) rc = hm_json_stringify(&body, NULL, b);
    hm_json_free(b);
  }
  struct hm_sfu_call *k = rc == HM_OK ? hm_calloc(1, sizeof *k) : NULL;
  if (rc == HM_OK && !k) rc = HM_ERR_NOMEM;
  if (rc != HM_OK) {
    hm_free(body);
    hm_frame_internal(f, rc);
    return;
  }
  k->id = ++srv->next_call;
  k->conn = c;
  snprintf(k->type, sizeof k->type, "%s", type);
  k->request_id = f->id ? hm_strdup(f->id) : NULL;
  k->next = srv->calls;
  srv->calls = k;
  c->sfu_inflight++;
  if (srv->env.sfu_request(srv->env.ctx, k->id, method, path, body) != 0)
    hm_server_sfu_done(srv, k->id, 0, NULL, 0); /* could not even start: unreachable */
  hm_free(body);
}

void hm_server_sfu_done(hm_server *srv, uint64_t id, int status, const char *body, size_t len) {
  struct hm_sfu_call **pp = &srv->calls, *k = NULL;
  for (; *pp; pp = &(*pp)->next)
    if ((*pp)->id == id) {
      k = *pp;
      *pp = k->next;
      break;
    }
  if (!k) return;
  hm_server_conn *c = k->conn;
  if (!c || c->closing) {
    hm_free(k->request_id);
    hm_free(k);
    return;
  }
  c->sfu_inflight--;
  hm_json *ans = NULL;
  int ok = status >= 200 && status < 300 && body && len <= 256 * 1024 &&
           hm_json_parse(&ans, body, len, 0, NULL) == HM_OK && hm_json_kind_of(ans) == HM_JSON_OBJECT;
  const char *reply = NULL;
  hm_json *p = NULL;
  if (ok && !strcmp(k->type, "voice.session.create")) {
    const char *sid = hm_json_string(hm_json_object_getc(ans, "sessionId"), NULL);
    ok = session_id_ok(sid) && c->room && c->n_sessions < 2;
    if (ok) {
      char *copy = hm_strdup(sid);
      p = hm_json_new_object();
      int rc = (copy && p) ? HM_OK : HM_ERR_NOMEM;
      set_str(p, "sessionId", sid, &rc);
      if (rc == HM_OK) {
        c->sessions[c->n_sessions++] = copy;
        reply = "voice.session.created";
      } else {
        hm_free(copy);
        hm_json_free(p);
        p = NULL;
        ok = 0;
      }
    }
  } else if (ok) {
    if (!strcmp(k->type, "voice.tracks.close")) {
      p = hm_json_new_object();
      int rc = p ? HM_OK : HM_ERR_NOMEM;
      set(p, "closed", hm_json_new_bool(1), &rc);
      if (rc != HM_OK) {
        hm_json_free(p);
        p = NULL;
        ok = 0;
      }
      reply = "voice.tracks.closed";
    } else {
      p = ans;
      ans = NULL;
      reply = !strcmp(k->type, "voice.tracks.push")   ? "voice.tracks.pushed"
              : !strcmp(k->type, "voice.tracks.pull") ? "voice.tracks.pulled"
                                                       : "voice.renegotiated";
    }
  }
  hm_json_free(ans);
  if (ok && p) {
    srv->m_sfu_ok++;
    hm_srv_send(srv, c, reply, p);
  } else {
    srv->m_sfu_err++;
    char msg[400];
    if (status == -1)
      snprintf(msg, sizeof msg, "Error: CF API timeout");
    else if (status == 0)
      snprintf(msg, sizeof msg, "Error: CF API unreachable");
    else {
      size_t n = 0, units = 0; /* first 200 characters of the answer */
      while (body && n < len && units < 200) {
        unsigned char ch = (unsigned char)body[n];
        n += ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : 2;
        units++;
      }
      if (n > len) n = len;
      snprintf(msg, sizeof msg, "Error: CF API error %d: %.*s", status, (int)n, body ? body : "");
    }
    hm_srv_error(srv, c, sfu_code(k->type), msg, k->request_id);
  }
  hm_free(k->request_id);
  hm_free(k);
}

/* ---- the handler table ----------------------------------------------------------------- */

const hm_handler hm_server_handlers[] = {
    {"auth.token.request", h_token_request},
    {"channel.send", h_channel_send},
    {"channel.typing", h_channel_typing},
    {"community.create", h_community_create},
    {"community.info", h_community_info},
    {"community.join", h_community_join},
    {"community.leave", h_community_leave},
    {"community.list", h_community_list},
    {"sync.request", h_sync_request},
    {"community.update", h_community_update},
    {"community.ban", h_community_ban},
    {"community.unban", h_community_unban},
    {"community.kick", h_community_kick},
    {"community.member.reconciled", h_member_reconciled},
    {"channel.create", h_channel_create},
    {"channel.update", h_channel_update},
    {"channel.delete.admin", h_channel_delete_admin},
    {"channel.edit", h_channel_edit},
    {"channel.delete", h_channel_delete},
    {"channel.reaction.add", h_reaction_add},
    {"channel.reaction.remove", h_reaction_remove},
    {"channel.pin", h_channel_pin},
    {"channel.unpin", h_channel_unpin},
    {"channel.pins.list", h_channel_pins_list},
    {"channel.history", h_channel_history},
    {"role.create", h_role_create},
    {"role.update", h_role_update},
    {"role.delete", h_role_delete},
    {"role.assign", h_role_assign},
    {"role.remove", h_role_remove},
    {"member.update", h_member_update},
    {"dm.send", h_dm_send},
    {"dm.edit", h_dm_edit},
    {"dm.delete", h_dm_delete},
    {"dm.typing", h_dm_typing},
    {"dm.keyexchange", h_dm_keyexchange},
    {"presence.update", h_presence_update},
    {"thread.create", h_thread_create},
    {"thread.send", h_thread_send},
    {"notification.list", h_notification_list},
    {"notification.mark-read", h_notification_mark_read},
    {"notification.count", h_notification_count},
    {"moderation.config.get", h_moderation_get},
    {"moderation.config.update", h_moderation_update},
    {"search.query", h_search_query},
    {"mls.keypackage.upload", h_mls_keypackage_upload},
    {"mls.keypackage.fetch", h_mls_keypackage_fetch},
    {"mls.welcome", h_mls_welcome},
    {"mls.commit", h_mls_commit},
    {"mls.group.setup", h_mls_group_setup},
    {"media.upload.request", h_media_upload},
    {"media.delete", h_media_delete},
    {"recovery.request.create", h_recovery_create},
    {"recovery.request.cancel", h_recovery_cancel},
    {"recovery.shard.submit", h_recovery_shard_submit},
    {"recovery.shards.fetch", h_recovery_shards_fetch},
    {"voice.token", h_voice_token},
    {"voice.join", h_voice_join},
    {"voice.leave", h_voice_leave},
    {"voice.mute", h_voice_mute},
    {"voice.unmute", h_voice_unmute},
    {"voice.video", h_voice_video},
    {"voice.screen", h_voice_screen},
    {"voice.speaking", h_voice_speaking},
    {"voice.offer", h_voice_offer},
    {"voice.answer", h_voice_answer},
    {"voice.ice", h_voice_ice},
    {"voice.track.published", h_voice_track_published},
    {"voice.track.removed", h_voice_track_removed},
    {"voice.get-producers", h_voice_get_producers},
    {"voice.producer-closed", h_voice_producer_closed},
    {"voice.session.create", h_voice_sfu},
    {"voice.tracks.push", h_voice_sfu},
    {"voice.tracks.pull", h_voice_sfu},
    {"voice.tracks.close", h_voice_sfu},
    {"voice.renegotiate", h_voice_sfu},
    {NULL, NULL},
};
