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

static const char *presence_of(hm_server *srv, const char *did) {
  return hm_srv_did_online(srv, did) ? "online" : "offline";
}

/* MemberInfo {did, roles, joinedAt, presence:{status}} */
static int member_info_cb(void *ctx, const hm_store_member *m) {
  build_ctx *b = ctx;
  hm_json *o = hm_json_new_object(), *pr = hm_json_new_object();
  int rc = (o && pr) ? HM_OK : HM_ERR_NOMEM;
  set_str(o, "did", m->did, &rc);
  set(o, "roles", hm_json_new_array(), &rc); /* roles are not implemented yet: none assigned */
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

void hm_srv_presence(hm_server *srv, const char *did, const char *status, const hm_server_conn *except) {
  str_list comms = {0}, peers = {0};
  int rc = srv->st->vt->memberships_of(srv->st, did, collect_community_of, &comms);
  for (size_t i = 0; rc == HM_OK && !comms.nomem && i < comms.n; i++)
    rc = srv->st->vt->member_list(srv->st, comms.ids[i], collect_member_did, &peers);
  if (rc == HM_OK && !comms.nomem && !peers.nomem && peers.n) {
    qsort(peers.ids, peers.n, sizeof *peers.ids, cmp_str);
    hm_json *p = hm_json_new_object();
    int jr = p ? HM_OK : HM_ERR_NOMEM;
    set_str(p, "status", status, &jr);
    char id[64], ts[32], *text = NULL;
    size_t len;
    hm_srv_fresh_id(srv, id, sizeof id, "presence", 16);
    hm_srv_now_iso(srv, ts);
    if (jr == HM_OK && hm_srv_frame_text(&text, &len, id, "presence.changed", ts, did, p) == HM_OK) {
      for (hm_server_conn *c = srv->conns; c; c = c->next) {
        if (c == except || !c->did || strcmp(c->did, did) == 0) continue;
        const char *key = c->did;
        if (bsearch(&key, peers.ids, peers.n, sizeof *peers.ids, cmp_str)) hm_srv_send_text(srv, c, text, len);
      }
      hm_free(text);
    } else if (jr != HM_OK) {
      hm_json_free(p);
    }
  }
  str_list_clear(&comms);
  str_list_clear(&peers);
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
  int rc = hm_token_issue(&token, NULL, f->conn->did, hm_srv_now(srv), HM_TOKEN_DEFAULT_TTL_MS, srv->key_seed);
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
  for (hm_server_conn *o = srv->conns; o; o = o->next)
    if (o != f->conn && o->did && strcmp(o->did, did) == 0) hm_srv_announce_community(srv, o, cid, 0);
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

static void member_event(hm_server *srv, const char *type, const char *cid, const char *did,
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
  if (hm_srv_frame_text(&text, &len, id, type, ts, did, p) != HM_OK) return;
  hm_srv_broadcast(srv, cid, text, len, except);
  if (also_own_other) hm_srv_send_did(srv, did, text, len, except);
  hm_free(text);
}

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
  /* Join rules (moderation.md) cannot exist yet: moderation.config.update is not
   * implemented, so no community has any rule to apply. */
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
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_json_free(chans);
    hm_json_free(members);
    hm_frame_internal(f, rc);
    return;
  }
  hm_srv_send(srv, f->conn, "community.updated", p);
  if (!added) return; /* R-COMM-10: a repeated join broadcasts nothing */
  hm_srv_log(srv, HM_LOG_INFO, "%s joined %s", did, cid);
  member_event(srv, "community.member.joined", cid, did, f->conn, 0);
  for (hm_server_conn *o = srv->conns; o; o = o->next)
    if (o != f->conn && o->did && strcmp(o->did, did) == 0) hm_srv_announce_community(srv, o, cid, 0);
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
  /* remaining members (the store no longer lists the leaver) and the leaver's other connections */
  member_event(srv, "community.member.left", cid, did, f->conn, 1);
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
  if (rc != HM_OK) {
    hm_json_free(p);
    hm_frame_internal(f, rc);
    return;
  }
  hm_srv_send(f->srv, f->conn, "community.list.response", p);
}

static void h_community_info(hm_frame *f) {
  hm_json *p = NULL;
  int rc = info_response(f->srv, f->community_id, &p);
  if (rc != HM_OK) {
    hm_frame_internal(f, rc);
    return;
  }
  hm_srv_send(f->srv, f->conn, "community.info.response", p);
}

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

static void h_channel_send(hm_frame *f) {
  hm_server *srv = f->srv;
  const hm_json *p = f->payload;
  const char *chid = hm_json_string(hm_json_object_getc(p, "channelId"), NULL);
  if (!content_ok(hm_json_object_getc(p, "content"))) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Missing or invalid field: content");
    return;
  }
  hm_json *clock = hm_json_object_getc(p, "clock");
  if (!clock_ok(clock)) {
    hm_frame_error(f, "INVALID_PAYLOAD", "Missing or invalid field: clock");
    return;
  }
  hm_json *att = hm_json_object_getc(p, "attachments");
  for (size_t i = 0; att && i < hm_json_array_size(att); i++) {
    if (hm_json_kind_of(hm_json_array_get(att, i)) != HM_JSON_OBJECT) {
      hm_frame_error(f, "INVALID_PAYLOAD", "Missing or invalid field: attachments");
      return;
    }
  }
  if (!channel_exists(f, chid)) return;
  hm_json *proof = hm_json_object_getc(f->env, "proof");
  if (proof && hm_json_kind_of(proof) != HM_JSON_NULL) {
    /* R-CHAN-15 / R-AUTHZ-26: an invocation must verify against the community's stored
     * capability chain; capability storage is not implemented yet, so no proof can be
     * verified and every frame carrying one is refused (never accepted unchecked). */
    hm_frame_error(f, "ZCAP_INVALID", "Invalid ZCAP proof");
    return;
  }
  char now_ts[32], *payload_text = NULL;
  hm_srv_now_iso(srv, now_ts);
  const char *ts = f->timestamp ? f->timestamp : now_ts;
  int rc = hm_json_stringify(&payload_text, NULL, p);
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
  /* committed: now it may be revealed (R-CHAN-13, R-DLV-6) */
  rc = broadcast_frame(srv, f->community_id, f->id, "channel.message", ts, f->conn->did, hm_json_clone(p), NULL);
  if (rc != HM_OK) hm_srv_log(srv, HM_LOG_ERROR, "broadcast of %s failed: %s", f->id, hm_strerror(rc));
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

typedef struct {
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
  hm_json *payload = NULL;
  int rc = hm_json_parse(&payload, m->payload_json, strlen(m->payload_json), 0, NULL);
  hm_json *o = hm_json_new_object();
  if (rc == HM_OK && !o) rc = HM_ERR_NOMEM;
  set_str(o, "id", m->id, &rc);
  set_str(o, "type", "channel.send", &rc);
  set_str(o, "timestamp", m->timestamp, &rc);
  set_str(o, "sender", m->author, &rc);
  set(o, "payload", payload, &rc);
  payload = NULL;
  set(o, "seq", hm_json_new_number((double)m->seq), &rc);
  if (m->deleted) set(o, "deleted", hm_json_new_bool(1), &rc);
  if (rc != HM_OK) {
    hm_json_free(payload);
    hm_json_free(o);
    pc->rc = rc;
    return 1;
  }
  push(pc->arr, o, &pc->rc);
  if (pc->rc != HM_OK) return 1;
  pc->got++;
  pc->last_seq = m->seq;
  pc->last_clock = hm_json_object_getc(hm_json_object_getc(o, "payload"), "clock");
  return 0;
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
  if (hm_json_kind_of(hm_json_object_getc(p, "threadId")) == HM_JSON_STRING) {
    /* Threads are not implemented, so no thread exists in any channel (R-SYNC-5). */
    hm_frame_error(f, "THREAD_NOT_FOUND", "Thread not found");
    return;
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
  page_ctx pc = {hm_json_new_array(), limit, 0, 0, HM_OK, 0, NULL};
  int rc = pc.arr ? srv->st->vt->message_page(srv->st, chid, &q, page_cb, &pc) : HM_ERR_NOMEM;
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
  if (rc != HM_OK) {
    hm_json_free(out);
    hm_json_free(pc.arr);
    hm_json_free(latest);
    hm_frame_internal(f, rc);
    return;
  }
  hm_srv_send(srv, f->conn, "sync.response", out);
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
    {NULL, NULL},
};
