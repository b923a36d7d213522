/* client_mls.c - upstream's simplified MLS in the client (spec crypto.md §9), with the checks
 * of R-CRY-MLS-16: a commit is applied only when its sender is a member, its signature
 * verifies strictly with that member's key, its epoch is exactly current + 1, and every
 * added key package passes R-CRY-MLS-4 for the DID the signature covers; a Welcome is used
 * only when its state names the group and our DID and keys at myLeafIndex. Leaf indices
 * follow upstream (new leaf = number of members) except where that would repeat an index
 * after a removal (see next_leaf); member_add refuses a repeated index (R-CRY-MLS-17). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "client_internal.h"
#include "harmony/alloc.h"
#include "harmony/codec.h"
#include "harmony/mls.h"

hm_client_group *hm_client__group(const hm_client *c, const char *community, const char *channel) {
  for (hm_client_group *g = c->groups; g; g = g->next)
    if (!strcmp(g->community, community) && !strcmp(g->channel, channel)) return g;
  return NULL;
}

static void group_free(hm_client_group *g) {
  for (size_t i = 0; i < g->n_members; i++) hm_free(g->members[i].did);
  hm_free(g->members);
  hm_free(g->group_id);
  hm_free(g->community);
  hm_free(g->channel);
  sodium_memzero(g->secret, sizeof g->secret);
  hm_free(g);
}

static void group_unlink(hm_client *c, hm_client_group *g) {
  for (hm_client_group **pp = &c->groups; *pp; pp = &(*pp)->next)
    if (*pp == g) {
      *pp = g->next;
      group_free(g);
      return;
    }
}

void hm_client__mls_free(hm_client *c) {
  while (c->groups) {
    hm_client_group *g = c->groups;
    c->groups = g->next;
    group_free(g);
  }
  while (c->pending) {
    hm_client_pending *p = c->pending;
    c->pending = p->next;
    hm_free(p->frame);
    hm_free(p);
  }
  while (c->adds) {
    hm_client_addreq *a = c->adds;
    c->adds = a->next;
    hm_free(a->community);
    hm_free(a->channel);
    hm_free(a->did);
    hm_free(a);
  }
}

static hm_client_group *group_new(hm_client *c, const char *community, const char *channel) {
  hm_client_group *g = hm_calloc(1, sizeof *g);
  if (!g) return NULL;
  size_t gl = strlen(community) + strlen(channel) + 2;
  g->group_id = hm_malloc(gl);
  g->community = hm_strdup(community);
  g->channel = hm_strdup(channel);
  if (!g->group_id || !g->community || !g->channel) {
    group_free(g);
    return NULL;
  }
  snprintf(g->group_id, gl, "%s:%s", community, channel);
  g->next = c->groups;
  c->groups = g;
  return g;
}

static int member_add(hm_client_group *g, uint32_t leaf, const char *did, const uint8_t enc[32],
                      const uint8_t sig[32]) {
  for (size_t i = 0; i < g->n_members; i++)
    if (g->members[i].leaf == leaf) return HM_ERR_CONFLICT;
  hm_client_member *m = hm_realloc(g->members, (g->n_members + 1) * sizeof *m);
  if (!m) return HM_ERR_NOMEM;
  g->members = m;
  m[g->n_members].did = hm_strdup(did);
  if (!m[g->n_members].did) return HM_ERR_NOMEM;
  m[g->n_members].leaf = leaf;
  memcpy(m[g->n_members].enc, enc, 32);
  memcpy(m[g->n_members].sig, sig, 32);
  g->n_members++;
  return HM_OK;
}

static hm_client_member *member_by_did(hm_client_group *g, const char *did) {
  for (size_t i = 0; i < g->n_members; i++)
    if (did && !strcmp(g->members[i].did, did)) return &g->members[i];
  return NULL;
}

static hm_client_member *member_by_leaf(hm_client_group *g, uint32_t leaf) {
  for (size_t i = 0; i < g->n_members; i++)
    if (g->members[i].leaf == leaf) return &g->members[i];
  return NULL;
}

static void member_remove(hm_client_group *g, uint32_t leaf) {
  for (size_t i = 0; i < g->n_members; i++)
    if (g->members[i].leaf == leaf) {
      hm_free(g->members[i].did);
      memmove(&g->members[i], &g->members[i + 1], (g->n_members - i - 1) * sizeof *g->members);
      g->n_members--;
      return;
    }
}

/* Leaf index of a new member: upstream's rule (the number of members) when that index is
 * free, which is always the case in a group without removals, so commits of upstream clients
 * are applied the same way. After a removal upstream's rule can repeat an index (W18); ours
 * then takes the smallest free index instead, on the committer's and the receivers' side. */
static uint32_t next_leaf(hm_client_group *g) {
  uint32_t leaf = (uint32_t)g->n_members;
  if (!member_by_leaf(g, leaf)) return leaf;
  for (leaf = 0; member_by_leaf(g, leaf); leaf++) {
  }
  return leaf;
}

static hm_json *parse_text(const char *s, size_t len) {
  hm_json *j = NULL;
  if (hm_json_parse(&j, s, len, 0, NULL) != HM_OK) return NULL;
  return j;
}

/* ---- public API -------------------------------------------------------------------- */

static hm_json *keypackage_payload(hm_client *c, int *rcp) {
  char *kp = NULL;
  size_t len = 0;
  int rc = hm_mls_keypackage_create(&kp, &len, c->id.x_pk, c->id.ed_pk, c->id.seed32, c->id.did);
  if (rc != HM_OK) {
    *rcp = rc;
    return NULL;
  }
  hm_json *kpj = parse_text(kp, len);
  hm_free(kp);
  hm_json *p = hm_json_new_object();
  if (!kpj || !p || hm_json_object_setc(p, "keyPackage", kpj) != HM_OK) {
    if (!p) hm_json_free(kpj);
    hm_json_free(p);
    *rcp = HM_ERR_NOMEM;
    return NULL;
  }
  *rcp = HM_OK;
  return p;
}

/* Ed25519 signatures are deterministic, so this is the same package every time: the server
 * stores it once (R-MLS-1, R-MLS-4). */
int hm_client__keypackage_frame(hm_client *c, char **text, size_t *len) {
  int rc = HM_OK;
  hm_json *p = keypackage_payload(c, &rc);
  if (!p) return rc;
  return hm_client__envelope(c, text, len, "mls.keypackage.upload", p, NULL, 0);
}

int hm_client_mls_upload_keypackage(hm_client *c) {
  if (!c) return HM_ERR_INVAL;
  int rc = HM_OK;
  hm_json *p = keypackage_payload(c, &rc);
  if (!p) return rc;
  return hm_client_send(c, "mls.keypackage.upload", p, NULL, 0);
}

static int send_triple(hm_client *c, const char *type, const char *community, const char *channel,
                       const char *group_id, const char *extra_key, hm_json *extra, const char *recipient) {
  hm_json *p = hm_json_new_object();
  int rc = p ? HM_OK : HM_ERR_NOMEM;
  if (rc == HM_OK && recipient) rc = hm_json_object_setc(p, "recipientDID", hm_json_new_cstr(recipient));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "communityId", hm_json_new_cstr(community));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "channelId", hm_json_new_cstr(channel));
  if (rc == HM_OK) rc = hm_json_object_setc(p, "groupId", hm_json_new_cstr(group_id));
  if (extra_key) {
    if (rc == HM_OK)
      rc = hm_json_object_setc(p, extra_key, extra);
    else
      hm_json_free(extra);
  }
  if (rc != HM_OK) {
    hm_json_free(p);
    return rc;
  }
  return hm_client_send(c, type, p, NULL, 0);
}

int hm_client_mls_create_group(hm_client *c, const char *community_id, const char *channel_id) {
  if (!c || !community_id || !channel_id) return HM_ERR_INVAL;
  hm_client_group *g = hm_client__group(c, community_id, channel_id);
  if (!g) {
    g = group_new(c, community_id, channel_id);
    if (!g) return HM_ERR_NOMEM;
    hm_client__rand(c, g->secret, 32);
    g->epoch = 0;
    g->my_leaf = 0;
    g->creator = 1;
    int rc = member_add(g, 0, c->id.did, c->id.x_pk, c->id.ed_pk);
    if (rc != HM_OK) {
      group_unlink(c, g);
      return rc;
    }
  }
  return send_triple(c, "mls.group.setup", community_id, channel_id, g->group_id, NULL, NULL, NULL);
}

int hm_client_mls_add(hm_client *c, const char *community_id, const char *channel_id,
                      const char *member_did) {
  if (!c || !community_id || !channel_id || !member_did) return HM_ERR_INVAL;
  hm_client_group *g = hm_client__group(c, community_id, channel_id);
  if (!g) return HM_ERR_NOT_FOUND;
  if (member_by_did(g, member_did)) return HM_OK;
  for (hm_client_addreq *a = c->adds; a; a = a->next)
    if (!strcmp(a->did, member_did) && !strcmp(a->community, community_id) && !strcmp(a->channel, channel_id))
      return HM_OK; /* already asked */
  hm_client_addreq *a = hm_calloc(1, sizeof *a);
  if (!a) return HM_ERR_NOMEM;
  a->community = hm_strdup(community_id);
  a->channel = hm_strdup(channel_id);
  a->did = hm_strdup(member_did);
  if (!a->community || !a->channel || !a->did) {
    hm_free(a->community);
    hm_free(a->channel);
    hm_free(a->did);
    hm_free(a);
    return HM_ERR_NOMEM;
  }
  a->next = c->adds;
  c->adds = a;
  hm_json *p = hm_json_new_object(), *dids = hm_json_new_array();
  if (!p || !dids || hm_json_array_append(dids, hm_json_new_cstr(member_did)) != HM_OK ||
      hm_json_object_setc(p, "dids", dids) != HM_OK) {
    hm_json_free(p);
    return HM_ERR_NOMEM;
  }
  return hm_client_send(c, "mls.keypackage.fetch", p, NULL, 0);
}

/* Build and send the Welcome and the Commit adding the member of a verified key package. */
static int do_add(hm_client *c, hm_client_group *g, const char *kp_text, size_t kp_len,
                  const hm_mls_keypackage_info *kp) {
  uint32_t leaf = next_leaf(g);
  uint8_t commit_secret[32], wn[24], new_secret[32];
  hm_client__rand(c, commit_secret, 32);
  hm_client__rand(c, wn, 24);
  int rc = hm_mls_advance(new_secret, g->secret, commit_secret);
  if (rc != HM_OK) return rc;
  /* Welcome state: the member list plus the joiner. */
  hm_mls_member *ms = hm_calloc(g->n_members + 1, sizeof *ms);
  if (!ms) return HM_ERR_NOMEM;
  for (size_t i = 0; i < g->n_members; i++) {
    ms[i].leaf_index = g->members[i].leaf;
    ms[i].did = g->members[i].did;
    memcpy(ms[i].encryption_key, g->members[i].enc, 32);
    memcpy(ms[i].signature_key, g->members[i].sig, 32);
  }
  ms[g->n_members].leaf_index = leaf;
  ms[g->n_members].did = kp->did;
  memcpy(ms[g->n_members].encryption_key, kp->encryption_key, 32);
  memcpy(ms[g->n_members].signature_key, kp->signature_key, 32);
  hm_mls_group_state st;
  memset(&st, 0, sizeof st);
  st.group_id = g->group_id;
  st.epoch = g->epoch + 1;
  st.my_leaf_index = leaf;
  st.members = ms;
  st.n_members = g->n_members + 1;
  memcpy(st.epoch_secret, new_secret, 32);
  memcpy(st.my_signing_public_key, kp->signature_key, 32);
  memcpy(st.my_encryption_public_key, kp->encryption_key, 32);
  char *state = NULL, *welcome = NULL, *commit = NULL;
  size_t state_len = 0, wl = 0, cl = 0;
  uint8_t *enc = NULL;
  rc = hm_mls_group_state_json(&state, &state_len, &st);
  sodium_memzero(&st, sizeof st);
  hm_free(ms);
  if (rc == HM_OK && !(enc = hm_malloc(state_len + HM_MLS_OVERHEAD))) rc = HM_ERR_NOMEM;
  if (rc == HM_OK) rc = hm_mls_welcome_seal(enc, kp->init_key, wn, (const uint8_t *)state, state_len);
  if (rc == HM_OK) rc = hm_mls_welcome_build(&welcome, &wl, g->group_id, g->epoch + 1, enc, state_len + HM_MLS_OVERHEAD);
  hm_mls_proposal prop;
  memset(&prop, 0, sizeof prop);
  prop.type = HM_MLS_ADD;
  prop.did = kp->did;
  prop.key_package = kp_text;
  (void)kp_len;
  if (rc == HM_OK)
    rc = hm_mls_commit_build(&commit, &cl, g->group_id, g->epoch + 1, &prop, 1, commit_secret, c->id.seed32);
  if (state) hm_free_secret(state, state_len + 1);
  hm_free(enc);
  sodium_memzero(commit_secret, sizeof commit_secret);
  hm_json *wj = rc == HM_OK ? parse_text(welcome, wl) : NULL;
  hm_json *cj = rc == HM_OK ? parse_text(commit, cl) : NULL;
  hm_free(welcome);
  hm_free(commit);
  if (rc == HM_OK && (!wj || !cj)) rc = HM_ERR_NOMEM;
  if (rc == HM_OK) {
    rc = send_triple(c, "mls.welcome", g->community, g->channel, g->group_id, "welcome", wj, kp->did);
    wj = NULL;
  }
  if (rc == HM_OK) {
    rc = send_triple(c, "mls.commit", g->community, g->channel, g->group_id, "commit", cj, NULL);
    cj = NULL;
  }
  hm_json_free(wj);
  hm_json_free(cj);
  if (rc == HM_OK) rc = member_add(g, leaf, kp->did, kp->encryption_key, kp->signature_key);
  if (rc == HM_OK) {
    memcpy(g->secret, new_secret, 32);
    g->epoch++;
  }
  sodium_memzero(new_secret, sizeof new_secret);
  return rc;
}

int hm_client_mls_remove(hm_client *c, const char *community_id, const char *channel_id,
                         const char *member_did) {
  if (!c || !community_id || !channel_id || !member_did) return HM_ERR_INVAL;
  hm_client_group *g = hm_client__group(c, community_id, channel_id);
  hm_client_member *m = g ? member_by_did(g, member_did) : NULL;
  if (!m || !strcmp(member_did, c->id.did)) return HM_ERR_NOT_FOUND;
  uint8_t commit_secret[32], new_secret[32];
  hm_client__rand(c, commit_secret, 32);
  int rc = hm_mls_advance(new_secret, g->secret, commit_secret);
  hm_mls_proposal prop;
  memset(&prop, 0, sizeof prop);
  prop.type = HM_MLS_REMOVE;
  prop.leaf_index = m->leaf;
  char *commit = NULL;
  size_t cl = 0;
  if (rc == HM_OK)
    rc = hm_mls_commit_build(&commit, &cl, g->group_id, g->epoch + 1, &prop, 1, commit_secret, c->id.seed32);
  sodium_memzero(commit_secret, sizeof commit_secret);
  hm_json *cj = rc == HM_OK ? parse_text(commit, cl) : NULL;
  hm_free(commit);
  if (rc == HM_OK && !cj) rc = HM_ERR_NOMEM;
  if (rc == HM_OK) rc = send_triple(c, "mls.commit", g->community, g->channel, g->group_id, "commit", cj, NULL);
  else hm_json_free(cj);
  if (rc == HM_OK) {
    member_remove(g, prop.leaf_index);
    memcpy(g->secret, new_secret, 32);
    g->epoch++;
  }
  sodium_memzero(new_secret, sizeof new_secret);
  return rc;
}

int hm_client_mls_update(hm_client *c, const char *community_id, const char *channel_id) {
  if (!c || !community_id || !channel_id) return HM_ERR_INVAL;
  hm_client_group *g = hm_client__group(c, community_id, channel_id);
  if (!g) return HM_ERR_NOT_FOUND;
  uint8_t commit_secret[32], new_secret[32];
  hm_client__rand(c, commit_secret, 32);
  int rc = hm_mls_advance(new_secret, g->secret, commit_secret);
  hm_mls_proposal prop;
  memset(&prop, 0, sizeof prop);
  prop.type = HM_MLS_UPDATE;
  prop.did = c->id.did;
  prop.encryption_key = c->id.x_pk;
  prop.signature_key = c->id.ed_pk;
  char *commit = NULL;
  size_t cl = 0;
  if (rc == HM_OK)
    rc = hm_mls_commit_build(&commit, &cl, g->group_id, g->epoch + 1, &prop, 1, commit_secret, c->id.seed32);
  sodium_memzero(commit_secret, sizeof commit_secret);
  hm_json *cj = rc == HM_OK ? parse_text(commit, cl) : NULL;
  hm_free(commit);
  if (rc == HM_OK && !cj) rc = HM_ERR_NOMEM;
  if (rc == HM_OK)
    rc = send_triple(c, "mls.commit", g->community, g->channel, g->group_id, "commit", cj, NULL);
  else
    hm_json_free(cj);
  if (rc == HM_OK) {
    memcpy(g->secret, new_secret, 32);
    g->epoch++;
  }
  sodium_memzero(new_secret, sizeof new_secret);
  return rc;
}

int hm_client_mls_info(const hm_client *c, const char *community_id, const char *channel_id,
                       uint64_t *epoch, size_t *members) {
  if (!c || !community_id || !channel_id) return HM_ERR_INVAL;
  hm_client_group *g = hm_client__group(c, community_id, channel_id);
  if (!g) return HM_ERR_NOT_FOUND;
  if (epoch) *epoch = g->epoch;
  if (members) *members = g->n_members;
  return HM_OK;
}

int hm_client_mls_media_key(const hm_client *c, const char *community_id, const char *channel_id,
                            uint8_t key[32], uint64_t *epoch) {
  if (!c || !community_id || !channel_id || !key) return HM_ERR_INVAL;
  hm_client_group *g = hm_client__group(c, community_id, channel_id);
  if (!g) return HM_ERR_NOT_FOUND;
  if (epoch) *epoch = g->epoch;
  return hm_mls_epoch_key(key, g->secret, HM_MLS_MEDIA, g->epoch);
}

size_t hm_client_mls_pending(const hm_client *c) {
  size_t n = 0;
  for (const hm_client_pending *p = c ? c->pending : NULL; p; p = p->next) n++;
  return n;
}

/* ---- decoding ---------------------------------------------------------------------- */

int hm_client__channel_decode(hm_client *c, const char *community, const char *channel,
                              const char *sender, const hm_json *content, char **text,
                              hm_client_e2e *e2e) {
  *text = NULL;
  *e2e = HM_CLIENT_E2E_FAILED;
  if (hm_json_kind_of(content) == HM_JSON_STRING) {
    size_t l = 0;
    const char *s = hm_json_string(content, &l);
    hm_client_group *eg = hm_client__group(c, community, channel);
    *text = hm_strndup(s, l);
    *e2e = (eg && eg->n_members > 1) ? HM_CLIENT_E2E_DOWNGRADE : HM_CLIENT_E2E_PLAINTEXT;
    return *text ? HM_OK : HM_ERR_NOMEM;
  }
  if (hm_json_kind_of(content) != HM_JSON_OBJECT) return HM_OK;
  const hm_json *ctv = hm_json_object_getc(content, "ciphertext");
  size_t cap = hm_json_kind_of(ctv) == HM_JSON_OBJECT ? 0 : hm_json_array_size(ctv);
  if (hm_json_kind_of(ctv) == HM_JSON_OBJECT) (void)hm_json_string(hm_json_object_getc(ctv, "data"), &cap);
  uint8_t *ct = hm_malloc(cap + 1);
  size_t n = 0;
  if (!ct) return HM_ERR_NOMEM;
  if (hm_client__get_bytes(ctv, ct, cap + 1, &n, 0) != HM_OK) {
    hm_free(ct);
    return HM_OK; /* FAILED */
  }
  double ep = hm_json_number(hm_json_object_getc(content, "epoch"));
  if (ep <= 0) {
    /* Epoch 0: clear text by construction (R-CRY-MLS-11); shown as unencrypted, and as a
     * possible downgrade when the channel has an encrypted group (R-CRY-MLS-18). */
    char *t = hm_malloc(n + 1);
    if (t) {
      hm_client_group *eg = hm_client__group(c, community, channel);
      memcpy(t, ct, n);
      t[n] = 0;
      *e2e = (eg && eg->n_members > 1) ? HM_CLIENT_E2E_DOWNGRADE : HM_CLIENT_E2E_PLAINTEXT;
    }
    hm_free(ct);
    *text = t;
    return t ? HM_OK : HM_ERR_NOMEM;
  }
  hm_client_group *g = hm_client__group(c, community, channel);
  if (!g) {
    hm_free(ct);
    return HM_ERR_NOT_FOUND;
  }
  (void)sender;
  double si = hm_json_number(hm_json_object_getc(content, "senderIndex"));
  if (si < 0 || !member_by_leaf(g, (uint32_t)si) || n < HM_MLS_OVERHEAD) {
    hm_free(ct);
    return HM_OK; /* unknown sender index: FAILED */
  }
  char *pt = hm_malloc(n - HM_MLS_OVERHEAD + 1);
  if (!pt) {
    hm_free(ct);
    return HM_ERR_NOMEM;
  }
  int rc = hm_mls_message_open((uint8_t *)pt, g->secret, g->epoch, (uint64_t)ep, ct, n);
  hm_free(ct);
  if (rc != HM_OK) {
    hm_free(pt);
    return HM_OK; /* FAILED: wrong epoch or tag */
  }
  pt[n - HM_MLS_OVERHEAD] = 0;
  *text = pt;
  *e2e = HM_CLIENT_E2E_DECRYPTED;
  return HM_OK;
}

/* ---- inbound MLS frames -------------------------------------------------------------- */

static void flush_pending(hm_client *c, hm_client_group *g) {
  hm_client_pending **pp = &c->pending;
  while (*pp) {
    hm_client_pending *q = *pp;
    hm_json *f = parse_text(q->frame, q->len);
    const hm_json *p = hm_json_object_getc(f, "payload");
    const char *comm = hm_client__str(p, "communityId"), *ch = hm_client__str(p, "channelId");
    if (f && comm && ch && !strcmp(comm, g->community) && !strcmp(ch, g->channel)) {
      char *text = NULL;
      hm_client_e2e e2e = HM_CLIENT_E2E_FAILED;
      if (hm_client__channel_decode(c, comm, ch, hm_client__str(f, "sender"),
                                    hm_json_object_getc(p, "content"), &text, &e2e) != HM_OK)
        e2e = HM_CLIENT_E2E_FAILED;
      hm_client__emit(c, "channel.message", f, text, e2e);
      if (text) hm_free_secret(text, strlen(text));
      *pp = q->next;
      hm_free(q->frame);
      hm_free(q);
    } else {
      pp = &q->next;
    }
    hm_json_free(f);
  }
}

static void on_welcome(hm_client *c, const hm_json *p) {
  const char *comm = hm_client__str(p, "communityId"), *ch = hm_client__str(p, "channelId");
  const hm_json *w = hm_json_object_getc(p, "welcome");
  if (!comm || !ch || !w) return;
  const hm_json *egs = hm_json_object_getc(w, "encryptedGroupState");
  size_t cap = 0;
  (void)hm_json_string(hm_json_object_getc(egs, "data"), &cap);
  if (hm_json_kind_of(egs) == HM_JSON_ARRAY) cap = hm_json_array_size(egs);
  uint8_t *enc = hm_malloc(cap + 1);
  size_t n = 0;
  if (!enc) return;
  char *state = NULL;
  if (hm_client__get_bytes(egs, enc, cap + 1, &n, 0) == HM_OK && n >= HM_MLS_OVERHEAD &&
      (state = hm_malloc(n - HM_MLS_OVERHEAD + 1)) &&
      hm_mls_welcome_open((uint8_t *)state, c->id.x_pk, enc, n) == HM_OK) {
    size_t sl = n - HM_MLS_OVERHEAD;
    state[sl] = 0;
    hm_json *st = parse_text(state, sl);
    char gid[600];
    snprintf(gid, sizeof gid, "%s:%s", comm, ch);
    const hm_json *members = hm_json_object_getc(st, "members");
    double myleaf = hm_json_number(hm_json_object_getc(st, "myLeafIndex"));
    uint8_t secret[32];
    int ok = st && hm_json_string_is(hm_json_object_getc(st, "groupId"), gid) &&
             hm_client__get_bytes(hm_json_object_getc(st, "epochSecret"), secret, 32, NULL, 32) == HM_OK;
    /* Our entry at myLeafIndex must carry our DID and our keys. */
    int mine = 0;
    for (size_t i = 0; ok && i < hm_json_array_size(members); i++) {
      const hm_json *m = hm_json_array_get(members, i);
      uint8_t e[32], s[32];
      if (hm_json_number(hm_json_object_getc(m, "leafIndex")) == myleaf &&
          hm_json_string_is(hm_json_object_getc(m, "did"), c->id.did) &&
          hm_client__get_bytes(hm_json_object_getc(m, "encryptionKey"), e, 32, NULL, 32) == HM_OK &&
          hm_client__get_bytes(hm_json_object_getc(m, "signatureKey"), s, 32, NULL, 32) == HM_OK &&
          !memcmp(e, c->id.x_pk, 32) && !memcmp(s, c->id.ed_pk, 32))
        mine = 1;
    }
    if (ok && mine) {
      hm_client_group *old = hm_client__group(c, comm, ch);
      if (old) group_unlink(c, old);
      hm_client_group *g = group_new(c, comm, ch);
      int rc = g ? HM_OK : HM_ERR_NOMEM;
      for (size_t i = 0; rc == HM_OK && i < hm_json_array_size(members); i++) {
        const hm_json *m = hm_json_array_get(members, i);
        uint8_t e[32], s[32];
        const char *did = hm_client__str(m, "did");
        if (!did || hm_client__get_bytes(hm_json_object_getc(m, "encryptionKey"), e, 32, NULL, 32) != HM_OK ||
            hm_client__get_bytes(hm_json_object_getc(m, "signatureKey"), s, 32, NULL, 32) != HM_OK)
          rc = HM_ERR_STRUCTURE;
        else
          rc = member_add(g, (uint32_t)hm_json_number(hm_json_object_getc(m, "leafIndex")), did, e, s);
      }
      if (rc == HM_OK) {
        memcpy(g->secret, secret, 32);
        g->epoch = (uint64_t)hm_json_number(hm_json_object_getc(st, "epoch"));
        g->my_leaf = (uint32_t)myleaf;
        flush_pending(c, g);
      } else if (g) {
        group_unlink(c, g);
      }
    }
    sodium_memzero(secret, sizeof secret);
    hm_json_free(st);
    hm_free_secret(state, sl + 1);
    state = NULL;
  }
  if (state) hm_free(state);
  hm_free(enc);
}

static void on_commit(hm_client *c, const char *sender, const hm_json *p) {
  const char *comm = hm_client__str(p, "communityId"), *ch = hm_client__str(p, "channelId");
  const hm_json *cm = hm_json_object_getc(p, "commit");
  if (!comm || !ch || !cm) return;
  hm_client_group *g = hm_client__group(c, comm, ch);
  if (!g) return;
  double ep = hm_json_number(hm_json_object_getc(cm, "epoch"));
  if (ep <= (double)g->epoch) return; /* already applied (e.g. our own add's commit) */
  hm_client_member *committer = member_by_did(g, sender);
  const hm_json *props = hm_json_object_getc(cm, "proposals");
  size_t np = hm_json_array_size(props);
  uint8_t sig[64], cs[32], new_secret[32];
  if (!committer || ep != (double)(g->epoch + 1) || np == 0 || np > 16 ||
      hm_client__get_bytes(hm_json_object_getc(cm, "signature"), sig, 64, NULL, 64) != HM_OK ||
      hm_client__get_bytes(hm_json_object_getc(cm, "commitSecret"), cs, 32, NULL, 32) != HM_OK)
    return; /* discarded: group out of sync */
  uint8_t committer_pk[32];
  memcpy(committer_pk, committer->sig, 32);
  hm_mls_proposal pr[16];
  hm_mls_keypackage_info kpi[16];
  char *kptext[16] = {0};
  memset(pr, 0, sizeof pr);
  int ok = 1;
  for (size_t i = 0; ok && i < np; i++) {
    const hm_json *q = hm_json_array_get(props, i);
    if (hm_json_string_is(hm_json_object_getc(q, "type"), "add")) {
      size_t kl = 0;
      pr[i].type = HM_MLS_ADD;
      if (hm_json_stringify(&kptext[i], &kl, hm_json_object_getc(q, "keyPackage")) != HM_OK ||
          hm_mls_keypackage_verify(&kpi[i], kptext[i], kl, HM_MLS_HARDENED, NULL) != HM_OK)
        ok = 0;
      pr[i].did = kpi[i].did;
      pr[i].key_package = kptext[i];
    } else if (hm_json_string_is(hm_json_object_getc(q, "type"), "remove")) {
      pr[i].type = HM_MLS_REMOVE;
      pr[i].leaf_index = (uint32_t)hm_json_number(hm_json_object_getc(q, "leafIndex"));
    } else if (hm_json_string_is(hm_json_object_getc(q, "type"), "update")) {
      /* A member may update only its own leaf, and only to the keys its did:key binds:
       * anything else would let a committer substitute keys (R-CRY-DM-6, R-CRY-MLS-4).
       * Upstream's updateKeys draws a random "encryption key" (W19) and is refused here;
       * its client never calls it. */
      const hm_json *leaf = hm_json_object_getc(q, "leafNode");
      uint8_t e[32], sk[32], ded[32], dx[32];
      pr[i].type = HM_MLS_UPDATE;
      pr[i].did = hm_client__str(leaf, "did");
      if (!pr[i].did || strcmp(pr[i].did, sender) ||
          hm_client__get_bytes(hm_json_object_getc(leaf, "encryptionKey"), e, 32, NULL, 32) != HM_OK ||
          hm_client__get_bytes(hm_json_object_getc(leaf, "signatureKey"), sk, 32, NULL, 32) != HM_OK ||
          hm_didkey_decode(ded, dx, sender, HM_DID_HARDENED) != HM_OK || sodium_memcmp(sk, ded, 32) != 0 ||
          sodium_memcmp(e, dx, 32) != 0)
        ok = 0;
    } else {
      ok = 0; /* unknown proposal type */
    }
  }
  if (ok && hm_mls_commit_verify(sig, g->group_id, (uint64_t)ep, pr, np, committer_pk, HM_MLS_HARDENED) != HM_OK)
    ok = 0;
  int removed_me = 0;
  if (ok) {
    for (size_t i = 0; i < np && ok; i++) {
      if (pr[i].type == HM_MLS_ADD) {
        if (member_add(g, next_leaf(g), kpi[i].did, kpi[i].encryption_key, kpi[i].signature_key) != HM_OK)
          ok = 0;
      } else if (pr[i].type == HM_MLS_UPDATE) {
        /* The keys were checked to be the committer's bound keys, which it already has. */
      } else {
        if (pr[i].leaf_index == g->my_leaf) removed_me = 1;
        member_remove(g, pr[i].leaf_index);
      }
    }
    if (ok && hm_mls_advance(new_secret, g->secret, cs) == HM_OK) {
      memcpy(g->secret, new_secret, 32);
      g->epoch = (uint64_t)ep;
    }
  }
  for (size_t i = 0; i < np; i++) hm_free(kptext[i]);
  sodium_memzero(cs, sizeof cs);
  sodium_memzero(new_secret, sizeof new_secret);
  if (removed_me) group_unlink(c, g);
}

static void on_keypackages(hm_client *c, const hm_json *p) {
  const hm_json *kps = hm_json_object_getc(p, "keyPackages");
  hm_client_addreq **pp = &c->adds;
  while (*pp) {
    hm_client_addreq *a = *pp;
    const hm_json *list = hm_json_object_getc(kps, a->did);
    if (!list) {
      pp = &a->next;
      continue;
    }
    hm_client_group *g = hm_client__group(c, a->community, a->channel);
    /* Newest package first; the first that verifies for this DID is used. */
    for (size_t i = hm_json_array_size(list); g && i > 0; i--) {
      char *t = NULL;
      size_t tl = 0;
      hm_mls_keypackage_info info;
      if (hm_json_stringify(&t, &tl, hm_json_array_get(list, i - 1)) == HM_OK &&
          hm_mls_keypackage_verify(&info, t, tl, HM_MLS_HARDENED, a->did) == HM_OK &&
          !member_by_did(g, a->did)) {
        (void)do_add(c, g, t, tl, &info);
        hm_free(t);
        break;
      }
      hm_free(t);
    }
    *pp = a->next;
    hm_free(a->community);
    hm_free(a->channel);
    hm_free(a->did);
    hm_free(a);
  }
}

void hm_client__mls_frame(hm_client *c, const char *type, const char *sender, const hm_json *payload) {
  if (!strcmp(type, "mls.welcome"))
    on_welcome(c, payload);
  else if (!strcmp(type, "mls.commit"))
    on_commit(c, sender, payload);
  else if (!strcmp(type, "mls.keypackage.response"))
    on_keypackages(c, payload);
  else if (!strcmp(type, "mls.group.setup.needed")) {
    /* The server asks the creator of a new channel to set its group up because some member
     * has a key package (R-MLS-18); upstream's client answers by creating the group, and so
     * do we (the server then names the members to add, R-MLS-13). */
    const char *comm = hm_client__str(payload, "communityId"), *ch = hm_client__str(payload, "channelId");
    char gid[600];
    if (comm && ch && !hm_client__group(c, comm, ch) && (size_t)snprintf(gid, sizeof gid, "%s:%s", comm, ch) < sizeof gid &&
        hm_json_string_is(hm_json_object_getc(payload, "groupId"), gid))
      (void)hm_client_mls_create_group(c, comm, ch);
  } else if (!strcmp(type, "mls.member.joined")) {
    const char *comm = hm_client__str(payload, "communityId"), *ch = hm_client__str(payload, "channelId");
    const char *did = hm_client__str(payload, "memberDID");
    hm_client_group *g = (comm && ch) ? hm_client__group(c, comm, ch) : NULL;
    if (g && g->creator && did && strcmp(did, c->id.did)) (void)hm_client_mls_add(c, comm, ch, did);
  }
}

/* ---- persistence -------------------------------------------------------------------- */

int hm_client_mls_export(const hm_client *c, char **text, size_t *len) {
  if (!c || !text) return HM_ERR_INVAL;
  hm_json *arr = hm_json_new_array();
  int rc = arr ? HM_OK : HM_ERR_NOMEM;
  for (hm_client_group *g = c->groups; rc == HM_OK && g; g = g->next) {
    hm_json *o = hm_json_new_object(), *ms = hm_json_new_array();
    rc = (o && ms) ? HM_OK : HM_ERR_NOMEM;
    for (size_t i = 0; rc == HM_OK && i < g->n_members; i++) {
      hm_json *m = hm_json_new_object();
      rc = m ? HM_OK : HM_ERR_NOMEM;
      if (rc == HM_OK) rc = hm_json_object_setc(m, "leafIndex", hm_json_new_number(g->members[i].leaf));
      if (rc == HM_OK) rc = hm_json_object_setc(m, "did", hm_json_new_cstr(g->members[i].did));
      if (rc == HM_OK) rc = hm_json_object_setc(m, "encryptionKey", hm_client__bytes(g->members[i].enc, 32));
      if (rc == HM_OK) rc = hm_json_object_setc(m, "signatureKey", hm_client__bytes(g->members[i].sig, 32));
      if (rc == HM_OK) rc = hm_json_array_append(ms, m);
      else hm_json_free(m);
    }
    if (rc == HM_OK) rc = hm_json_object_setc(o, "communityId", hm_json_new_cstr(g->community));
    if (rc == HM_OK) rc = hm_json_object_setc(o, "channelId", hm_json_new_cstr(g->channel));
    if (rc == HM_OK) rc = hm_json_object_setc(o, "epoch", hm_json_new_number((double)g->epoch));
    if (rc == HM_OK) rc = hm_json_object_setc(o, "myLeafIndex", hm_json_new_number(g->my_leaf));
    if (rc == HM_OK) rc = hm_json_object_setc(o, "creator", hm_json_new_bool(g->creator));
    if (rc == HM_OK) rc = hm_json_object_setc(o, "epochSecret", hm_client__bytes(g->secret, 32));
    if (rc == HM_OK) {
      rc = hm_json_object_setc(o, "members", ms);
      ms = NULL;
    }
    hm_json_free(ms);
    if (rc == HM_OK) rc = hm_json_array_append(arr, o);
    else hm_json_free(o);
  }
  if (rc == HM_OK) rc = hm_json_stringify(text, len, arr);
  hm_json_free(arr); /* the tree held the secret only base64-encoded inside libharmony buffers */
  return rc;
}

int hm_client_mls_import(hm_client *c, const char *text, size_t len) {
  if (!c || !text) return HM_ERR_INVAL;
  hm_json *arr = parse_text(text, len);
  if (hm_json_kind_of(arr) != HM_JSON_ARRAY) {
    hm_json_free(arr);
    return HM_ERR_STRUCTURE;
  }
  hm_client__mls_free(c);
  int rc = HM_OK;
  for (size_t i = 0; rc == HM_OK && i < hm_json_array_size(arr); i++) {
    const hm_json *o = hm_json_array_get(arr, i);
    const char *comm = hm_client__str(o, "communityId"), *ch = hm_client__str(o, "channelId");
    if (!comm || !ch) {
      rc = HM_ERR_STRUCTURE;
      break;
    }
    hm_client_group *g = group_new(c, comm, ch);
    if (!g) {
      rc = HM_ERR_NOMEM;
      break;
    }
    g->epoch = (uint64_t)hm_json_number(hm_json_object_getc(o, "epoch"));
    g->my_leaf = (uint32_t)hm_json_number(hm_json_object_getc(o, "myLeafIndex"));
    g->creator = hm_json_kind_of(hm_json_object_getc(o, "creator")) == HM_JSON_TRUE;
    rc = hm_client__get_bytes(hm_json_object_getc(o, "epochSecret"), g->secret, 32, NULL, 32);
    const hm_json *ms = hm_json_object_getc(o, "members");
    for (size_t j = 0; rc == HM_OK && j < hm_json_array_size(ms); j++) {
      const hm_json *m = hm_json_array_get(ms, j);
      uint8_t e[32], s[32];
      const char *did = hm_client__str(m, "did");
      if (!did || hm_client__get_bytes(hm_json_object_getc(m, "encryptionKey"), e, 32, NULL, 32) != HM_OK ||
          hm_client__get_bytes(hm_json_object_getc(m, "signatureKey"), s, 32, NULL, 32) != HM_OK)
        rc = HM_ERR_STRUCTURE;
      else
        rc = member_add(g, (uint32_t)hm_json_number(hm_json_object_getc(m, "leafIndex")), did, e, s);
    }
  }
  hm_json_free(arr);
  return rc;
}
