/* client_dispatch.c - the inbound dispatch slots of the client core: one per s2c type of
 * spec/registry.json (sorted, so lookup is a binary search). test_client_dispatch reads the
 * registry and fails when a registry s2c type has no slot here or a slot names no registry
 * type, so this list cannot drift from the spec. */
#include <string.h>

#include "client_internal.h"

const char *const hm_client__s2c_types[] = {
  "auth.token.expired",
  "auth.token.response",
  "channel.created",
  "channel.deleted",
  "channel.history.response",
  "channel.message",
  "channel.message.deleted",
  "channel.message.pinned",
  "channel.message.unpinned",
  "channel.message.updated",
  "channel.pins.response",
  "channel.reaction.added",
  "channel.reaction.removed",
  "channel.typing.indicator",
  "channel.updated",
  "community.auto-joined",
  "community.ban.applied",
  "community.info.response",
  "community.list.response",
  "community.member.joined",
  "community.member.left",
  "community.member.reconciled",
  "community.member.updated",
  "community.unban.applied",
  "community.updated",
  "dm.deleted",
  "dm.edited",
  "dm.keyexchange",
  "dm.message",
  "dm.typing.indicator",
  "error",
  "media.delete",
  "media.upload.complete",
  "member.kicked",
  "mls.commit",
  "mls.group.setup",
  "mls.group.setup.needed",
  "mls.keypackage.response",
  "mls.member.joined",
  "mls.welcome",
  "moderation.config.response",
  "moderation.raid-detected",
  "notification.count.response",
  "notification.list.response",
  "notification.new",
  "presence.changed",
  "recovery.request.cancelled",
  "recovery.request.created",
  "recovery.request.notify",
  "recovery.shard.submitted",
  "recovery.shards.response",
  "role.created",
  "role.deleted",
  "role.updated",
  "search.results",
  "sync.response",
  "thread.created",
  "thread.message",
  "voice.answer",
  "voice.get-producers.response",
  "voice.ice",
  "voice.offer",
  "voice.participant.joined",
  "voice.participant.left",
  "voice.producer-closed",
  "voice.renegotiated",
  "voice.session.created",
  "voice.speaking",
  "voice.state",
  "voice.token.response",
  "voice.track.published",
  "voice.track.removed",
  "voice.tracks.closed",
  "voice.tracks.pulled",
  "voice.tracks.pushed",
};
const size_t hm_client__n_s2c_types = sizeof hm_client__s2c_types / sizeof hm_client__s2c_types[0];

size_t hm_client_slot_count(void) { return hm_client__n_s2c_types; }

const char *hm_client_slot_name(size_t i) {
  return i < hm_client__n_s2c_types ? hm_client__s2c_types[i] : NULL;
}

int hm_client_slot_of(const char *type) {
  if (!type) return -1;
  size_t lo = 0, hi = hm_client__n_s2c_types;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int cmp = strcmp(type, hm_client__s2c_types[mid]);
    if (cmp == 0) return (int)mid;
    if (cmp < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return -1;
}
